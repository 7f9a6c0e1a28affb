#include "traces/dm_log_writes_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "traces/internal/dm_log_format.h"
#include "core/replace_file.h"

namespace crashenum {
namespace {

using internal_traces::IsValidDmLogSectorsize;
using internal_traces::kDmLogDiscard;
using internal_traces::kDmLogFlush;
using internal_traces::kDmLogFua;
using internal_traces::kDmLogMagic;
using internal_traces::kDmLogMark;
using internal_traces::kDmLogMaxSectorsize;
using internal_traces::kDmLogMetadata;
using internal_traces::kDmLogMinSectorsize;
using internal_traces::kDmLogVersion;
using internal_traces::kEntryDataLenOffset;
using internal_traces::kEntryFlagsOffset;
using internal_traces::kEntryNrSectorsOffset;
using internal_traces::kEntrySectorOffset;
using internal_traces::kEntryTextOffset;
using internal_traces::kSuperMagicOffset;
using internal_traces::kSuperNrEntriesOffset;
using internal_traces::kSuperSectorsizeOffset;
using internal_traces::kSuperVersionOffset;
using internal_traces::MaxDmLogMarkLength;
using internal_traces::StoreLittleEndian;

// Bytes gathered before a write(2); larger data goes out directly.
constexpr size_t kBufferSize = size_t{1} << 20;

// A file descriptor with a write buffer. Every error names the file.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)) {}
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Create() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return Error("cannot create");
    return absl::OkStatus();
  }

  absl::Status Append(absl::string_view bytes) {
    if (buffer_.size() + bytes.size() <= kBufferSize) {
      buffer_.append(bytes.data(), bytes.size());
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(Flush());
    if (bytes.size() >= kBufferSize) return WriteFully(bytes);
    buffer_.append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }

  // Writes the buffer out, syncs the file and closes it.
  absl::Status SyncAndClose() {
    RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0) return Error("cannot sync");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Error("cannot close");
    return absl::OkStatus();
  }

 private:
  absl::Status Flush() {
    absl::Status status = WriteFully(buffer_);
    buffer_.clear();
    return status;
  }

  absl::Status WriteFully(absl::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error("cannot write");
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  absl::Status Error(absl::string_view what) const {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path_));
  }

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
};

std::string EntryHeader(uint32_t ss, uint64_t sector, uint64_t nr_sectors,
                        uint64_t flags, uint64_t data_len) {
  std::string header(ss, '\0');
  StoreLittleEndian<uint64_t>(sector, kEntrySectorOffset, &header);
  StoreLittleEndian<uint64_t>(nr_sectors, kEntryNrSectorsOffset, &header);
  StoreLittleEndian<uint64_t>(flags, kEntryFlagsOffset, &header);
  StoreLittleEndian<uint64_t>(data_len, kEntryDataLenOffset, &header);
  return header;
}

uint64_t EntryFlags(const Op& op) {
  uint64_t flags = 0;
  switch (op.kind) {
    case OpKind::kDiscard:
      return kDmLogDiscard;
    case OpKind::kFlush:
      flags = kDmLogFlush;
      break;
    case OpKind::kWrite:
      if ((op.flags & kPreflush) != 0) flags |= kDmLogFlush;
      break;
  }
  if ((op.flags & kFua) != 0) flags |= kDmLogFua;
  if ((op.flags & kMeta) != 0) flags |= kDmLogMetadata;
  return flags;
}

// Writes every entry of `trace` to `out`. Precondition: the trace was
// validated by WriteDmLogWrites.
absl::Status WriteLog(const Trace& trace, uint64_t nr_entries,
                      OutputFile* out) {
  const uint32_t ss = trace.devices()[0].sector_size;
  std::string super(ss, '\0');
  StoreLittleEndian<uint64_t>(kDmLogMagic, kSuperMagicOffset, &super);
  StoreLittleEndian<uint64_t>(kDmLogVersion, kSuperVersionOffset, &super);
  StoreLittleEndian<uint64_t>(nr_entries, kSuperNrEntriesOffset, &super);
  StoreLittleEndian<uint32_t>(ss, kSuperSectorsizeOffset, &super);
  RETURN_IF_ERROR(out->Append(super));

  for (const Event& event : trace.events()) {
    if (event.kind == EventKind::kMark) {
      const std::string& label = trace.marks()[event.mark].label;
      std::string header = EntryHeader(ss, 0, 0, kDmLogMark, label.size());
      header.replace(kEntryTextOffset, label.size(), label);
      RETURN_IF_ERROR(out->Append(header));
      continue;
    }
    if (event.kind != EventKind::kComplete) continue;
    const Op& op = trace.ops()[event.op];
    const uint64_t nr_sectors = op.kind == OpKind::kFlush ? 0 : op.num_sectors;
    RETURN_IF_ERROR(
        out->Append(EntryHeader(ss, op.sector, nr_sectors, EntryFlags(op), 0)));
    if (op.kind == OpKind::kWrite) RETURN_IF_ERROR(out->Append(op.data));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteDmLogWrites(const Trace& trace, const std::string& path) {
  if (trace.devices().size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": a dm-log-writes log holds one device, the trace "
                     "has ",
                     trace.devices().size()));
  }
  const Device& device = trace.devices()[0];
  if (!IsValidDmLogSectorsize(device.sector_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": device ", device.name, " has sectors of ", device.sector_size,
        " bytes; dm-log-writes needs a power of two from ", kDmLogMinSectorsize,
        " to ", kDmLogMaxSectorsize));
  }
  if (!device.base.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": device ", device.name,
                     " has a base image, which dm-log-writes cannot hold"));
  }
  uint64_t nr_entries = 0;
  for (const Event& event : trace.events()) {
    if (event.kind == EventKind::kMark) {
      const std::string& label = trace.marks()[event.mark].label;
      if (label.size() > MaxDmLogMarkLength(device.sector_size)) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": mark ", event.mark, " \"", label, "\" is ", label.size(),
            " bytes long; a ", device.sector_size, "-byte entry holds ",
            MaxDmLogMarkLength(device.sector_size)));
      }
      if (label.find('\0') != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": mark ", event.mark, " holds a NUL byte"));
      }
    }
    if (event.kind == EventKind::kMark || event.kind == EventKind::kComplete) {
      ++nr_entries;
    }
  }

  return ReplaceFile(
      path, [&](const std::string& tmp_path) -> absl::Status {
        OutputFile out(tmp_path);
        RETURN_IF_ERROR(out.Create());
        RETURN_IF_ERROR(WriteLog(trace, nr_entries, &out));
        return out.SyncAndClose();
      });
}

}  // namespace crashenum
