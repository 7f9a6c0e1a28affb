// The "exec:CMD" oracle (DESIGN.md section 5): runs a shell command on the
// images of a crash state.
//
// CMD runs with /bin/sh -c, in this process's working directory and
// environment, plus CRASHENUM_STATE=<state ID text>,
// CRASHENUM_IMAGE=<path of device 0's image> and the ImageSet's env, isolated
// as every oracle process is (internal/isolation.h: own process group,
// timeout, memory and file-size limits, new network namespace, private
// TMPDIR). In CMD, every "{image}" becomes
// the shell-quoted path of device 0's image and every "{image:NAME}" that of
// the device named NAME; other braces are left alone.
//
// Exit 0 is PASS; any other exit is FAIL "exit N: <last lines of output>"; a
// timeout ("timed out after 60s: ...") or a signal ("killed by signal 11
// (SIGSEGV): ...") is ERROR, as is an {image:NAME} naming no device of the
// state. Image paths in the output are shown as "{image}" / "{image:NAME}".
//
// Traits: reads everything (through files), may modify its images, needs no
// root. The
// command is assumed deterministic (its verdict depends only on the image
// bytes); an oracle that is not makes reruns and shards disagree.
#ifndef CRASHENUM_ORACLES_INTERNAL_EXEC_ORACLE_H_
#define CRASHENUM_ORACLES_INTERNAL_EXEC_ORACLE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {

// Makes the oracle for `spec` ("exec:" followed by `command`).
// Errors: InvalidArgument for an empty command, an unterminated
// "{image:" or an empty device name in "{image:}".
absl::StatusOr<std::unique_ptr<Oracle>> MakeExecOracle(
    absl::string_view spec, absl::string_view command,
    const OracleOptions& options);

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_EXEC_ORACLE_H_
