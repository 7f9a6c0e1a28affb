#include "report/junit.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

std::string Tmp() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

int Sh(const std::string& command, std::string* output) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  return ::pclose(p);
}

PointPlan Plan(uint32_t event, std::string description) {
  PointPlan p;
  p.event = event;
  p.description = std::move(description);
  return p;
}

PointResult Result(uint32_t event, uint64_t states, uint64_t failing,
                   uint64_t erroring) {
  PointResult r;
  r.event = event;
  r.states = states;
  r.failing_states = failing;
  r.erroring_states = erroring;
  return r;
}

StateFinding Finding(std::string state, VerdictKind verdict,
                     std::string message) {
  StateFinding f;
  f.state = std::move(state);
  f.verdict = verdict;
  f.message = std::move(message);
  return f;
}

// Four crash points: one passing, one with failing and erroring states, one
// with an erroring state only, and one never judged.
CheckReport SampleReport() {
  CheckReport r;
  r.plan = {Plan(5, "before complete of flush entry 2"),
            Plan(9, "before complete of write entry 4 [FUA]"),
            Plan(12, "before complete of flush entry 6"),
            Plan(20, "end of trace")};
  r.points = {Result(5, 3, 0, 0), Result(9, 4, 2, 1), Result(12, 2, 0, 1)};
  r.findings = {
      Finding("e9-u512-n2-1", VerdictKind::kFail,
              "e2fsck: bad <inode> & \"x\"\nsecond line"),
      Finding("e9-u512-n2-2", VerdictKind::kFail,
              "\x01" "ctrl\tand bad \xff utf-8 \xC0\xAF ]]> \xE2\x9C\x93"),
      Finding("e9-u512-n2-3", VerdictKind::kError, "timed out"),
      Finding("e12-u512-n1-1", VerdictKind::kError, "killed by SIGKILL"),
  };
  r.elapsed = absl::Milliseconds(1500);
  return r;
}

JUnitInput SampleInput(const CheckReport* report) {
  JUnitInput in;
  in.trace_path = "traces/a&b.log";
  in.report = report;
  in.repro = [](const std::string& id) {
    return absl::StrCat("crashenum materialize 'traces/a&b.log' --state=", id,
                        " -o crash.img");
  };
  return in;
}

TEST(JUnitTest, OneTestcasePerCrashPointWithExactContent) {
  const CheckReport report = SampleReport();
  const std::string c = "classname=\"crashenum.a&amp;b.log\"";
  const std::string r = "  reproduce: crashenum materialize 'traces/a&amp;b.log' --state=";
  EXPECT_EQ(
      JUnitXml(SampleInput(&report)),
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites tests=\"4\" failures=\"1\" errors=\"1\" time=\"1.500\">\n"
      "  <testsuite name=\"traces/a&amp;b.log\" tests=\"4\" failures=\"1\" "
      "errors=\"1\" skipped=\"1\" time=\"1.500\">\n"
      "    <testcase name=\"e5 before complete of flush entry 2\" " + c +
      "/>\n"
      "    <testcase name=\"e9 before complete of write entry 4 [FUA]\" " + c +
      ">\n"
      "      <failure message=\"2 failing states, 1 erroring state\" "
      "type=\"FAIL\">"
      "e9-u512-n2-1: e2fsck: bad &lt;inode&gt; &amp; \"x\"\n" +
      r + "e9-u512-n2-1 -o crash.img\n"
      "e9-u512-n2-2: ctrl\tand bad \xEF\xBF\xBD utf-8 \xEF\xBF\xBD\xEF\xBF\xBD"
      " ]]&gt; \xE2\x9C\x93\n" +
      r + "e9-u512-n2-2 -o crash.img\n"
      "erroring:\n"
      "e9-u512-n2-3: timed out\n" +
      r + "e9-u512-n2-3 -o crash.img\n"
      "</failure>\n"
      "    </testcase>\n"
      "    <testcase name=\"e12 before complete of flush entry 6\" " + c +
      ">\n"
      "      <error message=\"1 erroring state\" type=\"ERROR\">"
      "e12-u512-n1-1: killed by SIGKILL\n" +
      r + "e12-u512-n1-1 -o crash.img\n"
      "</error>\n"
      "    </testcase>\n"
      "    <testcase name=\"e20 end of trace\" " + c + ">\n"
      "      <skipped message=\"no state of this crash point was judged\"/>\n"
      "    </testcase>\n"
      "  </testsuite>\n"
      "</testsuites>\n");
}

TEST(JUnitTest, WrittenFileIsWellFormedXml) {
  const CheckReport report = SampleReport();
  const std::string path = Tmp() + "/report.xml";
  ASSERT_TRUE(WriteJUnitReport(path, SampleInput(&report)).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), JUnitXml(SampleInput(&report)));
  std::string out;
  if (Sh("command -v xmllint", &out) != 0) {
    GTEST_SKIP() << "xmllint (Debian package libxml2-utils) is not "
                    "installed: the XML was compared, not parsed";
  }
  out.clear();
  EXPECT_EQ(Sh("xmllint --noout " + path, &out), 0) << out;
  // The parser reads back the escaped attribute and counts every testcase.
  out.clear();
  EXPECT_EQ(Sh("xmllint --xpath 'string(//testcase[2]/failure/@message)' " +
                   path,
               &out),
            0);
  EXPECT_EQ(out, "2 failing states, 1 erroring state\n");
  out.clear();
  Sh("xmllint --xpath 'count(//testcase)' " + path, &out);
  EXPECT_EQ(out, "4\n");
}

TEST(JUnitTest, PassingReportWithoutReproHasNoFailures) {
  CheckReport report;
  report.plan = {Plan(3, "end of trace")};
  report.points = {Result(3, 1, 0, 0)};
  JUnitInput in;
  in.trace_path = "t.log";
  in.report = &report;
  const std::string xml = JUnitXml(in);
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"t.log\" tests=\"1\" "
                             "failures=\"0\" errors=\"0\" skipped=\"0\""));
  EXPECT_THAT(xml, HasSubstr("<testcase name=\"e3 end of trace\" "
                             "classname=\"crashenum.t.log\"/>"));
}

TEST(JUnitTest, EscapesAttributesAndDropsInvalidCharacters) {
  EXPECT_EQ(XmlEscape("a\"b\n\tc<d>&'", true), "a&quot;b&#10;&#9;c&lt;d&gt;&amp;'");
  EXPECT_EQ(XmlEscape("a\"b\n\r"), "a\"b\n&#13;");
  EXPECT_EQ(XmlEscape(std::string("x\0y\x1b\x7f", 5)), "xy\x7f");
  // U+FFFE is not an XML character; a lone continuation byte is not UTF-8.
  EXPECT_EQ(XmlEscape("\xEF\xBF\xBE\x80"), "\xEF\xBF\xBD");
  EXPECT_EQ(XmlEscape("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(XmlEscape("\xED\xA0\x80"), "");  // an encoded surrogate
}

}  // namespace
}  // namespace crashenum
