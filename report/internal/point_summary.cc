#include "report/internal/point_summary.h"

#include <map>

#include "core/crash_state.h"

namespace crashenum {
namespace internal_report {

absl::string_view PointStatusName(PointStatus status) {
  switch (status) {
    case PointStatus::kPass:
      return "pass";
    case PointStatus::kFail:
      return "fail";
    case PointStatus::kError:
      return "error";
    case PointStatus::kUnchecked:
      return "unchecked";
  }
  return "unchecked";
}

int64_t StateEvent(const std::string& state) {
  absl::StatusOr<StateId> id = StateId::Parse(state);
  return id.ok() ? static_cast<int64_t>(id->event) : -1;
}

std::string FirstLine(absl::string_view s) {
  return std::string(s.substr(0, s.find('\n')));
}

std::vector<PointSummary> SummarizePoints(const CheckReport& report) {
  std::vector<PointSummary> out(report.plan.size());
  std::map<uint32_t, size_t> by_event;
  for (size_t i = 0; i < report.plan.size(); ++i) {
    out[i].plan = &report.plan[i];
    by_event[report.plan[i].event] = i;
  }
  for (const PointResult& r : report.points) {
    auto it = by_event.find(r.event);
    if (it != by_event.end()) out[it->second].result = &r;
  }
  for (const StateFinding& f : report.findings) {
    const int64_t e = StateEvent(f.state);
    auto it = e < 0 ? by_event.end() : by_event.find(static_cast<uint32_t>(e));
    if (it == by_event.end()) continue;
    PointSummary& p = out[it->second];
    if (f.verdict == VerdictKind::kFail) {
      p.failing.push_back(&f);
    } else if (f.verdict == VerdictKind::kError) {
      p.erroring.push_back(&f);
    }
  }
  for (PointSummary& p : out) {
    if (!p.failing.empty()) {
      p.status = PointStatus::kFail;
    } else if (!p.erroring.empty()) {
      p.status = PointStatus::kError;
    } else if (p.result != nullptr && p.result->states > 0) {
      p.status = PointStatus::kPass;
    }
  }
  return out;
}

}  // namespace internal_report
}  // namespace crashenum
