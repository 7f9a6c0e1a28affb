// The durability oracle end to end: real ext4 traces recorded with
// `crashenum record` from tests/workloads/durable-steps.sh, whose durability
// marks come from `crashenum mark --durable`. The correct workload has no
// failing state; the one that skips an fsync before its mark has, they
// reproduce with `check --state`, and ext4-fsck finds nothing wrong with the
// same trace (it is consistent, just not durable). Needs root, /dev/fuse,
// loop devices and mkfs.ext4; each test says it was skipped, and why,
// without them.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "oracles/internal/sha256.h"
#include "tests/e2e_util.h"
#include "traces/trace_reader.h"

namespace crashenum {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Bin() {
  char cwd[4096];
  return std::string(::getcwd(cwd, sizeof cwd)) + "/cli/crashenum";
}

Result Crashenum(const std::string& args) { return Sh(Bin() + " " + args); }

std::string SkipReason() {
  if (::geteuid() != 0) return "needs root (loop devices, mounts)";
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "needs /dev/fuse";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) {
    return "needs loop devices";
  }
  if (Sh("PATH=$PATH:/sbin:/usr/sbin command -v mkfs.ext4").exit_code != 0) {
    return "mkfs.ext4 is not installed";
  }
  return "";
}

#define SKIP_WITHOUT_RECORDING()                               \
  do {                                                         \
    const std::string why = SkipReason();                      \
    if (!why.empty()) GTEST_SKIP() << "skipped: " << why;      \
  } while (0)

// Records tests/workloads/durable-steps.sh with `args`; returns the trace.
std::string Record(const std::string& name, const std::string& args) {
  const std::string out = Tmp() + "/" + name + ".trace";
  Result r = Crashenum("record --fs=ext4 --size=16M -o " + out +
                       " -- sh tests/workloads/durable-steps.sh " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out;
}

std::vector<std::string> Labels(const std::string& trace) {
  std::vector<std::string> out;
  auto t = ReadTrace(trace, {});
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return out;
  for (const Mark& m : t->marks()) out.push_back(m.label);
  return out;
}

// The last line of a --json report.
nlohmann::json Summary(const std::string& json) {
  const std::vector<nlohmann::json> lines = JsonLines(json);
  return lines.empty() ? nlohmann::json() : lines.back()["summary"];
}

constexpr char kBounds[] = " --torn=none --drop-at-most=1 -q";

std::vector<std::string> ExpectedLabels() {
  using internal_oracles::Sha256Hex;
  return {"mkfs",
          "mkdir data",
          "fsync data/config " + Sha256Hex("version 1\n"),
          "fsync data/config.tmp " +
              Sha256Hex("version 2, longer than the first one\n"),
          "rename data/config.tmp data/config",
          "fsync data/stale " + Sha256Hex("stale\n"),
          "unlink data/stale",
          "fsync data/log " + Sha256Hex("entry 1\n"),
          "dirty data/log",
          "umount"};
}

TEST(DurabilityE2eTest, CorrectWorkloadHasNoFailures) {
  SKIP_WITHOUT_RECORDING();
  const std::string trace = Record("durable", "");
  const std::vector<std::string> expected = ExpectedLabels();
  EXPECT_EQ(Labels(trace), expected);
  const std::string json = Tmp() + "/durable.json";
  Result r = Crashenum("check " + trace + " --oracle=durability" + kBounds +
                       " --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json s = Summary(json);
  EXPECT_GT(s["distinct_images"].get<int>(), 10) << s;
  EXPECT_EQ(s["failures"], 0) << s;
  EXPECT_EQ(s["errors"], 0) << s;
}

TEST(DurabilityE2eTest, SkippedFsyncFailsReproduciblyButPassesFsck) {
  SKIP_WITHOUT_RECORDING();
  const std::string trace = Record("skip-fsync", "skip-fsync");
  EXPECT_EQ(Labels(trace), ExpectedLabels());
  const std::string json = Tmp() + "/skip-fsync.json";
  Result r = Crashenum("check " + trace + " --oracle=durability" + kBounds +
                       " --json=" + json);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const nlohmann::json s = Summary(json);
  EXPECT_GT(s["failures"].get<int>(), 0) << s;
  EXPECT_EQ(s["errors"], 0) << s;

  const std::string lost =
      "fsync'd data/config: content " + internal_oracles::Sha256Hex("") +
      " expected " + internal_oracles::Sha256Hex("version 1\n");
  std::vector<std::string> failing;
  for (const nlohmann::json& line : JsonLines(json)) {
    if (!line.contains("state")) continue;
    EXPECT_EQ(line["verdict"], "FAIL") << line;
    EXPECT_THAT(line["message"].get<std::string>(), HasSubstr(lost)) << line;
    failing.push_back(line["state"]);
  }
  ASSERT_FALSE(failing.empty());
  // Every failing state reproduces on its own, also those that shared a
  // verdict with an earlier state of the same image (only within crash
  // points that expect the same).
  for (const std::string& state : failing) {
    r = Crashenum("check " + trace + " --oracle=durability --torn=none --state=" +
                  state);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("): FAIL\n" + lost + "\n")) << r.output;
  }

  // explain shows the claim before the crash point (the data itself never
  // reached the trace: no write of it was dropped, none was made);
  // minimize keeps the state failing with no more writes dropped.
  r = Crashenum("explain " + trace + " --torn=none --state=" + failing.front());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("marks before it: 'fsync data/config "))
      << r.output;
  const std::string min_json = Tmp() + "/minimized.json";
  r = Crashenum("minimize " + trace + " --oracle=durability --torn=none --state=" +
                failing.front() + " --json=" + min_json);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::vector<nlohmann::json> m = JsonLines(min_json);
  ASSERT_EQ(m.size(), 1u) << r.output;
  EXPECT_LE(m[0]["dropped"].get<int>(),
            m[0]["original"]["dropped"].get<int>());
  r = Crashenum("check " + trace + " --oracle=durability --torn=none --state=" +
                m[0]["state"].get<std::string>());
  EXPECT_EQ(r.exit_code, 1) << r.output;

  // The file system is consistent in every one of those states: only the
  // durability oracle sees that the workload's claim does not hold.
  r = Crashenum("check " + trace + " --oracle=ext4-fsck --from-mark=mkfs" +
                kBounds + " --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json fsck = Summary(json);
  EXPECT_EQ(fsck["failures"], 0) << fsck;
  EXPECT_EQ(fsck["errors"], 0) << fsck;
}

// Without its dirty mark the workload's second append to data/log, which
// no mark covers, breaks the expectation of the first fsync: the violation
// the dirty mark exists to withdraw.
TEST(DurabilityE2eTest, ChangeWithoutDirtyMarkFails) {
  SKIP_WITHOUT_RECORDING();
  const std::string trace = Record("no-dirty", "no-dirty");
  std::vector<std::string> labels = ExpectedLabels();
  labels.erase(labels.end() - 2);  // "dirty data/log"
  EXPECT_EQ(Labels(trace), labels);
  const std::string json = Tmp() + "/no-dirty.json";
  Result r = Crashenum("check " + trace + " --oracle=durability" + kBounds +
                       " --json=" + json);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_GT(Summary(json)["failures"].get<int>(), 0);
  const std::string both =
      "fsync'd data/log: content " +
      internal_oracles::Sha256Hex("entry 1\nentry 2\n") + " expected " +
      internal_oracles::Sha256Hex("entry 1\n");
  for (const nlohmann::json& line : JsonLines(json)) {
    if (!line.contains("state")) continue;
    EXPECT_EQ(line["message"], both) << line;
  }
}

// The committed fixture's marks ("fsync logs/journal.txt 1") use a keyword
// without following the grammar: refused before anything runs.
TEST(DurabilityE2eTest, MalformedMarksOfARealTraceAreRefused) {
  Result r = Crashenum(
      "check tests/testdata/ext4-append-rename.log --oracle=durability");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("oracle 'durability': mark 1 (event "));
  EXPECT_THAT(r.output, HasSubstr("'fsync logs/journal.txt 1': '1' is not a "
                                  "SHA-256 (64 lowercase hex digits)"));
}

TEST(DurabilityE2eTest, MarkNeedsARecording) {
  Result r = Crashenum("mark --durable fsync /etc/hostname");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("CRASHENUM_MNT is not set"));
  r = Sh("CRASHENUM_MNT=/tmp CRASHENUM_MARK=/dev/null " + Bin() +
         " mark --durable fsync /etc/hostname");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("/etc/hostname is not below $CRASHENUM_MNT"));
  r = Sh("CRASHENUM_MNT=/tmp CRASHENUM_MARK=/dev/null " + Bin() +
         " mark --durable rename /tmp/a");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("expected --durable fsync FILE | rename OLD "
                                  "NEW | unlink PATH | mkdir DIR | dirty PATH"));
}

}  // namespace
}  // namespace crashenum
