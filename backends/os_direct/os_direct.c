#include "os_direct.h"

#include "huge_cache.h"

#include <errno.h>
#include <string.h>

os_direct_counters_t os_direct_stats;
huge_cache_t huge_cache;

// ---- freed mappings -----------------------------------------------------------------------------

void os_direct_init(void) {
    huge_cache_init();
    hak_os_on_pressure(os_direct_trim); // a failed reservation unmaps the cached mappings first
}

static void unmap(void *map, size_t size) {
    hak_os_release(map, size);
    hak_count(&os_direct_stats.bytes_unmapped, size);
}

bool os_direct_trim(void) { return huge_cache_trim(); }

void os_direct_tick(void) { huge_cache_tick(); }

uint64_t os_direct_bytes_unmapped(void) {
    return hak_counter_get(&os_direct_stats.bytes_unmapped) + huge_cache_bytes_released();
}

uint64_t os_direct_cached_hot_bytes(void) { return huge_cache_hot_bytes(); }

void os_direct_report(hak_stats_writer_t *w) {
    HAK_COUNTERS_REPORT(w, "huge", OS_DIRECT_COUNTERS, &os_direct_stats);
    huge_cache_report(w);
}

// ---- blocks -------------------------------------------------------------------------------------

// Count a new block (blocks 1) or a grown one (0) and its bytes, and the high-water marks.
static void note_live(uint64_t blocks, uint64_t bytes) {
    uint64_t allocs =
        atomic_fetch_add_explicit(&os_direct_stats.allocs, blocks, memory_order_relaxed);
    uint64_t live =
        atomic_fetch_add_explicit(&os_direct_stats.bytes_live, bytes, memory_order_relaxed);
    uint64_t frees =
        hak_counter_get(&os_direct_stats.frees); // may be ahead of what this thread saw
    if (allocs + blocks >= frees)
        hak_count_max(&os_direct_stats.peak_blocks_live, allocs + blocks - frees);
    hak_count_max(&os_direct_stats.peak_bytes_live, live + bytes);
}

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

// Room before a block of alignment `align`: the header, or a whole 2 MiB for alignments the
// header's 2 MiB boundary cannot share with the block.
static size_t lead_of(size_t align) {
    return align < HAK_SEG_SIZE / 2 ? (sizeof(os_direct_header_t) + align - 1) & ~(align - 1)
                                    : HAK_SEG_SIZE;
}

size_t os_direct_good_size(size_t size) {
    size_t lead = lead_of(16);
    if (size > SIZE_MAX / 2 - lead - HAK_SEG_SIZE) return size;
    return hak_page_round(lead + size) - lead;
}

// A miss of at least EXTEND_MIN bytes: the biggest smaller mapping the cache keeps with its pages,
// moved to a new 2 MiB-aligned place of `total` bytes (mremap: its pages move, only the extension
// faults in), its old data cleared from the block's first `size` bytes if `zero`; NULL if there is
// none or it cannot move. Below EXTEND_MIN a fresh mapping faults in little more, and taking the
// cache's small spans to extend them made a churn of 32 KiB-2 MiB blocks miss twice as often
// (1.3x slower).
#define EXTEND_MIN (4 * HAK_SEG_SIZE)
static char *extend_smaller(size_t total, size_t lead, size_t size, bool zero) {
    size_t old_bytes;
    char *old = total >= EXTEND_MIN ? huge_cache_take_smaller(total, &old_bytes) : NULL;
    if (old == NULL) return NULL;
    char *dest = hak_os_reserve_aligned(total, HAK_SEG_SIZE);
    if (dest == NULL || !hak_os_move(old, old_bytes, dest, total)) { // (two merged mappings: no)
        if (dest != NULL) hak_os_release(dest, total);
        if (!huge_cache_put(old, old_bytes)) unmap(old, old_bytes);
        return NULL;
    }
    if (zero) memset(dest + lead, 0, old_bytes - lead < size ? old_bytes - lead : size);
    hak_count(&os_direct_stats.extended, 1);
    hak_count(&os_direct_stats.bytes_mapped, total - old_bytes);
    return dest;
}

void *os_direct_alloc(size_t size, size_t align, bool zero) {
    if (align < 16) align = 16;
    size_t lead = lead_of(align);
    size_t map_align = align > HAK_SEG_SIZE ? align : HAK_SEG_SIZE;
    if (size > SIZE_MAX / 2 - lead - map_align) {
        errno = ENOMEM;
        return NULL;
    }
    size_t page = hak_os_page_size(), fit = hak_page_round(lead + size), total = fit;
    char *map = NULL;
    if (map_align == HAK_SEG_SIZE) {
        size_t span_bytes;
        bool hot;
        map = huge_cache_take(total, &span_bytes, &hot);
        if (map != NULL) {
            total = span_bytes;
            hak_count(&os_direct_stats.cache_hits, 1);
            // A reused span holds its last user's data: in its first page only when it was warm.
            // (MADV_FREE leaves a warm span's old data in place.)
            bool clear_all = hot || !hak_os_decommit_zeroes() || size < page - lead;
            if (zero) memset(map + lead, 0, clear_all ? size : page - lead);
        } else {
            map = extend_smaller(total, lead, size, zero);
        }
    }
    if (map == NULL) {
        map = map_fresh(total, lead, map_align);
        if (map == NULL) return NULL;
        hak_count(&os_direct_stats.bytes_mapped, total);
    }
    os_direct_header_t *h = (os_direct_header_t *)map;
    h->block = map + lead;
    h->map = map;
    h->map_size = total;
    // A cached span split at 2 MiB may reach far beyond the request: the block ends where a
    // mapping of its own would (the rest of the span waits, untouched, for the free).
    h->usable = (total - fit > fit / 4 ? fit : total) - lead;
    h->sample = NULL;
    if (!segmap_set((uintptr_t)map, SEGMAP_HUGE)) { // a fresh mapping where the map had no leaf yet
        hak_os_release(map, total);
        hak_count_down(&os_direct_stats.bytes_mapped, total);
        errno = ENOMEM;
        return NULL;
    }
    note_live(1, total);
    return h->block;
}

void *os_direct_grow(os_direct_header_t *h, size_t size) {
    char *map = h->map;
    size_t lead = (size_t)((char *)h->block - map);
    if ((uintptr_t)map % HAK_SEG_SIZE != 0 || lead >= HAK_SEG_SIZE / 2)
        return NULL; // big alignment
    if (size > SIZE_MAX / 2 - lead - HAK_SEG_SIZE) return NULL;
    size_t total = hak_page_round(lead + size);
    // Grow geometrically so a realloc chain moves its pages O(log n) times.
    if (total < h->map_size + h->map_size / 2)
        total = hak_page_round(h->map_size + h->map_size / 2);
    char *dest = hak_os_reserve_aligned(total, HAK_SEG_SIZE);
    if (dest == NULL) return NULL;
    if (!segmap_set((uintptr_t)dest, SEGMAP_NONE)) { // its leaf, now that nothing has moved yet
        hak_os_release(dest, total);
        return NULL;
    }
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
    hak_count(&os_direct_stats.grows, 1);
    hak_count(&os_direct_stats.bytes_mapped, total - old_size);
    note_live(0, total - old_size);
    return h->block;
}

void os_direct_free(os_direct_header_t *h) {
    void *map = h->map;
    size_t size = h->map_size;
    segmap_set((uintptr_t)map, SEGMAP_NONE);
    h->block = NULL; // a second free of the same block must not match
    hak_count(&os_direct_stats.frees, 1);
    hak_count_down(&os_direct_stats.bytes_live, size);
    if ((uintptr_t)map % HAK_SEG_SIZE == 0 && huge_cache_put(map, size)) return;
    unmap(map, size);
}
