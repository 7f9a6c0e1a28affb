#include "traces/trace_reader.h"

#include <string>

#include "absl/status/status.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "traces/internal/dm_log_format.h"
#include "traces/internal/dm_log_test_util.h"

namespace crashenum {
namespace {

using internal_traces::kDmLogFua;
using internal_traces::RawDmLog;
using internal_traces::TempPath;
using internal_traces::WriteFileOrDie;
using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = TempPath(name);
  WriteFileOrDie(path, bytes);
  return path;
}

TEST(TraceReaderTest, DetectsDmLogWritesByMagicNotName) {
  RawDmLog log;
  log.Write(0, 1);
  for (const char* name : {"trace.log", "trace.bin", "x.blktrace.0", "noext"}) {
    absl::StatusOr<TraceFormat> format =
        DetectFormat(WriteTemp(name, log.Bytes()));
    ASSERT_TRUE(format.ok()) << format.status();
    EXPECT_EQ(*format, TraceFormat::kDmLogWrites);
  }
  EXPECT_EQ(TraceFormatName(TraceFormat::kDmLogWrites), "dm-log-writes");
}

TEST(TraceReaderTest, UnknownMagicShowsTheFirstBytes) {
  const std::string path =
      WriteTemp("mystery.log", std::string("\x01\x02\x03\x04\x05\x06\x07\x08"
                                           "more bytes after",
                                           24));
  absl::StatusOr<TraceFormat> format = DetectFormat(path);
  EXPECT_EQ(format.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      format.status().message(),
      path + ": unknown trace format (first 8 bytes: 0x0102030405060708)");
  absl::StatusOr<Trace> trace = ReadTrace(path, {});
  EXPECT_EQ(trace.status(), format.status());
}

TEST(TraceReaderTest, ShortAndEmptyFiles) {
  const std::string short_path = WriteTemp("short", "ab");
  EXPECT_EQ(DetectFormat(short_path).status().message(),
            short_path + ": unknown trace format (first 2 bytes: 0x6162)");
  const std::string empty_path = WriteTemp("empty", "");
  absl::StatusOr<TraceFormat> format = DetectFormat(empty_path);
  EXPECT_EQ(format.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(format.status().message(),
              HasSubstr(empty_path + ": unknown trace format (the file is "
                                     "empty)"));
}

TEST(TraceReaderTest, MissingFile) {
  const std::string path = TempPath("absent.log");
  absl::StatusOr<Trace> trace = ReadTrace(path, {});
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(trace.status().message(), HasSubstr(path));
}

TEST(TraceReaderTest, ReadsDmLogWritesWithoutNotes) {
  RawDmLog log(4096);
  log.Write(2, 1, kDmLogFua);
  log.Mark("done");
  const std::string path = WriteTemp("plain.log", log.Bytes());
  std::string notes = "stale";
  absl::StatusOr<Trace> trace = ReadTrace(path, {}, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(notes, "");
  EXPECT_EQ(trace->format(), "dm-log-writes");
  EXPECT_EQ(trace->ops().size(), 1u);
  EXPECT_EQ(trace->marks().size(), 1u);
  EXPECT_EQ(trace->devices()[0].num_sectors, 3u);

  ReadOptions options;
  options.device_size_bytes = 40960;
  trace = ReadTrace(path, options);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->devices()[0].num_sectors, 10u);
}

TEST(TraceReaderTest, NotesTellAboutEntriesPastNrEntries) {
  RawDmLog log;
  log.Write(0, 1);
  log.Write(1, 1);
  log.Write(2, 1);
  log.set_nr_entries(1);
  const std::string path = WriteTemp("lag.log", log.Bytes());

  std::string notes;
  absl::StatusOr<Trace> trace = ReadTrace(path, {}, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->ops().size(), 1u);
  EXPECT_EQ(notes, path +
                       ": the log holds 2 more valid entries past nr_entries "
                       "(1); use --read-past-end to read them\n");

  ReadOptions options;
  options.read_past_end = true;
  trace = ReadTrace(path, options, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->ops().size(), 3u);
  EXPECT_EQ(notes, path +
                       ": read 2 valid entries past the super block's "
                       "nr_entries (1)\n");
}

TEST(TraceReaderTest, ReaderErrorsPassThrough) {
  RawDmLog log;
  log.Write(0, 1);
  log.set_nr_entries(5);
  const std::string path = WriteTemp("truncated.log", log.Bytes());
  absl::StatusOr<Trace> trace = ReadTrace(path, {});
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trace.status().message(),
              HasSubstr(path + ": entry 1 at byte 1536: truncated: superblock "
                               "says 5 entries, file holds 1"));
}

}  // namespace
}  // namespace crashenum
