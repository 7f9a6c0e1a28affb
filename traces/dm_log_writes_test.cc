#include "traces/dm_log_writes.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "traces/internal/dm_log_format.h"
#include "traces/internal/dm_log_test_util.h"

namespace crashenum {
namespace {

using internal_traces::kDmLogDiscard;
using internal_traces::kDmLogFlush;
using internal_traces::kDmLogFua;
using internal_traces::kDmLogMark;
using internal_traces::kDmLogMetadata;
using internal_traces::PatternData;
using internal_traces::RawDmLog;
using internal_traces::TempPath;
using internal_traces::WriteFileOrDie;
using ::testing::HasSubstr;

constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
constexpr char kFixture[] = "tests/testdata/ext4-append-rename.log";
constexpr char kNobarrierFixture[] =
    "tests/testdata/ext4-append-rename-nobarrier.log";

// Writes `bytes` to a fresh file and reads it back as a log.
absl::StatusOr<Trace> ReadBytes(const std::string& bytes,
                                const DmLogReadOptions& options = {},
                                DmLogInfo* info = nullptr,
                                std::string* path = nullptr) {
  const std::string file = TempPath("test.log");
  WriteFileOrDie(file, bytes);
  if (path != nullptr) *path = file;
  return ReadDmLogWrites(file, options, info);
}

TEST(DmLogWritesTest, MagicIsTheKernelsOnDiskBytes) {
  const std::string bytes = RawDmLog().Bytes();
  EXPECT_EQ(bytes.substr(0, 8), std::string("rhswfsj\0", 8));
  EXPECT_EQ(bytes.substr(8, 8), std::string("\1\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(bytes.substr(24, 4), std::string("\0\2\0\0", 4));
}

TEST(DmLogWritesTest, EmptyLog) {
  DmLogInfo info;
  absl::StatusOr<Trace> trace = ReadBytes(RawDmLog().Bytes(), {}, &info);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->format(), "dm-log-writes");
  ASSERT_EQ(trace->devices().size(), 1u);
  EXPECT_EQ(trace->devices()[0].name, "dev0");
  EXPECT_EQ(trace->devices()[0].num_sectors, 0u);
  EXPECT_TRUE(trace->ops().empty());
  EXPECT_TRUE(trace->events().empty());
  EXPECT_EQ(info.nr_entries_in_superblock, 0u);
  EXPECT_EQ(info.entries_read, 0u);
  EXPECT_EQ(info.extra_entries_after_end, 0u);
  EXPECT_EQ(info.sectorsize, 512u);
}

class AllFlagsTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(AllFlagsTest, MapsEveryEntryKind) {
  const uint32_t ss = GetParam();
  RawDmLog log(ss);
  log.set_super_padding(0xdeadbeef);         // the kernel leaves garbage there
  log.Write(8, 2, 0, "plain");               // 0
  log.Write(10, 1, kDmLogFlush, "pre");      // 1
  log.Write(11, 1, kDmLogFua, "fua");        // 2
  log.Write(12, 1, kDmLogMetadata, "meta");  // 3
  log.Write(13, 3, kDmLogFlush | kDmLogFua | kDmLogMetadata, "all");  // 4
  log.Flush();                                                        // 5
  log.Mark("fsync a.txt");                                            // 6
  log.Flush(kDmLogFua);                                               // 7
  log.Discard(100, 28);                                               // 8
  log.Write(4, 1, 0, "last");                                         // 9
  DmLogInfo info;
  std::string path;
  absl::StatusOr<Trace> trace = ReadBytes(log.Bytes(), {}, &info, &path);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->path(), path);
  EXPECT_EQ(info.sectorsize, ss);
  EXPECT_EQ(info.nr_entries_in_superblock, 10u);
  EXPECT_EQ(info.entries_read, 10u);

  const Device& dev = trace->devices()[0];
  EXPECT_EQ(dev.sector_size, ss);
  EXPECT_EQ(dev.num_sectors, 128u);  // the discard's end

  struct Want {
    OpKind kind;
    uint64_t sector, num_sectors;
    uint32_t flags;
    const char* pattern;  // nullptr: no data
    uint64_t entry;
  };
  const std::vector<Want> want = {
      {OpKind::kWrite, 8, 2, 0, "plain", 0},
      {OpKind::kWrite, 10, 1, kPreflush, "pre", 1},
      {OpKind::kWrite, 11, 1, kFua, "fua", 2},
      {OpKind::kWrite, 12, 1, kMeta, "meta", 3},
      {OpKind::kWrite, 13, 3, kPreflush | kFua | kMeta, "all", 4},
      {OpKind::kFlush, 0, 0, 0, nullptr, 5},
      {OpKind::kFlush, 0, 0, kFua, nullptr, 7},
      {OpKind::kDiscard, 100, 28, 0, nullptr, 8},
      {OpKind::kWrite, 4, 1, 0, "last", 9},
  };
  ASSERT_EQ(trace->ops().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("op ", i));
    const Op& op = trace->ops()[i];
    EXPECT_EQ(op.kind, want[i].kind);
    EXPECT_EQ(op.device, 0u);
    EXPECT_EQ(op.sector, want[i].sector);
    EXPECT_EQ(op.num_sectors, want[i].num_sectors);
    EXPECT_EQ(op.flags, want[i].flags);
    EXPECT_EQ(op.source_entry, want[i].entry);
    if (want[i].pattern == nullptr) {
      EXPECT_TRUE(op.data.empty());
    } else {
      EXPECT_EQ(op.data, PatternData(want[i].pattern, want[i].num_sectors, ss));
    }
  }

  // Write data are views of one mapping of the file, not copies: the data
  // of op 0 and op 8 lie 17 sectors apart in the log.
  EXPECT_EQ(trace->ops()[8].data.data() - trace->ops()[0].data.data(),
            static_cast<std::ptrdiff_t>(17 * ss));

  // Each op is a submit followed at once by its complete; the mark sits
  // between entries 5 and 7.
  ASSERT_EQ(trace->events().size(), 2 * want.size() + 1);
  ASSERT_EQ(trace->marks().size(), 1u);
  EXPECT_EQ(trace->marks()[0].label, "fsync a.txt");
  EXPECT_EQ(trace->marks()[0].event, 12u);
  const Event& mark = trace->events()[12];
  EXPECT_EQ(mark.kind, EventKind::kMark);
  EXPECT_EQ(mark.source_entry, 6u);
  for (uint32_t op = 0; op < want.size(); ++op) {
    const uint32_t submit = 2 * op + (op >= 6 ? 1 : 0);
    EXPECT_EQ(trace->submit_event(op), submit);
    EXPECT_EQ(trace->complete_event(op), submit + 1);
    EXPECT_EQ(trace->complete_status(op), 0);
    EXPECT_EQ(trace->events()[submit].kind, EventKind::kSubmit);
    EXPECT_EQ(trace->events()[submit + 1].kind, EventKind::kComplete);
    EXPECT_EQ(trace->events()[submit + 1].source_entry, want[op].entry);
  }
}

INSTANTIATE_TEST_SUITE_P(SectorSizes, AllFlagsTest,
                         ::testing::Values(512u, 4096u));

// A 1 GiB write in a sparse log is read without touching its data.
TEST(DmLogWritesTest, LargeLogIsNotReadIntoMemory) {
  constexpr uint64_t kSectors = uint64_t{1} << 21;  // 1 GiB of 512 bytes
  RawDmLog log;
  log.Mark("start");
  log.Entry(0, kSectors, kDmLogFua, 0);
  const std::string path = TempPath("large.log");
  WriteFileOrDie(path, log.Bytes());
  ASSERT_EQ(::truncate(path.c_str(), 3 * 512 + kSectors * 512), 0);
  rusage before;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &before), 0);
  absl::StatusOr<Trace> trace = ReadDmLogWrites(path, {});
  ASSERT_TRUE(trace.ok()) << trace.status();
  rusage after;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &after), 0);
  ASSERT_EQ(trace->ops().size(), 1u);
  EXPECT_EQ(trace->ops()[0].data.size(), kSectors * 512);
  EXPECT_EQ(trace->devices()[0].num_sectors, kSectors);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024);  // KiB
  ::unlink(path.c_str());
}

TEST(DmLogWritesTest, LongestMarkFitsTheHeader) {
  for (uint32_t ss : {512u, 4096u}) {
    RawDmLog log(ss);
    const std::string text(ss - 33, 'm');
    log.Mark(text);
    absl::StatusOr<Trace> trace = ReadBytes(log.Bytes());
    ASSERT_TRUE(trace.ok()) << trace.status();
    ASSERT_EQ(trace->marks().size(), 1u);
    EXPECT_EQ(trace->marks()[0].label, text);
  }
}

TEST(DmLogWritesTest, InlineDataIsZeroPadded) {
  RawDmLog log;
  const std::string payload(700, 'a');
  std::string zero_padded = payload + std::string(324, '\0');
  std::string garbage_padded = payload + std::string(324, 'g');
  log.Entry(5, 2, 0, 700, {}, zero_padded);
  log.Entry(9, 2, kDmLogFua, 700, {}, garbage_padded);
  log.Entry(20, 1, 0, 512, {}, std::string(512, 'f'));  // data_len == data
  absl::StatusOr<Trace> trace = ReadBytes(log.Bytes());
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_EQ(trace->ops().size(), 3u);
  EXPECT_EQ(trace->ops()[0].data, zero_padded);
  EXPECT_EQ(trace->ops()[1].data, zero_padded);
  EXPECT_EQ(trace->ops()[1].flags, kFua);
  EXPECT_EQ(trace->ops()[2].data, std::string(512, 'f'));
}

RawDmLog LaggingLog() {
  RawDmLog log;
  log.Write(0, 1);
  log.Mark("m");
  log.Write(1, 2, kDmLogFua);  // past nr_entries
  log.Flush();                 // past nr_entries
  log.Write(7, 1);             // past nr_entries
  log.set_nr_entries(2);
  return log;
}

TEST(DmLogWritesTest, DefaultReadStopsAtNrEntriesAndCountsExtras) {
  DmLogInfo info;
  absl::StatusOr<Trace> trace = ReadBytes(LaggingLog().Bytes(), {}, &info);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->ops().size(), 1u);
  EXPECT_EQ(trace->marks().size(), 1u);
  EXPECT_EQ(trace->devices()[0].num_sectors, 1u);
  EXPECT_EQ(info.nr_entries_in_superblock, 2u);
  EXPECT_EQ(info.entries_read, 2u);
  EXPECT_EQ(info.extra_entries_after_end, 3u);
}

TEST(DmLogWritesTest, ReadPastEndReadsTheExtras) {
  DmLogReadOptions options;
  options.read_past_end = true;
  DmLogInfo info;
  absl::StatusOr<Trace> trace = ReadBytes(LaggingLog().Bytes(), options, &info);
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_EQ(trace->ops().size(), 4u);
  EXPECT_EQ(trace->ops()[1].flags, kFua);
  EXPECT_EQ(trace->ops()[1].source_entry, 2u);
  EXPECT_EQ(trace->ops()[2].kind, OpKind::kFlush);
  EXPECT_EQ(trace->ops()[3].source_entry, 4u);
  EXPECT_EQ(trace->devices()[0].num_sectors, 8u);
  EXPECT_EQ(info.entries_read, 5u);
  EXPECT_EQ(info.extra_entries_after_end, 3u);
}

TEST(DmLogWritesTest, PastEndStopsAtZeroSectorGarbageOrEndOfFile) {
  for (const std::string& tail :
       {std::string(4096, '\0'), std::string(4096, '\xff'),
        std::string(100, 'p')}) {
    RawDmLog log = LaggingLog();
    log.AppendRaw(tail);
    DmLogReadOptions options;
    options.read_past_end = true;
    DmLogInfo info;
    absl::StatusOr<Trace> trace = ReadBytes(log.Bytes(), options, &info);
    ASSERT_TRUE(trace.ok()) << trace.status();
    EXPECT_EQ(info.extra_entries_after_end, 3u);
    EXPECT_EQ(trace->ops().size(), 4u);
  }
  // An entry whose data runs past the end of the file is not valid.
  RawDmLog log = LaggingLog();
  log.Entry(3, 4, 0, 0, {}, std::string(512, 'd'));
  DmLogInfo info;
  ASSERT_TRUE(ReadBytes(log.Bytes(), {}, &info).ok());
  EXPECT_EQ(info.extra_entries_after_end, 3u);
}

TEST(DmLogWritesTest, ZeroNrEntriesWithEntries) {
  RawDmLog log;
  log.Write(0, 1);
  log.set_nr_entries(0);
  DmLogInfo info;
  absl::StatusOr<Trace> trace = ReadBytes(log.Bytes(), {}, &info);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_TRUE(trace->ops().empty());
  EXPECT_EQ(info.extra_entries_after_end, 1u);
}

TEST(DmLogWritesTest, DeviceSizeOverride) {
  RawDmLog log(4096);
  log.Write(10, 2);
  DmLogReadOptions options;
  options.device_size_bytes = 1 << 20;
  absl::StatusOr<Trace> trace = ReadBytes(log.Bytes(), options);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->devices()[0].num_sectors, 256u);

  options.device_size_bytes = 12 * 4096;  // exactly the highest sector
  trace = ReadBytes(log.Bytes(), options);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->devices()[0].num_sectors, 12u);
}

TEST(DmLogWritesTest, DeviceSizeOverrideSmallerThanTheLogFails) {
  RawDmLog log(4096);
  log.Write(10, 2);
  DmLogReadOptions options;
  options.device_size_bytes = 11 * 4096;
  std::string path;
  absl::StatusOr<Trace> trace = ReadBytes(log.Bytes(), options, nullptr, &path);
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trace.status().message(), HasSubstr(path));
  EXPECT_THAT(trace.status().message(),
              HasSubstr("device size of 45056 bytes"));
  EXPECT_THAT(trace.status().message(), HasSubstr("smaller than the trace"));
}

TEST(DmLogWritesTest, DeviceSizeOverrideMustBeWholeSectors) {
  RawDmLog log(4096);
  log.Write(0, 1);
  DmLogReadOptions options;
  options.device_size_bytes = 4096 * 4 + 512;
  absl::StatusOr<Trace> trace = ReadBytes(log.Bytes(), options);
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trace.status().message(),
              HasSubstr("not a multiple of the log's sectorsize 4096"));
}

TEST(DmLogWritesTest, MissingFile) {
  const std::string path = TempPath("missing.log");
  absl::StatusOr<Trace> trace = ReadDmLogWrites(path, {});
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(trace.status().message(), HasSubstr(path));
}

// Hostile input: every case is an InvalidArgument naming the file, the place
// and the problem.
struct HostileCase {
  const char* name;
  std::string bytes;
  const char* where;  // "entry N at byte B" or "super block at byte B"
  const char* what;
};

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

std::string WithSuper(void (*edit)(RawDmLog*)) {
  RawDmLog log;
  log.Write(0, 1);
  edit(&log);
  return log.Bytes();
}

// A log with two good entries (at bytes 512 and 1536) and a third one
// (at byte 2048).
std::string ThirdEntry(uint64_t sector, uint64_t nr_sectors, uint64_t flags,
                       uint64_t data_len, std::string header_tail = "",
                       std::string data = "") {
  RawDmLog log;
  log.Write(0, 1);
  log.Flush();
  log.Entry(sector, nr_sectors, flags, data_len, header_tail, data);
  return log.Bytes();
}

std::vector<HostileCase> HostileCases() {
  RawDmLog valid;
  valid.Write(0, 1);
  valid.Flush();
  std::string two_entries = valid.Bytes();

  RawDmLog partial = valid;
  partial.AppendRaw(std::string(100, 'h'));
  partial.set_nr_entries(3);

  RawDmLog absurd = valid;
  absurd.set_nr_entries(uint64_t{1} << 60);

  return {
      {"Empty", "", "super block at byte 0", "file has 0 bytes, too short"},
      {"TenBytes", two_entries.substr(0, 10), "super block at byte 0",
       "file has 10 bytes, too short"},
      {"ShortSuperSector", two_entries.substr(0, 300), "super block at byte 0",
       "file has 300 bytes, shorter than its 512-byte super block"},
      {"BadMagic", WithSuper([](RawDmLog* l) { l->set_magic(0x1234); }),
       "super block at byte 0", "bad magic 0x1234"},
      {"Version2", WithSuper([](RawDmLog* l) { l->set_version(2); }),
       "super block at byte 8", "unsupported version 2"},
      {"SectorsizeZero",
       WithSuper([](RawDmLog* l) { l->set_super_sectorsize(0); }),
       "super block at byte 24", "sectorsize 0 is not a power of two"},
      {"SectorsizeNotPowerOfTwo",
       WithSuper([](RawDmLog* l) { l->set_super_sectorsize(1000); }),
       "super block at byte 24", "sectorsize 1000 is not"},
      {"SectorsizeTooSmall",
       WithSuper([](RawDmLog* l) { l->set_super_sectorsize(256); }),
       "super block at byte 24", "sectorsize 256 is not"},
      {"SectorsizeTooLarge",
       WithSuper([](RawDmLog* l) { l->set_super_sectorsize(131072); }),
       "super block at byte 24", "sectorsize 131072 is not"},
      {"TruncatedHeader", partial.Bytes(), "entry 2 at byte 2048",
       "truncated: superblock says 3 entries, file holds 2 and a partial "
       "header of 100 bytes"},
      {"AbsurdNrEntries", absurd.Bytes(), "entry 2 at byte 2048",
       "truncated: superblock says 1152921504606846976 entries, file holds 2"},
      {"NrSectorsMax", ThirdEntry(0, kMax64, 0, 0), "entry 2 at byte 2048",
       "nr_sectors 18446744073709551615 points past the end of the file"},
      {"DataOneSectorShort", ThirdEntry(0, 3, 0, 0, "", std::string(1024, 'd')),
       "entry 2 at byte 2048", "nr_sectors 3 points past the end of the file"},
      {"WriteEndOverflows",
       ThirdEntry(kMax64 / 512, 1, 0, 0, "", std::string(512, 'd')),
       "entry 2 at byte 2048", "ends past 2^64 bytes"},
      {"DiscardEndOverflows", ThirdEntry(kMax64, 1, kDmLogDiscard, 0),
       "entry 2 at byte 2048", "ends past 2^64 bytes"},
      {"DiscardHuge", ThirdEntry(0, uint64_t{1} << 41, kDmLogDiscard, 0),
       "entry 2 at byte 2048", "larger than 2^40 sectors"},
      {"ZeroHeader", ThirdEntry(0, 0, 0, 0), "entry 2 at byte 2048",
       "invalid empty entry (flags 0, nr_sectors 0)"},
      {"EmptyEntryWithSector", ThirdEntry(7, 0, 0, 0), "entry 2 at byte 2048",
       "invalid empty entry"},
      {"NonMarkByte32", ThirdEntry(0, 1, 0, 0, "x", std::string(512, 'd')),
       "entry 2 at byte 2048", "non-zero byte 32"},
      {"FlushByte32", ThirdEntry(0, 0, kDmLogFlush, 0, "x"),
       "entry 2 at byte 2048", "non-zero byte 32"},
      {"MarkTooLong", ThirdEntry(0, 0, kDmLogMark, 480, std::string(480, 'm')),
       "entry 2 at byte 2048",
       "mark text of data_len 480 is longer than the 479 bytes"},
      {"MarkHugeDataLen", ThirdEntry(0, 0, kDmLogMark, kMax64, "m"),
       "entry 2 at byte 2048", "mark text of data_len 18446744073709551615"},
      {"MarkWithSectors", ThirdEntry(0, 1, kDmLogMark, 1, "m"),
       "entry 2 at byte 2048", "mark with nr_sectors 1"},
      {"MarkWithNul", ThirdEntry(0, 0, kDmLogMark, 5, std::string("ab\0cd", 5)),
       "entry 2 at byte 2048", "NUL byte at header byte 34"},
      {"MarkAndFlush", ThirdEntry(0, 0, kDmLogMark | kDmLogFlush, 1, "m"),
       "entry 2 at byte 2048", "MARK combined with other flags (flags 0x9)"},
      {"UnknownFlag", ThirdEntry(0, 1, 32, 0, "", std::string(512, 'd')),
       "entry 2 at byte 2048", "unknown flag bits 0x20"},
      {"UnknownHighFlag",
       ThirdEntry(0, 0, kDmLogFlush | (uint64_t{1} << 63), 0),
       "entry 2 at byte 2048", "unknown flag bits 0x8000000000000000"},
      {"DiscardNoSectors", ThirdEntry(0, 0, kDmLogDiscard, 0),
       "entry 2 at byte 2048", "discard of 0 sectors"},
      {"DiscardAndFua", ThirdEntry(0, 8, kDmLogDiscard | kDmLogFua, 0),
       "entry 2 at byte 2048", "DISCARD combined with other flags (flags 0x6)"},
      {"DiscardWithDataLen", ThirdEntry(0, 8, kDmLogDiscard, 10),
       "entry 2 at byte 2048", "discard with data_len 10"},
      {"FuaWithoutSectors", ThirdEntry(0, 0, kDmLogFua, 0),
       "entry 2 at byte 2048", "entry of 0 sectors is neither a flush nor"},
      {"DataLenTooLarge", ThirdEntry(0, 1, 0, 513, "", std::string(512, 'd')),
       "entry 2 at byte 2048",
       "data_len 513 is larger than the entry's 512 data bytes"},
      {"FlushWithDataLen", ThirdEntry(0, 0, kDmLogFlush, 1),
       "entry 2 at byte 2048", "data_len 1 is larger than the entry's 0"},
  };
}

class HostileTest : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileTest, FailsWithPlaceAndReason) {
  const HostileCase& c = GetParam();
  for (bool read_past_end : {false, true}) {
    DmLogReadOptions options;
    options.read_past_end = read_past_end;
    std::string path;
    absl::StatusOr<Trace> trace = ReadBytes(c.bytes, options, nullptr, &path);
    EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument)
        << trace.status();
    EXPECT_THAT(trace.status().message(),
                HasSubstr(absl::StrCat(path, ": ", c.where, ": ")));
    EXPECT_THAT(trace.status().message(), HasSubstr(c.what));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileTest,
                         ::testing::ValuesIn(HostileCases()),
                         [](const ::testing::TestParamInfo<HostileCase>& info) {
                           return std::string(info.param.name);
                         });

// Prefixes and thousands of random corruptions of a valid log read
// either OK or as InvalidArgument; none crashes, hangs or over-allocates.
TEST(DmLogWritesTest, CorruptedLogsNeverCrash) {
  RawDmLog log;
  log.Write(3, 2, kDmLogFlush, "abc");
  log.Mark("mark one");
  log.Discard(0, 64);
  log.Flush(kDmLogFua);
  log.Write(70, 1, kDmLogFua | kDmLogMetadata, "z");
  log.Entry(80, 2, 0, 600, {}, std::string(1024, 'i'));
  const std::string bytes = log.Bytes();
  const std::string path = TempPath("fuzz.log");
  auto check = [&path](const std::string& b) {
    WriteFileOrDie(path, b);
    for (bool past_end : {false, true}) {
      DmLogReadOptions options;
      options.read_past_end = past_end;
      absl::StatusOr<Trace> trace = ReadDmLogWrites(path, options);
      if (!trace.ok()) {
        ASSERT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument)
            << trace.status();
      }
    }
  };
  for (size_t size = 0; size <= bytes.size(); size += 7) {
    check(bytes.substr(0, size));
  }
  std::mt19937_64 rng(20240601);
  std::uniform_int_distribution<size_t> pos(0, bytes.size() - 1);
  std::uniform_int_distribution<int> value(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string b = bytes;
    const int flips = 1 + round % 4;
    for (int i = 0; i < flips; ++i) {
      // Bias towards the header bytes, where corruption matters.
      size_t at = pos(rng);
      if (round % 2 == 0) at = (at / 512) * 512 + at % 40;
      b[at] = static_cast<char>(value(rng));
    }
    check(b);
  }
}

// The real capture of /work/shared/testdata/README.md.
TEST(DmLogWritesFixtureTest, Ext4AppendRename) {
  DmLogInfo info;
  absl::StatusOr<Trace> trace = ReadDmLogWrites(kFixture, {}, &info);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(info.nr_entries_in_superblock, 223u);
  EXPECT_EQ(info.entries_read, 223u);
  EXPECT_EQ(info.extra_entries_after_end, 0u);
  EXPECT_EQ(info.sectorsize, 512u);
  ASSERT_EQ(trace->devices().size(), 1u);
  EXPECT_EQ(trace->devices()[0].sector_size, 512u);
  EXPECT_EQ(trace->devices()[0].num_sectors, 32768u);  // 16 MiB

  std::vector<std::string> labels;
  for (const Mark& m : trace->marks()) labels.push_back(m.label);
  EXPECT_THAT(labels, ::testing::ElementsAre("mkfs", "fsync logs/journal.txt 1",
                                             "fsync logs/journal.txt 2",
                                             "fsync logs/journal.txt 3",
                                             "renamed logs/snap", "umount"));
  EXPECT_EQ(trace->events()[trace->marks()[0].event].source_entry, 166u);
  EXPECT_EQ(trace->events()[trace->marks()[5].event].source_entry, 222u);

  ASSERT_EQ(trace->ops().size(), 223u - 6u);
  int writes = 0, flushes = 0, discards = 0;
  for (const Op& op : trace->ops()) {
    if (op.kind == OpKind::kWrite) ++writes;
    if (op.kind == OpKind::kFlush) ++flushes;
    if (op.kind == OpKind::kDiscard) ++discards;
    if (op.source_entry == 3) {
      EXPECT_EQ(op.kind, OpKind::kDiscard);
      EXPECT_EQ(op.sector, 0u);
      EXPECT_EQ(op.num_sectors, 32768u);
    }
  }
  EXPECT_EQ(writes, 183);
  EXPECT_EQ(flushes, 29);
  EXPECT_EQ(discards, 5);
  EXPECT_EQ(trace->ops()[3].source_entry, 3u);
  EXPECT_EQ(trace->ops()[0].kind, OpKind::kFlush);
}

TEST(DmLogWritesFixtureTest, Ext4AppendRenameNobarrier) {
  DmLogInfo info;
  absl::StatusOr<Trace> trace = ReadDmLogWrites(kNobarrierFixture, {}, &info);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(info.entries_read, 199u);
  EXPECT_EQ(trace->marks().size(), 6u);
  EXPECT_EQ(trace->devices()[0].num_sectors, 32768u);
  int flushes = 0;
  for (const Op& op : trace->ops()) flushes += op.kind == OpKind::kFlush;
  EXPECT_EQ(flushes, 5);
}

}  // namespace
}  // namespace crashenum
