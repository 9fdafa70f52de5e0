// alloc: the parts of the public API that both the malloc family (malloc.c) and the C++ operators
// (cxx_operators.c) are made of: the class of an aligned request, free's body, the slow paths.
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include "grow.h"
#include "heap.h"
#include "os_direct.h"
#include "prof.h"

// The slab class serving `size` bytes aligned to `align` (a power of two), or HAK_NCLASSES for
// a huge block.
HAK_INLINE unsigned aligned_class(size_t align, size_t size) {
    if (align < 16) align = 16; // every block is 16-byte aligned
    if (align <= 64 * HAK_KiB && size <= HAK_LARGE_MAX &&
        ((size + align - 1) & ~(align - 1)) <= HAK_LARGE_MAX)
        return size_class_aligned(size, align);
    return HAK_NCLASSES;
}

// A block of `size` bytes aligned to `align` (a power of two), from a slab or its own mapping;
// NULL with errno = ENOMEM.
void *aligned_alloc_any(size_t align, size_t size);

// free of anything but a slab block: NULL, a grow region's block, a sampled block, a huge block;
// anything else is reported and aborts. Out of line, so that free's fast path keeps no register
// across a call (no stack frame).
void free_other(void *p, unsigned what);

// free: a slab block to the thread's cache (the fast path), or free_other.
HAK_INLINE void free_any(void *p) {
    uintptr_t hdr = segment_header_of(p);
    unsigned what = segmap_get(hdr);
    // Tiny blocks first, with their slot shift as a constant: the slab's address then does not
    // wait for the segment-map byte (the CPU loads the slab line while the byte's test is
    // predicted), one dependent load fewer on the way to the push.
    if (HAK_LIKELY(what == SEGMAP_TINY)) {
        heap_free((hak_segment_t *)hdr, p, SEGMAP_TINY);
        return;
    }
    if (HAK_LIKELY(segmap_is_slabs(what))) {
        heap_free((hak_segment_t *)hdr, p, what);
        return;
    }
    free_other(p, what);
}

#endif
