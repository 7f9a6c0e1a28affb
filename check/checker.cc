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
#include "enumerator/materializer.h"

namespace crashenum {
namespace {

struct Job {
  const StateSpace* space = nullptr;
  StateId id;
  uint64_t image = 0;
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

struct Shared {
  absl::Mutex mu;
  std::deque<Verdict> verdicts;  // per image
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
    const absl::Time start = absl::Now();
    Verdict v = oracle.Check(images, job.id);
    const absl::Duration took = absl::Now() - start;
    if (v.kind == VerdictKind::kFail) shared.failing.fetch_add(1);
    absl::MutexLock lock(&shared.mu);
    shared.verdicts[job.image] = std::move(v);
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
    options.on_progress(progress);
  };

  absl::flat_hash_map<Hash128, uint64_t> images;
  bool cancelled = false;
  for (size_t i = 0; i < prep.spaces.size() && !cancelled; ++i) {
    const StateSpace& space = *prep.spaces[i];
    PointResult pr;
    pr.event = space.event();
    pr.states = EnumerateStates(space, options.enumerate,
                                [&](const VisitedState& s) {
      ++progress.states;
      auto [it, inserted] = images.try_emplace(s.hash(), images.size());
      if (inserted) {
        ++pr.new_images;
        ++progress.distinct_images;
        {
          absl::MutexLock lock(&shared.mu);
          shared.verdicts.emplace_back();
        }
        if (!queue.Push(Job{&space, s.Id(), it->second})) {
          cancelled = true;
          return false;
        }
      }
      emit(false);
      return true;
    });
    report.points.push_back(pr);
  }
  queue.Close();
  while (!cancelled && shared.done.load() < images.size()) {
    {
      absl::MutexLock lock(&shared.mu);
      if (!shared.error.ok()) break;
    }
    absl::SleepFor(absl::Milliseconds(50));
    emit(false);
  }
  for (std::thread& t : workers) t.join();
  if (!shared.error.ok()) return shared.error;
  emit(true);

  report.states = progress.states;
  report.distinct_images = images.size();
  report.oracle_runs = shared.done.load();
  report.oracle_time = shared.oracle_time;
  for (const Verdict& v : shared.verdicts) {
    report.failing_images += v.kind == VerdictKind::kFail;
    report.erroring_images += v.kind == VerdictKind::kError;
  }
  if (report.failing_images + report.erroring_images > 0) {
    // Second pass: list every state whose image did not pass.
    for (size_t i = 0; i < prep.spaces.size(); ++i) {
      EnumerateStates(*prep.spaces[i], options.enumerate,
                      [&](const VisitedState& s) {
        const Verdict& v = shared.verdicts[images.at(s.hash())];
        if (v.kind == VerdictKind::kPass) return true;
        (v.kind == VerdictKind::kFail ? report.failures : report.errors)++;
        report.points[i].failing_states += v.kind == VerdictKind::kFail;
        report.points[i].erroring_states += v.kind == VerdictKind::kError;
        report.findings.push_back(
            StateFinding{s.Id().ToString(), v.kind, v.message, s.hash()});
        return true;
      });
    }
  }
  report.elapsed = absl::Now() - start;
  return report;
}

}  // namespace crashenum
