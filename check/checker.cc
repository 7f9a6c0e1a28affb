#include "check/checker.h"

#include <atomic>
#include <climits>
#include <cmath>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "check/cover_count.h"
#include "check/cover_search.h"
#include "check/prune_index.h"
#include "core/status_macros.h"
#include "enumerator/materializer.h"

namespace crashenum {
namespace {

struct Job {
  std::shared_ptr<const StateSpace> space;
  StateId id;
  uint64_t image = 0;  // index of the image
  Hash128 hash;        // the image hash
  size_t point = 0;    // index of the crash point
  bool searched = false;  // the crash point's search waits for its read set
  bool pruned = false;    // counted in its crash point's PruneState
};

uint64_t SpaceBytes(const StateSpace& s);

// A bounded multi-producer, multi-consumer queue of jobs. Besides the number
// of jobs it bounds the state spaces they hold: on a long trace a crash
// point's space is tens of MiB, and a queue of jobs of as many crash points
// (one state each, with --drop-at-most=0) held them all at once.
class JobQueue {
 public:
  // A job that brings a space not queued yet waits while the queued spaces
  // hold more than this (SpaceBytes), unless the queue is empty.
  static constexpr uint64_t kQueuedSpaceBytes = uint64_t{16} << 20;

  explicit JobQueue(size_t capacity) : capacity_(capacity) {}
  // Blocks while full. Returns false when the queue was cancelled.
  bool Push(Job job) {
    absl::MutexLock lock(&mu_);
    if (sized_space_.lock() != job.space) {
      sized_space_ = job.space;
      sized_bytes_ = job.space != nullptr ? SpaceBytes(*job.space) : 0;
    }
    std::pair<JobQueue*, const Job*> args{this, &job};
    mu_.Await(absl::Condition(
        +[](std::pair<JobQueue*, const Job*>* a) {
          const JobQueue& q = *a->first;
          return q.cancelled_ || q.jobs_.empty() ||
                 (q.jobs_.size() < q.capacity_ &&
                  q.space_bytes_ + q.NewSpaceBytes(*a->second) <=
                      kQueuedSpaceBytes);
        },
        &args));
    if (cancelled_) return false;
    const uint64_t bytes = NewSpaceBytes(job);
    space_bytes_ += bytes;
    jobs_.push_back(Queued{std::move(job), bytes});
    return true;
  }
  // Blocks until a job is there; false when closed and drained or cancelled.
  bool Pop(Job* job) {
    absl::MutexLock lock(&mu_);
    ++waiting_;
    mu_.Await(absl::Condition(
        +[](JobQueue* q) { return q->cancelled_ || q->closed_ || !q->jobs_.empty(); },
        this));
    --waiting_;
    if (cancelled_ || jobs_.empty()) return false;
    TakeFront(job);
    return true;
  }
  // For a worker's next job, taken while its current one runs: blocks until
  // there is a job that no worker waiting in Pop() would take, or `*stop`
  // (set by StopAhead) or the queue is closed or cancelled. False without a
  // job.
  bool PopAhead(Job* job, const bool* stop) {
    absl::MutexLock lock(&mu_);
    std::pair<JobQueue*, const bool*> args{this, stop};
    mu_.Await(absl::Condition(
        +[](std::pair<JobQueue*, const bool*>* a) {
          const JobQueue& q = *a->first;
          return q.cancelled_ || q.closed_ || *a->second ||
                 q.jobs_.size() > q.waiting_;
        },
        &args));
    if (cancelled_ || jobs_.size() <= waiting_) return false;
    TakeFront(job);
    return true;
  }
  // Ends a PopAhead() waiting on `*stop`.
  void StopAhead(bool* stop) {
    absl::MutexLock lock(&mu_);
    *stop = true;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  bool Cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

 private:
  struct Queued {
    Job job;
    uint64_t space_bytes;  // its space's, when the job before has another
  };
  // The bytes `job` adds to the queued spaces': its space's (the last one
  // pushed), unless the queue's last job holds that space already.
  uint64_t NewSpaceBytes(const Job& job) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return jobs_.empty() || jobs_.back().job.space != job.space ? sized_bytes_
                                                                : 0;
  }
  // Pops the front job; its space's bytes stay counted while the next job
  // holds the same space.
  void TakeFront(Job* job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Queued front = std::move(jobs_.front());
    jobs_.pop_front();
    if (!jobs_.empty() && jobs_.front().job.space == front.job.space) {
      jobs_.front().space_bytes = front.space_bytes;
    } else {
      space_bytes_ -= front.space_bytes;
    }
    *job = std::move(front.job);
  }

  absl::Mutex mu_;
  std::deque<Queued> jobs_;
  uint64_t space_bytes_ = 0;  // of the distinct spaces queued
  // The space of the last job pushed, and its SpaceBytes.
  std::weak_ptr<const StateSpace> sized_space_;
  uint64_t sized_bytes_ = 0;
  size_t capacity_;
  size_t waiting_ = 0;  // workers in Pop()
  bool closed_ = false;
  bool cancelled_ = false;
};

// A finished oracle run of a searched crash point.
struct RunRecord {
  std::vector<uint32_t> slots;  // read, or every slot for an ERROR verdict
  Resolution state;
  uint64_t image = 0;  // index of the image
};

// Per crash point, for read-set pruning, while the crash point is being
// checked (released after).
struct PruneState {
  absl::Mutex mu;
  std::shared_ptr<const StateSpace> space;
  std::unique_ptr<PruneIndex> index;
  // Searched crash points: runs finished but not yet taken by the search,
  // and runs started but not finished.
  std::vector<RunRecord> finished;
  int in_flight = 0;  // runs queued or running
};

struct Shared {
  absl::Mutex mu;
  std::vector<std::unique_ptr<PruneState>> prune;  // empty: no pruning
  std::deque<Verdict> verdicts;  // per image
  std::deque<bool> judged;       // per image: verdict known
  std::vector<uint64_t> runs;    // per crash point: oracle runs made
  absl::Status error;            // first infrastructure error
  absl::Duration oracle_time;
  std::atomic<uint64_t> done{0};     // jobs settled, run or skipped
  std::atomic<uint64_t> skipped{0};  // of those, covered while queued
  std::atomic<uint64_t> failing{0};
  // Runs of pruned crash points settled (verdict stored, no longer counted
  // in flight): what the search waits for.
  absl::Mutex settle_mu;
  uint64_t settled ABSL_GUARDED_BY(settle_mu) = 0;
};

// Runs one task at a time on a thread of its own.
class Helper {
 public:
  Helper() : thread_([this] { Loop(); }) {}
  ~Helper() {
    {
      absl::MutexLock lock(&mu_);
      quit_ = true;
    }
    thread_.join();
  }
  Helper(const Helper&) = delete;
  Helper& operator=(const Helper&) = delete;

  // Starts `task`; the previous one must have been waited for.
  void Start(std::function<void()> task) {
    absl::MutexLock lock(&mu_);
    task_ = std::move(task);
    busy_ = true;
  }
  // Waits until the task started last has returned.
  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](bool* busy) { return !*busy; }, &busy_));
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (true) {
      mu_.Await(absl::Condition(
          +[](Helper* h) { return h->quit_ || h->task_ != nullptr; }, this));
      if (task_ == nullptr) return;  // quit
      std::function<void()> task = std::move(task_);
      task_ = nullptr;
      mu_.Unlock();
      task();
      mu_.Lock();
      busy_ = false;
    }
  }

  absl::Mutex mu_;
  std::function<void()> task_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// One of a worker's two sets of images: the state it materializes, and the
// copy an oracle that modifies its image gets.
struct ImageSlot {
  std::vector<std::string> pristine, scratch;
  std::unique_ptr<Materializer> materializer;  // made when first needed
};

// A worker's next job, taken and materialized into its other image set
// while its current job's oracle runs.
struct Ahead {
  bool taken = false;
  Job job;
  absl::StatusOr<Resolution> resolution;
  absl::Status materialized;  // of `resolution`, into the other set
};

// The atomic units the trace's writes hold, with repeats.
uint64_t UnitsWritten(const UnitHashes& hashes) {
  const std::vector<Op>& ops = hashes.trace().ops();
  uint64_t units = 0;
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind == OpKind::kWrite) units += hashes.num_units(i);
  }
  return units;
}

void Worker(int index, const UnitHashes& hashes, Oracle& oracle,
            const CheckOptions& options, JobQueue& queue, Shared& shared) {
  const Trace& trace = hashes.trace();
  // Two image sets: while the oracle judges one, the next job's state is
  // written into the other (an oracle run is a few milliseconds, the
  // materializing and copying a tenth of one on short traces).
  const bool two_sets =
      UnitsWritten(hashes) <= options.two_image_sets_max_units;
  const int num_sets = two_sets ? 2 : 1;
  ImageSlot sets[2];
  for (int k = 0; k < num_sets; ++k) {
    for (const Device& d : trace.devices()) {
      const std::string base = absl::StrCat(options.work_dir, "/worker", index,
                                            k == 0 ? "" : "b", "-", d.name);
      sets[k].pristine.push_back(base + ".img");
      sets[k].scratch.push_back(base + ".oracle.img");
    }
  }
  auto fail = [&](absl::Status s) {
    {
      absl::MutexLock lock(&shared.mu);
      if (shared.error.ok()) shared.error = std::move(s);
    }
    queue.Cancel();
  };
  const bool copy = oracle.traits().mutates_image;
  // Creates set `k`'s images, unless they exist.
  auto ensure_materializer = [&](int k) -> absl::Status {
    ImageSlot& set = sets[k];
    if (set.materializer == nullptr) {
      ASSIGN_OR_RETURN(set.materializer,
                       Materializer::Create(hashes, set.pristine));
    }
    return absl::OkStatus();
  };
  // Materializes `r` of `space` into set `k`.
  auto materialize = [&](int k, std::shared_ptr<const StateSpace> space,
                         const Resolution& r) -> absl::Status {
    RETURN_IF_ERROR(ensure_materializer(k));
    ImageSlot& set = sets[k];
    RETURN_IF_ERROR(set.materializer->Apply(std::move(space), r));
    if (copy) RETURN_IF_ERROR(set.materializer->CopyTo(set.scratch));
    return absl::OkStatus();
  };
  // The first set's images exist from the start, so that a full disk shows
  // before the first job.
  if (absl::Status s = ensure_materializer(0); !s.ok()) return fail(s);
  std::vector<uint32_t> unit_bytes;
  for (uint32_t d = 0; d < trace.devices().size(); ++d) {
    unit_bytes.push_back(hashes.unit_bytes(d));
  }
  ImageSet images;
  for (const Device& d : trace.devices()) images.device_names.push_back(d.name);
  std::optional<Helper> helper;
  if (two_sets) helper.emplace();
  Ahead ahead;
  bool stop_ahead = false;
  int cur = 0;  // the set the current job uses
  Job job;
  while (true) {
    // The job taken ahead, if any, else the queue's next.
    absl::StatusOr<Resolution> r;
    // Taken ahead: resolved, and its state is in the other set already.
    const bool from_ahead = ahead.taken;
    if (from_ahead) {
      // Dropped, as the queued jobs are, once the check is cancelled
      // (interrupted, or stopped by an error): no run starts after that.
      if (queue.Cancelled()) break;
      ahead.taken = false;
      job = std::move(ahead.job);
      r = std::move(ahead.resolution);
      if (r.ok() && !ahead.materialized.ok()) {
        return fail(AddContext(ahead.materialized,
                               "materializing state " + job.id.ToString()));
      }
      cur = 1 - cur;
    } else if (!queue.Pop(&job)) {
      break;
    }
    const std::string id = job.id.ToString();
    if (!from_ahead) r = job.space->Resolve(job.id);
    if (!r.ok()) return fail(AddContext(r.status(), "resolving " + id));
    // A verdict that came in while the job waited may cover it: a state the
    // search offered while a run of its crash point was pending, or one
    // queued behind the run that covers it. It then takes that verdict
    // instead of an oracle run.
    std::optional<Verdict> covered;
    if (job.pruned) {
      PruneState& p = *shared.prune[job.point];
      absl::MutexLock lock(&p.mu);
      if (const Verdict* v = p.index->Find(*r)) covered = *v;
    }
    const bool skipped = covered.has_value();
    Verdict v;
    absl::Duration took;
    if (skipped) {
      v = *std::move(covered);
    } else {
      const std::vector<std::string>& pristine = sets[cur].pristine;
      images.paths = copy ? sets[cur].scratch : pristine;
      if (!from_ahead) {
        absl::Status s = materialize(cur, job.space, *r);
        if (!s.ok()) return fail(AddContext(s, "materializing state " + id));
      }
      if (!shared.prune.empty()) {
        absl::StatusOr<std::vector<std::pair<std::string, std::string>>> env =
            options.read_recorder->Begin(index, images.paths);
        if (!env.ok()) return fail(AddContext(env.status(), "recording reads"));
        images.env = *std::move(env);
      }
      // The next job, taken and written into the other set meanwhile. It is
      // looked up in its crash point's index only once this run's verdict
      // is in.
      if (helper.has_value()) {
        stop_ahead = false;
        helper->Start([&, next = 1 - cur] {
          if (!queue.PopAhead(&ahead.job, &stop_ahead)) return;
          ahead.taken = true;
          ahead.materialized = absl::OkStatus();
          ahead.resolution = ahead.job.space->Resolve(ahead.job.id);
          if (ahead.resolution.ok()) {
            ahead.materialized =
                materialize(next, ahead.job.space, *ahead.resolution);
          }
        });
      }
      const absl::Time start = absl::Now();
      v = oracle.Check(images, job.id);
      took = absl::Now() - start;
      if (helper.has_value()) {
        queue.StopAhead(&stop_ahead);
        helper->Wait();
      }
      if (!shared.prune.empty()) {
        bool everything = false;
        absl::StatusOr<std::vector<std::pair<uint32_t, uint64_t>>> read =
            options.read_recorder->End(index, unit_bytes, &everything);
        if (!read.ok()) {
          return fail(
              AddContext(read.status(), "reading the read set of " + id));
        }
        PruneState& p = *shared.prune[job.point];
        absl::MutexLock lock(&p.mu);
        std::vector<uint32_t> slots;
        if (everything || v.kind == VerdictKind::kError) {
          slots.resize(job.space->slots().size());
          for (uint32_t k = 0; k < slots.size(); ++k) slots[k] = k;
        } else {
          slots = p.index->SlotsOf(*read);
        }
        p.index->Add(slots, *r, v);
        if (job.searched) {
          p.finished.push_back(
              RunRecord{std::move(slots), *std::move(r), job.image});
        }
      }
      if (v.kind == VerdictKind::kFail) {
        shared.failing.fetch_add(1);
        if (options.on_failing_image) {
          absl::Status s =
              options.on_failing_image(job.id, job.hash, v, pristine);
          if (!s.ok()) {
            return fail(AddContext(s, "keeping failing state " + id));
          }
        }
      }
    }
    {
      absl::MutexLock lock(&shared.mu);
      shared.verdicts[job.image] = std::move(v);
      shared.judged[job.image] = true;
      shared.runs[job.point] += !skipped;
      shared.oracle_time += took;
      shared.done.fetch_add(1);
      if (skipped) shared.skipped.fetch_add(1);
    }
    if (job.pruned) {
      // Only now: the point is counted with this verdict once none runs.
      {
        PruneState& p = *shared.prune[job.point];
        absl::MutexLock lock(&p.mu);
        --p.in_flight;
      }
      absl::MutexLock lock(&shared.settle_mu);
      ++shared.settled;
    }
    // The job lets its space go; the set's Materializer keeps it, as what
    // its images show, until it writes its next state.
    job.space.reset();
  }
  for (int k = 0; k < num_sets; ++k) {
    const ImageSlot& set = sets[k];
    for (const std::string& p : set.pristine) std::remove(p.c_str());
    for (const std::string& p : set.scratch) std::remove(p.c_str());
  }
}

// Approximate heap bytes of a state space.
uint64_t SpaceBytes(const StateSpace& s) {
  uint64_t n = s.op_states().size() + 48 * s.optional_ops().size() +
               sizeof(FixedUnit) * s.fixed().size() +
               64 * s.slots().size() + 48 * s.vars().size();
  for (const Slot& slot : s.slots()) n += sizeof(Candidate) * slot.candidates.size();
  return n;
}

// Indices of a searched crash point's covers, by their verdicts.
struct CoverGroups {
  std::vector<size_t> judged;         // verdict known
  std::vector<size_t> fail;           // FAIL
  std::vector<size_t> fail_or_error;  // not PASS
};

// Sets a crash point's counts from the number of states counted (`all`),
// and the unions of its failing and not-passing covers. Its erroring states
// are none when no cover is of an ERROR verdict, else the difference when
// both unions fit 64 bits, else UINT64_MAX (too many to say). A count that
// does not fit has `exact` UINT64_MAX.
void SetCoverCounts(PointResult& pr, const CoverGroups& g,
                    const StateCount& all, const StateCount& failing,
                    const StateCount& not_passing) {
  pr.count = all;
  pr.failing_count = failing;
  pr.states = all.exact;
  pr.failing_states = failing.exact;
  if (g.fail_or_error.size() == g.fail.size()) {
    pr.erroring_states = 0;
  } else if (failing.fits && not_passing.fits) {
    pr.erroring_states = not_passing.exact - failing.exact;
  } else {
    pr.erroring_states = UINT64_MAX;
  }
}

// State spaces kept from planning for the run, up to this many bytes; the
// others are built again when needed and dropped after (one of a long trace
// holds every unit its durable writes cover).
constexpr uint64_t kKeptSpaceBytes = uint64_t{16} << 20;

// The plan of a check: its crash points, and per crash point its plan and
// maybe its state space. Plan() may run on a thread of its own while the
// check starts on the crash points planned so far (WaitPlanned).
struct Prepared {
  const Trace* trace = nullptr;
  const CheckOptions* options = nullptr;
  std::unique_ptr<UnitHashes> hashes;
  std::vector<uint32_t> events;  // per crash point
  // Per crash point, written by Plan() before `planned` passes it.
  std::vector<PointPlan> plan;
  std::vector<std::shared_ptr<const StateSpace>> kept;  // or null
  // For Space(): checking and counting each ask for the points in order.
  std::unique_ptr<SpaceBuilder> builder;

  absl::Mutex mu;
  size_t planned ABSL_GUARDED_BY(mu) = 0;  // crash points [0, planned)
  bool planning ABSL_GUARDED_BY(mu) = true;
  absl::Status plan_error ABSL_GUARDED_BY(mu);
  std::atomic<bool> stop_planning{false};

  // Plans every crash point in order, on its own SpaceBuilder (a separate
  // thread from Space()'s); stops early when asked.
  void Plan() {
    SpaceBuilder plan_builder(*hashes, options->model);
    uint64_t kept_bytes = 0;
    absl::Status error;
    for (size_t i = 0; i < events.size() && !stop_planning.load(); ++i) {
      absl::StatusOr<std::unique_ptr<StateSpace>> built =
          plan_builder.Build(events[i]);
      if (!built.ok()) {
        error = built.status();
        break;
      }
      std::shared_ptr<const StateSpace> space = *std::move(built);
      PointPlan& p = plan[i];
      p.event = events[i];
      p.description = DescribePoint(*trace, events[i]);
      p.variables = space->vars().size();
      for (const OptionalOp& op : space->optional_ops()) {
        p.optional_writes += !op.vars.empty();
      }
      p.count = CountStates(*space, options->enumerate);
      const uint64_t bytes = SpaceBytes(*space);
      if (kept_bytes + bytes <= kKeptSpaceBytes) {
        kept_bytes += bytes;
        kept[i] = std::move(space);
      }
      absl::MutexLock lock(&mu);
      ++planned;
    }
    absl::MutexLock lock(&mu);
    plan_error = std::move(error);
    planning = false;
  }

  // Waits until crash point `i` is planned. Errors: Plan()'s, or Cancelled
  // when planning stopped before it.
  absl::Status WaitPlanned(size_t i) {
    absl::MutexLock lock(&mu);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return planned > i || !planning;
    };
    mu.Await(absl::Condition(&ready));
    if (planned > i) return absl::OkStatus();
    if (!plan_error.ok()) return plan_error;
    return absl::CancelledError("planning stopped");
  }
  bool AllPlanned() {
    absl::MutexLock lock(&mu);
    return planned == events.size();
  }
  // The plans made so far (all of them once Plan() returned in full).
  std::vector<PointPlan> Plans() {
    absl::MutexLock lock(&mu);
    return std::vector<PointPlan>(plan.begin(), plan.begin() + planned);
  }

  // Crash point `i`'s space; `i` must be planned.
  absl::StatusOr<std::shared_ptr<const StateSpace>> Space(size_t i) {
    if (kept[i] != nullptr) return kept[i];
    if (builder == nullptr) {
      builder = std::make_unique<SpaceBuilder>(*hashes, options->model);
    }
    ASSIGN_OR_RETURN(std::unique_ptr<StateSpace> s, builder->Build(events[i]));
    return std::shared_ptr<const StateSpace>(std::move(s));
  }
};

// The crash points of a check, planned now unless `plan_later` (then call
// Plan()).
absl::StatusOr<std::unique_ptr<Prepared>> Prepare(const Trace& trace,
                                                  const CheckOptions& options,
                                                  bool plan_later = false) {
  auto p = std::make_unique<Prepared>();
  p->trace = &trace;
  p->options = &options;
  ASSIGN_OR_RETURN(p->hashes,
                   UnitHashes::Build(trace, options.model.atomic_unit));
  CrashPointOptions cpo = options.points;
  cpo.discard = options.model.discard;
  ASSIGN_OR_RETURN(std::vector<CrashPoint> points, FindCrashPoints(trace, cpo));
  for (const CrashPoint& cp : points) p->events.push_back(cp.event);
  p->plan.resize(points.size());
  p->kept.resize(points.size());
  if (!plan_later) {
    p->Plan();
    absl::MutexLock lock(&p->mu);
    if (!p->plan_error.ok()) return p->plan_error;
  }
  return p;
}

}  // namespace

absl::StatusOr<std::vector<PointPlan>> PlanCheck(const Trace& trace,
                                                 const CheckOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Prepared> p, Prepare(trace, options));
  return std::move(p->plan);
}

absl::StatusOr<CheckReport> RunCheck(
    const Trace& trace, Oracle& oracle, const CheckOptions& options,
    const std::function<void(const std::vector<PointPlan>&)>& on_plan) {
  const absl::Time start = absl::Now();
  const bool prune = options.read_recorder != nullptr &&
                     oracle.traits().deterministic &&
                     oracle.traits().reads_through_files;
  const bool search = prune && options.search && !options.enumerate.bounded();
  // The solver starts up while the check plans.
  std::optional<SolverWarmUp> warm_up;
  if (search) warm_up.emplace();
  const int jobs = std::max(1, options.jobs);
  // With the search, the crash points are planned on a thread of their own
  // while the first ones are checked (no count needs checking against
  // max_states first); the plan is reported once complete.
  ASSIGN_OR_RETURN(std::unique_ptr<Prepared> prepared,
                   Prepare(trace, options, /*plan_later=*/search));
  Prepared& prep = *prepared;
  std::thread planner;
  if (search) planner = std::thread([&prep] { prep.Plan(); });
  // Stops and joins the planner, at the end and on every return.
  struct JoinPlanner {
    Prepared& prep;
    std::thread& thread;
    void Join() {
      prep.stop_planning = true;
      if (thread.joinable()) thread.join();
    }
    ~JoinPlanner() { Join(); }
  } join_planner{prep, planner};
  bool plan_announced = !search;
  CheckReport report;
  long double total = 0;
  bool fits = true;
  // (With the search there is no plan yet, and no total to hold.)
  for (size_t i = 0; !search && i < prep.plan.size(); ++i) {
    const PointPlan& p = prep.plan[i];
    total += p.count.fits ? static_cast<long double>(p.count.exact)
                          : static_cast<long double>(1e30);
    fits &= p.count.fits;
  }
  if (!search &&
      (!fits || total > static_cast<long double>(options.max_states))) {
    const PointPlan* largest = &prep.plan[0];
    for (const PointPlan& p : prep.plan) {
      if (p.count.log2 > largest->count.log2) largest = &p;
    }
    return absl::ResourceExhaustedError(absl::StrCat(
        "the crash points hold ",
        fits ? absl::StrCat(static_cast<uint64_t>(total)) : "more than 2^64",
        " states (the largest, ", largest->count.ToString(), ", at e",
        largest->event, ": ", largest->description, "), more than --max-states=",
        options.max_states,
        ": raise --max-states, or bound the search with --drop-at-most=K, "
        "--tear-at-most=K, --torn=none or --sample=N",
        prune ? "" : ", or prune with --prune=z3"));
  }
  if (on_plan && !search) on_plan(prep.plan);

  JobQueue queue(static_cast<size_t>(jobs) * 4);
  Shared shared;
  shared.runs.resize(prep.events.size());
  if (prune) {
    report.pruned = true;
    for (size_t i = 0; i < prep.events.size(); ++i) {
      shared.prune.push_back(std::make_unique<PruneState>());
    }
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < jobs; ++i) {
    workers.emplace_back(Worker, i, std::cref(*prep.hashes), std::ref(oracle),
                         std::cref(options), std::ref(queue), std::ref(shared));
  }

  CheckProgress progress;
  progress.total_states = search ? 0 : static_cast<uint64_t>(total);
  absl::Time last_progress = absl::Now();
  auto emit = [&](bool force) {
    if (!options.on_progress) return;
    const absl::Time now = absl::Now();
    if (!force && now - last_progress < absl::Milliseconds(200)) return;
    last_progress = now;
    progress.oracle_runs_done = shared.done.load() - shared.skipped.load();
    progress.failures = shared.failing.load();
    progress.elapsed = now - start;
    options.on_progress(progress);
  };
  auto cancel_requested = [&] {
    return options.cancel != nullptr && options.cancel->load();
  };
  auto failed = [&] {
    absl::MutexLock lock(&shared.mu);
    return !shared.error.ok();
  };

  // Verdicts are shared by states with the same image and, for oracles whose
  // verdict depends on the crash point, the same context.
  std::vector<Hash128> contexts;
  for (uint32_t event : prep.events) {
    const std::string c = oracle.VerdictContext(event);
    contexts.push_back(c.empty() ? Hash128() : HashBytes("context:" + c));
  }
  absl::flat_hash_map<Hash128, uint64_t> images;  // verdict key -> index
  uint64_t queued = 0;
  bool stopped = false;      // workers failed
  bool interrupted = false;  // cancel requested

  // Gives a state of crash point `i` its image's verdict, takes one from a
  // resumed report or a pruning state, or queues an oracle run. Returns
  // false when the queue was cancelled.
  enum class Offered { kKnownImage, kNewKnown, kQueued };
  auto offer = [&](size_t i, const std::shared_ptr<const StateSpace>& shared_space,
                   const VisitedState& s, bool searched, Offered* how,
                   uint64_t* image) {
    const StateSpace& space = *shared_space;
    const Hash128 key = s.hash() ^ contexts[i];
    auto [it, inserted] = images.try_emplace(key, images.size());
    *image = it->second;
    if (!inserted) {
      *how = Offered::kKnownImage;
      return true;
    }
    ++report.points[i].new_images;
    ++progress.distinct_images;
    const Verdict* known = nullptr;
    if (options.known_verdicts != nullptr) {
      auto k = options.known_verdicts->find(key);
      if (k != options.known_verdicts->end()) known = &k->second;
    }
    Verdict inherited;
    if (known == nullptr && prune) {
      // A judged state that agrees on everything its oracle read?
      absl::StatusOr<Resolution> r = space.Resolve(s.Id());
      if (r.ok()) {
        PruneState& p = *shared.prune[i];
        absl::MutexLock lock(&p.mu);
        if (const Verdict* v = p.index->Find(*r)) {
          inherited = *v;
          known = &inherited;
          ++report.pruned_images;
        }
      }
    }
    {
      absl::MutexLock lock(&shared.mu);
      shared.verdicts.push_back(known ? *known : Verdict());
      shared.judged.push_back(known != nullptr);
    }
    if (known != nullptr) {
      if (known != &inherited) ++report.resumed_images;
      *how = Offered::kNewKnown;
      return true;
    }
    ++queued;
    *how = Offered::kQueued;
    if (prune) {
      PruneState& p = *shared.prune[i];
      absl::MutexLock lock(&p.mu);
      ++p.in_flight;
    }
    return queue.Push(
        Job{shared_space, s.Id(), it->second, s.hash(), i, searched, prune});
  };

  // Per searched crash point: the states visited, and the covers counting
  // uses (each with the image whose verdict it carries).
  struct SearchedPoint {
    std::vector<std::pair<StateId, uint64_t>> visited;
    std::vector<Cover> covers;
    std::vector<uint64_t> cover_image;
  };
  std::vector<SearchedPoint> search_data(prep.events.size());

  // A crash point being searched (DESIGN.md 3): each model of the solver is
  // an assignment no judged state covers; all of its states are offered, and
  // it is blocked; each finished run blocks what it covers. Several crash
  // points are searched at once (one per worker, and one more), so that a
  // free worker gets states of another crash point rather than states a
  // verdict still pending may cover.
  struct Search {
    size_t point = 0;
    std::shared_ptr<const StateSpace> space;
    // Made at the second step, or at the first once the solver has started
    // up: the first state of a crash point needs no solver (nothing covers
    // any of its states yet), so the state with nothing persisted is
    // offered while the solver starts.
    std::unique_ptr<CoverSearch> cs;
    bool offered_none_persisted = false;
    std::unique_ptr<Cursor> cursor;
    std::vector<uint32_t> all_slots;
    bool exhausted = false;  // the solver has no uncovered state left
    // The last state queued for an oracle run, and what the last finished
    // run read: while a run is pending, the next model is sought outside
    // the cover it would have if it read what the last one did (runs at one
    // crash point read much the same), so that it is less likely to be
    // covered by the time a worker takes it.
    std::optional<StateId> last_queued;
    std::vector<uint32_t> last_read;
  };
  // Adds crash point `i` (whose space is `space`) to the report and, with
  // pruning, gives it an index of judged states.
  auto begin_point =
      [&](size_t i,
          const std::shared_ptr<const StateSpace>& space) -> PointResult& {
    report.points.emplace_back();
    PointResult& pr = report.points.back();
    pr.event = space->event();
    if (prune) {
      PruneState& p = *shared.prune[i];
      absl::MutexLock lock(&p.mu);
      p.space = space;
      p.index = std::make_unique<PruneIndex>(*space);
    }
    return pr;
  };
  auto start_search = [&](size_t i) -> absl::StatusOr<std::unique_ptr<Search>> {
    auto search = std::make_unique<Search>();
    search->point = i;
    RETURN_IF_ERROR(prep.WaitPlanned(i));
    ASSIGN_OR_RETURN(search->space, prep.Space(i));
    const StateSpace& space = *search->space;
    begin_point(i, search->space).searched = true;
    search->cursor = std::make_unique<Cursor>(space);
    search->all_slots.resize(space.slots().size());
    for (uint32_t k = 0; k < search->all_slots.size(); ++k) {
      search->all_slots[k] = k;
    }
    return search;
  };
  auto start_solver = [&](Search& search) -> absl::Status {
    ASSIGN_OR_RETURN(search.cs, CoverSearch::Create(*search.space));
    if (search.offered_none_persisted) {
      search.cs->BlockAssignment(
          std::vector<uint8_t>(search.space->vars().size(), 0));
    }
    return absl::OkStatus();
  };
  auto in_flight = [&](const Search& search) {
    PruneState& p = *shared.prune[search.point];
    absl::MutexLock lock(&p.mu);
    return p.in_flight;
  };
  // Takes the finished runs of a searched crash point into its search (once
  // it has a solver).
  auto absorb = [&](Search& search) {
    if (search.cs == nullptr) return;
    std::vector<RunRecord> done;
    {
      PruneState& p = *shared.prune[search.point];
      absl::MutexLock lock(&p.mu);
      done.swap(p.finished);
    }
    SearchedPoint& sp = search_data[search.point];
    for (RunRecord& run : done) {
      search.cs->BlockCover(run.slots, run.state);
      search.last_read = run.slots;
      sp.covers.push_back(CoverOf(*search.space, run.slots, run.state));
      sp.cover_image.push_back(run.image);
    }
  };
  // Offers the states of the solver's next model, or marks the search
  // exhausted.
  auto step = [&](Search& search) -> absl::Status {
    const size_t i = search.point;
    const StateSpace& space = *search.space;
    PointResult& pr = report.points[i];
    SearchedPoint& sp = search_data[i];
    Cursor& cursor = *search.cursor;
    std::optional<std::vector<uint8_t>> model;
    if (search.cs == nullptr && pr.visited == 0 && !CoverSearch::Ready() &&
        cursor.valid()) {
      model = cursor.values();  // nothing persisted
      search.offered_none_persisted = true;
    } else {
      if (search.cs == nullptr) RETURN_IF_ERROR(start_solver(search));
      absorb(search);
      std::optional<Resolution> pending;
      if (search.last_queued.has_value() && !search.last_read.empty() &&
          in_flight(search) > 0) {
        absl::StatusOr<Resolution> r = space.Resolve(*search.last_queued);
        if (r.ok()) pending = *std::move(r);
      }
      if (pending.has_value()) {
        ASSIGN_OR_RETURN(model,
                         search.cs->NextOutside(search.last_read, *pending));
      } else {
        ASSIGN_OR_RETURN(model, search.cs->Next());
      }
    }
    if (!model.has_value()) {
      search.exhausted = true;
      return absl::OkStatus();
    }
    for (uint32_t v = 0; v < model->size(); ++v) cursor.Set(v, (*model)[v]);
    if (!cursor.valid()) {
      return absl::InternalError(absl::StrCat("the solver's state at e",
                                              space.event(),
                                              " breaks a preflush constraint"));
    }
    VisitOrders(cursor, [&](const VisitedState& s) {
      ++progress.states;
      ++pr.visited;
      Offered how;
      uint64_t image;
      if (!offer(i, search.space, s, true, &how, &image)) {
        stopped = true;
        return false;
      }
      sp.visited.push_back({s.Id(), image});
      if (how == Offered::kQueued) {
        search.last_queued = s.Id();
      } else {
        // Its verdict is its image's: a cover of exactly this state.
        absl::StatusOr<Resolution> r = space.Resolve(s.Id());
        if (r.ok()) {
          sp.covers.push_back(CoverOf(space, search.all_slots, *r));
          sp.cover_image.push_back(image);
        }
      }
      emit(false);
      return true;
    });
    if (search.cs != nullptr) search.cs->BlockAssignment(*model);
    if (pr.visited > options.max_states) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the search of crash point e", space.event(), " (",
          prep.plan[i].count.ToString(), " states) visited ", pr.visited,
          " states without covering them all, more than --max-states=",
          options.max_states, ": raise --max-states"));
    }
    return absl::OkStatus();
  };
  // True when a searched crash point has every verdict its counting needs:
  // its own runs, and those of states of other crash points it shares an
  // image with. (Every cover carries the image of a visited state.)
  auto ready_to_count = [&](Search& search) {
    if (!search.exhausted || in_flight(search) > 0) return false;
    absorb(search);
    const SearchedPoint& sp = search_data[search.point];
    absl::MutexLock lock(&shared.mu);
    for (const auto& [id, k] : sp.visited) {
      if (!shared.judged[k]) return false;
    }
    return true;
  };

  // Counting: every state counts with the verdict of its image or, pruned,
  // of the judged state that covers it; every state that did not pass is
  // listed (for a searched crash point too big to walk, only the judged
  // ones, and the counts come from counting covers).
  // (A judged image's verdict is not written again, and its deque keeps it
  // in place: the pointer stays valid after the lock is released, so that
  // counting does not hold up the workers.)
  auto verdict_of = [&](uint64_t k) -> const Verdict* {
    absl::MutexLock lock(&shared.mu);
    return shared.judged[k] ? &shared.verdicts[k] : nullptr;
  };
  auto cover_groups = [&](const SearchedPoint& sp) {
    CoverGroups g;
    for (size_t c = 0; c < sp.covers.size(); ++c) {
      const Verdict* v = verdict_of(sp.cover_image[c]);
      if (v == nullptr) continue;
      g.judged.push_back(c);
      if (v->kind != VerdictKind::kPass) g.fail_or_error.push_back(c);
      if (v->kind == VerdictKind::kFail) g.fail.push_back(c);
    }
    return g;
  };
  auto add_finding = [&](PointResult& pr, const StateId& id, const Verdict& v,
                         const Hash128& image) {
    if (v.kind == VerdictKind::kPass) return;
    report.findings.push_back(
        StateFinding{id.ToString(), v.kind, v.message, image});
  };
  // Counts the states of crash point `i` (whose space is `space`) and lists
  // those that did not pass. A crash point that was not searched is walked
  // only when `any_finding` (else the first pass counted it).
  auto count_point = [&](size_t i, const StateSpace& space,
                         bool any_finding) -> absl::Status {
    PointResult& pr = report.points[i];
    const PointPlan& plan = prep.plan[i];
    // Tallies a state (walked or visited) with verdict `v`.
    auto tally = [&](const StateId& id, const Verdict* v, const Hash128& h) {
      if (v == nullptr) {
        ++report.unjudged_states;
        return;
      }
      ++pr.states;
      pr.failing_states += v->kind == VerdictKind::kFail;
      pr.erroring_states += v->kind == VerdictKind::kError;
      add_finding(pr, id, *v, h);
    };
    if (!pr.searched) {
      if (any_finding) {
        uint64_t left = pr.states;
        pr.states = 0;
        if (left > 0) {
          EnumerateStates(space, options.enumerate, [&](const VisitedState& s) {
            tally(s.Id(), verdict_of(images.at(s.hash() ^ contexts[i])),
                  s.hash());
            return --left > 0;
          });
        }
      }
    } else if (interrupted) {
      // A state whose run was cancelled takes the verdict of a judged run
      // that covers it, if one does.
      const PruneIndex* index = shared.prune[i]->index.get();
      for (const auto& [id, k] : search_data[i].visited) {
        absl::StatusOr<Resolution> r = space.Resolve(id);
        const Verdict* v = verdict_of(k);
        if (v == nullptr && r.ok() && index != nullptr) v = index->Find(*r);
        tally(id, v, r.ok() ? r->hash : Hash128());
      }
      // Every state a judged run covers is judged too: count the union of
      // the covers (with those of runs that finished after the search
      // stopped), when counting can.
      SearchedPoint& sp = search_data[i];
      {
        PruneState& p = *shared.prune[i];
        absl::MutexLock lock(&p.mu);
        for (const RunRecord& run : p.finished) {
          sp.covers.push_back(CoverOf(space, run.slots, run.state));
          sp.cover_image.push_back(run.image);
        }
        p.finished.clear();
      }
      const CoverGroups g = cover_groups(sp);
      absl::StatusOr<CoverCounts> counts =
          CountCovered(space, sp.covers, {g.judged, g.fail, g.fail_or_error},
                       options.interrupted_count_work);
      if (!counts.ok()) {
        pr.covers_uncounted = true;
        pr.uncounted_reason = std::string(counts.status().message());
      }
      if (counts.ok() &&
          (!counts->unions[0].fits || counts->unions[0].exact > pr.states)) {
        pr.all_listed = false;
        SetCoverCounts(pr, g, counts->unions[0], counts->unions[1],
                       counts->unions[2]);
      }
    } else {
      const SearchedPoint& sp = search_data[i];
      // Only a crash point with a state that did not pass needs walking.
      bool any_finding = false;
      for (uint64_t k : sp.cover_image) {
        const Verdict* v = verdict_of(k);
        any_finding |= v != nullptr && v->kind != VerdictKind::kPass;
      }
      const bool exact_plan =
          plan.count.fits && !plan.count.at_most && !plan.count.at_least;
      const uint64_t walk_limit =
          options.walk_limit < 0 ? options.max_states
                                 : static_cast<uint64_t>(options.walk_limit);
      const bool walkable = plan.count.fits && !plan.count.at_most &&
                            plan.count.exact <= walk_limit;
      if (!any_finding && exact_plan) {
        pr.states = plan.count.exact;
      } else if (walkable) {
        // Every state, with its image's verdict or that of its cover.
        const PruneIndex& index = *shared.prune[i]->index;
        // Per slot, per candidate: its variable, or -1 when durable.
        std::vector<std::vector<int32_t>> cand_var(space.slots().size());
        for (uint32_t k = 0; k < space.slots().size(); ++k) {
          cand_var[k].assign(space.slots()[k].candidates.size(), -1);
        }
        for (uint32_t var = 0; var < space.vars().size(); ++var) {
          for (const auto& [slot, c] : space.vars()[var].units) {
            cand_var[slot][c] = static_cast<int32_t>(var);
          }
        }
        absl::Status error;
        EnumerateStates(space, options.enumerate, [&](const VisitedState& s) {
          auto it = images.find(s.hash() ^ contexts[i]);
          const Verdict* v = nullptr;
          // An image first met at another crash point searched at the same
          // time may still be waiting for its verdict; the cover has it.
          if (it != images.end()) v = verdict_of(it->second);
          if (v == nullptr && !space.has_non_chain()) {
            // The top persisted version of each (chain) slot.
            const std::vector<uint8_t>& values = s.cursor().values();
            v = index.Find([&](uint32_t slot) {
              const std::vector<int32_t>& vars = cand_var[slot];
              for (int32_t c = static_cast<int32_t>(vars.size()) - 1; c >= 0;
                   --c) {
                if (vars[c] < 0 || values[vars[c]]) return c;
              }
              return int32_t{-1};
            });
          } else if (v == nullptr) {
            absl::StatusOr<Resolution> r = space.Resolve(s.Id());
            if (r.ok()) v = index.Find(*r);
          }
          if (v == nullptr) {
            error = absl::InternalError(absl::StrCat(
                "state ", s.Id().ToString(),
                " was neither judged nor covered by the search"));
            return false;
          }
          tally(s.Id(), v, s.hash());
          return true;
        });
        if (!error.ok()) return error;
      } else {
        pr.all_listed = false;
        const CoverGroups g = cover_groups(sp);
        ASSIGN_OR_RETURN(
            CoverCounts counts,
            CountCovered(space, sp.covers, {g.fail, g.fail_or_error}));
        SetCoverCounts(pr, g, counts.total, counts.unions[0], counts.unions[1]);
        for (const auto& [id, k] : sp.visited) {
          const Verdict* v = verdict_of(k);
          if (v == nullptr) continue;
          absl::StatusOr<Resolution> r = space.Resolve(id);
          add_finding(pr, id, *v, r.ok() ? r->hash : Hash128());
        }
      }
    }
    if (pr.all_listed) {
      pr.count = StateCount{};
      pr.count.exact = pr.states;
      pr.count.log2 = pr.states > 0 ? std::log2(static_cast<double>(pr.states)) : 0;
      pr.failing_count = StateCount{};
      pr.failing_count.exact = pr.failing_states;
      pr.failing_count.log2 =
          pr.failing_states > 0 ? std::log2(static_cast<double>(pr.failing_states)) : 0;
    }
    return absl::OkStatus();
  };

  auto stop_workers = [&](absl::Status s) {
    queue.Cancel();
    queue.Close();
    for (std::thread& t : workers) t.join();
    return s;
  };
  // Points are added in order, and references to them are kept while later
  // ones are added.
  report.points.reserve(prep.events.size());
  // The searched crash points still open when the check was interrupted:
  // counted once the workers stopped.
  std::vector<std::shared_ptr<const StateSpace>> interrupted_spaces(
      prep.events.size());
  if (search) {
    // Open searches, in the order of their crash points; each is counted
    // (in that order, so the findings are too) once it is exhausted and
    // every verdict it needs is in.
    std::deque<std::unique_ptr<Search>> open;
    size_t next = 0;
    uint64_t settled_seen = 0;
    const size_t max_open = static_cast<size_t>(jobs) + 1;
    while (true) {
      if (cancel_requested()) {
        interrupted = true;
        break;
      }
      if (failed()) {
        stopped = true;
        break;
      }
      if (!plan_announced && prep.AllPlanned()) {
        plan_announced = true;
        if (on_plan) on_plan(prep.plan);
      }
      {
        absl::MutexLock lock(&shared.settle_mu);
        settled_seen = shared.settled;
      }
      if (open.empty() && next == prep.events.size()) break;
      // The next model of a crash point with no run pending, else the first
      // of a newly opened one: neither can be covered by a pending verdict.
      // Else, for an idle worker, the next model of the crash point with
      // fewest runs pending, which a pending verdict may still cover: the
      // worker that takes it looks it up in the crash point's index first,
      // and takes the verdict of a run that covers it instead of running the
      // oracle. One state may wait in the queue, so that a worker that
      // finishes a run finds its next state there rather than waiting for
      // the verdict to reach the search and the solver's next model; with
      // one worker that may be such a state too, as the worker takes it
      // only once the one pending run's verdict is in (with more, it could
      // take it while another run that covers it is still under way).
      // While the solver starts up, a search that would wait for it is
      // passed over for the first state of another crash point (which needs
      // no solver), opened even past max_open. Searches that are exhausted
      // and only wait to be counted do not count towards max_open.
      int pending = 0;
      size_t searching = 0;
      Search* pick = nullptr;
      int pick_pending = INT_MAX;
      Search* waits_for_solver = nullptr;
      int waiting_pending = 0;
      const bool solver_ready = CoverSearch::Ready();
      for (const std::unique_ptr<Search>& search : open) {
        const int n = in_flight(*search);
        absorb(*search);  // every run settled before `n` was read
        pending += n;
        if (search->exhausted) continue;
        ++searching;
        if (search->cs == nullptr && search->offered_none_persisted &&
            !solver_ready) {
          if (waits_for_solver == nullptr) {
            waits_for_solver = search.get();
            waiting_pending = n;
          }
          continue;
        }
        if (n < pick_pending) {
          pick = search.get();
          pick_pending = n;
        }
      }
      if (pending <= jobs && pick_pending > 0 && next < prep.events.size() &&
          (searching < max_open || waits_for_solver != nullptr)) {
        absl::StatusOr<std::unique_ptr<Search>> started = start_search(next);
        if (!started.ok()) {
          return stop_workers(AddContext(
              started.status(),
              absl::StrCat("checking crash point e", prep.events[next])));
        }
        ++next;
        open.push_back(*std::move(started));
        pick = open.back().get();
        pick_pending = 0;
      }
      if (pick == nullptr && waits_for_solver != nullptr) {
        pick = waits_for_solver;
        pick_pending = waiting_pending;
      }
      if (pick != nullptr &&
          (pick_pending == 0 || jobs == 1 ? pending <= jobs : pending < jobs)) {
        absl::Status s = step(*pick);
        if (!s.ok()) {
          return stop_workers(
              AddContext(s, absl::StrCat("checking crash point e",
                                         prep.events[pick->point])));
        }
        if (stopped) break;
        continue;
      }
      // No state to offer now: count the crash points whose searches are
      // done (after offering, so that the workers have states to check
      // meanwhile: listing a crash point's thousands of failing states
      // takes tens of milliseconds).
      bool counted = false;
      while (!open.empty() && ready_to_count(*open.front())) {
        Search& done = *open.front();
        PointResult& pr = report.points[done.point];
        pr.solver_time = done.cs->solver_time();  // exhausted: it has one
        report.solver_time += done.cs->solver_time();
        absl::Status s =
            count_point(done.point, *done.space, /*any_finding=*/false);
        if (!s.ok()) {
          return stop_workers(
              AddContext(s, absl::StrCat("checking crash point e", pr.event)));
        }
        PruneState& p = *shared.prune[done.point];
        {
          absl::MutexLock lock(&p.mu);
          p.index.reset();
          p.space.reset();
        }
        open.pop_front();
        counted = true;
      }
      if (counted) continue;  // a crash point may open now
      // Every worker is busy, or every open search waits for its runs.
      {
        absl::MutexLock lock(&shared.settle_mu);
        auto settled = [&] { return shared.settled != settled_seen; };
        shared.settle_mu.AwaitWithTimeout(absl::Condition(&settled),
                                          absl::Milliseconds(50));
      }
      emit(false);  // runs finished while no state was offered
    }
    for (const std::unique_ptr<Search>& search : open) {
      if (search->cs != nullptr) {
        report.points[search->point].solver_time = search->cs->solver_time();
        report.solver_time += search->cs->solver_time();
      }
      if (interrupted) interrupted_spaces[search->point] = search->space;
    }
  }
  for (size_t i = 0;
       !search && i < prep.events.size() && !stopped && !interrupted; ++i) {
    absl::StatusOr<std::shared_ptr<const StateSpace>> built = prep.Space(i);
    if (!built.ok()) return stop_workers(built.status());
    std::shared_ptr<const StateSpace> space = *std::move(built);
    PointResult& pr = begin_point(i, space);
    pr.states = EnumerateStates(
        *space, options.enumerate, [&](const VisitedState& state) {
          if (cancel_requested()) {
            interrupted = true;
            return false;
          }
          ++progress.states;
          Offered how;
          uint64_t image;
          if (!offer(i, space, state, false, &how, &image)) {
            stopped = true;
            return false;
          }
          emit(false);
          return true;
        });
    // A cancelled enumeration counted the state it stopped at; undo that.
    if (interrupted && pr.states > 0) --pr.states;
    if (!prune) continue;
    // With pruning, this crash point's index lives until its runs end.
    PruneState& p = *shared.prune[i];
    absl::MutexLock lock(&p.mu);
    auto idle = [&] { return p.in_flight == 0; };
    while (!p.mu.AwaitWithTimeout(absl::Condition(&idle),
                                  absl::Milliseconds(50))) {
      p.mu.Unlock();
      const bool give_up = cancel_requested() || failed();
      emit(false);
      p.mu.Lock();
      if (give_up) break;
    }
    if (!interrupted && p.in_flight == 0) {
      p.index.reset();
      p.space.reset();
    }
  }
  if (interrupted) queue.Cancel();
  queue.Close();
  while (!stopped && !interrupted && shared.done.load() < queued) {
    if (failed()) break;
    if (cancel_requested()) {
      interrupted = true;
      queue.Cancel();
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
    emit(false);
  }
  for (std::thread& t : workers) t.join();
  if (!shared.error.ok()) return shared.error;
  emit(true);

  join_planner.Join();
  report.plan = prep.Plans();  // complete unless the check stopped early
  report.interrupted = interrupted;
  report.distinct_images = images.size();
  report.oracle_runs = shared.done.load() - shared.skipped.load();
  report.pruned_images += shared.skipped.load();
  for (size_t i = 0; i < report.points.size(); ++i) {
    report.points[i].oracle_runs = shared.runs[i];
  }
  report.oracle_time = shared.oracle_time;
  std::vector<Hash128> by_index(images.size());
  for (const auto& [hash, index] : images) by_index[index] = hash;
  for (size_t k = 0; k < shared.verdicts.size(); ++k) {
    if (!shared.judged[k]) continue;
    const Verdict& v = shared.verdicts[k];
    report.failing_images += v.kind == VerdictKind::kFail;
    report.erroring_images += v.kind == VerdictKind::kError;
    report.image_verdicts.push_back(ImageVerdict{by_index[k], v});
  }

  long double states_sum = 0, failures_sum = 0;
  const bool any_finding = interrupted || report.failing_images > 0 ||
                           report.erroring_images > 0;
  for (size_t i = 0; i < report.points.size(); ++i) {
    PointResult& pr = report.points[i];
    if (!pr.searched && any_finding) {
      ASSIGN_OR_RETURN(std::shared_ptr<const StateSpace> space, prep.Space(i));
      RETURN_IF_ERROR(count_point(i, *space, true));
    } else if (pr.searched && interrupted_spaces[i] != nullptr) {
      RETURN_IF_ERROR(count_point(i, *interrupted_spaces[i], true));
    }
    auto sat_add = [](uint64_t a, uint64_t b) {
      return a > UINT64_MAX - b ? UINT64_MAX : a + b;
    };
    report.states = sat_add(report.states, pr.states);
    report.failures = sat_add(report.failures, pr.failing_states);
    report.errors = sat_add(report.errors, pr.erroring_states);
    states_sum += std::exp2(static_cast<long double>(pr.count.log2)) *
                  (pr.count.exact > 0 || !pr.count.fits ? 1 : 0);
    failures_sum += std::exp2(static_cast<long double>(pr.failing_count.log2)) *
                    (pr.failing_count.exact > 0 || !pr.failing_count.fits ? 1 : 0);
  }

  report.states_log2 =
      states_sum > 0 ? static_cast<double>(std::log2(states_sum)) : 0;
  report.failures_log2 =
      failures_sum > 0 ? static_cast<double>(std::log2(failures_sum)) : 0;
  report.elapsed = absl::Now() - start;
  return report;
}

}  // namespace crashenum
