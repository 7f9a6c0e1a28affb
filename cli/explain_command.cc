#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "explain/explain.h"
#include "explain/minimize.h"
#include "nlohmann/json.hpp"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_cli {
namespace {

constexpr char kExplainUsage[] =
    "usage: crashenum explain TRACE --state=ID [--oracle=O] [options]\n"
    "\n"
    "Explains one crash state: its crash point, the marks before it, the\n"
    "durable writes per flush epoch, and each optional write or discard with\n"
    "its status there (persisted, dropped, or torn with the sectors that\n"
    "persisted), and the order choices between concurrent writes. Then what\n"
    "differs from a passing state: with --oracle, the nearest state that\n"
    "persists more writes and passes (found breadth first, at most\n"
    "--max-oracle-runs oracle runs); without, the state of the same crash\n"
    "point in which every optional write persisted.\n"
    "Exit codes: 0 explained, 2 bad usage or input, 3 oracle or\n"
    "infrastructure errors.\n";

std::string FirstLine(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

std::string VerdictLine(const Verdict& v) {
  std::string out(VerdictKindName(v.kind));
  if (!v.message.empty()) absl::StrAppend(&out, ": ", FirstLine(v.message));
  return out;
}

// The state compared with and why.
struct Comparison {
  bool have_state = false;
  StateId state;
  nlohmann::json json;
};

absl::StatusOr<Comparison> CompareWithOracle(const Flags& flags,
                                             const Trace& trace,
                                             const ResolvedState& r) {
  absl::StatusOr<int64_t> runs = flags.GetInt("max-oracle-runs", 32);
  if (!runs.ok()) return runs.status();
  if (*runs < 1) {
    return absl::InvalidArgumentError("--max-oracle-runs: at least 1");
  }
  const std::string work_dir = flags.Get("work-dir", DefaultTmpDir());
  absl::StatusOr<OracleOptions> oo =
      OracleOptionsFromFlags(flags, trace, work_dir);
  if (!oo.ok()) return oo.status();
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle(flags.Get("oracle"), *oo);
  if (!oracle.ok()) return oracle.status();
  NearestOptions options;
  options.work_dir = work_dir;
  options.max_oracle_runs = static_cast<uint64_t>(*runs);
  absl::StatusOr<NearestResult> n =
      FindNearestPassing(*r.space, r.id, **oracle, options);
  if (!n.ok()) return n.status();

  Comparison c;
  c.json = {{"oracle", (*oracle)->name()},
            {"verdict", std::string(VerdictKindName(n->original.kind))},
            {"message", n->original.message},
            {"oracle_runs", n->oracle_runs},
            {"candidates", n->candidates},
            {"bound_hit", n->bound_hit}};
  std::printf("\noracle %s on this state: %s\n", (*oracle)->name().c_str(),
              VerdictLine(n->original).c_str());
  if (n->found && n->persisted.empty()) {
    std::printf("the state passes; there is nothing to compare\n");
    c.json["reason"] = "the state passes";
    return c;
  }
  if (!n->found) {
    if (n->bound_hit) {
      std::printf(
          "no passing state found within --max-oracle-runs=%lld (%llu oracle "
          "runs, %llu candidate states); raise the bound to search further\n",
          static_cast<long long>(*runs),
          static_cast<unsigned long long>(n->oracle_runs),
          static_cast<unsigned long long>(n->candidates));
      c.json["reason"] = "bound hit";
    } else {
      std::printf(
          "no passing state: every state of this crash point that persists "
          "more of its writes fails too (%llu oracle runs)\n",
          static_cast<unsigned long long>(n->oracle_runs));
      c.json["reason"] = "no passing state";
    }
    return c;
  }
  std::printf(
      "nearest passing state (%zu more write(s) persisted; %llu oracle runs, "
      "%llu candidate states): %s\n",
      n->persisted.size(), static_cast<unsigned long long>(n->oracle_runs),
      static_cast<unsigned long long>(n->candidates),
      n->state.ToString().c_str());
  c.have_state = true;
  c.state = n->state;
  c.json["reason"] = "nearest passing state";
  c.json["state"] = n->state.ToString();
  c.json["distance"] = n->persisted.size();
  return c;
}

absl::StatusOr<Comparison> CompareWithAllPersisted(const ResolvedState& r) {
  std::vector<uint32_t> all(r.space->optional_ops().size());
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  absl::StatusOr<ResolvedCandidate> full =
      PersistWhole(*r.space, r.id, r.resolution, all);
  if (!full.ok()) return full.status();
  Comparison c;
  c.have_state = true;
  c.state = full->id;
  c.json = {{"reason", "every optional write persisted (no oracle given)"},
            {"state", full->id.ToString()}};
  std::printf(
      "\nno --oracle given: compared with the state of this crash point in "
      "which every optional write persisted, %s\n",
      full->id.ToString().c_str());
  return c;
}

absl::Status Run(const Flags& flags) {
  if (!flags.Has("state")) {
    return absl::InvalidArgumentError("explain needs --state=ID");
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
  ExplainOptions eo;
  eo.verbose = flags.GetBool("verbose");
  absl::StatusOr<Explanation> e = Explain(*r->space, r->id, eo);
  if (!e.ok()) return e.status();
  std::fputs(FormatExplanation(*e).c_str(), stdout);

  absl::StatusOr<Comparison> c = flags.Has("oracle")
                                     ? CompareWithOracle(flags, *trace, *r)
                                     : CompareWithAllPersisted(*r);
  if (!c.ok()) return c.status();
  nlohmann::json diff = nlohmann::json::array();
  if (c->have_state) {
    absl::StatusOr<Explanation> other = Explain(*r->space, c->state, eo);
    if (!other.ok()) return other.status();
    absl::StatusOr<std::vector<OpChange>> d = Diff(*e, *other);
    if (!d.ok()) return d.status();
    std::printf("what differs:\n%s", FormatDiff(*d).c_str());
    diff = DiffToJson(*d);
  }
  std::fflush(stdout);

  if (flags.Has("json")) {
    const std::string path = flags.Get("json");
    std::ofstream out(path, std::ios::trunc);
    nlohmann::json j = {{"explanation", ExplanationToJson(*e)},
                        {"compared_with", c->json},
                        {"diff", diff}};
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
    out.close();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat("cannot write --json file ", path));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int ExplainCommand(const std::vector<std::string>& args) {
  Flags flags;
  DefineTraceFlags(flags);
  DefineModelFlags(flags);
  flags.Define("state", "the crash state ID to explain");
  DefineOracleFlags(flags);
  flags.Define("max-oracle-runs",
               "with --oracle: oracle runs the search for the nearest passing "
               "state may use (default 32)");
  flags.Define("json", "also write the explanation and the diff as JSON");
  flags.Define("verbose", "list durable writes one by one", true, {"-v"});
  flags.Define("work-dir", "where candidate images live (default $TMPDIR)");
  flags.Define("help", "show this help", true, {"-h"});
  absl::Status s = flags.Parse(args);
  if (s.ok() && flags.GetBool("help")) {
    std::printf("%s\n%s", kExplainUsage, flags.Usage().c_str());
    return kExitOk;
  }
  if (s.ok()) s = Run(flags);
  if (!s.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "crashenum explain: %s\n", s.ToString().c_str());
    return ExitCodeFor(s);
  }
  return kExitOk;
}

}  // namespace internal_cli
}  // namespace crashenum
