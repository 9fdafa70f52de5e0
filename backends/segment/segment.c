#include "segment.h"

#include <string.h>

segment_counters_t segment_stats;

static const uint8_t kind_shift[SEG_KINDS] = {16, 18, HAK_SEG_SHIFT};
_Static_assert(SEGMAP_TINY == 16, "the segmap byte of a tiny segment is its slot shift");

uint32_t segment_slot_mask(seg_kind_t kind) {
    unsigned slots = 1u << (HAK_SEG_SHIFT - kind_shift[kind]);
    uint32_t mask = slots == 32 ? 0xFFFFFFFFu : (1u << slots) - 1;
    // A slot that lies entirely inside the header is not a slot.
    if (((size_t)1 << kind_shift[kind]) <= HAK_SEG_HEADER_SIZE) mask &= ~1u;
    return mask;
}

hak_segment_t *segment_create(seg_kind_t kind) {
    hak_segment_t *seg = hak_os_reserve_aligned(HAK_SEG_SIZE, HAK_SEG_SIZE);
    if (seg == NULL) return NULL;
    seg->slab_shift = kind_shift[kind];
    seg->kind = (uint8_t)kind;
    if (!segmap_set((uintptr_t)seg, seg->slab_shift)) {
        hak_os_release(seg, HAK_SEG_SIZE);
        return NULL;
    }
    hak_count(&segment_stats.mapped, 1);
    hak_count(&segment_stats.bytes_mapped, HAK_SEG_SIZE);
    return seg;
}

void segment_slot_range(hak_segment_t *seg, unsigned slot, char **start, char **end) {
    size_t slot_size = (size_t)1 << seg->slab_shift;
    size_t lo = slot * slot_size, hi = lo + slot_size;
    if (lo < HAK_SEG_HEADER_SIZE) lo = HAK_SEG_HEADER_SIZE;
    *start = (char *)seg + lo;
    *end = (char *)seg + hi;
}

uint64_t segment_slot_bytes(hak_segment_t *seg, unsigned slot) {
    char *start, *end;
    segment_slot_range(seg, slot, &start, &end);
    return (uint64_t)(end - start);
}

void segment_purge(hak_segment_t *seg) {
    // relaxed: the seize that precedes the purge ordered everything; this is bookkeeping.
    atomic_store_explicit(&seg->dirty, 0, memory_order_relaxed);
    if (hak_os_decommit((char *)seg + HAK_SEG_HEADER_SIZE, HAK_SEG_SIZE - HAK_SEG_HEADER_SIZE)) {
        hak_count(&segment_stats.purged, 1);
        hak_count(&segment_stats.bytes_purged, HAK_SEG_SIZE - HAK_SEG_HEADER_SIZE);
    }
}

void segment_purge_slot(hak_segment_t *seg, unsigned slot) {
    char *start, *end;
    segment_slot_range(seg, slot, &start, &end);
    if (hak_os_decommit(start, (size_t)(end - start))) {
        hak_count(&segment_stats.slots_purged, 1);
        hak_count(&segment_stats.bytes_purged, (uint64_t)(end - start));
    }
}

// Multiplicative inverse of an odd number modulo 2^32 (Newton's iteration doubles the correct
// low bits each step: 3 -> 6 -> 12 -> 24 -> 48).
static uint32_t inverse_odd(uint32_t d) {
    uint32_t x = d * 3u ^ 2u;
    for (int i = 0; i < 4; i++) x *= 2u - d * x;
    return x;
}

// Where a coloured slab's first block starts past its slot's start: a multiple of a cache line
// below the largest power of two dividing block_size, spread over the slabs by a hash of the slot's
// address. Without it, the blocks of a size that is a multiple of 1 KiB start only at a few
// offsets within 4 KiB and all map to a few cache sets (L2 misses: 3x on 16 B-32 KiB churn).
static uint32_t slab_color_offset(const hak_segment_t *seg, unsigned slot, uint32_t block_size) {
    uint32_t lines = (block_size & -block_size) / HAK_CACHE_LINE;
    if (lines < 2) return 0; // every line offset is some block's start already
    uint32_t k = (uint32_t)(((uintptr_t)seg >> HAK_SEG_SHIFT) * HAK_SEG_SLOTS + slot);
    return (uint32_t)(((uint64_t)(k * 0x9E3779B9u) * lines) >> 32) * HAK_CACHE_LINE;
}

void slab_format(hak_segment_t *seg, unsigned slot, unsigned cls, uint32_t block_size, bool color) {
    hak_slab_t *s = segment_slab(seg, slot);
    char *start, *end;
    segment_slot_range(seg, slot, &start, &end);
    if (color) start += slab_color_offset(seg, slot, block_size);
    s->free = NULL;
    s->start = start;
    s->block_size = block_size;
    s->div_shift = (uint8_t)__builtin_ctz(block_size);
    s->div_inv = inverse_odd(block_size >> s->div_shift);
    s->carved = 0;
    s->capacity = (uint16_t)((size_t)(end - start) / block_size);
    s->used = 0;
    s->cls = (uint8_t)cls;
    s->slot = (uint8_t)slot;
    s->prev = s->next = NULL;
    remote_queue_init(&s->remote);
}
