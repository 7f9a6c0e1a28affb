/* readset_probe FILE OP...: opens FILE read-write and performs each OP on
 * it in order, so that tests can run known access patterns under the
 * read-set shim. Offsets and lengths are decimal bytes:
 *
 *   pread:O:L      pread of L bytes at O
 *   read:O:L       lseek to O, then read of L bytes
 *   readv:O:A,B    lseek to O, then readv into buffers of A and B bytes
 *   preadv:O:A,B   preadv at O into buffers of A and B bytes
 *   preadv2cur:O:L lseek to O, then preadv2 at offset -1 (the current one)
 *   dup:O:L        dup the descriptor, read:O:L through the copy
 *   dup2:O:L       the same through dup2 to descriptor 100
 *   dup3:O:L       the same through dup3 to descriptor 101
 *   fcntl:O:L      the same through fcntl(F_DUPFD_CLOEXEC)
 *   proc:O:L       open /proc/self/fd/N of the descriptor, pread through it
 *   direct:O:L     open FILE with O_DIRECT, pread of L bytes at O into an
 *                  aligned buffer; exits 77 when O_DIRECT is refused
 *   mmap:O:L       map L bytes at O read-only, touch its first byte, unmap
 *   sendfile:O:L   sendfile of L bytes at O to /dev/null
 *   copy:O:L       copy_file_range of L bytes at O to an unnamed file
 *   pwrite:O:L     pwrite of L bytes 'w' at O
 *   write:O:L      lseek to O, then write of L bytes
 *   ftruncate:L    ftruncate to L bytes
 *   punch:O:L      fallocate(PUNCH_HOLE | KEEP_SIZE) of L bytes at O
 *   fopen          fopen FILE for reading, fread 16 bytes, fclose
 *   seekdata       lseek(SEEK_DATA) from 0
 *   fork:O:L       a child does pread:O:L and returns from main; waited for
 *   forkexit:O:L   the same, the child leaving through _exit
 *   exec           runs this program again on FILE with the remaining OPs
 *   kill           ends this process with SIGKILL
 *   many:N:L       N preads of L bytes at pseudo-random offsets, L-aligned
 *   threads:N:L    lseek to 0, then 4 threads each read N times L bytes
 *                  through the one descriptor (sharing its offset)
 *
 * Exits 0, or 1 with a message on stderr when an operation fails. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* g_path;
static char g_buf[1 << 20];

static void fail(const char* op) {
  fprintf(stderr, "readset_probe: %s: %s\n", op, strerror(errno));
  exit(1);
}

static void check(long r, const char* op) {
  if (r < 0) fail(op);
}

static void seek_to(int fd, long off, const char* op) {
  check(lseek(fd, off, SEEK_SET), op);
}

/* Reads of the operations that go through another descriptor. */
static void read_at(int fd, long off, long len, const char* op) {
  seek_to(fd, off, op);
  check(read(fd, g_buf, (size_t)len), op);
}

static int open_direct(void) {
  int fd = open(g_path, O_RDONLY | O_DIRECT);
  if (fd < 0 && errno == EINVAL) {
    fprintf(stderr, "readset_probe: O_DIRECT refused by this file system\n");
    exit(77);
  }
  check(fd, "open O_DIRECT");
  return fd;
}

struct reader {
  int fd;
  long count, len;
  char buf[65536];
};

static void* read_many(void* arg) {
  struct reader* r = arg;
  for (long i = 0; i < r->count; i++) {
    if (read(r->fd, r->buf, (size_t)r->len) != r->len) fail("threads");
  }
  return NULL;
}

static void run(int fd, const char* op, long a, long b, const char* arg) {
  if (strcmp(op, "pread") == 0) {
    check(pread(fd, g_buf, (size_t)b, a), op);
  } else if (strcmp(op, "read") == 0) {
    read_at(fd, a, b, op);
  } else if (strcmp(op, "readv") == 0 || strcmp(op, "preadv") == 0) {
    long x = 0, y = 0;
    if (sscanf(arg, "%ld,%ld", &x, &y) != 2) {
      errno = EINVAL;
      fail(op);
    }
    struct iovec iov[2] = {{g_buf, (size_t)x}, {g_buf + x, (size_t)y}};
    if (op[0] == 'r') {
      seek_to(fd, a, op);
      check(readv(fd, iov, 2), op);
    } else {
      check(preadv(fd, iov, 2, a), op);
    }
  } else if (strcmp(op, "preadv2cur") == 0) {
    struct iovec iov = {g_buf, (size_t)b};
    seek_to(fd, a, op);
    check(preadv2(fd, &iov, 1, -1, 0), op);
  } else if (strcmp(op, "dup") == 0) {
    int d = dup(fd);
    check(d, op);
    read_at(d, a, b, op);
    close(d);
  } else if (strcmp(op, "dup2") == 0) {
    check(dup2(fd, 100), op);
    read_at(100, a, b, op);
    close(100);
  } else if (strcmp(op, "dup3") == 0) {
    check(dup3(fd, 101, O_CLOEXEC), op);
    read_at(101, a, b, op);
    close(101);
  } else if (strcmp(op, "fcntl") == 0) {
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    check(d, op);
    read_at(d, a, b, op);
    close(d);
  } else if (strcmp(op, "proc") == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int d = open(path, O_RDONLY);
    check(d, op);
    check(pread(d, g_buf, (size_t)b, a), op);
    close(d);
  } else if (strcmp(op, "direct") == 0) {
    int d = open_direct();
    void* buf = NULL;
    if (posix_memalign(&buf, 4096, (size_t)b) != 0) fail(op);
    ssize_t r = pread(d, buf, (size_t)b, a);
    if (r < 0 && errno == EINVAL) {
      fprintf(stderr, "readset_probe: O_DIRECT read refused\n");
      exit(77);
    }
    check(r, op);
    free(buf);
    close(d);
  } else if (strcmp(op, "mmap") == 0) {
    volatile char* p =
        mmap(NULL, (size_t)b, PROT_READ, MAP_SHARED, fd, (off_t)a);
    if (p == MAP_FAILED) fail(op);
    (void)p[0];
    check(munmap((void*)p, (size_t)b), op);
  } else if (strcmp(op, "sendfile") == 0) {
    int out = open("/dev/null", O_WRONLY);
    check(out, op);
    off_t off = a;
    check(sendfile(out, fd, &off, (size_t)b), op);
    close(out);
  } else if (strcmp(op, "copy") == 0) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", g_path);
    char* slash = strrchr(dir, '/');
    if (slash != NULL) *slash = '\0';
    int out = open(slash != NULL ? dir : ".", O_TMPFILE | O_RDWR, 0600);
    check(out, op);
    off64_t off = a;
    check(copy_file_range(fd, &off, out, NULL, (size_t)b, 0), op);
    close(out);
  } else if (strcmp(op, "pwrite") == 0 || strcmp(op, "write") == 0) {
    memset(g_buf, 'w', (size_t)b);
    if (op[0] == 'p') {
      check(pwrite(fd, g_buf, (size_t)b, a), op);
    } else {
      seek_to(fd, a, op);
      check(write(fd, g_buf, (size_t)b), op);
    }
  } else if (strcmp(op, "ftruncate") == 0) {
    check(ftruncate(fd, a), op);
  } else if (strcmp(op, "punch") == 0) {
    check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a, b), op);
  } else if (strcmp(op, "fopen") == 0) {
    FILE* fp = fopen(g_path, "r");
    if (fp == NULL) fail(op);
    if (fread(g_buf, 1, 16, fp) != 16) fail(op);
    fclose(fp);
  } else if (strcmp(op, "seekdata") == 0) {
    check(lseek(fd, 0, SEEK_DATA), op);
  } else if (strcmp(op, "fork") == 0 || strcmp(op, "forkexit") == 0) {
    fflush(NULL);
    pid_t pid = fork();
    check(pid, op);
    if (pid == 0) {
      if (pread(fd, g_buf, (size_t)b, a) < 0) _exit(1);
      if (op[4] == 'e') _exit(0);
      exit(0);
    }
    int status = 0;
    check(waitpid(pid, &status, 0), op);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      errno = ECHILD;
      fail(op);
    }
  } else if (strcmp(op, "threads") == 0) {
    static struct reader readers[4];
    pthread_t threads[4];
    if (b > (long)sizeof readers[0].buf) b = sizeof readers[0].buf;
    seek_to(fd, 0, op);
    for (int t = 0; t < 4; t++) {
      readers[t].fd = fd;
      readers[t].count = a;
      readers[t].len = b;
      if (pthread_create(&threads[t], NULL, read_many, &readers[t]) != 0) {
        fail(op);
      }
    }
    for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
  } else if (strcmp(op, "kill") == 0) {
    raise(SIGKILL);
  } else if (strcmp(op, "many") == 0) {
    struct stat st;
    check(fstat(fd, &st), op);
    uint64_t x = 88172645463325252ull;
    long slots = st.st_size / b;
    for (long i = 0; i < a && slots > 0; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      check(pread(fd, g_buf, (size_t)b, (off_t)(x % (uint64_t)slots) * b), op);
    }
  } else {
    fprintf(stderr, "readset_probe: unknown operation '%s'\n", op);
    exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: readset_probe FILE OP...\n");
    return 1;
  }
  g_path = argv[1];
  int fd = open(g_path, O_RDWR);
  check(fd, g_path);
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "exec") == 0) {
      argv[i] = argv[1];
      argv[i - 1] = argv[0];
      execv("/proc/self/exe", argv + i - 1);
      fail("exec");
    }
    char op[32] = "";
    char arg[64] = "";
    long a = 0, b = 0;
    const char* colon = strchr(argv[i], ':');
    size_t len = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
    if (len >= sizeof op) len = sizeof op - 1;
    memcpy(op, argv[i], len);
    if (colon != NULL) {
      a = strtol(colon + 1, NULL, 10);
      const char* second = strchr(colon + 1, ':');
      if (second != NULL) {
        b = strtol(second + 1, NULL, 10);
        snprintf(arg, sizeof arg, "%s", second + 1);
      }
    }
    run(fd, op, a, b, arg);
  }
  return 0;
}
