// What one crash state is made of (DESIGN.md 2.2-2.4, 2.8): the crash point,
// every write and discard possible there with its status in the state, and
// the order choices where concurrent writes compete. Also the difference
// between two states of one crash point.
//
// Terms used below:
//   - epoch of an op: how many flushes (flush ops and PREFLUSH writes) on
//     its device completed successfully before the op was submitted;
//   - status of an op in a state: durable (persisted in every state of the
//     crash point), persisted (optional, every unit persisted), dropped
//     (optional, no unit persisted) or torn (optional, some units persisted);
//   - folded unit: an optional unit that cannot change the image (its bytes
//     equal what it would cover, or a later durable write hides it). Its bit
//     is kept in state IDs and counts for the status, but it is not
//     enumerated.
// Extents are given in sectors of the op's device, or in bytes when the
// atomic unit is smaller than a sector. Everything here is a pure function
// of the trace, the model options and the state ID, safe to call from any
// thread.
#ifndef CRASHENUM_EXPLAIN_EXPLAIN_H_
#define CRASHENUM_EXPLAIN_EXPLAIN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/crash_state.h"
#include "core/trace.h"
#include "enumerator/state_space.h"
#include "nlohmann/json.hpp"

namespace crashenum {

enum class OpStatus { kDurable, kPersisted, kDropped, kTorn };

// "durable", "persisted", "dropped" or "torn".
absl::string_view OpStatusName(OpStatus status);

// A mark of the trace.
struct MarkRef {
  uint32_t mark = 0;  // index into Trace::marks()
  std::string label;
  uint32_t event = 0;  // its event index
  uint64_t entry = 0;  // its entry number in the source file
};

// An inclusive range [first, last] of sectors, or of bytes when the op's
// explanation says `in_bytes`.
struct Extent {
  uint64_t first = 0;
  uint64_t last = 0;
  bool operator==(const Extent& o) const {
    return first == o.first && last == o.last;
  }
};

// One write or discard possible at the crash point.
struct OpExplanation {
  uint32_t op = 0;  // index into Trace::ops()
  OpKind kind = OpKind::kWrite;
  uint32_t submit_event = 0;
  // Its completion event; Trace::events().size() when it never completed.
  uint32_t complete_event = 0;
  // Completed successfully before the crash point.
  bool completed = false;
  uint64_t entry = 0;  // Op::source_entry
  uint32_t device = 0;
  std::string device_name;
  uint64_t sector = 0;
  uint64_t num_sectors = 0;
  uint32_t flags = 0;  // OpFlag bits
  uint32_t epoch = 0;
  OpStatus status = OpStatus::kDurable;
  // The extents below count bytes of the device, not sectors (the atomic
  // unit is smaller than a sector).
  bool in_bytes = false;
  // The op's whole range, in the same unit as the extents.
  Extent range;
  // Torn ops: the parts that persisted, ascending and merged.
  std::vector<Extent> persisted;
  // Optional ops: the folded parts, ascending and merged.
  std::vector<Extent> folded;
  // The nearest mark before its submission; absent when there is none.
  bool has_mark_before = false;
  MarkRef mark_before;
};

// An op named by an order choice.
struct OpRef {
  uint32_t op = 0;  // index into Trace::ops()
  uint32_t submit_event = 0;
  uint64_t entry = 0;
};

// Where two or more persisted concurrent writes compete for the same units,
// which one the state shows. Consecutive units of one device with the same
// winner and competitors form one choice.
struct OrderChoice {
  uint32_t device = 0;
  std::string device_name;
  Extent range;  // sectors, or bytes when `in_bytes`
  bool in_bytes = false;
  OpRef winner;
  std::vector<OpRef> others;  // the competitors that lose, in trace order
};

// Durable writes of one device in one epoch.
struct EpochCount {
  uint32_t device = 0;
  std::string device_name;
  uint32_t epoch = 0;
  uint64_t ops = 0;
};

struct Explanation {
  std::string state;   // the state ID text
  uint32_t event = 0;  // the crash happens just before this event
  std::string point;   // DescribePoint's text
  // The marks before the crash point, nearest first.
  std::vector<MarkRef> marks_before;
  uint64_t durable_ops = 0;
  std::vector<EpochCount> durable_by_epoch;  // by device, then epoch
  // Durable ops one by one (in trace order); only with ExplainOptions::verbose.
  std::vector<OpExplanation> durable;
  // Every optional op, in trace order (the order of state ID bits).
  std::vector<OpExplanation> optional;
  uint64_t persisted_ops = 0;
  uint64_t dropped_ops = 0;
  uint64_t torn_ops = 0;
  std::vector<OrderChoice> order;
};

struct ExplainOptions {
  bool verbose = false;  // list durable ops one by one
  size_t max_marks = 3;  // marks before the crash point to list
};

// Explains state `id` of `space`. Errors: InvalidArgument (Resolve's) when
// `id` is not a state of `space`.
absl::StatusOr<Explanation> Explain(const StateSpace& space, const StateId& id,
                                    const ExplainOptions& options = {});

// The explanation as stable, compact text: a header (state, crash point,
// marks, durable summary), one line per listed op, and the order choices.
// Every line ends in '\n'.
std::string FormatExplanation(const Explanation& e);

// The same content as JSON: {"state", "event", "point", "marks_before",
// "durable": {"ops", "by_epoch", "list"?}, "optional": [...], "counts",
// "order": [...]}.
nlohmann::json ExplanationToJson(const Explanation& e);

// One op whose status differs between two states of one crash point.
struct OpChange {
  OpExplanation from;  // as in the first state
  OpExplanation to;    // as in the second state
};

// The optional ops whose status (or, for torn ops, persisted extents)
// differs from `a` to `b`, in trace order. Errors: InvalidArgument when the
// explanations belong to different crash points.
absl::StatusOr<std::vector<OpChange>> Diff(const Explanation& a,
                                           const Explanation& b);

// "e339 entry 170 write dev0 sectors 1024-1031: dropped -> persisted" lines,
// one per change ("no difference\n" when empty).
std::string FormatDiff(const std::vector<OpChange>& changes);

// [{"op", "submit_event", "entry", "device", "sector", "sectors", "from",
// "to"}], with "from"/"to" each {"status", "persisted"?}.
nlohmann::json DiffToJson(const std::vector<OpChange>& changes);

// "dropped", or "torn: sectors 1032-1039 of 1024-1055 persisted".
std::string DescribeStatus(const OpExplanation& op);

}  // namespace crashenum

#endif  // CRASHENUM_EXPLAIN_EXPLAIN_H_
