#include "oracles/internal/fs_oracles.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "oracles/internal/isolation.h"
#include "oracles/internal/mount_runner.h"
#include "oracles/internal/oracle_text.h"
#include "oracles/internal/subprocess.h"

namespace crashenum {
namespace internal_oracles {
namespace {

constexpr char kSystemPath[] = "/usr/sbin:/usr/bin:/sbin:/bin";
constexpr size_t kTailLines = 10;
constexpr size_t kTailBytes = 2000;
constexpr size_t kMaxLines = 10;
constexpr size_t kMaxLineBytes = 240;

const std::vector<std::string>& SystemDirs() {
  static const auto* dirs =
      new std::vector<std::string>{"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
  return *dirs;
}

// What every mounting oracle needs before it can run at all.
absl::Status CheckCanMount(absl::string_view who, absl::string_view why) {
  if (!FindProgram("mount", SystemDirs()).ok() ||
      !FindProgram("umount", SystemDirs()).ok()) {
    return absl::UnavailableError(
        absl::StrCat("the ", who,
                     " oracle needs mount and umount (Debian package mount), "
                     "not found in PATH, /sbin or /usr/sbin"));
  }
  if (!HasMountPrivilege()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the ", who, " oracle needs root to ", why,
        " with a loop mount; run as root (or with CAP_SYS_ADMIN), preferably "
        "in a disposable VM (see docs/ORACLES.md)"));
  }
  if (access("/dev/loop-control", F_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the ", who,
                     " oracle needs loop devices: /dev/loop-control is "
                     "missing (modprobe loop)"));
  }
  return absl::OkStatus();
}

// `options` with the time left until `deadline` as its timeout.
OracleOptions WithDeadline(const OracleOptions& options, absl::Time deadline) {
  OracleOptions left = options;
  left.timeout = std::max(deadline - absl::Now(), absl::Milliseconds(1));
  return left;
}

// Options for a trusted tool: isolated, a fixed environment.
SubprocessOptions ToolOptions(const OracleOptions& options,
                              absl::Time deadline) {
  SubprocessOptions run = IsolatedOptions(WithDeadline(options, deadline));
  run.inherit_environment = false;
  run.set_env = {
      {"PATH", kSystemPath}, {"LANG", "C"}, {"LC_ALL", "C"}, {"TZ", "UTC"}};
  return run;
}

std::string Scrub(absl::string_view output, const std::string& image) {
  return ScrubPaths(output, {{image, "{image}"}});
}

// The ERROR verdict for a run that timed out or was killed; nullopt for one
// that exited.
std::optional<Verdict> Unfinished(absl::string_view what,
                                  const SubprocessResult& r,
                                  absl::Duration timeout,
                                  const std::string& tail) {
  if (r.timed_out) {
    return Verdict::Error(WithDetail(
        absl::StrCat(what, " timed out after ", absl::FormatDuration(timeout)),
        tail));
  }
  if (r.term_signal != 0) {
    return Verdict::Error(
        WithDetail(absl::StrCat(what, " killed by signal ", r.term_signal, " (",
                                SignalName(r.term_signal), ")"),
                   tail));
  }
  return std::nullopt;
}

// mount(8) did not get to say whether the image mounts: it hung or was
// killed (RunInMountedImage's mount_output then starts with what ended it).
bool MountUnfinished(const MountRunResult& m) {
  return absl::StartsWith(m.mount_output, "timed out") ||
         absl::StartsWith(m.mount_output, "killed by signal");
}

// The first meaningful lines of a checker's output ("(N more lines)" when
// cut); its last lines when none is meaningful.
std::string Findings(absl::string_view output,
                     const std::function<bool(absl::string_view)>& is_noise) {
  std::vector<std::string> kept;
  size_t more = 0;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || is_noise(line)) continue;
    if (kept.size() < kMaxLines) {
      kept.push_back(CapLine(line, kMaxLineBytes));
    } else {
      ++more;
    }
  }
  if (kept.empty()) return LastLines(output, kTailLines, kTailBytes);
  if (more > 0) kept.push_back(absl::StrCat("(", more, " more lines)"));
  return absl::StrJoin(kept, "\n");
}

bool IsXfsRepairNoise(absl::string_view line) {
  return absl::StartsWith(line, "Phase ") || absl::StartsWith(line, "- ") ||
         absl::StartsWith(line, "Cannot get host filesystem geometry") ||
         absl::StartsWith(line, "Repair may fail if there is a sector size") ||
         absl::StartsWith(line, "the image and the host filesystem") ||
         absl::StartsWith(line, "No modify flag set, skipping");
}

bool IsBtrfsCheckNoise(absl::string_view line) {
  // "[4/7] checking fs roots"
  if (line.size() > 4 && line[0] == '[' && absl::ascii_isdigit(line[1]) &&
      line[2] == '/') {
    return true;
  }
  for (absl::string_view prefix :
       {"Opening filesystem to check", "Checking filesystem on ",
        "UUID: ", "found ", "total ", "btree space waste bytes",
        "file data blocks", "referenced "}) {
    if (absl::StartsWith(line, prefix)) return true;
  }
  return false;
}

// What distinguishes the "xfs" and "btrfs" oracles.
struct FsCheck {
  std::string name;                  // "xfs"
  std::string fs_type;               // for mount -t
  std::string mount_options;         // extra -o options
  std::vector<std::string> checker;  // argv without the image (0: a path)
  std::string checker_name;          // for messages: "xfs_repair -n"
  bool (*is_noise)(absl::string_view line);
  bool serialize;  // hold a BtrfsLock
};

// Mounts (log replay), unmounts, then runs the file system's checker.
class FsCheckOracle : public Oracle {
 public:
  FsCheckOracle(FsCheck fs, const OracleOptions& options)
      : fs_(std::move(fs)), options_(options) {
    traits_.metadata_only = true;
    traits_.mutates_image = true;
    traits_.needs_root = true;
    traits_.deterministic = true;
  }

  const std::string& name() const override { return fs_.name; }
  const OracleTraits& traits() const override { return traits_; }

  Verdict Check(const ImageSet& images, const StateId& state) override {
    if (images.paths.empty()) {
      return Verdict::Error(
          absl::StrCat(fs_.name, ": the crash state has no images"));
    }
    const std::string& image = images.paths[0];
    std::optional<BtrfsLock> lock;
    if (fs_.serialize) {
      lock.emplace(absl::Now() + options_.timeout + BtrfsLock::kPatience);
      if (!lock->status().ok()) {
        return Verdict::Error(
            absl::StrCat(fs_.name, ": ", lock->status().message()));
      }
    }
    const absl::Time deadline = absl::Now() + options_.timeout;

    MountRunOptions mount;
    mount.fs_type = fs_.fs_type;
    mount.mount_options = fs_.mount_options;
    absl::StatusOr<MountRunResult> m =
        RunInMountedImage(image, mount, {}, WithDeadline(options_, deadline));
    if (!m.ok()) {
      return Verdict::Error(absl::StrCat(fs_.name, ": ", m.status().message()));
    }
    if (!m->mounted) {
      std::string output = Scrub(m->mount_output, image);
      if (MountUnfinished(*m)) {
        return Verdict::Error(WithDetail("log recovery (mount)", output));
      }
      return Verdict::Fail(WithDetail("log recovery failed", output));
    }
    if (!m->unmounted) {
      return Verdict::Error(WithDetail("unmount after log recovery failed",
                                       Scrub(m->unmount_output, image)));
    }

    std::vector<std::string> argv = fs_.checker;
    argv.push_back(image);
    absl::StatusOr<SubprocessResult> r =
        RunSubprocess(argv, ToolOptions(options_, deadline));
    if (!r.ok()) {
      return Verdict::Error(
          absl::StrCat(fs_.checker_name, ": ", r.status().message()));
    }
    std::string output = Scrub(r->output, image);
    if (std::optional<Verdict> v =
            Unfinished(fs_.checker_name, *r, options_.timeout,
                       LastLines(output, kTailLines, kTailBytes))) {
      return *v;
    }
    if (r->exit_code == 0) return Verdict::Pass();
    std::string what = absl::StrCat(fs_.checker_name, ": exit ", r->exit_code);
    if (r->exit_code == 1) {
      return Verdict::Fail(WithDetail(what, Findings(output, fs_.is_noise)));
    }
    return Verdict::Error(
        WithDetail(what, LastLines(output, kTailLines, kTailBytes)));
  }

 private:
  const FsCheck fs_;
  const OracleOptions options_;
  OracleTraits traits_;
};

// Mounts, runs the user's script on the mount point, unmounts.
class MountScriptOracle : public Oracle {
 public:
  MountScriptOracle(std::string spec, std::string script, std::string blkid,
                    const OracleOptions& options)
      : name_(std::move(spec)),
        script_(std::move(script)),
        blkid_(std::move(blkid)),
        options_(options) {
    traits_.metadata_only = false;
    traits_.mutates_image = true;
    traits_.needs_root = true;
    traits_.deterministic = true;  // assumed of the user's script
  }

  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }

  Verdict Check(const ImageSet& images, const StateId& state) override {
    if (images.paths.empty()) {
      return Verdict::Error("mount oracle: the crash state has no images");
    }
    const std::string& image = images.paths[0];
    const absl::Time deadline = absl::Now() + options_.timeout;

    // Images of one xfs trace share its UUID: mount them with nouuid.
    absl::StatusOr<SubprocessResult> probe =
        RunSubprocess({blkid_, "-p", "-o", "value", "-s", "TYPE", image},
                      ToolOptions(options_, deadline));
    if (!probe.ok()) {
      return Verdict::Error(absl::StrCat("blkid: ", probe.status().message()));
    }
    if (std::optional<Verdict> v = Unfinished(
            "blkid", *probe, options_.timeout,
            LastLines(Scrub(probe->output, image), kTailLines, kTailBytes))) {
      return *v;
    }
    MountRunOptions mount;
    if (probe->exit_code == 0 &&
        absl::StripAsciiWhitespace(probe->output) == "xfs") {
      mount.mount_options = "nouuid";
    }
    mount.env = {{"CRASHENUM_STATE", state.ToString()},
                 {"CRASHENUM_IMAGE", image}};

    absl::StatusOr<MountRunResult> m = RunInMountedImage(
        image, mount, {script_}, WithDeadline(options_, deadline));
    if (!m.ok()) {
      return Verdict::Error(absl::StrCat(name_, ": ", m.status().message()));
    }
    if (!m->mounted) {
      std::string output = Scrub(m->mount_output, image);
      if (MountUnfinished(*m))
        return Verdict::Error(WithDetail("mount", output));
      return Verdict::Fail(WithDetail(
          "mount failed (the file system's own recovery failed)", output));
    }
    const SubprocessResult& ran = *m->command;
    std::string tail =
        LastLines(Scrub(ran.output, image), kTailLines, kTailBytes);
    if (ran.timed_out) {
      return Verdict::Error(
          WithDetail(absl::StrCat("timed out after ",
                                  absl::FormatDuration(options_.timeout)),
                     tail));
    }
    if (ran.term_signal != 0) {
      return Verdict::Error(
          WithDetail(absl::StrCat("killed by signal ", ran.term_signal, " (",
                                  SignalName(ran.term_signal), ")"),
                     tail));
    }
    if (ran.exit_code != 0) {
      return Verdict::Fail(
          WithDetail(absl::StrCat("exit ", ran.exit_code), tail));
    }
    if (!m->unmounted) {
      return Verdict::Error(
          WithDetail("unmount failed", Scrub(m->unmount_output, image)));
    }
    return Verdict::Pass();
  }

 private:
  const std::string name_;
  const std::string script_;  // absolute
  const std::string blkid_;
  const OracleOptions options_;
  OracleTraits traits_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Oracle>> MakeXfsOracle(
    const OracleOptions& options) {
  absl::StatusOr<std::string> xfs_repair =
      FindProgram("xfs_repair", SystemDirs());
  if (!xfs_repair.ok()) {
    return absl::UnavailableError(
        "the xfs oracle needs xfs_repair (Debian package xfsprogs), not found "
        "in PATH, /sbin or /usr/sbin");
  }
  RETURN_IF_ERROR(CheckCanMount("xfs", "replay the log"));
  FsCheck fs;
  fs.name = "xfs";
  fs.fs_type = "xfs";
  fs.mount_options = "nouuid";
  fs.checker = {*xfs_repair, "-n", "-f"};
  fs.checker_name = "xfs_repair -n";
  fs.is_noise = IsXfsRepairNoise;
  fs.serialize = false;
  return std::make_unique<FsCheckOracle>(std::move(fs), options);
}

absl::StatusOr<std::unique_ptr<Oracle>> MakeBtrfsOracle(
    const OracleOptions& options) {
  absl::StatusOr<std::string> btrfs = FindProgram("btrfs", SystemDirs());
  if (!btrfs.ok()) {
    return absl::UnavailableError(
        "the btrfs oracle needs btrfs (Debian package btrfs-progs), not "
        "found in PATH, /sbin or /usr/sbin");
  }
  RETURN_IF_ERROR(CheckCanMount("btrfs", "replay the log tree"));
  FsCheck fs;
  fs.name = "btrfs";
  fs.fs_type = "btrfs";
  fs.checker = {*btrfs, "check", "--readonly"};
  fs.checker_name = "btrfs check --readonly";
  fs.is_noise = IsBtrfsCheckNoise;
  fs.serialize = true;
  return std::make_unique<FsCheckOracle>(std::move(fs), options);
}

absl::StatusOr<std::unique_ptr<Oracle>> MakeMountScriptOracle(
    absl::string_view spec, absl::string_view script,
    const OracleOptions& options) {
  if (script.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("oracle '", spec, "': empty script path after 'mount:'"));
  }
  std::string path(script);
  if (path[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "oracle '", spec,
          "': cannot determine the working directory: ", std::strerror(errno)));
    }
    path = absl::StrCat(cwd, "/", path);
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("oracle '", spec, "': script '", script,
                     "' cannot be found: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "oracle '", spec, "': script '", script,
        "' is not an executable file (chmod +x, and start it with #!)"));
  }
  absl::StatusOr<std::string> blkid = FindProgram("blkid", SystemDirs());
  if (!blkid.ok()) {
    return absl::UnavailableError(
        "the mount oracle needs blkid (Debian package util-linux), not found "
        "in PATH, /sbin or /usr/sbin");
  }
  RETURN_IF_ERROR(CheckCanMount("mount", "mount the images"));
  return std::make_unique<MountScriptOracle>(std::string(spec), std::move(path),
                                             *std::move(blkid), options);
}

}  // namespace internal_oracles
}  // namespace crashenum
