// Unit tests of the tls_sll box: a bounded, single-threaded LIFO list of free blocks.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tls_sll.h"

#define NBLOCKS 256

// Blocks are 16-byte cells; the list links through their first word.
typedef struct {
    void *link;
    uintptr_t tag;
} block_t;

static block_t blocks[NBLOCKS];

// Walk the list and check that count matches the number of linked blocks.
static uint32_t walk_length(const tls_sll_t *l) {
    uint32_t n = 0;
    for (void *b = l->head; b != NULL; b = *(void **)b) {
        n++;
        if (n > NBLOCKS + 1) fail_msg("tls_sll list is cyclic");
    }
    return n;
}

static void link_chain(int from, int n) {
    for (int i = 0; i < n - 1; i++)
        blocks[from + i].link = &blocks[from + i + 1];
    blocks[from + n - 1].link = (void *)0xdeadbeef; // push_chain must overwrite last's link
}

static void test_init_and_empty_pop(void **state) {
    tls_sll_t l;
    tls_sll_init(&l, 8);
    assert_null(l.head);
    assert_int_equal(l.count, 0);
    assert_int_equal(l.cap, 8);
    assert_null(tls_sll_pop(&l));
    assert_null(tls_sll_pop(&l));
    assert_int_equal(l.count, 0); // an empty pop must not underflow the count
}

static void test_lifo_order_and_count(void **state) {
    tls_sll_t l;
    tls_sll_init(&l, NBLOCKS + 1);
    for (int i = 0; i < 100; i++) {
        assert_false(tls_sll_push(&l, &blocks[i]));
        assert_int_equal(l.count, (uint32_t)i + 1);
        assert_ptr_equal(l.head, &blocks[i]);
    }
    assert_int_equal(walk_length(&l), 100);
    for (int i = 99; i >= 0; i--) {
        assert_ptr_equal(tls_sll_pop(&l), &blocks[i]);
        assert_int_equal(l.count, (uint32_t)i);
    }
    assert_null(tls_sll_pop(&l));
    assert_null(l.head);
    assert_int_equal(l.count, 0);
}

static void test_interleaved_push_pop(void **state) {
    tls_sll_t l;
    tls_sll_init(&l, NBLOCKS + 1);
    tls_sll_push(&l, &blocks[0]);
    tls_sll_push(&l, &blocks[1]);
    assert_ptr_equal(tls_sll_pop(&l), &blocks[1]);
    tls_sll_push(&l, &blocks[2]);
    assert_ptr_equal(tls_sll_pop(&l), &blocks[2]);
    assert_ptr_equal(tls_sll_pop(&l), &blocks[0]);
    assert_null(tls_sll_pop(&l));
    // A popped block pushed again comes back first.
    tls_sll_push(&l, &blocks[0]);
    assert_ptr_equal(tls_sll_pop(&l), &blocks[0]);
    assert_int_equal(l.count, 0);
}

static void test_full_exactly_at_cap(void **state) {
    for (uint32_t cap = 1; cap <= 64; cap++) {
        tls_sll_t l;
        tls_sll_init(&l, cap);
        for (uint32_t i = 1; i <= cap; i++) {
            bool full = tls_sll_push(&l, &blocks[i - 1]);
            if (i < cap)
                assert_false(full);
            else
                assert_true(full);
        }
        assert_int_equal(l.count, cap);
        // After one pop the list is below its bound; the next push reaches it again.
        assert_ptr_equal(tls_sll_pop(&l), &blocks[cap - 1]);
        assert_true(tls_sll_push(&l, &blocks[cap - 1]));
        // Pushing past the bound is allowed (the caller decides when to drain) and keeps saying
        // full.
        assert_true(tls_sll_push(&l, &blocks[cap]));
        assert_int_equal(l.count, cap + 1);
        assert_int_equal(walk_length(&l), cap + 1);
    }
}

static void test_push_chain(void **state) {
    tls_sll_t l;
    tls_sll_init(&l, NBLOCKS + 1);
    // Chain into an empty list.
    link_chain(0, 5);
    tls_sll_push_chain(&l, &blocks[0], &blocks[4], 5);
    assert_int_equal(l.count, 5);
    assert_int_equal(walk_length(&l), 5);
    // Chain in front of a non-empty list: chain order first, then the old list.
    link_chain(10, 3);
    tls_sll_push_chain(&l, &blocks[10], &blocks[12], 3);
    assert_int_equal(l.count, 8);
    assert_int_equal(walk_length(&l), 8);
    int expect[] = {10, 11, 12, 0, 1, 2, 3, 4};
    for (int i = 0; i < 8; i++)
        assert_ptr_equal(tls_sll_pop(&l), &blocks[expect[i]]);
    assert_null(tls_sll_pop(&l));
    // A chain of one block.
    link_chain(20, 1);
    tls_sll_push_chain(&l, &blocks[20], &blocks[20], 1);
    assert_int_equal(l.count, 1);
    assert_ptr_equal(tls_sll_pop(&l), &blocks[20]);
    assert_null(tls_sll_pop(&l));
}

static void fill(tls_sll_t *l, int n) {
    tls_sll_init(l, NBLOCKS + 1);
    for (int i = 0; i < n; i++)
        tls_sll_push(l, &blocks[i]);
}

static void check_chain(void *chain, uint32_t n, int top) {
    // The chain holds blocks top, top-1, ..., top-n+1 and is NULL-terminated.
    void *b = chain;
    for (uint32_t i = 0; i < n; i++) {
        assert_non_null(b);
        assert_ptr_equal(b, &blocks[top - (int)i]);
        b = *(void **)b;
    }
    assert_null(b);
}

static void test_pop_chain_zero(void **state) {
    tls_sll_t l;
    fill(&l, 10);
    void *chain = (void *)0x1, *last = (void *)0x1;
    assert_int_equal(tls_sll_pop_chain(&l, 0, &chain, &last), 0);
    assert_null(chain);
    assert_null(last);
    assert_int_equal(l.count, 10);
    assert_int_equal(walk_length(&l), 10);
    assert_ptr_equal(l.head, &blocks[9]);
}

static void test_pop_chain_empty(void **state) {
    tls_sll_t l;
    tls_sll_init(&l, 8);
    void *chain = (void *)0x1, *last = (void *)0x1;
    assert_int_equal(tls_sll_pop_chain(&l, 5, &chain, &last), 0);
    assert_null(chain);
    assert_null(last);
    assert_int_equal(l.count, 0);
    assert_null(l.head);
}

static void test_pop_chain_one(void **state) {
    tls_sll_t l;
    fill(&l, 10);
    void *chain, *last;
    assert_int_equal(tls_sll_pop_chain(&l, 1, &chain, &last), 1);
    check_chain(chain, 1, 9);
    assert_ptr_equal(last, &blocks[9]);
    assert_int_equal(l.count, 9);
    assert_int_equal(walk_length(&l), 9);
    assert_ptr_equal(tls_sll_pop(&l), &blocks[8]);
}

static void test_pop_chain_n(void **state) {
    for (uint32_t n = 1; n <= 10; n++) {
        tls_sll_t l;
        fill(&l, 10);
        void *chain, *last;
        assert_int_equal(tls_sll_pop_chain(&l, n, &chain, &last), n);
        check_chain(chain, n, 9);
        assert_ptr_equal(last, &blocks[10 - n]);
        assert_int_equal(l.count, 10 - n);
        assert_int_equal(walk_length(&l), 10 - n);
        if (n < 10)
            assert_ptr_equal(l.head, &blocks[9 - n]);
        else
            assert_null(l.head);
    }
}

static void test_pop_chain_more_than_count(void **state) {
    tls_sll_t l;
    fill(&l, 7);
    void *chain, *last;
    assert_int_equal(tls_sll_pop_chain(&l, 100, &chain, &last), 7);
    check_chain(chain, 7, 6);
    assert_ptr_equal(last, &blocks[0]);
    assert_int_equal(l.count, 0);
    assert_null(l.head);
    assert_null(tls_sll_pop(&l));
    // The list is usable again afterwards.
    assert_false(tls_sll_push(&l, &blocks[0]));
    assert_int_equal(l.count, 1);
    assert_ptr_equal(tls_sll_pop(&l), &blocks[0]);
}

static void test_pop_chain_then_push_chain_roundtrip(void **state) {
    // Drain a batch and put it back as a chain: order and count are preserved.
    tls_sll_t l;
    fill(&l, 32);
    void *chain, *last, *walked = NULL;
    uint32_t n = tls_sll_pop_chain(&l, 16, &chain, &last);
    assert_int_equal(n, 16);
    for (void *b = chain; b != NULL; b = *(void **)b)
        walked = b;
    assert_ptr_equal(last, &blocks[16]);
    assert_ptr_equal(walked, last);
    tls_sll_push_chain(&l, chain, last, n);
    assert_int_equal(l.count, 32);
    assert_int_equal(walk_length(&l), 32);
    for (int i = 31; i >= 0; i--)
        assert_ptr_equal(tls_sll_pop(&l), &blocks[i]);
    assert_null(tls_sll_pop(&l));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_empty_pop),
        cmocka_unit_test(test_lifo_order_and_count),
        cmocka_unit_test(test_interleaved_push_pop),
        cmocka_unit_test(test_full_exactly_at_cap),
        cmocka_unit_test(test_push_chain),
        cmocka_unit_test(test_pop_chain_zero),
        cmocka_unit_test(test_pop_chain_empty),
        cmocka_unit_test(test_pop_chain_one),
        cmocka_unit_test(test_pop_chain_n),
        cmocka_unit_test(test_pop_chain_more_than_count),
        cmocka_unit_test(test_pop_chain_then_push_chain_roundtrip),
    };
    return cmocka_run_group_tests_name("tls_sll", tests, NULL, NULL);
}
