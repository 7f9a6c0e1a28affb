#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "explain/explain.h"
#include "explain/minimize.h"
#include "nlohmann/json.hpp"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_cli {
namespace {

constexpr char kMinimizeUsage[] =
    "usage: crashenum minimize TRACE --state=ID --oracle=O [options]\n"
    "\n"
    "Shrinks a failing crash state: delta debugging over its dropped and torn\n"
    "writes persists as many of them as it can while the oracle still says\n"
    "FAIL (ERROR is not a failure), giving a state of the same crash point\n"
    "with the fewest missing writes found, where persisting any single one\n"
    "of them makes the failure go away. Equal images are judged once.\n"
    "Prints progress on stderr, then the minimized state's ID, its\n"
    "explanation and the commands that reproduce it.\n"
    "Exit codes: 1 the minimized state fails (as check reports a\n"
    "violation), 2 bad usage or input, or the state does not fail (nothing\n"
    "to minimize), 3 oracle or infrastructure errors.\n";

nlohmann::json LossJson(const std::string& state, const LossCount& c) {
  return {{"state", state}, {"dropped", c.dropped}, {"torn", c.torn}};
}

absl::StatusOr<int> Run(const Flags& flags) {
  if (!flags.Has("state")) {
    return absl::InvalidArgumentError("minimize needs --state=ID");
  }
  if (!flags.Has("oracle")) {
    return absl::InvalidArgumentError(
        "minimize needs --oracle=O (see crashenum minimize --help)");
  }
  std::string notes;
  absl::StatusOr<Trace> trace = OpenTraceFromFlags(flags, &notes);
  if (!trace.ok()) return trace.status();
  PrintNotes(stderr, notes);
  CheckOptions options;
  absl::Status s = OptionsFromFlags(flags, &options);
  if (!s.ok()) return s;
  absl::StatusOr<ResolvedState> r =
      ResolveStateFromFlags(flags, *trace, options.model);
  if (!r.ok()) return r.status();
  absl::StatusOr<int64_t> runs = flags.GetInt("max-oracle-runs", 0);
  if (!runs.ok()) return runs.status();
  if (*runs < 0) {
    return absl::InvalidArgumentError(
        "--max-oracle-runs: 0 (no bound) or more");
  }
  const std::string work_dir = flags.Get("work-dir", DefaultTmpDir());
  absl::StatusOr<OracleOptions> oo =
      OracleOptionsFromFlags(flags, *trace, work_dir);
  if (!oo.ok()) return oo.status();
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle(flags.Get("oracle"), *oo);
  if (!oracle.ok()) return oracle.status();

  MinimizeOptions mo;
  mo.work_dir = work_dir;
  mo.max_oracle_runs = static_cast<uint64_t>(*runs);
  mo.on_progress = [](const MinimizeProgress& p) {
    std::fprintf(stderr,
                 "minimize: %llu tries, %llu oracle runs; smallest failing "
                 "state so far: %llu dropped, %llu torn\n",
                 static_cast<unsigned long long>(p.tries),
                 static_cast<unsigned long long>(p.oracle_runs),
                 static_cast<unsigned long long>(p.current.dropped),
                 static_cast<unsigned long long>(p.current.torn));
  };
  absl::StatusOr<MinimizeResult> m = Minimize(*r->space, r->id, **oracle, mo);
  if (!m.ok()) return m.status();
  absl::StatusOr<Explanation> e = Explain(*r->space, m->state);
  if (!e.ok()) return e.status();

  const std::string id = m->state.ToString();
  const std::string trace_path = flags.positional()[0];
  std::printf(
      "minimized state: %s\n"
      "  %llu dropped, %llu torn (original %s: %llu dropped, %llu torn); "
      "%llu oracle runs, %llu tries\n",
      id.c_str(), static_cast<unsigned long long>(m->losses.dropped),
      static_cast<unsigned long long>(m->losses.torn),
      m->original.ToString().c_str(),
      static_cast<unsigned long long>(m->original_losses.dropped),
      static_cast<unsigned long long>(m->original_losses.torn),
      static_cast<unsigned long long>(m->oracle_runs),
      static_cast<unsigned long long>(m->tries));
  if (!m->one_minimal) {
    std::printf(
        "  stopped at --max-oracle-runs=%lld: persisting one more write might "
        "still fail\n",
        static_cast<long long>(*runs));
  }
  const std::string message =
      m->verdict.message.substr(0, m->verdict.message.find('\n'));
  std::printf("  %s%s%s\n\n",
              std::string(VerdictKindName(m->verdict.kind)).c_str(),
              message.empty() ? "" : ": ", message.c_str());
  std::fputs(FormatExplanation(*e).c_str(), stdout);
  std::printf("\nreproduce:\n  %s\n  %s\n",
              MaterializeCommand(flags, trace_path, id).c_str(),
              CheckStateCommand(flags, trace_path, id).c_str());
  std::fflush(stdout);

  if (flags.Has("json")) {
    const std::string path = flags.Get("json");
    std::ofstream out(path, std::ios::trunc);
    nlohmann::json j = LossJson(id, m->losses);
    j["original"] = LossJson(m->original.ToString(), m->original_losses);
    j["oracle_runs"] = m->oracle_runs;
    j["tries"] = m->tries;
    j["one_minimal"] = m->one_minimal;
    j["verdict"] = std::string(VerdictKindName(m->verdict.kind));
    j["message"] = m->verdict.message;
    j["explanation"] = ExplanationToJson(*e);
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
    out.close();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat("cannot write --json file ", path));
    }
  }
  return kExitViolations;
}

}  // namespace

int MinimizeCommand(const std::vector<std::string>& args) {
  Flags flags;
  DefineTraceFlags(flags);
  DefineModelFlags(flags);
  flags.Define("state", "the failing crash state ID to shrink");
  DefineOracleFlags(flags);
  flags.Define("max-oracle-runs",
               "stop after this many oracle runs (default 0: no bound)");
  flags.Define("json",
               "write {state, dropped, torn, original, oracle_runs, "
               "explanation, ...} as JSON");
  flags.Define("work-dir", "where candidate images live (default $TMPDIR)");
  flags.Define("help", "show this help", true, {"-h"});
  absl::Status s = flags.Parse(args);
  if (s.ok() && flags.GetBool("help")) {
    std::printf("%s\n%s", kMinimizeUsage, flags.Usage().c_str());
    return kExitOk;
  }
  absl::StatusOr<int> code = s.ok() ? Run(flags) : absl::StatusOr<int>(s);
  if (!code.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "crashenum minimize: %s\n",
                 code.status().ToString().c_str());
    return ExitCodeFor(code.status());
  }
  return *code;
}

}  // namespace internal_cli
}  // namespace crashenum
