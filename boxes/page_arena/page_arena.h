// page_arena: a cache of freed spans (page-aligned mappings) in front of the OS, in two levels.
//
// Glossary
//   span      a page-aligned mapping of a whole number of pages, handed in by page_arena_put;
//             while cached, its first bytes hold a pa_span_t (the caller re-initialises its own
//             header when it takes the span back)
//   hot       a cached span that keeps its pages: reusing it costs no system call, no page fault
//   warm      a cached span whose pages, all but the first, were decommitted (MADV_DONTNEED): it
//             stays mapped, so reuse costs no mmap, only the page faults of the pages touched;
//             those pages read as zero
//   released  unmapped (munmap), gone from the arena
//
// A put makes the span hot. Spans move on, oldest first, when a level is over its byte bound or
// when they have stayed in it for its decay time: hot -> warm -> released. Decommitting and
// unmapping happen outside the lock, and a span is decommitted before it is linked into the warm
// list (purge before publish: a span visible in a list may be taken at once by another thread).
// While in flight between the levels a span is in no list and counted in no bound.
//
// Lists are newest first and sorted by since_ms (a span's time is raised to that of the list's
// newest when a caller's clock reading lags another's), so decay and bounds cut a list's tail.
// A warm span's since_ms is the time it became warm.
//
// Counters (relaxed, statistics only): puts; hot_hits and warm_hits (takes served from each
// level); misses (takes that found nothing); decommitted (spans moved hot -> warm); released and
// bytes_released (spans and bytes unmapped, trim included). Once quiet and trimmed:
// puts == hot_hits + warm_hits + released.
#ifndef HAK_PAGE_ARENA_H
#define HAK_PAGE_ARENA_H

#include "platform.h"

#include <stdatomic.h>

typedef struct pa_span {
    struct pa_span *next;
    size_t bytes;
    uint64_t since_ms;
} pa_span_t;

typedef struct {
    hak_lock_t lock;
    pa_span_t *hot, *warm;        // newest first; heads also read without the lock (tick)
    size_t hot_bytes, warm_bytes; // under lock
    // Under lock: no span of the list is older than this (a lower bound: taking a span can only
    // make the list younger), so a put that exceeds no bound and finds nothing due walks nothing.
    uint64_t hot_oldest_ms, warm_oldest_ms;
    size_t max_hot_bytes, max_warm_bytes;
    uint64_t hot_decay_ms, warm_decay_ms;
    struct {
        _Atomic uint64_t puts, hot_hits, warm_hits, misses, decommitted, released;
        _Atomic uint64_t bytes_released;
    } stats;
} page_arena_t;

// An empty arena. A decay of UINT64_MAX: never by time; a bound of 0: that level is skipped
// (max_hot_bytes 0 decommits at put, both 0 unmaps at put).
void page_arena_init(page_arena_t *a, size_t max_hot_bytes, size_t max_warm_bytes,
                     uint64_t hot_decay_ms, uint64_t warm_decay_ms);

// A cached span of at least `bytes` and at most bytes + bytes/4: the smallest such hot span, else
// the smallest such warm one; NULL (a miss) if none. Sets *span_bytes to its size and *hot to
// whether it kept its pages (false: every page but the first reads as zero).
void *page_arena_take(page_arena_t *a, size_t bytes, size_t *span_bytes, bool *hot);

// Cache a span (page-aligned, `bytes` a multiple of the page) at time now_ms, then apply the bounds
// and decay (which may decommit or unmap spans, this one included).
void page_arena_put(page_arena_t *a, void *span, size_t bytes, uint64_t now_ms);

// Apply decay (and bounds) without a put. Takes no lock when the arena is empty.
void page_arena_tick(page_arena_t *a, uint64_t now_ms);

// Unmap every cached span. Returns true if there was one. (A span in flight to the warm list in
// another thread's put is not seen; it lands there afterwards.)
bool page_arena_trim(page_arena_t *a);
// Bytes of the spans cached hot (their pages resident), read under the lock.
size_t page_arena_hot_bytes(page_arena_t *a);

// Fork support: hold the arena's lock across fork, and make it free again in the child.
void page_arena_lock(page_arena_t *a);
void page_arena_unlock(page_arena_t *a);
void page_arena_reset_lock(page_arena_t *a);

#endif
