// The thread caches' adaptive bounds (frontends/slab/cache_bounds.h): a class that drains
// and then refills grows its bound, so a thread alternating frees and allocations stops moving
// blocks back and forth; the growth of all classes together stays within its budget; malloc_trim
// and the thread's exit give everything back. Run with HAKMEM_PURGE_DELAY_MS=-1 (set by ctest):
// no idle tick resets a bound in the middle of a test.
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stress_common.h"

#define GROWS (HAK_THREAD_CACHE != 0) // the `minimal` variant has no thread cache

// Allocate n blocks of `size`, write them, check and free them all. False if a block was missing
// or lost its bytes.
static bool alloc_then_free(size_t size, int n) {
    void **b = hak_malloc((size_t)n * sizeof *b);
    if (b == NULL) return false;
    bool ok = true;
    for (int i = 0; i < n; i++) {
        b[i] = hak_malloc(size);
        if (b[i] == NULL) return false;
        memset(b[i], i & 0xff, size);
    }
    for (int i = 0; i < n; i++) {
        ok &= ((unsigned char *)b[i])[size - 1] == (i & 0xff);
        hak_free(b[i]);
    }
    hak_free(b);
    return ok;
}

// The checks run in the main thread (cmocka's assertions cannot fail in another thread); the
// workers only measure.
typedef struct {
    uint64_t moves;                     // one_class_oscillates: refills and drains of 20 rounds
    uint64_t after_rounds, after_trim;  // all_classes_oscillate: bytes in thread caches
    bool ok;                            // every block came back intact
} result_t;

static void *one_class_oscillates(void *arg) {
    // 16 KiB blocks: batches of 16, a base bound of 32. Each round holds 40 blocks at once, so
    // with the base bound every round drains its frees and refills its allocations.
    result_t *r = arg;
    hak_stats_t before, after;
    r->ok = alloc_then_free(16 * KiB, 40) && alloc_then_free(16 * KiB, 40);
    hak_stats_get(&before);
    for (int i = 0; i < 20; i++) r->ok &= alloc_then_free(16 * KiB, 40);
    hak_stats_get(&after);
    r->moves = (after.refills - before.refills) + (after.drains - before.drains);
    return NULL;
}

static void run(void *(*fn)(void *), result_t *r) {
    // A thread of its own: a fresh heap (or an exited thread's, put back to the base).
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, r), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(r->ok);
}

static void check_one_class(const result_t *r) {
    print_message("16 KiB x 40, 20 rounds: %llu refills and drains\n", (unsigned long long)r->moves);
#if GROWS
    // The bound grew to hold the 40 blocks: the later rounds move nothing (the thread's other
    // classes, for the pointer arrays, may refill once or twice).
    assert_true(r->moves <= 4);
#else
    assert_true(r->moves >= 20);
#endif
}

static void test_one_class_grows(void **state) {
    result_t r = {0};
    run(one_class_oscillates, &r);
    check_one_class(&r);
}

// Mid classes 4-32 KiB: thirteen classes of about 256 KiB per batch, base bounds of two batches.
static const size_t mid_sizes[] = {4 * KiB,  5 * KiB,  6 * KiB,  7 * KiB,  8 * KiB,
                                   10 * KiB, 12 * KiB, 14 * KiB, 16 * KiB, 20 * KiB,
                                   24 * KiB, 28 * KiB, 32 * KiB};
#define NMID (sizeof mid_sizes / sizeof mid_sizes[0])

static void *all_classes_oscillate(void *arg) {
    result_t *r = arg;
    r->ok = true;
    for (int i = 0; i < 10; i++)
        for (size_t k = 0; k < NMID; k++)
            r->ok &= alloc_then_free(mid_sizes[k], (int)(7 * 256 * KiB / mid_sizes[k]));
    hak_stats_t st;
    hak_stats_get(&st);
    r->after_rounds = st.thread_cache_bytes;
    hak_malloc_trim(0); // empties the calling thread's caches and puts their bounds back
    hak_stats_get(&st);
    r->after_trim = st.thread_cache_bytes;
    return NULL;
}

static void test_growth_is_bounded_and_given_back(void **state) {
    // Each class holds seven batches at once: unbounded, the bounds would grow to 8 batches of
    // every class, 26 MiB of cached blocks. The budget of 4 MiB above the base bounds (6.5 MiB
    // here, a little for the thread's tiny classes) keeps the caches under 11 MiB.
    result_t r = {0};
    run(all_classes_oscillate, &r);
    print_message("caches after the rounds: %.2f MiB, after malloc_trim: %llu bytes\n",
                  (double)r.after_rounds / MiB, (unsigned long long)r.after_trim);
    assert_true(r.after_rounds <= 11 * MiB);
#if GROWS
    assert_true(r.after_rounds > 7 * MiB); // the bounds did grow
#endif
    assert_true(r.after_trim < 64 * KiB); // what other threads' caches hold
    // The thread's exit drained its caches; the heap the next thread gets starts at the base.
    hak_stats_t st;
    hak_stats_get(&st);
    assert_true(st.thread_cache_bytes < 64 * KiB);
    result_t again = {0};
    run(one_class_oscillates, &again);
    check_one_class(&again);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_class_grows),
        cmocka_unit_test(test_growth_is_bounded_and_given_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
