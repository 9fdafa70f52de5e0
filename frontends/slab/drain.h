// drain: blocks leaving a thread cache, back to their slabs.
//
// A cache that overflows (a free finds it full) drains one batch: if the block it would give
// first belongs to another heap's slab (the thread frees what others allocated: a server, a
// ring), the whole batch goes into the class's depot as it is, for the next thread that runs
// dry; else block by block, the heap's own blocks to their slabs' free lists and other heaps'
// blocks, gathered per slab, to their remote queues (or as one batch to the depot when they are
// half the batch or more). The idle tick, malloc_trim and thread exit drain whole caches.
#ifndef HAK_DRAIN_H
#define HAK_DRAIN_H

#include "heap.h"

// Return up to n blocks of a class's cache to their slabs (with `to_depot`, other heaps' blocks
// that come to half the batch or more go as one batch into the class's depot). Owner (entered).
void heap_drain_n(hak_heap_t *h, unsigned cls, uint32_t n, bool to_depot);

#endif
