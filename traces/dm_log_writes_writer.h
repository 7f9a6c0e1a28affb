// Writer of dm-log-writes logs that xfstests' replay-log and
// ReadDmLogWrites() accept.
#ifndef CRASHENUM_TRACES_DM_LOG_WRITES_WRITER_H_
#define CRASHENUM_TRACES_DM_LOG_WRITES_WRITER_H_

#include <string>

#include "absl/status/status.h"
#include "core/trace.h"

namespace crashenum {

// Writes `trace` to `path` as a dm-log-writes log with the device's sector
// size as sectorsize: a super block (nr_entries exact, padding zero), then
// one entry per kComplete event, in event order (dm-log-writes logs
// completions), and one MARK entry per kMark event at its position. Submit
// events and ops that never complete are not written. Flags map back as
// ReadDmLogWrites maps them: a kPreflush write -> FLUSH with data, kFua ->
// FUA, kMeta -> METADATA, a discard -> DISCARD, a flush op -> an empty FLUSH.
//
// Not representable, so lost: the completion status (failed writes are
// logged like successful ones), kSync, the device name and size (a reader
// infers the size from the highest sector), and source_entry numbers.
// For a trace that ReadDmLogWrites returned (every op submitted and completed
// at once), reading the written log back gives identical ops, events, marks
// and data, source_entry numbers included.
//
// Writes a fresh `path`.tmp-XXXXXXXX, syncs it and renames it over `path`, so
// on failure
// `path` is untouched and no partial file is left.
//
// Errors: InvalidArgument when the trace has not exactly one device, the
// device's sector size is not a power of two in [512, 65536], the device has a
// base image, or a mark label is longer than sectorsize - 33 bytes or holds a
// NUL byte. I/O failures (full disk, missing directory, permissions) return
// absl::ErrnoToStatus's code with the file path and the errno text.
// Thread-safe for distinct paths.
absl::Status WriteDmLogWrites(const Trace& trace, const std::string& path);

}  // namespace crashenum

#endif  // CRASHENUM_TRACES_DM_LOG_WRITES_WRITER_H_
