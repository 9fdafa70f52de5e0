#include "remote_free.h"

// Set when blocks went back to an abandoned slab: the purger then looks for abandoned slabs that
// have become empty.
static _Atomic bool abandoned_freed;

void remote_push(hak_slab_t *s, unsigned cls, void *first, void *last, uint32_t n) {
    // Read before the push: once the blocks are in the queue the owner may collect them, empty
    // the slab and hand it to another class. A stale owner only gets a spurious hint (heaps are
    // never unmapped).
    // acquire: pairs with the release that made the owner (the heap's making happens before the
    // hint written into it below).
    hak_heap_t *owner = atomic_load_explicit(&s->owner, memory_order_acquire);
    bool was_empty = remote_queue_push_chain(&s->remote, first, last, n);
    // The owner may have exited between the read and the push, abandoning the slab after its last
    // collection: look again. The fence pairs with the abandoning thread's fence between its store
    // of NULL and its look at the queue (remote_note_abandoned): one of the two sees the other's
    // write, so a slab is never left abandoned with blocks nobody announced. (relaxed load: the
    // fence orders it.)
    if (owner != NULL) {
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&s->owner, memory_order_relaxed) == NULL) owner = NULL;
    }
    // release (both): whoever acquires the hint or the flag then sees the pushed blocks.
    if (owner == NULL) atomic_store_explicit(&abandoned_freed, true, memory_order_release);
    else if (was_empty) atomic_store_explicit(&owner->remote_hint[cls], 1, memory_order_release);
}

void remote_note_abandoned(hak_slab_t *s) {
    // The fence: a push that raced with the last collection is seen here, or sees the owner's NULL
    // (remote_push has the other fence).
    atomic_thread_fence(memory_order_seq_cst);
    if (!remote_queue_is_empty(&s->remote))
        atomic_store_explicit(&abandoned_freed, true, memory_order_release);
}

bool remote_abandoned_freed(void) {
    // acquire: pairs with remote_push's release, so the pushed blocks are seen by the collection.
    return atomic_exchange_explicit(&abandoned_freed, false, memory_order_acquire);
}

// Blocks of other heaps' slabs on their way back, gathered into one chain per slab so that each
// slab's remote queue takes one CAS per drain, not one per block.
#define REMOTE_RUNS 8
typedef struct {
    struct {
        hak_slab_t *slab;
        void *first, *last;
        uint32_t n;
    } run[REMOTE_RUNS];
    unsigned n;
    uint32_t pushes;
} remote_batch_t;

static void remote_batch_flush(remote_batch_t *rb, unsigned cls) {
    for (unsigned i = 0; i < rb->n; i++)
        remote_push(rb->run[i].slab, cls, rb->run[i].first, rb->run[i].last, rb->run[i].n);
    rb->pushes += rb->n;
    rb->n = 0;
}

static void remote_batch_add(remote_batch_t *rb, unsigned cls, hak_slab_t *s, void *b) {
    for (unsigned i = 0; i < rb->n; i++) {
        if (rb->run[i].slab == s) {
            *(void **)b = rb->run[i].first;
            rb->run[i].first = b;
            rb->run[i].n++;
            return;
        }
    }
    if (rb->n == REMOTE_RUNS) remote_batch_flush(rb, cls);
    rb->run[rb->n].slab = s;
    rb->run[rb->n].first = rb->run[rb->n].last = b;
    rb->run[rb->n].n = 1;
    rb->n++;
}

static uint32_t return_chain(unsigned cls, void *chain, uint32_t *pushes) {
    remote_batch_t rb;
    rb.n = 0;
    rb.pushes = 0;
    uint32_t n = 0;
    for (void *b = chain, *next; b != NULL; b = next, n++) {
        next = *(void **)b;
        remote_batch_add(&rb, cls, slab_of_block(b), b);
    }
    remote_batch_flush(&rb, cls);
    *pushes = rb.pushes;
    return n;
}

uint32_t remote_return_chain(unsigned cls, void *chain) {
    uint32_t pushes;
    return return_chain(cls, chain, &pushes);
}

void heap_remote_return_chain(hak_heap_t *h, unsigned cls, void *chain) {
    uint32_t pushes, n = return_chain(cls, chain, &pushes);
    hak_count_owned(&h->stats[cls].remote_blocks, n);
    hak_count_owned(&h->stats[cls].remote_pushes, pushes);
}
