#include "os_direct.h"

#include <errno.h>

os_direct_stats_t os_direct_stats;

void *os_direct_alloc(size_t size, size_t align) {
    size_t page = hak_os_page_size();
    if (align < 16) align = 16;
    // Room before the block: the header, or a whole 2 MiB for alignments the header's 2 MiB
    // boundary cannot share with the block.
    size_t lead = align < HAK_SEG_SIZE / 2 ? (sizeof(os_direct_header_t) + align - 1) & ~(align - 1)
                                           : HAK_SEG_SIZE;
    size_t map_align = align > HAK_SEG_SIZE ? align : HAK_SEG_SIZE;
    if (size > SIZE_MAX / 2 - lead - map_align) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = (lead + size + page - 1) & ~(page - 1);
    char *map;
    if (map_align == HAK_SEG_SIZE) {
        map = hak_os_reserve_aligned(total, HAK_SEG_SIZE);
        if (map == NULL) return NULL;
    } else {
        // The block must sit on an `align` boundary with the header 2 MiB below it: reserve the
        // aligned region with `align` of slack in front and give back what precedes the header.
        char *base = hak_os_reserve_aligned(total - lead + map_align, map_align);
        if (base == NULL) return NULL;
        map = base + map_align - lead;
        if (map > base) hak_os_release(base, (size_t)(map - base));
    }
    os_direct_header_t *h = (os_direct_header_t *)map;
    h->block = map + lead;
    h->map = map;
    h->map_size = total;
    h->usable = total - lead;
    segmap_set((uintptr_t)map, SEGMAP_HUGE);
    atomic_fetch_add_explicit(&os_direct_stats.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&os_direct_stats.bytes_mapped, total, memory_order_relaxed);
    return h->block;
}

void os_direct_free(os_direct_header_t *h) {
    size_t size = h->map_size;
    segmap_set((uintptr_t)h->map, SEGMAP_NONE);
    h->block = NULL; // a second free of the same block, racing the unmap, must not match
    hak_os_release(h->map, size);
    atomic_fetch_add_explicit(&os_direct_stats.frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&os_direct_stats.bytes_unmapped, size, memory_order_relaxed);
}
