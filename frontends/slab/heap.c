#include "heap.h"

#include "batch_depot.h"
#include "grow.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>

__thread hak_heap_t *hak_tls_heap = &hak_heap_empty;
hak_heap_t hak_heap_empty;
shared_pool_t hak_pools[SEG_KINDS] = {SHARED_POOL_INIT, SHARED_POOL_INIT, SHARED_POOL_INIT};

static hak_lock_t heaps_lock = HAK_LOCK_INIT; // guards all_heaps and free_heaps
static hak_heap_t *all_heaps, *free_heaps;
// Remote frees by threads that never allocated (they have no heap to count them in).
static _Atomic uint64_t heapless_remote_frees[HAK_NCLASSES];

// Tiny and mid classes pass whole batches between threads through one depot per class, bounded
// to DEPOT_BYTES of blocks (at most BATCH_DEPOT_MAX batches).
// The variant without a thread cache uses none: its batches would be single blocks.
#define DEPOT_CLASSES (HAK_TINY_CLASSES + HAK_MID_CLASSES)
#define DEPOT_ON (HAK_THREAD_CACHE != HAK_THREAD_CACHE_NONE)
#define DEPOT_BYTES (1024 * HAK_KiB)
static batch_depot_t depots[DEPOT_CLASSES];
_Static_assert(HAK_NCLASSES <= SP_MAX_CLASSES, "the shared pools keep a list per class");

#define container_of(p, type, field) ((type *)((char *)(p) - offsetof(type, field)))

// The slab of a block of a slab segment.
static hak_slab_t *block_slab(void *b) {
    return segment_slab_of((hak_segment_t *)segment_header_of(b), b);
}

static hak_segment_t *slab_segment(hak_slab_t *s) {
    return (hak_segment_t *)((uintptr_t)s & ~HAK_SEG_MASK);
}

// ---- owner lists -------------------------------------------------------------------------------

static hak_slab_t **bin_list(heap_bin_t *bin, unsigned list) {
    return list == SLAB_FULL ? &bin->full : &bin->partial;
}

static void list_push(heap_bin_t *bin, hak_slab_t *s, unsigned list) {
    hak_slab_t **head = bin_list(bin, list);
    s->list = (uint8_t)list;
    s->prev = NULL;
    s->next = *head;
    if (*head != NULL) (*head)->prev = s;
    *head = s;
}

static void list_remove(heap_bin_t *bin, hak_slab_t *s) {
    if (s->list == SLAB_CURRENT) {
        bin->cur = NULL;
        return;
    }
    hak_slab_t **head = bin_list(bin, s->list);
    if (s->prev != NULL) s->prev->next = s->next;
    else *head = s->next;
    if (s->next != NULL) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

// ---- who works on a heap's slabs ----------------------------------------------------------------
// The owner, on its slow paths; or the purger, on a heap whose thread has gone idle (it collects
// the remote frees waiting in its slabs and releases the slabs that are then empty, which an idle
// owner never would). `maint` says which; the owner's fast paths touch only its caches and never
// take it.
enum { MAINT_NOBODY, MAINT_OWNER, MAINT_PURGER };

static void heap_enter(hak_heap_t *h) {
    uint32_t nobody = MAINT_NOBODY;
    // acquire: the purger's work on the slabs happens before the owner's.
    while (!atomic_compare_exchange_weak_explicit(&h->maint, &nobody, MAINT_OWNER,
                                                  memory_order_acquire, memory_order_relaxed)) {
        nobody = MAINT_NOBODY;
        sched_yield(); // the purger holds it for one pass over the heap's slabs
    }
}

static void heap_leave(hak_heap_t *h) {
    // relaxed: a count the purger compares between its passes; only the owner writes it.
    atomic_store_explicit(&h->slow_paths, atomic_load_explicit(&h->slow_paths, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    // release: the next one to enter (owner or purger) sees this one's work on the slabs.
    atomic_store_explicit(&h->maint, MAINT_NOBODY, memory_order_release);
}

// ---- slabs -------------------------------------------------------------------------------------

// Move the blocks other threads freed into the local free list. Returns how many.
static size_t slab_collect_remote(hak_slab_t *s) {
    void *chain = remote_queue_take_all(&s->remote);
    if (chain == NULL) return 0;
    void *last;
    size_t n = remote_queue_chain_length(chain, &last);
    *(void **)last = s->free;
    s->free = chain;
    s->used = (uint16_t)(s->used - n);
    return n;
}

static void heap_collect_remote(hak_heap_t *h, hak_slab_t *s) {
    h->stats[s->cls].remote_collected += slab_collect_remote(s);
}

// Add up to `want` blocks of slab s to a cache: its free blocks (with the remote frees waiting
// for it), then uncarved ones. Returns how many; fewer than `want` means the slab has no more.
static uint32_t slab_take(hak_heap_t *h, hak_slab_t *s, uint32_t want, tc_t *cache) {
    uint32_t avail = (uint32_t)(s->carved - s->used), got = 0;
    if (avail < want && !remote_queue_is_empty(&s->remote)) {
        heap_collect_remote(h, s);
        avail = (uint32_t)(s->carved - s->used);
    }
    if (avail > 0) {
        void *first = s->free, *last = NULL; // the whole list: its end is not known
        got = avail <= want ? avail : want;
        if (got == avail) {
            s->free = NULL;
        } else {
            last = first;
            for (uint32_t i = 1; i < got; i++) last = *(void **)last;
            s->free = *(void **)last;
            *(void **)last = NULL;
        }
        tc_fill(cache, first, last, got);
        s->used = (uint16_t)(s->used + got);
    }
    uint32_t room = (uint32_t)(s->capacity - s->carved);
    if (got < want && room > 0) {
        uint32_t n = room < want - got ? room : want - got;
        tc_fill_carved(cache, s->start + (size_t)s->carved * s->block_size, s->block_size, n);
        // atomic store: threads freeing blocks of this slab read `carved` to validate addresses.
        __atomic_store_n(&s->carved, (uint16_t)(s->carved + n), __ATOMIC_RELAXED);
        s->used = (uint16_t)(s->used + n);
        got += n;
    }
    return got;
}

// ---- empty segments ------------------------------------------------------------------------------
// A segment whose slots are all free goes to the lru box (HAK_LRU): a claim from it before it
// leaves is a hit and costs nothing; it is purged when the lru evicts it (more than
// HAKMEM_LRU_MAX_SEGMENTS / _MB empty) or it expires (empty for HAKMEM_PURGE_DELAY_MS). Without the
// lru it is purged at once, which made a loop allocating and freeing a few thousand 4 KiB blocks
// pay an madvise and the page faults after it on every round (12-60x slower).

#if HAK_LRU
static lru_t segment_lru;
#endif

// Purge a segment if it is still entirely free: seize every slot so nobody can claim one while
// its pages go, then publish them again.
static bool segment_purge_if_empty(hak_segment_t *seg) {
    shared_pool_t *pool = &hak_pools[seg->kind];
    if (!shared_pool_seize_empty(pool, &seg->pool)) return false;
    segment_purge(seg);
    shared_pool_publish(pool, &seg->pool);
    return true;
}

#if HAK_LRU
// Purge the segments of a chain the lru handed back. The chain is linked through the nodes'
// `next`, which lru_insert rewrites (under the lru's lock) when a segment of the chain is claimed,
// emptied and inserted again before this thread reaches it: so the links are read under that
// lock, a batch at a time before the slow purges, and the walk stops at a node that is linked
// again (its segment waits in the lru once more; the nodes after it stay unpurged until their
// segments empty again, a rare loss of a purge, never a walk into the live list).
#define PURGE_BATCH 32
static bool segments_purge_chain(lru_node_t *n) {
    bool purged = false;
    while (n != NULL) {
        hak_segment_t *batch[PURGE_BATCH];
        unsigned count = 0;
        lru_lock(&segment_lru);
        // relaxed: under the lock, which orders every write of `linked` and `next`.
        for (; n != NULL && count < PURGE_BATCH; n = n->next) {
            if (atomic_load_explicit(&n->linked, memory_order_relaxed)) {
                n = NULL;
                break;
            }
            batch[count++] = container_of(n, hak_segment_t, lru);
        }
        lru_unlock(&segment_lru);
        for (unsigned i = 0; i < count; i++)
            if (segment_purge_if_empty(batch[i])) purged = true;
    }
    return purged;
}
#endif

static void segment_emptied(hak_segment_t *seg) {
#if HAK_LRU
    lru_node_t *evicted =
        lru_insert(&segment_lru, &seg->lru, HAK_SEG_SIZE - HAK_SEG_HEADER_SIZE, hak_clock_ms());
    segments_purge_chain(evicted);
#else
    segment_purge_if_empty(seg);
#endif
}

// A slot of seg was just claimed: if seg was waiting in the lru, it is reused (a hit).
HAK_INLINE void segment_reused(hak_segment_t *seg) {
#if HAK_LRU
    lru_remove(&segment_lru, &seg->lru); // checks `linked` before taking the lock
#endif
}

// Purge the empty segments that have waited long enough (all of them when `all`).
bool heap_expire_segments(bool all) {
#if HAK_LRU
    return segments_purge_chain(lru_expire(&segment_lru, hak_clock_ms(), all));
#else
    return false;
#endif
}

// Hand an empty slab back to the shared pool.
static void slab_release(hak_slab_t *s) {
    hak_segment_t *seg = slab_segment(s);
    shared_pool_t *pool = &hak_pools[seg->kind];
    atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
    s->list = SLAB_FREE_SLOT;
    s->free = NULL;
    __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED); // stale pointers into it are now invalid
    // Mark the slot dirty before the release publishes it: its pages are resident until purged.
    // relaxed: the mask and time are hints for the purger, which seizes the slot before acting.
    if (atomic_fetch_or_explicit(&seg->dirty, 1u << s->slot, memory_order_relaxed) == 0)
        atomic_store_explicit(&seg->dirty_since_ms, hak_clock_ms(), memory_order_relaxed);
    if (shared_pool_release(pool, &seg->pool, s->slot)) segment_emptied(seg);
}

// Purge the free slots of partly used segments that have been dirty for HAKMEM_PURGE_DELAY_MS
// (all of them when `all`): a segment that keeps one live slab would otherwise keep the pages of
// every slab it ever held. Segments are never unlinked, so the scan needs no lock.
bool heap_purge_dirty_slots(bool all) {
    if (hak_options.purge_delay_ms < 0 && !all) return false;
    uint64_t now = hak_clock_ms();
    bool purged = false;
    for (unsigned kind = 0; kind < SEG_KINDS; kind++) {
        shared_pool_t *pool = &hak_pools[kind];
        // acquire: pairs with the release that published each segment.
        for (sp_segment_t *sp = atomic_load_explicit(&pool->segments, memory_order_acquire); sp != NULL;
             sp = sp->next) {
            hak_segment_t *seg = container_of(sp, hak_segment_t, pool);
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

// Spare slabs held by all heaps: the purger skips its walk over every heap when there are none.
// relaxed (all uses): a count for that shortcut, which orders nothing.
static _Atomic long spare_slabs;

// An empty slab, off its list: kept as its class's spare if there is none (and its slab is small),
// else back to the shared pool. Owner only.
static void slab_retire(heap_bin_t *bin, hak_slab_t *s) {
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

// Take a class's spare slab (owner or purger), or NULL.
static hak_slab_t *bin_take_spare(heap_bin_t *bin) {
    if (atomic_load_explicit(&bin->spare, memory_order_relaxed) == NULL) return NULL;
    // acquire: pairs with the owner's release store in slab_retire.
    hak_slab_t *s = atomic_exchange_explicit(&bin->spare, NULL, memory_order_acquire);
    if (s != NULL) atomic_fetch_sub_explicit(&spare_slabs, 1, memory_order_relaxed);
    return s;
}

// Release a class's spare slab (an idle class, trim). Returns true if there was one.
static bool heap_release_spare(heap_bin_t *bin) {
    hak_slab_t *s = bin_take_spare(bin);
    if (s == NULL) return false;
    slab_release(s);
    return true;
}

// Return a block of one of h's slabs to that slab.
static void slab_free_local(hak_heap_t *h, hak_slab_t *s, void *b) {
    *(void **)b = s->free;
    s->free = b;
    s->used--;
    heap_bin_t *bin = &h->bins[s->cls];
    if (s->list == SLAB_FULL) {
        list_remove(bin, s);
        list_push(bin, s, SLAB_PARTIAL);
    }
    if (s->used == 0 && s->list != SLAB_CURRENT) {
        list_remove(bin, s);
        slab_retire(bin, s);
    }
}

// A slab for class cls: an abandoned one if any, else a free slot of the shared pool, else a
// slot of a new segment.
static hak_slab_t *heap_claim_slab(hak_heap_t *h, unsigned cls) {
    heap_expire_segments(false);
    seg_kind_t kind = size_class_segment_kind(cls);
    shared_pool_t *pool = &hak_pools[kind];
    sp_link_t *link = shared_pool_adopt(pool, cls);
    if (link != NULL) {
        hak_slab_t *s = container_of(link, hak_slab_t, pool_link);
        // release: pairs with remote_push's acquire; a thread still holding one of the slab's
        // blocks may read the new owner and write its hint (into a heap it has never seen made).
        atomic_store_explicit(&s->owner, h, memory_order_release);
        heap_collect_remote(h, s);
        return s;
    }
    sp_segment_t *sp;
    hak_segment_t *seg;
    int slot = shared_pool_claim(pool, &sp);
    if (slot >= 0) {
        seg = container_of(sp, hak_segment_t, pool);
        segment_reused(seg);
    } else {
        seg = segment_create(kind);
        if (seg == NULL) return NULL;
        slot = shared_pool_add_segment(pool, &seg->pool, segment_slot_mask(kind));
    }
    slab_format(seg, (unsigned)slot, cls, hak_class_size[cls], size_class_colored(cls));
    hak_slab_t *s = segment_slab(seg, (unsigned)slot);
    atomic_store_explicit(&s->owner, h, memory_order_release); // as above
    return s;
}

// Full slabs that received remote frees become partial again.
static void heap_collect_full(hak_heap_t *h, unsigned cls) {
    heap_bin_t *bin = &h->bins[cls];
    hak_slab_t *next;
    for (hak_slab_t *s = bin->full; s != NULL; s = next) {
        next = s->next;
        if (remote_queue_is_empty(&s->remote)) continue;
        heap_collect_remote(h, s);
        list_remove(bin, s);
        if (s->used == 0) slab_retire(bin, s);
        else list_push(bin, s, SLAB_PARTIAL);
    }
}

// ---- cache bounds --------------------------------------------------------------------------------
// A class's cache holds at most bound_batches batches, HAK_CACHE_BASE_BATCHES to start with. A
// refill that follows a drain of the same class means blocks went away that the thread then
// needed back (a burst of frees from other threads, a thread that frees in one phase and allocates
// in the next, the random walk of a class's live count): the bound grows by a batch, up to
// HAK_CACHE_MAX_BATCHES and the box's limit, while the heap's bounds stay within
// CACHE_EXTRA_BYTES above the base. A class gone idle (the tick), malloc_trim and the thread's exit
// put it back to the base. A thread that only frees or only allocates never grows a bound. Each
// block moved by a drain and a refill costs a walk over cold blocks, and between threads a cache
// miss on each: in a ring of 4 threads freeing half their blocks in the next one, the base bound
// moved 10-30% of all blocks through the depot.
#define CACHE_EXTRA_BYTES (4 * HAK_MiB)

static size_t batch_bytes(unsigned cls) {
    return (size_t)size_class_batch(cls) * hak_class_size[cls];
}

static unsigned cache_bound_batches(const heap_cache_t *c) {
    return c->bound_batches ? c->bound_batches : HAK_CACHE_BASE_BATCHES;
}

static void cache_set_bound(hak_heap_t *h, unsigned cls, unsigned batches) {
    heap_cache_t *c = &h->cache[cls];
    h->bound_extra_bytes -= (cache_bound_batches(c) - HAK_CACHE_BASE_BATCHES) * batch_bytes(cls);
    h->bound_extra_bytes += (batches - HAK_CACHE_BASE_BATCHES) * batch_bytes(cls);
    c->bound_batches = (uint8_t)batches;
    tc_set_cap(&c->tc, size_class_cache_cap_of(cls, batches));
}

static void cache_on_refill(hak_heap_t *h, unsigned cls) {
    heap_cache_t *c = &h->cache[cls];
    unsigned batches = cache_bound_batches(c);
    uint32_t cap = size_class_cache_cap_of(cls, batches + 1);
    if (c->drained && batches < HAK_CACHE_MAX_BATCHES && cap <= TC_CAP_LIMIT &&
        cap > size_class_cache_cap_of(cls, batches) &&
        h->bound_extra_bytes + batch_bytes(cls) <= CACHE_EXTRA_BYTES) {
        cache_set_bound(h, cls, batches + 1);
        h->stats[cls].bound_grows++;
    }
    c->drained = false;
}

static void cache_on_drain(hak_heap_t *h, unsigned cls) {
    h->cache[cls].drained = true;
}

static void cache_reset_bound(hak_heap_t *h, unsigned cls) {
    if (cache_bound_batches(&h->cache[cls]) != HAK_CACHE_BASE_BATCHES) {
        cache_set_bound(h, cls, HAK_CACHE_BASE_BATCHES);
        h->stats[cls].bound_resets++;
    }
    h->cache[cls].drained = false;
}

#define REFILL_FIRST_BATCH 4

static uint32_t heap_next_refill_batch(heap_cache_t *c, unsigned cls) {
    uint32_t max = size_class_batch(cls), want = c->refill_batch ? c->refill_batch : REFILL_FIRST_BATCH;
    if (want >= max) return max;
    c->refill_batch = 2 * want;
    return want;
}

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
    if (DEPOT_ON && !own_free && cls < DEPOT_CLASSES && batch_depot_take(&depots[cls], &batch)) {
        tc_fill(cache, batch.first, batch.last, batch.n);
        h->stats[cls].refills++;
        h->stats[cls].refilled_blocks += batch.n;
        return tc_pop(cache);
    }
    uint32_t want = heap_next_refill_batch(&h->cache[cls], cls), got = 0;
    // Gather from the current slab, then the next ones, until the batch is complete: a slab that
    // gets its blocks back a few at a time (remote frees, drains) would otherwise make every
    // refill a short one. A new slab is claimed only when nothing was found.
    for (;;) {
        hak_slab_t *s = bin->cur;
        if (s != NULL) {
            got += slab_take(h, s, want - got, cache);
            if (got == want) break;
            bin->cur = NULL;
            list_push(bin, s, SLAB_FULL);
        }
        if (got > 0 && bin->partial == NULL) break;
        // acquire: pairs with the release store of the thread that pushed a remote free and then
        // set the hint, so the pushed block is visible to the scan.
        if (atomic_load_explicit(&h->remote_hint[cls], memory_order_relaxed) &&
            atomic_exchange_explicit(&h->remote_hint[cls], 0, memory_order_acquire))
            heap_collect_full(h, cls);
        if ((s = bin->partial) != NULL) list_remove(bin, s);
        else if ((s = bin_take_spare(bin)) == NULL && (s = heap_claim_slab(h, cls)) == NULL)
            return NULL;
        s->list = SLAB_CURRENT;
        bin->cur = s;
    }
    h->stats[cls].refills++;
    h->stats[cls].refilled_blocks += got;
    return tc_pop(cache);
}

// ---- heaps and threads -------------------------------------------------------------------------

static void heap_on_thread_exit(void *arg);

static hak_heap_t *heap_create(void) {
    hak_init();
    // `live` is set under the lock: the purger and statistics read it under the lock.
    hak_lock(&heaps_lock);
    hak_heap_t *h = free_heaps;
    if (h != NULL) {
        free_heaps = h->next_free;
        h->live = true;
    }
    hak_unlock(&heaps_lock);
    if (h == NULL) {
        h = hak_os_reserve_aligned(sizeof(hak_heap_t), hak_os_page_size());
        if (h == NULL) return NULL;
        for (unsigned c = 0; c < HAK_NCLASSES; c++) tc_init(&h->cache[c].tc, size_class_cache_cap(c));
        hak_lock(&heaps_lock);
        h->next_all = all_heaps;
        all_heaps = h;
        h->live = true;
        hak_unlock(&heaps_lock);
    }
    hak_tls_heap = h;
    hak_thread_set_exit_arg(h); // may allocate (late pthread keys): the heap is already in place
    return h;
}

// Blocks of other heaps' slabs on their way back, gathered into one chain per slab so that each
// slab's remote queue takes one CAS per drain, not one per block.
#define REMOTE_RUNS 8
typedef struct {
    struct {
        hak_slab_t *slab;
        void *first, *last;
    } run[REMOTE_RUNS];
    unsigned n;
} remote_batch_t;

// Set when blocks went back to an abandoned slab: the purger then looks for abandoned slabs that
// have become empty.
static _Atomic bool abandoned_freed;

// Push a chain into its slab's remote queue and tell the owner when the queue was empty.
static void remote_push(hak_slab_t *s, unsigned cls, void *first, void *last) {
    // Read before the push: once the blocks are in the queue the owner may collect them, empty
    // the slab and hand it to another class. A stale owner only gets a spurious hint (heaps are
    // never unmapped).
    // acquire: pairs with the release that made the owner (the heap's making happens before the
    // hint written into it below).
    hak_heap_t *owner = atomic_load_explicit(&s->owner, memory_order_acquire);
    bool was_empty = remote_queue_push_chain(&s->remote, first, last);
    // The owner may have exited between the read and the push, abandoning the slab after its last
    // collection: look again. The fence pairs with the abandoning thread's fence between its store
    // of NULL and its look at the queue: one of the two sees the other's write, so a slab is
    // never left abandoned with blocks nobody announced. (relaxed load: the fence orders it.)
    if (owner != NULL) {
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&s->owner, memory_order_relaxed) == NULL) owner = NULL;
    }
    // release (both): whoever acquires the hint or the flag then sees the pushed blocks.
    if (owner == NULL) atomic_store_explicit(&abandoned_freed, true, memory_order_release);
    else if (was_empty) atomic_store_explicit(&owner->remote_hint[cls], 1, memory_order_release);
}

static void remote_batch_flush(remote_batch_t *rb, unsigned cls) {
    for (unsigned i = 0; i < rb->n; i++)
        remote_push(rb->run[i].slab, cls, rb->run[i].first, rb->run[i].last);
    rb->n = 0;
}

static void remote_batch_add(remote_batch_t *rb, unsigned cls, hak_slab_t *s, void *b) {
    for (unsigned i = 0; i < rb->n; i++) {
        if (rb->run[i].slab == s) {
            *(void **)b = rb->run[i].first;
            rb->run[i].first = b;
            return;
        }
    }
    if (rb->n == REMOTE_RUNS) remote_batch_flush(rb, cls);
    rb->run[rb->n].slab = s;
    rb->run[rb->n].first = rb->run[rb->n].last = b;
    rb->n++;
}

// Send a NULL-terminated chain of blocks back to their slabs' remote queues, one push per run of
// blocks of one slab. Returns how many blocks.
static uint32_t remote_return_chain(unsigned cls, void *chain) {
    remote_batch_t rb;
    rb.n = 0;
    uint32_t n = 0;
    for (void *b = chain, *next; b != NULL; b = next, n++) {
        next = *(void **)b;
        remote_batch_add(&rb, cls, block_slab(b), b);
    }
    remote_batch_flush(&rb, cls);
    return n;
}

// Return up to n blocks of a class's cache to their slabs: the heap's own directly, other heaps'
// through their slabs' remote queues; with `to_depot`, other heaps' blocks that come to half the
// batch or more go as one batch into the class's depot instead.
static void heap_drain_n(hak_heap_t *h, unsigned cls, uint32_t n, bool to_depot) {
    tc_t *cache = &h->cache[cls].tc;
    uint32_t done = 0, foreign = 0;
    void *first = NULL, *last = NULL;
    for (void *b; done < n && (b = tc_pop(cache)) != NULL; done++) {
        hak_slab_t *s = block_slab(b);
        // relaxed: only this thread makes a slab's owner h, so "== h" cannot be stale.
        if (atomic_load_explicit(&s->owner, memory_order_relaxed) == h) {
            slab_free_local(h, s, b);
        } else {
            *(void **)b = first;
            first = b;
            if (last == NULL) last = b;
            foreign++;
        }
    }
    h->stats[cls].drained_blocks += done;
    if (foreign == 0) return;
    if (to_depot && 2 * foreign >= n && batch_depot_has_room(&depots[cls]) &&
        batch_depot_put(&depots[cls], first, last, foreign))
        return;
    h->stats[cls].remote_frees += remote_return_chain(cls, first);
}

// Release the heap's empty slabs; the others are abandoned (abandon) or kept.
static bool heap_release_slabs(hak_heap_t *h, bool abandon) {
    bool released = false;
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        heap_drain_n(h, cls, UINT32_MAX, false);
        cache_reset_bound(h, cls);
        if (abandon) h->cache[cls].refill_batch = 0; // the heap's next thread starts small again
        heap_bin_t *bin = &h->bins[cls];
        if (heap_release_spare(bin)) released = true;
        hak_slab_t *lists[3] = {bin->cur, bin->partial, bin->full};
        for (int i = 0; i < 3; i++) {
            hak_slab_t *next;
            for (hak_slab_t *s = lists[i]; s != NULL; s = next) {
                next = s->next;
                heap_collect_remote(h, s);
                if (s->used == 0) {
                    list_remove(bin, s);
                    slab_release(s);
                    released = true;
                } else if (abandon) {
                    list_remove(bin, s);
                    s->list = SLAB_ABANDONED;
                    // release: the adopter (through the pool's lock) and remote freers see the
                    // slab's final state. The fence: a push that raced with the last collection
                    // is seen here, or sees the NULL (remote_push has the other fence).
                    atomic_store_explicit(&s->owner, NULL, memory_order_release);
                    atomic_thread_fence(memory_order_seq_cst);
                    if (!remote_queue_is_empty(&s->remote))
                        atomic_store_explicit(&abandoned_freed, true, memory_order_release);
                    shared_pool_abandon(&hak_pools[slab_segment(s)->kind], cls, &s->pool_link);
                }
            }
        }
    }
    return released;
}

bool heap_release_idle_spares(bool all) {
    if (hak_options.purge_delay_ms < 0 && !all) return false;
    if (atomic_load_explicit(&spare_slabs, memory_order_relaxed) <= 0) return false;
    uint64_t now = hak_clock_ms();
    bool released = false;
    hak_lock(&heaps_lock); // heaps are never freed; the lock keeps the list walk simple
    for (hak_heap_t *h = all_heaps; h != NULL; h = h->next_all) {
        for (unsigned c = 0; c < HAK_NCLASSES; c++) {
            heap_bin_t *bin = &h->bins[c];
            if (atomic_load_explicit(&bin->spare, memory_order_relaxed) == NULL) continue;
            if (!all && now - atomic_load_explicit(&bin->spare_since_ms, memory_order_relaxed) <
                            (uint64_t)hak_options.purge_delay_ms)
                continue;
            if (heap_release_spare(bin)) released = true;
        }
    }
    hak_unlock(&heaps_lock);
    return released;
}

static void heap_on_thread_exit(void *arg) {
    hak_heap_t *h = arg;
    if (hak_tls_heap == h) hak_tls_heap = &hak_heap_empty;
    heap_enter(h);
    heap_release_slabs(h, true);
    heap_leave(h);
    heap_grow_exit(h);
    hak_lock(&heaps_lock);
    h->live = false;
    h->next_free = free_heaps;
    free_heaps = h;
    hak_unlock(&heaps_lock);
}

// ---- slow paths --------------------------------------------------------------------------------

// Once per HAKMEM_PURGE_DELAY_MS, on the owner's slow path: a class that allocated nothing
// since the last tick gives its cached blocks back to their slabs, so that slabs and segments can
// empty and be purged while the thread works in other size classes.
static void heap_tick(hak_heap_t *h) {
    // Read the clock on one slow path in 32 only: at ~40 ns a read, every refill of a busy
    // thread would pay it.
    if ((++h->tick_skip & 31) != 0 || hak_options.purge_delay_ms < 0) return;
    uint64_t now = hak_clock_ms();
    if (now - h->tick_ms < (uint64_t)hak_options.purge_delay_ms) return;
    h->tick_ms = now;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        uint64_t allocs = h->cache[c].allocs;
        if (allocs == h->tick_allocs[c]) {
            if (tc_count(&h->cache[c].tc) > 0) {
                h->stats[c].drains++;
                heap_drain_n(h, c, UINT32_MAX, false);
            }
            cache_reset_bound(h, c);
            heap_release_spare(&h->bins[c]);
        }
        h->tick_allocs[c] = allocs;
    }
    heap_grow_purge(h, false);
}

HAK_NOINLINE void *heap_alloc_slow(unsigned cls) {
    hak_heap_t *h = hak_tls_heap;
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
    if (b != NULL) h->cache[cls].allocs++;
    heap_leave(h);
    if (b == NULL) errno = ENOMEM;
    else heap_unmark(b);
    return b;
}

// A batch off the cache, as it is (no block is looked at but to link it), into the class's
// depot, where the next thread that runs dry takes it. False if the depot is full.
static bool heap_drain_to_depot(hak_heap_t *h, unsigned cls) {
    batch_depot_t *d = &depots[cls];
    if (!batch_depot_has_room(d)) return false;
    tc_t *cache = &h->cache[cls].tc;
    void *first, *last;
    uint32_t n = tc_pop_chain(cache, size_class_batch(cls), &first, &last);
    if (n == 0) return true;
    if (!batch_depot_put(d, first, last, n)) {
        tc_fill(cache, first, last, n); // filled up meanwhile: back where they were
        return false;
    }
    h->stats[cls].drained_blocks += n;
    return true;
}

// Whether the block a drain would take first belongs to another heap's slab: the cache then holds
// blocks other threads allocated (a server, a ring), and the whole batch goes to the depot as it
// is; a thread churning its own blocks keeps them to itself (its depot traffic would only mix
// blocks between threads that do not share).
static bool cache_front_is_foreign(hak_heap_t *h, unsigned cls) {
    void *b = tc_peek(&h->cache[cls].tc);
    if (b == NULL) return false;
    hak_slab_t *s = block_slab(b);
    return atomic_load_explicit(&s->owner, memory_order_relaxed) != h;
}

HAK_NOINLINE void heap_drain(hak_heap_t *h, unsigned cls) {
    heap_enter(h);
    h->stats[cls].drains++;
    cache_on_drain(h, cls);
    bool depot = DEPOT_ON && cls < DEPOT_CLASSES;
    if (!(depot && cache_front_is_foreign(h, cls) && heap_drain_to_depot(h, cls)))
        heap_drain_n(h, cls, size_class_batch(cls), depot);
    heap_leave(h);
}

static _Atomic uint64_t idle_collections; // statistics only

// The purger's pass over a heap whose thread entered no slow path since the last pass: collect the
// remote frees its slabs were sent (flagged by remote_hint) and release the slabs that are then
// empty; the current slab of a class stays. Skipped if the owner is on a slow path right now.
static bool heap_collect_if_idle(hak_heap_t *h, bool all) {
    uint64_t seen = atomic_load_explicit(&h->slow_paths, memory_order_relaxed);
    bool idle = seen == h->purger_seen_slow_paths;
    h->purger_seen_slow_paths = seen;
    if (!idle && !all) return false;
    uint32_t nobody = MAINT_NOBODY;
    // acquire: as in heap_enter.
    if (!atomic_compare_exchange_strong_explicit(&h->maint, &nobody, MAINT_PURGER,
                                                 memory_order_acquire, memory_order_relaxed))
        return false;
    bool released = false;
    atomic_fetch_add_explicit(&idle_collections, 1, memory_order_relaxed);
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
                    list_remove(bin, s);
                    slab_release(s);
                    released = true;
                } else if (s->list == SLAB_FULL) {
                    list_remove(bin, s);
                    list_push(bin, s, SLAB_PARTIAL);
                }
            }
        }
        if (bin->cur != NULL) heap_collect_remote(h, bin->cur);
    }
    // release: as in heap_leave (the purger's pass is not counted as the owner's activity).
    atomic_store_explicit(&h->maint, MAINT_NOBODY, memory_order_release);
    return released;
}

// Every live heap that has gone idle (all: every live heap) gets the purger's pass.
bool heap_collect_idle(bool all) {
    bool released = false;
    hak_lock(&heaps_lock);
    for (hak_heap_t *h = all_heaps; h != NULL; h = h->next_all)
        if (h->live && heap_collect_if_idle(h, all)) released = true;
    hak_unlock(&heaps_lock);
    return released;
}

// Give the blocks of idle depots (no put or take since the last call; all of them when `all`)
// back to their slabs, so that slabs can empty. Any thread may call it.
bool heap_flush_depots(bool all) {
    static _Atomic uint64_t seen[DEPOT_CLASSES]; // puts + takes at the previous call
    bool flushed = false;
    for (unsigned cls = 0; cls < DEPOT_CLASSES; cls++) {
        batch_depot_t *d = &depots[cls];
        if (batch_depot_blocks(d) == 0) continue;
        uint64_t use = atomic_load_explicit(&d->stats.puts, memory_order_relaxed) +
                       atomic_load_explicit(&d->stats.takes, memory_order_relaxed);
        // relaxed: a hint between calls; a race only flushes one round early or late.
        uint64_t before = atomic_exchange_explicit(&seen[cls], use, memory_order_relaxed);
        if (!all && use != before) continue;
        depot_batch_t batches[BATCH_DEPOT_MAX];
        uint32_t n = batch_depot_take_all(d, batches);
        for (uint32_t i = 0; i < n; i++) remote_return_chain(cls, batches[i].first);
        if (n > 0) flushed = true;
    }
    return flushed;
}

// A free the fast path could not finish: an invalid pointer (abort), a cache without room (push,
// then drain), or a thread without a heap (straight to the slab's remote queue).
HAK_NOINLINE void heap_free_slow(hak_slab_t *s, void *p) {
    if (!slab_is_block(s, p)) hak_fatal("free(): invalid pointer %p", p);
    heap_mark_freed(p);
    hak_heap_t *h = hak_tls_heap;
    unsigned cls = s->cls;
    if (h != &hak_heap_empty) {
        if (tc_push(&h->cache[cls].tc, p)) heap_drain(h, cls);
        return;
    }
    remote_push(s, cls, p, p);
    atomic_fetch_add_explicit(&heapless_remote_frees[cls], 1, memory_order_relaxed);
}

// Under the pool's lock (the slab's consumer meanwhile): collect its remote frees; empty?
static bool abandoned_slab_empty(sp_link_t *link) {
    hak_slab_t *s = container_of(link, hak_slab_t, pool_link);
    slab_collect_remote(s);
    return s->used == 0;
}

bool heap_reclaim_abandoned(bool all) {
    // acquire: pairs with remote_push's release, so the pushed blocks are seen by the collection.
    if (!all && !atomic_exchange_explicit(&abandoned_freed, false, memory_order_acquire)) return false;
    bool released = false;
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        sp_link_t *link = shared_pool_reclaim_abandoned(&hak_pools[size_class_segment_kind(cls)],
                                                        cls, abandoned_slab_empty);
        for (sp_link_t *next; link != NULL; link = next) {
            next = link->next;
            slab_release(container_of(link, hak_slab_t, pool_link));
            released = true;
        }
    }
    return released;
}

bool heap_trim(void) {
    bool released = false;
    hak_heap_t *h = hak_tls_heap;
    // Depots first: the blocks they send back are collected by the passes below.
    if (heap_flush_depots(true)) released = true;
    if (heap_collect_idle(true)) released = true;
    if (h != &hak_heap_empty) {
        heap_enter(h);
        if (heap_release_slabs(h, false)) released = true;
        heap_leave(h);
        if (heap_grow_purge(h, true)) released = true;
    }
    if (heap_reclaim_abandoned(true)) released = true;
    if (heap_release_idle_spares(true)) released = true;
    if (heap_expire_segments(true)) released = true;
    if (heap_purge_dirty_slots(true)) released = true;
    return released;
}

// ---- process -----------------------------------------------------------------------------------

void heap_fork_prepare(void) {
    hak_lock(&heaps_lock);
    heap_grow_fork_prepare();
    for (unsigned c = 0; c < DEPOT_CLASSES; c++) batch_depot_lock(&depots[c]);
#if HAK_LRU
    lru_lock(&segment_lru);
#endif
    for (unsigned k = 0; k < SEG_KINDS; k++) shared_pool_lock(&hak_pools[k]);
}
void heap_fork_parent(void) {
    for (unsigned k = 0; k < SEG_KINDS; k++) shared_pool_unlock(&hak_pools[k]);
#if HAK_LRU
    lru_unlock(&segment_lru);
#endif
    for (unsigned c = 0; c < DEPOT_CLASSES; c++) batch_depot_unlock(&depots[c]);
    heap_grow_fork_parent();
    hak_unlock(&heaps_lock);
}
void heap_fork_child(void) {
    for (unsigned k = 0; k < SEG_KINDS; k++) shared_pool_reset_lock(&hak_pools[k]);
#if HAK_LRU
    lru_reset_lock(&segment_lru);
#endif
    for (unsigned c = 0; c < DEPOT_CLASSES; c++) batch_depot_reset_lock(&depots[c]);
    heap_grow_fork_child();
    hak_lock_reset(&heaps_lock);
}

#if HAK_HARDENED
HAK_INTERNAL uintptr_t hak_freed_mark;

// Random per process (the kernel's 16 bytes for it, stirred so as not to equal the stack
// canary), never 0 (a handed-out block's mark word).
static void freed_mark_init(void) {
    uint64_t r;
    memcpy(&r, (const void *)getauxval(AT_RANDOM), sizeof r);
    hak_freed_mark = (uintptr_t)((r ^ 0x9e3779b97f4a7c15u) * 0xbf58476d1ce4e5b9u) | 1;
}
#endif

static _Atomic int init_done;
static hak_lock_t init_lock = HAK_LOCK_INIT;

void hak_init(void) {
    // acquire: pairs with the release below; whoever sees 1 sees the options and hooks in place.
    if (atomic_load_explicit(&init_done, memory_order_acquire)) return;
    hak_lock(&init_lock);
    if (!atomic_load_explicit(&init_done, memory_order_relaxed)) {
        hak_options_load();
#if HAK_HARDENED
        freed_mark_init();
#endif
#if HAK_LRU
        long decay = hak_options.purge_delay_ms;
        lru_init(&segment_lru, (size_t)hak_options.lru_max_segments,
                 (size_t)hak_options.lru_max_mb * HAK_MiB, decay < 0 ? UINT64_MAX : (uint64_t)decay);
#endif
        for (unsigned c = 0; c < DEPOT_CLASSES; c++) {
            uint32_t batch_bytes = size_class_batch(c) * hak_class_size[c];
            batch_depot_init(&depots[c], (uint32_t)(DEPOT_BYTES / batch_bytes));
        }
        if (!hak_thread_exit_hook_install(heap_on_thread_exit))
            hak_log("no thread-exit hook: caches of exiting threads stay with their slabs");
        atomic_store_explicit(&init_done, 1, memory_order_release);
    }
    hak_unlock(&init_lock);
}

// ---- statistics --------------------------------------------------------------------------------

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

// Usable bytes of a slot (one that overlaps the header starts after it).
static uint64_t slot_bytes(hak_segment_t *seg, unsigned slot) {
    char *start, *end;
    segment_slot_range(seg, slot, &start, &end);
    return (uint64_t)(end - start);
}

// Bytes of a class's spare slab (0: none). Only the segment header is read: the slab's own fields
// are its owner's, and the slot follows from the slab's address.
static uint64_t spare_slab_bytes(heap_bin_t *bin) {
    // acquire: pairs with the owner's release in slab_retire (orders the header read after the
    // segment's making, in whatever thread made it).
    hak_slab_t *s = atomic_load_explicit(&bin->spare, memory_order_acquire);
    if (s == NULL) return 0;
    hak_segment_t *seg = slab_segment(s);
    return slot_bytes(seg, (unsigned)(s - segment_slab(seg, 0)));
}

// Upper bound of the resident bytes of every slab segment: its header, always (segment_purge keeps
// it), and each slot claimed or dirty (segment_purge clears `dirty`: a purged empty segment counts
// its header only; one being purged counts whole meanwhile). Segments are never unlinked, so the
// scan needs no lock.
static uint64_t segments_committed_bytes(void) {
    uint64_t bytes = 0;
    for (unsigned kind = 0; kind < SEG_KINDS; kind++) {
        // acquire: pairs with the release that published each segment.
        sp_segment_t *sp = atomic_load_explicit(&hak_pools[kind].segments, memory_order_acquire);
        for (; sp != NULL; sp = sp->next) {
            hak_segment_t *seg = container_of(sp, hak_segment_t, pool);
            uint32_t slots = ~atomic_load_explicit(&sp->free_mask, memory_order_relaxed) |
                             atomic_load_explicit(&seg->dirty, memory_order_relaxed);
            bytes += HAK_SEG_HEADER_SIZE;
            for (slots &= sp->all_mask; slots != 0; slots &= slots - 1)
                bytes += slot_bytes(seg, (unsigned)__builtin_ctz(slots));
        }
    }
    return bytes;
}

void heap_stats_sum(heap_stats_t *out) {
    *out = (heap_stats_t){0};
    hak_lock(&heaps_lock);
    for (hak_heap_t *h = all_heaps; h != NULL; h = h->next_all) {
        out->heaps++;
        out->heaps_live += h->live;
        for (unsigned c = 0; c < HAK_NCLASSES; c++) {
            unsigned f = size_class_frontend(c);
            const heap_class_stats_t *st = &h->stats[c];
            uint64_t allocs = LOAD(h->cache[c].allocs), refilled = LOAD(st->refilled_blocks);
            uint64_t drained = LOAD(st->drained_blocks), cached = tc_count(&h->cache[c].tc);
            out->allocs[f] += allocs;
            // Every block that entered the cache was refilled or freed by the owner; every block
            // that left it was allocated or drained.
            out->frees[f] += cached + allocs + drained - refilled;
            out->remote_frees[f] += LOAD(st->remote_frees);
            out->refills[f] += LOAD(st->refills);
            out->drains[f] += LOAD(st->drains);
            out->refilled_blocks += refilled;
            out->drained_blocks += drained;
            out->remote_collected += LOAD(st->remote_collected);
            out->bound_grows += LOAD(st->bound_grows);
            out->bound_resets += LOAD(st->bound_resets);
            out->thread_cache_bytes += cached * hak_class_size[c];
            out->spare_slab_bytes += spare_slab_bytes(&h->bins[c]);
        }
    }
    hak_unlock(&heaps_lock);
    out->committed_bytes = segments_committed_bytes();
    // Frees by threads without a heap went to remote queues without passing through a cache.
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        uint64_t heapless = atomic_load_explicit(&heapless_remote_frees[c], memory_order_relaxed);
        out->remote_frees[size_class_frontend(c)] += heapless;
        out->frees[size_class_frontend(c)] += heapless;
    }
#if HAK_LRU
    out->lru_inserted = atomic_load_explicit(&segment_lru.stats.inserted, memory_order_relaxed);
    out->lru_hits = atomic_load_explicit(&segment_lru.stats.hits, memory_order_relaxed);
    out->lru_evicted = atomic_load_explicit(&segment_lru.stats.evicted, memory_order_relaxed);
    out->lru_expired = atomic_load_explicit(&segment_lru.stats.expired, memory_order_relaxed);
#endif
    for (unsigned f = 0; f < FRONTENDS; f++) out->remote_pushes += out->remote_frees[f];
    out->idle_collections = atomic_load_explicit(&idle_collections, memory_order_relaxed);
    for (unsigned c = 0; c < DEPOT_CLASSES; c++) {
        batch_depot_t *d = &depots[c];
        out->depot_bytes += (uint64_t)batch_depot_blocks(d) * hak_class_size[c];
        out->depot_puts += atomic_load_explicit(&d->stats.puts, memory_order_relaxed);
        out->depot_takes += atomic_load_explicit(&d->stats.takes, memory_order_relaxed);
        out->depot_refused += atomic_load_explicit(&d->stats.refused, memory_order_relaxed);
        out->depot_flushed += atomic_load_explicit(&d->stats.flushed, memory_order_relaxed);
    }
}
