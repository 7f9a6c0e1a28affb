// crashenum record and crashenum mark.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/common.h"
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

int MarkCommand(const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0].empty() || args[0] == "--help" ||
      args[0] == "-h") {
    std::fprintf(stderr,
                 "usage: crashenum mark LABEL\n"
                 "Adds the mark LABEL to the trace `crashenum record` is "
                 "writing, in order with the I/O\n(it writes LABEL and a "
                 "newline to $CRASHENUM_MARK).\n");
    return args.size() == 1 && (args[0] == "--help" || args[0] == "-h")
               ? kExitOk
               : kExitUsage;
  }
  if (args[0].find_first_of("\n\r") != std::string::npos) {
    std::fprintf(stderr, "crashenum mark: a label is one line\n");
    return kExitUsage;
  }
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
  const std::string line = args[0] + "\n";
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

}  // namespace internal_cli
}  // namespace crashenum
