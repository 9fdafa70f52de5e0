// Unit tests of the platform layer's threads, fork registry and process helpers, alone.
#define _GNU_SOURCE // pthread_getname_np
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform.h"

static hak_lock_t first = HAK_LOCK_INIT, second = HAK_LOCK_INIT, third = HAK_LOCK_INIT;
static int guarded; // written under `second`
static _Atomic int holder_ready, holder_done;

// Holds `second` while it changes `guarded` in two steps: a fork that does not wait for the lock
// would give the child the half-done value.
static void *hold_second(void *arg) {
    hak_lock(&second);
    atomic_store(&holder_ready, 1);
    guarded = 1;
    hak_sleep_ms(100);
    guarded = 2;
    hak_unlock(&second);
    atomic_store(&holder_done, 1);
    return NULL;
}

static void test_fork_waits_for_protected_locks_and_frees_them_in_the_child(void **state) {
    hak_fork_protect(&first);
    hak_fork_protect(&second);
    hak_fork_protect(&third);
    hak_fork_hooks_install();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_second, NULL), 0);
    pthread_detach(t); // the child has a copy of it that never runs: not one to join
    while (!atomic_load(&holder_ready)) hak_thread_yield();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10); // a lock left held ends as SIGALRM
        int ok = guarded == 2; // the prepare handler waited for the holder
        hak_lock(&first);
        hak_lock(&second);
        hak_lock(&third);
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(guarded, 2);
    // The parent's handler released every lock.
    assert_int_equal(pthread_mutex_trylock(&first.m), 0);
    assert_int_equal(pthread_mutex_trylock(&second.m), 0);
    assert_int_equal(pthread_mutex_trylock(&third.m), 0);
    hak_unlock(&first);
    hak_unlock(&second);
    hak_unlock(&third);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    while (!atomic_load(&holder_done)) hak_thread_yield();
}

static _Atomic int started, named;
static char started_name[16];

static void *note_start(void *arg) {
    while (!atomic_load(&named)) hak_thread_yield(); // hak_thread_start names it once it runs
    pthread_getname_np(pthread_self(), started_name, sizeof started_name);
    atomic_store(&started, *(int *)arg);
    return NULL;
}

static void test_thread_start_runs_a_named_thread(void **state) {
    static int value = 42;
    assert_int_equal(hak_thread_start(note_start, &value, "hak-test"), 0);
    atomic_store(&named, 1);
    while (atomic_load(&started) == 0) hak_thread_yield();
    assert_int_equal(atomic_load(&started), 42);
    assert_string_equal(started_name, "hak-test");
}

static void test_sleep_lasts_at_least_the_time_asked(void **state) {
    uint64_t before = hak_clock_ms();
    hak_sleep_ms(30);
    assert_true(hak_clock_ms() - before >= 29); // a lower bound only: the clock's ms rounding
}

static void test_process_helpers(void **state) {
    assert_int_equal(hak_os_random_seed(), hak_os_random_seed()); // the same bits, given at exec
    void *next_malloc = hak_os_next_symbol("malloc");
    assert_non_null(next_malloc); // the C library's, after this program
    assert_null(hak_os_next_symbol("hak_no_such_symbol"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_waits_for_protected_locks_and_frees_them_in_the_child),
        cmocka_unit_test(test_thread_start_runs_a_named_thread),
        cmocka_unit_test(test_sleep_lasts_at_least_the_time_asked),
        cmocka_unit_test(test_process_helpers),
    };
    return cmocka_run_group_tests_name("platform", tests, NULL, NULL);
}
