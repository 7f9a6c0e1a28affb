#include "readset/read_set.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

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

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A record as the shim writes it; `end` < 0 leaves the record incomplete.
std::string Record(int files, int pid, uint64_t start, const std::string& body,
                   int64_t end) {
  std::string text = absl::StrCat("crashenum-readset 1\nfiles ", files,
                                  "\npid ", pid, "\nstart ", start, "\n", body);
  if (end >= 0) absl::StrAppend(&text, "end ", end, "\n");
  return text;
}

TEST(LoadReadSetTest, OneRecordGivesItsReads) {
  const std::string dir = TestDir();
  Write(dir + "/10.100.rs",
        Record(2, 10, 100, "r 0 0 512\nr 0 1024 1536\nr 1 7 9\nw 0 4096 8192\n",
               200));
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 2);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_FALSE(rs->whole);
  EXPECT_THAT(rs->read[0], ElementsAre(Pair(0, 512), Pair(1024, 1536)));
  EXPECT_THAT(rs->read[1], ElementsAre(Pair(7, 9)));
}

TEST(LoadReadSetTest, EmptyDirectoryReadsNothing) {
  absl::StatusOr<ReadSet> rs = LoadReadSet(TestDir(), 3);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_FALSE(rs->whole);
  EXPECT_EQ(rs->read, std::vector<Ranges>(3));
}

TEST(LoadReadSetTest, WritesOfAnEarlierProcessAreNotReadByALaterOne) {
  const std::string dir = TestDir();
  // Process 1 (start 100, end 200) wrote [1000, 2000); process 2 started
  // after it ended and read [0, 4096).
  Write(dir + "/1.100.rs",
        Record(1, 1, 100, "r 0 0 100\nw 0 1000 2000\n", 200));
  Write(dir + "/2.300.rs", Record(1, 2, 300, "r 0 0 4096\n", 400));
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 1);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_THAT(rs->read[0], ElementsAre(Pair(0, 1000), Pair(2000, 4096)));
}

TEST(LoadReadSetTest, WritesOfAProcessStillRunningDoNotCount) {
  const std::string dir = TestDir();
  // Process 1 ended (250) after process 2 started (200): its write may have
  // come after process 2's read.
  Write(dir + "/1.100.rs", Record(1, 1, 100, "w 0 1000 2000\n", 250));
  Write(dir + "/2.200.rs", Record(1, 2, 200, "r 0 0 4096\n", 400));
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 1);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_THAT(rs->read[0], ElementsAre(Pair(0, 4096)));
}

TEST(LoadReadSetTest, LaterWritesDoNotHideEarlierReads) {
  const std::string dir = TestDir();
  Write(dir + "/1.100.rs", Record(1, 1, 100, "r 0 0 10\n", 200));
  Write(dir + "/2.300.rs", Record(1, 2, 300, "w 0 0 4096\n", 400));
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 1);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_THAT(rs->read[0], ElementsAre(Pair(0, 10)));
}

TEST(LoadReadSetTest, RecordWithoutEndMakesItWhole) {
  const std::string dir = TestDir();
  Write(dir + "/1.100.rs", Record(1, 1, 100, "r 0 0 10\n", 200));
  // Process 2 never finished, so its writes hide nothing either.
  Write(dir + "/2.150.rs", Record(1, 2, 150, "w 0 0 4096\n", -1));
  Write(dir + "/3.300.rs", Record(1, 3, 300, "r 0 0 100\n", 400));
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 1);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_TRUE(rs->whole);
  EXPECT_THAT(rs->read[0], ElementsAre(Pair(0, 100)));
}

TEST(LoadReadSetTest, RecordCutShortMakesItWholeNotAnError) {
  const std::string dir = TestDir();
  Write(dir + "/1.100.rs", Record(1, 1, 100, "r 0 0 10\n", 200));
  Write(dir + "/2.150.rs",
        "crashenum-readset 1\nfiles 1\npid 2\nstart 150\nr 0 5");
  Write(dir + "/3.160.rs",
        "crashenum-readset 1\nfiles 1\npid 3\nstart 160\nr 0 5 6\nend 17");
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 1);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_TRUE(rs->whole);
  EXPECT_THAT(rs->read[0], ElementsAre(Pair(0, 10)));
}

TEST(LoadReadSetTest, UnknownLineMakesItWhole) {
  const std::string dir = TestDir();
  Write(dir + "/1.100.rs", Record(2, 1, 100, "u 1\nr 0 0 10\n", 200));
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 2);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_TRUE(rs->whole);
  EXPECT_THAT(rs->read[0], ElementsAre(Pair(0, 10)));
}

TEST(LoadReadSetTest, RecordsBeingWrittenAndOtherFilesAreIgnored) {
  const std::string dir = TestDir();
  Write(dir + "/.1.100.rs", "hidden");
  Write(dir + "/notes.txt", "not a record");
  Write(dir + "/1.100.rs", Record(1, 1, 100, "r 0 5 6\n", 200));
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 1);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_THAT(rs->read[0], ElementsAre(Pair(5, 6)));
}

TEST(LoadReadSetTest, MissingDirectoryIsNotFound) {
  absl::StatusOr<ReadSet> rs = LoadReadSet(TestDir() + "/absent", 1);
  EXPECT_EQ(rs.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(rs.status().message(), HasSubstr("/absent"));
}

struct BadRecord {
  std::string text;
  std::string message;  // expected in the error, after "<path>:"
};

class MalformedRecordTest : public ::testing::TestWithParam<BadRecord> {};

TEST_P(MalformedRecordTest, IsInvalidArgumentNamingFileAndLine) {
  const std::string dir = TestDir();
  const std::string path = dir + "/7.1.rs";
  Write(path, GetParam().text);
  absl::StatusOr<ReadSet> rs = LoadReadSet(dir, 2);
  EXPECT_EQ(rs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rs.status().message(),
              HasSubstr(absl::StrCat(path, ":", GetParam().message)));
}

const char kHead[] = "crashenum-readset 1\nfiles 2\npid 7\nstart 1\n";

INSTANTIATE_TEST_SUITE_P(
    Records, MalformedRecordTest,
    ::testing::Values(
        BadRecord{"", "1: record ends in its header"},
        BadRecord{"crashenum-readset 2\n", "1: unsupported version 2"},
        BadRecord{"readset 1\n", "1: expected 'crashenum-readset <number>'"},
        BadRecord{"crashenum-readset 1\nfiles 3\n",
                  "2: the record watched 3 files, expected 2"},
        BadRecord{"crashenum-readset 1\nfiles 2\npid x\n",
                  "3: not a number: 'x'"},
        BadRecord{"crashenum-readset 1\nfiles 2\npid 7\n",
                  "4: record ends in its header"},
        BadRecord{absl::StrCat(kHead, "r 2 0 1\nend 9\n"), "5: no file 2"},
        BadRecord{absl::StrCat(kHead, "u 5\nend 9\n"), "5: no file 5"},
        BadRecord{absl::StrCat(kHead, "r 0 4 4\nend 9\n"), "5: empty range"},
        BadRecord{absl::StrCat(kHead, "r 0 4 -1\nend 9\n"),
                  "5: not a number: '-1'"},
        BadRecord{absl::StrCat(kHead, "r 0 10 20\nr 0 5 8\nend 9\n"),
                  "6: range not after the previous one of its file"},
        BadRecord{absl::StrCat(kHead, "r 0 10 20\nr 0 20 30\nend 9\n"),
                  "6: range not after the previous one of its file"},
        BadRecord{absl::StrCat(kHead, "x 0 1 2\nend 9\n"),
                  "5: unknown line 'x 0 1 2'"},
        BadRecord{absl::StrCat(kHead, "r 0 1\nend 9\n"),
                  "5: unknown line 'r 0 1'"},
        BadRecord{absl::StrCat(kHead, "end 3\nend 9\n"),
                  "5: unknown line 'end 3'"},
        BadRecord{absl::StrCat(kHead, "end 0\n"), "5: end before start"}));

TEST(UnitsOfTest, ListsEveryTouchedUnitOnce) {
  ReadSet rs;
  rs.read = {{{0, 1}, {511, 513}, {1024, 1025}, {4096, 6144}}, {}};
  EXPECT_THAT(UnitsOf(rs, 0, 512), ElementsAre(0, 1, 2, 8, 9, 10, 11));
  EXPECT_THAT(UnitsOf(rs, 0, 4096), ElementsAre(0, 1));
  EXPECT_THAT(UnitsOf(rs, 1, 512), ElementsAre());
}

TEST(ShimEnvironmentTest, PrependsToLdPreloadAndJoinsAbsolutePaths) {
  ASSERT_EQ(setenv("LD_PRELOAD", "libother.so", 1), 0);
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  auto env = ShimEnvironment("/lib/shim.so", {"/a/img", "rel/img2"}, "out");
  EXPECT_THAT(env, ElementsAre(Pair("LD_PRELOAD", "/lib/shim.so:libother.so"),
                               Pair("CRASHENUM_READSET_FILES",
                                    absl::StrCat("/a/img:", cwd, "/rel/img2")),
                               Pair("CRASHENUM_READSET_OUT",
                                    absl::StrCat(cwd, "/out"))));
  ASSERT_EQ(unsetenv("LD_PRELOAD"), 0);
  env = ShimEnvironment("/lib/shim.so", {"/a/img"}, "/o");
  EXPECT_THAT(env, ElementsAre(Pair("LD_PRELOAD", "/lib/shim.so"),
                               Pair("CRASHENUM_READSET_FILES", "/a/img"),
                               Pair("CRASHENUM_READSET_OUT", "/o")));
}

}  // namespace
}  // namespace crashenum
