// Replacing a file atomically, for the trace writers.
#ifndef CRASHENUM_TRACES_INTERNAL_REPLACE_FILE_H_
#define CRASHENUM_TRACES_INTERNAL_REPLACE_FILE_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace crashenum {
namespace internal_traces {

// Creates a fresh, empty temporary file "PATH.tmp-XXXXXXXX" in path's
// directory (mode 0644 less the umask), calls `write` with its name, which
// must fill and sync it, renames it over `path` and syncs the directory. On
// any failure the temporary file is removed and `path` is untouched.
// Errors: those of `write`; the errno-derived code (absl::ErrnoToStatus)
// naming the file when the temporary file cannot be created or renamed.
// Thread-safe.
absl::Status ReplaceFile(
    const std::string& path,
    absl::FunctionRef<absl::Status(const std::string& tmp_path)> write);

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_REPLACE_FILE_H_
