// huge cache: where freed huge mappings wait for reuse, chosen at configure time
// (HAKMEM_PAGE_ARENA), the way thread_cache.h chooses the thread cache:
//
//   HAK_PAGE_ARENA 1   boxes/page_arena: freed 2 MiB-aligned mappings wait hot (pages kept: reuse
//                      costs nothing) up to HAKMEM_ARENA_HOT_MB and HAKMEM_PURGE_DELAY_MS, then
//                      warm (decommitted, still mapped: reuse costs page faults but no mmap) up
//                      to HAKMEM_ARENA_WARM_MB and HAKMEM_ARENA_WARM_DECAY_MS, then are unmapped
//   HAK_PAGE_ARENA 0   none: every huge block is an mmap and a munmap (a loop over 32 KiB-2 MiB
//                      blocks ran at 0.35 M ops/s against mimalloc's 1.5 M that way)
#ifndef HAK_HUGE_CACHE_H
#define HAK_HUGE_CACHE_H

#include "platform.h"

#if HAK_PAGE_ARENA
#include "page_arena.h"

#define HUGE_CACHE_NAME "page_arena"
typedef page_arena_t huge_cache_t;
extern HAK_INTERNAL huge_cache_t huge_cache;

HAK_INLINE void huge_cache_init(void) {
    long hot_mb = hak_options.arena_hot_mb, warm_mb = hak_options.arena_warm_mb;
    long hot_decay = hak_options.purge_delay_ms, warm_decay = hak_options.arena_warm_decay_ms;
    page_arena_init(&huge_cache, (size_t)(hot_mb < 0 ? 0 : hot_mb) * HAK_MiB,
                    (size_t)(warm_mb < 0 ? 0 : warm_mb) * HAK_MiB,
                    hot_decay < 0 ? UINT64_MAX : (uint64_t)hot_decay,
                    warm_decay < 0 ? UINT64_MAX : (uint64_t)warm_decay);
    page_arena_set_split(&huge_cache, HAK_SEG_SIZE); // a mapping starts on a 2 MiB boundary
    hak_fork_protect(&huge_cache.lock);
}
// A cached mapping of at least `bytes` (see page_arena_take), or NULL.
HAK_INLINE void *huge_cache_take(size_t bytes, size_t *span_bytes, bool *hot) {
    return page_arena_take(&huge_cache, bytes, span_bytes, hot);
}
// After a miss: the biggest cached mapping with its pages smaller than `bytes`, or NULL.
HAK_INLINE void *huge_cache_take_smaller(size_t bytes, size_t *span_bytes) {
    return page_arena_take_smaller(&huge_cache, bytes, span_bytes);
}
// Keep a freed mapping (2 MiB-aligned); false: the caller unmaps it.
HAK_INLINE bool huge_cache_put(void *map, size_t bytes) {
    page_arena_put(&huge_cache, map, bytes, hak_clock_ms());
    return true;
}
HAK_INLINE bool huge_cache_trim(void) { return page_arena_trim(&huge_cache); }
HAK_INLINE void huge_cache_tick(void) { page_arena_tick(&huge_cache, hak_clock_ms()); }
// Bytes kept with their pages, and bytes the cache unmapped so far.
HAK_INLINE uint64_t huge_cache_hot_bytes(void) { return page_arena_hot_bytes(&huge_cache); }
HAK_INLINE uint64_t huge_cache_bytes_released(void) {
    return hak_counter_get(&huge_cache.stats.bytes_released);
}
HAK_INLINE void huge_cache_report(hak_stats_writer_t *w) {
    HAK_COUNTERS_REPORT(w, "page_arena", PAGE_ARENA_COUNTERS, &huge_cache.stats);
}

#else

#define HUGE_CACHE_NAME "none"
typedef struct {
    int unused;
} huge_cache_t;
extern HAK_INTERNAL huge_cache_t huge_cache;

HAK_INLINE void huge_cache_init(void) {}
HAK_INLINE void *huge_cache_take(size_t bytes, size_t *span_bytes, bool *hot) {
    (void)bytes, (void)span_bytes, (void)hot;
    return NULL;
}
HAK_INLINE void *huge_cache_take_smaller(size_t bytes, size_t *span_bytes) {
    (void)bytes, (void)span_bytes;
    return NULL;
}
HAK_INLINE bool huge_cache_put(void *map, size_t bytes) {
    (void)map, (void)bytes;
    return false;
}
HAK_INLINE bool huge_cache_trim(void) { return false; }
HAK_INLINE void huge_cache_tick(void) {}
HAK_INLINE uint64_t huge_cache_hot_bytes(void) { return 0; }
HAK_INLINE uint64_t huge_cache_bytes_released(void) { return 0; }
HAK_INLINE void huge_cache_report(hak_stats_writer_t *w) { (void)w; }
#endif

#endif
