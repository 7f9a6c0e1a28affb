// SHA-256 (FIPS 180-4), for the content hashes of durability marks.
#ifndef CRASHENUM_ORACLES_INTERNAL_SHA256_H_
#define CRASHENUM_ORACLES_INTERNAL_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crashenum {
namespace internal_oracles {

// An incremental SHA-256. Not thread-safe; copyable (a copy continues from
// the same point).
class Sha256 {
 public:
  Sha256();

  // Appends `data` to the message.
  void Update(absl::string_view data);

  // The digest of everything appended. The object must not be used after.
  std::array<uint8_t, 32> Finish();

 private:
  void Block(const uint8_t* block);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes appended
};

// The digest of `data` as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view data);

// The digest of the content of the file at `path` as 64 lowercase hex digits,
// read in chunks. Errors: NotFound, PermissionDenied or Internal (from errno)
// naming the path when it cannot be opened or read; InvalidArgument when it
// is a directory.
absl::StatusOr<std::string> Sha256FileHex(const std::string& path);

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_SHA256_H_
