// shared_pool: the process-wide pool of slab slots, and of slabs whose owner thread has exited.
//
// Glossary
//   segment  a region carved into up to 32 equal slots; it embeds an sp_segment_t
//   slot     one slab's place in a segment, free or claimed, one bit of the segment's free_mask
//   abandoned  a slab still holding live blocks whose owner thread has exited; another thread of
//            the same size class adopts it
//
// Claiming and releasing slots is lock-free: one CAS or fetch_or on the segment's bitmap.
// Segments are only ever added to a pool, never unlinked, so a thread scanning the list can never
// touch a segment that went away. A segment whose slots are all free can be seized (every slot
// claimed at once) so that its pages can be purged while nobody can claim from it, then published
// again: purge before publish. Abandoned slabs are kept per size class under a mutex (slow path).
#ifndef HAK_SHARED_POOL_H
#define HAK_SHARED_POOL_H

#include "platform.h"

#include <stdatomic.h>

#define SP_MAX_CLASSES 128

typedef struct sp_segment {
    _Atomic uint32_t free_mask;     // bit i set: slot i is free
    uint32_t all_mask;              // the slots this segment has
    struct sp_segment *next;        // next segment of the pool; written once, before publishing
} sp_segment_t;

typedef struct sp_link {
    struct sp_link *next;
} sp_link_t;

#define SHARED_POOL_COUNTERS(X)                                                                    \
    X(slots_claimed, "slots claimed (a new segment's first slot included)")                        \
    X(slots_released, "slots given back")                                                          \
    X(segments_added, "segments added to the pool")                                                \
    X(segments_seized, "entirely free segments seized for a purge")                                \
    X(slabs_abandoned, "slabs left with live blocks by exiting threads")                           \
    X(slabs_adopted, "abandoned slabs taken over by another thread")                               \
    X(slabs_reclaimed, "abandoned slabs taken out once empty")
typedef struct {
    SHARED_POOL_COUNTERS(HAK_COUNTER_FIELD)
} shared_pool_counters_t;

typedef struct {
    _Atomic(sp_segment_t *) segments;  // every segment ever added, newest first
    _Atomic(sp_segment_t *) hint;      // where the last claim succeeded
    _Atomic long free_slots;           // a hint: claims skip the scan when it is zero
    hak_lock_t abandoned_lock;
    sp_link_t *abandoned[SP_MAX_CLASSES];
    uint64_t abandoned_count;          // under abandoned_lock
    shared_pool_counters_t stats;
} shared_pool_t;

#define SHARED_POOL_INIT {.abandoned_lock = HAK_LOCK_INIT}

// Claim a free slot from any segment of the pool. Returns the slot index and sets *seg, or -1
// when every slot is taken (the caller then adds a segment).
int shared_pool_claim(shared_pool_t *p, sp_segment_t **seg);
// Add a new segment whose slots are `all_mask`, claiming its lowest slot for the caller.
int shared_pool_add_segment(shared_pool_t *p, sp_segment_t *seg, uint32_t all_mask);
// Give a slot back. Returns true when every slot of the segment is now free.
bool shared_pool_release(shared_pool_t *p, sp_segment_t *seg, int slot);
// Claim every slot of a segment that is entirely free, so its memory can be purged. Returns false
// if some slot was claimed meanwhile.
bool shared_pool_seize_empty(shared_pool_t *p, sp_segment_t *seg);
// Make the slots of a seized segment claimable again.
void shared_pool_publish(shared_pool_t *p, sp_segment_t *seg);
// The same for one free slot: seize it (false if it is claimed) so its pages can be purged, then
// publish it again.
bool shared_pool_seize_slot(shared_pool_t *p, sp_segment_t *seg, int slot);
void shared_pool_publish_slot(shared_pool_t *p, sp_segment_t *seg, int slot);

// Abandoned slabs of a size class: push one, or take one (NULL when none).
void shared_pool_abandon(shared_pool_t *p, unsigned cls, sp_link_t *slab);
sp_link_t *shared_pool_adopt(shared_pool_t *p, unsigned cls);
// Take out every abandoned slab of a class for which empty(slab) is true, chained through their
// links (NULL when none). empty() runs under the pool's lock, which keeps adopters away: it may
// act as the slab's owner (collect its remote frees). Release the taken slabs after the call:
// releasing takes other locks.
sp_link_t *shared_pool_reclaim_abandoned(shared_pool_t *p, unsigned cls, bool (*empty)(sp_link_t *));

// Fork: the pool's one lock is `abandoned_lock`; its owner protects it with hak_fork_protect.

#endif
