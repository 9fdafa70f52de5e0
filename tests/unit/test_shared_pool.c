// Unit tests of the shared_pool box: lock-free slot claiming over a list of segments, seizing of
// empty segments, and the per-class lists of abandoned slabs. Segments here are plain aligned
// structs embedding sp_segment_t: the box never looks past it.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared_pool.h"

typedef struct {
    sp_segment_t sp;
    char payload[192];
} fake_segment_t;

// Everything a test allocates is freed after it (LeakSanitizer runs in the asan preset).
static void *tracked[64];
static int ntracked;

static void *track(void *p) {
    assert_non_null(p);
    assert_true(ntracked < 64);
    return tracked[ntracked++] = p;
}

static int free_tracked(void **state) {
    while (ntracked > 0)
        free(tracked[--ntracked]);
    return 0;
}

static fake_segment_t *fake_new(void) {
    fake_segment_t *s =
        track(aligned_alloc(HAK_CACHE_LINE, (sizeof(fake_segment_t) + 63) & ~(size_t)63));
    assert_non_null(s);
    memset(s, 0xA5, sizeof *s); // the pool must initialise what it uses
    return s;
}

static shared_pool_t *pool_new(void) {
    static const shared_pool_t init = SHARED_POOL_INIT;
    shared_pool_t *p =
        track(aligned_alloc(HAK_CACHE_LINE, (sizeof(shared_pool_t) + 63) & ~(size_t)63));
    assert_non_null(p);
    memcpy(p, &init, sizeof init);
    return p;
}

static uint64_t cnt(_Atomic uint64_t *c) {
    return atomic_load(c);
}
static uint32_t mask_of(sp_segment_t *s) {
    return atomic_load(&s->free_mask);
}

static void test_claim_on_empty_pool(void **state) {
    shared_pool_t *p = pool_new();
    sp_segment_t *seg = (sp_segment_t *)0x1;
    assert_int_equal(shared_pool_claim(p, &seg), -1);
    assert_int_equal(shared_pool_claim(p, &seg), -1);
    assert_int_equal(cnt(&p->stats.slots_claimed), 0);
}

static void test_add_segment_claims_lowest_slot(void **state) {
    shared_pool_t *p = pool_new();
    static const struct {
        uint32_t mask;
        int slot;
    } cases[] = {
        {0xFFFFFFFFu, 0},  {0xFFFFFFFEu, 1}, {0x000000F0u, 4},
        {0x80000000u, 31}, {0x00000001u, 0}, {0x000000FFu, 0},
    };
    long expect_free = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_segment_t *s = fake_new();
        assert_int_equal(shared_pool_add_segment(p, &s->sp, cases[i].mask), cases[i].slot);
        assert_int_equal(s->sp.all_mask, cases[i].mask);
        assert_int_equal(mask_of(&s->sp), cases[i].mask & ~(1u << cases[i].slot));
        assert_ptr_equal(atomic_load(&p->segments), &s->sp); // newest first
        expect_free += __builtin_popcount(cases[i].mask) - 1;
        assert_int_equal(atomic_load(&p->free_slots), expect_free);
    }
    assert_int_equal(cnt(&p->stats.segments_added), 6);
    assert_int_equal(cnt(&p->stats.slots_claimed), 6);
}

static void test_claim_release_sequence(void **state) {
    shared_pool_t *p = pool_new();
    fake_segment_t *s = fake_new();
    sp_segment_t *seg = NULL;
    assert_int_equal(shared_pool_add_segment(p, &s->sp, 0xF), 0);
    // The remaining slots come lowest first, then the pool is exhausted.
    for (int want = 1; want < 4; want++) {
        seg = NULL;
        assert_int_equal(shared_pool_claim(p, &seg), want);
        assert_ptr_equal(seg, &s->sp);
    }
    assert_int_equal(mask_of(&s->sp), 0);
    assert_int_equal(shared_pool_claim(p, &seg), -1);

    // Release returns true only for the release that makes every slot free.
    assert_false(shared_pool_release(p, &s->sp, 2));
    assert_int_equal(mask_of(&s->sp), 0x4);
    assert_int_equal(shared_pool_claim(p, &seg), 2); // a released slot is claimable again
    assert_int_equal(shared_pool_claim(p, &seg), -1);
    assert_false(shared_pool_release(p, &s->sp, 3));
    assert_false(shared_pool_release(p, &s->sp, 0));
    assert_false(shared_pool_release(p, &s->sp, 2));
    assert_true(shared_pool_release(p, &s->sp, 1));
    assert_int_equal(mask_of(&s->sp), 0xF);
    assert_int_equal(atomic_load(&p->free_slots), 4);

    // An emptied segment is claimed again from its lowest slot.
    assert_int_equal(shared_pool_claim(p, &seg), 0);
    assert_true(shared_pool_release(p, &s->sp, 0));

    assert_int_equal(cnt(&p->stats.slots_claimed), 6);
    assert_int_equal(cnt(&p->stats.slots_released), 6);
}

static void test_single_slot_segment(void **state) {
    // A segment of one slot (a large segment): add claims it, its release makes it empty.
    shared_pool_t *p = pool_new();
    fake_segment_t *s = fake_new();
    sp_segment_t *seg;
    assert_int_equal(shared_pool_add_segment(p, &s->sp, 0x1), 0);
    assert_int_equal(shared_pool_claim(p, &seg), -1);
    assert_true(shared_pool_release(p, &s->sp, 0));
    assert_int_equal(shared_pool_claim(p, &seg), 0);
    assert_ptr_equal(seg, &s->sp);
    assert_true(shared_pool_release(p, &s->sp, 0));
}

static void test_claim_across_segments(void **state) {
    shared_pool_t *p = pool_new();
    enum { NSEG = 5 };
    fake_segment_t *s[NSEG];
    uint32_t masks[NSEG] = {0x3, 0xF0, 0x1, 0xFFFFFFFEu, 0x11};
    int total = 0;
    uint32_t got[NSEG] = {0};
    for (int i = 0; i < NSEG; i++) {
        s[i] = fake_new();
        int slot = shared_pool_add_segment(p, &s[i]->sp, masks[i]);
        got[i] |= 1u << slot;
        total += __builtin_popcount(masks[i]);
    }
    // Every remaining slot of every segment is handed out exactly once, then claims fail.
    for (int n = NSEG; n < total; n++) {
        sp_segment_t *seg = NULL;
        int slot = shared_pool_claim(p, &seg);
        assert_in_range(slot, 0, 31);
        int i;
        for (i = 0; i < NSEG && seg != &s[i]->sp; i++) {
        }
        assert_true(i < NSEG);
        assert_true(masks[i] & (1u << slot));
        assert_false(got[i] & (1u << slot));
        got[i] |= 1u << slot;
    }
    sp_segment_t *seg;
    assert_int_equal(shared_pool_claim(p, &seg), -1);
    for (int i = 0; i < NSEG; i++)
        assert_int_equal(got[i], masks[i]);
    // Free one slot in the oldest segment: the claim finds it wherever the hint points.
    assert_false(shared_pool_release(p, &s[0]->sp, 1));
    assert_int_equal(shared_pool_claim(p, &seg), 1);
    assert_ptr_equal(seg, &s[0]->sp);
    // Free the only slot of the single-slot segment: release says empty, claim finds it.
    assert_true(shared_pool_release(p, &s[2]->sp, 0));
    assert_int_equal(shared_pool_claim(p, &seg), 0);
    assert_ptr_equal(seg, &s[2]->sp);
}

static void test_seize_and_publish(void **state) {
    shared_pool_t *p = pool_new();
    fake_segment_t *s = fake_new();
    sp_segment_t *seg;
    assert_int_equal(shared_pool_add_segment(p, &s->sp, 0xFF), 0);
    assert_int_equal(shared_pool_claim(p, &seg), 1);
    // While any slot is claimed, the segment cannot be seized.
    assert_false(shared_pool_seize_empty(p, &s->sp));
    assert_false(shared_pool_release(p, &s->sp, 0));
    assert_false(shared_pool_seize_empty(p, &s->sp));
    assert_int_equal(mask_of(&s->sp), 0xFD); // slot 1 claimed, the rest free
    assert_true(shared_pool_release(p, &s->sp, 1));
    // All free: seize takes every slot at once.
    assert_true(shared_pool_seize_empty(p, &s->sp));
    assert_int_equal(mask_of(&s->sp), 0);
    assert_int_equal(atomic_load(&p->free_slots), 0);
    assert_int_equal(cnt(&p->stats.segments_seized), 1);
    // A seized segment is seized only once, and nobody can claim from it until it is published.
    assert_false(shared_pool_seize_empty(p, &s->sp));
    for (int i = 0; i < 3; i++)
        assert_int_equal(shared_pool_claim(p, &seg), -1);
    shared_pool_publish(p, &s->sp);
    assert_int_equal(mask_of(&s->sp), 0xFF);
    assert_int_equal(atomic_load(&p->free_slots), 8);
    for (int want = 0; want < 8; want++) {
        assert_int_equal(shared_pool_claim(p, &seg), want);
        assert_ptr_equal(seg, &s->sp);
    }
    assert_int_equal(shared_pool_claim(p, &seg), -1);
}

static void test_seized_segment_skipped_by_claims(void **state) {
    // With two segments, seizing one leaves claims to the other only.
    shared_pool_t *p = pool_new();
    fake_segment_t *a = fake_new(), *b = fake_new();
    sp_segment_t *seg;
    assert_int_equal(shared_pool_add_segment(p, &a->sp, 0x3), 0);
    assert_true(shared_pool_release(p, &a->sp, 0));
    assert_int_equal(shared_pool_add_segment(p, &b->sp, 0x3), 0);
    assert_true(shared_pool_seize_empty(p, &a->sp));
    assert_int_equal(shared_pool_claim(p, &seg), 1);
    assert_ptr_equal(seg, &b->sp);
    assert_int_equal(shared_pool_claim(p, &seg), -1);
    shared_pool_publish(p, &a->sp);
    assert_int_equal(shared_pool_claim(p, &seg), 0);
    assert_ptr_equal(seg, &a->sp);
}

static void test_double_release_is_fatal(void **state) {
    shared_pool_t *p = pool_new();
    fake_segment_t *s = fake_new();
    assert_int_equal(shared_pool_add_segment(p, &s->sp, 0x3), 0);
    assert_true(shared_pool_release(p, &s->sp, 0));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        shared_pool_release(p, &s->sp, 0); // slot 0 is already free
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

// Reclaim takes exactly the abandoned slabs the predicate calls empty, head, middle and tail
// alike, and leaves the others adoptable in their order.
static sp_link_t reclaim_links[5];
static bool reclaim_even(sp_link_t *l) { return (l - reclaim_links) % 2 == 0; }
static bool reclaim_none(sp_link_t *l) { (void)l; return false; }

static void test_reclaim_abandoned(void **state) {
    shared_pool_t *p = pool_new();
    assert_null(shared_pool_reclaim_abandoned(p, 3, reclaim_even)); // empty list
    for (int i = 0; i < 5; i++) shared_pool_abandon(p, 3, &reclaim_links[i]); // list: 4 3 2 1 0
    shared_pool_abandon(p, 4, &(sp_link_t){0});
    assert_null(shared_pool_reclaim_abandoned(p, 3, reclaim_none));
    sp_link_t *taken = shared_pool_reclaim_abandoned(p, 3, reclaim_even);
    bool seen[5] = {false};
    int n = 0;
    for (sp_link_t *l = taken; l != NULL; l = l->next, n++) seen[l - reclaim_links] = true;
    assert_int_equal(n, 3);
    assert_true(seen[0] && seen[2] && seen[4] && !seen[1] && !seen[3]);
    assert_int_equal(p->abandoned_count, 3); // 1 and 3 of class 3, and class 4's
    assert_int_equal(cnt(&p->stats.slabs_reclaimed), 3);
    assert_ptr_equal(shared_pool_adopt(p, 3), &reclaim_links[3]);
    assert_ptr_equal(shared_pool_adopt(p, 3), &reclaim_links[1]);
    assert_null(shared_pool_adopt(p, 3));
    assert_non_null(shared_pool_adopt(p, 4)); // other classes untouched
}

static void test_abandon_adopt_lifo_per_class(void **state) {
    shared_pool_t *p = pool_new();
    sp_link_t l[6];
    assert_null(shared_pool_adopt(p, 0));
    assert_null(shared_pool_adopt(p, SP_MAX_CLASSES - 1));
    shared_pool_abandon(p, 3, &l[0]);
    shared_pool_abandon(p, 3, &l[1]);
    shared_pool_abandon(p, 5, &l[2]);
    shared_pool_abandon(p, 3, &l[3]);
    shared_pool_abandon(p, 0, &l[4]);
    shared_pool_abandon(p, SP_MAX_CLASSES - 1, &l[5]);
    assert_int_equal(p->abandoned_count, 6);
    assert_null(shared_pool_adopt(p, 4)); // another class is not served
    assert_ptr_equal(shared_pool_adopt(p, 3), &l[3]);
    assert_ptr_equal(shared_pool_adopt(p, 3), &l[1]);
    assert_ptr_equal(shared_pool_adopt(p, 5), &l[2]);
    assert_null(shared_pool_adopt(p, 5));
    assert_ptr_equal(shared_pool_adopt(p, 3), &l[0]);
    assert_null(shared_pool_adopt(p, 3));
    assert_ptr_equal(shared_pool_adopt(p, SP_MAX_CLASSES - 1), &l[5]);
    assert_ptr_equal(shared_pool_adopt(p, 0), &l[4]);
    assert_null(shared_pool_adopt(p, 0));
    assert_int_equal(p->abandoned_count, 0);
    assert_int_equal(cnt(&p->stats.slabs_abandoned), 6);
    assert_int_equal(cnt(&p->stats.slabs_adopted), 6);
    // An adopted slab abandoned again is adoptable again.
    shared_pool_abandon(p, 3, &l[1]);
    assert_ptr_equal(shared_pool_adopt(p, 3), &l[1]);
}

static void test_lock_reset_in_fork_child(void **state) {
    // The parent holds the pool's lock across fork; the child resets it and can use the pool.
    shared_pool_t *p = pool_new();
    sp_link_t l;
    hak_lock(&p->abandoned_lock);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10); // a deadlock ends as SIGALRM
        hak_lock_reset(&p->abandoned_lock);
        shared_pool_abandon(p, 1, &l);
        _exit(shared_pool_adopt(p, 1) == &l ? 0 : 1);
    }
    hak_unlock(&p->abandoned_lock);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    shared_pool_abandon(p, 1, &l);
    assert_ptr_equal(shared_pool_adopt(p, 1), &l);
}

// ---- concurrency ---------------------------------------------------------------------------

#define C_NSEG 3
#define C_WORKERS 4
#define C_ITERS 200000
#define C_HOLD 3

typedef struct {
    shared_pool_t *pool;
    fake_segment_t *seg[C_NSEG];
    _Atomic int owner[C_NSEG][32]; // 0 free, 1 claimed by a worker, 2 seized
    _Atomic int stop;
    _Atomic uint64_t violations, claims, failed_claims, seizes, empties;
} shared_t;

static int seg_index(shared_t *sh, sp_segment_t *seg) {
    for (int i = 0; i < C_NSEG; i++)
        if (&sh->seg[i]->sp == seg) return i;
    return -1;
}

typedef struct {
    shared_t *sh;
    unsigned seed;
} worker_arg_t;

static bool seize_cycle(shared_t *sh, int i, uint64_t *violations);

static void *worker_main(void *arg) {
    worker_arg_t *w = arg;
    shared_t *sh = w->sh;
    struct {
        int seg, slot;
    } held[C_HOLD];
    int nheld = 0;
    uint64_t violations = 0, claims = 0, failed = 0, empties = 0;
    unsigned r = w->seed;
    for (int it = 0; it < C_ITERS; it++) {
        r = r * 1103515245u + 12345u;
        bool want_claim = nheld == 0 || (nheld < C_HOLD && (r >> 16) % 2 == 0);
        if (want_claim) {
            sp_segment_t *seg = NULL;
            int slot = shared_pool_claim(sh->pool, &seg);
            if (slot < 0) {
                failed++;
                if (nheld == 0) sched_yield();
                continue;
            }
            int si = seg_index(sh, seg);
            if (si < 0 || slot > 31 || !(seg->all_mask & (1u << slot))) {
                violations++;
                continue;
            }
            int expected = 0;
            if (!atomic_compare_exchange_strong(&sh->owner[si][slot], &expected, 1)) violations++;
            held[nheld].seg = si;
            held[nheld].slot = slot;
            nheld++;
            claims++;
        } else {
            int k = (int)((r >> 8) % (unsigned)nheld);
            int si = held[k].seg, slot = held[k].slot;
            held[k] = held[--nheld];
            int expected = 1;
            if (!atomic_compare_exchange_strong(&sh->owner[si][slot], &expected, 0)) violations++;
            if (shared_pool_release(sh->pool, &sh->seg[si]->sp, slot)) {
                // As the allocator does: a release that empties a segment tries to seize it.
                empties++;
                if ((r >> 20) % 2 == 0) seize_cycle(sh, si, &violations);
            }
        }
    }
    while (nheld > 0) {
        nheld--;
        int expected = 1;
        if (!atomic_compare_exchange_strong(&sh->owner[held[nheld].seg][held[nheld].slot],
                                            &expected, 0))
            violations++;
        if (shared_pool_release(sh->pool, &sh->seg[held[nheld].seg]->sp, held[nheld].slot))
            empties++;
    }
    atomic_fetch_add(&sh->violations, violations);
    atomic_fetch_add(&sh->claims, claims);
    atomic_fetch_add(&sh->failed_claims, failed);
    atomic_fetch_add(&sh->empties, empties);
    return NULL;
}

// Seize segment i if it is entirely free, own all its slots for a moment (the "purge"), and
// publish it again. Returns false if the segment was not entirely free.
static bool seize_cycle(shared_t *sh, int i, uint64_t *violations) {
    sp_segment_t *seg = &sh->seg[i]->sp;
    if (!shared_pool_seize_empty(sh->pool, seg)) return false;
    for (int slot = 0; slot < 32; slot++) {
        if (!(seg->all_mask & (1u << slot))) continue;
        int expected = 0;
        if (!atomic_compare_exchange_strong(&sh->owner[i][slot], &expected, 2)) (*violations)++;
    }
    for (int slot = 0; slot < 32; slot++) {
        if (!(seg->all_mask & (1u << slot))) continue;
        int expected = 2;
        if (!atomic_compare_exchange_strong(&sh->owner[i][slot], &expected, 0)) (*violations)++;
    }
    shared_pool_publish(sh->pool, seg);
    atomic_fetch_add(&sh->seizes, 1);
    return true;
}

// Seizes whichever segment is entirely free, over and over, while the workers run.
static void *seizer_main(void *arg) {
    shared_t *sh = arg;
    uint64_t violations = 0;
    while (!atomic_load(&sh->stop)) {
        for (int i = 0; i < C_NSEG; i++)
            seize_cycle(sh, i, &violations);
    }
    atomic_fetch_add(&sh->violations, violations);
    return NULL;
}

static void test_concurrent_claims_never_share_a_slot(void **state) {
    shared_t *sh = track(calloc(1, sizeof *sh));
    sh->pool = pool_new();
    // 10 slots for 4 workers holding up to 3 each: claims contend and sometimes fail.
    const uint32_t masks[C_NSEG] = {0xF, 0xF0, 0x3};
    long total = 0;
    for (int i = 0; i < C_NSEG; i++) {
        sh->seg[i] = fake_new();
        int slot = shared_pool_add_segment(sh->pool, &sh->seg[i]->sp, masks[i]);
        assert_true(shared_pool_release(sh->pool, &sh->seg[i]->sp, slot)); // all free again
        total += __builtin_popcount(masks[i]);
    }
    pthread_t tid[C_WORKERS], seizer;
    worker_arg_t args[C_WORKERS];
    assert_int_equal(pthread_create(&seizer, NULL, seizer_main, sh), 0);
    for (int t = 0; t < C_WORKERS; t++) {
        args[t] = (worker_arg_t){sh, 17u + 31u * (unsigned)t};
        assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &args[t]), 0);
    }
    for (int t = 0; t < C_WORKERS; t++)
        pthread_join(tid[t], NULL);
    atomic_store(&sh->stop, 1);
    pthread_join(seizer, NULL);

    print_message("claims %llu, failed claims %llu, seizes %llu, releases that emptied %llu\n",
                  (unsigned long long)atomic_load(&sh->claims),
                  (unsigned long long)atomic_load(&sh->failed_claims),
                  (unsigned long long)atomic_load(&sh->seizes),
                  (unsigned long long)atomic_load(&sh->empties));
    assert_int_equal(atomic_load(&sh->violations), 0);
    assert_true(atomic_load(&sh->claims) > 0);
    // Everything was given back: every slot free, the free-slot hint exact, counters balanced.
    for (int i = 0; i < C_NSEG; i++) {
        assert_int_equal(mask_of(&sh->seg[i]->sp), masks[i]);
        for (int slot = 0; slot < 32; slot++)
            assert_int_equal(atomic_load(&sh->owner[i][slot]), 0);
    }
    assert_int_equal(atomic_load(&sh->pool->free_slots), total);
    assert_int_equal(cnt(&sh->pool->stats.slots_claimed), cnt(&sh->pool->stats.slots_released));
    assert_int_equal(cnt(&sh->pool->stats.segments_seized), atomic_load(&sh->seizes));
    sp_segment_t *seg;
    for (long n = 0; n < total; n++)
        assert_true(shared_pool_claim(sh->pool, &seg) >= 0);
    assert_int_equal(shared_pool_claim(sh->pool, &seg), -1);
}

static void *abandon_main(void *arg) {
    shared_pool_t *p = ((void **)arg)[0];
    sp_link_t *links = ((void **)arg)[1];
    for (int i = 0; i < 10000; i++) {
        shared_pool_abandon(p, (unsigned)i % 4, &links[i]);
        // Adopt something of another class now and then, and abandon it again.
        sp_link_t *s = shared_pool_adopt(p, (unsigned)(i + 1) % 4);
        if (s != NULL) shared_pool_abandon(p, (unsigned)(i + 1) % 4, s);
    }
    return NULL;
}

static void test_concurrent_abandon_adopt(void **state) {
    // Threads abandon and adopt; at the end each slab is on exactly one list, once.
    enum { T = 4, N = 10000 };
    shared_pool_t *p = pool_new();
    sp_link_t *links = calloc((size_t)T * N, sizeof(sp_link_t));
    assert_non_null(links);
    pthread_t tid[T];
    void *args[T][2];
    for (int t = 0; t < T; t++) {
        args[t][0] = p;
        args[t][1] = links + (size_t)t * N;
        assert_int_equal(pthread_create(&tid[t], NULL, abandon_main, args[t]), 0);
    }
    for (int t = 0; t < T; t++)
        pthread_join(tid[t], NULL);
    assert_int_equal(p->abandoned_count, (uint64_t)T * N);
    uint8_t *seen = calloc((size_t)T * N, 1);
    size_t n = 0;
    for (unsigned cls = 0; cls < 4; cls++) {
        sp_link_t *s;
        while ((s = shared_pool_adopt(p, cls)) != NULL) {
            size_t idx = (size_t)(s - links);
            assert_true(idx < (size_t)T * N);
            assert_int_equal(seen[idx]++, 0);
            assert_int_equal(idx % N % 4, cls); // slabs only move within their class
            n++;
        }
    }
    assert_int_equal(n, (size_t)T * N);
    assert_int_equal(p->abandoned_count, 0);
    free(seen);
    free(links);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_claim_on_empty_pool, free_tracked),
        cmocka_unit_test_teardown(test_add_segment_claims_lowest_slot, free_tracked),
        cmocka_unit_test_teardown(test_claim_release_sequence, free_tracked),
        cmocka_unit_test_teardown(test_single_slot_segment, free_tracked),
        cmocka_unit_test_teardown(test_claim_across_segments, free_tracked),
        cmocka_unit_test_teardown(test_seize_and_publish, free_tracked),
        cmocka_unit_test_teardown(test_seized_segment_skipped_by_claims, free_tracked),
        cmocka_unit_test_teardown(test_double_release_is_fatal, free_tracked),
        cmocka_unit_test_teardown(test_abandon_adopt_lifo_per_class, free_tracked),
        cmocka_unit_test_teardown(test_reclaim_abandoned, free_tracked),
        cmocka_unit_test_teardown(test_lock_reset_in_fork_child, free_tracked),
        cmocka_unit_test_teardown(test_concurrent_claims_never_share_a_slot, free_tracked),
        cmocka_unit_test_teardown(test_concurrent_abandon_adopt, free_tracked),
    };
    return cmocka_run_group_tests_name("shared_pool", tests, NULL, NULL);
}
