// crashenum's own trace format (specification: docs/FORMAT.md): versioned and
// checksummed, with several devices, separate submit and complete events,
// marks, base images and notes about the recording (tool, kernel, ...).
//
// Written data stays in the file. The writer streams it to disk as it
// arrives; the reader maps the file and the Trace's ops and base images view
// that mapping, so neither side holds memory proportional to the data.
#ifndef CRASHENUM_TRACES_CRASHENUM_FORMAT_H_
#define CRASHENUM_TRACES_CRASHENUM_FORMAT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/trace.h"

namespace crashenum {

// Streaming writer of a crashenum trace file. Each call appends one or two
// records; data is written to the file as it arrives, and nothing
// proportional to the trace is held in memory (only the devices and the ops
// in flight). Not thread-safe: the caller serializes calls.
//
// Every error names the path. After an I/O error (full disk, ...) the writer
// is broken: every later call returns that error, and the file holds every
// record up to the last one written whole (a reader sees a valid trace
// without an end record, or an error when not even a device made it).
// Precondition violations (an unknown device, a bad range, a double
// completion, a positive status) return InvalidArgument or
// FailedPrecondition, write nothing and leave the writer usable.
class CrashenumTraceWriter {
 public:
  // Creates (or truncates) `path` and writes the file header. Errors: the
  // errno-derived code (absl::ErrnoToStatus) with "cannot create PATH".
  static absl::StatusOr<std::unique_ptr<CrashenumTraceWriter>> Create(
      const std::string& path);

  CrashenumTraceWriter(const CrashenumTraceWriter&) = delete;
  CrashenumTraceWriter& operator=(const CrashenumTraceWriter&) = delete;
  // Finish() if not finished, ignoring errors.
  ~CrashenumTraceWriter();

  // Adds a note about the recording (e.g. "tool", "kernel", "filesystem",
  // "options"); readers surface them as notes. Errors: InvalidArgument when
  // the key is empty or either string is 4 GiB or longer.
  absl::Status AddInfo(absl::string_view key, absl::string_view value);

  // Adds a device and returns its index (0, 1, ... in call order). A
  // non-empty base is written to the file first. Errors: InvalidArgument for
  // an empty or repeated name, a name of 4 GiB or more, a sector size that is
  // not a power of two in [8, 1 MiB], or a base shorter than the device.
  absl::StatusOr<uint32_t> AddDevice(const Device& device);

  // Writes the submission of `op` (a write's data first) and returns its op
  // index (0, 1, 2, ... in submit order). op.source_entry is ignored.
  // Errors: InvalidArgument for an unknown device, unknown flag bits, an
  // empty write or discard, a range past the device's end, data of the wrong
  // length, a flush with sectors or data, or a discard with flags or data.
  absl::StatusOr<uint32_t> Submit(const Op& op);

  // Writes the completion of op `op` with `status` (0 or a negative errno).
  // Errors: FailedPrecondition when the op was not submitted or already
  // completed; InvalidArgument for a positive status.
  absl::Status Complete(uint32_t op, int32_t status);

  // Writes a mark. Errors: InvalidArgument for a label of 4 GiB or more.
  absl::Status AddMark(absl::string_view label);

  // Hands every record so far to the kernel (write(2) done, no fsync): a
  // reader of the file now sees a valid trace up to here.
  absl::Status Flush();

  // Writes the end record, fsyncs and closes the file. Idempotent: later
  // calls return the first call's result; other calls then fail with
  // FailedPrecondition.
  absl::Status Finish();

  const std::string& path() const { return path_; }

 private:
  struct DeviceShape {
    std::string name;
    uint32_t sector_size;
    uint64_t num_sectors;
  };

  CrashenumTraceWriter(std::string path, int fd);

  // OK when calls may proceed; the stored I/O error once broken;
  // FailedPrecondition once finished.
  absl::Status Usable() const;
  // InvalidArgument when `op` cannot be the next op.
  absl::Status CheckOp(const Op& op) const;
  // Appends one record and returns the file offset of its payload. A record
  // larger than the buffer goes straight to the file.
  absl::StatusOr<uint64_t> AppendRecord(uint16_t type,
                                        absl::string_view payload);
  // write(2)s all of `bytes`, adding the bytes written to *done.
  absl::Status WriteAll(absl::string_view bytes, uint64_t* done);
  // Breaks the writer with `status`: truncates the file to `keep` bytes (the
  // records written whole) and drops the buffer. Returns `status`.
  absl::Status Break(absl::Status status, uint64_t keep);

  std::string path_;
  int fd_;
  std::string buffer_;                 // whole records not yet written
  std::vector<uint64_t> buffer_ends_;  // end offset in buffer_ of each record
  uint64_t written_ = 0;               // bytes in the file, a record boundary
  absl::Status error_;                 // the I/O error that broke the writer
  bool finished_ = false;
  absl::Status finish_status_;

  std::vector<DeviceShape> devices_;
  absl::flat_hash_set<uint32_t> in_flight_;
  uint64_t records_ = 0;
  uint64_t ops_ = 0;
  uint64_t completions_ = 0;
  uint64_t marks_ = 0;
};

// Appends every device of `trace` and every event in its order (submits,
// completions with their status, marks) to `writer`. Device and op indices
// are offset by the devices and ops `writer` already holds. Errors: those of
// the writer's calls, prefixed with the event index.
absl::Status AppendTrace(const Trace& trace, CrashenumTraceWriter* writer);

// Writes `trace` to `path` as a finished crashenum trace that
// ReadCrashenumTrace reads back with identical devices (base images
// included), ops, data, events (order and completion status) and marks; only
// source_entry numbers change (they become record numbers). Writes a fresh
// temporary file in path's directory, syncs it and renames it over `path`,
// so on failure `path` is untouched and nothing is left behind. Errors:
// those of CrashenumTraceWriter and of the rename, naming the file.
// Thread-safe for distinct paths.
absl::Status WriteCrashenumTrace(const Trace& trace, const std::string& path);

// The same, with `info` written as info records (key, value) before the
// trace. Errors: also those of CrashenumTraceWriter::AddInfo.
absl::Status WriteCrashenumTrace(
    const Trace& trace, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& info);

// Options of ReadCrashenumTrace (none yet).
struct CrashenumReadOptions {};

// Reads the crashenum trace at `path` into a Trace with format "crashenum".
// Ops and events carry their record number as source_entry. When `notes` is
// not null it is overwritten with remarks for the user, one per line, each
// ending in '\n': the file's info records ("PATH: info KEY: VALUE"), that the
// file has no end record, that records of unknown types (or fields unknown
// to this reader) were skipped in a file of a newer minor version.
//
// Errors (InvalidArgument, naming the path and the byte offset, and for a
// record its number and type): a file shorter than its header, a bad magic
// or header checksum, a major version other than 1, a record header or
// payload whose checksum does not match, a record cut short by the end of
// the file, an unknown record type in a file whose minor version this
// reader knows, a malformed payload, a reference to data that is not in an
// earlier data record, an op the trace model rejects (TraceBuilder), an end
// record whose counts disagree with the file or bytes after it, and a file
// with no device. NotFound / PermissionDenied when the file cannot be
// opened. Never allocates in proportion to a length field: every length is
// checked against the file first. Thread-safe for distinct `notes`.
absl::StatusOr<Trace> ReadCrashenumTrace(const std::string& path,
                                         const CrashenumReadOptions& options,
                                         std::string* notes);

// The info records of the crashenum trace at `path`, as (key, value) pairs in
// file order. Checks every record as ReadCrashenumTrace does but builds no
// trace. Errors: those of ReadCrashenumTrace about the file's structure.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ReadCrashenumInfo(const std::string& path);

}  // namespace crashenum

#endif  // CRASHENUM_TRACES_CRASHENUM_FORMAT_H_
