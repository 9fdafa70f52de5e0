// unified_cache: a thread's cache of free blocks of one size class, as a bounded array stack.
//
// The alternative to tls_sll. Both are per-thread, per-class, bounded LIFO caches touched by the
// owning thread only (plain loads and stores). The difference is where the links live:
//   tls_sll        links the free blocks through their first words: 16 bytes per class, but every
//                  push writes into the block and every pop reads from it (a cache miss when the
//                  block is cold).
//   unified_cache  keeps the block addresses in its own array: push and pop never touch a block's
//                  memory, and a refill can store freshly carved addresses without writing (or
//                  faulting in) the blocks. It costs 8 bytes per slot (1 KiB per class at the max).
// Order: LIFO. The last block pushed is the first popped; a chain (push_chain) or a carved range
// (push_range) is popped in its own order, first block first.
// Bound: `cap` slots. A push that fills the last slot returns true and the caller drains before
// pushing again, so blocks never pile up where the slab accounting cannot see them become free.
#ifndef HAK_UNIFIED_CACHE_H
#define HAK_UNIFIED_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef HAK_DEBUG_CHECKS
#include "platform.h"
#endif

#define UNIFIED_CACHE_MAX 128 // slots per class, hard bound

typedef struct {
    uint32_t count;                 // blocks in the cache: slots[0..count), top at count-1
    uint32_t cap;                   // bound, 1..UNIFIED_CACHE_MAX: push reports "full" at cap
    void *slots[UNIFIED_CACHE_MAX]; // block addresses; slots[count-1] is popped next
} unified_cache_t;

// An empty cache with bound `cap` (1 <= cap <= UNIFIED_CACHE_MAX; out of range is a fatal error
// in HAK_DEBUG_CHECKS builds and is clamped into range otherwise).
void unified_cache_init(unified_cache_t *c, uint32_t cap);

// Pop the most recently pushed block, or NULL when the cache is empty. Does not touch the block.
static inline __attribute__((always_inline)) void *unified_cache_pop(unified_cache_t *c) {
    uint32_t n = c->count;
    if (__builtin_expect(n == 0, 0)) return NULL;
    c->count = --n;
    return c->slots[n];
}

// Push one block (precondition: count < cap). Returns true when the cache has reached its bound:
// the caller must then drain before the next push. Does not touch the block.
static inline __attribute__((always_inline)) bool unified_cache_push(unified_cache_t *c, void *b) {
    uint32_t n = c->count;
#ifdef HAK_DEBUG_CHECKS
    if (n >= c->cap) hak_fatal("unified_cache: push into a full cache (%u/%u)", n, c->cap);
#endif
    c->slots[n++] = b;
    c->count = n;
    return n >= c->cap;
}

// Store a chain of n >= 1 blocks linked through their first words, first..last (last's link is
// not read). Precondition: count + n <= cap. Reads the links (the blocks are not written); pops
// then return first, then first's successor, ..., then last, then what was cached before.
void unified_cache_push_chain(unified_cache_t *c, void *first, void *last, uint32_t n);

// Store n blocks base, base + stride, ..., base + (n-1) * stride, e.g. freshly carved from a slab.
// Precondition: count + n <= cap. Touches no block; pops return base first, in address order.
void unified_cache_push_range(unified_cache_t *c, void *base, size_t stride, uint32_t n);

// Take up to n blocks off the top as a NULL-terminated chain first..last, linked through their
// first words in pop order (the top block first); returns its length (0: first and last are NULL).
// Writes each taken block's first word.
uint32_t unified_cache_pop_chain(unified_cache_t *c, uint32_t n, void **first, void **last);

static inline uint32_t unified_cache_count(const unified_cache_t *c) {
    return c->count;
}

#endif
