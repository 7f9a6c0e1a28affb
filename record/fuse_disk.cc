#include "record/fuse_disk.h"

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace crashenum {
namespace internal_record {

namespace {

constexpr fuse_ino_t kDiskIno = 2;
constexpr fuse_ino_t kMarkIno = 3;
constexpr double kTimeout = 3600.0;  // the tree never changes

// An open handle of the mark file: the line written so far.
struct MarkHandle {
  std::mutex mu;
  std::string partial;
};

}  // namespace

struct FuseDisk::State {
  uint64_t size = 0;
  DiskObserver* observer = nullptr;
  char* bytes = nullptr;  // `size` bytes, anonymous mapping
  fuse_session* session = nullptr;
  std::thread loop;
  std::atomic<uint64_t> rejected{0};
  bool mounted = false;
  int64_t connection = -1;  // fusectl's number of the connection

  ~State() {
    if (bytes != nullptr) ::munmap(bytes, size);
  }
};

namespace {

FuseDisk::State* StateOf(fuse_req_t req) {
  return static_cast<FuseDisk::State*>(fuse_req_userdata(req));
}

bool FillAttr(const FuseDisk::State& s, fuse_ino_t ino, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = ino;
  st->st_uid = ::getuid();
  st->st_gid = ::getgid();
  st->st_blksize = 4096;
  switch (ino) {
    case FUSE_ROOT_ID:
      st->st_mode = S_IFDIR | 0755;
      st->st_nlink = 2;
      return true;
    case kDiskIno:
      st->st_mode = S_IFREG | 0600;
      st->st_nlink = 1;
      st->st_size = static_cast<off_t>(s.size);
      st->st_blocks = static_cast<blkcnt_t>(s.size / 512);
      return true;
    case kMarkIno:
      st->st_mode = S_IFREG | 0666;
      st->st_nlink = 1;
      return true;
    default:
      return false;
  }
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_ino_t ino = 0;
  if (parent == FUSE_ROOT_ID && std::strcmp(name, "disk") == 0) ino = kDiskIno;
  if (parent == FUSE_ROOT_ID && std::strcmp(name, "mark") == 0) ino = kMarkIno;
  if (ino == 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e;
  std::memset(&e, 0, sizeof(e));
  e.ino = ino;
  e.attr_timeout = kTimeout;
  e.entry_timeout = kTimeout;
  FillAttr(*StateOf(req), ino, &e.attr);
  fuse_reply_entry(req, &e);
}

void OnGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st;
  if (!FillAttr(*StateOf(req), ino, &st)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_reply_attr(req, &st, kTimeout);
}

// Only truncating the mark file (an `echo x > mark`) is allowed; the disk
// keeps its size.
void OnSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               fuse_file_info*) {
  if ((to_set & FUSE_SET_ATTR_SIZE) != 0 &&
      !(ino == kMarkIno && attr->st_size == 0) &&
      !(ino == kDiskIno &&
        static_cast<uint64_t>(attr->st_size) == StateOf(req)->size)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  struct stat st;
  if (!FillAttr(*StateOf(req), ino, &st)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_reply_attr(req, &st, kTimeout);
}

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kDiskIno && ino != kMarkIno) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->fh = ino == kMarkIno ? reinterpret_cast<uint64_t>(new MarkHandle) : 0;
  if (fuse_reply_open(req, fi) != 0 && ino == kMarkIno) {
    delete reinterpret_cast<MarkHandle*>(fi->fh);  // the opener went away
  }
}

void OnRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
            fuse_file_info*) {
  FuseDisk::State& s = *StateOf(req);
  if (ino != kDiskIno || off < 0 || static_cast<uint64_t>(off) >= s.size) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  const uint64_t n = std::min<uint64_t>(size, s.size - off);
  fuse_reply_buf(req, s.bytes + off, n);
}

void MarkLines(FuseDisk::State& s, MarkHandle& h, const char* buf,
               size_t size) {
  std::lock_guard<std::mutex> lock(h.mu);
  h.partial.append(buf, size);
  size_t start = 0;
  for (size_t nl; (nl = h.partial.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    std::string line = h.partial.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    s.observer->Mark(line);
  }
  h.partial.erase(0, start);
}

void OnWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size,
             off_t off, fuse_file_info* fi) {
  FuseDisk::State& s = *StateOf(req);
  if (ino == kMarkIno) {
    MarkLines(s, *reinterpret_cast<MarkHandle*>(fi->fh), buf, size);
    fuse_reply_write(req, size);
    return;
  }
  if (off < 0 || off % 512 != 0 || size % 512 != 0 ||
      static_cast<uint64_t>(off) > s.size || size > s.size - off) {
    s.rejected.fetch_add(1);
    fuse_reply_err(req, EIO);
    return;
  }
  const uint64_t token = s.observer->BeginWrite(off, {buf, size});
  std::memcpy(s.bytes + off, buf, size);
  s.observer->End(token, 0);
  fuse_reply_write(req, size);
}

void OnFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  if (ino == kDiskIno) {
    FuseDisk::State& s = *StateOf(req);
    s.observer->End(s.observer->BeginFlush(), 0);
  }
  fuse_reply_err(req, 0);
}

void OnFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
                 off_t length, fuse_file_info*) {
  FuseDisk::State& s = *StateOf(req);
  if (ino != kDiskIno) {
    fuse_reply_err(req, EOPNOTSUPP);
    return;
  }
  const bool punch = (mode & FALLOC_FL_PUNCH_HOLE) != 0;
  const bool zero = (mode & FALLOC_FL_ZERO_RANGE) != 0;
  if (!punch && !zero) {  // plain allocation: the bytes are there already
    fuse_reply_err(req, 0);
    return;
  }
  if (off < 0 || length <= 0 || off % 512 != 0 || length % 512 != 0 ||
      static_cast<uint64_t>(off) > s.size ||
      static_cast<uint64_t>(length) > s.size - off) {
    s.rejected.fetch_add(1);
    fuse_reply_err(req, EIO);
    return;
  }
  uint64_t token;
  if (punch) {
    token = s.observer->BeginDiscard(off, length);
  } else {
    // A zeroing request writes zeroes: it is a write whose data is zero.
    static const std::string* const kZeroes = new std::string(1 << 20, '\0');
    if (static_cast<uint64_t>(length) > kZeroes->size()) {
      // Larger ranges arrive rarely; report them as one write of zeroes.
      std::string zeroes(length, '\0');
      token = s.observer->BeginWrite(off, zeroes);
    } else {
      token = s.observer->BeginWrite(off, {kZeroes->data(),
                                           static_cast<size_t>(length)});
    }
  }
  std::memset(s.bytes + off, 0, length);
  s.observer->End(token, 0);
  fuse_reply_err(req, 0);
}

void OnFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  // close(2) of a handle: not a disk flush. A mark line without a newline
  // still counts when its writer closes the file.
  if (ino == kMarkIno && fi->fh != 0) {
    auto& h = *reinterpret_cast<MarkHandle*>(fi->fh);
    std::lock_guard<std::mutex> lock(h.mu);
    if (!h.partial.empty()) {
      StateOf(req)->observer->Mark(h.partial);
      h.partial.clear();
    }
  }
  fuse_reply_err(req, 0);
}

void OnRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino == kMarkIno && fi->fh != 0) {
    auto* h = reinterpret_cast<MarkHandle*>(fi->fh);
    if (!h->partial.empty()) StateOf(req)->observer->Mark(h->partial);
    delete h;
  }
  fuse_reply_err(req, 0);
}

void OnInit(void*, fuse_conn_info* conn) {
  // Large writes arrive whole (up to 1 MiB), so one request of the file
  // system is one or few disk writes.
  conn->max_write = 1 << 20;
  conn->want &= ~FUSE_CAP_ASYNC_READ;
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof(ops));
  ops.init = OnInit;
  ops.lookup = OnLookup;
  ops.getattr = OnGetattr;
  ops.setattr = OnSetattr;
  ops.open = OnOpen;
  ops.read = OnRead;
  ops.write = OnWrite;
  ops.fsync = OnFsync;
  ops.fallocate = OnFallocate;
  ops.flush = OnFlush;
  ops.release = OnRelease;
  return ops;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FuseDisk>> FuseDisk::Start(
    const std::string& mount_dir, uint64_t size, DiskObserver* observer) {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "/dev/fuse is not usable (", std::strerror(errno),
        "): crashenum record needs the fuse kernel module and access to "
        "/dev/fuse (in a container: --device /dev/fuse)"));
  }
  if (size == 0 || size % 512 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("disk size ", size, " is not a positive multiple of 512"));
  }
  std::unique_ptr<FuseDisk> disk(new FuseDisk);
  disk->mount_dir_ = mount_dir;
  disk->state_ = std::make_unique<State>();
  State& s = *disk->state_;
  s.size = size;
  s.observer = observer;
  void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot map ", size, " bytes for the disk: ", std::strerror(errno)));
  }
  s.bytes = static_cast<char*>(mem);

  const char* argv[] = {"crashenum-record", "-o", "allow_other",
                        "-o", "fsname=crashenum", "-o", "subtype=crashenum"};
  fuse_args args = FUSE_ARGS_INIT(7, const_cast<char**>(argv));
  const fuse_lowlevel_ops ops = MakeOps();
  s.session = fuse_session_new(&args, &ops, sizeof(ops), &s);
  fuse_opt_free_args(&args);  // the session keeps copies of what it needs
  if (s.session == nullptr) {
    return absl::InternalError("cannot create the FUSE session");
  }
  if (fuse_session_mount(s.session, mount_dir.c_str()) != 0) {
    fuse_session_destroy(s.session);
    s.session = nullptr;
    return absl::InternalError(
        absl::StrCat("cannot mount the FUSE disk on ", mount_dir,
                     " (is the fuse module loaded?)"));
  }
  s.mounted = true;
  fuse_session* session = s.session;
  s.loop = std::thread([session] {
    fuse_loop_config config;
    std::memset(&config, 0, sizeof(config));
    config.clone_fd = 0;
    config.max_idle_threads = 8;
    fuse_session_loop_mt(session, &config);
  });
  struct stat st;
  if (::stat(mount_dir.c_str(), &st) == 0) s.connection = minor(st.st_dev);
  return disk;
}

void FuseDisk::Stop() {
  if (state_ == nullptr || state_->session == nullptr) return;
  State& s = *state_;
  fuse_session_exit(s.session);
  // Unmounting ends the connection, which wakes the server threads. When
  // something still holds the mount (the unmount is then lazy), aborting the
  // connection through fusectl wakes them all the same.
  if (s.mounted) {
    fuse_session_unmount(s.session);
    s.mounted = false;
  }
  if (s.connection >= 0) {
    // Where fusectl is not mounted, it is mounted for the abort (in the
    // recorder's own mount namespace, normally) and unmounted after:
    // otherwise a loop device still bound to the disk (its file system kept
    // alive elsewhere) would keep the server threads waiting for it.
    constexpr char kFusectl[] = "/sys/fs/fuse/connections";
    const std::string abort_path =
        absl::StrCat(kFusectl, "/", s.connection, "/abort");
    int fd = ::open(abort_path.c_str(), O_WRONLY | O_CLOEXEC);
    bool mounted_fusectl = false;
    if (fd < 0 && errno == ENOENT &&
        ::mount("fusectl", kFusectl, "fusectl", 0, nullptr) == 0) {
      mounted_fusectl = true;
      fd = ::open(abort_path.c_str(), O_WRONLY | O_CLOEXEC);
    }
    if (fd >= 0) {
      (void)!::write(fd, "1", 1);
      ::close(fd);
    }
    if (mounted_fusectl) ::umount2(kFusectl, MNT_DETACH);
  }
  if (s.loop.joinable()) s.loop.join();
  fuse_session_destroy(s.session);
  s.session = nullptr;
}

uint64_t FuseDisk::rejected_requests() const {
  return state_ == nullptr ? 0 : state_->rejected.load();
}

FuseDisk::~FuseDisk() { Stop(); }

}  // namespace internal_record
}  // namespace crashenum
