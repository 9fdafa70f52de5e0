#include "heaps.h"

#include "bins.h"
#include "cache_bounds.h"
#include "drain.h"
#include "grow.h"
#include "remote_free.h"
#include "sample.h"
#include "segments.h"

__thread hak_heap_t *hak_tls_heap = &hak_heap_empty;
hak_heap_t hak_heap_empty;
hak_counter_t hak_heapless_frees[HAK_NCLASSES];

static hak_lock_t heaps_registry_lock = HAK_LOCK_INIT; // guards all_heaps and free_heaps
static hak_heap_t *all_heaps, *free_heaps;

void heaps_lock(void) { hak_lock(&heaps_registry_lock); }
void heaps_unlock(void) { hak_unlock(&heaps_registry_lock); }
hak_heap_t *heaps_all(void) { return all_heaps; }

// ---- who works on a heap's slabs ----------------------------------------------------------------

enum { MAINT_NOBODY, MAINT_OWNER, MAINT_PURGER };

void heap_enter(hak_heap_t *h) {
    uint32_t nobody = MAINT_NOBODY;
    // acquire: the purger's work on the slabs happens before the owner's.
    while (!atomic_compare_exchange_weak_explicit(&h->maint, &nobody, MAINT_OWNER,
                                                  memory_order_acquire, memory_order_relaxed)) {
        // Only this thread enters its heap as the owner: it is in there already, and this call
        // comes from a signal handler that interrupted it. Waiting would spin forever.
        if (nobody == MAINT_OWNER)
            hak_fatal("malloc or free called from a signal handler that interrupted the same "
                      "thread's malloc or free (they are not async-signal-safe)");
        nobody = MAINT_NOBODY;
        hak_thread_yield(); // the purger holds it for one pass over the heap's slabs
    }
}

void heap_leave(hak_heap_t *h) {
    // relaxed: a count the purger compares between its passes; only the owner writes it.
    atomic_store_explicit(&h->slow_paths,
                          atomic_load_explicit(&h->slow_paths, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    // release: the next one to enter (owner or purger) sees this one's work on the slabs.
    atomic_store_explicit(&h->maint, MAINT_NOBODY, memory_order_release);
}

bool heap_enter_purger(hak_heap_t *h) {
    uint32_t nobody = MAINT_NOBODY;
    // acquire: as in heap_enter.
    return atomic_compare_exchange_strong_explicit(&h->maint, &nobody, MAINT_PURGER,
                                                   memory_order_acquire, memory_order_relaxed);
}

void heap_leave_purger(hak_heap_t *h) {
    // release: as in heap_leave (the purger's pass is not counted as the owner's activity).
    atomic_store_explicit(&h->maint, MAINT_NOBODY, memory_order_release);
}

// ---- slabs at trim and exit ---------------------------------------------------------------------

bool heap_release_slabs(hak_heap_t *h, bool abandon) {
    bool released = false;
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        heap_drain_n(h, cls, UINT32_MAX, false);
        cache_reset_bound(h, cls);
        if (abandon) h->cache[cls].refill_batch = 0; // the heap's next thread starts small again
        heap_bin_t *bin = &h->bins[cls];
        if (bin_release_spare(bin)) released = true;
        hak_slab_t *lists[3] = {bin->cur, bin->partial, bin->full};
        for (int i = 0; i < 3; i++) {
            hak_slab_t *next;
            for (hak_slab_t *s = lists[i]; s != NULL; s = next) {
                next = s->next;
                heap_collect_remote(h, s);
                if (s->used == 0) {
                    slab_list_remove(bin, s);
                    slab_release(s);
                    released = true;
                } else if (abandon) {
                    slab_list_remove(bin, s);
                    s->list = SLAB_ABANDONED;
                    // release: the adopter (through the pool's lock) and remote freers see the
                    // slab's final state.
                    atomic_store_explicit(&s->owner, NULL, memory_order_release);
                    remote_note_abandoned(s);
                    segments_abandon(s);
                }
            }
        }
    }
    return released;
}

// ---- threads ------------------------------------------------------------------------------------

static void heap_on_thread_exit(void *arg) {
    hak_heap_t *h = arg;
    if (hak_tls_heap == h) hak_tls_heap = &hak_heap_empty;
    heap_enter(h);
    heap_release_slabs(h, true);
    heap_leave(h);
    heap_grow_exit(h);
    heaps_lock();
    h->live = false;
    h->next_free = free_heaps;
    free_heaps = h;
    heaps_unlock();
}

void heaps_init(void) {
    hak_fork_protect(&heaps_registry_lock);
    if (!hak_thread_exit_hook_install(heap_on_thread_exit))
        hak_log("no thread-exit hook: caches of exiting threads stay with their slabs");
}

hak_heap_t *heap_create(void) {
    hak_init();
    // `live` is set under the lock: the purger and statistics read it under the lock.
    heaps_lock();
    hak_heap_t *h = free_heaps;
    if (h != NULL) {
        free_heaps = h->next_free;
        h->live = true;
    }
    heaps_unlock();
    if (h == NULL) {
        h = hak_os_reserve_aligned(sizeof(hak_heap_t), hak_os_page_size());
        if (h == NULL) return NULL;
        for (unsigned c = 0; c < HAK_NCLASSES; c++)
            tc_init(&h->cache[c].tc, size_class_cache_cap(c));
        heap_sample_init(h);
        heaps_lock();
        h->next_all = all_heaps;
        all_heaps = h;
        h->live = true;
        heaps_unlock();
    }
    hak_tls_heap = h;
    hak_thread_set_exit_arg(h); // may allocate (late pthread keys): the heap is already in place
    return h;
}
