// Unit tests of the stack_table box: each distinct stack interned once, totals kept per stack,
// the index growing past many stacks, depth clamped, reset.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stack_table.h"

static void test_same_frames_same_stack(void **state) {
    stack_table_t t;
    stack_table_init(&t);
    void *a[] = {(void *)0x1000, (void *)0x2000, (void *)0x3000};
    void *b[] = {(void *)0x1000, (void *)0x2000, (void *)0x3001};
    st_stack_t *sa = stack_table_intern(&t, a, 3), *sb = stack_table_intern(&t, b, 3);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_ptr_not_equal(sa, sb);
    assert_ptr_equal(stack_table_intern(&t, a, 3), sa);
    assert_ptr_not_equal(stack_table_intern(&t, a, 2), sa); // a prefix is another stack
    assert_int_equal(sa->depth, 3);
    assert_memory_equal(sa->frames, a, sizeof a);
    assert_true(sa->alloc_bytes == 0 && sa->inuse_objects == 0);
    sa->inuse_bytes += 100; // the caller's totals stay with the stack
    assert_true(stack_table_intern(&t, a, 3)->inuse_bytes == 100);
    assert_int_equal(hak_counter_get(&t.stats.stacks), 3);
    stack_table_reset(&t);
    assert_int_equal(t.count, 0);
}

static void test_many_stacks(void **state) {
    stack_table_t t;
    stack_table_init(&t);
    enum { N = 100000 };
    static st_stack_t *first[N];
    for (uintptr_t i = 0; i < N; i++) {
        void *f[4] = {(void *)(i * 16), (void *)0x77, (void *)(i ^ 0x5555), (void *)1};
        first[i] = stack_table_intern(&t, f, 4);
        assert_non_null(first[i]);
    }
    assert_int_equal(t.count, N);
    assert_true(t.nbuckets >= N); // the index grew with the stacks
    for (uintptr_t i = 0; i < N; i += 7) {
        void *f[4] = {(void *)(i * 16), (void *)0x77, (void *)(i ^ 0x5555), (void *)1};
        assert_ptr_equal(stack_table_intern(&t, f, 4), first[i]);
    }
    size_t seen = 0;
    for (st_stack_t *s = t.all; s != NULL; s = s->next_all) seen++;
    assert_int_equal(seen, N);
    stack_table_reset(&t);
}

static void test_depth_clamped(void **state) {
    stack_table_t t;
    stack_table_init(&t);
    void *f[STACK_TABLE_MAX_DEPTH + 10];
    for (int i = 0; i < STACK_TABLE_MAX_DEPTH + 10; i++) f[i] = (void *)(uintptr_t)(i + 1);
    st_stack_t *s = stack_table_intern(&t, f, STACK_TABLE_MAX_DEPTH + 10);
    assert_int_equal(s->depth, STACK_TABLE_MAX_DEPTH);
    assert_ptr_equal(stack_table_intern(&t, f, STACK_TABLE_MAX_DEPTH), s);
    stack_table_reset(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_frames_same_stack),
        cmocka_unit_test(test_many_stacks),
        cmocka_unit_test(test_depth_clamped),
    };
    return cmocka_run_group_tests_name("stack_table", tests, NULL, NULL);
}
