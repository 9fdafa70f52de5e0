// heaps: every heap ever made, which thread works on a heap's slabs, and a thread's exit.
//
// A thread gets a heap on its first slow path: one an exited thread left (its caches empty, its
// slabs released or abandoned), or a new one. Heaps are never unmapped, so a heap pointer read
// from a slab is always safe to write a hint through.
//
// A heap's slabs are worked on by its owner on its slow paths, or by the purger when the owner has
// entered no slow path since the purger's last pass (collecting the remote frees its slabs were
// sent and releasing the slabs that are then empty, which an idle owner never would). `maint`
// says which; the owner's fast paths touch only its caches and never look.
#ifndef HAK_HEAPS_H
#define HAK_HEAPS_H

#include "heap.h"

// Start-up: the thread-exit hook, the registry's lock protected across fork.
void heaps_init(void);

// The calling thread's new heap (now hak_tls_heap), or NULL with errno = ENOMEM.
hak_heap_t *heap_create(void);

// The owner, on a slow path: wait for the purger's pass to end, then work on the slabs.
void heap_enter(hak_heap_t *h);
void heap_leave(hak_heap_t *h);
// The purger: work on the slabs of h unless its owner is on a slow path right now.
bool heap_enter_purger(hak_heap_t *h);
void heap_leave_purger(hak_heap_t *h);

// Drain every cache of h and release its empty slabs (and spares); with `abandon` (thread exit)
// leave the others to the segments' abandoned lists. Owner (entered). Returns true if a slab was
// released.
bool heap_release_slabs(hak_heap_t *h, bool abandon);

// Walk every heap ever made (h->next_all) between heaps_lock and heaps_unlock.
void heaps_lock(void);
void heaps_unlock(void);
hak_heap_t *heaps_all(void);

// Frees by threads that never allocated, per class (they have no heap to count them in).
extern HAK_INTERNAL hak_counter_t hak_heapless_frees[HAK_NCLASSES];

#endif
