// The stable identity of one crash state (DESIGN.md 2.8).
//
// A crash state is named by the point it crashes at (just before trace event
// `event`; events().size() names the end of the trace), the atomic unit size,
// the bitmap of which of that crash point's optional units persisted, and one
// order choice per unit where concurrent persisted writes compete (2.4).
//
// The optional units of a crash point are listed canonically: optional ops in
// trace order, each op's units in address order. Bit i of `bits` is unit i of
// that list. The text form is
//
//   e<event>-u<unit bytes>-n<bits>-<hex>[-o<c>.<c>...]
//
// with the bitmap as ceil(n/4) hex digits, most significant first. It depends
// only on the trace and the model options (atomic unit, discard mode), never
// on threads, shards or the order of work.
#ifndef CRASHENUM_CORE_CRASH_STATE_H_
#define CRASHENUM_CORE_CRASH_STATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crashenum {

class Bitmap {
 public:
  Bitmap() = default;
  explicit Bitmap(size_t num_bits)
      : num_bits_(num_bits), words_((num_bits + 63) / 64, 0) {}

  size_t size() const { return num_bits_; }
  bool Get(size_t i) const { return (words_[i >> 6] >> (i & 63)) & 1; }
  void Set(size_t i, bool v) {
    uint64_t m = uint64_t{1} << (i & 63);
    if (v) {
      words_[i >> 6] |= m;
    } else {
      words_[i >> 6] &= ~m;
    }
  }
  void Flip(size_t i) { words_[i >> 6] ^= uint64_t{1} << (i & 63); }
  // Sets bits [begin, end) to 1.
  void SetRange(size_t begin, size_t end);
  // The first bit at or after `from` whose value is `value`, or size() when
  // there is none.
  size_t Find(size_t from, bool value) const;
  size_t Count() const;
  const std::vector<uint64_t>& words() const { return words_; }
  bool operator==(const Bitmap& o) const {
    return num_bits_ == o.num_bits_ && words_ == o.words_;
  }
  bool operator!=(const Bitmap& o) const { return !(*this == o); }

 private:
  size_t num_bits_ = 0;
  std::vector<uint64_t> words_;
};

struct StateId {
  uint32_t event = 0;
  uint32_t unit_bytes = 0;
  Bitmap bits;
  std::vector<uint32_t> order;

  std::string ToString() const;
  // Parses the text form. Errors: InvalidArgument naming what is malformed.
  static absl::StatusOr<StateId> Parse(absl::string_view text);

  bool operator==(const StateId& o) const {
    return event == o.event && unit_bytes == o.unit_bytes && bits == o.bits &&
           order == o.order;
  }
};

}  // namespace crashenum

#endif  // CRASHENUM_CORE_CRASH_STATE_H_
