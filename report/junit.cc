#include "report/junit.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/internal/point_summary.h"

namespace crashenum {
namespace {

using internal_report::FirstLine;
using internal_report::PointStatus;
using internal_report::PointSummary;

// Decodes one UTF-8 sequence at s[*i], advancing *i; returns U+FFFD for an
// invalid, overlong or truncated sequence (consuming one byte).
uint32_t NextCodePoint(absl::string_view s, size_t* i) {
  const unsigned char c = static_cast<unsigned char>(s[*i]);
  int len = 0;
  uint32_t cp = 0;
  if (c < 0x80) {
    ++*i;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    ++*i;
    return 0xFFFD;
  }
  if (*i + len > s.size()) {
    ++*i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[*i + k]);
    if ((d & 0xC0) != 0x80) {
      ++*i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (d & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF) {
    ++*i;
    return 0xFFFD;
  }
  *i += len;
  return cp;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// XML 1.0's Char production.
bool XmlChar(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

std::string Plural(size_t n, const char* what) {
  return absl::StrCat(n, " ", what, n == 1 ? "" : "s");
}

std::string StateLines(const std::vector<const StateFinding*>& findings,
                       const JUnitInput& input) {
  std::string out;
  for (const StateFinding* f : findings) {
    absl::StrAppend(&out, f->state, ": ", FirstLine(f->message), "\n");
    if (input.repro) {
      absl::StrAppend(&out, "  reproduce: ", input.repro(f->state), "\n");
    }
  }
  return out;
}

std::string TestCase(const PointSummary& p, const std::string& class_name,
                     const JUnitInput& input) {
  std::string out = absl::StrCat(
      "    <testcase name=\"",
      XmlEscape(absl::StrCat("e", p.plan->event, " ", p.plan->description),
                true),
      "\" classname=\"", XmlEscape(class_name, true), "\"");
  switch (p.status) {
    case PointStatus::kPass:
      return out + "/>\n";
    case PointStatus::kUnchecked:
      return out + ">\n      <skipped message=\"no state of this crash point "
                   "was judged\"/>\n    </testcase>\n";
    case PointStatus::kFail: {
      std::string text = StateLines(p.failing, input);
      if (!p.erroring.empty()) {
        absl::StrAppend(&text, "erroring:\n", StateLines(p.erroring, input));
      }
      std::string message = Plural(p.failing.size(), "failing state");
      if (!p.erroring.empty()) {
        absl::StrAppend(&message, ", ",
                        Plural(p.erroring.size(), "erroring state"));
      }
      return absl::StrCat(out, ">\n      <failure message=\"",
                          XmlEscape(message, true), "\" type=\"FAIL\">",
                          XmlEscape(text), "</failure>\n    </testcase>\n");
    }
    case PointStatus::kError:
      return absl::StrCat(
          out, ">\n      <error message=\"",
          XmlEscape(Plural(p.erroring.size(), "erroring state"), true),
          "\" type=\"ERROR\">", XmlEscape(StateLines(p.erroring, input)),
          "</error>\n    </testcase>\n");
  }
  return out + "/>\n";
}

}  // namespace

std::string XmlEscape(absl::string_view text, bool attribute) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const uint32_t cp = NextCodePoint(text, &i);
    if (!XmlChar(cp)) continue;
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += attribute ? "&quot;" : "\"";
        break;
      case '\t':
      case '\n':
      case '\r':
        if (attribute) {
          absl::StrAppend(&out, "&#", cp, ";");
        } else if (cp == '\r') {
          out += "&#13;";  // a literal CR would be normalised away
        } else {
          out.push_back(static_cast<char>(cp));
        }
        break;
      default:
        AppendUtf8(cp, &out);
    }
  }
  return out;
}

std::string JUnitXml(const JUnitInput& input) {
  const CheckReport& report = *input.report;
  const std::vector<PointSummary> points =
      internal_report::SummarizePoints(report);
  size_t failures = 0, errors = 0, skipped = 0;
  for (const PointSummary& p : points) {
    failures += p.status == PointStatus::kFail;
    errors += p.status == PointStatus::kError;
    skipped += p.status == PointStatus::kUnchecked;
  }
  const std::string base =
      input.trace_path.substr(input.trace_path.find_last_of('/') + 1);
  const std::string class_name = "crashenum." + base;
  const std::string time =
      absl::StrFormat("%.3f", absl::ToDoubleSeconds(report.elapsed));
  const std::string totals =
      absl::StrCat("tests=\"", points.size(), "\" failures=\"", failures,
                   "\" errors=\"", errors, "\"");
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ", totals,
      " time=\"", time, "\">\n  <testsuite name=\"",
      XmlEscape(input.trace_path, true), "\" ", totals, " skipped=\"", skipped,
      "\" time=\"", time, "\">\n");
  for (const PointSummary& p : points) {
    absl::StrAppend(&out, TestCase(p, class_name, input));
  }
  absl::StrAppend(&out, "  </testsuite>\n</testsuites>\n");
  return out;
}

absl::Status WriteJUnitReport(const std::string& path,
                              const JUnitInput& input) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << JUnitXml(input);
  out.close();
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("cannot write the JUnit report ", path));
  }
  return absl::OkStatus();
}

}  // namespace crashenum
