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

// A block of at least `size` bytes aligned to `align` (a power of two). NULL with errno = ENOMEM.
void *os_direct_alloc(size_t size, size_t align);
// The header of a block, or NULL if p is not a block os_direct handed out.
HAK_INLINE os_direct_header_t *os_direct_header(void *p) {
    os_direct_header_t *h = (os_direct_header_t *)segment_header_of(p);
    return h->block == p ? h : NULL;
}
void os_direct_free(os_direct_header_t *h);

typedef struct {
    _Atomic uint64_t allocs, frees, bytes_mapped, bytes_unmapped;
} os_direct_stats_t;
extern os_direct_stats_t os_direct_stats;

#endif
