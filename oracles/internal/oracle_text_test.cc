#include "oracles/internal/oracle_text.h"

#include "gtest/gtest.h"

namespace crashenum {
namespace internal_oracles {
namespace {

TEST(ShellQuoteTest, QuotesEverything) {
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("/tmp/a b/$x"), "'/tmp/a b/$x'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

TEST(ScrubPathsTest, LongestFirst) {
  EXPECT_EQ(ScrubPaths("open /s/a.img2 and /s/a.img.",
                       {{"/s/a.img", "{image}"}, {"/s/a.img2", "{image:b}"}}),
            "open {image:b} and {image}.");
  EXPECT_EQ(ScrubPaths("x", {{"", "never"}}), "x");
}

TEST(LastLinesTest, KeepsTheLastNonBlankLines) {
  EXPECT_EQ(LastLines("a\n\nb  \nc\n\n", 2, 100), "b\nc");
  EXPECT_EQ(LastLines("a\nb\n", 5, 100), "a\nb");
  EXPECT_EQ(LastLines("", 5, 100), "");
  EXPECT_EQ(LastLines("0123456789\n", 5, 4), "...6789");
}

TEST(CapLineTest, Cuts) {
  EXPECT_EQ(CapLine("abc", 3), "abc");
  EXPECT_EQ(CapLine("abcd", 3), "abc...");
}

TEST(WithDetailTest, Joins) {
  EXPECT_EQ(WithDetail("exit 1", ""), "exit 1");
  EXPECT_EQ(WithDetail("exit 1", "boom"), "exit 1: boom");
}

}  // namespace
}  // namespace internal_oracles
}  // namespace crashenum
