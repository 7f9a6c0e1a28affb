#include "cli/common.h"

#include <linux/magic.h>
#include <stdlib.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "traces/trace_reader.h"

namespace crashenum {
namespace internal_cli {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
      return kExitUsage;
    default:
      return kExitInfrastructure;
  }
}

void DefineTraceFlags(Flags& flags) {
  flags.Define("read-past-end",
               "dm-log-writes: read valid entries past the super block's count",
               true);
  flags.Define("device-size",
               "device size in bytes (K/M/G suffixes); default: inferred");
  flags.Define("data",
               "blktrace / block event text: the data capture (a crashenum or "
               "dm-log-writes trace of the device) giving the written bytes");
  flags.Define("blk-device",
               "blktrace / block event text: MAJ,MIN of the device to use");
}

void DefineModelFlags(Flags& flags) {
  flags.Define("atomic-unit",
               "bytes a device writes atomically (power of two >= 8); "
               "default: the logical sector");
  flags.Define("torn", "sectors (default): unflushed writes may tear; none");
  flags.Define("discard", "either (default) | keep | zero");
  flags.Define("oracle-reads",
               "all (default) | metadata: the oracle judges only metadata, so "
               "writes without META are taken as persisted and only metadata "
               "writes are enumerated");
}

void DefineEnumerateFlags(Flags& flags) {
  flags.Define("crash-points", "durable (default) | flushes | marks | all");
  flags.Define("from-mark", "only crash points at or after this mark");
  flags.Define("to-mark", "only crash points at or before this mark");
  flags.Define("max-states",
               "refuse to start above this many states (default 1000000)");
  flags.Define("drop-at-most", "only states missing at most K optional writes");
  flags.Define("tear-at-most", "only states with at most K torn writes");
  flags.Define("sample", "N seeded random states per crash point");
  flags.Define("seed", "seed for --sample (default 0)");
}

const std::vector<std::string>& ModelFlagNames() {
  static const auto* names = new std::vector<std::string>{
      "read-past-end", "device-size", "data",        "blk-device",
      "atomic-unit",   "discard",     "oracle-reads"};
  return *names;
}

absl::StatusOr<Trace> OpenTraceFromFlags(const Flags& flags,
                                         std::string* notes) {
  if (flags.positional().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected exactly one trace file, got ", flags.positional().size(),
        flags.positional().empty()
            ? ""
            : absl::StrCat(": ", absl::StrJoin(flags.positional(), " "))));
  }
  ReadOptions ro;
  ro.read_past_end = flags.GetBool("read-past-end");
  ASSIGN_OR_RETURN(int64_t size, flags.GetInt("device-size", 0, true));
  ro.device_size_bytes = static_cast<uint64_t>(size);
  ro.data_path = flags.Get("data");
  ro.device_filter = flags.Get("blk-device");
  return ReadTrace(flags.positional()[0], ro, notes);
}

void PrintNotes(std::FILE* out, const std::string& notes) {
  for (absl::string_view line :
       absl::StrSplit(notes, '\n', absl::SkipEmpty())) {
    std::fprintf(out, "note: %.*s\n", static_cast<int>(line.size()),
                 line.data());
  }
}

absl::Status OptionsFromFlags(const Flags& flags, CheckOptions* options) {
  ASSIGN_OR_RETURN(int64_t unit, flags.GetInt("atomic-unit", 0, true));
  if (unit > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError("--atomic-unit: at most 1M");
  }
  options->model.atomic_unit = static_cast<uint32_t>(unit);
  const std::string reads = flags.Get("oracle-reads", "all");
  if (reads != "all" && reads != "metadata") {
    return absl::InvalidArgumentError(
        absl::StrCat("--oracle-reads=", reads, ": expected all or metadata"));
  }
  options->model.metadata_only = reads == "metadata";
  const std::string torn = flags.Get("torn", "sectors");
  if (torn == "sectors") {
    options->model.torn = true;
  } else if (torn == "none") {
    options->model.torn = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--torn=", torn, ": expected sectors or none"));
  }
  const std::string discard = flags.Get("discard", "either");
  if (discard == "either") {
    options->model.discard = DiscardMode::kEither;
  } else if (discard == "keep") {
    options->model.discard = DiscardMode::kKeep;
  } else if (discard == "zero") {
    options->model.discard = DiscardMode::kZero;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--discard=", discard, ": expected either, keep or zero"));
  }
  const std::string cp = flags.Get("crash-points", "durable");
  if (cp == "durable") {
    options->points.mode = CrashPointMode::kDurable;
  } else if (cp == "flushes") {
    options->points.mode = CrashPointMode::kFlushes;
  } else if (cp == "marks") {
    options->points.mode = CrashPointMode::kMarks;
  } else if (cp == "all") {
    options->points.mode = CrashPointMode::kAll;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--crash-points=", cp, ": expected durable, flushes, marks or all"));
  }
  options->points.discard = options->model.discard;
  options->points.from_mark = flags.Get("from-mark");
  options->points.to_mark = flags.Get("to-mark");
  ASSIGN_OR_RETURN(int64_t max_states,
                   flags.GetInt("max-states", 1000000, false));
  options->max_states = static_cast<uint64_t>(max_states);
  ASSIGN_OR_RETURN(options->enumerate.drop_at_most,
                   flags.GetInt("drop-at-most", -1));
  ASSIGN_OR_RETURN(options->enumerate.tear_at_most,
                   flags.GetInt("tear-at-most", -1));
  ASSIGN_OR_RETURN(int64_t sample, flags.GetInt("sample", 0));
  ASSIGN_OR_RETURN(int64_t seed, flags.GetInt("seed", 0));
  if (flags.Has("seed") && sample == 0) {
    return absl::InvalidArgumentError("--seed goes with --sample=N");
  }
  options->enumerate.sample = static_cast<uint64_t>(sample);
  options->enumerate.seed = static_cast<uint64_t>(seed);
  return absl::OkStatus();
}

absl::StatusOr<ResolvedState> ResolveStateFromFlags(const Flags& flags,
                                                    const Trace& trace,
                                                    ModelOptions model) {
  ResolvedState r;
  ASSIGN_OR_RETURN(r.id, StateId::Parse(flags.Get("state")));
  // The ID names its unit size; use it unless the user set one.
  if (!flags.Has("atomic-unit") && r.id.unit_bytes != 0) {
    model.atomic_unit = r.id.unit_bytes;
  }
  ASSIGN_OR_RETURN(r.hashes, UnitHashes::Build(trace, model.atomic_unit));
  ASSIGN_OR_RETURN(r.space, StateSpace::Build(*r.hashes, r.id.event, model));
  ASSIGN_OR_RETURN(r.resolution, r.space->Resolve(r.id));
  return r;
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() &&
      s.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789@%_+=:,./-") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

void DefineOracleFlags(Flags& flags) {
  flags.Define("oracle",
               "ext4-fsck | xfs | btrfs | mount:SCRIPT | durability | "
               "exec:CMD | plugin:PATH[:ARGS] (see docs/ORACLES.md)");
  flags.Define(
      "oracle-timeout",
      "limit of one oracle run; past it the run is ERROR (default 60s)");
  flags.Define("oracle-memory",
               "address-space limit of each oracle process (default 8G; 0: "
               "none)");
  flags.Define("oracle-file-size",
               "largest file an oracle process may write (default 64G; 0: "
               "none)");
  flags.Define("oracle-network",
               "let oracle processes use the network (default: each runs in "
               "a new network namespace)",
               true);
}

absl::StatusOr<OracleOptions> OracleOptionsFromFlags(
    const Flags& flags, const Trace& trace, const std::string& scratch_dir) {
  OracleOptions o;
  ASSIGN_OR_RETURN(o.timeout,
                   flags.GetDuration("oracle-timeout", absl::Seconds(60)));
  ASSIGN_OR_RETURN(
      int64_t memory,
      flags.GetInt("oracle-memory", static_cast<int64_t>(o.max_memory_bytes),
                   true));
  ASSIGN_OR_RETURN(
      int64_t file_size,
      flags.GetInt("oracle-file-size",
                   static_cast<int64_t>(o.max_file_size_bytes), true));
  if (memory < 0 || file_size < 0) {
    return absl::InvalidArgumentError(
        "--oracle-memory and --oracle-file-size must not be negative");
  }
  o.max_memory_bytes = static_cast<uint64_t>(memory);
  o.max_file_size_bytes = static_cast<uint64_t>(file_size);
  o.isolate_network = !flags.GetBool("oracle-network");
  o.scratch_dir = scratch_dir;
  o.trace = &trace;
  return o;
}

std::string DescribeTraits(const OracleTraits& t) {
  return absl::StrCat(
      t.metadata_only ? "judges metadata only" : "reads everything",
      t.mutates_image ? ", may modify its image" : ", leaves its image alone",
      t.needs_root ? ", needs root" : "",
      t.deterministic ? ", deterministic" : ", not deterministic");
}

std::string DefaultTmpDir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

long double WritableTmpfsFreeBytes(const char* dir) {
  struct statfs fs;
  if (::statfs(dir, &fs) != 0 || fs.f_type != TMPFS_MAGIC ||
      ::access(dir, W_OK | X_OK) != 0) {
    return -1;
  }
  return static_cast<long double>(fs.f_bavail) * fs.f_bsize;
}

std::string DefaultWorkParent(uint64_t bytes) {
  constexpr const char* kShm = "/dev/shm";
  if (WritableTmpfsFreeBytes(kShm) >= 4.0L * static_cast<long double>(bytes)) {
    return kShm;
  }
  return DefaultTmpDir();
}

absl::StatusOr<ScratchDir> ScratchDir::Create(const std::string& parent) {
  std::string tmpl = parent + "/crashenum.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot create a work directory in ", parent, ": ",
                     std::strerror(errno), " (set --work-dir)"));
  }
  return ScratchDir(tmpl);
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string CheckStateCommand(const Flags& flags, const std::string& trace,
                              const std::string& id) {
  std::vector<std::string> parts = {
      "crashenum", "check", ShellQuote(trace), "--state=" + id,
      ShellQuote("--oracle=" + flags.Get("oracle"))};
  for (const std::string& f :
       flags.Given({"oracle-timeout", "oracle-memory", "oracle-file-size",
                    "oracle-network"})) {
    parts.push_back(ShellQuote(f));
  }
  for (const std::string& f : flags.Given(ModelFlagNames())) {
    parts.push_back(ShellQuote(f));
  }
  return absl::StrJoin(parts, " ");
}

std::string MaterializeCommand(const Flags& flags, const std::string& trace,
                               const std::string& id) {
  std::vector<std::string> parts = {
      "crashenum",     "materialize", ShellQuote(trace),
      "--state=" + id, "-o",          "crash.img"};
  for (const std::string& f : flags.Given(ModelFlagNames())) {
    parts.push_back(ShellQuote(f));
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace internal_cli
}  // namespace crashenum
