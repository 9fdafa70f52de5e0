// thread cache: the box the preset chose as the heap's per-class cache, behind one set of names.
//
//   HAK_THREAD_CACHE_TLS_SLL        boxes/tls_sll: blocks linked through their first word (default)
//   HAK_THREAD_CACHE_UNIFIED_CACHE  boxes/unified_cache: an array stack of block pointers
//   HAK_THREAD_CACHE_NONE           no cache: every malloc and free goes through the slab (the
//                                   tls_sll with room for one block, refilled one block at a time)
//
// The choice is made at compile time (CMake option HAKMEM_THREAD_CACHE): no indirection is left
// on the fast path.
#ifndef HAK_THREAD_CACHE_H
#define HAK_THREAD_CACHE_H

#include "platform.h"

#define HAK_THREAD_CACHE_NONE 0
#define HAK_THREAD_CACHE_TLS_SLL 1
#define HAK_THREAD_CACHE_UNIFIED_CACHE 2
#ifndef HAK_THREAD_CACHE
#define HAK_THREAD_CACHE HAK_THREAD_CACHE_TLS_SLL
#endif

// Whether whole batches pass between threads through the batch depots (depots.h): not without a
// cache, whose batches would be single blocks.
#define TC_USES_DEPOTS (HAK_THREAD_CACHE != HAK_THREAD_CACHE_NONE)

// The size of a heap's per-class entry: the cache and 16 bytes of the heap's own (heap.h checks
// it; size_class.c's table of entry offsets is made with it).
#define HAK_CLASS_ENTRY_SIZE (sizeof(tc_t) + 16)

// The last block of a NULL-terminated chain (one walk over its links), for a tc_fill whose caller
// does not know it.
HAK_INLINE void *tc_chain_last(void *first) {
    void *last = first;
    while (*(void **)last != NULL) last = *(void **)last;
    return last;
}

#if HAK_THREAD_CACHE == HAK_THREAD_CACHE_UNIFIED_CACHE
#include "unified_cache.h"
typedef unified_cache_t tc_t;
#define TC_NAME "unified_cache"
HAK_INLINE void tc_init(tc_t *c, uint32_t cap) { unified_cache_init(c, cap); }
HAK_INLINE void *tc_pop(tc_t *c) { return unified_cache_pop(c); }
HAK_INLINE bool tc_push(tc_t *c, void *b) { return unified_cache_push(c, b); }
// Would a push leave the cache below its bound? (Never for a bound of 0: the empty heap's.)
HAK_INLINE bool tc_has_room(const tc_t *c) { return c->count + 1 < c->cap; }
// The block the next pop returns, or NULL.
HAK_INLINE void *tc_peek(const tc_t *c) { return c->count ? c->slots[c->count - 1] : NULL; }
// Whether free's fast path compares the block with the cache's front (heap.h): here the front is
// a load and a branch of its own (+13 instructions per malloc+free pair), so only the slow path does.
#define TC_FRONT_IS_CHEAP 0
// Relaxed atomic read: statistics may read another thread's count.
HAK_INLINE uint32_t tc_count(const tc_t *c) { return __atomic_load_n(&c->count, __ATOMIC_RELAXED); }
// Add a NULL-terminated chain of n blocks, first..last (count + n <= cap); last NULL: not known.
HAK_INLINE void tc_fill(tc_t *c, void *first, void *last, uint32_t n) {
    if (last == NULL) last = tc_chain_last(first);
    unified_cache_push_chain(c, first, last, n);
}
// Add n freshly carved blocks (base, base + stride, ...), base first: the blocks' memory is not
// touched.
HAK_INLINE void tc_fill_carved(tc_t *c, char *base, size_t stride, uint32_t n) {
    unified_cache_push_range(c, base, stride, n);
}
// Take up to n blocks in pop order as a NULL-terminated chain first..last; returns how many.
HAK_INLINE uint32_t tc_pop_chain(tc_t *c, uint32_t n, void **first, void **last) {
    return unified_cache_pop_chain(c, n, first, last);
}
// The largest bound the box can hold.
#define TC_CAP_LIMIT UNIFIED_CACHE_MAX
// Change the bound (at most TC_CAP_LIMIT); a cache above it drains at its next push.
HAK_INLINE void tc_set_cap(tc_t *c, uint32_t cap) { c->cap = cap; }
#else
#include "tls_sll.h"
typedef tls_sll_t tc_t;
#if HAK_THREAD_CACHE == HAK_THREAD_CACHE_NONE
#define TC_NAME "none"
#else
#define TC_NAME "tls_sll"
#endif
HAK_INLINE void tc_init(tc_t *c, uint32_t cap) { tls_sll_init(c, cap); }
HAK_INLINE void *tc_pop(tc_t *c) { return tls_sll_pop(c); }
HAK_INLINE bool tc_push(tc_t *c, void *b) { return tls_sll_push(c, b); }
// Would a push leave the list below its bound? (Never for a bound of 0: the empty heap's.)
HAK_INLINE bool tc_has_room(const tc_t *c) { return c->count + 1 < c->cap; }
// The block the next pop returns, or NULL.
HAK_INLINE void *tc_peek(const tc_t *c) { return c->head; }
// The push loads the head anyway: comparing the freed block with it costs a compare.
#define TC_FRONT_IS_CHEAP 1
// Relaxed atomic read: statistics may read another thread's count.
HAK_INLINE uint32_t tc_count(const tc_t *c) { return __atomic_load_n(&c->count, __ATOMIC_RELAXED); }
// Add a NULL-terminated chain of n blocks, first..last, in front; last NULL: not known. O(1) into
// an empty cache (the chain becomes the list, its last block is not touched); else the last
// block is linked to the list, found by a walk if not known.
HAK_INLINE void tc_fill(tc_t *c, void *first, void *last, uint32_t n) {
    if (c->head != NULL) {
        if (last == NULL) last = tc_chain_last(first);
        *(void **)last = c->head;
    }
    c->head = first;
    c->count += n;
}
// Add n freshly carved blocks (base, base + stride, ...) in front, base first: they are linked
// through their first words.
HAK_INLINE void tc_fill_carved(tc_t *c, char *base, size_t stride, uint32_t n) {
    char *b = base;
    for (uint32_t i = 1; i < n; i++, b += stride) *(void **)b = b + stride;
    *(void **)b = c->head;
    c->head = base;
    c->count += n;
}
// Take up to n blocks in pop order as a NULL-terminated chain first..last; returns how many.
HAK_INLINE uint32_t tc_pop_chain(tc_t *c, uint32_t n, void **first, void **last) {
    return tls_sll_pop_chain(c, n, first, last);
}
// The largest bound the box can hold.
#define TC_CAP_LIMIT UINT32_MAX
// Change the bound; a list above it drains at its next push.
HAK_INLINE void tc_set_cap(tc_t *c, uint32_t cap) { c->cap = cap; }
#endif

#endif
