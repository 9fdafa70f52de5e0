// os_direct: blocks too big for any slab, each in its own mapping.
//
// The mapping starts (or, for alignments of 1 MiB and more, has a page exactly 2 MiB before the
// block) with a header on a 2 MiB boundary, registered in the segmap as SEGMAP_HUGE, so a block
// address finds its header the same way a slab block finds its segment.
#ifndef HAK_OS_DIRECT_H
#define HAK_OS_DIRECT_H

#include "segmap.h"

typedef struct {
    void *block;      // the address handed out
    void *map;        // the mapping
    size_t map_size;
    size_t usable;    // bytes from block to the end of the mapping
    void *sample;     // the heap profiler's record if the block was sampled (frontends/prof), or NULL
} os_direct_header_t;

// A block of at least `size` bytes aligned to `align` (a power of two), its first `size` bytes
// zero if `zero`. NULL with errno = ENOMEM.
void *os_direct_alloc(size_t size, size_t align, bool zero);
// The header of a block, or NULL if p is not a block os_direct handed out.
HAK_INLINE os_direct_header_t *os_direct_header(void *p) {
    os_direct_header_t *h = (os_direct_header_t *)segment_header_of(p);
    return h->block == p ? h : NULL;
}
// The usable size a new block of `size` bytes (16-byte aligned) gets; `size` itself if too big.
size_t os_direct_good_size(size_t size);
// Grow a block to at least `size` bytes by moving its pages to a new, larger mapping (mremap: no
// copy). Returns the new address, or NULL (the block is untouched) if that cannot be done: the
// caller then copies.
void *os_direct_grow(os_direct_header_t *h, size_t size);
// Free a block: its mapping goes to the huge cache (huge_cache.h) for reuse, or is unmapped.
void os_direct_free(os_direct_header_t *h);

// Start-up: the huge cache's bounds from the options, its lock protected across fork.
void os_direct_init(void);
// Unmap every mapping the huge cache holds. Returns true if there was one.
bool os_direct_trim(void);
// Apply the huge cache's decay now (the background purger calls it).
void os_direct_tick(void);
// Bytes unmapped so far, by os_direct itself and by its huge cache.
uint64_t os_direct_bytes_unmapped(void);
// Bytes of freed mappings the huge cache keeps with their pages.
uint64_t os_direct_cached_hot_bytes(void);
// The statistics report's groups: huge blocks and the huge cache.
void os_direct_report(hak_stats_writer_t *w);

#define OS_DIRECT_COUNTERS(X)                                                                      \
    X(allocs, "huge blocks handed out")                                                            \
    X(frees, "huge blocks freed")                                                                  \
    X(cache_hits, "huge blocks served by a cached mapping")                                        \
    X(grows, "huge blocks grown by moving their pages (realloc)")                                  \
    X(extended, "huge blocks served by a smaller cached mapping moved and extended")               \
    X(bytes_mapped, "bytes mapped for huge blocks, in total")                                      \
    X(bytes_live, "bytes of live huge blocks' mappings")                                           \
    X(peak_blocks_live, "the most huge blocks live at once")                                       \
    X(peak_bytes_live, "the most bytes of huge blocks' mappings live at once")                     \
    X(bytes_unmapped, "bytes unmapped by os_direct itself (see os_direct_bytes_unmapped)")
typedef struct {
    OS_DIRECT_COUNTERS(HAK_COUNTER_FIELD)
} os_direct_counters_t;
extern HAK_INTERNAL os_direct_counters_t os_direct_stats;

#endif
