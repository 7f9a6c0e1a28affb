#include "core/crash_state.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"

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

// The text of DESIGN's state IDs spelled out bit by bit: hex digits (digit d
// holds bits 4d..4d+3, most significant digit first) or, when shorter,
// alternating run lengths starting with zeroes.
std::string ReferenceBitsText(const std::vector<bool>& bits) {
  std::string hex;
  const size_t digits = bits.empty() ? 1 : (bits.size() + 3) / 4;
  for (size_t d = digits; d-- > 0;) {
    unsigned v = 0;
    for (size_t b = 0; b < 4; ++b) {
      if (d * 4 + b < bits.size() && bits[d * 4 + b]) v |= 1u << b;
    }
    hex += "0123456789abcdef"[v];
  }
  std::vector<size_t> runs = {0};
  bool value = false;
  for (bool b : bits) {
    if (b != value) {
      runs.push_back(0);
      value = b;
    }
    ++runs.back();
  }
  std::string r = "r";
  for (size_t i = 0; i < runs.size(); ++i) {
    absl::StrAppend(&r, i == 0 ? "" : ".", runs[i]);
  }
  return r.size() < hex.size() ? r : hex;
}

// Bitmaps made of runs, so that both spellings occur.
rc::Gen<std::vector<bool>> RunsOfBits() {
  return rc::gen::map(
      rc::gen::container<std::vector<std::pair<bool, uint8_t>>>(rc::gen::pair(
          rc::gen::arbitrary<bool>(), rc::gen::inRange<uint8_t>(0, 150))),
      [](const std::vector<std::pair<bool, uint8_t>>& runs) {
        std::vector<bool> bits;
        for (const auto& [value, length] : runs) {
          bits.insert(bits.end(), length, value);
        }
        return bits;
      });
}

RC_GTEST_PROP(StateIdProperty, TextIsTheBitByBitSpelling, ()) {
  const std::vector<bool> bits = *RunsOfBits();
  StateId id;
  id.event = 3;
  id.unit_bytes = 512;
  id.bits = Bitmap(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) id.bits.Set(i, bits[i]);
  RC_ASSERT(id.ToString() == absl::StrCat("e3-u512-n", bits.size(), "-",
                                          ReferenceBitsText(bits)));
  absl::StatusOr<StateId> back = StateId::Parse(id.ToString());
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == id);
}

RC_GTEST_PROP(BitmapProperty, SetRangeAndFindAgreeWithSingleBits, ()) {
  const std::vector<bool> bits = *RunsOfBits();
  const size_t n = bits.size();
  Bitmap b(n);
  for (size_t i = 0; i < n; ++i) b.Set(i, bits[i]);
  const size_t begin = *rc::gen::inRange<size_t>(0, n + 1);
  const size_t end = *rc::gen::inRange<size_t>(begin, n + 1);
  Bitmap ranged = b;
  ranged.SetRange(begin, end);
  Bitmap single = b;
  for (size_t i = begin; i < end; ++i) single.Set(i, true);
  RC_ASSERT(ranged == single);
  const size_t from = *rc::gen::inRange<size_t>(0, n + 2);
  for (bool value : {false, true}) {
    size_t want = from;
    while (want < n && bits[want] != value) ++want;
    RC_ASSERT(b.Find(from, value) == std::min(want, n));
  }
}

}  // namespace
}  // namespace crashenum
