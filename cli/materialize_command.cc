#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/crash_state.h"
#include "enumerator/materializer.h"
#include "enumerator/state_space.h"

namespace crashenum {
namespace internal_cli {
namespace {

absl::Status Run(const Flags& flags) {
  std::string notes;
  absl::StatusOr<Trace> trace = OpenTraceFromFlags(flags, &notes);
  if (!trace.ok()) return trace.status();
  if (!flags.Has("state")) {
    return absl::InvalidArgumentError("materialize needs --state=ID");
  }
  if (!flags.Has("output")) {
    return absl::InvalidArgumentError("materialize needs -o IMAGE");
  }
  CheckOptions options;
  absl::Status s = OptionsFromFlags(flags, &options);
  if (!s.ok()) return s;
  absl::StatusOr<ResolvedState> r =
      ResolveStateFromFlags(flags, *trace, options.model);
  if (!r.ok()) return r.status();
  const std::string out = flags.Get("output");
  std::vector<std::string> paths;
  if (trace->devices().size() == 1) {
    paths.push_back(out);
  } else {
    for (const Device& d : trace->devices()) paths.push_back(out + "." + d.name);
  }
  s = MaterializeState(*r->space, r->resolution, paths);
  if (!s.ok()) return s;
  for (const std::string& p : paths) {
    std::fprintf(stderr, "wrote %s (state %s, image %s)\n", p.c_str(),
                 r->id.ToString().c_str(), r->resolution.hash.ToHex().c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int MaterializeCommand(const std::vector<std::string>& args) {
  Flags flags;
  DefineTraceFlags(flags);
  DefineModelFlags(flags);
  flags.Define("state", "the crash state ID to rebuild");
  flags.Define("output", "image file to write (one per device: IMAGE.NAME)",
               false, {"-o"});
  flags.Define("help", "show this help", true, {"-h"});
  absl::Status s = flags.Parse(args);
  if (s.ok() && flags.GetBool("help")) {
    std::printf("usage: crashenum materialize TRACE --state=ID -o IMAGE\n%s",
                flags.Usage().c_str());
    return kExitOk;
  }
  if (s.ok()) s = Run(flags);
  if (!s.ok()) {
    std::fprintf(stderr, "crashenum materialize: %s\n", s.ToString().c_str());
    return ExitCodeFor(s);
  }
  return kExitOk;
}

}  // namespace internal_cli
}  // namespace crashenum
