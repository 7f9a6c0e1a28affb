// The state space of one crash point (DESIGN.md 2.2-2.5 and 3).
//
// At a crash point every possible write is durable or optional. The image is
// made of *units* (the atomic unit, default the device's logical sector).
// Each unit some possible write covers is either
//   - fixed: one version is visible in every crash state (only durable
//     writes cover it, or all its versions have the same bytes), or
//   - a slot: its visible version depends on which optional units persisted
//     and, where concurrent writes compete, on an order choice.
// Optional units that can never change the image (covered by a durable write
// that happens after them, or in a unit whose versions are all equal) are
// folded: they are named in state IDs but are not enumerated
// (ModelOptions::fold turns this off).
//
// Enumeration works on *variables*: with tearing, one per enumerated optional
// unit; without, one per optional op (all its units together).
//
// A StateSpace is immutable after Build and safe to share between threads.
#ifndef CRASHENUM_ENUMERATOR_STATE_SPACE_H_
#define CRASHENUM_ENUMERATOR_STATE_SPACE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/crash_state.h"
#include "core/hash128.h"
#include "core/trace.h"
#include "enumerator/durability.h"

namespace crashenum {

struct ModelOptions {
  // Atomic unit in bytes: a power of two, at least 8; 0 means each device's
  // logical sector. Units larger than a sector need unit-aligned writes.
  uint32_t atomic_unit = 0;
  DiscardMode discard = DiscardMode::kEither;
  bool torn = true;  // --torn=sectors (true) or --torn=none (false)
  // --oracle-reads=metadata (DESIGN.md 3): for an oracle that judges only
  // metadata, every optional write without the META flag is treated as
  // persisted whole, and so is every write the preflush of such a write
  // covers. Those writes keep their bits in state IDs (always set); an ID
  // made with this option is resolved with it (where no two such writes
  // compete for a unit, it names the same image without it).
  bool metadata_only = false;
  // Folding (DESIGN.md 3). When false (tests only; no CLI flag), no unit
  // with an optional version is folded: versions that happen before a
  // durable version stay in their slot, optional versions equal to what they
  // cover are kept, and such a unit becomes a slot even when all its versions
  // are equal. Every optional unit then gets a variable (one per unit with
  // tearing), and durable versions may sit anywhere in a slot. The images of
  // a crash point are the same either way; the state IDs are not.
  bool fold = true;
};

// The Zobrist key of every unit of every write (relative to the base
// content), computed once per trace and unit size. Immutable after Build;
// thread-safe.
class UnitHashes {
 public:
  // Errors: InvalidArgument when the atomic unit is not a power of two >= 8,
  // or is larger than a device's sector and some op is not aligned to it
  // (naming the entry).
  static absl::StatusOr<std::unique_ptr<UnitHashes>> Build(
      const Trace& trace, uint32_t atomic_unit);

  const Trace& trace() const { return trace_; }
  uint32_t unit_bytes(uint32_t device) const { return unit_bytes_[device]; }
  // The value state IDs record: the atomic unit if all devices share it.
  uint32_t id_unit_bytes() const { return id_unit_bytes_; }
  // First unit and unit count of a write or discard.
  uint64_t first_unit(uint32_t op) const;
  uint32_t num_units(uint32_t op) const;
  // Zobrist key of the version op `op` gives its unit `k` (zeroes for
  // discards), XOR the key of that unit's base content: zero when the op
  // writes what the base holds.
  const Hash128& rel(uint32_t op, uint32_t k) const {
    const uint64_t at = stored_[op];
    return at == kAllBase ? kZero : hashes_[at + k];
  }
  // Bytes op `op` gives its unit `k`; nullptr for a discard (zeroes).
  const char* bytes(uint32_t op, uint32_t k) const;
  // Hash of the base content of a unit.
  Hash128 BaseContent(uint32_t device, uint64_t unit) const;
  // Global unit number used in Zobrist keys.
  static uint64_t GlobalUnit(uint32_t device, uint64_t unit) {
    return (uint64_t{device} << 44) | unit;
  }

 private:
  explicit UnitHashes(const Trace& trace) : trace_(trace) {}
  const Trace& trace_;
  std::vector<uint32_t> unit_bytes_;
  std::vector<Hash128> zero_;  // per device: hash of an all-zero unit
  uint32_t id_unit_bytes_ = 0;
  static constexpr uint64_t kAllBase = UINT64_MAX;
  static constexpr Hash128 kZero{};
  std::vector<uint64_t> offset_;  // per op: number of units before it
  // Per op: index of its first unit's key in hashes_, or kAllBase when
  // every unit shows the base content (a discard of a device with no base
  // image: tens of thousands of units of a trace, none stored).
  std::vector<uint64_t> stored_;
  std::vector<Hash128> hashes_;
};

// A unit version that may become visible in a slot.
struct Candidate {
  uint32_t op = 0;
  uint32_t unit_in_op = 0;
  int64_t bit = -1;  // canonical state-ID bit; -1 for a durable write
  Hash128 rel;       // Zobrist key of this version XOR that of the base
};

struct Slot {
  uint32_t device = 0;
  uint64_t unit = 0;
  // In submission order. In a chain slot each happens before the next. With
  // folding (ModelOptions::fold, the default) only candidates[0] of a chain
  // slot can be durable; without it a durable version may be at any index,
  // and versions below it never show.
  std::vector<Candidate> candidates;
  bool chain = true;
  // Non-chain slots: hb[i * n + j] says candidate i happens before j.
  std::vector<uint8_t> hb;
};

struct FixedUnit {
  FixedUnit() : device(0), unit(0) {}
  FixedUnit(uint32_t device, uint64_t unit, uint32_t op, uint32_t unit_in_op)
      : device(device), unit(unit), op(op), unit_in_op(unit_in_op) {}
  // 16 bytes: a long trace's space holds millions.
  uint64_t device : 20;
  uint64_t unit : 44;        // as in UnitHashes::GlobalUnit
  uint32_t op = UINT32_MAX;  // UINT32_MAX: the base content
  uint32_t unit_in_op = 0;
};
static_assert(sizeof(FixedUnit) == 16, "FixedUnit grew");

struct OptionalOp {
  uint32_t op = 0;
  uint32_t first_bit = 0;  // canonical bits [first_bit, first_bit + units)
  uint32_t num_units = 0;
  // Per unit of the op: its variable, or -1 when folded; empty when every
  // unit is folded (read it through var_of).
  std::vector<int32_t> unit_var;
  std::vector<uint32_t> vars;  // distinct variables of the op, ascending

  // Unit `k`'s variable, or -1 when it is folded.
  int32_t var_of(uint32_t k) const {
    return unit_var.empty() ? -1 : unit_var[k];
  }
};

// One enumerated choice. `units` lists (slot, candidate) pairs it controls.
struct Variable {
  uint32_t optional_op = 0;  // index into optional_ops()
  std::vector<std::pair<uint32_t, uint32_t>> units;
};

// Preflush constraint on variables: if any of `write_vars` is set, every one
// of `covered_vars` must be set.
struct VarConstraint {
  std::vector<uint32_t> write_vars;
  std::vector<uint32_t> covered_vars;
};

// Which version each slot shows in one state: a candidate index, or -1 for
// the base content.
struct Resolution {
  std::vector<int32_t> slot_version;
  Hash128 hash;
};

class StateSpace {
 public:
  // Builds the space of a crash just before event `event`. Errors:
  // InvalidArgument when `event` > events().size() or the unit size and
  // `hashes` disagree with `options`.
  static absl::StatusOr<std::unique_ptr<StateSpace>> Build(
      const UnitHashes& hashes, uint32_t event, const ModelOptions& options);

  const Trace& trace() const { return hashes_.trace(); }
  const UnitHashes& hashes() const { return hashes_; }
  uint32_t event() const { return event_; }
  const ModelOptions& options() const { return options_; }
  const std::vector<OpState>& op_states() const { return durability_.state; }
  const std::vector<OptionalOp>& optional_ops() const { return optional_; }
  const std::vector<Slot>& slots() const { return slots_; }
  const std::vector<FixedUnit>& fixed() const { return fixed_; }
  const std::vector<Variable>& vars() const { return vars_; }
  const std::vector<VarConstraint>& constraints() const { return constraints_; }
  const std::vector<PreflushConstraint>& preflush() const {
    return durability_.constraints;
  }
  // Hash contribution of the fixed units.
  const Hash128& fixed_hash() const { return fixed_hash_; }
  uint32_t num_bits() const { return num_bits_; }
  bool has_non_chain() const { return has_non_chain_; }

  // Canonical bitmap of a variable assignment (see crash_state.h): folded
  // units of an op follow its variables (set when any is set, or when the op
  // has none).
  Bitmap BitsFor(const std::vector<uint8_t>& var_values) const;

  // Resolves a state ID to the version of each slot, and hashes it, straight
  // from the definition (no incremental state). Errors: InvalidArgument when
  // the ID belongs to another crash point or unit size, has the wrong number
  // of bits or order choices, or breaks a preflush constraint.
  absl::StatusOr<Resolution> Resolve(const StateId& id) const;

  // Maximal persisted candidates of non-chain slot `s`, in candidate order,
  // given `persisted[i]` for each candidate.
  std::vector<uint32_t> MaximalPersisted(
      uint32_t s, const std::vector<uint8_t>& persisted) const;

 private:
  friend class SpaceBuilder;
  struct RawCandidate;
  struct Assembly;

  StateSpace(const UnitHashes& hashes, uint32_t event, ModelOptions options)
      : hashes_(hashes), event_(event), options_(options) {}
  // Assembly in three steps: the ops' states and optional ops; each unit a
  // possible write covers, in unit order, with its versions in op order;
  // the variables and constraints.
  static std::unique_ptr<StateSpace> Begin(const UnitHashes& hashes,
                                           uint32_t event,
                                           const ModelOptions& options,
                                           Durability durability, Assembly& a);
  void AddUnit(uint64_t global_unit, const std::vector<RawCandidate>& raw,
               Assembly& a);
  void Finish(Assembly& a);

  const UnitHashes& hashes_;
  uint32_t event_;
  ModelOptions options_;
  Durability durability_;
  std::vector<OptionalOp> optional_;
  std::vector<Slot> slots_;
  std::vector<FixedUnit> fixed_;
  std::vector<Variable> vars_;
  std::vector<VarConstraint> constraints_;
  Hash128 fixed_hash_;
  uint32_t num_bits_ = 0;
  bool has_non_chain_ = false;
};

// Builds the spaces of crash points asked for in increasing event order, each
// exactly what StateSpace::Build makes, without going over every write of
// the trace for each: it keeps, from one point to the next, the durability of
// every op and, per unit, the durable versions no other durable version
// hides. A space then costs the units its durable and possible writes cover
// and the events and ops since the last one, with no sort of the whole
// trace. A point before the last one asked for starts over from the first
// event; without ModelOptions::fold every space is built from scratch.
// Not thread-safe; the spaces it returns do not depend on it.
class SpaceBuilder {
 public:
  SpaceBuilder(const UnitHashes& hashes, const ModelOptions& options);
  ~SpaceBuilder();
  SpaceBuilder(const SpaceBuilder&) = delete;
  SpaceBuilder& operator=(const SpaceBuilder&) = delete;

  // Same contract as StateSpace::Build.
  absl::StatusOr<std::unique_ptr<StateSpace>> Build(uint32_t event);

 private:
  void Restart();
  // Adds the ops that became durable to units_/ops_.
  void MergeDurable();
  // Brings optional_ up to the tracker's state.
  void MergeOptional();
  // (global unit, op) of every unit of the ops in state `wanted` not yet
  // marked in `seen`, ascending; marks them.
  std::vector<std::pair<uint64_t, uint32_t>> NewUnits(
      OpState wanted, std::vector<uint8_t>& seen) const;

  const UnitHashes& hashes_;
  ModelOptions options_;
  std::unique_ptr<DurabilityTracker> tracker_;
  uint32_t next_event_ = 0;      // the tracker has applied events before it
  std::vector<uint8_t> merged_;  // per op: durable and in units_/ops_
  // The durable versions no other durable version hides, by global unit
  // (UnitHashes::GlobalUnit), each unit's in op order.
  std::vector<uint64_t> units_;
  std::vector<uint32_t> ops_;
  std::vector<uint8_t> listed_;  // per op: was optional, in optional_
  // (global unit, op) of every unit of an optional op, ascending.
  std::vector<std::pair<uint64_t, uint32_t>> optional_;
  std::vector<std::pair<uint64_t, uint32_t>> merge_buffer_;  // for optional_
  // Kept from one build to the next: its tables hold entries per op, and
  // allocating them again cost page faults at every crash point.
  std::unique_ptr<StateSpace::Assembly> assembly_;
};

}  // namespace crashenum

#endif  // CRASHENUM_ENUMERATOR_STATE_SPACE_H_
