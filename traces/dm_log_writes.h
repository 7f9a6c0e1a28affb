// Reader of dm-log-writes logs (Linux dm-log-writes target, QEMU's
// blklogwrites driver; layout in shared/FORMATS.md and
// internal/dm_log_format.h).
//
// A log records only completed operations, so each entry becomes a submit
// immediately followed by its successful complete, in log order (DESIGN.md
// 2.1). Written data stays in the log file: the Trace keeps a read-only
// mapping of it and its ops view that mapping, so reading a 1 GiB log does
// not need 1 GiB of memory.
#ifndef CRASHENUM_TRACES_DM_LOG_WRITES_H_
#define CRASHENUM_TRACES_DM_LOG_WRITES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/trace.h"

namespace crashenum {

struct DmLogReadOptions {
  // The super block's nr_entries is rewritten only after FUA and MARK
  // entries, so a log from an unclean stop can hold more valid entries than
  // it says. false: read exactly nr_entries entries (and count the valid ones
  // that follow, see DmLogInfo). true: read nr_entries entries, then go on
  // while entries are valid, stopping silently at the end of the file, at a
  // zero header or at the first entry that fails validation.
  bool read_past_end = false;
  // Device size in bytes; 0 infers it from the highest sector the log
  // touches. Must be a multiple of the log's sectorsize and cover every
  // entry.
  uint64_t device_size_bytes = 0;
};

// What the reader learned besides the Trace.
struct DmLogInfo {
  uint64_t nr_entries_in_superblock = 0;
  // Entries turned into trace events (marks included).
  uint64_t entries_read = 0;
  // Valid entries found past nr_entries: skipped (and only counted) without
  // read_past_end, included in entries_read with it.
  uint64_t extra_entries_after_end = 0;
  uint32_t sectorsize = 0;
};

// Reads the dm-log-writes log at `path` into a Trace with format
// "dm-log-writes" and one device "dev0" whose sector size is the log's
// sectorsize.
//
// Mapping of entry i (every event gets source_entry = i, every op
// source_entry = i):
//   MARK                      -> TraceBuilder::AddMark(text)
//   FLUSH, nr_sectors == 0    -> an OpKind::kFlush op (FUA / METADATA, if
//                                also set, become kFua / kMeta on it)
//   DISCARD                   -> an OpKind::kDiscard op (no data in the log)
//   anything else             -> an OpKind::kWrite op whose data views the
//                                log; FLUSH -> kPreflush, FUA -> kFua,
//                                METADATA -> kMeta
// Old-style entries with inline data (non-mark, data_len != 0) hold data_len
// bytes zero-padded to nr_sectors sectors; padding bytes that are not zero in
// the file are read as zero (only then is that entry's data copied).
//
// Returns InvalidArgumentError, with a message naming `path` and the byte
// offset (and entry number for entries), when:
//   - the file is shorter than a super block, the magic is wrong, the version
//     is not 1, or sectorsize is not a power of two in [512, 65536];
//   - an entry among the first nr_entries is missing or truncated ("truncated:
//     superblock says N entries, file holds M"), or its data would extend past
//     the end of the file;
//   - a header has unknown flag bits (above METADATA; rejected rather than
//     guessed at, since a future flag could change how much data follows),
//     flags == 0 with nr_sectors == 0, no sectors without being a FLUSH or
//     MARK, a non-zero byte 32 in a non-mark header, a MARK with other flags,
//     nr_sectors != 0, data_len > sectorsize - 33 or a NUL inside its text, a
//     DISCARD with other flags, nr_sectors == 0 or data_len != 0, data_len
//     larger than the entry's data, or a range whose end in bytes does not
//     fit in 64 bits;
//   - options.device_size_bytes is not a multiple of sectorsize or is smaller
//     than the highest sector the log touches.
// NotFound / PermissionDenied / InvalidArgument when the file cannot be
// opened or mapped (see MappedFile::Open).
//
// Not checked, since writers leave them undefined: bytes 28.. of the super
// block and bytes past a mark's text.
//
// Never allocates based on a header field before validating it against the
// file size. When `info` is not null it is filled in on success (and left
// in an unspecified state on failure). Thread-safe for distinct `info`.
absl::StatusOr<Trace> ReadDmLogWrites(const std::string& path,
                                      const DmLogReadOptions& options,
                                      DmLogInfo* info = nullptr);

}  // namespace crashenum

#endif  // CRASHENUM_TRACES_DM_LOG_WRITES_H_
