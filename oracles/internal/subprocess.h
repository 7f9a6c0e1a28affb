// Runs a child process with a deadline and bounded output capture.
//
// The child runs in its own process group, with stdin from /dev/null and
// stdout and stderr both sent to one pipe. When the deadline passes, the whole
// group gets SIGTERM and, after a grace period, SIGKILL. When the child itself
// exits, whatever it left running in its group is killed. The child is always
// reaped before the call returns: no zombies, no stray processes in its group
// (a process that leaves the group with setsid() is beyond reach).
#ifndef CRASHENUM_ORACLES_INTERNAL_SUBPROCESS_H_
#define CRASHENUM_ORACLES_INTERNAL_SUBPROCESS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace crashenum {
namespace internal_oracles {

struct SubprocessOptions {
  // Past this the process group is terminated and the result is timed_out.
  absl::Duration timeout = absl::InfiniteDuration();
  // Time between SIGTERM and SIGKILL after a timeout; also how long output is
  // still drained after the group was killed.
  absl::Duration kill_grace = absl::Milliseconds(500);

  // The child's environment: this process's environment (when
  // inherit_environment), minus `unset_env`, plus `set_env` (which wins).
  bool inherit_environment = true;
  std::vector<std::pair<std::string, std::string>> set_env;
  std::vector<std::string> unset_env;

  // Directory the child starts in; empty means this process's.
  std::string working_directory;

  // Optional RLIMIT_FSIZE and RLIMIT_AS (bytes) for the child.
  std::optional<uint64_t> max_file_size;
  std::optional<uint64_t> max_address_space;

  // Output kept: the first `output_head_bytes` and the last
  // `output_tail_bytes`; what lies between is dropped, never buffered.
  size_t output_head_bytes = 8192;
  size_t output_tail_bytes = 8192;
};

struct SubprocessResult {
  int pid = 0;  // the child's pid, also its process group id (reaped)
  // Exactly one of these describes how the child ended: exit_code >= 0 if it
  // exited, term_signal > 0 if a signal killed it.
  int exit_code = -1;
  int term_signal = 0;
  // The deadline passed and the group was killed (term_signal then usually
  // names SIGTERM or SIGKILL).
  bool timed_out = false;
  // stdout and stderr interleaved. When more than head + tail bytes were
  // written, `output` is head + "\n[... N bytes omitted ...]\n" + tail.
  std::string output;
  uint64_t output_bytes = 0;  // total bytes written, kept or not
  absl::Duration elapsed;

  // Exited with status 0 within the deadline.
  bool ok() const { return !timed_out && exit_code == 0; }
};

// Runs argv[0] with arguments argv[1..]. argv[0] without a '/' is looked up in
// the PATH of the child's environment (else "/usr/bin:/bin").
// Returns the result for any way the child ends (non-zero exit, signal,
// timeout). Errors: InvalidArgument for an empty argv or a NUL byte in an
// argument; Unavailable when argv[0] is not found or cannot be executed, or
// the working directory or a limit cannot be set up (message names which);
// Internal when pipes or fork fail.
// Thread-safe: may be called concurrently (as long as no thread changes this
// process's environment meanwhile); blocks the calling thread only.
absl::StatusOr<SubprocessResult> RunSubprocess(
    const std::vector<std::string>& argv, const SubprocessOptions& options);

// Runs `command` with "/bin/sh -c". Same contract as RunSubprocess.
absl::StatusOr<SubprocessResult> RunShellCommand(
    absl::string_view command, const SubprocessOptions& options);

// "SIGSEGV" for 11, etc.; "SIG<n>" for signals without a name.
std::string SignalName(int signal);

// The path of the executable regular file `name` in the directories of this
// process's PATH, then in `extra_dirs`; `name` itself if it contains a '/'
// and is executable. Errors: Unavailable when there is none.
absl::StatusOr<std::string> FindProgram(
    absl::string_view name, const std::vector<std::string>& extra_dirs = {});

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_SUBPROCESS_H_
