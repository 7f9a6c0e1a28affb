// Little-endian integer access to byte strings, for the on-disk formats of
// //traces. Every function works byte by byte, so neither the host's byte
// order nor the alignment of `bytes` matters.
#ifndef CRASHENUM_TRACES_INTERNAL_LITTLE_ENDIAN_H_
#define CRASHENUM_TRACES_INTERNAL_LITTLE_ENDIAN_H_

#include <cstdint>
#include <string>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace crashenum {
namespace internal_traces {

// Reads a little-endian integer of sizeof(T) bytes at bytes[offset]. T is an
// unsigned integer type. Precondition: offset + sizeof(T) <= bytes.size().
template <typename T>
T LoadLittleEndian(absl::string_view bytes, uint64_t offset) {
  static_assert(std::is_unsigned<T>::value, "T must be unsigned");
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<unsigned char>(bytes[offset + i]))
             << (8 * i);
  }
  return value;
}

// Overwrites (*bytes)[offset, offset + sizeof(T)) with `value`,
// little-endian. Precondition: offset + sizeof(T) <= bytes->size().
template <typename T>
void StoreLittleEndian(T value, uint64_t offset, std::string* bytes) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    (*bytes)[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
  }
}

// Appends `value` to `bytes`, little-endian, in sizeof(T) bytes.
template <typename T>
void AppendLittleEndian(T value, std::string* bytes) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    bytes->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_LITTLE_ENDIAN_H_
