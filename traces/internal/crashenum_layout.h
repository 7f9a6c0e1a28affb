// On-disk layout of crashenum's own trace format (docs/FORMAT.md), shared by
// its reader, its writer and their tests. Every integer is little-endian.
//
//   byte 0:   file header (16 bytes): magic, u16 major, u16 minor,
//             u32 CRC-32C of bytes 0..11
//   byte 16:  record 0: a 20-byte record header (u32 header CRC, u16 type,
//             u16 flags, u64 payload length, u32 payload CRC), then the
//             payload
//   next:     record 1, ... up to the end of the file; the last record of a
//             finished file is an end record
#ifndef CRASHENUM_TRACES_INTERNAL_CRASHENUM_LAYOUT_H_
#define CRASHENUM_TRACES_INTERNAL_CRASHENUM_LAYOUT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace crashenum {
namespace internal_traces {

// The first 8 bytes of every crashenum trace: 0x89 "CRENUM" 0x0A.
inline constexpr absl::string_view kCrashenumMagic(
    "\x89"
    "CRENUM\n",
    8);

// The version this code writes, and the newest it fully understands.
inline constexpr uint16_t kCrashenumMajor = 1;
inline constexpr uint16_t kCrashenumMinor = 0;

// File header.
inline constexpr uint64_t kFileHeaderSize = 16;
inline constexpr uint64_t kFileMagicOffset = 0;
inline constexpr uint64_t kFileMajorOffset = 8;
inline constexpr uint64_t kFileMinorOffset = 10;
inline constexpr uint64_t kFileCrcOffset = 12;  // CRC of bytes [0, 12)

// Record header, relative to the record's first byte.
inline constexpr uint64_t kRecordHeaderSize = 20;
inline constexpr uint64_t kRecordHeaderCrcOffset = 0;  // CRC of bytes [4, 20)
inline constexpr uint64_t kRecordTypeOffset = 4;
inline constexpr uint64_t kRecordFlagsOffset = 6;
inline constexpr uint64_t kRecordLengthOffset = 8;
inline constexpr uint64_t kRecordPayloadCrcOffset = 16;

enum RecordType : uint16_t {
  kInfoRecord = 1,
  kDeviceRecord = 2,
  kDataRecord = 3,
  kSubmitRecord = 4,
  kCompleteRecord = 5,
  kMarkRecord = 6,
  kEndRecord = 7,
};

// "info", "device", ..., "end"; "type N" for any other value.
std::string RecordTypeName(uint16_t type);

// Payloads (offsets relative to the payload's first byte).
//   info:     u32 key length K, K bytes key, u32 value length V, V bytes value
//   device:   u32 sector_size, u32 name length N, u64 num_sectors,
//             u64 base offset, u64 base length, N bytes name
//   data:     the bytes themselves
//   submit:   u32 op, u32 device, u32 kind, u32 flags, u64 sector,
//             u64 num_sectors, u64 data offset, u64 data length
//   complete: u32 op, i32 status
//   mark:     u32 label length L, L bytes label
//   end:      u64 records, u64 devices, u64 ops, u64 completions, u64 marks
inline constexpr uint64_t kInfoMinSize = 8;
inline constexpr uint64_t kDeviceFixedSize = 32;
inline constexpr uint64_t kSubmitSize = 48;
inline constexpr uint64_t kCompleteSize = 8;
inline constexpr uint64_t kMarkMinSize = 4;
inline constexpr uint64_t kEndSize = 40;

// Submit kinds.
inline constexpr uint32_t kKindWrite = 0;
inline constexpr uint32_t kKindFlush = 1;
inline constexpr uint32_t kKindDiscard = 2;

// Submit flags: the bit values of core/trace.h's OpFlag.
inline constexpr uint32_t kFlagPreflush = 1;
inline constexpr uint32_t kFlagFua = 2;
inline constexpr uint32_t kFlagMeta = 4;
inline constexpr uint32_t kFlagSync = 8;
inline constexpr uint32_t kKnownFlags =
    kFlagPreflush | kFlagFua | kFlagMeta | kFlagSync;

// The 16-byte file header of version major.minor.
std::string EncodeFileHeader(uint16_t major, uint16_t minor);

// The 20-byte header of a record of `type` whose payload has `length` bytes
// and CRC-32C `payload_crc`; `flags` is written as given.
std::string EncodeRecordHeader(uint16_t type, uint64_t length,
                               uint32_t payload_crc, uint16_t flags = 0);

// A whole record: header and payload.
std::string EncodeRecord(uint16_t type, absl::string_view payload);

// Payloads of the record types, field by field as above. Strings are
// written with a u32 length; precondition: each is shorter than 2^32 bytes.
std::string EncodeInfo(absl::string_view key, absl::string_view value);
std::string EncodeDevice(uint32_t sector_size, absl::string_view name,
                         uint64_t num_sectors, uint64_t base_offset,
                         uint64_t base_length);
struct SubmitFields {
  uint32_t op = 0;
  uint32_t device = 0;
  uint32_t kind = kKindWrite;
  uint32_t flags = 0;
  uint64_t sector = 0;
  uint64_t num_sectors = 0;
  uint64_t data_offset = 0;
  uint64_t data_length = 0;
};
std::string EncodeSubmit(const SubmitFields& fields);
std::string EncodeComplete(uint32_t op, int32_t status);
std::string EncodeMark(absl::string_view label);
struct EndCounts {
  uint64_t records = 0;
  uint64_t devices = 0;
  uint64_t ops = 0;
  uint64_t completions = 0;
  uint64_t marks = 0;
};
std::string EncodeEnd(const EndCounts& counts);

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_CRASHENUM_LAYOUT_H_
