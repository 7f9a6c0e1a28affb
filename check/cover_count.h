// Exact counting of the states of one crash point that lie in a union of
// covers (read-set pruning, DESIGN.md 3). With the covering search, most
// states are never visited: each inherits the verdict of a judged state that
// agrees with it on everything the oracle read, and the report still counts
// every state. Counting works on the space's independent components
// (variables linked by a shared slot or a preflush constraint): each
// component's local states are enumerated once, and the union of covers is
// counted over the components' tables, so a crash point of 2^90 states with
// small components counts in milliseconds.
#ifndef CRASHENUM_CHECK_COVER_COUNT_H_
#define CRASHENUM_CHECK_COVER_COUNT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/hash128.h"
#include "enumerator/enumerate.h"
#include "enumerator/state_space.h"

namespace crashenum {

// The states that show, in each of `slots`, the content at the same index of
// `contents` (a candidate's `rel`, zero for the base content).
struct Cover {
  std::vector<uint32_t> slots;
  std::vector<Hash128> contents;
};

// The cover of the state resolved to `r` on `slots` (e.g. its read set).
Cover CoverOf(const StateSpace& space, const std::vector<uint32_t>& slots,
              const Resolution& r);

struct CoverCounts {
  StateCount total;                // every state of the crash point
  std::vector<StateCount> unions;  // per group, its union
};

// The number of states of `space` (every valid assignment with every order
// choice), and for each group (indices into `covers`) the number of states
// in the union of that group's covers. Errors: ResourceExhausted when a
// component has more than 2^22 local assignments, the union's bookkeeping
// grows past a million distinct cases, or the unions would take more than
// `max_work` steps (a step: one word of one cover set, about a nanosecond;
// thousands of covers that each read much of the space take minutes).
absl::StatusOr<CoverCounts> CountCovered(
    const StateSpace& space, const std::vector<Cover>& covers,
    const std::vector<std::vector<size_t>>& groups,
    uint64_t max_work = UINT64_MAX);

}  // namespace crashenum

#endif  // CRASHENUM_CHECK_COVER_COUNT_H_
