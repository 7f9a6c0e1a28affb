// Tests of the "ext4-fsck" oracle, through MakeOracle, on real ext4 images
// made by mkfs.ext4 and edited by debugfs or by direct writes.
#include <stdlib.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/crash_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracles/internal/subprocess.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace {

using ::crashenum::internal_oracles::FindProgram;
using ::crashenum::internal_oracles::RunSubprocess;
using ::crashenum::internal_oracles::SubprocessOptions;
using ::crashenum::internal_oracles::SubprocessResult;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::vector<std::string> kSbinDirs = {"/sbin", "/usr/sbin"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void Overwrite(const std::string& path, uint64_t offset,
               const std::string& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(offset);
  f.write(bytes.data(), bytes.size());
  ASSERT_TRUE(f.good()) << path;
}

uint32_t Le32(const std::string& bytes, size_t offset) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) | static_cast<uint8_t>(bytes[offset + i]);
  }
  return v;
}

class Ext4FsckOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> e2fsck = FindProgram("e2fsck", kSbinDirs);
    absl::StatusOr<std::string> mkfs = FindProgram("mkfs.ext4", kSbinDirs);
    absl::StatusOr<std::string> debugfs = FindProgram("debugfs", kSbinDirs);
    if (!e2fsck.ok() || !mkfs.ok() || !debugfs.ok()) {
      GTEST_SKIP() << "needs e2fsck, mkfs.ext4 and debugfs (Debian package "
                      "e2fsprogs), not installed";
    }
    e2fsck_ = *e2fsck;
    mkfs_ = *mkfs;
    debugfs_ = *debugfs;
    const char* tmp = getenv("TEST_TMPDIR");
    dir_ = tmp != nullptr ? tmp : "/tmp";
    OracleOptions options;
    options.scratch_dir = dir_;
    absl::StatusOr<std::unique_ptr<Oracle>> oracle =
        MakeOracle("ext4-fsck", options);
    ASSERT_TRUE(oracle.ok()) << oracle.status();
    oracle_ = *std::move(oracle);
  }

  // Runs argv; fails the test unless it exits 0.
  std::string Run(const std::vector<std::string>& argv) {
    SubprocessOptions options;
    options.timeout = absl::Seconds(60);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(argv, options);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->exit_code, 0) << argv[0] << ": " << r->output;
    return r->output;
  }

  // A fresh clean 4 MiB ext4 image.
  std::string MakeImage(const std::string& name) {
    std::string path = absl::StrCat(dir_, "/", name);
    Run({mkfs_, "-q", "-F", path, "4M"});
    return path;
  }

  void Debugfs(const std::string& image, const std::string& commands) {
    std::string script = absl::StrCat(image, ".debugfs");
    WriteFile(script, commands);
    Run({debugfs_, "-w", "-f", script, image});
  }

  // Byte offset of inode `ino` (from 1) in group 0's inode table.
  uint64_t InodeOffset(const std::string& image, uint32_t ino) {
    std::string bytes = ReadFile(image);
    std::string sb = bytes.substr(1024, 1024);
    uint64_t block_size = 1024u << Le32(sb, 24);
    uint64_t first_data_block = Le32(sb, 20);
    uint32_t inode_size = Le32(sb, 88) & 0xffff;
    uint64_t table =
        Le32(bytes, (first_data_block + 1) * block_size + 8);  // bg_inode_table
    return table * block_size + (ino - 1) * inode_size;
  }

  // Checks a copy of `image` twice, each time on a fresh copy; both verdicts
  // must agree. Returns the verdict.
  Verdict CheckTwice(const std::string& image) {
    Verdict first = CheckCopy(image);
    Verdict second = CheckCopy(image);
    EXPECT_EQ(first.kind, second.kind);
    EXPECT_EQ(first.message, second.message);
    return first;
  }

  Verdict CheckCopy(const std::string& image) {
    std::string copy = absl::StrCat(image, ".copy");
    WriteFile(copy, ReadFile(image));
    return CheckPath(copy);
  }

  Verdict CheckPath(const std::string& path) {
    ImageSet images;
    images.device_names = {"disk"};
    images.paths = {path};
    return oracle_->Check(images, StateId());
  }

  std::string e2fsck_, mkfs_, debugfs_, dir_;
  std::unique_ptr<Oracle> oracle_;
};

TEST_F(Ext4FsckOracleTest, NameAndTraits) {
  EXPECT_EQ(oracle_->name(), "ext4-fsck");
  EXPECT_TRUE(oracle_->traits().metadata_only);
  EXPECT_TRUE(oracle_->traits().mutates_image);
  EXPECT_FALSE(oracle_->traits().needs_root);
  EXPECT_TRUE(oracle_->traits().deterministic);
}

TEST_F(Ext4FsckOracleTest, CleanImagePasses) {
  Verdict v = CheckTwice(MakeImage("clean.img"));
  EXPECT_EQ(v.kind, VerdictKind::kPass);
  EXPECT_EQ(v.message, "");
}

TEST_F(Ext4FsckOracleTest, ZeroedMagicFails) {
  std::string image = MakeImage("magic.img");
  Overwrite(image, 1024 + 56, std::string(2, '\0'));  // s_magic
  Verdict v = CheckTwice(image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message,
              StartsWith("journal replay failed (exit 8 (operational error))"));
  EXPECT_THAT(v.message, HasSubstr("Bad magic number in super-block"));
  EXPECT_THAT(v.message, Not(HasSubstr(dir_)));  // the path shows as {image}
}

TEST_F(Ext4FsckOracleTest, ScribbledRootInodeFails) {
  std::string image = MakeImage("inode.img");
  std::string garbage;
  for (int i = 0; i < 256; ++i) {
    garbage.push_back(static_cast<char>(i * 37 + 11));
  }
  Overwrite(image, InodeOffset(image, 2), garbage);
  Verdict v = CheckTwice(image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message, StartsWith("e2fsck -fn: exit "));
  EXPECT_THAT(v.message, HasSubstr("errors left uncorrected"));
  EXPECT_THAT(v.message, HasSubstr("Root inode is not a directory"));
  EXPECT_THAT(v.message, Not(HasSubstr("Pass 1")));
}

TEST_F(Ext4FsckOracleTest, AllZeroFileFails) {
  std::string image = absl::StrCat(dir_, "/zero.img");
  WriteFile(image, std::string(4 << 20, '\0'));
  Verdict v = CheckTwice(image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message, HasSubstr("Bad magic number in super-block"));
}

TEST_F(Ext4FsckOracleTest, MissingFileIsError) {
  Verdict v = CheckPath(absl::StrCat(dir_, "/no-such.img"));
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message,
            "ext4-fsck: cannot access the image: No such file or directory");
}

TEST_F(Ext4FsckOracleTest, NoImagesIsError) {
  EXPECT_EQ(oracle_->Check(ImageSet(), StateId()).kind, VerdictKind::kError);
}

TEST_F(Ext4FsckOracleTest, ReplaysTheJournalFirst) {
  std::string image = MakeImage("journal.img");
  // A committed transaction that rewrites the root inode with garbage:
  // e2fsck -fn alone skips recovery and sees a clean filesystem; after the
  // replay a mount would do, the root inode is garbage.
  std::string bytes = ReadFile(image);
  uint64_t block_size = 1024u << Le32(bytes, 1024 + 24);
  uint64_t root = InodeOffset(image, 2);
  uint64_t root_block = root / block_size;
  std::string block = bytes.substr(root_block * block_size, block_size);
  for (int i = 0; i < 256; ++i) {
    block[root % block_size + i] = static_cast<char>(i * 37 + 11);
  }
  std::string block_file = absl::StrCat(dir_, "/block");
  WriteFile(block_file, block);
  Debugfs(image,
          absl::StrCat("jo\njw -b ", root_block, " ", block_file, "\njc\n"));
  ASSERT_EQ(ReadFile(image).substr(root_block * block_size, block_size),
            bytes.substr(root_block * block_size, block_size));
  std::string raw = Run({e2fsck_, "-fn", image});  // exits 0
  EXPECT_THAT(raw, HasSubstr("skipping journal recovery"));

  Verdict v = CheckTwice(image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message, StartsWith("e2fsck -fn: exit "));
  EXPECT_THAT(v.message, HasSubstr("Root inode is not a directory"));
}

TEST_F(Ext4FsckOracleTest, ReplayedHarmlessTransactionPasses) {
  std::string image = MakeImage("harmless.img");
  std::string bytes = ReadFile(image);
  uint64_t block_size = 1024u << Le32(bytes, 1024 + 24);
  uint64_t blocks = Le32(bytes, 1024 + 4);
  uint64_t last_block = blocks - 1;  // free in a fresh filesystem
  std::string pattern_file = absl::StrCat(dir_, "/pattern");
  std::string pattern;
  while (pattern.size() < block_size) pattern += "crashenum!";
  pattern.resize(block_size);
  WriteFile(pattern_file, pattern);
  Debugfs(image,
          absl::StrCat("jo\njw -b ", last_block, " ", pattern_file, "\njc\n"));

  std::string copy = absl::StrCat(image, ".private");
  WriteFile(copy, ReadFile(image));
  Verdict v = CheckPath(copy);
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;
  // The replay wrote the journaled block into the (private) image.
  EXPECT_EQ(ReadFile(copy).substr(last_block * block_size, block_size),
            pattern);
  EXPECT_EQ(CheckTwice(image).kind, VerdictKind::kPass);
}

TEST_F(Ext4FsckOracleTest, DamagedJournalNeedingRecoveryFails) {
  // needs_recovery is set but the journal superblock is garbage: a mount
  // would fail. e2fsck -E journal_only -y then "repairs" by deleting and
  // recreating the journal (exit 1), which must not be mistaken for a pass.
  std::string image = MakeImage("badjournal.img");
  std::string pattern_file = absl::StrCat(dir_, "/one");
  WriteFile(pattern_file, std::string(1024, 'j'));
  Debugfs(image, absl::StrCat("jo\njw -b 3000 ", pattern_file, "\njc\n"));
  SubprocessOptions options;
  absl::StatusOr<SubprocessResult> bmap =
      RunSubprocess({debugfs_, "-R", "bmap <8> 0", image}, options);
  ASSERT_TRUE(bmap.ok()) << bmap.status();
  uint64_t journal_sb = 0;
  absl::string_view out = absl::StripAsciiWhitespace(bmap->output);
  ASSERT_TRUE(absl::SimpleAtoi(out.substr(out.rfind('\n') + 1), &journal_sb))
      << bmap->output;
  uint64_t block_size = 1024u << Le32(ReadFile(image), 1024 + 24);
  Overwrite(image, journal_sb * block_size, std::string(1024, '\xff'));

  Verdict v = CheckTwice(image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message, StartsWith("journal replay failed (exit 1"));
  EXPECT_THAT(v.message, HasSubstr("invalid journal"));
}

TEST_F(Ext4FsckOracleTest, CorruptJournalInodeFails) {
  // e2fsck -fn alone reports this; the replay step "repairs" it by
  // recreating the journal, so it must fail there.
  std::string image = MakeImage("journal-inode.img");
  Overwrite(image, InodeOffset(image, 8) + 4, std::string("\x99\x99\0\0", 4));
  Verdict v = CheckTwice(image);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message, StartsWith("journal replay failed (exit 1"));
  EXPECT_THAT(v.message, HasSubstr("invalid journal (inode 8)"));
}

TEST_F(Ext4FsckOracleTest, VerdictDoesNotDependOnTheClock) {
  std::string future = MakeImage("future.img");
  Debugfs(future, "ssv mtime 20991231\nssv lastcheck 20991231\n");
  // Control: left to the real clock, e2fsck complains about the future.
  SubprocessOptions options;
  options.set_env = {{"E2FSCK_CONFIG", "/dev/null"}, {"LC_ALL", "C"}};
  options.unset_env = {"E2FSCK_TIME"};
  absl::StatusOr<SubprocessResult> raw =
      RunSubprocess({e2fsck_, "-fn", future}, options);
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_THAT(raw->output, HasSubstr("is in the future"));

  Verdict v = CheckTwice(future);
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;

  // The same damage gives the same message with or without future times.
  std::string now = MakeImage("now.img");
  std::string garbage(64, '\x5a');
  Overwrite(future, InodeOffset(future, 2), garbage);
  Overwrite(now, InodeOffset(now, 2), garbage);
  Verdict damaged_future = CheckTwice(future);
  Verdict damaged_now = CheckTwice(now);
  EXPECT_EQ(damaged_future.kind, VerdictKind::kFail);
  EXPECT_THAT(damaged_future.message, Not(HasSubstr("future")));
  EXPECT_EQ(damaged_future.message, damaged_now.message);
}

TEST_F(Ext4FsckOracleTest, TinyTimeoutIsError) {
  OracleOptions options;
  options.scratch_dir = dir_;
  options.timeout = absl::Nanoseconds(1);
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle("ext4-fsck", options);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  ImageSet images;
  images.device_names = {"disk"};
  images.paths = {MakeImage("slow.img")};
  Verdict v = (*oracle)->Check(images, StateId());
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_THAT(v.message, HasSubstr("timed out after 1ns"));
}

TEST_F(Ext4FsckOracleTest, ConfigFileIsRemovedWithTheOracle) {
  auto count_configs = [this] {
    SubprocessOptions options;
    absl::StatusOr<SubprocessResult> r = internal_oracles::RunShellCommand(
        absl::StrCat("ls '", dir_, "' | grep -c '^crashenum-e2fsck-' || true"),
        options);
    return r.ok() ? std::string(absl::StripAsciiWhitespace(r->output)) : "?";
  };
  EXPECT_EQ(count_configs(), "1");
  oracle_.reset();
  EXPECT_EQ(count_configs(), "0");
}

TEST(Ext4FsckOracleMakeTest, BadScratchDirIsInvalidArgument) {
  if (!FindProgram("e2fsck", kSbinDirs).ok()) {
    GTEST_SKIP() << "needs e2fsck (Debian package e2fsprogs), not installed";
  }
  OracleOptions options;
  options.scratch_dir = "/nonexistent/scratch";
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle("ext4-fsck", options);
  EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(oracle.status().message(), HasSubstr("/nonexistent/scratch"));
}

}  // namespace
}  // namespace crashenum
