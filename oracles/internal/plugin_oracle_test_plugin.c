/*
 * A plugin for plugin_oracle_test: ARGS names how check() behaves. Built
 * several times: with TEST_PLUGIN_ABI (a wrong ABI version), with
 * TEST_PLUGIN_NO_ENTRY (no entry point), with TEST_PLUGIN_TRAITS.
 */
#define _GNU_SOURCE

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "oracles/crashenum_plugin.h"

#ifndef TEST_PLUGIN_ABI
#define TEST_PLUGIN_ABI CRASHENUM_ORACLE_PLUGIN_ABI_VERSION
#endif
#ifndef TEST_PLUGIN_TRAITS
#define TEST_PLUGIN_TRAITS 0
#endif

struct instance {
  char args[256];
  int checks; /* incremented by each check (in its own child) */
};

static void* test_create(const char* args, char* error, size_t error_size) {
  if (strcmp(args, "fail-create") == 0) {
    snprintf(error, error_size, "create failed as asked");
    return NULL;
  }
  struct instance* in = calloc(1, sizeof(*in));
  snprintf(in->args, sizeof(in->args), "%s", args);
  return in;
}

static int test_check(void* instance,
                      const struct crashenum_check_request* r, char* message,
                      size_t size) {
  struct instance* in = instance;
  const char* a = in->args;
  ++in->checks;
  if (strcmp(a, "pass") == 0) return CRASHENUM_PASS;
  if (strcmp(a, "fail") == 0) {
    snprintf(message, size, "failing as asked");
    return CRASHENUM_FAIL;
  }
  if (strcmp(a, "error") == 0) {
    snprintf(message, size, "erroring as asked");
    return CRASHENUM_ERROR;
  }
  if (strcmp(a, "crash") == 0) {
    printf("about to crash\n");
    fflush(stdout);
    raise(SIGSEGV);
  }
  if (strcmp(a, "hang") == 0) {
    for (;;) pause();
  }
  if (strncmp(a, "orphan:", 7) == 0) {
    /* Leaves a process behind that writes its pid to the file a+7. */
    pid_t pid = fork();
    if (pid == 0) {
      FILE* f = fopen(a + 7, "w");
      fprintf(f, "%d\n", (int)getpid());
      fclose(f);
      for (;;) pause();
    }
    while (access(a + 7, F_OK) != 0) usleep(1000);
    usleep(50000);
    return CRASHENUM_PASS;
  }
  if (strcmp(a, "exit") == 0) exit(3);
  if (strcmp(a, "bad-verdict") == 0) {
    snprintf(message, size, "seven");
    return 7;
  }
  if (strcmp(a, "long-message") == 0) {
    memset(message, 'x', size);
    return CRASHENUM_FAIL; /* not terminated: the host cuts it */
  }
  if (strcmp(a, "request") == 0) {
    char cwd[1024];
    const char* tmpdir = getenv("TMPDIR");
    int private_dir = getcwd(cwd, sizeof(cwd)) != NULL && tmpdir != NULL &&
                      strcmp(cwd, tmpdir) == 0 && strstr(cwd, "/plugin-");
    int n = snprintf(message, size, "state=%s event=%llu devices=%zu",
                     r->state_id, (unsigned long long)r->crash_event,
                     r->num_devices);
    for (size_t i = 0; i < r->num_devices && n >= 0 && (size_t)n < size; ++i) {
      n += snprintf(message + n, size - n, " %s=%s", r->device_names[i],
                    r->image_paths[i]);
    }
    if (n >= 0 && (size_t)n < size) {
      snprintf(message + n, size - n, " private_dir=%d", private_dir);
    }
    return CRASHENUM_FAIL;
  }
  if (strcmp(a, "limits") == 0) {
    struct rlimit as, fsize;
    getrlimit(RLIMIT_AS, &as);
    getrlimit(RLIMIT_FSIZE, &fsize);
    snprintf(message, size, "as=%llu fsize=%llu",
             (unsigned long long)as.rlim_cur,
             (unsigned long long)fsize.rlim_cur);
    return CRASHENUM_FAIL;
  }
  if (strcmp(a, "count") == 0) {
    snprintf(message, size, "check number %d", in->checks);
    return CRASHENUM_FAIL;
  }
  if (strcmp(a, "noisy") == 0) {
    for (int i = 0; i < 100000; ++i) printf("line %d\n", i);
    printf("last words\n");
    fflush(stdout);
    abort();
  }
  snprintf(message, size, "unknown behaviour '%s'", a);
  return CRASHENUM_ERROR;
}

static void test_destroy(void* instance) { free(instance); }

static const struct crashenum_oracle_plugin test_plugin = {
    TEST_PLUGIN_ABI, "test", TEST_PLUGIN_TRAITS,
    test_create,     test_check, test_destroy,
};

#ifndef TEST_PLUGIN_NO_ENTRY
const struct crashenum_oracle_plugin* crashenum_oracle_plugin_v1(void) {
  return &test_plugin;
}
#else
const struct crashenum_oracle_plugin* some_other_entry(void) {
  return &test_plugin;
}
#endif
