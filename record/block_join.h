// Joins the kernel's block events of a recording to the requests the FUSE
// disk served, so each write carries the flags its file system gave it.
//
// The FUSE disk sees what the loop device sends its backing file: writes
// (a bio may arrive as several writes), fsyncs for flushes, hole punches for
// discards. The flags travel only in the kernel's `block_bio_queue` events.
// Each write is matched, sector by sector, to the earliest queued write bios
// of the device that cover it, are not yet used up and were queued before the
// write reached the disk; its flags become the union of theirs (PREFLUSH,
// FUA, META, SYNC). Write-zeroes requests count as writes (the disk gets
// them as writes of zeroes).
//
// The loop device has no FUA of its own: the block layer follows a FUA write
// with a flush, and the file system sees the write complete only when that
// flush has. So a FUA write's completion moves to just before the completion
// of the first flush submitted after the write finished at the disk; a FUA
// write with no flush after it stays in flight. A hole punch covered by
// write-zeroes bios (the loop device punches a hole for a write-zeroes request
// that may unmap; the hole reads as zeroes) becomes a write of zeroes; other
// hole punches stay discards. The PREFLUSH flag needs no
// move: the block layer's preflush already reached the disk, as a flush,
// before the write.
#ifndef CRASHENUM_RECORD_BLOCK_JOIN_H_
#define CRASHENUM_RECORD_BLOCK_JOIN_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/trace.h"
#include "traces/block_events.h"

namespace crashenum {
namespace internal_record {

struct JoinReport {
  uint64_t writes = 0;           // write ops in the raw trace
  uint64_t writes_joined = 0;    // with at least one bio found
  uint64_t writes_unjoined = 0;  // no bio: flags left empty
  uint64_t bios = 0;             // queued write bios of the device
  uint64_t bios_unused = 0;      // bios no write matched
  uint64_t preflush = 0, fua = 0, meta = 0, sync = 0;  // writes with each flag
  uint64_t fua_in_flight = 0;    // FUA writes with no flush after them
  uint64_t punches_as_zeroes = 0;  // hole punches that were write zeroes
};

// Returns a copy of `raw` (one device) whose writes carry the joined flags
// and whose FUA writes complete as described above. The result's data are
// views into `raw`, which must outlive it. Events of other devices than
// major:minor are ignored. `arrival_ns`, when given, holds for each op of
// `raw` the time (on the clock of the events' timestamps) it reached the
// disk; errors: InvalidArgument when its size is not that of raw.ops().
absl::StatusOr<Trace> JoinBlockFlags(const Trace& raw,
                                     const std::vector<BlockEvent>& events,
                                     uint32_t major, uint32_t minor,
                                     const std::vector<uint64_t>* arrival_ns,
                                     JoinReport* report);

}  // namespace internal_record
}  // namespace crashenum

#endif  // CRASHENUM_RECORD_BLOCK_JOIN_H_
