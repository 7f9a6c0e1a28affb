#include "oracles/internal/mount_runner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"
#include "oracles/internal/isolation.h"
#include "oracles/internal/oracle_text.h"

namespace crashenum {
namespace internal_oracles {
namespace {

constexpr char kSystemPath[] = "/usr/sbin:/usr/bin:/sbin:/bin";
const std::vector<std::string>& SystemDirs() {
  static const auto* dirs =
      new std::vector<std::string>{"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
  return *dirs;
}
// The unmount still gets this long when the command left it less.
constexpr absl::Duration kMinUnmountTime = absl::Seconds(2);
constexpr size_t kTailLines = 10;
constexpr size_t kTailBytes = 2000;
constexpr int kCapSysAdmin = 21;

// `text` with each "/dev/loopN" written "{loop}".
std::string ScrubLoopDevices(absl::string_view text) {
  constexpr absl::string_view kLoop = "/dev/loop";
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t found = text.find(kLoop, pos);
    if (found == absl::string_view::npos) break;
    size_t end = found + kLoop.size();
    while (end < text.size() && absl::ascii_isdigit(text[end])) ++end;
    if (end == found + kLoop.size()) {  // no number: "/dev/loop-control"
      absl::StrAppend(&out, text.substr(pos, end - pos));
    } else {
      absl::StrAppend(&out, text.substr(pos, found - pos), "{loop}");
    }
    pos = end;
  }
  absl::StrAppend(&out, text.substr(pos));
  return out;
}

// The time left until `deadline`, at least `floor`.
absl::Duration Remaining(absl::Time deadline, absl::Duration floor) {
  return std::max(deadline - absl::Now(), floor);
}

// How a run of mount(8) or umount(8) failed, for mount_output and
// unmount_output: its output, or what ended it and the tail of its output.
std::string DescribeToolFailure(const SubprocessResult& r,
                                absl::Duration timeout,
                                const std::string& mnt) {
  std::string output = ScrubLoopDevices(ScrubPaths(r.output, {{mnt, "{mnt}"}}));
  if (r.timed_out) {
    return WithDetail(
        absl::StrCat("timed out after ", absl::FormatDuration(timeout)),
        LastLines(output, kTailLines, kTailBytes));
  }
  if (r.term_signal != 0) {
    return WithDetail(absl::StrCat("killed by signal ", r.term_signal, " (",
                                   SignalName(r.term_signal), ")"),
                      LastLines(output, kTailLines, kTailBytes));
  }
  std::string text(absl::StripTrailingAsciiWhitespace(output));
  if (text.empty()) return absl::StrCat("exit ", r.exit_code);
  return text;
}

// Removes the (empty) mount point directory on scope exit.
class MountPoint {
 public:
  MountPoint() = default;
  MountPoint(const MountPoint&) = delete;
  MountPoint& operator=(const MountPoint&) = delete;
  ~MountPoint() {
    if (!path_.empty()) rmdir(path_.c_str());
  }
  absl::Status Create(const std::string& parent) {
    std::string path = absl::StrCat(parent, "/crashenum-mnt.XXXXXX");
    if (mkdtemp(path.data()) == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot make a mount point below '", parent,
                       "': ", std::strerror(errno)));
    }
    path_ = std::move(path);
    return absl::OkStatus();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// True when `image` holds `magic` at `offset`.
bool HasMagic(const std::string& image, off_t offset, absl::string_view magic) {
  int fd = open(image.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string buf(magic.size(), '\0');
  bool is = pread(fd, buf.data(), buf.size(), offset) ==
                static_cast<ssize_t>(buf.size()) &&
            buf == magic;
  close(fd);
  return is;
}

// Whether the comma-separated `options` hold `option`.
bool HasOption(absl::string_view options, absl::string_view option) {
  for (absl::string_view o : absl::StrSplit(options, ',')) {
    if (o == option) return true;
  }
  return false;
}

// The process-wide half of BtrfsLock.
ABSL_CONST_INIT absl::Mutex btrfs_mutex(absl::kConstInit);
bool btrfs_free ABSL_GUARDED_BY(btrfs_mutex) = true;
// How many BtrfsLock objects of this thread are alive (0: not held).
thread_local int btrfs_depth = 0;

}  // namespace

bool HasMountPrivilege() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "CapEff:")) continue;
    uint64_t caps = 0;
    if (absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line.substr(7)),
                            &caps)) {
      return (caps >> kCapSysAdmin) & 1;
    }
  }
  return geteuid() == 0;
}

bool IsBtrfsImage(const std::string& image) {
  return HasMagic(image, 0x10040, "_BHRfS_M");
}

std::string BtrfsLock::LockFilePath() {
  struct stat st;
  if (stat("/run/lock", &st) == 0 && S_ISDIR(st.st_mode)) {
    return "/run/lock/crashenum-btrfs.lock";
  }
  return "/tmp/crashenum-btrfs.lock";
}

BtrfsLock::BtrfsLock(absl::Time deadline) {
  if (btrfs_depth > 0) {
    nested_ = true;
    ++btrfs_depth;
    return;
  }
  bool got =
      btrfs_mutex.LockWhenWithDeadline(absl::Condition(&btrfs_free), deadline);
  if (got) btrfs_free = false;
  btrfs_mutex.Unlock();
  if (!got) {
    status_ = absl::DeadlineExceededError(
        "timed out waiting for another btrfs run of this process");
    return;
  }
  const std::string path = LockFilePath();
  fd_ = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    status_ = absl::UnavailableError(absl::StrCat(
        "cannot open the btrfs lock file ", path, ": ", std::strerror(errno)));
    ReleaseInProcess();
    return;
  }
  while (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      status_ = absl::UnavailableError(
          absl::StrCat("cannot lock ", path, ": ", std::strerror(errno)));
    } else if (absl::Now() >= deadline) {
      status_ = absl::DeadlineExceededError(absl::StrCat(
          "timed out waiting for ", path,
          ": another process holds it (a btrfs check of another crashenum)"));
    } else {
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    close(fd_);
    fd_ = -1;
    ReleaseInProcess();
    return;
  }
  held_ = true;
  btrfs_depth = 1;
}

BtrfsLock::~BtrfsLock() {
  if (nested_) {
    --btrfs_depth;
    return;
  }
  if (!held_) return;
  flock(fd_, LOCK_UN);
  close(fd_);
  btrfs_depth = 0;
  ReleaseInProcess();
}

void BtrfsLock::ReleaseInProcess() {
  absl::MutexLock lock(&btrfs_mutex);
  btrfs_free = true;
}

absl::StatusOr<MountRunResult> RunInMountedImage(
    const std::string& image, const MountRunOptions& options,
    const std::vector<std::string>& argv, const OracleOptions& limits) {
  if (!HasMountPrivilege()) {
    return absl::FailedPreconditionError(
        "mounting an image needs root (CAP_SYS_ADMIN)");
  }
  if (access("/dev/loop-control", F_OK) != 0) {
    return absl::FailedPreconditionError(
        "mounting an image needs loop devices: /dev/loop-control is missing "
        "(modprobe loop)");
  }
  absl::StatusOr<std::string> mount = FindProgram("mount", SystemDirs());
  absl::StatusOr<std::string> umount = FindProgram("umount", SystemDirs());
  if (!mount.ok() || !umount.ok()) {
    return absl::UnavailableError(
        "mounting an image needs mount(8) and umount(8) (Debian package "
        "mount), not found");
  }

  std::optional<BtrfsLock> lock;
  if (options.fs_type == "btrfs" ||
      (options.fs_type.empty() && IsBtrfsImage(image))) {
    lock.emplace(absl::Now() + limits.timeout + BtrfsLock::kPatience);
    RETURN_IF_ERROR(lock->status());
  }
  const absl::Time deadline = absl::Now() + limits.timeout;

  // Destroyed after the namespace: by then nothing is mounted on it.
  MountPoint mnt;
  RETURN_IF_ERROR(mnt.Create(limits.scratch_dir));
  ASSIGN_OR_RETURN(MountNamespace ns, MountNamespace::Create());

  SubprocessOptions tool;
  tool.inherit_environment = false;
  tool.set_env = {{"PATH", kSystemPath}, {"LANG", "C"}, {"LC_ALL", "C"}};
  tool.mount_namespace_fd = ns.fd();
  if (limits.max_memory_bytes != 0) {
    tool.max_address_space = limits.max_memory_bytes;
  }

  // -n: no record in /run/mount/utab, a file shared with the host.
  std::string mount_options = "loop";
  if (options.read_only) mount_options += ",ro";
  if (!options.mount_options.empty()) {
    absl::StrAppend(&mount_options, ",", options.mount_options);
  }
  // xfs refuses a second mount of one UUID, which every image of a trace
  // shares.
  if ((options.fs_type == "xfs" ||
       (options.fs_type.empty() && HasMagic(image, 0, "XFSB"))) &&
      !HasOption(options.mount_options, "nouuid")) {
    mount_options += ",nouuid";
  }
  std::vector<std::string> mount_argv = {*mount, "-n", "-o", mount_options};
  if (!options.fs_type.empty()) {
    mount_argv.insert(mount_argv.end(), {"-t", options.fs_type});
  }
  mount_argv.insert(mount_argv.end(), {"--", image, mnt.path()});
  tool.timeout = Remaining(deadline, absl::Milliseconds(1));
  ASSIGN_OR_RETURN(SubprocessResult mounted, RunSubprocess(mount_argv, tool),
                   "mount");

  MountRunResult result;
  result.mounted = mounted.ok();
  if (!result.mounted) {
    result.mount_output =
        DescribeToolFailure(mounted, limits.timeout, mnt.path());
    if (absl::StrContains(result.mount_output, "failed to setup loop device")) {
      return absl::UnavailableError(
          WithDetail("mount could not set up a loop device",
                     LastLines(result.mount_output, kTailLines, kTailBytes)));
    }
    return result;
  }

  if (!argv.empty()) {
    std::vector<std::string> command = argv;
    command.push_back(mnt.path());
    SubprocessOptions run = IsolatedOptions(limits);
    run.timeout = Remaining(deadline, absl::Milliseconds(1));
    run.mount_namespace_fd = ns.fd();
    run.set_env = options.env;
    run.set_env.emplace_back("CRASHENUM_MNT", mnt.path());
    ASSIGN_OR_RETURN(SubprocessResult ran, RunSubprocess(command, run),
                     "running ", argv[0], " on the mounted image");
    ran.output = ScrubPaths(ran.output, {{mnt.path(), "{mnt}"}});
    const bool timed_out = ran.timed_out;
    result.command = std::move(ran);
    if (timed_out) {
      result.unmount_output =
          "not attempted: the command timed out (the mount went with its "
          "namespace)";
      return result;
    }
  }

  tool.timeout = Remaining(deadline, kMinUnmountTime);
  ASSIGN_OR_RETURN(SubprocessResult unmounted,
                   RunSubprocess({*umount, "-n", "--", mnt.path()}, tool),
                   "umount");
  result.unmounted = unmounted.ok();
  if (!result.unmounted) {
    result.unmount_output =
        DescribeToolFailure(unmounted, tool.timeout, mnt.path());
  }
  return result;
}

}  // namespace internal_oracles
}  // namespace crashenum
