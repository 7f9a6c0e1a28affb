// Runs a child process with a deadline and bounded output capture.
//
// The child runs in its own process group, with stdin from /dev/null and
// stdout and stderr both sent to one pipe. When the deadline passes, the whole
// group gets SIGTERM and, after a grace period, SIGKILL. When the child itself
// exits, whatever it left running in its group is killed. The child is always
// reaped before the call returns: no zombies, no stray processes in its group
// (a process that leaves the group with setsid() is beyond reach).
//
// On request the child is also isolated before it starts: a network namespace
// of its own (no network), a private mount namespace (new, or one held by a
// MountNamespace) and a private TMPDIR removed after the run.
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

// A build with AddressSanitizer or ThreadSanitizer: their runtimes reserve
// terabytes of address space and keep state in the libc calls they
// intercept, which a child process must not share.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif

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

  // Optional limits (bytes) for the child. max_file_size is the soft
  // RLIMIT_FSIZE (at most this process's hard limit, which the child keeps):
  // a write past it kills the child with SIGXFSZ, unless the child raised the
  // limit itself, as xfs_repair does. max_address_space is RLIMIT_AS, soft
  // and hard.
  std::optional<uint64_t> max_file_size;
  std::optional<uint64_t> max_address_space;

  // A network namespace for the child that no other running child of this
  // process shares (only a loopback interface, down, as made): namespaces are
  // made with unshare(CLONE_NEWNET), or without the privilege for that
  // unshare(CLONE_NEWUSER | CLONE_NEWNET) with no user mapped, and reused by
  // later runs once the child was reaped (making one per run costs the
  // kernel milliseconds). So what a child changes in it (bringing the
  // loopback up), or a process that left the child's group, is still there
  // for a later run. When none can be made the child runs in this process's
  // network namespace and SubprocessResult::network_isolated says so; the
  // run never fails for it.
  bool new_network_namespace = false;

  // A mount namespace of its own for the child: a copy of this process's in
  // which every mount is private, so that nothing the child mounts is seen
  // outside it, and all it mounted is detached when the last process in it
  // ends. Needs CAP_SYS_ADMIN: without it the run fails with Unavailable.
  bool new_mount_namespace = false;

  // When >= 0: the child joins this mount namespace (setns(2); see
  // MountNamespace) and starts in `working_directory`, or this process's
  // working directory, as seen there. Not with new_mount_namespace. Borrowed:
  // the descriptor must stay open until the call returns.
  int mount_namespace_fd = -1;

  // When not empty: a fresh directory made below this one for the run is the
  // child's TMPDIR (it wins over set_env); after the child was reaped it is
  // removed with everything in it, never descending into another file system
  // mounted below it (what lies there stays, and so does the directory).
  std::string private_tmp_parent;

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
  // new_network_namespace was asked for and the child got one.
  bool network_isolated = false;

  // Exited with status 0 within the deadline.
  bool ok() const { return !timed_out && exit_code == 0; }
};

// Runs argv[0] with arguments argv[1..]. argv[0] without a '/' is looked up in
// the PATH of the child's environment (else "/usr/bin:/bin").
// Returns the result for any way the child ends (non-zero exit, signal,
// timeout). Errors: InvalidArgument for an empty argv or a NUL byte in an
// argument, or both new_mount_namespace and mount_namespace_fd; Unavailable
// when argv[0] is not found or cannot be executed, or the working directory,
// a limit, the mount namespace or the private TMPDIR cannot be set up
// (message names which); Internal when pipes or fork fail.
// Thread-safe: may be called concurrently (as long as no thread changes this
// process's environment meanwhile); blocks the calling thread only.
absl::StatusOr<SubprocessResult> RunSubprocess(
    const std::vector<std::string>& argv, const SubprocessOptions& options);

// Runs `command` with "/bin/sh -c". Same contract as RunSubprocess.
absl::StatusOr<SubprocessResult> RunShellCommand(
    absl::string_view command, const SubprocessOptions& options);

// A mount namespace of its own, held open by a file descriptor: a copy of
// this process's mount namespace in which every mount is private. Children
// join it with SubprocessOptions::mount_namespace_fd; what they mount there is
// never seen outside it. The kernel detaches everything mounted in it once
// nothing holds it any more: neither this object nor a process inside it (a
// kill or crash of this process closes the descriptor too).
// Movable, not copyable; a moved-from object holds nothing.
class MountNamespace {
 public:
  // Makes one (with a short-lived helper process). Errors: Unavailable naming
  // why when it cannot be made (no CAP_SYS_ADMIN); Internal when pipes, fork
  // or the helper fail.
  static absl::StatusOr<MountNamespace> Create();

  MountNamespace(MountNamespace&& other) noexcept;
  MountNamespace& operator=(MountNamespace&& other) noexcept;
  MountNamespace(const MountNamespace&) = delete;
  MountNamespace& operator=(const MountNamespace&) = delete;
  // Closes the descriptor (see above for when its mounts go).
  ~MountNamespace();

  // The descriptor (O_CLOEXEC), owned by this object; -1 once moved from.
  int fd() const { return fd_; }

 private:
  explicit MountNamespace(int fd) : fd_(fd) {}
  int fd_ = -1;
};

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
