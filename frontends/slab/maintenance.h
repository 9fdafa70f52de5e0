// maintenance: giving idle memory back, on three occasions.
//
//   the tick        once per HAKMEM_PURGE_DELAY_MS on the owner's slow path: a class that
//                   allocated nothing since the last tick drains its cache, its bound and spare go
//   the purger      a background thread (frontends/api/purger.c) runs heap_maintain every
//                   HAKMEM_PURGE_DELAY_MS / 2, so a program gone idle returns its memory too
//   malloc_trim     heap_trim: everything free goes back now
//
// One pass (heap_maintain) flushes idle depots, collects the remote frees idle heaps' slabs were
// sent, releases idle spare slabs and the abandoned slabs that frees emptied, and has the
// segments purge what waited long enough; `all` does it all now, regardless of age.
#ifndef HAK_MAINTENANCE_H
#define HAK_MAINTENANCE_H

#include "heap.h"

// The owner's tick (entered), on every slow path; reads the clock on one in 32.
void heap_tick(hak_heap_t *h);

// One pass over the heaps, depots and segments. Any thread but an owner on its slow path.
// Returns true if a slab or segment was released or purged.
bool heap_maintain(bool all);

// Give everything free back: the calling thread's caches, empty slabs (its own and abandoned
// ones) and empty segments. Returns true if a slab or segment was released.
bool heap_trim(void);

// The purger's passes over idle heaps so far (statistics).
uint64_t heap_idle_collections(void);

#endif
