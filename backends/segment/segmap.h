// segmap: what hakmem keeps in each 2 MiB of the address space, one byte per 2 MiB.
//
// Every region hakmem maps on its own account starts on a 2 MiB boundary and says there what it
// is: a slab segment (this backend), a huge block's mapping (os_direct), a grow region (the
// grow_region box, placed by the slab frontend), a region of sampled blocks (the profiler). free, realloc and malloc_usable_size read the
// byte of an address's region to learn whose it is, and whether it is hakmem's at all.
//
// The map is two-level: a static table of leaf pointers (8 KiB), and leaves of one byte per 2 MiB
// (64 KiB each, for 128 GiB of address space), mapped when a region is first registered in their
// range and never unmapped. A flat map of the whole 47-bit space was 64 MiB of .bss: under an
// address-space limit (ulimit -v 50000) the loader refused to map libhakmem.so at all.
//
// Any block address p leads to its region as (p - 1) rounded down to 2 MiB: no block starts at a
// region's first byte (a header is there), and a huge block aligned to 2 MiB or more keeps its
// header in the 2 MiB just before it.
#ifndef HAK_SEGMAP_H
#define HAK_SEGMAP_H

#include "platform.h"

#define HAK_SEG_SHIFT 21
#define HAK_SEG_SIZE ((size_t)1 << HAK_SEG_SHIFT)
#define HAK_SEG_MASK (HAK_SEG_SIZE - 1)

// Address bits a user-space pointer can have on x86-64 / aarch64 with 4-level page tables.
#define HAK_ADDRESS_BITS 47
#define HAK_SEGMAP_ENTRIES ((size_t)1 << (HAK_ADDRESS_BITS - HAK_SEG_SHIFT))
#define HAK_SEGMAP_LEAF_BITS 16
#define HAK_SEGMAP_LEAVES (HAK_SEGMAP_ENTRIES >> HAK_SEGMAP_LEAF_BITS)

// A slab segment's entry is its slot shift (16, 18 or 21, all >= SEGMAP_SLABS), so a free learns
// the slot size from the byte it reads anyway, not from the segment header. SEGMAP_TINY: a tiny
// segment's (free tests it first and then uses the shift as a constant). SEGMAP_SAMPLED: a region
// of the heap profiler's sampled blocks (frontends/prof), whose frees take free's slow branch.
enum {
    SEGMAP_NONE = 0,
    SEGMAP_HUGE = 2,
    SEGMAP_GROW = 3,
    SEGMAP_SAMPLED = 4,
    SEGMAP_SLABS = 16,
    SEGMAP_TINY = 16
};
HAK_INLINE bool segmap_is_slabs(unsigned what) { return what >= SEGMAP_SLABS; }

// The leaves; a range without one points at a shared leaf of zeroes (SEGMAP_NONE), never written,
// so that a lookup needs no test for a missing leaf.
extern HAK_INTERNAL uint8_t *hak_segmap[HAK_SEGMAP_LEAVES];
extern HAK_INTERNAL uint8_t hak_segmap_no_leaf[(size_t)1 << HAK_SEGMAP_LEAF_BITS];

// What the segmap says of the 2 MiB region holding `header`'s address.
HAK_INLINE unsigned segmap_get(uintptr_t header) {
    size_t i = header >> HAK_SEG_SHIFT;
    if (HAK_UNLIKELY(i >= HAK_SEGMAP_ENTRIES)) return SEGMAP_NONE;
    // relaxed: a caller holding a block of a region is ordered after the region's segmap_set
    // (its release), which came after its leaf was published; any other address reads NONE from
    // whatever leaf, or no leaf, it sees.
    const uint8_t *leaf = __atomic_load_n(&hak_segmap[i >> HAK_SEGMAP_LEAF_BITS], __ATOMIC_RELAXED);
    return __atomic_load_n(&leaf[i & (((size_t)1 << HAK_SEGMAP_LEAF_BITS) - 1)], __ATOMIC_RELAXED);
}
// Say what the region at `header` (2 MiB-aligned) now is; release: whoever reads the new entry
// sees the region's header as its maker wrote it. False (nothing changed) only when the leaf of
// that range had to be mapped and could not be: the caller gives its region back.
bool segmap_set(uintptr_t header, unsigned what);

// The header (segment, huge block or grow region) that a block address belongs to, if any.
HAK_INLINE uintptr_t segment_header_of(const void *p) { return ((uintptr_t)p - 1) & ~HAK_SEG_MASK; }

#endif
