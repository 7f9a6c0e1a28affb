#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "check/cover_search.h"
#include "check/keep_failing.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/replace_file.h"
#include "core/status_macros.h"
#include "enumerator/materializer.h"
#include "explain/explain.h"
#include "nlohmann/json.hpp"
#include "oracles/oracle.h"
#include "readset/shim_recorder.h"
#include "report/html_report.h"
#include "report/junit.h"

namespace crashenum {
namespace internal_cli {
namespace {

std::string FirstLine(const std::string& s) {
  return std::string(s.substr(0, s.find('\n')));
}

// SIGINT / SIGTERM during a check: the first asks the checker to stop and
// write a partial report; a second one ends the process at once, unless it
// comes within kRepeatNs of the first: timeout(1) signals the command and
// then its whole process group, so the command gets the one interruption
// twice at once.
std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};
std::atomic<int64_t> g_first_signal_ns{0};
constexpr int64_t kRepeatNs = 250'000'000;

int64_t MonotonicNs() {  // async-signal-safe
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void OnSignal(int sig) {
  const int64_t now = MonotonicNs();
  int64_t first = 0;  // when the first signal came, or 0: this is the first
  if (!g_first_signal_ns.compare_exchange_strong(first, now)) {
    if (now - first < kRepeatNs) return;
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_interrupted.store(true);
  g_signal.store(sig);
  static const char kMsg[] =
      "\ninterrupted: finishing the running oracle runs, then writing a "
      "partial report (interrupt again to abandon them)\n";
  ssize_t ignored = ::write(2, kMsg, sizeof(kMsg) - 1);
  (void)ignored;
}

// Installs OnSignal for SIGINT and SIGTERM while alive.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted.store(false);
    g_signal.store(0);
    g_first_signal_ns.store(0);
    struct sigaction sa = {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_;
  struct sigaction old_term_;
};

std::string FormatEta(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const uint64_t s = static_cast<uint64_t>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

std::string ProgressLine(const CheckProgress& p) {
  const double secs = absl::ToDoubleSeconds(p.elapsed);
  const double rate = secs > 0 ? p.states / secs : 0;
  if (p.total_states == 0) {
    // A search: the states left are not known until it ends.
    return absl::StrFormat(
        "[%llu states visited] %.1f states/s, %llu images, %llu oracle runs, "
        "%llu failing",
        (unsigned long long)p.states, rate,
        (unsigned long long)p.distinct_images,
        (unsigned long long)p.oracle_runs_done,
        (unsigned long long)p.failures);
  }
  const double pct =
      p.total_states > 0 ? 100.0 * p.states / p.total_states : 100.0;
  std::string eta = "?";
  if (rate > 0 && p.total_states >= p.states) {
    eta = FormatEta((p.total_states - p.states) / rate);
  }
  return absl::StrFormat(
      "[%llu/%llu states %.0f%%] %.1f states/s, %llu images, %llu oracle "
      "runs, %llu failing, ETA %s",
      (unsigned long long)p.states, (unsigned long long)p.total_states, pct,
      rate, (unsigned long long)p.distinct_images,
      (unsigned long long)p.oracle_runs_done, (unsigned long long)p.failures,
      eta);
}

// What a resumable report records about the run it came from; a resumed run
// must match it.
struct RunIdentity {
  std::string oracle;
  std::string trace;
  uint64_t trace_bytes = 0;
};

absl::StatusOr<RunIdentity> IdentityOf(const Flags& flags) {
  RunIdentity id;
  id.oracle = flags.Get("oracle");
  id.trace = flags.positional()[0];
  struct stat st;
  if (::stat(id.trace.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot stat ", id.trace));
  }
  id.trace_bytes = static_cast<uint64_t>(st.st_size);
  return id;
}

// Reads the image verdicts of a --json report written by an interrupted
// check. Errors: InvalidArgument naming the line for anything malformed, or
// when the report belongs to another trace or oracle.
absl::Status LoadResume(const std::string& path, const RunIdentity& identity,
                        absl::flat_hash_map<Hash128, Verdict>* verdicts) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read --resume file ", path));
  }
  std::string line;
  int line_no = 0;
  bool have_summary = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": ", why));
    };
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    if (j.contains("image_verdict")) {
      Hash128 h;
      const nlohmann::json& v = j["image_verdict"];
      if (!v.is_object() || !v.contains("image") || !v["image"].is_string() ||
          !Hash128::FromHex(v["image"].get<std::string>(), &h) ||
          !v.contains("verdict") || !v["verdict"].is_string()) {
        return bad("malformed image_verdict");
      }
      const std::string kind = v["verdict"].get<std::string>();
      const std::string msg = v.contains("message") && v["message"].is_string()
                                  ? v["message"].get<std::string>()
                                  : "";
      if (kind == "PASS") {
        (*verdicts)[h] = Verdict::Pass();
      } else if (kind == "FAIL") {
        (*verdicts)[h] = Verdict::Fail(msg);
      } else if (kind == "ERROR") {
        // An erroring image is judged again: errors are often transient.
      } else {
        return bad("unknown verdict '" + kind + "'");
      }
    } else if (j.contains("summary")) {
      const nlohmann::json& s = j["summary"];
      have_summary = true;
      if (!s.is_object() || !s.contains("oracle") ||
          !s.contains("trace_bytes")) {
        return bad("the summary does not say which oracle and trace it used");
      }
      if (s["oracle"] != identity.oracle) {
        return bad(absl::StrCat("the report was made with --oracle=",
                                s["oracle"].dump(), ", not ", identity.oracle));
      }
      if (s["trace_bytes"] != identity.trace_bytes) {
        return bad(absl::StrCat("the report was made from another trace (",
                                s["trace_bytes"].dump(), " bytes, not ",
                                identity.trace_bytes, ")"));
      }
    }
  }
  if (!have_summary) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no summary line; not a report of crashenum check --json"));
  }
  return absl::OkStatus();
}

// The README kept with a failing image.
std::string KeptReadme(const Flags& flags, const std::string& trace_path,
                       const Trace& trace, const StateId& state,
                       const Verdict& verdict) {
  std::string devices;
  for (const Device& d : trace.devices()) {
    absl::StrAppend(&devices, "- `", d.name, ".img`\n");
  }
  return absl::StrCat(
      "# Failing crash state\n\n", "- trace: `", trace_path, "`\n",
      "- state: `", state.ToString(), "`\n", "- oracle: `", flags.Get("oracle"),
      "`\n\n", "## Verdict\n\n", "FAIL\n\n```\n", verdict.message, "\n```\n\n",
      "## Images\n\n", devices,
      "\nEach is the device's whole content in this crash state (a sparse "
      "file; `gunzip` first if it ends in .gz).\n\n",
      "## Reproduce\n\n", "```\n",
      MaterializeCommand(flags, trace_path, state.ToString()), "\n",
      CheckStateCommand(flags, trace_path, state.ToString()), "\n```\n\n",
      "`crashenum explain ", ShellQuote(trace_path),
      " --state=", state.ToString(), "` tells which writes persisted.\n");
}

// Writes `content` to `path` through a temporary file and a rename, so a
// reader never sees half a report. A report that cannot be written is an
// infrastructure error (exit 3), whatever the errno.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& content) {
  absl::Status s =
      ReplaceFile(path, [&](const std::string& tmp) -> absl::Status {
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0) return absl::ErrnoToStatus(errno, "cannot open " + tmp);
        size_t done = 0;
        while (done < content.size()) {
          const ssize_t n =
              ::write(fd, content.data() + done, content.size() - done);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            ::close(fd);
            return absl::ErrnoToStatus(err, "cannot write " + tmp);
          }
          done += static_cast<size_t>(n);
        }
        if (::fsync(fd) != 0 || ::close(fd) != 0) {
          return absl::ErrnoToStatus(errno, "cannot write " + tmp);
        }
        return absl::OkStatus();
      });
  if (s.ok()) return s;
  return absl::UnavailableError(s.message());
}

std::string JsonLine(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

// The --json report: one line per failing or erroring state, then (for an
// interrupted run) one line per judged image, then the summary.
std::string JsonReport(const Flags& flags, const std::string& trace_path,
                       const RunIdentity& identity, const CheckReport& report) {
  std::string out;
  for (const StateFinding& f : report.findings) {
    out += JsonLine({
        {"state", f.state},
        {"verdict", std::string(VerdictKindName(f.verdict))},
        {"message", f.message},
        {"image", f.image.ToHex()},
        {"repro", MaterializeCommand(flags, trace_path, f.state)},
    });
  }
  if (report.interrupted) {
    for (const ImageVerdict& v : report.image_verdicts) {
      out +=
          JsonLine({{"image_verdict",
                     {{"image", v.image.ToHex()},
                      {"verdict", std::string(VerdictKindName(v.verdict.kind))},
                      {"message", v.verdict.message}}}});
    }
  }
  // Counts past 2^64 (a searched crash point) are written as "2^89.0".
  auto count = [](uint64_t n, double log2) -> nlohmann::json {
    if (n != UINT64_MAX) return n;
    return absl::StrFormat("2^%.1f", log2);
  };
  nlohmann::json points = nlohmann::json::array();
  for (const PointResult& p : report.points) {
    if (!p.searched) continue;
    points.push_back({
        {"event", p.event},
        {"states", count(p.count.fits ? p.states : UINT64_MAX, p.count.log2)},
        {"states_log2", p.count.log2},
        {"failing_states",
         count(p.failing_count.fits ? p.failing_states : UINT64_MAX,
               p.failing_count.log2)},
        {"visited", p.visited},
        {"oracle_runs", p.oracle_runs},
        {"solver_seconds", absl::ToDoubleSeconds(p.solver_time)},
        {"all_failing_listed", p.all_listed},
        {"covers_uncounted", p.covers_uncounted},
    });
  }
  nlohmann::json summary = {
      {"crash_points", report.points.size()},
      {"states", count(report.states, report.states_log2)},
      {"distinct_images", report.distinct_images},
      {"oracle_runs", report.oracle_runs},
      {"failures", count(report.failures, report.failures_log2)},
      {"errors", report.errors},
      {"failing_images", report.failing_images},
      {"erroring_images", report.erroring_images},
      {"resumed_images", report.resumed_images},
      {"pruned_images", report.pruned_images},
      {"interrupted", report.interrupted},
      {"oracle", identity.oracle},
      {"trace", identity.trace},
      {"trace_bytes", identity.trace_bytes},
  };
  if (report.interrupted) summary["unjudged_states"] = report.unjudged_states;
  if (!points.empty()) summary["searched_points"] = points;
  out += JsonLine({{"summary", summary}});
  return out;
}

// `check --state=ID`: judge one state.
absl::StatusOr<int> CheckOne(const Flags& flags, const Trace& trace,
                             CheckOptions options, Oracle& oracle,
                             const std::string& work_dir) {
  absl::StatusOr<ResolvedState> r =
      ResolveStateFromFlags(flags, trace, options.model);
  if (!r.ok()) return r.status();
  ImageSet images;
  for (const Device& d : trace.devices()) {
    images.device_names.push_back(d.name);
    images.paths.push_back(work_dir + "/" + d.name + ".img");
  }
  absl::Status s = MaterializeState(*r->space, r->resolution, images.paths);
  if (!s.ok()) return s;
  Verdict v = oracle.Check(images, r->id);
  std::fprintf(stderr, "state %s (image %s): %s%s%s\n",
               r->id.ToString().c_str(), r->resolution.hash.ToHex().c_str(),
               std::string(VerdictKindName(v.kind)).c_str(),
               v.message.empty() ? "" : "\n", v.message.c_str());
  return v.kind == VerdictKind::kPass   ? kExitOk
         : v.kind == VerdictKind::kFail ? kExitViolations
                                        : kExitInfrastructure;
}

// Keeps the image of every listed failing state whose image is not in
// `kept` (states whose verdict came from read-set pruning); returns how many
// were kept.
absl::StatusOr<uint64_t> KeepPrunedFailures(
    const Flags& flags, const std::string& trace_path, const Trace& trace,
    const ModelOptions& model, const KeepFailingOptions& keep,
    const CheckReport& report, const std::string& work_dir,
    const std::vector<std::string>& device_names,
    absl::flat_hash_set<Hash128> kept) {
  std::unique_ptr<UnitHashes> hashes;
  std::map<uint32_t, std::unique_ptr<StateSpace>> spaces;
  std::vector<std::string> paths;
  for (const std::string& d : device_names) {
    paths.push_back(absl::StrCat(work_dir, "/keep-", d, ".img"));
  }
  uint64_t n = 0;
  for (const StateFinding& f : report.findings) {
    if (f.verdict != VerdictKind::kFail || !kept.insert(f.image).second) continue;
    ASSIGN_OR_RETURN(StateId id, StateId::Parse(f.state));
    if (hashes == nullptr) {
      ASSIGN_OR_RETURN(hashes, UnitHashes::Build(trace, model.atomic_unit));
    }
    std::unique_ptr<StateSpace>& space = spaces[id.event];
    if (space == nullptr) {
      ASSIGN_OR_RETURN(space, StateSpace::Build(*hashes, id.event, model));
    }
    ASSIGN_OR_RETURN(Resolution r, space->Resolve(id));
    RETURN_IF_ERROR(MaterializeState(*space, r, paths));
    Verdict v = Verdict::Fail(f.message);
    ASSIGN_OR_RETURN(std::string dir,
                     KeepFailingImage(keep, id, f.image, device_names, paths,
                                      KeptReadme(flags, trace_path, trace, id, v)));
    (void)dir;
    ++n;
  }
  for (const std::string& p : paths) std::remove(p.c_str());
  return n;
}

void PrintPlan(const std::vector<PointPlan>& plan) {
  std::fprintf(stderr, "crash points: %zu\n", plan.size());
  for (const PointPlan& p : plan) {
    std::fprintf(stderr, "  e%-6u %-48s %3zu optional writes, %s states\n",
                 p.event, p.description.c_str(), p.optional_writes,
                 p.count.ToString().c_str());
  }
}

absl::StatusOr<int> Run(const Flags& flags) {
  if (!flags.Has("oracle")) {
    return absl::InvalidArgumentError(
        "check needs --oracle=O (see crashenum check --help)");
  }
  CheckOptions options;
  absl::Status s = OptionsFromFlags(flags, &options);
  if (!s.ok()) return s;
  // The search's solver starts up while the trace is read.
  std::optional<SolverWarmUp> warm_up;
  if (flags.Get("prune", "z3") == "z3" && !options.enumerate.bounded()) {
    warm_up.emplace();
  }
  std::string notes;
  absl::StatusOr<Trace> trace = OpenTraceFromFlags(flags, &notes);
  if (!trace.ok()) return trace.status();
  PrintNotes(stderr, notes);
  absl::StatusOr<int64_t> jobs =
      flags.GetInt("jobs", std::max(1u, std::thread::hardware_concurrency()));
  if (!jobs.ok()) return jobs.status();
  if (*jobs < 1 || *jobs > 1024) {
    return absl::InvalidArgumentError("-j: expected 1 to 1024 workers");
  }
  options.jobs = static_cast<int>(*jobs);
  // Per worker two sets (the state being judged and the next one) of a
  // pristine and a private image, and one for keeping failing states.
  uint64_t device_bytes = 0;
  for (const Device& d : trace->devices()) {
    device_bytes += d.num_sectors * d.sector_size;
  }
  absl::StatusOr<ScratchDir> dir = ScratchDir::Create(
      flags.Has("work-dir")
          ? flags.Get("work-dir")
          : DefaultWorkParent((4 * options.jobs + 1) * device_bytes));
  if (!dir.ok()) return dir.status();
  options.work_dir = dir->path();

  absl::StatusOr<OracleOptions> oo =
      OracleOptionsFromFlags(flags, *trace, dir->path());
  if (!oo.ok()) return oo.status();
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle(flags.Get("oracle"), *oo);
  if (!oracle.ok()) return oracle.status();

  if (flags.Has("state")) {
    return CheckOne(flags, *trace, options, **oracle, dir->path());
  }

  absl::StatusOr<RunIdentity> identity = IdentityOf(flags);
  if (!identity.ok()) return identity.status();
  absl::flat_hash_map<Hash128, Verdict> known;
  if (flags.Has("resume")) {
    absl::Status r = LoadResume(flags.Get("resume"), *identity, &known);
    if (!r.ok()) return r;
    options.known_verdicts = &known;
  }

  // Failing images are kept in --keep-failing=DIR, or under Bazel's
  // TEST_UNDECLARED_OUTPUTS_DIR when that is set and no DIR was given.
  KeepFailingOptions keep;
  if (flags.Has("keep-failing")) {
    keep.dir = flags.Get("keep-failing");
  } else if (const char* d = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
             d != nullptr && *d != '\0') {
    keep.dir = absl::StrCat(d, "/crashenum-failing");
  }
  keep.compress = flags.GetBool("keep-compressed");
  const std::string trace_path = flags.positional()[0];
  std::vector<std::string> device_names;
  for (const Device& d : trace->devices()) device_names.push_back(d.name);
  std::atomic<uint64_t> kept{0};
  absl::Mutex kept_mu;
  absl::flat_hash_set<Hash128> kept_images;  // guarded by kept_mu
  if (!keep.dir.empty()) {
    options.on_failing_image = [&](const StateId& id, const Hash128& image,
                                   const Verdict& v,
                                   const std::vector<std::string>& paths) {
      absl::StatusOr<std::string> dir =
          KeepFailingImage(keep, id, image, device_names, paths,
                           KeptReadme(flags, trace_path, *trace, id, v));
      if (!dir.ok()) return dir.status();
      kept.fetch_add(1);
      absl::MutexLock lock(&kept_mu);
      kept_images.insert(image);
      return absl::OkStatus();
    };
  }

  const bool quiet = flags.GetBool("quiet");
  const bool tty = !quiet && ::isatty(2);
  std::fprintf(stderr, "trace %s: %s, %zu device(s), %zu events, %zu marks\n",
               trace->path().c_str(), trace->format().c_str(),
               trace->devices().size(), trace->events().size(),
               trace->marks().size());
  std::fprintf(stderr, "oracle %s: %s\n", (*oracle)->name().c_str(),
               DescribeTraits((*oracle)->traits()).c_str());
  if (options.model.metadata_only) {
    if (!(*oracle)->traits().metadata_only) {
      std::fprintf(stderr,
                   "note: --oracle-reads=metadata, but %s reads everything: "
                   "failures that depend on data writes are not looked for\n",
                   (*oracle)->name().c_str());
    }
    size_t meta = 0;
    for (const Op& op : trace->ops()) meta += (op.flags & kMeta) != 0;
    if (meta == 0) {
      std::fprintf(stderr,
                   "note: no write of this trace carries META, so "
                   "--oracle-reads=metadata takes every write as persisted\n");
    }
  }
  if (!known.empty()) {
    std::fprintf(stderr, "resuming: %zu image verdicts from %s\n", known.size(),
                 flags.Get("resume").c_str());
  }
  absl::Time last_line = absl::Now();
  if (tty) {
    options.on_progress = [](const CheckProgress& p) {
      std::fprintf(stderr, "\r\033[K%s", ProgressLine(p).c_str());
    };
  } else if (!quiet) {
    // Logs get one progress line every 30 seconds.
    options.on_progress = [&last_line](const CheckProgress& p) {
      if (absl::Now() - last_line < absl::Seconds(30)) return;
      last_line = absl::Now();
      std::fprintf(stderr, "%s\n", ProgressLine(p).c_str());
    };
  }
  // --prune=z3 (the default with Z3) or readset: verdicts reused for states
  // that agree with a judged state on everything its oracle read; with z3,
  // a search that visits only states no judged state covers.
  std::unique_ptr<ShimReadRecorder> recorder;
  const bool explicit_prune = flags.Has("prune");
  const std::string prune =
      flags.Get("prune", CoverSearch::Available() ? "z3" : "none");
  if (prune == "readset" || prune == "z3") {
    if (prune == "z3" && !CoverSearch::Available()) {
      return absl::InvalidArgumentError(
          "--prune=z3: this crashenum was built without Z3 "
          "(--define=crashenum_z3=off); use --prune=readset");
    }
    const OracleTraits& t = (*oracle)->traits();
    const std::string shim = FindReadSetShim();
    if (!t.deterministic || !t.reads_through_files) {
      if (explicit_prune) {
        std::fprintf(stderr,
                     "note: --prune=%s: %s %s, so every image is judged\n",
                     prune.c_str(), (*oracle)->name().c_str(),
                     !t.deterministic ? "is not deterministic"
                                      : "does not read its image through "
                                        "files (it mounts it or runs "
                                        "in-process)");
      }
    } else if (shim.empty()) {
      if (explicit_prune) {
        return absl::UnavailableError(absl::StrCat(
            "--prune=", prune,
            ": libcrashenum_readset.so is not next to the crashenum binary "
            "nor in its runfiles"));
      }
      std::fprintf(stderr,
                   "note: libcrashenum_readset.so is not next to the "
                   "crashenum binary, so every image is judged "
                   "(--prune=none)\n");
    } else {
      absl::StatusOr<std::unique_ptr<ShimReadRecorder>> r =
          ShimReadRecorder::Create(shim, dir->path());
      if (!r.ok()) return r.status();
      recorder = *std::move(r);
      options.read_recorder = recorder.get();
      options.search = prune == "z3";
      if (options.search && options.enumerate.bounded() && explicit_prune) {
        std::fprintf(stderr,
                     "note: --prune=z3 searches whole crash points; with "
                     "--drop-at-most, --tear-at-most or --sample the "
                     "states are enumerated and pruned by lookup\n");
      }
    }
  } else if (prune != "none") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--prune=", prune, ": expected z3, readset or none"));
  }
  InterruptScope interrupt_scope;
  options.cancel = &g_interrupted;
  absl::StatusOr<CheckReport> report = RunCheck(
      *trace, **oracle, options, [&](const std::vector<PointPlan>& plan) {
        if (!quiet) PrintPlan(plan);
      });
  if (tty) std::fputs("\r\033[K", stderr);
  if (!report.ok()) return report.status();

  const size_t shown = std::min<size_t>(report->findings.size(), 20);
  for (size_t i = 0; i < shown; ++i) {
    const StateFinding& f = report->findings[i];
    std::fprintf(stderr, "%s %s: %s\n  reproduce: %s\n",
                 std::string(VerdictKindName(f.verdict)).c_str(),
                 f.state.c_str(), FirstLine(f.message).c_str(),
                 MaterializeCommand(flags, trace_path, f.state).c_str());
  }
  if (report->findings.size() > shown) {
    std::fprintf(stderr, "... and %zu more (see --json)\n",
                 report->findings.size() - shown);
  }
  const double secs = absl::ToDoubleSeconds(report->elapsed);
  const double oracle_share = secs > 0
                                  ? absl::ToDoubleSeconds(report->oracle_time) /
                                        (secs * std::max(1, options.jobs))
                                  : 0;
  auto count = [](uint64_t n, double log2) {
    return n != UINT64_MAX ? absl::StrCat(n) : absl::StrFormat("2^%.1f", log2);
  };
  bool searched = false;
  for (const PointResult& p : report->points) {
    if (!p.searched) continue;
    if (!searched && !quiet) {
      std::fprintf(stderr,
                   "search (--prune=z3), per crash point: states covered, "
                   "states visited, oracle runs, solver time\n");
    }
    searched = true;
    if (quiet) continue;
    std::fprintf(stderr, "  e%-6u %s covered (%s failing), %llu visited, %llu "
                 "oracle runs, solver %.3fs\n",
                 p.event, p.count.ToString().c_str(),
                 p.failing_count.ToString().c_str(),
                 (unsigned long long)p.visited,
                 (unsigned long long)p.oracle_runs,
                 absl::ToDoubleSeconds(p.solver_time));
  }
  std::fprintf(
      stderr,
      "%zu crash points, %s states, %llu distinct images, %llu oracle runs: "
      "%llu failing images (%s failing states), %llu erroring images "
      "(%llu states); %.2fs, oracle busy %.0f%%\n",
      report->points.size(),
      count(report->states, report->states_log2).c_str(),
      (unsigned long long)report->distinct_images,
      (unsigned long long)report->oracle_runs,
      (unsigned long long)report->failing_images,
      count(report->failures, report->failures_log2).c_str(),
      (unsigned long long)report->erroring_images,
      (unsigned long long)report->errors, secs, 100 * oracle_share);
  for (const PointResult& p : report->points) {
    if (p.covers_uncounted) {
      std::fprintf(stderr,
                   "note: e%u's search was interrupted, and the states its "
                   "judged runs cover were not counted (%s): only its %llu "
                   "visited states are counted\n",
                   p.event, p.uncounted_reason.c_str(),
                   (unsigned long long)p.visited);
    }
    if (p.all_listed || (p.failing_count.fits && p.failing_count.exact == 0)) {
      continue;
    }
    if (report->interrupted) {
      std::fprintf(stderr,
                   "note: e%u's search was interrupted: the %s failing "
                   "states its judged runs cover were counted, and the "
                   "judged ones are listed\n",
                   p.event, p.failing_count.ToString().c_str());
      continue;
    }
    std::fprintf(stderr,
                 "note: e%u has too many states to list (more than "
                 "--max-states=%llu): its %s failing states were counted, "
                 "and the judged ones are listed\n",
                 p.event, (unsigned long long)options.max_states,
                 p.failing_count.ToString().c_str());
  }
  if (report->resumed_images > 0) {
    std::fprintf(stderr, "%llu image verdicts taken from %s\n",
                 (unsigned long long)report->resumed_images,
                 flags.Get("resume").c_str());
  }
  if (report->pruned) {
    std::fprintf(stderr,
                 "read-set pruning: %llu images took the verdict of a state "
                 "that agrees on everything its oracle read\n",
                 (unsigned long long)report->pruned_images);
  }
  if (!keep.dir.empty()) {
    // Pruned failing states had no oracle run (so no image was kept from
    // one): materialize and keep each listed one's image now.
    absl::StatusOr<uint64_t> more = KeepPrunedFailures(
        flags, trace_path, *trace, options.model, keep, *report, dir->path(),
        device_names, kept_images);
    if (!more.ok()) return more.status();
    kept.fetch_add(*more);
  }
  if (kept.load() > 0) {
    std::fprintf(stderr, "kept %llu failing images in %s\n",
                 (unsigned long long)kept.load(), keep.dir.c_str());
  }

  if (flags.Has("json")) {
    absl::Status w = WriteFileAtomically(
        flags.Get("json"), JsonReport(flags, trace_path, *identity, *report));
    if (!w.ok()) return w;
  }
  {
    // --junit=FILE, else Bazel's XML_OUTPUT_FILE; --html=FILE.
    const auto repro = [&](const std::string& id) {
      return MaterializeCommand(flags, trace_path, id);
    };
    std::string junit = flags.Get("junit");
    const char* bazel_xml = std::getenv("XML_OUTPUT_FILE");
    if (junit.empty() && bazel_xml != nullptr) junit = bazel_xml;
    if (!junit.empty()) {
      JUnitInput in;
      in.trace_path = trace_path;
      in.report = &*report;
      in.repro = repro;
      absl::Status w = WriteJUnitReport(junit, in);
      if (!w.ok()) return w;
    }
    if (flags.Has("html")) {
      HtmlReportInput in;
      in.trace = &*trace;
      in.report = &*report;
      in.trace_path = trace_path;
      in.oracle = (*oracle)->name();
      in.repro = repro;
      // Each failing state's explanation (which writes persisted), from the
      // state space of its crash point, built once per point.
      absl::StatusOr<std::unique_ptr<UnitHashes>> hashes =
          UnitHashes::Build(*trace, options.model.atomic_unit);
      std::map<uint32_t, std::unique_ptr<StateSpace>> spaces;
      in.explain = [&](const std::string& text) -> std::string {
        absl::StatusOr<StateId> id = StateId::Parse(text);
        if (!hashes.ok() || !id.ok()) return "";
        std::unique_ptr<StateSpace>& space = spaces[id->event];
        if (space == nullptr) {
          absl::StatusOr<std::unique_ptr<StateSpace>> built =
              StateSpace::Build(**hashes, id->event, options.model);
          if (!built.ok()) return "";
          space = *std::move(built);
        }
        absl::StatusOr<Explanation> e = Explain(*space, *id);
        return e.ok() ? FormatExplanation(*e) : e.status().ToString();
      };
      absl::Status w = WriteHtmlReport(flags.Get("html"), in);
      if (!w.ok()) return w;
    }
  }
  if (report->interrupted) {
    const int sig = g_signal.load();
    std::fprintf(stderr,
                 "interrupted by %s: %s states judged, %llu left unjudged; "
                 "%s\n",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 report->states != UINT64_MAX
                     ? absl::StrCat(report->states).c_str()
                     : absl::StrFormat("2^%.1f", report->states_log2).c_str(),
                 (unsigned long long)report->unjudged_states,
                 flags.Has("json")
                     ? absl::StrCat("run the same command with --resume=",
                                    flags.Get("json"), " to continue")
                           .c_str()
                     : "give --json=FILE to be able to --resume");
    return 128 + (sig > 0 ? sig : SIGINT);
  }
  if (report->failures > 0) return kExitViolations;
  if (report->errors > 0) return kExitInfrastructure;
  return kExitOk;
}

}  // namespace

int CheckCommand(const std::vector<std::string>& args) {
  Flags flags;
  DefineTraceFlags(flags);
  DefineModelFlags(flags);
  DefineEnumerateFlags(flags);
  DefineOracleFlags(flags);
  flags.Define("jobs", "oracle workers (default: the number of cores)", false,
               {"-j"});
  flags.Define("json", "write failing states and a summary as JSON lines");
  flags.Define("junit",
               "write a JUnit XML report (default under Bazel: "
               "$XML_OUTPUT_FILE)");
  flags.Define("html", "write a self-contained HTML report");
  flags.Define("prune",
               "z3 (default) | readset | none: reuse a verdict for every "
               "state that agrees with a judged state on all its oracle "
               "read; z3 searches for the states no verdict covers, so "
               "crash points of any size finish (oracles that are "
               "deterministic and read through files)");
  flags.Define("resume",
               "continue an interrupted check from its --json report: images "
               "it judged are not judged again");
  flags.Define("keep-failing",
               "save each failing image with a README in this directory "
               "(default under Bazel: $TEST_UNDECLARED_OUTPUTS_DIR)");
  flags.Define("keep-compressed", "gzip the images --keep-failing saves", true);
  flags.Define("state", "check only this crash state ID");
  flags.Define("work-dir",
               "where worker images live (default /dev/shm when it is a "
               "tmpfs with room for four times the images, else $TMPDIR or "
               "/tmp)");
  flags.Define("quiet", "no plan and no progress bar", true, {"-q"});
  flags.Define("help", "show this help", true, {"-h"});
  absl::Status s = flags.Parse(args);
  if (s.ok() && flags.GetBool("help")) {
    std::printf("usage: crashenum check TRACE --oracle=O [options]\n%s",
                flags.Usage().c_str());
    return kExitOk;
  }
  absl::StatusOr<int> code = s.ok() ? Run(flags) : absl::StatusOr<int>(s);
  if (!code.ok()) {
    std::fprintf(stderr, "crashenum check: %s\n",
                 code.status().ToString().c_str());
    return ExitCodeFor(code.status());
  }
  return *code;
}

}  // namespace internal_cli
}  // namespace crashenum
