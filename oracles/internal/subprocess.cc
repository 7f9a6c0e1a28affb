#include "oracles/internal/subprocess.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

extern char** environ;

namespace crashenum {
namespace internal_oracles {
namespace {

using Clock = std::chrono::steady_clock;

// Keeps the first `head` and the last `tail` bytes of a stream.
class OutputCapture {
 public:
  OutputCapture(size_t head, size_t tail) : head_cap_(head), tail_cap_(tail) {}

  void Append(const char* data, size_t n) {
    total_ += n;
    size_t take = std::min(n, head_cap_ - head_.size());
    head_.append(data, take);
    data += take;
    n -= take;
    if (n == 0 || tail_cap_ == 0) return;
    if (n >= tail_cap_) {
      tail_.assign(data + n - tail_cap_, tail_cap_);
      tail_pos_ = 0;
      return;
    }
    if (tail_.size() < tail_cap_) {
      size_t room = std::min(n, tail_cap_ - tail_.size());
      tail_.append(data, room);
      data += room;
      n -= room;
    }
    while (n > 0) {  // the ring is full: overwrite the oldest bytes
      size_t chunk = std::min(n, tail_cap_ - tail_pos_);
      std::memcpy(&tail_[tail_pos_], data, chunk);
      tail_pos_ = (tail_pos_ + chunk) % tail_cap_;
      data += chunk;
      n -= chunk;
    }
  }

  uint64_t total() const { return total_; }

  std::string Text() const {
    std::string tail = tail_.substr(tail_pos_) + tail_.substr(0, tail_pos_);
    uint64_t omitted = total_ - head_.size() - tail.size();
    if (omitted == 0) return head_ + tail;
    return absl::StrCat(head_, "\n[... ", omitted, " bytes omitted ...]\n",
                        tail);
  }

 private:
  const size_t head_cap_;
  const size_t tail_cap_;
  std::string head_;
  std::string tail_;
  size_t tail_pos_ = 0;  // oldest byte of tail_ once it is full
  uint64_t total_ = 0;
};

// Closes a file descriptor on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  int* out() { return &fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// What the child reports through the CLOEXEC error pipe: why its setup
// failed, or (not fatal) that it got no network namespace.
enum ChildStage : int32_t {
  kStdio = 1,
  kChdir,
  kRlimit,
  kExec,
  kMountNamespace,
  kJoinMountNamespace,
  kNoNetworkNamespace,
};
struct ChildError {
  int32_t stage;
  int32_t err;
};

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

std::string EnvKey(absl::string_view entry) {
  return std::string(entry.substr(0, entry.find('=')));
}

std::vector<std::string> BuildEnvironment(const SubprocessOptions& options) {
  absl::flat_hash_set<std::string> dropped(options.unset_env.begin(),
                                           options.unset_env.end());
  for (const auto& [key, value] : options.set_env) dropped.insert(key);
  std::vector<std::string> env;
  if (options.inherit_environment) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (!dropped.contains(EnvKey(*e))) env.emplace_back(*e);
    }
  }
  for (const auto& [key, value] : options.set_env) {
    env.push_back(absl::StrCat(key, "=", value));
  }
  return env;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

// The first executable `name` in the ':'-separated `dirs`, or "".
std::string SearchDirs(absl::string_view name, absl::string_view dirs) {
  for (absl::string_view dir : absl::StrSplit(dirs, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return "";
}

// Finds `name` the way execvp would, in the PATH of `env`.
absl::StatusOr<std::string> ResolveProgram(
    const std::string& name, const std::vector<std::string>& env) {
  if (absl::StrContains(name, '/')) return name;
  std::string path = "/usr/bin:/bin";
  for (const std::string& entry : env) {
    if (absl::StartsWith(entry, "PATH=")) path = entry.substr(5);
  }
  std::string found = SearchDirs(name, path);
  if (!found.empty()) return found;
  return absl::UnavailableError(
      absl::StrCat("command not found: '", name, "' (PATH=", path, ")"));
}

// Moves the calling (single-threaded) process into a new mount namespace in
// which every mount is private. Returns 0 or an errno value.
// Async-signal-safe.
int EnterPrivateMountNamespace() {
  if (unshare(CLONE_NEWNS) != 0) return errno;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return errno;
  }
  return 0;
}

// Moves the calling (single-threaded) process into a new network namespace,
// inside a new user namespace when it lacks the privilege for a plain one.
// Returns 0 or the errno value of the last attempt. Async-signal-safe.
int EnterNetworkNamespace() {
  if (unshare(CLONE_NEWNET) == 0) return 0;
  if (errno != EPERM && errno != EINVAL) return errno;
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) return 0;
  return errno;
}

// Network namespaces for children, made once and lent to one child at a
// time: making one per child costs the kernel milliseconds, mostly in tearing
// it down after the child. Each is held by descriptors of this process (and,
// when it lives in a user namespace made for it, that one's too); they are
// closed with the process. Process-wide, never destroyed.
class NetworkNamespaces {
 public:
  struct Lease {
    int net = -1;
    int user = -1;  // >= 0: join this user namespace first
  };

  static NetworkNamespaces& Get() {
    static NetworkNamespaces* const pool = new NetworkNamespaces;
    return *pool;
  }

  // A namespace no running child has, made when none is free; net < 0 when
  // none can be made (the child then tries unshare(2) itself, and says so
  // when that fails too).
  Lease Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!free_.empty()) {
        Lease l = free_.back();
        free_.pop_back();
        return l;
      }
      if (cannot_make_) return Lease{};
    }
    Lease l = Make();
    if (l.net < 0) {
      absl::MutexLock lock(&mu_);
      cannot_make_ = true;
    }
    return l;
  }

  void Release(Lease l) {
    if (l.net < 0) return;
    absl::MutexLock lock(&mu_);
    free_.push_back(l);
  }

 private:
  // A helper process enters a new namespace the way a child would
  // (EnterNetworkNamespace); its namespaces are opened, and it is killed.
  static Lease Make() {
    int report_pipe[2];
    if (pipe2(report_pipe, O_CLOEXEC) != 0) return Lease{};
    Fd report_read(report_pipe[0]), report_write(report_pipe[1]);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) return Lease{};
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      int32_t report[2] = {0, 0};
      if (unshare(CLONE_NEWNET) != 0) {
        report[0] = errno;
        if (errno == EPERM || errno == EINVAL) {
          report[0] = unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 ? 0 : errno;
          report[1] = 1;
        }
      }
      ssize_t ignored = write(report_write.get(), report, sizeof(report));
      (void)ignored;
      if (report[0] != 0) _exit(1);
      while (true) pause();
    }
    report_write.Reset();
    int32_t report[2] = {-1, 0};
    ssize_t n;
    do {
      n = read(report_read.get(), report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    Lease l;
    if (n == static_cast<ssize_t>(sizeof(report)) && report[0] == 0) {
      l.net = open(absl::StrCat("/proc/", pid, "/ns/net").c_str(),
                   O_RDONLY | O_CLOEXEC);
      if (l.net >= 0 && report[1] == 1) {
        l.user = open(absl::StrCat("/proc/", pid, "/ns/user").c_str(),
                      O_RDONLY | O_CLOEXEC);
        if (l.user < 0) {
          close(l.net);
          l.net = -1;
        }
      }
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return l;
  }

  absl::Mutex mu_;
  std::vector<Lease> free_ ABSL_GUARDED_BY(mu_);
  bool cannot_make_ ABSL_GUARDED_BY(mu_) = false;
};

// Gives a lease back when the run is over (the child reaped, its group
// killed).
class NetworkLease {
 public:
  explicit NetworkLease(bool wanted)
      : lease_(wanted ? NetworkNamespaces::Get().Acquire()
                      : NetworkNamespaces::Lease{}) {}
  ~NetworkLease() { NetworkNamespaces::Get().Release(lease_); }
  NetworkLease(const NetworkLease&) = delete;
  NetworkLease& operator=(const NetworkLease&) = delete;
  const NetworkNamespaces::Lease& get() const { return lease_; }

 private:
  NetworkNamespaces::Lease lease_;
};

// Everything the child needs, prepared before fork(): after it, the child
// may not allocate.
struct ChildPlan {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int stdin_fd = -1;
  int out_fd = -1;
  int err_fd = -1;
  const char* cwd = nullptr;  // null: stay where the parent is
  const struct rlimit* fsize = nullptr;
  const struct rlimit* as = nullptr;
  bool new_mount_namespace = false;
  int join_mount_namespace = -1;
  bool new_network_namespace = false;
  // When new_network_namespace: a namespace to join, or net < 0.
  NetworkNamespaces::Lease network;
};

// Runs in the forked child: only async-signal-safe calls from here on.
[[noreturn]] void ChildMain(const ChildPlan& plan) {
  const int err_fd = plan.err_fd;
  auto report = [err_fd](ChildStage stage, int err) {
    ChildError e{stage, err};
    ssize_t ignored = write(err_fd, &e, sizeof(e));
    (void)ignored;
  };
  auto fail = [&report](ChildStage stage) {
    report(stage, errno);
    _exit(127);
  };
  setpgid(0, 0);
  // Handlers first, then the mask: a child sharing the parent's memory
  // starts with every signal blocked and must never run a parent handler.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (dup2(plan.stdin_fd, 0) < 0 || dup2(plan.out_fd, 1) < 0 ||
      dup2(plan.out_fd, 2) < 0) {
    fail(kStdio);
  }
  // The mount namespace first: a user namespace made for the network below
  // would take away the privilege to enter one.
  if (plan.new_mount_namespace) {
    if (int err = EnterPrivateMountNamespace(); err != 0) {
      errno = err;
      fail(kMountNamespace);
    }
  }
  if (plan.join_mount_namespace >= 0 &&
      setns(plan.join_mount_namespace, CLONE_NEWNS) != 0) {
    fail(kJoinMountNamespace);
  }
  if (plan.new_network_namespace) {
    const NetworkNamespaces::Lease& n = plan.network;
    const bool joined = n.net >= 0 &&
                        (n.user < 0 || setns(n.user, CLONE_NEWUSER) == 0) &&
                        setns(n.net, CLONE_NEWNET) == 0;
    if (!joined) {
      if (int err = EnterNetworkNamespace(); err != 0) {
        report(kNoNetworkNamespace, err);
      }
    }
  }
  if (plan.cwd != nullptr && chdir(plan.cwd) != 0) fail(kChdir);
  if (plan.fsize != nullptr && setrlimit(RLIMIT_FSIZE, plan.fsize) != 0) {
    fail(kRlimit);
  }
  if (plan.as != nullptr && setrlimit(RLIMIT_AS, plan.as) != 0) {
    fail(kRlimit);
  }
  // Descriptors other threads opened without O_CLOEXEC must not leak.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(plan.program, plan.argv, plan.envp);
  fail(kExec);
  _exit(127);  // not reached
}

int ChildTrampoline(void* plan) {
  ChildMain(*static_cast<const ChildPlan*>(plan));
}

// Starts ChildMain(plan) in a new process; returns its pid, or -1 with errno.
//
// fork() copies this process's page tables and makes every page it writes
// afterwards copy-on-write until the child execs: milliseconds per oracle
// run for a process with Z3 and a mapped trace. Where the child's set-up
// allows, it shares this process's memory instead and this thread waits
// until it has exec'd or exited (as posix_spawn does), with every signal
// blocked meanwhile so that no handler of ours runs in it. Not for a child
// that enters a user namespace (the kernel refuses that to a process
// sharing its memory), nor under sanitizers (their interceptors keep
// state the child would change).
pid_t StartChild(const ChildPlan& plan) {
  const bool share_memory =
      !kSanitizerBuild && (!plan.new_network_namespace ||
                           (plan.network.net >= 0 && plan.network.user < 0));
  if (!share_memory) {
    const pid_t pid = fork();
    if (pid == 0) ChildMain(plan);
    return pid;
  }
  constexpr size_t kStackBytes = 256 * 1024;
  void* stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid =
      clone(ChildTrampoline, static_cast<char*>(stack) + kStackBytes,
            CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<ChildPlan*>(&plan));
  const int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kStackBytes);
  errno = err;
  return pid;
}

std::string ChildErrorMessage(const ChildError& e, const std::string& program,
                              const std::string& cwd) {
  const char* why = std::strerror(e.err);
  switch (e.stage) {
    case kChdir:
      return absl::StrCat("cannot change to working directory '", cwd,
                          "': ", why);
    case kRlimit:
      return absl::StrCat("cannot set a resource limit: ", why);
    case kExec:
      return absl::StrCat("cannot execute '", program, "': ", why);
    case kMountNamespace:
      return absl::StrCat(
          "cannot make a private mount namespace (needs CAP_SYS_ADMIN): ", why);
    case kJoinMountNamespace:
      return absl::StrCat("cannot join the mount namespace: ", why);
    default:
      return absl::StrCat("cannot set up the child's stdio: ", why);
  }
}

int PollTimeoutMs(Clock::time_point now, Clock::time_point wake) {
  if (wake == Clock::time_point::max()) return -1;
  if (wake <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

Clock::time_point After(Clock::time_point t, absl::Duration d) {
  if (d >= absl::Hours(24 * 365 * 100)) return Clock::time_point::max();
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  return t + std::chrono::duration_cast<Clock::duration>(
                 absl::ToChronoNanoseconds(d));
}

// True once `pid` has ended; leaves it unreaped so its process group id stays
// reserved while we signal the group.
bool HasExited(pid_t pid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

// Watches the running child: collects output, enforces the deadline, kills
// its group, and reaps it. Fills all of `result` but `elapsed`.
void Supervise(pid_t pid, int out_fd, const SubprocessOptions& options,
               Clock::time_point start, SubprocessResult& result) {
  OutputCapture capture(options.output_head_bytes, options.output_tail_bytes);
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  enum class Phase { kRunning, kTerminating, kKilled } phase = Phase::kRunning;
  const Clock::time_point deadline = After(start, options.timeout);
  Clock::time_point kill_at = Clock::time_point::max();
  Clock::time_point give_up_at = Clock::time_point::max();
  bool exited = false;
  bool pipe_open = true;
  char buf[65536];

  auto kill_group = [&](Clock::time_point now) {
    kill(-pid, SIGKILL);
    phase = Phase::kKilled;
    give_up_at = After(now, options.kill_grace);
  };

  while (true) {
    Clock::time_point now = Clock::now();
    if (!exited && phase == Phase::kRunning && now >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGTERM);
      phase = Phase::kTerminating;
      kill_at = After(now, options.kill_grace);
    }
    if (phase == Phase::kTerminating && now >= kill_at) kill_group(now);
    // Once the child is gone, nothing else in its group may live on.
    if (exited && phase != Phase::kKilled) kill_group(now);
    if (exited && !pipe_open) break;
    if (phase == Phase::kKilled && now >= give_up_at) break;

    Clock::time_point wake = Clock::time_point::max();
    if (phase == Phase::kRunning) wake = deadline;
    if (phase == Phase::kTerminating) wake = kill_at;
    if (phase == Phase::kKilled) wake = give_up_at;
    int timeout_ms = PollTimeoutMs(now, wake);
    if (!exited && pidfd.get() < 0 && (timeout_ms < 0 || timeout_ms > 10)) {
      timeout_ms = 10;  // no pidfd: look for the child's exit every 10 ms
    }
    struct pollfd fds[2];
    int nfds = 0;
    int out_index = -1;
    if (pipe_open) {
      out_index = nfds;
      fds[nfds++] = {out_fd, POLLIN, 0};
    }
    if (!exited && pidfd.get() >= 0) fds[nfds++] = {pidfd.get(), POLLIN, 0};
    int ready = poll(fds, nfds, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (out_index >= 0 && ready > 0 && fds[out_index].revents != 0) {
      ssize_t n = read(out_fd, buf, sizeof(buf));
      if (n > 0) {
        capture.Append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        pipe_open = false;
      }
    }
    if (!exited) exited = HasExited(pid);
  }
  if (!exited && phase != Phase::kKilled) kill(-pid, SIGKILL);  // poll failed

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.pid = pid;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  result.output = capture.Text();
  result.output_bytes = capture.total();
}

int RemoveEntry(const char* path, const struct stat*, int type, struct FTW*) {
  if (type == FTW_DP || type == FTW_DNR) {
    rmdir(path);
  } else {
    unlink(path);
  }
  return 0;  // go on: whatever cannot be removed stays
}

// Removes `dir` and everything in it on this file system; entries on other
// file systems mounted below it are not entered (and stay, with the
// directories above them).
void RemoveTree(const std::string& dir) {
  nftw(dir.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

// A fresh directory for one run, removed with its contents when destroyed.
class PrivateTmp {
 public:
  PrivateTmp() = default;
  PrivateTmp(const PrivateTmp&) = delete;
  PrivateTmp& operator=(const PrivateTmp&) = delete;
  ~PrivateTmp() {
    if (!path_.empty()) RemoveTree(path_);
  }

  // Makes the directory below `parent`. Errors: Unavailable.
  absl::Status Create(const std::string& parent) {
    std::string path = absl::StrCat(parent, "/crashenum-tmp.XXXXXX");
    if (mkdtemp(path.data()) == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot make a private TMPDIR below '", parent,
                       "': ", std::strerror(errno)));
    }
    path_ = std::move(path);
    return absl::OkStatus();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

absl::StatusOr<MountNamespace> MountNamespace::Create() {
  int report_pipe[2];
  if (pipe2(report_pipe, O_CLOEXEC) != 0) {
    return ErrnoError("cannot create a pipe", errno);
  }
  Fd report_read(report_pipe[0]), report_write(report_pipe[1]);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork failed", errno);
  if (pid == 0) {
    // The helper only lives until its namespace is opened; it dies with the
    // thread that made it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    int32_t err = EnterPrivateMountNamespace();
    ssize_t ignored = write(report_write.get(), &err, sizeof(err));
    (void)ignored;
    if (err != 0) _exit(1);
    while (true) pause();
  }
  report_write.Reset();
  int32_t err = -1;
  ssize_t n;
  do {
    n = read(report_read.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  int fd = -1;
  int open_err = 0;
  if (n == static_cast<ssize_t>(sizeof(err)) && err == 0) {
    fd = open(absl::StrCat("/proc/", pid, "/ns/mnt").c_str(),
              O_RDONLY | O_CLOEXEC);
    open_err = errno;
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof(err))) {
    return absl::InternalError(
        "the mount namespace helper ended without a word");
  }
  if (err != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot make a private mount namespace (needs CAP_SYS_ADMIN): ",
        std::strerror(err)));
  }
  if (fd < 0) {
    return absl::InternalError(absl::StrCat(
        "cannot open the new mount namespace: ", std::strerror(open_err)));
  }
  return MountNamespace(fd);
}

MountNamespace::MountNamespace(MountNamespace&& other) noexcept
    : fd_(other.fd_) {
  other.fd_ = -1;
}

MountNamespace& MountNamespace::operator=(MountNamespace&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

MountNamespace::~MountNamespace() {
  if (fd_ >= 0) close(fd_);
}

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev == nullptr) return absl::StrCat("SIG", signal);
  return absl::StrCat("SIG", abbrev);
}

absl::StatusOr<std::string> FindProgram(
    absl::string_view name, const std::vector<std::string>& extra_dirs) {
  if (absl::StrContains(name, '/')) {
    if (IsExecutableFile(std::string(name))) return std::string(name);
  } else {
    const char* path = getenv("PATH");
    std::string found;
    if (path != nullptr && *path != '\0') found = SearchDirs(name, path);
    for (size_t i = 0; found.empty() && i < extra_dirs.size(); ++i) {
      std::string candidate = absl::StrCat(extra_dirs[i], "/", name);
      if (IsExecutableFile(candidate)) found = candidate;
    }
    if (!found.empty()) return found;
  }
  return absl::UnavailableError(absl::StrCat("'", name, "' not found"));
}

absl::StatusOr<SubprocessResult> RunSubprocess(
    const std::vector<std::string>& argv, const SubprocessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  for (const std::string& arg : argv) {
    if (arg.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("NUL byte in argument of '", argv[0], "'"));
    }
  }
  if (options.new_mount_namespace && options.mount_namespace_fd >= 0) {
    return absl::InvalidArgumentError(
        "a child cannot both make a new mount namespace and join one");
  }
  const Clock::time_point start = Clock::now();

  // Removed after the child was reaped (declared before everything that
  // may return early after its creation).
  PrivateTmp tmp;
  if (!options.private_tmp_parent.empty()) {
    absl::Status made = tmp.Create(options.private_tmp_parent);
    if (!made.ok()) return made;
  }

  // Everything the child needs is prepared here: after fork() it may not
  // allocate.
  std::vector<std::string> env = BuildEnvironment(options);
  if (!tmp.path().empty()) {
    env.erase(std::remove_if(env.begin(), env.end(),
                             [](const std::string& entry) {
                               return EnvKey(entry) == "TMPDIR";
                             }),
              env.end());
    env.push_back(absl::StrCat("TMPDIR=", tmp.path()));
  }
  absl::StatusOr<std::string> program = ResolveProgram(argv[0], env);
  if (!program.ok()) return program.status();
  std::vector<char*> argv_ptrs;
  for (const std::string& arg : argv) {
    argv_ptrs.push_back(const_cast<char*>(arg.c_str()));
  }
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (const std::string& entry : env) {
    env_ptrs.push_back(const_cast<char*>(entry.c_str()));
  }
  env_ptrs.push_back(nullptr);
  struct rlimit fsize, as;
  if (options.max_file_size) {
    // The soft limit only: the hard one stays this process's.
    if (getrlimit(RLIMIT_FSIZE, &fsize) != 0) {
      return ErrnoError("cannot read RLIMIT_FSIZE", errno);
    }
    fsize.rlim_cur = std::min<rlim_t>(*options.max_file_size, fsize.rlim_max);
  }
  if (options.max_address_space) {
    as.rlim_cur = as.rlim_max = *options.max_address_space;
  }
  // A joined mount namespace starts the child at its root: it changes to
  // this process's working directory again.
  std::string cwd = options.working_directory;
  if (cwd.empty() && options.mount_namespace_fd >= 0) {
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof(buf)) == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "cannot determine the working directory: ", std::strerror(errno)));
    }
    cwd = buf;
  }

  Fd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0) return ErrnoError("cannot open /dev/null", errno);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return ErrnoError("cannot create a pipe", errno);
  }
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    return ErrnoError("cannot create a pipe", errno);
  }
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);

  ChildPlan plan;
  plan.program = program->c_str();
  plan.argv = argv_ptrs.data();
  plan.envp = env_ptrs.data();
  plan.stdin_fd = devnull.get();
  plan.out_fd = out_write.get();
  plan.err_fd = err_write.get();
  plan.cwd = cwd.empty() ? nullptr : cwd.c_str();
  plan.fsize = options.max_file_size ? &fsize : nullptr;
  plan.as = options.max_address_space ? &as : nullptr;
  plan.new_mount_namespace = options.new_mount_namespace;
  plan.join_mount_namespace = options.mount_namespace_fd;
  plan.new_network_namespace = options.new_network_namespace;
  // Held until the child was reaped and its group killed.
  NetworkLease network(options.new_network_namespace);
  plan.network = network.get();

  const pid_t pid = StartChild(plan);
  if (pid < 0) return ErrnoError("cannot start a process", errno);
  setpgid(pid, pid);  // also in the child: whichever runs first wins
  out_write.Reset();
  err_write.Reset();
  devnull.Reset();

  // The error pipe closes on a successful execve, or carries why it failed;
  // before either it may say that the child got no network namespace.
  bool network_isolated = options.new_network_namespace;
  std::optional<ChildError> failure;
  while (true) {
    ChildError report;
    ssize_t n = read(err_read.get(), &report, sizeof(report));
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof(report))) break;
    if (report.stage == kNoNetworkNamespace) {
      network_isolated = false;
    } else {
      failure = report;
    }
  }
  if (failure) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::UnavailableError(ChildErrorMessage(*failure, *program, cwd));
  }

  SubprocessResult result;
  result.network_isolated = network_isolated;
  Supervise(pid, out_read.get(), options, start, result);
  result.elapsed = absl::FromChrono(Clock::now() - start);
  return result;
}

absl::StatusOr<SubprocessResult> RunShellCommand(
    absl::string_view command, const SubprocessOptions& options) {
  return RunSubprocess({"/bin/sh", "-c", std::string(command)}, options);
}

}  // namespace internal_oracles
}  // namespace crashenum
