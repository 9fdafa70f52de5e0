// bins: each heap's slabs of one size class, where they come from and where an empty one goes.
//
// A bin holds `cur` (refills come from it), `partial` (free or uncarved blocks left), `full`
// (nothing left but blocks other threads may free) and, for tiny and mid classes, one `spare`
// empty slab. A bin that needs a slab takes its spare, else adopts one an exited thread abandoned,
// else asks the segment backend for a slot. An empty slab becomes the spare if there is none, or
// goes back to its segment.
#ifndef HAK_BINS_H
#define HAK_BINS_H

#include "slab.h"

// A slab for class cls (formatted, owned by h): an abandoned one if any, else a slot of a
// segment. NULL with errno = ENOMEM.
hak_slab_t *bin_claim_slab(hak_heap_t *h, unsigned cls);

// Take a class's spare slab (owner or purger), or NULL.
hak_slab_t *bin_take_spare(heap_bin_t *bin);
// Release a class's spare slab (an idle class, trim). Returns true if there was one.
bool bin_release_spare(heap_bin_t *bin);
// Release the spare slabs of every heap that have been spare for HAKMEM_PURGE_DELAY_MS (all: now).
// Any thread may call it.
bool bins_release_idle_spares(bool all);

// Return a block of one of h's slabs to that slab (an empty slab goes to bin_retire).
void bin_free_local(hak_heap_t *h, hak_slab_t *s, void *b);
// Full slabs of h's class cls that received remote frees become partial again (or are retired).
void bin_collect_full(hak_heap_t *h, unsigned cls);

// Spare slabs held by all heaps (the purger skips its walk when there are none).
long bins_spare_slabs(void);

#endif
