#include "os_direct.h"

#include <errno.h>
#include <string.h>

#if HAK_PAGE_ARENA
#include "page_arena.h"
#endif

os_direct_stats_t os_direct_stats;

// ---- freed mappings ----------------------------------------------------------------------------
// With the page_arena box (HAK_PAGE_ARENA), freed 2 MiB-aligned mappings wait there: hot (pages
// kept: reuse costs nothing) up to HAKMEM_ARENA_HOT_MB and HAKMEM_PURGE_DELAY_MS, then warm
// (decommitted, still mapped: reuse costs page faults but no mmap) up to HAKMEM_ARENA_WARM_MB and
// HAKMEM_ARENA_WARM_DECAY_MS, then unmapped. Without it every block is an mmap and a munmap: a
// loop over 32 KiB-2 MiB blocks ran at 0.35 M ops/s against mimalloc's 1.5 M that way.

static void unmap(void *map, size_t size) {
    hak_os_release(map, size);
    atomic_fetch_add_explicit(&os_direct_stats.bytes_unmapped, size, memory_order_relaxed);
}

#if HAK_PAGE_ARENA
static page_arena_t arena;
static page_arena_t *arena_get(void);
static _Atomic bool arena_ready;
static hak_lock_t arena_init_lock = HAK_LOCK_INIT;

page_arena_t *os_direct_arena(void) { return arena_get(); }

static page_arena_t *arena_get(void) {
    // acquire: pairs with the release below, so the arena's bounds are seen initialised.
    if (HAK_LIKELY(atomic_load_explicit(&arena_ready, memory_order_acquire))) return &arena;
    hak_lock(&arena_init_lock);
    if (!atomic_load_explicit(&arena_ready, memory_order_relaxed)) {
        long hot_decay = hak_options.purge_delay_ms, warm_decay = hak_options.arena_warm_decay_ms;
        page_arena_init(&arena, (size_t)(hak_options.arena_hot_mb < 0 ? 0 : hak_options.arena_hot_mb) * HAK_MiB,
                        (size_t)(hak_options.arena_warm_mb < 0 ? 0 : hak_options.arena_warm_mb) * HAK_MiB,
                        hot_decay < 0 ? UINT64_MAX : (uint64_t)hot_decay,
                        warm_decay < 0 ? UINT64_MAX : (uint64_t)warm_decay);
        atomic_store_explicit(&arena_ready, true, memory_order_release);
    }
    hak_unlock(&arena_init_lock);
    return &arena;
}
#endif

bool os_direct_trim(void) {
#if HAK_PAGE_ARENA
    return page_arena_trim(arena_get());
#else
    return false;
#endif
}

void os_direct_tick(void) {
#if HAK_PAGE_ARENA
    page_arena_tick(arena_get(), hak_clock_ms());
#endif
}

uint64_t os_direct_bytes_unmapped(void) {
    uint64_t n = atomic_load_explicit(&os_direct_stats.bytes_unmapped, memory_order_relaxed);
#if HAK_PAGE_ARENA
    n += atomic_load_explicit(&arena_get()->stats.bytes_released, memory_order_relaxed);
#endif
    return n;
}

void os_direct_lock(void) {
#if HAK_PAGE_ARENA
    page_arena_lock(arena_get());
#endif
}
void os_direct_unlock(void) {
#if HAK_PAGE_ARENA
    page_arena_unlock(arena_get());
#endif
}
void os_direct_reset_lock(void) {
#if HAK_PAGE_ARENA
    page_arena_reset_lock(arena_get());
#endif
}

// ---- blocks ------------------------------------------------------------------------------------

// A new mapping of `total` bytes whose start is 2 MiB-aligned and whose start + lead is aligned
// to map_align.
static char *map_fresh(size_t total, size_t lead, size_t map_align) {
    if (map_align == HAK_SEG_SIZE) return hak_os_reserve_aligned(total, HAK_SEG_SIZE);
    // The block must sit on a map_align boundary with the header 2 MiB below it: reserve the
    // aligned region with map_align of slack in front and give back what precedes the header.
    char *base = hak_os_reserve_aligned(total - lead + map_align, map_align);
    if (base == NULL) return NULL;
    char *map = base + map_align - lead;
    if (map > base) hak_os_release(base, (size_t)(map - base));
    return map;
}

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
    char *map = NULL;
#if HAK_PAGE_ARENA
    if (map_align == HAK_SEG_SIZE) {
        size_t span_bytes;
        bool hot;
        map = page_arena_take(arena_get(), total, &span_bytes, &hot);
        if (map != NULL) {
            total = span_bytes;
            atomic_fetch_add_explicit(&os_direct_stats.cache_hits, 1, memory_order_relaxed);
            // A reused span holds its last user's data: in its first page only when it was warm.
            // (MADV_FREE leaves a warm span's old data in place.)
            bool clear_all = hot || !hak_os_decommit_zeroes() || size < page - lead;
            if (zero) memset(map + lead, 0, clear_all ? size : page - lead);
        }
    }
#endif
    if (map == NULL) {
        map = map_fresh(total, lead, map_align);
        if (map == NULL) return NULL;
        atomic_fetch_add_explicit(&os_direct_stats.bytes_mapped, total, memory_order_relaxed);
    }
    os_direct_header_t *h = (os_direct_header_t *)map;
    h->block = map + lead;
    h->map = map;
    h->map_size = total;
    h->usable = total - lead;
    segmap_set((uintptr_t)map, SEGMAP_HUGE);
    atomic_fetch_add_explicit(&os_direct_stats.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&os_direct_stats.bytes_live, total, memory_order_relaxed);
    return h->block;
}

void *os_direct_grow(os_direct_header_t *h, size_t size) {
    char *map = h->map;
    size_t lead = (size_t)((char *)h->block - map), page = hak_os_page_size();
    if ((uintptr_t)map % HAK_SEG_SIZE != 0 || lead >= HAK_SEG_SIZE / 2) return NULL; // big alignment
    if (size > SIZE_MAX / 2 - lead - HAK_SEG_SIZE) return NULL;
    size_t total = (lead + size + page - 1) & ~(page - 1);
    // Grow geometrically so a realloc chain moves its pages O(log n) times.
    if (total < h->map_size + h->map_size / 2) total = (h->map_size + h->map_size / 2 + page - 1) & ~(page - 1);
    char *dest = hak_os_reserve_aligned(total, HAK_SEG_SIZE);
    if (dest == NULL) return NULL;
    size_t old_size = h->map_size;
    segmap_set((uintptr_t)map, SEGMAP_NONE);
    if (!hak_os_move(map, old_size, dest, total)) {
        segmap_set((uintptr_t)map, SEGMAP_HUGE);
        hak_os_release(dest, total);
        return NULL;
    }
    h = (os_direct_header_t *)dest; // the header moved with the first page
    h->map = dest;
    h->block = dest + lead;
    h->map_size = total;
    h->usable = total - lead;
    segmap_set((uintptr_t)dest, SEGMAP_HUGE);
    atomic_fetch_add_explicit(&os_direct_stats.grows, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&os_direct_stats.bytes_mapped, total - old_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&os_direct_stats.bytes_live, total - old_size, memory_order_relaxed);
    return h->block;
}

void os_direct_free(os_direct_header_t *h) {
    void *map = h->map;
    size_t size = h->map_size;
    segmap_set((uintptr_t)map, SEGMAP_NONE);
    h->block = NULL; // a second free of the same block must not match
    atomic_fetch_add_explicit(&os_direct_stats.frees, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&os_direct_stats.bytes_live, size, memory_order_relaxed);
#if HAK_PAGE_ARENA
    if ((uintptr_t)map % HAK_SEG_SIZE == 0) {
        page_arena_put(arena_get(), map, size, hak_clock_ms());
        return;
    }
#endif
    unmap(map, size);
}
