// The durability oracle: its check script on plain directories, and the
// oracle on real ext4 images (made with mkfs.ext4 -d), mounted by the kernel.
// The mounting tests need root and loop devices and are skipped, saying why,
// without them.
#include "oracles/internal/durability_oracle.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/crash_state.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracles/internal/durability_marks.h"
#include "oracles/internal/sha256.h"
#include "oracles/internal/subprocess.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Tmp() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

int Sh(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

ExpectedState Fold(const std::vector<std::string>& labels) {
  ExpectedState state;
  for (const std::string& label : labels) {
    absl::StatusOr<std::optional<DurabilityMark>> m = ParseDurabilityMark(label);
    EXPECT_TRUE(m.ok() && m->has_value()) << label;
    if (m.ok() && m->has_value()) ApplyDurabilityMark(**m, state);
  }
  return state;
}

// Runs the script of `expected` on `dir`.
SubprocessResult RunScript(const ExpectedState& expected,
                           const std::string& dir) {
  absl::StatusOr<SubprocessResult> r = RunSubprocess(
      {"/bin/sh", "-c", DurabilityCheckScript(expected), "crashenum-durability",
       dir},
      SubprocessOptions());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : SubprocessResult();
}

// A fresh empty directory below the test's temporary directory.
std::string FreshDir(const std::string& name) {
  const std::string dir = Tmp() + "/" + name;
  EXPECT_EQ(Sh("rm -rf '" + dir + "' && mkdir -p '" + dir + "'"), 0);
  return dir;
}

const std::string kV1 = "version 1\n";
const std::string kV2 = "version 2\n";

TEST(DurabilityCheckScriptTest, EverythingHolds) {
  const std::string dir = FreshDir("holds");
  ASSERT_EQ(Sh("mkdir -p " + dir + "/d/sub " + dir + "/r"), 0);
  WriteFile(dir + "/d/a.txt", kV1);
  WriteFile(dir + "/d/new", kV2);
  WriteFile(dir + "/empty", "");
  const ExpectedState expected = Fold(
      {"mkdir d/sub", "fsync d/a.txt " + Sha256Hex(kV1),
       "fsync d/new.tmp " + Sha256Hex(kV2), "rename d/new.tmp d/new",
       "fsync empty " + Sha256Hex(""), "unlink gone", "rename q r"});
  SubprocessResult r = RunScript(expected, dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "");
}

TEST(DurabilityCheckScriptTest, EachViolationIsOneLine) {
  const std::string dir = FreshDir("violations");
  ASSERT_EQ(Sh("mkdir -p " + dir + "/d/a.tmp " + dir + "/notfile && touch " +
               dir + "/sub " + dir + "/b && ln -s nowhere " + dir + "/link"),
            0);
  WriteFile(dir + "/d/a.txt", kV2);
  const ExpectedState expected =
      Fold({"fsync d/a.txt " + Sha256Hex(kV1), "fsync d/missing " + Sha256Hex(kV1),
            "fsync notfile " + Sha256Hex(kV1), "fsync x.tmp " + Sha256Hex(kV1),
            "rename x.tmp x", "rename d/a.tmp d/a", "unlink b", "unlink link",
            "mkdir sub", "mkdir nodir"});
  SubprocessResult r = RunScript(expected, dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output,
            absl::StrCat("unlinked b: still present\n"
                         "renamed d/a.tmp -> d/a: d/a missing\n"
                         "renamed d/a.tmp -> d/a: d/a.tmp still present\n"
                         "fsync'd d/a.txt: content ",
                         Sha256Hex(kV2), " expected ", Sha256Hex(kV1), "\n",
                         "fsync'd d/missing: missing\n"
                         "unlinked link: still present\n"
                         "mkdir nodir: missing\n"
                         "fsync'd notfile: not a regular file\n"
                         "mkdir sub: not a directory\n"
                         "renamed x.tmp -> x: x missing\n"));
}

// Paths are data, never shell code.
TEST(DurabilityCheckScriptTest, PathsAreQuoted) {
  const std::string dir = FreshDir("quoting");
  const std::vector<std::string> names = {"it's here", "$(touch pwned)",
                                          "`touch pwned`", "-n", "a\\b \"c\"",
                                          "tab\there"};
  std::vector<std::string> labels;
  for (const std::string& name : names) {
    WriteFile(dir + "/" + name, name);
    labels.push_back("fsync " + QuoteMarkPath(name) + " " + Sha256Hex(name));
  }
  SubprocessResult r = RunScript(Fold(labels), dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "");

  WriteFile(dir + "/it's here", "changed");
  r = RunScript(Fold(labels), dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, absl::StrCat("fsync'd it's here: content ",
                                   Sha256Hex("changed"), " expected ",
                                   Sha256Hex("it's here"), "\n"));
  EXPECT_NE(access((dir + "/pwned").c_str(), F_OK), 0);
  EXPECT_NE(access("pwned", F_OK), 0);
}

TEST(DurabilityCheckScriptTest, NoDirectoryIsExit2) {
  SubprocessResult r =
      RunScript(Fold({"unlink a"}), Tmp() + "/no-such-directory");
  EXPECT_EQ(r.exit_code, 2);
}

// --- MakeDurabilityOracle. ---

// A one-device trace with the marks `labels`, a flush between each two: mark
// i is event 3 * i.
Trace MarksTrace(const std::vector<std::string>& labels) {
  TraceBuilder b("builder", "");
  Device device;
  device.name = "dev0";
  device.num_sectors = 8;
  EXPECT_TRUE(b.AddDevice(device).ok());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) {
      Op flush;
      flush.kind = OpKind::kFlush;
      EXPECT_TRUE(b.SubmitAndComplete(flush, i).ok());
    }
    b.AddMark(labels[i], i);
  }
  absl::StatusOr<Trace> t = std::move(b).Build();
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(*t);
}

// The event just after mark i of a MarksTrace.
uint32_t AfterMark(uint32_t i) { return 3 * i + 1; }

absl::Status MakeError(const Trace* trace) {
  OracleOptions options;
  options.trace = trace;
  return MakeOracle("durability", options).status();
}

TEST(MakeDurabilityOracleTest, NeedsTheTrace) {
  absl::Status s = MakeError(nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "the durability oracle needs the trace");
}

TEST(MakeDurabilityOracleTest, MalformedMarkNamesIt) {
  const Trace trace =
      MarksTrace({"mkfs", "unlink a", "rename a", "fsync b nothex"});
  absl::Status s = MakeError(&trace);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "oracle 'durability': mark 2 (event 6) 'rename a': expected "
            "'rename OLD NEW', got 1 argument");
}

TEST(MakeDurabilityOracleTest, NoDurabilityMarksIsAMistake) {
  const Trace trace = MarksTrace({"mkfs", "fsync-file", "umount"});
  absl::Status s = MakeError(&trace);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("has no durability marks"));
  EXPECT_THAT(s.message(), HasSubstr("crashenum mark --durable fsync FILE"));
}

// Without root the oracle cannot mount: refused when it is made.
TEST(MakeDurabilityOracleTest, NeedsRoot) {
  const Trace trace = MarksTrace({"unlink a"});
  if (geteuid() != 0) {
    absl::Status s = MakeError(&trace);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), HasSubstr("needs root"));
    return;
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setresuid(65534, 65534, 65534) != 0) _exit(10);
    absl::Status s = MakeError(&trace);
    _exit(s.code() == absl::StatusCode::kFailedPrecondition &&
                  s.message() ==
                      "oracle 'durability' needs root: it mounts each crash "
                      "image"
              ? 0
              : 11);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 10) {
    GTEST_SKIP() << "skipped: cannot switch to another user here";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// --- The oracle on real ext4 images. ---

std::string SkipReason() {
  if (geteuid() != 0) return "needs root (loop mounts)";
  if (access("/dev/loop-control", R_OK | W_OK) != 0) return "needs loop devices";
  if (Sh("PATH=$PATH:/sbin:/usr/sbin command -v mkfs.ext4 >/dev/null") != 0) {
    return "mkfs.ext4 is not installed";
  }
  return "";
}

#define SKIP_WITHOUT_MOUNTS()                                   \
  do {                                                          \
    const std::string why = SkipReason();                       \
    if (!why.empty()) GTEST_SKIP() << "skipped: " << why;       \
  } while (0)

// An 8 MiB ext4 image holding the files below `dir`.
std::string Ext4Image(const std::string& name, const std::string& dir) {
  const std::string image = Tmp() + "/" + name + ".img";
  EXPECT_EQ(Sh("rm -f " + image + " && truncate -s 8M " + image +
               " && PATH=$PATH:/sbin:/usr/sbin mkfs.ext4 -q -F -d " + dir +
               " " + image + " >/dev/null 2>&1"),
            0);
  return image;
}

StateId CrashBefore(uint32_t event) {
  StateId id;
  id.event = event;
  id.unit_bytes = 512;
  return id;
}

ImageSet Images(const std::string& image) { return {{"dev0"}, {image}}; }

class DurabilityOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    trace_ = std::make_unique<Trace>(MarksTrace(
        {"mkfs", "mkdir data", "fsync data/config.tmp " + Sha256Hex(kV2),
         "rename data/config.tmp data/config", "fsync data/stale " + Sha256Hex(kV1),
         "unlink data/stale", "umount"}));
  }

  std::unique_ptr<Oracle> Make() {
    OracleOptions options;
    options.trace = trace_.get();
    options.scratch_dir = Tmp();
    options.timeout = absl::Seconds(30);
    absl::StatusOr<std::unique_ptr<Oracle>> oracle =
        MakeOracle("durability", options);
    EXPECT_TRUE(oracle.ok()) << oracle.status();
    return oracle.ok() ? std::move(*oracle) : nullptr;
  }

  std::unique_ptr<Trace> trace_;
};

TEST_F(DurabilityOracleTest, NameAndTraits) {
  SKIP_WITHOUT_MOUNTS();
  std::unique_ptr<Oracle> oracle = Make();
  ASSERT_NE(oracle, nullptr);
  EXPECT_EQ(oracle->name(), "durability");
  EXPECT_FALSE(oracle->traits().metadata_only);
  EXPECT_TRUE(oracle->traits().mutates_image);
  EXPECT_TRUE(oracle->traits().needs_root);
  EXPECT_TRUE(oracle->traits().deterministic);
}

TEST_F(DurabilityOracleTest, PassesWhenWhatIsDurableIsThere) {
  SKIP_WITHOUT_MOUNTS();
  const std::string dir = FreshDir("good");
  ASSERT_EQ(Sh("mkdir " + dir + "/data"), 0);
  WriteFile(dir + "/data/config", kV2);
  std::unique_ptr<Oracle> oracle = Make();
  ASSERT_NE(oracle, nullptr);
  const std::string image = Ext4Image("good", dir);
  // Marks: 1 mkdir data, 2 fsync data/config.tmp, 3 rename it to
  // data/config, 4 fsync data/stale, 5 unlink data/stale. The image holds
  // the end state, which every crash point allows: between a file's fsync
  // and its rename or unlink, the pending mark lets the file be gone.
  for (uint32_t event = 0; event <= AfterMark(6); ++event) {
    Verdict v = oracle->Check(Images(image), CrashBefore(event));
    EXPECT_EQ(v.kind, VerdictKind::kPass) << event << ": " << v.message;
  }
}

TEST_F(DurabilityOracleTest, FailsNamingEachLostStep) {
  SKIP_WITHOUT_MOUNTS();
  const std::string dir = FreshDir("bad");
  ASSERT_EQ(Sh("mkdir " + dir + "/data"), 0);
  WriteFile(dir + "/data/config.tmp", kV2);
  WriteFile(dir + "/data/stale", kV1);
  std::unique_ptr<Oracle> oracle = Make();
  ASSERT_NE(oracle, nullptr);
  const std::string image = Ext4Image("bad", dir);
  // Before the rename mark, what the image shows is still allowed.
  EXPECT_EQ(oracle->Check(Images(image), CrashBefore(AfterMark(2))).kind,
            VerdictKind::kPass);
  Verdict v = oracle->Check(Images(image), CrashBefore(AfterMark(3)));
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message,
            "renamed data/config.tmp -> data/config: data/config missing\n"
            "renamed data/config.tmp -> data/config: data/config.tmp still "
            "present");
  v = oracle->Check(Images(image), CrashBefore(AfterMark(5)));
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message,
            "renamed data/config.tmp -> data/config: data/config missing\n"
            "renamed data/config.tmp -> data/config: data/config.tmp still "
            "present\n"
            "unlinked data/stale: still present");
}

TEST_F(DurabilityOracleTest, WrongContentIsNamed) {
  SKIP_WITHOUT_MOUNTS();
  const std::string dir = FreshDir("content");
  ASSERT_EQ(Sh("mkdir " + dir + "/data"), 0);
  WriteFile(dir + "/data/config", "");
  std::unique_ptr<Oracle> oracle = Make();
  ASSERT_NE(oracle, nullptr);
  Verdict v = oracle->Check(Images(Ext4Image("content", dir)),
                            CrashBefore(AfterMark(6)));
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, absl::StrCat("renamed data/config.tmp -> data/config: "
                                    "data/config content ",
                                    Sha256Hex(""), " expected ", Sha256Hex(kV2)));
}

// With nothing expected yet the image is not even mounted: an image that
// cannot be mounted passes until the first durability mark (mkdir data),
// and fails after it.
TEST_F(DurabilityOracleTest, UnmountableImage) {
  SKIP_WITHOUT_MOUNTS();
  const std::string image = Tmp() + "/zeros.img";
  ASSERT_EQ(Sh("rm -f " + image + " && truncate -s 8M " + image), 0);
  std::unique_ptr<Oracle> oracle = Make();
  ASSERT_NE(oracle, nullptr);
  for (uint32_t event : {0u, AfterMark(0), AfterMark(1) - 1}) {
    Verdict v = oracle->Check(Images(image), CrashBefore(event));
    EXPECT_EQ(v.kind, VerdictKind::kPass) << event << ": " << v.message;
  }
  Verdict v = oracle->Check(Images(image), CrashBefore(AfterMark(1)));
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message, StartsWith("mount failed (recovery failed)"));
}

TEST_F(DurabilityOracleTest, ConcurrentChecks) {
  SKIP_WITHOUT_MOUNTS();
  const std::string good = FreshDir("concurrent-good");
  ASSERT_EQ(Sh("mkdir " + good + "/data"), 0);
  WriteFile(good + "/data/config", kV2);
  const std::string bad = FreshDir("concurrent-bad");
  ASSERT_EQ(Sh("mkdir " + bad + "/data"), 0);
  WriteFile(bad + "/data/config", kV1);
  std::unique_ptr<Oracle> oracle = Make();
  ASSERT_NE(oracle, nullptr);
  std::vector<std::string> images;
  for (int i = 0; i < 4; ++i) {
    images.push_back(Ext4Image(absl::StrCat("concurrent", i),
                               i % 2 == 0 ? good : bad));
  }
  std::vector<Verdict> verdicts(images.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < images.size(); ++i) {
    threads.emplace_back([&, i] {
      verdicts[i] = oracle->Check(Images(images[i]), CrashBefore(AfterMark(6)));
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < images.size(); ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(verdicts[i].kind, VerdictKind::kPass) << verdicts[i].message;
    } else {
      EXPECT_EQ(verdicts[i].kind, VerdictKind::kFail);
      EXPECT_EQ(verdicts[i].message,
                absl::StrCat("renamed data/config.tmp -> data/config: "
                             "data/config content ",
                             Sha256Hex(kV1), " expected ", Sha256Hex(kV2)));
    }
  }
}

}  // namespace
}  // namespace internal_oracles
}  // namespace crashenum
