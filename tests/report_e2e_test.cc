// End-to-end tests of the reports of the crashenum binary on the real ext4
// traces in tests/testdata: `check --junit` (and Bazel's XML_OUTPUT_FILE),
// `check --html` rendered in headless Chromium, and `graph` as DOT and SVG.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "report/internal/headless_chromium.h"
#include "tests/e2e_util.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char kBarrier[] = "tests/testdata/ext4-append-rename.log";
const char kNoBarrier[] = "tests/testdata/ext4-append-rename-nobarrier.log";

Result Crashenum(const std::string& args) {
  return Sh("cli/crashenum " + args);
}

bool Have(const std::string& program) {
  return Sh("command -v " + program).exit_code == 0;
}

bool HaveE2fsck() {
  return Sh("command -v e2fsck || test -x /sbin/e2fsck").exit_code == 0;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos;
       p = s.find(what, p + what.size())) {
    ++n;
  }
  return n;
}

// The crash event a state ID names ("e123-u512-..." gives "123").
std::string EventOf(const std::string& state) {
  return state.substr(1, state.find('-') - 1);
}

// The value of attribute `name` of the first element `tag` in `xml`.
std::string Attribute(const std::string& xml, const std::string& tag,
                      const std::string& name) {
  const size_t start = xml.find("<" + tag + " ");
  if (start == std::string::npos) return "";
  const size_t end = xml.find('>', start);
  const std::string element = xml.substr(start, end - start);
  const size_t a = element.find(" " + name + "=\"");
  if (a == std::string::npos) return "";
  const size_t v = a + name.size() + 3;
  return element.substr(v, element.find('"', v) - v);
}

TEST(ReportE2eTest, CheckWritesJUnitAndHtmlMatchingTheJsonReport) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/nb.json", junit = Tmp() + "/nb.xml",
                    html = Tmp() + "/nb.html";
  Result r = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none --prune=none"
                       " --drop-at-most=1 -q --json=" + json +
                       " --junit=" + junit + " --html=" + html);
  ASSERT_EQ(r.exit_code, 1) << r.output;

  std::vector<nlohmann::json> lines = JsonLines(json);
  ASSERT_FALSE(lines.empty());
  const nlohmann::json summary = lines.back()["summary"];
  EXPECT_EQ(summary["failing_images"], 6);
  const size_t points = summary["crash_points"].get<size_t>();
  std::set<std::string> failing_points;
  std::vector<std::string> failing_states;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    ASSERT_EQ(lines[i]["verdict"], "FAIL") << lines[i];
    failing_states.push_back(lines[i]["state"]);
    failing_points.insert(EventOf(lines[i]["state"]));
  }
  ASSERT_EQ(failing_states.size(), summary["failures"].get<size_t>());
  ASSERT_FALSE(failing_points.empty());

  // JUnit: one testcase per crash point, one failure per failing point,
  // each failing state listed with its repro command.
  const std::string xml = ReadFile(junit);
  EXPECT_EQ(Count(xml, "<testcase "), points);
  EXPECT_EQ(Count(xml, "<failure "), failing_points.size());
  EXPECT_EQ(Attribute(xml, "testsuite", "tests"), std::to_string(points));
  EXPECT_EQ(Attribute(xml, "testsuite", "failures"),
            std::to_string(failing_points.size()));
  EXPECT_EQ(Attribute(xml, "testsuite", "errors"), "0");
  EXPECT_EQ(Attribute(xml, "testsuite", "name"), kNoBarrier);
  EXPECT_EQ(Attribute(xml, "testcase", "classname"),
            "crashenum.ext4-append-rename-nobarrier.log");
  for (const std::string& s : failing_states) {
    EXPECT_THAT(xml, HasSubstr(s + ": "));
    EXPECT_THAT(xml, HasSubstr("reproduce: crashenum materialize " +
                               std::string(kNoBarrier) + " --state=" + s));
  }
  if (Have("xmllint")) {
    Result lint = Sh("xmllint --noout " + junit);
    EXPECT_EQ(lint.exit_code, 0) << lint.output;
  }

  // HTML: one marker per crash point, red exactly where the JSON report has
  // failing states, one row per failing state.
  if (internal_report::FindChromium().empty()) {
    GTEST_SKIP() << "headless Chromium (Debian package chromium) is not "
                    "installed: the HTML report was written, not rendered";
  }
  absl::StatusOr<std::string> dom = internal_report::DumpDom(html, Tmp());
  ASSERT_TRUE(dom.ok()) << dom.status();
  EXPECT_EQ(Count(*dom, "class=\"cp cp-"), points);
  EXPECT_EQ(Count(*dom, "class=\"cp cp-fail\""), failing_points.size());
  for (const std::string& e : failing_points) {
    EXPECT_THAT(*dom, HasSubstr("class=\"cp cp-fail\" href=\"#point-" + e +
                                "\""));
  }
  EXPECT_EQ(Count(*dom, "class=\"cp cp-pass\""),
            points - failing_points.size());
  EXPECT_EQ(Count(*dom, "<tr class=\"finding\">"), failing_states.size());
  for (const std::string& s : failing_states) {
    EXPECT_THAT(*dom, HasSubstr("<code>" + s + "</code>"));
    // Its explanation, as `crashenum explain` gives it, is rendered too.
    EXPECT_THAT(*dom, HasSubstr("state " + s + "\ncrash point e"));
  }
  EXPECT_THAT(*dom, HasSubstr(": dropped"));
}

TEST(ReportE2eTest, JUnitGoesToXmlOutputFileWithoutJunitFlag) {
  const std::string xml_out = Tmp() + "/bazel-test.xml";
  const std::string json = Tmp() + "/barrier.json";
  Result r = Sh("XML_OUTPUT_FILE=" + xml_out + " cli/crashenum check " +
                kBarrier +
                " --oracle=exec:true --from-mark=mkfs --torn=none"
                " --drop-at-most=0 -q --json=" + json);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json summary = JsonLines(json).back()["summary"];
  const std::string xml = ReadFile(xml_out);
  EXPECT_EQ(Count(xml, "<testcase "),
            summary["crash_points"].get<size_t>());
  EXPECT_EQ(Attribute(xml, "testsuite", "failures"), "0");
  // --junit wins over XML_OUTPUT_FILE.
  const std::string other = Tmp() + "/other.xml";
  ASSERT_EQ(Sh("rm -f " + xml_out).exit_code, 0);
  r = Sh("XML_OUTPUT_FILE=" + xml_out + " cli/crashenum check " + kBarrier +
         " --oracle=exec:true --from-mark=mkfs --torn=none --drop-at-most=0"
         " -q --junit=" + other);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadFile(xml_out), "");
  EXPECT_EQ(Count(ReadFile(other), "<testcase "),
            summary["crash_points"].get<size_t>());
}

TEST(ReportE2eTest, UnwritableJUnitFileIsAnInfrastructureError) {
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=exec:true --from-mark=mkfs --torn=none"
                       " --drop-at-most=0 -q --junit=" + Tmp() +
                       "/no/such/dir/x.xml");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no/such/dir/x.xml"));
}

TEST(ReportE2eTest, GraphWritesDotAndSvgOfRealTraces) {
  if (!Have("dot")) {
    GTEST_SKIP() << "Graphviz (Debian package graphviz) is not installed";
  }
  for (const char* trace : {kBarrier, kNoBarrier}) {
    const std::string dot = Tmp() + "/g.dot", svg = Tmp() + "/g.svg";
    Result r = Crashenum(absl::StrCat("graph ", trace, " -o ", dot));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string text = ReadFile(dot);
    ASSERT_EQ(text.rfind("digraph G {\n", 0), 0u) << text.substr(0, 200);
    const size_t nodes = Count(text, "[label=");
    const size_t edges = Count(text, "->");
    // Graphviz parses it and draws every node and edge.
    Result parsed = Sh("dot -Tsvg " + dot + " -o " + svg);
    ASSERT_EQ(parsed.exit_code, 0) << parsed.output;
    EXPECT_EQ(Count(ReadFile(svg), "class=\"node\""), nodes);
    EXPECT_EQ(Count(ReadFile(svg), "class=\"edge\""), edges);
    // --format=svg runs the same, to a file and to stdout.
    const std::string svg2 = Tmp() + "/g2.svg";
    r = Crashenum(absl::StrCat("graph ", trace, " --format=svg -o ", svg2));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(Count(ReadFile(svg2), "class=\"node\""), nodes);
    r = Crashenum(absl::StrCat("graph ", trace, " --format=svg --clusters"));
    ASSERT_EQ(r.exit_code, 0);
    EXPECT_EQ(Count(r.output, "class=\"node\""), nodes);
    EXPECT_GE(Count(r.output, "class=\"cluster\""), 1u);
  }
  // The barrier trace's default crash points are its red nodes, bar the end.
  Result info = Crashenum(std::string("info ") + kBarrier);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  Result g = Crashenum(std::string("graph ") + kBarrier);
  ASSERT_EQ(g.exit_code, 0);
  const size_t p = info.output.find("crash points: ");
  ASSERT_NE(p, std::string::npos);
  const size_t points = std::stoul(info.output.substr(p + 14));
  EXPECT_THAT(g.output, HasSubstr(absl::StrCat(points, " crash points")));
  EXPECT_EQ(Count(g.output, "color=red"), points - 1);
}

TEST(ReportE2eTest, GraphLimitsNodesAndNeedsGraphvizForSvg) {
  Result r = Crashenum(std::string("graph ") + kBarrier + " --max-nodes=40");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("runs of consecutive writes of one epoch "
                                  "are collapsed"));
  EXPECT_THAT(r.output, HasSubstr(" writes, "));
  r = Crashenum(std::string("graph ") + kBarrier +
                " --from-mark=mkfs --to-mark=umount");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("mark mkfs"));
  EXPECT_THAT(r.output, Not(HasSubstr("[label=\"e0 F\"")));
  r = Crashenum(std::string("graph ") + kBarrier + " --from-mark=nope");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("'mkfs'"));
  r = Sh(std::string("PATH=/nonexistent cli/crashenum graph ") + kBarrier +
         " --format=svg");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Debian package graphviz"));
}

}  // namespace
}  // namespace crashenum
