// The background purger starts even in a program whose threads carry a large static TLS block
// (glibc puts static TLS in every thread's stack: a small purger stack made pthread_create fail),
// and it runs: its tick counter advances while the program sleeps.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hakmem.h"

static __thread char big_tls[512 * 1024];

static void test_purger_runs_with_large_static_tls(void **state) {
    memset(big_tls, 1, sizeof big_tls);
    hak_free(hak_malloc(100));
    hak_stats_t a, b;
    hak_stats_get(&a);
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL); // several purge intervals (50 ms by default)
    hak_stats_get(&b);
    assert_true(b.purger_ticks > a.purger_ticks);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_purger_runs_with_large_static_tls)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
