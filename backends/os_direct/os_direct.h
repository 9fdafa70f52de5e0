// os_direct: blocks too big for any slab, each in its own mapping.
//
// The mapping starts (or, for alignments of 2 MiB and more, has a page exactly 2 MiB before the
// block) with a header on a 2 MiB boundary, registered in the segmap as SEGMAP_HUGE, so a block
// address finds its header the same way a slab block finds its segment.
#ifndef HAK_OS_DIRECT_H
#define HAK_OS_DIRECT_H

#include "segment.h"

typedef struct {
    void *block;      // the address handed out
    void *map;        // the mapping
    size_t map_size;
    size_t usable;    // bytes from block to the end of the mapping
} os_direct_header_t;

// A block of at least `size` bytes aligned to `align` (a power of two), its first `size` bytes
// zero if `zero`. NULL with errno = ENOMEM.
void *os_direct_alloc(size_t size, size_t align, bool zero);
// The header of a block, or NULL if p is not a block os_direct handed out.
HAK_INLINE os_direct_header_t *os_direct_header(void *p) {
    os_direct_header_t *h = (os_direct_header_t *)segment_header_of(p);
    return h->block == p ? h : NULL;
}
// Grow a block to at least `size` bytes by moving its pages to a new, larger mapping (mremap: no
// copy). Returns the new address, or NULL (the block is untouched) if that cannot be done: the
// caller then copies.
void *os_direct_grow(os_direct_header_t *h, size_t size);
// Free a block: its mapping goes to the page_arena box for reuse (with HAK_PAGE_ARENA) or is
// unmapped.
void os_direct_free(os_direct_header_t *h);
// Unmap every mapping the page_arena holds. Returns true if there was one.
bool os_direct_trim(void);
// Apply the page_arena's decay now (the background purger calls it).
void os_direct_tick(void);
// Bytes unmapped so far, by os_direct itself and by its page_arena.
uint64_t os_direct_bytes_unmapped(void);
#if HAK_PAGE_ARENA
#include "page_arena.h"
// The page_arena that freed huge mappings go to (for its counters).
page_arena_t *os_direct_arena(void);
#endif
// Fork support.
void os_direct_lock(void);
void os_direct_unlock(void);
void os_direct_reset_lock(void);

typedef struct {
    _Atomic uint64_t allocs, frees, cache_hits, grows, bytes_mapped, bytes_live;
    _Atomic uint64_t bytes_unmapped; // by os_direct itself; see os_direct_bytes_unmapped
} os_direct_stats_t;
extern HAK_INTERNAL os_direct_stats_t os_direct_stats;

#endif
