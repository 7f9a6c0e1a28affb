#include "core/sparse_file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace crashenum {
namespace {

absl::Status IoError(int err, absl::string_view what, absl::string_view path) {
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    return absl::ResourceExhaustedError(msg);
  }
  if (err == ENOENT) return absl::NotFoundError(msg);
  return absl::InternalError(msg);
}

absl::Status WriteAll(int fd, const char* p, size_t n, off_t off,
                      absl::string_view path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError(errno, "cannot write", path);
    }
    if (w == 0) return IoError(ENOSPC, "cannot write", path);
    p += w;
    n -= static_cast<size_t>(w);
    off += w;
  }
  return absl::OkStatus();
}

// Whether copy_file_range(2) cannot copy between these files at all (another
// file system on an older kernel, or a file system without it).
bool CannotCopyInKernel(int err) {
  return err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP ||
         err == ENOTSUP;
}

absl::Status CopyRanges(int src, absl::string_view src_name, int dst,
                        const std::string& dst_name) {
  struct stat st;
  if (::fstat(src, &st) != 0) return IoError(errno, "cannot stat", src_name);
  // A file system with shared extents (XFS, Btrfs) clones the file at once.
  if (::ioctl(dst, FICLONE, src) == 0) return absl::OkStatus();
  if (::ftruncate(dst, st.st_size) != 0) {
    return IoError(errno, "cannot size", dst_name);
  }
  std::string buf;
  bool in_kernel = true;
  off_t pos = 0;
  while (pos < st.st_size) {
    off_t data = ::lseek(src, pos, SEEK_DATA);
    if (data < 0) break;  // ENXIO: only a hole remains
    off_t hole = ::lseek(src, data, SEEK_HOLE);
    if (hole < 0) hole = st.st_size;
    // In the kernel first: no copy through this process.
    for (off_t off = data; in_kernel && off < hole;) {
      loff_t in = off, out = off;
      ssize_t got = ::copy_file_range(src, &in, dst, &out,
                                      static_cast<size_t>(hole - off), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && CannotCopyInKernel(errno) && off == data) {
        in_kernel = false;
        break;
      }
      if (got < 0) return IoError(errno, "cannot copy to", dst_name);
      if (got == 0) return IoError(EIO, "cannot read", src_name);
      off += got;
      if (off == hole) data = hole;
    }
    if (data == hole) {
      pos = hole;
      continue;
    }
    if (buf.empty()) buf.assign(1 << 20, '\0');
    for (off_t off = data; off < hole;) {
      size_t n = static_cast<size_t>(std::min<off_t>(hole - off, buf.size()));
      ssize_t got = ::pread(src, buf.data(), n, off);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return IoError(got < 0 ? errno : EIO, "cannot read", src_name);
      absl::Status s = WriteAll(dst, buf.data(), static_cast<size_t>(got), off,
                                dst_name);
      if (!s.ok()) return s;
      off += got;
    }
    pos = hole;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CopySparse(int src_fd, absl::string_view src_name,
                        const std::string& dst) {
  // A new file rather than a truncated one: truncating a file with unwritten
  // pages waits for them to be written back (ext4's auto_da_alloc).
  if (::unlink(dst.c_str()) != 0 && errno != ENOENT) {
    return IoError(errno, "cannot replace", dst);
  }
  int fd = ::open(dst.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(errno, "cannot create", dst);
  absl::Status s = CopyRanges(src_fd, src_name, fd, dst);
  if (::close(fd) != 0 && s.ok()) s = IoError(errno, "cannot close", dst);
  return s;
}

absl::Status CopySparseFile(const std::string& src, const std::string& dst) {
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(errno, "cannot open", src);
  absl::Status s = CopySparse(fd, src, dst);
  ::close(fd);
  return s;
}

}  // namespace crashenum
