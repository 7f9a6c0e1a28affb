// Enumeration of the crash states of one crash point (DESIGN.md 3).
//
// Exhaustive enumeration walks the variables as a wide binary counter in
// reflected Gray-code order (bitmap carry iteration): consecutive states
// differ in one variable, so the image hash is updated with one unit's delta.
// Bounded enumeration (--drop-at-most, --tear-at-most) and seeded sampling
// visit subsets of the same states. Every order is deterministic.
#ifndef CRASHENUM_ENUMERATOR_ENUMERATE_H_
#define CRASHENUM_ENUMERATOR_ENUMERATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "core/crash_state.h"
#include "core/hash128.h"
#include "enumerator/state_space.h"

namespace crashenum {

struct EnumerateOptions {
  // States missing at most K optional writes (-1: no bound). With tearing a
  // write is missing when none of its units persisted.
  int64_t drop_at_most = -1;
  // States with at most K torn writes (-1: no bound).
  int64_t tear_at_most = -1;
  // When > 0: this many seeded random states per crash point instead.
  uint64_t sample = 0;
  uint64_t seed = 0;

  bool bounded() const {
    return drop_at_most >= 0 || tear_at_most >= 0 || sample > 0;
  }
};

// The number of states of a crash point under some options.
struct StateCount {
  double log2 = 0;       // log2 of the count (or of the bound)
  uint64_t exact = 0;    // valid when `fits`
  bool fits = true;      // the count fits in 64 bits
  bool at_most = false;  // only an upper bound is known
  bool at_least = false;  // only a lower bound is known (order choices)
  // "12", "<= 4096", ">= 1024" or "2^63.0".
  std::string ToString() const;
};

StateCount CountStates(const StateSpace& space, const EnumerateOptions& options);

// The enumeration position: variable values with the image hash kept up to
// date incrementally. Not thread-safe; cheap to create.
class Cursor {
 public:
  explicit Cursor(const StateSpace& space);

  // Sets variable `v`, updating the hash and the constraint count.
  void Set(uint32_t v, bool value) {
    if ((values_[v] != 0) != value) Flip(v);
  }
  // Flips variable `v`, updating the hash and the constraint count.
  void Flip(uint32_t v) {
    const VarInfo& info = var_info_[v];
    values_[v] ^= 1;
    hash_ ^= info.delta;
    if (info.slow) FlipSlow(info, values_[v] != 0);
  }
  bool Get(uint32_t v) const { return values_[v] != 0; }
  const std::vector<uint8_t>& values() const { return values_; }
  // False when a preflush constraint is broken.
  bool valid() const { return violations_ == 0; }

  // Order choices for the current assignment: one radix per slot where
  // concurrent persisted writes compete (empty when none).
  const std::vector<uint32_t>& radices();
  // Selects order choices (one per radix) and returns the state's hash.
  Hash128 HashWithOrder(const std::vector<uint32_t>& order);
  // Hash of the state when there are no order choices.
  Hash128 hash() const { return hash_; }
  // The state ID of the current assignment with `order`.
  StateId Id(const std::vector<uint32_t>& order) const;

 private:
  // Per variable. A unit of a variable is *static* when it sits in a chain
  // slot where it is the only optional version: flipping the variable then
  // always XORs the same pair of keys in and out of the hash, summed in
  // `delta`. Its other units ([unit_begin, unit_end) of dyn_units_) and its
  // constraints ([con_begin, con_end) of var_cons_) take the slow path.
  struct VarInfo {
    Hash128 delta;
    uint32_t unit_begin = 0, unit_end = 0;
    uint32_t con_begin = 0, con_end = 0;
    bool slow = false;
  };
  struct DynUnit {
    uint32_t slot;
    uint32_t cand;
    uint32_t offset;  // of the slot's first candidate in persisted_
    bool chain;
  };
  void FlipSlow(const VarInfo& info, bool value);
  const StateSpace& space_;
  std::vector<uint8_t> values_;
  std::vector<VarInfo> var_info_;
  std::vector<DynUnit> dyn_units_;
  std::vector<uint32_t> var_cons_;  // constraint index << 1 | is a write var
  // Per slot: persisted flags per candidate (flattened) and the top one;
  // left at their initial values in slots that only static units touch.
  std::vector<uint32_t> slot_offset_;
  std::vector<uint8_t> persisted_;
  std::vector<int32_t> top_;
  Hash128 hash_;  // fixed + all chain slots (non-chain handled per state)
  int64_t violations_ = 0;
  std::vector<int32_t> write_count_;    // per constraint: write vars set
  std::vector<int32_t> missing_count_;  // per constraint: covered vars unset
  std::vector<uint32_t> non_chain_;
  std::vector<uint32_t> radices_;
  std::vector<std::vector<uint32_t>> maximal_;
  bool radices_valid_ = false;
};

// One visited state.
class VisitedState {
 public:
  VisitedState(const Cursor& cursor, const std::vector<uint32_t>& order,
               Hash128 hash)
      : cursor_(cursor), order_(order), hash_(hash) {}
  const Hash128& hash() const { return hash_; }
  StateId Id() const { return cursor_.Id(order_); }
  const Cursor& cursor() const { return cursor_; }

 private:
  const Cursor& cursor_;
  const std::vector<uint32_t>& order_;
  Hash128 hash_;
};

// Calls `visit` for every valid state of `space` the options select, in a
// deterministic order; stops early when `visit` returns false. Returns the
// number of states visited.
uint64_t EnumerateStates(const StateSpace& space,
                         const EnumerateOptions& options,
                         absl::FunctionRef<bool(const VisitedState&)> visit);

// Calls `visit` for each state of the cursor's current assignment (one per
// combination of order choices; none when a preflush constraint is broken);
// stops early when `visit` returns false. Returns false when stopped.
bool VisitOrders(Cursor& cursor,
                 absl::FunctionRef<bool(const VisitedState&)> visit);

// The fixed, platform-independent PRNG behind --sample (SplitMix64).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for n > 0 (rejection sampling, no modulo bias).
  uint64_t Below(uint64_t n);

 private:
  uint64_t state_;
};

}  // namespace crashenum

#endif  // CRASHENUM_ENUMERATOR_ENUMERATE_H_
