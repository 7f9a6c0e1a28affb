#include "enumerator/crash_points.h"

#include "enumerator/test_traces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_traces::Script;

std::vector<uint32_t> Events(const Trace& t, CrashPointOptions o) {
  std::vector<uint32_t> out;
  absl::StatusOr<std::vector<CrashPoint>> points = FindCrashPoints(t, o);
  EXPECT_TRUE(points.ok()) << points.status();
  for (const CrashPoint& p : *points) out.push_back(p.event);
  return out;
}

TEST(CrashPointsTest, DefaultPointsPrecedeDurableGrowth) {
  Script s(16);
  s.Write(0, 1, 'a');  // events 0,1
  s.Flush();           // 2,3: complete grows the durable set
  s.Flush();           // 4,5: nothing left to make durable
  s.Mark("m");         // 6
  s.Write(1, 1, 'b', kFua);  // 7,8: FUA completion grows
  Trace t = std::move(s).Build();
  CrashPointOptions o;
  EXPECT_THAT(Events(t, o), ElementsAre(3, 8, 9));
  o.mode = CrashPointMode::kFlushes;
  EXPECT_THAT(Events(t, o), ElementsAre(3, 5, 8, 9));
  o.mode = CrashPointMode::kMarks;
  EXPECT_THAT(Events(t, o), ElementsAre(6, 9));
  o.mode = CrashPointMode::kAll;
  EXPECT_EQ(Events(t, o).size(), 10u);
  o.mode = CrashPointMode::kDurable;
  o.from_mark = "m";
  EXPECT_THAT(Events(t, o), ElementsAre(8, 9));
  o.from_mark = "";
  o.to_mark = "m";
  EXPECT_THAT(Events(t, o), ElementsAre(3));
}

TEST(CrashPointsTest, UnknownMarkListsTheMarks) {
  Script s(4);
  s.Mark("one");
  s.Mark("two");
  Trace t = std::move(s).Build();
  CrashPointOptions o;
  o.from_mark = "three";
  absl::StatusOr<std::vector<CrashPoint>> p = FindCrashPoints(t, o);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("'one', 'two'"));
  o.from_mark = "two";
  o.to_mark = "one";
  EXPECT_THAT(FindCrashPoints(t, o).status().message(),
              HasSubstr("comes before"));
}

TEST(DurabilityTest, FailedWriteIsNeverDurable) {
  Script s(4);
  uint32_t w = s.Write(0, 1, 'a');
  uint32_t bad = s.Submit(1, 1, 'x');
  s.Complete(bad, -5);
  s.Flush();
  Trace t = std::move(s).Build();
  Durability d = DurabilityAt(t, t.events().size(), DiscardMode::kEither);
  EXPECT_EQ(d.state[w], OpState::kDurable);
  EXPECT_EQ(d.state[bad], OpState::kOptional);
}

TEST(DurabilityTest, PreflushInFlightConstrainsWhatItCovers) {
  Script s(8);
  uint32_t a = s.Write(0, 1, 'a');
  uint32_t b = s.Write(1, 1, 'b');
  uint32_t p = s.Submit(2, 1, 'p', kPreflush | kFua);
  Trace t = std::move(s).Build();
  Durability d = DurabilityAt(t, t.events().size(), DiscardMode::kEither);
  ASSERT_EQ(d.constraints.size(), 1u);
  EXPECT_EQ(d.constraints[0].write, p);
  EXPECT_THAT(d.constraints[0].covered, ElementsAre(a, b));
  EXPECT_EQ(d.state[p], OpState::kOptional);
}

TEST(DurabilityTest, CompletedPreflushFuaMakesAllDurable) {
  Script s(8);
  uint32_t a = s.Write(0, 1, 'a');
  uint32_t p = s.Write(2, 1, 'p', kPreflush | kFua);
  uint32_t c = s.Write(3, 1, 'c');
  uint32_t dsc = s.Discard(4, 2);
  s.Flush();
  Trace t = std::move(s).Build();
  Durability d = DurabilityAt(t, t.events().size(), DiscardMode::kEither);
  EXPECT_EQ(d.state[a], OpState::kDurable);
  EXPECT_EQ(d.state[p], OpState::kDurable);
  EXPECT_EQ(d.state[c], OpState::kDurable);
  EXPECT_EQ(d.state[dsc], OpState::kOptional);  // never made durable
  EXPECT_EQ(DurabilityAt(t, t.events().size(), DiscardMode::kKeep).state[dsc],
            OpState::kAbsent);
  EXPECT_EQ(DurabilityAt(t, t.events().size(), DiscardMode::kZero).state[dsc],
            OpState::kDurable);
}

}  // namespace
}  // namespace crashenum
