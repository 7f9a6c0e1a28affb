// Runs a command on a crash image mounted by the kernel, leaving no mount
// behind whatever happens.
//
// Each run has a mount namespace of its own (see MountNamespace): the image
// is loop-mounted there, on a fresh directory below OracleOptions::scratch_dir,
// and nothing outside the namespace ever sees the mount. The namespace is held
// by this process and by the processes inside it; once neither holds it the
// kernel detaches the mount and the loop device (mount's "loop" option sets
// autoclear), so a kill or crash of anything leaves nothing mounted.
//
// Images of one trace share their file system's UUID. xfs refuses a second
// mount of the same UUID unless mounted with "nouuid": RunInMountedImage adds
// it to every xfs mount (fs_type "xfs", or "" and an xfs superblock). btrfs
// keeps a kernel-wide registry of devices by file-system id (fsid), so two
// images of one btrfs trace must never be mounted or checked at the same
// time, in this process or another: every btrfs run holds a BtrfsLock.
#ifndef CRASHENUM_ORACLES_INTERNAL_MOUNT_RUNNER_H_
#define CRASHENUM_ORACLES_INTERNAL_MOUNT_RUNNER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "oracles/internal/subprocess.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {

struct MountRunOptions {
  std::string fs_type;  // "" lets mount(8) detect it
  // Extra -o options, e.g. "nouuid"; "loop" is always added.
  std::string mount_options;
  // mount -o ro (no log replay: a file system whose log needs replaying may
  // then refuse to mount). The default, rw, lets the kernel replay its log.
  bool read_only = false;
  // Environment for the command (added to the oracle's environment).
  std::vector<std::pair<std::string, std::string>> env;
};

struct MountRunResult {
  bool mounted = false;                     // the mount succeeded
  std::string mount_output;                 // mount(8)'s output when it failed
  std::optional<SubprocessResult> command;  // set when the command ran
  bool unmounted = false;  // the unmount after the command succeeded
  std::string unmount_output;
};

// In a private mount namespace (and, with limits.isolate_network, network
// namespace for the command): loop-mounts `image` on a fresh private
// directory, runs `argv` with the mount point appended as the last argument
// (empty argv: only mount and unmount), then unmounts.
//
// mount(8) and umount(8) run with a fixed environment (LANG=C); the command
// runs with IsolatedOptions(limits), this process's environment plus
// `options.env` plus CRASHENUM_MNT=<mount point>, in this process's working
// directory. In every output the mount point reads "{mnt}" and a loop device
// "{loop}". `limits.timeout` bounds the whole sequence: a timeout in mount is
// mounted=false with mount_output "timed out after ...", a timeout of the
// command is command->timed_out (the unmount is then not attempted: the mount
// goes with its namespace), a timeout in umount is unmounted=false with
// unmount_output "timed out after ...". A btrfs image (fs_type "btrfs", or
// "" and a btrfs superblock) is run under a BtrfsLock, whose wait does not
// count against the timeout.
//
// Needs root. Errors: FailedPrecondition without root (or CAP_SYS_ADMIN) or
// without loop devices; Unavailable when mount/umount are missing, when mount
// cannot set up a loop device, when the command cannot be started, or the
// private directory or namespace cannot be made; DeadlineExceeded when the
// BtrfsLock is not obtained. Thread-safe.
absl::StatusOr<MountRunResult> RunInMountedImage(
    const std::string& image, const MountRunOptions& options,
    const std::vector<std::string>& argv, const OracleOptions& limits);

// True when this process may mount: it has CAP_SYS_ADMIN (root has).
bool HasMountPrivilege();

// True when `image` starts with a btrfs superblock (its magic at 64 KiB).
bool IsBtrfsImage(const std::string& image);

// Serializes, across the threads of this process and across crashenum
// processes, everything that mounts or checks a btrfs image (see the top of
// this file). The calling thread holds it while the object lives. Taking it
// on a thread that already holds it is a no-op, so a caller may hold it
// across RunInMountedImage and its own check of the same image. Across
// processes it is an flock(2) on LockFilePath(). Neither copyable nor
// movable; must be destroyed on the thread that made it.
class BtrfsLock {
 public:
  // How long past an oracle's timeout its callers wait for the lock.
  static constexpr absl::Duration kPatience = absl::Minutes(10);

  // Waits for the lock until `deadline`.
  explicit BtrfsLock(absl::Time deadline);
  BtrfsLock(const BtrfsLock&) = delete;
  BtrfsLock& operator=(const BtrfsLock&) = delete;
  // Releases the lock when this object took it.
  ~BtrfsLock();

  // OK when this thread holds the lock; DeadlineExceeded when it was not
  // obtained by the deadline (the message says whether another process
  // holds it); Unavailable when the lock file cannot be opened.
  const absl::Status& status() const { return status_; }

  // "/run/lock/crashenum-btrfs.lock", or "/tmp/crashenum-btrfs.lock" on a
  // system without /run/lock.
  static std::string LockFilePath();

 private:
  void ReleaseInProcess();

  absl::Status status_;
  bool nested_ = false;  // the thread held it already
  bool held_ = false;    // this object took it
  int fd_ = -1;
};

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_MOUNT_RUNNER_H_
