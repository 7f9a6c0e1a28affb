/*
 * An example crashenum oracle plugin (see oracles/crashenum_plugin.h): checks
 * that the image of the first device holds given bytes at a given offset,
 * e.g. a file system's magic number. A crash that leaves a torn or zeroed
 * super block fails it.
 *
 *   crashenum check TRACE --oracle=plugin:bazel-bin/examples/plugin/magic_oracle.so:1080=53ef
 *
 * ARGS is OFFSET=HEX: OFFSET in bytes (decimal, or hex with 0x), HEX the
 * expected bytes as 2 to 128 hex digits (1080=53ef: ext2/3/4's super block
 * magic 0xEF53, little endian). FAIL when the image holds other bytes there
 * or is too short; ERROR when it cannot be read.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oracles/crashenum_plugin.h"

#define MAGIC_MAX_BYTES 64

struct magic {
  uint64_t offset;
  size_t size;
  unsigned char bytes[MAGIC_MAX_BYTES];
};

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void to_hex(const unsigned char* bytes, size_t n, char* out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  out[2 * n] = '\0';
}

static void* magic_create(const char* args, char* error, size_t error_size) {
  const char* eq = strchr(args, '=');
  char* end = NULL;
  errno = 0;
  unsigned long long offset = strtoull(args, &end, 0);
  if (eq == NULL || end != eq || eq == args || errno != 0 || args[0] == '-') {
    snprintf(error, error_size,
             "expected OFFSET=HEX (e.g. 1080=53ef), got '%s'", args);
    return NULL;
  }
  const char* hex = eq + 1;
  size_t digits = strlen(hex);
  if (digits == 0 || digits % 2 != 0 || digits / 2 > MAGIC_MAX_BYTES) {
    snprintf(error, error_size,
             "expected an even number of hex digits (2 to %d) after '=', "
             "got '%s'",
             2 * MAGIC_MAX_BYTES, hex);
    return NULL;
  }
  struct magic* m = calloc(1, sizeof(*m));
  if (m == NULL) {
    snprintf(error, error_size, "out of memory");
    return NULL;
  }
  m->offset = offset;
  m->size = digits / 2;
  for (size_t i = 0; i < m->size; ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      snprintf(error, error_size, "'%s' is not hex", hex);
      free(m);
      return NULL;
    }
    m->bytes[i] = (unsigned char)(hi << 4 | lo);
  }
  return m;
}

static int magic_check(void* instance,
                       const struct crashenum_check_request* request,
                       char* message, size_t message_size) {
  const struct magic* m = instance;
  if (request->num_devices == 0) {
    snprintf(message, message_size, "the crash state has no images");
    return CRASHENUM_ERROR;
  }
  int fd = open(request->image_paths[0], O_RDONLY);
  if (fd < 0) {
    snprintf(message, message_size, "cannot open the image: %s",
             strerror(errno));
    return CRASHENUM_ERROR;
  }
  unsigned char found[MAGIC_MAX_BYTES];
  size_t got = 0;
  while (got < m->size) {
    ssize_t n = pread(fd, found + got, m->size - got, (off_t)(m->offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      snprintf(message, message_size, "cannot read the image: %s",
               strerror(errno));
      close(fd);
      return CRASHENUM_ERROR;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  close(fd);
  char expected_hex[2 * MAGIC_MAX_BYTES + 1];
  to_hex(m->bytes, m->size, expected_hex);
  if (got < m->size) {
    snprintf(message, message_size,
             "device %s: the image ends before offset %llu + %zu (expected "
             "%s there)",
             request->device_names[0], (unsigned long long)m->offset, m->size,
             expected_hex);
    return CRASHENUM_FAIL;
  }
  if (memcmp(found, m->bytes, m->size) != 0) {
    char found_hex[2 * MAGIC_MAX_BYTES + 1];
    to_hex(found, m->size, found_hex);
    snprintf(message, message_size,
             "device %s: bytes at offset %llu are %s, expected %s",
             request->device_names[0], (unsigned long long)m->offset,
             found_hex, expected_hex);
    return CRASHENUM_FAIL;
  }
  return CRASHENUM_PASS;
}

static void magic_destroy(void* instance) { free(instance); }

static const struct crashenum_oracle_plugin magic_plugin = {
    CRASHENUM_ORACLE_PLUGIN_ABI_VERSION,
    "magic",
    0, /* reads everything, writes nothing, no root, deterministic */
    magic_create,
    magic_check,
    magic_destroy,
};

const struct crashenum_oracle_plugin* crashenum_oracle_plugin_v1(void) {
  return &magic_plugin;
}
