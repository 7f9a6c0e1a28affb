// End-to-end tests of `crashenum explain` and `crashenum minimize` on the
// real ext4 trace without barriers (tests/testdata/README.md) and the real
// ext4-fsck oracle: the failing states check finds are explained, compared
// with a passing state, and minimized to states that still fail.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

const char kNoBarrier[] = "tests/testdata/ext4-append-rename-nobarrier.log";
const char kBarrier[] = "tests/testdata/ext4-append-rename.log";

Result Crashenum(const std::string& args) {
  return Sh("cli/crashenum " + args);
}

bool HaveE2fsck() {
  return Sh("command -v e2fsck || test -x /sbin/e2fsck").exit_code == 0;
}

// The failing states `check ARGS` reports in its JSON.
std::vector<std::string> FailingStates(const std::string& args,
                                       const std::string& name) {
  const std::string json = Tmp() + "/" + name + ".json";
  Result r = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs -q " + args +
                       " --json=" + json);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  std::vector<std::string> out;
  for (const nlohmann::json& line : JsonLines(json)) {
    if (line.contains("state") && line["verdict"] == "FAIL") {
      out.push_back(line["state"]);
    }
  }
  return out;
}

nlohmann::json ReadJson(const std::string& path) {
  return nlohmann::json::parse(ReadFile(path));
}

// The one op of an explanation with this status.
nlohmann::json OnlyOpWithStatus(const nlohmann::json& e,
                                const std::string& status) {
  nlohmann::json found;
  int n = 0;
  for (const nlohmann::json& op : e["optional"]) {
    if (op["status"] == status) {
      found = op;
      ++n;
    }
  }
  EXPECT_EQ(n, 1) << e.dump();
  return found;
}

class ExplainE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  }
};

TEST_F(ExplainE2eTest, ExplainsEachFailingStateAndWhatDiffers) {
  const std::vector<std::string> states =
      FailingStates("--torn=none --drop-at-most=1", "one-drop");
  ASSERT_EQ(states.size(), 6u);
  for (size_t i = 0; i < states.size(); ++i) {
    const std::string& id = states[i];
    const std::string json = Tmp() + "/explain" + std::to_string(i) + ".json";
    Result r = Crashenum(std::string("explain ") + kNoBarrier +
                         " --state=" + id + " --json=" + json);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json j = ReadJson(json);
    const nlohmann::json& e = j["explanation"];
    EXPECT_EQ(e["state"], id);
    EXPECT_EQ(e["counts"]["dropped"], 1);
    EXPECT_EQ(e["counts"]["torn"], 0);
    const nlohmann::json dropped = OnlyOpWithStatus(e, "dropped");
    // The text names the dropped write: entry, device and sector range.
    const std::string label =
        "entry " + std::to_string(dropped["entry"].get<int>()) +
        " write dev0 " + "sectors " +
        std::to_string(dropped["range"][0].get<int>()) + "-" +
        std::to_string(dropped["range"][1].get<int>());
    EXPECT_THAT(r.output, HasSubstr(label)) << r.output;
    EXPECT_THAT(r.output, HasSubstr("after 'mkfs'"));
    // Without an oracle: compared with every optional write persisted.
    EXPECT_THAT(r.output, HasSubstr("no --oracle given: compared with the "
                                    "state of this crash point in which "
                                    "every optional write persisted"));
    EXPECT_THAT(r.output, HasSubstr(label + ": dropped -> persisted\n"));
    ASSERT_EQ(j["diff"].size(), 1u);
    EXPECT_EQ(j["diff"][0]["entry"], dropped["entry"]);
  }
}

TEST_F(ExplainE2eTest, WithAnOracleFindsTheNearestPassingState) {
  const std::vector<std::string> states =
      FailingStates("--torn=none --drop-at-most=1", "one-drop-oracle");
  ASSERT_FALSE(states.empty());
  const std::string json = Tmp() + "/explain-oracle.json";
  Result r =
      Crashenum(std::string("explain ") + kNoBarrier + " --state=" + states[0] +
                " --oracle=ext4-fsck --json=" + json);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("oracle ext4-fsck on this state: FAIL"));
  EXPECT_THAT(r.output, HasSubstr("nearest passing state (1 more write(s) "
                                  "persisted; 2 oracle runs"));
  const nlohmann::json j = ReadJson(json);
  EXPECT_EQ(j["compared_with"]["reason"], "nearest passing state");
  EXPECT_EQ(j["compared_with"]["distance"], 1);
  EXPECT_EQ(j["compared_with"]["bound_hit"], false);
  ASSERT_EQ(j["diff"].size(), 1u);
  EXPECT_EQ(j["diff"][0]["from"]["status"], "dropped");
  EXPECT_EQ(j["diff"][0]["to"]["status"], "persisted");
  EXPECT_THAT(
      r.output,
      HasSubstr("entry " + std::to_string(j["diff"][0]["entry"].get<int>()) +
                " write dev0 sectors"));
  // The state it names passes.
  const std::string passing = j["compared_with"]["state"];
  Result c = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=ext4-fsck --state=" + passing);
  EXPECT_EQ(c.exit_code, 0) << c.output;

  // With one oracle run allowed, only the state itself is judged.
  r = Crashenum(std::string("explain ") + kNoBarrier + " --state=" + states[0] +
                " --oracle=ext4-fsck --max-oracle-runs=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("no passing state found within --max-oracle-runs=1"));
}

TEST_F(ExplainE2eTest, MinimizedOneDropStatesStillFail) {
  const std::vector<std::string> states =
      FailingStates("--torn=none --drop-at-most=1", "one-drop-min");
  ASSERT_EQ(states.size(), 6u);
  for (size_t i = 0; i < states.size(); ++i) {
    const std::string json = Tmp() + "/min" + std::to_string(i) + ".json";
    Result r = Crashenum(std::string("minimize ") + kNoBarrier + " --state=" +
                         states[i] + " --oracle=ext4-fsck --json=" + json);
    ASSERT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("minimize: "));
    const nlohmann::json j = ReadJson(json);
    EXPECT_EQ(j["original"]["state"], states[i]);
    EXPECT_EQ(j["original"]["dropped"], 1);
    EXPECT_LE(j["dropped"].get<int>(), 1);
    EXPECT_EQ(j["torn"], 0);
    EXPECT_EQ(j["explanation"]["state"], j["state"]);
    const std::string id = j["state"];
    EXPECT_THAT(r.output, HasSubstr("minimized state: " + id));
    EXPECT_THAT(r.output,
                HasSubstr(std::string("crashenum check ") + kNoBarrier +
                          " --state=" + id + " --oracle=ext4-fsck"));
    EXPECT_THAT(r.output, HasSubstr(std::string("crashenum materialize ") +
                                    kNoBarrier + " --state=" + id));
    Result c = Crashenum(std::string("check ") + kNoBarrier +
                         " --oracle=ext4-fsck --state=" + id);
    EXPECT_EQ(c.exit_code, 1) << c.output;
  }
}

TEST_F(ExplainE2eTest, MinimizeDropsWritesThatTheFailureDoesNotNeed) {
  // States missing two writes: where one of them is enough to fail, the
  // minimized state misses only that one.
  const std::vector<std::string> states =
      FailingStates("--torn=none --drop-at-most=2", "two-drops");
  ASSERT_GT(states.size(), 6u);
  int reduced = 0, tried = 0;
  for (size_t i = 0; i < states.size() && tried < 6; ++i) {
    const std::string json = Tmp() + "/min-two" + std::to_string(i) + ".json";
    Result r = Crashenum(std::string("minimize ") + kNoBarrier + " --state=" +
                         states[i] + " --oracle=ext4-fsck --json=" + json);
    ASSERT_EQ(r.exit_code, 1) << r.output;
    const nlohmann::json j = ReadJson(json);
    if (j["original"]["dropped"] != 2) continue;
    ++tried;
    EXPECT_LE(j["dropped"].get<int>(), 2);
    if (j["dropped"].get<int>() < 2) ++reduced;
    Result c = Crashenum(
        std::string("check ") + kNoBarrier +
        " --oracle=ext4-fsck --state=" + j["state"].get<std::string>());
    EXPECT_EQ(c.exit_code, 1) << c.output;
  }
  EXPECT_EQ(tried, 6);
  EXPECT_GT(reduced, 0);
}

TEST_F(ExplainE2eTest, MinimizeShrinksATornAndDroppedState) {
  // Seeded random states with tearing: many writes dropped or torn.
  const std::vector<std::string> states =
      FailingStates("--sample=4 --seed=1", "sampled");
  ASSERT_FALSE(states.empty());
  const std::string json = Tmp() + "/min-torn.json";
  Result r = Crashenum(std::string("minimize ") + kNoBarrier + " --state=" +
                       states[0] + " --oracle=ext4-fsck --json=" + json);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  const nlohmann::json j = ReadJson(json);
  const int before =
      j["original"]["dropped"].get<int>() + j["original"]["torn"].get<int>();
  const int after = j["dropped"].get<int>() + j["torn"].get<int>();
  EXPECT_GT(j["original"]["torn"].get<int>(), 0) << j.dump();
  EXPECT_LT(after, before) << j.dump();
  EXPECT_GE(after, 1);
  EXPECT_EQ(j["one_minimal"], true);
  Result c =
      Crashenum(std::string("check ") + kNoBarrier +
                " --oracle=ext4-fsck --state=" + j["state"].get<std::string>());
  EXPECT_EQ(c.exit_code, 1) << c.output;
  // Explaining the result names what is still missing.
  Result e = Crashenum(std::string("explain ") + kNoBarrier +
                       " --state=" + j["state"].get<std::string>());
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_THAT(e.output, HasSubstr(j["torn"].get<int>() > 0 ? ": torn: sectors "
                                                           : ": dropped"));
}

TEST(ExplainBadInputE2eTest, MalformedOrForeignStatesAreBadInput) {
  Result r =
      Crashenum(std::string("explain ") + kNoBarrier + " --state=e12-garbage");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("malformed state ID 'e12-garbage'"));

  r = Crashenum(std::string("minimize ") + kNoBarrier +
                " --state=e12-garbage --oracle=exec:true");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("malformed state ID 'e12-garbage'"));

  // A state of the no-barrier trace is not one of the barrier trace.
  const char kForeign[] = "e392-u512-n35074-r0.35062.2.10";
  r = Crashenum(std::string("explain ") + kBarrier + " --state=" + kForeign);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("crashenum explain: INVALID_ARGUMENT"));
  r = Crashenum(std::string("minimize ") + kBarrier + " --state=" + kForeign +
                " --oracle=exec:false");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("crashenum minimize: INVALID_ARGUMENT"));

  r = Crashenum(std::string("explain ") + kNoBarrier);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("explain needs --state=ID"));
  r = Crashenum(std::string("minimize ") + kNoBarrier + " --state=" + kForeign);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("minimize needs --oracle=O"));
}

TEST(ExplainBadInputE2eTest, MinimizingAPassingStateIsRefused) {
  // Every optional write persisted: an exec oracle that passes everything.
  const std::string all = "e392-u512-n35074-r0.35074";
  Result r = Crashenum(std::string("minimize ") + kNoBarrier +
                       " --state=" + all + " --oracle=exec:true");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAILED_PRECONDITION: state " + all +
                                  " passes; nothing to minimize"));
}

}  // namespace
}  // namespace crashenum
