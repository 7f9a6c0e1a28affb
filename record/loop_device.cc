#include "record/loop_device.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crashenum {
namespace internal_record {

namespace {

absl::Status ErrnoStatus(int err, const std::string& what) {
  return absl::ErrnoToStatus(err, what);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LoopDevice>> LoopDevice::Attach(
    const std::string& backing_path) {
  Fd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (control.get() < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "/dev/loop-control: ", std::strerror(errno),
        ": crashenum record needs loop devices (the loop kernel module, and "
        "in a container the loop device nodes)"));
  }
  Fd backing(::open(backing_path.c_str(), O_RDWR | O_CLOEXEC));
  if (backing.get() < 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot open ", backing_path));
  }
  // Another process may take the free device between the two calls: retry.
  for (int attempt = 0; attempt < 16; ++attempt) {
    const int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no free loop device (LOOP_CTL_GET_FREE: ", std::strerror(errno),
          ")"));
    }
    const std::string path = absl::StrCat("/dev/loop", n);
    Fd dev(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (dev.get() < 0) {
      if (errno == ENOENT) {
        // No device node (a container without udev): make one.
        ::mknod(path.c_str(), S_IFBLK | 0660, makedev(7, n));
        dev = Fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
      }
      if (dev.get() < 0) {
        return ErrnoStatus(errno, absl::StrCat("cannot open ", path));
      }
    }
    loop_config config;
    std::memset(&config, 0, sizeof(config));
    config.fd = backing.get();
    config.block_size = 512;
    std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name),
                 backing_path.c_str(), LO_NAME_SIZE - 1);
    if (::ioctl(dev.get(), LOOP_CONFIGURE, &config) != 0) {
      if (errno == EBUSY) continue;
      return ErrnoStatus(errno,
                         absl::StrCat("cannot attach ", backing_path, " to ",
                                      path, " (LOOP_CONFIGURE)"));
    }
    struct stat st;
    if (::fstat(dev.get(), &st) != 0) {
      const int err = errno;
      ::ioctl(dev.get(), LOOP_CLR_FD, 0);
      return ErrnoStatus(err, absl::StrCat("cannot stat ", path));
    }
    std::unique_ptr<LoopDevice> loop(new LoopDevice);
    loop->path_ = path;
    loop->major_ = ::major(st.st_rdev);
    loop->minor_ = ::minor(st.st_rdev);
    loop->fd_ = dev.release();
    return loop;
  }
  return absl::UnavailableError(
      "every free loop device was taken by another process; try again");
}

absl::Status LoopDevice::Detach() {
  if (fd_ < 0) return absl::OkStatus();
  // The device can stay busy for a moment after an unmount (udev probing).
  absl::Status status;
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (::ioctl(fd_, LOOP_CLR_FD, 0) == 0) {
      status = absl::OkStatus();
      break;
    }
    status = ErrnoStatus(errno, absl::StrCat("cannot detach ", path_));
    if (errno != EBUSY) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ::close(fd_);
  fd_ = -1;
  return status;
}

LoopDevice::~LoopDevice() { (void)Detach(); }

}  // namespace internal_record
}  // namespace crashenum
