#include "oracles/internal/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace internal_oracles {
namespace {

using ::testing::HasSubstr;

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the padding boundaries (55, 56, 63, 64 bytes) fed in pieces
// of every size give the one-shot digest.
TEST(Sha256Test, PiecewiseEqualsOneShot) {
  for (size_t length : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000}) {
    std::string data;
    for (size_t i = 0; i < length; ++i) data += static_cast<char>(i * 7 + 3);
    const std::string expected = Sha256Hex(data);
    for (size_t piece = 1; piece <= 70; ++piece) {
      Sha256 sha;
      for (size_t pos = 0; pos < data.size(); pos += piece) {
        sha.Update(absl::string_view(data).substr(pos, piece));
      }
      std::array<uint8_t, 32> digest = sha.Finish();
      std::string hex;
      for (uint8_t b : digest) {
        static constexpr char kHex[] = "0123456789abcdef";
        hex += kHex[b >> 4];
        hex += kHex[b & 15];
      }
      EXPECT_EQ(hex, expected) << length << " bytes in pieces of " << piece;
    }
  }
  // A known vector across a block boundary: 56 bytes then padding block.
  EXPECT_EQ(Sha256Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

// The file digest agrees with coreutils' sha256sum on the same file.
TEST(Sha256Test, FileAgreesWithSha256sum) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/sha256-file";
  std::string data;
  for (int i = 0; i < 200000; ++i) data += static_cast<char>(i * 31 % 251);
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(fwrite(data.data(), 1, data.size(), f), data.size());
  fclose(f);
  absl::StatusOr<std::string> hex = Sha256FileHex(path);
  ASSERT_TRUE(hex.ok()) << hex.status();
  EXPECT_EQ(*hex, Sha256Hex(data));

  FILE* p = popen(("sha256sum < " + path).c_str(), "r");
  ASSERT_NE(p, nullptr);
  char out[65] = {0};
  ASSERT_EQ(fread(out, 1, 64, p), 64u);
  EXPECT_EQ(pclose(p), 0);
  EXPECT_EQ(*hex, std::string(out));
  unlink(path.c_str());
}

TEST(Sha256Test, FileErrors) {
  absl::StatusOr<std::string> hex = Sha256FileHex("/nonexistent/file");
  EXPECT_EQ(hex.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(hex.status().message(), HasSubstr("/nonexistent/file"));
  hex = Sha256FileHex("/");
  EXPECT_EQ(hex.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(hex.status().message(), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace internal_oracles
}  // namespace crashenum
