/* The interposed process functions of libcrashenum_readset.so: exec and
 * spawn (the record is completed before the program is replaced, and a
 * program that would run without the shim, because its environment drops
 * it or it is statically linked, makes the record "unknown"), vfork
 * (which becomes fork, so that the child's descriptor changes stay its
 * own), the ways out of a process (each completes the record), and
 * syscall() for the calls the other wrappers cover. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "readset/shim_core.h"

#define CRS_EXPORT __attribute__((visibility("default")))
#define NEXT(fn) (crs_init(), crs_real.fn)

extern char** environ;

/* ---- Programs the shim cannot be loaded into. */

/* Whether the file at `path` (relative to `dirfd`) is a statically linked
 * ELF program, or a script whose interpreter is one (`depth` bounds the
 * chain of interpreters): LD_PRELOAD has no effect on those, so they would
 * read unseen. */
static int is_static_program(int dirfd, const char* path, int depth) {
  int fd = crs_real.openat(dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0; /* the exec will fail too */
  Elf64_Ehdr eh;
  ssize_t n = crs_real.pread(fd, &eh, sizeof eh, 0);
  int is_static = 0;
  if (n >= 2 && memcmp(&eh, "#!", 2) == 0 && depth > 0) {
    char line[PATH_MAX];
    ssize_t m = crs_real.pread(fd, line, sizeof line - 1, 2);
    if (m > 0) {
      line[m] = '\0';
      char* p = line + strspn(line, " \t");
      p[strcspn(p, " \t\n")] = '\0';
      if (*p != '\0') is_static = is_static_program(AT_FDCWD, p, depth - 1);
    }
  } else if (n == (ssize_t)sizeof eh &&
             memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
             eh.e_ident[EI_CLASS] == ELFCLASS64 &&
             eh.e_phentsize == sizeof(Elf64_Phdr)) {
    is_static = 1;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
      Elf64_Phdr ph;
      if (crs_real.pread(fd, &ph, sizeof ph,
                         (off_t)(eh.e_phoff + i * sizeof ph)) !=
          (ssize_t)sizeof ph) {
        break;
      }
      if (ph.p_type == PT_INTERP) {
        is_static = 0;
        break;
      }
    }
  }
  crs_real.close(fd);
  return is_static;
}

/* The file execvp would run for `file`, searched in PATH, into `buf`. */
static const char* find_in_path(const char* file, char* buf, size_t size) {
  if (strchr(file, '/') != NULL) return file;
  const char* path = getenv("PATH");
  if (path == NULL) path = "/bin:/usr/bin";
  while (*path != '\0') {
    size_t len = strcspn(path, ":");
    int n =
        snprintf(buf, size, "%.*s%s%s", (int)len, path, len ? "/" : "", file);
    if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0) return buf;
    path += len;
    if (*path == ':') path++;
  }
  return file;
}

/* A program about to start that would run unseen makes the record
 * "unknown". Keeps errno. */
static void check_program(int dirfd, const char* path, int search) {
  if (path == NULL || !crs_active()) return;
  int saved = errno;
  char buf[PATH_MAX];
  if (search) path = find_in_path(path, buf, sizeof buf);
  if (is_static_program(dirfd, path, 2)) crs_unknown(-1);
  errno = saved;
}

/* ---- exec. */

CRS_EXPORT int execve(const char* path, char* const argv[],
                      char* const envp[]) {
  check_program(AT_FDCWD, path, 0);
  crs_before_exec(envp);
  int r = NEXT(execve)(path, argv, envp);
  crs_after_failed_exec();
  return r;
}

CRS_EXPORT int execv(const char* path, char* const argv[]) {
  check_program(AT_FDCWD, path, 0);
  crs_before_exec(environ);
  int r = NEXT(execv)(path, argv);
  crs_after_failed_exec();
  return r;
}

CRS_EXPORT int execvp(const char* file, char* const argv[]) {
  check_program(AT_FDCWD, file, 1);
  crs_before_exec(environ);
  int r = NEXT(execvp)(file, argv);
  crs_after_failed_exec();
  return r;
}

CRS_EXPORT int execvpe(const char* file, char* const argv[],
                       char* const envp[]) {
  check_program(AT_FDCWD, file, 1);
  crs_before_exec(envp);
  int r = NEXT(execvpe)(file, argv, envp);
  crs_after_failed_exec();
  return r;
}

CRS_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  check_program(AT_FDCWD, path, 0);
  crs_before_exec(envp);
  int r = NEXT(fexecve)(fd, argv, envp);
  crs_after_failed_exec();
  return r;
}

CRS_EXPORT int execveat(int dirfd, const char* path, char* const argv[],
                        char* const envp[], int flags) {
  if (NEXT(execveat) == NULL) {
    errno = ENOSYS;
    return -1;
  }
  char self[64];
  const char* program = path;
  if (path != NULL && path[0] == '\0') { /* AT_EMPTY_PATH: dirfd itself */
    snprintf(self, sizeof self, "/proc/self/fd/%d", dirfd);
    program = self;
  }
  check_program(dirfd, program, 0);
  crs_before_exec(envp);
  int r = crs_real.execveat(dirfd, path, argv, envp, flags);
  crs_after_failed_exec();
  return r;
}

/* The execl family: the arguments after `arg0` up to NULL (and, for
 * execle, the environment after it) become an argument vector. */
static int count_args(va_list ap) {
  int n = 1;
  while (va_arg(ap, char*) != NULL) n++;
  return n;
}

#define CRS_COLLECT_ARGS(argv, arg0, ap, last_named, envp_out)  \
  va_list ap;                                                   \
  va_start(ap, last_named);                                     \
  va_list count_ap;                                             \
  va_copy(count_ap, ap);                                        \
  int argc_ = count_args(count_ap);                             \
  va_end(count_ap);                                             \
  char* argv[argc_ + 1];                                        \
  argv[0] = (char*)(arg0);                                      \
  for (int i = 1; i <= argc_; i++) argv[i] = va_arg(ap, char*); \
  envp_out;                                                     \
  va_end(ap)

CRS_EXPORT int execl(const char* path, const char* arg0, ...) {
  CRS_COLLECT_ARGS(argv, arg0, ap, arg0, (void)0);
  return execv(path, argv);
}

CRS_EXPORT int execlp(const char* file, const char* arg0, ...) {
  CRS_COLLECT_ARGS(argv, arg0, ap, arg0, (void)0);
  return execvp(file, argv);
}

CRS_EXPORT int execle(const char* path, const char* arg0, ...) {
  char* const* envp;
  CRS_COLLECT_ARGS(argv, arg0, ap, arg0, envp = va_arg(ap, char* const*));
  return execve(path, argv, envp);
}

/* ---- Children started without fork. */

CRS_EXPORT int posix_spawn(pid_t* pid, const char* path,
                           const posix_spawn_file_actions_t* actions,
                           const posix_spawnattr_t* attr, char* const argv[],
                           char* const envp[]) {
  check_program(AT_FDCWD, path, 0);
  crs_check_child_env(envp);
  return NEXT(posix_spawn)(pid, path, actions, attr, argv, envp);
}

CRS_EXPORT int posix_spawnp(pid_t* pid, const char* file,
                            const posix_spawn_file_actions_t* actions,
                            const posix_spawnattr_t* attr, char* const argv[],
                            char* const envp[]) {
  check_program(AT_FDCWD, file, 1);
  crs_check_child_env(envp);
  return NEXT(posix_spawnp)(pid, file, actions, attr, argv, envp);
}

CRS_EXPORT int system(const char* command) {
  crs_check_child_env(environ);
  return NEXT(system)(command);
}

CRS_EXPORT FILE* popen(const char* command, const char* mode) {
  crs_check_child_env(environ);
  return NEXT(popen)(command, mode);
}

/* A vfork child shares its parent's memory, and with it the shim's
 * descriptor table; fork is a valid vfork. */
CRS_EXPORT pid_t vfork(void) { return NEXT(fork)(); }

/* ---- Ways out. */

CRS_EXPORT void _exit(int status) {
  crs_flush();
  NEXT(exit_)(status);
  __builtin_unreachable();
}

CRS_EXPORT void _Exit(int status) {
  crs_flush();
  NEXT(Exit_)(status);
  __builtin_unreachable();
}

/* ---- syscall(): the calls the wrappers cover, made directly. */

static void unknown_if_watched(long fd) {
  if (fd < 0 || fd > INT32_MAX) return;
  int f = crs_fd_file((int)fd, NULL);
  if (f >= 0) crs_unknown(f);
}

static void before_syscall(long nr, const long* a) {
  switch (nr) {
    case SYS_exit_group:
      crs_flush();
      break;
    case SYS_execve:
      check_program(AT_FDCWD, (const char*)a[0], 0);
      crs_before_exec((char* const*)a[2]);
      break;
    case SYS_execveat:
      check_program((int)a[0], (const char*)a[1], 0);
      crs_before_exec((char* const*)a[3]);
      break;
    case SYS_read:
    case SYS_pread64:
    case SYS_readv:
    case SYS_preadv:
    case SYS_preadv2:
    case SYS_copy_file_range:
    case SYS_splice:
    case SYS_fallocate:
      unknown_if_watched(a[0]);
      break;
    case SYS_lseek:
      if (a[2] == SEEK_DATA || a[2] == SEEK_HOLE) unknown_if_watched(a[0]);
      break;
    case SYS_sendfile:
      unknown_if_watched(a[1]);
      break;
    case SYS_mmap:
      unknown_if_watched(a[4]);
      break;
    case SYS_io_submit:
    case SYS_io_uring_setup:
    case SYS_io_uring_enter:
    case SYS_fork:
    case SYS_vfork:
    case SYS_clone:
#ifdef SYS_clone3
    case SYS_clone3:
#endif
      /* Requests or children the shim cannot follow. */
      crs_unknown(-1);
      break;
    default:
      break;
  }
}

static void after_syscall(long nr, const long* a, long r) {
  switch (nr) {
    case SYS_execve:
    case SYS_execveat:
      crs_after_failed_exec();
      break;
    case SYS_open:
    case SYS_openat:
#ifdef SYS_openat2
    case SYS_openat2:
#endif
    case SYS_creat:
    case SYS_open_by_handle_at:
    case SYS_dup:
    case SYS_dup2:
    case SYS_dup3:
      if (r >= 0 && r <= INT32_MAX) crs_fd_forget((int)r);
      break;
    case SYS_fcntl:
      if (r >= 0 && r <= INT32_MAX) crs_fd_forget((int)r);
      if (a[0] >= 0 && a[0] <= INT32_MAX) crs_fd_forget((int)a[0]);
      break;
    case SYS_close:
      if (a[0] >= 0 && a[0] <= INT32_MAX) crs_fd_forget((int)a[0]);
      break;
#ifdef SYS_close_range
    case SYS_close_range:
      if (r == 0) crs_fd_forget_range((unsigned)a[0], (unsigned)a[1]);
      break;
#endif
    default:
      break;
  }
}

CRS_EXPORT long syscall(long nr, ...) {
  long a[6];
  va_list ap;
  va_start(ap, nr);
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  before_syscall(nr, a);
  long r = NEXT(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  int saved = errno;
  after_syscall(nr, a, r);
  errno = saved;
  return r;
}
