// Crash points of a trace (DESIGN.md 2.7).
#ifndef CRASHENUM_ENUMERATOR_CRASH_POINTS_H_
#define CRASHENUM_ENUMERATOR_CRASH_POINTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/trace.h"
#include "enumerator/durability.h"

namespace crashenum {

enum class CrashPointMode {
  kDurable,  // just before each event that grows the durable set, and the end
  kFlushes,  // just before each completion of a flush, PREFLUSH or FUA op
  kMarks,    // just before each mark, and the end
  kAll,      // just before every event, and the end
};

struct CrashPointOptions {
  CrashPointMode mode = CrashPointMode::kDurable;
  DiscardMode discard = DiscardMode::kEither;
  std::string from_mark;  // keep points at or after the first such mark
  std::string to_mark;    // keep points at or before the first such mark
};

struct CrashPoint {
  // The crash happens just before this event; events().size() is the end.
  uint32_t event = 0;
};

// Lists the crash points in trace order. Errors: InvalidArgument when a named
// mark is not in the trace (the message lists the marks there are), or when
// --to-mark comes before --from-mark.
absl::StatusOr<std::vector<CrashPoint>> FindCrashPoints(
    const Trace& trace, const CrashPointOptions& options);

// "end of trace" or "before entry N (complete of flush)" style description.
std::string DescribePoint(const Trace& trace, uint32_t event);

}  // namespace crashenum

#endif  // CRASHENUM_ENUMERATOR_CRASH_POINTS_H_
