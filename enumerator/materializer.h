// Materializes crash states into image files, incrementally (DESIGN.md 4).
#ifndef CRASHENUM_ENUMERATOR_MATERIALIZER_H_
#define CRASHENUM_ENUMERATOR_MATERIALIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "enumerator/state_space.h"

namespace crashenum {

// Keeps one image file per device equal to the last state applied, writing
// only the units that differ from what the file already holds. Owns its
// files (closed, not removed, on destruction). Not thread-safe: one per
// worker.
class Materializer {
 public:
  // Creates (truncating) `paths[d]` for each device d of the trace, sized to
  // the device and holding its base content. Errors: InvalidArgument when the
  // path count differs from the device count; the failing path and errno
  // text otherwise (ResourceExhausted for a full disk).
  static absl::StatusOr<std::unique_ptr<Materializer>> Create(
      const UnitHashes& hashes, std::vector<std::string> paths);
  ~Materializer();
  Materializer(const Materializer&) = delete;
  Materializer& operator=(const Materializer&) = delete;

  // Makes the files show the state `r` of `space` resolves to. The next
  // Apply learns what the files hold from `space` and `r`, so `space` is
  // kept until then (no per-unit list of its own: on a long trace that
  // would be two lists of millions of units per worker). Consecutive
  // states of one space differ only in their slots, and only those are
  // compared. After a write fails the files' content is unknown, and every
  // later Apply fails (FailedPrecondition).
  absl::Status Apply(std::shared_ptr<const StateSpace> space,
                     const Resolution& r);
  // The same for a caller that keeps `space` alive until the next Apply or
  // this Materializer's end.
  absl::Status Apply(const StateSpace& space, const Resolution& r);

  // Copies the current images to `out` (same count as the devices), keeping
  // holes, for an oracle that may modify its copy.
  absl::Status CopyTo(const std::vector<std::string>& out) const;

  const std::vector<std::string>& paths() const { return paths_; }
  // Units written by the last Apply (for tests and benchmarks).
  uint64_t last_units_written() const { return last_written_; }

 private:
  Materializer(const UnitHashes& hashes, std::vector<std::string> paths)
      : hashes_(hashes), paths_(std::move(paths)) {}
  // Writes `content` (nullptr: the base content; a tag: zeroes) to `unit`.
  // Writes what differs between the state the files show and `r`'s.
  absl::Status Write(const StateSpace& space, const Resolution& r);
  absl::Status WriteUnit(uint32_t device, uint64_t unit, const char* content);

  const UnitHashes& hashes_;
  std::vector<std::string> paths_;
  std::vector<int> fds_;
  // What the files show: the state `versions_` of `space_` resolves to;
  // the base content when `space_` is null.
  std::shared_ptr<const StateSpace> space_;
  std::vector<int32_t> versions_;
  bool broken_ = false;  // a write failed: what the files show is unknown
  std::string zeros_;
  uint64_t last_written_ = 0;
  // Bytes written since the trace's data pages were last released.
  uint64_t released_after_ = 0;
};

// Writes the image of one state to `paths` from scratch (materialize).
absl::Status MaterializeState(const StateSpace& space, const Resolution& r,
                              const std::vector<std::string>& paths);

}  // namespace crashenum

#endif  // CRASHENUM_ENUMERATOR_MATERIALIZER_H_
