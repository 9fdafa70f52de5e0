// Unit tests of the grow_region box: blocks placed at the top, resized in place while last, the
// top retreating over freed blocks, double frees, frees by other threads (real threads) and the
// last reference after the owner lets go. Regions are real mappings: purges are checked with
// mincore(2).
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/mman.h>

#include "grow_region.h"

#define REGION_SIZE ((size_t)2 << 20)

static int owner_token, other_token;

static grow_region_t *region_new(void) {
    void *mem = hak_os_reserve_aligned(REGION_SIZE, REGION_SIZE);
    assert_non_null(mem);
    return grow_region_init(mem, REGION_SIZE, &owner_token);
}

static void region_delete(grow_region_t *r) { hak_os_release(r, REGION_SIZE); }

static uint64_t cnt(_Atomic uint64_t *c) { return atomic_load(c); }

static size_t resident_pages(void *p, size_t len) {
    size_t page = hak_os_page_size(), n = len / page, count = 0;
    unsigned char vec[REGION_SIZE / 4096];
    assert_true(n <= sizeof vec);
    assert_int_equal(mincore(p, len, vec), 0);
    for (size_t i = 0; i < n; i++) count += vec[i] & 1;
    return count;
}

static void test_grow_in_place_while_last(void **state) {
    (void)state;
    grow_region_t *r = region_new();
    assert_true(grow_region_owned_by(r, &owner_token));
    assert_false(grow_region_owned_by(r, &other_token));
    char *a = grow_region_alloc(r, 100);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 16, 0);
    grow_block_t *ba = grow_region_block(r, a);
    assert_non_null(ba);
    assert_int_equal(ba->size, 112);
    memset(a, 1, 100);
    for (size_t n = 200; n < 100000; n += n / 3) {
        assert_true(grow_region_resize_last(r, a, n)); // the same block, longer
        memset(a, 1, n);
    }
    char *b = grow_region_alloc(r, 64);
    assert_non_null(b);
    assert_true(b > a);
    assert_false(grow_region_resize_last(r, a, 200000)); // b is on top now
    assert_false(grow_region_resize(r, a, 200000));
    assert_true(grow_region_resize(r, a, 50));            // shrinking needs no room
    assert_int_equal(grow_region_block(r, a)->size, 64);
    assert_int_equal(grow_region_free(r, grow_region_block(r, b), true), GROW_FREED_OK);
    assert_true(grow_region_resize(r, a, 300000)); // a is the last block again
    assert_int_equal(grow_region_block(r, a)->size, 300000);
    assert_int_equal(grow_region_free(r, grow_region_block(r, a), true), GROW_FREED_OK);
    assert_ptr_equal(grow_region_alloc(r, 10), a); // the top went back to the start
    assert_int_equal(cnt(&r->stats.placed), 3);
    assert_true(cnt(&r->stats.grown) >= 20);
    assert_int_equal(cnt(&r->stats.freed), 2);
    region_delete(r);
}

static void test_holes_wait_for_the_blocks_above(void **state) {
    (void)state;
    grow_region_t *r = region_new();
    char *p[4];
    for (int i = 0; i < 4; i++) p[i] = grow_region_alloc(r, 1000);
    // Freeing below the top leaves holes; the top moves only once everything above is free.
    assert_int_equal(grow_region_free(r, grow_region_block(r, p[1]), true), GROW_FREED_OK);
    assert_int_equal(grow_region_free(r, grow_region_block(r, p[2]), true), GROW_FREED_OK);
    char *q = grow_region_alloc(r, 16);
    assert_true(q > p[3]);
    assert_int_equal(grow_region_free(r, grow_region_block(r, q), true), GROW_FREED_OK);
    assert_int_equal(grow_region_free(r, grow_region_block(r, p[3]), true), GROW_FREED_OK);
    assert_ptr_equal(grow_region_alloc(r, 16), p[1]); // retreated over p[3], p[2] and p[1]
    assert_int_equal(cnt(&r->stats.retreated), 4);
    region_delete(r);
}

static void test_full_region(void **state) {
    (void)state;
    grow_region_t *r = region_new();
    size_t cap = grow_region_capacity(r);
    assert_null(grow_region_alloc(r, cap + 1));
    char *a = grow_region_alloc(r, cap); // ends exactly at the region's end
    assert_non_null(a);
    assert_null(grow_region_alloc(r, 1)); // no room for even a header
    assert_false(grow_region_resize_last(r, a, cap + 1));
    assert_int_equal(grow_region_free(r, grow_region_block(r, a), true), GROW_FREED_OK);
    char *b = grow_region_alloc(r, cap / 2);
    assert_ptr_equal(a, b);
    assert_false(grow_region_resize_last(r, b, cap + 16));
    // Sizes whose rounding to 16 would wrap past zero are beyond the capacity, not tiny.
    uint32_t b_size = grow_region_block(r, b)->size;
    for (size_t huge = SIZE_MAX - 20; huge != 0; huge++) {
        assert_null(grow_region_alloc(r, huge));
        assert_false(grow_region_resize_last(r, b, huge));
        assert_false(grow_region_resize(r, b, huge));
    }
    assert_int_equal(grow_region_block(r, b)->size, b_size);
    assert_true(grow_region_resize_last(r, b, cap));
    region_delete(r);
}

static void test_invalid_and_double_free(void **state) {
    (void)state;
    grow_region_t *r = region_new();
    char *a = grow_region_alloc(r, 256);
    char *b = grow_region_alloc(r, 256);
    memset(a, 0, 256);
    assert_null(grow_region_block(r, a + 16));  // inside a block (zero bytes before it)
    assert_null(grow_region_block(r, a + 8));   // misaligned
    assert_null(grow_region_block(r, (char *)r + 64)); // the region's own header
    assert_null(grow_region_block(r, (char *)r + REGION_SIZE - 16)); // beyond the top
    grow_block_t *bb = grow_region_block(r, b);
    assert_int_equal(grow_region_free(r, bb, true), GROW_FREED_OK);
    assert_null(grow_region_block(r, b));       // freed: no longer a live block
    assert_int_equal(grow_region_free(r, bb, true), GROW_DOUBLE_FREE);
    assert_int_equal(cnt(&r->stats.freed), 1);
    region_delete(r);
}

static void test_purge_above_top(void **state) {
    (void)state;
    grow_region_t *r = region_new();
    char *a = grow_region_alloc(r, 64);
    assert_true(grow_region_resize_last(r, a, 1 << 20));
    memset(a, 7, 1 << 20);
    assert_true(grow_region_dirty_bytes(r) >= (1 << 20));
    assert_true(resident_pages(r, REGION_SIZE) >= 256);
    assert_int_equal(grow_region_free(r, grow_region_block(r, a), true), GROW_FREED_OK);
    assert_true(grow_region_purge(r) >= (1 << 20) - 4096);
    assert_true(grow_region_dirty_bytes(r) <= 4096);
    assert_true(resident_pages(r, REGION_SIZE) <= 1);
    assert_int_equal(grow_region_purge(r), 0);
    region_delete(r);
}

static void test_disown_and_last_reference(void **state) {
    (void)state;
    grow_region_t *r = region_new();
    assert_true(grow_region_disown(r)); // nothing live: the caller takes the region back at once
    r = grow_region_init(r, REGION_SIZE, &owner_token);
    char *a = grow_region_alloc(r, 100), *b = grow_region_alloc(r, 100);
    assert_false(grow_region_disown(r));
    assert_false(grow_region_owned_by(r, &owner_token));
    assert_int_equal(grow_region_free(r, grow_region_block(r, b), false), GROW_FREED_OK);
    assert_int_equal(grow_region_free(r, grow_region_block(r, a), false), GROW_FREED_LAST);
    region_delete(r);
}

// ---- another thread frees while the owner places and grows ---------------------------------------

#define RING 64
typedef struct {
    grow_region_t *r;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *ring[RING];
    unsigned head, tail;
    bool done;
    unsigned long freed, last;
} handoff_t;

static void *remote_freer(void *arg) {
    handoff_t *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        while (h->head == h->tail && !h->done) pthread_cond_wait(&h->cond, &h->lock);
        if (h->head == h->tail) {
            pthread_mutex_unlock(&h->lock);
            return NULL;
        }
        char *p = h->ring[h->tail++ % RING];
        pthread_cond_broadcast(&h->cond);
        pthread_mutex_unlock(&h->lock);
        grow_block_t *b = grow_region_block(h->r, p);
        if (b == NULL || p[0] != (char)b->size || p[b->size - 1] != (char)b->size) abort();
        grow_free_result_t res = grow_region_free(h->r, b, false);
        if (res == GROW_DOUBLE_FREE) abort();
        pthread_mutex_lock(&h->lock);
        h->freed++;
        h->last += res == GROW_FREED_LAST;
        pthread_cond_broadcast(&h->cond);
        pthread_mutex_unlock(&h->lock);
    }
}

static void test_remote_frees_race_the_owner(void **state) {
    (void)state;
    grow_region_t *r = region_new();
    handoff_t h = {.r = r, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, remote_freer, &h), 0);
    char *mine[8] = {0};
    unsigned long placed = 0, handed = 0, own_frees = 0, seed = 12345;
    while (placed < 500000) {
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        size_t n = 16 + (seed >> 40) % 3000;
        char *p = grow_region_alloc(r, n);
        if (p == NULL) { // full: holes wait for the blocks above them; let ours go, wait for the
                         // other thread's frees, and the whole region is free again
            for (unsigned k = 0; k < 8; k++) {
                if (mine[k] == NULL) continue;
                assert_int_equal(grow_region_free(r, grow_region_block(r, mine[k]), true), GROW_FREED_OK);
                own_frees++;
                mine[k] = NULL;
            }
            pthread_mutex_lock(&h.lock);
            while (h.freed != handed) pthread_cond_wait(&h.cond, &h.lock);
            pthread_mutex_unlock(&h.lock);
            char *q = grow_region_alloc(r, n);
            assert_ptr_equal(q, (char *)r + GROW_REGION_HEADER + GROW_BLOCK_HEADER); // the start
            assert_int_equal(grow_region_free(r, grow_region_block(r, q), true), GROW_FREED_OK);
            placed++;
            own_frees++;
            continue;
        }
        placed++;
        grow_block_t *b = grow_region_block(r, p);
        if ((seed >> 20) % 4 == 0 && grow_region_resize_last(r, p, n * 2)) b = grow_region_block(r, p);
        memset(p, (char)b->size, b->size); // what the freer checks: it saw the final size
        unsigned k = (unsigned)(seed >> 33) % 8;
        if ((seed >> 30) % 2) {
            pthread_mutex_lock(&h.lock);
            while (h.head - h.tail == RING) pthread_cond_wait(&h.cond, &h.lock);
            h.ring[h.head++ % RING] = p;
            handed++;
            pthread_cond_broadcast(&h.cond);
            pthread_mutex_unlock(&h.lock);
        } else {
            if (mine[k] != NULL) {
                assert_int_equal(grow_region_free(r, grow_region_block(r, mine[k]), true), GROW_FREED_OK);
                own_frees++;
            }
            mine[k] = p;
        }
    }
    // Let go with blocks still live on both sides: exactly one free ends the last reference.
    bool last = grow_region_disown(r);
    for (unsigned k = 0; k < 8; k++) {
        if (mine[k] == NULL) continue;
        grow_free_result_t res = grow_region_free(r, grow_region_block(r, mine[k]), false);
        last += res == GROW_FREED_LAST;
        own_frees++;
    }
    pthread_mutex_lock(&h.lock);
    h.done = true;
    pthread_cond_broadcast(&h.cond);
    pthread_mutex_unlock(&h.lock);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(h.freed, handed);
    assert_int_equal(h.freed + own_frees, placed);
    assert_int_equal(last + h.last, 1);
    assert_int_equal(cnt(&r->stats.freed), placed);
    assert_true(cnt(&r->stats.retreated) > 0);
    region_delete(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_in_place_while_last),
        cmocka_unit_test(test_holes_wait_for_the_blocks_above),
        cmocka_unit_test(test_full_region),
        cmocka_unit_test(test_invalid_and_double_free),
        cmocka_unit_test(test_purge_above_top),
        cmocka_unit_test(test_disown_and_last_reference),
        cmocka_unit_test(test_remote_frees_race_the_owner),
    };
    return cmocka_run_group_tests_name("grow_region", tests, NULL, NULL);
}
