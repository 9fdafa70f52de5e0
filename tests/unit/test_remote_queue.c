// Unit tests of the remote_queue box: a lock-free MPSC queue of blocks, taken all at once.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "remote_queue.h"

// A block as a producer hands it over: the queue owns the first word, the rest is payload the
// consumer must see as written (the push publishes it with release order).
typedef struct {
    void *link;
    uint32_t id;
    uint32_t check; // ~id * golden ratio: detects a torn or stale payload
} block_t;

static uint32_t check_of(uint32_t id) {
    return ~id * 0x9E3779B9u;
}

static block_t small_blocks[64];

static void test_empty_take_all(void **state) {
    remote_queue_t q;
    remote_queue_init(&q);
    assert_true(remote_queue_is_empty(&q));
    assert_null(remote_queue_take_all(&q, NULL));
    assert_null(remote_queue_take_all(&q, NULL));
    assert_true(remote_queue_is_empty(&q));
}

static void test_push_reports_empty_transition(void **state) {
    remote_queue_t q;
    remote_queue_init(&q);
    assert_true(remote_queue_push(&q, &small_blocks[0])); // empty -> non-empty
    assert_false(remote_queue_is_empty(&q));
    assert_false(remote_queue_push(&q, &small_blocks[1])); // already non-empty
    assert_false(remote_queue_push(&q, &small_blocks[2]));
    void *chain = remote_queue_take_all(&q, NULL);
    assert_non_null(chain);
    assert_true(remote_queue_is_empty(&q));
    assert_null(remote_queue_take_all(&q, NULL));
    // After a take the queue is empty again, so the next push reports the transition again.
    assert_true(remote_queue_push(&q, &small_blocks[3]));
    assert_false(remote_queue_push(&q, &small_blocks[4]));
    assert_non_null(remote_queue_take_all(&q, NULL));
    assert_true(remote_queue_push(&q, &small_blocks[5]));
}

static void test_take_all_lifo_and_null_terminated(void **state) {
    remote_queue_t q;
    remote_queue_init(&q);
    for (int i = 0; i < 10; i++)
        remote_queue_push(&q, &small_blocks[i]);
    void *b = remote_queue_take_all(&q, NULL);
    for (int i = 9; i >= 0; i--) {
        assert_ptr_equal(b, &small_blocks[i]);
        b = *(void **)b;
    }
    assert_null(b);
}

static void test_chain_length(void **state) {
    void *last = (void *)0x1;
    assert_int_equal(remote_queue_chain_length(NULL, &last), 0);
    assert_null(last);
    assert_int_equal(remote_queue_chain_length(NULL, NULL), 0);

    remote_queue_t q;
    remote_queue_init(&q);
    remote_queue_push(&q, &small_blocks[7]);
    void *chain = remote_queue_take_all(&q, NULL);
    assert_int_equal(remote_queue_chain_length(chain, &last), 1);
    assert_ptr_equal(last, &small_blocks[7]);

    for (int i = 0; i < 50; i++)
        remote_queue_push(&q, &small_blocks[i]);
    chain = remote_queue_take_all(&q, NULL);
    assert_int_equal(remote_queue_chain_length(chain, &last), 50);
    assert_ptr_equal(last, &small_blocks[0]); // the oldest block is last
    assert_int_equal(remote_queue_chain_length(chain, NULL), 50);
}

static void test_push_chain(void **state) {
    remote_queue_t q;
    remote_queue_init(&q);
    // A chain of 4 into an empty queue: one transition, last's stale link overwritten.
    for (int i = 0; i < 3; i++)
        small_blocks[i].link = &small_blocks[i + 1];
    small_blocks[3].link = (void *)0xdeadbeef;
    assert_true(remote_queue_push_chain(&q, &small_blocks[0], &small_blocks[3], 4));
    // Then a single block and another chain of 2 on the non-empty queue.
    assert_false(remote_queue_push(&q, &small_blocks[10]));
    small_blocks[20].link = &small_blocks[21];
    small_blocks[21].link = (void *)0xdeadbeef;
    assert_false(remote_queue_push_chain(&q, &small_blocks[20], &small_blocks[21], 2));

    void *last;
    uint32_t n;
    void *chain = remote_queue_take_all(&q, &n);
    assert_int_equal(n, 7); // the count the pushes added up, without a walk
    assert_int_equal(remote_queue_chain_length(chain, &last), 7);
    assert_ptr_equal(last, &small_blocks[3]);
    // Newest push first; each chain keeps its internal order.
    void *expect[] = {&small_blocks[20], &small_blocks[21], &small_blocks[10], &small_blocks[0],
                      &small_blocks[1],  &small_blocks[2],  &small_blocks[3]};
    void *b = chain;
    for (int i = 0; i < 7; i++, b = *(void **)b)
        assert_ptr_equal(b, expect[i]);
    assert_null(b);
    assert_true(remote_queue_is_empty(&q));
}

static void test_taken_chain_can_be_pushed_back(void **state) {
    // The owner may re-queue what it took (e.g. it cannot process it yet): one push_chain.
    remote_queue_t q;
    remote_queue_init(&q);
    for (int i = 0; i < 8; i++)
        remote_queue_push(&q, &small_blocks[i]);
    void *last;
    void *chain = remote_queue_take_all(&q, NULL);
    assert_int_equal(remote_queue_chain_length(chain, &last), 8);
    assert_true(remote_queue_push_chain(&q, chain, last, 8));
    uint32_t n;
    assert_int_equal(remote_queue_chain_length(remote_queue_take_all(&q, &n), NULL), 8);
    assert_int_equal(n, 8);
}

// ---- concurrency: N producers, one consumer ------------------------------------------------

#define PER_PRODUCER 100000u

// Blocks pushed and not yet taken, kept below REMOTE_QUEUE_MAX (the count in the head holds no
// more): a producer ahead of the consumer by that much waits.
static _Atomic uint32_t in_flight;

typedef struct {
    remote_queue_t *q;
    block_t *blocks;      // this producer's blocks
    uint32_t first_id;    // ids first_id .. first_id + PER_PRODUCER - 1
    uint32_t chain_every; // every so often push a chain of several blocks at once (0: never)
    _Atomic uint64_t *transitions; // pushes that returned true
} producer_t;

static void *producer_main(void *arg) {
    producer_t *p = arg;
    uint64_t transitions = 0;
    uint32_t i = 0;
    while (i < PER_PRODUCER) {
        uint32_t n = 1;
        if (p->chain_every && i % p->chain_every == 0) n = 1 + i % 7;
        if (n > PER_PRODUCER - i) n = PER_PRODUCER - i;
        while (atomic_load(&in_flight) + n > REMOTE_QUEUE_MAX - 16)
            sched_yield();
        atomic_fetch_add(&in_flight, n);
        for (uint32_t k = 0; k < n; k++) {
            block_t *b = &p->blocks[i + k];
            b->id = p->first_id + i + k;
            b->check = check_of(b->id);
            b->link = k + 1 < n ? (void *)&p->blocks[i + k + 1] : NULL;
        }
        if (n == 1 ? remote_queue_push(p->q, &p->blocks[i])
                   : remote_queue_push_chain(p->q, &p->blocks[i], &p->blocks[i + n - 1], (uint32_t)n))
            transitions++;
        i += n;
        if ((i & 1023) == 0) sched_yield(); // let the consumer interleave on few cores
    }
    atomic_fetch_add(p->transitions, transitions);
    return NULL;
}

static void run_mpsc(int nproducers, uint32_t chain_every) {
    remote_queue_t q;
    remote_queue_init(&q);
    size_t total = (size_t)nproducers * PER_PRODUCER;
    block_t *blocks = calloc(total, sizeof(block_t));
    uint8_t *seen = calloc(total, 1);
    assert_non_null(blocks);
    assert_non_null(seen);
    _Atomic uint64_t transitions = 0;
    producer_t prod[8];
    pthread_t tid[8];
    assert_true(nproducers <= 8);
    for (int t = 0; t < nproducers; t++) {
        prod[t] = (producer_t){&q, blocks + (size_t)t * PER_PRODUCER, (uint32_t)t * PER_PRODUCER,
                               chain_every, &transitions};
        assert_int_equal(pthread_create(&tid[t], NULL, producer_main, &prod[t]), 0);
    }

    size_t received = 0, bad = 0, dup = 0, takes = 0, miscounted = 0;
    while (received < total) {
        uint32_t counted;
        void *b = remote_queue_take_all(&q, &counted);
        if (b == NULL) {
            sched_yield();
            continue;
        }
        takes++;
        size_t in_chain = 0;
        for (; b != NULL; b = *(void **)b) {
            block_t *blk = b;
            if (blk < blocks || blk >= blocks + total || blk->id >= total ||
                blk->check != check_of(blk->id) || blk != &blocks[blk->id]) {
                bad++;
                break;
            }
            if (seen[blk->id]++) dup++;
            received++;
            if (++in_chain > total) break; // cyclic chain
        }
        if (in_chain != counted) miscounted++;
        atomic_fetch_sub(&in_flight, counted);
        if (bad || dup || in_chain > total) break;
    }
    for (int t = 0; t < nproducers; t++)
        pthread_join(tid[t], NULL);

    assert_int_equal(bad, 0);
    assert_int_equal(dup, 0);
    assert_int_equal(miscounted, 0); // every take's count was its chain's length
    assert_int_equal(received, total);
    for (size_t i = 0; i < total; i++)
        if (seen[i] != 1) fail_msg("block %zu seen %u times", i, seen[i]);
    assert_true(remote_queue_is_empty(&q));
    assert_null(remote_queue_take_all(&q, NULL));
    // The queue went empty -> non-empty exactly as often as the consumer took a non-empty chain.
    assert_int_equal(atomic_load(&transitions), takes);
    free(blocks);
    free(seen);
}

static void test_mpsc_4_producers(void **state) {
    run_mpsc(4, 0);
}
static void test_mpsc_8_producers(void **state) {
    run_mpsc(8, 0);
}
static void test_mpsc_6_producers_with_chains(void **state) {
    run_mpsc(6, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_take_all),
        cmocka_unit_test(test_push_reports_empty_transition),
        cmocka_unit_test(test_take_all_lifo_and_null_terminated),
        cmocka_unit_test(test_chain_length),
        cmocka_unit_test(test_push_chain),
        cmocka_unit_test(test_taken_chain_can_be_pushed_back),
        cmocka_unit_test(test_mpsc_4_producers),
        cmocka_unit_test(test_mpsc_8_producers),
        cmocka_unit_test(test_mpsc_6_producers_with_chains),
    };
    return cmocka_run_group_tests_name("remote_queue", tests, NULL, NULL);
}
