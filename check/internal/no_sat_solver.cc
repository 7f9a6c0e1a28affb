// SatSolver in a build without Z3 (--define=crashenum_z3=off).
#include "absl/status/status.h"
#include "check/internal/sat_solver.h"

namespace crashenum {
namespace internal_check {

bool SatSolver::Available() { return false; }

void SatSolver::WarmUp() {}

bool SatSolver::Ready() { return true; }

absl::StatusOr<std::unique_ptr<SatSolver>> SatSolver::Create() {
  return absl::UnimplementedError(
      "this crashenum was built without Z3 (--define=crashenum_z3=off)");
}

}  // namespace internal_check
}  // namespace crashenum
