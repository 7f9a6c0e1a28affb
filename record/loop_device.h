// Attaches a file to a free loop device, through the loop driver's ioctls.
#ifndef CRASHENUM_RECORD_LOOP_DEVICE_H_
#define CRASHENUM_RECORD_LOOP_DEVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace crashenum {
namespace internal_record {

class LoopDevice {
 public:
  // Attaches `backing_path` (read-write, 512-byte logical blocks, the loop
  // driver's buffered mode) to a free /dev/loopN. Errors: FailedPrecondition
  // naming /dev/loop-control or the loop module when loop devices are not
  // available; the errno-derived code naming the path otherwise.
  static absl::StatusOr<std::unique_ptr<LoopDevice>> Attach(
      const std::string& backing_path);

  ~LoopDevice();  // Detach(), errors ignored

  const std::string& path() const { return path_; }  // "/dev/loop3"
  uint32_t major() const { return major_; }
  uint32_t minor() const { return minor_; }

  // Detaches the backing file (retrying while the device is still busy for a
  // short while). Idempotent.
  absl::Status Detach();

 private:
  LoopDevice() = default;
  std::string path_;
  int fd_ = -1;
  uint32_t major_ = 0;
  uint32_t minor_ = 0;
};

}  // namespace internal_record
}  // namespace crashenum

#endif  // CRASHENUM_RECORD_LOOP_DEVICE_H_
