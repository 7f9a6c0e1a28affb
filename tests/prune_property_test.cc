// Read-set pruning is exact (DESIGN.md 3): on random small traces, with a
// random deterministic oracle whose verdict is a function of the units it
// reads (and which units it reads depends on what it finds), a check with
// --prune=readset gives exactly the states, verdicts and failing states of
// a check without it, and never more oracle runs.

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "check/checker.h"
#include "core/hash128.h"
#include "core/trace.h"
#include "gtest/gtest.h"
#include "oracles/oracle.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"

namespace crashenum {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kSectors = 8;

struct Generated {
  Trace trace;
  std::string text;
};

// One device of 8 sectors; up to 7 one- or two-sector writes of random
// letters, flushes between some, some left in flight or overlapping.
Generated GenTrace() {
  TraceBuilder b("builder", "");
  Device dev;
  dev.name = "dev0";
  dev.sector_size = kSector;
  dev.num_sectors = kSectors;
  RC_ASSERT(b.AddDevice(dev).ok());
  std::string text;
  uint64_t entry = 0;
  std::vector<uint32_t> in_flight;
  const int n = *rc::gen::inRange(1, 8);
  for (int i = 0; i < n; ++i) {
    if (*rc::gen::weightedElement<bool>({{3, false}, {1, true}})) {
      Op f;
      f.kind = OpKind::kFlush;
      RC_ASSERT(b.SubmitAndComplete(f, entry++).ok());
      text += "flush\n";
    }
    Op op;
    op.kind = OpKind::kWrite;
    op.num_sectors = *rc::gen::inRange<uint64_t>(1, 3);
    op.sector = *rc::gen::inRange<uint64_t>(0, kSectors - op.num_sectors + 1);
    const char letter = *rc::gen::element('a', 'b', 'c');
    op.data = b.Own(std::string(op.num_sectors * kSector, letter));
    absl::StatusOr<uint32_t> id = b.Submit(op, entry++);
    RC_ASSERT(id.ok());
    absl::StrAppend(&text, "write [", op.sector, ", +", op.num_sectors, ") ",
                    std::string(1, letter), "\n");
    if (*rc::gen::weightedElement<bool>({{3, true}, {1, false}})) {
      RC_ASSERT(b.Complete(*id, 0, entry++).ok());
    } else {
      in_flight.push_back(*id);
    }
  }
  for (uint32_t id : in_flight) {
    if (*rc::gen::element(true, false)) {
      RC_ASSERT(b.Complete(id, 0, entry++).ok());
      text += "late completion\n";
    }
  }
  absl::StatusOr<Trace> t = std::move(b).Build();
  RC_ASSERT(t.ok());
  return Generated{*std::move(t), std::move(text)};
}

// Reads sector `first`; depending on its first byte, one of two more
// sectors; FAILs when a checksum of what it read has residue 0 mod 3. Its
// reads are kept per image path for the recorder.
class AdaptiveOracle : public Oracle {
 public:
  AdaptiveOracle(uint64_t first, uint64_t even, uint64_t odd, uint64_t salt)
      : first_(first), even_(even), odd_(odd), salt_(salt) {
    traits_.reads_through_files = true;
  }
  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }
  Verdict Check(const ImageSet& images, const StateId&) override {
    const int fd = ::open(images.paths[0].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Verdict::Error("cannot open the image");
    std::string a = Read(fd, first_);
    const uint64_t next = (a[0] & 1) ? odd_ : even_;
    std::string b = Read(fd, next);
    ::close(fd);
    {
      absl::MutexLock lock(&mu_);
      reads_[images.paths[0]] = {first_, next};
    }
    const Hash128 h = HashBytes(absl::StrCat(salt_, a, b));
    return h.lo % 3 == 0 ? Verdict::Fail("residue 0") : Verdict::Pass();
  }
  std::vector<uint64_t> ReadsOf(const std::string& path) {
    absl::MutexLock lock(&mu_);
    return reads_[path];
  }

 private:
  static std::string Read(int fd, uint64_t sector) {
    std::string buf(kSector, '\0');
    if (::pread(fd, buf.data(), kSector, sector * kSector) != kSector) {
      buf.assign(kSector, '?');
    }
    return buf;
  }
  const std::string name_ = "adaptive";
  OracleTraits traits_;
  const uint64_t first_, even_, odd_, salt_;
  absl::Mutex mu_;
  std::map<std::string, std::vector<uint64_t>> reads_;
};

// Reports the oracle's own account of what it read.
class OracleReportedReads : public ReadRecorder {
 public:
  explicit OracleReportedReads(AdaptiveOracle& oracle) : oracle_(oracle) {}
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Begin(
      int worker, const std::vector<std::string>& paths) override {
    absl::MutexLock lock(&mu_);
    path_[worker] = paths[0];
    return std::vector<std::pair<std::string, std::string>>{};
  }
  absl::StatusOr<std::vector<std::pair<uint32_t, uint64_t>>> End(
      int worker, const std::vector<uint32_t>& unit_bytes,
      bool* everything) override {
    *everything = false;
    std::string path;
    {
      absl::MutexLock lock(&mu_);
      path = path_[worker];
    }
    std::vector<std::pair<uint32_t, uint64_t>> units;
    const uint32_t per_sector = kSector / unit_bytes[0];
    for (uint64_t s : oracle_.ReadsOf(path)) {
      for (uint32_t k = 0; k < per_sector; ++k) {
        units.push_back({0, s * per_sector + k});
      }
    }
    return units;
  }

 private:
  AdaptiveOracle& oracle_;
  absl::Mutex mu_;
  std::map<int, std::string> path_;
};

std::string WorkDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

RC_GTEST_PROP(PruneProperty, ReadSetPruningIsExact, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const uint64_t first = *rc::gen::inRange<uint64_t>(0, kSectors);
  const uint64_t even = *rc::gen::inRange<uint64_t>(0, kSectors);
  const uint64_t odd = *rc::gen::inRange<uint64_t>(0, kSectors);
  const uint64_t salt = *rc::gen::arbitrary<uint64_t>();
  CheckOptions options;
  options.points.mode = CrashPointMode::kAll;
  options.model.torn = *rc::gen::arbitrary<bool>();
  options.model.atomic_unit = *rc::gen::element(0u, 256u);
  options.jobs = *rc::gen::inRange(1, 3);
  options.work_dir = WorkDir();
  // Small spaces only: each state costs an oracle run.
  options.max_states = 20000;

  AdaptiveOracle plain_oracle(first, even, odd, salt);
  absl::StatusOr<CheckReport> plain = RunCheck(g.trace, plain_oracle, options);
  if (plain.status().code() == absl::StatusCode::kResourceExhausted) {
    RC_DISCARD("more states than the test runs");
  }
  if (!plain.ok()) RC_FAIL(plain.status().ToString());

  AdaptiveOracle pruned_oracle(first, even, odd, salt);
  OracleReportedReads recorder(pruned_oracle);
  options.read_recorder = &recorder;
  absl::StatusOr<CheckReport> pruned = RunCheck(g.trace, pruned_oracle, options);
  if (!pruned.ok()) RC_FAIL(pruned.status().ToString());
  RC_ASSERT(pruned->pruned);

  RC_ASSERT(pruned->states == plain->states);
  RC_ASSERT(pruned->failures == plain->failures);
  RC_ASSERT(pruned->distinct_images == plain->distinct_images);
  std::set<std::string> want, got;
  for (const StateFinding& f : plain->findings) want.insert(f.state);
  for (const StateFinding& f : pruned->findings) got.insert(f.state);
  RC_ASSERT(got == want);
  RC_ASSERT(pruned->oracle_runs + pruned->pruned_images ==
            plain->oracle_runs);
  RC_TAG(pruned->pruned_images > 0 ? "pruned some" : "pruned none");
}

}  // namespace
}  // namespace crashenum
