// Keeps copies of failing crash images (check --keep-failing=DIR).
#ifndef CRASHENUM_CHECK_KEEP_FAILING_H_
#define CRASHENUM_CHECK_KEEP_FAILING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/crash_state.h"
#include "core/hash128.h"

namespace crashenum {

struct KeepFailingOptions {
  std::string dir;        // created if missing (one level)
  bool compress = false;  // gzip each image (IMAGE.img.gz)
};

// Saves the image of one failing state into its own directory
// DIR/e<event>-<first 16 hex digits of the image hash>/: one sparse file
// <device>.img per device (or <device>.img.gz), copied from `image_paths`,
// and README.md holding `readme`. Directory names depend only on the state,
// so reruns replace their own files. Thread-safe for distinct states.
// Returns the directory. Errors: ResourceExhausted for a full disk (naming
// the file), Internal for other I/O errors, Unavailable when gzip is needed
// and missing or fails.
absl::StatusOr<std::string> KeepFailingImage(
    const KeepFailingOptions& options, const StateId& state,
    const Hash128& image, const std::vector<std::string>& device_names,
    const std::vector<std::string>& image_paths, const std::string& readme);

}  // namespace crashenum

#endif  // CRASHENUM_CHECK_KEEP_FAILING_H_
