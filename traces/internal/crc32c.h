// CRC-32C (Castagnoli): polynomial 0x1EDC6F41 (0x82F63B78 reflected), initial
// value and final XOR 0xFFFFFFFF, as iSCSI, ext4 and btrfs use it.
// Crc32c("123456789") is 0xE3069283. Uses the SSE4.2 crc32 instruction when
// the CPU has it, else a portable table-driven loop; both give equal results.
// All functions are thread-safe.
#ifndef CRASHENUM_TRACES_INTERNAL_CRC32C_H_
#define CRASHENUM_TRACES_INTERNAL_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace crashenum {
namespace internal_traces {

// The CRC-32C of `data`; 0 for empty data.
uint32_t Crc32c(absl::string_view data);

// The CRC-32C of A followed by `data`, given crc = Crc32c(A).
uint32_t ExtendCrc32c(uint32_t crc, absl::string_view data);

// ExtendCrc32c without the hardware instruction, for tests.
uint32_t ExtendCrc32cPortable(uint32_t crc, absl::string_view data);

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_CRC32C_H_
