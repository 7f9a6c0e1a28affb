// JUnit XML reports of a check (DESIGN.md 8), as CI systems and Bazel's test
// runner (XML_OUTPUT_FILE) read them.
//
// One <testsuite>, named after the trace, inside <testsuites>; one <testcase>
// per planned crash point, named "e<event> <description>" with classname
// "crashenum.<trace file name>". A crash point with failing states has a
// <failure> listing them (state ID, first line of the message, repro
// command, then any erroring states); one with only erroring states has an
// <error>; one whose states were not judged is <skipped>. The suite's tests,
// failures, errors and skipped count those testcases; its time is the
// check's wall time. Text is UTF-8 (invalid sequences become U+FFFD),
// escaped, and stripped of characters XML 1.0 does not allow.
#ifndef CRASHENUM_REPORT_JUNIT_H_
#define CRASHENUM_REPORT_JUNIT_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "check/checker.h"

namespace crashenum {

struct JUnitInput {
  std::string trace_path;  // as the user named it; names the suite
  // The check's report; must be non-null and outlive the call.
  const CheckReport* report = nullptr;
  // The command that rebuilds a state's image; may be empty (then none is
  // listed).
  std::function<std::string(const std::string& state_id)> repro;
};

// The report as XML text. Precondition: input.report is non-null.
std::string JUnitXml(const JUnitInput& input);

// Writes JUnitXml(input) to `path`, replacing it. Errors: Unavailable when
// the file cannot be written (naming it). Precondition: input.report is
// non-null.
absl::Status WriteJUnitReport(const std::string& path, const JUnitInput& input);

// `text` made safe for XML 1.0 character data, or for a double-quoted
// attribute value when `attribute` (which also escapes tabs and line
// breaks).
std::string XmlEscape(absl::string_view text, bool attribute = false);

}  // namespace crashenum

#endif  // CRASHENUM_REPORT_JUNIT_H_
