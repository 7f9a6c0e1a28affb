#include "traces/convert.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "traces/crashenum_format.h"
#include "traces/dm_log_writes_writer.h"
#include "traces/internal/dm_log_format.h"
#include "traces/trace_reader.h"

namespace crashenum {
namespace {

using internal_traces::IsValidDmLogSectorsize;
using internal_traces::kDmLogMaxSectorsize;
using internal_traces::kDmLogMinSectorsize;
using internal_traces::MaxDmLogMarkLength;

// "1 op" / "3 ops".
std::string Count(uint64_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// The index of the device dm-log-writes keeps.
absl::StatusOr<uint32_t> ChooseDevice(const Trace& trace,
                                      const std::string& name) {
  std::vector<std::string> names;
  for (const Device& d : trace.devices()) names.push_back(d.name);
  if (name.empty()) {
    if (names.size() == 1) return 0;
    return absl::InvalidArgumentError(absl::StrCat(
        "the trace has ", names.size(), " devices (",
        absl::StrJoin(names, ", "),
        ") and a dm-log-writes log holds one: name the device to keep"));
  }
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the trace has no device named '", name,
                     "' (devices: ", absl::StrJoin(names, ", "), ")"));
  }
  return static_cast<uint32_t>(it - names.begin());
}

// What a dm-log-writes log loses of a trace, counted while projecting it.
struct DmLogLosses {
  uint64_t other_device_ops = 0;
  uint64_t never_completed = 0;
  uint64_t deferred = 0;  // completed, but not right after their submission
  uint64_t failed = 0;
  uint64_t sync = 0;
  uint64_t preflush_flushes = 0;
  uint64_t cut_labels = 0;
  uint64_t highest_sector = 0;  // end of the highest range logged
};

std::vector<std::string> DescribeLosses(const Trace& trace, uint32_t kept,
                                        const DmLogLosses& l) {
  std::vector<std::string> lines;
  const Device& device = trace.devices()[kept];
  if (trace.devices().size() > 1) {
    std::vector<std::string> others;
    for (const Device& d : trace.devices()) {
      if (d.name != device.name) others.push_back(d.name);
    }
    lines.push_back(absl::StrCat("kept device ", device.name, "; dropped ",
                                 Count(others.size(), "device", "devices"),
                                 " (", absl::StrJoin(others, ", "), ") with ",
                                 Count(l.other_device_ops, "op", "ops")));
  }
  if (!device.base.empty()) {
    lines.push_back(absl::StrCat(
        "dropped the base image of device ", device.name, " (",
        device.base.size(), " bytes): the log starts from a zeroed device"));
  }
  if (l.never_completed != 0) {
    lines.push_back(absl::StrCat(
        "dropped ", Count(l.never_completed, "op", "ops"),
        " that never completed (the log holds completed ops only)"));
  }
  if (l.deferred != 0) {
    lines.push_back(absl::StrCat(
        "moved ", Count(l.deferred, "op that was", "ops that were"),
        " in flight across other events to their completion (the "
        "log records each op as submitted and completed at once)"));
  }
  if (l.failed != 0) {
    lines.push_back(
        absl::StrCat("logged ", Count(l.failed, "failed op", "failed ops"),
                     " as successful (the log holds no completion status)"));
  }
  if (l.sync != 0) {
    lines.push_back(absl::StrCat("dropped the SYNC flag of ",
                                 Count(l.sync, "op", "ops"),
                                 " (the log has no such flag)"));
  }
  if (l.preflush_flushes != 0) {
    lines.push_back(absl::StrCat("dropped PREFLUSH from ",
                                 Count(l.preflush_flushes, "flush", "flushes"),
                                 " (a flush already is one)"));
  }
  if (l.cut_labels != 0) {
    lines.push_back(
        absl::StrCat("cut ", Count(l.cut_labels, "mark label", "mark labels"),
                     " to ", MaxDmLogMarkLength(device.sector_size),
                     " bytes (what one log sector holds)"));
  }
  if (device.name != "dev0") {
    lines.push_back(absl::StrCat("dropped the device name ", device.name,
                                 " (a reader calls it dev0)"));
  }
  if (device.num_sectors != l.highest_sector) {
    lines.push_back(
        absl::StrCat("dropped the device size of ", device.num_sectors,
                     " sectors (a reader infers ", l.highest_sector,
                     " from the log unless given a device size of ",
                     device.num_sectors * device.sector_size, " bytes)"));
  }
  return lines;
}

// The part of `trace` a dm-log-writes log can hold: device `kept` without
// its base, its completed ops and every mark (labels cut to fit).
absl::StatusOr<Trace> ProjectForDmLog(const Trace& trace, uint32_t kept,
                                      DmLogLosses* losses) {
  Device device = trace.devices()[kept];
  if (!IsValidDmLogSectorsize(device.sector_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device ", device.name, " has sectors of ", device.sector_size,
        " bytes; dm-log-writes needs a power of two from ", kDmLogMinSectorsize,
        " to ", kDmLogMaxSectorsize));
  }
  const uint64_t max_label = MaxDmLogMarkLength(device.sector_size);
  device.base = {};
  TraceBuilder builder("dm-log-writes", "");
  RETURN_IF_ERROR(builder.AddDevice(device).status());
  const uint32_t end = static_cast<uint32_t>(trace.events().size());
  std::vector<uint32_t> new_index(trace.ops().size(), UINT32_MAX);
  for (uint32_t e = 0; e < end; ++e) {
    const Event& event = trace.events()[e];
    if (event.kind == EventKind::kMark) {
      std::string label = trace.marks()[event.mark].label;
      if (label.find('\0') != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("mark ", event.mark,
                         " holds a NUL byte, which dm-log-writes "
                         "cannot hold"));
      }
      if (label.size() > max_label) {
        label.resize(max_label);
        ++losses->cut_labels;
      }
      builder.AddMark(std::move(label), e);
      continue;
    }
    const Op& op = trace.ops()[event.op];
    if (op.device != kept) {
      if (event.kind == EventKind::kSubmit) ++losses->other_device_ops;
      continue;
    }
    if (event.kind == EventKind::kSubmit) {
      if (trace.complete_event(event.op) == end) {
        ++losses->never_completed;
        continue;
      }
      if (trace.complete_event(event.op) != e + 1) ++losses->deferred;
      if ((op.flags & kSync) != 0) ++losses->sync;
      if (op.kind == OpKind::kFlush && (op.flags & kPreflush) != 0) {
        ++losses->preflush_flushes;
      }
      if (op.kind != OpKind::kFlush) {
        losses->highest_sector =
            std::max(losses->highest_sector, op.sector + op.num_sectors);
      }
      Op copy = op;
      copy.device = 0;
      ASSIGN_OR_RETURN(new_index[event.op], builder.Submit(copy, e));
      continue;
    }
    if (event.status != 0) ++losses->failed;
    RETURN_IF_ERROR(builder.Complete(new_index[event.op], event.status, e));
  }
  return std::move(builder).Build();
}

}  // namespace

absl::StatusOr<TraceFormat> WritableFormat(absl::string_view name) {
  for (TraceFormat format :
       {TraceFormat::kCrashenum, TraceFormat::kDmLogWrites}) {
    if (TraceFormatName(format) == name) return format;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot write format '", name,
                   "' (crashenum writes crashenum and dm-log-writes)"));
}

absl::StatusOr<std::vector<std::string>> ConvertTrace(
    const Trace& trace, const std::string& path,
    const ConvertOptions& options) {
  switch (options.format) {
    case TraceFormat::kCrashenum:
      RETURN_IF_ERROR(WriteCrashenumTrace(trace, path, options.info));
      return std::vector<std::string>();
    case TraceFormat::kDmLogWrites: {
      ASSIGN_OR_RETURN(const uint32_t kept, ChooseDevice(trace, options.device),
                       path);
      DmLogLosses losses;
      ASSIGN_OR_RETURN(const Trace projected,
                       ProjectForDmLog(trace, kept, &losses), path);
      RETURN_IF_ERROR(WriteDmLogWrites(projected, path));
      return DescribeLosses(trace, kept, losses);
    }
    default:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": cannot write format ", TraceFormatName(options.format)));
}

}  // namespace crashenum
