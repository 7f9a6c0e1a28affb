#include "core/crash_state.h"


#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace crashenum {

size_t Bitmap::Count() const {
  size_t n = 0;
  for (uint64_t w : words_) n += static_cast<size_t>(__builtin_popcountll(w));
  return n;
}

void Bitmap::SetRange(size_t begin, size_t end) {
  if (begin >= end) return;
  const size_t first = begin >> 6, last = (end - 1) >> 6;
  const uint64_t head = ~uint64_t{0} << (begin & 63);
  const uint64_t tail = ~uint64_t{0} >> (63 - ((end - 1) & 63));
  if (first == last) {
    words_[first] |= head & tail;
    return;
  }
  words_[first] |= head;
  for (size_t w = first + 1; w < last; ++w) words_[w] = ~uint64_t{0};
  words_[last] |= tail;
}

size_t Bitmap::Find(size_t from, bool value) const {
  if (from >= num_bits_) return num_bits_;
  const uint64_t flip = value ? 0 : ~uint64_t{0};
  size_t w = from >> 6;
  // Bits of word w at or after `from` that have `value`.
  uint64_t m = (words_[w] ^ flip) & (~uint64_t{0} << (from & 63));
  while (m == 0) {
    if (++w == words_.size()) return num_bits_;
    m = words_[w] ^ flip;
  }
  const size_t i = (w << 6) + static_cast<size_t>(__builtin_ctzll(m));
  return i < num_bits_ ? i : num_bits_;
}

namespace {

// How many hex digits spell `bits`: at least one.
size_t HexDigits(const Bitmap& bits) {
  return bits.size() == 0 ? 1 : (bits.size() + 3) / 4;
}

// Hex digits, most significant first; digit d holds bits 4d..4d+3.
std::string HexBits(const Bitmap& bits) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t n = bits.size();
  const size_t digits = HexDigits(bits);
  std::string hex(digits, '0');
  const std::vector<uint64_t>& words = bits.words();
  for (size_t d = 0; d < digits && d * 4 < n; ++d) {
    const size_t i = d * 4;
    unsigned v = static_cast<unsigned>(words[i >> 6] >> (i & 63)) & 0xf;
    if (n - i < 4) v &= (1u << (n - i)) - 1;
    hex[digits - 1 - d] = kHex[v];
  }
  return hex;
}

// Alternating run lengths from bit 0, starting with a run of zeroes (which
// may be empty): "r0.3.2" is 1,1,1,0,0. Gives up (returns "") once the text
// would be `limit` characters or longer.
std::string RunBits(const Bitmap& bits, size_t limit) {
  std::string out = "r";
  bool value = false;
  size_t pos = 0;
  for (bool first = true;; first = false) {
    const size_t next = bits.Find(pos, !value);
    absl::StrAppend(&out, first ? "" : ".", next - pos);
    if (out.size() >= limit) return "";
    if (next == bits.size()) return out;
    pos = next;
    value = !value;
  }
}

}  // namespace

std::string StateId::ToString() const {
  // The shorter spelling; hex when they are as long.
  std::string runs = RunBits(bits, HexDigits(bits));
  std::string out =
      absl::StrCat("e", event, "-u", unit_bytes, "-n", bits.size(), "-",
                   runs.empty() ? HexBits(bits) : runs);
  if (!order.empty()) absl::StrAppend(&out, "-o", absl::StrJoin(order, "."));
  return out;
}

namespace {

absl::Status Malformed(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "malformed state ID '", text, "': ", why,
      " (expected e<event>-u<unit>-n<bits>-<hex or r-runs>[-o<c>.<c>...])"));
}

bool ParseNumber(absl::string_view field, char prefix, uint64_t* out) {
  if (field.size() < 2 || field[0] != prefix) return false;
  return absl::SimpleAtoi(field.substr(1), out);
}

}  // namespace

absl::StatusOr<StateId> StateId::Parse(absl::string_view text) {
  std::vector<absl::string_view> f = absl::StrSplit(text, '-');
  if (f.size() != 4 && f.size() != 5) return Malformed(text, "wrong field count");
  uint64_t event, unit, n;
  if (!ParseNumber(f[0], 'e', &event) || event > UINT32_MAX) {
    return Malformed(text, "bad event field");
  }
  if (!ParseNumber(f[1], 'u', &unit) || unit > UINT32_MAX) {
    return Malformed(text, "bad unit field");
  }
  if (!ParseNumber(f[2], 'n', &n) || n > (uint64_t{1} << 32)) {
    return Malformed(text, "bad bit count field");
  }
  StateId id;
  id.event = static_cast<uint32_t>(event);
  id.unit_bytes = static_cast<uint32_t>(unit);
  id.bits = Bitmap(n);
  if (!f[3].empty() && f[3][0] == 'r') {
    uint64_t pos = 0;
    bool value = false;
    for (absl::string_view r : absl::StrSplit(f[3].substr(1), '.')) {
      uint64_t len;
      if (!absl::SimpleAtoi(r, &len) || len > n - pos) {
        return Malformed(text, "bad run length in the bitmap");
      }
      for (uint64_t i = 0; i < len; ++i) id.bits.Set(pos + i, value);
      pos += len;
      value = !value;
    }
    if (pos != n) return Malformed(text, "bitmap runs do not add up to n");
  } else {
    const size_t digits = n == 0 ? 1 : (n + 3) / 4;
    absl::string_view hex = f[3];
    if (hex.size() != digits) {
      return Malformed(text, absl::StrCat("bitmap of ", n, " bits needs ",
                                          digits, " hex digits"));
    }
    for (size_t d = 0; d < digits; ++d) {
      char c = hex[digits - 1 - d];
      unsigned v;
      if (c >= '0' && c <= '9') {
        v = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v = c - 'A' + 10;
      } else {
        return Malformed(text, "bitmap is not hex");
      }
      for (size_t b = 0; b < 4; ++b) {
        size_t i = d * 4 + b;
        if ((v >> b) & 1) {
          if (i >= n) return Malformed(text, "bitmap has bits past its count");
          id.bits.Set(i, true);
        }
      }
    }
  }
  if (f.size() == 5) {
    if (f[4].size() < 2 || f[4][0] != 'o') {
      return Malformed(text, "bad order field");
    }
    for (absl::string_view c : absl::StrSplit(f[4].substr(1), '.')) {
      uint32_t v;
      if (!absl::SimpleAtoi(c, &v)) return Malformed(text, "bad order choice");
      id.order.push_back(v);
    }
  }
  return id;
}

}  // namespace crashenum
