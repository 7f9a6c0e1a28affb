// Read-set pruning for one crash point (DESIGN.md 3).
//
// A deterministic oracle's verdict depends only on the bytes it read. After a
// state C is judged, its read set (the units the oracle read before writing
// them) is recorded here with C's verdict; any state X of the same crash point
// that shows, in every slot C's oracle read, the same bytes C showed, gets
// C's verdict without an oracle run. Units outside the slots show the same
// bytes in every state of the crash point, so only slots matter.
//
// Versions are compared by content: two candidates with equal bytes count as
// equal (their Zobrist keys are equal), exactly as the oracle sees them.
#ifndef CRASHENUM_CHECK_PRUNE_INDEX_H_
#define CRASHENUM_CHECK_PRUNE_INDEX_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "core/hash128.h"
#include "enumerator/state_space.h"
#include "oracles/oracle.h"

namespace crashenum {

class PruneIndex {
 public:
  // `space` must outlive the index.
  explicit PruneIndex(const StateSpace& space);

  // The slots among `units` ((device, unit) pairs in the space's atomic
  // units), ascending and without repeats; units in no slot are skipped.
  std::vector<uint32_t> SlotsOf(
      const std::vector<std::pair<uint32_t, uint64_t>>& units) const;

  // Records that the state resolved to `checked` was judged `verdict` after
  // reading `read_slots` (as SlotsOf gives them). ERROR verdicts are not
  // recorded: an error says nothing about the image.
  void Add(const std::vector<uint32_t>& read_slots, const Resolution& checked,
           const Verdict& verdict);

  // The verdict of a recorded state that agrees with `r` on all of its read
  // slots, or nullptr. Cost: one pass over the slots of each distinct read
  // set recorded.
  const Verdict* Find(const Resolution& r) const;
  // The same, with the version of each slot given by `version(slot)`.
  const Verdict* Find(absl::FunctionRef<int32_t(uint32_t)> version) const;

  size_t size() const { return verdicts_.size(); }
  size_t num_read_sets() const { return groups_.size(); }

 private:
  Hash128 Signature(const std::vector<uint32_t>& slots,
                    absl::FunctionRef<int32_t(uint32_t)> version) const;

  struct Group {
    std::vector<uint32_t> slots;
    absl::flat_hash_map<Hash128, size_t> by_signature;  // -> verdicts_ index
  };
  const StateSpace& space_;
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, uint32_t> slot_of_;
  std::vector<Group> groups_;
  absl::flat_hash_map<Hash128, size_t> group_of_;  // hash of slot list
  std::vector<Verdict> verdicts_;
};

}  // namespace crashenum

#endif  // CRASHENUM_CHECK_PRUNE_INDEX_H_
