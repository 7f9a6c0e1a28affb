#include "traces/blktrace_data.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/mapped_file.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "traces/block_events.h"
#include "traces/dm_log_writes.h"
#include "traces/internal/block_requests.h"

namespace crashenum {
namespace {

using internal_traces::BlockOp;
using internal_traces::DeviceId;
using internal_traces::DeviceName;
using internal_traces::kBlockSector;
using internal_traces::kMaxRemapHops;
using internal_traces::OutEvent;
using internal_traces::RequestTracker;
using internal_traces::RequestWalk;
using internal_traces::SectorRange;

absl::StatusOr<DeviceId> ParseDeviceOption(const std::string& text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
  DeviceId d;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &d.major) ||
      !absl::SimpleAtoi(parts[1], &d.minor)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "block device \"", text, "\": expected MAJ,MIN such as 8,0"));
  }
  return d;
}

// The events of `paths`: blktrace binary files, or one text file.
absl::StatusOr<std::vector<BlockEvent>> ReadEvents(
    const std::vector<std::string>& paths, bool* text, std::string* notes) {
  if (paths.empty()) {
    return absl::InvalidArgumentError("no block event files given");
  }
  std::vector<bool> binary;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
    binary.push_back(file->size() == 0 ||
                     LooksLikeBlktraceBinary(file->contents().substr(0, 4)));
  }
  *text = !binary[0];
  if (*text || std::find(binary.begin(), binary.end(), false) != binary.end()) {
    if (paths.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "block events from several files must all be blktrace binary "
          "files: ",
          absl::StrJoin(paths, ", ")));
    }
    return ReadBlockEventText(paths[0]);
  }
  std::vector<BlktraceFileInfo> info;
  ASSIGN_OR_RETURN(std::vector<BlockEvent> events,
                   ReadBlktraceBinary(paths, &info));
  uint64_t records = 0, notify = 0;
  for (const BlktraceFileInfo& i : info) {
    records += i.records;
    notify += i.notify;
  }
  absl::StrAppend(notes, paths[0], ": ", records, " blktrace records in ",
                  paths.size(), paths.size() == 1 ? " file" : " files", " (",
                  notify, " notify records skipped)\n");
  return events;
}

// Chooses the traced device and, for a device above it, that device.
absl::Status ChooseDevice(const std::vector<BlockEvent>& events,
                          const std::string& option, DeviceId* traced,
                          std::optional<DeviceId>* above) {
  std::map<DeviceId, uint64_t> seen;     // traced devices -> events
  std::map<DeviceId, DeviceId> sources;  // remap source -> a traced device
  for (const BlockEvent& e : events) {
    if (e.is_remap) {
      sources.emplace(DeviceId{e.from_major, e.from_minor},
                      DeviceId{e.major, e.minor});
    } else if (e.action != BlockAction::kOther) {
      ++seen[DeviceId{e.major, e.minor}];
    }
  }
  if (seen.empty()) {
    return absl::InvalidArgumentError(
        "no queue, issue or completion events in the block events");
  }
  std::vector<std::string> names;
  for (const auto& [d, n] : seen) names.push_back(DeviceName(d));
  if (option.empty()) {
    if (seen.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the block events hold several devices (", absl::StrJoin(names, ", "),
          "); choose one with --blk-device=MAJ,MIN"));
    }
    *traced = seen.begin()->first;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const DeviceId wanted, ParseDeviceOption(option));
  if (seen.count(wanted) != 0) {
    *traced = wanted;
    return absl::OkStatus();
  }
  // A device above a traced one: follow the remaps down to it.
  DeviceId dev = wanted;
  for (int hop = 0; hop < kMaxRemapHops; ++hop) {
    auto it = sources.find(dev);
    if (it == sources.end()) break;
    dev = it->second;
    if (seen.count(dev) != 0) {
      *traced = dev;
      *above = wanted;
      return absl::OkStatus();
    }
  }
  std::vector<std::string> remapped;
  for (const auto& [from, to] : sources) remapped.push_back(DeviceName(from));
  return absl::InvalidArgumentError(absl::StrCat(
      "block device ", option,
      " is not in the block events (traced: ", absl::StrJoin(names, ", "),
      remapped.empty()
          ? ""
          : absl::StrCat("; remapped from: ", absl::StrJoin(remapped, ", ")),
      ")"));
}

using WhereFn = std::function<std::string(const BlockEvent&)>;

struct CaptureMark {
  std::string label;
  uint64_t source_entry = 0;
};

// What the data capture holds, in its event order.
struct CaptureContents {
  std::vector<uint32_t> writes;  // op indices of its writes, by submission
  std::vector<CaptureMark> marks;
  uint64_t flushes = 0, discards = 0;
};

CaptureContents ScanCapture(const Trace& capture) {
  CaptureContents c;
  for (const Event& ev : capture.events()) {
    if (ev.kind == EventKind::kMark) {
      c.marks.push_back(
          CaptureMark{capture.marks()[ev.mark].label, ev.source_entry});
    } else if (ev.kind == EventKind::kSubmit) {
      const OpKind kind = capture.ops()[ev.op].kind;
      if (kind == OpKind::kWrite) c.writes.push_back(ev.op);
      c.flushes += kind == OpKind::kFlush;
      c.discards += kind == OpKind::kDiscard;
    }
  }
  return c;
}

// The bytes each op writes, and which capture write they came from.
struct Pairing {
  std::vector<absl::string_view> data;         // per op
  std::vector<std::optional<size_t>> capture;  // per op: index into writes
  std::vector<uint32_t> op_of_capture;         // per capture write: an op
  uint64_t writes = 0, flushes = 0, discards = 0;
  uint64_t merged = 0;  // capture writes that held a whole merged request
};

using RangeKey = std::pair<uint64_t, uint64_t>;  // first byte, bytes

// Pairs the writes of `ops` with the capture's writes (docs/FORMAT.md,
// "blktrace plus data").
absl::Status PairData(const std::vector<BlockOp>& ops, const Trace& capture,
                      const CaptureContents& contents, uint64_t ss,
                      const WhereFn& where, const std::string& data_name,
                      const std::string& device_name,
                      const std::string& events_name, Pairing* p) {
  const std::vector<uint32_t>& cap_writes = contents.writes;
  std::map<RangeKey, std::deque<size_t>> by_range;
  std::map<uint64_t, std::vector<size_t>> by_start;
  for (size_t c = 0; c < cap_writes.size(); ++c) {
    const Op& op = capture.ops()[cap_writes[c]];
    by_range[{op.sector * ss, op.num_sectors * ss}].push_back(c);
    by_start[op.sector * ss].push_back(c);
  }
  std::vector<bool> cap_used(cap_writes.size(), false);
  p->data.assign(ops.size(), absl::string_view());
  p->capture.assign(ops.size(), std::nullopt);
  p->op_of_capture.assign(cap_writes.size(), 0);
  const auto take = [&](uint32_t op, size_t c, uint64_t offset) {
    cap_used[c] = true;
    p->capture[op] = c;
    p->op_of_capture[c] = op;
    p->data[op] = capture.ops()[cap_writes[c]].data.substr(
        offset, ops[op].num_sectors * kBlockSector);
  };
  // Writes completed by one completion (the bios of one request).
  std::map<const BlockEvent*, std::vector<uint32_t>> requests;
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind == OpKind::kWrite && ops[i].completed_by != nullptr) {
      requests[ops[i].completed_by].push_back(i);
    }
  }
  // Pairs the bios of op i's request with a capture write of the whole
  // request, each taking its part; false when there is none.
  const auto pair_request = [&](uint32_t i) {
    if (ops[i].completed_by == nullptr) return false;
    const std::vector<uint32_t>& bios = requests[ops[i].completed_by];
    if (bios.size() < 2) return false;
    uint64_t lo = UINT64_MAX, hi = 0, total = 0;
    for (uint32_t j : bios) {
      if (p->capture[j].has_value()) return false;
      lo = std::min(lo, ops[j].sector);
      hi = std::max(hi, ops[j].sector + ops[j].num_sectors);
      total += ops[j].num_sectors;
    }
    if (hi - lo != total) return false;  // not one contiguous range
    auto it = by_range.find({lo * kBlockSector, total * kBlockSector});
    if (it == by_range.end() || it->second.empty()) return false;
    const size_t c = it->second.front();
    it->second.pop_front();
    ++p->merged;
    for (uint32_t j : bios) take(j, c, (ops[j].sector - lo) * kBlockSector);
    return true;
  };
  std::map<RangeKey, uint64_t> seen;  // writes of the events per range
  for (uint32_t i = 0; i < ops.size(); ++i) {
    const BlockOp& op = ops[i];
    p->flushes += op.kind == OpKind::kFlush;
    if (op.kind == OpKind::kFlush) continue;
    const uint64_t first = op.sector * kBlockSector;
    const uint64_t bytes = op.num_sectors * kBlockSector;
    if (first % ss != 0 || bytes % ss != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(*op.source), ": ", SectorRange(op.sector, op.num_sectors),
          " is not aligned to the data capture's ", ss, "-byte sectors"));
    }
    if (op.kind == OpKind::kDiscard) {
      ++p->discards;
      continue;
    }
    ++p->writes;
    const uint64_t number = ++seen[{first, bytes}];
    if (p->capture[i].has_value()) continue;  // paired with its request
    // A capture below the request queue sees the merged request: a capture
    // write of the whole request comes first, before one of this bio's own
    // range (which may be a later write of the same sectors).
    if (pair_request(i)) continue;
    std::deque<size_t>& candidates = by_range[{first, bytes}];
    if (!candidates.empty()) {
      take(i, candidates.front(), 0);
      candidates.pop_front();
      continue;
    }
    for (size_t c : by_start[first]) {
      if (cap_used[c]) continue;
      const Op& cop = capture.ops()[cap_writes[c]];
      return absl::InvalidArgumentError(
          absl::StrCat(where(*op.source), ": write of ",
                       SectorRange(op.sector, op.num_sectors),
                       " does not match the data capture ", data_name,
                       ": its write at that sector (entry ", cop.source_entry,
                       ") covers ", cop.num_sectors * ss / kBlockSector,
                       " 512-byte sectors (length mismatch)"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(where(*op.source), ": write of ",
                     SectorRange(op.sector, op.num_sectors),
                     " has no write to pair with in the data capture ",
                     data_name, " (blktrace write number ", number,
                     " to that range; the capture has ", number - 1, ")"));
  }
  for (size_t c = 0; c < cap_writes.size(); ++c) {
    if (cap_used[c]) continue;
    const Op& cop = capture.ops()[cap_writes[c]];
    return absl::InvalidArgumentError(
        absl::StrCat(data_name, " entry ", cop.source_entry, ": write of ",
                     SectorRange(cop.sector * ss / kBlockSector,
                                 cop.num_sectors * ss / kBlockSector),
                     " has no blktrace write of device ", device_name,
                     " to pair with in ", events_name));
  }
  return absl::OkStatus();
}

// Two writes to one range in flight together: which bytes are whose is only
// known when the captured bytes agree.
absl::Status CheckConcurrentWrites(const std::vector<BlockOp>& ops,
                                   const Pairing& pairing,
                                   const WhereFn& where) {
  std::map<RangeKey, uint32_t> last;  // range -> latest write to it
  for (uint32_t i = 0; i < ops.size(); ++i) {
    const BlockOp& b = ops[i];
    if (b.kind != OpKind::kWrite) continue;
    auto [it, first] = last.try_emplace({b.sector, b.num_sectors}, i);
    if (first) continue;
    const BlockOp& a = ops[it->second];
    const bool overlap =
        !a.complete_at.has_value() || *a.complete_at > b.submit_at;
    if (overlap && pairing.data[it->second] != pairing.data[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(*b.source), ": write of ", SectorRange(b.sector, b.num_sectors),
          " was in flight together with the write of ", where(*a.source),
          " to the same range, and the data capture's writes there differ: "
          "which data is whose is ambiguous"));
    }
    it->second = i;
  }
  return absl::OkStatus();
}

// For each capture mark, the index of the output event it goes before: just
// after the counterparts of every capture event before it (docs/FORMAT.md,
// "Marks"), never before an earlier mark.
std::vector<size_t> PlaceMarks(const std::vector<BlockOp>& ops,
                               const Trace& capture,
                               const CaptureContents& contents,
                               const Pairing& pairing, uint64_t ss) {
  // The events' op of each capture write, by capture op index.
  std::vector<std::optional<uint32_t>> counterpart(capture.ops().size());
  for (size_t c = 0; c < contents.writes.size(); ++c) {
    counterpart[contents.writes[c]] = pairing.op_of_capture[c];
  }
  // Discards pair by range like writes; flushes by order (below).
  std::map<RangeKey, std::deque<uint32_t>> discards;
  std::vector<uint32_t> flushes;  // flush ops, in submission order
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (ops[i].kind == OpKind::kDiscard) {
      discards[{ops[i].sector * kBlockSector,
                ops[i].num_sectors * kBlockSector}]
          .push_back(i);
    } else if (ops[i].kind == OpKind::kFlush) {
      flushes.push_back(i);
    }
  }
  size_t next_flush = 0;
  std::optional<size_t> latest;  // output event of the latest counterpart
  std::vector<size_t> before;
  for (const Event& ev : capture.events()) {
    if (ev.kind == EventKind::kMark) {
      const size_t at = latest.has_value() ? *latest + 1 : 0;
      before.push_back(before.empty() ? at : std::max(before.back(), at));
      continue;
    }
    std::optional<uint32_t>& op = counterpart[ev.op];
    const Op& cop = capture.ops()[ev.op];
    if (ev.kind == EventKind::kSubmit && cop.kind == OpKind::kDiscard) {
      auto it = discards.find({cop.sector * ss, cop.num_sectors * ss});
      if (it != discards.end() && !it->second.empty()) {
        op = it->second.front();
        it->second.pop_front();
      }
    } else if (ev.kind == EventKind::kSubmit && cop.kind == OpKind::kFlush) {
      // The first flush submitted after the counterparts of all before it.
      while (next_flush < flushes.size() && latest.has_value() &&
             ops[flushes[next_flush]].submit_at < *latest) {
        ++next_flush;
      }
      if (next_flush < flushes.size()) op = flushes[next_flush++];
    }
    if (!op.has_value()) continue;
    const BlockOp& bop = ops[*op];
    const size_t at = ev.kind == EventKind::kSubmit
                          ? bop.submit_at
                          : bop.complete_at.value_or(bop.submit_at);
    latest = latest.has_value() ? std::max(*latest, at) : at;
  }
  return before;
}

void AddNotes(const RequestWalk& walk, const std::string& events_name,
              const std::string& data_name, DeviceId traced,
              std::optional<DeviceId> above, const CaptureContents& contents,
              const Pairing& pairing, std::string* notes) {
  uint64_t never = 0;
  for (const BlockOp& op : walk.ops) never += !op.complete_at.has_value();
  const std::string dev_name =
      above.has_value()
          ? absl::StrCat(DeviceName(*above), " (through remaps to ",
                         DeviceName(traced), ")")
          : DeviceName(traced);
  absl::StrAppend(notes, events_name, ": device ", dev_name, ": ",
                  pairing.writes, " writes, ", pairing.flushes, " flushes, ",
                  pairing.discards, " discards; written data from ", data_name,
                  "\n");
  if (pairing.merged != 0) {
    absl::StrAppend(notes, data_name, ": ", pairing.merged,
                    " writes hold a whole merged request and were split among "
                    "its bios\n");
  }
  if (walk.reads + walk.others != 0) {
    absl::StrAppend(notes, events_name, ": left out ", walk.reads,
                    " queued reads and ", walk.others,
                    " other requests (no data written)\n");
  }
  if (walk.issued_without_queue + walk.completed_without_queue != 0) {
    absl::StrAppend(notes, events_name, ": ", walk.issued_without_queue,
                    " requests had no queue event and were submitted at their "
                    "issue, ",
                    walk.completed_without_queue, " at their completion\n");
  }
  if (walk.not_attributed != 0) {
    absl::StrAppend(notes, events_name, ": ", walk.not_attributed,
                    " write or discard requests of ", DeviceName(traced),
                    " are not on ", DeviceName(above.value_or(traced)),
                    " (or came without the remap records that say so) and "
                    "were left out\n");
  }
  if (never != 0) {
    absl::StrAppend(notes, events_name, ": ", never,
                    " ops never complete (in flight when tracing stopped)\n");
  }
  if (contents.flushes + contents.discards != 0) {
    absl::StrAppend(notes, data_name, ": its ", contents.flushes,
                    " flushes and ", contents.discards,
                    " discards are not used (the block events give them)\n");
  }
}

}  // namespace

absl::StatusOr<Trace> ReadBlktraceWithData(
    const std::vector<std::string>& event_paths,
    const BlktraceReadOptions& options, std::string* notes) {
  std::string local_notes;
  if (notes == nullptr) notes = &local_notes;
  notes->clear();
  const std::string events_name =
      event_paths.empty() ? std::string("(no file)") : event_paths[0];
  if (options.data_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        events_name,
        ": blktrace events carry no written data; give a data capture of the "
        "same device with --data=PATH (a crashenum trace or a dm-log-writes "
        "log)"));
  }
  bool text = false;
  ASSIGN_OR_RETURN(std::vector<BlockEvent> events,
                   ReadEvents(event_paths, &text, notes));
  const auto where = [&](const BlockEvent& e) {
    return absl::StrCat(event_paths[e.source_file],
                        text ? " line " : " record ", e.source_entry);
  };
  DeviceId traced;
  std::optional<DeviceId> above;
  RETURN_IF_ERROR(ChooseDevice(events, options.device, &traced, &above),
                  events_name);

  RequestTracker walker(traced, above);
  for (const BlockEvent& e : events) {
    RETURN_IF_ERROR(walker.Add(e), where(e));
  }
  const RequestWalk& walk = walker.walk();

  // The data capture.
  absl::StatusOr<Trace> read = options.read_data
                                   ? options.read_data(options.data_path)
                                   : ReadDmLogWrites(options.data_path, {});
  RETURN_IF_ERROR(read.status(), "data capture");
  Trace capture = std::move(read).value();
  const std::string& data_name = options.data_path;
  if (capture.devices().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        data_name, ": the data capture holds ", capture.devices().size(),
        " devices; blktrace+data pairs with a capture of exactly one"));
  }
  const Device device = capture.devices()[0];
  const uint64_t ss = device.sector_size;
  const CaptureContents contents = ScanCapture(capture);
  Pairing pairing;
  RETURN_IF_ERROR(PairData(walk.ops, capture, contents, ss, where, data_name,
                           DeviceName(above.value_or(traced)), events_name,
                           &pairing));
  RETURN_IF_ERROR(CheckConcurrentWrites(walk.ops, pairing, where));
  const std::vector<size_t> mark_before =
      PlaceMarks(walk.ops, capture, contents, pairing, ss);

  // Build the trace.
  TraceBuilder builder("blktrace+data", events_name);
  builder.AdoptTrace(std::move(capture));  // the data and device.base view it
  ASSIGN_OR_RETURN(const uint32_t dev,
                   builder.AddDevice(device, /*infer_size=*/true), data_name);
  size_t next_mark = 0;
  const auto add_marks_before = [&](size_t index) {
    for (; next_mark < contents.marks.size() && mark_before[next_mark] <= index;
         ++next_mark) {
      builder.AddMark(contents.marks[next_mark].label,
                      contents.marks[next_mark].source_entry);
    }
  };
  std::vector<uint32_t> index_of(walk.ops.size());
  for (size_t k = 0; k < walk.out.size(); ++k) {
    add_marks_before(k);
    const OutEvent& ev = walk.out[k];
    if (ev.submit) {
      const BlockOp& bop = walk.ops[ev.op];
      Op op;
      op.kind = bop.kind;
      op.device = dev;
      op.sector = bop.sector * kBlockSector / ss;
      op.num_sectors = bop.num_sectors * kBlockSector / ss;
      op.flags = bop.flags;
      op.data = pairing.data[ev.op];
      ASSIGN_OR_RETURN(index_of[ev.op], builder.Submit(op, ev.source_entry),
                       where(*bop.source));
    } else {
      RETURN_IF_ERROR(
          builder.Complete(index_of[ev.op], ev.status, ev.source_entry),
          events_name);
    }
  }
  add_marks_before(walk.out.size());
  if (options.device_size_bytes != 0) {
    if (options.device_size_bytes % ss != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "device size ", options.device_size_bytes,
          " is not a multiple of the data capture's ", ss, "-byte sectors"));
    }
    RETURN_IF_ERROR(
        builder.SetDeviceSectors(dev, options.device_size_bytes / ss),
        events_name);
  }
  AddNotes(walk, events_name, data_name, traced, above, contents, pairing,
           notes);
  return std::move(builder).Build();
}

}  // namespace crashenum
