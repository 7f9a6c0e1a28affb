#include "record/tracefs_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crashenum {
namespace internal_record {

namespace {

constexpr const char* kEvents[] = {"block_bio_queue", "block_rq_issue",
                                   "block_rq_complete"};

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::Status WriteFile(const std::string& path, const std::string& value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::ErrnoToStatus(err, absl::StrCat("write '", value, "' to ",
                                                 path));
  }
  return absl::OkStatus();
}

// The tracefs root, mounting it when needed.
absl::StatusOr<std::string> TracefsRoot() {
  for (const char* root : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    if (IsDir(absl::StrCat(root, "/instances"))) return std::string(root);
  }
  if (::mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0 &&
      IsDir("/sys/kernel/tracing/instances")) {
    return std::string("/sys/kernel/tracing");
  }
  return absl::UnavailableError(absl::StrCat(
      "tracefs is not available (not mounted on /sys/kernel/tracing, and "
      "mounting it failed: ",
      std::strerror(errno), ")"));
}

// Sum of the "overrun" counters of the instance's per-CPU buffers.
uint64_t Overruns(const std::string& instance) {
  uint64_t total = 0;
  for (int cpu = 0; cpu < 4096; ++cpu) {
    std::ifstream in(absl::StrCat(instance, "/per_cpu/cpu", cpu, "/stats"));
    if (!in) break;
    std::string line;
    while (std::getline(in, line)) {
      absl::string_view rest = line;
      uint64_t n;
      if (absl::ConsumePrefix(&rest, "overrun:") &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &n)) {
        total += n;
      }
    }
  }
  return total;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TracefsCapture>> TracefsCapture::Start(
    uint32_t major, uint32_t minor) {
  absl::StatusOr<std::string> root = TracefsRoot();
  if (!root.ok()) return root.status();
  if (!IsDir(absl::StrCat(*root, "/events/block/block_bio_queue"))) {
    return absl::UnavailableError(
        "the kernel has no block trace events (CONFIG_BLK_DEV_IO_TRACE)");
  }
  std::unique_ptr<TracefsCapture> capture(new TracefsCapture);
  for (int n = 0;; ++n) {
    capture->instance_ = absl::StrCat(*root, "/instances/crashenum-",
                                      ::getpid(), "-", n);
    if (::mkdir(capture->instance_.c_str(), 0700) == 0) break;
    if (errno != EEXIST || n > 100) {
      const int err = errno;
      capture->instance_.clear();
      return absl::UnavailableError(absl::StrCat(
          "cannot create a tracefs instance under ", *root,
          "/instances: ", std::strerror(err)));
    }
  }
  const std::string& dir = capture->instance_;
  // The kernel's dev_t packs the major above 20 bits of minor.
  const std::string filter =
      absl::StrCat("dev == ", (static_cast<uint64_t>(major) << 20) | minor);
  absl::Status status = WriteFile(dir + "/buffer_size_kb", "16384");
  if (status.ok()) status = WriteFile(dir + "/trace_clock", "mono");
  for (const char* event : kEvents) {
    const std::string e = absl::StrCat(dir, "/events/block/", event);
    if (status.ok()) status = WriteFile(e + "/filter", filter);
    if (status.ok()) status = WriteFile(e + "/enable", "1");
  }
  if (status.ok()) status = WriteFile(dir + "/tracing_on", "1");
  if (status.ok()) {
    capture->pipe_fd_ = ::open((dir + "/trace_pipe").c_str(),
                               O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (capture->pipe_fd_ < 0) {
      status = absl::ErrnoToStatus(errno, "open trace_pipe");
    }
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot set up block tracing in ", dir, ": ", status.message()));
  }
  TracefsCapture* self = capture.get();
  capture->reader_ = std::thread([self] { self->ReadLoop(); });
  return capture;
}

void TracefsCapture::ReadLoop() {
  char buf[1 << 16];
  for (;;) {
    const bool stopping = stop_.load();
    bool drained = false;
    for (;;) {
      const ssize_t n = ::read(pipe_fd_, buf, sizeof(buf));
      if (n > 0) {
        text_.append(buf, n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      drained = true;  // EAGAIN (nothing buffered) or end
      break;
    }
    if (stopping && drained) return;
    pollfd p{pipe_fd_, POLLIN, 0};
    ::poll(&p, 1, 50);
  }
}

absl::StatusOr<std::string> TracefsCapture::Stop() {
  if (stopped_) return text_;
  stopped_ = true;
  for (const char* event : kEvents) {
    (void)WriteFile(absl::StrCat(instance_, "/events/block/", event, "/enable"),
                    "0");
  }
  stop_.store(true);
  if (reader_.joinable()) reader_.join();
  const uint64_t overruns = Overruns(instance_);
  if (pipe_fd_ >= 0) ::close(pipe_fd_);
  pipe_fd_ = -1;
  if (!instance_.empty()) ::rmdir(instance_.c_str());
  if (overruns > 0) {
    return absl::DataLossError(absl::StrCat(
        "the kernel's trace buffer overran: ", overruns,
        " block events were lost"));
  }
  return text_;
}

TracefsCapture::~TracefsCapture() { (void)Stop(); }

}  // namespace internal_record
}  // namespace crashenum
