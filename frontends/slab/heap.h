// heap: a thread's slab allocator for the tiny, mid and large size ranges, and its fast paths.
//
// Glossary
//   heap    one per thread that allocates; holds the thread's caches and the slabs it owns
//           (heaps.h: made, reused, left at thread exit)
//   cache   per class, the thread cache box the preset chose (thread_cache.h) holding free blocks
//           of any heap's slabs (bounded: cache_bounds.h; filled: refill.c; emptied: drain.h)
//   bin     per class, the slabs this heap owns: `cur` (refills come from it), `partial` (have
//           free or uncarved blocks), `full` (nothing left but blocks other threads may free),
//           `spare` (one empty slab kept back, tiny and mid classes only) (bins.h, slab.h)
//
// A freed block goes to the freeing thread's cache, whichever heap owns its slab: a free costs no
// atomic, and a thread that frees blocks another thread allocated (a server handing requests
// between threads) reuses them at once. When a cache overflows (or is drained on a tick, at thread
// exit, at malloc_trim) its blocks go back to their slabs: to the heap's own slabs directly, to
// other heaps' slabs through the slab's remote_queue (remote_free.h), or as a whole batch to a
// depot (depots.h). A slab whose blocks are all back is seen empty and goes back to its segment
// (backends/segment/segments.h). Idle memory returns by maintenance.h's passes.
#ifndef HAK_HEAP_H
#define HAK_HEAP_H

#include "segment.h"
#include "size_class.h"
#include "thread_cache.h"

typedef struct {
    tc_t tc;
    // Allocations of the class left until the next sampled one (sample.h), the fast path's only
    // counter: the class's allocations are sample_base - until_sample. Profiling off, a count
    // no program reaches.
    uint64_t until_sample;
    // Blocks the next refill takes: a fresh heap starts small and doubles on each refill up to
    // size_class_batch, so a short-lived thread does not carve (and drain at exit) full batches
    // of classes it uses a few times. 0: not refilled yet.
    uint32_t refill_batch;
    uint8_t bound_batches; // the cache's bound in batches (cache_bounds.c); 0: the base
    bool drained;          // the class drained since its last refill
    bool emptying;         // the thread only frees the class: its bound is lowered (cache_bounds.c)
} heap_cache_t;
_Static_assert(sizeof(heap_cache_t) == HAK_CLASS_ENTRY_SIZE, "size_class.h's entry offsets");

typedef struct {
    hak_slab_t *cur, *partial, *full;
    // A class whose live blocks swing up and down would otherwise release a slab to the shared
    // pool and claim one back (formatting it, faulting its pages in again once purged) on every
    // swing. Only the owner sets it; the owner and the purger take it with an exchange, so a
    // spare left for HAKMEM_PURGE_DELAY_MS by a thread gone idle goes back to the pool.
    _Atomic(hak_slab_t *) spare;
    _Atomic uint64_t spare_since_ms; // when it became the spare (a hint for the purger)
} heap_bin_t;

// Per class, counted by the heap's owner only.
#define HEAP_COUNTERS(X)                                                                           \
    X(refills, "refills of the thread cache")                                                      \
    X(refilled_blocks, "blocks the refills brought")                                               \
    X(drains, "drains of the thread cache (overflow, idle tick)")                                  \
    X(drained_blocks, "blocks drained: to the heap's slabs, a depot or other heaps' slabs")        \
    X(remote_pushes, "chains pushed to other heaps' slabs' remote queues")                         \
    X(remote_blocks, "blocks in those chains")                                                     \
    X(remote_collected, "blocks other threads pushed to this heap's slabs, collected")             \
    X(bound_grows, "times the cache's bound grew by a batch")                                      \
    X(bound_resets, "times a grown bound went back to the base")
typedef struct {
    HEAP_COUNTERS(HAK_COUNTER_FIELD)
} heap_counters_t;

typedef struct hak_heap {
    heap_cache_t cache[HAK_NCLASSES];
    heap_bin_t bins[HAK_NCLASSES];
    // Set by a thread whose remote free made one of this heap's slabs of that class non-empty;
    // the owner then looks for remote frees in its full slabs.
    _Atomic uint8_t remote_hint[HAK_NCLASSES];
    heap_counters_t stats[HAK_NCLASSES];
    struct hak_heap *next_all; // every heap ever made, for statistics
    struct hak_heap *next_free;
    // Periodic tick (owner only): when it last ran, and each class's allocation count then.
    uint64_t tick_ms;
    uint32_t tick_skip; // slow paths since the clock was last read
    uint64_t tick_allocs[HAK_NCLASSES];
    uint64_t sample_base[HAK_NCLASSES]; // see heap_cache_t.until_sample
    uint64_t sample_rng;                // the random state of the gaps between samples
    bool live;
    _Atomic uint32_t maint;           // who works on the slabs now: nobody, the owner or the purger
    _Atomic uint64_t slow_paths;      // the owner's slow paths so far (heap_leave counts them)
    uint64_t purger_seen_slow_paths;  // the purger's: slow_paths at its last pass
    size_t
        bound_extra_bytes; // what the caches' bounds grew by, in bytes of blocks (cache_bounds.c)
    // Drains since the last refill, not counting blocks bound for another live heap
    // (cache_bounds.c): the bytes of their batches, the blocks of those of its second half and
    // the heap's allocations when that began, and whether the run has emptied the caches.
    struct {
        size_t bytes;
        uint64_t blocks, allocs_at_start;
        bool emptying;
    } drain_run;
    struct grow_region *grow;  // where realloc grows blocks in place (grow.h); NULL until needed
    uint64_t grow_tick_placed; // its count of placed blocks at the last tick
} hak_heap_t;

// The calling thread's heap. Threads start on hak_heap_empty, whose caches are empty and which
// owns no slab, so the fast paths need no "initialised?" test: they fall into the slow path.
extern HAK_INTERNAL __thread hak_heap_t *hak_tls_heap;
extern HAK_INTERNAL hak_heap_t hak_heap_empty;

void *heap_alloc_slow(heap_cache_t *c);
// The allocation that brought its class's until_sample to 0 (sample.c): b is the block it popped
// (its slab says the class: no register holds the class or the cache entry for this call).
__attribute__((returns_nonnull)) void *heap_sampled(void *b);
void heap_drain(hak_heap_t *h, unsigned cls);
void heap_free_slow(hak_slab_t *s, void *p);

// Double frees (the hardened variant): a freed block carries a secret mark in its second word
// (the first links it into free lists; every block has 16 bytes or more) until it is handed out
// again, which wipes the mark. A free that finds the mark is a second free of the block, wherever
// the first left it: in any thread's cache, a depot, a remote queue or its slab's free list. Two
// threads freeing one block at the same instant may both pass.
extern HAK_INTERNAL uintptr_t hak_freed_mark;
#if HAK_HARDENED
// Random per process (the kernel's bits for it, stirred so as not to equal the stack canary),
// never 0 (a handed-out block's mark word).
HAK_INLINE void heap_mark_init(void) {
    hak_freed_mark =
        (uintptr_t)((hak_os_random_seed() ^ 0x9e3779b97f4a7c15u) * 0xbf58476d1ce4e5b9u) | 1;
}
HAK_INLINE void heap_check_unmarked(void *p, const char *caller) {
    if (HAK_UNLIKELY(((uintptr_t *)p)[1] == hak_freed_mark))
        hak_fatal("%s(): double free %p", caller, p);
}
HAK_INLINE void heap_mark_freed(void *p) {
    heap_check_unmarked(p, "free");
    ((uintptr_t *)p)[1] = hak_freed_mark;
}
HAK_INLINE void heap_unmark(void *b) { ((uintptr_t *)b)[1] = 0; }
#else
HAK_INLINE void heap_mark_init(void) {}
HAK_INLINE void heap_check_unmarked(void *p, const char *caller) { (void)p, (void)caller; }
HAK_INLINE void heap_mark_freed(void *p) { (void)p; }
HAK_INLINE void heap_unmark(void *b) { (void)b; }
#endif

// Aborts if p, a block of slab s, is the block this thread freed last in its class (the front of
// its cache): caller() is called on a block already freed. Every preset, at the cost of a compare.
HAK_INLINE void heap_check_not_just_freed(const hak_slab_t *s, void *p, const char *caller) {
    if (HAK_UNLIKELY(tc_peek(&hak_tls_heap->cache[s->cls].tc) == p))
        hak_fatal("%s(): double free %p", caller, p);
}

// The calling thread's cache entry of a class, by class or by the entry's offset (size_class.h).
HAK_INLINE heap_cache_t *heap_cache_of(unsigned cls) {
    return hak_tls_heap->cache + (size_t)cls; // size_t: one address computation, not two
}
HAK_INLINE heap_cache_t *heap_cache_at(size_t entry_offset) {
    return (heap_cache_t *)((char *)hak_tls_heap->cache + entry_offset);
}

// A block from a cache entry of the thread's, or NULL when it is empty (no slow path, errno
// untouched).
HAK_INLINE void *heap_alloc_cached_from(heap_cache_t *c) {
    void *b = tc_pop(&c->tc);
    if (HAK_LIKELY(b != NULL)) {
        if (HAK_UNLIKELY(--c->until_sample == 0)) return heap_sampled(b);
        heap_unmark(b);
    }
    return b;
}
HAK_INLINE void *heap_alloc_cached(unsigned cls) { return heap_alloc_cached_from(heap_cache_of(cls)); }

// The slow paths take the cache entry, not the class: the class's index is then not kept in a
// register of its own across the fast path.
HAK_INLINE void *heap_alloc_from(heap_cache_t *c) {
    void *b = heap_alloc_cached_from(c);
    return HAK_LIKELY(b != NULL) ? b : heap_alloc_slow(c);
}
HAK_INLINE void *heap_alloc(unsigned cls) { return heap_alloc_from(heap_cache_of(cls)); }

// Free a block of a slab segment (the segmap said so, and gave its slot shift). A thread that
// never allocated has no cache (the shared empty heap's must not be written): its frees take the
// slow path, as do frees into a full cache (they drain it), and a free of the block at the front
// of the cache: the block this thread freed last, freed again (free(p); free(p)), which would
// otherwise be in the cache twice and handed out twice (heap_free_slow aborts; the tls_sll cache
// only, see TC_FRONT_IS_CHEAP).
HAK_INLINE void heap_free(hak_segment_t *seg, void *p, unsigned slot_shift) {
    hak_slab_t *s = segment_slab_at(seg, p, slot_shift);
    hak_heap_t *h = hak_tls_heap;
    tc_t *c = &h->cache[s->cls].tc;
    // The empty heap's caches have no room (bound 0), so one test covers "full" and "no heap".
    if (HAK_LIKELY(slab_is_block(s, p) && tc_has_room(c) && !(TC_FRONT_IS_CHEAP && tc_peek(c) == p))) {
        heap_mark_freed(p);
        (void)tc_push(c, p);
        return;
    }
    heap_free_slow(s, p);
}

// Process start-up, once, before the first heap or huge block: options, the boxes' bounds, the
// thread-exit hook, the locks fork must not split (startup.c).
void hak_init(void);

#endif
