// depots: one batch_depot per tiny and mid class, where a thread whose cache overflows leaves a
// whole batch for the next thread that runs dry (a server, a producer and its consumers), each
// bounded to DEPOT_BYTES of blocks (at most BATCH_DEPOT_MAX batches). Blocks waiting in a depot
// count as used by their slabs, so a depot idle since the purger's last pass is flushed back to
// them. The variant without a thread cache has none.
#ifndef HAK_DEPOTS_H
#define HAK_DEPOTS_H

#include "batch_depot.h"
#include "heap.h"

#define DEPOT_CLASSES (HAK_TINY_CLASSES + HAK_MID_CLASSES)
#define DEPOT_BYTES (1024 * HAK_KiB)

extern HAK_INTERNAL batch_depot_t hak_depots[DEPOT_CLASSES];

// Start-up: each depot's bound from its class's batch size; their locks protected across fork.
void depots_init(void);

// The depot of a class, or NULL if it has none.
HAK_INLINE batch_depot_t *depot_of(unsigned cls) {
    return TC_USES_DEPOTS && cls < DEPOT_CLASSES ? &hak_depots[cls] : NULL;
}

// Give the blocks of depots idle since the last call (all: every depot) back to their slabs.
// Any thread may call it. Returns true if a batch went back.
bool depots_flush_idle(bool all);

// Free blocks waiting in a class's depot (0: it has none).
HAK_INLINE uint64_t depot_blocks_of(unsigned cls) {
    batch_depot_t *d = depot_of(cls);
    return d != NULL ? batch_depot_blocks(d) : 0;
}

// Statistics: the counters of every depot added up, and the bytes of blocks waiting in them.
void depots_sum(batch_depot_counters_t *sum, uint64_t *bytes);

#endif
