// page_arena: a cache of freed spans (page-aligned mappings) in front of the OS, in two levels.
//
// Glossary
//   span      a page-aligned mapping of a whole number of pages, handed in by page_arena_put;
//             while moving between levels its first bytes hold a pa_span_t (the caller
//             re-initialises its own header when it takes the span back)
//   hot       a cached span that keeps its pages: reusing it costs no system call, no page fault
//   warm      a cached span whose pages, all but the first, were decommitted (MADV_DONTNEED): it
//             stays mapped, so reuse costs no mmap, only the page faults of the pages touched;
//             those pages read as zero
//   released  unmapped (munmap), gone from the arena
//
// A put makes the span hot. Spans move on, oldest first, when a level is over its byte bound or
// when they have stayed in it for its decay time: hot -> warm -> released. The hot level decays
// by time only once no take has been seen for its decay time (the takes are noticed at the next
// put or tick): while a program keeps taking, only the bound applies. Decommitting and
// unmapping happen outside the lock, and a span is decommitted before it enters the warm level
// (purge before publish: a span visible in a level may be taken at once by another thread).
// While in flight between the levels a span is in no level and counted in no bound.
//
// Each level is an index: an array of (span, bytes, since_ms) entries, oldest first, sorted by
// since_ms (a span's time is raised to that of the newest entry when a caller's clock reading lags
// another's), so decay and bounds cut from the front. The best-fit scan reads only this array, never
// the spans' own pages (a scan through nodes stored in the spans took a TLB and cache miss per
// span: raising the hot bound from 64 to 256 MiB made a loop over 2-8 MiB blocks 25% slower).
// A level holds at most PA_LEVEL_CAP spans; a put into a full level moves its oldest span on.
// A warm span's since_ms is the time it became warm.
//
// Splitting and merging (page_arena_set_split, off by default): a take may be served by any
// bigger span, which is split at a multiple of the split unit (its head goes to the caller, the
// rest keeps its entry, level and time); a span put next to hot spans (a split's other part, or a
// mapping the kernel placed beside another) merges with them into one entry. Without it a freed
// 12 MiB span could not serve a 20 MiB request nor two 6 MiB ones, and a program whose huge blocks
// change size at every step mapped and faulted in most of them afresh. Warm spans are split but
// never merged (a warm span's first page may hold data; the pages after it must read as zero).
//
// Counters (relaxed, statistics only): puts; hot_hits and warm_hits (takes served from each
// level); misses (takes that found nothing); decommitted (spans moved hot -> warm); released and
// bytes_released (spans and bytes unmapped, trim included); splits (takes served by the head of a
// bigger span), merges (spans absorbed by a neighbour put next to them). Once quiet and trimmed:
// smaller_hits (takes of page_arena_take_smaller served). Once quiet and trimmed:
// puts + splits == hot_hits + warm_hits + smaller_hits + released + merges.
#ifndef HAK_PAGE_ARENA_H
#define HAK_PAGE_ARENA_H

#include "platform.h"

#include <stdatomic.h>

#define PA_LEVEL_CAP 128

// A span in flight between levels (cut from one, not yet in another) is chained through its own
// first page, which is never decommitted.
typedef struct pa_span {
    struct pa_span *next;
    size_t bytes;
} pa_span_t;

typedef struct {
    void *span;
    size_t bytes;
    uint64_t since_ms;
} pa_entry_t;

typedef struct {
    pa_entry_t entry[PA_LEVEL_CAP]; // [0] oldest; under lock
    unsigned count;                 // under lock; also read without it (emptiness peek)
    size_t bytes;                   // under lock
} pa_level_t;

#define PAGE_ARENA_COUNTERS(X)                                                                     \
    X(puts, "spans cached")                                                                        \
    X(hot_hits, "takes served by a hot span")                                                      \
    X(warm_hits, "takes served by a warm span")                                                    \
    X(misses, "takes that found no span")                                                          \
    X(decommitted, "spans moved from hot to warm")                                                 \
    X(released, "spans unmapped (trim included)")                                                  \
    X(bytes_released, "bytes unmapped")                                                            \
    X(splits, "takes served by the head of a bigger span")                                         \
    X(merges, "cached spans absorbed by a neighbour put next to them")                             \
    X(smaller_hits, "misses served by a smaller hot span for the caller to extend")
typedef struct {
    PAGE_ARENA_COUNTERS(HAK_COUNTER_FIELD)
} page_arena_counters_t;

typedef struct {
    hak_lock_t lock;
    pa_level_t hot, warm;
    size_t max_hot_bytes, max_warm_bytes;
    uint64_t hot_decay_ms, warm_decay_ms;
    size_t split_unit; // 0: spans are taken whole and never merged
    uint64_t takes, takes_seen, last_take_ms; // under lock: when takes were last seen going on
    page_arena_counters_t stats;
} page_arena_t;

// An empty arena. A decay of UINT64_MAX: never by time; a bound of 0: that level is skipped
// (max_hot_bytes 0 decommits at put, both 0 unmaps at put).
void page_arena_init(page_arena_t *a, size_t max_hot_bytes, size_t max_warm_bytes,
                     uint64_t hot_decay_ms, uint64_t warm_decay_ms);

// Split bigger spans and merge neighbours (see above): spans are cut at multiples of `unit` bytes
// from their start (a power of two, a multiple of the page); 0 turns it off. Before any put.
void page_arena_set_split(page_arena_t *a, size_t unit);

// A cached span of at least `bytes`: the smallest hot one, else the smallest warm one; NULL (a
// miss) if none. Without splitting only spans of at most bytes + bytes/4 serve; with it a bigger
// span serves whole up to that size, and beyond it is split: the caller gets its first
// `bytes` rounded up to the split unit (when at least a unit remains). Sets *span_bytes to the
// size handed out and *hot to whether it kept its pages (false: every page but the first reads
// as zero).
void *page_arena_take(page_arena_t *a, size_t bytes, size_t *span_bytes, bool *hot);

// After a miss: the biggest hot span smaller than `bytes`, whole (*span_bytes its size), for a
// caller that can extend it in place of mapping `bytes` afresh (mremap keeps its pages: only the
// extension faults in); NULL if there is none.
void *page_arena_take_smaller(page_arena_t *a, size_t bytes, size_t *span_bytes);

// Cache a span (page-aligned, `bytes` a multiple of the page) at time now_ms, then apply the bounds
// and decay (which may decommit or unmap spans, this one included).
void page_arena_put(page_arena_t *a, void *span, size_t bytes, uint64_t now_ms);

// Apply decay (and bounds) without a put. Takes no lock when the arena is empty.
void page_arena_tick(page_arena_t *a, uint64_t now_ms);

// Unmap every cached span. Returns true if there was one. (A span in flight to the warm level in
// another thread's put is not seen; it lands there afterwards.)
bool page_arena_trim(page_arena_t *a);
// Bytes of the spans cached hot (their pages resident), read under the lock.
size_t page_arena_hot_bytes(page_arena_t *a);

// Fork: the arena's one lock is `lock`; its owner protects it with hak_fork_protect.

#endif
