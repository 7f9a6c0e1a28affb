#include "cli/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace internal_cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Flags Make() {
  Flags f;
  f.Define("oracle", "o");
  f.Define("jobs", "j", false, {"-j"});
  f.Define("output", "o", false, {"-o"});
  f.Define("quiet", "q", true);
  f.Define("device-size", "d");
  f.Define("oracle-timeout", "t");
  return f;
}

TEST(FlagsTest, ParsesFormsAndPositionals) {
  Flags f = Make();
  ASSERT_TRUE(f.Parse({"trace.log", "--oracle=ext4-fsck", "-j", "3", "-o",
                       "x.img", "--quiet", "--device-size", "16M", "--",
                       "--not-a-flag"})
                  .ok());
  EXPECT_THAT(f.positional(), ElementsAre("trace.log", "--not-a-flag"));
  EXPECT_EQ(f.Get("oracle"), "ext4-fsck");
  EXPECT_EQ(*f.GetInt("jobs", 1), 3);
  EXPECT_EQ(f.Get("output"), "x.img");
  EXPECT_TRUE(f.GetBool("quiet"));
  EXPECT_EQ(*f.GetInt("device-size", 0, true), 16 << 20);
  EXPECT_THAT(f.Given({"oracle", "quiet", "jobs"}),
              ElementsAre("--oracle=ext4-fsck", "--quiet", "--jobs=3"));
  Flags g = Make();
  ASSERT_TRUE(g.Parse({"-j4"}).ok());
  EXPECT_EQ(*g.GetInt("jobs", 1), 4);
}

TEST(FlagsTest, RejectsBadUsage) {
  Flags f = Make();
  EXPECT_THAT(f.Parse({"--nope"}).message(), HasSubstr("unknown option --nope"));
  EXPECT_THAT(Make().Parse({"--oracle"}).message(), HasSubstr("needs a value"));
  EXPECT_THAT(Make().Parse({"--quiet=yes"}).message(),
              HasSubstr("takes no value"));
  EXPECT_THAT(Make().Parse({"-x"}).message(), HasSubstr("unknown option -x"));
  Flags g = Make();
  ASSERT_TRUE(g.Parse({"--jobs=many", "--oracle-timeout=soon"}).ok());
  EXPECT_THAT(g.GetInt("jobs", 1).status().message(),
              HasSubstr("expected a non-negative integer"));
  EXPECT_FALSE(g.GetDuration("oracle-timeout", absl::Seconds(1)).ok());
}

TEST(FlagsTest, Durations) {
  Flags f = Make();
  ASSERT_TRUE(f.Parse({"--oracle-timeout=90s"}).ok());
  EXPECT_EQ(*f.GetDuration("oracle-timeout", absl::Seconds(1)),
            absl::Seconds(90));
  Flags g = Make();
  ASSERT_TRUE(g.Parse({"--oracle-timeout=2.5"}).ok());
  EXPECT_EQ(*g.GetDuration("oracle-timeout", absl::Seconds(1)),
            absl::Milliseconds(2500));
}

}  // namespace
}  // namespace internal_cli
}  // namespace crashenum
