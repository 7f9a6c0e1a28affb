// Captures the kernel's block trace events of one device through a private
// tracefs instance (its own ring buffer; global tracing is left alone).
#ifndef CRASHENUM_RECORD_TRACEFS_CAPTURE_H_
#define CRASHENUM_RECORD_TRACEFS_CAPTURE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace crashenum {
namespace internal_record {

class TracefsCapture {
 public:
  // Starts capturing block_bio_queue, block_rq_issue and block_rq_complete
  // for device major:minor. Mounts tracefs on /sys/kernel/tracing when it is
  // not mounted. Errors: Unavailable saying why when tracefs or the block
  // events are not available (the caller records without them).
  static absl::StatusOr<std::unique_ptr<TracefsCapture>> Start(
      uint32_t major, uint32_t minor);

  ~TracefsCapture();  // Stop(), result dropped

  // Stops the capture, removes the instance and returns the captured text
  // (tracefs `trace_pipe` lines). Errors: DataLoss when the kernel dropped
  // events (its ring buffer overran); the text is then still in `text()`.
  absl::StatusOr<std::string> Stop();
  const std::string& text() const { return text_; }

 private:
  TracefsCapture() = default;
  void ReadLoop();

  std::string instance_;  // the instance directory
  int pipe_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread reader_;
  std::string text_;
  bool stopped_ = false;
};

}  // namespace internal_record
}  // namespace crashenum

#endif  // CRASHENUM_RECORD_TRACEFS_CAPTURE_H_
