// sample: which allocations the heap profiler sees. Each class of each heap counts down the
// allocations left until its next sampled one (heap_cache_t.until_sample, decremented on the fast
// path in place of a plain count of allocations); the allocation that reaches zero goes to
// heap_sampled. Profiling off, the countdown starts where no program gets (2^62 allocations).
#ifndef HAK_SAMPLE_H
#define HAK_SAMPLE_H

#include "heap.h"

#define SAMPLE_NEVER ((uint64_t)1 << 62)

// A new heap's countdowns.
void heap_sample_init(hak_heap_t *h);

// The allocation of block b brought its class's countdown to 0: a new countdown, and the block to
// hand out (b, or a sampled block with the stack from the frame returning to `program` on).
void *heap_sample_take(void *b, void *program);

// Allocations of class cls by h so far (any thread may read it, for statistics).
HAK_INLINE uint64_t heap_allocs(const hak_heap_t *h, unsigned cls) {
    uint64_t base = __atomic_load_n(&h->sample_base[cls], __ATOMIC_RELAXED);
    uint64_t left = __atomic_load_n(&h->cache[cls].until_sample, __ATOMIC_RELAXED);
    return base > left ? base - left : 0; // read apart from each other: never below zero
}

#endif
