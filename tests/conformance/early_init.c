// The first allocation of the process can come before main and before hakmem's own constructor:
// from another constructor (here, the earliest priority a program may use), or from a C library
// routine that allocates. It must work, and what it allocated must stay valid through main.
#define _GNU_SOURCE
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hakmem.h"

#ifdef HAKMEM_EARLY_PLAIN
#define API(f) f
#else
#define API(f) hak_##f
#endif

static char *early_small, *early_mid, *early_huge;
#ifdef HAKMEM_EARLY_PLAIN
static char *early_dup;
#endif

__attribute__((constructor(101))) static void allocate_before_main(void) {
    early_small = API(malloc)(24);
    early_mid = API(calloc)(1, 10000);
    early_huge = API(malloc)(5 << 20);
    if (early_small != NULL) strcpy(early_small, "before main");
    if (early_huge != NULL) memset(early_huge, 0x42, 5 << 20);
#ifdef HAKMEM_EARLY_PLAIN
    early_dup = strdup("libc allocates through hakmem"); // malloc called from inside the C library
#endif
}

static void test_blocks_from_before_main_are_valid(void **state) {
    assert_non_null(early_small);
    assert_string_equal(early_small, "before main");
    assert_non_null(early_mid);
    for (size_t i = 0; i < 10000; i++) assert_int_equal(early_mid[i], 0);
    assert_non_null(early_huge);
    assert_int_equal(early_huge[(5 << 20) - 1], 0x42);
    assert_true(API(malloc_usable_size)(early_small) >= 24);
#ifdef HAKMEM_EARLY_PLAIN
    assert_non_null(early_dup);
    assert_string_equal(early_dup, "libc allocates through hakmem");
    assert_true(hak_malloc_usable_size(early_dup) >= 30); // it is hakmem's block
    free(early_dup);
#endif
    API(free)(early_small);
    API(free)(early_mid);
    API(free)(early_huge);
    hak_stats_t st;
    hak_stats_get(&st);
    assert_true(st.allocs[0] >= 1 && st.allocs[1] >= 1 && st.allocs[3] >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_blocks_from_before_main_are_valid)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
