#include "drain.h"

#include "bins.h"
#include "cache_bounds.h"
#include "depots.h"
#include "heaps.h"
#include "remote_free.h"

void heap_drain_n(hak_heap_t *h, unsigned cls, uint32_t n, bool to_depot) {
    tc_t *cache = &h->cache[cls].tc;
    uint32_t done = 0, foreign = 0;
    void *first = NULL, *last = NULL;
    for (void *b; done < n && (b = tc_pop(cache)) != NULL; done++) {
        hak_slab_t *s = slab_of_block(b);
        // relaxed: only this thread makes a slab's owner h, so "== h" cannot be stale.
        if (atomic_load_explicit(&s->owner, memory_order_relaxed) == h) {
            bin_free_local(h, s, b);
        } else {
            *(void **)b = first;
            first = b;
            if (last == NULL) last = b;
            foreign++;
        }
    }
    hak_count_owned(&h->stats[cls].drained_blocks, done);
    if (foreign == 0) return;
    batch_depot_t *d = to_depot ? depot_of(cls) : NULL;
    if (d != NULL && 2 * foreign >= n && batch_depot_has_room(d) &&
        batch_depot_put(d, first, last, foreign))
        return;
    heap_remote_return_chain(h, cls, first);
}

// A batch off the cache, as it is (no block is looked at but to link it), into the depot d, where
// the next thread that runs dry takes it. False if the depot is full.
static bool drain_to_depot(hak_heap_t *h, unsigned cls, batch_depot_t *d) {
    if (!batch_depot_has_room(d)) return false;
    tc_t *cache = &h->cache[cls].tc;
    void *first, *last;
    uint32_t n = tc_pop_chain(cache, size_class_batch(cls), &first, &last);
    if (n == 0) return true;
    if (!batch_depot_put(d, first, last, n)) {
        tc_fill(cache, first, last, n); // filled up meanwhile: back where they were
        return false;
    }
    hak_count_owned(&h->stats[cls].drained_blocks, n);
    return true;
}

// Whether the block a drain would take first belongs to another live heap's slab: the cache then
// holds blocks other threads allocated, and the whole batch goes to the depot as it is; a thread
// churning its own blocks keeps them to itself (its depot traffic would only mix blocks between
// threads that do not share).
static bool cache_front_is_foreign(hak_heap_t *h, unsigned cls) {
    void *b = tc_peek(&h->cache[cls].tc);
    if (b == NULL) return false;
    hak_slab_t *s = slab_of_block(b);
    hak_heap_t *owner = atomic_load_explicit(&s->owner, memory_order_relaxed);
    return owner != h && owner != NULL;
}

// A class of a thread that only frees (cache_bounds.h): all its blocks back, its bound lowered
// (cache_lower_bound does nothing for a class already lowered).
static void heap_empty_class(hak_heap_t *h, unsigned cls) {
    cache_lower_bound(h, cls);
    if (tc_count(&h->cache[cls].tc) > 0)
        heap_drain_n(h, cls, UINT32_MAX, depot_of(cls) != NULL);
}

HAK_NOINLINE void heap_drain(hak_heap_t *h, unsigned cls) {
    heap_enter(h);
    hak_count_owned(&h->stats[cls].drains, 1);
    batch_depot_t *d = depot_of(cls);
    // Classes without a depot (large blocks, a few cached per class) are left out of the run of
    // drains: a churn of large blocks drains megabytes without a refill.
    bool foreign = d == NULL || cache_front_is_foreign(h, cls);
    switch (cache_on_drain(h, cls, foreign)) {
    case DRAIN_ALL_CLASSES:
        for (unsigned c = 0; c < HAK_NCLASSES; c++)
            if (depot_of(c) == NULL || !cache_front_is_foreign(h, c)) heap_empty_class(h, c);
        break;
    case DRAIN_CLASS:
        heap_empty_class(h, cls);
        break;
    case DRAIN_BATCH:
        if (!(d != NULL && foreign && drain_to_depot(h, cls, d)))
            heap_drain_n(h, cls, size_class_batch(cls), d != NULL);
        break;
    }
    heap_leave(h);
}

// Frees a thread without a heap makes one block at a time, each an atomic push onto its slab's
// remote queue, before it gets a heap of its own: a thread that only frees (a consumer of another
// thread's blocks) then frees into a cache and hands blocks back in batches.
#define HEAPLESS_FREES_BEFORE_HEAP 64
static __thread uint32_t heapless_frees;

// A free the fast path could not finish: an invalid pointer (abort), a cache without room (push,
// then drain), or a thread without a heap (straight to the slab's remote queue).
HAK_NOINLINE void heap_free_slow(hak_slab_t *s, void *p) {
    if (!slab_is_block(s, p)) hak_fatal("free(): invalid pointer %p", p);
    heap_check_not_just_freed(s, p, "free");
    heap_mark_freed(p);
    hak_heap_t *h = hak_tls_heap;
    unsigned cls = s->cls;
    if (h == &hak_heap_empty && ++heapless_frees > HEAPLESS_FREES_BEFORE_HEAP) {
        h = heap_create();
        if (h == NULL) h = &hak_heap_empty;
    }
    if (h != &hak_heap_empty) {
        if (tc_push(&h->cache[cls].tc, p)) heap_drain(h, cls);
        return;
    }
    remote_push(s, cls, p, p, 1);
    hak_count(&hak_heapless_frees[cls], 1);
}
