#include "traces/internal/crc32c.h"

#include <cstdint>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace crashenum {
namespace internal_traces {
namespace {

TEST(Crc32cTest, KnownValues) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c("a"), 0xC1D04330u);
  // RFC 3720 (iSCSI) B.4 test vectors.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, ExtendEqualsWholeAndPortableEqualsFast) {
  std::mt19937_64 rng(7);
  std::string data(5000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t length : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4999, 5000}) {
    for (size_t offset : {0, 1, 3, 5}) {
      if (offset > length) continue;
      const absl::string_view s =
          absl::string_view(data).substr(offset, length);
      const uint32_t whole = Crc32c(s);
      EXPECT_EQ(ExtendCrc32cPortable(0, s), whole) << length << " " << offset;
      for (size_t cut : {size_t{0}, s.size() / 3, s.size()}) {
        EXPECT_EQ(ExtendCrc32c(Crc32c(s.substr(0, cut)), s.substr(cut)), whole);
        EXPECT_EQ(ExtendCrc32cPortable(
                      ExtendCrc32cPortable(0, s.substr(0, cut)), s.substr(cut)),
                  whole);
      }
    }
  }
}

TEST(Crc32cTest, EveryOneBitChangeIsDetected) {
  std::string data = "crashenum record payload";
  const uint32_t crc = Crc32c(data);
  for (size_t i = 0; i < data.size() * 8; ++i) {
    data[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_NE(Crc32c(data), crc) << i;
    data[i / 8] ^= static_cast<char>(1 << (i % 8));
  }
}

}  // namespace
}  // namespace internal_traces
}  // namespace crashenum
