// On-disk layout of a dm-log-writes log (shared/FORMATS.md), shared by the
// reader, the writer and their tests. Every integer is little-endian.
//
//   byte 0:           super block, one log sector:
//                       u64 magic, u64 version, u64 nr_entries, u32 sectorsize
//   byte sectorsize:  entry 0: one header sector
//                       u64 sector, u64 nr_sectors, u64 flags, u64 data_len
//                     then nr_sectors * sectorsize data bytes (none for a
//                     DISCARD; a MARK's text sits in the header at byte 32)
//   next sector:      entry 1, ...
#ifndef CRASHENUM_TRACES_INTERNAL_DM_LOG_FORMAT_H_
#define CRASHENUM_TRACES_INTERNAL_DM_LOG_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "traces/internal/little_endian.h"

namespace crashenum {
namespace internal_traces {

inline constexpr uint64_t kDmLogMagic = 0x6a736677736872;
inline constexpr uint64_t kDmLogVersion = 1;

// Byte offsets of the super block fields.
inline constexpr uint64_t kSuperMagicOffset = 0;
inline constexpr uint64_t kSuperVersionOffset = 8;
inline constexpr uint64_t kSuperNrEntriesOffset = 16;
inline constexpr uint64_t kSuperSectorsizeOffset = 24;
// Bytes the super block fields occupy (bytes 28..31 are padding).
inline constexpr uint64_t kSuperFieldsSize = 28;

// Byte offsets of the entry header fields, relative to the header.
inline constexpr uint64_t kEntrySectorOffset = 0;
inline constexpr uint64_t kEntryNrSectorsOffset = 8;
inline constexpr uint64_t kEntryFlagsOffset = 16;
inline constexpr uint64_t kEntryDataLenOffset = 24;
// Where a MARK's text starts in its header sector; the first byte that must
// be zero in every other header.
inline constexpr uint64_t kEntryTextOffset = 32;

// Entry flags.
inline constexpr uint64_t kDmLogFlush = 1;
inline constexpr uint64_t kDmLogFua = 2;
inline constexpr uint64_t kDmLogDiscard = 4;
inline constexpr uint64_t kDmLogMark = 8;
inline constexpr uint64_t kDmLogMetadata = 16;
inline constexpr uint64_t kDmLogKnownFlags =
    kDmLogFlush | kDmLogFua | kDmLogDiscard | kDmLogMark | kDmLogMetadata;

// Smallest and largest sectorsize accepted (powers of two).
inline constexpr uint32_t kDmLogMinSectorsize = 512;
inline constexpr uint32_t kDmLogMaxSectorsize = 65536;

// True when `sectorsize` is a power of two in
// [kDmLogMinSectorsize, kDmLogMaxSectorsize].
inline bool IsValidDmLogSectorsize(uint64_t sectorsize) {
  return sectorsize >= kDmLogMinSectorsize &&
         sectorsize <= kDmLogMaxSectorsize &&
         (sectorsize & (sectorsize - 1)) == 0;
}

// Longest MARK text a header of `sectorsize` bytes holds (text plus a NUL
// after the 32 header bytes).
inline uint64_t MaxDmLogMarkLength(uint64_t sectorsize) {
  return sectorsize - kEntryTextOffset - 1;
}

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_DM_LOG_FORMAT_H_
