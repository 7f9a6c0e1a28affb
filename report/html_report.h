// A self-contained HTML report of a check: one file, no network, inline CSS
// and JavaScript, the data embedded as JSON in a
// <script type="application/json" id="crashenum-data"> element.
//
// The page renders, with JavaScript: a summary; a timeline per device of its
// flush epochs (one segment per epoch, with its write count) with one marker
// per planned crash point, coloured by what its states gave (class
// "cp cp-pass" green: every judged state passed; "cp cp-fail" red: some
// failed; "cp cp-error" amber: none failed, some erred; "cp cp-unchecked"
// grey: none judged); a table of the crash points; and a table of the
// failing and erroring states (rows of class "finding") with verdict,
// message, explanation (collapsible) and repro command. All text is set as
// text, never parsed as markup, and the embedded JSON escapes '<', '>' and
// '&', so no message can close the script element or inject markup.
#ifndef CRASHENUM_REPORT_HTML_REPORT_H_
#define CRASHENUM_REPORT_HTML_REPORT_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "check/checker.h"
#include "core/trace.h"

namespace crashenum {

struct HtmlReportInput {
  // The checked trace (devices, events and epochs come from it) and its
  // check report; both must be non-null and outlive the call.
  const Trace* trace = nullptr;
  const CheckReport* report = nullptr;
  std::string trace_path;  // as the user named it; empty: trace->path()
  std::string oracle;      // e.g. "ext4-fsck"
  // Explanation of a failing or erroring state, shown collapsible; may be
  // empty, and may return "" for a state with none.
  std::function<std::string(const std::string& state_id)> explain;
  // The command that rebuilds a state's image; may be empty.
  std::function<std::string(const std::string& state_id)> repro;
};

// The report page. Precondition: input.trace and input.report are non-null.
std::string HtmlReport(const HtmlReportInput& input);

// Writes HtmlReport(input) to `path`, replacing it. Errors: Unavailable when
// the file cannot be written (naming it). Preconditions as HtmlReport.
absl::Status WriteHtmlReport(const std::string& path,
                             const HtmlReportInput& input);

}  // namespace crashenum

#endif  // CRASHENUM_REPORT_HTML_REPORT_H_
