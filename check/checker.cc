#include "check/checker.h"

#include <atomic>
#include <deque>
#include <memory>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/status_macros.h"
#include "check/prune_index.h"
#include "enumerator/materializer.h"

namespace crashenum {
namespace {

struct Job {
  const StateSpace* space = nullptr;
  StateId id;
  uint64_t image = 0;  // index of the image
  Hash128 hash;        // the image hash
  size_t point = 0;    // index of the crash point
};

// A bounded multi-producer, multi-consumer queue of jobs.
class JobQueue {
 public:
  explicit JobQueue(size_t capacity) : capacity_(capacity) {}
  // Blocks while full. Returns false when the queue was cancelled.
  bool Push(Job job) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](JobQueue* q) { return q->cancelled_ || q->jobs_.size() < q->capacity_; },
        this));
    if (cancelled_) return false;
    jobs_.push_back(std::move(job));
    return true;
  }
  // Blocks until a job is there; false when closed and drained or cancelled.
  bool Pop(Job* job) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](JobQueue* q) { return q->cancelled_ || q->closed_ || !q->jobs_.empty(); },
        this));
    if (cancelled_ || jobs_.empty()) return false;
    *job = std::move(jobs_.front());
    jobs_.pop_front();
    return true;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

 private:
  absl::Mutex mu_;
  std::deque<Job> jobs_;
  size_t capacity_;
  bool closed_ = false;
  bool cancelled_ = false;
};

// Per crash point, for read-set pruning.
struct PruneState {
  absl::Mutex mu;
  std::unique_ptr<PruneIndex> index;
};

struct Shared {
  absl::Mutex mu;
  std::vector<std::unique_ptr<PruneState>> prune;  // empty: no pruning
  std::deque<Verdict> verdicts;  // per image
  std::deque<bool> judged;       // per image: verdict known
  absl::Status error;            // first infrastructure error
  absl::Duration oracle_time;
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> failing{0};
};

void Worker(int index, const UnitHashes& hashes, Oracle& oracle,
            const CheckOptions& options, JobQueue& queue, Shared& shared) {
  const Trace& trace = hashes.trace();
  std::vector<std::string> pristine, scratch;
  for (const Device& d : trace.devices()) {
    const std::string base =
        absl::StrCat(options.work_dir, "/worker", index, "-", d.name);
    pristine.push_back(base + ".img");
    scratch.push_back(base + ".oracle.img");
  }
  auto fail = [&](absl::Status s) {
    {
      absl::MutexLock lock(&shared.mu);
      if (shared.error.ok()) shared.error = std::move(s);
    }
    queue.Cancel();
  };
  absl::StatusOr<std::unique_ptr<Materializer>> m =
      Materializer::Create(hashes, pristine);
  if (!m.ok()) return fail(m.status());
  const bool copy = oracle.traits().mutates_image;
  std::vector<uint32_t> unit_bytes;
  for (uint32_t d = 0; d < trace.devices().size(); ++d) {
    unit_bytes.push_back(hashes.unit_bytes(d));
  }
  ImageSet images;
  for (const Device& d : trace.devices()) images.device_names.push_back(d.name);
  images.paths = copy ? scratch : pristine;
  Job job;
  while (queue.Pop(&job)) {
    const std::string id = job.id.ToString();
    absl::StatusOr<Resolution> r = job.space->Resolve(job.id);
    if (!r.ok()) return fail(AddContext(r.status(), "resolving " + id));
    absl::Status s = (*m)->Apply(*job.space, *r);
    if (s.ok() && copy) s = (*m)->CopyTo(scratch);
    if (!s.ok()) return fail(AddContext(s, "materializing state " + id));
    if (!shared.prune.empty()) {
      absl::StatusOr<std::vector<std::pair<std::string, std::string>>> env =
          options.read_recorder->Begin(index, images.paths);
      if (!env.ok()) return fail(AddContext(env.status(), "recording reads"));
      images.env = *std::move(env);
    }
    const absl::Time start = absl::Now();
    Verdict v = oracle.Check(images, job.id);
    const absl::Duration took = absl::Now() - start;
    if (!shared.prune.empty()) {
      bool everything = false;
      absl::StatusOr<std::vector<std::pair<uint32_t, uint64_t>>> read =
          options.read_recorder->End(index, unit_bytes, &everything);
      if (!read.ok()) {
        return fail(AddContext(read.status(), "reading the read set of " + id));
      }
      PruneState& p = *shared.prune[job.point];
      absl::MutexLock lock(&p.mu);
      std::vector<uint32_t> slots;
      if (everything) {
        slots.resize(job.space->slots().size());
        for (uint32_t k = 0; k < slots.size(); ++k) slots[k] = k;
      } else {
        slots = p.index->SlotsOf(*read);
      }
      p.index->Add(slots, *r, v);
    }
    if (v.kind == VerdictKind::kFail) {
      shared.failing.fetch_add(1);
      if (options.on_failing_image) {
        s = options.on_failing_image(job.id, job.hash, v, pristine);
        if (!s.ok()) return fail(AddContext(s, "keeping failing state " + id));
      }
    }
    absl::MutexLock lock(&shared.mu);
    shared.verdicts[job.image] = std::move(v);
    shared.judged[job.image] = true;
    shared.oracle_time += took;
    shared.done.fetch_add(1);
  }
  for (const std::string& p : pristine) std::remove(p.c_str());
  for (const std::string& p : scratch) std::remove(p.c_str());
}

struct Prepared {
  std::unique_ptr<UnitHashes> hashes;
  std::vector<std::unique_ptr<StateSpace>> spaces;
  std::vector<PointPlan> plan;
};

absl::StatusOr<Prepared> Prepare(const Trace& trace,
                                 const CheckOptions& options) {
  Prepared p;
  ASSIGN_OR_RETURN(p.hashes, UnitHashes::Build(trace, options.model.atomic_unit));
  CrashPointOptions cpo = options.points;
  cpo.discard = options.model.discard;
  ASSIGN_OR_RETURN(std::vector<CrashPoint> points, FindCrashPoints(trace, cpo));
  for (const CrashPoint& cp : points) {
    ASSIGN_OR_RETURN(std::unique_ptr<StateSpace> space,
                     StateSpace::Build(*p.hashes, cp.event, options.model));
    PointPlan plan;
    plan.event = cp.event;
    plan.description = DescribePoint(trace, cp.event);
    plan.variables = space->vars().size();
    for (const OptionalOp& op : space->optional_ops()) {
      plan.optional_writes += !op.vars.empty();
    }
    plan.count = CountStates(*space, options.enumerate);
    p.plan.push_back(std::move(plan));
    p.spaces.push_back(std::move(space));
  }
  return p;
}

}  // namespace

absl::StatusOr<std::vector<PointPlan>> PlanCheck(const Trace& trace,
                                                 const CheckOptions& options) {
  ASSIGN_OR_RETURN(Prepared p, Prepare(trace, options));
  return std::move(p.plan);
}

absl::StatusOr<CheckReport> RunCheck(
    const Trace& trace, Oracle& oracle, const CheckOptions& options,
    const std::function<void(const std::vector<PointPlan>&)>& on_plan) {
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(Prepared prep, Prepare(trace, options));
  CheckReport report;
  report.plan = prep.plan;
  long double total = 0;
  bool fits = true;
  for (const PointPlan& p : prep.plan) {
    total += p.count.fits ? static_cast<long double>(p.count.exact)
                          : static_cast<long double>(1e30);
    fits &= p.count.fits;
  }
  if (!fits || total > static_cast<long double>(options.max_states)) {
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
        "--tear-at-most=K, --torn=none or --sample=N"));
  }
  if (on_plan) on_plan(prep.plan);

  const int jobs = std::max(1, options.jobs);
  JobQueue queue(static_cast<size_t>(jobs) * 4);
  Shared shared;
  if (options.read_recorder != nullptr && oracle.traits().deterministic &&
      oracle.traits().reads_through_files) {
    report.pruned = true;
    for (const auto& space : prep.spaces) {
      auto p = std::make_unique<PruneState>();
      p->index = std::make_unique<PruneIndex>(*space);
      shared.prune.push_back(std::move(p));
    }
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < jobs; ++i) {
    workers.emplace_back(Worker, i, std::cref(*prep.hashes), std::ref(oracle),
                         std::cref(options), std::ref(queue), std::ref(shared));
  }

  CheckProgress progress;
  progress.total_states = static_cast<uint64_t>(total);
  absl::Time last_progress = absl::Now();
  auto emit = [&](bool force) {
    if (!options.on_progress) return;
    const absl::Time now = absl::Now();
    if (!force && now - last_progress < absl::Milliseconds(200)) return;
    last_progress = now;
    progress.oracle_runs_done = shared.done.load();
    progress.failures = shared.failing.load();
    progress.elapsed = now - start;
    options.on_progress(progress);
  };
  auto cancel_requested = [&] {
    return options.cancel != nullptr && options.cancel->load();
  };

  // Verdicts are shared by states with the same image and, for oracles whose
  // verdict depends on the crash point, the same context.
  std::vector<Hash128> contexts;
  for (const auto& space : prep.spaces) {
    const std::string c = oracle.VerdictContext(space->event());
    contexts.push_back(c.empty() ? Hash128() : HashBytes("context:" + c));
  }
  absl::flat_hash_map<Hash128, uint64_t> images;  // verdict key -> index
  uint64_t queued = 0;
  bool stopped = false;      // workers failed
  bool interrupted = false;  // cancel requested
  for (size_t i = 0; i < prep.spaces.size() && !stopped && !interrupted; ++i) {
    const StateSpace& space = *prep.spaces[i];
    PointResult pr;
    pr.event = space.event();
    const Hash128 context = contexts[i];
    pr.states = EnumerateStates(space, options.enumerate,
                                [&](const VisitedState& s) {
      if (cancel_requested()) {
        interrupted = true;
        return false;
      }
      ++progress.states;
      const Hash128 key = s.hash() ^ context;
      auto [it, inserted] = images.try_emplace(key, images.size());
      if (inserted) {
        ++pr.new_images;
        ++progress.distinct_images;
        const Verdict* known = nullptr;
        if (options.known_verdicts != nullptr) {
          auto k = options.known_verdicts->find(key);
          if (k != options.known_verdicts->end()) known = &k->second;
        }
        Verdict inherited;
        if (known == nullptr && !shared.prune.empty()) {
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
        } else {
          ++queued;
          if (!queue.Push(Job{&space, s.Id(), it->second, s.hash(), i})) {
            stopped = true;
            return false;
          }
        }
      }
      emit(false);
      return true;
    });
    // A cancelled enumeration counted the state it stopped at; undo that.
    if (interrupted && pr.states > 0) --pr.states;
    report.points.push_back(pr);
  }
  if (interrupted) queue.Cancel();
  queue.Close();
  while (!stopped && !interrupted && shared.done.load() < queued) {
    {
      absl::MutexLock lock(&shared.mu);
      if (!shared.error.ok()) break;
    }
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

  report.interrupted = interrupted;
  report.distinct_images = images.size();
  report.oracle_runs = shared.done.load();
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
  // Second pass over the states visited: count those whose image was judged
  // and list every one whose image did not pass. When every image was judged
  // and passed, the first pass already counted everything.
  const bool second_pass = interrupted || report.failing_images > 0 ||
                           report.erroring_images > 0;
  for (size_t i = 0; i < report.points.size(); ++i) {
    PointResult& pr = report.points[i];
    if (!second_pass) {
      report.states += pr.states;
      continue;
    }
    uint64_t left = pr.states;
    pr.states = 0;
    if (left == 0) continue;
    EnumerateStates(*prep.spaces[i], options.enumerate,
                    [&](const VisitedState& s) {
      const uint64_t k = images.at(s.hash() ^ contexts[i]);
      if (!shared.judged[k]) {
        ++report.unjudged_states;
      } else {
        ++pr.states;
        const Verdict& v = shared.verdicts[k];
        if (v.kind != VerdictKind::kPass) {
          (v.kind == VerdictKind::kFail ? report.failures : report.errors)++;
          pr.failing_states += v.kind == VerdictKind::kFail;
          pr.erroring_states += v.kind == VerdictKind::kError;
          report.findings.push_back(
              StateFinding{s.Id().ToString(), v.kind, v.message, s.hash()});
        }
      }
      return --left > 0;
    });
    report.states += pr.states;
  }
  report.elapsed = absl::Now() - start;
  return report;
}

}  // namespace crashenum
