// The xfs, btrfs and mount:SCRIPT oracles end to end: crashenum record
// captures tests/workloads/fsync-rename.sh on xfs and on btrfs, and
// crashenum check judges every crash state after mkfs (whole writes, at most
// one left out) with the file system's own log replay and checker, and with
// a script that demands what only the end of the workload makes durable.
// Needs root, /dev/fuse, loop devices and the file systems' tools; each test
// says it was skipped, and why, without them.
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

std::string Bin() {
  char cwd[4096];
  return std::string(::getcwd(cwd, sizeof cwd)) + "/cli/crashenum";
}

Result Crashenum(const std::string& args) { return Sh(Bin() + " " + args); }

std::string SkipReason(const std::string& fs, const std::string& checker) {
  if (::geteuid() != 0) return "needs root (loop devices, mounts)";
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "needs /dev/fuse";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) {
    return "needs loop devices";
  }
  for (const std::string& tool : {"mkfs." + fs, checker}) {
    if (Sh("PATH=$PATH:/sbin:/usr/sbin command -v " + tool).exit_code != 0) {
      return tool + " is not installed";
    }
  }
  return "";
}

#define SKIP_WITHOUT(fs, checker)                         \
  do {                                                    \
    const std::string why = SkipReason(fs, checker);      \
    if (!why.empty()) GTEST_SKIP() << "skipped: " << why; \
  } while (0)

// Records the workload on `fs`; returns the trace path.
std::string Record(const std::string& fs, const std::string& size) {
  const std::string out = Tmp() + "/" + fs + ".trace";
  Result r = Crashenum("record --fs=" + fs + " --size=" + size + " -o " + out +
                       " -- sh tests/workloads/fsync-rename.sh");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return out;
}

const char kBounds[] = " --from-mark=mkfs --torn=none --drop-at-most=1";

// Runs check with `oracle`; returns every --json line (the summary last).
std::vector<nlohmann::json> Check(const std::string& trace,
                                  const std::string& oracle,
                                  int expected_exit) {
  const std::string json = trace + ".json";
  Result r = Crashenum("check " + trace + " --oracle=" + oracle + kBounds +
                       " -q --json=" + json);
  EXPECT_EQ(r.exit_code, expected_exit) << r.output;
  std::vector<nlohmann::json> lines = JsonLines(json);
  EXPECT_FALSE(lines.empty()) << r.output;
  return lines;
}

// The file system's own oracle finds nothing wrong with any crash state.
void ExpectConsistent(const std::string& fs, const std::string& trace) {
  std::vector<nlohmann::json> lines = Check(trace, fs, 0);
  if (lines.empty()) return;
  const nlohmann::json s = lines.back()["summary"];
  EXPECT_GT(s["distinct_images"].get<int>(), 5) << s;
  EXPECT_EQ(s["oracle_runs"], s["distinct_images"]) << s;
  EXPECT_EQ(s["failures"], 0) << s;
  EXPECT_EQ(s["errors"], 0) << s;
  // Nothing is left mounted or attached.
  EXPECT_EQ(Sh("grep crashenum-mnt /proc/mounts").output, "");
}

// A script demanding the second version of "file", which the workload makes
// durable only at its end: the crash states before that fail, and each
// failing state fails again when checked alone.
void ExpectScriptFindsEarlyStates(const std::string& trace) {
  const std::string script = Tmp() + "/second-version.sh";
  Result r =
      Sh("printf '%s\\n' '#!/bin/sh' "
         "'grep -q \"second version\" \"$1/file\" || "
         "{ echo \"file lacks the second version\"; exit 1; }' > " +
         script + " && chmod +x " + script);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string oracle = "mount:" + script;
  std::vector<nlohmann::json> lines = Check(trace, oracle, 1);
  ASSERT_FALSE(lines.empty());
  const nlohmann::json s = lines.back()["summary"];
  EXPECT_GT(s["failures"].get<int>(), 0) << s;
  EXPECT_LT(s["failing_images"].get<int>(), s["distinct_images"].get<int>())
      << "the states after the rename pass: " << s;
  EXPECT_EQ(s["errors"], 0) << s;
  int checked = 0;
  for (const nlohmann::json& f : lines) {
    if (!f.contains("state") || checked == 2) continue;
    EXPECT_EQ(f["verdict"], "FAIL") << f;
    EXPECT_THAT(f["message"].get<std::string>(),
                HasSubstr("file lacks the second version"));
    const std::string state = f["state"];
    r = Crashenum("check " + trace + " --state=" + state +
                  " --oracle=" + oracle + " --torn=none");
    EXPECT_EQ(r.exit_code, 1) << state << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr("state " + state));
    EXPECT_THAT(r.output, HasSubstr("file lacks the second version"));
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(FsOraclesE2eTest, Xfs) {
  SKIP_WITHOUT("xfs", "xfs_repair");
  const std::string trace = Record("xfs", "320M");
  ExpectConsistent("xfs", trace);
  ExpectScriptFindsEarlyStates(trace);
}

TEST(FsOraclesE2eTest, Btrfs) {
  SKIP_WITHOUT("btrfs", "btrfs");
  const std::string trace = Record("btrfs", "128M");
  ExpectConsistent("btrfs", trace);
  ExpectScriptFindsEarlyStates(trace);
}

TEST(FsOraclesE2eTest, MountScriptMustBeExecutable) {
  const std::string script = Tmp() + "/not-executable.sh";
  ASSERT_EQ(Sh("echo 'exit 0' > " + script).exit_code, 0);
  Result r = Crashenum(
      "check tests/testdata/ext4-append-rename.log "
      "--oracle=mount:" +
      script + " --from-mark=mkfs");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("is not an executable file"));
}

}  // namespace
}  // namespace crashenum
