// Unit tests of the os_direct backend: huge blocks, each in its own mapping with a header found
// through the segmap.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "os_direct.h"

static const size_t sizes[] = {
    2 * HAK_MiB + 1,     2 * HAK_MiB + 4096, 3 * HAK_MiB - 7, 4 * HAK_MiB,
    5 * HAK_MiB + 12345, 16 * HAK_MiB,       64 * HAK_MiB,
};

// Touch every page of [p, p + n) and its last byte, then read back the pattern.
static void check_writable(char *p, size_t n) {
    size_t page = hak_os_page_size();
    for (size_t off = 0; off < n; off += page)
        p[off] = (char)(off / page);
    p[n - 1] = 0x7F;
    for (size_t off = 0; off < n - 1; off += page)
        if (p[off] != (char)(off / page)) fail_msg("page at offset %zu lost its byte", off);
    assert_int_equal(p[n - 1], 0x7F);
}

// Allocate, check everything os_direct promises about the block, and free.
static void check_one(size_t size, size_t align) {
    uint64_t allocs0 = atomic_load(&os_direct_stats.allocs),
             frees0 = atomic_load(&os_direct_stats.frees);
    char *p = os_direct_alloc(size, align, false);
    if (p == NULL) fail_msg("os_direct_alloc(%zu, %zu) failed", size, align);
    size_t want_align = align < 16 ? 16 : align;
    if ((uintptr_t)p % want_align != 0)
        fail_msg("block %p of %zu B not aligned to %zu", (void *)p, size, align);

    uintptr_t hdr = segment_header_of(p);
    assert_int_equal(segmap_get(hdr), SEGMAP_HUGE);
    os_direct_header_t *h = os_direct_header(p);
    assert_non_null(h);
    assert_ptr_equal(h, (void *)hdr);
    assert_ptr_equal(h->block, p);
    assert_ptr_equal(h->map, (void *)hdr);
    assert_true(h->usable >= size);
    // usable reaches the end of the mapping or (a cached span split beyond a quarter more than the
    // block needs) the page where a mapping of its own would end; the mapping is whole pages.
    char *end = (char *)h->map + h->map_size;
    assert_true(p + h->usable == end ||
                (p + h->usable < end && (uintptr_t)(p + h->usable) % hak_os_page_size() == 0));
    assert_int_equal(h->map_size % hak_os_page_size(), 0);
    // Fresh memory: an address inside the block is not a block (alone, without the segmap).
    assert_null(os_direct_header(p + 16));
    assert_null(os_direct_header(p + 4096));

    check_writable(p, h->usable);

    // With the segmap consulted first, as a caller does, no inner address passes either, whatever
    // the block holds now.
    const size_t inner[] = {16,       4096, HAK_SEG_SIZE - 16, HAK_SEG_SIZE, HAK_SEG_SIZE + 16,
                            size - 16};
    for (int i = 0; i < 6; i++) {
        char *q = p + inner[i];
        if (inner[i] >= h->usable) continue;
        bool accepted =
            segmap_get(segment_header_of(q)) == SEGMAP_HUGE && os_direct_header(q) != NULL;
        if (accepted)
            fail_msg("inner address p+%zu of a %zu B block (align %zu) accepted", inner[i], size,
                     align);
    }
    assert_int_equal(atomic_load(&os_direct_stats.allocs), allocs0 + 1);

    os_direct_free(h);
    assert_int_equal(segmap_get(hdr), SEGMAP_NONE);
    assert_int_equal(atomic_load(&os_direct_stats.frees), frees0 + 1);
}

static void test_sizes_and_alignments(void **state) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t align = 16; align <= 32 * HAK_MiB; align <<= 1)
            check_one(sizes[i], align);
}

static void test_small_alignments_and_sizes(void **state) {
    // Alignments below 16 are raised to 16; the smallest sizes still get a full header.
    const size_t aligns[] = {1, 2, 8};
    for (int i = 0; i < 3; i++)
        check_one(2 * HAK_MiB + 1, aligns[i]);
    check_one(1, 16);
    check_one(4096, 4096);
}

static void test_many_live_blocks(void **state) {
    // Several huge blocks live at once: each finds its own header, none disturbs another.
    enum { N = 16 };
    char *p[N];
    for (int i = 0; i < N; i++) {
        size_t align = (size_t)16 << (i % 22);
        p[i] = os_direct_alloc(2 * HAK_MiB + (size_t)i * 100000, align, false);
        assert_non_null(p[i]);
        memset(p[i], i, 2 * HAK_MiB);
    }
    for (int i = 0; i < N; i++) {
        os_direct_header_t *h = os_direct_header(p[i]);
        assert_non_null(h);
        assert_ptr_equal(h->block, p[i]);
        assert_int_equal(segmap_get(segment_header_of(p[i])), SEGMAP_HUGE);
        for (size_t off = 0; off < 2 * HAK_MiB; off += 65536)
            assert_int_equal(p[i][off], i);
    }
    for (int i = 0; i < N; i += 2)
        os_direct_free(os_direct_header(p[i]));
    for (int i = 1; i < N; i += 2) {
        assert_ptr_equal(os_direct_header(p[i])->block, p[i]);
        assert_int_equal(segmap_get(segment_header_of(p[i])), SEGMAP_HUGE);
        os_direct_free(os_direct_header(p[i]));
    }
}

static void test_impossible_sizes_fail_with_enomem(void **state) {
    const size_t bad[] = {SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2, SIZE_MAX / 2 - 2 * HAK_MiB,
                          (size_t)1 << 62};
    for (int i = 0; i < 5; i++) {
        errno = 0;
        assert_null(os_direct_alloc(bad[i], 16, false));
        assert_int_equal(errno, ENOMEM);
        errno = 0;
        assert_null(os_direct_alloc(bad[i], 32 * HAK_MiB, false));
        assert_int_equal(errno, ENOMEM);
    }
}

static void test_stats_bytes(void **state) {
    os_direct_trim();
    uint64_t m0 = atomic_load(&os_direct_stats.bytes_mapped),
             u0 = os_direct_bytes_unmapped(),
             l0 = atomic_load(&os_direct_stats.bytes_live);
    char *p = os_direct_alloc(3 * HAK_MiB, 64, false);
    assert_non_null(p);
    size_t map_size = os_direct_header(p)->map_size;
    assert_int_equal(atomic_load(&os_direct_stats.bytes_mapped), m0 + map_size);
    assert_int_equal(atomic_load(&os_direct_stats.bytes_live), l0 + map_size);
    os_direct_free(os_direct_header(p));
    assert_int_equal(atomic_load(&os_direct_stats.bytes_live), l0);
    // Cached, not unmapped, until trimmed.
    assert_int_equal(os_direct_bytes_unmapped(), u0);
    assert_true(os_direct_trim());
    assert_int_equal(os_direct_bytes_unmapped(), u0 + map_size);
    assert_false(os_direct_trim());
}

// A freed mapping is reused (from the page_arena): moved and extended for a bigger request, as it
// is for one of about its size, with no new
// mapping, and is not handed out while the segmap says it is free.
static void test_cache_reuse(void **state) {
    os_direct_trim();
    char *p = os_direct_alloc(5 * HAK_MiB, 16, false);
    assert_non_null(p);
    memset(p, 0x5a, 5 * HAK_MiB);
    os_direct_free(os_direct_header(p));
    assert_int_equal(segmap_get(segment_header_of(p)), SEGMAP_NONE);
    uint64_t hits = atomic_load(&os_direct_stats.cache_hits);
    uint64_t mapped = atomic_load(&os_direct_stats.bytes_mapped);
    // Much larger: the cached mapping moves to a bigger place, its pages with it, and is extended.
    uint64_t extended = atomic_load(&os_direct_stats.extended);
    char *big = os_direct_alloc(12 * HAK_MiB, 16, false);
    assert_non_null(big);
    assert_ptr_not_equal(big, p);
    assert_int_equal(atomic_load(&os_direct_stats.cache_hits), hits);
    assert_int_equal(atomic_load(&os_direct_stats.extended), extended + 1);
    assert_int_equal((unsigned char)big[5 * HAK_MiB - 1], 0x5a); // the old pages, moved
    os_direct_header_t *bh = os_direct_header(big);
    assert_int_equal(atomic_load(&os_direct_stats.bytes_mapped), mapped + bh->map_size - (size_t)(5 * HAK_MiB + 4096));
    // Freed, it serves a request of about its size (cleared: calloc's case).
    os_direct_free(bh);
    mapped = atomic_load(&os_direct_stats.bytes_mapped);
    char *q = os_direct_alloc(12 * HAK_MiB - 4096, 16, true);
    assert_ptr_equal(q, big);
    assert_int_equal((unsigned char)q[5 * HAK_MiB - 1], 0);
    assert_int_equal(atomic_load(&os_direct_stats.cache_hits), hits + 1);
    assert_int_equal(atomic_load(&os_direct_stats.bytes_mapped), mapped);
    assert_int_equal(segmap_get(segment_header_of(q)), SEGMAP_HUGE);
    assert_true(os_direct_header(q)->usable >= 5 * HAK_MiB - 4096);
    // Asked zeroed: the reused mapping's old contents are gone.
    for (size_t i = 0; i < 5 * HAK_MiB - 4096; i += 4093) assert_int_equal(q[i], 0);
    os_direct_free(os_direct_header(q));
    os_direct_trim();
}

// Growing a huge block moves its pages (mremap) to a larger 2 MiB-aligned mapping: contents kept,
// the header found at the new address, the old one no longer hakmem's.
static void test_grow_moves_pages(void **state) {
    size_t size = 3 * HAK_MiB;
    char *p = os_direct_alloc(size, 16, false);
    assert_non_null(p);
    for (size_t i = 0; i < size; i += 4096) p[i] = (char)(i >> 12);
    uint64_t grows = atomic_load(&os_direct_stats.grows);
    char *q = os_direct_grow(os_direct_header(p), 7 * HAK_MiB);
    assert_non_null(q);
    assert_int_equal(atomic_load(&os_direct_stats.grows), grows + 1);
    assert_int_equal((uintptr_t)segment_header_of(q) % HAK_SEG_SIZE, 0);
    assert_int_equal(segmap_get(segment_header_of(q)), SEGMAP_HUGE);
    if (q != p) assert_int_not_equal(segmap_get(segment_header_of(p)), SEGMAP_HUGE);
    os_direct_header_t *h = os_direct_header(q);
    assert_non_null(h);
    assert_true(h->usable >= 7 * HAK_MiB);
    for (size_t i = 0; i < size; i += 4096) assert_int_equal(q[i], (char)(i >> 12));
    memset(q + size, 1, 4 * HAK_MiB); // the grown part is writable
    os_direct_free(h);
}

int main(void) {
    os_direct_init(); // the huge cache's bounds: the options' defaults
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_alignments),
        cmocka_unit_test(test_small_alignments_and_sizes),
        cmocka_unit_test(test_many_live_blocks),
        cmocka_unit_test(test_impossible_sizes_fail_with_enomem),
        cmocka_unit_test(test_stats_bytes),
        cmocka_unit_test(test_cache_reuse),
        cmocka_unit_test(test_grow_moves_pages),
    };
    return cmocka_run_group_tests_name("os_direct", tests, NULL, NULL);
}
