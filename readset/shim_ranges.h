/* A set of byte ranges [b, e), kept disjoint and not adjacent, as a treap
 * (a binary search tree balanced by random priorities) ordered by offset:
 * adding a range, or the parts of a range another set lacks, takes
 * O(log n) expected time plus the ranges it merges or walks over, whatever
 * the order of the calls.
 *
 * Not thread safe: the shim holds its lock around every call. Private to
 * libcrashenum_readset.so. */
#ifndef CRASHENUM_READSET_SHIM_RANGES_H_
#define CRASHENUM_READSET_SHIM_RANGES_H_

#include <stddef.h>
#include <stdint.h>

#include "readset/shim_core.h"

struct crs_range_node;

struct crs_ranges {
  struct crs_range_node* root; /* owned */
  size_t n;                    /* number of ranges */
};

/* Adds [b, e) (no-op unless b < e), merging it with the ranges it overlaps
 * or touches. Returns 0, or -1 when memory ran out (the set then lacks
 * some of the bytes it held or was given). */
CRS_HIDDEN int crs_ranges_add(struct crs_ranges* s, uint64_t b, uint64_t e);

/* Adds to `out` the parts of [b, e) that `minus` does not hold. Returns 0,
 * or -1 when memory ran out. `out` and `minus` are different sets. */
CRS_HIDDEN int crs_ranges_add_difference(struct crs_ranges* out,
                                         const struct crs_ranges* minus,
                                         uint64_t b, uint64_t e);

/* Calls fn(ctx, b, e) for every range, in increasing order. */
CRS_HIDDEN void crs_ranges_visit(const struct crs_ranges* s,
                                 void (*fn)(void* ctx, uint64_t b, uint64_t e),
                                 void* ctx);

/* Empties the set and frees its memory. */
CRS_HIDDEN void crs_ranges_clear(struct crs_ranges* s);

#endif /* CRASHENUM_READSET_SHIM_RANGES_H_ */
