// Unit tests of the segments' life (backends/segment/segments.h), alone: slots claimed and
// released, an empty segment waiting in the segment cache and reused from it, purges of empty
// segments and of dirty slots (checked with mincore), abandoned slabs. The pools are process-wide,
// so every test measures what it changes.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "segments.h"

#define GET(c) hak_counter_get(&(c))

// Resident pages of [p, p + len).
static size_t resident_pages(const void *p, size_t len) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, count = 0;
    unsigned char vec[HAK_SEG_SIZE / 4096];
    assert_true(n <= sizeof vec);
    assert_int_equal(mincore((void *)p, len, vec), 0);
    for (size_t i = 0; i < n; i++) count += vec[i] & 1;
    return count;
}

static unsigned slots_of(seg_kind_t kind) {
    return (unsigned)__builtin_popcount(segment_slot_mask(kind));
}

// Claim every slot of a segment mapped for the purpose: the pools may hold free slots of earlier
// tests, which are claimed on the way and given back once the new segment is whole.
static hak_segment_t *claim_whole_segment(seg_kind_t kind, unsigned *slots) {
    uint64_t mapped = GET(segment_stats.mapped);
    hak_segment_t *seg = NULL, *old_segs[256];
    unsigned old_slots[256], n_old = 0;
    for (;;) {
        hak_segment_t *s;
        int slot = segments_claim_slot(kind, &s);
        assert_true(slot >= 0);
        if (GET(segment_stats.mapped) != mapped) {
            seg = s;
            slots[0] = (unsigned)slot;
            break;
        }
        assert_true(n_old < 256);
        old_segs[n_old] = s;
        old_slots[n_old++] = (unsigned)slot;
    }
    for (unsigned i = 1; i < slots_of(kind); i++) {
        hak_segment_t *s;
        int slot = segments_claim_slot(kind, &s);
        assert_ptr_equal(s, seg); // the new segment's free slots come next
        slots[i] = (unsigned)slot;
    }
    for (unsigned i = 0; i < n_old; i++) segments_release_slot(old_segs[i], old_slots[i]);
    return seg;
}

static uint64_t committed_bytes(void) {
    segments_space_t space;
    segments_space_total(&space);
    return space.committed;
}

static void touch_slot(hak_segment_t *seg, unsigned slot) {
    char *start, *end;
    segment_slot_range(seg, slot, &start, &end);
    memset(start, 0x5a, (size_t)(end - start));
}

static void test_claims_fill_a_segment_then_map_another(void **state) {
    unsigned slots[HAK_SEG_SLOTS];
    hak_segment_t *seg = claim_whole_segment(SEG_KIND_MID, slots);
    assert_int_equal(segmap_get((uintptr_t)seg), seg->slab_shift);
    uint64_t mapped = GET(segment_stats.mapped);
    hak_segment_t *other;
    int slot = segments_claim_slot(SEG_KIND_MID, &other);
    assert_true(slot >= 0);
    assert_ptr_not_equal(other, seg);
    assert_int_equal(GET(segment_stats.mapped), mapped + 1);
    segments_release_slot(other, (unsigned)slot);
    for (unsigned i = 0; i < slots_of(SEG_KIND_MID); i++) segments_release_slot(seg, slots[i]);
    segments_expire(true);
}

static void test_empty_segment_waits_and_is_reused(void **state) {
    unsigned slots[HAK_SEG_SLOTS];
    hak_segment_t *seg = claim_whole_segment(SEG_KIND_MID, slots);
    const lru_counters_t *cache = segments_cache_counters();
    uint64_t inserted = GET(cache->inserted), hits = GET(cache->hits),
             purged = GET(segment_stats.purged);
    for (unsigned i = 0; i < slots_of(SEG_KIND_MID); i++) segments_release_slot(seg, slots[i]);
    assert_int_equal(GET(cache->inserted), inserted + 1); // empty: it waits, unpurged
    assert_int_equal(GET(segment_stats.purged), purged);
    hak_segment_t *again;
    uint64_t mapped = GET(segment_stats.mapped);
    int slot = segments_claim_slot(SEG_KIND_MID, &again);
    assert_true(slot >= 0);
    assert_int_equal(GET(segment_stats.mapped), mapped); // no new mapping
    assert_ptr_equal(again, seg);                        // where the last claim succeeded
    assert_int_equal(GET(cache->hits), hits + 1);
    segments_release_slot(again, (unsigned)slot);
    segments_expire(true);
}

static void test_expired_segment_is_purged_but_for_its_header(void **state) {
    unsigned slots[HAK_SEG_SLOTS];
    hak_segment_t *seg = claim_whole_segment(SEG_KIND_MID, slots);
    for (unsigned i = 0; i < slots_of(SEG_KIND_MID); i++) touch_slot(seg, slots[i]);
    char *body = (char *)seg + HAK_SEG_HEADER_SIZE;
    size_t body_len = HAK_SEG_SIZE - HAK_SEG_HEADER_SIZE;
    assert_true(resident_pages(body, body_len) > 0);
    uint64_t committed = committed_bytes(), purged = GET(segment_stats.purged);
    for (unsigned i = 0; i < slots_of(SEG_KIND_MID); i++) segments_release_slot(seg, slots[i]);
    assert_int_equal(committed_bytes(), committed); // released slots stay dirty
    assert_true(segments_expire(true));
    assert_true(GET(segment_stats.purged) > purged);
    assert_int_equal(resident_pages(body, body_len), 0);
    assert_true(committed_bytes() <= committed - body_len);
    assert_int_equal(segmap_get((uintptr_t)seg), seg->slab_shift); // still a segment, reusable
    assert_false(segments_expire(true)); // nothing left to purge
}

static void test_dirty_slot_of_a_segment_in_use_is_purged(void **state) {
    unsigned slots[HAK_SEG_SLOTS];
    hak_segment_t *seg = claim_whole_segment(SEG_KIND_MID, slots);
    unsigned freed = slots[1];
    touch_slot(seg, freed);
    char *start, *end;
    segment_slot_range(seg, freed, &start, &end);
    uint64_t slots_purged = GET(segment_stats.slots_purged);
    segments_release_slot(seg, freed); // the others stay claimed
    assert_true(resident_pages(start, (size_t)(end - start)) > 0);
    assert_true(segments_purge_dirty_slots(true));
    assert_true(GET(segment_stats.slots_purged) > slots_purged);
    assert_int_equal(resident_pages(start, (size_t)(end - start)), 0);
    // A purged slot is claimable again.
    hak_segment_t *again;
    int slot = segments_claim_slot(SEG_KIND_MID, &again);
    assert_ptr_equal(again, seg);
    assert_int_equal(slot, (int)freed);
    for (unsigned i = 0; i < slots_of(SEG_KIND_MID); i++) segments_release_slot(seg, slots[i]);
    segments_expire(true);
}

static bool always_empty(sp_link_t *link) { return true; }
static bool never_empty(sp_link_t *link) { return false; }

static void test_abandoned_slabs_adopted_or_reclaimed(void **state) {
    enum { CLS = 5 };
    hak_segment_t *seg;
    int slot = segments_claim_slot(SEG_KIND_TINY, &seg);
    assert_true(slot >= 0);
    slab_format(seg, (unsigned)slot, CLS, 96, false);
    hak_slab_t *s = segment_slab(seg, (unsigned)slot);
    uint64_t abandoned = GET(segments_pool_counters(SEG_KIND_TINY)->slabs_abandoned);
    segments_abandon(s);
    assert_int_equal(GET(segments_pool_counters(SEG_KIND_TINY)->slabs_abandoned), abandoned + 1);
    assert_null(segments_adopt(SEG_KIND_TINY, CLS + 1)); // another class's
    assert_ptr_equal(segments_adopt(SEG_KIND_TINY, CLS), s);
    assert_null(segments_adopt(SEG_KIND_TINY, CLS));
    segments_abandon(s);
    assert_null(segments_reclaim_abandoned(SEG_KIND_TINY, CLS, never_empty));
    hak_slab_t *taken = segments_reclaim_abandoned(SEG_KIND_TINY, CLS, always_empty);
    assert_ptr_equal(taken, s);
    assert_null(taken->next);
    assert_null(segments_adopt(SEG_KIND_TINY, CLS));
    segments_release_slot(seg, (unsigned)slot);
}

int main(void) {
    segments_init(); // the segment cache's bounds: the options' defaults
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_fill_a_segment_then_map_another),
        cmocka_unit_test(test_empty_segment_waits_and_is_reused),
        cmocka_unit_test(test_expired_segment_is_purged_but_for_its_header),
        cmocka_unit_test(test_dirty_slot_of_a_segment_in_use_is_purged),
        cmocka_unit_test(test_abandoned_slabs_adopted_or_reclaimed),
    };
    return cmocka_run_group_tests_name("segments", tests, NULL, NULL);
}
