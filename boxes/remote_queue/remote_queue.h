// remote_queue: a lock-free multi-producer, single-consumer queue of memory blocks.
//
// Any thread pushes a block (its first word becomes the link); the one owner takes the whole chain
// at once. Taking everything with one exchange means the consumer never pops a single node, so
// the queue has no ABA problem and needs no tags or hazard pointers. The order is LIFO.
//
// Cost: push is one CAS loop on a shared word (the cache line moves to the producer); take_all is
// one exchange. A chain of blocks going to the same queue can be pushed with one CAS
// (remote_queue_push_chain).
#ifndef HAK_REMOTE_QUEUE_H
#define HAK_REMOTE_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    _Atomic(void *) head;
} remote_queue_t;

static inline void remote_queue_init(remote_queue_t *q) {
    atomic_store_explicit(&q->head, NULL, memory_order_relaxed);
}

// Push the chain first..last (linked through their first words; last's link is overwritten).
// Returns true if the queue was empty before, so the caller can tell the owner once.
static inline bool remote_queue_push_chain(remote_queue_t *q, void *first, void *last) {
    void *old = atomic_load_explicit(&q->head, memory_order_relaxed);
    do {
        *(void **)last = old;
        // release: the consumer that takes this chain must see the links and whatever the
        // producer wrote into the blocks before handing them over.
    } while (!atomic_compare_exchange_weak_explicit(&q->head, &old, first, memory_order_release,
                                                    memory_order_relaxed));
    return old == NULL;
}

static inline bool remote_queue_push(remote_queue_t *q, void *block) {
    return remote_queue_push_chain(q, block, block);
}

// Take every block pushed so far, as a NULL-terminated chain (newest first). Owner only.
static inline void *remote_queue_take_all(remote_queue_t *q) {
    // Cheap check first: an exchange on an empty queue would still steal the cache line.
    if (atomic_load_explicit(&q->head, memory_order_relaxed) == NULL) return NULL;
    // acquire: pairs with the producers' release so the chain's links are visible.
    return atomic_exchange_explicit(&q->head, NULL, memory_order_acquire);
}

static inline bool remote_queue_is_empty(remote_queue_t *q) {
    return atomic_load_explicit(&q->head, memory_order_relaxed) == NULL;
}

// Number of blocks in a chain returned by remote_queue_take_all, and its last block.
size_t remote_queue_chain_length(void *chain, void **last);

#endif
