// Idle memory goes back to the OS without malloc_trim: after a program frees everything, resident
// memory returns to near where it started once the purge delay has passed (the background purger
// applies it while the program sleeps). And threads that come and go leave no stranded memory.
//
// Resident memory is read from /proc/self/status. No timing is asserted: the test waits, up to a
// generous bound, for the memory to come back.
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "stress_common.h"

// ThreadSanitizer's shadow memory grows with every page touched and never shrinks: resident memory
// says nothing about hakmem there, so under it the tests run the same paths and check no figure.
#ifdef __SANITIZE_THREAD__
#define RSS_MEANINGFUL 0
#else
#define RSS_MEANINGFUL 1
#endif

#ifdef __SANITIZE_ADDRESS__
// AddressSanitizer's shadow (a byte for every 8 of the program's, at fixed addresses on x86-64)
// becomes resident as hakmem's pages are touched and stays so when hakmem gives them back:
// resident memory is counted outside it.
#define SHADOW_START 0x7fff8000ul
#define SHADOW_END 0x10007fff8000ul
static long rss_kb(void) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    long kb = 0;
    bool shadow = false;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) shadow = start >= SHADOW_START && end <= SHADOW_END;
        else if (!shadow && strncmp(line, "Rss:", 4) == 0) kb += atol(line + 4);
    }
    if (f != NULL) fclose(f);
    return f != NULL ? kb : -1;
}
#else
static long rss_kb(void) { return status_kb("VmRSS:"); }
#endif

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

// Wait (polling, at most 10 s) until resident memory is at most `limit_kb`; returns the last value.
static long wait_rss_below(long limit_kb) {
    if (!RSS_MEANINGFUL) { // still let the purger run concurrently with the test, for the sanitizer
        sleep_ms(300);
        return rss_kb();
    }
    long kb = rss_kb();
    for (int i = 0; i < 100 && kb > limit_kb; i++) {
        sleep_ms(100);
        kb = rss_kb();
    }
    return kb;
}

#define SMALL_COUNT 1000000

static void test_free_all_returns_memory_without_trim(void **state) {
    long start = rss_kb();
    void **p = hak_malloc(sizeof(void *) * SMALL_COUNT); // a huge block: the page_arena's
    assert_non_null(p);
    for (int i = 0; i < SMALL_COUNT; i++) {
        p[i] = hak_malloc(16 + (i % 4) * 16);
        assert_non_null(p[i]);
        memset(p[i], 0x5a, 16);
    }
    // A mid and large share too.
    void *mid[2000];
    for (int i = 0; i < 2000; i++) {
        mid[i] = hak_malloc(4096 + (size_t)(i % 7) * 1000);
        memset(mid[i], 1, 4096);
    }
    long peak = rss_kb();
    if (RSS_MEANINGFUL) assert_true(peak > start + 20 * 1024); // the heap really was resident
    for (int i = 0; i < SMALL_COUNT; i++) hak_free(p[i]);
    for (int i = 0; i < 2000; i++) hak_free(mid[i]);
    hak_free(p);
    long after = wait_rss_below(start + 4 * 1024);
    print_message("rss start %ld KiB, peak %ld KiB, after free %ld KiB\n", start, peak, after);
    if (RSS_MEANINGFUL) assert_true(after <= start + 4 * 1024);
}

// Generations of threads that each allocate and free megabytes: resident memory stays near
// that of one generation instead of growing with the number of generations.
#define GEN_THREADS 8
#define GEN_BYTES (2 << 20)

// Set for the generations that must overlap: each thread holds its blocks until all have theirs.
static pthread_barrier_t *overlap;

static void *generation_worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    enum { N = 2048 };
    void *blocks[N];
    size_t total = 0;
    int n = 0;
    while (total < GEN_BYTES && n < N) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 16 + (seed >> 8) % 2000;
        blocks[n] = hak_malloc(size);
        memset(blocks[n], 7, size);
        total += size;
        n++;
    }
    if (overlap != NULL) pthread_barrier_wait(overlap);
    for (int i = 0; i < n; i++) hak_free(blocks[i]);
    return NULL;
}

static void run_generation(unsigned gen) {
    pthread_t t[GEN_THREADS];
    for (unsigned i = 0; i < GEN_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, generation_worker, (void *)(uintptr_t)(gen * 31 + i)), 0);
    for (unsigned i = 0; i < GEN_THREADS; i++) pthread_join(t[i], NULL);
}

static void test_thread_generations_leave_nothing_behind(void **state) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    const unsigned generations = 40;
#else
    const unsigned generations = 300;
#endif
    // The first generations set the level (caches, depots and slabs in circulation); the rest must
    // not climb above it. How many of a generation's threads hold their blocks at once is the
    // scheduler's choice, and what a generation leaves resident until the purge delay passes
    // (free slots, dirty) follows it: on an idle machine each thread was done before the next
    // started, beside a CPU-bound job they overlapped, and the level set by the first ones was
    // half the later ones'. So the first ones after the very first overlap on purpose, all their
    // threads holding their blocks at once: the most a generation can use.
    const unsigned warm = 10;
    run_generation(0);
    long first = rss_kb();
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, GEN_THREADS);
    overlap = &barrier;
    long warm_highest = first, highest = first;
    for (unsigned g = 1; g < generations; g++) {
        if (g == warm) overlap = NULL;
        run_generation(g);
        long now = rss_kb();
        if (g < warm && now > warm_highest) warm_highest = now;
        if (now > highest) highest = now;
    }
    pthread_barrier_destroy(&barrier);
    // What the generations left behind, once the purge delay has passed.
    long last = wait_rss_below(first + 4 * 1024);
    hak_stats_t st;
    hak_stats_get(&st);
    print_message("rss after 1 generation %ld KiB, highest %ld KiB (%ld in the first %u), after %u "
                  "and the purge delay: %ld KiB; %llu slabs abandoned, %llu adopted\n",
                  first, highest, warm_highest, warm, generations, last,
                  (unsigned long long)st.slabs_abandoned,
                  (unsigned long long)st.slabs_adopted);
    // Exited threads' heaps are reused and their slabs drained: nothing grows with the number of
    // generations (an allocator without this went from 566 MB to 1.7 GB in such a loop).
    if (RSS_MEANINGFUL) {
        assert_true(last <= first + 4 * 1024);
        assert_true(highest <= 2 * warm_highest);
    }
}

// A thread that exits while other threads still hold its blocks abandons its slabs; when those
// blocks are freed (remote frees into abandoned slabs), the slabs are reclaimed, not stranded.
#define HANDOFF_BLOCKS 20000
static void *handoff[HANDOFF_BLOCKS];

static void *allocate_and_exit(void *arg) {
    for (int i = 0; i < HANDOFF_BLOCKS; i++) {
        handoff[i] = hak_malloc(64 + (size_t)(i % 8) * 100);
        memset(handoff[i], 3, 64);
    }
    return NULL;
}

static void *free_all_remotely(void *arg) {
    for (int i = 0; i < HANDOFF_BLOCKS; i++) hak_free(handoff[i]);
    return NULL;
}

static void test_slabs_emptied_by_remote_frees_are_reclaimed(void **state) {
    hak_stats_t before, exited, freed, now;
    hak_stats_get(&before);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, allocate_and_exit, NULL), 0);
    pthread_join(t, NULL); // its slabs hold live blocks: abandoned
    hak_stats_get(&exited);
    assert_true(exited.slabs_abandoned > before.slabs_abandoned);
    assert_int_equal(pthread_create(&t, NULL, free_all_remotely, NULL), 0);
    pthread_join(t, NULL);
    hak_stats_get(&freed);
    // The freeing thread frees its first blocks straight into their slabs' remote queues, then
    // (with a heap of its own) through its cache and the depots.
    assert_true(freed.remote_frees > before.remote_frees);
    uint64_t frees_before = 0, frees_after = 0;
    for (int f = 0; f < 4; f++) frees_before += before.frees[f], frees_after += freed.frees[f];
    assert_true(frees_after >= frees_before + HANDOFF_BLOCKS);
    // The abandoned slabs are empty now; the background purger releases them without malloc_trim
    // (no thread of their classes comes to adopt them), possibly already while they were being
    // freed. Wait for it, at most 10 s.
    uint64_t want = exited.slabs_released + (exited.slabs_abandoned - before.slabs_abandoned);
    for (int i = 0; i < 100; i++) {
        hak_stats_get(&now);
        if (now.slabs_released >= want) break;
        sleep_ms(100);
    }
    assert_true(now.slabs_released >= want);
}

// A size class the thread stops using gives its cached blocks back on the next periodic tick (its
// slab can then empty), even though the thread keeps allocating in other classes.
static void test_idle_class_cache_is_drained_by_the_tick(void **state) {
#if HAK_THREAD_CACHE == 0
    skip(); // the minimal variant caches nothing: every free goes straight to its slab
#endif
    void *idle[40];
    for (int i = 0; i < 40; i++) idle[i] = hak_malloc(80); // one class
    for (int i = 0; i < 40; i++) hak_free(idle[i]);        // now in the thread cache
    hak_stats_t before, after;
    hak_stats_get(&before);
    // Only allocations of another class (no frees, so no overflow drains), so that slow paths
    // run: the first tick after a purge delay notes the idle class, the next one drains it.
    static void *other[3000];
    for (int round = 0; round < 3; round++) {
        sleep_ms(150); // longer than the default purge delay (100 ms)
        for (int i = round * 1000; i < (round + 1) * 1000; i++) other[i] = hak_malloc(3000);
    }
    hak_stats_get(&after);
    assert_true(after.drains > before.drains);
    for (int i = 0; i < 3000; i++) hak_free(other[i]);
}

// The byte counters: freed blocks show in the thread caches, committed bytes lie between the live
// bytes and the mapped ones, and malloc_trim empties this thread's caches and every spare slab.
#define COUNTED_SMALL 2000
#define COUNTED_MID 200

static void test_memory_counters(void **state) {
    static void *small[COUNTED_SMALL], *mid[COUNTED_MID];
    for (int i = 0; i < COUNTED_SMALL; i++) {
        small[i] = hak_malloc(200);
        assert_non_null(small[i]);
        memset(small[i], 5, 200);
    }
    for (int i = 0; i < COUNTED_MID; i++) {
        mid[i] = hak_malloc(20 << 10);
        assert_non_null(mid[i]);
        memset(mid[i], 6, 64);
    }
    // Every other block freed (into this thread's cache); the rest stay live.
    for (int i = 1; i < COUNTED_SMALL; i += 2) hak_free(small[i]);
    for (int i = 1; i < COUNTED_MID; i += 2) hak_free(mid[i]);
    uint64_t live = COUNTED_SMALL / 2 * 200 + COUNTED_MID / 2 * (20 << 10);
    hak_stats_t before, after;
    hak_stats_get(&before);
#if HAK_THREAD_CACHE != 0 // the minimal variant's caches hold one block at most, often none
    assert_true(before.thread_cache_bytes > 0);
#endif
    assert_true(before.committed_bytes >= live);
    assert_true(before.committed_bytes <= before.bytes_mapped);
    // The other tests' threads have all been joined and the purger never allocates: no heap but
    // this thread's changes, and trim releases every heap's spare slab.
    hak_malloc_trim(0);
    hak_stats_get(&after);
    print_message(
        "live %llu B; before trim: committed %llu, mapped %llu, thread caches %llu, spare "
        "slabs %llu; after: committed %llu, mapped %llu, thread caches %llu, spare slabs %llu\n",
        (unsigned long long)live, (unsigned long long)before.committed_bytes,
        (unsigned long long)before.bytes_mapped, (unsigned long long)before.thread_cache_bytes,
        (unsigned long long)before.spare_slab_bytes, (unsigned long long)after.committed_bytes,
        (unsigned long long)after.bytes_mapped, (unsigned long long)after.thread_cache_bytes,
        (unsigned long long)after.spare_slab_bytes);
#if HAK_THREAD_CACHE != 0
    assert_true(after.thread_cache_bytes < before.thread_cache_bytes);
#else
    assert_true(after.thread_cache_bytes <= before.thread_cache_bytes);
#endif
    assert_int_equal(after.spare_slab_bytes, 0);
    assert_true(after.committed_bytes >= live);
    assert_true(after.committed_bytes <= after.bytes_mapped);
    for (int i = 0; i < COUNTED_SMALL; i += 2) hak_free(small[i]);
    for (int i = 0; i < COUNTED_MID; i += 2) hak_free(mid[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_all_returns_memory_without_trim),
        cmocka_unit_test(test_thread_generations_leave_nothing_behind),
        cmocka_unit_test(test_slabs_emptied_by_remote_frees_are_reclaimed),
        cmocka_unit_test(test_idle_class_cache_is_drained_by_the_tick),
        cmocka_unit_test(test_memory_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
