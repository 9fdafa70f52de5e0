#include "maintenance.h"

#include "bins.h"
#include "cache_bounds.h"
#include "depots.h"
#include "drain.h"
#include "grow.h"
#include "heaps.h"
#include "prof.h"
#include "remote_free.h"
#include "sample.h"
#include "segments.h"

static hak_counter_t idle_collections;

uint64_t heap_idle_collections(void) { return hak_counter_get(&idle_collections); }

void heap_tick(hak_heap_t *h) {
    // Read the clock on one slow path in 32 only: at ~40 ns a read, every refill of a busy
    // thread would pay it.
    if ((++h->tick_skip & 31) != 0 || hak_options.purge_delay_ms < 0) return;
    uint64_t now = hak_clock_ms();
    if (now - h->tick_ms < (uint64_t)hak_options.purge_delay_ms) return;
    h->tick_ms = now;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        uint64_t allocs = heap_allocs(h, c);
        if (allocs == h->tick_allocs[c]) {
            if (tc_count(&h->cache[c].tc) > 0) {
                hak_count_owned(&h->stats[c].drains, 1);
                heap_drain_n(h, c, UINT32_MAX, false);
            }
            cache_reset_bound(h, c);
            bin_release_spare(&h->bins[c]);
        }
        h->tick_allocs[c] = allocs;
    }
    heap_grow_purge(h, false);
}

// The purger's pass over a heap whose thread entered no slow path since the last pass: collect the
// remote frees its slabs were sent (flagged by remote_hint) and release the slabs that are then
// empty; the current slab of a class stays. Skipped if the owner is on a slow path right now.
static bool heap_collect_if_idle(hak_heap_t *h, bool all) {
    uint64_t seen = atomic_load_explicit(&h->slow_paths, memory_order_relaxed);
    bool idle = seen == h->purger_seen_slow_paths;
    h->purger_seen_slow_paths = seen;
    if ((!idle && !all) || !heap_enter_purger(h)) return false;
    bool released = false;
    hak_count(&idle_collections, 1);
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        if (atomic_load_explicit(&h->remote_hint[cls], memory_order_relaxed) == 0) continue;
        // acquire: pairs with the release of the thread that pushed and set the hint.
        atomic_exchange_explicit(&h->remote_hint[cls], 0, memory_order_acquire);
        heap_bin_t *bin = &h->bins[cls];
        hak_slab_t *lists[2] = {bin->partial, bin->full}, *next;
        for (int i = 0; i < 2; i++) {
            for (hak_slab_t *s = lists[i]; s != NULL; s = next) {
                next = s->next;
                if (remote_queue_is_empty(&s->remote)) continue;
                heap_collect_remote(h, s);
                if (s->used == 0) {
                    slab_list_remove(bin, s);
                    slab_release(s);
                    released = true;
                } else if (s->list == SLAB_FULL) {
                    slab_list_remove(bin, s);
                    slab_list_push(bin, s, SLAB_PARTIAL);
                }
            }
        }
        if (bin->cur != NULL) heap_collect_remote(h, bin->cur);
    }
    heap_leave_purger(h);
    return released;
}

// Every live heap that has gone idle (all: every live heap) gets the purger's pass.
static bool heaps_collect_idle(bool all) {
    bool released = false;
    heaps_lock();
    for (hak_heap_t *h = heaps_all(); h != NULL; h = h->next_all)
        if (h->live && heap_collect_if_idle(h, all)) released = true;
    heaps_unlock();
    return released;
}

// Under the pool's lock (the slab's consumer meanwhile): collect its remote frees; empty?
static bool abandoned_slab_empty(sp_link_t *link) {
    hak_slab_t *s = slab_of_pool_link(link);
    slab_collect_remote(s);
    return s->used == 0;
}

// Release the abandoned slabs that blocks freed since their owner exited have emptied: all of
// them, or (all false) only if a block went back to an abandoned slab since the last call.
static bool reclaim_abandoned(bool all) {
    if (!remote_abandoned_freed() && !all) return false;
    bool released = false;
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        hak_slab_t *s =
            segments_reclaim_abandoned(size_class_segment_kind(cls), cls, abandoned_slab_empty);
        for (hak_slab_t *next; s != NULL; s = next) {
            next = s->next;
            slab_release(s);
            released = true;
        }
    }
    return released;
}

// The pass's first half: blocks waiting in depots and remote queues back into their slabs.
// Depots first: the blocks they send back are collected by the heaps' passes.
static bool collect(bool all) {
    bool released = false;
    if (depots_flush_idle(all)) released = true;
    if (heaps_collect_idle(all)) released = true;
    return released;
}

// Its second half: what is idle (all: everything empty) goes back to the segments and the OS.
static bool release(bool all) {
    bool released = false;
    if (bins_release_idle_spares(all)) released = true;
    if (reclaim_abandoned(all)) released = true;
    if (segments_expire(all)) released = true;
    if (segments_purge_dirty_slots(all)) released = true;
    if (prof_maintain(all)) released = true;
    return released;
}

bool heap_maintain(bool all) {
    bool collected = collect(all);
    return release(all) || collected;
}

bool heap_trim(void) {
    hak_heap_t *h = hak_tls_heap;
    bool released = collect(true);
    if (h != &hak_heap_empty) {
        heap_enter(h);
        if (heap_release_slabs(h, false)) released = true;
        heap_leave(h);
        if (heap_grow_purge(h, true)) released = true;
    }
    if (release(true)) released = true;
    return released;
}
