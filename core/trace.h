// The trace model of DESIGN.md section 2.1: devices, operations and the
// ordered events (submit, complete, mark) of a recorded workload.
//
// A Trace is immutable once built and safe to share between threads. Written
// data is held as views into memory the Trace owns (a mapping of the trace
// file, or buffers added through TraceBuilder), never copied whole.
#ifndef CRASHENUM_CORE_TRACE_H_
#define CRASHENUM_CORE_TRACE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/mapped_file.h"

namespace crashenum {

// Flags of a write (DESIGN 2.1). A flush is OpKind::kFlush; a PREFLUSH write
// is a write with kPreflush.
enum OpFlag : uint32_t {
  kPreflush = 1u << 0,
  kFua = 1u << 1,
  kMeta = 1u << 2,
  kSync = 1u << 3,
};

// "PREFLUSH|FUA|META|SYNC" style text for `flags`, "-" when none.
std::string FlagsToString(uint32_t flags);

enum class OpKind { kWrite, kFlush, kDiscard };

struct Device {
  std::string name;          // e.g. "dev0"; unique within the trace
  uint32_t sector_size = 512;  // logical sector size in bytes (power of two)
  uint64_t num_sectors = 0;  // device size in sectors
  // Initial content: empty means all zeroes, else a view of an image the
  // Trace owns (at least num_sectors * sector_size bytes).
  absl::string_view base;
};

struct Op {
  OpKind kind = OpKind::kWrite;
  uint32_t device = 0;
  uint64_t sector = 0;       // in the device's logical sectors
  uint64_t num_sectors = 0;  // 0 for flushes
  uint32_t flags = 0;        // OpFlag bits
  // Writes: exactly num_sectors * sector_size bytes. Empty otherwise.
  absl::string_view data;
  // Where the op came from in its source file (entry number), for messages.
  uint64_t source_entry = 0;
};

enum class EventKind { kSubmit, kComplete, kMark };

struct Event {
  EventKind kind = EventKind::kSubmit;
  uint32_t op = 0;      // kSubmit / kComplete: index into ops()
  int32_t status = 0;   // kComplete: 0 for success, else a negative errno
  uint32_t mark = 0;    // kMark: index into marks()
  uint64_t source_entry = 0;  // entry number in the source file
};

struct Mark {
  std::string label;
  uint32_t event = 0;  // index of its kMark event
};

class Trace {
 public:
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;
  Trace(Trace&&) = default;
  Trace& operator=(Trace&&) = default;

  const std::vector<Device>& devices() const { return devices_; }
  const std::vector<Op>& ops() const { return ops_; }
  const std::vector<Event>& events() const { return events_; }
  const std::vector<Mark>& marks() const { return marks_; }
  // Name of the format it was read from ("dm-log-writes", "builder", ...).
  const std::string& format() const { return format_; }
  // Path of the file it was read from; empty when built in memory.
  const std::string& path() const { return path_; }

  // Index of the submit / complete event of each op; complete is
  // events().size() when the op never completed.
  uint32_t submit_event(uint32_t op) const { return submit_event_[op]; }
  uint32_t complete_event(uint32_t op) const { return complete_event_[op]; }
  // Status of the op's completion (0 when it did not complete).
  int32_t complete_status(uint32_t op) const { return complete_status_[op]; }

  // Index of the first mark with this label, or -1.
  int FindMark(absl::string_view label) const;

  // Advises the kernel that the mapped trace data is not needed for now.
  void ReleaseDataPages() const;
  // Readers that go through the mapped data call ReleaseDataPages (or release
  // what they passed) after about this many bytes, so a long trace's data
  // does not stay resident.
  static constexpr uint64_t kReleaseBytes = uint64_t{16} << 20;

 private:
  friend class TraceBuilder;
  Trace() = default;

  std::string format_;
  std::string path_;
  std::vector<Device> devices_;
  std::vector<Op> ops_;
  std::vector<Event> events_;
  std::vector<Mark> marks_;
  std::vector<uint32_t> submit_event_;
  std::vector<uint32_t> complete_event_;
  std::vector<int32_t> complete_status_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::deque<std::string> owned_;
  std::vector<std::unique_ptr<Trace>> adopted_;
};

// Builds a Trace event by event, checking each step. Used by the readers and
// by tests. Not thread-safe.
class TraceBuilder {
 public:
  TraceBuilder(std::string format, std::string path);

  // Keeps `file` alive as long as the Trace; views into it may be used as
  // op data or base images.
  const MappedFile& AdoptFile(std::unique_ptr<MappedFile> file);
  // Copies `bytes` into storage the Trace owns and returns a view of it.
  absl::string_view Own(std::string bytes);
  // Keeps `trace` alive as long as the Trace being built, so views of its op
  // data and base images may be used as op data or base images here.
  void AdoptTrace(Trace trace);

  // Adds a device and returns its index. With `infer_size`, the device grows
  // to cover every op submitted to it (formats that do not record the size);
  // SetDeviceSectors may then fix the size. Errors: InvalidArgument when the
  // sector size is not a power of two in [8, 1 MiB] or the base is shorter
  // than the device.
  absl::StatusOr<uint32_t> AddDevice(Device device, bool infer_size = false);
  // Sets a device's size. Errors: InvalidArgument when an op already
  // submitted lies past the new end, or the base image is shorter.
  absl::Status SetDeviceSectors(uint32_t device, uint64_t num_sectors);

  // Adds `op` and its submit event; returns the op index. Errors:
  // InvalidArgument for an unknown device, a range past the device end, data
  // of the wrong length, a flush with a range, or a discard with flags.
  absl::StatusOr<uint32_t> Submit(Op op, uint64_t source_entry);
  // Adds the completion of a submitted op. Errors: FailedPrecondition when
  // the op is unknown or already complete.
  absl::Status Complete(uint32_t op, int32_t status, uint64_t source_entry);
  // Submit immediately followed by a successful Complete.
  absl::StatusOr<uint32_t> SubmitAndComplete(Op op, uint64_t source_entry);
  void AddMark(std::string label, uint64_t source_entry);

  size_t num_ops() const { return trace_.ops_.size(); }
  const Device& device(uint32_t i) const { return trace_.devices_[i]; }

  // Finishes the trace. Errors: InvalidArgument for a trace with no device.
  absl::StatusOr<Trace> Build() &&;

 private:
  Trace trace_;
  std::vector<bool> infer_size_;
  std::vector<uint64_t> max_end_;  // highest sector + 1 used per device
};

}  // namespace crashenum

#endif  // CRASHENUM_CORE_TRACE_H_
