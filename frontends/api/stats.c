// Process-wide counters, and the HAKMEM_STATS=1 report at exit.
#include "hakmem.h"

#include "grow.h"
#include "heap.h"
#include "os_direct.h"
#include "purger.h"

#include <inttypes.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static const char *const range_names[] = {"tiny", "mid", "large"}; // frontends and segment kinds

// Bytes of freed huge mappings still mapped (in the page_arena), given the bytes unmapped so far.
static uint64_t huge_cached_bytes(uint64_t unmapped) {
    return LOAD(os_direct_stats.bytes_mapped) - unmapped - LOAD(os_direct_stats.bytes_live);
}

// The byte counters of *out, from the heaps' sum and the segment and huge counters.
static void memory_bytes(const heap_stats_t *hs, hak_stats_t *out) {
    out->huge_live_bytes = LOAD(os_direct_stats.bytes_live);
    out->bytes_unmapped = os_direct_bytes_unmapped();
    out->huge_cached_bytes = huge_cached_bytes(out->bytes_unmapped);
    out->bytes_purged = LOAD(segment_stats.bytes_purged);
    out->bytes_mapped = LOAD(segment_stats.bytes_mapped) + LOAD(os_direct_stats.bytes_mapped) -
                        out->bytes_unmapped;
    out->thread_cache_bytes = hs->thread_cache_bytes;
    out->depot_bytes = hs->depot_bytes;
    out->spare_slab_bytes = hs->spare_slab_bytes;
    // Huge side: live blocks and the page_arena's hot spans (its warm ones are decommitted).
    heap_grow_stats_t gs;
    heap_grow_stats_sum(&gs);
    out->committed_bytes = hs->committed_bytes + out->huge_live_bytes + gs.dirty_bytes;
    out->bytes_mapped += gs.regions * HAK_SEG_SIZE;
    out->grow_regions = gs.regions;
    out->grow_placed = gs.placed;
    out->grow_in_place = gs.grown + gs.shrunk;
    out->grow_frees = gs.freed;
#if HAK_PAGE_ARENA
    out->committed_bytes += page_arena_hot_bytes(os_direct_arena());
#endif
}

HAK_EXPORT void hak_stats_get(hak_stats_t *out) {
    heap_stats_t hs;
    heap_stats_sum(&hs);
    *out = (hak_stats_t){0};
    for (unsigned f = 0; f < FRONTEND_HUGE; f++) {
        out->allocs[f] = hs.allocs[f];
        out->frees[f] = hs.frees[f];
    }
    out->allocs[FRONTEND_HUGE] = LOAD(os_direct_stats.allocs);
    out->frees[FRONTEND_HUGE] = LOAD(os_direct_stats.frees);
    for (unsigned f = 0; f < FRONTEND_HUGE; f++) {
        out->remote_frees += hs.remote_frees[f];
        out->refills += hs.refills[f];
        out->drains += hs.drains[f];
    }
    for (unsigned k = 0; k < SEG_KINDS; k++) {
        const shared_pool_stats_t *ps = &hak_pools[k].stats;
        out->slabs_claimed += LOAD(ps->slots_claimed);
        out->slabs_released += LOAD(ps->slots_released);
        out->slabs_abandoned += LOAD(ps->slabs_abandoned);
        out->slabs_adopted += LOAD(ps->slabs_adopted);
    }
    out->lru_inserted = hs.lru_inserted;
    out->lru_hits = hs.lru_hits;
    out->segments_mapped = LOAD(segment_stats.mapped);
    out->segments_purged = LOAD(segment_stats.purged);
    out->purger_ticks = purger_tick_count();
    out->idle_collections = hs.idle_collections;
    memory_bytes(&hs, out);
}

HAK_EXPORT void hak_stats_print(void) {
    heap_stats_t hs;
    heap_stats_sum(&hs);
    for (unsigned f = 0; f < FRONTEND_HUGE; f++)
        hak_log("%s allocs=%" PRIu64 " frees=%" PRIu64 " remote_frees=%" PRIu64 " refills=%" PRIu64
                " drains=%" PRIu64,
                range_names[f], hs.allocs[f], hs.frees[f], hs.remote_frees[f], hs.refills[f], hs.drains[f]);
    hak_stats_t m = {0};
    memory_bytes(&hs, &m);
    hak_log("huge allocs=%" PRIu64 " frees=%" PRIu64 " live_bytes=%" PRIu64 " cache_hits=%" PRIu64
            " cached_bytes=%" PRIu64 " grows=%" PRIu64,
            LOAD(os_direct_stats.allocs), LOAD(os_direct_stats.frees), m.huge_live_bytes,
            LOAD(os_direct_stats.cache_hits), m.huge_cached_bytes, LOAD(os_direct_stats.grows));
    hak_log("thread_cache[" TC_NAME "] refilled_blocks=%" PRIu64 " drained_blocks=%" PRIu64 " heaps=%" PRIu64
            " live_heaps=%" PRIu64 " bound_grows=%" PRIu64 " bound_resets=%" PRIu64,
            hs.refilled_blocks, hs.drained_blocks, hs.heaps, hs.heaps_live, hs.bound_grows,
            hs.bound_resets);
    hak_log("remote_queue pushes=%" PRIu64 " collected=%" PRIu64, hs.remote_pushes,
            hs.remote_collected);
    for (unsigned k = 0; k < SEG_KINDS; k++) {
        const shared_pool_stats_t *ps = &hak_pools[k].stats;
        hak_log("shared_pool[%s] slabs_claimed=%" PRIu64 " slabs_released=%" PRIu64
                " segments_added=%" PRIu64 " segments_seized=%" PRIu64 " slabs_abandoned=%" PRIu64
                " slabs_adopted=%" PRIu64 " slabs_reclaimed=%" PRIu64,
                range_names[k], LOAD(ps->slots_claimed), LOAD(ps->slots_released), LOAD(ps->segments_added),
                LOAD(ps->segments_seized), LOAD(ps->slabs_abandoned), LOAD(ps->slabs_adopted),
                LOAD(ps->slabs_reclaimed));
    }
#if HAK_PAGE_ARENA
    const page_arena_t *pa = os_direct_arena();
    hak_log("page_arena puts=%" PRIu64 " hot_hits=%" PRIu64 " warm_hits=%" PRIu64 " misses=%" PRIu64
            " decommitted=%" PRIu64 " released=%" PRIu64,
            LOAD(pa->stats.puts), LOAD(pa->stats.hot_hits), LOAD(pa->stats.warm_hits),
            LOAD(pa->stats.misses), LOAD(pa->stats.decommitted), LOAD(pa->stats.released));
#endif
#if HAK_LRU
    hak_log("lru inserted=%" PRIu64 " hits=%" PRIu64 " evicted=%" PRIu64 " expired=%" PRIu64,
            hs.lru_inserted, hs.lru_hits, hs.lru_evicted, hs.lru_expired);
#endif
    hak_log("segment mapped=%" PRIu64 " purged=%" PRIu64 " slots_purged=%" PRIu64
            " bytes_mapped=%" PRIu64 " bytes_purged=%" PRIu64,
            LOAD(segment_stats.mapped), LOAD(segment_stats.purged), LOAD(segment_stats.slots_purged),
            LOAD(segment_stats.bytes_mapped), LOAD(segment_stats.bytes_purged));
    hak_log("grow_region regions=%" PRIu64 " placed=%" PRIu64 " in_place=%" PRIu64 " frees=%" PRIu64,
            m.grow_regions, m.grow_placed, m.grow_in_place, m.grow_frees);
    hak_log("batch_depot bytes=%" PRIu64 " puts=%" PRIu64 " takes=%" PRIu64 " refused=%" PRIu64
            " flushed=%" PRIu64 " idle_collections=%" PRIu64,
            m.depot_bytes, hs.depot_puts, hs.depot_takes, hs.depot_refused, hs.depot_flushed,
            hs.idle_collections);
    hak_log("memory mapped=%" PRIu64 " committed=%" PRIu64 " thread_caches=%" PRIu64
            " depots=%" PRIu64 " spare_slabs=%" PRIu64 " unmapped=%" PRIu64,
            m.bytes_mapped, m.committed_bytes, m.thread_cache_bytes, m.depot_bytes,
            m.spare_slab_bytes, m.bytes_unmapped);
}

__attribute__((destructor)) static void hak_stats_at_exit(void) {
    if (hak_options.stats) hak_stats_print();
}
