// Durability of every op at one point of a trace (DESIGN.md 2.2 and 2.5).
#ifndef CRASHENUM_ENUMERATOR_DURABILITY_H_
#define CRASHENUM_ENUMERATOR_DURABILITY_H_

#include <cstdint>
#include <vector>

#include "core/trace.h"

namespace crashenum {

// How discards take part in crash states (DESIGN 2.5).
enum class DiscardMode {
  kEither,  // an optional all-zero write that no flush makes durable
  kKeep,    // ignored
  kZero,    // always applied once submitted
};

enum class OpState : uint8_t {
  kAbsent,    // not submitted by the point, a flush, or an ignored discard
  kDurable,   // persisted in every crash state at the point
  kOptional,  // possible but not durable: any subset of its units persists
};

// A write submitted with PREFLUSH that had not completed by the point: if any
// unit of `write` persisted, every op of `covered` persisted whole (2.2).
struct PreflushConstraint {
  uint32_t write = 0;
  std::vector<uint32_t> covered;  // optional ops only, ascending
};

struct Durability {
  std::vector<OpState> state;  // one per op
  std::vector<PreflushConstraint> constraints;
};

// Computes the state of every op for a crash just before event `point`
// (`point` == events().size() means after the last event). Precondition:
// point <= events().size().
Durability DurabilityAt(const Trace& trace, uint32_t point, DiscardMode discard);

// Incremental form of DurabilityAt: feed events in order; `durable_grew`
// reports whether the last event made any write durable. Used to find the
// default crash points in one pass.
class DurabilityTracker {
 public:
  DurabilityTracker(const Trace& trace, DiscardMode discard);
  // Applies event `e` (must be the next event in order). Returns true when
  // it made at least one op durable that was not.
  bool Apply(uint32_t e);
  // Whether applying event `e` next would make any op durable. Const.
  bool WouldGrow(uint32_t e) const;
  const std::vector<OpState>& state() const { return state_; }
  // Ops covered by the preflush of every in-flight flush or PREFLUSH write.
  std::vector<PreflushConstraint> Constraints() const;

 private:
  const Trace& trace_;
  DiscardMode discard_;
  uint32_t next_ = 0;
  std::vector<OpState> state_;
  // Per device: ops completed successfully and not yet durable.
  std::vector<std::vector<uint32_t>> pending_;
  // Per in-flight flush-carrying op: the ops its preflush covers.
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> in_flight_;
};

}  // namespace crashenum

#endif  // CRASHENUM_ENUMERATOR_DURABILITY_H_
