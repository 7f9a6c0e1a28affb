// space_sizes: where the memory of a check's plan goes. For every N-th crash
// point of a trace, builds its StateSpace (as `crashenum check --torn=none`
// does), prints the heap it holds (glibc mallinfo2, in use after minus
// before) with the share of its largest parts and the time to build it, then
// frees it. A check keeps the space of every crash point for the whole run.
//
//   space_sizes TRACE [--every=N] [--torn]
//
// Exit 0 on success, 2 for bad usage, 1 when the trace cannot be read.
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "enumerator/crash_points.h"
#include "enumerator/state_space.h"
#include "traces/trace_reader.h"

namespace crashenum {
namespace {

double MiB(double bytes) { return bytes / (1 << 20); }

// Bytes malloc has handed out, mmapped blocks included.
size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

absl::Status Run(const std::string& path, uint64_t every, bool torn) {
  size_t before = HeapInUse();
  ASSIGN_OR_RETURN(Trace trace, ReadTrace(path, ReadOptions{}));
  const size_t trace_heap = HeapInUse() - before;
  before = HeapInUse();
  ASSIGN_OR_RETURN(std::unique_ptr<UnitHashes> hashes, UnitHashes::Build(trace, 0));
  std::printf("trace: %zu ops, %zu events, %.1f MiB of heap; unit hashes: "
              "%.1f MiB\n",
              trace.ops().size(), trace.events().size(), MiB(trace_heap),
              MiB(HeapInUse() - before));
  ASSIGN_OR_RETURN(std::vector<CrashPoint> points,
                   FindCrashPoints(trace, CrashPointOptions{}));
  std::printf("crash points: %zu, measuring every %llu\n", points.size(),
              static_cast<unsigned long long>(every));
  std::printf("%8s %10s %10s %10s %9s %9s %9s %8s\n", "point", "event",
              "heap MiB", "fixed", "fixed MiB", "slots", "optional", "ms");
  ModelOptions model;
  model.torn = torn;
  double total = 0;
  for (size_t i = 0; i < points.size(); i += every) {
    before = HeapInUse();
    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(std::unique_ptr<StateSpace> space,
                     StateSpace::Build(*hashes, points[i].event, model));
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count();
    const double heap = static_cast<double>(HeapInUse() - before);
    total += heap;
    std::printf("%8zu %10u %10.1f %10zu %9.1f %9zu %9zu %8.0f\n", i,
                points[i].event, MiB(heap), space->fixed().size(),
                MiB(space->fixed().capacity() * sizeof(FixedUnit)),
                space->slots().size(), space->optional_ops().size(), ms);
  }
  const uint64_t measured = (points.size() + every - 1) / every;
  std::printf("mean heap per crash point: %.1f MiB; all %zu points: %.0f MiB\n",
              MiB(total / measured), points.size(),
              MiB(total / measured * points.size()));
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  std::string path;
  uint64_t every = 1;
  bool torn = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    bool ok = true;
    if (absl::ConsumePrefix(&arg, "--every=")) {
      ok = absl::SimpleAtoi(arg, &every) && every > 0;
    } else if (arg == "--torn") {
      torn = true;
    } else if (path.empty() && !absl::StartsWith(arg, "-")) {
      path = std::string(arg);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "space_sizes: bad argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: space_sizes TRACE [--every=N] [--torn]\n");
    return 2;
  }
  const absl::Status s = Run(path, every, torn);
  if (!s.ok()) {
    std::fprintf(stderr, "space_sizes: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace crashenum

int main(int argc, char** argv) { return crashenum::Main(argc, argv); }
