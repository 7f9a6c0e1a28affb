// Follows the block requests of one device through their queue, issue and
// completion events (docs/FORMAT.md, "blktrace plus data"): which write,
// discard and flush requests there were, and where each was submitted and
// completed. Used by traces/blktrace_data.cc.
#ifndef CRASHENUM_TRACES_INTERNAL_BLOCK_REQUESTS_H_
#define CRASHENUM_TRACES_INTERNAL_BLOCK_REQUESTS_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/trace.h"
#include "traces/block_events.h"

namespace crashenum {
namespace internal_traces {

// Block events count in 512-byte sectors.
inline constexpr uint64_t kBlockSector = 512;
// Remap hops followed from a traced device up to a device above it.
inline constexpr int kMaxRemapHops = 16;

struct DeviceId {
  uint32_t major = 0, minor = 0;
  bool operator<(const DeviceId& o) const {
    return major != o.major ? major < o.major : minor < o.minor;
  }
  bool operator==(const DeviceId& o) const {
    return major == o.major && minor == o.minor;
  }
};

// "8,0".
std::string DeviceName(DeviceId d);

// "512-byte sectors [S, E)", for messages.
std::string SectorRange(uint64_t sector, uint64_t count);

// An op of the trace being built, in 512-byte sectors of the chosen device.
struct BlockOp {
  OpKind kind = OpKind::kWrite;
  uint64_t sector = 0;
  uint64_t num_sectors = 0;
  uint32_t flags = 0;
  const BlockEvent* source = nullptr;        // the event that submitted it
  size_t submit_at = 0;                      // index into RequestWalk::out
  std::optional<size_t> complete_at;         // likewise
  const BlockEvent* completed_by = nullptr;  // its completion event
};

// A submission or completion of ops[op], in trace order.
struct OutEvent {
  bool submit = true;
  uint32_t op = 0;
  int32_t status = 0;
  uint64_t source_entry = 0;
};

// What the walk over the events gives.
struct RequestWalk {
  std::vector<BlockOp> ops;
  std::vector<OutEvent> out;
  uint64_t reads = 0, others = 0;  // queued requests left out
  uint64_t issued_without_queue = 0, completed_without_queue = 0;
  uint64_t not_attributed = 0;  // requests not placed on the chosen device
};

// Takes the events of a merged stream one by one. `traced` is the device
// whose queue, issue and completion events count; `above`, when set, a
// device above it (reached through remap records) on whose sectors its
// requests are placed. The events must outlive the tracker and its walk.
// Not thread-safe.
class RequestTracker {
 public:
  RequestTracker(DeviceId traced, std::optional<DeviceId> above)
      : traced_(traced), above_(above) {}

  // Takes the next event. Errors: InvalidArgument for a write-zeroes request
  // or a range past 2^54 sectors.
  absl::Status Add(const BlockEvent& e);
  const RequestWalk& walk() const { return walk_; }

 private:
  // Requests are told apart by what they do; each kind pairs with its own.
  enum class Kind { kWrite, kDiscard, kFlush, kRead, kOther };
  static Kind KindOf(const BlockEvent& e);

  // A request seen on the traced device (a queued bio, or a request known
  // only from its issue or completion), tracked until its sectors completed.
  struct Bio {
    std::optional<uint32_t> op;  // none when it is not on the chosen device
    uint64_t remaining = 0;      // sectors not completed yet
    int32_t status = 0;          // first error among its completions
  };
  // Sectors [start, end) of a bio not completed yet; keyed by start.
  struct Piece {
    size_t bio = 0;
    uint64_t end = 0;
  };
  struct Remap {
    uint64_t sector = 0, count = 0;
    DeviceId from;
    uint64_t from_sector = 0;
  };
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

  // The sector of [sector, +count) on the chosen device, following remaps.
  std::optional<uint64_t> Attribute(uint64_t sector, uint64_t count) const;
  size_t NewBio(Kind kind, const BlockEvent& e, std::optional<uint64_t> at,
                uint64_t count);
  void Complete(size_t bio, const BlockEvent& e);
  // Sub-ranges of [start, end) not covered by pending pieces of `kind`.
  Ranges Uncovered(Kind kind, uint64_t start, uint64_t end) const;
  // Completes the pending sectors of `kind` that `e` covers; returns the
  // sub-ranges no pending request covered.
  Ranges Claim(Kind kind, const BlockEvent& e);
  // A request known only from its issue or completion.
  void AddUnqueued(Kind kind, const BlockEvent& e, uint64_t start, uint64_t end,
                   bool complete);
  void AddFlush(const BlockEvent& e);

  RequestWalk walk_;
  DeviceId traced_;
  std::optional<DeviceId> above_;
  std::map<DeviceId, std::deque<Remap>> remaps_;
  std::vector<Bio> bios_;
  std::multimap<uint64_t, Piece> pending_[2];  // kWrite, kDiscard
  std::vector<size_t> flushes_queued_;
  std::deque<std::vector<size_t>> flushes_issued_;
};

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_BLOCK_REQUESTS_H_
