// "blktrace plus data": a Trace built from block-layer events (blktrace
// binary files, blkparse or tracefs text; see traces/block_events.h), which
// give the order, flags and completions of every request, and a data capture
// (a trace of the same device with written data, e.g. crashenum's own format
// or a dm-log-writes log), which gives the bytes of every write. The pairing
// rules are in docs/FORMAT.md, section "blktrace plus data".
#ifndef CRASHENUM_TRACES_BLKTRACE_DATA_H_
#define CRASHENUM_TRACES_BLKTRACE_DATA_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/trace.h"

namespace crashenum {

struct BlktraceReadOptions {
  // A trace with the written data of the same device (required): any format
  // `read_data` reads. It must hold exactly one device.
  std::string data_path;
  // "MAJ,MIN" of the device whose events to use; required when the events
  // hold several devices. It may also name a device the events only reach
  // through remap records (a partition or a stacked device above the traced
  // one): its bios are then placed at their sectors on that device.
  std::string device;
  // Device size in bytes (a multiple of the data capture's sector size);
  // 0 takes the data capture's size, grown to cover every op.
  uint64_t device_size_bytes = 0;
  // Reads `data_path`. Null: ReadDmLogWrites with default options.
  // ReadTrace passes a reader of every format it knows.
  std::function<absl::StatusOr<Trace>(const std::string& path)> read_data;
};

// Reads the block events in `event_paths` (one or more blktrace binary files,
// e.g. the per-CPU files of one run, merged by time; or exactly one text
// file) and pairs them with the data capture, giving a Trace with format
// "blktrace+data", path event_paths[0], and one device: the data capture's
// (name, sector size, base image). Each write, discard and flush request of
// the device becomes an op submitted at its queue event (at its issue, or
// else its completion, when the events have no queue event for it) and
// completed at the completion that covers it, with that completion's error;
// reads are left out. The capture's marks are kept (placed as
// docs/FORMAT.md says). Every event and op has the source_entry of the
// record (binary) or line (text) it came from.
//
// When `notes` is not null it is overwritten with remarks for the user, one
// per line ending in '\n': what was paired, reads and other requests left
// out, requests without a queue event, ops that never completed.
//
// Errors (InvalidArgument unless said otherwise), each naming the file and
// the record or line, and the sector range where one is involved:
//   - options.data_path is empty (blktrace carries no data; give --data=PATH);
//   - the errors of ReadBlktraceBinary, ReadBlockEventText and read_data;
//     several paths that are not all blktrace binary files;
//   - no queue, issue or completion events; events of several devices and no
//     options.device; an options.device that is malformed or names a device
//     the events do not reach;
//   - a data capture without exactly one device; a write or discard not
//     aligned to its sector size; a write-zeroes request (not supported);
//   - a blktrace write with no capture write of the same sector and length
//     left to pair with (a length mismatch is named as such), a capture write
//     that no blktrace write pairs with, and two writes to one range that
//     were in flight together while their captured data differ (ambiguous);
//   - options.device_size_bytes that is not a multiple of the sector size or
//     is smaller than the ops need.
// Thread-safe for distinct `notes` (and a thread-safe read_data).
absl::StatusOr<Trace> ReadBlktraceWithData(
    const std::vector<std::string>& event_paths,
    const BlktraceReadOptions& options, std::string* notes = nullptr);

}  // namespace crashenum

#endif  // CRASHENUM_TRACES_BLKTRACE_DATA_H_
