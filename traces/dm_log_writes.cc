#include "traces/dm_log_writes.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/mapped_file.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "traces/internal/dm_log_format.h"

namespace crashenum {
namespace {

using internal_traces::IsValidDmLogSectorsize;
using internal_traces::kDmLogDiscard;
using internal_traces::kDmLogFlush;
using internal_traces::kDmLogFua;
using internal_traces::kDmLogKnownFlags;
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
using internal_traces::kSuperFieldsSize;
using internal_traces::kSuperMagicOffset;
using internal_traces::kSuperNrEntriesOffset;
using internal_traces::kSuperSectorsizeOffset;
using internal_traces::kSuperVersionOffset;
using internal_traces::LoadLittleEndian;
using internal_traces::MaxDmLogMarkLength;

// Largest discard accepted, in sectors (TraceBuilder's limit for any op).
constexpr uint64_t kMaxDiscardSectors = uint64_t{1} << 40;

std::string HexFlags(uint64_t flags) {
  return absl::StrCat("0x", absl::Hex(flags));
}

// One validated entry header.
struct Entry {
  uint64_t sector = 0;
  uint64_t nr_sectors = 0;
  uint64_t flags = 0;
  uint64_t data_len = 0;
  absl::string_view text;  // MARK only: the label, a view of the file
  absl::string_view data;  // writes only: nr_sectors * sectorsize bytes
  uint64_t size = 0;       // bytes the entry occupies in the log
};

// Validates the entry whose header starts at file[offset] and returns it.
// Precondition: file.size() - offset >= ss and `ss` is a valid sectorsize.
// Errors: InvalidArgument with a message that names neither the file nor the
// entry (the caller adds both).
absl::StatusOr<Entry> ParseEntry(absl::string_view file, uint64_t offset,
                                 uint64_t ss) {
  const absl::string_view header = file.substr(offset, ss);
  Entry e;
  e.sector = LoadLittleEndian<uint64_t>(header, kEntrySectorOffset);
  e.nr_sectors = LoadLittleEndian<uint64_t>(header, kEntryNrSectorsOffset);
  e.flags = LoadLittleEndian<uint64_t>(header, kEntryFlagsOffset);
  e.data_len = LoadLittleEndian<uint64_t>(header, kEntryDataLenOffset);

  if ((e.flags & ~kDmLogKnownFlags) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown flag bits ", HexFlags(e.flags & ~kDmLogKnownFlags), " (flags ",
        HexFlags(e.flags), ")"));
  }
  if (e.flags == 0 && e.nr_sectors == 0) {
    return absl::InvalidArgumentError(
        "invalid empty entry (flags 0, nr_sectors 0)");
  }

  if ((e.flags & kDmLogMark) != 0) {
    if (e.flags != kDmLogMark) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MARK combined with other flags (flags ", HexFlags(e.flags), ")"));
    }
    if (e.nr_sectors != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("mark with nr_sectors ", e.nr_sectors, " (must be 0)"));
    }
    if (e.data_len > MaxDmLogMarkLength(ss)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mark text of data_len ", e.data_len, " is longer than the ",
          MaxDmLogMarkLength(ss), " bytes a ", ss, "-byte header holds"));
    }
    e.text = header.substr(kEntryTextOffset, e.data_len);
    const size_t nul = e.text.find('\0');
    if (nul != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mark text of data_len ", e.data_len,
          " holds a NUL byte at header byte ", kEntryTextOffset + nul));
    }
    e.size = ss;
    return e;
  }

  if (header[kEntryTextOffset] != 0) {
    return absl::InvalidArgumentError(absl::StrCat("non-mark header (flags ",
                                                   HexFlags(e.flags),
                                                   ") has a non-zero byte 32"));
  }
  const bool discard = (e.flags & kDmLogDiscard) != 0;
  if (discard) {
    if (e.flags != kDmLogDiscard) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DISCARD combined with other flags (flags ", HexFlags(e.flags), ")"));
    }
    if (e.nr_sectors == 0) {
      return absl::InvalidArgumentError("discard of 0 sectors");
    }
    if (e.nr_sectors > kMaxDiscardSectors) {
      return absl::InvalidArgumentError(
          absl::StrCat("discard of nr_sectors ", e.nr_sectors,
                       " is larger than 2^40 sectors"));
    }
    if (e.data_len != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("discard with data_len ", e.data_len,
                       " (no data follows a discard)"));
    }
  } else if (e.nr_sectors == 0 && (e.flags & kDmLogFlush) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry of 0 sectors is neither a flush nor a mark (flags ",
                     HexFlags(e.flags), ")"));
  }

  // Data bytes following the header; checked against the file before any
  // multiplication so nothing overflows.
  uint64_t data_bytes = 0;
  if (!discard && e.nr_sectors != 0) {
    const uint64_t sectors_left = (file.size() - offset - ss) / ss;
    if (e.nr_sectors > sectors_left) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nr_sectors ", e.nr_sectors, " points past the end of the file (",
          sectors_left, " whole sectors follow the header)"));
    }
    data_bytes = e.nr_sectors * ss;
  }
  const uint64_t max_end = std::numeric_limits<uint64_t>::max() / ss;
  if (e.sector > max_end - e.nr_sectors) {
    return absl::InvalidArgumentError(
        absl::StrCat("sector ", e.sector, " + nr_sectors ", e.nr_sectors,
                     " ends past 2^64 bytes"));
  }
  if (e.data_len > data_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("data_len ", e.data_len, " is larger than the entry's ",
                     data_bytes, " data bytes"));
  }
  e.data = file.substr(offset + ss, data_bytes);
  e.size = ss + data_bytes;
  return e;
}

// Adds the trace events of entry `index` to `builder`. Errors: those of
// TraceBuilder::SubmitAndComplete.
absl::Status AddEntry(const Entry& e, uint64_t index, TraceBuilder* builder) {
  if ((e.flags & kDmLogMark) != 0) {
    builder->AddMark(std::string(e.text), index);
    return absl::OkStatus();
  }
  Op op;
  op.device = 0;
  op.sector = e.sector;
  op.num_sectors = e.nr_sectors;
  if ((e.flags & kDmLogDiscard) != 0) {
    op.kind = OpKind::kDiscard;
    return builder->SubmitAndComplete(op, index).status();
  }
  if ((e.flags & kDmLogFua) != 0) op.flags |= kFua;
  if ((e.flags & kDmLogMetadata) != 0) op.flags |= kMeta;
  if (e.nr_sectors == 0) {
    op.kind = OpKind::kFlush;
    return builder->SubmitAndComplete(op, index).status();
  }
  op.kind = OpKind::kWrite;
  if ((e.flags & kDmLogFlush) != 0) op.flags |= kPreflush;
  op.data = e.data;
  if (e.data_len != 0 && e.data_len < e.data.size()) {
    // Old inline-data entry: bytes past data_len read as zero.
    absl::string_view padding = e.data.substr(e.data_len);
    if (padding.find_first_not_of('\0') != absl::string_view::npos) {
      std::string copy(e.data.substr(0, e.data_len));
      copy.resize(e.data.size(), '\0');
      op.data = builder->Own(std::move(copy));
    }
  }
  return builder->SubmitAndComplete(op, index).status();
}

absl::Status SuperBlockError(const std::string& path, uint64_t offset,
                             absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": super block at byte ", offset, ": ", message));
}

std::string EntryContext(const std::string& path, uint64_t index,
                         uint64_t offset) {
  return absl::StrCat(path, ": entry ", index, " at byte ", offset);
}

}  // namespace

absl::StatusOr<Trace> ReadDmLogWrites(const std::string& path,
                                      const DmLogReadOptions& options,
                                      DmLogInfo* info) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  TraceBuilder builder("dm-log-writes", path);
  const MappedFile& adopted = builder.AdoptFile(std::move(mapped));
  const absl::string_view file = adopted.contents();

  if (file.size() < kSuperFieldsSize) {
    return SuperBlockError(
        path, 0,
        absl::StrCat("file has ", file.size(),
                     " bytes, too short for a dm-log-writes super block"));
  }
  const uint64_t magic = LoadLittleEndian<uint64_t>(file, kSuperMagicOffset);
  if (magic != kDmLogMagic) {
    return SuperBlockError(
        path, kSuperMagicOffset,
        absl::StrCat("bad magic 0x", absl::Hex(magic), ", expected 0x",
                     absl::Hex(kDmLogMagic), " (not a dm-log-writes log)"));
  }
  const uint64_t version =
      LoadLittleEndian<uint64_t>(file, kSuperVersionOffset);
  if (version != kDmLogVersion) {
    return SuperBlockError(path, kSuperVersionOffset,
                           absl::StrCat("unsupported version ", version,
                                        " (only version 1 is known)"));
  }
  const uint64_t nr_entries =
      LoadLittleEndian<uint64_t>(file, kSuperNrEntriesOffset);
  const uint32_t ss = LoadLittleEndian<uint32_t>(file, kSuperSectorsizeOffset);
  if (!IsValidDmLogSectorsize(ss)) {
    return SuperBlockError(
        path, kSuperSectorsizeOffset,
        absl::StrCat("sectorsize ", ss, " is not a power of two from ",
                     kDmLogMinSectorsize, " to ", kDmLogMaxSectorsize));
  }
  if (file.size() < ss) {
    return SuperBlockError(
        path, 0,
        absl::StrCat("file has ", file.size(), " bytes, shorter than its ", ss,
                     "-byte super block"));
  }
  if (options.device_size_bytes % ss != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": device size of ", options.device_size_bytes,
                     " bytes is not a multiple of the log's sectorsize ", ss));
  }

  Device device;
  device.name = "dev0";
  device.sector_size = ss;
  ASSIGN_OR_RETURN(const uint32_t dev,
                   builder.AddDevice(std::move(device), /*infer_size=*/true),
                   path);

  uint64_t offset = ss;
  uint64_t released = 0;  // pages before this offset were released
  uint64_t index = 0;
  for (; index < nr_entries; ++index) {
    const uint64_t left = file.size() - offset;
    if (left < ss) {
      std::string partial =
          left == 0 ? std::string()
                    : absl::StrCat(" and a partial header of ", left, " bytes");
      return absl::InvalidArgumentError(absl::StrCat(
          EntryContext(path, index, offset), ": truncated: superblock says ",
          nr_entries, " entries, file holds ", index, partial));
    }
    ASSIGN_OR_RETURN(const Entry entry, ParseEntry(file, offset, ss),
                     EntryContext(path, index, offset));
    RETURN_IF_ERROR(AddEntry(entry, index, &builder),
                    EntryContext(path, index, offset));
    offset += entry.size;
    // Only headers are read, but the kernel maps the data pages around them.
    if (offset - released >= Trace::kReleaseBytes) {
      adopted.DontNeed(released, offset - released);
      released = offset;
    }
  }

  // Entries past nr_entries: valid ones are counted (and read with
  // read_past_end) until the end of the file or the first invalid header; a
  // zero header is invalid, so a zero-filled tail ends the log.
  uint64_t extra = 0;
  while (file.size() - offset >= ss) {
    absl::StatusOr<Entry> entry = ParseEntry(file, offset, ss);
    if (!entry.ok()) break;
    if (options.read_past_end &&
        !AddEntry(*entry, index + extra, &builder).ok()) {
      break;
    }
    ++extra;
    offset += entry->size;
  }
  adopted.DontNeed(0, offset);

  if (options.device_size_bytes != 0) {
    RETURN_IF_ERROR(
        builder.SetDeviceSectors(dev, options.device_size_bytes / ss), path,
        ": device size of ", options.device_size_bytes, " bytes");
  }
  ASSIGN_OR_RETURN(Trace trace, std::move(builder).Build(), path);
  if (info != nullptr) {
    info->nr_entries_in_superblock = nr_entries;
    info->entries_read = index + (options.read_past_end ? extra : 0);
    info->extra_entries_after_end = extra;
    info->sectorsize = ss;
  }
  return trace;
}

}  // namespace crashenum
