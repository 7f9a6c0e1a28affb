// Searches among the states of one crash point that persist more than a
// given state: the smallest failing state below a failing one (delta
// debugging), and the nearest passing state above it.
//
// "Missing ops" of a state are its optional ops that did not persist whole
// (dropped or torn, see explain.h). Every state searched here is the given
// state with some of its missing ops persisted whole; the other ops keep the
// units they had. Order choices (DESIGN.md 2.4) keep the winner of the given
// state where it still competes, else take the first competitor. A candidate
// that breaks a preflush constraint (DESIGN.md 2.2) is not a crash state and
// is skipped. A state fails when the oracle says FAIL; ERROR never counts as
// failing. Verdicts are cached by image hash, so states with equal images
// run the oracle once.
#ifndef CRASHENUM_EXPLAIN_MINIMIZE_H_
#define CRASHENUM_EXPLAIN_MINIMIZE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/crash_state.h"
#include "core/hash128.h"
#include "enumerator/materializer.h"
#include "enumerator/state_space.h"
#include "oracles/oracle.h"

namespace crashenum {

// A state ID with what it resolves to.
struct ResolvedCandidate {
  StateId id;
  Resolution resolution;
};

// How many optional ops a state drops (no unit persisted) and tears (some
// units persisted).
struct LossCount {
  uint64_t dropped = 0;
  uint64_t torn = 0;
};

// Precondition for both: `id` has space.num_bits() bits.
// Indices into space.optional_ops() of the ops `id` does not persist whole,
// ascending.
std::vector<uint32_t> MissingOps(const StateSpace& space, const StateId& id);
LossCount CountLosses(const StateSpace& space, const StateId& id);

// `base` (which resolves to `base_resolution`) with every optional op of
// `persist` (indices into space.optional_ops()) persisted whole, order
// choices kept as described above. Errors: InvalidArgument (Resolve's) when
// the result breaks a preflush constraint.
absl::StatusOr<ResolvedCandidate> PersistWhole(
    const StateSpace& space, const StateId& base,
    const Resolution& base_resolution, const std::vector<uint32_t>& persist);

// Judges states of one crash point: materializes each into a private
// directory and runs the oracle, once per distinct image. Not thread-safe.
// `space` and `oracle` must outlive it.
class StateJudge {
 public:
  // Creates a private directory below `parent_dir` (removed, with the
  // images, by the destructor). Errors: Unavailable when the directory cannot
  // be made; Materializer::Create's for the image files.
  static absl::StatusOr<std::unique_ptr<StateJudge>> Create(
      const StateSpace& space, Oracle& oracle, const std::string& parent_dir);
  ~StateJudge();
  StateJudge(const StateJudge&) = delete;
  StateJudge& operator=(const StateJudge&) = delete;

  // The verdict on `c`'s image: cached when an equal image was judged,
  // otherwise materialized and judged. Errors: I/O errors of the images.
  absl::StatusOr<Verdict> Judge(const ResolvedCandidate& c);
  // Whether the image with this hash was judged already.
  bool Judged(const Hash128& image) const { return cache_.contains(image); }
  // Oracle runs so far.
  uint64_t oracle_runs() const { return oracle_runs_; }

 private:
  StateJudge(const StateSpace& space, Oracle& oracle, std::string dir)
      : space_(space), oracle_(oracle), dir_(std::move(dir)) {}

  const StateSpace& space_;
  Oracle& oracle_;
  std::string dir_;
  std::unique_ptr<Materializer> materializer_;
  ImageSet images_;
  std::vector<std::string> copies_;  // empty unless the oracle mutates
  absl::flat_hash_map<Hash128, Verdict> cache_;
  uint64_t oracle_runs_ = 0;
};

struct MinimizeProgress {
  uint64_t tries = 0;        // candidate states considered
  uint64_t oracle_runs = 0;  // oracle runs (distinct images judged)
  LossCount current;         // losses of the smallest failing state so far
};

struct MinimizeOptions {
  // Directory below which a private work directory is made (must exist).
  std::string work_dir = "/tmp";
  // Stop after this many oracle runs (0: no bound). The result is then the
  // smallest failing state found, not necessarily 1-minimal.
  uint64_t max_oracle_runs = 0;
  // Called after the first verdict, each time the failing state shrinks,
  // and at the end.
  std::function<void(const MinimizeProgress&)> on_progress;
};

struct MinimizeResult {
  StateId state;    // the smallest failing state found
  Verdict verdict;  // its FAIL verdict
  LossCount losses;
  StateId original;
  LossCount original_losses;
  uint64_t tries = 0;
  uint64_t oracle_runs = 0;
  // No single missing op of `state` can be persisted whole while the state
  // still fails (false only when max_oracle_runs stopped the search).
  bool one_minimal = true;
};

// Delta debugging (ddmin) over the missing ops of `failing`: tries
// persisting chunks of them, keeps a candidate that is a crash state and
// still fails, and returns the failing state with the fewest missing ops it
// found. Deterministic for a deterministic oracle. Errors: FailedPrecondition
// "state X passes; nothing to minimize" (or that it is ERROR) when `failing`
// does not fail; InvalidArgument when it is not a state of `space`; I/O
// errors of the images.
absl::StatusOr<MinimizeResult> Minimize(const StateSpace& space,
                                        const StateId& failing, Oracle& oracle,
                                        const MinimizeOptions& options);

struct NearestOptions {
  // Directory below which a private work directory is made (must exist).
  std::string work_dir = "/tmp";
  // Oracle runs allowed, including the one on the given state.
  uint64_t max_oracle_runs = 32;
  // Candidate states considered at most (most are cheap: invalid or equal
  // to an image already judged).
  uint64_t max_candidates = 10000;
};

struct NearestResult {
  Verdict original;  // the verdict on the given state
  bool found = false;
  StateId state;  // the passing state, when found
  // Missing ops of the given state that `state` persists whole (indices
  // into optional_ops()); their count is the distance.
  std::vector<uint32_t> persisted;
  uint64_t candidates = 0;
  uint64_t oracle_runs = 0;
  // The search stopped at a bound before trying every candidate.
  bool bound_hit = false;
};

// Breadth first over the states that persist one more missing op of `id`,
// then two, and so on (in trace order within a level), returns the first
// that passes: one with the fewest ops persisted beyond `id`. `id` itself,
// when it passes (distance 0). Errors: InvalidArgument when `id` is not a
// state of `space`; I/O errors of the images.
absl::StatusOr<NearestResult> FindNearestPassing(const StateSpace& space,
                                                 const StateId& id,
                                                 Oracle& oracle,
                                                 const NearestOptions& options);

}  // namespace crashenum

#endif  // CRASHENUM_EXPLAIN_MINIMIZE_H_
