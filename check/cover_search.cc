#include "check/cover_search.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>

namespace crashenum {

using internal_check::Literal;
using internal_check::Neg;
using internal_check::Pos;
using internal_check::SatSolver;

SolverWarmUp::SolverWarmUp() {
  if (!SatSolver::Available()) return;
  thread_ = std::thread([] {
    // Below the check's first steps and first oracle runs, which it would
    // otherwise slow on a machine with few cores (it takes up to 0.1 s of
    // CPU; the search does without it meanwhile). Linux sets a thread's
    // nice value alone; failing to is harmless.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
    SatSolver::WarmUp();
  });
}

SolverWarmUp::~SolverWarmUp() {
  if (thread_.joinable()) thread_.join();
}

bool CoverSearch::Available() { return SatSolver::Available(); }

bool CoverSearch::Ready() { return SatSolver::Ready(); }

absl::StatusOr<std::unique_ptr<CoverSearch>> CoverSearch::Create(
    const StateSpace& space) {
  absl::StatusOr<std::unique_ptr<SatSolver>> solver = SatSolver::Create();
  if (!solver.ok()) return solver.status();
  return std::unique_ptr<CoverSearch>(
      new CoverSearch(space, *std::move(solver)));
}

CoverSearch::CoverSearch(const StateSpace& space,
                         std::unique_ptr<SatSolver> solver)
    : space_(space), solver_(std::move(solver)) {
  // Solver variables [0, vars) are the space's variables.
  for (size_t v = 0; v < space.vars().size(); ++v) solver_->NewVar();
  cand_var_.resize(space.slots().size());
  for (uint32_t s = 0; s < space.slots().size(); ++s) {
    cand_var_[s].assign(space.slots()[s].candidates.size(), -1);
  }
  for (uint32_t v = 0; v < space.vars().size(); ++v) {
    for (const auto& [s, c] : space.vars()[v].units) {
      cand_var_[s][c] = static_cast<int32_t>(v);
    }
  }
  for (const VarConstraint& vc : space.constraints()) {
    for (uint32_t w : vc.write_vars) {
      for (uint32_t c : vc.covered_vars) solver_->AddClause({Neg(w), Pos(c)});
    }
  }
}

std::optional<Literal> CoverSearch::Persisted(uint32_t s, uint32_t c) const {
  const int32_t v = cand_var_[s][c];
  if (v < 0) return std::nullopt;
  return Pos(static_cast<uint32_t>(v));
}

// m -> candidate c is a maximal persisted version: persisted, and nothing
// it happens before persisted.
uint32_t CoverSearch::MaximalVar(uint32_t s, uint32_t c) {
  auto [it, fresh] = maximal_.try_emplace({s, c}, 0);
  if (!fresh) return it->second;
  const uint32_t m = solver_->NewVar();
  it->second = m;
  const Slot& slot = space_.slots()[s];
  const size_t n = slot.candidates.size();
  if (std::optional<Literal> p = Persisted(s, c))
    solver_->AddClause({Neg(m), *p});
  for (uint32_t j = 0; j < n; ++j) {
    const bool later = slot.chain ? j > c : slot.hb[c * n + j] != 0;
    if (!later) continue;
    if (std::optional<Literal> p = Persisted(s, j)) {
      solver_->AddClause({Neg(m), Neg(p->var)});
    } else {
      solver_->AddClause({Neg(m)});  // a durable later version always shows
    }
  }
  return m;
}

// z -> no version of slot s persisted (the base content shows).
uint32_t CoverSearch::NonePersistedVar(uint32_t s) {
  auto [it, fresh] = none_.try_emplace(s, 0);
  if (!fresh) return it->second;
  const uint32_t z = solver_->NewVar();
  it->second = z;
  for (uint32_t c = 0; c < space_.slots()[s].candidates.size(); ++c) {
    if (std::optional<Literal> p = Persisted(s, c)) {
      solver_->AddClause({Neg(z), Neg(p->var)});
    } else {
      solver_->AddClause({Neg(z)});
    }
  }
  return z;
}

// e, forced true whenever slot s shows `content` in every state of the
// assignment: no maximal persisted version has other bytes, and (unless
// `content` is the base) something persisted.
uint32_t CoverSearch::ShowsVar(uint32_t s, const Hash128& content) {
  auto [it, fresh] = shows_.try_emplace({s, content}, 0);
  if (!fresh) return it->second;
  const uint32_t e = solver_->NewVar();
  it->second = e;
  std::vector<Literal> clause = {Pos(e)};
  const Slot& slot = space_.slots()[s];
  for (uint32_t c = 0; c < slot.candidates.size(); ++c) {
    if (slot.candidates[c].rel != content)
      clause.push_back(Pos(MaximalVar(s, c)));
  }
  if (!content.IsZero()) clause.push_back(Pos(NonePersistedVar(s)));
  solver_->AddClause(clause);
  return e;
}

std::vector<Literal> CoverSearch::OtherContent(
    const std::vector<uint32_t>& slots, const Resolution& checked) {
  std::vector<Literal> out;
  for (uint32_t s : slots) {
    const int32_t v = checked.slot_version[s];
    const Hash128 content =
        v >= 0 ? space_.slots()[s].candidates[v].rel : Hash128();
    out.push_back(Neg(ShowsVar(s, content)));
  }
  return out;
}

void CoverSearch::BlockCover(const std::vector<uint32_t>& slots,
                             const Resolution& checked) {
  solver_->AddClause(OtherContent(slots, checked));
}

void CoverSearch::BlockAssignment(const std::vector<uint8_t>& values) {
  std::vector<Literal> clause;
  for (uint32_t v = 0; v < values.size(); ++v) {
    clause.push_back(Literal{v, values[v] != 0});
  }
  solver_->AddClause(clause);
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> CoverSearch::Solve(
    const std::vector<Literal>& assume) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::optional<std::vector<uint8_t>>> r =
      solver_->Solve(static_cast<uint32_t>(space_.vars().size()), assume);
  solver_time_ += absl::Now() - start;
  ++solver_calls_;
  return r;
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> CoverSearch::Next() {
  return Solve({});
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> CoverSearch::NextOutside(
    const std::vector<uint32_t>& slots, const Resolution& pending) {
  // The guessed cover's clause holds only under the assumption `g`, which is
  // retired (made false for good) right after.
  const uint32_t g = solver_->NewVar();
  std::vector<Literal> clause = OtherContent(slots, pending);
  clause.push_back(Neg(g));
  solver_->AddClause(clause);
  absl::StatusOr<std::optional<std::vector<uint8_t>>> r = Solve({Pos(g)});
  solver_->AddClause({Neg(g)});
  if (!r.ok() || r->has_value()) return r;
  return Solve({});
}

}  // namespace crashenum
