// Copies files without filling their holes.
#ifndef CRASHENUM_CORE_SPARSE_FILE_H_
#define CRASHENUM_CORE_SPARSE_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crashenum {

// Writes `dst` as a new file (mode 0644; an existing one is unlinked first, so
// whoever has it open keeps the old contents) with the size and content of
// the open file `src_fd` (named `src_name` in errors), copying only its data
// ranges (SEEK_DATA/SEEK_HOLE), so holes stay holes. Reads with pread: the
// file offset of `src_fd` is not used. Errors: ResourceExhausted for a full
// disk or a file-size limit, Internal for other I/O errors; each names the
// path and the errno text.
absl::Status CopySparse(int src_fd, absl::string_view src_name,
                        const std::string& dst);

// The same for a source given by path. Errors also: NotFound when `src` does
// not exist.
absl::Status CopySparseFile(const std::string& src, const std::string& dst);

}  // namespace crashenum

#endif  // CRASHENUM_CORE_SPARSE_FILE_H_
