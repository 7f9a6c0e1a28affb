#include "oracles/internal/subprocess.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <set>
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
  // read(2), not a stream: a process that ends between open and read makes
  // the read fail with ESRCH, which libstdc++'s filebuf throws as an
  // exception.
  const int fd =
      open(absl::StrCat("/proc/", pid, "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[512];
  const ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0) return true;
  const std::string text(buf, static_cast<size_t>(n));
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

TEST(SubprocessTest, FileSizeLimitIsSoft) {
  SubprocessOptions options = Quick();
  options.max_file_size = 512 * 100;
  struct rlimit own;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &own), 0);
  const std::string hard = own.rlim_max == RLIM_INFINITY
                               ? "unlimited"
                               : absl::StrCat(own.rlim_max / 512);
  // sh's ulimit counts 512-byte blocks.
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand("ulimit -S -f; ulimit -H -f", options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->output, absl::StrCat("100\n", hard, "\n"));
  if (own.rlim_max != RLIM_INFINITY) return;
  // The child may raise it again, up to the hard limit.
  r = RunShellCommand(
      absl::StrCat("ulimit -S -f unlimited && exec head -c 100000 /dev/zero > ",
                   TempDir(), "/fsize_raised"),
      options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_EQ(r->term_signal, 0);
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

// The interface names in /proc/net/dev of a process (its network namespace).
std::vector<std::string> Interfaces(const std::string& proc_net_dev) {
  std::vector<std::string> names;
  std::istringstream in(proc_net_dev);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    names.emplace_back(absl::StripAsciiWhitespace(line.substr(0, colon)));
  }
  return names;
}

bool IsRoot() { return geteuid() == 0; }

std::string ReadLink(const std::string& path) {
  char buf[256];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, n);
}

// Whether /proc/self/mountinfo of this process mentions `text`.
bool MountinfoHas(const std::string& text) {
  std::ifstream in("/proc/self/mountinfo");
  std::string all((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  return all.find(text) != std::string::npos;
}

TEST(SubprocessTest, NewNetworkNamespaceHasOnlyLoopback) {
  SubprocessOptions options = Quick();
  options.new_network_namespace = true;
  absl::StatusOr<SubprocessResult> r =
      RunSubprocess({"cat", "/proc/net/dev"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->output;
  if (!r->network_isolated) {
    ASSERT_FALSE(IsRoot()) << "root always gets a network namespace";
    GTEST_SKIP() << "skipped: neither a network nor a user namespace can be "
                    "made without root here";
  }
  EXPECT_THAT(Interfaces(r->output), ::testing::ElementsAre("lo"));

  // Without the option: this process's interfaces, and not isolated.
  std::ifstream own("/proc/self/net/dev");
  std::string text((std::istreambuf_iterator<char>(own)),
                   std::istreambuf_iterator<char>());
  r = RunSubprocess({"cat", "/proc/net/dev"}, Quick());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->network_isolated);
  EXPECT_EQ(Interfaces(r->output), Interfaces(text));
}

// Concurrent children never share a network namespace; later runs reuse
// them, never this process's.
TEST(SubprocessTest, ConcurrentChildrenHaveTheirOwnNetworkNamespace) {
  SubprocessOptions options = Quick();
  options.new_network_namespace = true;
  const std::string own = ReadLink("/proc/self/ns/net");
  for (int round = 0; round < 3; ++round) {
    constexpr int kThreads = 4;
    std::vector<std::string> ns(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // Each holds its namespace until every one has started.
        absl::StatusOr<SubprocessResult> r =
            RunShellCommand("readlink /proc/self/ns/net; sleep 0.3", options);
        if (!r.ok() || r->exit_code != 0 || !r->network_isolated) {
          ns[t] = absl::StrCat("failed: ",
                               r.ok() ? r->output : r.status().ToString());
        } else {
          ns[t] = std::string(absl::StripAsciiWhitespace(r->output));
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    if (!IsRoot() && absl::StartsWith(ns[0], "failed")) {
      GTEST_SKIP() << "skipped: no network namespace can be made here "
                      "without root";
    }
    std::set<std::string> distinct;
    for (const std::string& n : ns) {
      ASSERT_THAT(n, StartsWith("net:[")) << n;
      EXPECT_NE(n, own);
      distinct.insert(n);
    }
    EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads)) << round;
  }
  ExpectNoChildren();
}

// Without the privilege for a network namespace (as nobody), the child gets
// one inside a user namespace that maps no user.
TEST(SubprocessTest, NetworkNamespaceWithoutPrivilege) {
  if (!IsRoot()) GTEST_SKIP() << "skipped: needs root to become nobody";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // this test's own child: single-threaded
    close(fds[0]);
    std::string report = "cannot drop privileges";
    if (setgroups(0, nullptr) == 0 && setresgid(65534, 65534, 65534) == 0 &&
        setresuid(65534, 65534, 65534) == 0) {
      SubprocessOptions options = Quick();
      options.new_network_namespace = true;
      absl::StatusOr<SubprocessResult> r =
          RunShellCommand("id -u; cat /proc/net/dev", options);
      report = r.ok() ? absl::StrCat(r->network_isolated ? "isolated\n"
                                                         : "not isolated\n",
                                     r->output)
                      : r.status().ToString();
    }
    ssize_t ignored = write(fds[1], report.data(), report.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) report.append(buf, n);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  // Unmapped, the child is the overflow user.
  ASSERT_THAT(report, StartsWith("isolated\n65534\n"));
  EXPECT_THAT(Interfaces(report.substr(report.find("\n", 9) + 1)),
              ::testing::ElementsAre("lo"));
}

TEST(SubprocessTest, PrivateTmpIsFreshAndRemovedAfterwards) {
  const std::string parent = absl::StrCat(TempDir(), "/private_tmp");
  const std::string outside = absl::StrCat(TempDir(), "/outside");
  ASSERT_EQ(RunShellCommand(absl::StrCat("mkdir -p ", parent, " ", outside,
                                         " && echo x > ", outside, "/keep"),
                            Quick())
                ->exit_code,
            0);
  SubprocessOptions options = Quick();
  options.private_tmp_parent = parent;
  options.set_env = {{"TMPDIR", "/somewhere/else"}};
  std::vector<std::string> dirs;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<SubprocessResult> r = RunShellCommand(
        absl::StrCat("printf %s \"$TMPDIR\" && mkdir \"$TMPDIR/d\" && "
                     "echo x > \"$TMPDIR/d/f\" && ln -s ",
                     outside, " \"$TMPDIR/link\""),
        options);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_code, 0) << r->output;
    EXPECT_THAT(r->output, StartsWith(parent + "/crashenum-tmp."));
    struct stat st;
    EXPECT_NE(stat(r->output.c_str(), &st), 0) << r->output << " is left";
    dirs.push_back(r->output);
  }
  EXPECT_NE(dirs[0], dirs[1]);
  // The symbolic link was removed, not followed.
  struct stat st;
  EXPECT_EQ(stat((outside + "/keep").c_str(), &st), 0);

  options.private_tmp_parent = "/nonexistent/parent";
  absl::StatusOr<SubprocessResult> r = RunShellCommand("true", options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr("cannot make a private TMPDIR below "
                        "'/nonexistent/parent'"));
}

TEST(SubprocessTest, PrivateTmpRemovalStopsAtMounts) {
  if (!IsRoot()) GTEST_SKIP() << "skipped: needs root to mount a tmpfs";
  const std::string parent = absl::StrCat(TempDir(), "/private_tmp_mount");
  ASSERT_EQ(RunSubprocess({"mkdir", "-p", parent}, Quick())->exit_code, 0);
  SubprocessOptions options = Quick();
  options.private_tmp_parent = parent;
  // Mounted in this process's namespace: the removal must not empty it.
  absl::StatusOr<SubprocessResult> r = RunShellCommand(
      "mkdir \"$TMPDIR/m\" && mount -t tmpfs crashenum-test \"$TMPDIR/m\" "
      "&& echo kept > \"$TMPDIR/m/file\" && printf %s \"$TMPDIR\"",
      options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->output;
  const std::string mnt = r->output + "/m";
  {
    std::ifstream kept(mnt + "/file");
    std::string line;
    EXPECT_TRUE(std::getline(kept, line));
    EXPECT_EQ(line, "kept");
  }
  absl::StatusOr<SubprocessResult> u = RunSubprocess({"umount", mnt}, Quick());
  EXPECT_EQ(u->exit_code, 0) << u->output;
  EXPECT_EQ(RunSubprocess({"rm", "-r", r->output}, Quick())->exit_code, 0);
}

TEST(SubprocessTest, MountsInANewMountNamespaceStayThere) {
  if (!IsRoot()) GTEST_SKIP() << "skipped: needs root to mount a tmpfs";
  const std::string dir = absl::StrCat(TempDir(), "/mount_ns");
  ASSERT_EQ(RunSubprocess({"mkdir", "-p", dir}, Quick())->exit_code, 0);
  SubprocessOptions options = Quick();
  options.new_mount_namespace = true;
  absl::StatusOr<SubprocessResult> r = RunShellCommand(
      absl::StrCat("mount -t tmpfs crashenum-test-ns ", dir,
                   " && grep -c crashenum-test-ns /proc/self/mountinfo"),
      options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_EQ(r->output, "1\n");
  EXPECT_FALSE(MountinfoHas("crashenum-test-ns"));

  options.mount_namespace_fd = 0;
  EXPECT_EQ(RunShellCommand("true", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SubprocessTest, MountNamespaceIsSharedByItsChildrenOnly) {
  if (!IsRoot()) GTEST_SKIP() << "skipped: needs root to mount a tmpfs";
  const std::string dir = absl::StrCat(TempDir(), "/held_ns");
  ASSERT_EQ(RunSubprocess({"mkdir", "-p", dir}, Quick())->exit_code, 0);
  absl::StatusOr<MountNamespace> ns = MountNamespace::Create();
  ASSERT_TRUE(ns.ok()) << ns.status();
  SubprocessOptions options = Quick();
  options.mount_namespace_fd = ns->fd();
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand(absl::StrCat("mount -t tmpfs crashenum-test-held ", dir,
                                   " && echo hi > ", dir, "/file"),
                      options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->output;
  EXPECT_FALSE(MountinfoHas("crashenum-test-held"));
  // A second child in the namespace sees the mount and the file on it; it
  // starts in this process's working directory.
  r = RunShellCommand(absl::StrCat("pwd; cat ", dir,
                                   "/file; grep -c "
                                   "crashenum-test-held /proc/self/mountinfo"),
                      options);
  ASSERT_TRUE(r.ok()) << r.status();
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(r->output, absl::StrCat(cwd, "\nhi\n1\n"));
  // Here the directory holds no file.
  std::ifstream file(dir + "/file");
  EXPECT_FALSE(file.good());
  ExpectNoChildren();

  MountNamespace moved = *std::move(ns);
  EXPECT_EQ(ns->fd(), -1);
  EXPECT_GE(moved.fd(), 0);
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
