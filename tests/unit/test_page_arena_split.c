// Unit tests of the page_arena box's splitting and merging (page_arena_set_split): a bigger span
// serves a smaller take by its head, the rest stays cached; a span put beside hot spans merges
// with them; warm spans never merge; a miss may take the biggest smaller hot span; long random churn hands out no byte twice and loses none.
// Spans are real mappings, written and read back.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "page_arena.h"

static size_t page, unit;

static int setup(void **state) {
    page = hak_os_page_size();
    unit = 16 * page;
    return 0;
}

static uint64_t cnt(_Atomic uint64_t *c) { return atomic_load(c); }

static page_arena_t *new_arena(size_t max_hot, size_t max_warm) {
    static page_arena_t a;
    page_arena_init(&a, max_hot, max_warm, UINT64_MAX, UINT64_MAX);
    page_arena_set_split(&a, unit);
    return &a;
}

static char *map_units(size_t n) {
    char *p = hak_os_reserve_aligned(n * unit, unit);
    assert_non_null(p);
    return p;
}

static void *take(page_arena_t *a, size_t bytes, size_t *got, bool *hot) {
    *got = 0;
    return page_arena_take(a, bytes, got, hot);
}

static void test_bigger_span_split_at_the_unit(void **state) {
    page_arena_t *a = new_arena(SIZE_MAX, SIZE_MAX);
    char *span = map_units(10);
    memset(span, 0x5c, 10 * unit);
    page_arena_put(a, span, 10 * unit, 0);
    size_t got;
    bool hot;
    char *head = take(a, 3 * unit + page, &got, &hot); // rounded up to 4 units
    assert_ptr_equal(head, span);
    assert_int_equal(got, 4 * unit);
    assert_true(hot);
    char *rest = take(a, 6 * unit, &got, &hot); // the rest, whole, its pages kept
    assert_ptr_equal(rest, span + 4 * unit);
    assert_int_equal(got, 6 * unit);
    assert_int_equal((unsigned char)rest[6 * unit - 1], 0x5c);
    assert_null(take(a, unit, &got, &hot));
    assert_int_equal(cnt(&a->stats.splits), 1);
    assert_int_equal(cnt(&a->stats.hot_hits), 2);
    hak_os_release(span, 10 * unit);
}

static void test_close_fit_taken_whole(void **state) {
    page_arena_t *a = new_arena(SIZE_MAX, SIZE_MAX);
    char *span = map_units(5);
    page_arena_put(a, span, 5 * unit, 0);
    size_t got;
    bool hot;
    assert_ptr_equal(take(a, 4 * unit + page, &got, &hot), span); // within a quarter: no split
    assert_int_equal(got, 5 * unit);
    assert_int_equal(cnt(&a->stats.splits), 0);
    // More than a quarter over, but less than a unit would be left: whole too.
    page_arena_put(a, span, unit + unit / 2, 0);
    assert_ptr_equal(take(a, unit / 2 + page, &got, &hot), span);
    assert_int_equal(got, unit + unit / 2);
    assert_int_equal(cnt(&a->stats.splits), 0);
    hak_os_release(span, 5 * unit);
}

static void test_head_put_back_merges_with_the_rest(void **state) {
    page_arena_t *a = new_arena(SIZE_MAX, SIZE_MAX);
    char *span = map_units(10);
    page_arena_put(a, span, 10 * unit, 0);
    size_t got;
    bool hot;
    char *head = take(a, 2 * unit, &got, &hot);
    assert_int_equal(got, 2 * unit);
    page_arena_put(a, head, got, 1);
    assert_int_equal(cnt(&a->stats.merges), 1);
    assert_int_equal(a->hot.count, 1);
    assert_ptr_equal(take(a, 10 * unit, &got, &hot), span); // whole again
    assert_int_equal(got, 10 * unit);
    hak_os_release(span, 10 * unit);
}

static void test_neighbours_on_both_sides_merge(void **state) {
    page_arena_t *a = new_arena(SIZE_MAX, SIZE_MAX);
    char *base = map_units(13), *span = base + unit, *far = base + 11 * unit; // gaps between
    page_arena_put(a, span, 3 * unit, 0);
    page_arena_put(a, span + 6 * unit, 3 * unit, 0);
    page_arena_put(a, far, 2 * unit, 0);
    assert_int_equal(a->hot.count, 3);
    page_arena_put(a, span + 3 * unit, 3 * unit, 0); // the middle joins both
    assert_int_equal(a->hot.count, 2);
    assert_int_equal(cnt(&a->stats.merges), 2);
    assert_int_equal(a->hot.bytes, 11 * unit);
    size_t got;
    bool hot;
    assert_ptr_equal(take(a, 9 * unit, &got, &hot), span);
    assert_int_equal(got, 9 * unit);
    assert_ptr_equal(take(a, 2 * unit, &got, &hot), far);
    hak_os_release(base, 13 * unit);
}

static void test_warm_spans_do_not_merge(void **state) {
    page_arena_t *a = new_arena(0, SIZE_MAX); // a put decommits at once: every span warm
    char *span = map_units(8);
    page_arena_put(a, span, 4 * unit, 0);
    page_arena_put(a, span + 4 * unit, 4 * unit, 0);
    assert_int_equal(a->warm.count, 2);
    assert_int_equal(cnt(&a->stats.merges), 0);
    size_t got;
    bool hot;
    assert_null(take(a, 8 * unit, &got, &hot));
    char *half = take(a, 3 * unit, &got, &hot); // a warm span still splits
    assert_false(hot);
    assert_int_equal(got, 3 * unit);
    for (size_t off = page; off < got; off += page) assert_int_equal(half[off], 0);
    assert_true(page_arena_trim(a));
    hak_os_release(half, got);
}

static void test_smaller_hot_span_for_a_miss(void **state) {
    page_arena_t *a = new_arena(SIZE_MAX, SIZE_MAX);
    char *base = map_units(18), *small = base, *bigger = base + 3 * unit, *big = base + 9 * unit;
    page_arena_put(a, small, 2 * unit, 0);
    page_arena_put(a, bigger, 5 * unit, 0);
    page_arena_put(a, big, 8 * unit, 0);
    size_t got = 0;
    assert_ptr_equal(page_arena_take_smaller(a, 8 * unit, &got), bigger); // the biggest below
    assert_int_equal(got, 5 * unit);
    assert_ptr_equal(page_arena_take_smaller(a, 2 * unit, &got), NULL); // none strictly smaller
    assert_int_equal(cnt(&a->stats.smaller_hits), 1);
    assert_true(page_arena_trim(a));
    hak_os_release(bigger, 5 * unit);
    (void)big;
}

// Random takes and puts of 1-12 units over a few mappings: every handed-out range is disjoint
// from the others (checked by writing an owner tag into each page and reading it back before the
// put), and once everything is put back and trimmed the counters balance.
static void test_random_churn_hands_out_no_byte_twice(void **state) {
    page_arena_t *a = new_arena(SIZE_MAX, SIZE_MAX);
    enum { MAPPINGS = 6, LIVE = 24, STEPS = 20000 };
    for (int m = 0; m < MAPPINGS; m++) page_arena_put(a, map_units(24), 24 * unit, 0);
    struct { char *p; size_t bytes; } live[LIVE] = {{0}};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (uint32_t step = 1; step <= STEPS; step++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        int k = (int)(seed % LIVE);
        if (live[k].p != NULL) {
            for (size_t off = 0; off < live[k].bytes; off += page)
                assert_int_equal(*(uint32_t *)(live[k].p + off), (uint32_t)k + 1);
            page_arena_put(a, live[k].p, live[k].bytes, step);
            live[k].p = NULL;
            continue;
        }
        size_t want = (1 + (seed >> 20) % 12) * unit - (seed >> 40) % 4 * page;
        bool hot;
        char *p = take(a, want, &live[k].bytes, &hot);
        if (p == NULL) continue; // fragmented or all handed out: fine, nothing is mapped here
        assert_true(live[k].bytes >= want);
        for (size_t off = 0; off < live[k].bytes; off += page) *(uint32_t *)(p + off) = (uint32_t)k + 1;
        live[k].p = p;
    }
    for (int k = 0; k < LIVE; k++)
        if (live[k].p != NULL) page_arena_put(a, live[k].p, live[k].bytes, STEPS + 1);
    assert_true(cnt(&a->stats.splits) > 100 && cnt(&a->stats.merges) > 100);
    assert_true(page_arena_trim(a));
    assert_int_equal(cnt(&a->stats.bytes_released), MAPPINGS * 24 * unit);
    assert_int_equal(cnt(&a->stats.puts) + cnt(&a->stats.splits),
                     cnt(&a->stats.hot_hits) + cnt(&a->stats.warm_hits) + cnt(&a->stats.released) +
                         cnt(&a->stats.merges));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bigger_span_split_at_the_unit),
        cmocka_unit_test(test_close_fit_taken_whole),
        cmocka_unit_test(test_head_put_back_merges_with_the_rest),
        cmocka_unit_test(test_neighbours_on_both_sides_merge),
        cmocka_unit_test(test_warm_spans_do_not_merge),
        cmocka_unit_test(test_smaller_hot_span_for_a_miss),
        cmocka_unit_test(test_random_churn_hands_out_no_byte_twice),
    };
    return cmocka_run_group_tests_name("page_arena_split", tests, setup, NULL);
}
