// The isolation every external process an oracle starts gets, in one place.
#ifndef CRASHENUM_ORACLES_INTERNAL_ISOLATION_H_
#define CRASHENUM_ORACLES_INTERNAL_ISOLATION_H_

#include "oracles/internal/subprocess.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {

// The SubprocessOptions an oracle runs a tool or a user's command with: its
// own process group (always), `options.timeout` (callers that share one
// deadline between several runs lower it), RLIMIT_AS from max_memory_bytes
// and the soft RLIMIT_FSIZE from max_file_size_bytes (0: no limit), a new
// network namespace when isolate_network (without one when it cannot be
// made), and a private TMPDIR below scratch_dir, removed after the run.
// Everything else keeps RunSubprocess's defaults: callers add the
// environment.
SubprocessOptions IsolatedOptions(const OracleOptions& options);

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_ISOLATION_H_
