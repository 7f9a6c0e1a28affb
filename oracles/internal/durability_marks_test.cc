#include "oracles/internal/durability_marks.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace internal_oracles {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

const std::string kH1(64, 'a');
const std::string kH2 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

DurabilityMark Parsed(const std::string& label) {
  absl::StatusOr<std::optional<DurabilityMark>> m = ParseDurabilityMark(label);
  EXPECT_TRUE(m.ok()) << label << ": " << m.status();
  EXPECT_TRUE(m.ok() && m->has_value()) << label;
  return m.ok() && m->has_value() ? **m : DurabilityMark();
}

// The message of the error `label` gives; "" if it parses.
std::string ErrorOf(const std::string& label) {
  absl::StatusOr<std::optional<DurabilityMark>> m = ParseDurabilityMark(label);
  if (m.ok()) return "";
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << label;
  return std::string(m.status().message());
}

TEST(ParseDurabilityMarkTest, EachVerb) {
  EXPECT_EQ(Parsed("fsync a.txt " + kH2),
            (DurabilityMark{DurabilityVerb::kFsync, "a.txt", "", kH2}));
  EXPECT_EQ(Parsed("rename d/a.tmp d/a"),
            (DurabilityMark{DurabilityVerb::kRename, "d/a.tmp", "d/a", ""}));
  EXPECT_EQ(Parsed("unlink b"),
            (DurabilityMark{DurabilityVerb::kUnlink, "b", "", ""}));
  EXPECT_EQ(Parsed("mkdir x/y"),
            (DurabilityMark{DurabilityVerb::kMkdir, "x/y", "", ""}));
  EXPECT_EQ(Parsed("dirty log"),
            (DurabilityMark{DurabilityVerb::kDirty, "log", "", ""}));
  // Runs of spaces and tabs separate words.
  EXPECT_EQ(Parsed("  unlink\t \tb  "),
            (DurabilityMark{DurabilityVerb::kUnlink, "b", "", ""}));
}

TEST(ParseDurabilityMarkTest, OtherMarksAreNotDurabilityMarks) {
  for (const char* label :
       {"", "   ", "mkfs", "umount", "fsync-file", "renamed logs/snap",
        "FSYNC a " /* keywords are lower case */, "\"fsync\" a", "x fsync a"}) {
    absl::StatusOr<std::optional<DurabilityMark>> m = ParseDurabilityMark(label);
    ASSERT_TRUE(m.ok()) << label << ": " << m.status();
    EXPECT_FALSE(m->has_value()) << label;
  }
}

TEST(ParseDurabilityMarkTest, QuotedPaths) {
  EXPECT_EQ(Parsed("fsync \"my file.txt\" " + kH1).path, "my file.txt");
  EXPECT_EQ(Parsed("unlink \"a\\\"b\\\\c\"").path, "a\"b\\c");
  EXPECT_EQ(Parsed("rename \"x y\" \"z\tw\"").new_path, "z\tw");
  EXPECT_EQ(Parsed("unlink \"plain\"").path, "plain");
}

TEST(ParseDurabilityMarkTest, FormatRoundTrips) {
  const std::vector<DurabilityMark> marks = {
      {DurabilityVerb::kFsync, "a.txt", "", kH2},
      {DurabilityVerb::kFsync, "dir/my file", "", kH1},
      {DurabilityVerb::kRename, "a \"q\"", "b\\c", ""},
      {DurabilityVerb::kUnlink, "u", "", ""},
      {DurabilityVerb::kMkdir, "d\te", "", ""},
      {DurabilityVerb::kDirty, "x/y/z", "", ""},
  };
  for (const DurabilityMark& m : marks) {
    const std::string label = FormatDurabilityMark(m);
    EXPECT_EQ(Parsed(label), m) << label;
  }
  EXPECT_EQ(FormatDurabilityMark(marks[0]), "fsync a.txt " + kH2);
  EXPECT_EQ(FormatDurabilityMark(marks[2]), "rename \"a \\\"q\\\"\" \"b\\\\c\"");
  EXPECT_EQ(QuoteMarkPath("d\te"), "\"d\te\"");
}

TEST(ParseDurabilityMarkTest, MalformedMarks) {
  EXPECT_THAT(ErrorOf("fsync"), HasSubstr("expected 'fsync PATH SHA256', got 0 arguments"));
  EXPECT_THAT(ErrorOf("fsync a"), HasSubstr("got 1 argument"));
  EXPECT_THAT(ErrorOf("fsync logs/journal.txt 1"),
              HasSubstr("'1' is not a SHA-256"));
  EXPECT_THAT(ErrorOf("fsync a " + std::string(64, 'A')),
              HasSubstr("is not a SHA-256"));
  EXPECT_THAT(ErrorOf("fsync a " + std::string(63, 'a')),
              HasSubstr("is not a SHA-256"));
  EXPECT_THAT(ErrorOf("fsync a " + kH1 + " extra"), HasSubstr("got 3 arguments"));
  EXPECT_THAT(ErrorOf("rename a"), HasSubstr("expected 'rename OLD NEW'"));
  EXPECT_THAT(ErrorOf("unlink a b"), HasSubstr("expected 'unlink PATH'"));
  EXPECT_THAT(ErrorOf("mkdir"), HasSubstr("expected 'mkdir PATH'"));
  EXPECT_THAT(ErrorOf("dirty"), HasSubstr("expected 'dirty PATH'"));
  EXPECT_THAT(ErrorOf("unlink /etc/passwd"), HasSubstr("starts with '/'"));
  EXPECT_THAT(ErrorOf("unlink a/../b"), HasSubstr("has a '..' component"));
  EXPECT_THAT(ErrorOf("unlink ./b"), HasSubstr("has a '.' component"));
  EXPECT_THAT(ErrorOf("unlink a//b"), HasSubstr("has an empty component"));
  EXPECT_THAT(ErrorOf("unlink a/"), HasSubstr("has an empty component"));
  EXPECT_THAT(ErrorOf("unlink \"\""), HasSubstr("empty path"));
  EXPECT_THAT(ErrorOf("unlink \"ab"), HasSubstr("unterminated quote at offset 7"));
  EXPECT_THAT(ErrorOf("unlink \"a\\nb\""), HasSubstr("bad escape at offset 9"));
  EXPECT_THAT(ErrorOf("unlink \"a\"b"), HasSubstr("closing quote must end"));
  EXPECT_THAT(ErrorOf("unlink a\"b"), HasSubstr("in an unquoted word"));
  EXPECT_THAT(ErrorOf("unlink a\\b"), HasSubstr("in an unquoted word"));
  EXPECT_THAT(ErrorOf("rename a a"), HasSubstr("onto itself"));
  EXPECT_THAT(ErrorOf("rename a a/b"), HasSubstr("into itself"));
  EXPECT_THAT(ErrorOf("rename a/b a"), HasSubstr("onto its ancestor"));
  EXPECT_EQ(ErrorOf("rename a/b ab"), "");
  EXPECT_EQ(ErrorOf("rename ab a/b"), "");
}

// --- The fold. ---

ExpectedState Fold(const std::vector<std::string>& labels) {
  ExpectedState state;
  for (const std::string& label : labels) {
    ApplyDurabilityMark(Parsed(label), state);
  }
  return state;
}

Expectation File(const std::string& sha, const std::string& because,
                 bool names_path) {
  return {ExpectedKind::kFile, sha, because, names_path};
}
Expectation Dir(const std::string& because, bool names_path) {
  return {ExpectedKind::kDirectory, "", because, names_path};
}
Expectation Present(const std::string& because) {
  return {ExpectedKind::kPresent, "", because, false};
}
Expectation Absent(const std::string& because, bool names_path) {
  return {ExpectedKind::kAbsent, "", because, names_path};
}

TEST(ApplyDurabilityMarkTest, FsyncThenRewriteThenFsync) {
  EXPECT_THAT(Fold({"fsync a " + kH1}),
              ElementsAre(Pair("a", File(kH1, "fsync'd a", true))));
  EXPECT_THAT(Fold({"fsync a " + kH1, "fsync a " + kH2}),
              ElementsAre(Pair("a", File(kH2, "fsync'd a", true))));
}

TEST(ApplyDurabilityMarkTest, AtomicReplaceByRename) {
  EXPECT_THAT(
      Fold({"fsync a " + kH1, "fsync a.tmp " + kH2, "rename a.tmp a"}),
      ElementsAre(Pair("a", File(kH2, "renamed a.tmp -> a", false)),
                  Pair("a.tmp", Absent("renamed a.tmp -> a", false))));
}

TEST(ApplyDurabilityMarkTest, RenameWithoutExpectationOfOld) {
  EXPECT_THAT(Fold({"rename x y"}),
              ElementsAre(Pair("x", Absent("renamed x -> y", false)),
                          Pair("y", Present("renamed x -> y"))));
  // An "absent" old path gives a target that merely exists.
  EXPECT_THAT(Fold({"unlink x", "rename x y"}),
              ElementsAre(Pair("x", Absent("renamed x -> y", false)),
                          Pair("y", Present("renamed x -> y"))));
}

TEST(ApplyDurabilityMarkTest, RenameOfADirectoryMovesEverythingBelow) {
  EXPECT_THAT(
      Fold({"mkdir d", "fsync d/f " + kH1, "mkdir d/s", "fsync d/s/g " + kH2,
            "fsync d2 " + kH2, "fsync e/old " + kH1, "rename d e"}),
      ElementsAre(Pair("d", Absent("renamed d -> e", false)),
                  Pair("d2", File(kH2, "fsync'd d2", true)),
                  Pair("e", Dir("renamed d -> e", false)),
                  Pair("e/f", File(kH1, "fsync'd d/f", false)),
                  Pair("e/s", Dir("mkdir d/s", false)),
                  Pair("e/s/g", File(kH2, "fsync'd d/s/g", false))));
}

TEST(ApplyDurabilityMarkTest, RenameBackAndForth) {
  EXPECT_THAT(Fold({"fsync a " + kH1, "rename a b", "rename b a"}),
              ElementsAre(Pair("a", File(kH1, "renamed b -> a", false)),
                          Pair("b", Absent("renamed b -> a", false))));
}

TEST(ApplyDurabilityMarkTest, UnlinkDropsEverythingBelow) {
  EXPECT_THAT(Fold({"fsync d/f " + kH1, "fsync d/g/h " + kH2, "fsync dx " + kH1,
                    "unlink d"}),
              ElementsAre(Pair("d", Absent("unlinked d", true)),
                          Pair("dx", File(kH1, "fsync'd dx", true))));
}

TEST(ApplyDurabilityMarkTest, DirtyDropsUntilTheNextMark) {
  EXPECT_THAT(Fold({"fsync a " + kH1, "fsync b " + kH2, "dirty a"}),
              ElementsAre(Pair("b", File(kH2, "fsync'd b", true))));
  EXPECT_THAT(Fold({"fsync a " + kH1, "dirty a", "fsync a " + kH2}),
              ElementsAre(Pair("a", File(kH2, "fsync'd a", true))));
  EXPECT_THAT(Fold({"mkdir d", "fsync d/a " + kH1, "unlink d/b", "dirty d"}),
              ElementsAre());
  EXPECT_THAT(Fold({"unlink z", "dirty z"}), ElementsAre());
  // Dirty of something nothing was expected of changes nothing.
  EXPECT_THAT(Fold({"fsync a " + kH1, "dirty ab", "dirty a/b"}),
              ElementsAre(Pair("a", File(kH1, "fsync'd a", true))));
}

TEST(ApplyDurabilityMarkTest, MkdirKeepsWhatIsBelowIt) {
  // The directory was fsynced after the files in it.
  EXPECT_THAT(Fold({"fsync d/a " + kH1, "mkdir d"}),
              ElementsAre(Pair("d", Dir("mkdir d", true)),
                          Pair("d/a", File(kH1, "fsync'd d/a", true))));
}

TEST(ApplyDurabilityMarkTest, FsyncOverADirectoryExpectationDropsBelow) {
  EXPECT_THAT(Fold({"mkdir d", "fsync d/a " + kH1, "unlink d", "fsync d " + kH2}),
              ElementsAre(Pair("d", File(kH2, "fsync'd d", true))));
}

TEST(ApplyDurabilityMarkTest, ExistingPathsMakeTheirAncestorsDirectories) {
  EXPECT_THAT(Fold({"unlink d", "fsync d/e/f " + kH1}),
              ElementsAre(Pair("d/e/f", File(kH1, "fsync'd d/e/f", true))));
  EXPECT_THAT(Fold({"fsync d " + kH2, "unlink d", "mkdir d/e"}),
              ElementsAre(Pair("d/e", Dir("mkdir d/e", true))));
  EXPECT_THAT(Fold({"mkdir d", "unlink e", "rename x e/y"}),
              ElementsAre(Pair("d", Dir("mkdir d", true)),
                          Pair("e/y", Present("renamed x -> e/y")),
                          Pair("x", Absent("renamed x -> e/y", false))));
  // A directory or "present" ancestor stays.
  EXPECT_THAT(Fold({"mkdir d", "rename q r", "fsync d/f " + kH1,
                    "fsync r/f " + kH2}),
              ElementsAre(Pair("d", Dir("mkdir d", true)),
                          Pair("d/f", File(kH1, "fsync'd d/f", true)),
                          Pair("q", Absent("renamed q -> r", false)),
                          Pair("r", Present("renamed q -> r")),
                          Pair("r/f", File(kH2, "fsync'd r/f", true))));
}

TEST(ApplyDurabilityMarkTest, UnlinkThenRecreate) {
  EXPECT_THAT(Fold({"fsync a " + kH1, "unlink a"}),
              ElementsAre(Pair("a", Absent("unlinked a", true))));
  EXPECT_THAT(Fold({"fsync a " + kH1, "unlink a", "fsync a " + kH2}),
              ElementsAre(Pair("a", File(kH2, "fsync'd a", true))));
}

// --- Marks of a trace. ---

std::vector<Mark> Marks(
    const std::vector<std::pair<std::string, uint32_t>>& labels) {
  std::vector<Mark> marks;
  for (const auto& [label, event] : labels) marks.push_back({label, event});
  return marks;
}

TEST(DurabilityMarksTest, ExpectedAtFoldsTheMarksBeforeTheCrash) {
  absl::StatusOr<DurabilityMarks> marks = DurabilityMarks::FromMarks(
      Marks({{"mkfs", 3},
             {"fsync a.tmp " + kH1, 10},
             {"rename a.tmp a", 20},
             {"something else", 25},
             {"unlink b", 30},
             {"umount", 40}}));
  ASSERT_TRUE(marks.ok()) << marks.status();
  ASSERT_EQ(marks->marks().size(), 3u);
  EXPECT_EQ(marks->marks()[0].mark_index, 1u);
  EXPECT_EQ(marks->marks()[0].event, 10u);
  EXPECT_EQ(marks->marks()[2].mark_index, 4u);
  EXPECT_FALSE(marks->empty());

  EXPECT_THAT(marks->ExpectedAt(0), ElementsAre());
  // A crash just before the mark event checks nothing about it.
  EXPECT_THAT(marks->ExpectedAt(10), ElementsAre());
  // Nor about what the next mark names: the rename may have reached the
  // disk before its mark, so a.tmp may be gone already.
  EXPECT_THAT(marks->ExpectedAt(11), ElementsAre());
  EXPECT_THAT(marks->ExpectedAt(20), ElementsAre());
  const ExpectedState after_rename =
      ExpectedState{{"a", File(kH1, "renamed a.tmp -> a", false)},
                    {"a.tmp", Absent("renamed a.tmp -> a", false)}};
  EXPECT_EQ(marks->ExpectedAt(21), after_rename);
  EXPECT_EQ(marks->ExpectedAt(30), after_rename);
  EXPECT_THAT(marks->ExpectedAt(31),
              ElementsAre(Pair("a", File(kH1, "renamed a.tmp -> a", false)),
                          Pair("a.tmp", Absent("renamed a.tmp -> a", false)),
                          Pair("b", Absent("unlinked b", true))));
  EXPECT_EQ(marks->ExpectedAt(1000), marks->ExpectedAt(31));
}

TEST(DurabilityMarksTest, PendingMarksDropWhatTheyName) {
  absl::StatusOr<DurabilityMarks> marks = DurabilityMarks::FromMarks(
      Marks({{"fsync a " + kH1, 1},
             {"fsync d/f " + kH1, 2},
             {"unlink x", 3},
             {"mkdir y", 4},
             {"fsync a " + kH2, 10},
             {"rename d e", 20},
             {"fsync x/z " + kH2, 30},
             {"fsync y " + kH1, 40},
             {"dirty a", 50}}));
  ASSERT_TRUE(marks.ok()) << marks.status();
  const Expectation a2 = File(kH2, "fsync'd a", true);
  const Expectation df = File(kH1, "fsync'd d/f", true);
  const Expectation x = Absent("unlinked x", true);
  const Expectation y = Dir("mkdir y", true);
  // Before 10: a is being rewritten.
  EXPECT_THAT(marks->ExpectedAt(5), ElementsAre(Pair("d/f", df), Pair("x", x),
                                                Pair("y", y)));
  // Before 20: d is being renamed, with everything below it.
  EXPECT_THAT(marks->ExpectedAt(11),
              ElementsAre(Pair("a", a2), Pair("x", x), Pair("y", y)));
  // Before 30: x/z makes x exist again.
  EXPECT_THAT(marks->ExpectedAt(21),
              ElementsAre(Pair("a", a2), Pair("d", Absent("renamed d -> e", false)),
                          Pair("e", Present("renamed d -> e")),
                          Pair("e/f", File(kH1, "fsync'd d/f", false)),
                          Pair("y", y)));
  // Before 40: the directory y becomes a file.
  EXPECT_THAT(marks->ExpectedAt(31),
              ElementsAre(Pair("a", a2), Pair("d", Absent("renamed d -> e", false)),
                          Pair("e", Present("renamed d -> e")),
                          Pair("e/f", File(kH1, "fsync'd d/f", false)),
                          Pair("x/z", File(kH2, "fsync'd x/z", true))));
  // Before 50: a is about to be declared dirty.
  EXPECT_THAT(marks->ExpectedAt(41),
              ElementsAre(Pair("d", Absent("renamed d -> e", false)),
                          Pair("e", Present("renamed d -> e")),
                          Pair("e/f", File(kH1, "fsync'd d/f", false)),
                          Pair("x/z", File(kH2, "fsync'd x/z", true)),
                          Pair("y", File(kH1, "fsync'd y", true))));
  EXPECT_EQ(marks->ExpectedAt(51), marks->ExpectedAt(41));
}

// Marks written one after the other, with no I/O between them, state one
// step: a crash before the first checks nothing about any of them.
TEST(DurabilityMarksTest, MarksWrittenTogetherArePendingTogether) {
  absl::StatusOr<DurabilityMarks> marks = DurabilityMarks::FromMarks(
      Marks({{"fsync a " + kH1, 1},
             {"fsync b " + kH1, 2},
             {"fsync c " + kH1, 3},
             {"rename a a2", 10},
             {"note", 11},
             {"rename b b2", 12},
             {"unlink c", 20}}));
  ASSERT_TRUE(marks.ok()) << marks.status();
  EXPECT_EQ(marks->marks()[0].batch, 0u);
  EXPECT_EQ(marks->marks()[2].batch, 0u);
  // Other marks between them do not part them.
  EXPECT_EQ(marks->marks()[3].batch, 1u);
  EXPECT_EQ(marks->marks()[4].batch, 1u);
  EXPECT_EQ(marks->marks()[5].batch, 2u);
  EXPECT_THAT(marks->ExpectedAt(5),
              ElementsAre(Pair("c", File(kH1, "fsync'd c", true))));
  // Between the two renames only the second is pending.
  EXPECT_THAT(marks->ExpectedAt(12),
              ElementsAre(Pair("a", Absent("renamed a -> a2", false)),
                          Pair("a2", File(kH1, "renamed a -> a2", false)),
                          Pair("c", File(kH1, "fsync'd c", true))));
  // Within a batch, the marks already written are not pending.
  EXPECT_THAT(marks->ExpectedAt(0), ElementsAre());
  EXPECT_THAT(marks->ExpectedAt(2),
              ElementsAre(Pair("a", File(kH1, "fsync'd a", true))));
}

TEST(DurabilityMarksTest, NoDurabilityMarks) {
  absl::StatusOr<DurabilityMarks> marks =
      DurabilityMarks::FromMarks(Marks({{"mkfs", 3}, {"umount", 9}}));
  ASSERT_TRUE(marks.ok()) << marks.status();
  EXPECT_TRUE(marks->empty());
  EXPECT_THAT(marks->ExpectedAt(100), ElementsAre());
}

TEST(DurabilityMarksTest, MalformedMarkNamesIndexEventAndText) {
  absl::StatusOr<DurabilityMarks> marks = DurabilityMarks::FromMarks(
      Marks({{"mkfs", 3}, {"unlink b", 5}, {"fsync logs/journal.txt 1", 17}}));
  EXPECT_EQ(marks.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(marks.status().message(),
            "mark 2 (event 17) 'fsync logs/journal.txt 1': '1' is not a "
            "SHA-256 (64 lowercase hex digits)");
}

}  // namespace
}  // namespace internal_oracles
}  // namespace crashenum
