#include "core/replace_file.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crashenum {
namespace {

// The directory part of `path`, "." when it has none.
std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A suffix that differs between calls, threads and processes.
std::string Suffix() {
  static std::atomic<uint64_t> counter{0};
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  uint64_t x = (static_cast<uint64_t>(::getpid()) << 40) ^
               (counter.fetch_add(1) << 20) ^
               static_cast<uint64_t>(now.tv_nsec) ^
               (static_cast<uint64_t>(now.tv_sec) << 30);
  x ^= x >> 33;  // mixes the bits (murmur3's finalizer)
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return absl::StrFormat("%08x", static_cast<uint32_t>(x));
}

}  // namespace

absl::Status ReplaceFile(
    const std::string& path,
    absl::FunctionRef<absl::Status(const std::string& tmp_path)> write) {
  std::string tmp_path;
  for (int attempt = 0;; ++attempt) {
    tmp_path = absl::StrCat(path, ".tmp-", Suffix());
    const int fd =
        ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::close(fd);
      break;
    }
    const int err = errno;
    if (err != EEXIST || attempt == 100) {
      return absl::ErrnoToStatus(err, absl::StrCat("cannot create ", tmp_path));
    }
  }
  absl::Status status = write(tmp_path);
  if (status.ok() && std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    status = absl::ErrnoToStatus(
        err, absl::StrCat("cannot rename ", tmp_path, " to ", path));
  }
  if (!status.ok()) {
    ::unlink(tmp_path.c_str());
    return status;
  }
  // Makes the rename durable; the file is complete either way, so a failure
  // here is not reported.
  const int dir =
      ::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace crashenum
