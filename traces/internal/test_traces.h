// Test-only: hand-built ops, devices and a trace with every feature of the
// trace model, for the readers', writers' and converters' tests. testonly.
#ifndef CRASHENUM_TRACES_INTERNAL_TEST_TRACES_H_
#define CRASHENUM_TRACES_INTERNAL_TEST_TRACES_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/trace.h"

namespace crashenum {
namespace internal_traces {

Op WriteOp(uint32_t device, uint64_t sector, uint64_t num_sectors,
           absl::string_view data, uint32_t flags = 0);
Op FlushOp(uint32_t device, uint32_t flags = 0);
Op DiscardOp(uint32_t device, uint64_t sector, uint64_t num_sectors);
Device MakeDevice(std::string name, uint32_t ss, uint64_t num_sectors,
                  absl::string_view base = {});

// `size` bytes repeating `pattern`, in storage that lives as long as the
// test binary.
const std::string& LastingBytes(absl::string_view pattern, uint64_t size);

// A trace with every feature, in this event order:
//   devices: 0 "disk" (64 sectors of 512 bytes), 1 "log" (8 sectors of
//            4096 bytes, base image LastingBytes("base", 32768))
//   mark "start"
//   submit op 0: write disk [2, 4) "a", op 1: write log [1, 2) "b" FUA|SYNC,
//          op 2: write disk [3, 4) "c" META
//   complete op 1 (0), op 2 (-5)
//   submit op 3: discard disk [10, 30)
//   mark "middle"
//   complete op 0 (0)
//   submit op 4: flush disk FUA
//   complete op 3 (0), op 4 (-28)
//   submit op 5: write disk [60, 64) "d" PREFLUSH; complete op 5 (0)
//   submit op 6: write log [7, 8) "e" (never completes)
//   mark ""
Trace RichTrace();

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_TEST_TRACES_H_
