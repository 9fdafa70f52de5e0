// refill: blocks entering a thread cache, on a malloc that found its class's cache empty.
//
// The heap's own freed blocks come first (its current or first partial slab), else a batch from
// the class's depot, else blocks gathered from its slabs: the current one's free list (with the
// remote frees waiting for it), then uncarved blocks, then the next slabs until the batch is
// complete; a new slab (the spare, an abandoned one, a segment's slot) only when nothing was
// found.
#include "bins.h"
#include "cache_bounds.h"
#include "depots.h"
#include "heaps.h"
#include "maintenance.h"
#include "sample.h"

#include <errno.h>

static void *heap_refill(hak_heap_t *h, unsigned cls) {
    heap_bin_t *bin = &h->bins[cls];
    tc_t *cache = &h->cache[cls].tc;
    depot_batch_t batch;
    // The heap's own freed blocks before the depot's: blocks circulating between threads (a
    // server, a ring) would otherwise keep every heap on depot batches while the blocks drained
    // home lie idle in its slabs, and a heap short of blocks claims new slabs meanwhile (ring of
    // 4 threads, 90% remote frees: peak 51 -> 40 MiB, throughput the same).
    bool own_free = (bin->cur != NULL && bin->cur->free != NULL) ||
                    (bin->partial != NULL && bin->partial->free != NULL);
    batch_depot_t *d = depot_of(cls);
    if (d != NULL && !own_free && batch_depot_take(d, &batch)) {
        tc_fill(cache, batch.first, batch.last, batch.n);
        hak_count_owned(&h->stats[cls].refills, 1);
        hak_count_owned(&h->stats[cls].refilled_blocks, batch.n);
        return tc_pop(cache);
    }
    uint32_t want = cache_next_refill_batch(h, cls), got = 0;
    // Gather from the current slab, then the next ones, until the batch is complete: a slab that
    // gets its blocks back a few at a time (remote frees, drains) would otherwise make every
    // refill a short one. A new slab is claimed only when nothing was found.
    for (;;) {
        hak_slab_t *s = bin->cur;
        if (s != NULL) {
            got += slab_take(h, s, want - got, cache);
            if (got == want) break;
            bin->cur = NULL;
            slab_list_push(bin, s, SLAB_FULL);
        }
        if (got > 0 && bin->partial == NULL) break;
        // acquire: pairs with the release store of the thread that pushed a remote free and then
        // set the hint, so the pushed block is visible to the scan.
        if (atomic_load_explicit(&h->remote_hint[cls], memory_order_relaxed) &&
            atomic_exchange_explicit(&h->remote_hint[cls], 0, memory_order_acquire))
            bin_collect_full(h, cls);
        if ((s = bin->partial) != NULL) slab_list_remove(bin, s);
        else if ((s = bin_take_spare(bin)) == NULL && (s = bin_claim_slab(h, cls)) == NULL)
            return NULL;
        s->list = SLAB_CURRENT;
        bin->cur = s;
    }
    hak_count_owned(&h->stats[cls].refills, 1);
    hak_count_owned(&h->stats[cls].refilled_blocks, got);
    return tc_pop(cache);
}

HAK_NOINLINE void *heap_alloc_slow(heap_cache_t *cache) {
    hak_heap_t *h = hak_tls_heap;
    unsigned cls = (unsigned)(cache - h->cache); // h: the empty heap, if this thread has none yet
    if (h == &hak_heap_empty && (h = heap_create()) == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    heap_enter(h);
    heap_tick(h);
    // The fresh heap's cache may already hold blocks if heap_create's bookkeeping allocated.
    void *b = tc_pop(&h->cache[cls].tc);
    if (b == NULL) {
        cache_on_refill(h, cls);
        b = heap_refill(h, cls);
    }
    heap_leave(h);
    if (b == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    // The return address of this slow path, which malloc ends with a jump to: the program's code.
    if (--h->cache[cls].until_sample == 0) return heap_sample_take(b, __builtin_return_address(0));
    heap_unmark(b);
    return b;
}
