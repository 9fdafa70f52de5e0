// Unit tests of the unified_cache box: a bounded, single-threaded array stack of free blocks that
// never reads or writes the blocks themselves (except the links of a chain given to push_chain
// or taken with pop_chain).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unified_cache.h"

#define NBLOCKS 256
#define BLOCK_SIZE 64

// 64-byte blocks; a chain links through their first word, as the heap's chains do.
typedef union {
    void *link;
    unsigned char bytes[BLOCK_SIZE];
} block_t;

static block_t blocks[NBLOCKS] __attribute__((aligned(64)));

static void *blk(int i) {
    return &blocks[i];
}

// Link blocks[from + order[0]] -> blocks[from + order[1]] -> ...; the last link is garbage (the
// box must not read it). Returns the first block; *last gets the last one.
static void *link_chain(const int *order, int n, void **last) {
    for (int i = 0; i < n - 1; i++)
        blocks[order[i]].link = blk(order[i + 1]);
    blocks[order[n - 1]].link = (void *)0xdeadbeef;
    *last = blk(order[n - 1]);
    return blk(order[0]);
}

static unsigned char pattern(int block, int byte) {
    return (unsigned char)(0xA5 ^ (block * 31 + byte * 7));
}

static void fill_pattern(int from, int n) {
    for (int b = from; b < from + n; b++)
        for (int i = 0; i < BLOCK_SIZE; i++)
            blocks[b].bytes[i] = pattern(b, i);
}

static void check_pattern(int from, int n) {
    for (int b = from; b < from + n; b++)
        for (int i = 0; i < BLOCK_SIZE; i++)
            if (blocks[b].bytes[i] != pattern(b, i))
                fail_msg("block %d byte %d changed: 0x%02x", b, i, blocks[b].bytes[i]);
}

static void test_layout(void **state) {
    // The documented cost: two 32-bit words and 8 bytes per slot.
    assert_int_equal(sizeof(void *), 8);
    assert_int_equal(offsetof(unified_cache_t, slots), 8);
    assert_int_equal(sizeof(unified_cache_t), 8 + 8 * UNIFIED_CACHE_MAX);
}

static void test_init_and_empty_pop(void **state) {
    unified_cache_t c;
    memset(&c, 0x5a, sizeof c); // init must not rely on zeroed memory
    unified_cache_init(&c, 8);
    assert_int_equal(unified_cache_count(&c), 0);
    assert_int_equal(c.cap, 8);
    assert_null(unified_cache_pop(&c));
    assert_null(unified_cache_pop(&c));
    assert_int_equal(unified_cache_count(&c), 0); // an empty pop must not underflow the count
}

static void test_init_bounds(void **state) {
    unified_cache_t c;
    unified_cache_init(&c, 1);
    assert_int_equal(c.cap, 1);
    unified_cache_init(&c, UNIFIED_CACHE_MAX);
    assert_int_equal(c.cap, UNIFIED_CACHE_MAX);
#ifndef HAK_DEBUG_CHECKS
    // Out of range is a fatal error with debug checks, clamped without them.
    unified_cache_init(&c, 0);
    assert_int_equal(c.cap, 1);
    unified_cache_init(&c, UNIFIED_CACHE_MAX + 1);
    assert_int_equal(c.cap, UNIFIED_CACHE_MAX);
#endif
}

static void test_lifo_order_and_count(void **state) {
    unified_cache_t c;
    unified_cache_init(&c, UNIFIED_CACHE_MAX);
    for (int i = 0; i < 100; i++) {
        assert_false(unified_cache_push(&c, blk(i)));
        assert_int_equal(unified_cache_count(&c), (uint32_t)i + 1);
    }
    for (int i = 99; i >= 0; i--) {
        assert_ptr_equal(unified_cache_pop(&c), blk(i));
        assert_int_equal(unified_cache_count(&c), (uint32_t)i);
    }
    assert_null(unified_cache_pop(&c));
    assert_int_equal(unified_cache_count(&c), 0);
}

static void test_interleaved_push_pop(void **state) {
    unified_cache_t c;
    unified_cache_init(&c, 16);
    unified_cache_push(&c, blk(0));
    unified_cache_push(&c, blk(1));
    assert_ptr_equal(unified_cache_pop(&c), blk(1));
    unified_cache_push(&c, blk(2));
    assert_int_equal(unified_cache_count(&c), 2);
    assert_ptr_equal(unified_cache_pop(&c), blk(2));
    assert_ptr_equal(unified_cache_pop(&c), blk(0));
    assert_null(unified_cache_pop(&c));
    // A popped block pushed again comes back first.
    unified_cache_push(&c, blk(0));
    assert_ptr_equal(unified_cache_pop(&c), blk(0));
    assert_int_equal(unified_cache_count(&c), 0);
}

static void check_full_at_cap(uint32_t cap) {
    unified_cache_t c;
    unified_cache_init(&c, cap);
    for (uint32_t i = 1; i <= cap; i++) {
        bool full = unified_cache_push(&c, blk((int)i - 1));
        if (i < cap)
            assert_false(full);
        else
            assert_true(full);
        assert_int_equal(unified_cache_count(&c), i);
    }
    // After one pop the cache is below its bound; the next push reaches it again.
    assert_ptr_equal(unified_cache_pop(&c), blk((int)cap - 1));
    assert_int_equal(unified_cache_count(&c), cap - 1);
    assert_true(unified_cache_push(&c, blk((int)cap - 1)));
    // Draining it completely gives every block back, newest first.
    for (int i = (int)cap - 1; i >= 0; i--)
        assert_ptr_equal(unified_cache_pop(&c), blk(i));
    assert_null(unified_cache_pop(&c));
}

static void test_full_exactly_at_cap(void **state) {
    static const uint32_t caps[] = {1, 2, 64, 128};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        check_full_at_cap(caps[i]);
    for (uint32_t cap = 1; cap <= UNIFIED_CACHE_MAX; cap++)
        check_full_at_cap(cap);
}

static void test_push_chain_one(void **state) {
    unified_cache_t c;
    unified_cache_init(&c, 8);
    void *last;
    void *first = link_chain((const int[]){20}, 1, &last);
    assert_ptr_equal(first, last);
    unified_cache_push_chain(&c, first, last, 1);
    assert_int_equal(unified_cache_count(&c), 1);
    assert_ptr_equal(blocks[20].link, (void *)0xdeadbeef); // the chain is not written
    assert_ptr_equal(unified_cache_pop(&c), blk(20));
    assert_null(unified_cache_pop(&c));
    // A chain of one filling the cache to its bound.
    unified_cache_init(&c, 1);
    unified_cache_push_chain(&c, first, last, 1);
    assert_int_equal(unified_cache_count(&c), 1);
    assert_ptr_equal(unified_cache_pop(&c), blk(20));
}

static void test_push_chain_n(void **state) {
    // Chain order deliberately not address order: pops follow the chain, first block first.
    static const int order[] = {7, 3, 9, 0, 12, 5, 1, 8};
    const int n = (int)(sizeof order / sizeof order[0]);
    unified_cache_t c;
    unified_cache_init(&c, 16);
    void *last;
    void *first = link_chain(order, n, &last);
    unified_cache_push_chain(&c, first, last, (uint32_t)n);
    assert_int_equal(unified_cache_count(&c), (uint32_t)n);
    for (int i = 0; i < n; i++)
        assert_ptr_equal(unified_cache_pop(&c), blk(order[i]));
    assert_null(unified_cache_pop(&c));
}

static void test_push_chain_on_top_of_blocks(void **state) {
    // A chain goes on top: its blocks come out first, then the ones cached before.
    unified_cache_t c;
    unified_cache_init(&c, 16);
    unified_cache_push(&c, blk(100));
    unified_cache_push(&c, blk(101));
    static const int order[] = {10, 11, 12};
    void *last;
    void *first = link_chain(order, 3, &last);
    unified_cache_push_chain(&c, first, last, 3);
    assert_int_equal(unified_cache_count(&c), 5);
    const int expect[] = {10, 11, 12, 101, 100};
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(unified_cache_pop(&c), blk(expect[i]));
    assert_null(unified_cache_pop(&c));
}

static void test_push_chain_to_cap(void **state) {
    // A chain that fills the cache exactly, from empty and from partly full.
    int order[UNIFIED_CACHE_MAX];
    for (int i = 0; i < UNIFIED_CACHE_MAX; i++)
        order[i] = i;
    unified_cache_t c;
    unified_cache_init(&c, UNIFIED_CACHE_MAX);
    void *last;
    void *first = link_chain(order, UNIFIED_CACHE_MAX, &last);
    unified_cache_push_chain(&c, first, last, UNIFIED_CACHE_MAX);
    assert_int_equal(unified_cache_count(&c), UNIFIED_CACHE_MAX);
    for (int i = 0; i < UNIFIED_CACHE_MAX; i++)
        assert_ptr_equal(unified_cache_pop(&c), blk(i));
    assert_null(unified_cache_pop(&c));

    unified_cache_init(&c, 64);
    for (int i = 0; i < 32; i++)
        unified_cache_push(&c, blk(200 + i));
    first = link_chain(order, 32, &last);
    unified_cache_push_chain(&c, first, last, 32);
    assert_int_equal(unified_cache_count(&c), 64);
    for (int i = 0; i < 32; i++)
        assert_ptr_equal(unified_cache_pop(&c), blk(i));
    for (int i = 31; i >= 0; i--)
        assert_ptr_equal(unified_cache_pop(&c), blk(200 + i));
    assert_null(unified_cache_pop(&c));
}

static void test_push_chain_zero(void **state) {
    unified_cache_t c;
    unified_cache_init(&c, 4);
    unified_cache_push(&c, blk(0));
#ifndef HAK_DEBUG_CHECKS // a fatal error with debug checks
    unified_cache_push_chain(&c, NULL, NULL, 0);
#endif
    assert_int_equal(unified_cache_count(&c), 1);
    assert_ptr_equal(unified_cache_pop(&c), blk(0));
}

static void test_pop_chain(void **state) {
    // The top n blocks come off as a chain in pop order; the rest stay, in their order.
    for (uint32_t n = 1; n <= 8; n++) {
        unified_cache_t c;
        unified_cache_init(&c, 16);
        for (int i = 0; i < 8; i++)
            unified_cache_push(&c, blk(20 + i));
        void *first, *last;
        assert_int_equal(unified_cache_pop_chain(&c, n, &first, &last), n);
        assert_int_equal(unified_cache_count(&c), 8 - n);
        void *b = first;
        for (uint32_t i = 0; i < n; i++) {
            assert_ptr_equal(b, blk(27 - (int)i));
            if (i == n - 1) assert_ptr_equal(b, last);
            b = *(void **)b;
        }
        assert_null(b);
        for (int i = 7 - (int)n; i >= 0; i--)
            assert_ptr_equal(unified_cache_pop(&c), blk(20 + i));
        assert_null(unified_cache_pop(&c));
    }
}

static void test_pop_chain_more_than_count_and_empty(void **state) {
    unified_cache_t c;
    unified_cache_init(&c, 16);
    void *first = (void *)0x1, *last = (void *)0x1;
    assert_int_equal(unified_cache_pop_chain(&c, 4, &first, &last), 0);
    assert_null(first);
    assert_null(last);
    unified_cache_push(&c, blk(40));
    unified_cache_push(&c, blk(41));
    assert_int_equal(unified_cache_pop_chain(&c, 100, &first, &last), 2);
    assert_ptr_equal(first, blk(41));
    assert_ptr_equal(last, blk(40));
    assert_ptr_equal(*(void **)first, blk(40));
    assert_null(*(void **)last);
    assert_int_equal(unified_cache_count(&c), 0);
    // A chain taken off goes back on with push_chain in the same order.
    unified_cache_push_chain(&c, first, last, 2);
    assert_ptr_equal(unified_cache_pop(&c), blk(41));
    assert_ptr_equal(unified_cache_pop(&c), blk(40));
}

static void test_push_range(void **state) {
    unified_cache_t c;
    unified_cache_init(&c, 64);
    unified_cache_push(&c, blk(200));
    fill_pattern(0, 48);
    // 16 blocks of 3 x 64 bytes carved from blocks[0]: popped in address order, then blk(200).
    unified_cache_push_range(&c, blk(0), 3 * BLOCK_SIZE, 16);
    assert_int_equal(unified_cache_count(&c), 17);
    for (int i = 0; i < 16; i++)
        assert_ptr_equal(unified_cache_pop(&c), blk(3 * i));
    assert_ptr_equal(unified_cache_pop(&c), blk(200));
    assert_null(unified_cache_pop(&c));
    check_pattern(0, 48); // carving into the cache touches no block
    // A range of one, and an empty range.
    unified_cache_push_range(&c, blk(5), BLOCK_SIZE, 1);
    unified_cache_push_range(&c, blk(6), BLOCK_SIZE, 0);
    assert_int_equal(unified_cache_count(&c), 1);
    assert_ptr_equal(unified_cache_pop(&c), blk(5));
    assert_null(unified_cache_pop(&c));
}

static void test_reuse_after_fill_and_drain(void **state) {
    unified_cache_t c;
    unified_cache_init(&c, UNIFIED_CACHE_MAX);
    for (int round = 0; round < 4; round++) {
        // Alternate single pushes and chains; each round uses other blocks.
        int base = round * 32;
        if (round % 2 == 0) {
            for (int i = 0; i < UNIFIED_CACHE_MAX; i++) {
                bool full = unified_cache_push(&c, blk((base + i) % NBLOCKS));
                assert_int_equal(full, i == UNIFIED_CACHE_MAX - 1);
            }
            for (int i = UNIFIED_CACHE_MAX - 1; i >= 0; i--)
                assert_ptr_equal(unified_cache_pop(&c), blk((base + i) % NBLOCKS));
        } else {
            int order[UNIFIED_CACHE_MAX];
            for (int i = 0; i < UNIFIED_CACHE_MAX; i++)
                order[i] = (base + i) % NBLOCKS;
            void *last;
            void *first = link_chain(order, UNIFIED_CACHE_MAX, &last);
            unified_cache_push_chain(&c, first, last, UNIFIED_CACHE_MAX);
            for (int i = 0; i < UNIFIED_CACHE_MAX; i++)
                assert_ptr_equal(unified_cache_pop(&c), blk(order[i]));
        }
        assert_int_equal(unified_cache_count(&c), 0);
        assert_null(unified_cache_pop(&c));
    }
    // Fill to the bound, drain half (as the heap drains one batch), fill to the bound again.
    for (int i = 0; i < UNIFIED_CACHE_MAX; i++)
        unified_cache_push(&c, blk(i));
    for (int i = 0; i < UNIFIED_CACHE_MAX / 2; i++)
        unified_cache_pop(&c);
    for (int i = 0; i < UNIFIED_CACHE_MAX / 2; i++)
        assert_int_equal(unified_cache_push(&c, blk(128 + i)), i == UNIFIED_CACHE_MAX / 2 - 1);
    for (int i = UNIFIED_CACHE_MAX / 2 - 1; i >= 0; i--)
        assert_ptr_equal(unified_cache_pop(&c), blk(128 + i));
    for (int i = UNIFIED_CACHE_MAX / 2 - 1; i >= 0; i--)
        assert_ptr_equal(unified_cache_pop(&c), blk(i));
    assert_null(unified_cache_pop(&c));
}

static void test_blocks_untouched(void **state) {
    // push and pop never read or write a block: its whole contents survive a trip through the
    // cache (tls_sll, by contrast, overwrites the first word of every pushed block).
    unified_cache_t c;
    unified_cache_init(&c, UNIFIED_CACHE_MAX);
    fill_pattern(0, NBLOCKS);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < UNIFIED_CACHE_MAX; i++)
            unified_cache_push(&c, blk(round * 64 + i));
        for (int i = 0; i < UNIFIED_CACHE_MAX; i++)
            assert_non_null(unified_cache_pop(&c));
    }
    for (int i = 0; i < 1000; i++) { // pairs, as free then malloc of one class
        unified_cache_push(&c, blk(i % NBLOCKS));
        assert_ptr_equal(unified_cache_pop(&c), blk(i % NBLOCKS));
    }
    check_pattern(0, NBLOCKS);

    // push_chain reads the links but writes nothing: the blocks' contents are the same after.
    int order[64];
    for (int i = 0; i < 64; i++)
        order[i] = 64 + 2 * i;
    void *last;
    void *first = link_chain(order, 64, &last);
    static block_t saved[NBLOCKS];
    memcpy(saved, blocks, sizeof blocks);
    unified_cache_push_chain(&c, first, last, 64);
    for (int i = 0; i < 64; i++)
        assert_ptr_equal(unified_cache_pop(&c), blk(order[i]));
    assert_memory_equal(saved, blocks, sizeof blocks);
}

static void test_caches_are_independent(void **state) {
    // One cache per class, side by side as in a heap: filling one does not disturb the next.
    unified_cache_t cls[3];
    for (int k = 0; k < 3; k++)
        unified_cache_init(&cls[k], UNIFIED_CACHE_MAX);
    for (int i = 0; i < UNIFIED_CACHE_MAX; i++)
        unified_cache_push(&cls[1], blk(i));
    assert_int_equal(unified_cache_count(&cls[0]), 0);
    assert_int_equal(unified_cache_count(&cls[2]), 0);
    assert_int_equal(cls[2].cap, UNIFIED_CACHE_MAX);
    assert_null(unified_cache_pop(&cls[0]));
    assert_null(unified_cache_pop(&cls[2]));
    assert_ptr_equal(unified_cache_pop(&cls[1]), blk(UNIFIED_CACHE_MAX - 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_init_and_empty_pop),
        cmocka_unit_test(test_init_bounds),
        cmocka_unit_test(test_lifo_order_and_count),
        cmocka_unit_test(test_interleaved_push_pop),
        cmocka_unit_test(test_full_exactly_at_cap),
        cmocka_unit_test(test_push_chain_one),
        cmocka_unit_test(test_push_chain_n),
        cmocka_unit_test(test_push_chain_on_top_of_blocks),
        cmocka_unit_test(test_push_chain_to_cap),
        cmocka_unit_test(test_push_chain_zero),
        cmocka_unit_test(test_pop_chain),
        cmocka_unit_test(test_pop_chain_more_than_count_and_empty),
        cmocka_unit_test(test_push_range),
        cmocka_unit_test(test_reuse_after_fill_and_drain),
        cmocka_unit_test(test_blocks_untouched),
        cmocka_unit_test(test_caches_are_independent),
    };
    return cmocka_run_group_tests_name("unified_cache", tests, NULL, NULL);
}
