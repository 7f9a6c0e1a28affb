#include "oracles/internal/subprocess.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace internal_oracles {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TempDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// True once `pid` no longer runs (gone, or a zombie of some other parent).
bool IsGone(int pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren == std::string::npos ||
         (paren + 2 < text.size() &&
          (text[paren + 2] == 'Z' || text[paren + 2] == 'X'));
}

bool BecomesGone(int pid) {
  absl::Time until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until) {
    if (IsGone(pid)) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

// This process has no child left, zombie or alive.
void ExpectNoChildren() {
  errno = 0;
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

SubprocessOptions Quick() {
  SubprocessOptions options;
  options.timeout = absl::Seconds(30);
  return options;
}

TEST(SubprocessTest, ReportsExitCodes) {
  for (int code : {0, 1, 3, 255}) {
    absl::StatusOr<SubprocessResult> r =
        RunShellCommand(absl::StrCat("exit ", code), Quick());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, code);
    EXPECT_EQ(r->term_signal, 0);
    EXPECT_FALSE(r->timed_out);
    EXPECT_EQ(r->ok(), code == 0);
    EXPECT_EQ(r->output, "");
  }
  ExpectNoChildren();
}

TEST(SubprocessTest, RunsArgvWithoutShell) {
  absl::StatusOr<SubprocessResult> r =
      RunSubprocess({"echo", "a  b", "$HOME", "'c'"}, Quick());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "a  b $HOME 'c'\n");
  EXPECT_EQ(r->output_bytes, r->output.size());
  EXPECT_TRUE(r->ok());
}

TEST(SubprocessTest, CapturesStdoutAndStderrInOrder) {
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand("echo out; echo err >&2; echo out2", Quick());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "out\nerr\nout2\n");
}

TEST(SubprocessTest, StdinIsDevNull) {
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand("cat; echo done", Quick());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "done\n");
}

TEST(SubprocessTest, CommandNotFoundIsUnavailable) {
  absl::StatusOr<SubprocessResult> r =
      RunSubprocess({"crashenum-no-such-command"}, Quick());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr("command not found: 'crashenum-no-such-command'"));
  ExpectNoChildren();
}

TEST(SubprocessTest, ExecFailureIsUnavailable) {
  absl::StatusOr<SubprocessResult> r =
      RunSubprocess({"/nonexistent/crashenum-prog"}, Quick());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr("cannot execute '/nonexistent/crashenum-prog'"));
  ExpectNoChildren();
}

TEST(SubprocessTest, EmptyArgvIsInvalid) {
  EXPECT_EQ(RunSubprocess({}, Quick()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SubprocessTest, WorkingDirectory) {
  SubprocessOptions options = Quick();
  options.working_directory = "/usr";
  absl::StatusOr<SubprocessResult> r = RunSubprocess({"pwd"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "/usr\n");

  options.working_directory = "/nonexistent/dir";
  r = RunSubprocess({"pwd"}, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr("working directory '/nonexistent/dir'"));
}

TEST(SubprocessTest, Environment) {
  setenv("CRASHENUM_TEST_INHERITED", "yes", 1);
  setenv("CRASHENUM_TEST_DROPPED", "yes", 1);
  SubprocessOptions options = Quick();
  options.set_env = {{"CRASHENUM_TEST_SET", "a b"},
                     {"CRASHENUM_TEST_INHERITED", "overridden"}};
  options.unset_env = {"CRASHENUM_TEST_DROPPED"};
  absl::StatusOr<SubprocessResult> r = RunShellCommand(
      "echo \"$CRASHENUM_TEST_SET|$CRASHENUM_TEST_INHERITED|"
      "${CRASHENUM_TEST_DROPPED-unset}\"",
      options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "a b|overridden|unset\n");

  options.inherit_environment = false;
  options.set_env = {{"ONLY", "1"}};
  r = RunSubprocess({"/usr/bin/env"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "ONLY=1\n");
}

TEST(SubprocessTest, TimeoutKillsTheCommand) {
  SubprocessOptions options;
  options.timeout = absl::Milliseconds(300);
  options.kill_grace = absl::Milliseconds(200);
  absl::StatusOr<SubprocessResult> r = RunSubprocess({"sleep", "100"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_GE(r->elapsed, absl::Milliseconds(300));
  EXPECT_LT(r->elapsed, absl::Seconds(3));
  ExpectNoChildren();
}

TEST(SubprocessTest, TimeoutKillsTheWholeGroup) {
  SubprocessOptions options;
  options.timeout = absl::Milliseconds(300);
  options.kill_grace = absl::Milliseconds(200);
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand("sleep 100 & echo $!; sleep 100", options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(r->elapsed, absl::Seconds(3));
  int background = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(absl::StripAsciiWhitespace(r->output), &background))
      << r->output;
  EXPECT_TRUE(BecomesGone(background));
  ExpectNoChildren();
}

TEST(SubprocessTest, SigkillAfterGraceWhenTermIsIgnored) {
  SubprocessOptions options;
  options.timeout = absl::Milliseconds(200);
  options.kill_grace = absl::Milliseconds(300);
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand("trap '' TERM; sleep 100; sleep 100", options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_GE(r->elapsed, absl::Milliseconds(500));
  EXPECT_LT(r->elapsed, absl::Seconds(3));
  ExpectNoChildren();
}

TEST(SubprocessTest, BackgroundLeftoversAreKilledAtExit) {
  // The background sleep holds the output pipe open; the call must not wait
  // for it, and must not leave it running.
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand("sleep 100 & echo $!", Quick());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_LT(r->elapsed, absl::Seconds(3));
  int background = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(absl::StripAsciiWhitespace(r->output), &background))
      << r->output;
  EXPECT_TRUE(BecomesGone(background));
}

TEST(SubprocessTest, ReportsTerminatingSignal) {
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand("echo before; kill -SEGV $$", Quick());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->term_signal, SIGSEGV);
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->output, "before\n");
  EXPECT_EQ(SignalName(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
}

TEST(SubprocessTest, CapsOutput) {
  absl::StatusOr<SubprocessResult> r = RunShellCommand(
      "printf START; head -c 10000000 /dev/zero | tr '\\000' x; printf END",
      Quick());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output_bytes, 10000008u);
  EXPECT_LE(r->output.size(), 8192u + 8192u + 64u);
  EXPECT_THAT(r->output, StartsWith("STARTxxx"));
  EXPECT_THAT(r->output, EndsWith("xxxEND"));
  EXPECT_THAT(r->output, HasSubstr(absl::StrCat("\n[... ", 10000008 - 2 * 8192,
                                                " bytes omitted ...]\n")));
}

TEST(SubprocessTest, KeepsOutputBetweenHeadAndTailWhole) {
  SubprocessOptions options = Quick();
  options.output_head_bytes = 4;
  options.output_tail_bytes = 6;
  absl::StatusOr<SubprocessResult> r =
      RunSubprocess({"printf", "0123456789"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "0123456789");
  r = RunSubprocess({"printf", "0123456789abc"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, "0123\n[... 3 bytes omitted ...]\n789abc");
}

TEST(SubprocessTest, FileSizeLimit) {
  SubprocessOptions options = Quick();
  options.max_file_size = 4096;
  std::string file = absl::StrCat(TempDir(), "/fsize_limit");
  absl::StatusOr<SubprocessResult> r = RunShellCommand(
      absl::StrCat("exec head -c 100000 /dev/zero > ", file), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->term_signal, SIGXFSZ) << r->output;
}

TEST(SubprocessTest, AddressSpaceLimit) {
  SubprocessOptions options = Quick();
  options.max_address_space = 1 << 20;  // too small to even start a shell
  absl::StatusOr<SubprocessResult> r = RunShellCommand("true", options);
  EXPECT_FALSE(r.ok() && r->ok());
  ExpectNoChildren();
}

TEST(SubprocessTest, ConcurrentRuns) {
  constexpr int kThreads = 4;
  constexpr int kRuns = 10;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < kRuns; ++i) {
        int code = (t * kRuns + i) % 7;
        std::string expected = absl::StrCat("thread ", t, " run ", i, "\n");
        absl::StatusOr<SubprocessResult> r = RunShellCommand(
            absl::StrCat("echo 'thread ", t, " run ", i, "'; exit ", code),
            Quick());
        if (!r.ok() || r->exit_code != code || r->output != expected) {
          failures[t] +=
              absl::StrCat("run ", i, ": ",
                           r.ok() ? r->output : r.status().ToString(), "\n");
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << t;
  ExpectNoChildren();
}

TEST(SubprocessTest, FindProgram) {
  absl::StatusOr<std::string> sh = FindProgram("sh");
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_THAT(*sh, EndsWith("/sh"));
  EXPECT_EQ(*FindProgram("/bin/sh"), "/bin/sh");
  EXPECT_EQ(
      FindProgram("crashenum-no-such-program", {"/usr/sbin"}).status().code(),
      absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace internal_oracles
}  // namespace crashenum
