// The per-crash-point view of a CheckReport that the JUnit and HTML reports
// share: each planned crash point with its result and its findings.
#ifndef CRASHENUM_REPORT_INTERNAL_POINT_SUMMARY_H_
#define CRASHENUM_REPORT_INTERNAL_POINT_SUMMARY_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "check/checker.h"

namespace crashenum {
namespace internal_report {

enum class PointStatus {
  kPass,       // checked, every state passed
  kFail,       // some state failed
  kError,      // no state failed, some erred
  kUnchecked,  // no state of it was judged (not run, or another shard's)
};

// "pass", "fail", "error", "unchecked".
absl::string_view PointStatusName(PointStatus status);

struct PointSummary {
  const PointPlan* plan = nullptr;      // never null
  const PointResult* result = nullptr;  // null when the report has none
  std::vector<const StateFinding*> failing;   // in report order
  std::vector<const StateFinding*> erroring;  // in report order
  PointStatus status = PointStatus::kUnchecked;
};

// One entry per report.plan point, in plan order. Findings go to the point
// their state ID names (its crash event); a finding whose ID names no planned
// point is left out. The pointers refer into `report`, which must outlive the
// result.
std::vector<PointSummary> SummarizePoints(const CheckReport& report);

// The event a state ID names ("e123-..." gives 123), or -1 when the text is
// not a state ID.
int64_t StateEvent(const std::string& state);

// `s` up to its first newline.
std::string FirstLine(absl::string_view s);

}  // namespace internal_report
}  // namespace crashenum

#endif  // CRASHENUM_REPORT_INTERNAL_POINT_SUMMARY_H_
