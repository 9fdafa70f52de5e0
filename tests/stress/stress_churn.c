// Stress: many threads churn blocks of random sizes (mostly tiny, some mid and large, a few huge)
// and free a quarter of them in another thread, passed through per-thread mailboxes. Every block
// carries a pattern derived from its address and size, checked before it is freed or moved.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include "stress_common.h"

#define NTHREADS 8
#define SLOTS 1024

typedef struct {
    void *p;
    size_t size;
    bool reallocated; // made by a realloc: it may live in a grow region, outside the frontends
} item_t;

// A thread's mailbox: blocks other threads pass to it for freeing.
typedef struct {
    pthread_mutex_t lock;
    item_t *items;
    size_t n, cap;
} mailbox_t;

typedef struct {
    int id;
    long iters;
    uint64_t seed;
    // What this thread did, by frontend: mallocs and frees (a realloc counts in neither: it may
    // stay in place), and reallocs that moved a block out of / into a frontend's size range; of
    // the frees, those of blocks no realloc made (the frontend of their size must count them).
    uint64_t allocs[4], frees[4], realloc_out[4], realloc_in[4], plain_frees[4];
    uint64_t cross_frees_slab; // frees of a tiny/mid/large block allocated by another thread
} worker_t;

static mailbox_t mailboxes[NTHREADS];
static pthread_barrier_t sent_barrier, drained_barrier;
static atomic_int errors;
static char first_error[256];
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    if (atomic_fetch_add(&errors, 1) == 0) {
        pthread_mutex_lock(&error_lock);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first_error, sizeof first_error, fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&error_lock);
    }
}

// Mostly tiny, some mid and large, a few huge.
static size_t random_size(rng_t *r) {
    unsigned d = (unsigned)(rng_next(r) % 1000);
    if (d < 850) return rng_range(r, d < 50 ? 0 : 1, d < 400 ? 128 : 1024);
    if (d < 970) return rng_range(r, 1025, 32 * KiB);
    if (d < 998) return rng_range(r, 32 * KiB + 1, d < 990 ? 256 * KiB : 1835008);
    return rng_range(r, 1835009, 6 * MiB);
}

static void *alloc_block(worker_t *w, size_t size) {
    void *p = hak_malloc(size);
    if (p == NULL) {
        report("thread %d: hak_malloc(%zu) returned NULL", w->id, size);
        return NULL;
    }
    if ((uintptr_t)p & 15) report("thread %d: hak_malloc(%zu) = %p misaligned", w->id, size, p);
    if (hak_malloc_usable_size(p) < size)
        report("thread %d: usable size of %zu-byte block %p is %zu", w->id, size, p,
               hak_malloc_usable_size(p));
    pattern_fill(p, size);
    w->allocs[frontend_of(size)]++;
    return p;
}

static void check_and_free(worker_t *w, void *p, size_t size, int foreign, bool reallocated) {
    if (!pattern_check(p, size)) report("thread %d: %zu-byte block %p corrupted", w->id, size, p);
    hak_free(p);
    int f = frontend_of(size);
    w->frees[f]++;
    if (!reallocated) w->plain_frees[f]++;
    if (foreign && f < 3) w->cross_frees_slab++;
}

static void mailbox_post(int to, item_t it) {
    mailbox_t *m = &mailboxes[to];
    pthread_mutex_lock(&m->lock);
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        item_t *items = hak_realloc(m->items, cap * sizeof(item_t));
        if (items == NULL) {
            pthread_mutex_unlock(&m->lock);
            report("mailbox realloc to %zu items failed", cap);
            return;
        }
        m->items = items;
        m->cap = cap;
    }
    m->items[m->n++] = it;
    pthread_mutex_unlock(&m->lock);
}

// Free (or first realloc, for some small ones) every block other threads passed to us.
static void mailbox_drain(worker_t *w, rng_t *r) {
    mailbox_t *m = &mailboxes[w->id];
    pthread_mutex_lock(&m->lock);
    item_t *items = m->items;
    size_t n = m->n;
    m->items = NULL;
    m->n = m->cap = 0;
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        void *p = items[i].p;
        size_t size = items[i].size;
        if (size <= 2 * KiB && rng_next(r) % 8 == 0) {
            // realloc of a block owned by another thread: contents move, the old block goes home.
            if (!pattern_check(p, size))
                report("thread %d: %zu-byte block %p corrupted", w->id, size, p);
            size_t ns = rng_range(r, 1, 3 * KiB);
            void *q = hak_realloc(p, ns);
            if (q == NULL) {
                report("thread %d: hak_realloc(%zu -> %zu) failed", w->id, size, ns);
                continue;
            }
            size_t keep = ns < size ? ns : size;
            if (!pattern_range(q, 0, keep, (uintptr_t)p, size, 0))
                report("thread %d: hak_realloc(%zu -> %zu) lost contents", w->id, size, ns);
            w->realloc_out[frontend_of(size)]++;
            w->realloc_in[frontend_of(ns)]++;
            pattern_fill(q, ns);
            check_and_free(w, q, ns, 0, true);
        } else {
            check_and_free(w, p, size, 1, items[i].reallocated);
        }
    }
    hak_free(items);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    rng_t r;
    rng_seed(&r, w->seed);
    item_t *slots = hak_calloc(SLOTS, sizeof(item_t));
    if (slots == NULL) {
        report("hak_calloc of the slot array failed");
        return NULL;
    }
    for (long it = 0; it < w->iters && atomic_load_explicit(&errors, memory_order_relaxed) == 0;
         it++) {
        item_t *s = &slots[rng_next(&r) % SLOTS];
        if (s->p != NULL) {
            unsigned d = (unsigned)(rng_next(&r) % 16);
            if (d < 4) {
                int to = (int)(rng_next(&r) % (NTHREADS - 1));
                if (to >= w->id) to++;
                if (!pattern_check(s->p, s->size))
                    report("thread %d: block %p corrupted before sending", w->id, s->p);
                mailbox_post(to, *s);
            } else if (d < 5 && s->size <= 2 * KiB) {
                size_t ns = random_size(&r);
                if (ns == 0 || ns > 256 * KiB) ns = 100; // realloc(p, 0) would free p
                if (!pattern_check(s->p, s->size))
                    report("thread %d: block %p corrupted", w->id, s->p);
                void *q = hak_realloc(s->p, ns);
                if (q == NULL) {
                    report("thread %d: hak_realloc(%zu -> %zu) failed", w->id, s->size, ns);
                    break;
                }
                size_t keep = ns < s->size ? ns : s->size;
                if (!pattern_range(q, 0, keep, (uintptr_t)s->p, s->size, 0))
                    report("thread %d: hak_realloc(%zu -> %zu) lost contents", w->id, s->size, ns);
                w->realloc_out[frontend_of(s->size)]++;
                w->realloc_in[frontend_of(ns)]++;
                pattern_fill(q, ns);
                s->p = q;
                s->size = ns;
                s->reallocated = true;
                continue;
            } else {
                check_and_free(w, s->p, s->size, 0, s->reallocated);
            }
            s->p = NULL;
        }
        size_t size = random_size(&r);
        s->p = alloc_block(w, size);
        s->size = size;
        s->reallocated = false;
        if (it % 64 == 0) mailbox_drain(w, &r);
    }
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].p) check_and_free(w, slots[i].p, slots[i].size, 0, slots[i].reallocated);
    hak_free(slots);
    // Nobody sends after this barrier; every owner is still alive until the second one, so each
    // cross-thread free below is a remote free to a live owner.
    pthread_barrier_wait(&sent_barrier);
    mailbox_drain(w, &r);
    pthread_barrier_wait(&drained_barrier);
    return NULL;
}

static void run_churn(long iters, uint64_t seed_base) {
    hak_stats_t before, after;
    worker_t workers[NTHREADS];
    pthread_t tids[NTHREADS];
    atomic_store(&errors, 0);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_mutex_init(&mailboxes[i].lock, NULL);
        mailboxes[i].items = NULL;
        mailboxes[i].n = mailboxes[i].cap = 0;
    }
    pthread_barrier_init(&sent_barrier, NULL, NTHREADS);
    pthread_barrier_init(&drained_barrier, NULL, NTHREADS);
    hak_stats_get(&before);
    for (int i = 0; i < NTHREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].id = i;
        workers[i].iters = iters;
        workers[i].seed = seed_base + (uint64_t)i;
        assert_int_equal(pthread_create(&tids[i], NULL, worker_main, &workers[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(tids[i], NULL), 0);
    hak_stats_get(&after);
    pthread_barrier_destroy(&sent_barrier);
    pthread_barrier_destroy(&drained_barrier);
    for (int i = 0; i < NTHREADS; i++)
        pthread_mutex_destroy(&mailboxes[i].lock);

    if (atomic_load(&errors)) fail_msg("%d errors; first: %s", atomic_load(&errors), first_error);

    uint64_t allocs[4] = {0}, frees[4] = {0}, moved_in[4] = {0}, moved_out[4] = {0}, cross = 0;
    uint64_t plain[4] = {0}, all_frees = 0, counted_frees = after.grow_frees - before.grow_frees;
    for (int i = 0; i < NTHREADS; i++) {
        for (int f = 0; f < 4; f++) {
            allocs[f] += workers[i].allocs[f];
            frees[f] += workers[i].frees[f];
            plain[f] += workers[i].plain_frees[f];
            all_frees += workers[i].frees[f];
            moved_in[f] += workers[i].realloc_in[f];
            moved_out[f] += workers[i].realloc_out[f];
        }
        cross += workers[i].cross_frees_slab;
    }
    stats_print_delta("churn", &before, &after);
    printf("churn: test did allocs=%llu/%llu/%llu/%llu cross-thread slab frees=%llu\n",
           (unsigned long long)allocs[0], (unsigned long long)allocs[1],
           (unsigned long long)allocs[2], (unsigned long long)allocs[3], (unsigned long long)cross);
    for (int f = 0; f < 4; f++) {
        assert_int_equal(allocs[f] + moved_in[f], frees[f] + moved_out[f]); // the test's own books
        uint64_t da = after.allocs[f] - before.allocs[f], df = after.frees[f] - before.frees[f];
        if (da < allocs[f])
            fail_msg("frontend %d: stats count %llu allocs, the test made %llu", f,
                     (unsigned long long)da, (unsigned long long)allocs[f]);
        counted_frees += df;
        if (df < plain[f])
            fail_msg("frontend %d: stats count %llu frees, the test made %llu of blocks no "
                     "realloc made", f, (unsigned long long)df, (unsigned long long)plain[f]);
        // Everything the test allocated is freed; only the C library's own few blocks (thread
        // start-up, stdio), in builds where malloc is hakmem, may still be live.
        if (da > df + 64)
            fail_msg("frontend %d: %llu more allocs than frees", f, (unsigned long long)(da - df));
    }
    // A block a realloc made is in its size's frontend or in a grow region.
    if (counted_frees < all_frees)
        fail_msg("stats count %llu frees in the frontends and grow regions, the test made %llu",
                 (unsigned long long)counted_frees, (unsigned long long)all_frees);
    uint64_t grow_placed = after.grow_placed - before.grow_placed;
    if (grow_placed > after.grow_frees - before.grow_frees + 64)
        fail_msg("%llu blocks placed in grow regions, %llu freed", (unsigned long long)grow_placed,
                 (unsigned long long)(after.grow_frees - before.grow_frees));
    assert_true(allocs[0] > 0 && allocs[1] > 0 && allocs[2] > 0 && allocs[3] > 0);
    // Blocks freed by another thread sit in that thread's cache (where it may reuse them) until
    // a drain sends them back to their slabs' remote queues: some must have gone that way.
    if (cross > 0 && after.remote_frees == before.remote_frees)
        fail_msg("the test freed %llu blocks of other (live) threads; none went back remotely",
                 (unsigned long long)cross);
    assert_int_equal(after.huge_live_bytes, before.huge_live_bytes);
}

static void test_churn_cross_thread(void **state) {
    (void)state;
    run_churn(stress_scaled(150000), 1);
}

static void test_churn_repeated_short_runs(void **state) {
    (void)state;
    // New threads each round: caches of exited threads must be handed back and reused.
    for (int round = 0; round < 6; round++)
        run_churn(stress_scaled(10000), 100 + (uint64_t)round * NTHREADS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_churn_cross_thread),
        cmocka_unit_test(test_churn_repeated_short_runs),
    };
    return cmocka_run_group_tests_name("stress_churn", tests, NULL, NULL);
}
