#include "sample.h"

#include "prof.h"

static uint64_t next_gap(hak_heap_t *h, unsigned cls) {
    return hak_prof_rate ? prof_next_gap(hak_class_size[cls], &h->sample_rng) : SAMPLE_NEVER;
}

// Profiling on, a class's first allocation comes to heap_sample_take, which draws its first gap
// then: a thread that uses few classes (most short ones) draws few.
void heap_sample_init(hak_heap_t *h) {
    h->sample_rng = hak_os_random_seed() ^ (uint64_t)(uintptr_t)h;
    uint64_t first = hak_prof_rate ? 1 : SAMPLE_NEVER;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        h->cache[c].until_sample = first;
        h->sample_base[c] = first;
    }
}

void *heap_sample_take(void *b, void *program) {
    hak_heap_t *h = hak_tls_heap;
    unsigned cls = slab_of_block(b)->cls;
    heap_cache_t *c = &h->cache[cls];
    // The count goes on from zero: allocations so far stay sample_base - until_sample.
    uint64_t gap = next_gap(h, cls);
    // The class's first allocation (its count starts at 1 only with profiling on, and grows by
    // at least 1 at every arrival here): the first gap says if it is sampled.
    if (h->sample_base[cls] == 1) {
        if (gap > 1) {
            h->sample_base[cls] += gap - 1;
            c->until_sample = gap - 1;
            heap_unmark(b);
            return b;
        }
        gap = next_gap(h, cls);
    }
    h->sample_base[cls] += gap;
    c->until_sample = gap;
    void *sampled = hak_prof_rate ? prof_sample_block(hak_class_size[cls], program) : NULL;
    if (sampled == NULL) {
        heap_unmark(b);
        return b;
    }
    // b goes back where it was (still marked free): the cache had room for it a moment ago.
    (void)tc_push(&c->tc, b);
    return sampled;
}

// Called from the fast path, which malloc and operator new inline and end with a jump here: the
// return address is in the program's code (or in a public entry point such as calloc).
HAK_NOINLINE void *heap_sampled(void *b) { return heap_sample_take(b, __builtin_return_address(0)); }
