/* State of the read-set shim (libcrashenum_readset.so): the next functions
 * of the interposed libc calls, the watched files, the descriptor table and
 * the per-file interval sets, and the record written to
 * $CRASHENUM_READSET_OUT. docs/READSET.md describes the record.
 *
 * Everything here is private to the shared library (hidden visibility).
 * Every function is thread safe unless it says otherwise; none calls an
 * interposed function through the dynamic linker, so none can re-enter the
 * shim. Built with _GNU_SOURCE and _LARGEFILE64_SOURCE defined. */
#ifndef CRASHENUM_READSET_SHIM_CORE_H_
#define CRASHENUM_READSET_SHIM_CORE_H_

#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#define CRS_HIDDEN __attribute__((visibility("hidden")))

/* The next definition (RTLD_NEXT) of every interposed function. Filled by
 * crs_init(); a missing one stays NULL. */
struct crs_real {
  int (*open)(const char*, int, ...);
  int (*open64)(const char*, int, ...);
  int (*openat)(int, const char*, int, ...);
  int (*openat64)(int, const char*, int, ...);
  int (*open_2)(const char*, int);
  int (*open64_2)(const char*, int);
  int (*openat_2)(int, const char*, int);
  int (*openat64_2)(int, const char*, int);
  int (*creat)(const char*, mode_t);
  int (*creat64)(const char*, mode_t);
  int (*open_by_handle_at)(int, void*, int);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*fcntl)(int, int, ...);
  int (*fcntl64)(int, int, ...);
  int (*close)(int);
  int (*close_range)(unsigned, unsigned, int);
  void (*closefrom)(int);
  ssize_t (*read)(int, void*, size_t);
  ssize_t (*read_chk)(int, void*, size_t, size_t);
  ssize_t (*pread)(int, void*, size_t, off_t);
  ssize_t (*pread64)(int, void*, size_t, off64_t);
  ssize_t (*pread_chk)(int, void*, size_t, off_t, size_t);
  ssize_t (*pread64_chk)(int, void*, size_t, off64_t, size_t);
  ssize_t (*readv)(int, const struct iovec*, int);
  ssize_t (*preadv)(int, const struct iovec*, int, off_t);
  ssize_t (*preadv64)(int, const struct iovec*, int, off64_t);
  ssize_t (*preadv2)(int, const struct iovec*, int, off_t, int);
  ssize_t (*preadv64v2)(int, const struct iovec*, int, off64_t, int);
  ssize_t (*write)(int, const void*, size_t);
  ssize_t (*pwrite)(int, const void*, size_t, off_t);
  ssize_t (*pwrite64)(int, const void*, size_t, off64_t);
  ssize_t (*writev)(int, const struct iovec*, int);
  ssize_t (*pwritev)(int, const struct iovec*, int, off_t);
  ssize_t (*pwritev64)(int, const struct iovec*, int, off64_t);
  ssize_t (*pwritev2)(int, const struct iovec*, int, off_t, int);
  ssize_t (*pwritev64v2)(int, const struct iovec*, int, off64_t, int);
  off_t (*lseek)(int, off_t, int);
  off64_t (*lseek64)(int, off64_t, int);
  void* (*mmap)(void*, size_t, int, int, int, off_t);
  void* (*mmap64)(void*, size_t, int, int, int, off64_t);
  void* (*mremap)(void*, size_t, size_t, int, ...);
  int (*munmap)(void*, size_t);
  ssize_t (*copy_file_range)(int, off64_t*, int, off64_t*, size_t, unsigned);
  ssize_t (*sendfile)(int, int, off_t*, size_t);
  ssize_t (*sendfile64)(int, int, off64_t*, size_t);
  ssize_t (*splice)(int, off64_t*, int, off64_t*, size_t, unsigned);
  int (*ftruncate)(int, off_t);
  int (*ftruncate64)(int, off64_t);
  int (*truncate)(const char*, off_t);
  int (*truncate64)(const char*, off64_t);
  int (*fallocate)(int, int, off_t, off_t);
  int (*fallocate64)(int, int, off64_t, off64_t);
  int (*posix_fallocate)(int, off_t, off_t);
  int (*posix_fallocate64)(int, off64_t, off64_t);
  int (*ioctl)(int, unsigned long, ...);
  long (*syscall)(long, ...);
  FILE* (*fopen)(const char*, const char*);
  FILE* (*fopen64)(const char*, const char*);
  FILE* (*freopen)(const char*, const char*, FILE*);
  FILE* (*freopen64)(const char*, const char*, FILE*);
  FILE* (*fdopen)(int, const char*);
  int (*fclose)(FILE*);
  int (*aio_read)(void*);
  int (*aio_read64)(void*);
  int (*lio_listio)(int, void* const[], int, void*);
  int (*lio_listio64)(int, void* const[], int, void*);
  pid_t (*fork)(void);
  int (*execve)(const char*, char* const[], char* const[]);
  int (*execv)(const char*, char* const[]);
  int (*execvp)(const char*, char* const[]);
  int (*execvpe)(const char*, char* const[], char* const[]);
  int (*fexecve)(int, char* const[], char* const[]);
  int (*execveat)(int, const char*, char* const[], char* const[], int);
  int (*posix_spawn)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                     const posix_spawnattr_t*, char* const[], char* const[]);
  int (*posix_spawnp)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                      const posix_spawnattr_t*, char* const[], char* const[]);
  int (*system)(const char*);
  FILE* (*popen)(const char*, const char*);
  void (*exit_)(int);
  void (*Exit_)(int);
};

CRS_HIDDEN extern struct crs_real crs_real;

/* Loads the configuration and the next functions once per process image;
 * every interposed function calls it first. Idempotent. */
CRS_HIDDEN void crs_init(void);

/* Nonzero when the calling thread may record: the shim is configured and
 * the thread is not already inside the shim. */
CRS_HIDDEN int crs_active(void);

/* The watched file `fd` refers to (its index in CRASHENUM_READSET_FILES),
 * or -1. Classifies an unseen descriptor with fstat once and caches it.
 * `*append` (when not NULL) receives whether the descriptor has O_APPEND. */
CRS_HIDDEN int crs_fd_file(int fd, int* append);

/* As crs_fd_file, before an access to the descriptor: when it refers to a
 * watched file, an incomplete record of this process is on disk before
 * this returns, so that a process that dies before its record is complete
 * still shows that it read something. */
CRS_HIDDEN int crs_begin(int fd, int* append);

/* Held around a call that reads or writes at a descriptor's offset and
 * the lseek that tells where it did, so that threads of this process
 * sharing the offset cannot move it in between. Taken before, never
 * while, anything else of the shim. */
CRS_HIDDEN void crs_pos_lock(void);
CRS_HIDDEN void crs_pos_unlock(void);

/* The descriptor `fd` was closed or now refers to something new: forget
 * what was cached about it. */
CRS_HIDDEN void crs_fd_forget(int fd);

/* Forgets descriptors [first, last]. */
CRS_HIDDEN void crs_fd_forget_range(unsigned first, unsigned last);

/* The watched file at `path` (symbolic links followed; relative to `dirfd`
 * as in openat), or -1 when none or it does not exist. */
CRS_HIDDEN int crs_path_file(int dirfd, const char* path);

/* This process read bytes [off, off + len) of watched file `file`. Bytes it
 * wrote before are not counted. */
CRS_HIDDEN void crs_read(int file, uint64_t off, uint64_t len);

/* This process wrote bytes [off, end) of watched file `file`; end may be
 * UINT64_MAX ("everything from off on came from this process"). */
CRS_HIDDEN void crs_write(int file, uint64_t off, uint64_t end);

/* What this process reads of watched file `file` (or of every watched file
 * when `file` is -1) cannot be known: the record says so. */
CRS_HIDDEN void crs_unknown(int file);

/* After a call on `fd` (watched file `file`, from crs_begin) that read
 * `ret` bytes at offset `off`, or, when `off` is negative, at the
 * descriptor's offset (which the call advanced past them). Nothing when
 * `file` < 0 or `ret` <= 0. Keeps errno. */
CRS_HIDDEN void crs_end_read(int file, int fd, int64_t off, int64_t ret);

/* As crs_end_read for a call that wrote `ret` bytes. With `append` (the
 * descriptor has O_APPEND, or RWF_APPEND was given) nothing is recorded:
 * a write left out only makes the read set larger. Keeps errno. */
CRS_HIDDEN void crs_end_write(int file, int fd, int64_t off, int64_t ret,
                              int append);

/* Writes the record of this process (complete, with its end time), when it
 * recorded anything. Keeps errno. */
CRS_HIDDEN void crs_flush(void);

/* Before an exec into a program with environment `envp`: the record is
 * completed and written (the new program starts a record of its own); an
 * environment that drops the shim or its variables makes the record say
 * "unknown" first, since the new program would run unseen. Keeps errno. */
CRS_HIDDEN void crs_before_exec(char* const envp[]);

/* After an exec that failed: the process goes on, so its record is marked
 * incomplete again. Keeps errno. */
CRS_HIDDEN void crs_after_failed_exec(void);

/* A child about to be started with environment `envp` (posix_spawn,
 * system, popen): when it would run without the shim, what it reads cannot
 * be known. Keeps errno. */
CRS_HIDDEN void crs_check_child_env(char* const envp[]);

/* Memory mapped from watched file `file` at [addr, addr + len) with file
 * offset `off`: the mapped bytes inside the file count as read. */
CRS_HIDDEN void crs_note_mmap(int file, int fd, void* addr, uint64_t len,
                              uint64_t off);

/* A mapping at `old_addr` of `old_len` bytes is now at `new_addr` with
 * `new_len` bytes; growth of a mapping of a watched file is read. */
CRS_HIDDEN void crs_note_mremap(void* old_addr, uint64_t old_len,
                                void* new_addr, uint64_t new_len);

/* [addr, addr + len) is no longer mapped. */
CRS_HIDDEN void crs_note_munmap(void* addr, uint64_t len);

/* The size of the file `fd` refers to, or -1. */
CRS_HIDDEN int64_t crs_fd_size(int fd);

#endif /* CRASHENUM_READSET_SHIM_CORE_H_ */
