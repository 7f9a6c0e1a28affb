// Flags and set-up shared by the crashenum verbs.
#ifndef CRASHENUM_CLI_COMMON_H_
#define CRASHENUM_CLI_COMMON_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "check/checker.h"
#include "cli/flags.h"
#include "core/crash_state.h"
#include "core/trace.h"
#include "enumerator/state_space.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_cli {

// Exit codes (DESIGN.md 8).
inline constexpr int kExitOk = 0;
inline constexpr int kExitViolations = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInfrastructure = 3;

// Exit code for a failed Status: bad usage or input is 2, anything else
// (missing tools, I/O, oracle infrastructure) is 3.
int ExitCodeFor(const absl::Status& status);

// Flags that shape how a trace is read and modelled, and crash points.
void DefineTraceFlags(Flags& flags);
void DefineModelFlags(Flags& flags);
void DefineEnumerateFlags(Flags& flags);

// Names of the flags a repro command must repeat to rebuild a state.
const std::vector<std::string>& ModelFlagNames();

// Reads the trace named by the single positional argument. Errors:
// InvalidArgument for usage; the reader's errors.
absl::StatusOr<Trace> OpenTraceFromFlags(const Flags& flags,
                                         std::string* notes);

// Prints `notes` (lines ending in '\n', as ReadTrace gives them) to `out`,
// each line prefixed with "note: ".
void PrintNotes(std::FILE* out, const std::string& notes);

// Fills the model, crash point and enumeration parts of CheckOptions.
absl::Status OptionsFromFlags(const Flags& flags, CheckOptions* options);

// One crash state named by --state, resolved against its crash point.
struct ResolvedState {
  StateId id;
  std::unique_ptr<UnitHashes> hashes;
  std::unique_ptr<StateSpace> space;  // refers to *hashes
  Resolution resolution;
};

// Parses --state and resolves it under `model`; the ID's unit size is used
// unless --atomic-unit was given. `trace` must outlive the result. Errors:
// InvalidArgument for a malformed ID or one that is not a state of `trace`.
absl::StatusOr<ResolvedState> ResolveStateFromFlags(const Flags& flags,
                                                    const Trace& trace,
                                                    ModelOptions model);

// --oracle and the limits every oracle run gets: --oracle-timeout,
// --oracle-memory, --oracle-file-size, --oracle-network.
void DefineOracleFlags(Flags& flags);

// The OracleOptions those flags give, for judging states of `trace` (which
// must outlive the oracle) with scratch files in `scratch_dir`. Errors:
// InvalidArgument naming a malformed flag.
absl::StatusOr<OracleOptions> OracleOptionsFromFlags(
    const Flags& flags, const Trace& trace, const std::string& scratch_dir);

// "reads metadata only, may modify its image, needs root, deterministic".
std::string DescribeTraits(const OracleTraits& traits);

// $TMPDIR, else /tmp: the default parent of work directories.
std::string DefaultTmpDir();

// The free bytes of `dir` when it is a tmpfs this process may write, else
// -1.
long double WritableTmpfsFreeBytes(const char* dir);

// The default parent of a check's work directory, whose images take at most
// `bytes`: /dev/shm when it is a tmpfs this process may write with four
// times that free (images in memory are copied and checked without
// writeback), else DefaultTmpDir().
std::string DefaultWorkParent(uint64_t bytes);

// A private directory made below a parent, removed with everything in it
// when the object goes. Move-only.
class ScratchDir {
 public:
  // Errors: Unavailable naming `parent` and the errno text.
  static absl::StatusOr<ScratchDir> Create(const std::string& parent);
  ScratchDir(ScratchDir&& o) : path_(std::move(o.path_)) { o.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Quotes `s` for a POSIX shell when needed.
std::string ShellQuote(const std::string& s);

// The command that judges state `id` again with the same oracle, its limits
// and the model flags.
std::string CheckStateCommand(const Flags& flags, const std::string& trace,
                              const std::string& id);

// The command that rebuilds state `id` as an image file.
std::string MaterializeCommand(const Flags& flags, const std::string& trace,
                               const std::string& id);

}  // namespace internal_cli
}  // namespace crashenum

#endif  // CRASHENUM_CLI_COMMON_H_
