#include "segmap.h"

#define LEAF_BYTES ((size_t)1 << HAK_SEGMAP_LEAF_BITS)

// .bss, and never written: its pages are only ever read, so they are the kernel's zero page.
uint8_t hak_segmap_no_leaf[LEAF_BYTES];
uint8_t *hak_segmap[HAK_SEGMAP_LEAVES] = {[0 ... HAK_SEGMAP_LEAVES - 1] = hak_segmap_no_leaf};

// The leaf of entry i, mapped if it was not (a racing thread's leaf wins; ours goes back).
static uint8_t *leaf_of(size_t i) {
    uint8_t **slot = &hak_segmap[i >> HAK_SEGMAP_LEAF_BITS];
    // acquire: pairs with the release below (the kernel's zeroed leaf is seen as zeroes).
    uint8_t *leaf = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (leaf != hak_segmap_no_leaf) return leaf;
    uint8_t *fresh = hak_os_reserve_aligned(LEAF_BYTES, hak_os_page_size());
    if (fresh == NULL) return NULL;
    // release: publishes the leaf; acquire on failure: as the load above, for the winner's leaf.
    if (__atomic_compare_exchange_n(slot, &leaf, fresh, false, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
        return fresh;
    hak_os_release(fresh, LEAF_BYTES);
    return leaf;
}

bool segmap_set(uintptr_t header, unsigned what) {
    size_t i = header >> HAK_SEG_SHIFT;
    uint8_t *leaf = i < HAK_SEGMAP_ENTRIES ? leaf_of(i) : NULL;
    if (leaf == NULL) return false;
    __atomic_store_n(&leaf[i & (LEAF_BYTES - 1)], (uint8_t)what, __ATOMIC_RELEASE);
    return true;
}
