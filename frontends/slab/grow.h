// grow: each heap's grow region (boxes/grow_region), where realloc moves a block it grows so that
// the next growths of that block happen in place.
//
// A region is one 2 MiB segment-aligned mapping whose segmap entry is SEGMAP_GROW. A heap makes
// its region on the first realloc that grows a block, keeps it while its thread lives, purges the
// pages above the region's top on the idle tick and on malloc_trim, and lets it go at thread exit;
// the last free of a let-go region puts it on a list of free regions, decommitted, for the next
// thread (regions are never unmapped, like heaps).
#ifndef HAK_GROW_H
#define HAK_GROW_H

#include "grow_region.h"
#include "heap.h"

// Start-up: the free-region list's lock protected across fork.
void heap_grow_init(void);

void *heap_grow_place(size_t size);
// A new block of `size` bytes in the calling thread's region; NULL if it has none (a thread
// without a heap, the variant without grow regions) or no room. Any thread's block can be moved
// there; its user copies the contents.
HAK_INLINE void *heap_grow_alloc(size_t size) {
    return HAK_GROW_REGION ? heap_grow_place(size) : NULL;
}

// Resize p, a pointer into region r, in place (false if the calling thread does not own r, p is
// not a live block of it, or it cannot grow there).
HAK_INLINE bool heap_grow_resize(grow_region_t *r, void *p, size_t size) {
    if (!grow_region_owned_by(r, hak_tls_heap)) return false;
    if (grow_region_resize_last(r, p, size)) return true;
    return grow_region_block(r, p) != NULL && grow_region_resize(r, p, size);
}

// Usable size of p, a block of region r; reports and aborts if p is not a live block of r.
size_t heap_grow_usable(grow_region_t *r, void *p, const char *caller);

// Free p, a block of region r, from any thread; reports and aborts on an invalid or double free.
void heap_grow_free(grow_region_t *r, void *p);

// Owner side: the idle tick, malloc_trim and thread exit.
bool heap_grow_purge(hak_heap_t *h, bool all);
void heap_grow_exit(hak_heap_t *h);

typedef struct {
    uint64_t regions, dirty_bytes;
    grow_region_counters_t counters;
} heap_grow_stats_t;
void heap_grow_stats_sum(heap_grow_stats_t *out);
// The grow regions' group of the statistics report.
void heap_grow_report(hak_stats_writer_t *w);

#endif
