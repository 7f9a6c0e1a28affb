// Real programs under libcrashenum_readset.so: readset_probe (known access
// patterns), dd, cat, sh and e2fsck, with the read set loaded by
// LoadReadSet. The journal case mounts an ext4 image and is skipped, saying
// why, without root or loop devices.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "readset/read_set.h"

namespace crashenum {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

std::string Runfile(const std::string& path) {
  char cwd[4096];
  return absl::StrCat(getcwd(cwd, sizeof cwd), "/", path);
}

const std::string& Shim() {
  static const std::string path = Runfile("readset/libcrashenum_readset.so");
  return path;
}

const std::string& Probe() {
  static const std::string path = Runfile("readset/readset_probe");
  return path;
}

// A fresh directory for the current test.
std::string TestDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = absl::StrCat(
      tmp != nullptr ? tmp : "/tmp", "/",
      absl::StrReplaceAll(info->name(), {{"/", "_"}}), "-", getpid());
  mkdir(dir.c_str(), 0755);
  return dir;
}

struct Result {
  int exit_code = -1;
  std::string output;
};

// Runs `command` with sh, its environment extended by `env`, capturing
// stdout and stderr.
Result Sh(const std::string& command,
          const std::vector<std::pair<std::string, std::string>>& env = {}) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [name, value] : env)
      setenv(name.c_str(), value.c_str(), 1);
    std::string path = absl::StrCat("/usr/sbin:/sbin:", getenv("PATH"));
    setenv("PATH", path.c_str(), 1);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  Result result;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) result.output.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Runs `command` under the shim watching `images`, records into `out`.
Result Watched(const std::string& command,
               const std::vector<std::string>& images, const std::string& out) {
  mkdir(out.c_str(), 0755);
  return Sh(command, ShimEnvironment(Shim(), images, out));
}

// A file of `size` bytes of a fixed pattern.
std::string MakeFile(const std::string& path, size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; i++) data[i] = static_cast<char>(i * 7 + 3);
  std::ofstream(path, std::ios::binary) << data;
  return path;
}

// The read set of `out`, which must load.
ReadSet Load(const std::string& out, size_t files = 1) {
  absl::StatusOr<ReadSet> rs = LoadReadSet(out, files);
  EXPECT_TRUE(rs.ok()) << rs.status();
  return rs.ok() ? *rs : ReadSet{};
}

int RecordCount(const std::string& out) {
  Result r = Sh(absl::StrCat("ls ", out, " | grep -c '\\.rs$'"));
  return std::atoi(r.output.c_str());
}

// Runs readset_probe on a fresh 64 KiB file with `ops`; returns the out dir.
struct ProbeRun {
  Result result;
  std::string out;
};

ProbeRun RunProbe(const std::string& ops) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 65536);
  ProbeRun run;
  run.out = dir + "/out";
  run.result =
      Watched(absl::StrCat(Probe(), " ", image, " ", ops), {image}, run.out);
  return run;
}

TEST(ShimTest, ProbeAccessPatternsRecordExactRanges) {
  ProbeRun run = RunProbe(
      "pread:100:200 read:1000:24 readv:4096:100,28 preadv:8192:10,10 "
      "preadv2cur:9000:6 dup:12000:8 dup2:13000:8 dup3:13500:8 "
      "fcntl:14000:8 proc:15000:16 sendfile:50000:10 copy:51000:10");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  ReadSet rs = Load(run.out);
  EXPECT_FALSE(rs.whole);
  EXPECT_THAT(
      rs.read[0],
      ElementsAre(Pair(100, 300), Pair(1000, 1024), Pair(4096, 4224),
                  Pair(8192, 8212), Pair(9000, 9006), Pair(12000, 12008),
                  Pair(13000, 13008), Pair(13500, 13508), Pair(14000, 14008),
                  Pair(15000, 15016), Pair(50000, 50010), Pair(51000, 51010)));
  EXPECT_EQ(RecordCount(run.out), 1);
}

TEST(ShimTest, ThreadsSharingAnOffsetGetTheirOwnRanges) {
  // 4 threads x 2000 reads x 8 bytes through one descriptor: the kernel
  // hands each read the next 8 bytes, and each must be placed where it was.
  ProbeRun run = RunProbe("threads:2000:8");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_THAT(Load(run.out).read[0], ElementsAre(Pair(0, 64000)));
}

TEST(ShimTest, DirectIoReadIsRecorded) {
  ProbeRun run = RunProbe("direct:8192:4096");
  if (run.result.exit_code == 77) {
    GTEST_SKIP() << "skipped: the file system of TEST_TMPDIR refuses "
                    "O_DIRECT: "
                 << run.result.output;
  }
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_THAT(Load(run.out).read[0], ElementsAre(Pair(8192, 12288)));
}

TEST(ShimTest, MappedRangeCountsAsReadUpToTheEnd) {
  ProbeRun run = RunProbe("mmap:32768:8192 mmap:61440:8192");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_THAT(Load(run.out).read[0],
              ElementsAre(Pair(32768, 40960), Pair(61440, 65536)));
}

TEST(ShimTest, BytesWrittenFirstAreNotRead) {
  ProbeRun run =
      RunProbe("pwrite:100:100 pread:50:200 write:300:10 read:290:30");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_THAT(Load(run.out).read[0],
              ElementsAre(Pair(50, 100), Pair(200, 250), Pair(290, 300),
                          Pair(310, 320)));
}

TEST(ShimTest, BytesReadBeforeTheyWereWrittenStayRead) {
  ProbeRun run = RunProbe("pread:0:10 pwrite:0:10 pread:0:10");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_THAT(Load(run.out).read[0], ElementsAre(Pair(0, 10)));
}

TEST(ShimTest, ForkedChildrenWriteRecordsOfTheirOwn) {
  ProbeRun run = RunProbe("pread:0:10 fork:500:100 forkexit:700:10");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_EQ(RecordCount(run.out), 3);
  EXPECT_THAT(Load(run.out).read[0],
              ElementsAre(Pair(0, 10), Pair(500, 600), Pair(700, 710)));
}

TEST(ShimTest, ForkedChildKeepsWhatItsParentWrote) {
  ProbeRun run = RunProbe("pwrite:0:100 fork:0:200");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_THAT(Load(run.out).read[0], ElementsAre(Pair(100, 200)));
}

TEST(ShimTest, ExecCompletesTheRecordBeforeTheNewProgramStarts) {
  ProbeRun run = RunProbe("pwrite:100:10 pread:0:5 exec pread:100:20");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_EQ(RecordCount(run.out), 2);
  EXPECT_THAT(Load(run.out).read[0], ElementsAre(Pair(0, 5), Pair(110, 120)));
}

TEST(ShimTest, ProcessKilledBeforeItsRecordIsCompleteMakesItWhole) {
  ProbeRun run = RunProbe("pread:0:10 kill");
  ASSERT_EQ(run.result.exit_code, 128 + SIGKILL) << run.result.output;
  EXPECT_TRUE(Load(run.out).whole);
}

TEST(ShimTest, TruncatedAndExtendedPartIsWritten) {
  ProbeRun run = RunProbe("ftruncate:1000 ftruncate:65536 pread:0:65536");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_THAT(Load(run.out).read[0], ElementsAre(Pair(0, 1000)));
}

TEST(ShimTest, PunchedHoleIsWritten) {
  ProbeRun run = RunProbe("punch:4096:4096 pread:0:16384");
  if (run.result.exit_code != 0 &&
      run.result.output.find("punch: Operation not supported") !=
          std::string::npos) {
    GTEST_SKIP() << "skipped: the file system of TEST_TMPDIR cannot punch "
                    "holes";
  }
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_THAT(Load(run.out).read[0],
              ElementsAre(Pair(0, 4096), Pair(8192, 16384)));
}

TEST(ShimTest, AccessesTheShimCannotPlaceMakeItWhole) {
  for (const char* ops : {"fopen", "seekdata"}) {
    ProbeRun run = RunProbe(ops);
    ASSERT_EQ(run.result.exit_code, 0) << ops << ": " << run.result.output;
    EXPECT_TRUE(Load(run.out).whole) << ops;
  }
}

TEST(ShimTest, ProgramStartedWithoutTheShimMakesItWhole) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 4096);
  Result r =
      Watched(absl::StrCat("env -u LD_PRELOAD cat ", image, " > /dev/null"),
              {image}, dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Load(dir + "/out").whole);
}

TEST(ShimTest, StaticProgramStartedFromAWatchedOneMakesItWhole) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 4096);
  Result r = Watched(absl::StrCat(Runfile("readset/readset_probe_static"), " ",
                                  image, " pread:0:10"),
                     {image}, dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ReadSet rs = Load(dir + "/out");
  EXPECT_TRUE(rs.whole);
  EXPECT_THAT(rs.read[0], IsEmpty());
}

TEST(ShimTest, DdRecordsExactlyTheBlocksItCopies) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 65536);
  Result r = Watched(
      absl::StrCat("dd if=", image, " bs=512 skip=3 count=2 of=/dev/null"),
      {image}, dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ReadSet rs = Load(dir + "/out");
  EXPECT_FALSE(rs.whole);
  EXPECT_THAT(rs.read[0], ElementsAre(Pair(1536, 2560)));
}

TEST(ShimTest, CatReadsTheWholeFile) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 65536);
  Result r = Watched(absl::StrCat("cat ", image, " > /dev/null"), {image},
                     dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ReadSet rs = Load(dir + "/out");
  EXPECT_FALSE(rs.whole);
  EXPECT_THAT(rs.read[0], ElementsAre(Pair(0, 65536)));
}

TEST(ShimTest, ShellThatExecsDdStillRecords) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 65536);
  Result r = Watched(absl::StrCat("sh -c 'exec dd if=", image,
                                  " bs=512 skip=3 count=2 of=/dev/null'"),
                     {image}, dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Load(dir + "/out").read[0], ElementsAre(Pair(1536, 2560)));
}

TEST(ShimTest, EveryPathToTheFileIsWatched) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 65536);
  ASSERT_EQ(link(image.c_str(), (dir + "/hard").c_str()), 0);
  ASSERT_EQ(symlink(image.c_str(), (dir + "/soft").c_str()), 0);
  Result r = Watched(
      absl::StrCat("cd ", dir, " && dd if=hard bs=1 skip=10 count=5 ",
                   "of=/dev/null && dd if=./soft bs=1 skip=20 count=5 ",
                   "of=/dev/null && dd bs=1 skip=30 count=5 of=/dev/null ",
                   "< image"),
      {image}, dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Load(dir + "/out").read[0],
              ElementsAre(Pair(10, 15), Pair(20, 25), Pair(30, 35)));
}

TEST(ShimTest, OtherFilesLeaveNoRecord) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 4096);
  const std::string other = MakeFile(dir + "/other", 4096);
  Result r = Watched(absl::StrCat("cat ", other, " > /dev/null"), {image},
                     dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(RecordCount(dir + "/out"), 0);
  ReadSet rs = Load(dir + "/out");
  EXPECT_FALSE(rs.whole);
  EXPECT_THAT(rs.read[0], IsEmpty());
}

TEST(ShimTest, SeveralFilesAreKeptApart) {
  const std::string dir = TestDir();
  const std::string a = MakeFile(dir + "/a", 4096);
  const std::string b = MakeFile(dir + "/b", 4096);
  Result r =
      Watched(absl::StrCat("dd if=", b, " bs=100 skip=1 count=1 of=/dev/null"),
              {a, b}, dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ReadSet rs = Load(dir + "/out", 2);
  EXPECT_THAT(rs.read[0], IsEmpty());
  EXPECT_THAT(rs.read[1], ElementsAre(Pair(100, 200)));
}

// The xorshift64 sequence of readset_probe's "many" operation.
Ranges ManyReads(long count, uint64_t file_size, uint64_t len) {
  std::vector<bool> hit(file_size / len, false);
  uint64_t x = 88172645463325252ull;
  for (long i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    hit[x % hit.size()] = true;
  }
  Ranges out;
  for (size_t i = 0; i < hit.size(); i++) {
    if (!hit[i]) continue;
    if (!out.empty() && out.back().second == i * len) {
      out.back().second += len;
    } else {
      out.push_back({i * len, (i + 1) * len});
    }
  }
  return out;
}

TEST(ShimTest, ManySmallReadsMergeIntoRanges) {
  const std::string dir = TestDir();
  const std::string image = MakeFile(dir + "/image", 64 << 20);
  const auto start = std::chrono::steady_clock::now();
  Result r = Watched(absl::StrCat(Probe(), " ", image, " many:200000:512"),
                     {image}, dir + "/out");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Ranges want = ManyReads(200000, 64 << 20, 512);
  EXPECT_EQ(Load(dir + "/out").read[0], want);
  std::cout << "200000 preads, " << want.size() << " ranges: " << seconds
            << " s under the shim\n";
}

std::string Ext4SkipReason() {
  if (Sh("command -v mkfs.ext4 && command -v e2fsck").exit_code != 0) {
    return "mkfs.ext4 or e2fsck is not installed";
  }
  return "";
}

// A fresh sparse ext4 image of `size`, made by mkfs.ext4 `options`.
std::string MakeExt4(const std::string& path, const std::string& size,
                     const std::string& options = "") {
  Result r = Sh(absl::StrCat("truncate -s ", size, " ", path,
                             " && mkfs.ext4 -q -F ", options, " ", path));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return path;
}

bool Covers(const Ranges& ranges, uint64_t begin, uint64_t end) {
  for (auto [b, e] : ranges) {
    if (b <= begin && end <= e) return true;
  }
  return false;
}

uint64_t Bytes(const Ranges& ranges) {
  uint64_t total = 0;
  for (auto [b, e] : ranges) total += e - b;
  return total;
}

TEST(ShimE2fsckTest, CheckReadsTheSuperblockAndLittleElseTheSameEachTime) {
  const std::string why = Ext4SkipReason();
  if (!why.empty()) GTEST_SKIP() << "skipped: " << why;
  const std::string dir = TestDir();
  const std::string image = MakeExt4(dir + "/image", "16M");
  Result first = Watched("e2fsck -fn " + image, {image}, dir + "/out1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const ReadSet rs = Load(dir + "/out1");
  EXPECT_FALSE(rs.whole);
  EXPECT_TRUE(Covers(rs.read[0], 1024, 2048));
  EXPECT_GT(Bytes(rs.read[0]), 0u);
  EXPECT_LT(Bytes(rs.read[0]), (16u << 20) / 8);

  Result second = Watched("e2fsck -fn " + image, {image}, dir + "/out2");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(Load(dir + "/out2").read, rs.read);
}

// A record's start time and its r and w ranges of file 0.
struct ParsedRecord {
  uint64_t start = 0;
  Ranges reads, writes;
};

std::vector<ParsedRecord> ParseRecords(const std::string& out) {
  std::vector<ParsedRecord> records;
  Result ls = Sh(absl::StrCat("ls ", out, "/*.rs"));
  for (absl::string_view path :
       absl::StrSplit(ls.output, '\n', absl::SkipEmpty())) {
    std::ifstream in{std::string(path)};
    ParsedRecord rec;
    std::string kind;
    uint64_t file, b, e;
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f[0] == "start") rec.start = std::stoull(f[1]);
      if (f[0] != "r" && f[0] != "w") continue;
      file = std::stoull(f[1]);
      b = std::stoull(f[2]);
      e = std::stoull(f[3]);
      if (file != 0) continue;
      (f[0] == "r" ? rec.reads : rec.writes).push_back({b, e});
    }
    records.push_back(rec);
  }
  std::sort(records.begin(), records.end(),
            [](const ParsedRecord& x, const ParsedRecord& y) {
              return x.start < y.start;
            });
  return records;
}

// Byte by byte: the bytes of `first_reads`, and those of `second_reads` the
// first process did not write, as ranges.
Ranges ReferenceCombination(const Ranges& first_reads,
                            const Ranges& first_writes,
                            const Ranges& second_reads, uint64_t size) {
  std::vector<bool> read(size, false), written(size, false);
  auto mark = [size](std::vector<bool>& bytes, const Ranges& ranges) {
    for (auto [b, e] : ranges) {
      for (uint64_t i = b; i < e && i < size; i++) bytes[i] = true;
    }
  };
  mark(read, first_reads);
  mark(written, first_writes);
  for (auto [b, e] : second_reads) {
    for (uint64_t i = b; i < e; i++) {
      if (!written[i]) read[i] = true;
    }
  }
  Ranges out;
  for (uint64_t i = 0; i < size; i++) {
    if (!read[i]) continue;
    if (!out.empty() && out.back().second == i) {
      out.back().second++;
    } else {
      out.push_back({i, i + 1});
    }
  }
  return out;
}

// Unmounts a directory when it goes out of scope.
struct Unmount {
  std::string dir;
  ~Unmount() {
    if (!dir.empty()) Sh("umount " + dir);
  }
};

TEST(ShimE2fsckTest, JournalReplayWritesAreNotReadByTheCheckAfterIt) {
  std::string why = Ext4SkipReason();
  if (geteuid() != 0) why = "needs root (mount)";
  if (access("/dev/loop-control", R_OK | W_OK) != 0) why = "needs loop devices";
  if (!why.empty()) GTEST_SKIP() << "skipped: " << why;
  const std::string dir = TestDir();
  const std::string live = MakeExt4(dir + "/live", "16M");
  const std::string image = dir + "/image";
  {
    // A copy taken while mounted, after sync: committed transactions in the
    // journal, and needs_recovery set.
    ASSERT_EQ(Sh(absl::StrCat("mkdir -p ", dir, "/mnt")).exit_code, 0);
    Result m = Sh(absl::StrCat("mount -o loop ", live, " ", dir, "/mnt"));
    ASSERT_EQ(m.exit_code, 0) << m.output;
    Unmount unmount{dir + "/mnt"};
    Result w = Sh(absl::StrCat(
        "cd ", dir, "/mnt && for i in 1 2 3 4 5 6 7 8; do echo data$i > f$i; ",
        "mkdir d$i; done && sync && cp --sparse=always ", live, " ", image));
    ASSERT_EQ(w.exit_code, 0) << w.output;
  }
  const std::string out = dir + "/out";
  Result replay = Watched("e2fsck -E journal_only -y " + image, {image}, out);
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  ASSERT_THAT(replay.output, ::testing::HasSubstr("recovering journal"));
  Result check = Watched("e2fsck -fn " + image, {image}, out);
  ASSERT_LT(check.exit_code, 8) << check.output;

  const std::vector<ParsedRecord> records = ParseRecords(out);
  ASSERT_EQ(records.size(), 2u);
  const ParsedRecord& first = records[0];
  const ParsedRecord& second = records[1];
  ASSERT_FALSE(first.writes.empty());
  // The check read some of what the replay wrote without reading first.
  const Ranges counted =
      ReferenceCombination(first.reads, first.writes, second.reads, 16 << 20);
  const Ranges all =
      ReferenceCombination(first.reads, {}, second.reads, 16 << 20);
  EXPECT_LT(Bytes(counted), Bytes(all));
  const ReadSet rs = Load(out);
  EXPECT_FALSE(rs.whole);
  EXPECT_EQ(rs.read[0], counted);
}

}  // namespace
}  // namespace crashenum
