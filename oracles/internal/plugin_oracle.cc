#include "oracles/internal/plugin_oracle.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "oracles/crashenum_plugin.h"
#include "oracles/internal/oracle_text.h"
#include "oracles/internal/subprocess.h"

extern char** environ;

namespace crashenum {
namespace internal_oracles {
namespace {

using Clock = std::chrono::steady_clock;

// Sanitizers reserve terabytes of address space for their shadow memory:
// in a forked child of such a build an address-space limit would make every
// allocation fail, so none is set there.
constexpr bool kCanLimitAddressSpace = !kSanitizerBuild;

constexpr size_t kMessageBytes = 4096;
constexpr size_t kOutputBytes = 16384;  // the last bytes of output kept
constexpr size_t kTailLines = 10;
constexpr size_t kTailBytes = 2000;

Clock::time_point After(Clock::time_point t, absl::Duration d) {
  if (d >= absl::Hours(24 * 365 * 100)) return Clock::time_point::max();
  return t + std::chrono::duration_cast<Clock::duration>(
                 absl::ToChronoNanoseconds(d));
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Everything the child needs, prepared before fork().
struct ChildSetup {
  const crashenum_oracle_plugin* plugin = nullptr;
  void* instance = nullptr;
  crashenum_check_request request = {};
  int devnull = -1;
  int output_fd = -1;
  int result_fd = -1;
  const char* scratch = nullptr;
  char** envp = nullptr;
  const struct rlimit* max_file_size = nullptr;
  const struct rlimit* max_address_space = nullptr;
  bool isolate_network = false;
};

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// What the child reports instead of a verdict when it cannot call check().
constexpr int32_t kSetupFailed = -1000;

// Writes the verdict and message to the result pipe and exits.
[[noreturn]] void Report(int fd, int32_t verdict, const char* message) {
  WriteAll(fd, reinterpret_cast<const char*>(&verdict), sizeof(verdict));
  WriteAll(fd, message, strlen(message));
  _exit(0);
}

// The forked child: calls check() and writes the verdict and message.
[[noreturn]] void ChildMain(const ChildSetup& s) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  // What the parent had buffered must not reach the plugin's output.
  __fpurge(stdout);
  __fpurge(stderr);
  if (dup2(s.devnull, 0) < 0 || dup2(s.output_fd, 1) < 0 ||
      dup2(s.output_fd, 2) < 0) {
    Report(s.result_fd, kSetupFailed, "cannot redirect the plugin's stdio");
  }
  if (chdir(s.scratch) != 0) {
    Report(s.result_fd, kSetupFailed,
           "cannot enter the plugin's scratch directory");
  }
  if ((s.max_file_size != nullptr &&
       setrlimit(RLIMIT_FSIZE, s.max_file_size) != 0) ||
      (s.max_address_space != nullptr &&
       setrlimit(RLIMIT_AS, s.max_address_space) != 0)) {
    Report(s.result_fd, kSetupFailed, "cannot set the plugin's rlimits");
  }
  if (s.isolate_network) unshare(CLONE_NEWNET);  // best effort
  environ = s.envp;
  for (int fd : {s.devnull, s.output_fd}) {
    if (fd > 2) close(fd);
  }

  char message[kMessageBytes];
  message[0] = '\0';
  int32_t verdict =
      s.plugin->check(s.instance, &s.request, message, sizeof(message));
  message[sizeof(message) - 1] = '\0';
  fflush(stdout);
  fflush(stderr);
  Report(s.result_fd, verdict, message);
}

// True once `pid` has ended; leaves it unreaped so that its process group id
// stays reserved while the group is signalled.
bool HasExited(pid_t pid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

struct ChildOutcome {
  int wait_status = 0;
  bool timed_out = false;
  std::string result;  // verdict bytes, then the message
  std::string output;  // the last kOutputBytes of stdout and stderr
};

// A non-blocking pipe end being read into a bounded buffer.
struct Reader {
  int fd;
  std::string* into;
  size_t cap;
  bool keep_tail;  // keep the last `cap` bytes, else the first
  bool open = true;

  // Reads what is there; false once nothing is left for now (or ever).
  bool ReadSome(char* buf, size_t size) {
    if (!open) return false;
    ssize_t got = read(fd, buf, size);
    if (got > 0) {
      into->append(buf, static_cast<size_t>(got));
      if (into->size() > cap) {
        into->erase(keep_tail ? 0 : cap, into->size() - cap);
      }
      return true;
    }
    if (got == 0 || (errno != EINTR && errno != EAGAIN)) open = false;
    return got < 0 && errno == EINTR;
  }
};

// Collects the child's pipes until it exits or the deadline passes, then
// kills its process group (whatever it left running) and reaps it. Data the
// child wrote before it ended is already in the pipes: no waiting for end of
// file, which other processes forked meanwhile may hold open.
ChildOutcome Supervise(pid_t pid, int output_fd, int result_fd,
                       absl::Duration timeout) {
  ChildOutcome out;
  fcntl(output_fd, F_SETFL, O_NONBLOCK);
  fcntl(result_fd, F_SETFL, O_NONBLOCK);
  Reader readers[2] = {{output_fd, &out.output, kOutputBytes, true},
                       {result_fd, &out.result, sizeof(int32_t) + kMessageBytes,
                        false}};
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  const Clock::time_point deadline = After(Clock::now(), timeout);
  char buf[65536];
  while (true) {
    if (HasExited(pid)) {
      kill(-pid, SIGKILL);
      for (Reader& r : readers) {
        while (r.ReadSome(buf, sizeof(buf))) {
        }
      }
      break;
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      out.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    int timeout_ms = -1;
    if (deadline != Clock::time_point::max()) {
      timeout_ms = static_cast<int>(std::min<int64_t>(
          INT_MAX,
          std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count()));
    }
    if (pidfd.get() < 0 && (timeout_ms < 0 || timeout_ms > 10)) {
      timeout_ms = 10;  // no pidfd: look for the child's exit every 10 ms
    }
    struct pollfd fds[3];
    int n = 0;
    for (const Reader& r : readers) {
      if (r.open) fds[n++] = {r.fd, POLLIN, 0};
    }
    if (pidfd.get() >= 0) fds[n++] = {pidfd.get(), POLLIN, 0};
    if (poll(fds, n, timeout_ms) < 0 && errno != EINTR) {
      kill(-pid, SIGKILL);
      break;
    }
    for (Reader& r : readers) r.ReadSome(buf, sizeof(buf));
  }
  while (waitpid(pid, &out.wait_status, 0) < 0 && errno == EINTR) {
  }
  return out;
}

class PluginOracle : public Oracle {
 public:
  PluginOracle(std::string name, void* library,
               const crashenum_oracle_plugin* plugin, void* instance,
               const OracleOptions& options)
      : name_(std::move(name)),
        library_(library),
        plugin_(plugin),
        instance_(instance),
        options_(options) {
    traits_.metadata_only = plugin->traits & CRASHENUM_TRAIT_METADATA_ONLY;
    traits_.mutates_image = plugin->traits & CRASHENUM_TRAIT_MUTATES_IMAGE;
    traits_.needs_root = plugin->traits & CRASHENUM_TRAIT_NEEDS_ROOT;
    traits_.deterministic =
        !(plugin->traits & CRASHENUM_TRAIT_NONDETERMINISTIC);
  }
  ~PluginOracle() override {
    if (plugin_->destroy != nullptr) plugin_->destroy(instance_);
    dlclose(library_);
  }

  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }

  Verdict Check(const ImageSet& images, const StateId& state) override {
    std::string scratch_template = options_.scratch_dir + "/plugin-XXXXXX";
    if (mkdtemp(scratch_template.data()) == nullptr) {
      return Verdict::Error(absl::StrCat("cannot make a scratch directory in ",
                                         options_.scratch_dir, ": ",
                                         std::strerror(errno)));
    }
    const std::string scratch = scratch_template;
    Verdict verdict = CheckIn(scratch, images, state);
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
    return verdict;
  }

 private:
  Verdict CheckIn(const std::string& scratch, const ImageSet& images,
                  const StateId& state) {
    // Everything the child uses is built here: after fork() it only calls
    // the plugin.
    const std::string id = state.ToString();
    std::vector<const char*> names, paths;
    for (size_t i = 0; i < images.paths.size(); ++i) {
      names.push_back(i < images.device_names.size()
                          ? images.device_names[i].c_str()
                          : "");
      paths.push_back(images.paths[i].c_str());
    }
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (std::strncmp(*e, "TMPDIR=", 7) != 0) env.emplace_back(*e);
    }
    env.push_back("TMPDIR=" + scratch);
    std::vector<char*> envp;
    for (std::string& entry : env) envp.push_back(entry.data());
    envp.push_back(nullptr);
    struct rlimit fsize, as;
    fsize.rlim_cur = fsize.rlim_max = options_.max_file_size_bytes;
    as.rlim_cur = as.rlim_max = options_.max_memory_bytes;

    Fd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    int output_pipe[2], result_pipe[2];
    if (devnull.get() < 0 || pipe2(output_pipe, O_CLOEXEC) != 0) {
      return Verdict::Error(
          absl::StrCat("cannot set up the plugin's I/O: ", std::strerror(errno)));
    }
    Fd output_read(output_pipe[0]), output_write(output_pipe[1]);
    if (pipe2(result_pipe, O_CLOEXEC) != 0) {
      return Verdict::Error(
          absl::StrCat("cannot set up the plugin's I/O: ", std::strerror(errno)));
    }
    Fd result_read(result_pipe[0]), result_write(result_pipe[1]);

    ChildSetup setup;
    setup.plugin = plugin_;
    setup.instance = instance_;
    setup.request.state_id = id.c_str();
    setup.request.crash_event = state.event;
    setup.request.num_devices = paths.size();
    setup.request.device_names = names.data();
    setup.request.image_paths = paths.data();
    setup.devnull = devnull.get();
    setup.output_fd = output_write.get();
    setup.result_fd = result_write.get();
    setup.scratch = scratch.c_str();
    setup.envp = envp.data();
    setup.max_file_size = options_.max_file_size_bytes ? &fsize : nullptr;
    setup.max_address_space =
        options_.max_memory_bytes && kCanLimitAddressSpace ? &as : nullptr;
    setup.isolate_network = options_.isolate_network;

    const pid_t pid = fork();
    if (pid < 0) {
      return Verdict::Error(absl::StrCat("fork failed: ", std::strerror(errno)));
    }
    if (pid == 0) ChildMain(setup);
    setpgid(pid, pid);  // also in the child: whichever runs first wins
    output_write.Reset();
    result_write.Reset();
    devnull.Reset();

    ChildOutcome outcome = Supervise(pid, output_read.get(), result_read.get(),
                                     options_.timeout);
    return VerdictOf(outcome);
  }

  Verdict VerdictOf(const ChildOutcome& outcome) const {
    const std::string tail = LastLines(outcome.output, kTailLines, kTailBytes);
    if (outcome.timed_out) {
      return Verdict::Error(WithDetail(
          absl::StrCat("timed out after ", absl::FormatDuration(options_.timeout)),
          tail));
    }
    const int status = outcome.wait_status;
    if (WIFSIGNALED(status)) {
      return Verdict::Error(WithDetail(
          absl::StrCat("killed by signal ", WTERMSIG(status), " (",
                       SignalName(WTERMSIG(status)), ")"),
          tail));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        outcome.result.size() < sizeof(int32_t)) {
      return Verdict::Error(WithDetail(
          absl::StrCat("check() ended without a verdict (exit ",
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1, ")"),
          tail));
    }
    int32_t code;
    std::memcpy(&code, outcome.result.data(), sizeof(code));
    std::string message = outcome.result.substr(sizeof(code));
    switch (code) {
      case CRASHENUM_PASS:
        return Verdict::Pass();
      case CRASHENUM_FAIL:
        return Verdict::Fail(message.empty() ? "the plugin reported FAIL"
                                             : std::move(message));
      case CRASHENUM_ERROR:
        return Verdict::Error(message.empty() ? "the plugin reported ERROR"
                                              : std::move(message));
      case kSetupFailed:
        return Verdict::Error(message);
      default:
        return Verdict::Error(WithDetail(
            absl::StrCat("check() returned ", code,
                         ", not CRASHENUM_PASS, CRASHENUM_FAIL or "
                         "CRASHENUM_ERROR"),
            message));
    }
  }

  const std::string name_;
  void* const library_;
  const crashenum_oracle_plugin* const plugin_;
  void* const instance_;
  const OracleOptions options_;
  OracleTraits traits_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Oracle>> MakePluginOracle(
    absl::string_view spec, absl::string_view path_and_args,
    const OracleOptions& options) {
  const size_t colon = path_and_args.find(':');
  const std::string path(path_and_args.substr(0, colon));
  const std::string args(colon == absl::string_view::npos
                             ? absl::string_view()
                             : path_and_args.substr(colon + 1));
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("oracle '", spec, "': ", why));
  };
  if (path.empty()) return error("empty library path after 'plugin:'");

  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    return error(absl::StrCat("cannot load ", path, ": ",
                              why ? why : "unknown error"));
  }
  // Unloads the library on every error path below.
  std::unique_ptr<void, int (*)(void*)> guard(library, dlclose);
  dlerror();
  void* symbol = dlsym(library, CRASHENUM_ORACLE_PLUGIN_SYMBOL);
  if (symbol == nullptr) {
    const char* why = dlerror();
    return error(absl::StrCat(path, " does not export ",
                              CRASHENUM_ORACLE_PLUGIN_SYMBOL, ": ",
                              why ? why : "the symbol is null"));
  }
  const crashenum_oracle_plugin* plugin =
      reinterpret_cast<crashenum_oracle_plugin_v1_fn>(symbol)();
  if (plugin == nullptr) {
    return error(absl::StrCat(path, ": ", CRASHENUM_ORACLE_PLUGIN_SYMBOL,
                              "() returned NULL"));
  }
  if (plugin->abi_version != CRASHENUM_ORACLE_PLUGIN_ABI_VERSION) {
    return error(absl::StrCat(path, ": plugin ABI version ",
                              plugin->abi_version, ", but crashenum supports ",
                              CRASHENUM_ORACLE_PLUGIN_ABI_VERSION));
  }
  if (plugin->create == nullptr || plugin->check == nullptr) {
    return error(absl::StrCat(path, ": the plugin has no ",
                              plugin->create == nullptr ? "create" : "check",
                              "() function"));
  }
  if ((plugin->traits & CRASHENUM_TRAIT_NEEDS_ROOT) && geteuid() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("oracle '", spec, "': the plugin needs root"));
  }
  char message[kMessageBytes];
  message[0] = '\0';
  void* instance = plugin->create(args.c_str(), message, sizeof(message));
  message[sizeof(message) - 1] = '\0';
  if (instance == nullptr) {
    return error(absl::StrCat(
        "create() failed: ", message[0] ? message : "(no reason given)"));
  }
  guard.release();
  return std::make_unique<PluginOracle>(std::string(spec), library, plugin,
                                        instance, options);
}

}  // namespace internal_oracles
}  // namespace crashenum
