// segment cache: where a segment whose slots are all free waits before its pages are purged, chosen
// at configure time (HAKMEM_LRU), the way thread_cache.h chooses the thread cache:
//
//   HAK_LRU 1   boxes/lru: empty segments wait up to HAKMEM_PURGE_DELAY_MS, at most
//               HAKMEM_LRU_MAX_SEGMENTS / HAKMEM_LRU_MAX_MB of them; a claim from one before it
//               leaves is a hit and costs nothing
//   HAK_LRU 0   none: an emptied segment is purged at once
//
// Both hand back the segments to purge as a chain, walked with segment_chain_next.
#ifndef HAK_SEGMENT_CACHE_H
#define HAK_SEGMENT_CACHE_H

#include "segment.h"

#if HAK_LRU
#include "lru.h"

#define SEGMENT_CACHE_NAME "lru"
typedef lru_t segment_cache_t;
typedef lru_node_t *segment_chain_t; // nodes the lru handed back, linked through ->next
extern HAK_INTERNAL segment_cache_t segment_cache;

HAK_INLINE void segment_cache_init(void) {
    long decay = hak_options.purge_delay_ms;
    lru_init(&segment_cache, (size_t)hak_options.lru_max_segments,
             (size_t)hak_options.lru_max_mb * HAK_MiB, decay < 0 ? UINT64_MAX : (uint64_t)decay);
    hak_fork_protect(&segment_cache.lock);
}
// seg's slots are all free: it waits here. Returns what to purge now (evicted, perhaps seg).
HAK_INLINE segment_chain_t segment_cache_insert(hak_segment_t *seg) {
    return lru_insert(&segment_cache, &seg->lru, HAK_SEG_SIZE - HAK_SEG_HEADER_SIZE,
                      hak_clock_ms());
}
// A slot of seg was claimed: if seg was waiting here, it is reused (a hit).
HAK_INLINE void segment_cache_reused(hak_segment_t *seg) {
    lru_remove(&segment_cache, &seg->lru); // checks `linked` before taking the lock
}
// The segments that waited long enough (all of them with `all`), to purge.
HAK_INLINE segment_chain_t segment_cache_expire(bool all) {
    return lru_expire(&segment_cache, hak_clock_ms(), all);
}
// Up to `max` segments of a chain into out[]; returns how many (0: the chain is done). lru_insert
// rewrites a node's `next` (under the lru's lock) when its segment is claimed, emptied and
// inserted again before the walk reaches it: so the links are read under that lock, and the walk
// stops at a node that is linked again (its segment waits in the lru once more; the nodes after
// it stay unpurged until their segments empty again, a rare loss of a purge, never a walk into the
// live list).
HAK_INLINE unsigned segment_chain_next(segment_chain_t *chain, hak_segment_t **out, unsigned max) {
    unsigned count = 0;
    lru_node_t *n = *chain;
    lru_lock(&segment_cache);
    // relaxed: under the lock, which orders every write of `linked` and `next`.
    for (; n != NULL && count < max; n = n->next) {
        if (atomic_load_explicit(&n->linked, memory_order_relaxed)) {
            n = NULL;
            break;
        }
        out[count++] = (hak_segment_t *)((char *)n - offsetof(hak_segment_t, lru));
    }
    lru_unlock(&segment_cache);
    *chain = n;
    return count;
}
HAK_INLINE const lru_counters_t *segment_cache_counters(void) { return &segment_cache.stats; }
HAK_INLINE void segment_cache_report(hak_stats_writer_t *w) {
    HAK_COUNTERS_REPORT(w, "lru", LRU_COUNTERS, &segment_cache.stats);
}

#else

#define SEGMENT_CACHE_NAME "none"
typedef struct {
    lru_counters_t stats; // always zero
} segment_cache_t;
typedef hak_segment_t *segment_chain_t; // one segment, or none
extern HAK_INTERNAL segment_cache_t segment_cache;

HAK_INLINE void segment_cache_init(void) {}
HAK_INLINE segment_chain_t segment_cache_insert(hak_segment_t *seg) { return seg; }
HAK_INLINE void segment_cache_reused(hak_segment_t *seg) { (void)seg; }
HAK_INLINE segment_chain_t segment_cache_expire(bool all) {
    (void)all;
    return NULL;
}
HAK_INLINE unsigned segment_chain_next(segment_chain_t *chain, hak_segment_t **out, unsigned max) {
    (void)max;
    if (*chain == NULL) return 0;
    out[0] = *chain;
    *chain = NULL;
    return 1;
}
HAK_INLINE const lru_counters_t *segment_cache_counters(void) { return &segment_cache.stats; }
HAK_INLINE void segment_cache_report(hak_stats_writer_t *w) { (void)w; }
#endif

#endif
