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

// The head word holds the newest block's address in its low 48 bits (user addresses on x86-64
// and AArch64 Linux fit them) and, above, how many blocks the queue holds: the owner learns the
// length of what it takes without walking the chain (a walk over blocks other cores wrote, one
// cache miss each). The count is modulo 65,536 (more waiting at once leaves the addresses intact
// and only the count wrong): a slab's queue holds at most its capacity, a uint16_t.
#define REMOTE_QUEUE_COUNT_SHIFT 48
#define REMOTE_QUEUE_MAX 0xFFFFu
#define REMOTE_QUEUE_ADDR_MASK (((uintptr_t)1 << REMOTE_QUEUE_COUNT_SHIFT) - 1)

typedef struct {
    _Atomic uintptr_t head;
} remote_queue_t;

static inline void remote_queue_init(remote_queue_t *q) {
    atomic_store_explicit(&q->head, 0, memory_order_relaxed);
}

// Push the chain first..last of n blocks (linked through their first words; last's link is
// overwritten). Returns true if the queue was empty before, so the caller can tell the owner once.
static inline bool remote_queue_push_chain(remote_queue_t *q, void *first, void *last, uint32_t n) {
    uintptr_t old = atomic_load_explicit(&q->head, memory_order_relaxed), head;
    do {
        *(void **)last = (void *)(old & REMOTE_QUEUE_ADDR_MASK);
        head = (uintptr_t)first + (((old >> REMOTE_QUEUE_COUNT_SHIFT) + n) << REMOTE_QUEUE_COUNT_SHIFT);
        // release: the consumer that takes this chain must see the links and whatever the
        // producer wrote into the blocks before handing them over.
    } while (!atomic_compare_exchange_weak_explicit(&q->head, &old, head, memory_order_release,
                                                    memory_order_relaxed));
    return old == 0;
}

static inline bool remote_queue_push(remote_queue_t *q, void *block) {
    return remote_queue_push_chain(q, block, block, 1);
}

// Take every block pushed so far, as a NULL-terminated chain (newest first), and its length
// (into *n, if n is not NULL). Owner only.
static inline void *remote_queue_take_all(remote_queue_t *q, uint32_t *n) {
    uintptr_t head = 0;
    // Cheap check first: an exchange on an empty queue would still steal the cache line.
    // acquire (the exchange): pairs with the producers' release so the chain's links are visible.
    if (atomic_load_explicit(&q->head, memory_order_relaxed) != 0)
        head = atomic_exchange_explicit(&q->head, 0, memory_order_acquire);
    if (n != NULL) *n = (uint32_t)(head >> REMOTE_QUEUE_COUNT_SHIFT);
    return (void *)(head & REMOTE_QUEUE_ADDR_MASK);
}

static inline bool remote_queue_is_empty(remote_queue_t *q) {
    return atomic_load_explicit(&q->head, memory_order_relaxed) == 0;
}

// Number of blocks in a chain returned by remote_queue_take_all, and its last block.
size_t remote_queue_chain_length(void *chain, void **last);

#endif
