#include "segments.h"

#include "segment_cache.h"

static shared_pool_t pools[SEG_KINDS] = {SHARED_POOL_INIT, SHARED_POOL_INIT, SHARED_POOL_INIT};
segment_cache_t segment_cache;

static const char *const pool_names[SEG_KINDS] = {"shared_pool[tiny]", "shared_pool[mid]",
                                                  "shared_pool[large]"};

void segments_init(void) {
    segment_cache_init();
    for (unsigned k = 0; k < SEG_KINDS; k++) hak_fork_protect(&pools[k].abandoned_lock);
}

// ---- slots --------------------------------------------------------------------------------------

int segments_claim_slot(seg_kind_t kind, hak_segment_t **out) {
    shared_pool_t *pool = &pools[kind];
    sp_segment_t *sp;
    int slot = shared_pool_claim(pool, &sp);
    if (slot >= 0) {
        hak_segment_t *seg = segment_of_pool_node(sp);
        segment_cache_reused(seg);
        *out = seg;
        return slot;
    }
    hak_segment_t *seg = segment_create(kind);
    if (seg == NULL) return -1;
    *out = seg;
    return shared_pool_add_segment(pool, &seg->pool, segment_slot_mask(kind));
}

// Purge a segment if it is still entirely free: seize every slot so nobody can claim one while
// its pages go, then publish them again.
static bool purge_if_empty(hak_segment_t *seg) {
    shared_pool_t *pool = &pools[seg->kind];
    if (!shared_pool_seize_empty(pool, &seg->pool)) return false;
    segment_purge(seg);
    shared_pool_publish(pool, &seg->pool);
    return true;
}

// Purge the segments of a chain the cache handed back, a batch at a time.
#define PURGE_BATCH 32
static bool purge_chain(segment_chain_t chain) {
    bool purged = false;
    hak_segment_t *batch[PURGE_BATCH];
    for (unsigned n; (n = segment_chain_next(&chain, batch, PURGE_BATCH)) != 0;)
        for (unsigned i = 0; i < n; i++)
            if (purge_if_empty(batch[i])) purged = true;
    return purged;
}

void segments_release_slot(hak_segment_t *seg, unsigned slot) {
    // Mark the slot dirty before the release publishes it: its pages are resident until purged.
    // relaxed: the mask and time are hints for the purger, which seizes the slot before acting.
    if (atomic_fetch_or_explicit(&seg->dirty, 1u << slot, memory_order_relaxed) == 0)
        atomic_store_explicit(&seg->dirty_since_ms, hak_clock_ms(), memory_order_relaxed);
    if (shared_pool_release(&pools[seg->kind], &seg->pool, (int)slot))
        purge_chain(segment_cache_insert(seg));
}

bool segments_expire(bool all) { return purge_chain(segment_cache_expire(all)); }

// A segment that keeps one live slab would otherwise keep the pages of every slab it ever held.
bool segments_purge_dirty_slots(bool all) {
    if (hak_options.purge_delay_ms < 0 && !all) return false;
    uint64_t now = hak_clock_ms();
    bool purged = false;
    for (unsigned kind = 0; kind < SEG_KINDS; kind++) {
        shared_pool_t *pool = &pools[kind];
        // acquire: pairs with the release that published each segment.
        for (sp_segment_t *sp = atomic_load_explicit(&pool->segments, memory_order_acquire);
             sp != NULL; sp = sp->next) {
            hak_segment_t *seg = segment_of_pool_node(sp);
            uint32_t dirty = atomic_load_explicit(&seg->dirty, memory_order_relaxed);
            if (dirty == 0) continue;
            if (!all && now - atomic_load_explicit(&seg->dirty_since_ms, memory_order_relaxed) <
                            (uint64_t)hak_options.purge_delay_ms)
                continue;
            for (; dirty != 0; dirty &= dirty - 1) {
                int slot = __builtin_ctz(dirty);
                atomic_fetch_and_explicit(&seg->dirty, ~(1u << slot), memory_order_relaxed);
                if (!shared_pool_seize_slot(pool, &seg->pool, slot)) continue; // in use again
                segment_purge_slot(seg, (unsigned)slot);
                shared_pool_publish_slot(pool, &seg->pool, slot);
                purged = true;
            }
        }
    }
    return purged;
}

// ---- abandoned slabs ----------------------------------------------------------------------------

void segments_abandon(hak_slab_t *s) {
    shared_pool_abandon(&pools[slab_segment(s)->kind], s->cls, &s->pool_link);
}

hak_slab_t *segments_adopt(seg_kind_t kind, unsigned cls) {
    sp_link_t *link = shared_pool_adopt(&pools[kind], cls);
    return link != NULL ? slab_of_pool_link(link) : NULL;
}

hak_slab_t *segments_reclaim_abandoned(seg_kind_t kind, unsigned cls, bool (*empty)(sp_link_t *)) {
    hak_slab_t *first = NULL;
    sp_link_t *link = shared_pool_reclaim_abandoned(&pools[kind], cls, empty);
    for (sp_link_t *next; link != NULL; link = next) {
        next = link->next;
        hak_slab_t *s = slab_of_pool_link(link);
        s->next = first;
        first = s;
    }
    return first;
}

// ---- statistics ---------------------------------------------------------------------------------

// Headers always count as committed (segment_purge keeps them), and each slot claimed or dirty
// (segment_purge clears `dirty`: a purged empty segment counts its header only; one being purged
// counts whole meanwhile).
void segments_space(seg_kind_t kind, segments_space_t *out) {
    *out = (segments_space_t){0};
    // acquire: pairs with the release that published each segment.
    sp_segment_t *sp = atomic_load_explicit(&pools[kind].segments, memory_order_acquire);
    for (; sp != NULL; sp = sp->next) {
        hak_segment_t *seg = segment_of_pool_node(sp);
        uint32_t free = atomic_load_explicit(&sp->free_mask, memory_order_relaxed) & sp->all_mask;
        uint32_t dirty = atomic_load_explicit(&seg->dirty, memory_order_relaxed);
        out->mapped += HAK_SEG_SIZE;
        out->committed += HAK_SEG_HEADER_SIZE;
        out->free_slots += (unsigned)__builtin_popcount(free);
        for (uint32_t slots = (~free | dirty) & sp->all_mask; slots != 0; slots &= slots - 1)
            out->committed += segment_slot_bytes(seg, (unsigned)__builtin_ctz(slots));
        for (uint32_t slots = free & dirty; slots != 0; slots &= slots - 1)
            out->free_dirty_bytes += segment_slot_bytes(seg, (unsigned)__builtin_ctz(slots));
    }
}

void segments_space_total(segments_space_t *out) {
    *out = (segments_space_t){0};
    for (unsigned kind = 0; kind < SEG_KINDS; kind++) {
        segments_space_t one;
        segments_space((seg_kind_t)kind, &one);
        out->mapped += one.mapped;
        out->committed += one.committed;
        out->free_slots += one.free_slots;
        out->free_dirty_bytes += one.free_dirty_bytes;
    }
}

const shared_pool_counters_t *segments_pool_counters(seg_kind_t kind) { return &pools[kind].stats; }

const lru_counters_t *segments_cache_counters(void) { return segment_cache_counters(); }

void segments_report(hak_stats_writer_t *w) {
    for (unsigned k = 0; k < SEG_KINDS; k++)
        HAK_COUNTERS_REPORT(w, pool_names[k], SHARED_POOL_COUNTERS, &pools[k].stats);
    segment_cache_report(w);
    HAK_COUNTERS_REPORT(w, "segment", SEGMENT_COUNTERS, &segment_stats);
}
