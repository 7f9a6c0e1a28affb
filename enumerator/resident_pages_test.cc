// A long trace's data is mapped, not read into memory: reading a
// dm-log-writes log and hashing its units must not make all of it resident
// at once (each gives its pages back every Trace::kReleaseBytes).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "core/trace.h"
#include "enumerator/state_space.h"
#include "enumerator/test_traces.h"
#include "gtest/gtest.h"
#include "traces/dm_log_writes.h"
#include "traces/dm_log_writes_writer.h"

namespace crashenum {
namespace {

using testing_traces::Script;

// A field of /proc/self/status in KiB ("VmHWM", "VmRSS"), or -1.
int64_t StatusKiB(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, field + ":")) {
      std::istringstream fields(line.substr(field.size() + 1));
      int64_t v = -1;
      fields >> v;
      return v;
    }
  }
  return -1;
}

// Resets the peak resident size (VmHWM) to the current one.
bool ResetPeak() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good();
}

TEST(ResidentPagesTest, ReadingAndHashingALongLogNeverMapAllOfIt) {
  // 96 MiB of 4 KiB writes, three times the release interval.
  constexpr uint64_t kWrites = 96 * 256;
  std::string path;
  {
    Script s(2 * kWrites * 8);
    for (uint64_t i = 0; i < kWrites; ++i) {
      s.Write(i * 8, 8, static_cast<char>('a' + i % 26));
      if (i % 150 == 149) s.Flush();
    }
    const char* tmp = std::getenv("TEST_TMPDIR");
    path = std::string(tmp != nullptr ? tmp : "/tmp") + "/long.log";
    ASSERT_TRUE(WriteDmLogWrites(std::move(s).Build(), path).ok());
  }
  if (!ResetPeak()) {
    GTEST_SKIP() << "skipped: cannot reset the peak resident size through "
                    "/proc/self/clear_refs on this kernel";
  }
  // What may be resident at once: one release interval, and some slack for
  // the trace's own tables and the allocator. AddressSanitizer keeps freed
  // blocks (the tables' earlier sizes) in quarantine and adds redzones. Either
  // way the limit stays well below the 96 MiB of the log.
#if defined(__SANITIZE_ADDRESS__)
  constexpr int64_t kSlackKiB = 40 * 1024;
#else
  constexpr int64_t kSlackKiB = 16 * 1024;
#endif
  const int64_t limit_kib = (Trace::kReleaseBytes >> 10) + kSlackKiB;
  int64_t before = StatusKiB("VmRSS");
  absl::StatusOr<Trace> trace = ReadDmLogWrites(path, {});
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_LT(StatusKiB("VmHWM") - before, limit_kib)
      << "KiB more resident at the peak of reading the log";

  ASSERT_TRUE(ResetPeak());
  before = StatusKiB("VmRSS");
  absl::StatusOr<std::unique_ptr<UnitHashes>> hashes =
      UnitHashes::Build(*trace, 0);
  ASSERT_TRUE(hashes.ok()) << hashes.status();
  EXPECT_LT(StatusKiB("VmHWM") - before, limit_kib)
      << "KiB more resident at the peak of hashing every unit";
}

}  // namespace
}  // namespace crashenum
