#include "traces/trace_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "traces/blktrace_data.h"
#include "traces/block_events.h"
#include "traces/crashenum_format.h"
#include "traces/dm_log_writes.h"
#include "traces/internal/crashenum_layout.h"
#include "traces/internal/dm_log_format.h"

namespace crashenum {
namespace {

// Bytes read from the start of a file to detect its format.
// Text formats need a few lines.
constexpr size_t kHeadSize = 4096;
// Bytes shown in the "unknown trace format" message.
constexpr size_t kShownSize = 8;

struct FormatSignature {
  TraceFormat format;
  absl::string_view name;
  // True when a file starting with `head` (up to kHeadSize bytes) is in this
  // format.
  bool (*matches)(absl::string_view head);
};

bool IsDmLogWrites(absl::string_view head) {
  return head.size() >= 8 && internal_traces::LoadLittleEndian<uint64_t>(
                                 head, 0) == internal_traces::kDmLogMagic;
}

bool IsCrashenum(absl::string_view head) {
  return absl::StartsWith(head, internal_traces::kCrashenumMagic);
}

bool IsBlktrace(absl::string_view head) {
  return LooksLikeBlktraceBinary(head);
}

bool IsBlockText(absl::string_view head) {
  return LooksLikeBlockEventText(head);
}

constexpr FormatSignature kSignatures[] = {
    {TraceFormat::kDmLogWrites, "dm-log-writes", &IsDmLogWrites},
    {TraceFormat::kCrashenum, "crashenum", &IsCrashenum},
    {TraceFormat::kBlktrace, "blktrace", &IsBlktrace},
    {TraceFormat::kBlockText, "block event text", &IsBlockText},
};

// Reads up to kHeadSize bytes from the start of `path`.
absl::StatusOr<std::string> ReadHead(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot open ", path));
  }
  std::string head(kHeadSize, '\0');
  size_t got = 0;
  while (got < head.size()) {
    const ssize_t n = ::pread(fd, &head[got], head.size() - got, got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  head.resize(got);
  return head;
}

absl::StatusOr<Trace> ReadDmLog(const std::string& path,
                                const ReadOptions& options,
                                std::string* notes) {
  DmLogReadOptions dm_options;
  dm_options.read_past_end = options.read_past_end;
  dm_options.device_size_bytes = options.device_size_bytes;
  DmLogInfo info;
  ASSIGN_OR_RETURN(Trace trace, ReadDmLogWrites(path, dm_options, &info));
  const uint64_t extra = info.extra_entries_after_end;
  if (notes != nullptr && extra != 0) {
    const absl::string_view entries = extra == 1 ? "entry" : "entries";
    if (options.read_past_end) {
      absl::StrAppend(notes, path, ": read ", extra, " valid ", entries,
                      " past the super block's nr_entries (",
                      info.nr_entries_in_superblock, ")\n");
    } else {
      absl::StrAppend(notes, path, ": the log holds ", extra, " more valid ",
                      entries, " past nr_entries (",
                      info.nr_entries_in_superblock,
                      "); use --read-past-end to read them\n");
    }
  }
  return trace;
}

absl::StatusOr<Trace> ReadCrashenum(const std::string& path,
                                    const ReadOptions& options,
                                    std::string* notes) {
  ASSIGN_OR_RETURN(Trace trace,
                   ReadCrashenumTrace(path, CrashenumReadOptions(), notes));
  if (notes != nullptr && options.device_size_bytes != 0) {
    absl::StrAppend(notes, path,
                    ": the file records each device's size; the device size "
                    "given is ignored\n");
  }
  return trace;
}

// blktrace (with its per-CPU siblings) or block event text, paired with the
// data capture options.data_path, which is read as any other trace.
absl::StatusOr<Trace> ReadBlockEvents(const std::string& path,
                                      TraceFormat format,
                                      const ReadOptions& options,
                                      std::string* notes) {
  const std::vector<std::string> paths =
      format == TraceFormat::kBlktrace ? BlktraceCpuFiles(path)
                                       : std::vector<std::string>{path};
  ReadOptions data_options = options;
  data_options.data_path.clear();
  data_options.device_filter.clear();
  data_options.device_size_bytes = 0;
  std::string data_notes;
  BlktraceReadOptions blk_options;
  blk_options.data_path = options.data_path;
  blk_options.device = options.device_filter;
  blk_options.device_size_bytes = options.device_size_bytes;
  blk_options.read_data = [&](const std::string& data_path) {
    return ReadTrace(data_path, data_options, &data_notes);
  };
  std::string blk_notes;
  ASSIGN_OR_RETURN(Trace trace,
                   ReadBlktraceWithData(paths, blk_options, &blk_notes));
  if (notes != nullptr) {
    if (paths.size() > 1) {
      absl::StrAppend(notes, path, ": read with the other per-CPU files of "
                      "its run:");
      for (const std::string& p : paths) {
        if (p != path) absl::StrAppend(notes, " ", p);
      }
      absl::StrAppend(notes, "\n");
    }
    absl::StrAppend(notes, data_notes, blk_notes);
  }
  return trace;
}

}  // namespace

absl::string_view TraceFormatName(TraceFormat format) {
  for (const FormatSignature& signature : kSignatures) {
    if (signature.format == format) return signature.name;
  }
  return "unknown";
}

absl::StatusOr<TraceFormat> DetectFormat(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string head, ReadHead(path));
  for (const FormatSignature& signature : kSignatures) {
    if (signature.matches(head)) return signature.format;
  }
  const absl::string_view shown = absl::string_view(head).substr(0, kShownSize);
  if (shown.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unknown trace format (the file is empty)"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": unknown trace format (first ", shown.size(),
                   " bytes: 0x", absl::BytesToHexString(shown), ")"));
}

absl::StatusOr<Trace> ReadTrace(const std::string& path,
                                const ReadOptions& options,
                                std::string* notes) {
  if (notes != nullptr) notes->clear();
  ASSIGN_OR_RETURN(const TraceFormat format, DetectFormat(path));
  switch (format) {
    case TraceFormat::kDmLogWrites:
      return ReadDmLog(path, options, notes);
    case TraceFormat::kCrashenum:
      return ReadCrashenum(path, options, notes);
    case TraceFormat::kBlktrace:
    case TraceFormat::kBlockText:
      return ReadBlockEvents(path, format, options, notes);
  }
  return absl::InternalError(
      absl::StrCat(path, ": no reader for format ", static_cast<int>(format)));
}

}  // namespace crashenum
