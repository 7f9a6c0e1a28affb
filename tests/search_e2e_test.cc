// End-to-end tests of the Z3 search (check --prune=z3, the default) with the
// real e2fsck on the recorded ext4 traces: exhaustive torn-sector coverage,
// exact counts, failures confirmed by direct oracle runs, the same failing
// states as the enumeration where both can run, and what an interrupted
// search counts.

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

const char kBarrier[] = "tests/testdata/ext4-append-rename.log";
const char kNoBarrier[] = "tests/testdata/ext4-append-rename-nobarrier.log";

Result Crashenum(const std::string& args) {
  return Sh("cli/crashenum " + args);
}

bool HaveE2fsck() {
  return Sh("command -v e2fsck || test -x /sbin/e2fsck").exit_code == 0;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::set<std::string> FailingStates(const std::string& json) {
  std::set<std::string> out;
  for (const nlohmann::json& l : JsonLines(json)) {
    if (l.contains("state")) out.insert(l["state"].get<std::string>());
  }
  return out;
}

// The plan's state count of each crash point, as `crashenum info` prints
// it ("  e404 before ...: 6 optional writes, 13 variables, 8192 states").
std::map<int, std::string> PlannedStates(const std::string& args) {
  std::map<int, std::string> out;
  for (const std::string& line : Lines(Crashenum("info " + args).output)) {
    int event = 0;
    if (std::sscanf(line.c_str(), "  e%d ", &event) != 1) continue;
    const size_t end = line.rfind(" states");
    const size_t start = line.rfind(' ', end - 1) + 1;
    out[event] = line.substr(start, end - start);
  }
  return out;
}

// --prune=z3 (the default) on the barrier fixture with torn sectors: the
// search covers every state of every crash point (68 719 476 736 at one of
// them) with a few dozen e2fsck runs, counts each crash point's states
// exactly as the plan does, and every distinct failing image it reports
// fails again when judged directly.
TEST(SearchE2eTest, CoversEveryTornStateOfTheBarrierFixture) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/torn.json";
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs --json=" + json);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("search (--prune=z3), per crash point"));
  const std::vector<nlohmann::json> lines = JsonLines(json);
  const nlohmann::json s = lines.back()["summary"];
  const std::map<int, std::string> plan =
      PlannedStates(std::string(kBarrier) + " --from-mark=mkfs");
  ASSERT_EQ(s["searched_points"].size(), plan.size()) << s;
  uint64_t total = 0;
  for (const nlohmann::json& p : s["searched_points"]) {
    const int event = p["event"];
    ASSERT_EQ(plan.count(event), 1u) << event;
    EXPECT_EQ(std::to_string(p["states"].get<uint64_t>()), plan.at(event))
        << "e" << event;
    EXPECT_LE(p["visited"].get<uint64_t>(), p["states"].get<uint64_t>());
    total += p["states"].get<uint64_t>();
  }
  EXPECT_EQ(s["states"].get<uint64_t>(), total);
  EXPECT_GT(total, uint64_t{1} << 36);
  EXPECT_LT(s["oracle_runs"].get<int>(), 200) << s;
  ASSERT_GT(s["failures"].get<uint64_t>(), 0u) << s;
  // Listed failing states, judged directly: 12 of them spread evenly over
  // the list (each state is its own image; most were never judged, their
  // verdict is that of a judged state agreeing on everything e2fsck read).
  const size_t listed = lines.size() - 1;
  EXPECT_EQ(listed, s["failures"].get<size_t>());
  EXPECT_LE(s["failing_images"].get<size_t>(), listed);
  for (size_t k = 0; k < std::min<size_t>(listed, 12); ++k) {
    const nlohmann::json& f = lines[k * listed / std::min<size_t>(listed, 12)];
    EXPECT_EQ(f["verdict"], "FAIL") << f;
    const std::string state = f["state"];
    Result c = Crashenum(std::string("check ") + kBarrier +
                         " --oracle=ext4-fsck --state=" + state);
    EXPECT_EQ(c.exit_code, 1) << state << "\n" << c.output;
    EXPECT_THAT(c.output, HasSubstr("(image " + f["image"].get<std::string>()))
        << c.output;
  }
}

// The search lists exactly the failing states of a lookup over the plain
// enumeration (--prune=readset, itself checked against no pruning above)
// where both can run: torn sectors from the last mark on, 8205 states.
TEST(SearchE2eTest, ListsTheSameFailingStatesAsTheEnumeration) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string args = std::string(kBarrier) +
                           " --oracle=ext4-fsck '--from-mark=renamed logs/snap'"
                           " -q -j 2";
  const std::string readset = Tmp() + "/readset.json";
  const std::string z3 = Tmp() + "/z3.json";
  Result a = Crashenum("check " + args + " --prune=readset --json=" + readset);
  ASSERT_EQ(a.exit_code, 1) << a.output;
  Result b = Crashenum("check " + args + " --prune=z3 --json=" + z3);
  ASSERT_EQ(b.exit_code, 1) << b.output;
  const nlohmann::json want = JsonLines(readset).back()["summary"];
  const nlohmann::json got = JsonLines(z3).back()["summary"];
  EXPECT_EQ(got["states"], want["states"]);
  EXPECT_EQ(got["failures"], want["failures"]);
  // Both judge a few of the 8199 distinct images (13-18 runs here).
  EXPECT_LT(got["oracle_runs"].get<int>(), 100);
  EXPECT_LT(want["oracle_runs"].get<int>(), 100);
  const std::set<std::string> failing = FailingStates(z3);
  EXPECT_EQ(failing, FailingStates(readset));
  EXPECT_EQ(failing.size(), got["failures"].get<size_t>());
}

// Interrupted, the search of the nobarrier fixture's torn crash point (2^99
// states) counts as judged every state its judged runs cover, not only the
// states it visited: the first runs' covers alone hold more than 2^64.
TEST(SearchE2eTest, InterruptedSearchCountsWhatItsRunsCover) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/interrupted.json";
  // One SIGINT, to crashenum alone.
  Result r = Sh(std::string("(cli/crashenum check ") + kNoBarrier +
                " --oracle=ext4-fsck --from-mark=mkfs -j 1 --json=" + json +
                " & pid=$!; sleep 5; kill -INT $pid; wait $pid)");
  ASSERT_EQ(r.exit_code, 130) << r.output;
  EXPECT_THAT(r.output, HasSubstr("interrupted by SIGINT: 2^"));
  const std::vector<nlohmann::json> lines = JsonLines(json);
  ASSERT_FALSE(lines.empty()) << r.output;
  const nlohmann::json s = lines.back()["summary"];
  ASSERT_EQ(s["interrupted"], true) << s;
  const nlohmann::json& point = s["searched_points"][0];
  EXPECT_GT(point["visited"].get<int>(), 0) << s;
  EXPECT_GT(point["states_log2"].get<double>(), 64) << s;
  EXPECT_EQ(s["states"], point["states"]) << s;
  EXPECT_EQ(point["all_failing_listed"], false) << s;
  // The failing states listed are the judged ones the search visited.
  EXPECT_LE(FailingStates(json).size(), point["visited"].get<size_t>());
}

}  // namespace
}  // namespace crashenum
