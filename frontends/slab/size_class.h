// size classes: the one definition of block sizes for the slab frontends.
//
//   tiny   16 B .. 1 KiB    classes 0..19   16 B apart up to 128 B, then four per doubling
//   mid    1 KiB .. 32 KiB  classes 20..39  four per doubling
//   large  32 KiB .. 1.75 MiB classes 40..62 four per doubling
//   huge   above: one mapping per block (os_direct)
//   aligned twins  classes 63..90: the tiny and mid sizes that are multiples of 128 B once more
//
// Coloured classes: the slabs of a tiny or mid class whose size is a multiple of 128 B start their
// blocks at an offset that varies by slab (slab_format), so that the blocks' first lines spread
// over the cache sets instead of sharing the few a size with a large power-of-two factor would
// give them (4 KiB blocks: one L1 set in 64). Their blocks are only 64-byte aligned; an aligned
// request above 64 B takes the class's twin, the same size on slabs that are not coloured.
//
// Four classes per doubling waste at most 1/5 of a block (20%) right above a class boundary and
// 12.5% on average; every size is a multiple of 16, so every block is 16-byte aligned, and every
// power of two from 16 B to 1 MiB is a class (aligned allocations use them).
#ifndef HAK_SIZE_CLASS_H
#define HAK_SIZE_CLASS_H

#include "platform.h"
#include "segment.h"
#include "thread_cache.h"

#define HAK_SIZE_CLASSES 63 // distinct sizes: classes 0..62
#define HAK_ALIGNED_TWINS 28
#define HAK_NCLASSES (HAK_SIZE_CLASSES + HAK_ALIGNED_TWINS)
#define HAK_COLOR_ALIGN HAK_CACHE_LINE // what a coloured class's blocks are aligned to
#define HAK_TINY_MAX 1024
#define HAK_MID_MAX (32 * HAK_KiB)
#define HAK_LARGE_MAX ((size_t)1835008) // 1.75 MiB: the largest class that fits a large segment
#define HAK_TINY_CLASSES 20
#define HAK_MID_CLASSES 20

enum { FRONTEND_TINY, FRONTEND_MID, FRONTEND_LARGE, FRONTEND_HUGE, FRONTENDS };

extern HAK_INTERNAL const uint32_t hak_class_size[HAK_NCLASSES];
// The tiny classes' table gives the offsets of their entries in a heap's per-class array
// (HAK_CLASS_ENTRY_SIZE, thread_cache.h), so that malloc's fast path needs no multiply.
extern HAK_INTERNAL const uint16_t hak_small_entry[HAK_TINY_MAX / 16 + 1];
// A coloured class's twin; any other class itself.
extern HAK_INTERNAL const uint8_t hak_aligned_twin[HAK_SIZE_CLASSES];

// For a request of at most HAK_TINY_MAX bytes: the offset of its class's entry in an array of
// HAK_CLASS_ENTRY_SIZE-byte entries (one table load), and its class.
HAK_INLINE size_t size_class_small_entry(size_t n) { return hak_small_entry[(n + 15) >> 4]; }
HAK_INLINE unsigned size_class_small(size_t n) {
    return (unsigned)(size_class_small_entry(n) / HAK_CLASS_ENTRY_SIZE);
}

// Class of a request of more than 128 B (and at most HAK_LARGE_MAX): four classes per doubling.
HAK_INLINE unsigned size_class_above_128(size_t n) {
    // n is in (2^k, 2^(k+1)]; 63 ^ clz (not 63 - clz) lets the compiler use bsr's result as is.
    unsigned k = 63u ^ (unsigned)__builtin_clzll(n - 1);
    return 4 * k - 20 + (unsigned)(((n - 1) >> (k - 2)) & 3); // 8 + 4 (k - 7) + quarter
}

// Class of any request up to HAK_LARGE_MAX.
HAK_INLINE unsigned size_class_of(size_t n) {
    return n <= HAK_TINY_MAX ? size_class_small(n) : size_class_above_128(n);
}

HAK_INLINE bool size_class_colored(unsigned cls) {
    return cls < HAK_SIZE_CLASSES && hak_aligned_twin[cls] != cls;
}

// Class of a request of n bytes at alignment `align` (a power of two, 16 <= align <= 64 KiB, and
// roundup(n, align) <= HAK_LARGE_MAX): the smallest size of at least n bytes (1 for 0) that align
// divides, on slabs whose blocks are aligned to it.
// Slabs that are not coloured start 64 KiB-aligned, coloured ones 64-byte aligned, so a block of
// a size that align divides is aligned (above 64 B: in the twin). Rounding n up to the alignment
// is enough: in a doubling (2^k, 2^(k+1)] the classes step by 2^(k-2), so every multiple of an
// alignment of 2^(k-1) or more there is itself a class, and a smaller alignment divides them all.
// The twin is selected without a branch (a conditional move): aligned requests mix alignments on
// both sides of 64 B.
HAK_INLINE unsigned size_class_aligned(size_t n, size_t align) {
    size_t r = (n + (n == 0) + align - 1) & ~(align - 1); // >= 16, a multiple of 16
    unsigned small = (unsigned)(r >> 4) - 1, big = size_class_above_128(r); // 16 B apart up to 128
    unsigned cls = r <= 128 ? small : big;
    unsigned twin = hak_aligned_twin[cls];
    return align > HAK_COLOR_ALIGN ? twin : cls;
}

HAK_INLINE unsigned size_class_frontend(unsigned cls) {
    uint32_t size = hak_class_size[cls];
    return size <= HAK_TINY_MAX  ? FRONTEND_TINY
           : size <= HAK_MID_MAX ? FRONTEND_MID
                                 : FRONTEND_LARGE;
}

HAK_INLINE seg_kind_t size_class_segment_kind(unsigned cls) {
    return (seg_kind_t)size_class_frontend(cls);
}

// Blocks moved from a slab to the thread cache per refill, and back per drain: about
// HAK_CACHE_BATCH_BYTES worth, between 1 and 64 blocks. (16 KiB batches left 8-32 KiB churn
// refilling or draining on 40% of its operations; 64 KiB made it 25% faster; 256 KiB, which only
// changes classes above 1 KiB, another 5-40% on 8-32 KiB churn and a lower peak: fewer slabs
// emptied and claimed again.)
#define HAK_CACHE_BATCH_BYTES (256 * HAK_KiB)
HAK_INLINE uint32_t size_class_batch(unsigned cls) {
#if HAK_THREAD_CACHE == HAK_THREAD_CACHE_NONE
    return 1;
#endif
    uint32_t b = (uint32_t)(HAK_CACHE_BATCH_BYTES / hak_class_size[cls]);
    return b < 1 ? 1 : b > 64 ? 64 : b;
}
// Bound of the thread cache of a class holding `batches` batches (2 at the start, see
// cache_bounds.h): at least two blocks.
#define HAK_CACHE_BASE_BATCHES 2
#define HAK_CACHE_MAX_BATCHES 8
HAK_INLINE uint32_t size_class_cache_cap_of(unsigned cls, unsigned batches) {
#if HAK_THREAD_CACHE == HAK_THREAD_CACHE_NONE
    (void)cls, (void)batches;
    return 1; // a freed block goes straight back to its slab
#endif
    uint32_t c = batches * size_class_batch(cls);
    return c < 2 ? 2 : c;
}
HAK_INLINE uint32_t size_class_cache_cap(unsigned cls) {
    return size_class_cache_cap_of(cls, HAK_CACHE_BASE_BATCHES);
}

#endif
