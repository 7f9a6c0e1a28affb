// Renders a local HTML file in headless Chromium and returns the DOM after
// its scripts ran (`chromium --headless --dump-dom`), for tests of the HTML
// report.
#ifndef CRASHENUM_REPORT_INTERNAL_HEADLESS_CHROMIUM_H_
#define CRASHENUM_REPORT_INTERNAL_HEADLESS_CHROMIUM_H_

#include <string>

#include "absl/status/statusor.h"

namespace crashenum {
namespace internal_report {

// The path of `chromium` or `chromium-browser` on PATH; "" when neither is
// installed.
std::string FindChromium();

// Loads `html_path` (absolute) in headless Chromium, with HOME and the
// profile in `scratch_dir` (which must exist and be writable), and returns
// the serialized DOM. Errors: Unavailable when Chromium is not installed
// (naming the Debian package chromium); Internal when it fails, with its
// messages.
absl::StatusOr<std::string> DumpDom(const std::string& html_path,
                                    const std::string& scratch_dir);

}  // namespace internal_report
}  // namespace crashenum

#endif  // CRASHENUM_REPORT_INTERNAL_HEADLESS_CHROMIUM_H_
