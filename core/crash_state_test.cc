#include "core/crash_state.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

TEST(StateIdTest, RoundTripsThroughText) {
  StateId id;
  id.event = 392;
  id.unit_bytes = 512;
  id.bits = Bitmap(27);
  id.bits.Set(0, true);
  id.bits.Set(4, true);
  id.bits.Set(26, true);
  EXPECT_EQ(id.ToString(), "e392-u512-n27-4000011");
  absl::StatusOr<StateId> back = StateId::Parse(id.ToString());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, id);

  id.order = {1, 0, 2};
  EXPECT_EQ(id.ToString(), "e392-u512-n27-4000011-o1.0.2");
  back = StateId::Parse(id.ToString());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, id);
}

TEST(StateIdTest, EmptyBitmapHasOneDigit) {
  StateId id;
  id.event = 7;
  id.unit_bytes = 4096;
  EXPECT_EQ(id.ToString(), "e7-u4096-n0-0");
  absl::StatusOr<StateId> back = StateId::Parse("e7-u4096-n0-0");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->bits.size(), 0u);
}

TEST(StateIdTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "e1", "x1-u512-n4-f", "e1-u512-n4-ff", "e1-u512-n4-r1.4",
        "e1-u512-n4-r1.2", "e1-u512-n4-r1.x",
        "e1-u512-n3-f", "e1-u512-n4-g", "e1-u512-n4-f-x1", "e1-u512-n4-f-o1.x"}) {
    absl::StatusOr<StateId> id = StateId::Parse(bad);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(id.status().message(), HasSubstr("malformed state ID")) << bad;
  }
}

TEST(StateIdTest, LongUniformBitmapsUseRuns) {
  StateId id;
  id.event = 392;
  id.unit_bytes = 512;
  id.bits = Bitmap(35074);
  for (size_t i = 0; i < 35074; ++i) id.bits.Set(i, i != 2 && i != 3);
  EXPECT_EQ(id.ToString(), "e392-u512-n35074-r0.2.2.35070");
  absl::StatusOr<StateId> back = StateId::Parse(id.ToString());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, id);
  // Both spellings of one bitmap parse to the same state.
  EXPECT_EQ(*StateId::Parse("e1-u512-n4-r1.3"), *StateId::Parse("e1-u512-n4-e"));
}

TEST(BitmapTest, CountsAndFlips) {
  Bitmap b(130);
  b.Set(0, true);
  b.Set(129, true);
  b.Flip(64);
  EXPECT_EQ(b.Count(), 3u);
  b.Flip(64);
  EXPECT_FALSE(b.Get(64));
  EXPECT_EQ(b.Count(), 2u);
}

}  // namespace
}  // namespace crashenum
