// Under an address-space limit (RLIMIT_AS, as ulimit -v and containers set it), the freed huge
// mappings hakmem keeps cached for reuse are given back when a new reservation fails, and the
// request succeeds: 24 freed 8 MiB blocks stay cached (hot, then warm), the limit leaves 64 MiB
// free, and a 160 MiB block is still allocated. Not under the sanitizers, whose shadow memory
// needs terabytes of address space.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "stress_common.h"

#define MiB ((size_t)1 << 20)

static void test_cached_mappings_give_way_to_a_new_block(void **state) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip();
#else
    enum { BLOCKS = 24 };
    void *blocks[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = hak_malloc(8 * MiB);
        assert_non_null(blocks[i]);
        memset(blocks[i], 1, 4096);
    }
    for (int i = 0; i < BLOCKS; i++) hak_free(blocks[i]);
    hak_stats_t st;
    hak_stats_get(&st);
    assert_true(st.huge_cached_bytes >= 100 * MiB); // kept for reuse, mapped
    long vm = status_kb("VmSize:");
    assert_true(vm > 0);
    struct rlimit lim = {(rlim_t)vm * 1024 + 64 * MiB, RLIM_INFINITY};
    assert_int_equal(setrlimit(RLIMIT_AS, &lim), 0);
    char *big = hak_malloc(160 * MiB);
    assert_non_null(big);
    big[0] = 1;
    big[160 * MiB - 1] = 1;
    hak_stats_get(&st);
    assert_true(st.huge_cached_bytes < 100 * MiB);
    hak_free(big);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_mappings_give_way_to_a_new_block),
    };
    return cmocka_run_group_tests_name("address_pressure", tests, NULL, NULL);
}
