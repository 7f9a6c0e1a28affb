#include "traces/block_events.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "traces/internal/block_events_test_util.h"
#include "traces/internal/dm_log_test_util.h"

namespace crashenum {
namespace {

using internal_traces::ByteSwapBlkFile;
using internal_traces::EncodeBlkRecord;
using internal_traces::GetBlkField32;
using internal_traces::kBlkCpuOffset;
using internal_traces::kBlkSequenceOffset;
using internal_traces::KernelDev;
using internal_traces::RawBlkRecord;
using internal_traces::ReadFileOrDie;
using internal_traces::RemapPdu;
using internal_traces::SetBlkField32;
using internal_traces::SharedBlktraceDir;
using internal_traces::SplitBlkRecords;
using internal_traces::TempDir;
using internal_traces::TempPath;
using internal_traces::WriteFileOrDie;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Categories << 16.
constexpr uint32_t kRead = 0x1 << 16;
constexpr uint32_t kWrite = 0x2 << 16;
constexpr uint32_t kFlush = 0x4 << 16;
constexpr uint32_t kSyncCat = 0x8 << 16;
constexpr uint32_t kPc = 0x200 << 16;
constexpr uint32_t kNotify = 0x400 << 16;
constexpr uint32_t kMetaCat = 0x1000 << 16;
constexpr uint32_t kDiscard = 0x2000 << 16;
constexpr uint32_t kFuaCat = 0x8000 << 16;

// The path of a public file, or empty (the caller skips).
std::string SharedFile(const std::string& name, std::string* skip) {
  std::string looked;
  const std::string dir = SharedBlktraceDir(&looked);
  if (dir.empty()) {
    *skip = absl::StrCat("shared/testdata/blktrace not found (looked for ",
                         looked, "); set TEST_SHARED_DIR to the shared dir");
    return "";
  }
  return absl::StrCat(dir, "/", name);
}

#define SHARED_FILE_OR_SKIP(var, name)                   \
  std::string skip_##var;                                \
  const std::string var = SharedFile(name, &skip_##var); \
  if (var.empty()) GTEST_SKIP() << skip_##var

BlockEvent Rwbs(absl::string_view text) {
  BlockEvent e;
  EXPECT_TRUE(ParseRwbs(text, &e)) << text;
  return e;
}

TEST(ParseRwbsTest, OperationsAndFlags) {
  BlockEvent e = Rwbs("WS");
  EXPECT_TRUE(e.is_write);
  EXPECT_EQ(e.flags, kSync);
  e = Rwbs("FWFSM");
  EXPECT_TRUE(e.is_write);
  EXPECT_EQ(e.flags, kPreflush | kFua | kSync | kMeta);
  EXPECT_EQ(e.rwbs, "FWFSM");
  e = Rwbs("WM");
  EXPECT_EQ(e.flags, kMeta);
  e = Rwbs("RA");
  EXPECT_TRUE(e.is_read);
  EXPECT_EQ(e.flags, 0u);
  e = Rwbs("DS");
  EXPECT_TRUE(e.is_discard);
  EXPECT_EQ(e.flags, kSync);
  EXPECT_TRUE(Rwbs("DE").is_discard);
  for (const char* flush : {"F", "FF", "FN", "FFS"}) {
    e = Rwbs(flush);
    EXPECT_TRUE(e.is_flush_only) << flush;
    EXPECT_FALSE(e.is_write || e.is_read || e.is_discard) << flush;
  }
  EXPECT_EQ(Rwbs("FF").flags, kPreflush);
  EXPECT_EQ(Rwbs("F").flags, 0u);
  e = Rwbs("N");
  EXPECT_FALSE(e.is_write || e.is_read || e.is_discard || e.is_flush_only);
  e = Rwbs("WZ");
  EXPECT_TRUE(e.is_write_zeroes);
  EXPECT_FALSE(e.is_write);
  for (const char* zone : {"ZA", "ZR", "ZRA", "ZF", "ZO", "ZC"}) {
    e = Rwbs(zone);
    EXPECT_FALSE(e.is_write || e.is_read || e.is_discard || e.is_flush_only);
  }
  EXPECT_EQ(Rwbs("WB").flags, kPreflush | kFua);  // an old kernel's barrier
  EXPECT_EQ(Rwbs("WSU").flags, kSync);
  // A PREFLUSH write stays a write until its size says it is empty.
  EXPECT_TRUE(Rwbs("FWS").is_write);
}

TEST(ParseRwbsTest, RejectsMalformed) {
  BlockEvent e;
  for (const char* bad : {"", "X", "WW", "SW", "WSF", "WFF", "Q", "Z", "ZQ",
                          "W S", "w", "RE", "FX"}) {
    EXPECT_FALSE(ParseRwbs(bad, &e)) << bad;
  }
}

BlockEvent Tracefs(absl::string_view line) {
  absl::StatusOr<std::optional<BlockEvent>> e = ParseTracefsLine(line, 7);
  EXPECT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e.ok() && e->has_value()) << line;
  return e.ok() && e->has_value() ? **e : BlockEvent();
}

TEST(TracefsLineTest, CompleteWithSixDecimals) {
  const BlockEvent e = Tracefs(
      "  kworker/u4:1-57  [001] d..1.  1234.567890: block_rq_complete: 7,0 "
      "WSM () 32770 + 2 [0]");
  EXPECT_EQ(e.action, BlockAction::kComplete);
  EXPECT_EQ(e.raw_action, kBlkTaComplete);
  EXPECT_EQ(e.major, 7u);
  EXPECT_EQ(e.minor, 0u);
  EXPECT_EQ(e.time_ns, 1234567890000u);
  EXPECT_EQ(e.sector, 32770u);
  EXPECT_EQ(e.num_sectors, 2u);
  EXPECT_TRUE(e.is_write);
  EXPECT_EQ(e.flags, kSync | kMeta);
  EXPECT_EQ(e.error, 0);
  EXPECT_EQ(e.pid, 57u);
  EXPECT_EQ(e.cpu, 1u);
  EXPECT_EQ(e.rwbs, "WSM");
  EXPECT_EQ(e.source_entry, 7u);
}

TEST(TracefsLineTest, QueueOfAPreflushFuaWrite) {
  const BlockEvent e = Tracefs(
      "  jbd2/loop0-8-123 [000] .....  1234.5: block_bio_queue: 7,0 FWFS "
      "1234 + 8 [jbd2/loop0-8]");
  EXPECT_EQ(e.action, BlockAction::kQueue);
  EXPECT_EQ(e.pid, 123u);
  EXPECT_EQ(e.time_ns, 1234500000000u);
  EXPECT_EQ(e.sector, 1234u);
  EXPECT_EQ(e.num_sectors, 8u);
  EXPECT_TRUE(e.is_write);
  EXPECT_EQ(e.flags, kPreflush | kFua | kSync);
}

TEST(TracefsLineTest, IssueWithBytesNanosecondsAndIoPriority) {
  const BlockEvent e = Tracefs(
      "kworker/0:1H-99 [002] ..... 1234.567890123: block_rq_issue: 259,1 WS "
      "4096 () 1234 + 8 be,0,4 [kworker/0:1H]");
  EXPECT_EQ(e.action, BlockAction::kIssue);
  EXPECT_EQ(e.major, 259u);
  EXPECT_EQ(e.minor, 1u);
  EXPECT_EQ(e.time_ns, 1234567890123u);
  EXPECT_EQ(e.sector, 1234u);
  EXPECT_EQ(e.num_sectors, 8u);
  EXPECT_EQ(e.cpu, 2u);
}

TEST(TracefsLineTest, OlderAndNewerLayouts) {
  // Kernels before 6.11: no I/O priority; a "(TGID)" column.
  BlockEvent e = Tracefs(
      "  bash-1234  ( 1234) [001] .... 10.000001: block_rq_issue: 7,0 W 0 () "
      "8 + 8 [bash]");
  EXPECT_EQ(e.pid, 1234u);
  EXPECT_EQ(e.sector, 8u);
  // Without the irq-info column, and an issue line without BYTES.
  e = Tracefs("bash-1 [003] 5.25: block_rq_issue: 7,0 W 16 + 8 [bash]");
  EXPECT_EQ(e.sector, 16u);
  EXPECT_EQ(e.cpu, 3u);
  e = Tracefs(
      "<idle>-0       [002] ..s1.   411.215842: block_rq_complete: 8,48 WS () "
      "1024 + 32 none,0,0 [0]");
  EXPECT_EQ(e.action, BlockAction::kComplete);
  EXPECT_EQ(e.sector, 1024u);
  EXPECT_EQ(e.num_sectors, 32u);
  EXPECT_EQ(e.pid, 0u);
}

TEST(TracefsLineTest, ErrorsFlushesDiscardsRemaps) {
  EXPECT_EQ(Tracefs("k-1 [000] ..... 2.0: block_rq_complete: 7,0 W () 100 "
                    "+ 8 [-5]")
                .error,
            -5);
  EXPECT_EQ(Tracefs("k-1 [000] ..... 2.0: block_rq_complete: 7,0 W () 100 "
                    "+ 8 [65531]")
                .error,
            -5);
  BlockEvent e =
      Tracefs("f-9 [000] ..... 2.0: block_bio_queue: 7,0 FWS 0 + 0 [f]");
  EXPECT_TRUE(e.is_flush_only);
  EXPECT_FALSE(e.is_write);
  EXPECT_EQ(e.flags, kPreflush | kSync);
  e = Tracefs("k-1 [000] ..... 2.0: block_rq_issue: 7,0 FF 0 () 0 + 0 [k]");
  EXPECT_TRUE(e.is_flush_only);
  EXPECT_EQ(e.action, BlockAction::kIssue);
  e = Tracefs("k-1 [000] ..... 2.0: block_rq_complete: 7,0 FF () 0 + 0 [-5]");
  EXPECT_TRUE(e.is_flush_only);
  EXPECT_EQ(e.error, -5);
  e = Tracefs("t-2 [000] ..... 2.0: block_bio_queue: 7,0 DS 2048 + 2048 [t]");
  EXPECT_TRUE(e.is_discard);
  e = Tracefs(
      "k-1 [000] ..... 2.0: block_bio_remap: 8,0 WS 46899672 + 8 <- (8,2) "
      "46488024");
  EXPECT_EQ(e.action, BlockAction::kOther);
  EXPECT_TRUE(e.is_remap);
  EXPECT_EQ(e.from_major, 8u);
  EXPECT_EQ(e.from_minor, 2u);
  EXPECT_EQ(e.from_sector, 46488024u);
  EXPECT_EQ(e.sector, 46899672u);
  // A passthrough command.
  e = Tracefs(
      "sg-5 [000] ..... 2.0: block_rq_issue: 8,0 N 36 (12 00 00 00 24 00) 0 "
      "+ 0 [sg_inq]");
  EXPECT_EQ(e.action, BlockAction::kOther);
}

// Expects `parse` to find no event, and no error, in each line.
template <typename Parser>
void ExpectNoEvents(Parser parse, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    absl::StatusOr<std::optional<BlockEvent>> e = parse(line, 1);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_FALSE(e->has_value()) << line;
  }
}

TEST(TracefsLineTest, OtherLinesAreNotEvents) {
  ExpectNoEvents(
      ParseTracefsLine,
      {"# tracer: nop", "#", "", "   ",
       "  bash-1 [000] ..... 1.0: block_bio_backmerge: 7,0 W 8 + 8 [bash]",
       "  bash-1 [000] ..... 1.0: sched_switch: prev_comm=bash prev_pid=1",
       "random text", "CPU0 (8,0):"});
}

TEST(TracefsLineTest, BadBlockLinesAreErrors) {
  absl::StatusOr<std::optional<BlockEvent>> e = ParseTracefsLine(
      "  bash-1 [000] ..... 1.0: block_bio_queue: 7,0 W 8 + [bash]", 5);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(),
              HasSubstr("line 5: block_bio_queue: expected SECTOR + N"));
  e = ParseTracefsLine(
      "  bash-1 [000] ..... 1.0: block_rq_complete: 7,0 WQ () 8 + 8 [0]", 6);
  EXPECT_THAT(e.status().message(),
              HasSubstr("line 6: block_rq_complete: malformed RWBS \"WQ\""));
  e = ParseTracefsLine(
      "  bash-1 [000] ..... 1.0: block_rq_complete: 7,0 W () 8 + 8 [x]", 8);
  EXPECT_THAT(e.status().message(), HasSubstr("expected [ERROR]"));
  e = ParseTracefsLine("CPU:1 [LOST 245 EVENTS]", 9);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(), HasSubstr("line 9: the tracer lost"));
}

BlockEvent Blkparse(absl::string_view line) {
  absl::StatusOr<std::optional<BlockEvent>> e = ParseBlkparseLine(line, 3);
  EXPECT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e.ok() && e->has_value()) << line;
  return e.ok() && e->has_value() ? **e : BlockEvent();
}

TEST(BlkparseLineTest, QueueAndComplete) {
  BlockEvent e = Blkparse(
      "  8,0    3        1     0.000000000   697  Q  WS 2048 + 8 "
      "[jbd2/sda1-8]");
  EXPECT_EQ(e.action, BlockAction::kQueue);
  EXPECT_EQ(e.major, 8u);
  EXPECT_EQ(e.cpu, 3u);
  EXPECT_EQ(e.sequence, 1u);
  EXPECT_EQ(e.pid, 697u);
  EXPECT_EQ(e.sector, 2048u);
  EXPECT_EQ(e.num_sectors, 8u);
  EXPECT_EQ(e.flags, kSync);
  EXPECT_EQ(e.source_entry, 3u);
  e = Blkparse("  8,0    3        2     1.500000001     0  C  WS 2048 + 8 [0]");
  EXPECT_EQ(e.action, BlockAction::kComplete);
  EXPECT_EQ(e.time_ns, 1500000001u);
  EXPECT_EQ(e.error, 0);
  e = Blkparse("  8,0    3        2     1.5     0  C  W 2048 + 8 (  120) [-5]");
  EXPECT_EQ(e.error, -5);
  e = Blkparse("  8,0    3        2     1.5     0  C  W 2048 + 8 [65531]");
  EXPECT_EQ(e.error, -5);
}

TEST(BlkparseLineTest, FlushesDiscardsRemapsAndOthers) {
  BlockEvent e = Blkparse(
      "  8,0    0        5     0.000020000   697  Q FWS [jbd2/sda1-8]");
  EXPECT_EQ(e.action, BlockAction::kQueue);
  EXPECT_TRUE(e.is_flush_only);
  EXPECT_EQ(e.num_sectors, 0u);
  e = Blkparse("  8,0    0        8     0.000025000   697  D  FN [kworker]");
  EXPECT_EQ(e.action, BlockAction::kIssue);
  EXPECT_TRUE(e.is_flush_only);
  e = Blkparse("  8,0    0        9     0.000030000     0  C  FN 0 [0]");
  EXPECT_EQ(e.action, BlockAction::kComplete);
  EXPECT_TRUE(e.is_flush_only);
  e = Blkparse(
      "  8,0    1        3     0.000001000   697  D  DS 8192 + 2048 "
      "[fstrim]");
  EXPECT_TRUE(e.is_discard);
  EXPECT_EQ(e.num_sectors, 2048u);
  e = Blkparse(
      "  8,2    0        4     0.000040000   697  A  WS 2048 + 8 <- "
      "(253,0) 100");
  EXPECT_TRUE(e.is_remap);
  EXPECT_EQ(e.action, BlockAction::kOther);
  EXPECT_EQ(e.minor, 2u);
  EXPECT_EQ(e.from_major, 253u);
  EXPECT_EQ(e.from_sector, 100u);
  e = Blkparse(
      "  8,0    1        7     0.000001000   697  m   N cfq697 "
      "insert_request");
  EXPECT_EQ(e.action, BlockAction::kOther);
  e = Blkparse("  8,0    0        3     0.000000500   697 UT   N [kworker] 1");
  EXPECT_EQ(e.action, BlockAction::kOther);
  EXPECT_EQ(e.raw_action, kBlkTaUnplugTimer);
  e = Blkparse("  8,0    0        3     0.000000500   697  M  W 16 + 8 [cp]");
  EXPECT_EQ(e.raw_action, kBlkTaBackmerge);
  EXPECT_EQ(e.sector, 16u);
  // A passthrough issue: BYTES (CDB) [NAME].
  e = Blkparse(
      "  8,0    0        3     0.000000500   697  D   R 36 (12 00 ..) "
      "[sg_inq]");
  EXPECT_EQ(e.action, BlockAction::kOther);
}

TEST(BlkparseLineTest, SummaryLinesAreNotEvents) {
  ExpectNoEvents(
      ParseBlkparseLine,
      {"CPU0 (8,0):",
       " Reads Queued:           0,        0KiB\t Writes Queued:   "
       "       32,      148KiB",
       "Events (8,0): 234 entries", "Skips: 0 forward (0 -   0.0%)", ""});
}

TEST(BlkparseLineTest, BadEventLinesAreErrors) {
  absl::StatusOr<std::optional<BlockEvent>> e = ParseBlkparseLine(
      "  8,0    3        1     0.000000000   697  Q  WS 2048 + [x]", 12);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(), HasSubstr("line 12: blkparse Q:"));
  e = ParseBlkparseLine("  8,0 3 1 0.0 697 Q XX 2048 + 8 [x]", 13);
  EXPECT_THAT(e.status().message(),
              HasSubstr("line 13: blkparse Q: malformed RWBS \"XX\""));
  e = ParseBlkparseLine("  8,0 3 1 0.0 697 C W 2048 + 8 [zero]", 14);
  EXPECT_THAT(e.status().message(), HasSubstr("expected [ERROR]"));
  e = ParseBlkparseLine("  8,0 3 1 0.0 697 A W 2048 + 8 <- 8,2 0", 15);
  EXPECT_THAT(e.status().message(), HasSubstr("<- (MAJ,MIN) SECTOR"));
}

TEST(BlockEventTextTest, ReadsEitherKindPerLine) {
  const std::string path = TempPath("events.txt");
  WriteFileOrDie(path,
                 "# tracer: nop\n"
                 "#\n"
                 "  a-1 [000] ..... 1.000001: block_bio_queue: 7,0 W 8 + 8 "
                 "[a]\n"
                 "  a-1 [000] ..... 1.000002: sched_waking: comm=x pid=2\n"
                 "  8,0 0 1 0.5 1 Q WS 16 + 8 [b]\n"
                 "CPU0 (8,0):\n"
                 "  k-3 [001] ..... 1.000009: block_rq_complete: 7,0 W () 8 "
                 "+ 8 [0]\n");
  absl::StatusOr<std::vector<BlockEvent>> events = ReadBlockEventText(path);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].source_entry, 3u);
  EXPECT_EQ((*events)[1].source_entry, 5u);
  EXPECT_EQ((*events)[1].major, 8u);
  EXPECT_EQ((*events)[2].action, BlockAction::kComplete);

  WriteFileOrDie(path,
                 "  8,0 0 1 0.5 1 Q WS 16 + 8 [b]\n"
                 "  8,0 0 2 0.5 1 Q WS 16 + [b]\n");
  events = ReadBlockEventText(path);
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(events.status().message(),
              HasSubstr(absl::StrCat(path, ": line 2: blkparse Q:")));
}

TEST(BlockEventTextTest, Detection) {
  EXPECT_TRUE(LooksLikeBlockEventText(
      "# tracer: nop\n#\n  a-1 [000] ..... 1.0: block_bio_queue: 7,0 W 8 + 8 "
      "[a]\n"));
  EXPECT_TRUE(LooksLikeBlockEventText(
      "  a-1 [000] ..... 1.0: sched_switch: x\n"
      "  a-1 [000] ..... 1.0: block_rq_issue: 7,0 W 4096 () 8 + 8 [a]\n"));
  EXPECT_TRUE(LooksLikeBlockEventText("  8,0 0 1 0.5 1 Q WS 16 + 8 [b]\n"));
  EXPECT_FALSE(LooksLikeBlockEventText("hello\n"));
  EXPECT_FALSE(LooksLikeBlockEventText("  8,0 0 1 0.5 1 Q WS 16 + 8 [b]"));
  EXPECT_FALSE(LooksLikeBlockEventText(std::string("rhswfsj\0\1\0\0", 11)));
  EXPECT_FALSE(LooksLikeBlockEventText(""));
  EXPECT_TRUE(LooksLikeBlktraceBinary(std::string("\x07\x74\x61\x65", 4)));
  EXPECT_TRUE(LooksLikeBlktraceBinary(std::string("\x65\x61\x74\x07", 4)));
  EXPECT_FALSE(LooksLikeBlktraceBinary("\x07\x74\x61"));
}

// ---- binary ------------------------------------------------------------

absl::StatusOr<std::vector<BlockEvent>> ReadBinary(
    const std::string& bytes, std::vector<BlktraceFileInfo>* info = nullptr) {
  const std::string path = TempPath("x.blktrace.0");
  WriteFileOrDie(path, bytes);
  return ReadBlktraceBinary({path}, info);
}

TEST(BlktraceBinaryTest, SdaWritesFacts) {
  SHARED_FILE_OR_SKIP(path, "sda-writes.blktrace.0");
  std::vector<BlktraceFileInfo> info;
  absl::StatusOr<std::vector<BlockEvent>> events =
      ReadBlktraceBinary({path}, &info);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].records, 234u);
  EXPECT_EQ(info[0].notify, 4u);
  EXPECT_EQ(info[0].remaps, 64u);
  EXPECT_EQ(info[0].cgroup, 0u);
  EXPECT_FALSE(info[0].big_endian);
  ASSERT_EQ(events->size(), 230u);
  std::map<std::string, int> queued;
  int issued = 0, completed = 0, back_merges = 0;
  for (const BlockEvent& e : *events) {
    if (!e.is_remap) {
      EXPECT_EQ(e.major, 8u);
      EXPECT_EQ(e.minor, 0u);
    }
    EXPECT_EQ(e.cpu, 0u);
    EXPECT_EQ(e.error, 0);
    EXPECT_FALSE(e.is_read);
    if (e.action == BlockAction::kQueue) ++queued[e.rwbs];
    if (e.action == BlockAction::kIssue) ++issued;
    if (e.action == BlockAction::kComplete) {
      ++completed;
      EXPECT_TRUE(e.is_write);
    }
    if (e.raw_action == kBlkTaBackmerge) {
      ++back_merges;
      EXPECT_EQ(e.source_entry, 179u);
      EXPECT_EQ(e.sector, 63991824u);
    }
  }
  EXPECT_EQ(queued, (std::map<std::string, int>{
                        {"W", 23}, {"WM", 4}, {"WS", 3}, {"WSM", 2}}));
  EXPECT_EQ(completed, 32);
  EXPECT_EQ(issued, 31);  // one request's D is missing from the file
  EXPECT_EQ(back_merges, 1);
  // The first write was queued before tracing started: G at record 0.
  EXPECT_EQ((*events)[0].raw_action, kBlkTaGetrq);
  EXPECT_EQ((*events)[0].sector, 46899656u);
  // Two-level remaps: dm 253,0 -> partition 8,2 -> disk 8,0.
  const BlockEvent& dm = (*events)[3];
  ASSERT_TRUE(dm.is_remap);
  EXPECT_EQ(dm.source_entry, 3u);
  EXPECT_EQ(dm.from_major, 253u);
  EXPECT_EQ(dm.from_minor, 0u);
  EXPECT_EQ(dm.from_sector, 42578392u);
  EXPECT_EQ(dm.major, 8u);
  EXPECT_EQ(dm.minor, 2u);
  EXPECT_EQ(dm.sector, 46488024u);
  const BlockEvent& part = (*events)[4];
  ASSERT_TRUE(part.is_remap);
  EXPECT_EQ(part.from_minor, 2u);
  EXPECT_EQ(part.from_sector, 46488024u);
  EXPECT_EQ(part.minor, 0u);
  EXPECT_EQ(part.sector, 46899672u);
  const BlockEvent& q = (*events)[5];
  EXPECT_EQ(q.action, BlockAction::kQueue);
  EXPECT_EQ(q.time_ns, 166286793574991u);
  EXPECT_EQ(q.pid, 17852u);
  EXPECT_EQ(q.sequence, 6u);
  EXPECT_EQ(q.num_sectors, 8u);
}

TEST(BlktraceBinaryTest, NvmeReadsFacts) {
  SHARED_FILE_OR_SKIP(path, "nvme-reads.blktrace.1");
  std::vector<BlktraceFileInfo> info;
  absl::StatusOr<std::vector<BlockEvent>> events =
      ReadBlktraceBinary({path}, &info);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(info[0].records, 6743u);
  EXPECT_EQ(info[0].notify, 2u);
  EXPECT_EQ(info[0].remaps, 963u);
  ASSERT_EQ(events->size(), 6741u);
  int queued_reads = 0, writes = 0;
  for (const BlockEvent& e : *events) {
    EXPECT_EQ(e.cpu, 1u);
    if (!e.is_remap) {
      EXPECT_EQ(e.major, 259u);
      EXPECT_EQ(e.minor, 0u);
    }
    if (e.action == BlockAction::kQueue) {
      ++queued_reads;
      EXPECT_TRUE(e.is_read);
      EXPECT_EQ(e.rwbs, "RA");
    }
    writes += e.is_write || e.is_discard || e.is_flush_only;
  }
  EXPECT_EQ(queued_reads, 963);
  EXPECT_EQ(writes, 0);
  EXPECT_EQ((*events)[0].from_major, 259u);
  EXPECT_EQ((*events)[0].from_minor, 3u);
}

// Fields that do not depend on the file layout.
std::string Describe(const BlockEvent& e) {
  return absl::StrCat(static_cast<int>(e.action), " ", e.major, ",", e.minor,
                      " t", e.time_ns, " ", e.sector, "+", e.num_sectors, " ",
                      e.rwbs, " f", e.flags, " e", e.error, " p", e.pid, " r",
                      e.raw_action, " ", e.is_remap, e.from_major, ",",
                      e.from_minor, ":", e.from_sector);
}

TEST(BlktraceBinaryTest, ByteSwappedCopyReadsIdentically) {
  SHARED_FILE_OR_SKIP(path, "sda-writes.blktrace.0");
  const std::string original = ReadFileOrDie(path);
  std::vector<BlktraceFileInfo> info;
  absl::StatusOr<std::vector<BlockEvent>> swapped =
      ReadBinary(ByteSwapBlkFile(original), &info);
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  EXPECT_TRUE(info[0].big_endian);
  absl::StatusOr<std::vector<BlockEvent>> plain = ReadBlktraceBinary({path});
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(swapped->size(), plain->size());
  for (size_t i = 0; i < plain->size(); ++i) {
    EXPECT_EQ(Describe((*swapped)[i]), Describe((*plain)[i])) << i;
    EXPECT_EQ((*swapped)[i].source_entry, (*plain)[i].source_entry);
  }
}

TEST(BlktraceBinaryTest, PerCpuSplitMergesBackByTime) {
  SHARED_FILE_OR_SKIP(path, "sda-writes.blktrace.0");
  // Records alternate between cpus 0 and 1 (each with its own sequence).
  std::string files[2];
  uint32_t sequence[2] = {0, 0};
  int k = 0;
  for (std::string record : SplitBlkRecords(ReadFileOrDie(path))) {
    const int cpu = k++ % 2;
    SetBlkField32(&record, kBlkCpuOffset, cpu);
    if (GetBlkField32(record, kBlkSequenceOffset) != 0) {  // not notify
      SetBlkField32(&record, kBlkSequenceOffset, ++sequence[cpu]);
    }
    files[cpu] += record;
  }
  const std::string dir = TempDir();
  const std::string cpu0 = dir + "/sda.blktrace.0";
  const std::string cpu1 = dir + "/sda.blktrace.1";
  WriteFileOrDie(cpu0, files[0]);
  WriteFileOrDie(cpu1, files[1]);
  WriteFileOrDie(dir + "/sda.blktrace.x", "not a sibling");
  WriteFileOrDie(dir + "/sdb.blktrace.2", "another run");
  EXPECT_THAT(BlktraceCpuFiles(cpu1), ElementsAre(cpu0, cpu1));
  EXPECT_THAT(BlktraceCpuFiles(dir + "/sda.blktrace.x"),
              ElementsAre(dir + "/sda.blktrace.x"));

  std::vector<BlktraceFileInfo> info;
  absl::StatusOr<std::vector<BlockEvent>> merged =
      ReadBlktraceBinary({cpu1, cpu0}, &info);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(info[0].records + info[1].records, 234u);
  absl::StatusOr<std::vector<BlockEvent>> plain = ReadBlktraceBinary({path});
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(merged->size(), plain->size());
  for (size_t i = 0; i < plain->size(); ++i) {
    EXPECT_EQ(Describe((*merged)[i]), Describe((*plain)[i])) << i;
    EXPECT_EQ((*merged)[i].source_file, (*merged)[i].cpu == 0 ? 1u : 0u);
  }
}

TEST(BlktraceBinaryTest, TruncationAtEveryOffsetIsAnError) {
  SHARED_FILE_OR_SKIP(path, "sda-writes.blktrace.0");
  const std::string original = ReadFileOrDie(path);
  // Record boundaries of the first 2 KiB.
  std::vector<uint64_t> starts = {0};
  for (const std::string& r : SplitBlkRecords(original)) {
    starts.push_back(starts.back() + r.size());
  }
  const std::string file = TempPath("cut.blktrace.0");
  for (size_t length = 1; length <= 2048; ++length) {
    WriteFileOrDie(file, absl::string_view(original).substr(0, length));
    absl::StatusOr<std::vector<BlockEvent>> events = ReadBlktraceBinary({file});
    size_t record = 0;
    while (starts[record + 1] <= length) ++record;
    if (starts[record] == length) {
      EXPECT_TRUE(events.ok()) << length << ": " << events.status();
      continue;
    }
    ASSERT_FALSE(events.ok()) << length;
    EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(events.status().message(),
                HasSubstr(absl::StrCat(file, ": record ", record, " at byte ",
                                       starts[record], ": truncated")))
        << length;
  }
}

TEST(BlktraceBinaryTest, CraftedRecords) {
  RawBlkRecord q;
  q.sequence = 1;
  q.time_ns = 100;
  q.sector = 64;
  q.bytes = 4096;
  q.action = kBlkTaQueue | kWrite | kFlush | kFuaCat | kSyncCat | kMetaCat;
  q.device = KernelDev(7, 3);
  q.pid = 42;
  RawBlkRecord c = q;
  c.sequence = 2;
  c.time_ns = 200;
  c.action = kBlkTaComplete | kWrite;
  c.error = 0xfffb;  // -5
  RawBlkRecord flush = q;
  flush.sequence = 3;
  flush.time_ns = 300;
  flush.bytes = 0;
  flush.sector = 0;
  flush.action = kBlkTaIssue | kRead | kFlush;  // REQ_OP_FLUSH
  RawBlkRecord discard = q;
  discard.sequence = 4;
  discard.time_ns = 400;
  discard.action = kBlkTaQueue | kWrite | kDiscard | kSyncCat;
  RawBlkRecord cgroup = q;
  cgroup.sequence = 5;
  cgroup.time_ns = 500;
  cgroup.action = kBlkTaRemap | kWrite | (1u << 8);
  cgroup.pdu = std::string(8, 'g') + RemapPdu(KernelDev(7, 4), q.device, 8);
  RawBlkRecord notify;
  notify.action = kNotify | 0;
  notify.pdu = "kworker";
  RawBlkRecord pc = q;
  pc.sequence = 6;
  pc.time_ns = 600;
  pc.bytes = 36;
  pc.action = kBlkTaIssue | kRead | kPc;
  pc.pdu = "\x12\x00";

  for (bool big_endian : {false, true}) {
    std::string bytes;
    for (const RawBlkRecord* r :
         {&q, &c, &notify, &flush, &discard, &cgroup, &pc}) {
      bytes += EncodeBlkRecord(*r, big_endian);
    }
    std::vector<BlktraceFileInfo> info;
    absl::StatusOr<std::vector<BlockEvent>> events = ReadBinary(bytes, &info);
    ASSERT_TRUE(events.ok()) << events.status();
    EXPECT_EQ(info[0].big_endian, big_endian);
    EXPECT_EQ(info[0].notify, 1u);
    EXPECT_EQ(info[0].cgroup, 1u);
    ASSERT_EQ(events->size(), 6u);
    const BlockEvent& eq = (*events)[0];
    EXPECT_EQ(eq.action, BlockAction::kQueue);
    EXPECT_EQ(eq.rwbs, "FWFSM");
    EXPECT_EQ(eq.flags, kPreflush | kFua | kSync | kMeta);
    EXPECT_TRUE(eq.is_write);
    EXPECT_EQ(eq.major, 7u);
    EXPECT_EQ(eq.minor, 3u);
    EXPECT_EQ(eq.num_sectors, 8u);
    EXPECT_EQ(eq.pid, 42u);
    EXPECT_EQ((*events)[1].error, -5);
    EXPECT_EQ((*events)[1].rwbs, "W");
    EXPECT_TRUE((*events)[2].is_flush_only);
    EXPECT_EQ((*events)[2].rwbs, "FN");
    EXPECT_EQ((*events)[2].source_entry, 3u);  // the notify record counts
    EXPECT_TRUE((*events)[3].is_discard);
    EXPECT_EQ((*events)[3].rwbs, "DS");
    const BlockEvent& remap = (*events)[4];
    EXPECT_TRUE(remap.is_remap);
    EXPECT_EQ(remap.from_minor, 4u);
    EXPECT_EQ(remap.from_sector, 8u);
    EXPECT_EQ(remap.minor, 3u);
    EXPECT_EQ((*events)[5].action, BlockAction::kOther);  // passthrough
  }
}

TEST(BlktraceBinaryTest, HostileRecords) {
  RawBlkRecord ok;
  ok.action = kBlkTaQueue | kWrite;
  ok.bytes = 512;
  const std::string good = EncodeBlkRecord(ok, false);
  const auto error_of = [](const std::string& bytes) {
    absl::StatusOr<std::vector<BlockEvent>> events = ReadBinary(bytes);
    EXPECT_FALSE(events.ok());
    return std::string(events.status().message());
  };
  RawBlkRecord v8 = ok;
  v8.version = 8;
  EXPECT_THAT(error_of(good + EncodeBlkRecord(v8, false)),
              HasSubstr("record 1 at byte 48: blktrace version 8 is not "
                        "supported"));
  EXPECT_THAT(error_of(good + EncodeBlkRecord(ok, true)),
              HasSubstr("record 1 at byte 48: bad magic"));
  EXPECT_THAT(error_of(std::string(48, 'x')),
              HasSubstr("record 0 at byte 0: bad magic 0x78787878"));
  RawBlkRecord long_pdu = ok;
  long_pdu.pdu_len = 65535;
  EXPECT_THAT(error_of(EncodeBlkRecord(long_pdu, false)),
              HasSubstr("truncated payload (pdu_len 65535, 0 bytes follow)"));
  RawBlkRecord odd = ok;
  odd.bytes = 100;
  EXPECT_THAT(error_of(EncodeBlkRecord(odd, false)),
              HasSubstr("byte count 100 is not a multiple of 512"));
  RawBlkRecord remap = ok;
  remap.action = kBlkTaRemap | kWrite;
  remap.pdu = "short";
  EXPECT_THAT(error_of(EncodeBlkRecord(remap, false)),
              HasSubstr("remap payload of 5 bytes (16 needed)"));
  RawBlkRecord cgroup = ok;
  cgroup.action |= 1u << 8;
  cgroup.pdu = "1234";
  EXPECT_THAT(error_of(EncodeBlkRecord(cgroup, false)),
              HasSubstr("cgroup flag with a payload of 4 bytes"));
  // An empty per-CPU file holds no records.
  absl::StatusOr<std::vector<BlockEvent>> empty = ReadBinary("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  absl::StatusOr<std::vector<BlockEvent>> missing =
      ReadBlktraceBinary({TempPath("absent.blktrace.0")});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace crashenum
