#include "os_direct.h"

#include <errno.h>
#include <string.h>

os_direct_stats_t os_direct_stats;

// ---- cache of freed mappings -------------------------------------------------------------------
// A program that allocates and frees blocks of a few MiB in a loop would otherwise pay an mmap, a
// munmap and the page faults of every page it touches, each time. Freed mappings (2 MiB-aligned
// ones) wait here, bounded by HAKMEM_HUGE_CACHE_MB, and are unmapped once unused for
// HAKMEM_PURGE_DELAY_MS. They keep their pages, so a reused block faults nothing in.

static hak_lock_t cache_lock = HAK_LOCK_INIT;
static os_direct_header_t *cache_head; // most recently freed first
static size_t cache_bytes;

static void unmap(os_direct_header_t *h) {
    size_t size = h->map_size;
    hak_os_release(h->map, size);
    atomic_fetch_add_explicit(&os_direct_stats.bytes_unmapped, size, memory_order_relaxed);
}

// Unlink the cached mappings for which `drop` holds, under cache_lock; unmap them after it.
static os_direct_header_t *cache_unlink_old(uint64_t now, bool all) {
    os_direct_header_t *dropped = NULL, **link = &cache_head;
    while (*link != NULL) {
        os_direct_header_t *h = *link;
        if (all || now - h->freed_ms >= (uint64_t)hak_options.purge_delay_ms) {
            *link = h->next;
            cache_bytes -= h->map_size;
            h->next = dropped;
            dropped = h;
        } else {
            link = &h->next;
        }
    }
    return dropped;
}

static void unmap_list(os_direct_header_t *h) {
    for (os_direct_header_t *next; h != NULL; h = next) {
        next = h->next;
        unmap(h);
    }
}

// A cached mapping with room for `total` bytes that wastes at most a quarter more.
static os_direct_header_t *cache_take(size_t total) {
    os_direct_header_t *best = NULL, **best_link = NULL;
    hak_lock(&cache_lock);
    for (os_direct_header_t **link = &cache_head; *link != NULL; link = &(*link)->next) {
        os_direct_header_t *h = *link;
        if (h->map_size >= total && h->map_size - total <= total / 4 &&
            (best == NULL || h->map_size < best->map_size)) {
            best = h;
            best_link = link;
        }
    }
    if (best != NULL) {
        *best_link = best->next;
        cache_bytes -= best->map_size;
    }
    hak_unlock(&cache_lock);
    return best;
}

bool os_direct_trim(void) {
    hak_lock(&cache_lock);
    os_direct_header_t *dropped = cache_unlink_old(0, true);
    hak_unlock(&cache_lock);
    unmap_list(dropped);
    return dropped != NULL;
}

void os_direct_lock(void) { hak_lock(&cache_lock); }
void os_direct_unlock(void) { hak_unlock(&cache_lock); }
void os_direct_reset_lock(void) { hak_lock_reset(&cache_lock); }

// ---- blocks ------------------------------------------------------------------------------------

void *os_direct_alloc(size_t size, size_t align, bool zero) {
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
    os_direct_header_t *h = map_align == HAK_SEG_SIZE ? cache_take(total) : NULL;
    if (h != NULL) {
        map = h->map;
        total = h->map_size;
        atomic_fetch_add_explicit(&os_direct_stats.cache_hits, 1, memory_order_relaxed);
        // Fresh mappings are zero; a reused one holds its last user's data.
        if (zero) memset(map + lead, 0, size);
    } else if (map_align == HAK_SEG_SIZE) {
        map = hak_os_reserve_aligned(total, HAK_SEG_SIZE);
        if (map == NULL) return NULL;
        atomic_fetch_add_explicit(&os_direct_stats.bytes_mapped, total, memory_order_relaxed);
    } else {
        // The block must sit on an `align` boundary with the header 2 MiB below it: reserve the
        // aligned region with `align` of slack in front and give back what precedes the header.
        char *base = hak_os_reserve_aligned(total - lead + map_align, map_align);
        if (base == NULL) return NULL;
        map = base + map_align - lead;
        if (map > base) hak_os_release(base, (size_t)(map - base));
        atomic_fetch_add_explicit(&os_direct_stats.bytes_mapped, total, memory_order_relaxed);
    }
    h = (os_direct_header_t *)map;
    h->block = map + lead;
    h->map = map;
    h->map_size = total;
    h->usable = total - lead;
    h->next = NULL;
    segmap_set((uintptr_t)map, SEGMAP_HUGE);
    atomic_fetch_add_explicit(&os_direct_stats.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&os_direct_stats.bytes_live, total, memory_order_relaxed);
    return h->block;
}

void os_direct_free(os_direct_header_t *h) {
    size_t size = h->map_size;
    segmap_set((uintptr_t)h->map, SEGMAP_NONE);
    h->block = NULL; // a second free of the same block must not match
    atomic_fetch_add_explicit(&os_direct_stats.frees, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&os_direct_stats.bytes_live, size, memory_order_relaxed);

    uint64_t now = hak_clock_ms();
    size_t limit = (size_t)(hak_options.huge_cache_mb < 0 ? 0 : hak_options.huge_cache_mb) * HAK_MiB;
    bool cacheable = (uintptr_t)h->map % HAK_SEG_SIZE == 0 && size <= limit;
    hak_lock(&cache_lock);
    os_direct_header_t *dropped = cache_unlink_old(now, false);
    if (cacheable) {
        // Make room by dropping the oldest entries.
        while (cache_bytes + size > limit && cache_head != NULL) {
            os_direct_header_t **link = &cache_head;
            while ((*link)->next != NULL) link = &(*link)->next;
            os_direct_header_t *old = *link;
            *link = NULL;
            cache_bytes -= old->map_size;
            old->next = dropped;
            dropped = old;
        }
        h->freed_ms = now;
        h->next = cache_head;
        cache_head = h;
        cache_bytes += size;
    }
    hak_unlock(&cache_lock);
    unmap_list(dropped);
    if (!cacheable) unmap(h);
}
