// Unit tests of the segment backend: 2 MiB-aligned segments, the segmap, slot geometry, slab
// formatting and the block-address check (slab_is_block) for every size class.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "segment.h"
#include "size_class.h"

static const unsigned expected_shift[SEG_KINDS] = {16, 18, 21};
static const uint32_t expected_mask[SEG_KINDS] = {0xFFFFFFFEu, 0xFFu, 0x1u};
static const char *const kind_name[SEG_KINDS] = {"tiny", "mid", "large"};

static hak_segment_t *kind_segment[SEG_KINDS]; // one segment per kind, shared by the tests

static hak_segment_t *seg_of_kind(seg_kind_t k) {
    if (kind_segment[k] == NULL) {
        kind_segment[k] = segment_create(k);
        assert_non_null(kind_segment[k]);
    }
    return kind_segment[k];
}

static void test_create_each_kind(void **state) {
    for (int k = 0; k < SEG_KINDS; k++) {
        uint64_t mapped0 = atomic_load(&segment_stats.mapped);
        uint64_t bytes0 = atomic_load(&segment_stats.bytes_mapped);
        hak_segment_t *seg = segment_create((seg_kind_t)k);
        assert_non_null(seg);
        uintptr_t a = (uintptr_t)seg;
        assert_int_equal(a & HAK_SEG_MASK, 0);
        assert_int_equal(seg->kind, k);
        assert_int_equal(seg->slab_shift, expected_shift[k]);
        assert_true(segmap_is_slabs(segmap_get(a)));
        assert_int_equal(atomic_load(&segment_stats.mapped), mapped0 + 1);
        assert_int_equal(atomic_load(&segment_stats.bytes_mapped), bytes0 + HAK_SEG_SIZE);
        // A fresh segment's slabs are zero: no slab accepts any address.
        for (int i = 0; i <= HAK_SEG_SLOTS; i++) {
            assert_int_equal(segment_slab(seg, i)->carved, 0);
            assert_null(segment_slab(seg, i)->start);
        }
        // Every address of the segment after its first byte, up to and including its end, leads
        // back to it; the first byte and the next segment's bytes do not.
        assert_int_equal(segment_header_of((char *)seg + 1), a);
        assert_int_equal(segment_header_of((char *)seg + HAK_SEG_HEADER_SIZE), a);
        assert_int_equal(segment_header_of((char *)seg + HAK_SEG_SIZE - 1), a);
        assert_int_equal(segment_header_of((char *)seg + HAK_SEG_SIZE), a);
        assert_int_equal(segment_header_of((char *)seg + HAK_SEG_SIZE + 1), a + HAK_SEG_SIZE);
        assert_int_equal(segment_header_of(seg), a - HAK_SEG_SIZE);
        // The whole segment is mapped read-write.
        ((volatile char *)seg)[HAK_SEG_HEADER_SIZE] = 1;
        ((volatile char *)seg)[HAK_SEG_SIZE - 1] = 1;
        if (kind_segment[k] == NULL) kind_segment[k] = seg;
    }
}

static int global_var;

// Hide a constant address from the compiler: gcc 12 warns (-Wstringop-overflow) about the dead
// out-of-range branch of segmap_get when it sees a constant index past the map.
static uintptr_t opaque(uintptr_t x) {
    __asm__ volatile("" : "+r"(x));
    return x;
}

static void test_segmap_none_for_foreign_addresses(void **state) {
    int local = 0;
    void *heap = malloc(64);
    assert_non_null(heap);
    void *big = malloc(4 * HAK_MiB); // the C library maps this one by itself
    assert_non_null(big);
    const uintptr_t addrs[] = {
        0,
        (uintptr_t)&local,
        (uintptr_t)heap,
        (uintptr_t)big,
        (uintptr_t)&global_var,
        (uintptr_t)&test_segmap_none_for_foreign_addresses,
        (uintptr_t)&hak_segmap[0],
        (uintptr_t)1 << HAK_ADDRESS_BITS,
        ((uintptr_t)1 << HAK_ADDRESS_BITS) + HAK_SEG_SIZE,
        ((uintptr_t)1 << 48),
        (uintptr_t)0xFFFF800000000000ull, // kernel half
        UINTPTR_MAX - HAK_SEG_MASK,
        UINTPTR_MAX,
    };
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        if (segmap_get(opaque(addrs[i])) != SEGMAP_NONE)
            fail_msg("segmap claims address %#lx", (unsigned long)addrs[i]);
        uintptr_t h = opaque(segment_header_of((const void *)addrs[i]));
        if (segmap_get(h) != SEGMAP_NONE)
            fail_msg("segmap claims header %#lx of %#lx", (unsigned long)h,
                     (unsigned long)addrs[i]);
    }
    // The last entry of the map is addressable and reads NONE; one past it is out of range.
    assert_int_equal(segmap_get(opaque((HAK_SEGMAP_ENTRIES - 1) << HAK_SEG_SHIFT)), SEGMAP_NONE);
    assert_int_equal(segmap_get(opaque(HAK_SEGMAP_ENTRIES << HAK_SEG_SHIFT)), SEGMAP_NONE);
    free(heap);
    free(big);
}

static void test_segmap_leaves_mapped_on_demand(void **state) {
    // A range where nothing was registered has no leaf; the first entry set there maps it, and
    // its neighbours, in the same leaf or not, still read NONE.
    uintptr_t a = (uintptr_t)1 << 40, leaf = (a >> HAK_SEG_SHIFT) >> HAK_SEGMAP_LEAF_BITS;
    assert_ptr_equal(hak_segmap[leaf], hak_segmap_no_leaf);
    assert_int_equal(segmap_get(opaque(a)), SEGMAP_NONE);
    assert_true(segmap_set(a, SEGMAP_GROW));
    assert_ptr_not_equal(hak_segmap[leaf], hak_segmap_no_leaf);
    assert_int_equal(segmap_get(opaque(a)), SEGMAP_GROW);
    assert_int_equal(segmap_get(opaque(a + HAK_SEG_SIZE)), SEGMAP_NONE);
    assert_int_equal(segmap_get(opaque(a - HAK_SEG_SIZE)), SEGMAP_NONE); // the leaf before: none
    assert_ptr_equal(hak_segmap[leaf - 1], hak_segmap_no_leaf);
    assert_true(segmap_set(a, SEGMAP_NONE));
    assert_int_equal(segmap_get(opaque(a)), SEGMAP_NONE);
    // Beyond the map: nothing to set.
    assert_false(segmap_set((uintptr_t)1 << HAK_ADDRESS_BITS, SEGMAP_HUGE));
}

static void test_segmap_set_roundtrip(void **state) {
    // segmap_set on a segment's address changes only that entry.
    hak_segment_t *seg = segment_create(SEG_KIND_TINY);
    assert_non_null(seg);
    uintptr_t a = (uintptr_t)seg;
    unsigned before_prev = segmap_get(a - HAK_SEG_SIZE), before_next = segmap_get(a + HAK_SEG_SIZE);
    segmap_set(a, SEGMAP_HUGE);
    assert_int_equal(segmap_get(a), SEGMAP_HUGE);
    assert_int_equal(segmap_get(a + HAK_SEG_MASK), SEGMAP_HUGE); // any address of the region
    segmap_set(a, SEGMAP_NONE);
    assert_int_equal(segmap_get(a), SEGMAP_NONE);
    segmap_set(a, SEGMAP_SLABS);
    assert_true(segmap_is_slabs(segmap_get(a)));
    assert_int_equal(segmap_get(a - HAK_SEG_SIZE), before_prev);
    assert_int_equal(segmap_get(a + HAK_SEG_SIZE), before_next);
}

static void test_slot_mask_per_kind(void **state) {
    for (int k = 0; k < SEG_KINDS; k++) {
        uint32_t m = segment_slot_mask((seg_kind_t)k);
        if (m != expected_mask[k])
            fail_msg("%s: slot mask %#x, expected %#x", kind_name[k], m, expected_mask[k]);
        // Slots exist only below the segment's end.
        unsigned nslots = 1u << (HAK_SEG_SHIFT - expected_shift[k]);
        if (nslots < 32) assert_int_equal(m >> nslots, 0);
    }
}

static void test_slot_range_avoids_header(void **state) {
    for (int k = 0; k < SEG_KINDS; k++) {
        hak_segment_t *seg = seg_of_kind((seg_kind_t)k);
        uint32_t m = segment_slot_mask((seg_kind_t)k);
        size_t slot_size = (size_t)1 << expected_shift[k];
        char *prev_end = (char *)seg + HAK_SEG_HEADER_SIZE;
        for (unsigned slot = 0; slot < 32; slot++) {
            if (!(m & (1u << slot))) continue;
            char *start = NULL, *end = NULL;
            segment_slot_range(seg, slot, &start, &end);
            char *lo = (char *)seg + slot * slot_size, *hi = lo + slot_size;
            // Never inside the header, never past the segment, never overlapping the previous slot.
            assert_true(start >= (char *)seg + HAK_SEG_HEADER_SIZE);
            assert_true(end <= (char *)seg + HAK_SEG_SIZE);
            assert_true(start < end);
            assert_true(start >= prev_end);
            // Within its own slot: the slot's bytes, less the header where they overlap it.
            assert_true(start >= lo);
            assert_ptr_equal(end, hi);
            assert_ptr_equal(start, lo < (char *)seg + HAK_SEG_HEADER_SIZE
                                        ? (char *)seg + HAK_SEG_HEADER_SIZE
                                        : lo);
            assert_int_equal((uintptr_t)start % hak_os_page_size(), 0);
            // Every usable byte of the slot leads back to this slot's slab.
            assert_ptr_equal(segment_slab_of(seg, start), segment_slab(seg, slot));
            assert_ptr_equal(segment_slab_of(seg, end - 1), segment_slab(seg, slot));
            prev_end = end;
        }
        // The usable slots cover the segment after its header without a gap.
        assert_ptr_equal(prev_end, (char *)seg + HAK_SEG_SIZE);
    }
}

// The reference: is p the start of one of the first `carved` blocks of slab s?
static bool expect_block(const hak_slab_t *s, uintptr_t p) {
    uintptr_t st = (uintptr_t)s->start;
    if (p < st) return false;
    uintptr_t off = p - st;
    return off % s->block_size == 0 && off / s->block_size < s->carved;
}

// Compare slab_is_block with the reference over every 16-byte-aligned address of the slot (with
// 64 KiB on either side) and, for each block start p, over p-1, p+1 and p+8. Returns mismatches.
static size_t check_slab(hak_segment_t *seg, unsigned slot, const hak_slab_t *s, unsigned cls) {
    size_t slot_size = (size_t)1 << seg->slab_shift;
    uintptr_t lo = (uintptr_t)seg + slot * slot_size, hi = lo + slot_size;
    lo = lo >= (uintptr_t)seg + 64 * HAK_KiB ? lo - 64 * HAK_KiB : (uintptr_t)seg;
    hi += 64 * HAK_KiB;
    size_t bad = 0;
    for (uintptr_t p = lo; p < hi; p += 16) {
        bool want = expect_block(s, p), got = slab_is_block(s, (void *)p);
        if (want != got && bad++ < 5)
            print_error(
                "class %u (%u B) slot %u carved %u: offset %ld from start: got %d want %d\n", cls,
                s->block_size, slot, s->carved, (long)(p - (uintptr_t)s->start), got, want);
        if (want) {
            const uintptr_t near[] = {p - 1, p + 1, p + 8};
            for (int i = 0; i < 3; i++)
                if (slab_is_block(s, (void *)near[i]) && bad++ < 5)
                    print_error("class %u slot %u: block %ld %+d accepted\n", cls, slot,
                                (long)((p - (uintptr_t)s->start) / s->block_size),
                                (int)(near[i] - p));
        }
    }
    return bad;
}

static void test_slab_format_and_is_block_every_class(void **state) {
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        seg_kind_t kind = size_class_segment_kind(cls);
        hak_segment_t *seg = seg_of_kind(kind);
        uint32_t mask = segment_slot_mask(kind);
        uint32_t bs = hak_class_size[cls];
        // The lowest slot (which may share its 2 MiB with the header) and the highest one.
        unsigned slots[2] = {(unsigned)__builtin_ctz(mask), 31u - (unsigned)__builtin_clz(mask)};
        for (int si = 0; si < 2; si++) {
            unsigned slot = slots[si];
            char *start, *end;
            segment_slot_range(seg, slot, &start, &end);
            size_t plain_cap = (size_t)(end - start) / bs;
            bool color = size_class_colored(cls);
            slab_format(seg, slot, cls, bs, color);
            hak_slab_t *s = segment_slab(seg, slot);
            if (color) {
                // Past the slot's start by a cache-line multiple that keeps the block starts at
                // new offsets: below the size's largest power-of-two divisor.
                size_t off = (size_t)(s->start - start);
                assert_int_equal(off % HAK_CACHE_LINE, 0);
                assert_true(off < (size_t)(bs & -bs));
                start = s->start;
            }
            assert_ptr_equal(s->start, start);
            assert_int_equal(s->block_size, bs);
            assert_int_equal(s->cls, cls);
            assert_int_equal(s->slot, slot);
            assert_int_equal(s->carved, 0);
            assert_int_equal(s->used, 0);
            assert_null(s->free);
            assert_true(remote_queue_is_empty(&s->remote));
            size_t cap = (size_t)(end - start) / bs;
            if (cap < 1 || cap > UINT16_MAX)
                fail_msg("class %u (%u B) in a %s slot: %zu blocks", cls, bs, kind_name[kind], cap);
            assert_int_equal(s->capacity, cap);
            assert_true(cap + 1 >= plain_cap); // colouring costs at most one block
            assert_true(start + (size_t)s->capacity * bs <= end);
            assert_int_equal((uintptr_t)start % 16, 0);

            // No block is carved yet: nothing is accepted.
            for (size_t i = 0; i < cap; i++)
                if (slab_is_block(s, start + i * bs))
                    fail_msg("class %u: uncarved block %zu accepted", cls, i);
            // Everything carved: exactly the block starts are accepted.
            s->carved = s->capacity;
            size_t bad = check_slab(seg, slot, s, cls);
            // Partly carved: blocks at and beyond `carved` are rejected.
            s->carved = (uint16_t)(s->capacity / 2);
            bad += check_slab(seg, slot, s, cls);
            s->carved = (uint16_t)(s->capacity - 1);
            bad += check_slab(seg, slot, s, cls);
            if (bad) fail_msg("class %u (%u B), slot %u: %zu wrong answers", cls, bs, slot, bad);
            s->carved = s->capacity;
        }
    }
}

static void test_colored_slabs_spread_over_cache_lines(void **state) {
    // 4 KiB blocks of uncoloured slabs all start at offset 0 of a page (one L1 set in 64); over
    // the slabs of 16 segments the coloured ones start at most of the 64 line offsets.
    unsigned cls = size_class_of(4096);
    assert_true(size_class_colored(cls));
    uint64_t seen = 0;
    unsigned slabs = 0;
    hak_segment_t *segs[16];
    for (int i = 0; i < 16; i++) {
        hak_segment_t *seg = segs[i] = segment_create(SEG_KIND_MID);
        assert_non_null(seg);
        uint32_t mask = segment_slot_mask(SEG_KIND_MID);
        for (unsigned slot = 0; slot < 32; slot++) {
            if (!(mask & (1u << slot))) continue;
            slab_format(seg, slot, cls, 4096, true);
            hak_slab_t *s = segment_slab(seg, slot);
            seen |= 1ull << (((uintptr_t)s->start % 4096) / HAK_CACHE_LINE);
            slabs++;
        }
    }
    for (int i = 0; i < 16; i++) {
        segmap_set((uintptr_t)segs[i], SEGMAP_NONE);
        hak_os_release(segs[i], HAK_SEG_SIZE);
    }
    unsigned offsets = (unsigned)__builtin_popcountll(seen);
    print_message("%u slabs start at %u of 64 line offsets\n", slabs, offsets);
    assert_true(offsets >= 32);
}

static void test_addresses_outside_slots_rejected(void **state) {
    // With every slot of a segment formatted and fully carved, the header and the segment's end
    // lead to slabs that accept nothing.
    for (int k = 0; k < SEG_KINDS; k++) {
        hak_segment_t *seg = segment_create((seg_kind_t)k);
        assert_non_null(seg);
        uint32_t mask = segment_slot_mask((seg_kind_t)k);
        unsigned cls = k == SEG_KIND_TINY  ? 0
                       : k == SEG_KIND_MID ? HAK_TINY_CLASSES
                                           : HAK_TINY_CLASSES + HAK_MID_CLASSES;
        for (unsigned slot = 0; slot < 32; slot++) {
            if (!(mask & (1u << slot))) continue;
            slab_format(seg, slot, cls, hak_class_size[cls], false);
            segment_slab(seg, slot)->carved = segment_slab(seg, slot)->capacity;
        }
        for (uintptr_t off = 16; off < HAK_SEG_HEADER_SIZE; off += 16) {
            char *p = (char *)seg + off;
            if (slab_is_block(segment_slab_of(seg, p), p))
                fail_msg("%s: header offset %lu accepted", kind_name[k], (unsigned long)off);
        }
        // One past the end of the segment: segment_header_of maps it here, to a slab index past
        // the last slot, which must accept nothing.
        char *end = (char *)seg + HAK_SEG_SIZE;
        assert_int_equal(segment_header_of(end), (uintptr_t)seg);
        hak_slab_t *s = segment_slab_of(seg, end);
        assert_true(s >= segment_slab(seg, 0) && s <= segment_slab(seg, HAK_SEG_SLOTS));
        assert_false(slab_is_block(s, end));
    }
}

static void test_purge_keeps_header_zeroes_slabs(void **state) {
    hak_segment_t *seg = segment_create(SEG_KIND_MID);
    assert_non_null(seg);
    slab_format(seg, 3, HAK_TINY_CLASSES, hak_class_size[HAK_TINY_CLASSES], false);
    segment_slab(seg, 3)->carved = 7;
    segment_slab(seg, 3)->used = 5;
    seg->pool.all_mask = segment_slot_mask(SEG_KIND_MID);
    // Fill the rest of the header region with a pattern too: purge must keep all 64 KiB.
    memset((char *)seg + sizeof(hak_segment_t), 0x3C, HAK_SEG_HEADER_SIZE - sizeof(hak_segment_t));
    char *saved = malloc(HAK_SEG_HEADER_SIZE);
    assert_non_null(saved);
    memcpy(saved, seg, HAK_SEG_HEADER_SIZE);
    memset((char *)seg + HAK_SEG_HEADER_SIZE, 0x5A, HAK_SEG_SIZE - HAK_SEG_HEADER_SIZE);

    uint64_t purged0 = atomic_load(&segment_stats.purged);
    segment_purge(seg);
    assert_int_equal(atomic_load(&segment_stats.purged), purged0 + 1);
    assert_memory_equal(seg, saved, HAK_SEG_HEADER_SIZE);
    assert_int_equal(seg->kind, SEG_KIND_MID);
    assert_int_equal(segment_slab(seg, 3)->carved, 7);
    assert_int_equal(segmap_get((uintptr_t)seg), seg->slab_shift);
    const uint64_t *w = (const uint64_t *)((char *)seg + HAK_SEG_HEADER_SIZE);
    size_t nonzero = 0;
    for (size_t i = 0; i < (HAK_SEG_SIZE - HAK_SEG_HEADER_SIZE) / 8; i++)
        nonzero += w[i] != 0;
    assert_int_equal(nonzero, 0);
    // The pages are still mapped and writable after the purge.
    memset((char *)seg + HAK_SEG_HEADER_SIZE, 0x11, HAK_SEG_SIZE - HAK_SEG_HEADER_SIZE);
    assert_int_equal(((unsigned char *)seg)[HAK_SEG_SIZE - 1], 0x11);
    free(saved);
}

// The owner carves (raises `carved`, with an atomic store) while another thread validates blocks
// it was handed: slab_is_block must read `carved` atomically too (ThreadSanitizer checks this in
// the tsan preset), and every handed-over block is accepted.
typedef struct {
    hak_slab_t *slab;
    _Atomic uint32_t handed; // blocks handed to the checker (released after carving them)
    _Atomic int round;
    _Atomic int checker_done_round;
    _Atomic uint64_t rejected;
} carve_race_t;

#define RACE_ROUNDS 8

static void *race_checker(void *arg) {
    carve_race_t *r = arg;
    uint64_t rejected = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        while (atomic_load(&r->round) < round)
            sched_yield();
        uint32_t cap = r->slab->capacity, seen = 0;
        while (seen < cap) {
            uint32_t h = atomic_load_explicit(&r->handed, memory_order_acquire);
            for (; seen < h; seen++)
                if (!slab_is_block(r->slab, r->slab->start + (size_t)seen * r->slab->block_size))
                    rejected++;
            // Probe the block being carved right now: either answer is fine, but the read races
            // with the owner's store unless both are atomic.
            (void)slab_is_block(r->slab, r->slab->start + (size_t)h * r->slab->block_size);
        }
        atomic_store(&r->checker_done_round, round + 1);
    }
    atomic_store(&r->rejected, rejected);
    return NULL;
}

static void test_is_block_while_owner_carves(void **state) {
    hak_segment_t *seg = segment_create(SEG_KIND_TINY);
    assert_non_null(seg);
    slab_format(seg, 1, 0, hak_class_size[0], false);
    carve_race_t r = {.slab = segment_slab(seg, 1)};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, race_checker, &r), 0);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        atomic_store(&r.handed, 0);
        __atomic_store_n(&r.slab->carved, 0, __ATOMIC_RELAXED);
        atomic_store(&r.round, round);
        for (uint32_t i = 0; i < r.slab->capacity; i++) {
            // Carve one block, as the heap's refill does, then hand it over.
            __atomic_store_n(&r.slab->carved, (uint16_t)(i + 1), __ATOMIC_RELAXED);
            atomic_store_explicit(&r.handed, i + 1, memory_order_release);
            for (volatile int spin = 0; spin < 200; spin++) {
            } // let the checker run meanwhile
        }
        while (atomic_load(&r.checker_done_round) <= round)
            sched_yield();
    }
    pthread_join(tid, NULL);
    assert_int_equal(atomic_load(&r.rejected), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_each_kind),
        cmocka_unit_test(test_segmap_none_for_foreign_addresses),
        cmocka_unit_test(test_segmap_leaves_mapped_on_demand),
        cmocka_unit_test(test_segmap_set_roundtrip),
        cmocka_unit_test(test_slot_mask_per_kind),
        cmocka_unit_test(test_slot_range_avoids_header),
        cmocka_unit_test(test_slab_format_and_is_block_every_class),
        cmocka_unit_test(test_colored_slabs_spread_over_cache_lines),
        cmocka_unit_test(test_addresses_outside_slots_rejected),
        cmocka_unit_test(test_purge_keeps_header_zeroes_slabs),
        cmocka_unit_test(test_is_block_while_owner_carves),
    };
    return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
