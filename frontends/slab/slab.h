// slab: one slab as its owner heap sees it: which of the heap's lists it is on, the blocks other
// threads sent back to it, and the blocks it gives a thread cache. (Its metadata and address
// arithmetic are the segment backend's: backends/segment/segment.h.)
//
// A slab's `used` counts its carved blocks that are not on its local free list: live blocks,
// blocks in any thread's cache or a depot, blocks waiting in its remote queue. So a slab whose
// blocks have all come back is seen empty, and goes back to its segment.
#ifndef HAK_SLAB_H
#define HAK_SLAB_H

#include "heap.h"

// The owner's lists a slab can be on (its `list` field; owner only).
enum { SLAB_FREE_SLOT, SLAB_CURRENT, SLAB_PARTIAL, SLAB_FULL, SLAB_SPARE, SLAB_ABANDONED };

// Put s at the head of a bin's partial or full list.
void slab_list_push(heap_bin_t *bin, hak_slab_t *s, unsigned list);
// Take s off whichever list of the bin it is on (the current slab included).
void slab_list_remove(heap_bin_t *bin, hak_slab_t *s);

// Move the blocks other threads freed into the local free list. Returns how many.
size_t slab_collect_remote(hak_slab_t *s);
// The same, counted in h's statistics.
HAK_INLINE void heap_collect_remote(hak_heap_t *h, hak_slab_t *s) {
    hak_count_owned(&h->stats[s->cls].remote_collected, slab_collect_remote(s));
}

// Add up to `want` blocks of slab s to a cache: its free blocks (with the remote frees waiting
// for it), then uncarved ones. Returns how many; fewer than `want` means the slab has no more.
uint32_t slab_take(hak_heap_t *h, hak_slab_t *s, uint32_t want, tc_t *cache);

// Give an empty slab, off every list, back to its segment.
void slab_release(hak_slab_t *s);

#endif
