// crashenum record: runs a workload on a real file system whose disk is a
// FUSE file behind a loop device, and writes the trace of every write (with
// its data), flush and discard the disk received (DESIGN.md 7).
#ifndef CRASHENUM_RECORD_RECORDER_H_
#define CRASHENUM_RECORD_RECORDER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "record/block_join.h"
#include "traces/trace_reader.h"

namespace crashenum {

struct RecordOptions {
  std::string fs;                 // "ext4", "xfs" or "btrfs"
  uint64_t size_bytes = 64 << 20;  // the disk's size, a multiple of 4096
  std::string mkfs_options;       // split on white space, passed to mkfs
  std::string mount_options;      // passed to mount -o
  std::string output;             // the trace file
  // kCrashenum or kDmLogWrites (WritableFormat); what dm-log-writes cannot
  // hold is reported through `log`.
  TraceFormat format = TraceFormat::kCrashenum;
  // The workload: one element is run with /bin/sh -c, several are an argv.
  // It runs with CRASHENUM_MNT, CRASHENUM_MARK, CRASHENUM_DEVICE,
  // CRASHENUM_FS and CRASHENUM (this binary, whose directory also leads its
  // PATH) in its environment.
  std::vector<std::string> workload;
  // Join the kernel's tracefs block events for the flags of each write.
  bool block_events = true;
  // Where the private directories go; empty means $TMPDIR or /tmp.
  std::string work_dir;
  // Also write the captured tracefs text here (for inspection).
  std::string events_output;
  // Progress and remarks for the user, one line each.
  std::function<void(const std::string&)> log;
};

struct RecordResult {
  int workload_exit = -1;   // exit status, or 128 + signal
  bool interrupted = false;  // SIGINT / SIGTERM / SIGHUP arrived
  bool block_events = false;  // flags came from the kernel's events
  internal_record::JoinReport join;
  uint64_t ops = 0;
  uint64_t marks = 0;
  // The first error after the disk came up (the workload's non-zero exit,
  // a signal, a failed step); the steps after it were skipped, clean-up was
  // not.
  absl::Status status;
  // `output` holds the trace recorded (all of it, or up to the failure).
  bool output_written = false;
};

// Records. Clean-up (unmount, loop detach, FUSE stop) always happens, and
// whatever was recorded is written to `output` as a valid trace, even when
// the workload fails, a step fails or a signal arrives: RecordResult::status
// then says what happened. Errors (nothing was set up, nothing written):
// FailedPrecondition naming what is missing (root, /dev/fuse, loop devices,
// mkfs.FS, mount); InvalidArgument for bad options; the errno-derived code
// when the trace file cannot be created.
absl::StatusOr<RecordResult> Record(const RecordOptions& options);

}  // namespace crashenum

#endif  // CRASHENUM_RECORD_RECORDER_H_
