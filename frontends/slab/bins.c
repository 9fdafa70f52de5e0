#include "bins.h"

#include "heaps.h"
#include "segments.h"

// relaxed (all uses): a count for the purger's shortcut, which orders nothing.
static _Atomic long spare_slabs;

long bins_spare_slabs(void) { return atomic_load_explicit(&spare_slabs, memory_order_relaxed); }

// A class whose live blocks swing up and down would otherwise release a slab to its segment and
// claim one back (formatting it, faulting its pages in again once purged) on every swing.
// An empty slab, off its list: kept as its class's spare if there is none (and its slab is small),
// else back to its segment. Owner only.
static void bin_retire(heap_bin_t *bin, hak_slab_t *s) {
    // relaxed: only the owner stores a slab there; a NULL read stays NULL until this store.
    if (atomic_load_explicit(&bin->spare, memory_order_relaxed) == NULL &&
        slab_segment(s)->kind != SEG_KIND_LARGE) {
        s->list = SLAB_SPARE;
        s->prev = s->next = NULL;
        atomic_store_explicit(&bin->spare_since_ms, hak_clock_ms(), memory_order_relaxed);
        atomic_fetch_add_explicit(&spare_slabs, 1, memory_order_relaxed);
        // release: the purger that takes the spare sees the slab's fields as the owner left them.
        atomic_store_explicit(&bin->spare, s, memory_order_release);
    } else {
        slab_release(s);
    }
}

hak_slab_t *bin_take_spare(heap_bin_t *bin) {
    if (atomic_load_explicit(&bin->spare, memory_order_relaxed) == NULL) return NULL;
    // acquire: pairs with the owner's release store in bin_retire.
    hak_slab_t *s = atomic_exchange_explicit(&bin->spare, NULL, memory_order_acquire);
    if (s != NULL) atomic_fetch_sub_explicit(&spare_slabs, 1, memory_order_relaxed);
    return s;
}

bool bin_release_spare(heap_bin_t *bin) {
    hak_slab_t *s = bin_take_spare(bin);
    if (s == NULL) return false;
    slab_release(s);
    return true;
}

bool bins_release_idle_spares(bool all) {
    if (hak_options.purge_delay_ms < 0 && !all) return false;
    if (bins_spare_slabs() <= 0) return false;
    uint64_t now = hak_clock_ms();
    bool released = false;
    heaps_lock(); // heaps are never freed; the lock keeps the list walk simple
    for (hak_heap_t *h = heaps_all(); h != NULL; h = h->next_all) {
        for (unsigned c = 0; c < HAK_NCLASSES; c++) {
            heap_bin_t *bin = &h->bins[c];
            if (atomic_load_explicit(&bin->spare, memory_order_relaxed) == NULL) continue;
            if (!all && now - atomic_load_explicit(&bin->spare_since_ms, memory_order_relaxed) <
                            (uint64_t)hak_options.purge_delay_ms)
                continue;
            if (bin_release_spare(bin)) released = true;
        }
    }
    heaps_unlock();
    return released;
}

void bin_free_local(hak_heap_t *h, hak_slab_t *s, void *b) {
    *(void **)b = s->free;
    s->free = b;
    s->used--;
    heap_bin_t *bin = &h->bins[s->cls];
    if (s->list == SLAB_FULL) {
        slab_list_remove(bin, s);
        slab_list_push(bin, s, SLAB_PARTIAL);
    }
    if (s->used != 0) return;
    if (h->cache[s->cls].emptying) {
        // The thread only frees this class (cache_bounds.h): not even the current slab or a
        // spare is kept for allocations that may never come.
        slab_list_remove(bin, s);
        slab_release(s);
    } else if (s->list != SLAB_CURRENT) {
        slab_list_remove(bin, s);
        bin_retire(bin, s);
    }
}

hak_slab_t *bin_claim_slab(hak_heap_t *h, unsigned cls) {
    segments_expire(false);
    seg_kind_t kind = size_class_segment_kind(cls);
    hak_slab_t *s = segments_adopt(kind, cls);
    if (s != NULL) {
        // release: pairs with remote_push's acquire; a thread still holding one of the slab's
        // blocks may read the new owner and write its hint (into a heap it has never seen made).
        atomic_store_explicit(&s->owner, h, memory_order_release);
        heap_collect_remote(h, s);
        return s;
    }
    hak_segment_t *seg;
    int slot = segments_claim_slot(kind, &seg);
    if (slot < 0) return NULL;
    slab_format(seg, (unsigned)slot, cls, hak_class_size[cls], size_class_colored(cls));
    s = segment_slab(seg, (unsigned)slot);
    atomic_store_explicit(&s->owner, h, memory_order_release); // as above
    return s;
}

void bin_collect_full(hak_heap_t *h, unsigned cls) {
    heap_bin_t *bin = &h->bins[cls];
    hak_slab_t *next;
    for (hak_slab_t *s = bin->full; s != NULL; s = next) {
        next = s->next;
        if (remote_queue_is_empty(&s->remote)) continue;
        heap_collect_remote(h, s);
        slab_list_remove(bin, s);
        if (s->used == 0) bin_retire(bin, s);
        else slab_list_push(bin, s, SLAB_PARTIAL);
    }
}
