#include "core/hash128.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace crashenum {
namespace {

constexpr uint64_t kMul1 = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kMul2 = 0xc2b2ae3d27d4eb4fULL;
constexpr uint64_t kMul3 = 0x165667b19e3779f9ULL;

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// The finalizer of MurmurHash3 / SplitMix64: a bijection with full avalanche.
inline uint64_t Fmix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

inline uint64_t LoadLe64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::string Hash128::ToHex() const { return absl::StrFormat("%016x%016x", hi, lo); }

bool Hash128::FromHex(absl::string_view hex, Hash128* out) {
  if (hex.size() != 32) return false;
  uint64_t words[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return false;
    }
    words[i / 16] = (words[i / 16] << 4) | static_cast<uint64_t>(v);
  }
  out->hi = words[0];
  out->lo = words[1];
  return true;
}

Hash128 HashBytes(absl::string_view bytes) {
  uint64_t a = 0x6a09e667f3bcc908ULL ^ (bytes.size() * kMul1);
  uint64_t b = 0xbb67ae8584caa73bULL ^ (bytes.size() * kMul2);
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n >= 16) {
    uint64_t w1 = LoadLe64(p);
    uint64_t w2 = LoadLe64(p + 8);
    a = Rotl(a ^ (w1 * kMul2), 31) * kMul1 + w2;
    b = Rotl(b ^ (w2 * kMul3), 29) * kMul2 + w1;
    p += 16;
    n -= 16;
  }
  if (n > 0) {
    char tail[16] = {0};
    std::memcpy(tail, p, n);
    uint64_t w1 = LoadLe64(tail);
    uint64_t w2 = LoadLe64(tail + 8);
    a = Rotl(a ^ (w1 * kMul2), 31) * kMul1 + w2 + n;
    b = Rotl(b ^ (w2 * kMul3), 29) * kMul2 + w1 + n;
  }
  Hash128 h;
  h.lo = Fmix(a + Rotl(b, 17));
  h.hi = Fmix(b ^ Rotl(a, 41) ^ kMul3);
  return h;
}

Hash128 UnitKey(uint64_t unit, const Hash128& content) {
  uint64_t u = Fmix(unit * kMul1 + kMul3);
  Hash128 k;
  k.lo = Fmix(content.lo ^ u);
  k.hi = Fmix(content.hi ^ Rotl(u, 23) ^ kMul2) ^ Fmix(k.lo + unit);
  return k;
}

}  // namespace crashenum
