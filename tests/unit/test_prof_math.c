// The profiler's own ln, exp, ceil and rounding against the C library's (libm).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "prof_math.h"

static void near(double got, double want, double rel) {
    double err = fabs(got - want), scale = fabs(want) > 1e-300 ? fabs(want) : 1;
    if (err > rel * scale) fail_msg("got %.17g, want %.17g", got, want);
}

static void test_ln(void **state) {
    for (double x = 1e-17; x <= 1; x *= 1.0137) near(prof_ln(x), log(x), 1e-10);
    near(prof_ln(0x1.0p-53), log(0x1.0p-53), 1e-10); // the smallest uniform variate drawn
    near(prof_ln(1), 0, 1e-15);
    for (double x = 1; x < 1e12; x *= 3.7) near(prof_ln(x), log(x), 1e-10);
}

static void test_exp_and_chance(void **state) {
    for (double x = -0.0; x > -745; x = x * 1.03 - 1e-7) near(prof_exp_neg(x), exp(x), 1e-9);
    for (double y = 1e-12; y < 100; y *= 1.07) near(prof_one_minus_exp_neg(y), -expm1(-y), 1e-9);
}

static void test_ceil_and_round(void **state) {
    for (double x = 0; x < 1e15; x = x * 1.3 + 0.37) assert_int_equal(prof_ceil(x), (uint64_t)ceil(x));
    assert_int_equal(prof_ceil(5.0), 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ln),
        cmocka_unit_test(test_exp_and_chance),
        cmocka_unit_test(test_ceil_and_round),
    };
    return cmocka_run_group_tests_name("prof_math", tests, NULL, NULL);
}
