#include "enumerator/crash_points.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crashenum {
namespace {

absl::StatusOr<uint32_t> MarkEvent(const Trace& trace, const std::string& label,
                                   const char* flag) {
  int m = trace.FindMark(label);
  if (m < 0) {
    std::vector<std::string> labels;
    for (const Mark& mk : trace.marks()) labels.push_back("'" + mk.label + "'");
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": the trace has no mark '", label, "'; its marks are: ",
        labels.empty() ? "(none)" : absl::StrJoin(labels, ", ")));
  }
  return trace.marks()[m].event;
}

bool CompletesFlushOrFua(const Trace& trace, const Event& ev) {
  if (ev.kind != EventKind::kComplete) return false;
  const Op& op = trace.ops()[ev.op];
  return op.kind == OpKind::kFlush ||
         (op.kind == OpKind::kWrite && (op.flags & (kPreflush | kFua)));
}

}  // namespace

absl::StatusOr<std::vector<CrashPoint>> FindCrashPoints(
    const Trace& trace, const CrashPointOptions& options) {
  const uint32_t n = static_cast<uint32_t>(trace.events().size());
  uint32_t lo = 0, hi = n;
  if (!options.from_mark.empty()) {
    absl::StatusOr<uint32_t> e =
        MarkEvent(trace, options.from_mark, "--from-mark");
    if (!e.ok()) return e.status();
    lo = *e;
  }
  if (!options.to_mark.empty()) {
    absl::StatusOr<uint32_t> e = MarkEvent(trace, options.to_mark, "--to-mark");
    if (!e.ok()) return e.status();
    hi = *e;
  }
  if (hi < lo) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--to-mark '", options.to_mark, "' comes before --from-mark '",
        options.from_mark, "'"));
  }
  std::vector<CrashPoint> points;
  DurabilityTracker tracker(trace, options.discard);
  for (uint32_t e = 0; e <= n; ++e) {
    bool keep = false;
    if (e == n) {
      keep = true;  // the end is a crash point in every mode
    } else {
      const Event& ev = trace.events()[e];
      switch (options.mode) {
        case CrashPointMode::kAll:
          keep = true;
          break;
        case CrashPointMode::kMarks:
          keep = ev.kind == EventKind::kMark;
          break;
        case CrashPointMode::kFlushes:
          keep = CompletesFlushOrFua(trace, ev);
          break;
        case CrashPointMode::kDurable: {
          keep = tracker.WouldGrow(e);
          break;
        }
      }
      tracker.Apply(e);
    }
    if (keep && e >= lo && e <= hi) points.push_back(CrashPoint{e});
  }
  return points;
}

std::string DescribePoint(const Trace& trace, uint32_t event) {
  if (event >= trace.events().size()) return "end of trace";
  const Event& ev = trace.events()[event];
  switch (ev.kind) {
    case EventKind::kMark:
      return absl::StrCat("before mark '", trace.marks()[ev.mark].label,
                          "' (entry ", ev.source_entry, ")");
    case EventKind::kSubmit:
    case EventKind::kComplete: {
      const Op& op = trace.ops()[ev.op];
      const char* kind = op.kind == OpKind::kFlush     ? "flush"
                         : op.kind == OpKind::kDiscard ? "discard"
                                                       : "write";
      return absl::StrCat(
          "before ", ev.kind == EventKind::kSubmit ? "submit" : "complete",
          " of ", kind, " entry ", ev.source_entry,
          op.kind == OpKind::kWrite && op.flags
              ? absl::StrCat(" [", FlagsToString(op.flags), "]")
              : "");
    }
  }
  return "";
}

}  // namespace crashenum
