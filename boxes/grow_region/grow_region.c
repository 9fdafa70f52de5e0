#include "grow_region.h"

#include <string.h>


static grow_block_t *header_at(grow_region_t *r, uint32_t off) {
    return (grow_block_t *)((char *)r + off);
}

static uint32_t offset_of(grow_region_t *r, const grow_block_t *b) {
    return (uint32_t)((const char *)b - (const char *)r);
}


grow_region_t *grow_region_init(void *mem, size_t size, const void *owner) {
    grow_region_t *r = mem;
    r->size = (uint32_t)size;
    r->top = GROW_REGION_HEADER;
    r->last = 0;
    atomic_store_explicit(&r->dirty_end, GROW_REGION_HEADER, memory_order_relaxed);
    // relaxed: the region reaches other threads only through blocks the program hands over.
    atomic_store_explicit(&r->owner, owner, memory_order_relaxed);
    atomic_store_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

// Move the top down over the blocks freed at the top of the stack.
static void retreat(grow_region_t *r) {
    while (r->last != 0) {
        grow_block_t *b = header_at(r, r->last);
        // acquire: pairs with the release of the free; what the freeing thread did with the block
        // happens before the owner writes a new block over it.
        if (atomic_load_explicit(&b->state, memory_order_acquire) != GROW_FREED) return;
        r->top = r->last;
        r->last = b->prev;
        hak_count_owned(&r->stats.retreated, 1);
    }
}

grow_block_t *grow_region_block(grow_region_t *r, const void *p) {
    uintptr_t off = (uintptr_t)p - (uintptr_t)r;
    if ((off & 15) != 0 || off < GROW_REGION_HEADER + GROW_BLOCK_HEADER || off >= r->size) return NULL;
    grow_block_t *b = (grow_block_t *)p - 1;
    // relaxed: a thread holding a live block got it through the program's own synchronisation.
    if (atomic_load_explicit(&b->state, memory_order_relaxed) != GROW_LIVE) return NULL;
    if (b->size > r->size - off) return NULL;
    return b;
}

void *grow_region_alloc(grow_region_t *r, size_t size) {
    if (size > grow_region_capacity(r)) return NULL;
    retreat(r);
    size_t n = grow_region_round(size);
    size_t room = r->size - r->top; // the last block may end at the region's end: room 0
    if (room < GROW_BLOCK_HEADER || n > room - GROW_BLOCK_HEADER) return NULL;
    grow_block_t *b = header_at(r, r->top);
    b->prev = r->last;
    b->size = (uint32_t)n;
    // relaxed: the block reaches another thread only through the program's synchronisation.
    atomic_store_explicit(&b->state, GROW_LIVE, memory_order_relaxed);
    r->last = r->top;
    r->top += GROW_BLOCK_HEADER + (uint32_t)n;
    grow_region_raise_dirty(r);
    // relaxed: the count is only compared with zero by the decrement that ends the last
    // reference, and this increment is ordered before any free of the block by the program.
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    hak_count_owned(&r->stats.placed, 1);
    return b + 1;
}

bool grow_region_resize(grow_region_t *r, void *p, size_t size) {
    if (size > grow_region_capacity(r)) return false;
    grow_block_t *b = (grow_block_t *)p - 1;
    if (offset_of(r, b) != r->last) {
        if (grow_region_round(size) <= b->size) { // shrinking below the top: the rest stays idle
            b->size = (uint32_t)grow_region_round(size);
            hak_count_owned(&r->stats.shrunk, 1);
            return true;
        }
        retreat(r); // p may be the last live block now
    }
    return grow_region_resize_last(r, p, size);
}

grow_free_result_t grow_region_free(grow_region_t *r, grow_block_t *b, bool by_owner) {
    uint32_t live = GROW_LIVE;
    // release: the owner's acquire in retreat sees the freeing thread done with the block.
    if (!atomic_compare_exchange_strong_explicit(&b->state, &live, GROW_FREED, memory_order_release,
                                                 memory_order_relaxed))
        return GROW_DOUBLE_FREE;
    hak_count(&r->stats.freed, 1);
    if (by_owner && offset_of(r, b) == r->last) retreat(r);
    // acq_rel: whoever ends the last reference gives the region back, after every other free
    // (and the disown) of it.
    return atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1 ? GROW_FREED_LAST
                                                                               : GROW_FREED_OK;
}

size_t grow_region_purge(grow_region_t *r) {
    size_t from = hak_page_round(r->top);
    size_t to = hak_page_round(atomic_load_explicit(&r->dirty_end, memory_order_relaxed));
    if (to <= from) return 0;
    if (!hak_os_decommit((char *)r + from, to - from)) return 0;
    atomic_store_explicit(&r->dirty_end, (uint32_t)from, memory_order_relaxed);
    return to - from;
}

bool grow_region_disown(grow_region_t *r) {
    retreat(r);
    grow_region_purge(r);
    atomic_store_explicit(&r->owner, NULL, memory_order_relaxed); // compared with tokens only
    // acq_rel: as in grow_region_free.
    return atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1;
}
