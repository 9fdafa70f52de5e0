// segment: the 2 MiB-aligned regions that slabs are carved from, and the map that tells which
// addresses are hakmem's.
//
// Glossary
//   segment   2 MiB, aligned to 2 MiB. The first 64 KiB hold its header (this struct); the rest is
//             cut into equal slab slots: 64 KiB (tiny), 256 KiB (mid) or one slot (large).
//   slab      the blocks of one size class in one slot, owned by one thread's heap
//   segmap    one byte per 2 MiB of the address space: is a segment or a huge block's header there?
//
// Any block address p leads to its segment as (p - 1) rounded down to 2 MiB: no block starts at a
// segment's first byte (the header is there), and a huge block aligned to 2 MiB or more keeps its
// header in the 2 MiB just before it. The slab is the slot index (p - segment) >> slab_shift.
#ifndef HAK_SEGMENT_H
#define HAK_SEGMENT_H

#include "lru.h"
#include "platform.h"
#include "remote_queue.h"
#include "shared_pool.h"

#include <stdatomic.h>

#define HAK_SEG_SHIFT 21
#define HAK_SEG_SIZE ((size_t)1 << HAK_SEG_SHIFT)
#define HAK_SEG_MASK (HAK_SEG_SIZE - 1)
#define HAK_SEG_HEADER_SIZE (64 * HAK_KiB)
#define HAK_SEG_SLOTS 32

// Address bits a user-space pointer can have on x86-64 / aarch64 with 4-level page tables.
#define HAK_ADDRESS_BITS 47
#define HAK_SEGMAP_ENTRIES ((size_t)1 << (HAK_ADDRESS_BITS - HAK_SEG_SHIFT))

// A slab segment's entry is its slot shift (16, 18 or 21, all >= SEGMAP_SLABS), so a free learns
// the slot size from the byte it reads anyway, not from the segment header. SEGMAP_TINY: a tiny
// segment's (free tests it first and then uses the shift as a constant).
// SEGMAP_GROW: a grow region (frontends/slab/grow.h), where realloc grows blocks in place.
enum { SEGMAP_NONE = 0, SEGMAP_HUGE = 2, SEGMAP_GROW = 3, SEGMAP_SLABS = 16, SEGMAP_TINY = 16 };
HAK_INLINE bool segmap_is_slabs(unsigned what) { return what >= SEGMAP_SLABS; }

// Slot i's metadata is slabs[i + color], color = bits 21-24 of the segment's address: segments
// are 2 MiB-aligned, so without it the same slot's metadata (and the line every free reads) of
// every segment would fall into one cache set, and a working set of 20 segments would miss in L2.
#define HAK_SEG_COLORS 16

typedef enum { SEG_KIND_TINY, SEG_KIND_MID, SEG_KIND_LARGE, SEG_KINDS } seg_kind_t;

// Owner lists a slab can be on (owner thread only).
enum { SLAB_FREE_SLOT, SLAB_CURRENT, SLAB_PARTIAL, SLAB_FULL, SLAB_SPARE, SLAB_ABANDONED };

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
    uint8_t list;           // SLAB_* : which owner list it is on
    struct hak_slab *prev, *next; // owner's list links
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

extern HAK_INTERNAL uint8_t hak_segmap[HAK_SEGMAP_ENTRIES];

// What the segmap says of the 2 MiB region holding `header`'s address.
HAK_INLINE unsigned segmap_get(uintptr_t header) {
    size_t i = header >> HAK_SEG_SHIFT;
    return HAK_LIKELY(i < HAK_SEGMAP_ENTRIES) ? __atomic_load_n(&hak_segmap[i], __ATOMIC_RELAXED)
                                              : SEGMAP_NONE;
}
void segmap_set(uintptr_t header, unsigned what);

// The header (segment or huge block) that a block address belongs to, if it is one of ours.
HAK_INLINE uintptr_t segment_header_of(const void *p) { return ((uintptr_t)p - 1) & ~HAK_SEG_MASK; }

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

// ---- segments ----------------------------------------------------------------------------------
// Map a new segment of a kind; its slots all free. NULL with errno = ENOMEM.
hak_segment_t *segment_create(seg_kind_t kind);
uint32_t segment_slot_mask(seg_kind_t kind);
// Bounds of a slot's usable bytes.
void segment_slot_range(hak_segment_t *seg, unsigned slot, char **start, char **end);
// Give a seized (entirely free) segment's pages back to the OS, keeping the header.
void segment_purge(hak_segment_t *seg);
// The same for one seized slot.
void segment_purge_slot(hak_segment_t *seg, unsigned slot);

// Initialise slab `slot` of `seg` for a size class. The slab starts with no carved block. Its
// blocks start at the slot's start (aligned to the slot size), or with `color` at an offset that
// varies from slab to slab (a multiple of HAK_CACHE_LINE below block_size's largest power-of-two
// divisor): blocks are then only HAK_CACHE_LINE-aligned, and the slot holds at most one block less.
void slab_format(hak_segment_t *seg, unsigned slot, unsigned cls, uint32_t block_size, bool color);

typedef struct {
    _Atomic uint64_t mapped, purged, slots_purged, bytes_mapped, bytes_purged;
} segment_stats_t;
extern HAK_INTERNAL segment_stats_t segment_stats;

#endif
