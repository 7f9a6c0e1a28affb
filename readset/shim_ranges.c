#include "readset/shim_ranges.h"

#include <stdlib.h>

struct crs_range_node {
  uint64_t b, e;
  uint32_t priority;
  struct crs_range_node *left, *right;
};

/* Priorities: a xorshift sequence; only their spread matters. Callers
 * hold the shim's lock. */
static uint32_t next_priority(void) {
  static uint32_t x = 2463534242u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

/* Splits `t` into the ranges that end before x (not touching it) and the
 * rest. */
static void split_ending_before(struct crs_range_node* t, uint64_t x,
                                struct crs_range_node** l,
                                struct crs_range_node** r) {
  if (t == NULL) {
    *l = *r = NULL;
  } else if (t->e < x) {
    split_ending_before(t->right, x, &t->right, r);
    *l = t;
  } else {
    split_ending_before(t->left, x, l, &t->left);
    *r = t;
  }
}

/* Splits `t` into the ranges that begin at or before x and the rest. */
static void split_beginning_by(struct crs_range_node* t, uint64_t x,
                               struct crs_range_node** l,
                               struct crs_range_node** r) {
  if (t == NULL) {
    *l = *r = NULL;
  } else if (t->b <= x) {
    split_beginning_by(t->right, x, &t->right, r);
    *l = t;
  } else {
    split_beginning_by(t->left, x, l, &t->left);
    *r = t;
  }
}

/* Joins two treaps whose ranges all lie before those of the other. */
static struct crs_range_node* join(struct crs_range_node* a,
                                   struct crs_range_node* b) {
  if (a == NULL) return b;
  if (b == NULL) return a;
  if (a->priority > b->priority) {
    a->right = join(a->right, b);
    return a;
  }
  b->left = join(a, b->left);
  return b;
}

static size_t free_tree(struct crs_range_node* t) {
  if (t == NULL) return 0;
  size_t n = 1 + free_tree(t->left) + free_tree(t->right);
  free(t);
  return n;
}

int crs_ranges_add(struct crs_ranges* s, uint64_t b, uint64_t e) {
  if (b >= e) return 0;
  struct crs_range_node *before, *rest, *merged, *after;
  split_ending_before(s->root, b, &before, &rest);
  split_beginning_by(rest, e, &merged, &after);
  if (merged != NULL) {
    const struct crs_range_node* first = merged;
    while (first->left != NULL) first = first->left;
    const struct crs_range_node* last = merged;
    while (last->right != NULL) last = last->right;
    if (first->b < b) b = first->b;
    if (last->e > e) e = last->e;
    s->n -= free_tree(merged);
  }
  struct crs_range_node* node = malloc(sizeof *node);
  if (node == NULL) {
    s->root = join(before, after);
    return -1;
  }
  node->b = b;
  node->e = e;
  node->priority = next_priority();
  node->left = node->right = NULL;
  s->root = join(join(before, node), after);
  s->n++;
  return 0;
}

/* Walks the ranges of `t` that overlap [b, e) in order, adding to `out`
 * the gaps between them from *cur on. */
static int add_gaps(struct crs_ranges* out, const struct crs_range_node* t,
                    uint64_t b, uint64_t e, uint64_t* cur) {
  if (t == NULL) return 0;
  if (t->e > b && add_gaps(out, t->left, b, e, cur) != 0) return -1;
  if (t->e > b && t->b < e) {
    if (t->b > *cur && crs_ranges_add(out, *cur, t->b) != 0) return -1;
    if (t->e > *cur) *cur = t->e;
  }
  if (t->b < e) return add_gaps(out, t->right, b, e, cur);
  return 0;
}

int crs_ranges_add_difference(struct crs_ranges* out,
                              const struct crs_ranges* minus, uint64_t b,
                              uint64_t e) {
  if (b >= e) return 0;
  uint64_t cur = b;
  if (add_gaps(out, minus->root, b, e, &cur) != 0) return -1;
  return cur < e ? crs_ranges_add(out, cur, e) : 0;
}

static void visit(const struct crs_range_node* t,
                  void (*fn)(void*, uint64_t, uint64_t), void* ctx) {
  for (; t != NULL; t = t->right) {
    visit(t->left, fn, ctx);
    fn(ctx, t->b, t->e);
  }
}

void crs_ranges_visit(const struct crs_ranges* s,
                      void (*fn)(void* ctx, uint64_t b, uint64_t e),
                      void* ctx) {
  visit(s->root, fn, ctx);
}

void crs_ranges_clear(struct crs_ranges* s) {
  free_tree(s->root);
  s->root = NULL;
  s->n = 0;
}
