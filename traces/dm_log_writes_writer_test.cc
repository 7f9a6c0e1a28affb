#include "traces/dm_log_writes_writer.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "traces/dm_log_writes.h"
#include "traces/internal/dm_log_format.h"
#include "traces/internal/dm_log_test_util.h"
#include "traces/internal/test_traces.h"

namespace crashenum {
namespace {

using internal_traces::FileExists;
using internal_traces::FileSizeLimit;
using internal_traces::kDmLogDiscard;
using internal_traces::kDmLogFlush;
using internal_traces::kDmLogFua;
using internal_traces::kDmLogMetadata;
using internal_traces::PatternData;
using internal_traces::RawDmLog;
using internal_traces::ReadFileOrDie;
using internal_traces::TempFilesLeft;
using internal_traces::TempPath;
using internal_traces::TraceDifference;
using internal_traces::WriteFileOrDie;
using internal_traces::WriteOp;
using ::testing::HasSubstr;

constexpr char kFixture[] = "tests/testdata/ext4-append-rename.log";
constexpr char kNobarrierFixture[] =
    "tests/testdata/ext4-append-rename-nobarrier.log";

absl::StatusOr<Trace> ReadLog(const std::string& path) {
  return ReadDmLogWrites(path, DmLogReadOptions());
}

// A trace with one device of `ss`-byte sectors.
TraceBuilder OneDevice(uint32_t ss = 512, absl::string_view base = {}) {
  TraceBuilder builder("builder", "");
  Device device;
  device.name = "disk";
  device.sector_size = ss;
  device.num_sectors = 64;
  device.base = base;
  EXPECT_TRUE(builder.AddDevice(device).ok());
  return builder;
}

class RoundTripTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RoundTripTest, ReadWriteReadIsIdenticalAndByteExact) {
  const uint32_t ss = GetParam();
  RawDmLog log(ss);
  log.Write(8, 2, 0, "plain");
  log.Write(10, 1, kDmLogFlush, "pre");
  log.Write(11, 1, kDmLogFua, "fua");
  log.Write(12, 1, kDmLogMetadata, "meta");
  log.Write(13, 3, kDmLogFlush | kDmLogFua | kDmLogMetadata, "all");
  log.Flush();
  log.Mark("fsync a.txt");
  log.Flush(kDmLogFua);
  log.Discard(100, 28);
  log.Mark(std::string(ss - 33, 'L'));
  log.Write(4, 1, 0, "last");
  const std::string original = log.Bytes();
  const std::string in_path = TempPath("in.log");
  WriteFileOrDie(in_path, original);
  absl::StatusOr<Trace> first = ReadLog(in_path);
  ASSERT_TRUE(first.ok()) << first.status();

  const std::string out_path = TempPath("out.log");
  ASSERT_TRUE(WriteDmLogWrites(*first, out_path).ok());
  EXPECT_FALSE(TempFilesLeft(out_path));
  EXPECT_EQ(ReadFileOrDie(out_path), original);
  absl::StatusOr<Trace> second = ReadLog(out_path);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(TraceDifference(*first, *second), "");
}

INSTANTIATE_TEST_SUITE_P(SectorSizes, RoundTripTest,
                         ::testing::Values(512u, 4096u));

TEST(DmLogWritesWriterTest, RoundTripOfTheRealFixtures) {
  for (const char* fixture : {kFixture, kNobarrierFixture}) {
    SCOPED_TRACE(fixture);
    absl::StatusOr<Trace> first = ReadLog(fixture);
    ASSERT_TRUE(first.ok()) << first.status();
    const std::string out_path = TempPath("fixture.log");
    ASSERT_TRUE(WriteDmLogWrites(*first, out_path).ok());
    // The capture is canonical (zero padding, no inline data), so the
    // writer reproduces it byte for byte.
    EXPECT_EQ(ReadFileOrDie(out_path), ReadFileOrDie(fixture));
    absl::StatusOr<Trace> second = ReadLog(out_path);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(TraceDifference(*first, *second), "");
  }
}

TEST(DmLogWritesWriterTest, InlineDataIsWrittenAsPlainData) {
  RawDmLog log;
  log.Entry(9, 2, kDmLogFua, 700, {},
            std::string(700, 'a') + std::string(324, 'g'));
  const std::string in_path = TempPath("inline.log");
  WriteFileOrDie(in_path, log.Bytes());
  absl::StatusOr<Trace> first = ReadLog(in_path);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string out_path = TempPath("inline-out.log");
  ASSERT_TRUE(WriteDmLogWrites(*first, out_path).ok());
  absl::StatusOr<Trace> second = ReadLog(out_path);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(TraceDifference(*first, *second), "");
  EXPECT_EQ(second->ops()[0].data,
            std::string(700, 'a') + std::string(324, '\0'));
}

// W1,W2,W3 submitted; C3, C2, flush submitted, C1, flush completed: the log
// holds the completions in order, W3, W2, W1, flush.
TEST(DmLogWritesWriterTest, EntriesFollowCompletionOrder) {
  TraceBuilder builder = OneDevice();
  const std::string d1 = PatternData("1", 1, 512);
  const std::string d2 = PatternData("2", 2, 512);
  const std::string d3 = PatternData("3", 1, 512);
  const uint32_t w1 = *builder.Submit(WriteOp(0, 1, 1, d1), 0);
  const uint32_t w2 = *builder.Submit(WriteOp(0, 2, 2, d2, kMeta), 1);
  const uint32_t w3 = *builder.Submit(WriteOp(0, 4, 1, d3, kFua | kSync), 2);
  ASSERT_TRUE(builder.Complete(w3, 0, 3).ok());
  ASSERT_TRUE(builder.Complete(w2, 0, 4).ok());
  builder.AddMark("between", 5);
  Op flush;
  flush.kind = OpKind::kFlush;
  const uint32_t f = *builder.Submit(flush, 6);
  ASSERT_TRUE(builder.Complete(w1, -5, 7).ok());  // failed writes are logged
  ASSERT_TRUE(builder.Complete(f, 0, 8).ok());
  ASSERT_TRUE(builder.Submit(WriteOp(0, 9, 1, d1), 9).ok());  // never completes
  absl::StatusOr<Trace> trace = std::move(builder).Build();
  ASSERT_TRUE(trace.ok()) << trace.status();

  const std::string path = TempPath("order.log");
  ASSERT_TRUE(WriteDmLogWrites(*trace, path).ok());
  DmLogInfo info;
  absl::StatusOr<Trace> back = ReadDmLogWrites(path, {}, &info);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(info.nr_entries_in_superblock, 5u);
  EXPECT_EQ(info.extra_entries_after_end, 0u);
  ASSERT_EQ(back->ops().size(), 4u);
  EXPECT_EQ(back->ops()[0].sector, 4u);
  EXPECT_EQ(back->ops()[0].flags, kFua);  // kSync has no dm-log-writes flag
  EXPECT_EQ(back->ops()[0].data, d3);
  EXPECT_EQ(back->ops()[1].sector, 2u);
  EXPECT_EQ(back->ops()[1].flags, kMeta);
  EXPECT_EQ(back->ops()[1].data, d2);
  EXPECT_EQ(back->ops()[2].sector, 1u);
  EXPECT_EQ(back->ops()[2].data, d1);
  EXPECT_EQ(back->ops()[3].kind, OpKind::kFlush);
  ASSERT_EQ(back->marks().size(), 1u);
  EXPECT_EQ(back->marks()[0].label, "between");
  EXPECT_EQ(back->events()[back->marks()[0].event].source_entry, 2u);
  EXPECT_EQ(back->devices()[0].num_sectors, 5u);  // inferred
}

TEST(DmLogWritesWriterTest, DiscardAndPreflushWrite) {
  TraceBuilder builder = OneDevice(4096);
  Op discard;
  discard.kind = OpKind::kDiscard;
  discard.sector = 3;
  discard.num_sectors = 10;
  ASSERT_TRUE(builder.SubmitAndComplete(discard, 0).ok());
  const std::string data = PatternData("p", 2, 4096);
  ASSERT_TRUE(
      builder.SubmitAndComplete(WriteOp(0, 0, 2, data, kPreflush), 1).ok());
  absl::StatusOr<Trace> trace = std::move(builder).Build();
  ASSERT_TRUE(trace.ok());
  const std::string path = TempPath("discard.log");
  ASSERT_TRUE(WriteDmLogWrites(*trace, path).ok());

  RawDmLog want(4096);
  want.Discard(3, 10);
  want.Write(0, 2, kDmLogFlush, "p");
  EXPECT_EQ(ReadFileOrDie(path), want.Bytes());
}

TEST(DmLogWritesWriterTest, OverwritesAnExistingFile) {
  const std::string path = TempPath("existing.log");
  WriteFileOrDie(path, std::string(100000, 'o'));
  TraceBuilder builder = OneDevice();
  builder.AddMark("only", 0);
  absl::StatusOr<Trace> trace = std::move(builder).Build();
  ASSERT_TRUE(trace.ok());
  ASSERT_TRUE(WriteDmLogWrites(*trace, path).ok());
  RawDmLog want;
  want.Mark("only");
  EXPECT_EQ(ReadFileOrDie(path), want.Bytes());
}

TEST(DmLogWritesWriterTest, RejectsSeveralDevices) {
  TraceBuilder builder = OneDevice();
  Device second;
  second.name = "other";
  ASSERT_TRUE(builder.AddDevice(second).ok());
  absl::StatusOr<Trace> trace = std::move(builder).Build();
  ASSERT_TRUE(trace.ok());
  const std::string path = TempPath("two.log");
  absl::Status status = WriteDmLogWrites(*trace, path);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("holds one device, the trace has 2"));
  EXPECT_FALSE(FileExists(path));
  EXPECT_FALSE(TempFilesLeft(path));
}

TEST(DmLogWritesWriterTest, RejectsSectorSizesTheFormatCannotHold) {
  TraceBuilder builder = OneDevice(256);
  absl::StatusOr<Trace> trace = std::move(builder).Build();
  ASSERT_TRUE(trace.ok());
  absl::Status status = WriteDmLogWrites(*trace, TempPath("small.log"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("sectors of 256 bytes"));
}

TEST(DmLogWritesWriterTest, RejectsABaseImage) {
  const std::string base(64 * 512, 'b');
  TraceBuilder builder = OneDevice(512, base);
  absl::StatusOr<Trace> trace = std::move(builder).Build();
  ASSERT_TRUE(trace.ok()) << trace.status();
  absl::Status status = WriteDmLogWrites(*trace, TempPath("base.log"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("has a base image"));
}

TEST(DmLogWritesWriterTest, RejectsMarksTheFormatCannotHold) {
  {
    TraceBuilder builder = OneDevice();
    builder.AddMark("ok", 0);
    builder.AddMark(std::string(480, 'x'), 1);
    absl::StatusOr<Trace> trace = std::move(builder).Build();
    absl::Status status = WriteDmLogWrites(*trace, TempPath("long.log"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(),
                HasSubstr("is 480 bytes long; a 512-byte entry holds 479"));
    EXPECT_THAT(status.message(), HasSubstr("mark 1"));
  }
  {
    TraceBuilder builder = OneDevice();
    builder.AddMark(std::string("a\0b", 3), 0);
    absl::StatusOr<Trace> trace = std::move(builder).Build();
    absl::Status status = WriteDmLogWrites(*trace, TempPath("nul.log"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("mark 0 holds a NUL byte"));
  }
}

TEST(DmLogWritesWriterTest, MissingDirectory) {
  TraceBuilder builder = OneDevice();
  absl::StatusOr<Trace> trace = std::move(builder).Build();
  ASSERT_TRUE(trace.ok());
  const std::string path = TempPath("no/such/dir/x.log");
  absl::Status status = WriteDmLogWrites(*trace, path);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path + ".tmp"));
  EXPECT_THAT(status.message(), HasSubstr("No such file or directory"));
}

TEST(DmLogWritesWriterTest, WriteFailureLeavesNoPartialFile) {
  TraceBuilder builder = OneDevice();
  const std::string data = PatternData("w", 64, 512);
  ASSERT_TRUE(builder.SubmitAndComplete(WriteOp(0, 0, 64, data), 0).ok());
  absl::StatusOr<Trace> trace = std::move(builder).Build();
  ASSERT_TRUE(trace.ok());
  const std::string path = TempPath("full.log");
  const std::string before(1000, 'k');
  WriteFileOrDie(path, before);
  absl::Status status;
  {
    FileSizeLimit limit(16384);
    ASSERT_TRUE(limit.ok());
    status = WriteDmLogWrites(*trace, path);
  }
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cannot write " + path + ".tmp-"));
  EXPECT_THAT(status.message(), HasSubstr("File too large"));
  EXPECT_FALSE(TempFilesLeft(path));
  EXPECT_EQ(ReadFileOrDie(path), before);
}

}  // namespace
}  // namespace crashenum
