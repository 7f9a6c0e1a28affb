// Small hand-built traces for the enumerator's unit tests.
#ifndef CRASHENUM_ENUMERATOR_TEST_TRACES_H_
#define CRASHENUM_ENUMERATOR_TEST_TRACES_H_

#include <string>
#include <utility>

#include "core/trace.h"

namespace crashenum {
namespace testing_traces {

// Builds a one-device trace of `sectors` 512-byte sectors.
class Script {
 public:
  explicit Script(uint64_t sectors) : b_("builder", "") {
    Device d;
    d.name = "dev0";
    d.sector_size = 512;
    d.num_sectors = sectors;
    (void)b_.AddDevice(d);
  }
  // Submits a write of `n` sectors filled with `fill`; returns its op.
  uint32_t Submit(uint64_t sector, uint64_t n, char fill, uint32_t flags = 0) {
    Op op;
    op.kind = OpKind::kWrite;
    op.sector = sector;
    op.num_sectors = n;
    op.flags = flags;
    op.data = b_.Own(std::string(n * 512, fill));
    return *b_.Submit(op, entry_++);
  }
  void Complete(uint32_t op, int32_t status = 0) {
    (void)b_.Complete(op, status, entry_++);
  }
  uint32_t Write(uint64_t sector, uint64_t n, char fill, uint32_t flags = 0) {
    uint32_t op = Submit(sector, n, fill, flags);
    Complete(op);
    return op;
  }
  uint32_t Flush() {
    Op op;
    op.kind = OpKind::kFlush;
    return *b_.SubmitAndComplete(op, entry_++);
  }
  uint32_t Discard(uint64_t sector, uint64_t n) {
    Op op;
    op.kind = OpKind::kDiscard;
    op.sector = sector;
    op.num_sectors = n;
    return *b_.SubmitAndComplete(op, entry_++);
  }
  void Mark(std::string label) { b_.AddMark(std::move(label), entry_++); }
  Trace Build() && { return *std::move(b_).Build(); }

 private:
  TraceBuilder b_;
  uint64_t entry_ = 0;
};

}  // namespace testing_traces
}  // namespace crashenum

#endif  // CRASHENUM_ENUMERATOR_TEST_TRACES_H_
