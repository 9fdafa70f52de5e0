#include "unified_cache.h"

#include "platform.h"

void unified_cache_init(unified_cache_t *c, uint32_t cap) {
#ifdef HAK_DEBUG_CHECKS
    if (cap == 0 || cap > UNIFIED_CACHE_MAX)
        hak_fatal("unified_cache: cap %u out of range 1..%u", cap, (unsigned)UNIFIED_CACHE_MAX);
#endif
    if (cap == 0) cap = 1;
    if (cap > UNIFIED_CACHE_MAX) cap = UNIFIED_CACHE_MAX;
    c->count = 0;
    c->cap = cap;
}

void unified_cache_push_chain(unified_cache_t *c, void *first, void *last, uint32_t n) {
#ifdef HAK_DEBUG_CHECKS
    if (n == 0 || n > c->cap - c->count)
        hak_fatal("unified_cache: chain of %u blocks into %u/%u", n, c->count, c->cap);
#endif
    if (n == 0) return;
    // The chain's first block goes on top, so it is popped first: fill from the top slot down.
    void **dst = c->slots + c->count + n;
    void *b = first;
    for (uint32_t i = 1; i < n; i++) {
        *--dst = b;
        b = *(void **)b;
    }
#ifdef HAK_DEBUG_CHECKS
    if (b != last) hak_fatal("unified_cache: chain of %u blocks does not end at %p", n, last);
#endif
    *--dst = last;
    c->count += n;
}

void unified_cache_push_range(unified_cache_t *c, void *base, size_t stride, uint32_t n) {
#ifdef HAK_DEBUG_CHECKS
    if (n > c->cap - c->count)
        hak_fatal("unified_cache: range of %u blocks into %u/%u", n, c->count, c->cap);
#endif
    // base on top (popped first): slots[count + n - 1] = base, ..., slots[count] = the last block.
    void **dst = c->slots + c->count + n;
    char *b = base;
    for (uint32_t i = 0; i < n; i++, b += stride)
        *--dst = b;
    c->count += n;
}

uint32_t unified_cache_pop_chain(unified_cache_t *c, uint32_t n, void **first, void **last) {
    uint32_t taken = n < c->count ? n : c->count;
    *first = *last = NULL;
    if (taken == 0) return 0;
    // slots[count-1] is popped first: link from the bottom of the taken range up, so each block
    // points at the one popped after it.
    void **bottom = c->slots + c->count - taken;
    void *next = NULL;
    for (uint32_t i = 0; i < taken; i++) {
        *(void **)bottom[i] = next;
        next = bottom[i];
    }
    *first = next;
    *last = bottom[0];
    c->count -= taken;
    return taken;
}
