// slab statistics: the heaps' counters added up per frontend (tiny, mid, large), with the bytes
// that caches, spare slabs and depots hold.
#ifndef HAK_SLAB_STATS_H
#define HAK_SLAB_STATS_H

#include "batch_depot.h"
#include "heap.h"

#define SLAB_FRONTENDS FRONTEND_HUGE // tiny, mid, large
extern HAK_INTERNAL const char *const slab_frontend_names[SLAB_FRONTENDS];

typedef struct {
    uint64_t allocs[SLAB_FRONTENDS], frees[SLAB_FRONTENDS];
    uint64_t in_use_bytes[SLAB_FRONTENDS]; // live blocks, at their class's size
    // Per class: free blocks waiting in thread caches and depots.
    uint64_t free_blocks[HAK_NCLASSES];
    heap_counters_t counters[SLAB_FRONTENDS];
    uint64_t heapless_frees;   // of frees: by threads that never allocated
    uint64_t heaps, heaps_live;
    uint64_t thread_cache_bytes, spare_slab_bytes, depot_bytes;
    batch_depot_counters_t depots;
} slab_stats_t;

void slab_stats_sum(slab_stats_t *out);
// The HAKMEM_STATS lines: one per frontend, the thread caches, the depots, the grow regions.
void slab_stats_report(const slab_stats_t *s, hak_stats_writer_t *w);

#endif
