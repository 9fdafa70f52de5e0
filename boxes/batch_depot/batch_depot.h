// batch_depot: a bounded stack of batches of free blocks that threads hand each other.
//
// Glossary
//   batch   a chain of free blocks linked through their first words (first .. last, NULL after
//           last) and its length; the depot never reads or writes the blocks
//   depot   one per size class, shared by every thread, under one lock: put and take move a whole
//           batch in O(1)
//
// A thread whose cache overflows puts a batch here instead of sending each block back to its slab;
// a thread whose cache runs dry takes a batch back, whoever put it. Blocks then travel between
// threads' caches (a server whose threads free what others allocated, a producer and a consumer)
// without a trip through the slabs' remote queues and free lists. The bound (`cap` batches) keeps
// what waits here small; a put into a full depot is refused and the caller takes the slow way.
// Blocks waiting here count as used by their slabs: the caller flushes an idle depot
// (batch_depot_take_all) back to the slabs so that they can empty.
//
// Counters (relaxed, statistics only): puts, takes, refused (puts into a full depot), flushed
// (batches handed back by take_all).
#ifndef HAK_BATCH_DEPOT_H
#define HAK_BATCH_DEPOT_H

#include "platform.h"

#include <stdatomic.h>

#define BATCH_DEPOT_MAX 64

typedef struct {
    void *first, *last;
    uint32_t n;
} depot_batch_t;

#define BATCH_DEPOT_COUNTERS(X)                                                                    \
    X(puts, "batches put")                                                                         \
    X(takes, "batches taken")                                                                      \
    X(refused, "puts refused: the depot was full")                                                 \
    X(flushed, "batches handed back by take_all")
typedef struct {
    BATCH_DEPOT_COUNTERS(HAK_COUNTER_FIELD)
} batch_depot_counters_t;

typedef struct {
    hak_lock_t lock;
    uint32_t cap;                        // set by batch_depot_init
    // Written under the lock; read without it (relaxed) as hints by put, take and statistics.
    _Atomic uint32_t count, blocks;      // batches and blocks waiting
    // The caller's storage of cap batches, apart from the depot: a process that never fills a
    // depot never touches its pages (40 depots with their batches inside were 68 KB resident
    // from start-up on).
    depot_batch_t *batches;
    batch_depot_counters_t stats;
} __attribute__((aligned(HAK_CACHE_LINE))) batch_depot_t;

// An empty depot of at most cap batches (at most BATCH_DEPOT_MAX), kept in `storage` (room for
// that many); once, before any other call.
void batch_depot_init(batch_depot_t *d, uint32_t cap, depot_batch_t *storage);

// Whether a put would find room now (a relaxed hint: a put can still be refused).
HAK_INLINE bool batch_depot_has_room(batch_depot_t *d) {
    return atomic_load_explicit(&d->count, memory_order_relaxed) < d->cap;
}

// Whether the depot holds no batch now (a relaxed hint).
HAK_INLINE bool batch_depot_empty(batch_depot_t *d) {
    return atomic_load_explicit(&d->count, memory_order_relaxed) == 0;
}

// Put a batch (n >= 1 blocks, first..last linked, *last == NULL). False when the depot is full:
// the batch stays the caller's.
bool batch_depot_put(batch_depot_t *d, void *first, void *last, uint32_t n);

// Take the most recently put batch. False when the depot is empty (checked first without the lock).
bool batch_depot_take(batch_depot_t *d, depot_batch_t *out);

// Take every batch (into out[BATCH_DEPOT_MAX]); returns how many.
uint32_t batch_depot_take_all(batch_depot_t *d, depot_batch_t *out);

HAK_INLINE uint32_t batch_depot_blocks(batch_depot_t *d) {
    return atomic_load_explicit(&d->blocks, memory_order_relaxed);
}

// Fork: the depot's one lock is `lock`; its owner protects it with hak_fork_protect.

#endif
