// Process-wide counters (hak_stats_get), and the HAKMEM_STATS=1 report at exit: one line per
// frontend, box and backend, each generated from its table of counters.
#include "hakmem.h"

#include "grow.h"
#include "maintenance.h"
#include "os_direct.h"
#include "purger.h"
#include "segments.h"
#include "slab_stats.h"

#define GET(counter) hak_counter_get(&(counter))

// The byte counters of *out.
static void memory_bytes(const slab_stats_t *ss, hak_stats_t *out) {
    out->huge_live_bytes = GET(os_direct_stats.bytes_live);
    out->bytes_unmapped = os_direct_bytes_unmapped();
    // Freed huge mappings still mapped: mapped, less unmapped, less live.
    out->huge_cached_bytes = GET(os_direct_stats.bytes_mapped) - out->bytes_unmapped - out->huge_live_bytes;
    out->bytes_purged = GET(segment_stats.bytes_purged);
    out->bytes_mapped = GET(segment_stats.bytes_mapped) + GET(os_direct_stats.bytes_mapped) -
                        out->bytes_unmapped;
    out->thread_cache_bytes = ss->thread_cache_bytes;
    out->depot_bytes = ss->depot_bytes;
    out->spare_slab_bytes = ss->spare_slab_bytes;
    heap_grow_stats_t gs;
    heap_grow_stats_sum(&gs);
    out->bytes_mapped += gs.regions * HAK_SEG_SIZE;
    out->grow_regions = gs.regions;
    out->grow_placed = GET(gs.counters.placed);
    out->grow_in_place = GET(gs.counters.grown) + GET(gs.counters.shrunk);
    out->grow_frees = GET(gs.counters.freed);
    // Huge side: live blocks and the huge cache's hot mappings (its warm ones are decommitted).
    out->committed_bytes = segments_committed_bytes() + out->huge_live_bytes + gs.dirty_bytes +
                           os_direct_cached_hot_bytes();
}

HAK_EXPORT void hak_stats_get(hak_stats_t *out) {
    slab_stats_t ss;
    slab_stats_sum(&ss);
    *out = (hak_stats_t){0};
    for (unsigned f = 0; f < SLAB_FRONTENDS; f++) {
        out->allocs[f] = ss.allocs[f];
        out->frees[f] = ss.frees[f];
        out->remote_frees += GET(ss.counters[f].remote_blocks);
        out->refills += GET(ss.counters[f].refills);
        out->drains += GET(ss.counters[f].drains);
    }
    out->remote_frees += ss.heapless_frees;
    out->allocs[FRONTEND_HUGE] = GET(os_direct_stats.allocs);
    out->frees[FRONTEND_HUGE] = GET(os_direct_stats.frees);
    for (unsigned k = 0; k < SEG_KINDS; k++) {
        const shared_pool_counters_t *ps = segments_pool_counters((seg_kind_t)k);
        out->slabs_claimed += GET(ps->slots_claimed);
        out->slabs_released += GET(ps->slots_released);
        out->slabs_abandoned += GET(ps->slabs_abandoned);
        out->slabs_adopted += GET(ps->slabs_adopted);
    }
    const lru_counters_t *cache = segments_cache_counters();
    out->lru_inserted = GET(cache->inserted);
    out->lru_hits = GET(cache->hits);
    out->segments_mapped = GET(segment_stats.mapped);
    out->segments_purged = GET(segment_stats.purged);
    out->purger_ticks = purger_tick_count();
    out->idle_collections = heap_idle_collections();
    memory_bytes(&ss, out);
}

HAK_EXPORT void hak_stats_print(void) {
    slab_stats_t ss;
    slab_stats_sum(&ss);
    slab_stats_log(&ss);
    os_direct_log();
    segments_log();
    hak_log("purger ticks=%llu idle_collections=%llu", (unsigned long long)purger_tick_count(),
            (unsigned long long)heap_idle_collections());
    hak_stats_t m = {0};
    memory_bytes(&ss, &m);
    static const char *const names[] = {"mapped",     "committed",   "thread_caches", "depots",
                                        "spare_slabs", "huge_cached", "unmapped"};
    const uint64_t values[] = {m.bytes_mapped,     m.committed_bytes,   m.thread_cache_bytes, m.depot_bytes,
                               m.spare_slab_bytes, m.huge_cached_bytes, m.bytes_unmapped};
    hak_counters_log("memory", names, values, sizeof values / sizeof values[0]);
}

__attribute__((destructor)) static void hak_stats_at_exit(void) {
    if (hak_options.stats) hak_stats_print();
}
