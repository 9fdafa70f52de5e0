// The few functions of real numbers the profiler needs, so that libhakmem does not link libm (a
// program that does not profile then maps one library less). Accurate to about 1e-9 relative,
// far below the sampling's own noise; tests/unit/test_prof_math.c compares them with libm's.
#ifndef HAK_PROF_MATH_H
#define HAK_PROF_MATH_H

#include <stdint.h>
#include <string.h>

#define PROF_LN2 0.69314718055994530942

// ln(x), x > 0 and finite: x = m 2^e, m in [1, 2); ln m = 2 atanh((m - 1) / (m + 1)).
static inline double prof_ln(double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffu) | 0x3ff0000000000000u;
    double m;
    memcpy(&m, &bits, sizeof m);
    double t = (m - 1) / (m + 1), t2 = t * t, sum = 0;
    for (int k = 23; k >= 1; k -= 2) sum = sum * t2 + 1.0 / k; // |t| <= 1/3: t^25 / 25 < 1e-13
    return e * PROF_LN2 + 2 * t * sum;
}

// exp(x) for x <= 0: x = k ln 2 + r, r in (-ln 2, 0]; exp(r) by its series.
static inline double prof_exp_neg(double x) {
    if (x < -700) return 0;
    int k = (int)(x / PROF_LN2); // toward 0: r = x - k ln 2 in (-ln 2, 0]
    double r = x - k * PROF_LN2, term = 1, sum = 1;
    for (int n = 1; n <= 16; n++) {
        term *= r / n;
        sum += term;
    }
    uint64_t bits = (uint64_t)(1023 + k) << 52; // 2^k, k >= -1010
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return sum * scale;
}

// 1 - exp(-y) for y >= 0, accurate for small y too (the chance that a small block is sampled).
static inline double prof_one_minus_exp_neg(double y) {
    if (y < 1e-5) return y * (1 - y * (0.5 - y / 6));
    return 1 - prof_exp_neg(-y);
}

// The least integer at least x, for 0 <= x < 2^63.
static inline uint64_t prof_ceil(double x) {
    uint64_t n = (uint64_t)x;
    return (double)n < x ? n + 1 : n;
}

#endif
