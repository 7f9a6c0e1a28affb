#include "traces/crashenum_format.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "traces/dm_log_writes.h"
#include "traces/internal/crashenum_layout.h"
#include "traces/internal/crc32c.h"
#include "traces/internal/dm_log_test_util.h"
#include "traces/internal/little_endian.h"
#include "traces/internal/test_traces.h"
#include "traces/trace_reader.h"

namespace crashenum {
namespace {

using internal_traces::AppendLittleEndian;
using internal_traces::Crc32c;
using internal_traces::DiscardOp;
using internal_traces::EncodeComplete;
using internal_traces::EncodeDevice;
using internal_traces::EncodeEnd;
using internal_traces::EncodeFileHeader;
using internal_traces::EncodeMark;
using internal_traces::EncodeRecord;
using internal_traces::EncodeRecordHeader;
using internal_traces::EncodeSubmit;
using internal_traces::EndCounts;
using internal_traces::FileSizeLimit;
using internal_traces::FlushOp;
using internal_traces::kCompleteRecord;
using internal_traces::kDataRecord;
using internal_traces::kDeviceRecord;
using internal_traces::kEndRecord;
using internal_traces::kFileHeaderSize;
using internal_traces::kInfoRecord;
using internal_traces::kMarkRecord;
using internal_traces::kRecordHeaderSize;
using internal_traces::kRecordLengthOffset;
using internal_traces::kRecordTypeOffset;
using internal_traces::kSubmitRecord;
using internal_traces::LastingBytes;
using internal_traces::LoadLittleEndian;
using internal_traces::MakeDevice;
using internal_traces::ReadFileOrDie;
using internal_traces::RecordTypeName;
using internal_traces::RichTrace;
using internal_traces::StoreLittleEndian;
using internal_traces::TempFilesLeft;
using internal_traces::TempPath;
using internal_traces::TraceDifference;
using internal_traces::WriteFileOrDie;
using internal_traces::WriteOp;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kFixtures[] = {
    "tests/testdata/ext4-append-rename.log",
    "tests/testdata/ext4-append-rename-nobarrier.log",
};

absl::StatusOr<Trace> Read(const std::string& path,
                           std::string* notes = nullptr) {
  std::string ignored;
  return ReadCrashenumTrace(path, CrashenumReadOptions(),
                            notes != nullptr ? notes : &ignored);
}

// Everything but source_entry numbers, plus completion bookkeeping.
std::string Difference(const Trace& a, const Trace& b) {
  std::string d = TraceDifference(a, b, /*source_entries=*/false);
  if (!d.empty()) return d;
  for (uint32_t op = 0; op < a.ops().size(); ++op) {
    if (a.complete_event(op) != b.complete_event(op) ||
        a.complete_status(op) != b.complete_status(op)) {
      return absl::StrCat("completion of op ", op);
    }
  }
  return "";
}

// The byte offsets of the records of a crashenum file, and its size last.
std::vector<uint64_t> RecordOffsets(absl::string_view file) {
  std::vector<uint64_t> offsets;
  uint64_t offset = kFileHeaderSize;
  while (offset + kRecordHeaderSize <= file.size()) {
    offsets.push_back(offset);
    offset += kRecordHeaderSize +
              LoadLittleEndian<uint64_t>(file, offset + kRecordLengthOffset);
  }
  offsets.push_back(file.size());
  return offsets;
}

std::string WriteRich() {
  const std::string path = TempPath("rich.cet");
  std::unique_ptr<CrashenumTraceWriter> w = *CrashenumTraceWriter::Create(path);
  EXPECT_TRUE(w->AddInfo("tool", "crashenum test").ok());
  EXPECT_TRUE(AppendTrace(RichTrace(), w.get()).ok());
  EXPECT_TRUE(w->Finish().ok());
  return path;
}

// A crashenum file assembled record by record, for hostile input.
class RawFile {
 public:
  explicit RawFile(uint16_t major = 1, uint16_t minor = 0)
      : bytes_(EncodeFileHeader(major, minor)) {}

  // Appends a record and returns the file offset of its payload.
  uint64_t Add(uint16_t type, absl::string_view payload) {
    bytes_ += EncodeRecord(type, payload);
    ++counts_.records;
    return bytes_.size() - payload.size();
  }
  void Device(absl::string_view name, uint32_t ss, uint64_t num_sectors,
              uint64_t base_offset = 0, uint64_t base_length = 0) {
    Add(kDeviceRecord,
        EncodeDevice(ss, name, num_sectors, base_offset, base_length));
    ++counts_.devices;
  }
  void Submit(uint32_t op, uint32_t device, uint32_t kind, uint32_t flags,
              uint64_t sector, uint64_t n, uint64_t data_offset,
              uint64_t data_length) {
    Add(kSubmitRecord, EncodeSubmit({op, device, kind, flags, sector, n,
                                     data_offset, data_length}));
    ++counts_.ops;
  }
  void Complete(uint32_t op, int32_t status) {
    Add(kCompleteRecord, EncodeComplete(op, status));
    ++counts_.completions;
  }
  void Mark(absl::string_view label, absl::string_view extra = {}) {
    Add(kMarkRecord, absl::StrCat(EncodeMark(label), extra));
    ++counts_.marks;
  }
  void End() {
    EndCounts counts = counts_;
    Add(kEndRecord, EncodeEnd(counts));
  }
  void Append(absl::string_view raw) { bytes_.append(raw.data(), raw.size()); }
  const std::string& bytes() const { return bytes_; }

  // Writes the file and reads it.
  absl::StatusOr<Trace> WriteAndRead(std::string* notes = nullptr) const {
    const std::string path = TempPath("raw.cet");
    WriteFileOrDie(path, bytes_);
    return Read(path, notes);
  }

 private:
  std::string bytes_;
  EndCounts counts_;
};

// A valid file with one device, one write, its completion and a mark.
RawFile SmallRaw(uint16_t minor = 0) {
  RawFile f(1, minor);
  f.Device("disk", 512, 16);
  const uint64_t data = f.Add(kDataRecord, std::string(1024, 'w'));
  f.Submit(0, 0, 0, 0, 4, 2, data, 1024);
  f.Complete(0, 0);
  f.Mark("done");
  return f;
}

TEST(CrashenumFormatTest, RoundTripOfTheRealFixtures) {
  for (const char* fixture : kFixtures) {
    SCOPED_TRACE(fixture);
    absl::StatusOr<Trace> dm = ReadDmLogWrites(fixture, DmLogReadOptions());
    ASSERT_TRUE(dm.ok()) << dm.status();
    const std::string path = TempPath("fixture.cet");
    ASSERT_TRUE(WriteCrashenumTrace(*dm, path).ok());
    std::string notes;
    absl::StatusOr<Trace> back = Read(path, &notes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->format(), "crashenum");
    EXPECT_EQ(back->path(), path);
    EXPECT_EQ(notes, "");
    EXPECT_EQ(Difference(*dm, *back), "");
    ASSERT_EQ(back->ops().size(), dm->ops().size());
    // Data views the mapped file: compare every byte.
    for (size_t i = 0; i < dm->ops().size(); ++i) {
      ASSERT_EQ(back->ops()[i].data, dm->ops()[i].data) << "op " << i;
    }
  }
}

TEST(CrashenumFormatTest, RoundTripOfEveryFeature) {
  const Trace trace = RichTrace();
  const std::string path = TempPath("rich-whole.cet");
  ASSERT_TRUE(WriteCrashenumTrace(trace, path).ok());
  std::string notes;
  absl::StatusOr<Trace> back = Read(path, &notes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(notes, "");
  EXPECT_EQ(Difference(trace, *back), "");
  ASSERT_EQ(back->devices().size(), 2u);
  EXPECT_EQ(back->devices()[1].name, "log");
  EXPECT_EQ(back->devices()[1].base, LastingBytes("base", 8 * 4096));
  EXPECT_TRUE(back->devices()[0].base.empty());
  EXPECT_EQ(back->complete_status(2), -5);
  EXPECT_EQ(back->complete_status(4), -28);
  EXPECT_EQ(back->complete_event(6), back->events().size());  // in flight
  EXPECT_EQ(back->ops()[1].flags, kFua | kSync);
  EXPECT_EQ(back->ops()[4].flags, kFua);
  EXPECT_EQ(back->ops()[5].flags, kPreflush);
  ASSERT_EQ(back->marks().size(), 3u);
  EXPECT_EQ(back->marks()[2].label, "");
  // No temporary file is left next to it.
  EXPECT_FALSE(TempFilesLeft(path));
}

TEST(CrashenumFormatTest, ReadTraceDetectsTheFormat) {
  const std::string path = WriteRich();
  absl::StatusOr<TraceFormat> format = DetectFormat(path);
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(*format, TraceFormat::kCrashenum);
  EXPECT_EQ(TraceFormatName(*format), "crashenum");
  std::string notes;
  ReadOptions options;
  options.device_size_bytes = 1 << 20;
  absl::StatusOr<Trace> trace = ReadTrace(path, options, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Difference(*trace, RichTrace()), "");
  EXPECT_EQ(notes, absl::StrCat(path, ": info tool: crashenum test\n", path,
                                ": the file records each device's size; the "
                                "device size given is ignored\n"));
}

TEST(CrashenumFormatTest, StreamingWriterWritesTheSameBytes) {
  const Trace trace = RichTrace();
  const std::string whole = TempPath("whole.cet");
  ASSERT_TRUE(WriteCrashenumTrace(trace, whole).ok());

  const std::string path = TempPath("stream.cet");
  absl::StatusOr<std::unique_ptr<CrashenumTraceWriter>> w =
      CrashenumTraceWriter::Create(path);
  ASSERT_TRUE(w.ok()) << w.status();
  CrashenumTraceWriter& writer = **w;
  EXPECT_EQ(*writer.AddDevice(MakeDevice("disk", 512, 64)), 0u);
  EXPECT_EQ(*writer.AddDevice(
                MakeDevice("log", 4096, 8, LastingBytes("base", 32768))),
            1u);
  ASSERT_TRUE(writer.AddMark("start").ok());
  EXPECT_EQ(*writer.Submit(WriteOp(0, 2, 2, LastingBytes("a", 1024))), 0u);
  EXPECT_EQ(
      *writer.Submit(WriteOp(1, 1, 1, LastingBytes("b", 4096), kFua | kSync)),
      1u);
  EXPECT_EQ(*writer.Submit(WriteOp(0, 3, 1, LastingBytes("c", 512), kMeta)),
            2u);
  ASSERT_TRUE(writer.Complete(1, 0).ok());
  ASSERT_TRUE(writer.Complete(2, -5).ok());
  EXPECT_EQ(*writer.Submit(DiscardOp(0, 10, 20)), 3u);
  ASSERT_TRUE(writer.AddMark("middle").ok());
  ASSERT_TRUE(writer.Complete(0, 0).ok());
  EXPECT_EQ(*writer.Submit(FlushOp(0, kFua)), 4u);
  ASSERT_TRUE(writer.Flush().ok());
  ASSERT_TRUE(writer.Complete(3, 0).ok());
  ASSERT_TRUE(writer.Complete(4, -28).ok());
  EXPECT_EQ(
      *writer.Submit(WriteOp(0, 60, 4, LastingBytes("d", 2048), kPreflush)),
      5u);
  ASSERT_TRUE(writer.Complete(5, 0).ok());
  EXPECT_EQ(*writer.Submit(WriteOp(1, 7, 1, LastingBytes("e", 4096))), 6u);
  ASSERT_TRUE(writer.AddMark("").ok());
  ASSERT_TRUE(writer.Finish().ok());
  EXPECT_TRUE(writer.Finish().ok());  // idempotent

  EXPECT_EQ(ReadFileOrDie(path), ReadFileOrDie(whole));
  absl::StatusOr<Trace> back = Read(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(Difference(trace, *back), "");
}

TEST(CrashenumFormatTest, FlushedPrefixReadsAsATraceWithoutEnd) {
  const std::string path = TempPath("flushed.cet");
  std::unique_ptr<CrashenumTraceWriter> w = *CrashenumTraceWriter::Create(path);
  ASSERT_TRUE(w->AddDevice(MakeDevice("disk", 512, 16)).ok());
  ASSERT_TRUE(w->Submit(WriteOp(0, 0, 1, LastingBytes("x", 512))).ok());
  ASSERT_TRUE(w->Flush().ok());
  std::string notes;
  absl::StatusOr<Trace> prefix = Read(path, &notes);
  ASSERT_TRUE(prefix.ok()) << prefix.status();
  EXPECT_EQ(prefix->ops().size(), 1u);
  EXPECT_EQ(prefix->complete_event(0), prefix->events().size());
  EXPECT_THAT(notes, HasSubstr(path + ": no end record"));
  EXPECT_THAT(notes, HasSubstr("read the 3 whole records"));

  ASSERT_TRUE(w->Complete(0, 0).ok());
  ASSERT_TRUE(w->Finish().ok());
  absl::StatusOr<Trace> full = Read(path, &notes);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(notes, "");
  EXPECT_EQ(full->complete_event(0), 1u);
}

TEST(CrashenumFormatTest, InfoRecordsBecomeNotes) {
  const std::string path = WriteRich();
  std::string notes;
  ASSERT_TRUE(Read(path, &notes).ok());
  EXPECT_EQ(notes, path + ": info tool: crashenum test\n");

  std::unique_ptr<CrashenumTraceWriter> w = *CrashenumTraceWriter::Create(path);
  ASSERT_TRUE(w->AddInfo("kernel", "6.1.0-13-amd64").ok());
  ASSERT_TRUE(w->AddDevice(MakeDevice("disk", 512, 1)).ok());
  ASSERT_TRUE(w->AddInfo("options", "line 1\nline 2").ok());
  ASSERT_TRUE(w->AddInfo("empty", "").ok());
  ASSERT_TRUE(w->Finish().ok());
  ASSERT_TRUE(Read(path, &notes).ok());
  EXPECT_EQ(notes, absl::StrCat(path, ": info kernel: 6.1.0-13-amd64\n", path,
                                ": info options: line 1\\nline 2\n", path,
                                ": info empty: \n"));
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> info =
      ReadCrashenumInfo(path);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->size(), 3u);
  EXPECT_EQ((*info)[1].first, "options");
  EXPECT_EQ((*info)[1].second, "line 1\nline 2");
}

TEST(CrashenumFormatTest, AppendTraceOffsetsDevicesAndOps) {
  const std::string path = TempPath("append.cet");
  std::unique_ptr<CrashenumTraceWriter> w = *CrashenumTraceWriter::Create(path);
  ASSERT_TRUE(w->AddDevice(MakeDevice("first", 512, 4)).ok());
  ASSERT_TRUE(w->Submit(WriteOp(0, 0, 1, LastingBytes("f", 512))).ok());
  ASSERT_TRUE(AppendTrace(RichTrace(), w.get()).ok());
  ASSERT_TRUE(w->Finish().ok());
  absl::StatusOr<Trace> back = Read(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->devices().size(), 3u);
  EXPECT_EQ(back->devices()[2].name, "log");
  ASSERT_EQ(back->ops().size(), 8u);
  EXPECT_EQ(back->ops()[2].device, 2u);  // RichTrace's op 1 on "log"
  EXPECT_EQ(back->complete_status(3), -5);
}

TEST(CrashenumFormatTest, WriterRejectsBadCallsAndStaysUsable) {
  const std::string path = TempPath("bad-calls.cet");
  std::unique_ptr<CrashenumTraceWriter> w = *CrashenumTraceWriter::Create(path);
  ASSERT_TRUE(w->AddDevice(MakeDevice("disk", 512, 8)).ok());
  const auto expect = [&](const absl::Status& s, absl::StatusCode code,
                          absl::string_view message) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_THAT(s.message(), HasSubstr(message));
    EXPECT_THAT(s.message(), HasSubstr(path));
  };
  const absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  expect(w->AddDevice(MakeDevice("disk", 512, 8)).status(), kInvalid,
         "a device of that name exists");
  expect(w->AddDevice(MakeDevice("", 512, 8)).status(), kInvalid, "no name");
  expect(w->AddDevice(MakeDevice("odd", 500, 8)).status(), kInvalid,
         "sector size 500");
  expect(w->AddDevice(MakeDevice("small", 512, 8, LastingBytes("s", 100)))
             .status(),
         kInvalid, "base image has 100 bytes");
  expect(w->Submit(WriteOp(1, 0, 1, LastingBytes("x", 512))).status(), kInvalid,
         "unknown device 1");
  expect(w->Submit(WriteOp(0, 7, 2, LastingBytes("x", 1024))).status(),
         kInvalid, "lies past the end of device disk");
  expect(w->Submit(WriteOp(0, 0, 1, LastingBytes("x", 100))).status(), kInvalid,
         "carries 100 bytes");
  expect(w->Submit(WriteOp(0, 0, 1, LastingBytes("x", 512), 1u << 7)).status(),
         kInvalid, "unknown flag bits 0x80");
  Op flush = FlushOp(0);
  flush.num_sectors = 1;
  expect(w->Submit(flush).status(), kInvalid, "a flush carries no sectors");
  Op discard = DiscardOp(0, 0, 1);
  discard.flags = kFua;
  expect(w->Submit(discard).status(), kInvalid, "a discard carries no flags");
  expect(w->Submit(DiscardOp(0, 0, 0)).status(), kInvalid, "discard of 0");
  expect(w->Complete(0, 0), absl::StatusCode::kFailedPrecondition,
         "which was not submitted");
  ASSERT_EQ(*w->Submit(WriteOp(0, 0, 1, LastingBytes("x", 512))), 0u);
  expect(w->Complete(0, 5), kInvalid, "status 5");
  ASSERT_TRUE(w->Complete(0, -5).ok());
  expect(w->Complete(0, 0), absl::StatusCode::kFailedPrecondition,
         "completed twice");
  expect(w->AddInfo("", "v"), kInvalid, "info key is empty");
  ASSERT_TRUE(w->Finish().ok());
  expect(w->AddMark("late"), absl::StatusCode::kFailedPrecondition,
         "already finished");
  absl::StatusOr<Trace> back = Read(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ops().size(), 1u);
  EXPECT_EQ(back->complete_status(0), -5);
}

TEST(CrashenumFormatTest, CreateInAMissingDirectory) {
  const std::string path = TempPath("no/such/dir/x.cet");
  absl::StatusOr<std::unique_ptr<CrashenumTraceWriter>> w =
      CrashenumTraceWriter::Create(path);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(w.status().message(), HasSubstr("cannot create " + path));
  absl::Status s = WriteCrashenumTrace(RichTrace(), path);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr(path + ".tmp-"));
}

// A full disk in the middle of the trace, for small buffered records and for
// a record larger than the buffer: the error names the file, the writer stays
// broken, and the file holds the records written whole.
TEST(CrashenumFormatTest, WriteErrorsLeaveAReadablePrefix) {
  for (const uint64_t write_sectors : {uint64_t{8}, uint64_t{4096}}) {
    SCOPED_TRACE(write_sectors);
    const std::string path = TempPath("full.cet");
    std::unique_ptr<CrashenumTraceWriter> w =
        *CrashenumTraceWriter::Create(path);
    ASSERT_TRUE(w->AddDevice(MakeDevice("disk", 512, 1 << 20)).ok());
    ASSERT_TRUE(w->Flush().ok());
    const std::string& data = LastingBytes("full", write_sectors * 512);
    absl::Status status;
    {
      FileSizeLimit limit(3 * data.size() + 1000);
      ASSERT_TRUE(limit.ok());
      for (int i = 0; i < 10 && status.ok(); ++i) {
        status = w->Submit(WriteOp(0, i * write_sectors, write_sectors, data))
                     .status();
        if (status.ok()) status = w->Flush();
      }
      if (status.ok()) status = w->Finish();
    }
    EXPECT_FALSE(status.ok());
    EXPECT_THAT(status.message(), HasSubstr("cannot write " + path));
    EXPECT_THAT(status.message(), HasSubstr("File too large"));
    EXPECT_EQ(w->AddMark("after").code(), status.code());
    EXPECT_EQ(w->Finish().code(), status.code());
    EXPECT_EQ(w->Finish().code(), status.code());

    std::string notes;
    absl::StatusOr<Trace> prefix = Read(path, &notes);
    ASSERT_TRUE(prefix.ok()) << prefix.status();
    EXPECT_GE(prefix->ops().size(), 2u);
    EXPECT_LE(prefix->ops().size(), 3u);
    EXPECT_THAT(notes, HasSubstr("no end record"));
  }
}

TEST(CrashenumFormatTest, AFlippedByteInAnyRecordNamesThatRecord) {
  const std::string path = WriteRich();
  const std::string good = ReadFileOrDie(path);
  const std::vector<uint64_t> offsets = RecordOffsets(good);
  std::vector<bool> seen_type(8, false);
  const std::string bad_path = TempPath("flipped.cet");
  for (size_t r = 0; r + 1 < offsets.size(); ++r) {
    const uint16_t type =
        LoadLittleEndian<uint16_t>(good, offsets[r] + kRecordTypeOffset);
    seen_type[type] = true;
    const std::string where =
        absl::StrCat(bad_path, ": record ", r, " (", RecordTypeName(type),
                     ") at byte ", offsets[r], ": ");
    for (uint64_t i = offsets[r]; i < offsets[r + 1];
         i += (i - offsets[r] < kRecordHeaderSize ? 1 : 7)) {
      std::string bad = good;
      bad[i] ^= 0x10;
      WriteFileOrDie(bad_path, bad);
      absl::StatusOr<Trace> trace = Read(bad_path);
      ASSERT_FALSE(trace.ok()) << "byte " << i;
      EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
      const bool in_type = i >= offsets[r] + kRecordTypeOffset &&
                           i < offsets[r] + kRecordTypeOffset + 2;
      if (in_type) {
        EXPECT_THAT(trace.status().message(),
                    HasSubstr(absl::StrCat("record ", r, " ")));
      } else {
        EXPECT_THAT(trace.status().message(), HasSubstr(where)) << "byte " << i;
      }
      EXPECT_THAT(trace.status().message(), HasSubstr("checksum mismatch"));
    }
  }
  for (uint16_t type = kInfoRecord; type <= kEndRecord; ++type) {
    EXPECT_TRUE(seen_type[type]) << RecordTypeName(type);
  }
  for (uint64_t i = 0; i < kFileHeaderSize; ++i) {
    std::string bad = good;
    bad[i] ^= 0x01;
    WriteFileOrDie(bad_path, bad);
    absl::StatusOr<Trace> trace = Read(bad_path);
    ASSERT_FALSE(trace.ok());
    EXPECT_THAT(trace.status().message(),
                HasSubstr(bad_path + ": file header at byte "));
  }
}

TEST(CrashenumFormatTest, TruncationAtEveryByte) {
  const std::string good = ReadFileOrDie(WriteRich());
  const std::vector<uint64_t> offsets = RecordOffsets(good);
  // Records 0 and 1 are the info record and the first device.
  const uint64_t first_valid = offsets[2];
  const std::string path = TempPath("cut.cet");
  uint64_t prefixes = 0;
  for (uint64_t n = 0; n < good.size(); ++n) {
    WriteFileOrDie(path, absl::string_view(good).substr(0, n));
    std::string notes;
    absl::StatusOr<Trace> trace = Read(path, &notes);
    const bool boundary =
        std::find(offsets.begin(), offsets.end(), n) != offsets.end();
    if (boundary && n >= first_valid) {
      ASSERT_TRUE(trace.ok()) << n << ": " << trace.status();
      EXPECT_THAT(notes, HasSubstr("no end record")) << n;
      ++prefixes;
      continue;
    }
    ASSERT_FALSE(trace.ok()) << n;
    EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(trace.status().message(), HasSubstr(path));
    if (n < kFileHeaderSize) {
      EXPECT_THAT(trace.status().message(), HasSubstr("too short"));
    } else if (!boundary) {
      EXPECT_THAT(trace.status().message(), HasSubstr("truncated"));
      EXPECT_THAT(trace.status().message(), HasSubstr(" at byte "));
    } else {
      EXPECT_THAT(trace.status().message(), HasSubstr("no device"));
    }
  }
  EXPECT_EQ(prefixes, offsets.size() - 3);
}

TEST(CrashenumFormatTest, NewerMinorVersionSkipsUnknownRecordsWithANote) {
  RawFile f = SmallRaw(/*minor=*/3);
  f.Add(99, "a record type from the future");
  f.Add(99, "");
  f.Add(1000, "x");
  f.Mark("longer", "and a field appended by a newer minor version");
  f.End();
  std::string notes;
  absl::StatusOr<Trace> trace = f.WriteAndRead(&notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->marks().size(), 2u);
  EXPECT_EQ(trace->marks()[1].label, "longer");
  EXPECT_THAT(notes, HasSubstr("skipped 3 records of types (99, 1000) that "
                               "this reader does not know; the file is format "
                               "1.3, this reader knows 1.0"));
  EXPECT_THAT(notes, HasSubstr("ignored fields unknown to this reader in 1 "
                               "records"));
  EXPECT_THAT(notes, Not(HasSubstr("no end record")));
}

TEST(CrashenumFormatTest, UnknownRecordsOfAKnownVersionAreErrors) {
  RawFile f = SmallRaw();
  f.Add(99, "?");
  absl::StatusOr<Trace> trace = f.WriteAndRead();
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trace.status().message(),
              HasSubstr("record 5 (type 99) at byte "));
  EXPECT_THAT(trace.status().message(),
              HasSubstr("unknown record type 99 in a format 1.0 file"));

  RawFile g = SmallRaw();
  g.Mark("m", "x");
  trace = g.WriteAndRead();
  EXPECT_THAT(trace.status().message(), HasSubstr("record 5 (mark) at byte "));
  EXPECT_THAT(trace.status().message(),
              HasSubstr("the payload has 1 bytes past its fields"));
}

TEST(CrashenumFormatTest, OtherMajorVersionsAreErrors) {
  RawFile f(2, 0);
  f.Device("disk", 512, 1);
  absl::StatusOr<Trace> trace = f.WriteAndRead();
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trace.status().message(),
              HasSubstr("file header at byte 8: format version 2.0 is newer "
                        "than this reader's 1.0"));
  RawFile old(0, 9);
  trace = old.WriteAndRead();
  EXPECT_THAT(trace.status().message(), HasSubstr("0.9 is older"));
}

TEST(CrashenumFormatTest, HugeLengthsAreErrorsWithoutAllocation) {
  {
    RawFile f = SmallRaw();
    f.Append(EncodeRecordHeader(kDataRecord, uint64_t{1} << 62, 0));
    absl::StatusOr<Trace> trace = f.WriteAndRead();
    EXPECT_THAT(trace.status().message(),
                HasSubstr("record 5 (data) at byte "));
    EXPECT_THAT(trace.status().message(),
                HasSubstr("truncated: the payload of 4611686018427387904 "
                          "bytes runs past the end of the file (0 bytes "
                          "follow the header)"));
  }
  {
    RawFile f = SmallRaw();
    std::string p;
    AppendLittleEndian<uint32_t>(0xffffffff, &p);
    p += "short";
    f.Add(kMarkRecord, p);
    EXPECT_THAT(f.WriteAndRead().status().message(),
                HasSubstr("its label runs past the payload"));
  }
  {
    RawFile f;
    f.Device("disk", 512, ~uint64_t{0});
    EXPECT_THAT(f.WriteAndRead().status().message(),
                HasSubstr("sectors overflow 64 bits"));
  }
  {
    RawFile f;
    std::string p;
    AppendLittleEndian<uint32_t>(512, &p);
    AppendLittleEndian<uint32_t>(0xfffffff0, &p);  // name length
    p += std::string(24, '\0') + "disk";
    f.Add(kDeviceRecord, p);
    EXPECT_THAT(f.WriteAndRead().status().message(),
                HasSubstr("its name runs past the payload"));
  }
}

// An end record payload with the given counts.
std::string EndPayload(uint64_t records, uint64_t devices, uint64_t marks) {
  EndCounts counts;
  counts.records = records;
  counts.devices = devices;
  counts.marks = marks;
  return EncodeEnd(counts);
}

TEST(CrashenumFormatTest, MalformedPayloadsAreErrorsNamingTheRecord) {
  struct Case {
    const char* name;
    // Appends the records after a valid device "disk" of 16 sectors.
    std::function<void(RawFile&)> records;
    const char* message;
  };
  const Case cases[] = {
      {"data past the record",
       [](RawFile& f) {
         f.Submit(0, 0, 0, 0, 0, 1, f.Add(kDataRecord, std::string(100, 'd')),
                  512);
       },
       "the 512 bytes at byte 92 are not inside an earlier data record"},
      {"no data record", [](RawFile& f) { f.Submit(0, 0, 0, 0, 0, 1, 0, 512); },
       "the 512 bytes at byte 0 are not inside an earlier data record"},
      {"op numbering",
       [](RawFile& f) {
         f.Submit(0, 0, 1, 0, 0, 0, 0, 0);
         f.Submit(0, 0, 1, 0, 0, 0, 0, 0);
       },
       "op number 0, expected 1"},
      {"kind", [](RawFile& f) { f.Submit(0, 0, 7, 0, 0, 0, 0, 0); },
       "unknown op kind 7"},
      {"flags", [](RawFile& f) { f.Submit(0, 0, 1, 0x100, 0, 0, 0, 0); },
       "unknown flag bits 0x100"},
      {"discard data", [](RawFile& f) { f.Submit(0, 0, 2, 0, 0, 4, 16, 4); },
       "a discard refers to data"},
      {"device", [](RawFile& f) { f.Submit(0, 3, 1, 0, 0, 0, 0, 0); },
       "unknown device 3"},
      {"range", [](RawFile& f) { f.Submit(0, 0, 2, 0, 10, 10, 0, 0); },
       "lies past the end of device disk"},
      {"complete", [](RawFile& f) { f.Complete(0, 0); },
       "completion of unknown op 0"},
      {"status",
       [](RawFile& f) {
         f.Submit(0, 0, 1, 0, 0, 0, 0, 0);
         f.Complete(0, 4);
       },
       "status 4 is not 0 or a negative errno"},
      {"names", [](RawFile& f) { f.Device("disk", 512, 16); },
       "a second device named disk"},
      {"base", [](RawFile& f) { f.Device("other", 512, 16, 16, 8192); },
       "base image: the 8192 bytes at byte 16"},
      {"short base",
       [](RawFile& f) {
         const uint64_t base = f.Add(kDataRecord, std::string(4096, 'b'));
         f.Device("other", 512, 16, base, 4096);
       },
       "base image has 4096 bytes"},
      {"sector size", [](RawFile& f) { f.Device("other", 3, 16); },
       "sector size 3"},
      {"short", [](RawFile& f) { f.Add(kCompleteRecord, "1234"); },
       "a payload of 4 bytes, shorter than the 8"},
      {"after end",
       [](RawFile& f) {
         f.Add(kEndRecord, EndPayload(1, 1, 0));
         f.Mark("after");
       },
       "(end) at byte 72: 29 bytes follow the end record"},
      {"counts",
       [](RawFile& f) {
         f.Mark("m");
         f.Add(kEndRecord, EndPayload(2, 1, 0));
       },
       "it counts 0 marks, the file holds 1"},
      {"tail",
       [](RawFile& f) {
         f.End();
         f.Append("junk");
       },
       "4 bytes follow the end record"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RawFile f;
    f.Device("disk", 512, 16);
    c.records(f);
    absl::StatusOr<Trace> trace = f.WriteAndRead();
    ASSERT_FALSE(trace.ok());
    EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(trace.status().message(), HasSubstr(c.message));
    EXPECT_THAT(trace.status().message(), HasSubstr(") at byte "));
  }
}

TEST(CrashenumFormatTest, ZeroFilledTailIsAnError) {
  RawFile f = SmallRaw();
  const uint64_t at = f.bytes().size();
  f.Append(std::string(4096, '\0'));
  absl::StatusOr<Trace> trace = f.WriteAndRead();
  EXPECT_THAT(trace.status().message(),
              HasSubstr(absl::StrCat("record 5 (type 0) at byte ", at,
                                     ": header checksum mismatch")));
}

// Random damage, both raw and with checksums recomputed so that the damage
// reaches the payload checks: never a crash, a hang or a huge allocation.
TEST(CrashenumFormatTest, RandomCorruptionNeverCrashes) {
  const std::string good = ReadFileOrDie(WriteRich());
  const std::vector<uint64_t> offsets = RecordOffsets(good);
  const std::string path = TempPath("fuzz.cet");
  std::mt19937_64 rng(20240601);
  int accepted = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string bad = good;
    const size_t r = rng() % (offsets.size() - 1);
    const uint64_t begin = offsets[r];
    const uint64_t end = offsets[r + 1];
    const int flips = 1 + rng() % 3;
    for (int i = 0; i < flips; ++i) {
      const uint64_t at = rng() % 3 == 0
                              ? begin + 4 + rng() % (kRecordHeaderSize - 4)
                              : begin + rng() % (end - begin);
      bad[at] = static_cast<char>(rng());
    }
    if (rng() % 4 != 0) {
      // Re-seal the record: a payload CRC over what its header now says,
      // then the header CRC.
      const uint64_t length = std::min<uint64_t>(
          LoadLittleEndian<uint64_t>(bad, begin + kRecordLengthOffset),
          bad.size() - begin - kRecordHeaderSize);
      StoreLittleEndian<uint32_t>(Crc32c(absl::string_view(bad).substr(
                                      begin + kRecordHeaderSize, length)),
                                  begin + 16, &bad);
      StoreLittleEndian<uint32_t>(
          Crc32c(absl::string_view(bad).substr(begin + 4, 16)), begin, &bad);
    }
    if (rng() % 8 == 0) bad.resize(rng() % bad.size());
    WriteFileOrDie(path, bad);
    absl::StatusOr<Trace> trace = Read(path);
    if (trace.ok()) {
      ++accepted;
    } else {
      EXPECT_THAT(trace.status().message(), HasSubstr(path));
    }
  }
  EXPECT_LT(accepted, 3000);
}

}  // namespace
}  // namespace crashenum
