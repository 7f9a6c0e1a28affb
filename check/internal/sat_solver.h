// An incremental boolean satisfiability solver for the covering search of
// read-set pruning (DESIGN.md 3): variables, clauses, and a model of all
// clauses added so far. The only implementation is Z3's; a build without Z3
// (`--define=crashenum_z3=off`) gets one whose Create() fails.
//
// This is the one place Z3 is used: every Z3 exception is caught here and
// becomes a Status.
#ifndef CRASHENUM_CHECK_INTERNAL_SAT_SOLVER_H_
#define CRASHENUM_CHECK_INTERNAL_SAT_SOLVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"

namespace crashenum {
namespace internal_check {

// A literal: variable `var` (as NewVar returned it), negated or not.
struct Literal {
  uint32_t var = 0;
  bool negated = false;
};
inline Literal Pos(uint32_t v) { return Literal{v, false}; }
inline Literal Neg(uint32_t v) { return Literal{v, true}; }

// The solvers made on one thread may share state (for Z3, a context): use
// each, and destroy it, on the thread that made it.
class SatSolver {
 public:
  // True when this build has a solver (Z3).
  static bool Available();
  // Errors: Unimplemented in a build without Z3; Internal when Z3 fails to
  // start.
  static absl::StatusOr<std::unique_ptr<SatSolver>> Create();
  // Pays the solver library's one-time costs (for Z3, a context to reuse)
  // now. Thread-safe; a Create() at the same time waits for it rather than
  // paying them again. Errors are left for Create() to report.
  static void WarmUp();
  // False when a Create() now would wait for a WarmUp() under way.
  static bool Ready();
  virtual ~SatSolver() = default;

  // A fresh variable.
  virtual uint32_t NewVar() = 0;
  // Adds the disjunction of `clause`; an empty clause makes the problem
  // unsatisfiable. Literals must name variables NewVar returned.
  virtual void AddClause(const std::vector<Literal>& clause) = 0;
  // The values of variables [0, num_vars) in a model of every clause added
  // and every literal of `assume` (for this call only), or nullopt when
  // there is none. Errors: Internal when the solver gives up (unknown) or
  // fails, with its reason.
  virtual absl::StatusOr<std::optional<std::vector<uint8_t>>> Solve(
      uint32_t num_vars, const std::vector<Literal>& assume = {}) = 0;
};

}  // namespace internal_check
}  // namespace crashenum

#endif  // CRASHENUM_CHECK_INTERNAL_SAT_SOLVER_H_
