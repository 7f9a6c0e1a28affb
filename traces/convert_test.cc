#include "traces/convert.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "traces/crashenum_format.h"
#include "traces/dm_log_writes.h"
#include "traces/internal/dm_log_test_util.h"
#include "traces/internal/test_traces.h"
#include "traces/trace_reader.h"

namespace crashenum {
namespace {

using internal_traces::FileExists;
using internal_traces::LastingBytes;
using internal_traces::MakeDevice;
using internal_traces::ReadFileOrDie;
using internal_traces::RichTrace;
using internal_traces::TempPath;
using internal_traces::TraceDifference;
using internal_traces::WriteOp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kFixtures[] = {
    "tests/testdata/ext4-append-rename.log",
    "tests/testdata/ext4-append-rename-nobarrier.log",
};

ConvertOptions To(TraceFormat format, std::string device = "") {
  ConvertOptions options;
  options.format = format;
  options.device = std::move(device);
  return options;
}

TEST(ConvertTest, WritableFormats) {
  EXPECT_EQ(*WritableFormat("crashenum"), TraceFormat::kCrashenum);
  EXPECT_EQ(*WritableFormat("dm-log-writes"), TraceFormat::kDmLogWrites);
  absl::StatusOr<TraceFormat> bad = WritableFormat("blktrace");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("cannot write format 'blktrace'"));
}

// dm-log-writes -> crashenum -> dm-log-writes gives the original log back
// byte for byte, and neither step loses anything.
TEST(ConvertTest, FixturesSurviveBothWays) {
  for (const char* fixture : kFixtures) {
    SCOPED_TRACE(fixture);
    absl::StatusOr<Trace> dm = ReadTrace(fixture, ReadOptions());
    ASSERT_TRUE(dm.ok()) << dm.status();
    const std::string cet = TempPath("fixture.cet");
    absl::StatusOr<std::vector<std::string>> lost =
        ConvertTrace(*dm, cet, To(TraceFormat::kCrashenum));
    ASSERT_TRUE(lost.ok()) << lost.status();
    EXPECT_THAT(*lost, IsEmpty());
    absl::StatusOr<Trace> mid = ReadTrace(cet, ReadOptions());
    ASSERT_TRUE(mid.ok()) << mid.status();
    EXPECT_EQ(mid->format(), "crashenum");

    const std::string log = TempPath("fixture.log");
    lost = ConvertTrace(*mid, log, To(TraceFormat::kDmLogWrites));
    ASSERT_TRUE(lost.ok()) << lost.status();
    EXPECT_THAT(*lost, IsEmpty());
    EXPECT_EQ(ReadFileOrDie(log), ReadFileOrDie(fixture));
    absl::StatusOr<Trace> back = ReadTrace(log, ReadOptions());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(TraceDifference(*dm, *back), "");
  }
}

TEST(ConvertTest, CrashenumKeepsEverythingAndAddsInfo) {
  const Trace trace = RichTrace();
  ConvertOptions options = To(TraceFormat::kCrashenum);
  options.info = {{"source", "rich"}};
  const std::string path = TempPath("rich.cet");
  absl::StatusOr<std::vector<std::string>> lost =
      ConvertTrace(trace, path, options);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_THAT(*lost, IsEmpty());
  std::string notes;
  absl::StatusOr<Trace> back =
      ReadCrashenumTrace(path, CrashenumReadOptions(), &notes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(TraceDifference(trace, *back, /*source_entries=*/false), "");
  EXPECT_EQ(notes, path + ": info source: rich\n");
}

TEST(ConvertTest, DmLogWritesNeedsOneDevice) {
  const Trace trace = RichTrace();
  const std::string path = TempPath("two.log");
  absl::StatusOr<std::vector<std::string>> lost =
      ConvertTrace(trace, path, To(TraceFormat::kDmLogWrites));
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(lost.status().message(),
              HasSubstr(path + ": the trace has 2 devices (disk, log) and a "
                               "dm-log-writes log holds one"));
  lost = ConvertTrace(trace, path, To(TraceFormat::kDmLogWrites, "tape"));
  EXPECT_THAT(lost.status().message(),
              HasSubstr("no device named 'tape' (devices: disk, log)"));
  TraceBuilder b("builder", "");
  ASSERT_TRUE(b.AddDevice(MakeDevice("tiny", 256, 4)).ok());
  lost =
      ConvertTrace(*std::move(b).Build(), path, To(TraceFormat::kDmLogWrites));
  EXPECT_THAT(lost.status().message(),
              HasSubstr("device tiny has sectors of 256 bytes"));
  EXPECT_FALSE(FileExists(path));
}

TEST(ConvertTest, DmLogWritesReportsEveryLoss) {
  const Trace trace = RichTrace();
  const std::string path = TempPath("disk.log");
  absl::StatusOr<std::vector<std::string>> lost =
      ConvertTrace(trace, path, To(TraceFormat::kDmLogWrites, "disk"));
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_THAT(
      *lost,
      ElementsAre(
          "kept device disk; dropped 1 device (log) with 2 ops",
          "moved 4 ops that were in flight across other events to their "
          "completion (the log records each op as submitted and completed at "
          "once)",
          "logged 2 failed ops as successful (the log holds no completion "
          "status)",
          "dropped the device name disk (a reader calls it dev0)"));
  absl::StatusOr<Trace> back = ReadDmLogWrites(path, DmLogReadOptions());
  ASSERT_TRUE(back.ok()) << back.status();
  // Entries follow the completions.
  ASSERT_EQ(back->ops().size(), 5u);
  EXPECT_EQ(back->ops()[0].sector, 3u);  // op 2, completed first
  EXPECT_EQ(back->ops()[1].sector, 2u);  // op 0
  EXPECT_EQ(back->ops()[2].kind, OpKind::kDiscard);
  EXPECT_EQ(back->ops()[3].kind, OpKind::kFlush);
  EXPECT_EQ(back->ops()[4].flags, kPreflush);
  EXPECT_EQ(back->marks().size(), 3u);
  EXPECT_EQ(back->devices()[0].num_sectors, 64u);
}

TEST(ConvertTest, DmLogWritesReportsTheOtherDevicesLosses) {
  const Trace trace = RichTrace();
  const std::string path = TempPath("log.log");
  absl::StatusOr<std::vector<std::string>> lost =
      ConvertTrace(trace, path, To(TraceFormat::kDmLogWrites, "log"));
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_THAT(
      *lost,
      ElementsAre(
          "kept device log; dropped 1 device (disk) with 5 ops",
          "dropped the base image of device log (32768 bytes): the log starts "
          "from a zeroed device",
          "dropped 1 op that never completed (the log holds completed ops "
          "only)",
          "moved 1 op that was in flight across other events to their "
          "completion (the log records each op as submitted and completed at "
          "once)",
          "dropped the SYNC flag of 1 op (the log has no such flag)",
          "dropped the device name log (a reader calls it dev0)",
          "dropped the device size of 8 sectors (a reader infers 2 from the "
          "log unless given a device size of 32768 bytes)"));
}

TEST(ConvertTest, DmLogWritesCutsLongMarksAndDropsPreflushOfFlushes) {
  TraceBuilder b("builder", "");
  ASSERT_TRUE(b.AddDevice(MakeDevice("dev0", 512, 4)).ok());
  b.AddMark(std::string(600, 'm'), 0);
  Op flush;
  flush.kind = OpKind::kFlush;
  flush.flags = kPreflush;
  ASSERT_TRUE(b.SubmitAndComplete(flush, 1).ok());
  ASSERT_TRUE(
      b.SubmitAndComplete(WriteOp(0, 0, 4, LastingBytes("w", 2048)), 2).ok());
  const std::string path = TempPath("cut.log");
  absl::StatusOr<std::vector<std::string>> lost =
      ConvertTrace(*std::move(b).Build(), path, To(TraceFormat::kDmLogWrites));
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_THAT(*lost,
              ElementsAre("dropped PREFLUSH from 1 flush (a flush already is "
                          "one)",
                          "cut 1 mark label to 479 bytes (what one log sector "
                          "holds)"));
  absl::StatusOr<Trace> back = ReadDmLogWrites(path, DmLogReadOptions());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->marks()[0].label, std::string(479, 'm'));

  TraceBuilder nul("builder", "");
  ASSERT_TRUE(nul.AddDevice(MakeDevice("dev0", 512, 4)).ok());
  nul.AddMark(std::string("a\0b", 3), 0);
  lost = ConvertTrace(*std::move(nul).Build(), path,
                      To(TraceFormat::kDmLogWrites));
  EXPECT_THAT(lost.status().message(), HasSubstr("mark 0 holds a NUL byte"));
  // The earlier file is untouched.
  EXPECT_TRUE(ReadDmLogWrites(path, DmLogReadOptions()).ok());
}

}  // namespace
}  // namespace crashenum
