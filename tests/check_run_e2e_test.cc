// End-to-end tests of how `crashenum check` runs: failing images kept with a
// README (also by default under Bazel), an interrupted check's partial
// report, and resuming from it to exactly the uninterrupted result.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

const char kBarrier[] = "tests/testdata/ext4-append-rename.log";
const char kNoBarrier[] = "tests/testdata/ext4-append-rename-nobarrier.log";
const char kNoBarrierArgs[] =
    " --oracle=ext4-fsck --from-mark=mkfs --torn=none --drop-at-most=1 -q";

Result Crashenum(const std::string& args) {
  return Sh("cli/crashenum " + args);
}

bool HaveE2fsck() {
  return Sh("command -v e2fsck || test -x /sbin/e2fsck").exit_code == 0;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The state ID a kept README names.
std::string StateOfReadme(const std::string& readme) {
  const std::string key = "- state: `";
  size_t at = readme.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return readme.substr(at, readme.find('`', at) - at);
}

TEST(KeepFailingE2eTest, KeepsEachFailingImageWithAWorkingReadme) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string dir = Tmp() + "/kept";
  const std::string json = Tmp() + "/kept.json";
  Result r = Crashenum(std::string("check ") + kNoBarrier + kNoBarrierArgs +
                       " --keep-failing=" + dir + " --json=" + json);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("kept 6 failing images in " + dir));
  std::vector<std::string> kept = Lines(Sh("ls " + dir).output);
  ASSERT_EQ(kept.size(), 6u);
  // Every failing state of the report is kept, under the hash of its image.
  std::vector<nlohmann::json> report = JsonLines(json);
  ASSERT_EQ(report.size(), 7u);
  for (size_t i = 0; i + 1 < report.size(); ++i) {
    const std::string state = report[i]["state"];
    const std::string image = report[i]["image"];
    const std::string sub =
        dir + "/e392-" + image.substr(0, 16);
    const std::string readme = ReadFile(sub + "/README.md");
    ASSERT_EQ(StateOfReadme(readme), state) << sub;
    EXPECT_THAT(readme, HasSubstr("e2fsck -fn"));
    // The kept image is the state's image, byte for byte...
    const std::string rebuilt = Tmp() + "/rebuilt.img";
    Result m = Crashenum(std::string("materialize ") + kNoBarrier +
                         " --state=" + state + " -o " + rebuilt);
    ASSERT_EQ(m.exit_code, 0) << m.output;
    EXPECT_EQ(Sh("cmp " + rebuilt + " " + sub + "/dev0.img").exit_code, 0);
    // ... and the README's check command reproduces the failure.
    const size_t at = readme.find("crashenum check ");
    ASSERT_NE(at, std::string::npos);
    const std::string cmd = readme.substr(at, readme.find('\n', at) - at);
    Result c = Sh("PATH=cli:$PATH " + cmd);
    EXPECT_EQ(c.exit_code, 1) << cmd << "\n" << c.output;
  }
}

TEST(KeepFailingE2eTest, CompressedAndBazelDefaultDirectory) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string outputs = Tmp() + "/undeclared";
  ASSERT_EQ(Sh("mkdir -p " + outputs).exit_code, 0);
  // Sh clears the variable; set it for this one command.
  Result r = Sh("TEST_UNDECLARED_OUTPUTS_DIR=" + outputs + " cli/crashenum check " +
         kNoBarrier + kNoBarrierArgs + " --keep-compressed");
  ASSERT_EQ(r.exit_code, 1) << r.output;
  std::vector<std::string> gz =
      Lines(Sh("ls " + outputs + "/crashenum-failing/*/dev0.img.gz").output);
  EXPECT_EQ(gz.size(), 6u);
  EXPECT_EQ(Sh("gzip -t " + gz[0]).exit_code, 0);
}

// Starts a check in the background whose oracle sleeps, interrupts it with
// `sig` (sent `times` times, 20 ms apart) once `runs` oracle runs have started,
// and returns its exit code.
int InterruptedCheck(const std::string& args, int runs, int sig,
                     std::string* output, int times = 1) {
  const std::string started = Tmp() + "/started";
  Sh("rm -rf " + started + " && mkdir " + started);
  const std::string log = Tmp() + "/interrupted.log";
  const std::string oracle =
      "'--oracle=exec:mktemp -p " + started +
      " >/dev/null; sleep 0.3; exit 0'";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::unsetenv("XML_OUTPUT_FILE");
    ::unsetenv("TEST_UNDECLARED_OUTPUTS_DIR");
    const std::string cmd =
        "exec cli/crashenum check " + args + " " + oracle + " > " + log +
        " 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 600; ++i) {
    if (static_cast<int>(Lines(Sh("ls " + started).output).size()) >= runs) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (int k = 0; k < times; ++k) {
    // Apart enough that the check takes each on its own.
    if (k > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(pid, sig);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  *output = ReadFile(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(ResumeE2eTest, InterruptWritesPartialReportAndResumeFinishesExactly) {
  const std::string args = std::string(kBarrier) +
                           " --from-mark=mkfs --torn=none -j 2 -q --prune=none";
  const std::string oracle =
      " '--oracle=exec:mktemp -p " + Tmp() + "/started >/dev/null; "
      "sleep 0.3; exit 0'";
  // The uninterrupted result.
  Sh("mkdir -p " + Tmp() + "/started");
  const std::string full = Tmp() + "/full.json";
  Result whole = Crashenum("check " + args + oracle + " --json=" + full);
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const nlohmann::json want = JsonLines(full).back()["summary"];
  ASSERT_EQ(want["distinct_images"], 92);

  const std::string partial = Tmp() + "/partial.json";
  std::string output;
  const int code =
      InterruptedCheck(args + " --json=" + partial, 10, SIGINT, &output);
  EXPECT_EQ(code, 130) << output;
  EXPECT_THAT(output, HasSubstr("interrupted by SIGINT"));
  EXPECT_THAT(output, HasSubstr("--resume=" + partial));
  std::vector<nlohmann::json> lines = JsonLines(partial);
  ASSERT_FALSE(lines.empty()) << output;
  const nlohmann::json got = lines.back()["summary"];
  EXPECT_EQ(got["interrupted"], true);
  int verdict_lines = 0;
  for (const nlohmann::json& l : lines) verdict_lines += l.contains("image_verdict");
  EXPECT_GE(verdict_lines, 10);
  EXPECT_LT(verdict_lines, 92);
  EXPECT_EQ(got["oracle_runs"], verdict_lines);

  // The resumed run judges only what is left and ends where the whole run
  // ended.
  const std::string resumed = Tmp() + "/resumed.json";
  Result r = Crashenum("check " + args + oracle + " --json=" + resumed +
                       " --resume=" + partial);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json after = JsonLines(resumed).back()["summary"];
  EXPECT_EQ(after["interrupted"], false);
  EXPECT_EQ(after["states"], want["states"]);
  EXPECT_EQ(after["distinct_images"], want["distinct_images"]);
  EXPECT_EQ(after["failures"], want["failures"]);
  EXPECT_EQ(after["resumed_images"], verdict_lines);
  EXPECT_EQ(after["oracle_runs"].get<int>() + verdict_lines, 92);
}

TEST(ResumeE2eTest, SigtermAlsoStopsWithAPartialReport) {
  const std::string partial = Tmp() + "/term.json";
  std::string output;
  const int code = InterruptedCheck(
      std::string(kBarrier) + " --from-mark=mkfs --torn=none -j 1 -q --json=" +
          partial,
      2, SIGTERM, &output);
  EXPECT_EQ(code, 143) << output;
  const std::vector<nlohmann::json> lines = JsonLines(partial);
  ASSERT_FALSE(lines.empty()) << output;
  const nlohmann::json s = lines.back()["summary"];
  EXPECT_EQ(s["interrupted"], true);
  // The runs of each crash point are runs made: the state queued behind
  // the running one, which the interruption cancelled, is none.
  ASSERT_TRUE(s.contains("searched_points")) << s;
  int per_point = 0;
  for (const nlohmann::json& p : s["searched_points"]) {
    per_point += p["oracle_runs"].get<int>();
  }
  EXPECT_EQ(per_point, s["oracle_runs"].get<int>()) << s;
}

// timeout(1) sends its signal to the command and then to its process
// group: the same interruption twice within a moment still ends with a
// report.
TEST(ResumeE2eTest, OneSignalDeliveredTwiceStillWritesTheReport) {
  const std::string partial = Tmp() + "/twice.json";
  std::string output;
  const int code = InterruptedCheck(
      std::string(kBarrier) +
          " --from-mark=mkfs --torn=none -j 1 -q --json=" + partial,
      2, SIGTERM, &output, /*times=*/2);
  EXPECT_EQ(code, 143) << output;
  const std::vector<nlohmann::json> lines = JsonLines(partial);
  ASSERT_FALSE(lines.empty()) << output;
  EXPECT_EQ(lines.back()["summary"]["interrupted"], true);
}

TEST(ResumeE2eTest, RefusesAReportOfAnotherOracleOrTrace) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/other.json";
  ASSERT_EQ(Crashenum(std::string("check ") + kNoBarrier + kNoBarrierArgs +
                      " --json=" + json)
                .exit_code,
            1);
  Result r = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=exec:true --from-mark=mkfs --torn=none -q"
                       " --resume=" + json);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--oracle=\"ext4-fsck\""));
  r = Crashenum(std::string("check ") + kBarrier + kNoBarrierArgs +
                " --resume=" + json);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("another trace"));
  r = Crashenum(std::string("check ") + kBarrier + kNoBarrierArgs +
                " --resume=" + Tmp() + "/missing.json");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("missing.json"));
}

std::set<std::string> FailingStates(const std::string& json) {
  std::set<std::string> out;
  for (const nlohmann::json& l : JsonLines(json)) {
    if (l.contains("state")) out.insert(l["state"].get<std::string>());
  }
  return out;
}

// --prune=readset with the real e2fsck under the LD_PRELOAD shim: the same
// states and failing states as without, far fewer oracle runs, and every
// failure it reports fails again when judged directly.
TEST(PruneE2eTest, ReadSetPruningIsExactWithRealE2fsck) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string args = std::string(kNoBarrier) +
                           " --oracle=ext4-fsck --from-mark=mkfs --torn=none"
                           " --drop-at-most=2 -q";
  const std::string plain = Tmp() + "/plain.json";
  const std::string pruned = Tmp() + "/pruned.json";
  Result a = Crashenum("check " + args + " --prune=none --json=" + plain);
  ASSERT_EQ(a.exit_code, 1) << a.output;
  Result b = Crashenum("check " + args + " --prune=readset --json=" + pruned);
  ASSERT_EQ(b.exit_code, 1) << b.output;
  EXPECT_THAT(b.output, HasSubstr("read-set pruning: "));
  const nlohmann::json want = JsonLines(plain).back()["summary"];
  const nlohmann::json got = JsonLines(pruned).back()["summary"];
  EXPECT_EQ(got["states"], want["states"]);
  EXPECT_EQ(got["failures"], want["failures"]);
  EXPECT_EQ(got["failing_images"], want["failing_images"]);
  EXPECT_EQ(got["distinct_images"], want["distinct_images"]);
  EXPECT_EQ(want["pruned_images"], 0);
  EXPECT_GT(got["pruned_images"].get<int>(), 0);
  EXPECT_EQ(got["oracle_runs"].get<int>() + got["pruned_images"].get<int>(),
            want["oracle_runs"].get<int>());
  const std::set<std::string> failing = FailingStates(pruned);
  EXPECT_EQ(failing, FailingStates(plain));
  ASSERT_FALSE(failing.empty());
  for (const std::string& state : failing) {
    Result c = Crashenum(std::string("check ") + kNoBarrier +
                         " --oracle=ext4-fsck --state=" + state);
    EXPECT_EQ(c.exit_code, 1) << state << "\n" << c.output;
  }
}

}  // namespace
}  // namespace crashenum
