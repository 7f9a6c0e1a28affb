// The oracles that let the kernel mount a crash image (DESIGN.md section 5):
// "xfs", "btrfs" and "mount:SCRIPT". Each mounts through RunInMountedImage
// (mount_runner.h): its own mount namespace, nothing left mounted whatever
// happens. All need root. Each judges device 0's image only: a trace of
// several devices is judged by its first (multi-device btrfs is not
// supported).
//
// "xfs": mounts the image (-t xfs -o nouuid), so that the kernel replays the
// log as it would after the crash, unmounts it, then checks it without
// repairing (`xfs_repair -n -f IMAGE`):
//   - the mount fails: FAIL "log recovery failed: <mount's output>";
//   - xfs_repair exits 0: PASS; 1: FAIL "xfs_repair -n: exit 1: <findings>";
//     any other exit: ERROR.
// "btrfs": the same with -t btrfs and `btrfs check --readonly IMAGE` (exit 0
// PASS, 1 FAIL with its findings, any other exit ERROR). Images of one btrfs
// trace share its fsid, which the kernel and btrfs check key devices by: the
// whole mount, unmount and check holds a BtrfsLock, so btrfs images are
// judged one at a time, in this process and across crashenum processes.
// "mount:SCRIPT": mounts the image with the type mount(8) detects (adding
// "nouuid" when `blkid -p` says xfs; btrfs images hold a BtrfsLock), runs
// SCRIPT with the mount point as its only argument and CRASHENUM_STATE=<state
// ID>, CRASHENUM_IMAGE=<image path>, CRASHENUM_MNT=<mount point> in its
// environment, then unmounts:
//   - the mount fails: FAIL "mount failed (the file system's own recovery
//     failed): <mount's output>";
//   - SCRIPT exits 0: PASS (ERROR if the unmount then fails); any other exit:
//     FAIL "exit N: <last lines of its output>".
// For all three: a timeout (of the whole sequence, OracleOptions::timeout), a
// signal, a failed unmount after a passing check, or a run that cannot start
// is ERROR with the tail of the output. Paths in messages read "{image}" and
// "{mnt}", loop devices "{loop}".
//
// Traits: xfs and btrfs judge metadata only; all three modify their image
// (log replay), need root and are deterministic (for mount:SCRIPT an
// assumption about the script: a verdict that depends on anything but the
// image makes reruns and shards disagree).
#ifndef CRASHENUM_ORACLES_INTERNAL_FS_ORACLES_H_
#define CRASHENUM_ORACLES_INTERNAL_FS_ORACLES_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {

// Makes the "xfs" oracle. Errors: Unavailable when xfs_repair (Debian package
// xfsprogs) or mount/umount (package mount) are missing; FailedPrecondition
// without root or without loop devices.
absl::StatusOr<std::unique_ptr<Oracle>> MakeXfsOracle(
    const OracleOptions& options);

// Makes the "btrfs" oracle. Errors: Unavailable when btrfs (Debian package
// btrfs-progs) or mount/umount (package mount) are missing;
// FailedPrecondition without root or without loop devices.
absl::StatusOr<std::unique_ptr<Oracle>> MakeBtrfsOracle(
    const OracleOptions& options);

// Makes the oracle for `spec` ("mount:" followed by `script`, a path).
// Errors: InvalidArgument when SCRIPT is empty, does not exist or is not an
// executable file; Unavailable when mount/umount (package mount) or blkid
// (package util-linux) are missing; FailedPrecondition without root or
// without loop devices.
absl::StatusOr<std::unique_ptr<Oracle>> MakeMountScriptOracle(
    absl::string_view spec, absl::string_view script,
    const OracleOptions& options);

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_FS_ORACLES_H_
