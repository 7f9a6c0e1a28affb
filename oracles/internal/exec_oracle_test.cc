// Tests of the "exec:CMD" oracle, through MakeOracle.
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/crash_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace {

class ExecOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/exec oracle's dir");
    mkdir(dir_.c_str(), 0755);
    images_.device_names = {"data", "log"};
    images_.paths = {Write("data image.img", "DATA"),
                     Write("log 'image'.img", "LOG")};
    state_.event = 7;
    state_.unit_bytes = 4096;
    state_.bits = Bitmap(5);
    state_.bits.Set(2, true);
  }

  std::string Write(const std::string& name, const std::string& contents) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  Verdict Check(const std::string& command,
                absl::Duration timeout = absl::Seconds(30)) {
    OracleOptions options;
    options.timeout = timeout;
    absl::StatusOr<std::unique_ptr<Oracle>> oracle =
        MakeOracle(absl::StrCat("exec:", command), options);
    if (!oracle.ok()) return Verdict::Error(oracle.status().ToString());
    return (*oracle)->Check(images_, state_);
  }

  std::string dir_;
  ImageSet images_;
  StateId state_;
};

TEST_F(ExecOracleTest, ExitZeroPassesOtherExitsFail) {
  Verdict v = Check("true");
  EXPECT_EQ(v.kind, VerdictKind::kPass);
  EXPECT_EQ(v.message, "");

  v = Check("false");
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "exit 1");

  v = Check("echo first; echo >&2 boom; exit 3");
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "exit 3: first\nboom");
}

TEST_F(ExecOracleTest, FailShowsTheLastLines) {
  Verdict v = Check("seq 1 100; exit 2");
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "exit 2: 91\n92\n93\n94\n95\n96\n97\n98\n99\n100");
}

TEST_F(ExecOracleTest, SubstitutesQuotedImagePaths) {
  EXPECT_EQ(Check("test -s {image}").kind, VerdictKind::kPass);
  EXPECT_EQ(Check("test \"$(cat {image})\" = DATA").kind, VerdictKind::kPass);
  EXPECT_EQ(Check("test \"$(cat {image:log})\" = LOG").kind,
            VerdictKind::kPass);
  EXPECT_EQ(Check("test \"$(cat {image:data} {image:log})\" = DATALOG").kind,
            VerdictKind::kPass);
  Write("data image.img", "");
  Verdict v = Check("test -s {image}");
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "exit 1");
}

TEST_F(ExecOracleTest, LeavesOtherBracesAlone) {
  Verdict v =
      Check("echo {images} {image:data; awk 'BEGIN{print \"hi\"}'; exit 1");
  EXPECT_EQ(v.kind, VerdictKind::kError);  // unterminated {image:
  v = Check("echo {images} {}; awk 'BEGIN{print \"hi\"}'; exit 1");
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "exit 1: {images} {}\nhi");
}

TEST_F(ExecOracleTest, ShowsImagePathsAsPlaceholders) {
  Verdict v = Check("echo {image} {image:log} \"$CRASHENUM_IMAGE\"; exit 1");
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "exit 1: {image} {image:log} {image}");
}

TEST_F(ExecOracleTest, UnknownDeviceIsError) {
  Verdict v = Check("cat {image:journal}");
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message,
            "unknown device 'journal' in {image:journal}; devices: data, log");
}

TEST_F(ExecOracleTest, SetsEnvironment) {
  EXPECT_EQ(
      Check(absl::StrCat("test \"$CRASHENUM_STATE\" = ", state_.ToString()))
          .kind,
      VerdictKind::kPass);
  EXPECT_EQ(Check("test \"$CRASHENUM_IMAGE\" = \"$(echo {image})\"").kind,
            VerdictKind::kPass);
  Verdict v = Check("echo \"$CRASHENUM_STATE\"; exit 1");
  EXPECT_EQ(v.message, absl::StrCat("exit 1: ", state_.ToString()));
}

TEST_F(ExecOracleTest, TimeoutIsError) {
  absl::Time start = absl::Now();
  Verdict v = Check("echo started; sleep 100", absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message, "timed out after 300ms: started");
}

TEST_F(ExecOracleTest, SignalIsError) {
  Verdict v = Check("echo dying; kill -SEGV $$");
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message, "killed by signal 11 (SIGSEGV): dying");
}

TEST_F(ExecOracleTest, NoImagesIsError) {
  images_ = ImageSet();
  EXPECT_EQ(Check("true").kind, VerdictKind::kError);
}

TEST_F(ExecOracleTest, ConcurrentChecks) {
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle("exec:test \"$(cat {image})\" = x", OracleOptions());
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  constexpr int kThreads = 8;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ImageSet images;
      images.device_names = {"d"};
      images.paths = {Write(absl::StrCat("c", t), t % 2 == 0 ? "x" : "y")};
      VerdictKind expected =
          t % 2 == 0 ? VerdictKind::kPass : VerdictKind::kFail;
      for (int i = 0; i < 5; ++i) {
        if ((*oracle)->Check(images, state_).kind != expected) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[t], 0) << t;
}

}  // namespace
}  // namespace crashenum
