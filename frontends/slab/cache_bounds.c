#include "cache_bounds.h"

#include "sample.h"

#define CACHE_EXTRA_BYTES (4 * HAK_MiB)
#define REFILL_FIRST_BATCH 4
#define REFILL_FIRST_BYTES (4 * HAK_KiB)
#define EMPTYING_BYTES (8 * HAK_MiB)

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

static void stop_emptying(heap_cache_t *c, unsigned cls) {
    if (!c->emptying) return;
    c->emptying = false;
    tc_set_cap(&c->tc, size_class_cache_cap_of(cls, bound_batches(c)));
}

static uint64_t heap_allocs_all(const hak_heap_t *h) {
    uint64_t n = 0;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) n += heap_allocs(h, c);
    return n;
}

drain_kind_t cache_on_drain(hak_heap_t *h, unsigned cls, bool to_live_heap) {
    h->cache[cls].drained = true;
    if (to_live_heap) return DRAIN_BATCH;
    if (h->drain_run.emptying) return DRAIN_CLASS;
    h->drain_run.bytes += batch_bytes(cls);
    // The allocations are counted over the second half of the run only: adding up every class's
    // count costs 91 pairs of loads, too much for every run (a churn begins one at each refill).
    if (h->drain_run.bytes < EMPTYING_BYTES / 2) return DRAIN_BATCH;
    if (h->drain_run.blocks == 0) h->drain_run.allocs_at_start = heap_allocs_all(h);
    h->drain_run.blocks += size_class_batch(cls);
    if (h->drain_run.bytes < EMPTYING_BYTES) return DRAIN_BATCH;
    // Allocations served from the caches meanwhile (a churn whose classes drain and allocate
    // in turn, never running dry): not a thread that only frees; a new run begins.
    if ((heap_allocs_all(h) - h->drain_run.allocs_at_start) * 8 > h->drain_run.blocks) {
        h->drain_run.bytes = 0;
        h->drain_run.blocks = 0;
        return DRAIN_BATCH;
    }
    h->drain_run.emptying = true;
    return DRAIN_ALL_CLASSES;
}

void cache_lower_bound(hak_heap_t *h, unsigned cls) {
    heap_cache_t *c = &h->cache[cls];
    if (c->emptying) return;
    set_bound(h, cls, HAK_CACHE_BASE_BATCHES);
    c->emptying = true;
    uint32_t low = size_class_batch(cls) / 8;
    tc_set_cap(&c->tc, low ? low : 1);
}

void cache_on_refill(hak_heap_t *h, unsigned cls) {
    heap_cache_t *c = &h->cache[cls];
    h->drain_run.bytes = 0;
    h->drain_run.blocks = 0;
    h->drain_run.emptying = false;
    stop_emptying(c, cls);
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
    stop_emptying(&h->cache[cls], cls);
    if (bound_batches(&h->cache[cls]) != HAK_CACHE_BASE_BATCHES) {
        set_bound(h, cls, HAK_CACHE_BASE_BATCHES);
        hak_count_owned(&h->stats[cls].bound_resets, 1);
    }
    h->cache[cls].drained = false;
}

// A fresh heap's first refill of a class: 4 blocks, fewer above 1 KiB (at most 4 KiB of them, at
// least one block): carving writes a link into each block, faulting its page in, and a small
// program's threads touch many classes a few blocks each.
static uint32_t first_refill(unsigned cls) {
    uint32_t n = (uint32_t)(REFILL_FIRST_BYTES / hak_class_size[cls]);
    return n < 1 ? 1 : n > REFILL_FIRST_BATCH ? REFILL_FIRST_BATCH : n;
}

uint32_t cache_next_refill_batch(hak_heap_t *h, unsigned cls) {
    heap_cache_t *c = &h->cache[cls];
    uint32_t max = size_class_batch(cls),
             want = c->refill_batch ? c->refill_batch : first_refill(cls);
    if (want >= max) return max;
    c->refill_batch = 2 * want;
    return want;
}
