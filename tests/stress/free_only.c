// Threads that only free: a consumer of another thread's blocks gets a heap of its own after its
// first frees (and so frees through a cache, not with an atomic push per block); a thread that
// frees everything it holds and stops does not keep full caches pinning its slabs.
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stress_common.h"

// A counter of hak_stats_json's output: the first "key": N after the group whose name begins
// with `group`.
static uint64_t json_counter(const char *group, const char *key) {
    static char buf[64 * 1024];
    hak_stats_json(buf, sizeof buf);
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s", group);
    const char *g = strstr(buf, pattern);
    assert_non_null(g);
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *k = strstr(g, pattern);
    assert_non_null(k);
    return strtoull(k + strlen(pattern), NULL, 10);
}

#define HANDED 5000
static void *handed[HANDED];

static void *free_handed(void *arg) {
    (void)arg;
    for (int i = 0; i < HANDED; i++) {
        assert_int_equal(((unsigned char *)handed[i])[63], (unsigned char)i);
        hak_free(handed[i]);
    }
    return NULL;
}

static void test_freeing_thread_gets_a_heap(void **state) {
    (void)state;
    for (int i = 0; i < HANDED; i++) {
        handed[i] = hak_malloc(64);
        assert_non_null(handed[i]);
        memset(handed[i], i & 0xff, 64);
    }
    uint64_t heapless = json_counter("thread_cache[", "heapless_frees");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_handed, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    // Only its first 64 frees went block by block to the slabs' queues.
    uint64_t now = json_counter("thread_cache[", "heapless_frees");
    print_message("heapless frees: %llu of %d\n", (unsigned long long)(now - heapless), HANDED);
    assert_int_equal(now - heapless, 64);
}

// 40 MiB in blocks of 16 B-4 KiB, all freed by the thread that allocated them.
#define TORN 20000
static void *torn[TORN];

static void *build_and_tear_down(void *arg) {
    uint64_t *cached = arg;
    uint64_t x = 42;
    for (int i = 0; i < TORN; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t size = 16 + (size_t)(x >> 33) % 4081;
        torn[i] = hak_malloc(size);
        assert_non_null(torn[i]);
        memset(torn[i], 1, size);
    }
    for (int i = 0; i < TORN; i++) hak_free(torn[i]);
    hak_stats_t st;
    hak_stats_get(&st); // before the thread's exit drains its caches
    *cached = st.thread_cache_bytes;
    return NULL;
}

static void test_thread_that_frees_everything_keeps_little_cached(void **state) {
    (void)state;
    uint64_t cached = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, build_and_tear_down, &cached), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    print_message("cached after freeing %d blocks (about 40 MiB): %llu bytes\n", TORN,
                  (unsigned long long)cached);
    // Full caches would hold about 3.7 MB (two batches per class in use, 256 KiB a batch); an
    // eighth of a batch per class is what may be left.
    assert_true(cached < 768 * KiB);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_freeing_thread_gets_a_heap),
        cmocka_unit_test(test_thread_that_frees_everything_keeps_little_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
