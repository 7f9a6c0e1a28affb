#include "check/keep_failing.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/sparse_file.h"
#include "core/status_macros.h"
#include "oracles/internal/subprocess.h"

namespace crashenum {
namespace {

absl::Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) {
    return absl::OkStatus();
  }
  const int err = errno;
  std::string msg = absl::StrCat("cannot create ", dir, ": ", std::strerror(err));
  return err == ENOSPC || err == EDQUOT ? absl::ResourceExhaustedError(msg)
                                        : absl::InternalError(msg);
}

absl::Status Gzip(const std::string& path) {
  internal_oracles::SubprocessOptions o;
  o.timeout = absl::Minutes(30);
  ASSIGN_OR_RETURN(internal_oracles::SubprocessResult r,
                   internal_oracles::RunSubprocess(
                       {"gzip", "-1", "-n", "-f", "--", path}, o));
  if (!r.ok()) {
    return absl::UnavailableError(
        absl::StrCat("gzip ", path, " failed: ", r.output));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> KeepFailingImage(
    const KeepFailingOptions& options, const StateId& state,
    const Hash128& image, const std::vector<std::string>& device_names,
    const std::vector<std::string>& image_paths, const std::string& readme) {
  if (device_names.size() != image_paths.size()) {
    return absl::InvalidArgumentError("KeepFailingImage: path count mismatch");
  }
  RETURN_IF_ERROR(MakeDir(options.dir));
  const std::string dir = absl::StrCat(options.dir, "/e", state.event, "-",
                                       image.ToHex().substr(0, 16));
  RETURN_IF_ERROR(MakeDir(dir));
  for (size_t d = 0; d < image_paths.size(); ++d) {
    const std::string out = absl::StrCat(dir, "/", device_names[d], ".img");
    RETURN_IF_ERROR(CopySparseFile(image_paths[d], out));
    if (options.compress) RETURN_IF_ERROR(Gzip(out));
  }
  const std::string readme_path = dir + "/README.md";
  std::ofstream out(readme_path, std::ios::trunc);
  out << readme;
  out.close();
  if (!out) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot write ", readme_path));
  }
  return dir;
}

}  // namespace crashenum
