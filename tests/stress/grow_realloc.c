// realloc's grow regions through the hak_ API: a block that keeps growing stays where it is, its
// bytes survive every step, and regions behave across threads (frees and reallocs by threads that
// do not own the region, owners that exit with live blocks) and across fork.
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hakmem.h"
#include "stress_common.h"

// Byte i of a buffer tagged `tag`.
static unsigned char byte_at(size_t i, unsigned tag) { return (unsigned char)(i * 31 + tag); }

static void fill_from(unsigned char *p, size_t from, size_t to, unsigned tag) {
    for (size_t i = from; i < to; i++) p[i] = byte_at(i, tag);
}

static void expect_bytes(const unsigned char *p, size_t n, unsigned tag) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != byte_at(i, tag)) fail_msg("byte %zu of %zu lost (tag %u)", i, n, tag);
}

// Grow a fresh block from 16 B to `max` by ~12% steps; returns it. *moves counts steps that moved it.
static unsigned char *grow_chain(size_t max, unsigned tag, unsigned *moves) {
    size_t size = 16;
    unsigned char *p = hak_malloc(size);
    assert_non_null(p);
    fill_from(p, 0, size, tag);
    *moves = 0;
    while (size < max) {
        size_t next = size + size / 8 + 16;
        unsigned char *q = hak_realloc(p, next);
        assert_non_null(q);
        *moves += q != p;
        expect_bytes(q, size, tag);
        fill_from(q, size, next, tag);
        p = q;
        size = next;
    }
    return p;
}

static void test_chain_grows_in_place(void **state) {
    (void)state;
    hak_stats_t before, after;
    hak_stats_get(&before);
    unsigned moves;
    unsigned char *first = grow_chain(MiB, 1, &moves);
    hak_free(first);
    for (unsigned round = 0; round < 20; round++) {
        unsigned char *p = grow_chain(MiB, 2 + round, &moves);
#if HAK_GROW_REGION
        // Moved once, into the region, at the place the previous chain's block had.
        assert_int_equal(moves, 1);
        assert_ptr_equal(p, first);
#endif
        assert_true(hak_malloc_usable_size(p) >= MiB);
        hak_free(p);
    }
    hak_stats_get(&after);
#if HAK_GROW_REGION
    assert_int_equal(after.grow_placed - before.grow_placed, 21);
    assert_int_equal(after.grow_frees - before.grow_frees, 21);
    assert_true(after.grow_in_place - before.grow_in_place > 21 * 50);
#endif
}

static void test_impossible_growth_fails(void **state) {
    (void)state;
    unsigned moves;
    unsigned char *p = grow_chain(5000, 21, &moves);
    size_t usable = hak_malloc_usable_size(p);
    size_t sizes[] = {SIZE_MAX, SIZE_MAX - 8, SIZE_MAX / 2};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        errno = 0;
        assert_null(hak_realloc(p, sizes[i]));
        assert_int_equal(errno, ENOMEM);
        assert_int_equal(hak_malloc_usable_size(p), usable); // p untouched
        expect_bytes(p, 5000, 21);
    }
    hak_free(p);
}

static void test_interleaved_chains(void **state) {
    (void)state;
    // Growing two blocks in turn: one is never on top for long; both keep their bytes.
    size_t size[2] = {16, 16};
    unsigned char *p[2];
    for (int k = 0; k < 2; k++) {
        p[k] = hak_malloc(16);
        fill_from(p[k], 0, 16, 40 + (unsigned)k);
    }
    for (int step = 0; step < 400; step++) {
        int k = step % 2;
        size_t next = size[k] + size[k] / 16 + 16;
        unsigned char *q = hak_realloc(p[k], next);
        assert_non_null(q);
        expect_bytes(q, size[k], 40 + (unsigned)k);
        fill_from(q, size[k], next, 40 + (unsigned)k);
        p[k] = q;
        size[k] = next;
        if (step % 50 == 49) { // and shrink now and then
            size[k] /= 3;
            q = hak_realloc(p[k], size[k]);
            assert_non_null(q);
            expect_bytes(q, size[k], 40 + (unsigned)k);
            p[k] = q;
        }
    }
    hak_free(p[0]);
    hak_free(p[1]);
}

// ---- other threads --------------------------------------------------------------------------------

typedef struct {
    unsigned char *p;
    size_t size;
    unsigned tag;
} job_t;

static void *free_it(void *arg) {
    job_t *j = arg;
    expect_bytes(j->p, j->size, j->tag);
    hak_free(j->p);
    return NULL;
}

static void *realloc_it(void *arg) {
    job_t *j = arg;
    // Not this thread's region: the block moves (to this thread's region), bytes intact.
    unsigned char *q = hak_realloc(j->p, j->size * 2);
    assert_non_null(q);
    expect_bytes(q, j->size, j->tag);
    fill_from(q, j->size, j->size * 2, j->tag);
    j->p = q;
    j->size *= 2;
    return NULL;
}

static void *grow_and_exit(void *arg) {
    job_t *j = arg;
    unsigned moves;
    j->size = 300000;
    j->p = grow_chain(j->size, j->tag, &moves);
    // Also leave a block below it, and free nothing: the thread exits with both live.
    unsigned char *extra = hak_realloc(hak_malloc(16), 5000);
    j->p = hak_realloc(j->p, j->size); // no-op
    hak_free(extra);
    return NULL;
}

static void run_thread(void *(*fn)(void *), job_t *j) {
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_other_threads(void **state) {
    (void)state;
    unsigned moves;
    for (unsigned round = 0; round < 30; round++) {
        job_t j = {grow_chain(100000, 60 + round, &moves), 100000, 60 + round};
        fill_from(j.p, 0, j.size, j.tag);
        run_thread(realloc_it, &j); // moved into the other thread's region, which then exits
        unsigned char *q = hak_realloc(j.p, j.size + 1000); // its owner is gone: moves here
        assert_non_null(q);
        expect_bytes(q, j.size, j.tag);
        j.p = q;
        run_thread(free_it, &j); // our block, freed by another thread
    }
    hak_stats_t before, after;
    hak_stats_get(&before);
    job_t jobs[40];
    for (unsigned t = 0; t < 40; t++) {
        jobs[t].tag = 200 + t;
        run_thread(grow_and_exit, &jobs[t]);
    }
    for (unsigned t = 0; t < 40; t++) {
        expect_bytes(jobs[t].p, jobs[t].size, jobs[t].tag);
        hak_free(jobs[t].p); // the last block of an exited thread's region: the region comes back
    }
    hak_stats_t freed;
    hak_stats_get(&freed);
    job_t again = {.tag = 7};
    run_thread(grow_and_exit, &again);
    hak_free(again.p);
    hak_stats_get(&after);
#if HAK_GROW_REGION
    // Each exited thread's region waited for its last block; the thread after reuses one.
    assert_true(freed.grow_regions - before.grow_regions <= 40);
    assert_int_equal(after.grow_regions, freed.grow_regions);
    assert_int_equal(after.grow_placed - after.grow_frees, before.grow_placed - before.grow_frees);
#endif
}

static void test_fork_child_grows_parents_block(void **state) {
    (void)state;
    unsigned moves;
    unsigned char *p = grow_chain(200000, 9, &moves);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char *q = hak_realloc(p, 400000); // the forking thread's region, in the child
        if (q == NULL) _exit(2);
        for (size_t i = 0; i < 200000; i++)
            if (q[i] != byte_at(i, 9)) _exit(3);
        hak_free(q);
        unsigned char *r = grow_chain(500000, 10, &moves);
        hak_free(r);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    unsigned char *q = hak_realloc(p, 300000);
    expect_bytes(q, 200000, 9);
    hak_free(q);
}

static void test_trim_purges_above_top(void **state) {
    (void)state;
    unsigned moves;
    hak_free(grow_chain(1500000, 11, &moves));
    hak_stats_t before, after;
    hak_stats_get(&before);
    hak_malloc_trim(0);
    hak_stats_get(&after);
#if HAK_GROW_REGION
    if (before.committed_bytes < after.committed_bytes + 1000000)
        fail_msg("committed %llu before malloc_trim, %llu after: the region's pages stayed",
                 (unsigned long long)before.committed_bytes,
                 (unsigned long long)after.committed_bytes);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_grows_in_place),
        cmocka_unit_test(test_impossible_growth_fails),
        cmocka_unit_test(test_interleaved_chains),
        cmocka_unit_test(test_other_threads),
        cmocka_unit_test(test_fork_child_grows_parents_block),
        cmocka_unit_test(test_trim_purges_above_top),
    };
    return cmocka_run_group_tests_name("grow_realloc", tests, NULL, NULL);
}
