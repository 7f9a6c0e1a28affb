#include "readset/shim_core.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "readset/shim_ranges.h"

#define CRS_MAX_FILES 64
#define CRS_FD_SLOTS 65536
/* Past this many disjoint ranges a file's read set is given up ("unknown")
 * and its write set is dropped: both keep memory bounded and both only
 * ever make the read set larger. */
#define CRS_MAX_RANGES (1u << 20)
#define CRS_MAX_MAPS 64

/* Descriptor table entries: 0 not classified yet, 1 not a watched file,
 * else kFdWatched | (O_APPEND ? kFdAppend : 0) | file index. */
enum { kFdNotWatched = 1, kFdWatched = 0x8000, kFdAppend = 0x4000 };

enum { kOnDiskNone, kOnDiskIncomplete, kOnDiskComplete };

struct crs_watched {
  char* path;
  int resolved;
  dev_t dev;
  ino_t ino;
  int unknown;
  struct crs_ranges read;    /* read before written, by this process */
  struct crs_ranges written; /* written by this process (and its parents
                                before the fork that made it) */
};

struct crs_map {
  uintptr_t addr;
  uint64_t len, off, size;
  int file;
};

struct crs_real crs_real;

static struct {
  int enabled;
  char* out_dir;
  char* files_env;
  char self_base[256];
  int num_files;
  int unresolved;
  struct crs_watched files[CRS_MAX_FILES];
  uint64_t start_ns;
  int on_disk;
  struct crs_map maps[CRS_MAX_MAPS];
  int num_maps;
} g;

static uint16_t g_fds[CRS_FD_SLOTS];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_pos_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_ready;
static __thread int t_busy __attribute__((tls_model("initial-exec")));

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lock(void) { pthread_mutex_lock(&g_lock); }
static void unlock(void) { pthread_mutex_unlock(&g_lock); }

/* ---- The record file. */

struct crs_out {
  int fd, failed;
  size_t n;
  char buf[1 << 16];
};

static struct crs_out g_out; /* used under g_lock only */

static void out_flush(struct crs_out* o) {
  size_t done = 0;
  while (!o->failed && done < o->n) {
    ssize_t w = crs_real.write(o->fd, o->buf + done, o->n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      o->failed = 1;
      break;
    }
    done += (size_t)w;
  }
  o->n = 0;
}

static void out_str(struct crs_out* o, const char* s) {
  size_t len = strlen(s);
  if (o->n + len > sizeof o->buf) out_flush(o);
  memcpy(o->buf + o->n, s, len);
  o->n += len;
}

static void out_u64(struct crs_out* o, uint64_t v) {
  char tmp[24];
  int i = sizeof tmp - 1;
  tmp[i] = '\0';
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out_str(o, tmp + i);
}

struct crs_range_line {
  struct crs_out* out;
  const char* kind;
  int file;
};

static void out_range(void* ctx, uint64_t b, uint64_t e) {
  const struct crs_range_line* l = ctx;
  out_str(l->out, l->kind);
  out_u64(l->out, (uint64_t)l->file);
  out_str(l->out, " ");
  out_u64(l->out, b);
  out_str(l->out, " ");
  out_u64(l->out, e);
  out_str(l->out, "\n");
}

static void out_ranges(struct crs_out* o, const char* kind, int file,
                       const struct crs_ranges* s) {
  struct crs_range_line line = {o, kind, file};
  crs_ranges_visit(s, out_range, &line);
}

static void fail_loudly(const char* what, const char* path) {
  /* A read that cannot be recorded must not pass unseen: the process ends
   * with a signal, which an oracle runner reports as an error. */
  char msg[PATH_MAX + 128];
  size_t n = 0;
  const char* parts[] = {"crashenum-readset: cannot ",
                         what,
                         " ",
                         path,
                         ": ",
                         strerror(errno),
                         "\n"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    size_t len = strlen(parts[i]);
    if (n + len >= sizeof msg) break;
    memcpy(msg + n, parts[i], len);
    n += len;
  }
  if (crs_real.write != NULL) (void)!crs_real.write(2, msg, n);
  abort();
}

/* OUT/<pid>.<start>.rs: this process's record. */
static void record_path(char* buf, size_t size) {
  snprintf(buf, size, "%s/%d.%llu.rs", g.out_dir, (int)getpid(),
           (unsigned long long)g.start_ns);
}

static void out_header(struct crs_out* o) {
  out_str(o, "crashenum-readset 1\nfiles ");
  out_u64(o, (uint64_t)g.num_files);
  out_str(o, "\npid ");
  out_u64(o, (uint64_t)getpid());
  out_str(o, "\nstart ");
  out_u64(o, g.start_ns);
  out_str(o, "\n");
}

/* Before this process's first access to a watched file, and its first one
 * after its record was completed: the record on disk is its header alone
 * (an incomplete record), so that if the process dies before completing
 * it the reader knows its reads are unknown. */
static void ensure_incomplete_locked(void) {
  if (g.on_disk == kOnDiskIncomplete) return;
  char path[PATH_MAX];
  record_path(path, sizeof path);
  struct crs_out* o = &g_out;
  o->fd = crs_real.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (o->fd < 0) fail_loudly("create", path);
  o->failed = 0;
  o->n = 0;
  out_header(o);
  out_flush(o);
  if (crs_real.close(o->fd) != 0 || o->failed) fail_loudly("write", path);
  __atomic_store_n(&g.on_disk, kOnDiskIncomplete, __ATOMIC_RELEASE);
}

/* Completes the record: its ranges and, last, the line "end <time>" are
 * appended to the header, so that a record cut short has no end line. */
static void flush_locked(void) {
  if (!g.enabled || g.on_disk != kOnDiskIncomplete) return;
  char path[PATH_MAX];
  record_path(path, sizeof path);
  struct crs_out* o = &g_out;
  o->fd = crs_real.open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (o->fd < 0) return;
  o->failed = 0;
  o->n = 0;
  for (int f = 0; f < g.num_files; f++) {
    if (!g.files[f].unknown) continue;
    out_str(o, "u ");
    out_u64(o, (uint64_t)f);
    out_str(o, "\n");
  }
  for (int f = 0; f < g.num_files; f++) {
    out_ranges(o, "r ", f, &g.files[f].read);
  }
  for (int f = 0; f < g.num_files; f++) {
    out_ranges(o, "w ", f, &g.files[f].written);
  }
  out_str(o, "end ");
  out_u64(o, now_ns());
  out_str(o, "\n");
  out_flush(o);
  if (crs_real.close(o->fd) != 0 || o->failed) {
    /* Back to the header alone, so that a later flush starts clean. */
    __atomic_store_n(&g.on_disk, kOnDiskNone, __ATOMIC_RELEASE);
    ensure_incomplete_locked();
    return;
  }
  __atomic_store_n(&g.on_disk, kOnDiskComplete, __ATOMIC_RELEASE);
}

void crs_flush(void) {
  if (!g_ready || !g.enabled) return;
  int saved = errno;
  lock();
  flush_locked();
  unlock();
  errno = saved;
}

/* ---- Set-up. */

#define CRS_RESOLVE(field, name) \
  crs_real.field = (__typeof__(crs_real.field))dlsym(RTLD_NEXT, name)

static void resolve_next(void) {
  CRS_RESOLVE(open, "open");
  CRS_RESOLVE(open64, "open64");
  CRS_RESOLVE(openat, "openat");
  CRS_RESOLVE(openat64, "openat64");
  CRS_RESOLVE(open_2, "__open_2");
  CRS_RESOLVE(open64_2, "__open64_2");
  CRS_RESOLVE(openat_2, "__openat_2");
  CRS_RESOLVE(openat64_2, "__openat64_2");
  CRS_RESOLVE(creat, "creat");
  CRS_RESOLVE(creat64, "creat64");
  CRS_RESOLVE(open_by_handle_at, "open_by_handle_at");
  CRS_RESOLVE(dup, "dup");
  CRS_RESOLVE(dup2, "dup2");
  CRS_RESOLVE(dup3, "dup3");
  CRS_RESOLVE(fcntl, "fcntl");
  CRS_RESOLVE(fcntl64, "fcntl64");
  CRS_RESOLVE(close, "close");
  CRS_RESOLVE(close_range, "close_range");
  CRS_RESOLVE(closefrom, "closefrom");
  CRS_RESOLVE(read, "read");
  CRS_RESOLVE(read_chk, "__read_chk");
  CRS_RESOLVE(pread, "pread");
  CRS_RESOLVE(pread64, "pread64");
  CRS_RESOLVE(pread_chk, "__pread_chk");
  CRS_RESOLVE(pread64_chk, "__pread64_chk");
  CRS_RESOLVE(readv, "readv");
  CRS_RESOLVE(preadv, "preadv");
  CRS_RESOLVE(preadv64, "preadv64");
  CRS_RESOLVE(preadv2, "preadv2");
  CRS_RESOLVE(preadv64v2, "preadv64v2");
  CRS_RESOLVE(write, "write");
  CRS_RESOLVE(pwrite, "pwrite");
  CRS_RESOLVE(pwrite64, "pwrite64");
  CRS_RESOLVE(writev, "writev");
  CRS_RESOLVE(pwritev, "pwritev");
  CRS_RESOLVE(pwritev64, "pwritev64");
  CRS_RESOLVE(pwritev2, "pwritev2");
  CRS_RESOLVE(pwritev64v2, "pwritev64v2");
  CRS_RESOLVE(lseek, "lseek");
  CRS_RESOLVE(lseek64, "lseek64");
  CRS_RESOLVE(mmap, "mmap");
  CRS_RESOLVE(mmap64, "mmap64");
  CRS_RESOLVE(mremap, "mremap");
  CRS_RESOLVE(munmap, "munmap");
  CRS_RESOLVE(copy_file_range, "copy_file_range");
  CRS_RESOLVE(sendfile, "sendfile");
  CRS_RESOLVE(sendfile64, "sendfile64");
  CRS_RESOLVE(splice, "splice");
  CRS_RESOLVE(ftruncate, "ftruncate");
  CRS_RESOLVE(ftruncate64, "ftruncate64");
  CRS_RESOLVE(truncate, "truncate");
  CRS_RESOLVE(truncate64, "truncate64");
  CRS_RESOLVE(fallocate, "fallocate");
  CRS_RESOLVE(fallocate64, "fallocate64");
  CRS_RESOLVE(posix_fallocate, "posix_fallocate");
  CRS_RESOLVE(posix_fallocate64, "posix_fallocate64");
  CRS_RESOLVE(ioctl, "ioctl");
  CRS_RESOLVE(syscall, "syscall");
  CRS_RESOLVE(fopen, "fopen");
  CRS_RESOLVE(fopen64, "fopen64");
  CRS_RESOLVE(freopen, "freopen");
  CRS_RESOLVE(freopen64, "freopen64");
  CRS_RESOLVE(fdopen, "fdopen");
  CRS_RESOLVE(fclose, "fclose");
  CRS_RESOLVE(aio_read, "aio_read");
  CRS_RESOLVE(aio_read64, "aio_read64");
  CRS_RESOLVE(lio_listio, "lio_listio");
  CRS_RESOLVE(lio_listio64, "lio_listio64");
  CRS_RESOLVE(fork, "fork");
  CRS_RESOLVE(execve, "execve");
  CRS_RESOLVE(execv, "execv");
  CRS_RESOLVE(execvp, "execvp");
  CRS_RESOLVE(execvpe, "execvpe");
  CRS_RESOLVE(fexecve, "fexecve");
  CRS_RESOLVE(execveat, "execveat");
  CRS_RESOLVE(posix_spawn, "posix_spawn");
  CRS_RESOLVE(posix_spawnp, "posix_spawnp");
  CRS_RESOLVE(system, "system");
  CRS_RESOLVE(popen, "popen");
  CRS_RESOLVE(exit_, "_exit");
  CRS_RESOLVE(Exit_, "_Exit");
}

static void resolve_path_locked(struct crs_watched* w) {
  struct stat st;
  if (w->resolved || w->path[0] == '\0' || stat(w->path, &st) != 0) return;
  w->resolved = 1;
  w->dev = st.st_dev;
  w->ino = st.st_ino;
  g.unresolved--;
}

static void atfork_prepare(void) {
  pthread_mutex_lock(&g_pos_lock);
  lock();
}

static void atfork_parent(void) {
  unlock();
  pthread_mutex_unlock(&g_pos_lock);
}

/* The child of a fork keeps what its parent wrote (it read those bytes
 * from its parent, not from the image) and starts a record of its own. */
static void atfork_child(void) {
  unlock();
  pthread_mutex_unlock(&g_pos_lock);
  g.start_ns = now_ns();
  __atomic_store_n(&g.on_disk, kOnDiskNone, __ATOMIC_RELEASE);
  for (int f = 0; f < g.num_files; f++) {
    crs_ranges_clear(&g.files[f].read);
    g.files[f].unknown = 0;
  }
}

static void at_exit_flush(void) { crs_flush(); }

static void init_once(void) {
  t_busy = 1;
  resolve_next();
  const char* files = getenv("CRASHENUM_READSET_FILES");
  const char* out = getenv("CRASHENUM_READSET_OUT");
  if (files != NULL && out != NULL && files[0] != '\0' && out[0] != '\0') {
    g.files_env = strdup(files);
    g.out_dir = strdup(out);
    char* paths = strdup(files);
    if (g.files_env != NULL && g.out_dir != NULL && paths != NULL) {
      g.enabled = 1;
      int n = 0;
      /* Empty entries keep their index, so split by hand. */
      for (char* p = paths; n < CRS_MAX_FILES; n++) {
        char* colon = strchr(p, ':');
        if (colon != NULL) *colon = '\0';
        g.files[n].path = p;
        if (colon == NULL) {
          n++;
          break;
        }
        p = colon + 1;
      }
      g.num_files = n;
      g.unresolved = n;
      for (int f = 0; f < n; f++) resolve_path_locked(&g.files[f]);
    }
    Dl_info info;
    if (dladdr((void*)&crs_init, &info) != 0 && info.dli_fname != NULL) {
      const char* base = strrchr(info.dli_fname, '/');
      base = base ? base + 1 : info.dli_fname;
      snprintf(g.self_base, sizeof g.self_base, "%s", base);
    }
    g.start_ns = now_ns();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    atexit(at_exit_flush);
    at_quick_exit(at_exit_flush);
  }
  __atomic_store_n(&g_ready, 1, __ATOMIC_RELEASE);
  t_busy = 0;
}

void crs_init(void) {
  if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)) return;
  if (t_busy) return; /* called from inside init_once */
  pthread_once(&g_once, init_once);
}

__attribute__((constructor)) static void crs_constructor(void) { crs_init(); }

__attribute__((destructor)) static void crs_destructor(void) { crs_flush(); }

int crs_active(void) {
  crs_init();
  return g_ready && g.enabled && !t_busy;
}

/* ---- Watched files and descriptors. */

static int stat_file_locked(const struct stat* st) {
  for (int pass = 0; pass < 2; pass++) {
    for (int f = 0; f < g.num_files; f++) {
      const struct crs_watched* w = &g.files[f];
      if (w->resolved && w->dev == st->st_dev && w->ino == st->st_ino) {
        return f;
      }
    }
    if (pass == 1 || g.unresolved == 0) break;
    for (int f = 0; f < g.num_files; f++) resolve_path_locked(&g.files[f]);
  }
  return -1;
}

int crs_path_file(int dirfd, const char* path) {
  if (!crs_active() || path == NULL) return -1;
  struct stat st;
  int saved = errno;
  int f = -1;
  if (fstatat(dirfd, path, &st, 0) == 0) {
    lock();
    f = stat_file_locked(&st);
    unlock();
  }
  errno = saved;
  return f;
}

int crs_fd_file(int fd, int* append) {
  if (append != NULL) *append = 0;
  if (fd < 0 || !crs_active()) return -1;
  uint16_t v = 0;
  if (fd < CRS_FD_SLOTS) v = __atomic_load_n(&g_fds[fd], __ATOMIC_RELAXED);
  if (v == 0) {
    int saved = errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
      errno = saved;
      return -1;
    }
    lock();
    int f = stat_file_locked(&st);
    unlock();
    v = kFdNotWatched;
    if (f >= 0) {
      int fl = crs_real.fcntl(fd, F_GETFL);
      v = (uint16_t)(kFdWatched | f);
      if (fl >= 0 && (fl & O_APPEND)) v |= kFdAppend;
    }
    if (fd < CRS_FD_SLOTS) __atomic_store_n(&g_fds[fd], v, __ATOMIC_RELAXED);
    errno = saved;
  }
  if (!(v & kFdWatched)) return -1;
  if (append != NULL) *append = (v & kFdAppend) != 0;
  return v & 0xff;
}

void crs_pos_lock(void) { pthread_mutex_lock(&g_pos_lock); }
void crs_pos_unlock(void) { pthread_mutex_unlock(&g_pos_lock); }

int crs_begin(int fd, int* append) {
  int f = crs_fd_file(fd, append);
  if (f < 0) return -1;
  /* Once the incomplete record is on disk only a flush changes that, under
   * the lock. */
  if (__atomic_load_n(&g.on_disk, __ATOMIC_ACQUIRE) == kOnDiskIncomplete) {
    return f;
  }
  int saved = errno;
  lock();
  ensure_incomplete_locked();
  unlock();
  errno = saved;
  return f;
}

void crs_fd_forget(int fd) {
  if (fd >= 0 && fd < CRS_FD_SLOTS) {
    __atomic_store_n(&g_fds[fd], 0, __ATOMIC_RELAXED);
  }
}

void crs_fd_forget_range(unsigned first, unsigned last) {
  for (unsigned fd = first; fd <= last && fd < CRS_FD_SLOTS; fd++) {
    __atomic_store_n(&g_fds[fd], 0, __ATOMIC_RELAXED);
  }
}

int64_t crs_fd_size(int fd) {
  struct stat st;
  int saved = errno;
  int64_t size = fstat(fd, &st) == 0 ? (int64_t)st.st_size : -1;
  errno = saved;
  return size;
}

/* ---- Events. */

static void read_locked(int file, uint64_t b, uint64_t e) {
  struct crs_watched* w = &g.files[file];
  ensure_incomplete_locked();
  if (w->unknown || b >= e) return;
  if (crs_ranges_add_difference(&w->read, &w->written, b, e) != 0 ||
      w->read.n > CRS_MAX_RANGES) {
    w->unknown = 1;
    crs_ranges_clear(&w->read);
  }
}

static void write_locked(int file, uint64_t b, uint64_t e) {
  struct crs_watched* w = &g.files[file];
  ensure_incomplete_locked();
  if (b >= e) return;
  if (crs_ranges_add(&w->written, b, e) != 0 || w->written.n > CRS_MAX_RANGES) {
    crs_ranges_clear(&w->written);
  }
}

void crs_read(int file, uint64_t off, uint64_t len) {
  if (file < 0 || file >= g.num_files) return;
  int saved = errno;
  uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
  lock();
  read_locked(file, off, end);
  unlock();
  errno = saved;
}

void crs_write(int file, uint64_t off, uint64_t end) {
  if (file < 0 || file >= g.num_files) return;
  int saved = errno;
  lock();
  write_locked(file, off, end);
  unlock();
  errno = saved;
}

void crs_unknown(int file) {
  if (!crs_active()) return;
  int saved = errno;
  lock();
  ensure_incomplete_locked();
  for (int f = 0; f < g.num_files; f++) {
    if (file >= 0 && f != file) continue;
    g.files[f].unknown = 1;
    crs_ranges_clear(&g.files[f].read);
  }
  unlock();
  errno = saved;
}

void crs_end_read(int file, int fd, int64_t off, int64_t ret) {
  if (file < 0 || ret <= 0) return;
  int saved = errno;
  if (off < 0) {
    off64_t cur = crs_real.lseek64(fd, 0, SEEK_CUR);
    if (cur < ret) {
      errno = saved;
      crs_unknown(file);
      return;
    }
    off = cur - ret;
  }
  crs_read(file, (uint64_t)off, (uint64_t)ret);
  errno = saved;
}

void crs_end_write(int file, int fd, int64_t off, int64_t ret, int append) {
  /* Where an appending write went is only known by looking at the size
   * afterwards, which another writer may have changed: such writes are
   * left out, which only makes the read set larger. */
  if (file < 0 || ret <= 0 || append) return;
  int saved = errno;
  if (off < 0) {
    off64_t cur = crs_real.lseek64(fd, 0, SEEK_CUR);
    if (cur < ret) {
      errno = saved;
      return;
    }
    off = cur - ret;
  }
  crs_write(file, (uint64_t)off, (uint64_t)off + (uint64_t)ret);
  errno = saved;
}

/* ---- Memory mappings of watched files. */

void crs_note_mmap(int file, int fd, void* addr, uint64_t len, uint64_t off) {
  int64_t size = crs_fd_size(fd);
  int saved = errno;
  lock();
  if (size < 0) {
    g.files[file].unknown = 1;
    ensure_incomplete_locked();
  } else {
    uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
    if (end > (uint64_t)size) end = (uint64_t)size;
    read_locked(file, off, end);
    if (g.num_maps < CRS_MAX_MAPS) {
      struct crs_map* m = &g.maps[g.num_maps++];
      m->addr = (uintptr_t)addr;
      m->len = len;
      m->off = off;
      m->size = (uint64_t)size;
      m->file = file;
    } else {
      /* A mapping we cannot follow through mremap. */
      g.files[file].unknown = 1;
      crs_ranges_clear(&g.files[file].read);
    }
  }
  unlock();
  errno = saved;
}

void crs_note_mremap(void* old_addr, uint64_t old_len, void* new_addr,
                     uint64_t new_len) {
  if (!crs_active()) return;
  int saved = errno;
  uintptr_t a = (uintptr_t)old_addr;
  lock();
  int n = g.num_maps;
  for (int i = 0; i < n; i++) {
    struct crs_map m = g.maps[i];
    if (a < m.addr || a - m.addr >= m.len) continue;
    uint64_t off = m.off + (a - m.addr);
    uint64_t end = off + new_len;
    if (end > m.size) end = m.size;
    if (new_len > old_len) read_locked(m.file, off, end);
    if (g.num_maps < CRS_MAX_MAPS) {
      struct crs_map* nm = &g.maps[g.num_maps++];
      *nm = m;
      nm->addr = (uintptr_t)new_addr;
      nm->len = new_len;
      nm->off = off;
    } else {
      g.files[m.file].unknown = 1;
      crs_ranges_clear(&g.files[m.file].read);
      ensure_incomplete_locked();
    }
  }
  unlock();
  errno = saved;
}

void crs_note_munmap(void* addr, uint64_t len) {
  if (!crs_active()) return;
  uintptr_t a = (uintptr_t)addr;
  lock();
  /* Only mappings unmapped whole are forgotten: what is left of a
   * partly unmapped one may still grow. */
  for (int i = 0; i < g.num_maps;) {
    struct crs_map* m = &g.maps[i];
    if (m->addr >= a && m->addr + m->len <= a + len) {
      *m = g.maps[--g.num_maps];
    } else {
      i++;
    }
  }
  unlock();
}

/* ---- exec and children. */

static const char* env_value(char* const envp[], const char* name) {
  size_t len = strlen(name);
  for (size_t i = 0; envp[i] != NULL; i++) {
    if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=') {
      return envp[i] + len + 1;
    }
  }
  return NULL;
}

/* Whether a program started with `envp` loads the shim with this
 * configuration. */
static int env_keeps_shim(char* const envp[]) {
  if (envp == NULL) return 0;
  const char* files = env_value(envp, "CRASHENUM_READSET_FILES");
  const char* out = env_value(envp, "CRASHENUM_READSET_OUT");
  const char* preload = env_value(envp, "LD_PRELOAD");
  return files != NULL && strcmp(files, g.files_env) == 0 && out != NULL &&
         strcmp(out, g.out_dir) == 0 && preload != NULL &&
         g.self_base[0] != '\0' && strstr(preload, g.self_base) != NULL;
}

void crs_check_child_env(char* const envp[]) {
  if (!crs_active()) return;
  if (!env_keeps_shim(envp)) crs_unknown(-1);
}

void crs_before_exec(char* const envp[]) {
  if (!crs_active()) return;
  int saved = errno;
  if (!env_keeps_shim(envp)) crs_unknown(-1);
  crs_flush();
  errno = saved;
}

void crs_after_failed_exec(void) {
  if (!crs_active()) return;
  int saved = errno;
  lock();
  if (g.on_disk == kOnDiskComplete) ensure_incomplete_locked();
  unlock();
  errno = saved;
}
