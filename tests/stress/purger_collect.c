// The background purger works on the slabs of heaps whose threads went idle (collecting the
// blocks other threads sent back, releasing slabs that are then empty) while those threads wake up
// again at random: threads alternate bursts of allocation, blocks handed to the next thread, frees
// of what they were handed, and short sleeps. Run with HAKMEM_PURGE_DELAY_MS=1 (ctest sets it) so
// the purger passes every 10 ms. Checks every block's bytes and the books at the end.
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hakmem.h"
#include "stress_common.h"

#define THREADS 4
#define BURST 2000

typedef struct {
    pthread_mutex_t lock;
    void **items;
    size_t n, cap;
} mailbox_t;

static mailbox_t boxes[THREADS];
static atomic_int bad;

static void fill(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((uintptr_t)p + i);
}

static int intact(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)((uintptr_t)p + i)) return 0;
    return 1;
}

static void post(int to, void *p) {
    mailbox_t *m = &boxes[to];
    pthread_mutex_lock(&m->lock);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->items = realloc(m->items, m->cap * sizeof(void *)); // the C library's: not under test
        if (m->items == NULL) abort();
    }
    m->items[m->n++] = p;
    pthread_mutex_unlock(&m->lock);
}

static size_t size_of(uint64_t r) { return 16 + (size_t)(r % 2000); }

static void free_received(int id) {
    mailbox_t *m = &boxes[id];
    pthread_mutex_lock(&m->lock);
    void **items = m->items;
    size_t n = m->n;
    m->items = NULL;
    m->n = m->cap = 0;
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        size_t size = hak_malloc_usable_size(items[i]);
        if (size < 16 || !intact(items[i], 16)) atomic_fetch_add(&bad, 1);
        hak_free(items[i]);
    }
    free(items);
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    rng_t r;
    rng_seed(&r, 77 + (uint64_t)id);
    void *mine[BURST];
    long rounds = stress_scaled(400);
    for (long round = 0; round < rounds; round++) {
        for (int i = 0; i < BURST; i++) {
            size_t n = size_of(rng_next(&r));
            mine[i] = hak_malloc(n);
            if (mine[i] == NULL) {
                atomic_fetch_add(&bad, 1);
                return NULL;
            }
            fill(mine[i], 16);
        }
        for (int i = 0; i < BURST; i++) {
            if (i % 2) post((id + 1) % THREADS, mine[i]);
            else {
                if (!intact(mine[i], 16)) atomic_fetch_add(&bad, 1);
                hak_free(mine[i]);
            }
        }
        free_received(id);
        // Go idle for 0-15 ms now and then: long enough for the purger to take the heap.
        if (rng_next(&r) % 3 == 0) {
            struct timespec ts = {0, (long)(rng_next(&r) % 15) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static void test_purger_collects_idle_heaps(void **state) {
    (void)state;
    hak_stats_t before, after;
    hak_stats_get(&before);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        pthread_mutex_init(&boxes[i].lock, NULL);
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    }
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < THREADS; i++) free_received(i); // what was posted to exited threads
    hak_stats_get(&after);
    assert_int_equal(atomic_load(&bad), 0);
    for (int f = 0; f < 3; f++) {
        uint64_t da = after.allocs[f] - before.allocs[f], df = after.frees[f] - before.frees[f];
        if (da > df + 64) fail_msg("frontend %d: %llu allocs, %llu frees", f,
                                   (unsigned long long)da, (unsigned long long)df);
    }
    assert_true(after.purger_ticks > before.purger_ticks); // the purger did run meanwhile
    // It took idle heaps meanwhile, as a rule; on a loaded machine maybe not: then it must take
    // this thread's heap, idle from now on, within 2 s.
    hak_free(hak_malloc(100));
    for (int i = 0; i < 200 && after.idle_collections == before.idle_collections; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        hak_stats_get(&after);
    }
    if (after.idle_collections == before.idle_collections)
        fail_msg("the purger never took an idle heap");
    // Everything is free: the purger and trim give the slabs back.
    hak_malloc_trim(0);
    hak_stats_get(&after);
    printf("purger_collect: purger ticks %llu, idle heaps collected %llu, slabs released %llu\n",
           (unsigned long long)(after.purger_ticks - before.purger_ticks),
           (unsigned long long)(after.idle_collections - before.idle_collections),
           (unsigned long long)(after.slabs_released - before.slabs_released));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_purger_collects_idle_heaps),
    };
    return cmocka_run_group_tests_name("purger_collect", tests, NULL, NULL);
}
