// Writing a trace in another format, with an exact account of what the
// target format cannot express.
#ifndef CRASHENUM_TRACES_CONVERT_H_
#define CRASHENUM_TRACES_CONVERT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/trace.h"
#include "traces/trace_reader.h"

namespace crashenum {

// The format named `name` when crashenum can write it ("crashenum",
// "dm-log-writes"). Errors: InvalidArgument naming the formats it writes.
absl::StatusOr<TraceFormat> WritableFormat(absl::string_view name);

struct ConvertOptions {
  // The format to write; one WritableFormat returns.
  TraceFormat format = TraceFormat::kCrashenum;
  // dm-log-writes holds one device: the name of the one to keep. Needed when
  // the trace has several; when given, it must name a device of the trace.
  std::string device;
  // crashenum: info records (key, value) to write before the trace.
  std::vector<std::pair<std::string, std::string>> info;
};

// Writes `trace` to `path` in options.format and returns what the target
// format could not hold, one line per kind of loss with its count ("dropped
// 3 ops that never completed ..."); empty when nothing was lost beyond
// source entry numbers. The file is replaced atomically: on failure `path`
// is untouched.
//
// crashenum holds every trace. dm-log-writes loses: the other devices, a
// base image, ops that never complete, when each op was submitted (every op
// is logged at its completion), completion errors, the SYNC flag, PREFLUSH
// on a flush, the device's name and size, and mark labels past what one log
// sector holds (they are cut).
//
// Errors: InvalidArgument when options.format is not writable, when
// dm-log-writes is asked for a trace with several devices and no (or an
// unknown) options.device, a sector size outside [512, 65536] or a mark
// label with a NUL byte; the writer's I/O errors, naming the file.
absl::StatusOr<std::vector<std::string>> ConvertTrace(
    const Trace& trace, const std::string& path, const ConvertOptions& options);

}  // namespace crashenum

#endif  // CRASHENUM_TRACES_CONVERT_H_
