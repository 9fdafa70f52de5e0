// Unit tests of the page_arena box: freed spans kept hot (pages kept), warm (decommitted but for
// their first page, still mapped) or released (unmapped), with bounds, decay and best fit.
// Spans are real mappings: residency and unmapping are checked with mincore(2).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "page_arena.h"

static size_t page;

static int setup(void **state) {
    page = hak_os_page_size();
    return 0;
}

static uint64_t cnt(_Atomic uint64_t *c) {
    return atomic_load(c);
}

static char *map_span(size_t bytes, size_t align) {
    char *p = hak_os_reserve_aligned(bytes, align);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % align, 0);
    return p;
}

// The byte pattern of a span at an offset (never zero).
static unsigned char pattern(const char *span, size_t off) {
    return (unsigned char)(((uintptr_t)span >> 12) * 31 + off * 7 + 1) | 1;
}

static void fill(char *span, size_t bytes) {
    for (size_t off = 0; off < bytes; off++)
        span[off] = (char)pattern(span, off);
}

// Whether [from, bytes) of the span still holds its pattern.
static bool intact(const char *span, size_t from, size_t bytes) {
    for (size_t off = from; off < bytes; off++)
        if ((unsigned char)span[off] != pattern(span, off)) return false;
    return true;
}

static bool all_zero(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0) return false;
    return true;
}

// Pages of [p, p + bytes) resident now; -1 when some page of the range is not mapped.
static long resident_pages(void *p, size_t bytes) {
    size_t n = bytes / page;
    unsigned char vec[2048];
    assert_true(n <= sizeof vec);
    if (mincore(p, bytes, vec) != 0) {
        assert_int_equal(errno, ENOMEM);
        return -1;
    }
    long r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    return r;
}

// Whether no page of the range is mapped any more.
static bool unmapped(void *p, size_t bytes) {
    unsigned char v;
    for (size_t off = 0; off < bytes; off += page)
        if (mincore((char *)p + off, page, &v) == 0 || errno != ENOMEM) return false;
    return true;
}

static void check_balance(page_arena_t *a) {
    assert_int_equal(cnt(&a->stats.puts),
                     cnt(&a->stats.hot_hits) + cnt(&a->stats.warm_hits) + cnt(&a->stats.released));
}

// ---- single thread ---------------------------------------------------------------------------

static void test_miss_on_empty(void **state) {
    page_arena_t a;
    memset(&a, 0x5A, sizeof a);
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, 100, 1000);
    size_t got = 7;
    bool hot = true;
    assert_null(page_arena_take(&a, page, &got, &hot));
    assert_null(page_arena_take(&a, 2 * HAK_MiB, &got, &hot));
    assert_int_equal(got, 7); // untouched on a miss
    assert_int_equal(cnt(&a.stats.misses), 2);
    page_arena_tick(&a, 1000000);
    assert_false(page_arena_trim(&a));
    assert_int_equal(cnt(&a.stats.puts) + cnt(&a.stats.hot_hits) + cnt(&a.stats.warm_hits) +
                         cnt(&a.stats.decommitted) + cnt(&a.stats.released),
                     0);
}

static void test_put_take_hot_intact(void **state) {
    page_arena_t a;
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    size_t bytes = 2 * HAK_MiB;
    char *s = map_span(bytes, 2 * HAK_MiB);
    fill(s, bytes);
    long res = resident_pages(s, bytes);
    page_arena_put(&a, s, bytes, 10);
    assert_int_equal(a.hot.bytes, bytes);
    size_t got = 0;
    bool hot = false;
    assert_ptr_equal(page_arena_take(&a, bytes, &got, &hot), s);
    assert_true(hot);
    assert_int_equal(got, bytes);
    // Every byte is as the caller left it (the index holds the arena's data), no page was dropped.
    assert_true(intact(s, 0, bytes));
    assert_int_equal(resident_pages(s, bytes), res);
    assert_int_equal(a.hot.bytes, 0);
    assert_null(page_arena_take(&a, bytes, &got, &hot)); // taken once only
    assert_int_equal(cnt(&a.stats.puts), 1);
    assert_int_equal(cnt(&a.stats.hot_hits), 1);
    assert_int_equal(cnt(&a.stats.misses), 1);
    assert_int_equal(cnt(&a.stats.decommitted), 0);
    hak_os_release(s, bytes);
}

static void test_slack_rule(void **state) {
    page_arena_t a;
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    size_t bytes = 40 * page;
    char *s = map_span(bytes, page);
    page_arena_put(&a, s, bytes, 1);
    size_t got;
    bool hot;
    assert_null(page_arena_take(&a, 41 * page, &got, &hot));     // too small
    assert_null(page_arena_take(&a, 40 * page + 1, &got, &hot)); // too small by a byte
    assert_null(page_arena_take(&a, 31 * page, &got, &hot));     // 40 > 31 + 7.75 pages
    assert_null(page_arena_take(&a, 32 * page - 1, &got, &hot)); // just over a quarter more
    assert_null(page_arena_take(&a, 0, &got, &hot));
    assert_int_equal(cnt(&a.stats.misses), 5);
    // 40 pages == 32 + 32/4: exactly a quarter more is accepted.
    assert_ptr_equal(page_arena_take(&a, 32 * page, &got, &hot), s);
    assert_int_equal(got, bytes);
    page_arena_put(&a, s, bytes, 2);
    assert_ptr_equal(page_arena_take(&a, 40 * page, &got, &hot), s);
    hak_os_release(s, bytes);
}

static void test_best_fit(void **state) {
    page_arena_t a;
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    const size_t pages[] = {40, 34, 36, 33, 20};
    char *s[5];
    for (int i = 0; i < 5; i++) {
        s[i] = map_span(pages[i] * page, page);
        page_arena_put(&a, s[i], pages[i] * page, (uint64_t)i);
    }
    size_t got;
    bool hot;
    assert_ptr_equal(page_arena_take(&a, 33 * page, &got, &hot), s[3]); // exact
    assert_ptr_equal(page_arena_take(&a, 32 * page, &got, &hot), s[1]); // 34 of 34, 36, 40
    assert_int_equal(got, 34 * page);
    assert_ptr_equal(page_arena_take(&a, 32 * page, &got, &hot), s[2]);
    assert_ptr_equal(page_arena_take(&a, 32 * page, &got, &hot), s[0]);
    assert_null(page_arena_take(&a, 32 * page, &got, &hot)); // 20 is too small
    assert_ptr_equal(page_arena_take(&a, 17 * page, &got, &hot), s[4]);
    for (int i = 0; i < 5; i++)
        hak_os_release(s[i], pages[i] * page);
}

static void test_hot_bound_demotes_oldest_to_warm(void **state) {
    // Room for two hot 2 MiB spans: a third put decommits the oldest, which stays mapped.
    page_arena_t a;
    size_t bytes = 2 * HAK_MiB;
    page_arena_init(&a, 2 * bytes, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    char *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = map_span(bytes, 2 * HAK_MiB);
        fill(s[i], bytes);
        page_arena_put(&a, s[i], bytes, 100 + (uint64_t)i);
    }
    assert_int_equal(cnt(&a.stats.decommitted), 1);
    assert_int_equal(a.hot.bytes, 2 * bytes);
    assert_int_equal(a.warm.bytes, bytes);
    // The oldest kept its first page only; the others kept all theirs.
    assert_int_equal(resident_pages(s[0], bytes), 1);
    assert_int_equal(resident_pages(s[1], bytes), (long)(bytes / page));
    size_t got;
    bool hot;
    assert_ptr_equal(page_arena_take(&a, bytes, &got, &hot), s[2]); // hot first, newest first
    assert_true(hot);
    assert_ptr_equal(page_arena_take(&a, bytes, &got, &hot), s[1]);
    assert_true(hot);
    assert_true(intact(s[1], 0, bytes));
    assert_ptr_equal(page_arena_take(&a, bytes, &got, &hot), s[0]);
    assert_false(hot);
    assert_int_equal(got, bytes);
    // First page intact (past the node), every other page reads zero.
    assert_true(intact(s[0], sizeof(pa_span_t), page));
    assert_true(all_zero(s[0] + page, bytes - page));
    assert_int_equal(cnt(&a.stats.hot_hits), 2);
    assert_int_equal(cnt(&a.stats.warm_hits), 1);
    check_balance(&a);
    for (int i = 0; i < 3; i++)
        hak_os_release(s[i], bytes);
}

static void test_hot_preferred_over_warm(void **state) {
    page_arena_t a;
    page_arena_init(&a, 20 * page, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    char *w = map_span(16 * page, page), *h = map_span(18 * page, page);
    page_arena_put(&a, w, 16 * page, 1);
    page_arena_put(&a, h, 18 * page, 2); // 34 pages > 20: w (the oldest) goes warm
    assert_int_equal(a.warm.bytes, 16 * page);
    size_t got;
    bool hot;
    // w fits exactly but is warm; h fits within the slack and is hot: h wins.
    assert_ptr_equal(page_arena_take(&a, 16 * page, &got, &hot), h);
    assert_true(hot);
    assert_ptr_equal(page_arena_take(&a, 16 * page, &got, &hot), w);
    assert_false(hot);
    hak_os_release(w, 16 * page);
    hak_os_release(h, 18 * page);
}

static void test_warm_bound_releases_oldest(void **state) {
    // No hot level: every put decommits; room for two warm spans of 8 pages.
    page_arena_t a;
    size_t bytes = 8 * page;
    page_arena_init(&a, 0, 2 * bytes, UINT64_MAX, UINT64_MAX);
    char *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = map_span(bytes, page);
        fill(s[i], bytes);
        page_arena_put(&a, s[i], bytes, (uint64_t)i);
        assert_int_equal(a.hot.bytes, 0);
    }
    assert_int_equal(cnt(&a.stats.decommitted), 3);
    assert_int_equal(cnt(&a.stats.released), 1);
    assert_int_equal(cnt(&a.stats.bytes_released), bytes);
    assert_true(unmapped(s[0], bytes));
    assert_int_equal(resident_pages(s[1], bytes), 1);
    assert_int_equal(resident_pages(s[2], bytes), 1);
    assert_int_equal(a.warm.bytes, 2 * bytes);

    // A span larger than the whole warm bound is unmapped at once, without a decommit.
    char *big = map_span(3 * bytes, page);
    page_arena_put(&a, big, 3 * bytes, 5);
    assert_true(unmapped(big, 3 * bytes));
    assert_int_equal(cnt(&a.stats.decommitted), 3);
    assert_int_equal(cnt(&a.stats.released), 2);
    assert_int_equal(a.warm.bytes, 2 * bytes);

    assert_true(page_arena_trim(&a));
    assert_true(unmapped(s[1], bytes));
    assert_true(unmapped(s[2], bytes));
    assert_int_equal(cnt(&a.stats.bytes_released), 6 * bytes);
    check_balance(&a);
}

static void test_nothing_cached_when_both_bounds_zero(void **state) {
    page_arena_t a;
    page_arena_init(&a, 0, 0, UINT64_MAX, UINT64_MAX);
    char *s = map_span(4 * page, page);
    page_arena_put(&a, s, 4 * page, 1);
    assert_true(unmapped(s, 4 * page));
    assert_int_equal(cnt(&a.stats.decommitted), 0);
    assert_int_equal(cnt(&a.stats.released), 1);
    size_t got;
    bool hot;
    assert_null(page_arena_take(&a, 4 * page, &got, &hot));
    assert_false(page_arena_trim(&a));
}

static void test_decay_by_time_with_tick(void **state) {
    page_arena_t a;
    size_t bytes = 16 * page;
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, 100, 1000);
    char *x = map_span(bytes, page), *y = map_span(bytes, page);
    fill(x, bytes);
    fill(y, bytes);
    page_arena_put(&a, x, bytes, 0);
    page_arena_put(&a, y, bytes, 50);
    page_arena_tick(&a, 99);
    assert_int_equal(cnt(&a.stats.decommitted), 0);
    page_arena_tick(&a, 100); // x is 100 ms old: warm from now
    assert_int_equal(cnt(&a.stats.decommitted), 1);
    assert_int_equal(resident_pages(x, bytes), 1);
    assert_int_equal(resident_pages(y, bytes), (long)(bytes / page));
    page_arena_tick(&a, 150); // y goes warm at 150
    assert_int_equal(cnt(&a.stats.decommitted), 2);
    assert_int_equal(a.hot.bytes, 0);
    assert_int_equal(a.warm.bytes, 2 * bytes);
    // Warm decay counts from the time a span became warm.
    page_arena_tick(&a, 1099);
    assert_int_equal(cnt(&a.stats.released), 0);
    page_arena_tick(&a, 1100);
    assert_int_equal(cnt(&a.stats.released), 1);
    assert_true(unmapped(x, bytes));
    assert_int_equal(resident_pages(y, bytes), 1);
    // A put applies decay too.
    char *z = map_span(bytes, page);
    page_arena_put(&a, z, bytes, 1150);
    assert_int_equal(cnt(&a.stats.released), 2);
    assert_true(unmapped(y, bytes));
    assert_int_equal(a.hot.bytes, bytes);
    assert_int_equal(a.warm.bytes, 0);
    assert_true(page_arena_trim(&a));
    assert_true(unmapped(z, bytes));
    check_balance(&a);
}

static void test_clock_out_of_order(void **state) {
    // A put whose clock reading lags the newest span's is not treated as older than it.
    page_arena_t a;
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, 100, UINT64_MAX);
    char *x = map_span(page, page), *y = map_span(page, page);
    page_arena_put(&a, x, page, 500);
    page_arena_put(&a, y, page, 450);
    assert_int_equal(a.hot.count, 2);
    assert_ptr_equal(a.hot.entry[1].span, y);
    assert_int_equal(a.hot.entry[1].since_ms, 500);
    page_arena_tick(&a, 599);
    assert_int_equal(cnt(&a.stats.decommitted), 0);
    page_arena_tick(&a, 600);
    assert_int_equal(cnt(&a.stats.decommitted), 2); // one-page spans: nothing to drop, still warm
    size_t got;
    bool hot;
    assert_non_null(page_arena_take(&a, page, &got, &hot));
    assert_false(hot);
    assert_true(page_arena_trim(&a));
}

static void test_trim_releases_everything(void **state) {
    page_arena_t a;
    size_t bytes = 4 * page;
    page_arena_init(&a, 3 * bytes, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    char *s[6];
    for (int i = 0; i < 6; i++) {
        s[i] = map_span(bytes, page);
        page_arena_put(&a, s[i], bytes, (uint64_t)i);
    }
    assert_int_equal(a.hot.bytes, 3 * bytes);
    assert_int_equal(a.warm.bytes, 3 * bytes);
    assert_true(page_arena_trim(&a));
    for (int i = 0; i < 6; i++)
        assert_true(unmapped(s[i], bytes));
    assert_int_equal(a.hot.bytes + a.warm.bytes, 0);
    assert_int_equal(cnt(&a.stats.released), 6);
    assert_int_equal(cnt(&a.stats.bytes_released), 6 * bytes);
    assert_false(page_arena_trim(&a));
    size_t got;
    bool hot;
    assert_null(page_arena_take(&a, bytes, &got, &hot));
    check_balance(&a);
}

static void test_level_holds_at_most_cap_spans(void **state) {
    // Byte bounds far away: the count bound alone moves spans on, oldest first.
    page_arena_t a;
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    enum { N = 2 * PA_LEVEL_CAP + 3 };
    char *s[N];
    for (int i = 0; i < N; i++) {
        s[i] = map_span(page, page);
        page_arena_put(&a, s[i], page, (uint64_t)i);
    }
    assert_int_equal(a.hot.count, PA_LEVEL_CAP);
    assert_int_equal(a.warm.count, PA_LEVEL_CAP);
    assert_int_equal(cnt(&a.stats.decommitted), N - PA_LEVEL_CAP);
    assert_int_equal(cnt(&a.stats.released), 3);
    // The three oldest went through both levels (their addresses may have been mapped again
    // for later spans); the others sit in put order.
    for (int i = 0; i < PA_LEVEL_CAP; i++) {
        assert_ptr_equal(a.warm.entry[i].span, s[3 + i]);
        assert_ptr_equal(a.hot.entry[i].span, s[N - PA_LEVEL_CAP + i]);
    }
    size_t got;
    bool hot;
    assert_ptr_equal(page_arena_take(&a, page, &got, &hot), s[N - 1]); // newest of equals
    assert_true(hot);
    assert_true(page_arena_trim(&a));
    check_balance(&a);
}

static void expect_abort(page_arena_t *a, void *span, size_t bytes) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        close(2); // the one-line diagnostic is expected
        page_arena_put(a, span, bytes, 1);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_put_of_partial_pages_is_fatal(void **state) {
    page_arena_t a;
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    char *s = map_span(4 * page, page);
    expect_abort(&a, s + 64, 2 * page);
    expect_abort(&a, s, page + 1);
    expect_abort(&a, s, 0);
    hak_os_release(s, 4 * page);
}

static void test_lock_reset_in_fork_child(void **state) {
    page_arena_t a;
    page_arena_init(&a, 64 * HAK_MiB, 64 * HAK_MiB, UINT64_MAX, UINT64_MAX);
    char *s = map_span(page, page);
    hak_lock(&a.lock);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10); // a deadlock ends as SIGALRM
        hak_lock_reset(&a.lock);
        page_arena_put(&a, s, page, 1);
        size_t got;
        bool hot;
        _exit(page_arena_take(&a, page, &got, &hot) == s && hot ? 0 : 1);
    }
    hak_unlock(&a.lock);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    page_arena_put(&a, s, page, 1);
    assert_true(page_arena_trim(&a));
}

// ---- concurrency ---------------------------------------------------------------------------
//
// Four threads take spans (mapping a new one on a miss), hold up to C_HOLD, and put them back.
// A holder stamps a word in every page of its span with its own tag and checks, before the put,
// that every stamp is still its own: nobody else wrote into a span it held, and no decommit ran
// over it. A warm span must read zero in every page but the first when taken (a decommit that
// ran after the span was published, over a new holder's stamps, shows up as one of the two).
// Small bounds and a fast fake clock keep spans moving through all three levels; thread 0 also
// ticks and, now and then, trims.

#define C_THREADS 4
#define C_ITERS 20000
#define C_HOLD 3
#define C_STAMP 64 // offset of the stamp in each page, past the node

typedef struct {
    page_arena_t arena;
    _Atomic uint64_t clock;
    _Atomic int go;
    _Atomic uint64_t violations, mapped, mapped_bytes, takes;
} cshared_t;

typedef struct {
    cshared_t *sh;
    int id;
} cworker_t;

static uint64_t cnow(cshared_t *sh) {
    return atomic_fetch_add(&sh->clock, 1) / 16;
}

static void stamp(char *s, size_t bytes, uint64_t tag) {
    for (size_t off = 0; off < bytes; off += page) {
        memcpy(s + off + C_STAMP, &tag, sizeof tag);
        memcpy(s + off + page - sizeof tag, &tag, sizeof tag);
    }
}

static bool stamped(const char *s, size_t bytes, uint64_t tag) {
    for (size_t off = 0; off < bytes; off += page) {
        uint64_t a, b;
        memcpy(&a, s + off + C_STAMP, sizeof a);
        memcpy(&b, s + off + page - sizeof b, sizeof b);
        if (a != tag || b != tag) return false;
    }
    return true;
}

static void *cworker_main(void *arg) {
    cworker_t *w = arg;
    cshared_t *sh = w->sh;
    page_arena_t *a = &sh->arena;
    struct {
        char *s;
        size_t bytes;
        uint64_t tag;
    } held[C_HOLD];
    int nheld = 0;
    uint64_t v = 0, mapped = 0, mapped_bytes = 0, takes = 0;
    unsigned r = 99u + 104729u * (unsigned)w->id;
    static const size_t sizes[] = {8, 9, 10, 12, 16};
    while (!atomic_load(&sh->go))
        sched_yield();
    for (int it = 0; it < C_ITERS; it++) {
        r = r * 1103515245u + 12345u;
        if (nheld == 0 || (nheld < C_HOLD && (r >> 16) % 2 == 0)) {
            size_t bytes = sizes[(r >> 8) % 5] * page, got = 0;
            bool hot = false;
            char *s = page_arena_take(a, bytes, &got, &hot);
            if (s == NULL) {
                s = hak_os_reserve_aligned(bytes, page);
                if (s == NULL) {
                    v++;
                    continue;
                }
                got = bytes;
                mapped++;
                mapped_bytes += bytes;
            } else {
                takes++;
                if (got < bytes || got - bytes > bytes / 4 || (uintptr_t)s % page != 0) v++;
                if (!hot) {
                    for (size_t off = page; off < got; off += page)
                        if (!all_zero(s + off, page)) {
                            v++;
                            break;
                        }
                }
            }
            uint64_t tag = ((uint64_t)(w->id + 1) << 48) | (uint64_t)it;
            stamp(s, got, tag);
            held[nheld].s = s;
            held[nheld].bytes = got;
            held[nheld].tag = tag;
            nheld++;
        } else {
            int k = (int)((r >> 8) % (unsigned)nheld);
            if (!stamped(held[k].s, held[k].bytes, held[k].tag)) v++;
            page_arena_put(a, held[k].s, held[k].bytes, cnow(sh));
            held[k] = held[--nheld];
        }
        if (w->id == 0 && it % 64 == 0) page_arena_tick(a, cnow(sh));
        if (w->id == 0 && it % 4096 == 4095) page_arena_trim(a);
    }
    for (int k = 0; k < nheld; k++) {
        if (!stamped(held[k].s, held[k].bytes, held[k].tag)) v++;
        page_arena_put(a, held[k].s, held[k].bytes, cnow(sh));
    }
    atomic_fetch_add(&sh->violations, v);
    atomic_fetch_add(&sh->mapped, mapped);
    atomic_fetch_add(&sh->mapped_bytes, mapped_bytes);
    atomic_fetch_add(&sh->takes, takes);
    return NULL;
}

static void test_concurrent_put_take(void **state) {
    cshared_t *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    // Hot: about 6 spans; warm: about 6; decays of a few hundred operations on the fake clock.
    page_arena_init(&sh->arena, 64 * page, 64 * page, 20, 60);
    pthread_t tid[C_THREADS];
    cworker_t args[C_THREADS];
    for (int t = 0; t < C_THREADS; t++) {
        args[t] = (cworker_t){sh, t};
        assert_int_equal(pthread_create(&tid[t], NULL, cworker_main, &args[t]), 0);
    }
    atomic_store(&sh->go, 1);
    for (int t = 0; t < C_THREADS; t++)
        pthread_join(tid[t], NULL);
    page_arena_t *a = &sh->arena;
    page_arena_trim(a);
    print_message(
        "mapped %llu, puts %llu: hot hits %llu, warm hits %llu, misses %llu, "
        "decommitted %llu, released %llu\n",
        (unsigned long long)atomic_load(&sh->mapped), (unsigned long long)cnt(&a->stats.puts),
        (unsigned long long)cnt(&a->stats.hot_hits), (unsigned long long)cnt(&a->stats.warm_hits),
        (unsigned long long)cnt(&a->stats.misses), (unsigned long long)cnt(&a->stats.decommitted),
        (unsigned long long)cnt(&a->stats.released));
    assert_int_equal(atomic_load(&sh->violations), 0);
    check_balance(a);
    // Every span mapped was unmapped by the arena, exactly once.
    assert_int_equal(cnt(&a->stats.released), atomic_load(&sh->mapped));
    assert_int_equal(cnt(&a->stats.bytes_released), atomic_load(&sh->mapped_bytes));
    assert_int_equal(cnt(&a->stats.hot_hits) + cnt(&a->stats.warm_hits), atomic_load(&sh->takes));
    assert_int_equal(a->hot.count, 0);
    assert_int_equal(a->warm.count, 0);
    // All three levels were exercised.
    assert_true(cnt(&a->stats.hot_hits) > 0);
    assert_true(cnt(&a->stats.warm_hits) > 0);
    assert_true(cnt(&a->stats.decommitted) > 0);
    free(sh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_on_empty),
        cmocka_unit_test(test_put_take_hot_intact),
        cmocka_unit_test(test_slack_rule),
        cmocka_unit_test(test_best_fit),
        cmocka_unit_test(test_hot_bound_demotes_oldest_to_warm),
        cmocka_unit_test(test_hot_preferred_over_warm),
        cmocka_unit_test(test_warm_bound_releases_oldest),
        cmocka_unit_test(test_nothing_cached_when_both_bounds_zero),
        cmocka_unit_test(test_decay_by_time_with_tick),
        cmocka_unit_test(test_clock_out_of_order),
        cmocka_unit_test(test_trim_releases_everything),
        cmocka_unit_test(test_level_holds_at_most_cap_spans),
        cmocka_unit_test(test_put_of_partial_pages_is_fatal),
        cmocka_unit_test(test_lock_reset_in_fork_child),
        cmocka_unit_test(test_concurrent_put_take),
    };
    return cmocka_run_group_tests_name("page_arena", tests, setup, NULL);
}
