// Replacing a file atomically: trace writers, reports.
#ifndef CRASHENUM_CORE_REPLACE_FILE_H_
#define CRASHENUM_CORE_REPLACE_FILE_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace crashenum {

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

}  // namespace crashenum

#endif  // CRASHENUM_CORE_REPLACE_FILE_H_
