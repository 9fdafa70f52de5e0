// cache bounds: how many blocks each class's thread cache may hold, and how many a refill brings.
//
// A class's cache holds at most bound_batches batches, HAK_CACHE_BASE_BATCHES to start with. A
// refill that follows a drain of the same class means blocks went away that the thread then
// needed back (a burst of frees from other threads, a thread that frees in one phase and allocates
// in the next, the random walk of a class's live count): the bound grows by a batch, up to
// HAK_CACHE_MAX_BATCHES and the box's limit, while the heap's bounds stay within
// CACHE_EXTRA_BYTES above the base. A class gone idle (the tick), malloc_trim and the thread's exit
// put it back to the base. A thread that only frees or only allocates never grows a bound. Each
// block moved by a drain and a refill costs a walk over cold blocks, and between threads a cache
// miss on each: in a ring of 4 threads freeing half their blocks in the next one, the base bound
// moved 10-30% of all blocks through the depot.
//
// A thread that only frees (a program tearing down its structures, a thread freeing what exited
// threads left) would leave each class's cache full when it stops: blocks nobody will take,
// pinning their slabs until the thread allocates again, which may be never (free everything and
// sleep: 3.7 MB of caches kept 7.6 MB resident). Once drains with no refill in between have
// moved EMPTYING_BYTES (8 MiB) of batches, not counting drains of blocks bound for a live heap (a
// consumer's, which go on to the depot), while the heap allocated fewer blocks than an eighth of
// those (a churn served from the caches allocates as many), the heap's caches are emptied: every
// class's blocks go back and its bound
// drops to an eighth of a batch (at least one block) until the class refills; a drain of a
// lowered class takes all its blocks.
//
// A fresh heap's refills start at 4 blocks and double up to size_class_batch, so a short-lived
// thread does not carve (and drain at exit) full batches of classes it uses a few times.
#ifndef HAK_CACHE_BOUNDS_H
#define HAK_CACHE_BOUNDS_H

#include "heap.h"

// Owner only.
void cache_on_refill(hak_heap_t *h, unsigned cls);
// What a drain of the class is to take (to_live_heap: its blocks are bound for another live heap,
// or are not to count in the run): a batch; every block of the class, its bound lowered (if it
// is not already); or every block of every class not bound for a live heap, their bounds lowered
// (the run of drains has just shown a thread that only frees).
typedef enum { DRAIN_BATCH, DRAIN_CLASS, DRAIN_ALL_CLASSES } drain_kind_t;
drain_kind_t cache_on_drain(hak_heap_t *h, unsigned cls, bool to_live_heap);
// Lowers the class's bound until its next refill (or tick).
void cache_lower_bound(hak_heap_t *h, unsigned cls);
void cache_reset_bound(hak_heap_t *h, unsigned cls);
// Blocks the next refill of the class takes (and the one after takes twice as many).
uint32_t cache_next_refill_batch(hak_heap_t *h, unsigned cls);

#endif
