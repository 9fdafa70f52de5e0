// Unit tests of the lru box: a bounded (count and bytes) cache of nodes embedded in the caller's
// objects, with decay by time. Objects here are plain structs embedding lru_node_t.
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

#include "lru.h"

typedef struct {
    char before[40]; // the caller's header around the node: the box must not touch it
    lru_node_t node;
    char after[40];
} fake_segment_t;

static uint64_t cnt(_Atomic uint64_t *c) {
    return atomic_load(c);
}

static void make_segments(fake_segment_t *s, int n) {
    memset(s, 0xA5, sizeof *s * (size_t)n); // the box must initialise what it uses ...
    for (int i = 0; i < n; i++)
        atomic_init(&s[i].node.linked, false); // ... but for `linked`, which the caller zeroes
}

static void check_untouched(const fake_segment_t *s, int n) {
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof s->before; k++)
            if ((unsigned char)s[i].before[k] != 0xA5 || (unsigned char)s[i].after[k] != 0xA5)
                fail_msg("segment %d: bytes around the node were written", i);
}

// The chain's nodes in order; fails on more than `max`. Returns the length.
static int chain_to_array(lru_node_t *c, lru_node_t **out, int max) {
    int n = 0;
    for (; c != NULL; c = c->next) {
        assert_true(n < max);
        assert_false(lru_contains(c));
        out[n++] = c;
    }
    return n;
}

// Walks the list both ways and checks the links, the order of since_ms, count and bytes.
static void check_list(lru_t *l) {
    size_t n = 0, bytes = 0;
    lru_node_t *prev = NULL;
    for (lru_node_t *x = l->newest; x != NULL; prev = x, x = x->next) {
        assert_ptr_equal(x->prev, prev);
        assert_true(lru_contains(x));
        if (prev != NULL) assert_true(prev->since_ms >= x->since_ms);
        n++;
        bytes += x->bytes;
    }
    assert_ptr_equal(l->oldest, prev);
    assert_int_equal(n, l->count);
    assert_int_equal(bytes, l->bytes);
    uint64_t want = l->oldest ? l->oldest->since_ms + l->decay_ms : UINT64_MAX;
    if (l->oldest && l->oldest->since_ms + l->decay_ms < l->oldest->since_ms) want = UINT64_MAX;
    assert_int_equal(atomic_load(&l->next_expiry_ms), want);
}

static void test_empty(void **state) {
    lru_t l;
    memset(&l, 0x5A, sizeof l);
    lru_init(&l, 4, 1000, 100);
    fake_segment_t s[1];
    make_segments(s, 1);
    assert_null(l.newest);
    assert_null(l.oldest);
    assert_int_equal(l.count, 0);
    assert_int_equal(l.bytes, 0);
    assert_int_equal(atomic_load(&l.next_expiry_ms), UINT64_MAX);
    assert_null(lru_expire(&l, 0, false));
    assert_null(lru_expire(&l, UINT64_MAX, false));
    assert_null(lru_expire(&l, 0, true));
    assert_false(lru_remove(&l, &s[0].node));
    assert_false(lru_contains(&s[0].node));
    assert_int_equal(cnt(&l.stats.inserted) + cnt(&l.stats.hits) + cnt(&l.stats.evicted) +
                         cnt(&l.stats.expired),
                     0);
}

static void test_insert_remove_hits(void **state) {
    lru_t l;
    lru_init(&l, 8, 1 << 20, 1000);
    fake_segment_t s[3];
    make_segments(s, 3);
    for (int i = 0; i < 3; i++) {
        assert_null(lru_insert(&l, &s[i].node, 100 * (size_t)(i + 1), 10 + (uint64_t)i));
        assert_true(lru_contains(&s[i].node));
        assert_int_equal(s[i].node.since_ms, 10 + i);
        check_list(&l);
    }
    assert_ptr_equal(l.newest, &s[2].node);
    assert_ptr_equal(l.oldest, &s[0].node);
    assert_int_equal(l.count, 3);
    assert_int_equal(l.bytes, 600);
    assert_int_equal(cnt(&l.stats.inserted), 3);

    // A hit unlinks; a second remove of the same node finds nothing and counts nothing.
    assert_true(lru_remove(&l, &s[1].node));
    assert_false(lru_contains(&s[1].node));
    check_list(&l);
    assert_int_equal(l.bytes, 400);
    assert_int_equal(cnt(&l.stats.hits), 1);
    assert_false(lru_remove(&l, &s[1].node));
    assert_int_equal(cnt(&l.stats.hits), 1);

    // Removing the oldest moves next_expiry to the new oldest.
    assert_int_equal(atomic_load(&l.next_expiry_ms), 1010);
    assert_true(lru_remove(&l, &s[0].node));
    check_list(&l);
    assert_int_equal(atomic_load(&l.next_expiry_ms), 1012);
    assert_true(lru_remove(&l, &s[2].node));
    check_list(&l);
    assert_int_equal(l.count, 0);
    assert_int_equal(l.bytes, 0);
    assert_int_equal(cnt(&l.stats.hits), 3);

    // A removed node can be inserted again, counted as a new insertion.
    assert_null(lru_insert(&l, &s[1].node, 7, 50));
    assert_int_equal(cnt(&l.stats.inserted), 4);
    assert_true(lru_remove(&l, &s[1].node));
    assert_int_equal(cnt(&l.stats.evicted) + cnt(&l.stats.expired), 0);
    check_untouched(s, 3);
}

static void test_refresh_moves_to_newest(void **state) {
    lru_t l;
    lru_init(&l, 3, 1000, 100);
    fake_segment_t s[3];
    make_segments(s, 3);
    for (int i = 0; i < 3; i++)
        assert_null(lru_insert(&l, &s[i].node, 100, (uint64_t)i));
    // Refresh the oldest with a new size: it becomes the newest, counted once, bytes follow.
    assert_null(lru_insert(&l, &s[0].node, 250, 10));
    check_list(&l);
    assert_ptr_equal(l.newest, &s[0].node);
    assert_ptr_equal(l.oldest, &s[1].node);
    assert_int_equal(s[0].node.since_ms, 10);
    assert_int_equal(l.count, 3);
    assert_int_equal(l.bytes, 450);
    assert_int_equal(cnt(&l.stats.inserted), 3);
    assert_int_equal(atomic_load(&l.next_expiry_ms), 101);
    // Refreshing the newest, and a refresh at a full count, evicts nothing.
    assert_null(lru_insert(&l, &s[0].node, 250, 11));
    assert_null(lru_insert(&l, &s[2].node, 100, 12));
    check_list(&l);
    assert_ptr_equal(l.newest, &s[2].node);
    assert_ptr_equal(l.oldest, &s[1].node);
    assert_int_equal(cnt(&l.stats.inserted), 3);
    assert_int_equal(cnt(&l.stats.evicted), 0);
    // A refresh that grows a node past max_bytes evicts the oldest others.
    lru_node_t *out[4];
    assert_int_equal(chain_to_array(lru_insert(&l, &s[0].node, 850, 13), out, 4), 1);
    assert_ptr_equal(out[0], &s[1].node);
    check_list(&l);
    assert_int_equal(l.bytes, 950);
    assert_int_equal(cnt(&l.stats.evicted), 1);
    assert_int_equal(cnt(&l.stats.inserted), 3);
}

static void test_evict_by_count_oldest_first(void **state) {
    enum { N = 10 };
    lru_t l;
    lru_init(&l, 4, SIZE_MAX, UINT64_MAX);
    fake_segment_t s[N];
    make_segments(s, N);
    lru_node_t *out[N];
    for (int i = 0; i < N; i++) {
        lru_node_t *c = lru_insert(&l, &s[i].node, 1, (uint64_t)i);
        int n = chain_to_array(c, out, N);
        if (i < 4) {
            assert_int_equal(n, 0);
        } else {
            assert_int_equal(n, 1);
            assert_ptr_equal(out[0], &s[i - 4].node);
        }
        check_list(&l);
        assert_true(l.count <= 4);
    }
    assert_int_equal(cnt(&l.stats.evicted), N - 4);
    assert_int_equal(cnt(&l.stats.inserted), N);
    // The survivors are the four newest, newest first.
    for (int i = 0; i < 4; i++)
        assert_true(lru_contains(&s[N - 1 - i].node));
    assert_ptr_equal(l.newest, &s[N - 1].node);
    assert_ptr_equal(l.oldest, &s[N - 4].node);
}

static void test_evict_by_bytes_oldest_first(void **state) {
    lru_t l;
    lru_init(&l, 100, 100, UINT64_MAX);
    fake_segment_t s[6];
    make_segments(s, 6);
    lru_node_t *out[6];
    assert_null(lru_insert(&l, &s[0].node, 40, 1));
    assert_null(lru_insert(&l, &s[1].node, 40, 2));
    assert_null(lru_insert(&l, &s[2].node, 20, 3)); // exactly at the bound: stays
    assert_int_equal(l.bytes, 100);
    // 50 more: the two oldest must go (40 leaves 110, 80 leaves 70), oldest first.
    assert_int_equal(chain_to_array(lru_insert(&l, &s[3].node, 50, 4), out, 6), 2);
    assert_ptr_equal(out[0], &s[0].node);
    assert_ptr_equal(out[1], &s[1].node);
    assert_null(out[1]->next);
    check_list(&l);
    assert_int_equal(l.bytes, 70);
    // A node larger than the bound empties the cache and comes back itself, last.
    assert_int_equal(chain_to_array(lru_insert(&l, &s[4].node, 101, 5), out, 6), 3);
    assert_ptr_equal(out[0], &s[2].node);
    assert_ptr_equal(out[1], &s[3].node);
    assert_ptr_equal(out[2], &s[4].node);
    check_list(&l);
    assert_int_equal(l.count, 0);
    assert_int_equal(l.bytes, 0);
    assert_int_equal(cnt(&l.stats.evicted), 5);
    assert_int_equal(cnt(&l.stats.inserted), 5);
    assert_false(lru_remove(&l, &s[4].node));
    check_untouched(s, 6);
}

static void test_zero_capacity_is_pass_through(void **state) {
    lru_t l;
    lru_init(&l, 0, SIZE_MAX, 10);
    fake_segment_t s[2];
    make_segments(s, 2);
    for (int i = 0; i < 2; i++) {
        lru_node_t *c = lru_insert(&l, &s[i].node, 4096, 1);
        assert_ptr_equal(c, &s[i].node);
        assert_null(c->next);
        assert_false(lru_contains(&s[i].node));
    }
    check_list(&l);
    assert_int_equal(cnt(&l.stats.inserted), 2);
    assert_int_equal(cnt(&l.stats.evicted), 2);
}

static void test_expire_by_time(void **state) {
    enum { N = 5 };
    lru_t l;
    lru_init(&l, N, SIZE_MAX, 100);
    fake_segment_t s[N];
    make_segments(s, N);
    lru_node_t *out[N];
    for (int i = 0; i < N; i++)
        assert_null(lru_insert(&l, &s[i].node, 10, 1000 + 10 * (uint64_t)i)); // 1000 .. 1040
    assert_int_equal(atomic_load(&l.next_expiry_ms), 1100);
    assert_null(lru_expire(&l, 1099, false)); // nothing is 100 ms old yet
    assert_int_equal(l.count, N);
    // At 1115: exactly the nodes of 1000 and 1010 (ages 115 and 105), oldest first.
    assert_int_equal(chain_to_array(lru_expire(&l, 1115, false), out, N), 2);
    assert_ptr_equal(out[0], &s[0].node);
    assert_ptr_equal(out[1], &s[1].node);
    check_list(&l);
    assert_int_equal(atomic_load(&l.next_expiry_ms), 1120);
    assert_null(lru_expire(&l, 1119, false));
    // An age of exactly decay_ms expires.
    assert_int_equal(chain_to_array(lru_expire(&l, 1120, false), out, N), 1);
    assert_ptr_equal(out[0], &s[2].node);
    assert_int_equal(atomic_load(&l.next_expiry_ms), 1130);
    assert_int_equal(cnt(&l.stats.expired), 3);
    // `all` takes the rest whatever their age, oldest first.
    assert_int_equal(chain_to_array(lru_expire(&l, 0, true), out, N), 2);
    assert_ptr_equal(out[0], &s[3].node);
    assert_ptr_equal(out[1], &s[4].node);
    check_list(&l);
    assert_int_equal(atomic_load(&l.next_expiry_ms), UINT64_MAX);
    assert_int_equal(cnt(&l.stats.expired), N);
    assert_null(lru_expire(&l, UINT64_MAX, true));
    // Balance: every insertion ended in exactly one way.
    assert_int_equal(cnt(&l.stats.inserted),
                     cnt(&l.stats.hits) + cnt(&l.stats.evicted) + cnt(&l.stats.expired) + l.count);
}

static void test_clock_out_of_order_keeps_order(void **state) {
    // A thread whose clock reading lags another's inserts after it: its node is not older.
    lru_t l;
    lru_init(&l, 8, SIZE_MAX, 100);
    fake_segment_t s[3];
    make_segments(s, 3);
    assert_null(lru_insert(&l, &s[0].node, 1, 500));
    assert_null(lru_insert(&l, &s[1].node, 1, 450));
    assert_null(lru_insert(&l, &s[2].node, 1, 520));
    check_list(&l);
    assert_int_equal(s[1].node.since_ms, 500);
    lru_node_t *out[3];
    assert_int_equal(chain_to_array(lru_expire(&l, 600, false), out, 3), 2);
    assert_ptr_equal(out[0], &s[0].node);
    assert_ptr_equal(out[1], &s[1].node);
}

static void test_no_decay(void **state) {
    lru_t l;
    lru_init(&l, 8, SIZE_MAX, UINT64_MAX);
    fake_segment_t s[1];
    make_segments(s, 1);
    assert_null(lru_insert(&l, &s[0].node, 1, 12345));
    assert_int_equal(atomic_load(&l.next_expiry_ms), UINT64_MAX); // saturates, never overflows
    assert_null(lru_expire(&l, UINT64_MAX - 1, false));
    assert_true(lru_contains(&s[0].node));
    assert_ptr_equal(lru_expire(&l, 0, true), &s[0].node);
}

// The documented shortcuts take no lock: with the lock held (as fork's prepare handler holds it),
// an expire with nothing due and a remove of an unlinked node still return. A deadlock ends the
// child by SIGALRM.
static void test_cheap_paths_take_no_lock(void **state) {
    lru_t l;
    lru_init(&l, 8, SIZE_MAX, 100);
    fake_segment_t s[2];
    make_segments(s, 2);
    assert_null(lru_insert(&l, &s[0].node, 1, 1000));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        lru_lock(&l);
        bool ok = lru_expire(&l, 1099, false) == NULL && !lru_remove(&l, &s[1].node) &&
                  lru_contains(&s[0].node) && !lru_contains(&s[1].node);
        lru_unlock(&l);
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_lock_reset_in_fork_child(void **state) {
    // The parent holds the lock across fork; the child resets it and can use the cache.
    lru_t l;
    lru_init(&l, 8, SIZE_MAX, 100);
    fake_segment_t s[1];
    make_segments(s, 1);
    lru_lock(&l);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        hak_lock_reset(&l.lock);
        bool ok = lru_insert(&l, &s[0].node, 1, 1) == NULL && lru_remove(&l, &s[0].node);
        _exit(ok ? 0 : 1);
    }
    lru_unlock(&l);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_null(lru_insert(&l, &s[0].node, 1, 1));
    assert_true(lru_remove(&l, &s[0].node));
}

// ---- concurrency ---------------------------------------------------------------------------
//
// Four workers each own C_NODES nodes. Only the owner inserts a node, and only when it knows the
// node is out of the cache (state 0 -> 1, before the insert). Whoever ends a stay (the owner's
// remove returning true, or any thread receiving the node in an eviction or expiry chain) moves
// the state 1 -> 0. A failing transition means a node was linked twice, or handed back twice.
// A fifth thread expires everything, over and over.

#define C_WORKERS 4
#define C_NODES 48
#define C_ITERS 400000

typedef struct {
    lru_t lru;
    fake_segment_t seg[C_WORKERS][C_NODES];
    _Atomic int in[C_WORKERS][C_NODES];
    _Atomic uint64_t clock; // a fake clock: each operation advances it
    _Atomic int go, stop;
    _Atomic uint64_t violations, links, removes, chained;
} shared_t;

static void wait_go(shared_t *sh) {
    while (!atomic_load(&sh->go))
        sched_yield();
}

static uint64_t tick(shared_t *sh) {
    return atomic_fetch_add(&sh->clock, 1) / 8;
}

static _Atomic int *state_of(shared_t *sh, lru_node_t *n) {
    fake_segment_t *s = (fake_segment_t *)((char *)n - offsetof(fake_segment_t, node));
    ptrdiff_t idx = s - &sh->seg[0][0];
    if (idx < 0 || idx >= C_WORKERS * C_NODES) return NULL;
    return &sh->in[idx / C_NODES][idx % C_NODES];
}

// Take ownership of every node of a chain (reading ->next first: the owner may reuse it at once).
static void receive_chain(shared_t *sh, lru_node_t *c) {
    uint64_t v = 0, n = 0;
    for (lru_node_t *next; c != NULL; c = next) {
        next = c->next;
        _Atomic int *st = state_of(sh, c);
        int one = 1;
        if (st == NULL || lru_contains(c) || !atomic_compare_exchange_strong(st, &one, 0)) v++;
        n++;
    }
    atomic_fetch_add(&sh->chained, n);
    if (v) atomic_fetch_add(&sh->violations, v);
}

typedef struct {
    shared_t *sh;
    int id;
} worker_arg_t;

static void *worker_main(void *arg) {
    worker_arg_t *w = arg;
    shared_t *sh = w->sh;
    unsigned r = 12345u + 7919u * (unsigned)w->id;
    uint64_t v = 0, links = 0, removes = 0;
    wait_go(sh);
    for (int it = 0; it < C_ITERS; it++) {
        r = r * 1103515245u + 12345u;
        int i = (int)((r >> 8) % C_NODES);
        lru_node_t *n = &sh->seg[w->id][i].node;
        _Atomic int *st = &sh->in[w->id][i];
        unsigned op = (r >> 20) % 8;
        if (atomic_load(st) == 0) {
            // Out of the cache, and only this thread links it: remove must say so.
            if (lru_remove(&sh->lru, n)) v++;
            if (op < 6) {
                int zero = 0;
                if (!atomic_compare_exchange_strong(st, &zero, 1)) v++;
                links++;
                size_t bytes = 1 + (r >> 4) % 64;
                receive_chain(sh, lru_insert(&sh->lru, n, bytes, tick(sh)));
            }
        } else if (op < 4) {
            if (lru_remove(&sh->lru, n)) {
                int one = 1;
                if (!atomic_compare_exchange_strong(st, &one, 0)) v++;
                removes++;
            }
        } else {
            receive_chain(sh, lru_expire(&sh->lru, tick(sh), false));
        }
    }
    atomic_fetch_add(&sh->violations, v);
    atomic_fetch_add(&sh->links, links);
    atomic_fetch_add(&sh->removes, removes);
    return NULL;
}

static void *expirer_main(void *arg) {
    shared_t *sh = arg;
    unsigned k = 0;
    wait_go(sh);
    while (!atomic_load(&sh->stop)) {
        receive_chain(sh, lru_expire(&sh->lru, tick(sh), true));
        if (++k % 16 == 0) sched_yield();
    }
    return NULL;
}

static void test_concurrent_each_node_linked_at_most_once(void **state) {
    shared_t *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    // Bounds far below what the workers can insert (192 nodes, up to 64 bytes each) so that most
    // stays end by eviction, racing with the owners' removes, and a decay short enough on the
    // fake clock that expiry finds nodes too.
    lru_init(&sh->lru, 24, 24 * 40, 40);
    make_segments(&sh->seg[0][0], C_WORKERS * C_NODES);
    pthread_t tid[C_WORKERS], expirer;
    worker_arg_t args[C_WORKERS];
    assert_int_equal(pthread_create(&expirer, NULL, expirer_main, sh), 0);
    for (int t = 0; t < C_WORKERS; t++) {
        args[t] = (worker_arg_t){sh, t};
        assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &args[t]), 0);
    }
    atomic_store(&sh->go, 1);
    for (int t = 0; t < C_WORKERS; t++)
        pthread_join(tid[t], NULL);
    atomic_store(&sh->stop, 1);
    pthread_join(expirer, NULL);

    lru_t *l = &sh->lru;
    check_list(l);
    assert_true(l->count <= l->max_count);
    assert_true(l->bytes <= l->max_bytes);
    receive_chain(sh, lru_expire(l, 0, true));
    check_list(l);
    assert_int_equal(l->count, 0);
    assert_int_equal(atomic_load(&sh->violations), 0);
    for (int t = 0; t < C_WORKERS; t++)
        for (int i = 0; i < C_NODES; i++) {
            assert_int_equal(atomic_load(&sh->in[t][i]), 0);
            assert_false(lru_contains(&sh->seg[t][i].node));
        }
    check_untouched(&sh->seg[0][0], C_WORKERS * C_NODES);

    uint64_t ins = cnt(&l->stats.inserted), hits = cnt(&l->stats.hits), ev = cnt(&l->stats.evicted),
             ex = cnt(&l->stats.expired);
    print_message("links %llu: hits %llu, evicted %llu, expired %llu\n", (unsigned long long)ins,
                  (unsigned long long)hits, (unsigned long long)ev, (unsigned long long)ex);
    assert_int_equal(ins, atomic_load(&sh->links));
    assert_int_equal(hits, atomic_load(&sh->removes));
    assert_int_equal(ev + ex, atomic_load(&sh->chained));
    assert_int_equal(ins, hits + ev + ex);
    // Every way out was exercised.
    assert_true(hits > 0);
    assert_true(ev > 0);
    assert_true(ex > 0);
    free(sh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_remove_hits),
        cmocka_unit_test(test_refresh_moves_to_newest),
        cmocka_unit_test(test_evict_by_count_oldest_first),
        cmocka_unit_test(test_evict_by_bytes_oldest_first),
        cmocka_unit_test(test_zero_capacity_is_pass_through),
        cmocka_unit_test(test_expire_by_time),
        cmocka_unit_test(test_clock_out_of_order_keeps_order),
        cmocka_unit_test(test_no_decay),
        cmocka_unit_test(test_cheap_paths_take_no_lock),
        cmocka_unit_test(test_lock_reset_in_fork_child),
        cmocka_unit_test(test_concurrent_each_node_linked_at_most_once),
    };
    return cmocka_run_group_tests_name("lru", tests, NULL, NULL);
}
