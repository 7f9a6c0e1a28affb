#include "record/block_join.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace internal_record {
namespace {

// A raw FUSE-level trace: writes, flushes, in the order given by `script`
// ("W sector count", "F"), each submitted and completed at once.
Trace RawTrace(const std::vector<std::string>& script) {
  TraceBuilder b("crashenum", "");
  Device d;
  d.name = "disk";
  d.num_sectors = 1 << 16;
  EXPECT_TRUE(b.AddDevice(d).ok());
  uint64_t entry = 0;
  for (const std::string& line : script) {
    Op op;
    if (line[0] == 'F') {
      op.kind = OpKind::kFlush;
    } else if (line[0] == 'D') {
      unsigned long long sector, count;
      EXPECT_EQ(std::sscanf(line.c_str(), "D %llu %llu", &sector, &count), 2);
      op.kind = OpKind::kDiscard;
      op.sector = sector;
      op.num_sectors = count;
    } else {
      unsigned long long sector, count;
      EXPECT_EQ(std::sscanf(line.c_str(), "W %llu %llu", &sector, &count), 2);
      op.sector = sector;
      op.num_sectors = count;
      op.data = b.Own(std::string(count * 512, 'a'));
    }
    EXPECT_TRUE(b.SubmitAndComplete(op, entry++).ok());
  }
  return *std::move(b).Build();
}

// A queued bio of 7,0, through the tracefs line parser the recorder uses.
BlockEvent Bio(const std::string& rwbs, uint64_t sector, uint32_t count) {
  const std::string line = absl::StrCat(
      "  w-1 [000] ..... 1.000000: block_bio_queue: 7,0 ", rwbs, " ", sector,
      " + ", count, " [w]");
  absl::StatusOr<std::optional<BlockEvent>> e = ParseTracefsLine(line, 1);
  EXPECT_TRUE(e.ok() && e->has_value()) << line;
  return e.ok() && e->has_value() ? **e : BlockEvent();
}

TEST(BlockJoinTest, MergedBiosGiveTheirFlagsToOneWrite) {
  Trace raw = RawTrace({"W 100 4", "W 200 2"});
  JoinReport r;
  auto t = JoinBlockFlags(raw,
                          {Bio("WSM", 100, 2), Bio("WSM", 102, 2),
                           Bio("WS", 200, 2)},
                          7, 0, nullptr, &r);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ops()[0].flags, kSync | kMeta);
  EXPECT_EQ(t->ops()[1].flags, kSync);
  EXPECT_EQ(r.writes_joined, 2u);
  EXPECT_EQ(r.bios_unused, 0u);
}

TEST(BlockJoinTest, RewritesOfTheSameSectorsMatchInOrder) {
  Trace raw = RawTrace({"W 8 2", "W 8 2", "W 8 2"});
  auto t = JoinBlockFlags(
      raw, {Bio("WM", 8, 2), Bio("WS", 8, 2), Bio("W", 8, 2)}, 7, 0, nullptr, nullptr);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ops()[0].flags, kMeta);
  EXPECT_EQ(t->ops()[1].flags, kSync);
  EXPECT_EQ(t->ops()[2].flags, 0u);
}

TEST(BlockJoinTest, OneBioSplitIntoSeveralWrites) {
  Trace raw = RawTrace({"W 0 2048", "W 2048 2048"});
  auto t = JoinBlockFlags(raw, {Bio("WS", 0, 4096)}, 7, 0, nullptr, nullptr);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ops()[0].flags, kSync);
  EXPECT_EQ(t->ops()[1].flags, kSync);
}

// mkfs zeroes the journal with a write-zeroes request ("NS"); the disk sees
// a write of zeroes. Later bios over the same sectors belong to later writes:
// a bio queued after a write arrived is never its source.
TEST(BlockJoinTest, WriteZeroesAndArrivalTimesKeepLaterBiosForLaterWrites) {
  Trace raw = RawTrace({"W 100 64", "W 100 2"});
  BlockEvent zeroes = Bio("NS", 100, 64);
  zeroes.time_ns = 10;
  BlockEvent commit = Bio("FWFSM", 100, 2);
  commit.time_ns = 30;
  const std::vector<uint64_t> arrival = {20, 40};
  JoinReport r;
  auto t = JoinBlockFlags(raw, {zeroes, commit}, 7, 0, &arrival, &r);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ops()[0].flags, kSync);
  EXPECT_EQ(t->ops()[1].flags, kPreflush | kFua | kSync | kMeta);
  // Without the zeroes' bio, the first write must not take the commit's.
  t = JoinBlockFlags(raw, {commit}, 7, 0, &arrival, &r);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ops()[0].flags, 0u);
  EXPECT_EQ(t->ops()[1].flags, kPreflush | kFua | kSync | kMeta);
  const std::vector<uint64_t> wrong_size = {1};
  EXPECT_FALSE(JoinBlockFlags(raw, {}, 7, 0, &wrong_size, &r).ok());
}

// ext4lazyinit zeroes inode tables with write-zeroes requests that may
// unmap; the loop device punches a hole for them, and the hole reads as
// zeroes. Such a punch is a write of zeroes; a real discard stays one.
TEST(BlockJoinTest, HolePunchOfAWriteZeroesIsAWriteOfZeroes) {
  Trace raw = RawTrace({"D 274 1018", "D 4096 64", "W 274 2"});
  JoinReport r;
  auto t = JoinBlockFlags(raw,
                          {Bio("NS", 274, 1018), Bio("DS", 4096, 64),
                           Bio("WSM", 274, 2)},
                          7, 0, nullptr, &r);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ops()[0].kind, OpKind::kWrite);
  EXPECT_EQ(t->ops()[0].flags, kSync);
  EXPECT_EQ(t->ops()[0].data, std::string(1018 * 512, '\0'));
  EXPECT_EQ(t->ops()[1].kind, OpKind::kDiscard);
  EXPECT_EQ(t->ops()[2].flags, kSync | kMeta);  // not the zeroes' bio
  EXPECT_EQ(r.punches_as_zeroes, 1u);
}

TEST(BlockJoinTest, OtherDevicesAndReadsAreIgnored) {
  Trace raw = RawTrace({"W 0 8"});
  BlockEvent other = Bio("WM", 0, 8);
  other.minor = 1;
  BlockEvent read = Bio("RM", 0, 8);
  JoinReport r;
  auto t = JoinBlockFlags(raw, {other, read}, 7, 0, nullptr, &r);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ops()[0].flags, 0u);
  EXPECT_EQ(r.writes_unjoined, 1u);
}

// The journal commit of ext4 on a loop device: the block layer turns the
// PREFLUSH|FUA bio into flush, write, flush. The write completes, for the
// file system, when the second flush does.
TEST(BlockJoinTest, FuaWriteCompletesWithTheFlushAfterIt) {
  Trace raw = RawTrace({"W 10 2", "F", "W 32788 2", "F", "W 20 2"});
  JoinReport r;
  auto t = JoinBlockFlags(raw, {Bio("WSM", 10, 2), Bio("FWFSM", 32788, 2),
                                Bio("WM", 20, 2)},
                          7, 0, nullptr, &r);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ops()[2].flags, kPreflush | kFua | kSync | kMeta);
  EXPECT_EQ(r.fua, 1u);
  EXPECT_EQ(r.preflush, 1u);
  // Events: S0 C0 S1 C1 S2 S3 C2 C3 S4 C4.
  std::vector<std::string> order;
  for (const Event& e : t->events()) {
    order.push_back((e.kind == EventKind::kSubmit ? "S" : "C") +
                    std::to_string(e.op));
  }
  EXPECT_THAT(order, ::testing::ElementsAre("S0", "C0", "S1", "C1", "S2", "S3",
                                            "C2", "C3", "S4", "C4"));
  // The data stay views of the raw trace.
  EXPECT_EQ(t->ops()[2].data.data(), raw.ops()[2].data.data());
}

TEST(BlockJoinTest, FuaWriteWithoutAFlushAfterItStaysInFlight) {
  Trace raw = RawTrace({"W 2 2"});
  JoinReport r;
  auto t = JoinBlockFlags(raw, {Bio("WFS", 2, 2)}, 7, 0, nullptr, &r);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->complete_event(0), t->events().size());
  EXPECT_EQ(r.fua_in_flight, 1u);
}

}  // namespace
}  // namespace internal_record
}  // namespace crashenum
