// Reads a trace file of any supported format, detected by its magic bytes
// (never by its name).
//
// Adding a format: a TraceFormat value, a row in the signature table of
// trace_reader.cc (name and magic test), and a case in ReadTrace that maps
// ReadOptions onto that reader's options.
#ifndef CRASHENUM_TRACES_TRACE_READER_H_
#define CRASHENUM_TRACES_TRACE_READER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/trace.h"

namespace crashenum {

enum class TraceFormat {
  kDmLogWrites,
  kCrashenum,
  // blktrace binary events (with the other per-CPU files of the run) paired
  // with a data capture (ReadOptions::data_path); traces/blktrace_data.h.
  kBlktrace,
  // blkparse or tracefs text of block events, paired the same way.
  kBlockText,
};

// The format's name as Trace::format() spells it, e.g. "dm-log-writes".
absl::string_view TraceFormatName(TraceFormat format);

// Identifies the format of the file at `path` from its first bytes.
// Errors: InvalidArgument "PATH: unknown trace format (first 8 bytes: 0x...)"
// when no format matches (fewer bytes are shown for a shorter file); the
// errno-derived code (NotFound, PermissionDenied, ...) naming the path when
// the file cannot be opened or read. Thread-safe.
absl::StatusOr<TraceFormat> DetectFormat(const std::string& path);

// Options every reader understands; a reader ignores those that do not apply
// to its format.
struct ReadOptions {
  // dm-log-writes: read valid entries past the super block's nr_entries
  // (see DmLogReadOptions::read_past_end).
  bool read_past_end = false;
  // Device size in bytes for formats that do not record it; 0 infers it from
  // the highest sector written. Must be a multiple of the sector size.
  uint64_t device_size_bytes = 0;
  // blktrace and block event text: the data capture giving the written bytes
  // (a trace of any other format; required for them, see
  // BlktraceReadOptions::data_path).
  std::string data_path;
  // blktrace and block event text: "MAJ,MIN" of the device to use when the
  // events hold several (BlktraceReadOptions::device).
  std::string device_filter;
};

// Detects the format of `path` and reads it with that format's reader.
// When `notes` is not null it is overwritten with remarks for the user, one
// per line, each ending in '\n' (empty when there are none), e.g. that a
// dm-log-writes log holds valid entries past nr_entries. Errors: those of
// DetectFormat and of the format's reader (ReadDmLogWrites,
// ReadCrashenumTrace, whose notes include the file's info records;
// ReadBlktraceWithData). A blktrace file named NAME.blktrace.N is read with
// every NAME.blktrace.M beside it (the other CPUs' files), which the notes
// list.
// Thread-safe for distinct `notes`.
absl::StatusOr<Trace> ReadTrace(const std::string& path,
                                const ReadOptions& options,
                                std::string* notes = nullptr);

}  // namespace crashenum

#endif  // CRASHENUM_TRACES_TRACE_READER_H_
