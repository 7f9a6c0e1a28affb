#include "oracles/oracle.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

TEST(VerdictKindNameTest, Names) {
  EXPECT_EQ(VerdictKindName(VerdictKind::kPass), "PASS");
  EXPECT_EQ(VerdictKindName(VerdictKind::kFail), "FAIL");
  EXPECT_EQ(VerdictKindName(VerdictKind::kError), "ERROR");
}

TEST(MakeOracleTest, UnknownSpecListsKnownOracles) {
  for (const char* spec : {"", "xfs-fsck", "exec", "EXEC:true", "ext4-fsck "}) {
    absl::StatusOr<std::unique_ptr<Oracle>> oracle =
        MakeOracle(spec, OracleOptions());
    EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument)
        << spec;
    EXPECT_THAT(oracle.status().message(),
                HasSubstr("known oracles: ext4-fsck, exec:CMD"));
  }
}

TEST(MakeOracleTest, ExecNeedsACommand) {
  for (const char* spec : {"exec:", "exec:  "}) {
    absl::StatusOr<std::unique_ptr<Oracle>> oracle =
        MakeOracle(spec, OracleOptions());
    EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(oracle.status().message(), HasSubstr("empty command"));
  }
}

TEST(MakeOracleTest, MalformedImagePlaceholders) {
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle("exec:cat {image:log", OracleOptions());
  EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(oracle.status().message(), HasSubstr("unterminated {image:"));

  oracle = MakeOracle("exec:cat {image:}", OracleOptions());
  EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(oracle.status().message(), HasSubstr("empty device name"));
}

TEST(MakeOracleTest, TimeoutMustBePositive) {
  OracleOptions options;
  options.timeout = absl::ZeroDuration();
  EXPECT_EQ(MakeOracle("exec:true", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MakeOracleTest, NameAndTraitsOfExec) {
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle("exec:test -s {image}", OracleOptions());
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  EXPECT_EQ((*oracle)->name(), "exec:test -s {image}");
  EXPECT_FALSE((*oracle)->traits().metadata_only);
  EXPECT_TRUE((*oracle)->traits().mutates_image);
  EXPECT_FALSE((*oracle)->traits().needs_root);
  EXPECT_TRUE((*oracle)->traits().deterministic);
}

}  // namespace
}  // namespace crashenum
