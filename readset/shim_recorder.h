// The ReadRecorder of `check --prune=readset`: every oracle process runs
// with the LD_PRELOAD shim, which writes its record into a directory per
// worker; End() reads them back as units.
#ifndef CRASHENUM_READSET_SHIM_RECORDER_H_
#define CRASHENUM_READSET_SHIM_RECORDER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "check/checker.h"

namespace crashenum {

class ShimReadRecorder : public ReadRecorder {
 public:
  // `shim` is the path of libcrashenum_readset.so; worker directories are
  // made below `work_dir` (which must exist). Errors: NotFound when the shim
  // is not there.
  static absl::StatusOr<std::unique_ptr<ShimReadRecorder>> Create(
      const std::string& shim, const std::string& work_dir);

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Begin(
      int worker, const std::vector<std::string>& image_paths) override;
  absl::StatusOr<std::vector<std::pair<uint32_t, uint64_t>>> End(
      int worker, const std::vector<uint32_t>& unit_bytes,
      bool* everything) override;

 private:
  ShimReadRecorder(std::string shim, std::string work_dir)
      : shim_(std::move(shim)), work_dir_(std::move(work_dir)) {}
  std::string Dir(int worker) const;
  const std::string shim_;
  const std::string work_dir_;
};

// The shim next to the running binary (installed layout) or in its Bazel
// runfiles; "" when neither exists.
std::string FindReadSetShim();

}  // namespace crashenum

#endif  // CRASHENUM_READSET_SHIM_RECORDER_H_
