// remote free: blocks going back to slabs other heaps own, through each slab's remote_queue.
//
// A chain pushed to an empty queue sets the owner's remote_hint for the class, so the owner looks
// for remote frees in its full slabs at its next refill (and the purger, if the owner is idle).
// Blocks pushed to an abandoned slab (owner exited) set a process-wide flag instead, so the purger
// looks for abandoned slabs those blocks emptied.
#ifndef HAK_REMOTE_FREE_H
#define HAK_REMOTE_FREE_H

#include "heap.h"

// Push a chain of n blocks of slab s (first..last, class cls) into its remote queue.
void remote_push(hak_slab_t *s, unsigned cls, void *first, void *last, uint32_t n);

// Send a NULL-terminated chain of blocks of class cls back to their slabs' remote queues, one push
// per run of blocks of one slab. Returns how many blocks.
uint32_t remote_return_chain(unsigned cls, void *chain);
// The same, counted in h's statistics (remote pushes and blocks).
void heap_remote_return_chain(hak_heap_t *h, unsigned cls, void *chain);

// Whether blocks went back to an abandoned slab since the last call.
bool remote_abandoned_freed(void);
// A slab is being abandoned: if blocks raced into its queue with the owner's last collection,
// remember them for remote_abandoned_freed.
void remote_note_abandoned(hak_slab_t *s);

#endif
