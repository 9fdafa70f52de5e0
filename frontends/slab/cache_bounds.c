#include "cache_bounds.h"

#define CACHE_EXTRA_BYTES (4 * HAK_MiB)
#define REFILL_FIRST_BATCH 4

static size_t batch_bytes(unsigned cls) {
    return (size_t)size_class_batch(cls) * hak_class_size[cls];
}

static unsigned bound_batches(const heap_cache_t *c) {
    return c->bound_batches ? c->bound_batches : HAK_CACHE_BASE_BATCHES;
}

static void set_bound(hak_heap_t *h, unsigned cls, unsigned batches) {
    heap_cache_t *c = &h->cache[cls];
    h->bound_extra_bytes -= (bound_batches(c) - HAK_CACHE_BASE_BATCHES) * batch_bytes(cls);
    h->bound_extra_bytes += (batches - HAK_CACHE_BASE_BATCHES) * batch_bytes(cls);
    c->bound_batches = (uint8_t)batches;
    tc_set_cap(&c->tc, size_class_cache_cap_of(cls, batches));
}

void cache_on_refill(hak_heap_t *h, unsigned cls) {
    heap_cache_t *c = &h->cache[cls];
    unsigned batches = bound_batches(c);
    uint32_t cap = size_class_cache_cap_of(cls, batches + 1);
    if (c->drained && batches < HAK_CACHE_MAX_BATCHES && cap <= TC_CAP_LIMIT &&
        cap > size_class_cache_cap_of(cls, batches) &&
        h->bound_extra_bytes + batch_bytes(cls) <= CACHE_EXTRA_BYTES) {
        set_bound(h, cls, batches + 1);
        hak_count_owned(&h->stats[cls].bound_grows, 1);
    }
    c->drained = false;
}

void cache_reset_bound(hak_heap_t *h, unsigned cls) {
    if (bound_batches(&h->cache[cls]) != HAK_CACHE_BASE_BATCHES) {
        set_bound(h, cls, HAK_CACHE_BASE_BATCHES);
        hak_count_owned(&h->stats[cls].bound_resets, 1);
    }
    h->cache[cls].drained = false;
}

uint32_t cache_next_refill_batch(hak_heap_t *h, unsigned cls) {
    heap_cache_t *c = &h->cache[cls];
    uint32_t max = size_class_batch(cls),
             want = c->refill_batch ? c->refill_batch : REFILL_FIRST_BATCH;
    if (want >= max) return max;
    c->refill_batch = 2 * want;
    return want;
}
