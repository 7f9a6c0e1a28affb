// A 128-bit hash that is the same on every platform and build, for image
// identity (DESIGN.md 3: Zobrist-style incremental image hashes).
//
// Not cryptographic: it only has to make accidental collisions between the
// images of one run vanishingly unlikely (about 2^-128 per pair).
#ifndef CRASHENUM_CORE_HASH128_H_
#define CRASHENUM_CORE_HASH128_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace crashenum {

struct Hash128 {
  uint64_t lo = 0;
  uint64_t hi = 0;

  Hash128& operator^=(const Hash128& o) {
    lo ^= o.lo;
    hi ^= o.hi;
    return *this;
  }
  friend Hash128 operator^(Hash128 a, const Hash128& b) { return a ^= b; }
  friend bool operator==(const Hash128& a, const Hash128& b) {
    return a.lo == b.lo && a.hi == b.hi;
  }
  friend bool operator!=(const Hash128& a, const Hash128& b) {
    return !(a == b);
  }
  bool IsZero() const { return lo == 0 && hi == 0; }
  // 32 lowercase hex digits, `hi` first.
  std::string ToHex() const;
  // Parses what ToHex writes (either case). False for anything else.
  static bool FromHex(absl::string_view hex, Hash128* out);

  template <typename H>
  friend H AbslHashValue(H h, const Hash128& v) {
    return H::combine(std::move(h), v.lo, v.hi);
  }
};

// Hashes `bytes` with a fixed algorithm (two independent 64-bit lanes over
// 8-byte little-endian words). Deterministic across platforms.
Hash128 HashBytes(absl::string_view bytes);

// The Zobrist key of one unit version: a strong mix of the unit's global
// number and the hash of its content. Keys of different units, or of the same
// unit with different content, are independent.
Hash128 UnitKey(uint64_t unit, const Hash128& content);

}  // namespace crashenum

#endif  // CRASHENUM_CORE_HASH128_H_
