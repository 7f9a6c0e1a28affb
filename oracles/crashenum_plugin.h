/*
 * crashenum oracle plugins: the C ABI (version 1).
 *
 * A plugin is a shared library that judges crash images. It is named on the
 * command line as --oracle=plugin:PATH[:ARGS] and exports one function,
 *
 *   const struct crashenum_oracle_plugin* crashenum_oracle_plugin_v1(void);
 *
 * returning a pointer to a static description of the plugin, valid until the
 * library is unloaded. crashenum loads the library once (dlopen with
 * RTLD_NOW | RTLD_LOCAL), checks abi_version, then:
 *
 * - calls create(ARGS) once, in the crashenum process, to make an instance;
 * - for each crash image, forks a child process that calls check() on that
 *   instance and exits. check() therefore never changes what the instance
 *   holds for later checks: a plugin keeps no state between checks. The
 *   child runs in its own process group, with stdin from /dev/null, with
 *   stdout and stderr collected (their last lines accompany ERROR verdicts),
 *   in a private scratch directory (also its TMPDIR) that is removed after
 *   the check, with the memory (RLIMIT_AS) and file size (RLIMIT_FSIZE)
 *   limits of the oracle options and, when it can be made, without network.
 *   Past the oracle timeout the child's process group is killed (ERROR "timed
 *   out"); a crash (a signal) is ERROR naming the signal. The child is forked
 *   from a multithreaded process: check() may use the C library (memory,
 *   files, stdio) but must not wait for other threads or locks of the host;
 *   it may start processes of its own.
 * - calls destroy(instance) once when the oracle is destroyed.
 *
 * The verdict of a check must depend only on the image bytes unless the
 * plugin says CRASHENUM_TRAIT_NONDETERMINISTIC.
 *
 * This header compiles as C (C99 and later) and C++.
 */
#ifndef CRASHENUM_ORACLES_CRASHENUM_PLUGIN_H_
#define CRASHENUM_ORACLES_CRASHENUM_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes; a plugin puts it in abi_version. */
#define CRASHENUM_ORACLE_PLUGIN_ABI_VERSION 1

/* The name of the function a plugin exports. */
#define CRASHENUM_ORACLE_PLUGIN_SYMBOL "crashenum_oracle_plugin_v1"

/* Verdicts check() returns. */
#define CRASHENUM_PASS 0  /* the image is consistent */
#define CRASHENUM_FAIL 1  /* the image violates what the plugin checks */
#define CRASHENUM_ERROR 2 /* the plugin could not judge the image */

/* Trait flags (OR them into traits). */
/* Judges only file system metadata. */
#define CRASHENUM_TRAIT_METADATA_ONLY 0x1u
/* May write to the image files it is given. */
#define CRASHENUM_TRAIT_MUTATES_IMAGE 0x2u
/* Needs to run as root (loading it as another user fails). */
#define CRASHENUM_TRAIT_NEEDS_ROOT 0x4u
/* Its verdict may depend on more than the image bytes (the clock, ...). */
#define CRASHENUM_TRAIT_NONDETERMINISTIC 0x8u

/* One crash state to judge. Every pointer is valid during the check only. */
struct crashenum_check_request {
  /* The state ID, e.g. "e120-u512-n3-5"; `crashenum materialize --state=ID`
   * rebuilds the image. */
  const char* state_id;
  /* The crash happens just before this trace event. */
  uint64_t crash_event;
  /* One entry per trace device, in device order. */
  size_t num_devices;
  const char* const* device_names;
  /* Paths of private image files, one per device; the plugin may read them
   * and, with CRASHENUM_TRAIT_MUTATES_IMAGE, modify them. */
  const char* const* image_paths;
};

struct crashenum_oracle_plugin {
  /* CRASHENUM_ORACLE_PLUGIN_ABI_VERSION; other values are refused. */
  uint32_t abi_version;
  /* A short name for messages, e.g. "magic". */
  const char* name;
  /* CRASHENUM_TRAIT_* flags. */
  uint32_t traits;
  /* Makes an instance from ARGS ("" when the spec has none). Returns a
   * non-NULL instance, or NULL after writing why (a NUL-terminated string of
   * at most error_size bytes, NUL included) to `error`. */
  void* (*create)(const char* args, char* error, size_t error_size);
  /* Judges one crash state. Returns CRASHENUM_PASS, CRASHENUM_FAIL or
   * CRASHENUM_ERROR, and may write a NUL-terminated message of at most
   * message_size bytes (NUL included) to `message` (it starts empty): why,
   * for FAIL and ERROR. */
  int (*check)(void* instance, const struct crashenum_check_request* request,
               char* message, size_t message_size);
  /* Frees an instance create() made. May be NULL. */
  void (*destroy)(void* instance);
};

/* What a plugin exports (see the top of this file). */
const struct crashenum_oracle_plugin* crashenum_oracle_plugin_v1(void);
typedef const struct crashenum_oracle_plugin* (*crashenum_oracle_plugin_v1_fn)(
    void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRASHENUM_ORACLES_CRASHENUM_PLUGIN_H_ */
