// The "durability" oracle (DESIGN.md section 5): checks that what the
// workload acknowledged durable before the crash is in the crash image.
//
// The workload states what it made durable with durability marks (see
// durability_marks.h; `crashenum mark --durable ...` writes them). For a
// crash state, the oracle folds the marks before the crash into the expected
// state; with nothing expected it is PASS without mounting. Otherwise it
// mounts device 0's image read-write (the kernel replays the file system's
// log, as after a real crash; the type is detected) in a private mount and
// network namespace, and a /bin/sh script checks each expectation with
// coreutils (test, sha256sum) below the mount point.
//
// Verdicts: PASS when every expectation holds. FAIL when the image does not
// mount ("mount failed (recovery failed): ...") or, one line per violated
// expectation, e.g.
//   fsync'd a.txt: content 9f86d0... expected e3b0c4...
//   renamed a.tmp -> a: a missing
//   unlinked b: still present
// (at most 20 lines, then "(N more)"). ERROR for a timeout, a signal, or a
// script or mount helper that could not run.
//
// Traits: reads everything, mutates its image (a read-write mount), needs
// root, deterministic.
#ifndef CRASHENUM_ORACLES_INTERNAL_DURABILITY_ORACLE_H_
#define CRASHENUM_ORACLES_INTERNAL_DURABILITY_ORACLE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "oracles/internal/durability_marks.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {

// Makes the oracle for the durability marks of options.trace (which must
// outlive it). Errors: InvalidArgument when options.trace is null, or for a
// malformed durability mark (naming its index, event and text);
// FailedPrecondition when the trace has no durability mark (saying how to
// write them) or this process is not root.
absl::StatusOr<std::unique_ptr<Oracle>> MakeDurabilityOracle(
    const OracleOptions& options);

// The /bin/sh script that checks `expected` below the directory given as its
// first argument: it prints one line per violated expectation (see above)
// and exits 1 if there is any, 0 if none, 2 if it cannot enter the
// directory. Paths are single-quoted; the script changes nothing.
std::string DurabilityCheckScript(const ExpectedState& expected);

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_DURABILITY_ORACLE_H_
