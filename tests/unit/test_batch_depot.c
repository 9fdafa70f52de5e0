// Unit tests of the batch_depot box: bounded LIFO of batches, refused puts, take_all, counters, and
// threads passing batches through one depot with no block lost or duplicated (real threads).
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "batch_depot.h"

static uint64_t cnt(_Atomic uint64_t *c) { return atomic_load(c); }

// The depots' batches, kept apart from the depot (one test at a time uses them).
static depot_batch_t storage[BATCH_DEPOT_MAX];

// A chain of n blocks of blocks[] starting at index i (linked through their first words).
static void *chain(void **blocks, unsigned i, unsigned n, void **last) {
    for (unsigned k = 0; k + 1 < n; k++) blocks[i + k] = &blocks[i + k + 1];
    blocks[i + n - 1] = NULL;
    *last = &blocks[i + n - 1];
    return &blocks[i];
}

static unsigned chain_length(void *first) {
    unsigned n = 0;
    for (void *b = first; b != NULL; b = *(void **)b) n++;
    return n;
}

static void test_bounded_lifo(void **state) {
    (void)state;
    static batch_depot_t d;
    batch_depot_init(&d, 3, storage);
    void *blocks[64], *last;
    depot_batch_t out;
    assert_false(batch_depot_take(&d, &out));
    for (unsigned i = 0; i < 3; i++) {
        assert_true(batch_depot_has_room(&d));
        void *first = chain(blocks, i * 8, 8, &last);
        assert_true(batch_depot_put(&d, first, last, 8));
    }
    assert_false(batch_depot_has_room(&d));
    void *first = chain(blocks, 40, 4, &last);
    assert_false(batch_depot_put(&d, first, last, 4)); // full: refused, the batch stays ours
    assert_int_equal(batch_depot_blocks(&d), 24);
    assert_true(batch_depot_take(&d, &out));           // the last one put comes back first
    assert_ptr_equal(out.first, &blocks[16]);
    assert_ptr_equal(out.last, &blocks[23]);
    assert_int_equal(out.n, 8);
    assert_int_equal(chain_length(out.first), 8);
    assert_int_equal(batch_depot_blocks(&d), 16);
    depot_batch_t all[BATCH_DEPOT_MAX];
    assert_int_equal(batch_depot_take_all(&d, all), 2);
    assert_ptr_equal(all[0].first, &blocks[0]);
    assert_ptr_equal(all[1].first, &blocks[8]);
    assert_int_equal(batch_depot_blocks(&d), 0);
    assert_false(batch_depot_take(&d, &out));
    assert_int_equal(cnt(&d.stats.puts), 3);
    assert_int_equal(cnt(&d.stats.takes), 1);
    assert_int_equal(cnt(&d.stats.refused), 1);
    assert_int_equal(cnt(&d.stats.flushed), 2);
}

static void test_cap_is_bounded(void **state) {
    (void)state;
    static batch_depot_t d;
    batch_depot_init(&d, 100000, storage);
    assert_int_equal(d.cap, BATCH_DEPOT_MAX);
    batch_depot_init(&d, 0, storage); // a depot that refuses everything
    void *blocks[2], *last;
    void *first = chain(blocks, 0, 2, &last);
    assert_false(batch_depot_put(&d, first, last, 2));
}

// ---- threads pass batches around: every block comes out exactly once ------------------------------

#define THREADS 4
#define BLOCKS_PER_THREAD 512
#define BATCH 8
#define ROUNDS 20000

static batch_depot_t shared;
static void *pool[THREADS][BLOCKS_PER_THREAD];

typedef struct {
    unsigned id;
    void *held; // a chain of the blocks this thread holds
    unsigned held_n;
} worker_t;

static void *worker(void *arg) {
    worker_t *w = arg;
    unsigned seed = w->id * 7919u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) & 1 && w->held_n >= BATCH) {
            void *first = w->held, *last = first;
            for (unsigned k = 1; k < BATCH; k++) last = *(void **)last;
            void *rest = *(void **)last;
            *(void **)last = NULL;
            if (batch_depot_put(&shared, first, last, BATCH)) {
                w->held = rest;
                w->held_n -= BATCH;
            } else {
                *(void **)last = rest;
            }
        } else {
            depot_batch_t b;
            if (batch_depot_take(&shared, &b)) {
                if (chain_length(b.first) != b.n) abort();
                *(void **)b.last = w->held;
                w->held = b.first;
                w->held_n += b.n;
            }
        }
    }
    return NULL;
}

static void test_threads_lose_nothing(void **state) {
    (void)state;
    batch_depot_init(&shared, 16, storage);
    worker_t w[THREADS];
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        void *last;
        w[i] = (worker_t){.id = i, .held = chain(pool[i], 0, BLOCKS_PER_THREAD, &last),
                          .held_n = BLOCKS_PER_THREAD};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    // Every block is held by one thread or waits in the depot, once.
    static unsigned char seen[THREADS][BLOCKS_PER_THREAD];
    memset(seen, 0, sizeof seen);
    unsigned total = 0;
    depot_batch_t rest[BATCH_DEPOT_MAX];
    uint32_t n = batch_depot_take_all(&shared, rest);
    void *chains[THREADS + BATCH_DEPOT_MAX];
    unsigned nchains = 0;
    for (unsigned i = 0; i < THREADS; i++) chains[nchains++] = w[i].held;
    for (uint32_t i = 0; i < n; i++) chains[nchains++] = rest[i].first;
    for (unsigned c = 0; c < nchains; c++) {
        for (void **b = chains[c]; b != NULL; b = *b) {
            uintptr_t off = (uintptr_t)b - (uintptr_t)pool;
            assert_true(off < sizeof pool);
            unsigned idx = (unsigned)(off / sizeof(void *));
            assert_int_equal(seen[idx / BLOCKS_PER_THREAD][idx % BLOCKS_PER_THREAD]++, 0);
            total++;
        }
    }
    assert_int_equal(total, THREADS * BLOCKS_PER_THREAD);
    assert_true(cnt(&shared.stats.takes) > 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_lifo),
        cmocka_unit_test(test_cap_is_bounded),
        cmocka_unit_test(test_threads_lose_nothing),
    };
    return cmocka_run_group_tests_name("batch_depot", tests, NULL, NULL);
}
