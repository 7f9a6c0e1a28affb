// The "plugin:PATH[:ARGS]" oracle (DESIGN.md section 5): a shared library
// that exports the C ABI of oracles/crashenum_plugin.h.
//
// PATH (which cannot hold ':') is loaded once with dlopen(RTLD_NOW |
// RTLD_LOCAL), and the plugin's create() gets ARGS (everything after the
// second ':', "" when absent) once, in this process. Each Check() forks a
// child that calls the plugin's check() and reports the verdict through a
// pipe: a plugin can neither hang nor crash crashenum. The child has its own
// process group, stdin from /dev/null, stdout and stderr captured, a private
// scratch directory below OracleOptions::scratch_dir as working directory
// and TMPDIR (removed after the check), the RLIMIT_AS and RLIMIT_FSIZE limits
// of the options (no RLIMIT_AS in sanitizer builds, whose shadow memory needs
// far more address space) and, with isolate_network, a new network namespace
// when one can be made.
//
// Verdicts: the plugin's PASS, FAIL (its message) or ERROR (its message).
// ERROR also for: a timeout ("timed out after 1s", the process group is
// killed), a signal ("killed by signal 11 (SIGSEGV)"), a child that exits
// without a verdict, or a return value that is no verdict; these carry the
// last lines of the plugin's output.
//
// Traits are the plugin's flags (deterministic unless it says
// CRASHENUM_TRAIT_NONDETERMINISTIC).
#ifndef CRASHENUM_ORACLES_INTERNAL_PLUGIN_ORACLE_H_
#define CRASHENUM_ORACLES_INTERNAL_PLUGIN_ORACLE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {

// Makes the oracle for `spec` ("plugin:" followed by `path_and_args`, i.e.
// "PATH[:ARGS]"). Errors, each naming the spec: InvalidArgument for an empty
// PATH, a library dlopen cannot load or one without
// crashenum_oracle_plugin_v1 (with dlerror()'s text), a plugin whose
// abi_version is not CRASHENUM_ORACLE_PLUGIN_ABI_VERSION or that lacks
// create() or check(), and a create() that fails (with its error text);
// FailedPrecondition for a plugin that needs root when this process is not
// root.
absl::StatusOr<std::unique_ptr<Oracle>> MakePluginOracle(
    absl::string_view spec, absl::string_view path_and_args,
    const OracleOptions& options);

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_PLUGIN_ORACLE_H_
