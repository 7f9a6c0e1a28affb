// A disk served over FUSE: a private FUSE mount holding two files,
//
//   disk  the disk's bytes, `size` long. Every write, fsync and hole punch
//         reaches a DiskObserver on arrival and again just before the reply,
//         so concurrent requests keep their overlap. Reads are served from
//         memory and not reported.
//   mark  a control file: each line written to it is reported as a mark, in
//         order with the disk's I/O (the write reaches the server before the
//         writer's write(2) returns).
//
// Both files are opened with FUSE direct I/O, so the kernel sends each write
// as it is issued (no page cache between the loop device and the server). The
// server runs several threads.
#ifndef CRASHENUM_RECORD_FUSE_DISK_H_
#define CRASHENUM_RECORD_FUSE_DISK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crashenum {
namespace internal_record {

// Receives the disk's requests. Called from the server's threads
// concurrently: implementations synchronise themselves. Each Begin* returns a
// token passed to End once the request is done (status 0 or a negative
// errno), before the reply is sent.
class DiskObserver {
 public:
  virtual ~DiskObserver() = default;
  virtual uint64_t BeginWrite(uint64_t offset, absl::string_view data) = 0;
  virtual uint64_t BeginFlush() = 0;
  virtual uint64_t BeginDiscard(uint64_t offset, uint64_t length) = 0;
  virtual void End(uint64_t token, int status) = 0;
  // A complete line written to the mark file, without its newline.
  virtual void Mark(absl::string_view label) = 0;
};

class FuseDisk {
 public:
  // Mounts the FUSE file system on the empty directory `mount_dir` and starts
  // serving. Errors: FailedPrecondition naming /dev/fuse when it is missing
  // or cannot be opened; Internal when the session cannot start.
  static absl::StatusOr<std::unique_ptr<FuseDisk>> Start(
      const std::string& mount_dir, uint64_t size, DiskObserver* observer);

  ~FuseDisk();  // Stop()

  std::string disk_path() const { return mount_dir_ + "/disk"; }
  std::string mark_path() const { return mount_dir_ + "/mark"; }

  // Unmounts and joins the server threads. Idempotent. Files still open on
  // the mount (a loop device still attached) make the unmount lazy.
  void Stop();

  // Requests that failed because they were malformed (unaligned or past the
  // end); each was answered with EIO.
  uint64_t rejected_requests() const;

  struct State;  // the server's state, shared with its callbacks

 private:
  FuseDisk() = default;
  std::string mount_dir_;
  std::unique_ptr<State> state_;
};

}  // namespace internal_record
}  // namespace crashenum

#endif  // CRASHENUM_RECORD_FUSE_DISK_H_
