// The "xfs", "btrfs" and "mount:SCRIPT" oracles, through MakeOracle, on real
// images made by mkfs.xfs, mkfs.btrfs and mkfs.ext4 on sparse files and
// damaged by xfs_db or by direct writes. Needs root, loop devices and the
// tools; each test says it was skipped, and why, without them.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/crash_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracles/internal/mount_runner.h"
#include "oracles/internal/subprocess.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace {

using ::crashenum::internal_oracles::FindProgram;
using ::crashenum::internal_oracles::HasMountPrivilege;
using ::crashenum::internal_oracles::MountRunOptions;
using ::crashenum::internal_oracles::MountRunResult;
using ::crashenum::internal_oracles::RunInMountedImage;
using ::crashenum::internal_oracles::RunShellCommand;
using ::crashenum::internal_oracles::SubprocessOptions;
using ::crashenum::internal_oracles::SubprocessResult;
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

// Runs a shell command (with /sbin in PATH); fails the test unless it exits
// 0. Returns its output.
std::string Sh(const std::string& command) {
  SubprocessOptions options;
  options.timeout = absl::Seconds(120);
  absl::StatusOr<SubprocessResult> r =
      RunShellCommand("PATH=$PATH:/usr/sbin:/sbin; " + command, options);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << command << ": " << r->output;
  return r->output;
}

// The CRC-32C btrfs checksums its blocks with.
uint32_t Crc32c(const std::string& data, size_t from) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = from; i < data.size(); ++i) {
    crc ^= static_cast<uint8_t>(data[i]);
    for (int k = 0; k < 8; ++k) {
      crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
    }
  }
  return ~crc;
}

void PutLe(std::string& bytes, size_t offset, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) bytes[offset + i] = (value >> (8 * i)) & 0xff;
}

uint64_t GetLe(const std::string& bytes, size_t offset, int size) {
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<uint8_t>(bytes[offset + i]);
  }
  return v;
}

void Overwrite(const std::string& path, uint64_t offset,
               const std::string& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(offset);
  f.write(bytes.data(), bytes.size());
  ASSERT_TRUE(f.good()) << path;
}

std::string ReadAt(const std::string& path, uint64_t offset, size_t size) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  std::string bytes(size, '\0');
  in.read(bytes.data(), size);
  return bytes;
}

// What a check leaves behind: loop devices on images below `dir`, and
// mounts.
std::string Leftovers(const std::string& dir) {
  std::string found;
  for (absl::string_view line :
       absl::StrSplit(Sh("losetup -a"), '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, dir)) absl::StrAppend(&found, line, "\n");
  }
  for (absl::string_view line :
       absl::StrSplit(ReadFile("/proc/self/mountinfo"), '\n')) {
    if (absl::StrContains(line, dir)) absl::StrAppend(&found, line, "\n");
  }
  return found;
}

// "" once nothing is left below `dir` (loop devices are cleared a moment
// after their last user went); else what is left after 10 s.
std::string LeftoversGo(const std::string& dir) {
  absl::Time until = absl::Now() + absl::Seconds(10);
  std::string left = Leftovers(dir);
  while (!left.empty() && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
    left = Leftovers(dir);
  }
  return left;
}

class FsOraclesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasMountPrivilege()) GTEST_SKIP() << "skipped: needs root to mount";
    if (access("/dev/loop-control", F_OK) != 0) {
      GTEST_SKIP() << "skipped: needs loop devices (/dev/loop-control)";
    }
    const ::testing::TestInfo* test =
        ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = absl::StrCat(TempDir(), "/", test->name());
    Sh(absl::StrCat("rm -rf ", dir_, " && mkdir -p ", dir_, "/scratch"));
    options_.scratch_dir = dir_ + "/scratch";
    options_.timeout = absl::Seconds(120);
  }

  void Need(const std::string& tool, const std::string& package) {
    if (!FindProgram(tool, kSbinDirs).ok()) {
      GTEST_SKIP() << "skipped: needs " << tool << " (Debian package "
                   << package << ")";
    }
  }

  std::unique_ptr<Oracle> Make(const std::string& spec) {
    absl::StatusOr<std::unique_ptr<Oracle>> oracle = MakeOracle(spec, options_);
    EXPECT_TRUE(oracle.ok()) << oracle.status();
    return oracle.ok() ? *std::move(oracle) : nullptr;
  }

  // A sparse image of `size` made by `mkfs` (a command taking the path).
  std::string MakeImage(const std::string& name, const std::string& size,
                        const std::string& mkfs) {
    std::string image = absl::StrCat(dir_, "/", name);
    Sh(absl::StrCat("truncate -s ", size, " ", image, " && ", mkfs, " ",
                    image));
    return image;
  }

  // Writes "hello world" to the file "hello" on `image`.
  void AddHello(const std::string& image) {
    absl::StatusOr<MountRunResult> r = RunInMountedImage(
        image, MountRunOptions(),
        {"/bin/sh", "-c", "echo 'hello world' > \"$1/hello\"", "sh"}, options_);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->unmounted) << r->mount_output << r->unmount_output;
  }

  // A sparse copy of `image` (oracles modify theirs).
  std::string Copy(const std::string& image, const std::string& suffix) {
    std::string copy = image + suffix;
    Sh(absl::StrCat("cp --sparse=always ", image, " ", copy));
    return copy;
  }

  Verdict Check(Oracle& oracle, const std::string& image,
                const StateId& state = StateId()) {
    ImageSet images;
    images.device_names = {"disk"};
    images.paths = {image};
    return oracle.Check(images, state);
  }

  // Checks a fresh copy of `image`, twice: both verdicts must agree.
  Verdict CheckTwice(Oracle& oracle, const std::string& image) {
    Verdict first = Check(oracle, Copy(image, ".1"));
    Verdict second = Check(oracle, Copy(image, ".2"));
    EXPECT_EQ(first.kind, second.kind);
    EXPECT_EQ(first.message, second.message);
    return first;
  }

  // A script file holding `body` after a #!/bin/sh line.
  std::string Script(const std::string& name, const std::string& body) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    Sh("chmod +x " + path);
    return path;
  }

  std::string dir_;
  OracleOptions options_;
};

std::string XfsMkfs() { return "mkfs.xfs -q -f"; }
std::string BtrfsMkfs() { return "mkfs.btrfs -q -f"; }

TEST_F(FsOraclesTest, XfsCleanPassesAndTraits) {
  Need("mkfs.xfs", "xfsprogs");
  Need("xfs_repair", "xfsprogs");
  const std::string image = MakeImage("xfs.img", "300M", XfsMkfs());
  std::unique_ptr<Oracle> oracle = Make("xfs");
  ASSERT_NE(oracle, nullptr);
  EXPECT_EQ(oracle->name(), "xfs");
  EXPECT_TRUE(oracle->traits().metadata_only);
  EXPECT_TRUE(oracle->traits().mutates_image);
  EXPECT_TRUE(oracle->traits().needs_root);
  EXPECT_TRUE(oracle->traits().deterministic);
  Verdict v = CheckTwice(*oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;
  EXPECT_EQ(LeftoversGo(dir_), "");
}

TEST_F(FsOraclesTest, XfsDamageThatMountsFailsTheRepairCheck) {
  Need("mkfs.xfs", "xfsprogs");
  Need("xfs_db", "xfsprogs");
  const std::string image = MakeImage("xfs.img", "300M", XfsMkfs());
  // The root directory's link count: mount does not look at it.
  Sh(absl::StrCat("xfs_db -x -c 'inode 128' -c 'write -d core.nlinkv2 7' ",
                  image));
  std::unique_ptr<Oracle> oracle = Make("xfs");
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckTwice(*oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message,
            "xfs_repair -n: exit 1: would have reset inode 128 nlinks from 7 "
            "to 2");
}

TEST_F(FsOraclesTest, XfsBadSuperblockFailsLogRecovery) {
  Need("mkfs.xfs", "xfsprogs");
  Need("xfs_db", "xfsprogs");
  const std::string image = MakeImage("xfs.img", "300M", XfsMkfs());
  Sh(absl::StrCat("xfs_db -x -c 'sb 0' -c 'write -d magicnum 0' ", image));
  std::unique_ptr<Oracle> oracle = Make("xfs");
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckTwice(*oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message,
              StartsWith("log recovery failed: mount: {mnt}: wrong fs type"));
  EXPECT_THAT(v.message, HasSubstr("bad superblock on {loop}"));
  EXPECT_EQ(LeftoversGo(dir_), "");
}

TEST_F(FsOraclesTest, BtrfsCleanPassesEvenInParallel) {
  Need("mkfs.btrfs", "btrfs-progs");
  const std::string image = MakeImage("btrfs.img", "128M", BtrfsMkfs());
  std::unique_ptr<Oracle> oracle = Make("btrfs");
  ASSERT_NE(oracle, nullptr);
  EXPECT_EQ(oracle->name(), "btrfs");
  EXPECT_TRUE(oracle->traits().metadata_only);
  EXPECT_TRUE(oracle->traits().mutates_image);
  EXPECT_TRUE(oracle->traits().needs_root);
  EXPECT_TRUE(oracle->traits().deterministic);
  // Copies share the fsid: the oracle must judge them one at a time.
  std::vector<Verdict> verdicts(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    const std::string copy = Copy(image, absl::StrCat(".", t));
    threads.emplace_back([&, t, copy] { verdicts[t] = Check(*oracle, copy); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Verdict& v : verdicts) {
    EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;
  }
  EXPECT_EQ(LeftoversGo(dir_), "");
}

// The root directory's inode item in the FS tree's only leaf gets size 10
// (a directory's size must match its entries), both metadata copies, with
// fresh checksums: the kernel mounts it, btrfs check does not accept it.
TEST_F(FsOraclesTest, BtrfsDamageThatMountsFailsTheCheck) {
  Need("mkfs.btrfs", "btrfs-progs");
  Need("btrfs-map-logical", "btrfs-progs");
  const std::string image = MakeImage("btrfs.img", "128M", BtrfsMkfs());
  std::string dump = Sh("btrfs inspect-internal dump-tree -t 5 " + image);
  size_t at = dump.find("\nleaf ");
  ASSERT_NE(at, std::string::npos) << dump;
  uint64_t logical = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      std::string(dump.substr(at + 6, dump.find(' ', at + 6) - at - 6)),
      &logical));
  int copies = 0;
  for (absl::string_view line : absl::StrSplit(
           Sh(absl::StrCat("btrfs-map-logical -l ", logical, " ", image)), '\n',
           absl::SkipEmpty())) {
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    uint64_t physical = 0;
    ASSERT_GE(words.size(), 6u) << line;
    ASSERT_EQ(words[4], "physical") << line;
    ASSERT_TRUE(absl::SimpleAtoi(words[5], &physical));
    constexpr size_t kNodeSize = 16384, kHeader = 101, kItem = 25;
    std::string leaf = ReadAt(image, physical, kNodeSize);
    const uint32_t items = GetLe(leaf, 0x60, 4);
    bool found = false;
    for (uint32_t i = 0; i < items; ++i) {
      const size_t item = kHeader + i * kItem;
      if (GetLe(leaf, item, 8) == 256 && leaf[item + 8] == 1) {  // INODE_ITEM
        PutLe(leaf, kHeader + GetLe(leaf, item + 17, 4) + 16, 10, 8);
        found = true;
      }
    }
    ASSERT_TRUE(found);
    leaf.replace(0, 32, std::string(32, '\0'));
    PutLe(leaf, 0, Crc32c(leaf, 32), 4);
    Overwrite(image, physical, leaf);
    ++copies;
  }
  ASSERT_GE(copies, 1);
  std::unique_ptr<Oracle> oracle = Make("btrfs");
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckTwice(*oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message,
            "btrfs check --readonly: exit 1: root 5 inode 256 errors 200, dir "
            "isize wrong\nERROR: errors found in fs roots");
}

TEST_F(FsOraclesTest, BtrfsBadSuperblockFailsLogRecovery) {
  Need("mkfs.btrfs", "btrfs-progs");
  const std::string image = MakeImage("btrfs.img", "128M", BtrfsMkfs());
  Overwrite(image, 0x10040, std::string(8, '\0'));
  std::unique_ptr<Oracle> oracle = Make("btrfs");
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckTwice(*oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message,
              StartsWith("log recovery failed: mount: {mnt}: wrong fs type"));
}

TEST_F(FsOraclesTest, ScriptSeesTheMountedFileSystem) {
  Need("mkfs.xfs", "xfsprogs");
  const std::string image = MakeImage("xfs.img", "300M", XfsMkfs());
  AddHello(image);
  absl::StatusOr<StateId> state = StateId::Parse("e12-u512-n3-5");
  ASSERT_TRUE(state.ok()) << state.status();
  const std::string script =
      Script("sees.sh",
             "set -e\n"
             "[ \"$#\" = 1 ] && [ \"$1\" = \"$CRASHENUM_MNT\" ]\n"
             "mountpoint -q \"$1\"\n"
             "grep \" $1 \" /proc/self/mountinfo | grep -q ' xfs '\n"
             "[ \"$(cat \"$1/hello\")\" = 'hello world' ]\n"
             "[ \"$CRASHENUM_STATE\" = e12-u512-n3-5 ]\n"
             "[ -f \"$CRASHENUM_IMAGE\" ]\n"
             "echo state \"$CRASHENUM_STATE\"; exit \"${EXIT:-0}\"");
  std::unique_ptr<Oracle> oracle = Make("mount:" + script);
  ASSERT_NE(oracle, nullptr);
  EXPECT_EQ(oracle->name(), "mount:" + script);
  EXPECT_FALSE(oracle->traits().metadata_only);
  EXPECT_TRUE(oracle->traits().mutates_image);
  EXPECT_TRUE(oracle->traits().needs_root);
  EXPECT_TRUE(oracle->traits().deterministic);
  // Two copies at once: xfs needs nouuid for that.
  std::vector<Verdict> verdicts(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    const std::string copy = Copy(image, absl::StrCat(".", t));
    threads.emplace_back(
        [&, t, copy] { verdicts[t] = Check(*oracle, copy, *state); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Verdict& v : verdicts) {
    EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;
  }
  // The same script fails with another state: it really looks.
  absl::StatusOr<StateId> other = StateId::Parse("e13-u512-n3-5");
  ASSERT_TRUE(other.ok()) << other.status();
  Verdict v = Check(*oracle, Copy(image, ".other"), *other);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "exit 1");
  EXPECT_EQ(LeftoversGo(dir_), "");
}

TEST_F(FsOraclesTest, ScriptExitIsFailWithItsOutput) {
  Need("mkfs.ext4", "e2fsprogs");
  const std::string image = MakeImage("ext4.img", "8M", "mkfs.ext4 -q -F");
  const std::string script = Script(
      "exit3.sh", "echo \"checked $1\"; echo 'file missing' >&2; exit 3");
  std::unique_ptr<Oracle> oracle = Make("mount:" + script);
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckTwice(*oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "exit 3: checked {mnt}\nfile missing");
}

TEST_F(FsOraclesTest, ScriptSignalIsError) {
  Need("mkfs.ext4", "e2fsprogs");
  const std::string image = MakeImage("ext4.img", "8M", "mkfs.ext4 -q -F");
  const std::string script = Script("crash.sh", "echo dying; kill -SEGV $$");
  std::unique_ptr<Oracle> oracle = Make("mount:" + script);
  ASSERT_NE(oracle, nullptr);
  Verdict v = Check(*oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message,
            absl::StrCat("killed by signal ", SIGSEGV, " (SIGSEGV): dying"));
}

TEST_F(FsOraclesTest, ScriptTimeoutIsErrorAndLeavesNoMount) {
  Need("mkfs.ext4", "e2fsprogs");
  const std::string image = MakeImage("ext4.img", "8M", "mkfs.ext4 -q -F");
  // Other tests may mount meanwhile: only what involves this test counts.
  const std::string before = Leftovers(dir_);
  EXPECT_EQ(before, "");
  const std::string script = Script("slow.sh", "echo started; sleep 100");
  options_.timeout = absl::Seconds(1);
  std::unique_ptr<Oracle> oracle = Make("mount:" + script);
  ASSERT_NE(oracle, nullptr);
  absl::Time start = absl::Now();
  Verdict v = Check(*oracle, image);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message, "timed out after 1s: started");
  EXPECT_EQ(LeftoversGo(dir_), before);
}

TEST_F(FsOraclesTest, ScriptMountFailureIsFail) {
  const std::string image = absl::StrCat(dir_, "/zeros.img");
  Sh("truncate -s 8M " + image);
  const std::string script = Script("never.sh", "echo never");
  std::unique_ptr<Oracle> oracle = Make("mount:" + script);
  ASSERT_NE(oracle, nullptr);
  Verdict v = Check(*oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message,
              StartsWith("mount failed (the file system's own recovery "
                         "failed): mount: {mnt}: wrong fs type"));
  EXPECT_THAT(v.message, Not(HasSubstr("never")));
}

TEST_F(FsOraclesTest, ScriptSpecErrors) {
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle("mount:", options_);
  EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(oracle.status().message(), HasSubstr("empty script path"));

  oracle = MakeOracle("mount:/nonexistent/check.sh", options_);
  EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(oracle.status().message(),
              HasSubstr("script '/nonexistent/check.sh' cannot be found"));

  const std::string plain = absl::StrCat(dir_, "/plain.sh");
  std::ofstream(plain) << "#!/bin/sh\nexit 0\n";
  oracle = MakeOracle("mount:" + plain, options_);
  EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(oracle.status().message(),
              HasSubstr("is not an executable file"));

  oracle = MakeOracle("mount:" + dir_, options_);
  EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(oracle.status().message(),
              HasSubstr("is not an executable file"));
}

TEST_F(FsOraclesTest, RelativeScriptPath) {
  Need("mkfs.ext4", "e2fsprogs");
  const std::string image = MakeImage("ext4.img", "8M", "mkfs.ext4 -q -F");
  Script("relative.sh", "exit 0");
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle("mount:relative.sh", options_);
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  EXPECT_EQ((*oracle)->name(), "mount:relative.sh");
  Verdict v = Check(**oracle, image);
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;
}

}  // namespace
}  // namespace crashenum
