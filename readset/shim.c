/* libcrashenum_readset.so: an LD_PRELOAD library that records which byte
 * ranges of the files named in CRASHENUM_READSET_FILES a process reads
 * before it writes them, and which it writes, into a record in the
 * directory CRASHENUM_READSET_OUT. docs/READSET.md says what is covered and
 * what the record holds; readset/read_set.h reads the records.
 *
 * This file holds the interposed libc functions; readset/shim_core.c the
 * state they update. Each wrapper calls the next definition of its
 * function and records what the call did; a wrapper never changes what the
 * call does, except vfork, which becomes fork. */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "readset/shim_core.h"

#define CRS_EXPORT __attribute__((visibility("default")))

/* The next definition of `fn`, after set-up. */
#define NEXT(fn) (crs_init(), crs_real.fn)

#ifndef RWF_APPEND
#define RWF_APPEND 0x00000010
#endif
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif

extern char** environ;

/* Declared by glibc's headers only for _FORTIFY_SOURCE builds. */
CRS_EXPORT int __open_2(const char* path, int flags);
CRS_EXPORT int __open64_2(const char* path, int flags);
CRS_EXPORT int __openat_2(int dirfd, const char* path, int flags);
CRS_EXPORT int __openat64_2(int dirfd, const char* path, int flags);
CRS_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
CRS_EXPORT ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off,
                               size_t buflen);
CRS_EXPORT ssize_t __pread64_chk(int fd, void* buf, size_t n, off64_t off,
                                 size_t buflen);

/* ---- Opening, duplicating and closing descriptors. */

/* A descriptor just opened with `flags`: forget what was cached about its
 * number; an O_TRUNC open that left a watched file empty made everything
 * in it this process's. */
static int after_open(int fd, int flags) {
  if (fd < 0) return fd;
  crs_fd_forget(fd);
  if ((flags & O_TRUNC) && crs_active()) {
    int f = crs_begin(fd, NULL);
    if (f >= 0 && crs_fd_size(fd) == 0) crs_write(f, 0, UINT64_MAX);
  }
  return fd;
}

static int takes_mode(int flags) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define CRS_OPEN(name, field)                                 \
  CRS_EXPORT int name(const char* path, int flags, ...) {     \
    mode_t mode = 0;                                          \
    if (takes_mode(flags)) {                                  \
      va_list ap;                                             \
      va_start(ap, flags);                                    \
      mode = (mode_t)va_arg(ap, int);                         \
      va_end(ap);                                             \
    }                                                         \
    return after_open(NEXT(field)(path, flags, mode), flags); \
  }

#define CRS_OPENAT(name, field)                                      \
  CRS_EXPORT int name(int dirfd, const char* path, int flags, ...) { \
    mode_t mode = 0;                                                 \
    if (takes_mode(flags)) {                                         \
      va_list ap;                                                    \
      va_start(ap, flags);                                           \
      mode = (mode_t)va_arg(ap, int);                                \
      va_end(ap);                                                    \
    }                                                                \
    return after_open(NEXT(field)(dirfd, path, flags, mode), flags); \
  }

CRS_OPEN(open, open)
CRS_OPEN(open64, open64)
CRS_OPENAT(openat, openat)
CRS_OPENAT(openat64, openat64)

int __open_2(const char* path, int flags) {
  return after_open(NEXT(open_2)(path, flags), flags);
}
int __open64_2(const char* path, int flags) {
  return after_open(NEXT(open64_2)(path, flags), flags);
}
int __openat_2(int dirfd, const char* path, int flags) {
  return after_open(NEXT(openat_2)(dirfd, path, flags), flags);
}
int __openat64_2(int dirfd, const char* path, int flags) {
  return after_open(NEXT(openat64_2)(dirfd, path, flags), flags);
}
CRS_EXPORT int creat(const char* path, mode_t mode) {
  return after_open(NEXT(creat)(path, mode), O_CREAT | O_WRONLY | O_TRUNC);
}
CRS_EXPORT int creat64(const char* path, mode_t mode) {
  return after_open(NEXT(creat64)(path, mode), O_CREAT | O_WRONLY | O_TRUNC);
}
CRS_EXPORT int open_by_handle_at(int mount_fd, struct file_handle* handle,
                                 int flags) {
  return after_open(NEXT(open_by_handle_at)(mount_fd, handle, flags), flags);
}

static int forget_result(int fd) {
  crs_fd_forget(fd);
  return fd;
}

CRS_EXPORT int dup(int fd) { return forget_result(NEXT(dup)(fd)); }
CRS_EXPORT int dup2(int fd, int fd2) {
  return forget_result(NEXT(dup2)(fd, fd2));
}
CRS_EXPORT int dup3(int fd, int fd2, int flags) {
  return forget_result(NEXT(dup3)(fd, fd2, flags));
}

static int after_fcntl(int fd, int cmd, int ret) {
  if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {
    crs_fd_forget(ret);
  } else if (cmd == F_SETFL) {
    crs_fd_forget(fd); /* O_APPEND may have changed */
  }
  return ret;
}

CRS_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return after_fcntl(fd, cmd, NEXT(fcntl)(fd, cmd, arg));
}

CRS_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return after_fcntl(fd, cmd, NEXT(fcntl64)(fd, cmd, arg));
}

CRS_EXPORT int close(int fd) {
  int r = NEXT(close)(fd);
  crs_fd_forget(fd);
  return r;
}

CRS_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  if (NEXT(close_range) == NULL) {
    errno = ENOSYS;
    return -1;
  }
  int r = crs_real.close_range(first, last, flags);
  if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) {
    crs_fd_forget_range(first, last);
  }
  return r;
}

CRS_EXPORT void closefrom(int lowfd) {
  if (NEXT(closefrom) != NULL) crs_real.closefrom(lowfd);
  if (lowfd >= 0) crs_fd_forget_range((unsigned)lowfd, ~0u);
}

/* ---- Reading. */

/* After a read-like call of `want` bytes at `off` (negative: the
 * descriptor's offset) that returned `ret`. A read that failed with EIO
 * told the caller something about the bytes it asked for: they count. */
static void after_read(int f, int fd, int64_t off, ssize_t ret, uint64_t want) {
  if (f < 0) return;
  if (ret >= 0) {
    crs_end_read(f, fd, off, ret);
    return;
  }
  if (errno != EIO) return;
  int saved = errno;
  if (off < 0) off = crs_real.lseek64(fd, 0, SEEK_CUR);
  if (off >= 0) {
    crs_read(f, (uint64_t)off, want);
  } else {
    crs_unknown(f);
  }
  errno = saved;
}

static uint64_t iov_bytes(const struct iovec* iov, int n) {
  uint64_t total = 0;
  for (int i = 0; i < n && iov != NULL; i++) total += iov[i].iov_len;
  return total;
}

/* Calls at the descriptor's offset hold crs_pos_lock from before the call
 * until the offset was read back. */
#define CRS_AT_OFFSET(f, call)    \
  do {                            \
    if ((f) >= 0) crs_pos_lock(); \
    call;                         \
  } while (0)
#define CRS_AT_OFFSET_DONE(f)       \
  do {                              \
    if ((f) >= 0) crs_pos_unlock(); \
  } while (0)

CRS_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  int f = crs_begin(fd, NULL);
  ssize_t r;
  CRS_AT_OFFSET(f, r = NEXT(read)(fd, buf, n));
  after_read(f, fd, -1, r, n);
  CRS_AT_OFFSET_DONE(f);
  return r;
}

ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  int f = crs_begin(fd, NULL);
  ssize_t r;
  CRS_AT_OFFSET(f, r = NEXT(read_chk)(fd, buf, n, buflen));
  after_read(f, fd, -1, r, n);
  CRS_AT_OFFSET_DONE(f);
  return r;
}

CRS_EXPORT ssize_t readv(int fd, const struct iovec* iov, int n) {
  int f = crs_begin(fd, NULL);
  ssize_t r;
  CRS_AT_OFFSET(f, r = NEXT(readv)(fd, iov, n));
  after_read(f, fd, -1, r, iov_bytes(iov, n));
  CRS_AT_OFFSET_DONE(f);
  return r;
}

#define CRS_PREAD(name, field, off_type)                               \
  CRS_EXPORT ssize_t name(int fd, void* buf, size_t n, off_type off) { \
    int f = crs_begin(fd, NULL);                                       \
    ssize_t r = NEXT(field)(fd, buf, n, off);                          \
    after_read(f, fd, off, r, n);                                      \
    return r;                                                          \
  }

CRS_PREAD(pread, pread, off_t)
CRS_PREAD(pread64, pread64, off64_t)

ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  int f = crs_begin(fd, NULL);
  ssize_t r = NEXT(pread_chk)(fd, buf, n, off, buflen);
  after_read(f, fd, off, r, n);
  return r;
}

ssize_t __pread64_chk(int fd, void* buf, size_t n, off64_t off, size_t buflen) {
  int f = crs_begin(fd, NULL);
  ssize_t r = NEXT(pread64_chk)(fd, buf, n, off, buflen);
  after_read(f, fd, off, r, n);
  return r;
}

#define CRS_PREADV(name, field, off_type)                         \
  CRS_EXPORT ssize_t name(int fd, const struct iovec* iov, int n, \
                          off_type off) {                         \
    int f = crs_begin(fd, NULL);                                  \
    ssize_t r = NEXT(field)(fd, iov, n, off);                     \
    after_read(f, fd, off, r, iov_bytes(iov, n));                 \
    return r;                                                     \
  }

CRS_PREADV(preadv, preadv, off_t)
CRS_PREADV(preadv64, preadv64, off64_t)

/* preadv2 with offset -1 reads at the descriptor's offset. */
#define CRS_PREADV2(name, field, off_type)                                   \
  CRS_EXPORT ssize_t name(int fd, const struct iovec* iov, int n,            \
                          off_type off, int flags) {                         \
    int f = crs_begin(fd, NULL);                                             \
    int at_pos = off == -1;                                                  \
    ssize_t r;                                                               \
    CRS_AT_OFFSET(at_pos ? f : -1, r = NEXT(field)(fd, iov, n, off, flags)); \
    after_read(f, fd, off, r, iov_bytes(iov, n));                            \
    CRS_AT_OFFSET_DONE(at_pos ? f : -1);                                     \
    return r;                                                                \
  }

CRS_PREADV2(preadv2, preadv2, off_t)
CRS_PREADV2(preadv64v2, preadv64v2, off64_t)

/* ---- Writing. */

CRS_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  int append;
  int f = crs_begin(fd, &append);
  ssize_t r;
  CRS_AT_OFFSET(f, r = NEXT(write)(fd, buf, n));
  crs_end_write(f, fd, -1, r, append);
  CRS_AT_OFFSET_DONE(f);
  return r;
}

CRS_EXPORT ssize_t writev(int fd, const struct iovec* iov, int n) {
  int append;
  int f = crs_begin(fd, &append);
  ssize_t r;
  CRS_AT_OFFSET(f, r = NEXT(writev)(fd, iov, n));
  crs_end_write(f, fd, -1, r, append);
  CRS_AT_OFFSET_DONE(f);
  return r;
}

/* On Linux a positional write to an O_APPEND descriptor appends. */
#define CRS_PWRITE(name, field, off_type)                                    \
  CRS_EXPORT ssize_t name(int fd, const void* buf, size_t n, off_type off) { \
    int append;                                                              \
    int f = crs_begin(fd, &append);                                          \
    ssize_t r = NEXT(field)(fd, buf, n, off);                                \
    crs_end_write(f, fd, off, r, append);                                    \
    return r;                                                                \
  }

CRS_PWRITE(pwrite, pwrite, off_t)
CRS_PWRITE(pwrite64, pwrite64, off64_t)

#define CRS_PWRITEV(name, field, off_type)                        \
  CRS_EXPORT ssize_t name(int fd, const struct iovec* iov, int n, \
                          off_type off) {                         \
    int append;                                                   \
    int f = crs_begin(fd, &append);                               \
    ssize_t r = NEXT(field)(fd, iov, n, off);                     \
    crs_end_write(f, fd, off, r, append);                         \
    return r;                                                     \
  }

CRS_PWRITEV(pwritev, pwritev, off_t)
CRS_PWRITEV(pwritev64, pwritev64, off64_t)

#define CRS_PWRITEV2(name, field, off_type)                                  \
  CRS_EXPORT ssize_t name(int fd, const struct iovec* iov, int n,            \
                          off_type off, int flags) {                         \
    int append;                                                              \
    int f = crs_begin(fd, &append);                                          \
    if (flags & RWF_APPEND) append = 1;                                      \
    if (flags & RWF_NOAPPEND) append = 0;                                    \
    int at_pos = off == -1;                                                  \
    ssize_t r;                                                               \
    CRS_AT_OFFSET(at_pos ? f : -1, r = NEXT(field)(fd, iov, n, off, flags)); \
    crs_end_write(f, fd, off, r, append);                                    \
    CRS_AT_OFFSET_DONE(at_pos ? f : -1);                                     \
    return r;                                                                \
  }

CRS_PWRITEV2(pwritev2, pwritev2, off_t)
CRS_PWRITEV2(pwritev64v2, pwritev64v2, off64_t)

/* ---- Seeking: SEEK_DATA and SEEK_HOLE tell where the file has holes,
 * which is not a function of its bytes. */

static void after_seek(int fd, int whence) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return;
  int f = crs_fd_file(fd, NULL);
  if (f >= 0) crs_unknown(f);
}

CRS_EXPORT off_t lseek(int fd, off_t off, int whence) {
  off_t r = NEXT(lseek)(fd, off, whence);
  after_seek(fd, whence);
  return r;
}

CRS_EXPORT off64_t lseek64(int fd, off64_t off, int whence) {
  off64_t r = NEXT(lseek64)(fd, off, whence);
  after_seek(fd, whence);
  return r;
}

/* ---- Memory mappings: the mapped bytes of the file count as read when
 * the mapping is made (whether or not the process touches them). */

#define CRS_MMAP(name, field, off_type)                                      \
  CRS_EXPORT void* name(void* addr, size_t len, int prot, int flags, int fd, \
                        off_type off) {                                      \
    int f = (flags & MAP_ANONYMOUS) ? -1 : crs_begin(fd, NULL);              \
    void* r = NEXT(field)(addr, len, prot, flags, fd, off);                  \
    if (f >= 0 && r != MAP_FAILED) crs_note_mmap(f, fd, r, len, off);        \
    return r;                                                                \
  }

CRS_MMAP(mmap, mmap, off_t)
CRS_MMAP(mmap64, mmap64, off64_t)

CRS_EXPORT void* mremap(void* old_addr, size_t old_len, size_t new_len,
                        int flags, ...) {
  void* new_addr = NULL;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void*);
    va_end(ap);
  }
  void* r = NEXT(mremap)(old_addr, old_len, new_len, flags, new_addr);
  if (r != MAP_FAILED) crs_note_mremap(old_addr, old_len, r, new_len);
  return r;
}

CRS_EXPORT int munmap(void* addr, size_t len) {
  int r = NEXT(munmap)(addr, len);
  if (r == 0) crs_note_munmap(addr, len);
  return r;
}

/* ---- Copies between descriptors. A NULL offset pointer means the
 * descriptor's offset. */

static ssize_t after_copy(int fin, int in, int64_t in_off, int fout, int out,
                          int64_t out_off, int out_append, ssize_t r) {
  if (r > 0) {
    crs_end_read(fin, in, in_off, r);
    crs_end_write(fout, out, out_off, r, out_append);
  }
  return r;
}

CRS_EXPORT ssize_t copy_file_range(int in, off64_t* in_off, int out,
                                   off64_t* out_off, size_t len,
                                   unsigned flags) {
  int append;
  int fin = crs_begin(in, NULL);
  int fout = crs_begin(out, &append);
  int64_t io = in_off ? *in_off : -1, oo = out_off ? *out_off : -1;
  int locked = (fin >= 0 && io < 0) || (fout >= 0 && oo < 0);
  if (locked) crs_pos_lock();
  ssize_t r = NEXT(copy_file_range)(in, in_off, out, out_off, len, flags);
  after_copy(fin, in, io, fout, out, oo, append, r);
  if (locked) crs_pos_unlock();
  return r;
}

CRS_EXPORT ssize_t splice(int in, off64_t* in_off, int out, off64_t* out_off,
                          size_t len, unsigned flags) {
  int append;
  int fin = crs_begin(in, NULL);
  int fout = crs_begin(out, &append);
  int64_t io = in_off ? *in_off : -1, oo = out_off ? *out_off : -1;
  int locked = (fin >= 0 && io < 0) || (fout >= 0 && oo < 0);
  if (locked) crs_pos_lock();
  ssize_t r = NEXT(splice)(in, in_off, out, out_off, len, flags);
  after_copy(fin, in, io, fout, out, oo, append, r);
  if (locked) crs_pos_unlock();
  return r;
}

#define CRS_SENDFILE(name, field, off_type)                                \
  CRS_EXPORT ssize_t name(int out, int in, off_type* in_off, size_t len) { \
    int append;                                                            \
    int fin = crs_begin(in, NULL);                                         \
    int fout = crs_begin(out, &append);                                    \
    int64_t io = in_off ? *in_off : -1;                                    \
    int locked = (fin >= 0 && io < 0) || fout >= 0;                        \
    if (locked) crs_pos_lock();                                            \
    ssize_t r = NEXT(field)(out, in, in_off, len);                         \
    after_copy(fin, in, io, fout, out, -1, append, r);                     \
    if (locked) crs_pos_unlock();                                          \
    return r;                                                              \
  }

CRS_SENDFILE(sendfile, sendfile, off_t)
CRS_SENDFILE(sendfile64, sendfile64, off64_t)

/* ---- Size changes. Bytes from the new end on, or from the old end on
 * when the file grew, hold what this process made: zeroes or its later
 * writes. */

static void after_resize(int f, int64_t old_size, int64_t new_size) {
  if (f < 0 || new_size < 0) return;
  uint64_t from = (uint64_t)new_size;
  if (old_size >= 0 && old_size < new_size) from = (uint64_t)old_size;
  crs_write(f, from, UINT64_MAX);
}

#define CRS_FTRUNCATE(name, field, off_type)     \
  CRS_EXPORT int name(int fd, off_type len) {    \
    int f = crs_begin(fd, NULL);                 \
    int64_t old = f >= 0 ? crs_fd_size(fd) : -1; \
    int r = NEXT(field)(fd, len);                \
    if (r == 0) after_resize(f, old, len);       \
    return r;                                    \
  }

CRS_FTRUNCATE(ftruncate, ftruncate, off_t)
CRS_FTRUNCATE(ftruncate64, ftruncate64, off64_t)

#define CRS_TRUNCATE(name, field, off_type)                           \
  CRS_EXPORT int name(const char* path, off_type len) {               \
    int f = crs_path_file(AT_FDCWD, path);                            \
    struct stat st;                                                   \
    int64_t old = (f >= 0 && stat(path, &st) == 0) ? st.st_size : -1; \
    int r = NEXT(field)(path, len);                                   \
    if (r == 0) after_resize(f, old, len);                            \
    return r;                                                         \
  }

CRS_TRUNCATE(truncate, truncate, off_t)
CRS_TRUNCATE(truncate64, truncate64, off64_t)

/* fallocate: punching or zeroing a range makes it this process's;
 * allocating past the end adds zeroes; collapsing or inserting a range
 * moves the file's bytes to other offsets, so reads can no longer be
 * placed. */
static void after_fallocate(int f, int mode, int64_t old, uint64_t off,
                            uint64_t len) {
  if (f < 0) return;
  uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
  if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
    crs_unknown(f);
  } else if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    crs_write(f, off, end);
  } else if (!(mode & FALLOC_FL_KEEP_SIZE) && old >= 0 && end > (uint64_t)old) {
    crs_write(f, (uint64_t)old, end);
  }
}

#define CRS_FALLOCATE(name, field, off_type)                          \
  CRS_EXPORT int name(int fd, int mode, off_type off, off_type len) { \
    int f = crs_begin(fd, NULL);                                      \
    int64_t old = f >= 0 ? crs_fd_size(fd) : -1;                      \
    int r = NEXT(field)(fd, mode, off, len);                          \
    if (r == 0) after_fallocate(f, mode, old, off, len);              \
    return r;                                                         \
  }

CRS_FALLOCATE(fallocate, fallocate, off_t)
CRS_FALLOCATE(fallocate64, fallocate64, off64_t)

#define CRS_POSIX_FALLOCATE(name, field, off_type)          \
  CRS_EXPORT int name(int fd, off_type off, off_type len) { \
    int f = crs_begin(fd, NULL);                            \
    int64_t old = f >= 0 ? crs_fd_size(fd) : -1;            \
    int r = NEXT(field)(fd, off, len);                      \
    if (r == 0) after_fallocate(f, 0, old, off, len);       \
    return r;                                               \
  }

CRS_POSIX_FALLOCATE(posix_fallocate, posix_fallocate, off_t)
CRS_POSIX_FALLOCATE(posix_fallocate64, posix_fallocate64, off64_t)

/* ---- ioctl: extent maps tell where holes are; clones and dedupes copy
 * or compare bytes inside the kernel. Any of these on a watched file makes
 * its read set unknown. */

CRS_EXPORT int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  int r = NEXT(ioctl)(fd, req, arg);
  if (req == FS_IOC_FIEMAP || req == FIBMAP || req == FICLONE ||
      req == FICLONERANGE || req == FIDEDUPERANGE) {
    int f = crs_fd_file(fd, NULL);
    if (f >= 0) crs_unknown(f);
    int src = -1;
    if (req == FICLONE) src = (int)(intptr_t)arg;
    if (req == FICLONERANGE && arg != NULL) {
      src = (int)((struct file_clone_range*)arg)->src_fd;
    }
    f = crs_fd_file(src, NULL);
    if (f >= 0) crs_unknown(f);
  }
  return r;
}

/* ---- POSIX AIO: the bytes asked for count as read when the request is
 * queued. */

static void note_aio(const struct aiocb* cb) {
  if (cb == NULL) return;
  int f = crs_begin(cb->aio_fildes, NULL);
  if (f >= 0) crs_read(f, (uint64_t)cb->aio_offset, cb->aio_nbytes);
}

CRS_EXPORT int aio_read(struct aiocb* cb) {
  note_aio(cb);
  return NEXT(aio_read)(cb);
}

CRS_EXPORT int aio_read64(struct aiocb64* cb) {
  note_aio((const struct aiocb*)cb);
  return NEXT(aio_read64)(cb);
}

CRS_EXPORT int lio_listio(int mode, struct aiocb* const list[], int n,
                          struct sigevent* sig) {
  for (int i = 0; i < n; i++) {
    if (list[i] != NULL && list[i]->aio_lio_opcode == LIO_READ) {
      note_aio(list[i]);
    }
  }
  return NEXT(lio_listio)(mode, (void* const*)list, n, sig);
}

CRS_EXPORT int lio_listio64(int mode, struct aiocb64* const list[], int n,
                            struct sigevent* sig) {
  for (int i = 0; i < n; i++) {
    if (list[i] != NULL && list[i]->aio_lio_opcode == LIO_READ) {
      note_aio((const struct aiocb*)list[i]);
    }
  }
  return NEXT(lio_listio64)(mode, (void* const*)list, n, sig);
}

/* ---- stdio: its reads do not pass through read(), so a watched file
 * opened for reading through a FILE makes the read set unknown. A FILE
 * opened with "w" emptied the file first. */

static FILE* after_fopen(FILE* fp, const char* mode) {
  if (fp == NULL || mode == NULL || !crs_active()) return fp;
  int fd = fileno(fp);
  crs_fd_forget(fd);
  int f = crs_begin(fd, NULL);
  if (f < 0) return fp;
  if (strchr(mode, 'w') != NULL && crs_fd_size(fd) == 0) {
    crs_write(f, 0, UINT64_MAX);
  } else if (strchr(mode, 'r') != NULL || strchr(mode, '+') != NULL) {
    crs_unknown(f);
  }
  return fp;
}

CRS_EXPORT FILE* fopen(const char* path, const char* mode) {
  return after_fopen(NEXT(fopen)(path, mode), mode);
}

CRS_EXPORT FILE* fopen64(const char* path, const char* mode) {
  return after_fopen(NEXT(fopen64)(path, mode), mode);
}

CRS_EXPORT FILE* freopen(const char* path, const char* mode, FILE* fp) {
  if (fp != NULL) crs_fd_forget(fileno(fp));
  return after_fopen(NEXT(freopen)(path, mode, fp), mode);
}

CRS_EXPORT FILE* freopen64(const char* path, const char* mode, FILE* fp) {
  if (fp != NULL) crs_fd_forget(fileno(fp));
  return after_fopen(NEXT(freopen64)(path, mode, fp), mode);
}

CRS_EXPORT FILE* fdopen(int fd, const char* mode) {
  FILE* fp = NEXT(fdopen)(fd, mode);
  if (fp != NULL && mode != NULL &&
      (strchr(mode, 'r') != NULL || strchr(mode, '+') != NULL)) {
    int f = crs_fd_file(fd, NULL);
    if (f >= 0) crs_unknown(f);
  }
  return fp;
}

CRS_EXPORT int fclose(FILE* fp) {
  int fd = fp != NULL ? fileno(fp) : -1;
  int r = NEXT(fclose)(fp);
  crs_fd_forget(fd);
  return r;
}
