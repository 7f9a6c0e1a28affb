#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/status_macros.h"
#include "traces/convert.h"
#include "traces/crashenum_format.h"

namespace crashenum {
namespace internal_cli {
namespace {

// Reads the trace, writes it in --format and reports what the format could
// not hold. Sets *writing once the output is being written, so that its
// failures can be told from bad input.
absl::Status Run(const Flags& flags, bool* writing) {
  if (!flags.Has("output")) {
    return absl::InvalidArgumentError("convert needs -o OUT");
  }
  if (!flags.Has("format")) {
    return absl::InvalidArgumentError(
        "convert needs --format=crashenum or --format=dm-log-writes");
  }
  ConvertOptions options;
  ASSIGN_OR_RETURN(options.format, WritableFormat(flags.Get("format")),
                   "--format");
  options.device = flags.Get("device");
  if (!options.device.empty() && options.format != TraceFormat::kDmLogWrites) {
    return absl::InvalidArgumentError(
        "--device goes with --format=dm-log-writes");
  }
  std::string notes;
  ASSIGN_OR_RETURN(const Trace trace, OpenTraceFromFlags(flags, &notes));
  PrintNotes(stderr, notes);
  const std::string& in = trace.path();
  const std::string out = flags.Get("output");

  // Info records of a crashenum source carry over to crashenum; a log has no
  // place for them.
  std::vector<std::pair<std::string, std::string>> source_info;
  if (trace.format() == TraceFormatName(TraceFormat::kCrashenum)) {
    ASSIGN_OR_RETURN(source_info, ReadCrashenumInfo(in));
  }
  std::vector<std::string> lost;
  if (options.format == TraceFormat::kCrashenum) {
    options.info = std::move(source_info);
    options.info.emplace_back("converted-from",
                              absl::StrCat(in, " (", trace.format(), ")"));
  } else if (!source_info.empty()) {
    const bool one = source_info.size() == 1;
    lost.push_back(absl::StrCat(
        "dropped ", source_info.size(), " info ", one ? "record" : "records",
        " (the log has no place for ", one ? "it)" : "them)"));
  }

  *writing = true;
  ASSIGN_OR_RETURN(std::vector<std::string> format_lost,
                   ConvertTrace(trace, out, options));
  lost.insert(lost.end(), format_lost.begin(), format_lost.end());
  const std::string format_name(TraceFormatName(options.format));
  std::fprintf(stderr,
               "wrote %s (%s) from %s (%s): %zu device(s), %zu events, "
               "%zu ops, %zu marks\n",
               out.c_str(), format_name.c_str(), in.c_str(),
               trace.format().c_str(), trace.devices().size(),
               trace.events().size(), trace.ops().size(), trace.marks().size());
  if (lost.empty()) {
    std::fprintf(stderr, "nothing was dropped or changed\n");
  }
  for (const std::string& line : lost) {
    std::fprintf(stderr, "%s: %s\n", format_name.c_str(), line.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int ConvertCommand(const std::vector<std::string>& args) {
  Flags flags;
  DefineTraceFlags(flags);
  flags.Define("output", "the file to write (replaced atomically)", false,
               {"-o"});
  flags.Define("format", "crashenum | dm-log-writes");
  flags.Define("device",
               "dm-log-writes: the device to keep when the trace has several");
  flags.Define("help", "show this help", true, {"-h"});
  absl::Status s = flags.Parse(args);
  if (s.ok() && flags.GetBool("help")) {
    std::printf(
        "usage: crashenum convert TRACE -o OUT --format=crashenum|"
        "dm-log-writes\n"
        "Writes TRACE in another format and says on stderr what that format\n"
        "cannot hold (dm-log-writes: one device, completed ops only, no\n"
        "completion status, no SYNC flag, no base image).\n%s",
        flags.Usage().c_str());
    return kExitOk;
  }
  bool writing = false;
  if (s.ok()) s = Run(flags, &writing);
  if (!s.ok()) {
    std::fprintf(stderr, "crashenum convert: %s\n", s.ToString().c_str());
    // The output could not be written: an I/O failure, not bad input.
    if (writing && s.code() != absl::StatusCode::kInvalidArgument) {
      return kExitInfrastructure;
    }
    return ExitCodeFor(s);
  }
  return kExitOk;
}

}  // namespace internal_cli
}  // namespace crashenum
