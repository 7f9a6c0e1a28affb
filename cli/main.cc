// crashenum: a deterministic crash-consistency model checker.
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: crashenum VERB [options]\n"
    "\n"
    "verbs:\n"
    "  check TRACE --oracle=O    run oracle O on every crash state's image\n"
    "  convert TRACE -o OUT --format=F\n"
    "                            write it in another format (F: crashenum,\n"
    "                            dm-log-writes)\n"
    "  explain TRACE --state=ID [--oracle=O]\n"
    "                            what one crash state persisted and dropped,\n"
    "                            and what differs from a passing state\n"
    "  graph TRACE [--format=dot|svg] [-o FILE]\n"
    "                            the flush-epoch DAG as Graphviz DOT or SVG\n"
    "  info TRACE                devices, entries, marks, crash points, counts\n"
    "  materialize TRACE --state=ID -o IMAGE\n"
    "                            write the image of one crash state\n"
    "  minimize TRACE --state=ID --oracle=O\n"
    "                            shrink a failing state to the fewest dropped\n"
    "                            and torn writes that still fail\n"
    "  record --fs=FS -o TRACE -- WORKLOAD\n"
    "                            record a workload on a real file system\n"
    "  mark LABEL                add a mark to the trace being recorded\n"
    "\n"
    "'crashenum VERB --help' lists a verb's options. Exit codes: 0 no\n"
    "violation, 1 violations, 2 bad usage or input, 3 oracle or\n"
    "infrastructure errors.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace crashenum::internal_cli;  // NOLINT
  // A long trace's crash points each allocate and drop lists of millions of
  // units. Blocks of 1 MiB and more come from the kernel and go back to it;
  // glibc would otherwise raise this threshold after each such free and keep
  // the next ones in a heap that only grows.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Under `bazel run`, resolve paths against the directory it was run from.
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) {
    if (::chdir(dir) != 0) {
      std::fprintf(stderr, "crashenum: cannot enter %s\n", dir);
      return 2;
    }
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string verb = args[0];
  args.erase(args.begin());
  if (verb == "check") return CheckCommand(args);
  if (verb == "convert") return ConvertCommand(args);
  if (verb == "explain") return ExplainCommand(args);
  if (verb == "graph") return GraphCommand(args);
  if (verb == "info") return InfoCommand(args);
  if (verb == "materialize") return MaterializeCommand(args);
  if (verb == "minimize") return MinimizeCommand(args);
  if (verb == "record") return RecordCommand(args);
  if (verb == "mark") return MarkCommand(args);
  std::fprintf(stderr, "crashenum: unknown verb '%s'\n\n%s", verb.c_str(),
               kUsage);
  return 2;
}
