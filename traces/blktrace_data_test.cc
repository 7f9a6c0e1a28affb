#include "traces/blktrace_data.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "traces/block_events.h"
#include "traces/dm_log_writes_writer.h"
#include "traces/internal/block_events_test_util.h"
#include "traces/internal/dm_log_test_util.h"
#include "traces/trace_reader.h"

namespace crashenum {
namespace {

using internal_traces::ReadFileOrDie;
using internal_traces::SetBlkField32;
using internal_traces::SharedBlktraceDir;
using internal_traces::SplitBlkRecords;
using internal_traces::TempDir;
using internal_traces::TempPath;
using internal_traces::WriteFileOrDie;
using ::testing::HasSubstr;

// A data capture: one device, written as a dm-log-writes log.
class Capture {
 public:
  explicit Capture(uint32_t sector_size = 512)
      : builder_("builder", ""), ss_(sector_size) {
    Device d;
    d.name = "dev0";
    d.sector_size = sector_size;
    EXPECT_TRUE(builder_.AddDevice(d, /*infer_size=*/true).ok());
  }
  // A write of `count` 512-byte sectors at `sector` (512-byte units) whose
  // bytes are all `fill`.
  Capture& Write(uint64_t sector, uint64_t count, char fill) {
    return WriteBytes(sector, std::string(count * 512, fill));
  }
  Capture& WriteBytes(uint64_t sector, std::string bytes) {
    Op op;
    op.sector = sector * 512 / ss_;
    op.num_sectors = bytes.size() / ss_;
    op.data = builder_.Own(std::move(bytes));
    EXPECT_TRUE(builder_.SubmitAndComplete(op, 0).ok());
    return *this;
  }
  Capture& Flush() {
    Op op;
    op.kind = OpKind::kFlush;
    EXPECT_TRUE(builder_.SubmitAndComplete(op, 0).ok());
    return *this;
  }
  Capture& Mark(const std::string& label) {
    builder_.AddMark(label, 0);
    return *this;
  }
  // Writes the capture; call once.
  std::string Save() {
    absl::StatusOr<Trace> trace = std::move(builder_).Build();
    EXPECT_TRUE(trace.ok()) << trace.status();
    const std::string path = TempPath("capture.log");
    EXPECT_TRUE(WriteDmLogWrites(*trace, path).ok());
    return path;
  }

 private:
  TraceBuilder builder_;
  uint32_t ss_;
};

// A tracefs line of `event` at second `time`.
std::string Line(int time, const std::string& event,
                 const std::string& payload) {
  return absl::StrCat("  kworker/0:1-42 [000] .....  ", time,
                      ".000001: ", event, ": ", payload, "\n");
}
std::string Q(int t, const std::string& p) {
  return Line(t, "block_bio_queue", absl::StrCat("7,0 ", p, " [w]"));
}
std::string D(int t, const std::string& rwbs, const std::string& range) {
  return Line(t, "block_rq_issue",
              absl::StrCat("7,0 ", rwbs, " 0 () ", range, " [k]"));
}
std::string C(int t, const std::string& rwbs, const std::string& range,
              int error = 0) {
  return Line(t, "block_rq_complete",
              absl::StrCat("7,0 ", rwbs, " () ", range, " [", error, "]"));
}

absl::StatusOr<Trace> ReadText(const std::string& text,
                               const std::string& capture,
                               std::string* notes = nullptr,
                               const std::string& device = "",
                               std::string* events_path = nullptr) {
  const std::string path = TempPath("events.txt");
  WriteFileOrDie(path, text);
  if (events_path != nullptr) *events_path = path;
  BlktraceReadOptions options;
  options.data_path = capture;
  options.device = device;
  return ReadBlktraceWithData({path}, options, notes);
}

std::string Summary(const Trace& t) {
  std::vector<std::string> parts;
  for (const Event& e : t.events()) {
    switch (e.kind) {
      case EventKind::kSubmit: {
        const Op& op = t.ops()[e.op];
        const char* kind = op.kind == OpKind::kWrite   ? "W"
                           : op.kind == OpKind::kFlush ? "F"
                                                       : "D";
        parts.push_back(absl::StrCat("S", e.op, kind, op.sector, "+",
                                     op.num_sectors, "@", e.source_entry));
        break;
      }
      case EventKind::kComplete:
        parts.push_back(absl::StrCat(
            "C", e.op, e.status != 0 ? absl::StrCat("!", e.status) : "", "@",
            e.source_entry));
        break;
      case EventKind::kMark:
        parts.push_back(absl::StrCat("M:", t.marks()[e.mark].label));
        break;
    }
  }
  return absl::StrJoin(parts, " ");
}

TEST(BlktraceDataTest, WithoutDataSaysWhichFlagGivesIt) {
  BlktraceReadOptions options;
  absl::StatusOr<Trace> trace =
      ReadBlktraceWithData({"x.blktrace.0"}, options, nullptr);
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trace.status().message(),
              HasSubstr("blktrace events carry no written data"));
  EXPECT_THAT(trace.status().message(), HasSubstr("--data=PATH"));
}

TEST(BlktraceDataTest, PairsTracefsEventsWithCapturedData) {
  const std::string capture = Capture()
                                  .Write(0, 8, 'a')
                                  .Write(8, 8, 'b')
                                  .Mark("two")
                                  .Write(16, 8, 'c')
                                  .Flush()
                                  .Write(32, 8, 'd')
                                  .Write(40, 8, 'e')
                                  .Mark("end")
                                  .Save();
  const std::string events =
      "# tracer: nop\n" +                              // 1
      Q(1, "W 0 + 8") + Q(2, "W 8 + 8") +              // 2, 3 (merged)
      D(3, "W", "0 + 16") + C(4, "W", "0 + 16") +      // 4, 5
      Q(5, "FWS 0 + 0") + D(6, "FF", "0 + 0") +        // 6, 7 (flush)
      C(7, "FF", "0 + 0") +                            // 8
      Q(8, "FWFS 16 + 8") + D(9, "FF", "0 + 0") +      // 9, 10 (preflush)
      C(10, "FF", "0 + 0") + D(11, "WFS", "16 + 8") +  // 11, 12
      C(12, "WFS", "16 + 8") +                         // 13
      Q(13, "DS 64 + 8") + C(14, "DS", "64 + 8") +     // 14, 15
      Q(15, "W 32 + 8") + C(16, "W", "32 + 8", -5) +   // 16, 17
      Q(17, "FWS 0 + 0") + D(18, "FF", "0 + 0") +      // 18, 19
      C(19, "FF", "0 + 0", -5) +                       // 20
      Q(20, "RA 100 + 8") + C(21, "R", "100 + 8") +    // 21, 22
      Q(22, "W 40 + 8");                               // 23: in flight
  std::string notes, events_path;
  absl::StatusOr<Trace> trace =
      ReadText(events, capture, &notes, "", &events_path);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->format(), "blktrace+data");
  EXPECT_EQ(trace->path(), events_path);
  ASSERT_EQ(trace->devices().size(), 1u);
  EXPECT_EQ(trace->devices()[0].name, "dev0");
  EXPECT_EQ(trace->devices()[0].sector_size, 512u);
  EXPECT_EQ(trace->devices()[0].num_sectors, 72u);
  EXPECT_EQ(Summary(*trace),
            "S0W0+8@2 S1W8+8@3 C0@5 C1@5 M:two S2F0+0@6 C2@8 S3W16+8@9 "
            "S4F0+0@10 C4@11 C3@13 S5D64+8@14 C5@15 S6W32+8@16 C6!-5@17 "
            "S7F0+0@18 C7!-5@20 S8W40+8@23 M:end");
  const std::vector<Op>& ops = trace->ops();
  ASSERT_EQ(ops.size(), 9u);
  EXPECT_EQ(ops[0].data, std::string(4096, 'a'));
  EXPECT_EQ(ops[1].data, std::string(4096, 'b'));
  EXPECT_EQ(ops[3].data, std::string(4096, 'c'));
  EXPECT_EQ(ops[3].flags, kPreflush | kFua | kSync);
  EXPECT_EQ(ops[2].flags, kSync);  // the flush keeps SYNC, not PREFLUSH
  EXPECT_EQ(ops[5].flags, 0u);     // discards carry no flags
  EXPECT_EQ(ops[6].data, std::string(4096, 'd'));
  EXPECT_EQ(ops[8].data, std::string(4096, 'e'));
  EXPECT_EQ(trace->complete_status(6), -5);
  EXPECT_EQ(trace->complete_status(7), -5);
  EXPECT_EQ(trace->complete_event(8), trace->events().size());
  EXPECT_EQ(notes,
            absl::StrCat(events_path,
                         ": device 7,0: 5 writes, 3 flushes, 1 discards; "
                         "written data from ",
                         capture, "\n", events_path,
                         ": left out 1 queued reads and 0 other requests "
                         "(no data written)\n",
                         events_path,
                         ": 1 requests had no queue event and were "
                         "submitted at their issue, 0 at their completion\n",
                         events_path,
                         ": 1 ops never complete (in flight when tracing "
                         "stopped)\n",
                         capture,
                         ": its 1 flushes and 0 discards are not used (the "
                         "block events give them)\n"));
}

TEST(BlktraceDataTest, BlkparseTextSplitsAndRequestsWithoutQueue) {
  const std::string capture =
      Capture().Write(0, 16, 'x').Write(100, 8, 'y').Write(200, 8, 'z').Save();
  const std::string events =
      "  8,0  0  1  0.000001000  5  Q  WS 0 + 16 [a]\n"  // split in two
      "  8,0  0  2  0.000002000  5  C  WS 8 + 8 [0]\n"
      "  8,0  0  3  0.000003000  5  C  WS 0 + 8 [65531]\n"
      "  8,0  0  4  0.000004000  5  D  W 100 + 8 [a]\n"  // no Q
      "  8,0  0  5  0.000005000  0  C  W 100 + 8 [0]\n"
      "  8,0  0  6  0.000006000  0  C  WM 200 + 8 [0]\n"  // no Q, no D
      "CPU0 (8,0):\n"
      " Reads Queued:           0,        0KiB\n";
  std::string notes;
  absl::StatusOr<Trace> trace = ReadText(events, capture, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Summary(*trace),
            "S0W0+16@1 C0!-5@3 S1W100+8@4 C1@5 S2W200+8@6 C2@6");
  EXPECT_EQ(trace->ops()[2].flags, kMeta);
  EXPECT_THAT(notes, HasSubstr("1 requests had no queue event and were "
                               "submitted at their issue, 1 at their "
                               "completion"));
}

TEST(BlktraceDataTest, PairingErrorsNameTheEventAndRange) {
  const std::string events =
      Q(1, "W 0 + 8") + Q(2, "W 8 + 8") + C(3, "W", "0 + 16");
  std::string events_path;
  // The capture lacks the second write.
  absl::StatusOr<Trace> trace = ReadText(
      events, Capture().Write(0, 8, 'a').Save(), nullptr, "", &events_path);
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trace.status().message(),
              HasSubstr(absl::StrCat(events_path,
                                     " line 2: write of 512-byte "
                                     "sectors [8, 16) has no write to pair "
                                     "with in the data capture")));
  EXPECT_THAT(trace.status().message(),
              HasSubstr("(blktrace write number 1 to that range; the capture "
                        "has 0)"));
  // Its second write is longer.
  trace = ReadText(events, Capture().Write(0, 8, 'a').Write(8, 16, 'b').Save(),
                   nullptr, "", &events_path);
  EXPECT_THAT(trace.status().message(),
              HasSubstr(absl::StrCat(events_path,
                                     " line 2: write of 512-byte "
                                     "sectors [8, 16) does not match")));
  EXPECT_THAT(trace.status().message(),
              HasSubstr("(entry 1) covers 16 512-byte sectors (length "
                        "mismatch)"));
  // It has a write that blktrace does not.
  const std::string extra =
      Capture().Write(0, 8, 'a').Write(8, 8, 'b').Write(8, 8, 'c').Save();
  trace = ReadText(events, extra, nullptr, "", &events_path);
  EXPECT_THAT(trace.status().message(),
              HasSubstr(absl::StrCat(extra,
                                     " entry 2: write of 512-byte "
                                     "sectors [8, 16) has no blktrace write of "
                                     "device 7,0 to pair with in ",
                                     events_path)));
}

TEST(BlktraceDataTest, ACaptureOfAMergedRequestIsSplitAmongItsBios) {
  // Below the queue (a loop device's backing file) the capture sees the
  // merged request, not the bios.
  const std::string events = Q(1, "W 0 + 8") + Q(2, "WS 8 + 8") +
                             C(3, "WS", "0 + 16") + Q(4, "W 16 + 8") +
                             C(5, "W", "16 + 8");
  const std::string capture =
      Capture()
          .WriteBytes(0, std::string(4096, 'a') + std::string(4096, 'b'))
          .Write(16, 8, 'c')
          .Save();
  std::string notes;
  absl::StatusOr<Trace> trace = ReadText(events, capture, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Summary(*trace), "S0W0+8@1 S1W8+8@2 C0@3 C1@3 S2W16+8@4 C2@5");
  EXPECT_EQ(trace->ops()[0].data, std::string(4096, 'a'));
  EXPECT_EQ(trace->ops()[1].data, std::string(4096, 'b'));
  EXPECT_EQ(trace->ops()[1].flags, kSync);
  EXPECT_EQ(trace->ops()[2].data, std::string(4096, 'c'));
  EXPECT_THAT(notes, HasSubstr(absl::StrCat(
                         capture,
                         ": 1 writes hold a whole merged request and "
                         "were split among its bios\n")));
}

TEST(BlktraceDataTest, AMarkFollowsTheFlushBeforeItInTheCapture) {
  // dm-log-writes logs the flush that made the write durable, then the mark.
  const std::string capture =
      Capture().Write(0, 8, 'a').Flush().Mark("synced").Write(8, 8, 'b').Save();
  const std::string events = Q(1, "W 0 + 8") + C(2, "W", "0 + 8") +
                             Q(3, "W 8 + 8") + Q(4, "FWS 0 + 0") +
                             D(5, "FF", "0 + 0") + C(6, "FF", "0 + 0") +
                             C(7, "W", "8 + 8");
  absl::StatusOr<Trace> trace = ReadText(events, capture);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Summary(*trace),
            "S0W0+8@1 C0@2 S1W8+8@3 S2F0+0@4 C2@6 M:synced C1@7");
}

TEST(BlktraceDataTest, KthWriteToARangePairsWithKthCaptureWrite) {
  const std::string events = Q(1, "W 0 + 8") + C(2, "W", "0 + 8") +
                             Q(3, "W 0 + 8") + C(4, "W", "0 + 8");
  absl::StatusOr<Trace> trace =
      ReadText(events, Capture().Write(0, 8, '1').Write(0, 8, '2').Save());
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->ops()[0].data[0], '1');
  EXPECT_EQ(trace->ops()[1].data[0], '2');
}

TEST(BlktraceDataTest,
     ConcurrentWritesToOneRangeWithDifferentDataAreAmbiguous) {
  const std::string events = Q(1, "W 0 + 8") + Q(2, "W 0 + 8") +
                             C(3, "W", "0 + 8") + C(4, "W", "0 + 8");
  std::string events_path;
  absl::StatusOr<Trace> trace =
      ReadText(events, Capture().Write(0, 8, '1').Write(0, 8, '2').Save(),
               nullptr, "", &events_path);
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trace.status().message(),
              HasSubstr(absl::StrCat(events_path,
                                     " line 2: write of 512-byte "
                                     "sectors [0, 8) was in flight together "
                                     "with the write of ",
                                     events_path, " line 1")));
  EXPECT_THAT(trace.status().message(), HasSubstr("ambiguous"));
  trace = ReadText(events, Capture().Write(0, 8, '1').Write(0, 8, '1').Save());
  EXPECT_TRUE(trace.ok()) << trace.status();
}

TEST(BlktraceDataTest, CaptureSectorSizeSetsTheUnits) {
  const std::string capture = Capture(4096).Write(8, 16, 'q').Save();
  absl::StatusOr<Trace> trace =
      ReadText(Q(1, "WS 8 + 16") + C(2, "WS", "8 + 16"), capture);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->devices()[0].sector_size, 4096u);
  EXPECT_EQ(trace->ops()[0].sector, 1u);
  EXPECT_EQ(trace->ops()[0].num_sectors, 2u);
  std::string events_path;
  trace = ReadText(Q(1, "WS 4 + 8") + C(2, "WS", "4 + 8"), capture, nullptr, "",
                   &events_path);
  EXPECT_THAT(trace.status().message(),
              HasSubstr(absl::StrCat(events_path,
                                     " line 1: 512-byte sectors "
                                     "[4, 12) is not aligned to the data "
                                     "capture's 4096-byte sectors")));
}

TEST(BlktraceDataTest, DeviceSelection) {
  const std::string events =
      Q(1, "W 0 + 8") + C(2, "W", "0 + 8") +
      Line(3, "block_bio_queue", "8,16 W 0 + 8 [x]") +
      Line(4, "block_rq_complete", "8,16 W () 0 + 8 [0]");
  const std::string capture = Capture().Write(0, 8, 'a').Save();
  absl::StatusOr<Trace> trace = ReadText(events, capture);
  EXPECT_THAT(trace.status().message(),
              HasSubstr("the block events hold several devices (7,0, 8,16); "
                        "choose one with --blk-device=MAJ,MIN"));
  trace = ReadText(events, capture, nullptr, "8,16");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->ops()[0].source_entry, 3u);
  trace = ReadText(events, capture, nullptr, "8:16");
  EXPECT_THAT(trace.status().message(),
              HasSubstr("block device \"8:16\": expected MAJ,MIN"));
  trace = ReadText(events, capture, nullptr, "9,9");
  EXPECT_THAT(trace.status().message(),
              HasSubstr("block device 9,9 is not in the block events (traced: "
                        "7,0, 8,16)"));
}

TEST(BlktraceDataTest, RemapsPlaceAPartitionsBiosOnIt) {
  // Partition 7,1 starts at sector 2048 of 7,0; the data capture logged it.
  const std::string events =
      Line(1, "block_bio_remap", "7,0 W 2056 + 8 <- (7,1) 8") +
      Q(2, "W 2056 + 8") + C(3, "W", "2056 + 8") + Q(4, "W 0 + 8") +
      C(5, "W", "0 + 8");  // not on the partition
  std::string notes;
  absl::StatusOr<Trace> trace =
      ReadText(events, Capture().Write(8, 8, 'p').Save(), &notes, "7,1");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Summary(*trace), "S0W8+8@2 C0@3");
  EXPECT_THAT(notes, HasSubstr("device 7,1 (through remaps to 7,0)"));
  EXPECT_THAT(notes, HasSubstr("1 write or discard requests of 7,0 are not "
                               "on 7,1"));
}

// A write-zeroes request ("WZ", or "NS" as Linux 6.x prints
// REQ_OP_WRITE_ZEROES) reaches a capture below it as a write of zeroes, and
// pairs like a write. Flush completions print their sector as -1.
TEST(BlktraceDataTest, WriteZeroesPairLikeWritesAndFlushesHaveNoRange) {
  const std::string events =
      Q(1, "NS 0 + 8") + C(2, "NS", "0 + 8") + Q(3, "WZ 8 + 8") +
      C(4, "WZ", "8 + 8") + Q(5, "FWS 0 + 0") + D(6, "FF", "0 + 0") +
      C(7, "FF", "18446744073709551615 + 0");
  absl::StatusOr<Trace> trace = ReadText(
      events, Capture().Write(0, 8, '\0').Write(8, 8, '\0').Save(), nullptr);
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_EQ(trace->ops().size(), 3u);
  EXPECT_EQ(trace->ops()[0].kind, OpKind::kWrite);
  EXPECT_EQ(trace->ops()[1].kind, OpKind::kWrite);
  EXPECT_EQ(trace->ops()[1].sector, 8u);
  EXPECT_EQ(trace->ops()[2].kind, OpKind::kFlush);
  EXPECT_EQ(trace->complete_event(2), trace->events().size() - 1);
}

// ---- the public blktrace files -----------------------------------------

#define SHARED_FILE_OR_SKIP(var, name)                                \
  std::string looked_##var;                                           \
  const std::string dir_##var = SharedBlktraceDir(&looked_##var);     \
  if (dir_##var.empty()) {                                            \
    GTEST_SKIP() << "shared/testdata/blktrace not found (looked for " \
                 << looked_##var << ")";                              \
  }                                                                   \
  const std::string var = absl::StrCat(dir_##var, "/", name)

// A capture of the sda file's writes (the request issued at record 2 that
// has no queue event, then every queued write), shifted down by `offset`.
std::string SdaCapture(const std::string& path, uint64_t offset,
                       bool with_unqueued) {
  absl::StatusOr<std::vector<BlockEvent>> events = ReadBlktraceBinary({path});
  EXPECT_TRUE(events.ok());
  Capture capture;
  char fill = 'A';
  for (const BlockEvent& e : *events) {
    const bool unqueued =
        e.action == BlockAction::kIssue && e.source_entry == 2 && with_unqueued;
    if ((e.action == BlockAction::kQueue && e.is_write) || unqueued) {
      capture.Write(e.sector - offset, e.num_sectors, fill++);
    }
  }
  return capture.Save();
}

TEST(BlktraceDataTest, SdaWritesPairWithACapture) {
  SHARED_FILE_OR_SKIP(path, "sda-writes.blktrace.0");
  BlktraceReadOptions options;
  options.data_path = SdaCapture(path, 0, true);
  std::string notes;
  absl::StatusOr<Trace> trace = ReadBlktraceWithData({path}, options, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  const std::vector<Op>& ops = trace->ops();
  ASSERT_EQ(ops.size(), 33u);
  EXPECT_EQ(ops[0].sector, 46899656u);
  EXPECT_EQ(ops[0].source_entry, 2u);  // submitted at its issue
  EXPECT_EQ(trace->events()[trace->complete_event(0)].source_entry, 9u);
  EXPECT_EQ(ops[0].data, std::string(4096, 'A'));
  EXPECT_EQ(ops[1].data, std::string(4096, 'B'));
  int meta = 0, sync = 0;
  for (uint32_t i = 0; i < ops.size(); ++i) {
    EXPECT_EQ(ops[i].kind, OpKind::kWrite);
    EXPECT_LT(trace->complete_event(i), trace->events().size());
    EXPECT_EQ(trace->complete_status(i), 0);
    meta += (ops[i].flags & kMeta) != 0;
    sync += (ops[i].flags & kSync) != 0;
  }
  EXPECT_EQ(meta, 6);  // WM 4, WSM 2
  EXPECT_EQ(sync, 5);  // WS 3, WSM 2
  // The back-merged bio completes with the request it joined.
  EXPECT_EQ(ops[25].sector, 63991816u);
  EXPECT_EQ(ops[26].sector, 63991824u);
  EXPECT_EQ(ops[26].source_entry, 178u);
  EXPECT_EQ(trace->events()[trace->complete_event(25)].source_entry, 191u);
  EXPECT_EQ(trace->events()[trace->complete_event(26)].source_entry, 191u);
  EXPECT_THAT(notes, HasSubstr("234 blktrace records in 1 file (4 notify "
                               "records skipped)"));
  EXPECT_THAT(notes, HasSubstr("device 8,0: 33 writes, 0 flushes, 0 discards"));
  EXPECT_THAT(notes, HasSubstr("1 requests had no queue event and were "
                               "submitted at their issue"));
}

TEST(BlktraceDataTest, SdaWritesOnThePartitionAndTheDmDevice) {
  SHARED_FILE_OR_SKIP(path, "sda-writes.blktrace.0");
  // 8,2 starts at sector 411648 of 8,0; dm 253,0 at sector 3909632 of 8,2.
  for (const auto& [device, offset] :
       std::vector<std::pair<std::string, uint64_t>>{{"8,2", 411648},
                                                     {"253,0", 4321280}}) {
    BlktraceReadOptions options;
    options.data_path = SdaCapture(path, offset, false);
    options.device = device;
    std::string notes;
    absl::StatusOr<Trace> trace = ReadBlktraceWithData({path}, options, &notes);
    ASSERT_TRUE(trace.ok()) << device << ": " << trace.status();
    ASSERT_EQ(trace->ops().size(), 32u) << device;
    EXPECT_EQ(trace->ops()[0].sector, 46899672u - offset) << device;
    EXPECT_EQ(trace->ops()[0].source_entry, 5u);
    EXPECT_THAT(notes, HasSubstr(absl::StrCat("device ", device,
                                              " (through remaps to 8,0)")));
    // The request without a queue event cannot be placed.
    EXPECT_THAT(notes, HasSubstr("1 write or discard requests of 8,0"));
  }
}

TEST(BlktraceDataTest, NvmeReadsGiveNoOps) {
  SHARED_FILE_OR_SKIP(path, "nvme-reads.blktrace.1");
  BlktraceReadOptions options;
  options.data_path = Capture().Save();
  std::string notes;
  absl::StatusOr<Trace> trace = ReadBlktraceWithData({path}, options, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_TRUE(trace->ops().empty());
  EXPECT_THAT(notes,
              HasSubstr("device 259,0: 0 writes, 0 flushes, 0 discards"));
  EXPECT_THAT(notes, HasSubstr("left out 963 queued reads"));
}

TEST(BlktraceDataTest, TraceReaderDetectsAndReadsPerCpuFiles) {
  SHARED_FILE_OR_SKIP(path, "sda-writes.blktrace.0");
  absl::StatusOr<TraceFormat> format = DetectFormat(path);
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(*format, TraceFormat::kBlktrace);
  // The run's records spread over two per-CPU files.
  std::string files[2];
  int k = 0;
  for (std::string record : SplitBlkRecords(ReadFileOrDie(path))) {
    const int cpu = k++ % 2;
    SetBlkField32(&record, internal_traces::kBlkCpuOffset, cpu);
    files[cpu] += record;
  }
  const std::string dir = TempDir();
  WriteFileOrDie(dir + "/sda.blktrace.0", files[0]);
  WriteFileOrDie(dir + "/sda.blktrace.1", files[1]);
  ReadOptions options;
  absl::StatusOr<Trace> trace = ReadTrace(dir + "/sda.blktrace.1", options);
  EXPECT_THAT(trace.status().message(), HasSubstr("--data=PATH"));
  options.data_path = SdaCapture(path, 0, true);
  std::string notes;
  trace = ReadTrace(dir + "/sda.blktrace.1", options, &notes);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->format(), "blktrace+data");
  EXPECT_EQ(trace->ops().size(), 33u);
  EXPECT_THAT(notes, HasSubstr(absl::StrCat(
                         dir,
                         "/sda.blktrace.1: read with the other per-CPU "
                         "files of its run: ",
                         dir, "/sda.blktrace.0\n")));
  EXPECT_THAT(notes, HasSubstr("234 blktrace records in 2 files"));
}

TEST(BlktraceDataTest, TraceReaderDetectsBlockEventText) {
  const std::string path = TempPath("events.txt");
  WriteFileOrDie(path,
                 "# tracer: nop\n" + Q(1, "W 0 + 8") + C(2, "W", "0 + 8"));
  absl::StatusOr<TraceFormat> format = DetectFormat(path);
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(*format, TraceFormat::kBlockText);
  ReadOptions options;
  options.data_path = Capture().Write(0, 8, 'a').Save();
  absl::StatusOr<Trace> trace = ReadTrace(path, options);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->ops().size(), 1u);
  options.device_size_bytes = 1 << 20;
  trace = ReadTrace(path, options);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->devices()[0].num_sectors, 2048u);
}

}  // namespace
}  // namespace crashenum
