#include "slab_stats.h"

#include "depots.h"
#include "grow.h"
#include "heaps.h"
#include "sample.h"

// Bytes of a class's spare slab (0: none). Only the segment header is read: the slab's own fields
// are its owner's, and the slot follows from the slab's address.
static uint64_t spare_slab_bytes(heap_bin_t *bin) {
    // acquire: pairs with the owner's release in bin_retire (orders the header read after the
    // segment's making, in whatever thread made it).
    hak_slab_t *s = atomic_load_explicit(&bin->spare, memory_order_acquire);
    if (s == NULL) return 0;
    hak_segment_t *seg = slab_segment(s);
    return segment_slot_bytes(seg, (unsigned)(s - segment_slab(seg, 0)));
}

void slab_stats_sum(slab_stats_t *out) {
    *out = (slab_stats_t){0};
    uint64_t allocs_of[HAK_NCLASSES] = {0}, frees_of[HAK_NCLASSES] = {0};
    heaps_lock();
    for (hak_heap_t *h = heaps_all(); h != NULL; h = h->next_all) {
        out->heaps++;
        out->heaps_live += h->live;
        for (unsigned c = 0; c < HAK_NCLASSES; c++) {
            unsigned f = size_class_frontend(c);
            const heap_counters_t *st = &h->stats[c];
            uint64_t allocs = heap_allocs(h, c);
            uint64_t cached = tc_count(&h->cache[c].tc);
            // Every block that entered the cache was refilled or freed by the owner; every block
            // that left it was allocated or drained.
            allocs_of[c] += allocs;
            frees_of[c] += cached + allocs + hak_counter_get(&st->drained_blocks) -
                           hak_counter_get(&st->refilled_blocks);
            out->free_blocks[c] += cached;
            HAK_COUNTERS_ADD(HEAP_COUNTERS, &out->counters[f], st);
            out->thread_cache_bytes += cached * hak_class_size[c];
            out->spare_slab_bytes += spare_slab_bytes(&h->bins[c]);
        }
    }
    heaps_unlock();
    // Frees by threads without a heap went to remote queues without passing through a cache.
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        uint64_t heapless = hak_counter_get(&hak_heapless_frees[c]);
        frees_of[c] += heapless;
        out->heapless_frees += heapless;
        out->free_blocks[c] += depot_blocks_of(c);
        unsigned f = size_class_frontend(c);
        out->allocs[f] += allocs_of[c];
        out->frees[f] += frees_of[c];
        // Counters read while other threads work may be a few apart.
        if (allocs_of[c] > frees_of[c])
            out->in_use_bytes[f] += (allocs_of[c] - frees_of[c]) * hak_class_size[c];
    }
    depots_sum(&out->depots, &out->depot_bytes);
}

const char *const slab_frontend_names[SLAB_FRONTENDS] = {"tiny", "mid", "large"};

void slab_stats_report(const slab_stats_t *s, hak_stats_writer_t *w) {
    static const char *const names[] = {"allocs", "frees", HEAP_COUNTERS(HAK_COUNTER_NAME)};
    for (unsigned f = 0; f < SLAB_FRONTENDS; f++) {
        const heap_counters_t *counters_ = &s->counters[f];
        const uint64_t values[] = {s->allocs[f], s->frees[f], HEAP_COUNTERS(HAK_COUNTER_VALUE)};
        hak_stats_group(w, slab_frontend_names[f], names, values, sizeof values / sizeof values[0]);
    }
    static const char *const cache_names[] = {"heaps", "live_heaps", "bytes", "heapless_frees"};
    const uint64_t cache_values[] = {s->heaps, s->heaps_live, s->thread_cache_bytes,
                                     s->heapless_frees};
    hak_stats_group(w, "thread_cache[" TC_NAME "]", cache_names, cache_values, 4);
    static const char *const depot_names[] = {"bytes", BATCH_DEPOT_COUNTERS(HAK_COUNTER_NAME)};
    const batch_depot_counters_t *counters_ = &s->depots;
    const uint64_t depot_values[] = {s->depot_bytes, BATCH_DEPOT_COUNTERS(HAK_COUNTER_VALUE)};
    hak_stats_group(w, "batch_depot", depot_names, depot_values,
                    sizeof depot_values / sizeof depot_values[0]);
    heap_grow_report(w);
}
