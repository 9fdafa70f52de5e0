#include "box_kernels.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "remote_queue.h"
#include "tls_sll.h"
#include "unified_cache.h"

// ---- tls_sll -------------------------------------------------------------------------------

struct kern_sll {
    tls_sll_t list;
    size_t nblocks;
    char *blocks; // nblocks x 16 bytes
};

kern_sll_t *kern_sll_new(uint32_t cap, size_t nblocks) {
    kern_sll_t *k = calloc(1, sizeof *k);
    if (k == NULL) return NULL;
    k->blocks = aligned_alloc(64, (nblocks * 16 + 63) & ~(size_t)63);
    if (k->blocks == NULL) {
        free(k);
        return NULL;
    }
    memset(k->blocks, 0, nblocks * 16);
    k->nblocks = nblocks;
    tls_sll_init(&k->list, cap);
    return k;
}

void kern_sll_delete(kern_sll_t *k) {
    free(k->blocks);
    free(k);
}

uintptr_t kern_sll_push_n_pop_n(kern_sll_t *k, uint32_t n) {
    uintptr_t sum = 0;
    unsigned full = 0;
    for (uint32_t i = 0; i < n; i++)
        full += tls_sll_push(&k->list, k->blocks + (size_t)i * 16);
    for (uint32_t i = 0; i < n; i++)
        sum += (uintptr_t)tls_sll_pop(&k->list);
    return sum + full;
}

uintptr_t kern_sll_pairs(kern_sll_t *k, uint32_t n) {
    uintptr_t sum = 0;
    void *b = k->blocks;
    for (uint32_t i = 0; i < n; i++) {
        sum += tls_sll_push(&k->list, b);
        b = tls_sll_pop(&k->list);
        __asm__ volatile("" : "+r"(b) : : "memory"); // keep each pair a real push and pop
    }
    return sum + (uintptr_t)b;
}

uint32_t kern_sll_chains(kern_sll_t *k, uint32_t n, uint32_t batch) {
    for (uint32_t i = 0; i < n; i++)
        tls_sll_push(&k->list, k->blocks + (size_t)i * 16);
    uint32_t moved = 0;
    for (uint32_t done = 0; done < n; done += batch) {
        // Take a batch off (as a drain into the depot does) and put it back.
        void *chain, *last;
        uint32_t got = tls_sll_pop_chain(&k->list, batch, &chain, &last);
        tls_sll_push_chain(&k->list, chain, last, got);
        moved += got;
    }
    void *rest, *rest_last; // empty the list for the next run
    tls_sll_pop_chain(&k->list, UINT32_MAX, &rest, &rest_last);
    return moved;
}

// ---- thread caches side by side: tls_sll vs unified_cache ---------------------------------

struct kern_tc {
    tls_sll_t sll;
    unified_cache_t uc;
    uint32_t batch;
    size_t nbatches, stride, next; // next: the batch the next refill takes
    char *mem;                     // nbatches x batch x stride bytes
};

static void kern_tc_link(char *first, uint32_t n, size_t stride) {
    for (uint32_t i = 0; i + 1 < n; i++)
        *(void **)(first + i * stride) = first + (i + 1) * stride;
    *(void **)(first + (size_t)(n - 1) * stride) = NULL;
}

kern_tc_t *kern_tc_new(uint32_t batch, size_t nbatches, size_t stride) {
    if (batch == 0 || batch > UNIFIED_CACHE_MAX || nbatches == 0 || stride < sizeof(void *))
        return NULL;
    kern_tc_t *k = calloc(1, sizeof *k);
    if (k == NULL) return NULL;
    size_t bytes = ((size_t)batch * nbatches * stride + 4095) & ~(size_t)4095;
    k->mem = aligned_alloc(4096, bytes);
    if (k->mem == NULL) {
        free(k);
        return NULL;
    }
    memset(k->mem, 0, bytes);
    k->batch = batch;
    k->nbatches = nbatches;
    k->stride = stride;
    for (size_t i = 0; i < nbatches; i++)
        kern_tc_link(k->mem + i * batch * stride, batch, stride);
    tls_sll_init(&k->sll, batch + 1);
    unified_cache_init(&k->uc, batch < UNIFIED_CACHE_MAX ? batch + 1 : batch);
    return k;
}

void kern_tc_delete(kern_tc_t *k) {
    free(k->mem);
    free(k);
}

static char *kern_tc_next_batch(kern_tc_t *k) {
    char *first = k->mem + k->next * k->batch * k->stride;
    if (++k->next == k->nbatches) k->next = 0;
    return first;
}

// The slow path of a pair's malloc (never taken: the pop follows a push). Having one, as malloc
// does, lets the compiler branch on an empty cache instead of merging the NULL into the result.
__attribute__((noinline)) static void *kern_tc_miss(kern_tc_t *k) {
    return k->mem;
}

uintptr_t kern_tc_sll_pairs(kern_tc_t *k, uint32_t n) {
    uintptr_t sum = 0;
    void *b = k->mem;
    for (uint32_t i = 0; i < n; i++) {
        sum += tls_sll_push(&k->sll, b);
        b = tls_sll_pop(&k->sll);
        if (__builtin_expect(b == NULL, 0)) b = kern_tc_miss(k); // as malloc's fast path
        __asm__ volatile("" : "+r"(b) : : "memory"); // keep each pair a real push and pop
    }
    *(void **)k->mem = k->mem + k->stride; // restore the chain link the pushes overwrote
    return sum + (uintptr_t)b;
}

uintptr_t kern_tc_uc_pairs(kern_tc_t *k, uint32_t n) {
    uintptr_t sum = 0;
    void *b = k->mem;
    for (uint32_t i = 0; i < n; i++) {
        sum += unified_cache_push(&k->uc, b);
        b = unified_cache_pop(&k->uc);
        if (__builtin_expect(b == NULL, 0)) b = kern_tc_miss(k);
        __asm__ volatile("" : "+r"(b) : : "memory");
    }
    return sum + (uintptr_t)b;
}

// tls_sll_push_chain writes last's link (to the list's head, NULL when empty): the chains stay
// NULL-terminated, so every round sees the same memory as the first.
uintptr_t kern_tc_sll_refill_chain(kern_tc_t *k, uint32_t rounds) {
    uintptr_t sum = 0;
    const uint32_t batch = k->batch;
    for (uint32_t r = 0; r < rounds; r++) {
        char *first = kern_tc_next_batch(k);
        tls_sll_push_chain(&k->sll, first, first + (size_t)(batch - 1) * k->stride, batch);
        for (uint32_t i = 0; i < batch; i++)
            sum += (uintptr_t)tls_sll_pop(&k->sll);
    }
    return sum;
}

uintptr_t kern_tc_uc_refill_chain(kern_tc_t *k, uint32_t rounds) {
    uintptr_t sum = 0;
    const uint32_t batch = k->batch;
    for (uint32_t r = 0; r < rounds; r++) {
        char *first = kern_tc_next_batch(k);
        unified_cache_push_chain(&k->uc, first, first + (size_t)(batch - 1) * k->stride, batch);
        for (uint32_t i = 0; i < batch; i++)
            sum += (uintptr_t)unified_cache_pop(&k->uc);
    }
    return sum;
}

uintptr_t kern_tc_sll_refill_carve(kern_tc_t *k, uint32_t rounds) {
    uintptr_t sum = 0;
    const uint32_t batch = k->batch;
    for (uint32_t r = 0; r < rounds; r++) {
        char *first = kern_tc_next_batch(k);
        kern_tc_link(first, batch, k->stride); // carving for a linked list writes every block
        tls_sll_push_chain(&k->sll, first, first + (size_t)(batch - 1) * k->stride, batch);
        for (uint32_t i = 0; i < batch; i++)
            sum += (uintptr_t)tls_sll_pop(&k->sll);
    }
    return sum;
}

uintptr_t kern_tc_uc_refill_carve(kern_tc_t *k, uint32_t rounds) {
    uintptr_t sum = 0;
    const uint32_t batch = k->batch;
    for (uint32_t r = 0; r < rounds; r++) {
        char *first = kern_tc_next_batch(k);
        unified_cache_push_range(&k->uc, first, k->stride, batch);
        for (uint32_t i = 0; i < batch; i++)
            sum += (uintptr_t)unified_cache_pop(&k->uc);
    }
    return sum;
}

uintptr_t kern_tc_sll_refill_carve_use(kern_tc_t *k, uint32_t rounds) {
    uintptr_t sum = 0;
    const uint32_t batch = k->batch;
    for (uint32_t r = 0; r < rounds; r++) {
        char *first = kern_tc_next_batch(k);
        kern_tc_link(first, batch, k->stride);
        tls_sll_push_chain(&k->sll, first, first + (size_t)(batch - 1) * k->stride, batch);
        for (uint32_t i = 0; i < batch; i++) {
            void **b = tls_sll_pop(&k->sll);
            *b = b; // the program's first write to its new block
            sum += (uintptr_t)b;
        }
    }
    return sum;
}

uintptr_t kern_tc_uc_refill_carve_use(kern_tc_t *k, uint32_t rounds) {
    uintptr_t sum = 0;
    const uint32_t batch = k->batch;
    for (uint32_t r = 0; r < rounds; r++) {
        char *first = kern_tc_next_batch(k);
        unified_cache_push_range(&k->uc, first, k->stride, batch);
        for (uint32_t i = 0; i < batch; i++) {
            void **b = unified_cache_pop(&k->uc);
            *b = b;
            sum += (uintptr_t)b;
        }
    }
    return sum;
}

// ---- remote_queue --------------------------------------------------------------------------

struct kern_rq {
    remote_queue_t q __attribute__((aligned(64)));
    char pad[64 - sizeof(remote_queue_t)];
};

kern_rq_t *kern_rq_new(void) {
    kern_rq_t *k = aligned_alloc(64, sizeof(kern_rq_t));
    if (k != NULL) remote_queue_init(&k->q);
    return k;
}

void kern_rq_delete(kern_rq_t *k) {
    free(k);
}

void *kern_rq_blocks_new(size_t n, size_t stride) {
    char *b = aligned_alloc(64, (n * stride + 63) & ~(size_t)63);
    if (b != NULL) memset(b, 0, n * stride);
    return b;
}

void kern_rq_blocks_delete(void *blocks) {
    free(blocks);
}

size_t kern_rq_produce(kern_rq_t *k, void *blocks, size_t n, size_t stride) {
    size_t empties = 0;
    char *b = blocks;
    for (size_t i = 0; i < n; i++)
        empties += remote_queue_push(&k->q, b + i * stride);
    return empties;
}

size_t kern_rq_consume(kern_rq_t *k, size_t expected) {
    size_t received = 0, takes = 0;
    unsigned idle = 0;
    while (received < expected) {
        void *chain = remote_queue_take_all(&k->q, NULL);
        if (chain == NULL) {
            if (++idle % 64 == 0) sched_yield(); // producers may outnumber the cores
            continue;
        }
        takes++;
        for (void *b = chain; b != NULL; b = *(void **)b)
            received++;
    }
    return takes;
}

size_t kern_rq_push_take(kern_rq_t *k, void *blocks, size_t n, size_t stride) {
    kern_rq_produce(k, blocks, n, stride);
    return remote_queue_chain_length(remote_queue_take_all(&k->q, NULL), NULL);
}
