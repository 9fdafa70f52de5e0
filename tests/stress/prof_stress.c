// The heap profiler under threads (hak_ API, so it also runs under the asan and tsan presets):
// with HAKMEM_PROF_SAMPLE=256 most allocations above a few hundred bytes are sampled, so sampled
// blocks are allocated, reallocated, measured and freed by every thread, and crossed between
// threads, while profiles are written. Every block keeps its ends' contents; every profile is a
// gzip stream.
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <unistd.h>

#include "hakmem.h"
#include "stress_common.h"

#define THREADS 4
#define SLOTS 512

static void *shared[THREADS][SLOTS];
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

// The first and last bytes of a block of n bytes, set to v.
static void mark_ends(unsigned char *p, size_t n, unsigned char v) {
    size_t k = n < 64 ? n : 64;
    memset(p, v, k);
    memset(p + n - k, v, k);
}

static size_t size_for(rng_t *r) {
    unsigned k = (unsigned)(rng_next(r) % 100);
    if (k < 70) return 1 + rng_next(r) % 1024;
    if (k < 95) return 1024 + rng_next(r) % 60000;
    if (k < 99) return 60000 + rng_next(r) % 2000000;
    return (2 << 20) + rng_next(r) % (4 << 20);
}

static void *worker(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    rng_t r;
    rng_seed(&r, 1000 + id);
    void *mine[SLOTS] = {0};
    size_t sizes[SLOTS] = {0};
    long rounds = stress_scaled(100000);
    for (long i = 0; i < rounds; i++) {
        unsigned s = (unsigned)(rng_next(&r) % SLOTS);
        if (mine[s] != NULL) {
            unsigned char *p = mine[s];
            if (p[0] != (unsigned char)s || p[sizes[s] - 1] != (unsigned char)s)
                fail_msg("thread %u: block %u lost its contents", id, s);
            if (hak_malloc_usable_size(p) < sizes[s]) fail_msg("usable size below the request");
            if (rng_next(&r) % 4 == 0) { // grow or shrink in place or by copy
                size_t n = size_for(&r);
                p = hak_realloc(p, n);
                if (p == NULL) fail_msg("realloc failed");
                mark_ends(p, n, (unsigned char)s);
                mine[s] = p;
                sizes[s] = n;
                continue;
            }
            if (rng_next(&r) % 8 == 0) { // hand it to another thread, take one of another's
                pthread_mutex_lock(&shared_lock);
                void *theirs = shared[id][s];
                shared[id][s] = NULL;
                unsigned to = (id + 1) % THREADS;
                void *old = shared[to][s];
                shared[to][s] = p;
                pthread_mutex_unlock(&shared_lock);
                hak_free(old);
                hak_free(theirs);
            } else {
                hak_free(p);
            }
            mine[s] = NULL;
        } else {
            size_t n = size_for(&r);
            unsigned char *p = hak_malloc(n);
            if (p == NULL) fail_msg("malloc failed");
            mark_ends(p, n, (unsigned char)s);
            mine[s] = p;
            sizes[s] = n;
        }
    }
    for (unsigned s = 0; s < SLOTS; s++) hak_free(mine[s]);
    return NULL;
}

static void test_sampled_blocks_under_threads_and_dumps(void **state) {
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
    char path[] = "/tmp/hakmem-prof-stress-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (int i = 0; i < 5; i++) { // profiles while the threads work
        assert_int_equal(hak_prof_dump(path), 0);
        unsigned char magic[2] = {0};
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fread(magic, 1, 2, f), 2);
        fclose(f);
        assert_int_equal(magic[0], 0x1f);
        assert_int_equal(magic[1], 0x8b);
        usleep(20000);
    }
    for (unsigned i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (unsigned i = 0; i < THREADS; i++)
        for (unsigned s = 0; s < SLOTS; s++) hak_free(shared[i][s]);
    unlink(path);
    errno = 0;
    assert_int_equal(hak_prof_dump("/nonexistent-dir/x.prof"), -1);
    assert_int_equal(errno, ENOENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sampled_blocks_under_threads_and_dumps)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
