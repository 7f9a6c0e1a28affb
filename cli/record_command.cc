// crashenum record and crashenum mark.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "oracles/internal/durability_marks.h"
#include "oracles/internal/sha256.h"
#include "record/recorder.h"
#include "traces/convert.h"

namespace crashenum {
namespace internal_cli {
namespace {

constexpr char kRecordUsage[] =
    "usage: crashenum record --fs=ext4|xfs|btrfs [--size=64M] "
    "[--mkfs-opts=...]\n"
    "                        [--mount-opts=...] -o TRACE -- WORKLOAD...\n"
    "\n"
    "Runs WORKLOAD (one argument: a shell command; several: a command and\n"
    "its arguments) on a fresh file system whose disk is a FUSE file behind\n"
    "a loop device, and writes every write (with its data), flush and\n"
    "discard the disk received, with the flags the file system gave them.\n"
    "Marks: 'mkfs' after mkfs, 'umount' after the unmount, and each line the\n"
    "workload writes to $CRASHENUM_MARK (or `crashenum mark LABEL`). The\n"
    "workload sees CRASHENUM_MNT (the mount point), CRASHENUM_MARK,\n"
    "CRASHENUM_DEVICE and CRASHENUM_FS. Needs root, /dev/fuse and loop\n"
    "devices.\n\n";

absl::StatusOr<RecordOptions> OptionsFrom(const Flags& flags,
                                          std::vector<std::string> workload) {
  RecordOptions o;
  o.fs = flags.Get("fs");
  if (o.fs.empty()) {
    return absl::InvalidArgumentError("record needs --fs=ext4|xfs|btrfs");
  }
  absl::StatusOr<int64_t> size = flags.GetInt("size", 64 << 20, true);
  if (!size.ok()) return size.status();
  o.size_bytes = static_cast<uint64_t>(*size);
  o.mkfs_options = flags.Get("mkfs-opts");
  o.mount_options = flags.Get("mount-opts");
  o.output = flags.Get("output");
  absl::StatusOr<TraceFormat> format =
      WritableFormat(flags.Get("format", "crashenum"));
  if (!format.ok()) return format.status();
  o.format = *format;
  o.block_events = !flags.GetBool("no-block-events");
  o.work_dir = flags.Get("work-dir");
  o.events_output = flags.Get("events");
  if (!flags.positional().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument '", flags.positional()[0],
        "': put the workload after '--'"));
  }
  o.workload = std::move(workload);
  return o;
}

}  // namespace

int RecordCommand(const std::vector<std::string>& args) {
  Flags flags;
  flags.Define("fs", "file system: ext4, xfs or btrfs");
  flags.Define("size", "disk size (K/M/G suffixes), default 64M");
  flags.Define("mkfs-opts", "options for mkfs.FS, split on white space");
  flags.Define("mount-opts", "options for mount -o, e.g. barrier=0");
  flags.Define("output", "trace file to write", false, {"-o"});
  flags.Define("format", "crashenum (default) or dm-log-writes");
  flags.Define("no-block-events",
               "do not join the kernel's tracefs block events (writes then "
               "carry no flags)",
               true);
  flags.Define("events", "also save the captured tracefs block events here");
  flags.Define("work-dir",
               "where the private mount points go (default $TMPDIR or /tmp)");
  flags.Define("help", "show this help", true, {"-h"});
  const auto dash = std::find(args.begin(), args.end(), "--");
  std::vector<std::string> own(args.begin(), dash);
  std::vector<std::string> workload;
  if (dash != args.end()) workload.assign(dash + 1, args.end());
  absl::Status s = flags.Parse(own);
  if (s.ok() && flags.GetBool("help")) {
    std::printf("%s%s", kRecordUsage, flags.Usage().c_str());
    return kExitOk;
  }
  absl::StatusOr<RecordOptions> options =
      s.ok() ? OptionsFrom(flags, std::move(workload))
             : absl::StatusOr<RecordOptions>(s);
  if (!options.ok()) {
    std::fprintf(stderr, "crashenum record: %s\n",
                 options.status().ToString().c_str());
    return ExitCodeFor(options.status());
  }
  options->log = [](const std::string& line) {
    std::fprintf(stderr, "crashenum record: %s\n", line.c_str());
  };
  absl::StatusOr<RecordResult> r = Record(*options);
  if (!r.ok()) {
    std::fprintf(stderr, "crashenum record: %s\n",
                 r.status().ToString().c_str());
    return ExitCodeFor(r.status());
  }
  const internal_record::JoinReport& j = r->join;
  if (r->output_written) {
    std::fprintf(stderr,
                 "crashenum record: wrote %s: %llu ops, %llu marks; block "
                 "events %s\n",
                 options->output.c_str(),
                 static_cast<unsigned long long>(r->ops),
                 static_cast<unsigned long long>(r->marks),
                 r->block_events ? "joined" : "not available");
    if (r->block_events) {
      std::fprintf(
          stderr,
          "crashenum record: writes: %llu, with flags from the kernel: %llu "
          "(PREFLUSH %llu, FUA %llu, META %llu, SYNC %llu); without a "
          "matching bio: %llu; hole punches that were write zeroes: "
          "%llu\n",
          static_cast<unsigned long long>(j.writes),
          static_cast<unsigned long long>(j.writes_joined),
          static_cast<unsigned long long>(j.preflush),
          static_cast<unsigned long long>(j.fua),
          static_cast<unsigned long long>(j.meta),
          static_cast<unsigned long long>(j.sync),
          static_cast<unsigned long long>(j.writes_unjoined),
          static_cast<unsigned long long>(j.punches_as_zeroes));
    }
  }
  if (!r->status.ok()) {
    std::fprintf(stderr, "crashenum record: %s\n",
                 r->status.ToString().c_str());
    if (r->output_written) {
      std::fprintf(stderr,
                   "crashenum record: the trace up to that point is in %s "
                   "and is valid\n",
                   options->output.c_str());
    }
    return ExitCodeFor(r->status);
  }
  return kExitOk;
}

namespace {

constexpr char kMarkUsage[] =
    "usage: crashenum mark LABEL\n"
    "       crashenum mark --durable fsync FILE | rename OLD NEW | unlink PATH"
    " |\n"
    "                                mkdir DIR | dirty PATH\n"
    "Adds the mark LABEL to the trace `crashenum record` is writing, in order "
    "with the I/O\n(it writes LABEL and a newline to $CRASHENUM_MARK).\n"
    "\n"
    "With --durable it adds a durability mark, which the durability oracle\n"
    "checks in every crash state after it. It states what the workload has\n"
    "just made durable; it does not fsync anything itself:\n"
    "  fsync FILE      FILE was fsynced: its current content (SHA-256) must\n"
    "                  survive a crash\n"
    "  rename OLD NEW  the rename was made durable (its directory fsynced):\n"
    "                  NEW holds what OLD held, OLD is gone\n"
    "  unlink PATH     the removal of PATH was made durable\n"
    "  mkdir DIR       the directory DIR was made durable\n"
    "  dirty PATH      PATH is about to change again before its next\n"
    "                  durability point: expect nothing of it until then\n"
    "Paths name files below $CRASHENUM_MNT (absolute, or relative to the\n"
    "current directory); the mark holds them relative to it, e.g.\n"
    "'fsync dir/a.txt 9f86d0...'. See docs/ORACLES.md.\n";

// Appends `label` and a newline to $CRASHENUM_MARK; returns the exit code.
int WriteMark(const std::string& label) {
  const char* path = std::getenv("CRASHENUM_MARK");
  if (path == nullptr || *path == '\0') {
    std::fprintf(stderr,
                 "crashenum mark: CRASHENUM_MARK is not set (run this inside "
                 "a `crashenum record` workload)\n");
    return kExitUsage;
  }
  const int fd = ::open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "crashenum mark: %s: %s\n", path,
                 std::strerror(errno));
    return kExitInfrastructure;
  }
  const std::string line = label + "\n";
  const ssize_t n = ::write(fd, line.data(), line.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    std::fprintf(stderr, "crashenum mark: writing %s: %s\n", path,
                 std::strerror(err));
    return kExitInfrastructure;
  }
  return kExitOk;
}

// realpath(3) of `path`. Errors: InvalidArgument naming it and why.
absl::StatusOr<std::string> RealPath(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", std::strerror(errno)));
  }
  std::string out(real);
  std::free(real);
  return out;
}

// `path` relative to the mount point `mnt`: its directory is resolved (so
// symbolic links and ".." there are followed), its last component kept as
// it is. Errors: InvalidArgument when it is not below `mnt`, cannot be
// resolved, or cannot be written in a mark.
absl::StatusOr<std::string> MountRelative(std::string path,
                                          const std::string& mnt) {
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  if (path[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot find the current directory: ", std::strerror(errno)));
    }
    path = absl::StrCat(cwd, "/", path);
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  std::string base = path.substr(slash + 1);
  std::string full;
  if (base == "." || base == "..") {
    absl::StatusOr<std::string> real = RealPath(path);
    if (!real.ok()) return real.status();
    full = *real;
  } else {
    absl::StatusOr<std::string> real_dir = RealPath(dir);
    if (!real_dir.ok()) return real_dir.status();
    full = *real_dir == "/" ? "/" + base : absl::StrCat(*real_dir, "/", base);
  }
  absl::StatusOr<std::string> real_mnt = RealPath(mnt);
  if (!real_mnt.ok()) return real_mnt.status();
  if (full == *real_mnt) {
    return absl::InvalidArgumentError(absl::StrCat(
        full, " is the root of the file system: name a path below it"));
  }
  const std::string prefix = *real_mnt == "/" ? "/" : *real_mnt + "/";
  if (full.size() <= prefix.size() || full.compare(0, prefix.size(), prefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat(full, " is not below $CRASHENUM_MNT (", *real_mnt, ")"));
  }
  std::string rel = full.substr(prefix.size());
  if (rel.find_first_of("\n\r") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("a mark cannot hold a path with a line break: ", full));
  }
  absl::Status valid = internal_oracles::ValidateMarkPath(rel);
  if (!valid.ok()) return valid;
  return rel;
}

// The durability mark for `args` (after --durable).
absl::StatusOr<std::string> DurableLabel(const std::vector<std::string>& args) {
  using internal_oracles::DurabilityMark;
  using internal_oracles::DurabilityVerb;
  const char* mnt = std::getenv("CRASHENUM_MNT");
  if (mnt == nullptr || *mnt == '\0') {
    return absl::InvalidArgumentError(
        "CRASHENUM_MNT is not set (run this inside a `crashenum record` "
        "workload)");
  }
  const std::string verb = args.empty() ? "" : args[0];
  const size_t arity = verb == "rename" ? 2 : 1;
  if (!internal_oracles::IsDurabilityKeyword(verb) ||
      args.size() != arity + 1) {
    return absl::InvalidArgumentError(
        "expected --durable fsync FILE | rename OLD NEW | unlink PATH | "
        "mkdir DIR | dirty PATH");
  }
  DurabilityMark mark;
  absl::StatusOr<std::string> path = MountRelative(args[1], mnt);
  if (!path.ok()) return path.status();
  mark.path = *path;
  if (verb == "fsync") {
    mark.verb = DurabilityVerb::kFsync;
    struct stat st;
    if (::stat(args[1].c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(args[1], " is not a regular file"));
    }
    absl::StatusOr<std::string> sha =
        internal_oracles::Sha256FileHex(args[1]);
    if (!sha.ok()) return sha.status();
    mark.sha256 = *sha;
  } else if (verb == "rename") {
    mark.verb = DurabilityVerb::kRename;
    absl::StatusOr<std::string> to = MountRelative(args[2], mnt);
    if (!to.ok()) return to.status();
    mark.new_path = *to;
  } else if (verb == "unlink") {
    mark.verb = DurabilityVerb::kUnlink;
  } else if (verb == "mkdir") {
    mark.verb = DurabilityVerb::kMkdir;
  } else {
    mark.verb = DurabilityVerb::kDirty;
  }
  std::string label = internal_oracles::FormatDurabilityMark(mark);
  // Catches what the grammar refuses (e.g. a rename into itself).
  absl::StatusOr<std::optional<DurabilityMark>> back =
      internal_oracles::ParseDurabilityMark(label);
  if (!back.ok()) return back.status();
  return label;
}

}  // namespace

int MarkCommand(const std::vector<std::string>& args) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("%s", kMarkUsage);
    return kExitOk;
  }
  if (!args.empty() && args[0] == "--durable") {
    absl::StatusOr<std::string> label = DurableLabel(
        std::vector<std::string>(args.begin() + 1, args.end()));
    if (!label.ok()) {
      std::fprintf(stderr, "crashenum mark: %s\n",
                   std::string(label.status().message()).c_str());
      return kExitUsage;
    }
    return WriteMark(*label);
  }
  if (args.size() != 1 || args[0].empty()) {
    std::fprintf(stderr, "%s", kMarkUsage);
    return kExitUsage;
  }
  if (args[0].find_first_of("\n\r") != std::string::npos) {
    std::fprintf(stderr, "crashenum mark: a label is one line\n");
    return kExitUsage;
  }
  return WriteMark(args[0]);
}

}  // namespace internal_cli
}  // namespace crashenum
