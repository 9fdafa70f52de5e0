// API conformance: every malloc-family function behaves as glibc documents it.
//
// Compiled twice from this one file:
//   conformance_hak   calls the hak_ functions of hakmem.h (every preset)
//   conformance_libc  calls the plain C library names, which hakmem exports when it overrides
//                     malloc (HAKMEM_CONFORMANCE_PLAIN=1; only built with HAKMEM_OVERRIDE)
// API(f) names the function under test. The plain variant is compiled with -fno-builtin, and sizes
// pass through `opaque()` so that the compiler can neither fold a malloc/free pair away nor warn
// about a deliberately impossible request.
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

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

// ---- helpers ------------------------------------------------------------------------------------

static size_t page_size(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

static int is_aligned(const void *p, size_t a) {
    return ((uintptr_t)p & (a - 1)) == 0;
}

// Byte i of a block filled with seed s.
static unsigned char pat(size_t i, unsigned s) {
    return (unsigned char)((i * 131u + s * 7u + (i >> 8)) ^ s);
}

static void fill(void *p, size_t n, unsigned s) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = pat(i, s);
}

// Index of the first byte of [0, n) that differs from the pattern, or n.
static size_t check(const void *p, size_t n, unsigned s) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pat(i, s)) return i;
    return n;
}

#define assert_pattern(p, n, s)                                                                    \
    do {                                                                                           \
        size_t n_ = (n);                                                                           \
        size_t at_ = check((p), n_, (s));                                                          \
        if (at_ != n_)                                                                             \
            fail_msg("pattern broken at byte %zu of %zu (block %p)", at_, n_, (void *)(p));        \
    } while (0)

static size_t first_nonzero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0) return i;
    return n;
}

// The size classes, built from their definition: 16..128 step 16, then four per doubling up to
// 1 MiB, then 1.25, 1.5 and 1.75 MiB.
static size_t classes[128];
static size_t nclasses;

static void build_classes(void) {
    nclasses = 0;
    for (size_t s = 16; s <= 128; s += 16)
        classes[nclasses++] = s;
    for (size_t base = 128; base < LARGE_MAX; base *= 2)
        for (size_t q = 1; q <= 4; q++) {
            size_t s = base + q * base / 4;
            if (s <= LARGE_MAX) classes[nclasses++] = s;
        }
}

// The class a request of n bytes (1 <= n <= LARGE_MAX) is served from.
static size_t class_of(size_t n) {
    for (size_t i = 0; i < nclasses; i++)
        if (classes[i] >= n) return classes[i];
    return 0;
}

static uint64_t total_frees(void) {
    hak_stats_t st;
    hak_stats_get(&st);
    return st.frees[0] + st.frees[1] + st.frees[2] + st.frees[3];
}

// ---- malloc -------------------------------------------------------------------------------------

static void test_size_classes_table(void **state) {
    (void)state;
    build_classes();
    assert_int_equal(nclasses, 63);
    assert_int_equal(classes[7], 128);
    assert_int_equal(classes[8], 160);
    assert_int_equal(class_of(1025), 1280);
    assert_int_equal(class_of(32769), 40960);
    assert_int_equal(classes[nclasses - 1], LARGE_MAX);
}

static void test_malloc_zero_unique(void **state) {
    (void)state;
    enum { N = 2000 };
    void **ps = API(malloc)(N * sizeof(void *));
    assert_non_null(ps);
    for (int i = 0; i < N; i++) {
        ps[i] = escape(API(malloc)(opaque(0)));
        assert_non_null(ps[i]);
        assert_true(is_aligned(ps[i], 16));
    }
    // Unique: sort the addresses, then no two neighbours may be equal.
    for (int i = 1; i < N; i++) {
        void *v = ps[i];
        int j = i - 1;
        while (j >= 0 && (uintptr_t)ps[j] > (uintptr_t)v) {
            ps[j + 1] = ps[j];
            j--;
        }
        ps[j + 1] = v;
    }
    for (int i = 1; i < N; i++)
        if (ps[i] == ps[i - 1]) fail_msg("malloc(0) returned %p twice", ps[i]);
    for (int i = 0; i < N; i++)
        API(free)(ps[i]);
    API(free)(ps);
}

static void test_free_null(void **state) {
    (void)state;
    API(free)(escape(NULL));
    assert_int_equal(API(malloc_usable_size)(escape(NULL)), 0);
}

static void test_alignment_all_sizes(void **state) {
    (void)state;
    // Every size up to 8 KiB, a sample beyond: all 16-byte aligned, disjoint while live.
    enum { N = 8192 };
    void **ps = API(calloc)(N + 1, sizeof(void *));
    assert_non_null(ps);
    for (size_t n = 1; n <= N; n++) {
        ps[n] = API(malloc)(opaque(n));
        assert_non_null(ps[n]);
        if (!is_aligned(ps[n], 16)) fail_msg("malloc(%zu) = %p is not 16-byte aligned", n, ps[n]);
        memset(ps[n], (int)(n & 0xff), n);
    }
    for (size_t n = 1; n <= N; n++) {
        const unsigned char *b = ps[n];
        for (size_t i = 0; i < n; i++)
            if (b[i] != (unsigned char)(n & 0xff))
                fail_msg("block of %zu bytes overwritten at %zu", n, i);
        API(free)(ps[n]);
    }
    API(free)(ps);
    for (size_t n = N; n < 8 * MiB; n = n * 5 / 4 + 7) {
        void *p = API(malloc)(opaque(n));
        assert_non_null(p);
        if (!is_aligned(p, 16)) fail_msg("malloc(%zu) = %p is not 16-byte aligned", n, p);
        API(free)(p);
    }
}

// Request n bytes, check usable size and alignment, write every usable byte, keep it for later.
static void *alloc_and_write(size_t n, unsigned seed) {
    void *p = API(malloc)(opaque(n));
    if (p == NULL) fail_msg("malloc(%zu) returned NULL", n);
    if (!is_aligned(p, 16)) fail_msg("malloc(%zu) = %p is not 16-byte aligned", n, p);
    size_t u = API(malloc_usable_size)(p);
    if (u < n) fail_msg("malloc_usable_size(malloc(%zu)) = %zu", n, u);
    size_t want = n == 0 ? 16 : n <= LARGE_MAX ? class_of(n) : 0;
    if (want && u != want)
        fail_msg("malloc_usable_size(malloc(%zu)) = %zu, class size is %zu", n, u, want);
    // A huge block reaches to the end of its mapping, which may be a reused one somewhat larger
    // than asked for; never a gross overestimate (every usable byte is written below).
    if (n > LARGE_MAX && u > n + n / 4 + 64 * KiB)
        fail_msg("malloc_usable_size(malloc(%zu)) = %zu: far more than the mapping needs", n, u);
    fill(p, u, seed);
    return p;
}

static void test_class_boundaries(void **state) {
    (void)state;
    build_classes();
    // All three sizes of every class live at once, so neighbours would corrupt each other.
    void *live[63 * 3];
    size_t sizes[63 * 3];
    size_t k = 0;
    for (size_t i = 0; i < nclasses; i++) {
        size_t c = classes[i];
        size_t ns[3] = {c - 1, c, c + 1};
        for (int j = 0; j < 3; j++) {
            sizes[k] = ns[j];
            live[k] = alloc_and_write(ns[j], (unsigned)k);
            k++;
        }
    }
    for (size_t i = 0; i < k; i++) {
        size_t u = API(malloc_usable_size)(live[i]);
        assert_true(u >= sizes[i]);
        assert_pattern(live[i], u, (unsigned)i);
        API(free)(live[i]);
    }
    // Sizes just around the huge threshold and a few huge ones.
    size_t big[] = {LARGE_MAX + 1, LARGE_MAX + 4096, 2 * MiB - 1,  2 * MiB,
                    2 * MiB + 1,   4 * MiB + 3,      64 * MiB + 17};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        void *p = alloc_and_write(big[i], 99);
        assert_pattern(p, API(malloc_usable_size)(p), 99);
        API(free)(p);
    }
}

static void test_malloc_impossible(void **state) {
    (void)state;
    size_t sizes[] = {
        SIZE_MAX,
        SIZE_MAX - 1,
        SIZE_MAX - 15,
        SIZE_MAX - 4095,
        SIZE_MAX - 2 * MiB,
        SIZE_MAX - 64 * MiB,
        (size_t)PTRDIFF_MAX + 1,
        (size_t)PTRDIFF_MAX + 2 * MiB,
        SIZE_MAX / 2 - 1, // < PTRDIFF_MAX, but no machine has it
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        errno = 0;
        void *p = API(malloc)(opaque(sizes[i]));
        if (p != NULL) fail_msg("malloc(%zu) = %p, expected NULL", sizes[i], p);
        if (errno != ENOMEM) fail_msg("malloc(%zu): errno %d, expected ENOMEM", sizes[i], errno);
    }
    // The allocator still works after the failures.
    void *p = alloc_and_write(100, 1);
    API(free)(p);
}

// ---- calloc -------------------------------------------------------------------------------------

static void test_calloc_overflow(void **state) {
    (void)state;
    struct {
        size_t n, size;
    } cases[] = {
        {SIZE_MAX, 2},
        {2, SIZE_MAX},
        {SIZE_MAX / 2 + 1, 2},
        {(size_t)1 << 32, (size_t)1 << 32},
        {((size_t)1 << 33) + 1, ((size_t)1 << 31)},
        {SIZE_MAX, SIZE_MAX},
        {(size_t)PTRDIFF_MAX / 16 + 1, 16}, // no overflow, just larger than PTRDIFF_MAX
        {SIZE_MAX, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = 0;
        void *p = API(calloc)(opaque(cases[i].n), opaque(cases[i].size));
        if (p != NULL)
            fail_msg("calloc(%zu, %zu) = %p, expected NULL", cases[i].n, cases[i].size, p);
        if (errno != ENOMEM)
            fail_msg("calloc(%zu, %zu): errno %d, expected ENOMEM", cases[i].n, cases[i].size,
                     errno);
    }
    void *p = API(calloc)(opaque(0), opaque(SIZE_MAX)); // 0 * anything: a unique pointer
    assert_non_null(p);
    API(free)(p);
    p = API(calloc)(opaque(SIZE_MAX), opaque(0));
    assert_non_null(p);
    API(free)(p);
}

// Dirty `count` blocks of `size` bytes, free them, then calloc the same sizes (split differently
// between count and size) and check every requested byte is zero. Repeated so that the freed
// blocks are certainly reused.
static void calloc_reuse(size_t size, int count, int rounds) {
    void **ps = API(malloc)((size_t)count * sizeof(void *));
    assert_non_null(ps);
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < count; i++) {
            ps[i] = API(malloc)(opaque(size));
            assert_non_null(ps[i]);
            memset(ps[i], 0xAA, API(malloc_usable_size)(ps[i]));
        }
        for (int i = count - 1; i >= 0; i--)
            API(free)(ps[i]);
        for (int i = 0; i < count; i++) {
            size_t elem = (r & 1) && size % 16 == 0 ? 16 : 1;
            ps[i] = API(calloc)(opaque(size / elem), opaque(elem));
            assert_non_null(ps[i]);
            assert_true(is_aligned(ps[i], 16));
            size_t at = first_nonzero(ps[i], size);
            if (at != size)
                fail_msg("calloc(%zu bytes) round %d block %d: byte %zu is not zero", size, r, i,
                         at);
            memset(ps[i], 0xAA, size); // dirty again for the next round
        }
        for (int i = 0; i < count; i++)
            API(free)(ps[i]);
    }
    API(free)(ps);
}

static void test_calloc_zeroes_reused_tiny(void **state) {
    (void)state;
    size_t sizes[] = {1, 15, 16, 48, 100, 128, 160, 500, 1000, 1024};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        calloc_reuse(sizes[i], 300, 4);
}

static void test_calloc_zeroes_reused_mid(void **state) {
    (void)state;
    size_t sizes[] = {1025, 2048, 4000, 4096, 10000, 16384, 32768};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        calloc_reuse(sizes[i], 64, 4);
}

static void test_calloc_zeroes_reused_large(void **state) {
    (void)state;
    size_t sizes[] = {32769, 65536, 100000, 262144, 1000000, LARGE_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        calloc_reuse(sizes[i], 8, 4);
}

static void test_calloc_zeroes_reused_huge(void **state) {
    (void)state;
    size_t sizes[] = {LARGE_MAX + 1, 3 * MiB, 5 * MiB + 123};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        calloc_reuse(sizes[i], 3, 3);
}

// ---- reallocarray -------------------------------------------------------------------------------

static void test_reallocarray(void **state) {
    (void)state;
    void *p = API(reallocarray)(NULL, opaque(10), opaque(10));
    assert_non_null(p);
    assert_true(API(malloc_usable_size)(p) >= 100);
    fill(p, 100, 5);
    struct {
        size_t n, size;
    } bad[] = {
        {SIZE_MAX, 2}, {2, SIZE_MAX}, {(size_t)1 << 32, (size_t)1 << 32}, {SIZE_MAX / 3 + 1, 3}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *q = API(reallocarray)(escape(p), opaque(bad[i].n), opaque(bad[i].size));
        if (q != NULL)
            fail_msg("reallocarray(p, %zu, %zu) = %p, expected NULL", bad[i].n, bad[i].size, q);
        assert_int_equal(errno, ENOMEM);
        assert_pattern(p, 100, 5);
    }
    void *q = API(reallocarray)(p, opaque(1000), opaque(50));
    assert_non_null(q);
    assert_pattern(q, 100, 5);
    assert_true(API(malloc_usable_size)(q) >= 50000);
    fill(q, 50000, 6);
    API(free)(q);
}

// ---- aligned allocation -------------------------------------------------------------------------

static void test_posix_memalign_einval(void **state) {
    (void)state;
    size_t bad[] = {
        0, 1, 2, 3, 4, 12, 24, 48, 96, 100, 4097, (size_t)3 << 20, SIZE_MAX, SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *out = (void *)(uintptr_t)0x1234;
        int rc = API(posix_memalign)(&out, opaque(bad[i]), opaque(16));
        if (rc != EINVAL)
            fail_msg("posix_memalign(align %zu) returned %d, expected EINVAL", bad[i], rc);
        if (out != (void *)(uintptr_t)0x1234)
            fail_msg("posix_memalign(align %zu) modified *memptr on failure", bad[i]);
    }
}

static void test_posix_memalign_enomem(void **state) {
    (void)state;
    size_t aligns[] = {8, 64, 4096, 2 * MiB, 4 * MiB};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        void *out = (void *)(uintptr_t)0x1234;
        int rc = API(posix_memalign)(&out, aligns[i], opaque(SIZE_MAX - aligns[i] / 2));
        if (rc != ENOMEM)
            fail_msg("posix_memalign(align %zu, huge) returned %d, expected ENOMEM", aligns[i], rc);
        assert_ptr_equal(out, (void *)(uintptr_t)0x1234);
        rc = API(posix_memalign)(&out, aligns[i], opaque((size_t)PTRDIFF_MAX + 1));
        assert_int_equal(rc, ENOMEM);
    }
}

// Check one aligned block: aligned, usable >= size, every requested byte writable (for blocks
// of many MiB, the first and last MiB plus one word per page in between), freeable.
static void check_aligned_block(const char *what, void *p, size_t align, size_t size) {
    if (p == NULL) fail_msg("%s(align %zu, size %zu) returned NULL", what, align, size);
    if (!is_aligned(p, align))
        fail_msg("%s(align %zu, size %zu) = %p is misaligned", what, align, size, p);
    if (!is_aligned(p, 16))
        fail_msg("%s(align %zu, size %zu) = %p is not 16-byte aligned", what, align, size, p);
    size_t u = API(malloc_usable_size)(p);
    if (u < size) fail_msg("%s(align %zu, size %zu): usable size %zu", what, align, size, u);
    unsigned char *b = p;
    unsigned s = (unsigned)(align ^ size);
    if (u <= 4 * MiB) {
        fill(b, u, s);
        assert_pattern(b, u, s);
    } else {
        fill(b, MiB, s);
        fill(b + u - MiB, MiB, s);
        for (size_t off = MiB; off < u - MiB; off += 4096)
            b[off] = (unsigned char)off;
        assert_pattern(b, MiB, s);
        assert_pattern(b + u - MiB, MiB, s);
        for (size_t off = MiB; off < u - MiB; off += 4096)
            if (b[off] != (unsigned char)off) fail_msg("%s: byte %zu changed", what, off);
    }
}

static void test_posix_memalign_all_alignments(void **state) {
    (void)state;
    for (size_t align = 8; align <= 32 * MiB; align *= 2) {
        if (align > 4 * MiB && align != 16 * MiB && align != 32 * MiB) continue;
        size_t sizes[] = {1, align - 1, align, 3 * align + 5, 0};
        void *held[5];
        for (int i = 0; i < 5; i++) {
            void *p = NULL;
            int rc = API(posix_memalign)(&p, opaque(align), opaque(sizes[i]));
            if (rc != 0)
                fail_msg("posix_memalign(align %zu, size %zu) returned %d", align, sizes[i], rc);
            check_aligned_block("posix_memalign", p, align, sizes[i]);
            held[i] = p;
        }
        for (int i = 0; i < 5; i++)
            API(free)(held[i]);
    }
}

static void test_posix_memalign_many_small(void **state) {
    (void)state;
    // Many live aligned blocks of each small alignment: distinct, aligned, not overlapping.
    for (size_t align = 16; align <= 64 * KiB; align *= 4) {
        enum { N = 64 };
        void *ps[N];
        for (int i = 0; i < N; i++) {
            assert_int_equal(API(posix_memalign)(&ps[i], align, opaque(align / 2 + (size_t)i)), 0);
            assert_true(is_aligned(ps[i], align));
            fill(ps[i], align / 2 + (size_t)i, (unsigned)i);
        }
        for (int i = 0; i < N; i++) {
            assert_pattern(ps[i], align / 2 + (size_t)i, (unsigned)i);
            API(free)(ps[i]);
        }
    }
}

static void test_posix_memalign_beside_malloc(void **state) {
    (void)state;
    // Plain blocks of sizes that are multiples of 128 B come from slabs whose blocks start at
    // cache-line offsets that vary by slab; aligned requests of the same sizes, interleaved with
    // them over many slabs, must still be aligned.
    enum { N = 400 };
    static void *plain[N], *aligned[N];
    for (size_t align = 128; align <= 4096; align *= 2) {
        for (size_t size = align; size <= 32 * KiB; size += size < 4096 ? align : 4096) {
            for (int i = 0; i < N; i++) {
                plain[i] = API(malloc)(opaque(size));
                assert_non_null(plain[i]);
                assert_int_equal(API(posix_memalign)(&aligned[i], opaque(align), opaque(size)), 0);
                if (!is_aligned(aligned[i], align))
                    fail_msg("posix_memalign(%zu, %zu) = %p beside malloc(%zu) = %p", align, size,
                             aligned[i], size, plain[i]);
                memset(aligned[i], 0xA5, size);
                memset(plain[i], 0x5A, size);
            }
            for (int i = 0; i < N; i++) {
                API(free)(plain[i]);
                API(free)(aligned[i]);
            }
        }
    }
}

static void test_aligned_alloc(void **state) {
    (void)state;
    for (size_t align = 1; align <= 4 * MiB; align *= 2) {
        size_t sizes[] = {align, 2 * align, 5 * align, align * 3 + 1, 1};
        for (int i = 0; i < 5; i++) {
            void *p = API(aligned_alloc)(opaque(align), opaque(sizes[i]));
            check_aligned_block("aligned_alloc", p, align, sizes[i]);
            API(free)(p);
        }
    }
    errno = 0;
    void *p = API(aligned_alloc)(opaque(64), opaque(SIZE_MAX - 63));
    assert_null(p);
    assert_int_equal(errno, ENOMEM);
}

static void test_memalign(void **state) {
    (void)state;
    for (size_t align = 1; align <= 4 * MiB; align *= 2) {
        size_t sizes[] = {1, align - 1 ? align - 1 : 1, align, 3 * align + 5};
        for (int i = 0; i < 4; i++) {
            void *p = API(memalign)(opaque(align), opaque(sizes[i]));
            check_aligned_block("memalign", p, align, sizes[i]);
            API(free)(p);
        }
    }
    // glibc rounds an alignment that is not a power of two up to the next one.
    struct {
        size_t align, rounded;
    } odd[] = {{3, 16},      {24, 32},     {48, 64},          {100, 128},
               {1000, 1024}, {5000, 8192}, {3 * MiB, 4 * MiB}};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        void *p = API(memalign)(opaque(odd[i].align), opaque(200));
        check_aligned_block("memalign", p, odd[i].rounded, 200);
        API(free)(p);
    }
    void *p = API(memalign)(opaque(0), opaque(10)); // below the minimum: plain malloc
    check_aligned_block("memalign", p, 16, 10);
    API(free)(p);
    errno = 0;
    p = API(memalign)(opaque(4096), opaque(SIZE_MAX - 100));
    assert_null(p);
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    p = API(memalign)(opaque(SIZE_MAX / 2 + 2), opaque(16)); // no such power of two
    assert_null(p);
    assert_true(errno == EINVAL || errno == ENOMEM);
}

static void test_valloc(void **state) {
    (void)state;
    size_t pg = page_size();
    size_t sizes[] = {0, 1, 100, pg - 1, pg, pg + 1, 10 * pg, 32 * KiB + 1, MiB, 3 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = API(valloc)(opaque(sizes[i]));
        check_aligned_block("valloc", p, pg, sizes[i]);
        API(free)(p);
    }
    errno = 0;
    assert_null(API(valloc)(opaque(SIZE_MAX - pg)));
    assert_int_equal(errno, ENOMEM);
}

static void test_pvalloc(void **state) {
    (void)state;
    size_t pg = page_size();
    size_t sizes[] = {0,      1,           100,          pg - 1,  pg,
                      pg + 1, 10 * pg - 3, 32 * KiB + 1, MiB + 1, 3 * MiB + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t rounded = sizes[i] == 0 ? pg : (sizes[i] + pg - 1) / pg * pg;
        void *p = API(pvalloc)(opaque(sizes[i]));
        if (API(malloc_usable_size)(p) < rounded)
            fail_msg("pvalloc(%zu): usable size %zu < %zu", sizes[i], API(malloc_usable_size)(p),
                     rounded);
        check_aligned_block("pvalloc", p, pg, rounded);
        API(free)(p);
    }
    errno = 0;
    assert_null(API(pvalloc)(opaque(SIZE_MAX - 10))); // rounding up to a page overflows
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(API(pvalloc)(opaque((size_t)PTRDIFF_MAX + 1)));
    assert_int_equal(errno, ENOMEM);
}

// ---- realloc ------------------------------------------------------------------------------------

static void test_realloc_across_ranges(void **state) {
    (void)state;
    // Grow from tiny through mid, large and huge, then shrink back, checking the bytes kept.
    size_t steps[] = {1,         8,       16,        17,
                      100,       128,     1000,      1024,
                      1025,      4096,    20000,     32768,
                      32769,     100000,  LARGE_MAX, LARGE_MAX + 1,
                      3 * MiB,   9 * MiB, 3 * MiB,   LARGE_MAX + 1,
                      LARGE_MAX, 1000000, 40000,     32768,
                      5000,      1025,    1024,      300,
                      16,        1,       5 * MiB,   1,
                      LARGE_MAX, 2,       40000,     3};
    size_t n = sizeof steps / sizeof steps[0];
    for (int round = 0; round < 3; round++) {
        unsigned s = (unsigned)round + 11;
        void *p = API(malloc)(opaque(steps[0]));
        assert_non_null(p);
        fill(p, steps[0], s);
        for (size_t i = 1; i < n; i++) {
            size_t keep = steps[i] < steps[i - 1] ? steps[i] : steps[i - 1];
            void *q = API(realloc)(p, opaque(steps[i]));
            if (q == NULL) fail_msg("realloc(%zu -> %zu) returned NULL", steps[i - 1], steps[i]);
            assert_true(is_aligned(q, 16));
            assert_true(API(malloc_usable_size)(q) >= steps[i]);
            size_t at = check(q, keep, s);
            if (at != keep)
                fail_msg("realloc(%zu -> %zu) lost byte %zu", steps[i - 1], steps[i], at);
            fill(q, steps[i], s);
            p = q;
        }
        API(free)(p);
    }
}

static void test_realloc_same_and_usable(void **state) {
    (void)state;
    // Growing within the usable size, or shrinking a little, keeps everything.
    size_t sizes[] = {20, 700, 3000, 50000, 300000, 4 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = API(malloc)(opaque(sizes[i]));
        assert_non_null(p);
        size_t u = API(malloc_usable_size)(p);
        fill(p, u, 3);
        void *q = API(realloc)(p, opaque(u));
        assert_non_null(q);
        assert_pattern(q, u, 3);
        void *r = API(realloc)(q, opaque(u - 1));
        assert_non_null(r);
        assert_pattern(r, u - 1, 3);
        API(free)(r);
    }
}

static void test_realloc_null_is_malloc(void **state) {
    (void)state;
    size_t sizes[] = {0, 1, 100, 5000, 100000, 4 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = API(realloc)(NULL, opaque(sizes[i]));
        assert_non_null(p);
        assert_true(is_aligned(p, 16));
        assert_true(API(malloc_usable_size)(p) >= sizes[i]);
        fill(p, sizes[i], 1);
        API(free)(p);
    }
    errno = 0;
    assert_null(API(realloc)(NULL, opaque(SIZE_MAX)));
    assert_int_equal(errno, ENOMEM);
}

static void test_realloc_zero_frees(void **state) {
    (void)state;
    size_t sizes[] = {1, 100, 5000, 100000, 4 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = API(malloc)(opaque(sizes[i]));
        assert_non_null(p);
        uint64_t before = total_frees();
        void *q = API(realloc)(escape(p), opaque(0));
        assert_null(q); // glibc: realloc(p, 0) frees p and returns NULL
        if (total_frees() != before + 1)
            fail_msg("realloc(p of %zu bytes, 0) did not free p", sizes[i]);
    }
}

static void test_realloc_failure_keeps_block(void **state) {
    (void)state;
    size_t sizes[] = {10, 3000, 100000, 4 * MiB};
    size_t bad[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, SIZE_MAX / 2 - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = API(malloc)(opaque(sizes[i]));
        assert_non_null(p);
        fill(p, sizes[i], 9);
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            errno = 0;
            void *q = API(realloc)(escape(p), opaque(bad[j]));
            if (q != NULL) fail_msg("realloc(%zu -> %zu) = %p, expected NULL", sizes[i], bad[j], q);
            assert_int_equal(errno, ENOMEM);
            assert_pattern(p, sizes[i], 9);
            assert_true(API(malloc_usable_size)(p) >= sizes[i]);
        }
        void *q = API(realloc)(p, opaque(sizes[i] * 2)); // still a valid block
        assert_non_null(q);
        assert_pattern(q, sizes[i], 9);
        API(free)(q);
    }
}

static void test_realloc_aligned_block(void **state) {
    (void)state;
    // A block from posix_memalign can be realloc'd like any other.
    size_t aligns[] = {64, 4096, 65536, 2 * MiB};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        void *p;
        assert_int_equal(API(posix_memalign)(&p, aligns[i], opaque(1000)), 0);
        fill(p, 1000, 4);
        void *q = API(realloc)(p, opaque(300000));
        assert_non_null(q);
        assert_pattern(q, 1000, 4);
        q = API(realloc)(q, opaque(100));
        assert_non_null(q);
        assert_pattern(q, 100, 4);
        API(free)(q);
    }
}

// ---- malloc_usable_size, malloc_trim ------------------------------------------------------------

static void test_usable_size_writable(void **state) {
    (void)state;
    // Every usable byte belongs to the block: fill whole usable areas of neighbours and check
    // none was overwritten.
    enum { N = 400 };
    void *ps[N];
    size_t us[N];
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i * 37 % 2000) + (size_t)(i % 7 == 0 ? 40000 : 0);
        ps[i] = API(malloc)(opaque(n));
        assert_non_null(ps[i]);
        us[i] = API(malloc_usable_size)(ps[i]);
        assert_true(us[i] >= n);
        fill(ps[i], us[i], (unsigned)i);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(API(malloc_usable_size)(ps[i]), us[i]);
        assert_pattern(ps[i], us[i], (unsigned)i);
        API(free)(ps[i]);
    }
}

static void test_malloc_trim(void **state) {
    (void)state;
    enum { N = 3000 };
    void **ps = API(malloc)(N * sizeof(void *));
    assert_non_null(ps);
    for (int i = 0; i < N; i++) {
        ps[i] = API(malloc)(opaque((size_t)(i % 50) * 700 + 1));
        assert_non_null(ps[i]);
        fill(ps[i], (size_t)(i % 50) * 700 + 1, (unsigned)i);
    }
    for (int i = 0; i < N; i += 2)
        API(free)(ps[i]); // half of everything freed
    int rc = API(malloc_trim)(opaque(0));
    assert_true(rc == 0 || rc == 1);
    for (int i = 1; i < N; i += 2) {
        assert_pattern(ps[i], (size_t)(i % 50) * 700 + 1, (unsigned)i);
        API(free)(ps[i]);
    }
    rc = API(malloc_trim)(opaque(1 * MiB));
    assert_true(rc == 0 || rc == 1);
    // Everything still works after trimming.
    for (int i = 0; i < N; i++) {
        ps[i] = API(malloc)(opaque((size_t)(i % 50) * 700 + 1));
        assert_non_null(ps[i]);
        fill(ps[i], (size_t)(i % 50) * 700 + 1, (unsigned)i + 1);
    }
    for (int i = 0; i < N; i++) {
        assert_pattern(ps[i], (size_t)(i % 50) * 700 + 1, (unsigned)i + 1);
        API(free)(ps[i]);
    }
    API(free)(ps);
    rc = API(malloc_trim)(opaque(0));
    assert_true(rc == 0 || rc == 1);
}

#if HAKMEM_CONFORMANCE_PLAIN
// ---- mallopt, mallinfo2: no hak_ counterpart ----------------------------------------------------

static void test_mallopt(void **state) {
    (void)state;
    assert_int_equal(mallopt(M_MMAP_THRESHOLD, 256 * 1024), 1);
    assert_int_equal(mallopt(M_TRIM_THRESHOLD, 1024 * 1024), 1);
    assert_int_equal(mallopt(M_TOP_PAD, 0), 1);
    assert_int_equal(mallopt(M_MMAP_MAX, 65536), 1);
    assert_int_equal(mallopt(M_ARENA_MAX, 4), 1);
    void *p = malloc(opaque(1000000)); // and nothing changed for the worse
    assert_non_null(p);
    fill(p, 1000000, 2);
    assert_pattern(p, 1000000, 2);
    free(p);
}

static void test_mallinfo2(void **state) {
    (void)state;
    void *p = malloc(opaque(100000));
    assert_non_null(p);
    struct mallinfo2 mi = mallinfo2();
    (void)mi;
    free(p);
}

static void test_plain_is_hakmem(void **state) {
    (void)state;
    // The plain names are hakmem's: a malloc shows up in hakmem's counters.
    hak_stats_t a, b;
    hak_stats_get(&a);
    void *p = escape(malloc(opaque(48)));
    hak_stats_get(&b);
    assert_int_equal(b.allocs[0], a.allocs[0] + 1);
    free(p);
}
#endif

int main(void) {
    build_classes();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_classes_table),
        cmocka_unit_test(test_malloc_zero_unique),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_alignment_all_sizes),
        cmocka_unit_test(test_class_boundaries),
        cmocka_unit_test(test_malloc_impossible),
        cmocka_unit_test(test_calloc_overflow),
        cmocka_unit_test(test_calloc_zeroes_reused_tiny),
        cmocka_unit_test(test_calloc_zeroes_reused_mid),
        cmocka_unit_test(test_calloc_zeroes_reused_large),
        cmocka_unit_test(test_calloc_zeroes_reused_huge),
        cmocka_unit_test(test_reallocarray),
        cmocka_unit_test(test_posix_memalign_einval),
        cmocka_unit_test(test_posix_memalign_enomem),
        cmocka_unit_test(test_posix_memalign_all_alignments),
        cmocka_unit_test(test_posix_memalign_many_small),
        cmocka_unit_test(test_posix_memalign_beside_malloc),
        cmocka_unit_test(test_aligned_alloc),
        cmocka_unit_test(test_memalign),
        cmocka_unit_test(test_valloc),
        cmocka_unit_test(test_pvalloc),
        cmocka_unit_test(test_realloc_across_ranges),
        cmocka_unit_test(test_realloc_same_and_usable),
        cmocka_unit_test(test_realloc_null_is_malloc),
        cmocka_unit_test(test_realloc_zero_frees),
        cmocka_unit_test(test_realloc_failure_keeps_block),
        cmocka_unit_test(test_realloc_aligned_block),
        cmocka_unit_test(test_usable_size_writable),
        cmocka_unit_test(test_malloc_trim),
#if HAKMEM_CONFORMANCE_PLAIN
        cmocka_unit_test(test_mallopt),
        cmocka_unit_test(test_mallinfo2),
        cmocka_unit_test(test_plain_is_hakmem),
#endif
    };
    return cmocka_run_group_tests_name(
        HAKMEM_CONFORMANCE_PLAIN ? "conformance_libc" : "conformance_hak", tests, NULL, NULL);
}
