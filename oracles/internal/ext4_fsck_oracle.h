// The "ext4-fsck" oracle (DESIGN.md section 5): judges device 0's image with
// e2fsck, as a mount after the crash would see it.
//
// Check() first replays the journal as mount would
// (`e2fsck -E journal_only -y IMAGE`, which modifies the private image), then
// checks without repairing (`e2fsck -fn IMAGE`):
//   - replay exits non-zero: FAIL "journal replay failed (exit N ...): ...".
//     Its only normal exit is 0; anything else means the journal or the
//     superblock is damaged (e2fsck then falls back to a full repair, which
//     would hide the damage from the second run);
//   - check exits 0: PASS; any other exit (4: errors left uncorrected, 8: not
//     a recognizable ext2/3/4 filesystem, ...): FAIL with the first meaningful
//     lines of e2fsck's output;
//   - a timeout or signal in either run, or an image that cannot be
//     accessed: ERROR.
// The verdict and its message do not depend on the wall clock, the time zone,
// the locale, /etc/e2fsck.conf or the image's path: e2fsck runs with a fixed
// environment (LANG=C, TZ=UTC, E2FSCK_TIME fixed, E2FSCK_CONFIG pointing at a
// private file with broken_system_clock = 1), and the path is shown as
// "{image}".
//
// Traits: metadata only, mutates its image, needs no root, deterministic.
#ifndef CRASHENUM_ORACLES_INTERNAL_EXT4_FSCK_ORACLE_H_
#define CRASHENUM_ORACLES_INTERNAL_EXT4_FSCK_ORACLE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {

// Makes the oracle. Writes its e2fsck configuration file into
// options.scratch_dir; the oracle deletes it when destroyed.
// Errors: Unavailable when e2fsck is in none of PATH, /sbin and /usr/sbin;
// InvalidArgument when the configuration file cannot be written to
// options.scratch_dir.
absl::StatusOr<std::unique_ptr<Oracle>> MakeExt4FsckOracle(
    const OracleOptions& options);

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_EXT4_FSCK_ORACLE_H_
