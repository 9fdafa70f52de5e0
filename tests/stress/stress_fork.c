// Stress: fork() while other threads allocate, free and pass blocks between each other. The child
// (one thread, whatever locks the others held at the fork) checks and frees blocks it inherited,
// allocates and frees a few thousand blocks of every size range, starts threads of its own, and
// exits 0. A child that deadlocks is killed after a minute and fails the test.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "stress_common.h"

#define NBACKGROUND 4
#define LOCAL_SLOTS 256
#define SHARED_SLOTS 512

typedef struct {
    void *p;
    size_t size;
} item_t;

// Blocks that migrate between the background threads: a thread swaps one of its own with a
// random entry here, so the block is later freed by whichever thread takes it out.
static item_t shared_items[SHARED_SLOTS];
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stop;
static atomic_int bg_errors;

static size_t random_size(rng_t *r) {
    unsigned d = (unsigned)(rng_next(r) % 1000);
    if (d < 800) return rng_range(r, 1, 1024);
    if (d < 960) return rng_range(r, 1025, 32 * KiB);
    if (d < 998) return rng_range(r, 32 * KiB + 1, 600 * KiB);
    return rng_range(r, 2 * MiB, 4 * MiB);
}

static void *background_main(void *arg) {
    rng_t r;
    rng_seed(&r, (uint64_t)(uintptr_t)arg);
    item_t local[LOCAL_SLOTS];
    memset(local, 0, sizeof local);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        item_t *s = &local[rng_next(&r) % LOCAL_SLOTS];
        if (s->p) {
            if (!pattern_check(s->p, s->size)) atomic_fetch_add(&bg_errors, 1);
            if (rng_next(&r) % 4 == 0) {
                pthread_mutex_lock(&shared_lock);
                item_t *t = &shared_items[rng_next(&r) % SHARED_SLOTS];
                item_t tmp = *t;
                *t = *s;
                *s = tmp;
                pthread_mutex_unlock(&shared_lock);
                if (s->p && !pattern_check(s->p, s->size)) atomic_fetch_add(&bg_errors, 1);
            }
            hak_free(s->p);
            s->p = NULL;
        }
        size_t size = random_size(&r);
        void *p = hak_malloc(size);
        if (p == NULL) {
            atomic_fetch_add(&bg_errors, 1);
            break;
        }
        pattern_fill(p, size);
        s->p = p;
        s->size = size;
    }
    for (int i = 0; i < LOCAL_SLOTS; i++)
        if (local[i].p) {
            if (!pattern_check(local[i].p, local[i].size)) atomic_fetch_add(&bg_errors, 1);
            hak_free(local[i].p);
        }
    return NULL;
}

// ---- the child ----------------------------------------------------------------------------------

// Allocate, check and free `n` blocks of every size range; 0 on success.
static int child_churn(uint64_t seed, int n) {
    rng_t r;
    rng_seed(&r, seed);
    enum { LIVE = 128 };
    item_t live[LIVE];
    memset(live, 0, sizeof live);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        item_t *s = &live[rng_next(&r) % LIVE];
        if (s->p) {
            if (!pattern_check(s->p, s->size)) bad++;
            hak_free(s->p);
        }
        s->size = i % 500 == 0 ? 3 * MiB : random_size(&r);
        s->p = i % 7 == 0 ? hak_calloc(1, s->size) : hak_malloc(s->size);
        if (s->p == NULL) return 2;
        pattern_fill(s->p, s->size);
        if (i % 97 == 0) {
            size_t ns = random_size(&r);
            void *q = hak_realloc(s->p, ns);
            if (q == NULL) return 2;
            size_t keep = ns < s->size ? ns : s->size;
            if (s->size <= 2 * KiB && !pattern_range(q, 0, keep, (uintptr_t)s->p, s->size, 0))
                bad++;
            s->p = q;
            s->size = ns;
            pattern_fill(q, ns);
        }
    }
    for (int i = 0; i < LIVE; i++)
        if (live[i].p) {
            if (!pattern_check(live[i].p, live[i].size)) bad++;
            hak_free(live[i].p);
        }
    return bad ? 1 : 0;
}

#if !STRESS_TSAN
static void *child_thread_main(void *arg) {
    return (void *)(intptr_t)child_churn((uint64_t)(uintptr_t)arg, 2000);
}
#endif

static int child_main(int round) {
    // The parent held shared_lock across fork(), so the inherited array is consistent; this thread
    // is the one that locked it.
    int bad = 0;
    for (int i = 0; i < SHARED_SLOTS; i++) {
        if (shared_items[i].p == NULL) continue;
        if (!pattern_check(shared_items[i].p, shared_items[i].size)) bad++;
        hak_free(shared_items[i].p); // allocated by a thread that does not exist in this process
        shared_items[i].p = NULL;
    }
    pthread_mutex_unlock(&shared_lock);
    if (bad) return 10;
    int rc = child_churn(1000 + (uint64_t)round, 4000);
    if (rc) return 20 + rc;
#if !STRESS_TSAN
    // Threads in the child (ThreadSanitizer does not support threads after a multi-threaded fork).
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, child_thread_main, (void *)(uintptr_t)(2000 + i)) != 0)
            return 30;
    for (int i = 0; i < 2; i++) {
        void *res;
        if (pthread_join(t[i], &res) != 0) return 31;
        if (res != NULL) return 32;
    }
#endif
    int trim = hak_malloc_trim(0);
    if (trim != 0 && trim != 1) return 40;
    return 0;
}

// Wait for pid at most `seconds`; on timeout kill it and return -1.
static int wait_child(pid_t pid, int seconds, int *status) {
    for (int i = 0; i < seconds * 100; i++) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) return 0;
        if (w < 0 && errno != EINTR) return -1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return -1;
}

// After the background threads are joined: every shared block still holds its pattern, and none
// of them saw a corrupted block.
static void check_and_free_shared_items(void) {
    for (int i = 0; i < SHARED_SLOTS; i++)
        if (shared_items[i].p) {
            assert_true(pattern_check(shared_items[i].p, shared_items[i].size));
            hak_free(shared_items[i].p);
            shared_items[i].p = NULL;
        }
    assert_int_equal(atomic_load(&bg_errors), 0);
}

static void test_fork_while_threads_allocate(void **state) {
    (void)state;
    pthread_t bg[NBACKGROUND];
    atomic_store(&stop, 0);
    atomic_store(&bg_errors, 0);
    for (int i = 0; i < NBACKGROUND; i++)
        assert_int_equal(pthread_create(&bg[i], NULL, background_main, (void *)(uintptr_t)(i + 1)),
                         0);

    int forks = (int)stress_scaled(40);
    if (forks < 6) forks = 6;
    for (int round = 0; round < forks; round++) {
        struct timespec ts = {0, 20 * 1000 * 1000}; // let the threads churn in between
        nanosleep(&ts, NULL);
        fflush(stdout);
        fflush(stderr);
        pthread_mutex_lock(&shared_lock);
        pid_t pid = fork();
        if (pid == 0) _exit(child_main(round));
        pthread_mutex_unlock(&shared_lock);
        assert_true(pid > 0);
        int status = 0;
        if (wait_child(pid, 60, &status) != 0) {
            atomic_store(&stop, 1);
            fail_msg("fork round %d: the child did not exit within 60 s (deadlock after fork?)",
                     round);
        }
        if (WIFSIGNALED(status))
            fail_msg("fork round %d: the child died by signal %d", round, WTERMSIG(status));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("fork round %d: the child exited with status %d", round, WEXITSTATUS(status));
        // The parent goes on allocating too.
        void *p = hak_malloc(1000);
        assert_non_null(p);
        pattern_fill(p, 1000);
        assert_true(pattern_check(p, 1000));
        hak_free(p);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < NBACKGROUND; i++)
        assert_int_equal(pthread_join(bg[i], NULL), 0);
    check_and_free_shared_items();
}

static void test_fork_child_of_child(void **state) {
    (void)state;
    // A child forks again while a thread of its own allocates.
    atomic_store(&stop, 0);
    pthread_t bg;
    assert_int_equal(pthread_create(&bg, NULL, background_main, (void *)(uintptr_t)77), 0);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = child_churn(5, 3000);
        if (rc) _exit(rc);
        pid_t gpid = fork();
        if (gpid == 0) _exit(child_churn(6, 3000));
        int st;
        if (gpid < 0 || wait_child(gpid, 60, &st) != 0) _exit(50);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 51);
    }
    assert_true(pid > 0);
    int status;
    if (wait_child(pid, 120, &status) != 0) {
        atomic_store(&stop, 1);
        fail_msg("the child did not exit within 120 s");
    }
    atomic_store(&stop, 1);
    assert_int_equal(pthread_join(bg, NULL), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    check_and_free_shared_items();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_while_threads_allocate),
        cmocka_unit_test(test_fork_child_of_child),
    };
    return cmocka_run_group_tests_name("stress_fork", tests, NULL, NULL);
}
