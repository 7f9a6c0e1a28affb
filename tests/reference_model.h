// A small brute-force reference model of the crash model of DESIGN.md
// section 2, for property tests of the enumerator.
//
// It is written from the text alone and shares no code with enumerator/: it
// walks every subset of the optional units of a crash point, drops subsets
// that break the PREFLUSH rule, and resolves every unit to each of its
// maximal persisted versions under happens-before. It has no folding, no
// Gray code and no hashing, and it is only meant for tiny traces (a crash
// point with n variables costs 2^n image evaluations).
#ifndef CRASHENUM_TESTS_REFERENCE_MODEL_H_
#define CRASHENUM_TESTS_REFERENCE_MODEL_H_

#include <cstdint>
#include <set>
#include <string>

#include "core/trace.h"

namespace crashenum {
namespace reference {

enum class Discard { kEither, kKeep, kZero };  // DESIGN 2.5

struct ReferenceOptions {
  // Atomic unit in bytes; 0 means each device's logical sector. Must divide
  // every device's sector size.
  uint32_t atomic_unit = 0;
  bool torn = true;  // any subset of a non-durable write's units, or all/none
  Discard discard = Discard::kEither;
  // When >= 0: only subsets in which at most this many optional writes
  // (discards included) persisted none of their units.
  int drop_at_most = -1;
  // --oracle-reads=metadata: only subsets in which every optional write
  // without META persisted whole.
  bool metadata_only = false;
};

// Every distinct image a crash just before event `point` can leave
// (`point` == events().size() is the end of the trace). An image is the
// content of all devices, concatenated in device order. Precondition: point
// <= events().size(), and few optional units (the cost is exponential).
std::set<std::string> ReferenceImages(const Trace& trace, uint32_t point,
                                      const ReferenceOptions& options);

// The number of variables ReferenceImages walks at `point` (optional units
// with tearing, optional writes without): the log2 of its cost.
int ReferenceVariables(const Trace& trace, uint32_t point,
                       const ReferenceOptions& options);

}  // namespace reference
}  // namespace crashenum

#endif  // CRASHENUM_TESTS_REFERENCE_MODEL_H_
