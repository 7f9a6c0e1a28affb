#include "core/trace.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crashenum {

std::string FlagsToString(uint32_t flags) {
  std::vector<std::string> parts;
  if (flags & kPreflush) parts.push_back("PREFLUSH");
  if (flags & kFua) parts.push_back("FUA");
  if (flags & kMeta) parts.push_back("META");
  if (flags & kSync) parts.push_back("SYNC");
  if (parts.empty()) return "-";
  return absl::StrJoin(parts, "|");
}

int Trace::FindMark(absl::string_view label) const {
  for (size_t i = 0; i < marks_.size(); ++i) {
    if (marks_[i].label == label) return static_cast<int>(i);
  }
  return -1;
}

void Trace::ReleaseDataPages() const {
  for (const auto& f : files_) f->DontNeed(0, f->size());
  for (const auto& t : adopted_) t->ReleaseDataPages();
}

TraceBuilder::TraceBuilder(std::string format, std::string path) {
  trace_.format_ = std::move(format);
  trace_.path_ = std::move(path);
}

const MappedFile& TraceBuilder::AdoptFile(std::unique_ptr<MappedFile> file) {
  trace_.files_.push_back(std::move(file));
  return *trace_.files_.back();
}

absl::string_view TraceBuilder::Own(std::string bytes) {
  trace_.owned_.push_back(std::move(bytes));
  return trace_.owned_.back();
}

void TraceBuilder::AdoptTrace(Trace trace) {
  trace_.adopted_.push_back(std::make_unique<Trace>(std::move(trace)));
}

absl::StatusOr<uint32_t> TraceBuilder::AddDevice(Device device,
                                                 bool infer_size) {
  const uint32_t ss = device.sector_size;
  if (ss < 8 || ss > (1u << 20) || (ss & (ss - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device ", device.name, ": sector size ", ss,
        " is not a power of two between 8 and 1 MiB"));
  }
  if (!device.base.empty() &&
      device.base.size() / ss < device.num_sectors) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device ", device.name, ": base image has ", device.base.size(),
        " bytes, the device needs ", device.num_sectors * uint64_t{ss}));
  }
  trace_.devices_.push_back(std::move(device));
  infer_size_.push_back(infer_size);
  max_end_.push_back(0);
  return static_cast<uint32_t>(trace_.devices_.size() - 1);
}

absl::Status TraceBuilder::SetDeviceSectors(uint32_t device,
                                            uint64_t num_sectors) {
  Device& d = trace_.devices_.at(device);
  if (num_sectors < max_end_[device]) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device ", d.name, ": size of ", num_sectors,
        " sectors is smaller than the trace, which writes up to sector ",
        max_end_[device]));
  }
  if (!d.base.empty() && d.base.size() / d.sector_size < num_sectors) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device ", d.name, ": base image is smaller than ", num_sectors,
        " sectors"));
  }
  d.num_sectors = num_sectors;
  infer_size_[device] = false;
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> TraceBuilder::Submit(Op op, uint64_t source_entry) {
  if (op.device >= trace_.devices_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry ", source_entry, ": unknown device ", op.device));
  }
  Device& d = trace_.devices_[op.device];
  switch (op.kind) {
    case OpKind::kFlush:
      if (op.num_sectors != 0 || !op.data.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "entry ", source_entry, ": a flush carries no sectors or data"));
      }
      break;
    case OpKind::kDiscard:
    case OpKind::kWrite: {
      const char* what = op.kind == OpKind::kWrite ? "write" : "discard";
      if (op.num_sectors == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("entry ", source_entry, ": empty ", what));
      }
      uint64_t end = op.sector + op.num_sectors;
      if (end < op.sector || op.num_sectors > (uint64_t{1} << 40)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "entry ", source_entry, ": ", what, " range overflows"));
      }
      if (end > d.num_sectors) {
        if (!infer_size_[op.device]) {
          return absl::InvalidArgumentError(absl::StrCat(
              "entry ", source_entry, ": ", what, " of sectors [", op.sector,
              ", ", end, ") lies past the end of device ", d.name, " (",
              d.num_sectors, " sectors)"));
        }
        d.num_sectors = end;
      }
      if (end > max_end_[op.device]) max_end_[op.device] = end;
      if (op.kind == OpKind::kWrite &&
          op.data.size() != op.num_sectors * d.sector_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "entry ", source_entry, ": write of ", op.num_sectors,
            " sectors carries ", op.data.size(), " bytes of data"));
      }
      if (op.kind == OpKind::kDiscard && (op.flags != 0 || !op.data.empty())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "entry ", source_entry, ": a discard carries no flags or data"));
      }
      break;
    }
  }
  op.source_entry = source_entry;
  trace_.ops_.push_back(op);
  uint32_t index = static_cast<uint32_t>(trace_.ops_.size() - 1);
  Event e;
  e.kind = EventKind::kSubmit;
  e.op = index;
  e.source_entry = source_entry;
  trace_.submit_event_.push_back(static_cast<uint32_t>(trace_.events_.size()));
  trace_.complete_event_.push_back(UINT32_MAX);
  trace_.complete_status_.push_back(0);
  trace_.events_.push_back(e);
  return index;
}

absl::Status TraceBuilder::Complete(uint32_t op, int32_t status,
                                    uint64_t source_entry) {
  if (op >= trace_.ops_.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("entry ", source_entry, ": completion of unknown op ", op));
  }
  if (trace_.complete_event_[op] != UINT32_MAX) {
    return absl::FailedPreconditionError(absl::StrCat(
        "entry ", source_entry, ": op ", op, " completed twice"));
  }
  Event e;
  e.kind = EventKind::kComplete;
  e.op = op;
  e.status = status;
  e.source_entry = source_entry;
  trace_.complete_event_[op] = static_cast<uint32_t>(trace_.events_.size());
  trace_.complete_status_[op] = status;
  trace_.events_.push_back(e);
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> TraceBuilder::SubmitAndComplete(
    Op op, uint64_t source_entry) {
  absl::StatusOr<uint32_t> index = Submit(op, source_entry);
  if (!index.ok()) return index;
  absl::Status s = Complete(*index, 0, source_entry);
  if (!s.ok()) return s;
  return index;
}

void TraceBuilder::AddMark(std::string label, uint64_t source_entry) {
  Event e;
  e.kind = EventKind::kMark;
  e.mark = static_cast<uint32_t>(trace_.marks_.size());
  e.source_entry = source_entry;
  trace_.marks_.push_back(
      Mark{std::move(label), static_cast<uint32_t>(trace_.events_.size())});
  trace_.events_.push_back(e);
}

absl::StatusOr<Trace> TraceBuilder::Build() && {
  if (trace_.devices_.empty()) {
    return absl::InvalidArgumentError("trace has no device");
  }
  const uint32_t n = static_cast<uint32_t>(trace_.events_.size());
  for (uint32_t& c : trace_.complete_event_) {
    if (c == UINT32_MAX) c = n;
  }
  return std::move(trace_);
}

}  // namespace crashenum
