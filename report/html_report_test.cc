#include "report/html_report.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "enumerator/test_traces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "report/internal/headless_chromium.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing_traces::Script;

std::string Tmp() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos;
       p = s.find(what, p + what.size())) {
    ++n;
  }
  return n;
}

// Two epochs of two writes each, then one more write.
Trace SampleTrace() {
  Script s(16);
  s.Write(0, 1, 'a');        // events 0,1
  s.Write(1, 2, 'b');        // 2,3
  s.Flush();                 // 4,5
  s.Write(2, 1, 'c');        // 6,7
  s.Write(3, 1, 'd', kFua);  // 8,9
  s.Flush();                 // 10,11
  s.Write(4, 1, 'e');        // 12,13
  return std::move(s).Build();
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

const char kHostile[] =
    "<script>document.title='owned'</script></script><b>bold</b> & more";

CheckReport SampleReport() {
  CheckReport r;
  r.plan = {Plan(5, "before complete of flush entry 2"),
            Plan(9, "before complete of write entry 4 [FUA]"),
            Plan(11, "before complete of flush entry 5"),
            Plan(14, "end of trace")};
  r.points = {Result(5, 2, 0, 0), Result(9, 4, 2, 0), Result(11, 3, 0, 1)};
  r.findings = {
      Finding("e9-u512-n2-1", VerdictKind::kFail, kHostile),
      Finding("e9-u512-n2-2", VerdictKind::kFail, "e2fsck: bad inode"),
      Finding("e11-u512-n1-1", VerdictKind::kError, "timed out"),
  };
  r.states = 9;
  r.distinct_images = 7;
  r.oracle_runs = 7;
  r.failures = 2;
  r.errors = 1;
  r.failing_images = 2;
  r.erroring_images = 1;
  return r;
}

HtmlReportInput SampleInput(const Trace* trace, const CheckReport* report) {
  HtmlReportInput in;
  in.trace = trace;
  in.report = report;
  in.trace_path = "traces/t.log";
  in.oracle = "ext4-fsck";
  in.explain = [](const std::string& id) -> std::string {
    if (id != "e9-u512-n2-1") return "";
    return "write e8 was lost <img src=x onerror=\"document.title='x'\">";
  };
  in.repro = [](const std::string& id) {
    return "crashenum materialize traces/t.log --state=" + id;
  };
  return in;
}

TEST(HtmlReportTest, EmbeddedJsonCannotCloseItsScript) {
  const Trace trace = SampleTrace();
  const CheckReport report = SampleReport();
  const std::string html = HtmlReport(SampleInput(&trace, &report));
  // The page's own two script elements, and no other.
  EXPECT_EQ(Count(html, "<script"), 2u);
  EXPECT_EQ(Count(html, "</script>"), 2u);
  EXPECT_THAT(html, HasSubstr("\\u003cscript\\u003edocument.title="));
  EXPECT_THAT(html, HasSubstr("\\u003c/b\\u003e \\u0026 more"));
  EXPECT_THAT(html, Not(HasSubstr("http")));  // nothing from the network
}

TEST(HtmlReportTest, RendersInHeadlessChromium) {
  const Trace trace = SampleTrace();
  const CheckReport report = SampleReport();
  const std::string path = Tmp() + "/report.html";
  ASSERT_TRUE(WriteHtmlReport(path, SampleInput(&trace, &report)).ok());
  if (internal_report::FindChromium().empty()) {
    GTEST_SKIP() << "headless Chromium (Debian package chromium) is not "
                    "installed: the page was written, not rendered";
  }
  absl::StatusOr<std::string> dom = internal_report::DumpDom(path, Tmp());
  ASSERT_TRUE(dom.ok()) << dom.status();
  // One marker per crash point, coloured by its states.
  EXPECT_EQ(Count(*dom, "class=\"cp cp-"), 4u);
  EXPECT_EQ(Count(*dom, "class=\"cp cp-pass\""), 1u);
  EXPECT_EQ(Count(*dom, "class=\"cp cp-fail\""), 1u);
  EXPECT_EQ(Count(*dom, "class=\"cp cp-error\""), 1u);
  EXPECT_EQ(Count(*dom, "class=\"cp cp-unchecked\""), 1u);
  EXPECT_THAT(*dom, HasSubstr("class=\"cp cp-fail\" href=\"#point-9\""));
  // Epochs: two closed by flushes, one still open, with their writes.
  EXPECT_EQ(Count(*dom, "class=\"epoch\""), 2u);
  EXPECT_EQ(Count(*dom, "class=\"epoch epoch-open\""), 1u);
  EXPECT_THAT(*dom, HasSubstr(">2 writes</div>"));
  EXPECT_THAT(*dom, HasSubstr(">1 write</div>"));
  // One row per finding; the hostile message and explanation are text.
  EXPECT_EQ(Count(*dom, "<tr class=\"finding\">"), 3u);
  EXPECT_EQ(Count(*dom, "<script"), 2u);
  EXPECT_THAT(*dom, Not(HasSubstr("<b>")));
  EXPECT_THAT(*dom, Not(HasSubstr("<img")));
  EXPECT_THAT(*dom, HasSubstr("<pre>&lt;script&gt;document.title='owned'"
                              "&lt;/script&gt;&lt;/script&gt;&lt;b&gt;bold"
                              "&lt;/b&gt; &amp; more</pre>"));
  EXPECT_THAT(*dom, HasSubstr("<title>crashenum: traces/t.log</title>"));
  EXPECT_EQ(Count(*dom, "<details>"), 1u);
  EXPECT_THAT(*dom, HasSubstr("write e8 was lost &lt;img src=x"));
  EXPECT_THAT(*dom, HasSubstr(
                        "<code>crashenum materialize traces/t.log "
                        "--state=e11-u512-n1-1</code>"));
  EXPECT_THAT(*dom, HasSubstr("2 failing states (2 failing images)"));
}

TEST(HtmlReportTest, ReportWithoutFindingsRendersAllGreen) {
  const Trace trace = SampleTrace();
  CheckReport report;
  report.plan = {Plan(5, "a"), Plan(14, "end of trace")};
  report.points = {Result(5, 1, 0, 0), Result(14, 2, 0, 0)};
  HtmlReportInput in;
  in.trace = &trace;
  in.report = &report;
  const std::string path = Tmp() + "/clean.html";
  ASSERT_TRUE(WriteHtmlReport(path, in).ok());
  if (internal_report::FindChromium().empty()) {
    GTEST_SKIP() << "headless Chromium (Debian package chromium) is not "
                    "installed: the page was written, not rendered";
  }
  absl::StatusOr<std::string> dom = internal_report::DumpDom(path, Tmp());
  ASSERT_TRUE(dom.ok()) << dom.status();
  EXPECT_EQ(Count(*dom, "class=\"cp cp-pass\""), 2u);
  EXPECT_EQ(Count(*dom, "class=\"cp cp-"), 2u);
  EXPECT_EQ(Count(*dom, "<tr class=\"finding\">"), 0u);
  EXPECT_THAT(*dom, HasSubstr("No failing state"));
}

TEST(HtmlReportTest, UnwritablePathIsUnavailable) {
  const Trace trace = SampleTrace();
  const CheckReport report = SampleReport();
  absl::Status s = WriteHtmlReport(Tmp() + "/no/such/dir/r.html",
                                   SampleInput(&trace, &report));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("no/such/dir/r.html"));
}

}  // namespace
}  // namespace crashenum
