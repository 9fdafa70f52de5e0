// segment: the 2 MiB-aligned regions that slabs are carved from, and the layout of their headers.
//
// Glossary
//   segment   2 MiB, aligned to 2 MiB. The first 64 KiB hold its header (this struct); the rest is
//             cut into equal slab slots: 64 KiB (tiny), 256 KiB (mid) or one slot (large).
//   slab      the blocks of one size class in one slot; its metadata (hak_slab_t) sits in the
//             segment header, found from a block address in a few instructions
//   slot      a slab's place in a segment, free or claimed (the shared_pool box's bitmap)
//
// A block address p leads to its segment with segment_header_of (segmap.h); the slab is the slot
// index (p - segment) >> slab_shift. The life of segments (claiming and releasing slots, empty
// segments waiting in a cache, purges) is segments.h's.
#ifndef HAK_SEGMENT_H
#define HAK_SEGMENT_H

#include "lru.h"
#include "platform.h"
#include "remote_queue.h"
#include "segmap.h"
#include "shared_pool.h"

#include <stdatomic.h>
#include <stddef.h>

#define HAK_SEG_HEADER_SIZE (64 * HAK_KiB)
#define HAK_SEG_SLOTS 32

// Slot i's metadata is slabs[i + color], color = bits 21-24 of the segment's address: segments
// are 2 MiB-aligned, so without it the same slot's metadata (and the line every free reads) of
// every segment would fall into one cache set, and a working set of 20 segments would miss in L2.
#define HAK_SEG_COLORS 16

typedef enum { SEG_KIND_TINY, SEG_KIND_MID, SEG_KIND_LARGE, SEG_KINDS } seg_kind_t;

typedef struct hak_slab {
    // First cache line: read by every thread that frees a block of the slab; written when the slab
    // is formatted, carved (a batch at a time, until all is carved), abandoned or adopted. Keeping
    // the owner's per-refill and per-drain writes out of it spares the freeing threads a cache
    // miss on every free after each of them (Larson: half of free's time was that miss). The
    // order keeps start and carved where the compiler addresses them from the slab index directly
    // (another order cost free 3 instructions).
    _Atomic(void *) owner;  // the heap that owns it; NULL when abandoned or free
    uint8_t div_shift;      // trailing zero bits of block_size
    uint8_t cls;            // size class
    uint8_t slot;           // its index in the segment
    char *start;            // first block
    uint32_t block_size;    // stride between blocks, the size class's size
    uint32_t div_inv;       // inverse of block_size's odd part mod 2^32: validates block addresses
    uint16_t carved;        // blocks cut from the slab so far (lazily, a batch at a time)
    uint16_t capacity;      // blocks that fit
    // Second cache line: the owner's bookkeeping, and the queue other threads push remote frees
    // to (rare next to frees: most cross-thread blocks travel through thread caches and depots).
    void *free __attribute__((aligned(HAK_CACHE_LINE))); // local free list (through the blocks)
    uint16_t used;          // carved blocks not on `free`: live, in a thread cache, or remote-freed
    uint8_t list;           // the frontend's: which of its owner's lists it is on
    struct hak_slab *prev, *next; // the owner's list links
    remote_queue_t remote;
    sp_link_t pool_link;    // link in the shared pool's abandoned list
} hak_slab_t;

typedef struct hak_segment {
    uint8_t slab_shift;     // log2 of the slot size
    uint8_t kind;           // seg_kind_t
    sp_segment_t pool;      // slot bitmap, in its kind's shared pool
    lru_node_t lru;         // while empty and unpurged: its place in the lru of empty segments
    _Atomic uint32_t dirty;          // free slots whose pages may still be resident
    _Atomic uint64_t dirty_since_ms; // when the first of them was released
    // Indexed through segment_slab. The entry after the last slot stays zero: an invalid pointer
    // at the very end of a segment indexes it and is rejected like any other.
    hak_slab_t slabs[HAK_SEG_SLOTS + HAK_SEG_COLORS] __attribute__((aligned(HAK_CACHE_LINE)));
} hak_segment_t;

_Static_assert(sizeof(hak_slab_t) == 2 * HAK_CACHE_LINE, "slab metadata is two cache lines");
_Static_assert(sizeof(hak_segment_t) <= HAK_SEG_HEADER_SIZE, "segment header fits its region");

HAK_INLINE unsigned segment_color(const hak_segment_t *seg) {
    return (unsigned)((uintptr_t)seg >> HAK_SEG_SHIFT) & (HAK_SEG_COLORS - 1);
}

// The metadata of a slot.
HAK_INLINE hak_slab_t *segment_slab(hak_segment_t *seg, unsigned slot) {
    return &seg->slabs[slot + segment_color(seg)];
}

// The slab holding p, with the slot shift the segmap gave (the fast path).
HAK_INLINE hak_slab_t *segment_slab_at(hak_segment_t *seg, const void *p, unsigned slot_shift) {
    uintptr_t slot = ((uintptr_t)p - (uintptr_t)seg) >> slot_shift;
    return &seg->slabs[slot + (((uintptr_t)seg >> HAK_SEG_SHIFT) & (HAK_SEG_COLORS - 1))];
}

HAK_INLINE hak_slab_t *segment_slab_of(hak_segment_t *seg, const void *p) {
    return segment_slab_at(seg, p, seg->slab_shift);
}

// The slab of a block of a slab segment (the slot shift read from the header).
HAK_INLINE hak_slab_t *slab_of_block(const void *p) {
    return segment_slab_of((hak_segment_t *)segment_header_of(p), p);
}

// The segment a slab's metadata sits in.
HAK_INLINE hak_segment_t *slab_segment(const hak_slab_t *s) {
    return (hak_segment_t *)((uintptr_t)s & ~HAK_SEG_MASK);
}

// The segment whose shared-pool node this is.
HAK_INLINE hak_segment_t *segment_of_pool_node(sp_segment_t *node) {
    return (hak_segment_t *)((char *)node - offsetof(hak_segment_t, pool));
}

// The slab whose pool_link this is (abandoned slabs are kept by the shared pool through it).
HAK_INLINE hak_slab_t *slab_of_pool_link(sp_link_t *link) {
    return (hak_slab_t *)((char *)link - offsetof(hak_slab_t, pool_link));
}

// Is p the address of a block this slab has handed out (start of a carved block)?
// Exact division test: with block_size = odd << k, off is a multiple of block_size iff
// rotr(off * odd^-1, k) equals off / block_size; otherwise the result is larger than any index.
HAK_INLINE bool slab_is_block(const hak_slab_t *s, const void *p) {
    uint32_t off = (uint32_t)((uintptr_t)p - (uintptr_t)s->start);
    uint32_t q = off * s->div_inv;
    q = (q >> s->div_shift) | (q << ((32 - s->div_shift) & 31));
    // relaxed atomic: the owner may be carving more blocks while another thread frees one.
    return q < __atomic_load_n(&s->carved, __ATOMIC_RELAXED);
}

// ---- segments -----------------------------------------------------------------------------------
// Map a new segment of a kind; its slots all free. NULL with errno = ENOMEM.
hak_segment_t *segment_create(seg_kind_t kind);
uint32_t segment_slot_mask(seg_kind_t kind);
// Bounds of a slot's usable bytes.
void segment_slot_range(hak_segment_t *seg, unsigned slot, char **start, char **end);
// Usable bytes of a slot (one that overlaps the header starts after it).
uint64_t segment_slot_bytes(hak_segment_t *seg, unsigned slot);
// Give a seized (entirely free) segment's pages back to the OS, keeping the header.
void segment_purge(hak_segment_t *seg);
// The same for one seized slot.
void segment_purge_slot(hak_segment_t *seg, unsigned slot);

// Initialise slab `slot` of `seg` for a size class. The slab starts with no carved block. Its
// blocks start at the slot's start (aligned to the slot size), or with `color` at an offset that
// varies from slab to slab (a multiple of HAK_CACHE_LINE below block_size's largest power-of-two
// divisor): blocks are then only HAK_CACHE_LINE-aligned, and the slot holds at most one block less.
void slab_format(hak_segment_t *seg, unsigned slot, unsigned cls, uint32_t block_size, bool color);

#define SEGMENT_COUNTERS(X)                                                                        \
    X(mapped, "segments mapped")                                                                   \
    X(purged, "purges of a whole empty segment")                                                   \
    X(slots_purged, "purges of one free slot of a segment in use")                                 \
    X(bytes_mapped, "bytes of segments mapped")                                                    \
    X(bytes_purged, "bytes whose pages were given back, in total")
typedef struct {
    SEGMENT_COUNTERS(HAK_COUNTER_FIELD)
} segment_counters_t;
extern HAK_INTERNAL segment_counters_t segment_stats;

#endif
