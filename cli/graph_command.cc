// crashenum graph: the flush-epoch DAG of a trace as Graphviz DOT or SVG.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/status_macros.h"
#include "enumerator/epoch_dag.h"
#include "oracles/internal/subprocess.h"

namespace crashenum {
namespace internal_cli {
namespace {

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

// Renders `dot` as SVG with Graphviz into `out_path`.
absl::Status RenderSvg(const std::string& dot, const std::string& out_path,
                       const ScratchDir& tmp) {
  absl::StatusOr<std::string> program = internal_oracles::FindProgram("dot");
  if (!program.ok()) {
    return absl::UnavailableError(
        "--format=svg needs Graphviz's dot, which is not installed (Debian "
        "package graphviz); --format=dot writes the graph without it");
  }
  const std::string in = tmp.path() + "/graph.dot";
  RETURN_IF_ERROR(WriteText(in, dot));
  const std::vector<std::string> argv = {*program, "-Tsvg", in, "-o",
                                         out_path};
  ASSIGN_OR_RETURN(internal_oracles::SubprocessResult r,
                   internal_oracles::RunSubprocess(
                       argv, internal_oracles::SubprocessOptions()));
  if (!r.ok()) {
    return absl::InternalError(absl::StrCat(
        *program, " -Tsvg failed",
        r.term_signal ? absl::StrCat(" (", internal_oracles::SignalName(
                                               r.term_signal), ")")
                      : absl::StrCat(" (exit ", r.exit_code, ")"),
        ": ", r.output));
  }
  return absl::OkStatus();
}

absl::Status Run(const Flags& flags) {
  const std::string format = flags.Get("format", "dot");
  if (format != "dot" && format != "svg") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format=", format, ": expected dot or svg"));
  }
  std::string notes;
  ASSIGN_OR_RETURN(Trace trace, OpenTraceFromFlags(flags, &notes));
  PrintNotes(stderr, notes);
  CheckOptions check;
  RETURN_IF_ERROR(OptionsFromFlags(flags, &check));
  EpochDagOptions options;
  options.points = check.points;
  ASSIGN_OR_RETURN(int64_t max_nodes, flags.GetInt("max-nodes", 2000));
  options.max_nodes = static_cast<size_t>(max_nodes);
  ASSIGN_OR_RETURN(std::unique_ptr<EpochDag> dag,
                   EpochDag::Build(trace, options));
  if (dag->collapsed()) {
    std::fprintf(stderr,
                 "graph: %zu nodes, more than --max-nodes=%zu: runs of "
                 "consecutive writes of one epoch are collapsed, %zu nodes "
                 "shown%s\n",
                 dag->uncollapsed_nodes(), options.max_nodes,
                 dag->nodes().size(),
                 dag->nodes().size() > options.max_nodes
                     ? " (still more than the limit)"
                     : "");
  }
  DotOptions dot_options;
  dot_options.clusters = flags.GetBool("clusters");
  ASSIGN_OR_RETURN(std::string dot, dag->ToDot(dot_options));

  const std::string out = flags.Get("output");
  if (format == "dot") {
    if (!out.empty()) return WriteText(out, dot);
    std::fwrite(dot.data(), 1, dot.size(), stdout);
    return std::fflush(stdout) == 0
               ? absl::OkStatus()
               : absl::UnavailableError("cannot write to stdout");
  }
  ASSIGN_OR_RETURN(ScratchDir tmp, ScratchDir::Create(DefaultTmpDir()));
  if (!out.empty()) return RenderSvg(dot, out, tmp);
  const std::string svg_path = tmp.path() + "/graph.svg";
  RETURN_IF_ERROR(RenderSvg(dot, svg_path, tmp));
  std::ifstream in(svg_path, std::ios::binary);
  std::cout << in.rdbuf();
  std::cout.flush();
  return std::cout ? absl::OkStatus()
                   : absl::UnavailableError("cannot write to stdout");
}

}  // namespace

int GraphCommand(const std::vector<std::string>& args) {
  Flags flags;
  DefineTraceFlags(flags);
  flags.Define("format", "dot (default) | svg (runs Graphviz's dot)");
  flags.Define("output", "the file to write (default: stdout)", false,
               {"-o"});
  flags.Define("max-nodes",
               "above this many nodes, collapse runs of consecutive writes of "
               "one epoch (default 2000; 0: never)");
  flags.Define("clusters", "draw each flush epoch as a box around its ops",
               true);
  flags.Define("crash-points",
               "crash points to mark: durable (default) | flushes | marks | "
               "all");
  flags.Define("from-mark", "only ops and marks at or after this mark");
  flags.Define("to-mark", "only ops and marks at or before this mark");
  flags.Define("discard", "either (default) | keep | zero");
  flags.Define("help", "show this help", true, {"-h"});
  absl::Status s = flags.Parse(args);
  if (s.ok() && flags.GetBool("help")) {
    std::printf(
        "usage: crashenum graph TRACE [--format=dot|svg] [-o FILE] "
        "[options]\n%s",
        flags.Usage().c_str());
    return kExitOk;
  }
  if (s.ok()) s = Run(flags);
  if (!s.ok()) {
    std::fprintf(stderr, "crashenum graph: %s\n", s.ToString().c_str());
    return ExitCodeFor(s);
  }
  return kExitOk;
}

}  // namespace internal_cli
}  // namespace crashenum
