// Introspection: hak_good_size, the sized frees, hak_stats_json, malloc_stats and malloc_info, and
// (plain names, with HAKMEM_OVERRIDE) mallinfo2 and mallinfo, checked against what the test itself
// allocates. Compiled twice like api_conformance.c: hak_ names (every preset) and plain names.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "conformance_common.h"

static void test_good_size_is_what_malloc_gives(void **state) {
    size_t prev = 0;
    for (size_t n = 0; n <= 4 * LARGE_MAX; n = n < 4096 ? n + 1 : n + n / 7) {
        size_t good = hak_good_size(opaque(n));
        assert_true(good >= n);
        assert_true(good >= prev); // never less for a larger request
        prev = good;
        if (n % 97 != 0 && n > 4096) continue; // allocate a sample of the sizes
        void *p = escape(API(malloc)(opaque(n)));
        assert_non_null(p);
        size_t usable = API(malloc_usable_size)(p);
        if (n <= LARGE_MAX) assert_int_equal(usable, good); // a slab block: exactly its class
        else assert_true(usable >= good);                   // a reused mapping may be larger
        API(free)(p);
    }
}

static uint64_t frees_now(void) {
    hak_stats_t st;
    hak_stats_get(&st);
    return st.frees[0] + st.frees[1] + st.frees[2] + st.frees[3];
}

static void test_sized_frees(void **state) {
    uint64_t before = frees_now();
    void *p = escape(API(malloc)(opaque(100)));
    void *q = escape(API(aligned_alloc)(256, opaque(1000)));
    void *h = escape(API(malloc)(opaque(4 << 20)));
    API(free_sized)(p, 100);
    API(free_aligned_sized)(q, 256, 1000);
    API(free_sized)(h, 4 << 20);
    API(free_sized)(NULL, 0);
    assert_int_equal(frees_now(), before + 3);
}

static void test_stats_json_cut_like_snprintf(void **state) {
    static char full[1 << 16], part[64];
    size_t n = hak_stats_json(full, sizeof full);
    assert_true(n > 100 && n < sizeof full);
    assert_int_equal(strlen(full), n);
    assert_memory_equal(full, "{\"tiny\": {\"allocs\": ", 20);
    assert_int_equal(full[n - 1], '}');
    memset(part, 'x', sizeof part);
    size_t m = hak_stats_json(part, sizeof part);
    assert_true(m > sizeof part);             // the whole length, as snprintf
    assert_int_equal(strlen(part), sizeof part - 1);
    assert_memory_equal(part, full, 20);
    char untouched = 'u';
    assert_true(hak_stats_json(&untouched, 0) > 0);
    assert_int_equal(untouched, 'u');
}

// Live bytes follow what this thread allocates, at the size classes' sizes.
static void test_in_use_bytes(void **state) {
    enum { N = 1000 };
    static void *p[N];
    hak_stats_t a, b, c;
    hak_stats_get(&a);
    for (int i = 0; i < N; i++) p[i] = escape(API(malloc)(opaque(1000))); // class 1024
    hak_stats_get(&b);
    for (int i = 0; i < N; i++) API(free)(p[i]);
    hak_stats_get(&c);
    assert_int_equal(b.in_use_bytes - a.in_use_bytes, N * 1024);
    assert_int_equal(c.in_use_bytes, a.in_use_bytes);
    assert_true(b.committed_bytes >= b.in_use_bytes);
}

// Runs fn with stderr going to a pipe; returns what it wrote.
static const char *capture_stderr(void (*fn)(void)) {
    static char out[8192];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    fn();
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void call_malloc_stats(void) { API(malloc_stats)(); }

static void test_malloc_stats(void **state) {
    const char *out = capture_stderr(call_malloc_stats);
    assert_non_null(strstr(out, "Arena 0 (tiny):\nsystem bytes     = "));
    assert_non_null(strstr(out, "Arena 2 (large):\n"));
    assert_non_null(strstr(out, "Total (incl. mmap):\nsystem bytes     = "));
    assert_non_null(strstr(out, "\nmax mmap bytes   = "));
}

static void test_malloc_info(void **state) {
    FILE *f = tmpfile();
    assert_non_null(f);
    void *p = escape(API(malloc)(opaque(5000)));
    errno = 0;
    assert_int_equal(API(malloc_info)(1, f), -1); // options must be 0
    assert_int_equal(errno, EINVAL);
    assert_int_equal(API(malloc_info)(0, f), 0);
    API(free)(p);
    static char xml[1 << 16];
    rewind(f);
    size_t n = fread(xml, 1, sizeof xml - 1, f);
    fclose(f);
    xml[n] = '\0';
    assert_memory_equal(xml, "<malloc version=\"1\">\n<heap nr=\"0\">\n", 34);
    assert_non_null(strstr(xml, "<heap nr=\"2\">"));
    assert_non_null(strstr(xml, "<total type=\"mmap\" count=\""));
    assert_string_equal(xml + n - 10, "</malloc>\n");
}

#if HAKMEM_CONFORMANCE_PLAIN
static void assert_adds_up(struct mallinfo2 m) {
    assert_int_equal(m.uordblks + m.fordblks, m.arena);
    assert_true(m.keepcost <= m.fordblks + m.hblkhd);
    assert_true(m.fsmblks <= m.fordblks);
}

static void test_mallinfo2_follows_the_heap(void **state) {
    enum { N = 1000 };
    static void *p[N];
    malloc_trim(0);
    struct mallinfo2 a = mallinfo2();
    assert_adds_up(a);
    for (int i = 0; i < N; i++) p[i] = escape(malloc(opaque(1000)));
    void *huge = escape(malloc(opaque(8 << 20)));
    struct mallinfo2 b = mallinfo2();
    assert_adds_up(b);
    assert_int_equal(b.uordblks - a.uordblks, N * 1024);
    assert_int_equal(b.hblks, a.hblks + 1);
    assert_true(b.hblkhd >= a.hblkhd + (8 << 20));
    for (int i = 0; i < N; i++) free(p[i]);
    free(huge);
    struct mallinfo2 c = mallinfo2();
    assert_adds_up(c);
    assert_int_equal(c.uordblks, a.uordblks);
    assert_int_equal(c.hblkhd, a.hblkhd);
    assert_true(c.fordblks > a.fordblks); // freed, not yet given back
    malloc_trim(0);
    struct mallinfo2 d = mallinfo2();
    assert_adds_up(d);
    assert_int_equal(d.keepcost, 0); // nothing left to purge
    assert_true(d.fordblks < c.fordblks);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo legacy = mallinfo(); // the same figures, in ints
#pragma GCC diagnostic pop
    assert_int_equal((size_t)legacy.uordblks, d.uordblks);
    assert_int_equal((size_t)legacy.hblks, d.hblks);
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_size_is_what_malloc_gives),
        cmocka_unit_test(test_sized_frees),
        cmocka_unit_test(test_stats_json_cut_like_snprintf),
        cmocka_unit_test(test_in_use_bytes),
        cmocka_unit_test(test_malloc_stats),
        cmocka_unit_test(test_malloc_info),
#if HAKMEM_CONFORMANCE_PLAIN
        cmocka_unit_test(test_mallinfo2_follows_the_heap),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
