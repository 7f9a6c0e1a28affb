// The covering search of read-set pruning for one crash point (DESIGN.md 3):
// "one boolean per optional unit, each unit's visible version as a formula
// of them, and after each oracle run a blocking clause 'some unit of that
// read set shows another version'. The next state to check is a model of all
// clauses; UNSAT means every state of the crash point is covered."
//
// The booleans are the space's variables (with tearing one per optional
// unit; without, one per optional write). A slot shows the content of its
// maximal persisted versions under happens-before (2.4); a cover says "every
// read slot shows the content it showed in the judged state", which for a
// slot where concurrent writes compete holds only when every competitor that
// may show has that content, so a covered assignment is covered under every
// order choice. Preflush constraints are clauses.
#ifndef CRASHENUM_CHECK_COVER_SEARCH_H_
#define CRASHENUM_CHECK_COVER_SEARCH_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "check/internal/sat_solver.h"
#include "core/hash128.h"
#include "enumerator/state_space.h"

namespace crashenum {

// Pays the solver's start-up costs (about 0.1 s for Z3 on a small virtual
// machine) on a thread of its own, overlapping whatever the caller does next;
// CoverSearch::Create() waits for it rather than paying them twice. Joined
// when destroyed. Does nothing in a build without Z3.
class SolverWarmUp {
 public:
  SolverWarmUp();
  ~SolverWarmUp();
  SolverWarmUp(const SolverWarmUp&) = delete;
  SolverWarmUp& operator=(const SolverWarmUp&) = delete;

 private:
  std::thread thread_;
};

// Searches made on one thread share solver state: use each, and destroy it,
// on the thread that made it.
class CoverSearch {
 public:
  // True when this build has Z3 (the search is possible).
  static bool Available();
  // False when Create() would wait for a SolverWarmUp under way.
  static bool Ready();
  // `space` must outlive the search. Errors: those of starting the solver
  // (Unimplemented in a build without Z3).
  static absl::StatusOr<std::unique_ptr<CoverSearch>> Create(
      const StateSpace& space);

  // Values of the space's variables for an assignment that satisfies every
  // preflush constraint and is excluded by no Block call, or nullopt when
  // none is left (every state is covered). Errors: Internal when the solver
  // fails or gives up.
  absl::StatusOr<std::optional<std::vector<uint8_t>>> Next();
  // Next(), preferring an assignment with a state that shows, in one of
  // `slots`, other content than the state resolved to `pending` does: one
  // outside the cover that `pending`'s run would have if it read `slots`
  // (a guess at the cover of a run still under way). Only the preference
  // depends on the guess: when every assignment left is inside it, one of
  // those, and nullopt only when none is left at all.
  absl::StatusOr<std::optional<std::vector<uint8_t>>> NextOutside(
      const std::vector<uint32_t>& slots, const Resolution& pending);

  // Excludes every assignment whose states all show, in each of `slots`,
  // the content the state resolved to `checked` shows there.
  void BlockCover(const std::vector<uint32_t>& slots,
                  const Resolution& checked);
  // Excludes exactly the assignment `values`.
  void BlockAssignment(const std::vector<uint8_t>& values);

  absl::Duration solver_time() const { return solver_time_; }
  uint64_t solver_calls() const { return solver_calls_; }

 private:
  CoverSearch(const StateSpace& space,
              std::unique_ptr<internal_check::SatSolver> solver);
  // The literal "candidate `c` of slot `s` persisted"; nullopt when it is
  // durable (always persisted).
  std::optional<internal_check::Literal> Persisted(uint32_t s,
                                                   uint32_t c) const;
  uint32_t MaximalVar(uint32_t s, uint32_t c);
  uint32_t NonePersistedVar(uint32_t s);
  uint32_t ShowsVar(uint32_t s, const Hash128& content);
  // The literals "slot s does not show the content `checked` shows there",
  // one per slot of `slots`.
  std::vector<internal_check::Literal> OtherContent(
      const std::vector<uint32_t>& slots, const Resolution& checked);
  absl::StatusOr<std::optional<std::vector<uint8_t>>> Solve(
      const std::vector<internal_check::Literal>& assume);

  const StateSpace& space_;
  std::unique_ptr<internal_check::SatSolver> solver_;
  // Per slot, per candidate: its space variable, or -1 when durable.
  std::vector<std::vector<int32_t>> cand_var_;
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, uint32_t> maximal_;
  absl::flat_hash_map<uint32_t, uint32_t> none_;
  absl::flat_hash_map<std::pair<uint32_t, Hash128>, uint32_t> shows_;
  absl::Duration solver_time_;
  uint64_t solver_calls_ = 0;
};

}  // namespace crashenum

#endif  // CRASHENUM_CHECK_COVER_SEARCH_H_
