// Test-only helpers: a raw-byte builder of dm-log-writes logs that can craft
// any header (valid or hostile), and temp-file utilities. testonly.
#ifndef CRASHENUM_TRACES_INTERNAL_DM_LOG_TEST_UTIL_H_
#define CRASHENUM_TRACES_INTERNAL_DM_LOG_TEST_UTIL_H_

#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/trace.h"
#include "traces/internal/dm_log_format.h"

namespace crashenum {
namespace internal_traces {

// Builds the bytes of a dm-log-writes log entry by entry. By default the
// super block is well formed with nr_entries equal to the number of entries
// appended; every field can be overridden. Not thread-safe.
class RawDmLog {
 public:
  explicit RawDmLog(uint32_t sectorsize = 512) : sectorsize_(sectorsize) {}

  // Appends an entry: a header sector with the four fields, `header_tail`
  // copied at byte 32 of the header (cut to fit), then `data` verbatim (not
  // padded). Returns the entry's byte offset.
  uint64_t Entry(uint64_t sector, uint64_t nr_sectors, uint64_t flags,
                 uint64_t data_len, absl::string_view header_tail = {},
                 absl::string_view data = {});

  // Well-formed entries. Write data is PatternData(pattern, nr_sectors, ss).
  uint64_t Write(uint64_t sector, uint64_t nr_sectors, uint64_t flags = 0,
                 absl::string_view pattern = "x");
  uint64_t Discard(uint64_t sector, uint64_t nr_sectors);
  uint64_t Flush(uint64_t extra_flags = 0);
  uint64_t Mark(absl::string_view text);

  // Appends raw bytes after the last entry (garbage, a partial header, ...).
  void AppendRaw(absl::string_view bytes) {
    tail_.append(bytes.data(), bytes.size());
  }

  void set_nr_entries(uint64_t n) {
    nr_entries_ = n;
    has_nr_entries_ = true;
  }
  void set_magic(uint64_t magic) { magic_ = magic; }
  void set_version(uint64_t version) { version_ = version; }
  // The sectorsize written into the super block (layout still uses the
  // constructor's).
  void set_super_sectorsize(uint32_t ss) {
    super_sectorsize_ = ss;
    has_super_sectorsize_ = true;
  }
  void set_super_padding(uint32_t garbage) { super_padding_ = garbage; }

  uint32_t sectorsize() const { return sectorsize_; }
  size_t num_entries() const { return entries_; }
  // The bytes of the whole log.
  std::string Bytes() const;

 private:
  uint32_t sectorsize_;
  uint64_t magic_ = kDmLogMagic;
  uint64_t version_ = 1;
  uint64_t nr_entries_ = 0;
  bool has_nr_entries_ = false;
  uint32_t super_sectorsize_ = 0;
  bool has_super_sectorsize_ = false;
  uint32_t super_padding_ = 0;
  size_t entries_ = 0;
  std::string body_;  // entries
  std::string tail_;  // raw bytes after the entries
};

// The data RawDmLog::Write stores for `nr_sectors` sectors of `ss` bytes.
std::string PatternData(absl::string_view pattern, uint64_t nr_sectors,
                        uint32_t ss);

// A fresh path under $TEST_TMPDIR (or /tmp) ending in `name`.
std::string TempPath(absl::string_view name);
// Writes `bytes` to `path`, aborting the test binary on failure.
void WriteFileOrDie(const std::string& path, absl::string_view bytes);
// The content of `path`, aborting on failure.
std::string ReadFileOrDie(const std::string& path);
bool FileExists(const std::string& path);
// True when a temporary file of a writer of `path` (`path`.tmp*) exists.
bool TempFilesLeft(const std::string& path);

// The first difference between the devices (base images compared by
// content), ops (data compared by content), events and marks of `a` and `b`;
// empty when there is none. Without `source_entries` the source_entry numbers
// of ops and events are not compared.
std::string TraceDifference(const Trace& a, const Trace& b,
                            bool source_entries = true);

// Limits the size of files this process may write, standing in for a full
// disk (writes past the limit fail with EFBIG, SIGXFSZ is ignored); restores
// the limit and the signal disposition when destroyed.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes);
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  ~FileSizeLimit();
  // False when the limit could not be set.
  bool ok() const { return ok_; }

 private:
  rlimit saved_;
  sighandler_t old_handler_;
  bool ok_ = false;
};

}  // namespace internal_traces
}  // namespace crashenum

#endif  // CRASHENUM_TRACES_INTERNAL_DM_LOG_TEST_UTIL_H_
