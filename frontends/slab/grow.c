#include "grow.h"

static hak_lock_t regions_lock = HAK_LOCK_INIT; // guards all_regions and free_regions
static grow_region_t *all_regions, *free_regions;

static grow_region_t *region_create(hak_heap_t *h) {
    hak_lock(&regions_lock);
    grow_region_t *r = free_regions;
    if (r != NULL) free_regions = r->next_free;
    hak_unlock(&regions_lock);
    if (r == NULL) {
        void *mem = hak_os_reserve_aligned(HAK_SEG_SIZE, HAK_SEG_SIZE);
        if (mem == NULL) return NULL;
        if (!segmap_set((uintptr_t)mem, SEGMAP_GROW)) {
            hak_os_release(mem, HAK_SEG_SIZE);
            return NULL;
        }
        r = mem;
        hak_lock(&regions_lock);
        r->next_all = all_regions;
        all_regions = r;
        hak_unlock(&regions_lock);
    }
    return grow_region_init(r, HAK_SEG_SIZE, h);
}

// No block of r is live and nobody owns it: decommit it and keep it for the next thread.
static void region_give_back(grow_region_t *r) {
    size_t page = hak_os_page_size();
    size_t dirty = hak_page_round(grow_region_dirty_bytes(r));
    if (dirty > page) hak_os_decommit((char *)r + page, dirty - page);
    atomic_store_explicit(&r->dirty_end, GROW_REGION_HEADER, memory_order_relaxed);
    hak_lock(&regions_lock);
    r->next_free = free_regions;
    free_regions = r;
    hak_unlock(&regions_lock);
}

void *heap_grow_place(size_t size) {
    hak_heap_t *h = hak_tls_heap;
    if (h == &hak_heap_empty) return NULL;
    if (h->grow == NULL && (h->grow = region_create(h)) == NULL) return NULL;
    return grow_region_alloc(h->grow, size);
}

size_t heap_grow_usable(grow_region_t *r, void *p, const char *caller) {
    grow_block_t *b = grow_region_block(r, p);
    if (b == NULL) hak_fatal("%s(): invalid pointer %p", caller, p);
    return b->size;
}

void heap_grow_free(grow_region_t *r, void *p) {
    grow_block_t *b = grow_region_block(r, p);
    if (b == NULL) hak_fatal("free(): invalid pointer %p", p);
    switch (grow_region_free(r, b, grow_region_owned_by(r, hak_tls_heap))) {
    case GROW_FREED_OK: return;
    case GROW_FREED_LAST: region_give_back(r); return;
    case GROW_DOUBLE_FREE: hak_fatal("free(): double free %p", p);
    }
}

// The idle tick (no block placed since the last one) and malloc_trim (all) drop the pages above
// the top: a chain that grew a block to a few MiB once leaves them resident otherwise.
bool heap_grow_purge(hak_heap_t *h, bool all) {
    grow_region_t *r = h->grow;
    if (r == NULL) return false;
    uint64_t placed = atomic_load_explicit(&r->stats.placed, memory_order_relaxed);
    bool idle = placed == h->grow_tick_placed;
    h->grow_tick_placed = placed;
    return (all || idle) && grow_region_purge(r) > 0;
}

void heap_grow_exit(hak_heap_t *h) {
    grow_region_t *r = h->grow;
    if (r == NULL) return;
    h->grow = NULL;
    h->grow_tick_placed = 0;
    if (grow_region_disown(r)) region_give_back(r);
}

void heap_grow_stats_sum(heap_grow_stats_t *out) {
    *out = (heap_grow_stats_t){0};
    hak_lock(&regions_lock);
    for (grow_region_t *r = all_regions; r != NULL; r = r->next_all) {
        out->regions++;
        out->dirty_bytes += grow_region_dirty_bytes(r);
        HAK_COUNTERS_ADD(GROW_REGION_COUNTERS, &out->counters, &r->stats);
    }
    hak_unlock(&regions_lock);
}

void heap_grow_report(hak_stats_writer_t *w) {
    heap_grow_stats_t gs;
    heap_grow_stats_sum(&gs);
    static const char *const names[] = {"regions", "dirty_bytes",
                                        GROW_REGION_COUNTERS(HAK_COUNTER_NAME)};
    const grow_region_counters_t *counters_ = &gs.counters;
    const uint64_t values[] = {gs.regions, gs.dirty_bytes, GROW_REGION_COUNTERS(HAK_COUNTER_VALUE)};
    hak_stats_group(w, "grow_region", names, values, sizeof values / sizeof values[0]);
}

void heap_grow_init(void) { hak_fork_protect(&regions_lock); }
