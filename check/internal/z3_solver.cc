// SatSolver on Z3's C++ API. Z3 reports errors by throwing z3::exception;
// every call into Z3 is made inside Guard(), which turns one into a Status.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "check/internal/sat_solver.h"
#include "z3++.h"

namespace crashenum {
namespace internal_check {
namespace {

template <typename F>
absl::Status Guard(const char* what, F&& f) {
  try {
    f();
    return absl::OkStatus();
  } catch (const z3::exception& e) {
    return absl::InternalError(absl::StrCat("Z3 ", what, ": ", e.msg()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Z3 ", what, ": out of memory"));
  }
}

// Z3's incremental SAT solver (the logic QF_FD picks it: the problems here
// are purely propositional), with Z3's own SIGINT handling off. The default
// solver, the SMT core, took six times as long per check on a long search
// (3.9 ms against 0.65 ms at 1 400-1 900 blocking clauses). By default
// check() installs a SIGINT handler of its own for as long as it runs, which
// swallows the signal the user meant for the whole check (its handler never
// ran) and makes the check give up with "canceled"; the check's handler
// stops it between solves instead.
//
// Its decisions try "true" first: a model persists every optional unit it
// can, so the search starts from the states nearest what the file system
// meant to write, where an fsck reads least and a run covers most. On the
// barrier fixture the exhaustive checks took 23 runs instead of 28
// (--torn=none) and 42 instead of 48 (torn sectors); in 20 s on the
// nobarrier fixture's torn crash point the runs covered 2^91.4 states
// instead of 2^86.3.
z3::solver PlainSolver(z3::context& c) {
  z3::solver solver(c, "QF_FD");
  z3::params p(c);
  p.set("ctrl_c", false);
  p.set("phase", "always_true");
  solver.set(p);
  return solver;
}

// Idle Z3 contexts. Making one costs 15-100 ms (it allocates and clears two
// tables of 8 MiB, every page a fault), more than a whole search of a small
// crash point, so a context outlives its solvers and serves the next ones. A
// context is used by one thread at a time. Never destroyed: solvers may end
// during exit.
class ContextPool {
 public:
  static ContextPool& Get() {
    static ContextPool* const pool = new ContextPool;
    return *pool;
  }

  // An idle context, or a new one; waits for one being made by Fill().
  std::unique_ptr<z3::context> Take() {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return TakesAtOnce();
      };
      mu_.Await(absl::Condition(&ready));
      if (!idle_.empty()) {
        std::unique_ptr<z3::context> c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return std::make_unique<z3::context>();
  }

  // False when Take() would wait for Fill().
  bool Ready() {
    absl::MutexLock lock(&mu_);
    return TakesAtOnce();
  }

  // Makes a context for the pool, and solves a trivial problem on it (the
  // first solve binds code lazily), unless one is idle or being made. A
  // failure is left for the next Take() to meet.
  void Fill() {
    {
      absl::MutexLock lock(&mu_);
      if (filling_ || !idle_.empty()) return;
      filling_ = true;
    }
    std::unique_ptr<z3::context> c;
    Guard("starting", [&] {
      c = std::make_unique<z3::context>();
      z3::solver solver = PlainSolver(*c);
      solver.add(c->bool_const("v"));
      solver.check();
    }).IgnoreError();
    absl::MutexLock lock(&mu_);
    if (c != nullptr) idle_.push_back(std::move(c));
    filling_ = false;
  }

  void Give(std::unique_ptr<z3::context> c) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(std::move(c));
  }

 private:
  // Whether Take() need not wait: a context is idle, or none is being made.
  bool TakesAtOnce() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !filling_ || !idle_.empty();
  }

  absl::Mutex mu_;
  std::vector<std::unique_ptr<z3::context>> idle_ ABSL_GUARDED_BY(mu_);
  bool filling_ ABSL_GUARDED_BY(mu_) = false;
};

// The context the solvers alive on one thread share (a context serves any
// number of solvers, one thread at a time): taken from the pool by the
// first, given back by the last. A thread's searches at several crash points
// at once thus pay for one context.
struct ThreadContext {
  std::unique_ptr<z3::context> context;
  int users = 0;
};

ThreadContext& ThisThreadContext() {
  thread_local ThreadContext t;
  return t;
}

// This thread's context, while this lives.
class PooledContext {
 public:
  PooledContext() : thread_(ThisThreadContext()) {
    if (thread_.users == 0) thread_.context = ContextPool::Get().Take();
    ++thread_.users;  // only once a context is there (Take() may throw)
  }
  ~PooledContext() {
    if (--thread_.users == 0) {
      ContextPool::Get().Give(std::move(thread_.context));
    }
  }
  PooledContext(const PooledContext&) = delete;
  PooledContext& operator=(const PooledContext&) = delete;

  z3::context& get() { return *thread_.context; }

 private:
  ThreadContext& thread_;
};

class Z3Solver : public SatSolver {
 public:
  Z3Solver() : context_(pooled_.get()), solver_(PlainSolver(context_)) {}

  uint32_t NewVar() override {
    const uint32_t v = static_cast<uint32_t>(vars_.size());
    // A failure here is deferred to the next Solve().
    absl::Status s = Guard("creating a variable", [&] {
      vars_.push_back(context_.bool_const(absl::StrCat("v", v).c_str()));
    });
    if (!s.ok()) {
      if (deferred_.ok()) deferred_ = s;
      vars_.push_back(context_.bool_val(false));
    }
    return v;
  }

  void AddClause(const std::vector<Literal>& clause) override {
    absl::Status s = Guard("adding a clause", [&] {
      z3::expr_vector lits(context_);
      for (const Literal& l : clause) {
        lits.push_back(l.negated ? !vars_[l.var] : vars_[l.var]);
      }
      solver_.add(lits.empty() ? context_.bool_val(false) : z3::mk_or(lits));
    });
    if (!s.ok() && deferred_.ok()) deferred_ = s;
  }

  absl::StatusOr<std::optional<std::vector<uint8_t>>> Solve(
      uint32_t num_vars, const std::vector<Literal>& assume) override {
    if (!deferred_.ok()) return deferred_;
    std::optional<std::vector<uint8_t>> out;
    std::string unknown;
    absl::Status s = Guard("solving", [&] {
      z3::expr_vector assumptions(context_);
      for (const Literal& l : assume) {
        assumptions.push_back(l.negated ? !vars_[l.var] : vars_[l.var]);
      }
      const z3::check_result r = solver_.check(assumptions);
      if (r == z3::unsat) return;
      if (r == z3::unknown) {
        unknown = solver_.reason_unknown();
        if (unknown.empty()) unknown = "unknown";
        return;
      }
      z3::model m = solver_.get_model();
      std::vector<uint8_t> values(num_vars, 0);
      for (uint32_t v = 0; v < num_vars; ++v) {
        values[v] = m.eval(vars_[v], true).is_true() ? 1 : 0;
      }
      out = std::move(values);
    });
    if (!s.ok()) return s;
    if (!unknown.empty()) {
      return absl::InternalError(absl::StrCat("Z3 gave up: ", unknown));
    }
    return out;
  }

 private:
  // First, so that the context goes back to the pool only after the solver
  // and the variables below have let go of their terms.
  PooledContext pooled_;
  z3::context& context_;
  z3::solver solver_;
  std::vector<z3::expr> vars_;
  absl::Status deferred_;
};

}  // namespace

bool SatSolver::Available() { return true; }

void SatSolver::WarmUp() { ContextPool::Get().Fill(); }

bool SatSolver::Ready() { return ContextPool::Get().Ready(); }

absl::StatusOr<std::unique_ptr<SatSolver>> SatSolver::Create() {
  std::unique_ptr<SatSolver> out;
  absl::Status s =
      Guard("starting", [&] { out = std::make_unique<Z3Solver>(); });
  if (!s.ok()) return s;
  return out;
}

}  // namespace internal_check
}  // namespace crashenum
