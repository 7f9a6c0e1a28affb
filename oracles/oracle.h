// The oracle interface (DESIGN.md section 5): judges one crash image.
//
// A violation is a result, not an error: Check() returns a Verdict, and FAIL
// means the image is inconsistent. ERROR means the oracle could not judge
// (timeout, signal, tool failure) and never counts as FAIL.
#ifndef CRASHENUM_ORACLES_ORACLE_H_
#define CRASHENUM_ORACLES_ORACLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/crash_state.h"
#include "core/trace.h"

namespace crashenum {

enum class VerdictKind { kPass, kFail, kError };

// "PASS", "FAIL" or "ERROR".
absl::string_view VerdictKindName(VerdictKind kind);

struct Verdict {
  VerdictKind kind = VerdictKind::kPass;
  std::string message;  // why, for FAIL and ERROR; may be empty for PASS

  static Verdict Pass() { return {VerdictKind::kPass, ""}; }
  static Verdict Fail(std::string why) {
    return {VerdictKind::kFail, std::move(why)};
  }
  static Verdict Error(std::string why) {
    return {VerdictKind::kError, std::move(why)};
  }
};

// The private images of one crash state, one per trace device, in device
// order. Each file belongs to the oracle for the duration of Check(): it may
// read and modify it; nothing it writes reaches another state.
struct ImageSet {
  std::vector<std::string> device_names;
  std::vector<std::string> paths;
  // Added to the environment of every external process the oracle starts
  // for this Check (read-set recording, DESIGN.md 3). Oracles that start no
  // processes ignore it.
  std::vector<std::pair<std::string, std::string>> env;
};

struct OracleTraits {
  bool metadata_only = false;  // judges only metadata (fsck-style)
  bool mutates_image = false;  // may write to its image
  bool needs_root = false;
  bool deterministic = true;  // verdict depends only on the image bytes
  // Its verdict comes from processes that read the image files with ordinary
  // file I/O (not through a kernel mount), so a read-set recorder sees every
  // byte it judged: needed for --prune=readset.
  bool reads_through_files = false;
};

class Oracle {
 public:
  virtual ~Oracle() = default;
  // The spec it was made from, e.g. "ext4-fsck" or "exec:CMD".
  virtual const std::string& name() const = 0;
  virtual const OracleTraits& traits() const = 0;
  // Judges the images of `state`. Thread-safe: workers call it concurrently
  // with distinct ImageSets. Never blocks past the configured timeout.
  virtual Verdict Check(const ImageSet& images, const StateId& state) = 0;
  // For an oracle whose verdict depends on the crash point as well as on the
  // image (durability: what the workload had acknowledged by then), a key of
  // that context for a crash just before trace event `crash_event`: two
  // states share one verdict only when their images and their contexts are
  // equal. The default, "", says the image alone decides. Thread-safe.
  virtual std::string VerdictContext(uint32_t crash_event) const {
    (void)crash_event;
    return "";
  }
};

struct OracleOptions {
  // Limit of one oracle run; past it the run is killed and is ERROR.
  absl::Duration timeout = absl::Seconds(60);
  // Directory for the oracle's own scratch files (must exist). Every external
  // run gets a private temporary directory below it (its TMPDIR), removed
  // after the run.
  std::string scratch_dir = "/tmp";
  // Limits of every external process an oracle starts: address space
  // (RLIMIT_AS) and the largest file it may write (RLIMIT_FSIZE); 0 means
  // no limit.
  uint64_t max_memory_bytes = uint64_t{8} << 30;
  uint64_t max_file_size_bytes = uint64_t{64} << 30;
  // Run external processes in a new network namespace (no network). When the
  // namespace cannot be made (no privilege), they run without one.
  bool isolate_network = true;
  // The trace whose states are judged, for oracles that read its marks
  // (durability) or devices (plugins). Must outlive the oracle; may be null
  // for oracles that do not need it.
  const Trace* trace = nullptr;
};

// Makes an oracle from its command-line spec: "ext4-fsck", "xfs", "btrfs",
// "mount:SCRIPT", "durability", "exec:CMD" or "plugin:PATH[:ARGS]" (see
// docs/ORACLES.md and the headers in oracles/internal/). Errors:
// InvalidArgument for an unknown or malformed spec (the message lists the
// known oracles), an empty CMD, a non-positive timeout, or durability marks
// that do not parse; Unavailable when a tool it needs (e.g. e2fsck) is not
// installed, naming the tool; FailedPrecondition when it needs root (the
// mounting oracles) and does not have it.
absl::StatusOr<std::unique_ptr<Oracle>> MakeOracle(
    absl::string_view spec, const OracleOptions& options);

}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_ORACLE_H_
