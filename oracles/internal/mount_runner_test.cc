// RunInMountedImage on real ext4 images made by mkfs.ext4, and BtrfsLock.
// The mounting tests need root, loop devices and mkfs.ext4; each says it was
// skipped, and why, without them.
#include "oracles/internal/mount_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracles/internal/subprocess.h"

namespace crashenum {
namespace internal_oracles {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::vector<std::string> kSbinDirs = {"/sbin", "/usr/sbin"};

std::string TempDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

// Runs a shell command; fails the test unless it exits 0.
std::string Sh(const std::string& command) {
  SubprocessOptions options;
  options.timeout = absl::Seconds(60);
  absl::StatusOr<SubprocessResult> r = RunShellCommand(command, options);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << command << ": " << r->output;
  return r->output;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

// True once no loop device is attached to `image` (the kernel may clear an
// autoclear device a moment after the last user went).
bool LoopDeviceGoes(const std::string& image) {
  absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    SubprocessOptions options;
    options.timeout = absl::Seconds(10);
    absl::StatusOr<SubprocessResult> r =
        RunSubprocess({"losetup", "-a"}, options);
    if (r.ok() && !absl::StrContains(r->output, image)) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

class MountRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasMountPrivilege()) GTEST_SKIP() << "skipped: needs root to mount";
    if (access("/dev/loop-control", F_OK) != 0) {
      GTEST_SKIP() << "skipped: needs loop devices (/dev/loop-control)";
    }
    absl::StatusOr<std::string> mkfs = FindProgram("mkfs.ext4", kSbinDirs);
    if (!mkfs.ok()) {
      GTEST_SKIP() << "skipped: needs mkfs.ext4 (Debian package e2fsprogs)";
    }
    mkfs_ = *mkfs;
    const ::testing::TestInfo* test =
        ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = absl::StrCat(TempDir(), "/", test->name());
    scratch_ = dir_ + "/scratch";
    Sh(absl::StrCat("rm -rf ", dir_, " && mkdir -p ", scratch_, " ", dir_,
                    "/content && echo 'hello world' > ", dir_,
                    "/content/hello"));
    limits_.scratch_dir = scratch_;
    limits_.timeout = absl::Seconds(60);
  }

  // A clean 8 MiB ext4 image holding the file "hello".
  std::string MakeImage(const std::string& name) {
    std::string image = absl::StrCat(dir_, "/", name);
    Sh(absl::StrCat(mkfs_, " -q -F -d ", dir_, "/content ", image, " 8M"));
    return image;
  }

  MountRunResult Run(const std::string& image, const std::string& script,
                     const MountRunOptions& options = {}) {
    std::vector<std::string> argv;
    if (!script.empty()) argv = {"/bin/sh", "-c", script, "sh"};
    absl::StatusOr<MountRunResult> r =
        RunInMountedImage(image, options, argv, limits_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : MountRunResult();
  }

  std::string mkfs_, dir_, scratch_;
  OracleOptions limits_;
};

TEST_F(MountRunnerTest, RunsTheCommandOnThePrivateMount) {
  const std::string image = MakeImage("clean.img");
  MountRunOptions options;
  options.env = {{"MY_VAR", "my value"}};
  // $1 is the mount point; $PPID is this test, outside the namespace.
  MountRunResult r = Run(image,
                         "cat \"$1/hello\"; "
                         "[ \"$1\" = \"$CRASHENUM_MNT\" ] && echo same; "
                         "echo \"$MY_VAR\"; "
                         "grep -c \" $1 \" /proc/self/mountinfo; "
                         "grep -c \" $1 \" /proc/$PPID/mountinfo; "
                         "tail -n +3 /proc/net/dev | cut -d: -f1; "
                         "case \"$TMPDIR\" in " +
                             scratch_ +
                             "/crashenum-tmp.*) echo private tmp;; esac; "
                             "echo \"$1\"",
                         options);
  EXPECT_TRUE(r.mounted) << r.mount_output;
  EXPECT_EQ(r.mount_output, "");
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->exit_code, 0);
  EXPECT_EQ(r.command->output,
            "hello world\nsame\nmy value\n1\n0\n    lo\nprivate tmp\n{mnt}\n");
  EXPECT_TRUE(r.command->network_isolated);
  EXPECT_TRUE(r.unmounted) << r.unmount_output;
  EXPECT_EQ(r.unmount_output, "");
  EXPECT_THAT(Entries(scratch_), ::testing::IsEmpty());
  EXPECT_TRUE(LoopDeviceGoes(image));
}

TEST_F(MountRunnerTest, WritesReachTheImage) {
  const std::string image = MakeImage("write.img");
  MountRunResult r = Run(image, "echo new > \"$1/new\"");
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->exit_code, 0) << r.command->output;
  EXPECT_TRUE(r.unmounted) << r.unmount_output;
  r = Run(image, "cat \"$1/new\"");
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->output, "new\n");
}

TEST_F(MountRunnerTest, ReportsExitCodesAndSignalsExactly) {
  const std::string image = MakeImage("exit.img");
  for (int code : {1, 3, 129, 255}) {
    MountRunResult r = Run(image, absl::StrCat("echo out; exit ", code));
    ASSERT_TRUE(r.command.has_value());
    EXPECT_EQ(r.command->exit_code, code);
    EXPECT_EQ(r.command->term_signal, 0);
    EXPECT_EQ(r.command->output, "out\n");
    EXPECT_TRUE(r.mounted);
    EXPECT_TRUE(r.unmounted) << r.unmount_output;
  }
  MountRunResult r = Run(image, "kill -SEGV $$");
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->term_signal, SIGSEGV);
  EXPECT_EQ(r.command->exit_code, -1);
  EXPECT_TRUE(r.unmounted) << r.unmount_output;
}

TEST_F(MountRunnerTest, MountFailure) {
  const std::string image = absl::StrCat(dir_, "/zeros.img");
  Sh(absl::StrCat("truncate -s 8M ", image));
  MountRunResult r = Run(image, "echo never");
  EXPECT_FALSE(r.mounted);
  EXPECT_THAT(r.mount_output, StartsWith("mount: {mnt}: wrong fs type"));
  EXPECT_THAT(r.mount_output, HasSubstr("bad superblock on {loop}"));
  EXPECT_FALSE(r.command.has_value());
  EXPECT_FALSE(r.unmounted);
  EXPECT_THAT(Entries(scratch_), ::testing::IsEmpty());
  EXPECT_TRUE(LoopDeviceGoes(image));
}

TEST_F(MountRunnerTest, OnlyMountAndUnmountWithoutACommand) {
  const std::string image = MakeImage("bare.img");
  absl::StatusOr<MountRunResult> r = RunInMountedImage(image, {}, {}, limits_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->mounted) << r->mount_output;
  EXPECT_FALSE(r->command.has_value());
  EXPECT_TRUE(r->unmounted) << r->unmount_output;
}

TEST_F(MountRunnerTest, TypeOptionsAndReadOnly) {
  const std::string image = MakeImage("ro.img");
  MountRunOptions options;
  options.fs_type = "ext4";
  options.mount_options = "noatime";
  options.read_only = true;
  MountRunResult r = Run(image,
                         "grep \" $1 \" /proc/self/mountinfo | "
                         "grep -o ' ro,noatime .* ext4 '; touch \"$1/x\"",
                         options);
  ASSERT_TRUE(r.command.has_value());
  EXPECT_NE(r.command->exit_code, 0);
  EXPECT_THAT(r.command->output, StartsWith(" ro,noatime "));
  EXPECT_THAT(r.command->output, HasSubstr("Read-only file system"));
  EXPECT_TRUE(r.unmounted);

  options.fs_type = "xfs";  // the wrong type
  r = Run(image, "echo never", options);
  EXPECT_FALSE(r.mounted);
  EXPECT_FALSE(r.command.has_value());
}

TEST_F(MountRunnerTest, TimeoutLeavesNothingMounted) {
  const std::string image = MakeImage("slow.img");
  limits_.timeout = absl::Seconds(1);
  absl::Time start = absl::Now();
  MountRunResult r = Run(image, "echo started; sleep 100");
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(r.mounted);
  ASSERT_TRUE(r.command.has_value());
  EXPECT_TRUE(r.command->timed_out);
  EXPECT_EQ(r.command->output, "started\n");
  EXPECT_FALSE(r.unmounted);
  EXPECT_THAT(r.unmount_output, StartsWith("not attempted"));
  EXPECT_THAT(ReadFile("/proc/self/mountinfo"), Not(HasSubstr(scratch_)));
  EXPECT_TRUE(LoopDeviceGoes(image));
  EXPECT_THAT(Entries(scratch_), ::testing::IsEmpty());
}

TEST_F(MountRunnerTest, BusyUnmountIsReported) {
  const std::string image = MakeImage("busy.img");
  // A process that left the command's process group keeps the mount busy
  // for a second; the command waits until it has left.
  MountRunResult r = Run(image,
                         "cd \"$1\" && setsid sh -c 'echo $$ > \"$TMPDIR/p\"; "
                         "exec sleep 1' </dev/null >/dev/null 2>&1 & "
                         "while [ ! -s \"$TMPDIR/p\" ]; do sleep 0.01; done");
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->exit_code, 0);
  EXPECT_FALSE(r.unmounted);
  EXPECT_THAT(r.unmount_output, HasSubstr("target is busy"));
  EXPECT_THAT(r.unmount_output, HasSubstr("{mnt}"));
  // Once it is gone, so is the mount.
  EXPECT_TRUE(LoopDeviceGoes(image));
  EXPECT_THAT(ReadFile("/proc/self/mountinfo"), Not(HasSubstr(scratch_)));
}

TEST_F(MountRunnerTest, ConcurrentRunsOnCopiesOfOneImage) {
  const std::string image = MakeImage("shared.img");
  constexpr int kThreads = 4;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    const std::string copy = absl::StrCat(image, ".", t);
    Sh(absl::StrCat("cp ", image, " ", copy));
    threads.emplace_back([&, t, copy] {
      for (int i = 0; i < 3; ++i) {
        absl::StatusOr<MountRunResult> r = RunInMountedImage(
            copy, {}, {"/bin/sh", "-c", "cat \"$1/hello\"", "sh"}, limits_);
        if (!r.ok() || !r->unmounted || !r->command ||
            r->command->output != "hello world\n") {
          failures[t] +=
              absl::StrCat("run ", i, ": ",
                           r.ok() ? r->mount_output + r->unmount_output
                                  : r.status().ToString(),
                           "\n");
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << t;
}

TEST(IsBtrfsImageTest, LooksForTheMagic) {
  const std::string path = absl::StrCat(TempDir(), "/magic.img");
  std::string bytes(0x10048, '\0');
  { std::ofstream(path, std::ios::binary) << bytes; }
  EXPECT_FALSE(IsBtrfsImage(path));
  bytes.replace(0x10040, 8, "_BHRfS_M");
  { std::ofstream(path, std::ios::binary) << bytes; }
  EXPECT_TRUE(IsBtrfsImage(path));
  EXPECT_FALSE(IsBtrfsImage(path + ".missing"));
}

TEST(BtrfsLockTest, ReentrantOnOneThreadExclusiveAcrossThreads) {
  const absl::Time far = absl::Now() + absl::Seconds(30);
  BtrfsLock outer(far);
  ASSERT_TRUE(outer.status().ok()) << outer.status();
  {
    BtrfsLock inner(far);
    EXPECT_TRUE(inner.status().ok()) << inner.status();
  }
  absl::Status other;
  std::thread([&other] {
    BtrfsLock lock(absl::Now() + absl::Milliseconds(200));
    other = lock.status();
  }).join();
  EXPECT_EQ(other.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(other.message(), HasSubstr("of this process"));
}

TEST(BtrfsLockTest, ReleasedForTheNextThread) {
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      BtrfsLock lock(absl::Now() + absl::Seconds(30));
      if (!lock.status().ok()) {
        ++overlaps;
        return;
      }
      if (++inside > 1) ++overlaps;
      absl::SleepFor(absl::Milliseconds(50));
      --inside;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(overlaps, 0);
}

TEST(BtrfsLockTest, WaitsForAnotherProcess) {
  if (!FindProgram("flock").ok()) {
    GTEST_SKIP() << "skipped: needs flock(1) (Debian package util-linux)";
  }
  const std::string path = BtrfsLock::LockFilePath();
  EXPECT_THAT(path, ::testing::AnyOf("/run/lock/crashenum-btrfs.lock",
                                     "/tmp/crashenum-btrfs.lock"));
  // Another process holds the lock file for 1.5 s.
  std::thread holder([&path] {
    SubprocessOptions options;
    options.timeout = absl::Seconds(30);
    absl::StatusOr<SubprocessResult> r =
        RunSubprocess({"flock", path, "sleep", "1.5"}, options);
    EXPECT_TRUE(r.ok() && r->exit_code == 0);
  });
  // Wait until it holds it.
  absl::Time until = absl::Now() + absl::Seconds(10);
  bool held = false;
  while (!held && absl::Now() < until) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    held = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0;
    if (fd >= 0) close(fd);
    if (!held) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(held);
  {
    BtrfsLock lock(absl::Now() + absl::Milliseconds(200));
    EXPECT_EQ(lock.status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_THAT(lock.status().message(), HasSubstr("another process"));
  }
  {
    absl::Time start = absl::Now();
    BtrfsLock lock(absl::Now() + absl::Seconds(30));
    EXPECT_TRUE(lock.status().ok()) << lock.status();
    EXPECT_GT(absl::Now() - start, absl::Milliseconds(500));
  }
  holder.join();
}

}  // namespace
}  // namespace internal_oracles
}  // namespace crashenum
