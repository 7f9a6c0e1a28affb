// replay_prefix: rebuilds the image a prefix of a dm-log-writes log leaves,
// from scratch, the way xfstests' `replay-log --limit N` does: a fresh
// all-zero image of the device size, then every WRITE and DISCARD entry of
// the first N entries written onto it in log order (entry numbers start at
// 0, so `--limit=N+1` replays up to and including entry N). It is the
// baseline bench/replay_baseline.sh compares crashenum with.
//
//   replay_prefix --log=LOG --replay=IMAGE --size=BYTES [--limit=N]
//
// Without --limit every entry the super block counts is replayed. The log is
// read sequentially, one entry header and its data at a time (layout in
// shared/FORMATS.md); a DISCARD punches a hole (reads back as zeroes); MARK
// and empty FLUSH entries change nothing. Exit 0 on success, 2 for bad
// usage, 1 when the log cannot be read or the image written.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"

namespace crashenum {
namespace {

constexpr uint64_t kMagic = 0x6a736677736872;
constexpr uint64_t kFlagDiscard = 4;
constexpr uint64_t kFlagMark = 8;

struct Options {
  std::string log;
  std::string image;
  uint64_t size = 0;
  uint64_t limit = UINT64_MAX;
};

uint64_t Le64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(errno, absl::StrCat(what, " '", path, "'"));
}

// An open file descriptor, closed on destruction.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  // Closes now; returns close()'s result.
  int Close() {
    const int r = close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

// Reads exactly `n` bytes at `offset`. OutOfRange at the end of the file.
absl::Status ReadAt(int fd, char* buf, uint64_t n, uint64_t offset,
                    const std::string& path) {
  while (n > 0) {
    const ssize_t r = pread(fd, buf, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("cannot read", path);
    if (r == 0) {
      return absl::OutOfRangeError(
          absl::StrCat("'", path, "' ends at byte ", offset, " inside an entry"));
    }
    buf += r;
    n -= static_cast<uint64_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return absl::OkStatus();
}

absl::Status WriteAt(int fd, const char* buf, uint64_t n, uint64_t offset,
                     const std::string& path) {
  while (n > 0) {
    const ssize_t w = pwrite(fd, buf, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Errno("cannot write", path);
    buf += w;
    n -= static_cast<uint64_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return absl::OkStatus();
}

absl::Status Replay(const Options& o) {
  Fd log(open(o.log.c_str(), O_RDONLY | O_CLOEXEC));
  if (log.get() < 0) return Errno("cannot open", o.log);
  Fd image(open(o.image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (image.get() < 0) return Errno("cannot create", o.image);
  if (ftruncate(image.get(), static_cast<off_t>(o.size)) != 0) {
    return Errno("cannot size", o.image);
  }
  char super[32];
  RETURN_IF_ERROR(ReadAt(log.get(), super, sizeof(super), 0, o.log));
  const uint64_t nr_entries = Le64(super + 16);
  const uint32_t ss = static_cast<uint32_t>(Le64(super + 24));
  if (Le64(super) != kMagic || Le64(super + 8) != 1 || ss < 512 ||
      ss > 65536 || (ss & (ss - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", o.log, "' is not a dm-log-writes log (version 1)"));
  }
  std::vector<char> header(ss);
  std::vector<char> data;
  uint64_t offset = ss;
  for (uint64_t i = 0; i < nr_entries && i < o.limit; ++i) {
    const std::string where = absl::StrCat("entry ", i, " at byte ", offset);
    RETURN_IF_ERROR(ReadAt(log.get(), header.data(), ss, offset, o.log), where);
    const uint64_t sector = Le64(&header[0]);
    const uint64_t nr_sectors = Le64(&header[8]);
    const uint64_t flags = Le64(&header[16]);
    const uint64_t data_len = Le64(&header[24]);
    offset += ss;
    if (flags & kFlagMark) continue;
    if (nr_sectors == 0) continue;  // an empty flush
    if (nr_sectors > o.size / ss || sector > o.size / ss - nr_sectors) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": sectors ", sector, "+", nr_sectors, " lie past --size=",
          o.size));
    }
    const uint64_t bytes = nr_sectors * ss;
    if (flags & kFlagDiscard) {
      if (fallocate(image.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(sector * ss),
                    static_cast<off_t>(bytes)) != 0) {
        return AddContext(Errno("cannot punch a hole in", o.image), where);
      }
      continue;
    }
    data.resize(bytes);
    RETURN_IF_ERROR(ReadAt(log.get(), data.data(), bytes, offset, o.log), where);
    // Old inline-data entries: data_len bytes, zero padded.
    if (data_len != 0 && data_len < bytes) {
      std::memset(data.data() + data_len, 0, bytes - data_len);
    }
    RETURN_IF_ERROR(WriteAt(image.get(), data.data(), bytes, sector * ss, o.image),
                    where);
    offset += bytes;
  }
  if (image.Close() != 0) return Errno("cannot close", o.image);
  return absl::OkStatus();
}

bool ParseFlag(absl::string_view arg, absl::string_view name,
               absl::string_view* value) {
  if (!absl::ConsumePrefix(&arg, name) || !absl::ConsumePrefix(&arg, "=")) {
    return false;
  }
  *value = arg;
  return true;
}

int Main(int argc, char** argv) {
  Options o;
  bool have_size = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view v;
    bool ok = true;
    if (ParseFlag(argv[i], "--log", &v)) {
      o.log = std::string(v);
    } else if (ParseFlag(argv[i], "--replay", &v)) {
      o.image = std::string(v);
    } else if (ParseFlag(argv[i], "--size", &v)) {
      ok = absl::SimpleAtoi(v, &o.size);
      have_size = true;
    } else if (ParseFlag(argv[i], "--limit", &v)) {
      ok = absl::SimpleAtoi(v, &o.limit);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "replay_prefix: bad argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (o.log.empty() || o.image.empty() || !have_size) {
    std::fprintf(stderr,
                 "usage: replay_prefix --log=LOG --replay=IMAGE --size=BYTES "
                 "[--limit=N]\n");
    return 2;
  }
  const absl::Status s = Replay(o);
  if (!s.ok()) {
    std::fprintf(stderr, "replay_prefix: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace crashenum

int main(int argc, char** argv) { return crashenum::Main(argc, argv); }
