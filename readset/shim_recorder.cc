#include "readset/shim_recorder.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "readset/read_set.h"

namespace crashenum {

absl::StatusOr<std::unique_ptr<ShimReadRecorder>> ShimReadRecorder::Create(
    const std::string& shim, const std::string& work_dir) {
  if (::access(shim.c_str(), R_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("the read-set shim ", shim, " is not there"));
  }
  return std::unique_ptr<ShimReadRecorder>(
      new ShimReadRecorder(shim, work_dir));
}

std::string ShimReadRecorder::Dir(int worker) const {
  return absl::StrCat(work_dir_, "/readset-", worker);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ShimReadRecorder::Begin(int worker, const std::vector<std::string>& paths) {
  const std::string dir = Dir(worker);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!std::filesystem::create_directory(dir, ec)) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  return ShimEnvironment(shim_, paths, dir);
}

absl::StatusOr<std::vector<std::pair<uint32_t, uint64_t>>>
ShimReadRecorder::End(int worker, const std::vector<uint32_t>& unit_bytes,
                      bool* everything) {
  absl::StatusOr<ReadSet> rs = LoadReadSet(Dir(worker), unit_bytes.size());
  if (!rs.ok()) return rs.status();
  *everything = rs->whole;
  std::vector<std::pair<uint32_t, uint64_t>> units;
  if (rs->whole) return units;
  for (uint32_t d = 0; d < unit_bytes.size(); ++d) {
    for (uint64_t u : UnitsOf(*rs, d, unit_bytes[d])) units.push_back({d, u});
  }
  return units;
}

std::string FindReadSetShim() {
  std::error_code ec;
  const std::filesystem::path exe =
      std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const std::filesystem::path dir = exe.parent_path();
  for (const std::filesystem::path& p :
       {dir / "libcrashenum_readset.so",
        dir / (exe.filename().string() + ".runfiles") / "crashenum" /
            "readset" / "libcrashenum_readset.so",
        dir.parent_path() / "readset" / "libcrashenum_readset.so"}) {
    if (std::filesystem::exists(p, ec)) return p.string();
  }
  return "";
}

}  // namespace crashenum
