// CrashenumTraceWriter, AppendTrace and WriteCrashenumTrace of
// crashenum_format.h.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "traces/crashenum_format.h"
#include "traces/internal/crashenum_layout.h"
#include "traces/internal/crc32c.h"
#include "core/replace_file.h"

namespace crashenum {
namespace {

using internal_traces::Crc32c;
using internal_traces::EncodeComplete;
using internal_traces::EncodeDevice;
using internal_traces::EncodeEnd;
using internal_traces::EncodeFileHeader;
using internal_traces::EncodeInfo;
using internal_traces::EncodeMark;
using internal_traces::EncodeRecordHeader;
using internal_traces::EncodeSubmit;
using internal_traces::EndCounts;
using internal_traces::kCompleteRecord;
using internal_traces::kCrashenumMajor;
using internal_traces::kCrashenumMinor;
using internal_traces::kDataRecord;
using internal_traces::kDeviceRecord;
using internal_traces::kEndRecord;
using internal_traces::kFileHeaderSize;
using internal_traces::kInfoRecord;
using internal_traces::kKindDiscard;
using internal_traces::kKindFlush;
using internal_traces::kKindWrite;
using internal_traces::kKnownFlags;
using internal_traces::kMarkRecord;
using internal_traces::kRecordHeaderSize;
using internal_traces::kSubmitRecord;
using internal_traces::SubmitFields;

// Bytes of whole records gathered before a write(2); a larger record goes
// straight to the file.
constexpr uint64_t kBufferSize = uint64_t{1} << 20;
// Longest string a length-prefixed field holds.
constexpr uint64_t kMaxString = std::numeric_limits<uint32_t>::max();
// Largest write or discard, in sectors (TraceBuilder's limit).
constexpr uint64_t kMaxOpSectors = uint64_t{1} << 40;

uint32_t KindCode(OpKind kind) {
  switch (kind) {
    case OpKind::kWrite:
      return kKindWrite;
    case OpKind::kFlush:
      return kKindFlush;
    case OpKind::kDiscard:
      return kKindDiscard;
  }
  return kKindWrite;
}

absl::Status StringTooLong(absl::string_view path, absl::string_view what,
                           uint64_t size) {
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": ", what, " of ", size, " bytes is longer than 2^32 - 1"));
}

}  // namespace

CrashenumTraceWriter::CrashenumTraceWriter(std::string path, int fd)
    : path_(std::move(path)), fd_(fd) {}

CrashenumTraceWriter::~CrashenumTraceWriter() {
  if (!finished_) Finish().IgnoreError();
}

absl::StatusOr<std::unique_ptr<CrashenumTraceWriter>>
CrashenumTraceWriter::Create(const std::string& path) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot create ", path));
  }
  std::unique_ptr<CrashenumTraceWriter> writer(
      new CrashenumTraceWriter(path, fd));
  writer->buffer_ = EncodeFileHeader(kCrashenumMajor, kCrashenumMinor);
  writer->buffer_ends_.push_back(kFileHeaderSize);
  RETURN_IF_ERROR(writer->Flush());
  return writer;
}

absl::Status CrashenumTraceWriter::Usable() const {
  if (finished_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": the trace writer is already finished"));
  }
  return error_;
}

absl::Status CrashenumTraceWriter::Break(absl::Status status, uint64_t keep) {
  // Drops a partial record so the file reads as the records before it.
  if (::ftruncate(fd_, static_cast<off_t>(keep)) == 0) written_ = keep;
  buffer_.clear();
  buffer_ends_.clear();
  error_ = status;
  return status;
}

absl::Status CrashenumTraceWriter::WriteAll(absl::string_view bytes,
                                            uint64_t* done) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      return absl::ErrnoToStatus(err, absl::StrCat("cannot write ", path_));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    *done += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status CrashenumTraceWriter::Flush() {
  RETURN_IF_ERROR(Usable());
  if (buffer_.empty()) return absl::OkStatus();
  uint64_t done = 0;
  const absl::Status status = WriteAll(buffer_, &done);
  if (!status.ok()) {
    uint64_t whole = 0;
    for (uint64_t end : buffer_ends_) {
      if (end <= done) whole = end;
    }
    return Break(status, written_ + whole);
  }
  written_ += buffer_.size();
  buffer_.clear();
  buffer_ends_.clear();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CrashenumTraceWriter::AppendRecord(
    uint16_t type, absl::string_view payload) {
  RETURN_IF_ERROR(Usable());
  const std::string header =
      EncodeRecordHeader(type, payload.size(), Crc32c(payload));
  const uint64_t size = kRecordHeaderSize + payload.size();
  if (buffer_.size() + size > kBufferSize) RETURN_IF_ERROR(Flush());
  const uint64_t payload_offset = written_ + buffer_.size() + header.size();
  if (size <= kBufferSize) {
    buffer_ += header;
    buffer_.append(payload.data(), payload.size());
    buffer_ends_.push_back(buffer_.size());
  } else {
    uint64_t done = 0;
    absl::Status status = WriteAll(header, &done);
    if (status.ok()) status = WriteAll(payload, &done);
    if (!status.ok()) return Break(status, written_);
    written_ += size;
  }
  ++records_;
  return payload_offset;
}

absl::Status CrashenumTraceWriter::AddInfo(absl::string_view key,
                                           absl::string_view value) {
  RETURN_IF_ERROR(Usable());
  if (key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": info key is empty"));
  }
  if (key.size() > kMaxString)
    return StringTooLong(path_, "info key", key.size());
  if (value.size() > kMaxString) {
    return StringTooLong(path_, "info value", value.size());
  }
  return AppendRecord(kInfoRecord, EncodeInfo(key, value)).status();
}

absl::StatusOr<uint32_t> CrashenumTraceWriter::AddDevice(const Device& device) {
  RETURN_IF_ERROR(Usable());
  const std::string context = absl::StrCat(path_, ": device ", device.name);
  if (device.name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": device ", devices_.size(), " has no name"));
  }
  if (device.name.size() > kMaxString) {
    return StringTooLong(path_, "device name", device.name.size());
  }
  for (const DeviceShape& d : devices_) {
    if (d.name == device.name) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": a device of that name exists"));
    }
  }
  const uint32_t ss = device.sector_size;
  if (ss < 8 || ss > (1u << 20) || (ss & (ss - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": sector size ", ss,
                     " is not a power of two between 8 and 1 MiB"));
  }
  if (device.num_sectors > std::numeric_limits<uint64_t>::max() / ss) {
    return absl::InvalidArgumentError(absl::StrCat(
        context, ": ", device.num_sectors, " sectors overflow 64 bits"));
  }
  if (!device.base.empty() && device.base.size() / ss < device.num_sectors) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": base image has ", device.base.size(),
                     " bytes, the device needs ", device.num_sectors * ss));
  }
  if (devices_.size() >= std::numeric_limits<uint32_t>::max()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path_, ": too many devices"));
  }
  uint64_t base_offset = 0;
  if (!device.base.empty()) {
    ASSIGN_OR_RETURN(base_offset, AppendRecord(kDataRecord, device.base));
  }
  RETURN_IF_ERROR(AppendRecord(kDeviceRecord,
                               EncodeDevice(ss, device.name, device.num_sectors,
                                            base_offset, device.base.size()))
                      .status());
  devices_.push_back(DeviceShape{device.name, ss, device.num_sectors});
  return static_cast<uint32_t>(devices_.size() - 1);
}

absl::Status CrashenumTraceWriter::CheckOp(const Op& op) const {
  const std::string context = absl::StrCat(path_, ": op ", ops_);
  if (op.device >= devices_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": unknown device ", op.device));
  }
  if ((op.flags & ~kKnownFlags) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        context, ": unknown flag bits 0x", absl::Hex(op.flags & ~kKnownFlags)));
  }
  const DeviceShape& d = devices_[op.device];
  if (op.kind == OpKind::kFlush) {
    if (op.num_sectors != 0 || !op.data.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": a flush carries no sectors or data"));
    }
    return absl::OkStatus();
  }
  const char* what = op.kind == OpKind::kWrite ? "write" : "discard";
  if (op.num_sectors == 0 || op.num_sectors > kMaxOpSectors) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": ", what, " of ", op.num_sectors,
                     " sectors (must be 1 to 2^40)"));
  }
  if (op.sector > d.num_sectors || d.num_sectors - op.sector < op.num_sectors) {
    return absl::InvalidArgumentError(absl::StrCat(
        context, ": ", what, " of ", op.num_sectors, " sectors at sector ",
        op.sector, " lies past the end of device ", d.name, " (", d.num_sectors,
        " sectors)"));
  }
  if (op.kind == OpKind::kDiscard && (op.flags != 0 || !op.data.empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": a discard carries no flags or data"));
  }
  if (op.kind == OpKind::kWrite &&
      op.data.size() != op.num_sectors * d.sector_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": write of ", op.num_sectors,
                     " sectors carries ", op.data.size(), " bytes of data"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> CrashenumTraceWriter::Submit(const Op& op) {
  RETURN_IF_ERROR(Usable());
  RETURN_IF_ERROR(CheckOp(op));
  if (ops_ >= std::numeric_limits<uint32_t>::max()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path_, ": more than 2^32 - 1 ops"));
  }
  uint64_t data_offset = 0;
  if (op.kind == OpKind::kWrite) {
    ASSIGN_OR_RETURN(data_offset, AppendRecord(kDataRecord, op.data));
  }
  const uint32_t index = static_cast<uint32_t>(ops_);
  SubmitFields fields;
  fields.op = index;
  fields.device = op.device;
  fields.kind = KindCode(op.kind);
  fields.flags = op.flags;
  fields.sector = op.sector;
  fields.num_sectors = op.num_sectors;
  fields.data_offset = data_offset;
  fields.data_length = op.data.size();
  RETURN_IF_ERROR(AppendRecord(kSubmitRecord, EncodeSubmit(fields)).status());
  ++ops_;
  in_flight_.insert(index);
  return index;
}

absl::Status CrashenumTraceWriter::Complete(uint32_t op, int32_t status) {
  RETURN_IF_ERROR(Usable());
  if (status > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": completion of op ", op, " with status ", status,
                     " (must be 0 or a negative errno)"));
  }
  if (op >= ops_) {
    return absl::FailedPreconditionError(absl::StrCat(path_,
                                                      ": completion of op ", op,
                                                      ", which was not "
                                                      "submitted (",
                                                      ops_, " ops so far)"));
  }
  if (!in_flight_.contains(op)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": op ", op, " completed twice"));
  }
  RETURN_IF_ERROR(
      AppendRecord(kCompleteRecord, EncodeComplete(op, status)).status());
  in_flight_.erase(op);
  ++completions_;
  return absl::OkStatus();
}

absl::Status CrashenumTraceWriter::AddMark(absl::string_view label) {
  RETURN_IF_ERROR(Usable());
  if (label.size() > kMaxString)
    return StringTooLong(path_, "mark", label.size());
  RETURN_IF_ERROR(AppendRecord(kMarkRecord, EncodeMark(label)).status());
  ++marks_;
  return absl::OkStatus();
}

absl::Status CrashenumTraceWriter::Finish() {
  if (finished_) return finish_status_;
  absl::Status status = error_;
  if (status.ok()) {
    EndCounts counts;
    counts.records = records_;
    counts.devices = devices_.size();
    counts.ops = ops_;
    counts.completions = completions_;
    counts.marks = marks_;
    status = AppendRecord(kEndRecord, EncodeEnd(counts)).status();
  }
  if (status.ok()) status = Flush();
  if (status.ok() && ::fsync(fd_) != 0) {
    const int err = errno;
    status = absl::ErrnoToStatus(err, absl::StrCat("cannot sync ", path_));
  }
  if (::close(fd_) != 0 && status.ok()) {
    const int err = errno;
    status = absl::ErrnoToStatus(err, absl::StrCat("cannot close ", path_));
  }
  fd_ = -1;
  finished_ = true;
  finish_status_ = status;
  return status;
}

absl::Status AppendTrace(const Trace& trace, CrashenumTraceWriter* writer) {
  std::vector<uint32_t> device_index;
  for (const Device& device : trace.devices()) {
    ASSIGN_OR_RETURN(const uint32_t index, writer->AddDevice(device));
    device_index.push_back(index);
  }
  std::vector<uint32_t> op_index(trace.ops().size());
  for (uint32_t e = 0; e < trace.events().size(); ++e) {
    const Event& event = trace.events()[e];
    const std::string context = absl::StrCat("event ", e);
    switch (event.kind) {
      case EventKind::kSubmit: {
        Op op = trace.ops()[event.op];
        op.device = device_index[op.device];
        ASSIGN_OR_RETURN(op_index[event.op], writer->Submit(op), context);
        break;
      }
      case EventKind::kComplete:
        RETURN_IF_ERROR(writer->Complete(op_index[event.op], event.status),
                        context);
        break;
      case EventKind::kMark:
        RETURN_IF_ERROR(writer->AddMark(trace.marks()[event.mark].label),
                        context);
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status WriteCrashenumTrace(const Trace& trace, const std::string& path) {
  return WriteCrashenumTrace(trace, path, {});
}

absl::Status WriteCrashenumTrace(
    const Trace& trace, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& info) {
  return ReplaceFile(
      path, [&](const std::string& tmp_path) -> absl::Status {
        ASSIGN_OR_RETURN(std::unique_ptr<CrashenumTraceWriter> writer,
                         CrashenumTraceWriter::Create(tmp_path));
        for (const auto& [key, value] : info) {
          RETURN_IF_ERROR(writer->AddInfo(key, value));
        }
        RETURN_IF_ERROR(AppendTrace(trace, writer.get()));
        return writer->Finish();
      });
}

}  // namespace crashenum
