// Unit tests of the stack_table box: each distinct stack interned once, totals kept per stack,
// the index growing past many stacks, depth clamped, reset; threads interning and counting at once.
#include <pthread.h>
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
    assert_true(hak_counter_get(&sa->alloc_bytes) == 0 && hak_counter_get(&sa->inuse_objects) == 0);
    stack_table_count_alloc(sa, 2, 100); // the caller's totals stay with the stack
    stack_table_count_alloc(sa, 1, 50);
    stack_table_count_free(sa, 2, 100);
    st_stack_t *again = stack_table_intern(&t, a, 3);
    assert_int_equal(hak_counter_get(&again->alloc_objects), 3);
    assert_int_equal(hak_counter_get(&again->alloc_bytes), 150);
    assert_int_equal(hak_counter_get(&again->inuse_objects), 1);
    assert_int_equal(hak_counter_get(&again->inuse_bytes), 50);
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
    assert_true(t.index->nslots >= 2 * N); // the index grew with the stacks
    for (uintptr_t i = 0; i < N; i += 7) {
        void *f[4] = {(void *)(i * 16), (void *)0x77, (void *)(i ^ 0x5555), (void *)1};
        assert_ptr_equal(stack_table_intern(&t, f, 4), first[i]);
    }
    size_t seen = 0;
    for (st_stack_t *s = stack_table_first(&t); s != NULL; s = s->next_all) seen++;
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

// Threads intern the same stacks at once while the index grows under them (their first lookups
// read older indexes), counting each sample: one stack per frames, every count kept.
enum { THREADS = 4, SHARED_STACKS = 20000, ROUNDS = 3 };
static stack_table_t shared;
static st_stack_t *_Atomic seen_first[SHARED_STACKS];
static _Atomic unsigned wrong; // cmocka's checks belong to the main thread

static void *intern_concurrently(void *arg) {
    uintptr_t seed = (uintptr_t)arg;
    for (int round = 0; round < ROUNDS; round++)
        for (uintptr_t k = 0; k < SHARED_STACKS; k++) {
            uintptr_t i = (k * 7919 + seed * 104729) % SHARED_STACKS; // each thread its own order
            void *f[3] = {(void *)(i + 1), (void *)0x42, (void *)(i * 3)};
            st_stack_t *s = stack_table_intern(&shared, f, 3), *expected = NULL;
            if (s == NULL || (!atomic_compare_exchange_strong(&seen_first[i], &expected, s) && expected != s)) {
                atomic_fetch_add(&wrong, 1);
                continue;
            }
            stack_table_count_alloc(s, 1, i);
            if (round > 0) stack_table_count_free(s, 1, i);
        }
    return NULL;
}

static void test_threads_intern_at_once(void **state) {
    stack_table_init(&shared);
    pthread_t threads[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, intern_concurrently, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    assert_int_equal(atomic_load(&wrong), 0);
    assert_int_equal(shared.count, SHARED_STACKS);
    assert_int_equal(hak_counter_get(&shared.stats.stacks), SHARED_STACKS);
    size_t listed = 0;
    for (st_stack_t *s = stack_table_first(&shared); s != NULL; s = s->next_all) {
        uintptr_t i = (uintptr_t)s->frames[0] - 1;
        assert_ptr_equal(atomic_load(&seen_first[i]), s);
        assert_int_equal(hak_counter_get(&s->alloc_objects), THREADS * ROUNDS);
        assert_int_equal(hak_counter_get(&s->inuse_objects), THREADS);
        assert_int_equal(hak_counter_get(&s->inuse_bytes), THREADS * i);
        listed++;
    }
    assert_int_equal(listed, SHARED_STACKS);
    stack_table_reset(&shared);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_frames_same_stack),
        cmocka_unit_test(test_many_stacks),
        cmocka_unit_test(test_depth_clamped),
        cmocka_unit_test(test_threads_intern_at_once),
    };
    return cmocka_run_group_tests_name("stack_table", tests, NULL, NULL);
}
