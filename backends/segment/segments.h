// segments: the life of the slab segments, from mapping to purge. The slab frontend asks for a
// slot when it needs a slab and gives it back when the slab is empty; the rest happens here.
//
//   claimed   a slot holds a slab (segments_claim_slot): a free slot of any segment of its kind,
//             else a new segment's
//   dirty     a released slot whose pages may still be resident; purged once dirty for
//             HAKMEM_PURGE_DELAY_MS if its segment stays in use (segments_purge_dirty_slots)
//   empty     a segment whose slots are all free: it waits in the segment cache (segment_cache.h),
//             where a claim finds it again for free; evicted by the cache's bounds or expired
//             (segments_expire), it is purged: seized (nobody can claim a slot meanwhile), its
//             pages given back but for the header, then published again (purge before publish)
//   abandoned a slab its exiting owner left with live blocks; the next thread that needs its
//             class adopts it, or it is reclaimed once empty
//
// Segments are never unmapped, so a walk over a pool's segments needs no lock.
#ifndef HAK_SEGMENTS_H
#define HAK_SEGMENTS_H

#include "segment.h"

// Start-up: the segment cache's bounds from the options; the pools' locks protected across fork.
void segments_init(void);

// A slot for a new slab of `kind`: sets *seg and returns the slot, or -1 with errno = ENOMEM.
int segments_claim_slot(seg_kind_t kind, hak_segment_t **seg);
// Give back the slot of an empty slab (the caller has reset the slab).
void segments_release_slot(hak_segment_t *seg, unsigned slot);

// Purge the empty segments that have waited HAKMEM_PURGE_DELAY_MS in the cache (all: every one).
// Any thread may call it. Returns true if a segment was purged.
bool segments_expire(bool all);
// Purge the free slots of segments in use once dirty for HAKMEM_PURGE_DELAY_MS (all: now).
bool segments_purge_dirty_slots(bool all);

// Abandoned slabs, per size class: leave one, adopt one (NULL: none), or take out those for
// which empty(link) is true, chained through their `next` (empty runs under the pool's lock, which
// keeps adopters away: it may act as the slab's owner). Release the taken slabs after the call.
void segments_abandon(hak_slab_t *s);
hak_slab_t *segments_adopt(seg_kind_t kind, unsigned cls);
hak_slab_t *segments_reclaim_abandoned(seg_kind_t kind, unsigned cls, bool (*empty)(sp_link_t *));

// The space of a kind's segments: mapped; committed, an upper bound of the resident bytes
// (headers, claimed and dirty slots); free slots, and the bytes of those still dirty (resident
// until purged).
typedef struct {
    uint64_t mapped, committed, free_slots, free_dirty_bytes;
} segments_space_t;
void segments_space(seg_kind_t kind, segments_space_t *out);
// The same, added up over every kind.
void segments_space_total(segments_space_t *out);
// The counters of a kind's pool of slots.
const shared_pool_counters_t *segments_pool_counters(seg_kind_t kind);
// The segment cache's counters (all zero without a cache).
const lru_counters_t *segments_cache_counters(void);
// The statistics report's groups: the pools, the segment cache, the segments.
void segments_report(hak_stats_writer_t *w);

#endif
