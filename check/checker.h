// crashenum check: enumerates the crash states of a trace and runs an oracle
// on each distinct image (DESIGN.md 3-5).
//
// Results are deterministic: the same trace and options give the same states,
// IDs, verdicts and counts for any number of workers. Each distinct image is
// judged once, by the first state (in enumeration order) that shows it; every
// other state with that image shares its verdict (for an oracle with a
// VerdictContext, only states whose crash points share the context).
#ifndef CRASHENUM_CHECK_CHECKER_H_
#define CRASHENUM_CHECK_CHECKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/hash128.h"
#include "core/trace.h"
#include "enumerator/crash_points.h"
#include "enumerator/enumerate.h"
#include "enumerator/state_space.h"
#include "oracles/oracle.h"

namespace crashenum {

// Records which units an oracle run read before writing them (read-set
// pruning, DESIGN.md 3). One call of Begin, then one of End, per run; calls
// for distinct workers may run concurrently.
class ReadRecorder {
 public:
  virtual ~ReadRecorder() = default;
  // Prepares worker `worker`'s next run on `image_paths` (one per device):
  // returns the environment every process of that run needs.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  Begin(int worker, const std::vector<std::string>& image_paths) = 0;
  // The units the run read before writing them, as (device, unit) pairs in
  // units of `unit_bytes[device]` bytes. `*everything` is set when the
  // recorder could not tell (every unit counts as read).
  virtual absl::StatusOr<std::vector<std::pair<uint32_t, uint64_t>>> End(
      int worker, const std::vector<uint32_t>& unit_bytes,
      bool* everything) = 0;
};

struct CheckOptions {
  CrashPointOptions points;
  ModelOptions model;
  EnumerateOptions enumerate;
  // Refuse to start when the states to visit exceed this.
  uint64_t max_states = 1000000;
  int jobs = 1;  // oracle workers
  // Directory for the workers' private images; must exist.
  std::string work_dir = "/tmp";
  // A worker writes its next state into a second set of images while the
  // oracle judges the current one, when the trace writes at most this many
  // atomic units (each set's materializer lists the units that differ from
  // the base: on a long trace the memory outweighs the time saved).
  uint64_t two_image_sets_max_units = uint64_t{1} << 18;
  // Called from the checking thread at most every ~200 ms and at the end.
  std::function<void(const struct CheckProgress&)> on_progress;
  // When set and it becomes true (e.g. from a signal handler), the check
  // stops: no new oracle run starts, the running ones finish, and the report
  // covers the states whose images were judged (CheckReport::interrupted).
  const std::atomic<bool>* cancel = nullptr;
  // Stopped so, a search that has not finished counts the states its judged
  // runs cover only within this many steps (CountCovered's max_work, about
  // two seconds); past that only its visited states
  // (PointResult::covers_uncounted).
  uint64_t interrupted_count_work = uint64_t{1} << 31;
  // Verdicts of images judged by an earlier run of the same trace, model and
  // oracle (--resume), by image hash. These images are not judged again.
  const absl::flat_hash_map<Hash128, Verdict>* known_verdicts = nullptr;
  // --prune=readset: when set, and the oracle is deterministic and reads
  // through files, every run's read set is recorded and a state that agrees
  // with a judged state of its crash point on that state's read set takes
  // its verdict without a run. Counts of states and failures are unchanged;
  // only oracle runs shrink. Which states are pruned may depend on the
  // number of workers (a run still in progress cannot prune); the verdicts
  // do not.
  ReadRecorder* read_recorder = nullptr;
  // --prune=z3: with read-set pruning on and an exhaustive (unbounded)
  // enumeration, each crash point is searched with a solver instead of
  // enumerated (CoverSearch): the next state checked is one no judged state
  // covers, and the search ends when every state is covered, however many
  // there are. States and failures are still counted for every state: by a
  // pass over the states when the crash point has at most max_states of
  // them (listing every failing state, as without pruning), else by
  // counting the covers (CountCovered; only the judged failing states are
  // listed). A search that visits more than max_states states at one crash
  // point stops with ResourceExhausted.
  bool search = false;
  // A searched crash point with at most this many states is walked to list
  // every failing state; a larger one is counted. -1: max_states.
  int64_t walk_limit = -1;
  // Called from a worker thread for each image the oracle judged FAIL, while
  // `image_paths` (one per device) still hold that state's image, unmodified
  // by the oracle; e.g. to keep a copy. Must be thread-safe. A non-OK Status
  // stops the check with that error.
  std::function<absl::Status(const StateId& state, const Hash128& image,
                             const Verdict& verdict,
                             const std::vector<std::string>& image_paths)>
      on_failing_image;
};

struct CheckProgress {
  uint64_t states = 0;
  uint64_t distinct_images = 0;
  uint64_t oracle_runs_done = 0;
  uint64_t failures = 0;  // failing images so far
  uint64_t total_states = 0;  // planned
  absl::Duration elapsed;     // since the check started
};

struct PointPlan {
  uint32_t event = 0;
  std::string description;
  size_t optional_writes = 0;  // optional ops with enumerated units
  size_t variables = 0;
  StateCount count;
};

struct StateFinding {
  std::string state;  // state ID text
  VerdictKind verdict = VerdictKind::kFail;
  std::string message;
  Hash128 image;
};

struct PointResult {
  uint32_t event = 0;
  uint64_t states = 0;  // saturates at UINT64_MAX; see `count`
  uint64_t new_images = 0;  // images first seen at this crash point
  uint64_t failing_states = 0;   // saturates; see `failing_count`
  uint64_t erroring_states = 0;  // saturates
  // The crash point was searched (CheckOptions::search).
  bool searched = false;
  // Searched: every failing state is listed in the findings (else only the
  // judged ones are, and the counts come from counting covers).
  bool all_listed = true;
  // Interrupted search: the states its judged runs cover were too costly to
  // count when the check stopped, so only the visited states are counted.
  bool covers_uncounted = false;
  std::string uncounted_reason;  // why, when covers_uncounted
  StateCount count;          // states, exact or as log2 when huge
  StateCount failing_count;  // failing states, likewise
  uint64_t visited = 0;      // states the search visited
  uint64_t oracle_runs = 0;  // oracle runs made for this crash point
  absl::Duration solver_time;
};

// The verdict of one distinct image, as a resumable report keeps it.
struct ImageVerdict {
  // The image hash, XOR a hash of the oracle's VerdictContext when it has
  // one: the key under which states share this verdict.
  Hash128 image;
  Verdict verdict;
};

struct CheckReport {
  std::vector<PointPlan> plan;
  std::vector<PointResult> points;
  uint64_t states = 0;  // saturates at UINT64_MAX; see states_log2
  double states_log2 = 0;
  uint64_t distinct_images = 0;  // among the states visited
  uint64_t oracle_runs = 0;
  uint64_t failures = 0;  // failing states (saturates; see failures_log2)
  double failures_log2 = 0;
  uint64_t errors = 0;    // erroring states
  uint64_t failing_images = 0;
  uint64_t erroring_images = 0;
  // Failing and erroring states, in enumeration order (for a searched
  // crash point whose states were counted, the judged ones in search
  // order).
  std::vector<StateFinding> findings;
  // Every judged image (in order of first appearance), including those whose
  // verdict came from known_verdicts.
  std::vector<ImageVerdict> image_verdicts;
  uint64_t resumed_images = 0;  // verdicts taken from known_verdicts
  uint64_t pruned_images = 0;   // verdicts taken from read-set pruning
  bool pruned = false;          // read-set pruning was on
  absl::Duration solver_time;   // summed over searched crash points
  // The check was cancelled: `states` and the findings cover only the states
  // whose image was judged, and `unjudged_states` were enumerated without.
  bool interrupted = false;
  uint64_t unjudged_states = 0;
  absl::Duration elapsed;
  absl::Duration oracle_time;  // summed over workers
};

// Lists the crash points and the state count of each under `options`.
// Errors: those of FindCrashPoints and UnitHashes::Build.
absl::StatusOr<std::vector<PointPlan>> PlanCheck(const Trace& trace,
                                                 const CheckOptions& options);

// Runs the check. `on_plan` (optional) sees the plan once it is complete:
// before any oracle runs, or with the search (which plans the crash points
// while it checks the first ones) as soon as the last crash point is planned.
// A violation is a result: the report lists it and the Status is OK. Errors:
// ResourceExhausted when the planned states exceed max_states (naming the
// count); I/O errors of the workers' images; those of PlanCheck.
absl::StatusOr<CheckReport> RunCheck(
    const Trace& trace, Oracle& oracle, const CheckOptions& options,
    const std::function<void(const std::vector<PointPlan>&)>& on_plan = {});

}  // namespace crashenum

#endif  // CRASHENUM_CHECK_CHECKER_H_
