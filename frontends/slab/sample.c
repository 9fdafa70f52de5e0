#include "sample.h"

void heap_sample_init(hak_heap_t *h) {
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        h->cache[c].until_sample = SAMPLE_NEVER;
        h->sample_base[c] = SAMPLE_NEVER;
    }
}

HAK_NOINLINE void *heap_sampled(void *b) {
    hak_heap_t *h = hak_tls_heap;
    unsigned cls = slab_of_block(b)->cls;
    heap_cache_t *c = &h->cache[cls];
    // The count goes on from zero: allocations so far stay sample_base - until_sample.
    h->sample_base[cls] += SAMPLE_NEVER;
    c->until_sample = SAMPLE_NEVER;
    heap_unmark(b);
    return b;
}
