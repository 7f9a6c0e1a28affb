#include "traces/internal/test_traces.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace crashenum {
namespace internal_traces {

Op WriteOp(uint32_t device, uint64_t sector, uint64_t num_sectors,
           absl::string_view data, uint32_t flags) {
  Op op;
  op.kind = OpKind::kWrite;
  op.device = device;
  op.sector = sector;
  op.num_sectors = num_sectors;
  op.data = data;
  op.flags = flags;
  return op;
}

Op FlushOp(uint32_t device, uint32_t flags) {
  Op op;
  op.kind = OpKind::kFlush;
  op.device = device;
  op.flags = flags;
  return op;
}

Op DiscardOp(uint32_t device, uint64_t sector, uint64_t num_sectors) {
  Op op;
  op.kind = OpKind::kDiscard;
  op.device = device;
  op.sector = sector;
  op.num_sectors = num_sectors;
  return op;
}

Device MakeDevice(std::string name, uint32_t ss, uint64_t num_sectors,
                  absl::string_view base) {
  Device d;
  d.name = std::move(name);
  d.sector_size = ss;
  d.num_sectors = num_sectors;
  d.base = base;
  return d;
}

const std::string& LastingBytes(absl::string_view pattern, uint64_t size) {
  static auto* store = new std::vector<std::unique_ptr<std::string>>;
  auto bytes = std::make_unique<std::string>();
  bytes->reserve(size);
  while (bytes->size() < size) {
    bytes->append(pattern.data(),
                  std::min<size_t>(pattern.size(), size - bytes->size()));
  }
  store->push_back(std::move(bytes));
  return *store->back();
}

Trace RichTrace() {
  TraceBuilder b("builder", "");
  const uint32_t disk = *b.AddDevice(MakeDevice("disk", 512, 64));
  const uint32_t log =
      *b.AddDevice(MakeDevice("log", 4096, 8, LastingBytes("base", 32768)));
  b.AddMark("start", 0);
  const uint32_t w0 =
      *b.Submit(WriteOp(disk, 2, 2, LastingBytes("a", 1024)), 0);
  const uint32_t w1 =
      *b.Submit(WriteOp(log, 1, 1, LastingBytes("b", 4096), kFua | kSync), 0);
  const uint32_t w2 =
      *b.Submit(WriteOp(disk, 3, 1, LastingBytes("c", 512), kMeta), 0);
  (void)b.Complete(w1, 0, 0);
  (void)b.Complete(w2, -5, 0);  // EIO
  const uint32_t discard = *b.Submit(DiscardOp(disk, 10, 20), 0);
  b.AddMark("middle", 0);
  (void)b.Complete(w0, 0, 0);
  const uint32_t flush = *b.Submit(FlushOp(disk, kFua), 0);
  (void)b.Complete(discard, 0, 0);
  (void)b.Complete(flush, -28, 0);  // ENOSPC
  (void)b.SubmitAndComplete(
      WriteOp(disk, 60, 4, LastingBytes("d", 2048), kPreflush), 0);
  (void)b.Submit(WriteOp(log, 7, 1, LastingBytes("e", 4096)), 0);
  b.AddMark("", 0);
  return *std::move(b).Build();
}

}  // namespace internal_traces
}  // namespace crashenum
