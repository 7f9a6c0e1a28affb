#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "enumerator/materializer.h"
#include "nlohmann/json.hpp"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_cli {
namespace {

std::string FirstLine(const std::string& s) {
  return std::string(s.substr(0, s.find('\n')));
}

// A private scratch directory, removed with everything in it on scope exit.
class ScratchDir {
 public:
  static absl::StatusOr<ScratchDir> Create(const std::string& parent) {
    std::string tmpl = parent + "/crashenum.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "cannot create a work directory in ", parent, ": ",
          std::strerror(errno), " (set --work-dir)"));
    }
    return ScratchDir(tmpl);
  }
  ScratchDir(ScratchDir&& o) : path_(std::move(o.path_)) { o.path_.clear(); }
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

std::string DefaultTmp() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
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
        "check needs --oracle=O (ext4-fsck or exec:CMD)");
  }
  std::string notes;
  absl::StatusOr<Trace> trace = OpenTraceFromFlags(flags, &notes);
  if (!trace.ok()) return trace.status();
  PrintNotes(stderr, notes);
  CheckOptions options;
  absl::Status s = OptionsFromFlags(flags, &options);
  if (!s.ok()) return s;
  absl::StatusOr<int64_t> jobs = flags.GetInt(
      "jobs", std::max(1u, std::thread::hardware_concurrency()));
  if (!jobs.ok()) return jobs.status();
  if (*jobs < 1 || *jobs > 1024) {
    return absl::InvalidArgumentError("-j: expected 1 to 1024 workers");
  }
  options.jobs = static_cast<int>(*jobs);
  absl::StatusOr<ScratchDir> dir =
      ScratchDir::Create(flags.Get("work-dir", DefaultTmp()));
  if (!dir.ok()) return dir.status();
  options.work_dir = dir->path();

  OracleOptions oo;
  absl::StatusOr<absl::Duration> timeout =
      flags.GetDuration("oracle-timeout", absl::Seconds(60));
  if (!timeout.ok()) return timeout.status();
  oo.timeout = *timeout;
  oo.scratch_dir = dir->path();
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle(flags.Get("oracle"), oo);
  if (!oracle.ok()) return oracle.status();

  if (flags.Has("state")) {
    return CheckOne(flags, *trace, options, **oracle, dir->path());
  }

  const bool quiet = flags.GetBool("quiet");
  const bool tty = !quiet && ::isatty(2);
  std::fprintf(stderr, "trace %s: %s, %zu device(s), %zu events, %zu marks\n",
               trace->path().c_str(), trace->format().c_str(),
               trace->devices().size(), trace->events().size(),
               trace->marks().size());
  if (tty) {
    options.on_progress = [](const CheckProgress& p) {
      std::fprintf(stderr,
                   "\r\033[K[%llu/%llu states] %llu images, %llu oracle runs, "
                   "%llu failing",
                   (unsigned long long)p.states,
                   (unsigned long long)p.total_states,
                   (unsigned long long)p.distinct_images,
                   (unsigned long long)p.oracle_runs_done,
                   (unsigned long long)p.failures);
    };
  }
  absl::StatusOr<CheckReport> report = RunCheck(
      *trace, **oracle, options, [&](const std::vector<PointPlan>& plan) {
        if (!quiet) PrintPlan(plan);
      });
  if (tty) std::fputs("\r\033[K", stderr);
  if (!report.ok()) return report.status();

  const std::string trace_path = flags.positional()[0];
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
  const double oracle_share =
      secs > 0 ? absl::ToDoubleSeconds(report->oracle_time) /
                     (secs * std::max(1, options.jobs))
               : 0;
  std::fprintf(
      stderr,
      "%zu crash points, %llu states, %llu distinct images, %llu oracle runs: "
      "%llu failing images (%llu failing states), %llu erroring images "
      "(%llu states); %.2fs, oracle busy %.0f%%\n",
      report->points.size(), (unsigned long long)report->states,
      (unsigned long long)report->distinct_images,
      (unsigned long long)report->oracle_runs,
      (unsigned long long)report->failing_images,
      (unsigned long long)report->failures,
      (unsigned long long)report->erroring_images,
      (unsigned long long)report->errors, secs, 100 * oracle_share);

  if (flags.Has("json")) {
    const std::string path = flags.Get("json");
    std::ofstream out(path, std::ios::trunc);
    for (const StateFinding& f : report->findings) {
      nlohmann::json j = {
          {"state", f.state},
          {"verdict", std::string(VerdictKindName(f.verdict))},
          {"message", f.message},
          {"image", f.image.ToHex()},
          {"repro", MaterializeCommand(flags, trace_path, f.state)},
      };
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
    }
    nlohmann::json summary = {
        {"crash_points", report->points.size()},
        {"states", report->states},
        {"distinct_images", report->distinct_images},
        {"oracle_runs", report->oracle_runs},
        {"failures", report->failures},
        {"errors", report->errors},
        {"failing_images", report->failing_images},
        {"erroring_images", report->erroring_images},
    };
    out << nlohmann::json{{"summary", summary}}.dump() << "\n";
    out.close();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat("cannot write --json file ", path));
    }
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
  flags.Define("oracle", "ext4-fsck | exec:CMD ({image} is the image path)");
  flags.Define("oracle-timeout", "limit of one oracle run (default 60s)");
  flags.Define("jobs", "oracle workers (default: the number of cores)", false,
               {"-j"});
  flags.Define("json", "write failing states and a summary as JSON lines");
  flags.Define("state", "check only this crash state ID");
  flags.Define("work-dir", "where worker images live (default $TMPDIR)");
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
