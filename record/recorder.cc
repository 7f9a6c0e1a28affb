#include "record/recorder.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "oracles/internal/subprocess.h"
#include "record/block_join.h"
#include "record/fuse_disk.h"
#include "record/loop_device.h"
#include "record/tracefs_capture.h"
#include "traces/block_events.h"
#include "traces/convert.h"
#include "traces/crashenum_format.h"

namespace crashenum {

namespace {

using internal_oracles::FindProgram;
using internal_oracles::RunSubprocess;
using internal_oracles::SubprocessOptions;
using internal_oracles::SubprocessResult;
using internal_record::DiskObserver;
using internal_record::FuseDisk;
using internal_record::JoinBlockFlags;
using internal_record::LoopDevice;
using internal_record::TracefsCapture;

constexpr char kDeviceName[] = "disk";

// Streams the disk's requests into a crashenum trace as they arrive.
class TraceSink : public DiskObserver {
 public:
  explicit TraceSink(std::unique_ptr<CrashenumTraceWriter> writer)
      : writer_(std::move(writer)) {}

  uint64_t BeginWrite(uint64_t offset, absl::string_view data) override {
    Op op;
    op.kind = OpKind::kWrite;
    op.sector = offset / 512;
    op.num_sectors = data.size() / 512;
    op.data = data;
    return Submit(op);
  }
  uint64_t BeginFlush() override {
    Op op;
    op.kind = OpKind::kFlush;
    return Submit(op);
  }
  uint64_t BeginDiscard(uint64_t offset, uint64_t length) override {
    Op op;
    op.kind = OpKind::kDiscard;
    op.sector = offset / 512;
    op.num_sectors = length / 512;
    return Submit(op);
  }
  void End(uint64_t token, int status) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (token == kNoOp || !status_.ok()) return;
    Note(writer_->Complete(static_cast<uint32_t>(token), status));
    // A flush's completion is a good moment to make the file current.
    if (flushes_.erase(token) > 0) Note(writer_->Flush());
  }
  void Mark(absl::string_view label) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.ok()) return;
    Note(writer_->AddMark(label));
    Note(writer_->Flush());
  }

  absl::Status Finish() {
    std::lock_guard<std::mutex> lock(mu_);
    Note(writer_->Finish());
    return status_;
  }
  // When each op reached the disk (CLOCK_MONOTONIC, the clock of the
  // tracefs capture), by op index.
  std::vector<uint64_t> arrival_ns() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrival_ns_;
  }

 private:
  static constexpr uint64_t kNoOp = ~uint64_t{0};

  uint64_t Submit(const Op& op) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.ok()) return kNoOp;
    absl::StatusOr<uint32_t> index = writer_->Submit(op);
    if (!index.ok()) {
      Note(index.status());
      return kNoOp;
    }
    timespec now;
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    arrival_ns_.push_back(static_cast<uint64_t>(now.tv_sec) * 1000000000 +
                          now.tv_nsec);
    if (op.kind == OpKind::kFlush) flushes_.insert(*index);
    return *index;
  }
  void Note(const absl::Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }

  std::mutex mu_;
  std::unique_ptr<CrashenumTraceWriter> writer_;
  absl::Status status_;
  std::vector<uint64_t> arrival_ns_;
  std::set<uint64_t> flushes_;
};

// Blocks SIGINT, SIGTERM and SIGHUP in this and every thread started later,
// and watches for them on a thread of its own, so that a signal leads to an
// orderly clean-up instead of a dead process holding a mount.
class SignalWatch {
 public:
  SignalWatch() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] {
      const timespec tick{0, 100 * 1000 * 1000};
      while (!done_.load()) {
        const int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig <= 0) continue;
        signal_.store(sig);
        const pid_t group = group_.load();
        if (group > 0) ::kill(-group, SIGTERM);
      }
    });
  }
  ~SignalWatch() {
    done_.store(true);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  int signal() const { return signal_.load(); }
  // The process group that receives SIGTERM on a signal (0: none).
  void set_group(pid_t group) {
    group_.store(group);
    if (group > 0 && signal_.load() != 0) ::kill(-group, SIGTERM);
  }
  const sigset_t& old_mask() const { return old_; }

 private:
  sigset_t set_, old_;
  std::atomic<bool> done_{false};
  std::atomic<int> signal_{0};
  std::atomic<pid_t> group_{0};
  std::thread thread_;
};

// Runs the workload in a process group of its own, with its output going
// where ours goes, and waits for it. Returns its exit status (128 + signal
// when a signal ended it).
absl::StatusOr<int> RunWorkload(const RecordOptions& options,
                                const std::vector<std::pair<std::string,
                                                            std::string>>& env,
                                SignalWatch& watch) {
  std::vector<std::string> argv = options.workload;
  if (argv.size() == 1) argv = {"/bin/sh", "-c", argv[0]};
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const sigset_t old_mask = watch.old_mask();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork for the workload");
  if (pid == 0) {
    ::setpgid(0, 0);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "crashenum record: cannot run %s: %s\n", cargv[0],
                 std::strerror(errno));
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so the group exists before any signal
  watch.set_group(pid);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      watch.set_group(0);
      return absl::ErrnoToStatus(errno, "waiting for the workload");
    }
  }
  // Whatever the workload left running would keep the file system busy.
  ::kill(-pid, SIGKILL);
  watch.set_group(0);
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  return 128 + WTERMSIG(wstatus);
}

absl::Status RunStep(const std::vector<std::string>& argv,
                     const std::string& what) {
  SubprocessOptions options;
  options.timeout = absl::Minutes(10);
  ASSIGN_OR_RETURN(SubprocessResult r, RunSubprocess(argv, options));
  if (r.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(
      what, " failed (", absl::StrJoin(argv, " "), ": ",
      r.timed_out ? "timed out"
                  : (r.exit_code >= 0
                         ? absl::StrCat("exit status ", r.exit_code)
                         : internal_oracles::SignalName(r.term_signal)),
      ")\n", r.output));
}

// Unmounts, retrying while the file system is busy for a moment.
absl::Status Unmount(const std::string& dir) {
  for (int attempt = 0;; ++attempt) {
    if (::umount2(dir.c_str(), 0) == 0) return absl::OkStatus();
    if (errno != EBUSY || attempt == 50) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot unmount ", dir));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

// The unmount's last writes are in the trace only once the file system is
// gone, not merely unmounted here: a process that copied the mount table
// while it was mounted (unshare(CLONE_NEWNS), as sandboxes, containers and
// service managers do) keeps it alive in its own mount namespace, and it
// writes its unmount state only when that namespace goes, after the
// recording. While the file system lives it holds its device exclusively,
// so an exclusive open tells. Waits up to five seconds.
absl::Status AwaitReleased(const std::string& device) {
  for (int attempt = 0;; ++attempt) {
    const int fd = ::open(device.c_str(), O_RDONLY | O_EXCL | O_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      return absl::OkStatus();
    }
    if (errno != EBUSY) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("cannot open ", device,
                              " to see that its file system is gone"));
    }
    if (attempt == 50) {
      return absl::AbortedError(absl::StrCat(
          "the file system on ", device,
          " is still in use after its unmount (mounted in another mount "
          "namespace, or held open by a process): its last writes are not "
          "in the trace, which ends before the unmount"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

// Makes this process's mounts its own: the recording's mounts then do not
// show in the mount namespaces that other processes copy meanwhile (see
// AwaitReleased). The workload, a child, shares them. Only possible while
// the process has one thread.
absl::Status PrivateMounts() {
  if (::unshare(CLONE_NEWNS) != 0) {
    return absl::ErrnoToStatus(errno, "cannot make a mount namespace");
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return absl::ErrnoToStatus(errno,
                               "cannot make the mount namespace private");
  }
  return absl::OkStatus();
}

std::string KernelRelease() {
  utsname u;
  return ::uname(&u) == 0 ? std::string(u.release) : "unknown";
}

absl::Status CheckPrerequisites(const RecordOptions& options,
                                std::string* mkfs) {
  if (options.fs != "ext4" && options.fs != "xfs" && options.fs != "btrfs") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--fs=", options.fs, ": expected ext4, xfs or btrfs"));
  }
  if (options.size_bytes == 0 || options.size_bytes % 4096 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--size=", options.size_bytes,
        ": the disk size must be a positive multiple of 4096 bytes"));
  }
  if (options.output.empty()) {
    return absl::InvalidArgumentError("no output file (-o TRACE)");
  }
  if (options.workload.empty()) {
    return absl::InvalidArgumentError(
        "no workload: give it after '--', e.g. -- sh -c 'echo x > "
        "$CRASHENUM_MNT/f && sync'");
  }
  if (::geteuid() != 0) {
    return absl::FailedPreconditionError(
        "crashenum record needs root: it attaches a loop device and mounts a "
        "file system");
  }
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "/dev/fuse: ", std::strerror(errno),
        ": crashenum record needs FUSE (the fuse module; in a container, "
        "the /dev/fuse device)"));
  }
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "/dev/loop-control: ", std::strerror(errno),
        ": crashenum record needs loop devices (the loop module; in a "
        "container, the loop device nodes)"));
  }
  absl::StatusOr<std::string> found = FindProgram(
      absl::StrCat("mkfs.", options.fs), {"/sbin", "/usr/sbin"});
  if (!found.ok()) {
    const char* package = options.fs == "ext4"  ? "e2fsprogs"
                          : options.fs == "xfs" ? "xfsprogs"
                                                : "btrfs-progs";
    return absl::FailedPreconditionError(absl::StrCat(
        "mkfs.", options.fs, " not found in PATH (install ", package, ")"));
  }
  *mkfs = *found;
  if (!FindProgram("mount", {"/bin", "/usr/bin"}).ok()) {
    return absl::FailedPreconditionError(
        "mount not found in PATH (install mount / util-linux)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RecordResult> Record(const RecordOptions& options) {
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  std::string mkfs;
  RETURN_IF_ERROR(CheckPrerequisites(options, &mkfs));
  // Before any thread starts (the signal watch, the FUSE disk).
  if (absl::Status s = PrivateMounts(); !s.ok()) {
    log(absl::StrCat("recording in the shared mount namespace: ", s.message()));
  }

  std::string base = options.work_dir;
  if (base.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  }
  std::string dir_template = base + "/crashenum-record-XXXXXX";
  if (::mkdtemp(dir_template.data()) == nullptr) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot create a directory under ", base));
  }
  const std::string dir = dir_template;
  const std::string fuse_dir = dir + "/fuse";
  const std::string mnt = dir + "/mnt";
  ::mkdir(fuse_dir.c_str(), 0700);
  ::mkdir(mnt.c_str(), 0755);

  const std::string raw_path = options.output + ".recording";
  ASSIGN_OR_RETURN(std::unique_ptr<CrashenumTraceWriter> raw_writer,
                   CrashenumTraceWriter::Create(raw_path),
                   "cannot create the trace");
  std::vector<std::pair<std::string, std::string>> info = {
      {"tool", "crashenum record"},
      {"kernel", KernelRelease()},
      {"fs", options.fs},
      {"size", absl::StrCat(options.size_bytes)},
      {"mkfs_options", options.mkfs_options},
      {"mount_options", options.mount_options},
      {"workload", absl::StrJoin(options.workload, " ")},
  };
  Device device;
  device.name = kDeviceName;
  device.sector_size = 512;
  device.num_sectors = options.size_bytes / 512;
  RETURN_IF_ERROR(raw_writer->AddDevice(device).status(), raw_path);
  TraceSink sink(std::move(raw_writer));

  RecordResult result;
  absl::Status failure;  // the first error; the steps after it are skipped
  auto fail = [&](absl::Status s, absl::string_view step) {
    if (failure.ok() && !s.ok()) failure = AddContext(s, step);
  };

  {
    SignalWatch watch;
    std::unique_ptr<FuseDisk> disk;
    std::unique_ptr<LoopDevice> loop;
    std::unique_ptr<TracefsCapture> capture;
    bool mounted = false;
    auto interrupted = [&] {
      if (watch.signal() != 0 && failure.ok()) {
        failure = absl::CancelledError(absl::StrCat(
            "interrupted by ", internal_oracles::SignalName(watch.signal())));
      }
      return !failure.ok();
    };

    absl::StatusOr<std::unique_ptr<FuseDisk>> d =
        FuseDisk::Start(fuse_dir, options.size_bytes, &sink);
    if (d.ok()) {
      disk = std::move(*d);
    } else {
      fail(d.status(), "starting the FUSE disk");
    }
    if (!interrupted()) {
      absl::StatusOr<std::unique_ptr<LoopDevice>> l =
          LoopDevice::Attach(disk->disk_path());
      if (l.ok()) {
        loop = std::move(*l);
        log(absl::StrCat("disk: ", disk->disk_path(), " on ", loop->path()));
      } else {
        fail(l.status(), "attaching the loop device");
      }
    }
    if (!interrupted() && options.block_events) {
      absl::StatusOr<std::unique_ptr<TracefsCapture>> c =
          TracefsCapture::Start(loop->major(), loop->minor());
      if (c.ok()) {
        capture = std::move(*c);
      } else {
        log(absl::StrCat("recording without block events (no flags on "
                         "writes): ",
                         c.status().message()));
        info.emplace_back("block_events",
                          absl::StrCat("unavailable: ", c.status().message()));
      }
    }
    if (!interrupted()) {
      std::vector<std::string> argv = {mkfs,
                                       options.fs == "ext4" ? "-F" : "-f"};
      for (absl::string_view o : absl::StrSplit(
               options.mkfs_options, absl::ByAnyChar(" \t\n"),
               absl::SkipEmpty())) {
        argv.emplace_back(o);
      }
      argv.push_back(loop->path());
      log(absl::StrCat("mkfs: ", absl::StrJoin(argv, " ")));
      fail(RunStep(argv, "mkfs"), "mkfs");
    }
    if (!interrupted()) {
      sink.Mark("mkfs");
      std::vector<std::string> argv = {"mount", "-t", options.fs};
      if (!options.mount_options.empty()) {
        argv.push_back("-o");
        argv.push_back(options.mount_options);
      }
      argv.push_back(loop->path());
      argv.push_back(mnt);
      absl::Status s = RunStep(argv, "mount");
      mounted = s.ok();
      fail(s, "mount");
    }
    if (!interrupted()) {
      log(absl::StrCat("workload: ", absl::StrJoin(options.workload, " ")));
      std::vector<std::pair<std::string, std::string>> env = {
          {"CRASHENUM_MNT", mnt},
          {"CRASHENUM_MARK", disk->mark_path()},
          {"CRASHENUM_DEVICE", loop->path()},
          {"CRASHENUM_FS", options.fs}};
      // `crashenum mark` works in the workload even when crashenum is not
      // on its PATH: this binary's directory comes first.
      char self[4096];
      const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
      if (n > 0) {
        const std::string exe(self, n);
        const char* path = std::getenv("PATH");
        env.emplace_back("CRASHENUM", exe);
        env.emplace_back("PATH",
                         absl::StrCat(exe.substr(0, exe.rfind('/')), ":",
                                      path != nullptr ? path : "/usr/bin:/bin"));
      }
      absl::StatusOr<int> exit = RunWorkload(options, env, watch);
      if (exit.ok()) {
        result.workload_exit = *exit;
        if (*exit != 0 && watch.signal() == 0) {
          fail(absl::AbortedError(absl::StrCat(
                   "the workload exited with status ", *exit)),
               "workload");
        }
      } else {
        fail(exit.status(), "workload");
      }
    }
    interrupted();

    // Clean-up, whatever happened above.
    if (mounted) {
      absl::Status s = Unmount(mnt);
      if (s.ok()) {
        s = AwaitReleased(loop->path());
        if (s.ok()) {
          sink.Mark("umount");
        } else {
          fail(s, "unmount");
        }
      } else {
        fail(s, "unmount");
        ::umount2(mnt.c_str(), MNT_DETACH);
      }
    }
    if (loop != nullptr) fail(loop->Detach(), "detaching the loop device");
    std::string events_text;
    if (capture != nullptr) {
      absl::StatusOr<std::string> text = capture->Stop();
      events_text = capture->text();
      if (text.ok()) {
        result.block_events = true;
        info.emplace_back("block_events", "tracefs");
      } else {
        log(absl::StrCat("block events incomplete, writes keep no flags: ",
                         text.status().message()));
        info.emplace_back("block_events",
                          absl::StrCat("lost: ", text.status().message()));
      }
      capture.reset();
    }
    if (disk != nullptr) {
      disk->Stop();
      if (disk->rejected_requests() > 0) {
        fail(absl::InternalError(absl::StrCat(
                 disk->rejected_requests(),
                 " requests to the FUSE disk were malformed and failed")),
             "recording");
      }
    }
    result.interrupted = watch.signal() != 0;
    fail(sink.Finish(), raw_path);

    if (!options.events_output.empty()) {
      std::ofstream out(options.events_output, std::ios::binary);
      out << events_text;
      if (!out) {
        fail(absl::UnavailableError(absl::StrCat(
                 "cannot write ", options.events_output)),
             "--events");
      }
    }

    // The raw trace becomes the output, with the flags joined in.
    absl::Status written = [&]() -> absl::Status {
      std::string notes;
      ASSIGN_OR_RETURN(Trace raw,
                       ReadCrashenumTrace(raw_path, {}, &notes),
                       "reading back the recording");
      std::vector<BlockEvent> events;
      if (result.block_events) {
        uint64_t line_number = 0;
        for (absl::string_view line : absl::StrSplit(events_text, '\n')) {
          ++line_number;
          absl::StatusOr<std::optional<BlockEvent>> e =
              ParseTracefsLine(line, line_number);
          if (!e.ok()) {
            log(absl::StrCat("skipping a block event line: ",
                             e.status().message()));
            continue;
          }
          if (e->has_value()) events.push_back(**e);
        }
      }
      const std::vector<uint64_t> arrival = sink.arrival_ns();
      ASSIGN_OR_RETURN(
          Trace joined,
          JoinBlockFlags(raw, events, loop ? loop->major() : 0,
                         loop ? loop->minor() : 0,
                         arrival.size() == raw.ops().size() ? &arrival
                                                            : nullptr,
                         &result.join),
          "joining block events");
      result.ops = joined.ops().size();
      result.marks = joined.marks().size();
      ConvertOptions convert;
      convert.format = options.format;
      convert.info = info;
      ASSIGN_OR_RETURN(std::vector<std::string> lost,
                       ConvertTrace(joined, options.output, convert),
                       options.output);
      for (const std::string& line : lost) {
        log(absl::StrCat(options.output, ": ", line));
      }
      ::unlink(raw_path.c_str());
      return absl::OkStatus();
    }();
    result.output_written = written.ok();
    if (!written.ok()) {
      fail(written, absl::StrCat("the raw recording is kept in ", raw_path));
    }
  }

  ::rmdir(mnt.c_str());
  ::rmdir(fuse_dir.c_str());
  ::rmdir(dir.c_str());
  result.status = failure;
  return result;
}

}  // namespace crashenum
