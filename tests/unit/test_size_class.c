// Unit tests of the size classes (frontends/slab/size_class.h): the one definition of block sizes.
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "size_class.h"

// Reference: the smallest class whose size is at least n (class 0 for n = 0).
static unsigned reference_class(size_t n) {
    for (unsigned c = 0; c < HAK_SIZE_CLASSES; c++)
        if (hak_class_size[c] >= n) return c;
    return HAK_SIZE_CLASSES; // too big for any class
}

static void test_sizes_are_16_multiples_strictly_increasing(void **state) {
    assert_int_equal(hak_class_size[0], 16);
    for (unsigned c = 0; c < HAK_SIZE_CLASSES; c++) {
        if (hak_class_size[c] % 16 != 0)
            fail_msg("class %u size %u is not a multiple of 16", c, hak_class_size[c]);
        if (c > 0 && hak_class_size[c] <= hak_class_size[c - 1])
            fail_msg("class %u size %u not above class %u size %u", c, hak_class_size[c], c - 1,
                     hak_class_size[c - 1]);
    }
    // The table ends exactly at the largest slab size.
    assert_int_equal(hak_class_size[HAK_SIZE_CLASSES - 1], HAK_LARGE_MAX);
}

static void test_frontend_boundaries(void **state) {
    assert_int_equal(hak_class_size[HAK_TINY_CLASSES - 1], HAK_TINY_MAX);
    assert_int_equal(hak_class_size[HAK_TINY_CLASSES + HAK_MID_CLASSES - 1], HAK_MID_MAX);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        unsigned f = size_class_frontend(c);
        uint32_t sz = hak_class_size[c];
        unsigned want = sz <= HAK_TINY_MAX  ? FRONTEND_TINY
                        : sz <= HAK_MID_MAX ? FRONTEND_MID
                                            : FRONTEND_LARGE;
        if (f != want) fail_msg("class %u (%u B) in frontend %u, expected %u", c, sz, f, want);
        assert_int_equal(size_class_segment_kind(c), (seg_kind_t)f);
    }
    // Tiny: 16 B apart up to 128 B.
    for (unsigned c = 0; c < 8; c++)
        assert_int_equal(hak_class_size[c], 16 * (c + 1));
}

static void test_size_class_of_exhaustive_to_64k(void **state) {
    for (size_t n = 0; n <= 64 * HAK_KiB; n++) {
        unsigned got = size_class_of(n), want = reference_class(n);
        if (got != want) fail_msg("size_class_of(%zu) = %u, expected %u", n, got, want);
    }
}

static void test_size_class_of_sampled_to_large_max(void **state) {
    // A prime stride through the whole range, plus every class boundary and its neighbours.
    for (size_t n = 64 * HAK_KiB; n <= HAK_LARGE_MAX; n += 97) {
        unsigned got = size_class_of(n), want = reference_class(n);
        if (got != want) fail_msg("size_class_of(%zu) = %u, expected %u", n, got, want);
    }
    for (unsigned c = 0; c < HAK_SIZE_CLASSES; c++) {
        size_t s = hak_class_size[c];
        const size_t probe[] = {s - 16, s - 15, s - 1, s, s + 1, s + 15, s + 16};
        for (int i = 0; i < 7; i++) {
            size_t n = probe[i];
            if (n > HAK_LARGE_MAX) continue;
            unsigned got = size_class_of(n), want = reference_class(n);
            if (got != want) fail_msg("size_class_of(%zu) = %u, expected %u", n, got, want);
        }
        assert_int_equal(size_class_of(s), c); // an exact class size maps to itself
    }
    assert_int_equal(size_class_of(HAK_LARGE_MAX), HAK_SIZE_CLASSES - 1);
    assert_int_equal(size_class_of(0), 0);
    assert_int_equal(size_class_of(1), 0);
}

static void test_small_table_agrees(void **state) {
    for (size_t n = 0; n <= HAK_TINY_MAX; n++) {
        unsigned t = size_class_small(n), c = size_class_of(n), want = reference_class(n);
        if (t != c || t != want)
            fail_msg("n=%zu: size_class_small %u, size_class_of %u, reference %u", n, t, c, want);
    }
    for (size_t i = 0; i <= HAK_TINY_MAX / 16; i++) {
        assert_int_equal(hak_small_entry[i], reference_class(i * 16) * HAK_CLASS_ENTRY_SIZE);
        assert_true(hak_small_entry[i] < HAK_TINY_CLASSES * HAK_CLASS_ENTRY_SIZE);
    }
}

static void test_waste_bounded(void **state) {
    // The worst request for class c is one byte above class c-1: the block wastes
    // size[c] - size[c-1] - 1 bytes. Above 128 B this stays below 20% of the block.
    double worst = 0;
    for (unsigned c = 1; c < HAK_SIZE_CLASSES; c++) {
        uint32_t sz = hak_class_size[c];
        if (sz <= 128) {
            assert_int_equal(sz - hak_class_size[c - 1], 16);
            continue;
        }
        double waste = (double)(sz - hak_class_size[c - 1] - 1) / sz;
        if (waste > worst) worst = waste;
        if (waste >= 0.20) fail_msg("class %u (%u B) wastes %.1f%%", c, sz, waste * 100);
    }
    print_message("worst-case waste above 128 B: %.3f%%\n", worst * 100);
}

static void test_powers_of_two_are_classes(void **state) {
    for (size_t p = 16; p <= HAK_MiB; p <<= 1) {
        unsigned c = size_class_of(p);
        if (hak_class_size[c] != p)
            fail_msg("%zu B is not a class (maps to %u B)", p, hak_class_size[c]);
    }
}

// Reference: the smallest size of at least n bytes (1 for 0) that align divides, in a class that
// is not coloured when align is above what coloured blocks are aligned to (the first such class).
static unsigned reference_aligned_class(size_t n, size_t align) {
    unsigned best = HAK_NCLASSES;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        uint32_t sz = hak_class_size[c];
        if (sz < (n ? n : 1) || sz % align != 0) continue;
        if (align > HAK_COLOR_ALIGN && size_class_colored(c)) continue;
        if (best == HAK_NCLASSES || sz < hak_class_size[best]) best = c;
    }
    return best;
}

static void test_aligned_twins(void **state) {
    unsigned twins = 0;
    for (unsigned c = 0; c < HAK_SIZE_CLASSES; c++) {
        uint32_t sz = hak_class_size[c];
        bool colored = sz <= HAK_MID_MAX && sz % 128 == 0; // the rule size_class.h states
        assert_int_equal(size_class_colored(c), colored);
        unsigned t = hak_aligned_twin[c];
        if (!colored) {
            assert_int_equal(t, c);
            continue;
        }
        twins++;
        assert_in_range(t, HAK_SIZE_CLASSES, HAK_NCLASSES - 1);
        assert_int_equal(hak_class_size[t], sz);
        assert_false(size_class_colored(t));
        assert_int_equal(size_class_frontend(t), size_class_frontend(c));
        for (unsigned d = 0; d < c; d++) assert_int_not_equal(hak_aligned_twin[d], t);
    }
    assert_int_equal(twins, HAK_ALIGNED_TWINS);
}

static void test_size_class_aligned(void **state) {
    for (size_t align = 16; align <= 64 * HAK_KiB; align <<= 1) {
        size_t step = align >= 4096 ? 61 : 1; // exhaustive for the small alignments
        for (size_t n = 0; ((n + align - 1) & ~(align - 1)) <= HAK_LARGE_MAX; n += step) {
            unsigned got = size_class_aligned(n, align), want = reference_aligned_class(n, align);
            if (got != want)
                fail_msg("size_class_aligned(%zu, %zu) = %u, expected %u", n, align, got, want);
        }
    }
}

static void test_batch_and_cache_cap(void **state) {
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        uint32_t b = size_class_batch(c), cap = size_class_cache_cap(c);
        assert_in_range(b, 1, 64);
        assert_true(cap >= 2);
        assert_true(cap >= b); // a full batch always fits the cache
        // About HAK_CACHE_BATCH_BYTES per batch, except where the 1..64 clamp applies.
        if (b > 1 && b < 64) {
            assert_true((uint64_t)b * hak_class_size[c] <= HAK_CACHE_BATCH_BYTES);
            assert_true((uint64_t)(b + 1) * hak_class_size[c] > HAK_CACHE_BATCH_BYTES);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_are_16_multiples_strictly_increasing),
        cmocka_unit_test(test_frontend_boundaries),
        cmocka_unit_test(test_size_class_of_exhaustive_to_64k),
        cmocka_unit_test(test_size_class_of_sampled_to_large_max),
        cmocka_unit_test(test_small_table_agrees),
        cmocka_unit_test(test_waste_bounded),
        cmocka_unit_test(test_powers_of_two_are_classes),
        cmocka_unit_test(test_size_class_aligned),
        cmocka_unit_test(test_aligned_twins),
        cmocka_unit_test(test_batch_and_cache_cap),
    };
    return cmocka_run_group_tests_name("size_class", tests, NULL, NULL);
}
