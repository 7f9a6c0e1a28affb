// Test-only helpers for block events: where the public blktrace files of
// shared/testdata live, and a byte-level encoder of blktrace records that can
// craft any record, valid or hostile. testonly.
#ifndef CRASHENUM_TRACES_INTERNAL_BLOCK_EVENTS_TEST_UTIL_H_
#define CRASHENUM_TRACES_INTERNAL_BLOCK_EVENTS_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace crashenum {
namespace internal_traces {

// The directory holding shared/testdata/blktrace: $TEST_SHARED_DIR/testdata/
// blktrace when that is set, else found by walking up from the real location
// of the test's data files and from the working directory (the repository
// sits beside `shared`). Empty when not found; then *looked_for (if not null)
// says where it was looked for.
std::string SharedBlktraceDir(std::string* looked_for);

// A blktrace record (version 7 unless `version` says otherwise).
struct RawBlkRecord {
  uint32_t sequence = 0;
  uint64_t time_ns = 0;
  uint64_t sector = 0;
  uint32_t bytes = 0;
  uint32_t action = 0;  // action | categories << 16 | cgroup bit
  uint32_t pid = 0;
  uint32_t device = 0;  // kernel dev_t: major << 20 | minor
  uint32_t cpu = 0;
  uint16_t error = 0;
  std::string pdu;
  uint32_t version = 7;
  // pdu_len written; by default pdu.size().
  int32_t pdu_len = -1;
};

// The record's bytes in the given byte order (the pdu is copied verbatim).
std::string EncodeBlkRecord(const RawBlkRecord& record, bool big_endian);

// The kernel's dev_t of major,minor.
inline uint32_t KernelDev(uint32_t major, uint32_t minor) {
  return major << 20 | minor;
}

// A remap payload: be32 from, be32 to, be64 from_sector.
std::string RemapPdu(uint32_t from_dev, uint32_t to_dev, uint64_t from_sector);

// Splits the bytes of a well-formed little-endian blktrace file into records.
std::vector<std::string> SplitBlkRecords(absl::string_view file);

// Every header field of each record of a well-formed little-endian file
// byte-swapped (payloads unchanged), as a big-endian host would write it.
std::string ByteSwapBlkFile(absl::string_view file);

// Reads / overwrites a little-endian u32 header field of one record.
uint32_t GetBlkField32(absl::string_view record, size_t offset);
void SetBlkField32(std::string* record, size_t offset, uint32_t value);
inline constexpr size_t kBlkSequenceOffset = 4;
inline constexpr size_t kBlkCpuOffset = 40;

// A fresh empty directory under $TEST_TMPDIR (or /tmp).
std::string TempDir();

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_BLOCK_EVENTS_TEST_UTIL_H_
