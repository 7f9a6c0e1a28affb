// End-to-end tests of the crashenum binary on the real ext4 traces in
// tests/testdata (see their README): exact image and failure counts, exit
// codes, JSON reports, repro commands, worker-count independence, and bad
// input.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

const char kBarrier[] = "tests/testdata/ext4-append-rename.log";
const char kNoBarrier[] = "tests/testdata/ext4-append-rename-nobarrier.log";

std::string Tmp() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Result Sh(const std::string& command) {
  Result r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

Result Crashenum(const std::string& args) {
  return Sh("cli/crashenum " + args);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

bool HaveE2fsck() {
  return Sh("command -v e2fsck || test -x /sbin/e2fsck").exit_code == 0;
}

TEST(CheckE2eTest, BarrierTraceOneDropHas33ImagesNoneFailing) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/barrier.json";
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none"
                       " --drop-at-most=1 -q --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> lines = JsonLines(json);
  ASSERT_EQ(lines.size(), 1u) << r.output;
  const nlohmann::json& s = lines[0]["summary"];
  EXPECT_EQ(s["distinct_images"], 33);
  EXPECT_EQ(s["oracle_runs"], 33);
  EXPECT_EQ(s["failures"], 0);
  EXPECT_EQ(s["errors"], 0);
  EXPECT_EQ(s["crash_points"], 18);
}

TEST(CheckE2eTest, BarrierTraceExhaustiveHas92ImagesNoneFailing) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/exhaustive.json";
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none -q"
                       " --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json s = JsonLines(json).back()["summary"];
  EXPECT_EQ(s["distinct_images"], 92);
  EXPECT_EQ(s["failures"], 0);
}

TEST(CheckE2eTest, NoBarrierTraceHasSixFailingImagesThatReproduce) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/nobarrier.json";
  Result r = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none"
                       " --drop-at-most=1 -j 2 --json=" + json);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("reproduce: crashenum materialize"));
  std::vector<nlohmann::json> lines = JsonLines(json);
  ASSERT_FALSE(lines.empty());
  const nlohmann::json s = lines.back()["summary"];
  EXPECT_EQ(s["distinct_images"], 21);
  EXPECT_EQ(s["failing_images"], 6);
  EXPECT_EQ(s["failures"], 6);
  ASSERT_EQ(lines.size(), 7u);
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    const nlohmann::json& f = lines[i];
    EXPECT_EQ(f["verdict"], "FAIL");
    EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("e2fsck"));
    // The repro command rebuilds an image that e2fsck itself rejects.
    std::string repro = f["repro"];
    ASSERT_EQ(repro.rfind("crashenum materialize ", 0), 0u) << repro;
    const std::string img = Tmp() + "/repro" + std::to_string(i) + ".img";
    repro.replace(0, 9, "cli/crashenum");
    repro.replace(repro.find("-o crash.img"), 12, "-o " + img);
    Result m = Sh(repro);
    ASSERT_EQ(m.exit_code, 0) << m.output;
    Sh("e2fsck -E journal_only -y " + img);  // replay the journal, as mount
    Result fsck = Sh("e2fsck -fn " + img);
    EXPECT_NE(fsck.exit_code, 0) << f["state"] << "\n" << fsck.output;
    // check --state judges exactly that state the same way.
    Result one = Crashenum(std::string("check ") + kNoBarrier +
                           " --oracle=ext4-fsck --state=" +
                           f["state"].get<std::string>());
    EXPECT_EQ(one.exit_code, 1) << one.output;
  }
}

TEST(CheckE2eTest, ResultsDoNotDependOnWorkerCount) {
  const std::string a = Tmp() + "/j1.json", b = Tmp() + "/j2.json";
  // A deterministic oracle of our own: fails when byte 4096.. of the image
  // hashes to an odd value, so some states fail and some pass.
  const std::string oracle =
      "'--oracle=exec:test $(( $(od -An -tu1 -j 1024 -N 64 {image} | "
      "tr -s \" \" \"\\n\" | awk \"{s+=\\$1} END {print s}\") % 2 )) -eq 0'";
  for (const auto& [jobs, json] : {std::pair{"1", a}, std::pair{"2", b}}) {
    Result r = Crashenum(std::string("check ") + kNoBarrier + " " + oracle +
                         " --from-mark=mkfs --torn=none --drop-at-most=2 -q -j " +
                         jobs + " --json=" + json);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.output;
  }
  EXPECT_FALSE(ReadFile(a).empty());
  EXPECT_EQ(ReadFile(a), ReadFile(b));
}

TEST(CheckE2eTest, ExecOracleVerdictsAndExitCodes) {
  Result pass = Crashenum(std::string("check ") + kBarrier +
                          " --oracle=exec:true --from-mark=fsync\\ logs/journal.txt\\ 3"
                          " --torn=none -q");
  EXPECT_EQ(pass.exit_code, 0) << pass.output;
  Result fail = Crashenum(std::string("check ") + kBarrier +
                          " --oracle=exec:false --from-mark=umount -q");
  EXPECT_EQ(fail.exit_code, 1) << fail.output;
  EXPECT_THAT(fail.output, HasSubstr("1 failing images (1 failing states)"));
  Result error = Crashenum(std::string("check ") + kBarrier +
                           " '--oracle=exec:kill -9 $$' --from-mark=umount -q");
  EXPECT_EQ(error.exit_code, 3) << error.output;
}

TEST(CheckE2eTest, RefusesHugeSpacesWithTheCount) {
  Result r = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=exec:true --from-mark=mkfs");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("more than --max-states=1000000"));
  EXPECT_THAT(r.output, HasSubstr("2^"));
}

TEST(CheckE2eTest, BadUsageAndInputExitTwo) {
  EXPECT_EQ(Crashenum("check").exit_code, 2);
  EXPECT_EQ(Crashenum("frobnicate").exit_code, 2);
  Result no_oracle = Crashenum(std::string("check ") + kBarrier);
  EXPECT_EQ(no_oracle.exit_code, 2);
  EXPECT_THAT(no_oracle.output, HasSubstr("--oracle"));
  Result bad_oracle = Crashenum(std::string("check ") + kBarrier + " --oracle=zfs");
  EXPECT_EQ(bad_oracle.exit_code, 2);
  EXPECT_THAT(bad_oracle.output, HasSubstr("unknown oracle 'zfs'"));
  Result bad_mark = Crashenum(std::string("check ") + kBarrier +
                              " --oracle=exec:true --from-mark=nope");
  EXPECT_EQ(bad_mark.exit_code, 2);
  EXPECT_THAT(bad_mark.output, HasSubstr("'mkfs'"));
  Result missing = Crashenum("check /nonexistent.log --oracle=exec:true");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr("/nonexistent.log"));

  // A log cut in the middle of entry 5's data.
  const std::string cut = Tmp() + "/cut.log";
  Sh(std::string("head -c 4000 ") + kBarrier + " > " + cut);
  Result truncated = Crashenum("check " + cut + " --oracle=exec:true");
  EXPECT_EQ(truncated.exit_code, 2) << truncated.output;
  EXPECT_THAT(truncated.output, HasSubstr("entry"));
  EXPECT_THAT(truncated.output, HasSubstr("byte"));
  // Wrong magic.
  const std::string junk = Tmp() + "/junk.log";
  Sh("head -c 8192 /dev/zero | tr '\\0' x > " + junk);
  Result magic = Crashenum("info " + junk);
  EXPECT_EQ(magic.exit_code, 2);
  EXPECT_THAT(magic.output, HasSubstr("unknown trace format"));
  // A state ID from elsewhere.
  Result bad_state = Crashenum(std::string("materialize ") + kBarrier +
                               " --state=e1-u512-n9-000 -o " + Tmp() + "/x.img");
  EXPECT_EQ(bad_state.exit_code, 2);
  EXPECT_THAT(bad_state.output, HasSubstr("has 9 bits"));
}

TEST(InfoE2eTest, ListsMarksAndCrashPoints) {
  Result r = Crashenum(std::string("info ") + kBarrier + " --from-mark=mkfs");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("32768 sectors (16 MiB)"));
  EXPECT_THAT(r.output, HasSubstr("entry 166 (event 332): mkfs"));
  EXPECT_THAT(r.output, HasSubstr("crash points: 18"));
  EXPECT_THAT(r.output, HasSubstr("flushes 29"));
}

TEST(MaterializeE2eTest, WritesTheFinalImage) {
  // After umount every write is durable: the only state is the clean
  // filesystem. exec:false makes it a finding, so the JSON names its ID.
  const std::string json = Tmp() + "/final.json";
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=exec:false --from-mark=umount -q --json=" +
                       json);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  const std::string state = JsonLines(json)[0]["state"];
  EXPECT_EQ(state.rfind("e440-u512-", 0), 0u) << state;
  const std::string img = Tmp() + "/final.img";
  r = Crashenum(std::string("materialize ") + kBarrier + " --state=" + state +
                " -o " + img);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadFile(img).size(), 16u << 20);
  if (HaveE2fsck()) {
    Result fsck = Sh("e2fsck -fn " + img);
    EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
  }
}

}  // namespace
}  // namespace crashenum
