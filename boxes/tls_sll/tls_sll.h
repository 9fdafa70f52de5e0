// tls_sll: a thread's cache of free blocks of one size class, as a bounded singly linked list.
//
// The list lives in the owning thread's heap and is touched by that thread only, so push and pop
// are plain loads and stores. It is bounded by `cap`: a push that reaches the bound tells the
// caller to drain blocks back to their slabs, so blocks never pile up where the slab accounting
// cannot see them becoming free.
#ifndef HAK_TLS_SLL_H
#define HAK_TLS_SLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *head;     // most recently freed block; its first word links to the next
    uint32_t count; // blocks in the list
    uint32_t cap;   // bound: push reports "full" when count reaches it
} tls_sll_t;

static inline void tls_sll_init(tls_sll_t *l, uint32_t cap) {
    l->head = NULL;
    l->count = 0;
    l->cap = cap;
}

// Pop one block, or NULL when the list is empty.
static inline __attribute__((always_inline)) void *tls_sll_pop(tls_sll_t *l) {
    void *b = l->head;
    if (__builtin_expect(b != NULL, 1)) {
        void *next = *(void **)b;
        l->head = next;
        l->count--;
        // The next pop reads `next`'s first word: a block another thread freed, or one a refill
        // brought, is rarely in this core's cache, and the load would stall that pop (ring of 4
        // threads, 90% freed by the next one: 1.25x). Prefetching NULL is harmless.
        __builtin_prefetch(next);
    }
    return b;
}

// Push one block. Returns true when the list has reached its bound and should be drained.
static inline __attribute__((always_inline)) bool tls_sll_push(tls_sll_t *l, void *b) {
    *(void **)b = l->head;
    l->head = b;
    return ++l->count >= l->cap;
}

// Put a chain of n blocks (first..last, linked) in front of the list.
static inline void tls_sll_push_chain(tls_sll_t *l, void *first, void *last, uint32_t n) {
    *(void **)last = l->head;
    l->head = first;
    l->count += n;
}

// Detach up to n blocks from the front as a NULL-terminated chain first..last; returns its length
// (0: first and last are NULL). Reads the links it walks, writes only last's.
uint32_t tls_sll_pop_chain(tls_sll_t *l, uint32_t n, void **first, void **last);

#endif
