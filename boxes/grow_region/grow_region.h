// grow_region: a thread's stack of blocks that may grow in place, for realloc.
//
// Glossary
//   region   a range of memory (the caller's: mapped, aligned, zero or not) whose first
//            GROW_REGION_HEADER bytes hold this struct; blocks follow, each after a 16-byte header
//   owner    the one thread that may place, resize and retreat blocks (its token, any non-NULL
//            pointer the caller chooses); any thread may free a block
//   top      the end of the last block: a new block goes there, and the last block grows into the
//            space after it without moving
//   retreat  the owner moving top down over blocks already freed at the top of the stack
//   refs     live blocks, plus one while the region is owned: whoever drops it to zero (the last
//            free after grow_region_disown, or the disown itself) gives the region back
//
// A realloc that grows a block moves it here once (the caller copies it); while it stays the last
// block every later growth is in place, and freeing it lets the next one start where it started.
// A block freed below the top leaves a hole that is reused only once the blocks above it are freed
// too (no free lists, no coalescing with neighbours): the region suits blocks that grow one after
// another, and the caller falls back to its other allocator when the region is full.
//
// Counters (relaxed, statistics only; all but `freed` written by the owner alone): placed (blocks
// put at the top), grown and shrunk (in-place resizes), freed, retreated (blocks the top moved
// back over).
#ifndef HAK_GROW_REGION_H
#define HAK_GROW_REGION_H

#include "platform.h"

#include <stdatomic.h>

#define GROW_REGION_HEADER 128
#define GROW_BLOCK_HEADER 16

enum { GROW_LIVE = 0x6c697665u, GROW_FREED = 0x66726565u };

typedef struct {
    uint32_t prev;           // offset of the previous block's header in the region; 0: none
    uint32_t size;           // usable bytes, a multiple of 16
    _Atomic uint32_t state;  // GROW_LIVE or GROW_FREED: magic numbers, so a stray pointer is caught
    uint32_t reserved;
} grow_block_t;

#define GROW_REGION_COUNTERS(X)                                                                    \
    X(placed, "blocks placed on top")                                                              \
    X(grown, "resizes in place that grew a block")                                                 \
    X(shrunk, "resizes in place that shrank a block")                                              \
    X(freed, "blocks freed, by any thread")                                                        \
    X(retreated, "times the top moved down over freed blocks")
typedef struct {
    GROW_REGION_COUNTERS(HAK_COUNTER_FIELD)
} grow_region_counters_t;

typedef struct grow_region {
    // Owner only (any thread reads dirty_end, relaxed, for statistics).
    uint32_t size;               // bytes of the region, this header included
    uint32_t top;                // offset of the first byte after the last block
    uint32_t last;               // offset of the last block's header; 0: no block
    _Atomic uint32_t dirty_end;  // bytes below this offset may be resident
    struct grow_region *next_all, *next_free; // the caller's lists of regions
    // Written by any thread that frees a block.
    _Atomic(const void *) owner __attribute__((aligned(HAK_CACHE_LINE)));
    _Atomic uint32_t refs;
    grow_region_counters_t stats;
} grow_region_t;

_Static_assert(sizeof(grow_region_t) <= GROW_REGION_HEADER, "the header fits its bytes");

typedef enum { GROW_FREED_OK, GROW_FREED_LAST, GROW_DOUBLE_FREE } grow_free_result_t;

// Make a region of `size` bytes (at most 4 GiB) at `mem`, owned by `owner`, with no block.
grow_region_t *grow_region_init(void *mem, size_t size, const void *owner);

// The largest block the region could ever hold.
HAK_INLINE size_t grow_region_capacity(const grow_region_t *r) {
    return r->size - GROW_REGION_HEADER - GROW_BLOCK_HEADER;
}

HAK_INLINE bool grow_region_owned_by(grow_region_t *r, const void *owner) {
    // relaxed: a thread only compares with its own token, which no other thread stores.
    return atomic_load_explicit(&r->owner, memory_order_relaxed) == owner;
}

// The header of p if p is a live block of r, else NULL (not a block start, or freed).
grow_block_t *grow_region_block(grow_region_t *r, const void *p);

// Owner: place a block of `size` bytes at the top (NULL when it does not fit, or when size is
// beyond the capacity; likewise the resizes return false).
void *grow_region_alloc(grow_region_t *r, size_t size);

// Owner: resize live block p (checked by grow_region_block) to `size` bytes without moving it.
// Shrinking always succeeds; growing succeeds when p is the last block (after a retreat) and the
// region has room.
bool grow_region_resize(grow_region_t *r, void *p, size_t size);

// Callers check n against the capacity first: near SIZE_MAX the rounding would wrap.
HAK_INLINE size_t grow_region_round(size_t n) { return n == 0 ? 16 : (n + 15) & ~(size_t)15; }

// Owner: bytes below top may be resident now.
HAK_INLINE void grow_region_raise_dirty(grow_region_t *r) {
    // relaxed: only the owner writes it; other threads read it for statistics.
    if (r->top > atomic_load_explicit(&r->dirty_end, memory_order_relaxed))
        atomic_store_explicit(&r->dirty_end, r->top, memory_order_relaxed);
}

// Owner, the common case of a realloc: resize p in place if it is the last block and live (any
// other pointer, valid or not, returns false and goes to the checked path).
HAK_INLINE bool grow_region_resize_last(grow_region_t *r, void *p, size_t size) {
    grow_block_t *b = (grow_block_t *)p - 1;
    uint32_t off = (uint32_t)((uintptr_t)b - (uintptr_t)r);
    // relaxed: the owner's own block; a free by another thread is a use-after-free anyway.
    if (off != r->last || atomic_load_explicit(&b->state, memory_order_relaxed) != GROW_LIVE ||
        size > grow_region_capacity(r))
        return false;
    size_t n = grow_region_round(size);
    if (n > (size_t)r->size - off - GROW_BLOCK_HEADER) return false; // off is a block's: no wrap
    hak_count_owned(n > b->size ? &r->stats.grown : &r->stats.shrunk, 1);
    b->size = (uint32_t)n;
    r->top = off + GROW_BLOCK_HEADER + (uint32_t)n;
    grow_region_raise_dirty(r);
    return true;
}

// Any thread: free live block p (b = grow_region_block(r, p)). GROW_FREED_LAST: that was the
// region's last reference, the caller gives the region back. GROW_DOUBLE_FREE: another free of p
// won the race; nothing changed.
grow_free_result_t grow_region_free(grow_region_t *r, grow_block_t *b, bool by_owner);

// Owner: drop the pages above the top that may be resident (returns the bytes decommitted).
size_t grow_region_purge(grow_region_t *r);

// Owner: let the region go (its blocks stay valid). Purges above the top; returns true if no
// block was live, and the caller gives the region back.
bool grow_region_disown(grow_region_t *r);

// Bytes of the region that may be resident (a relaxed read).
HAK_INLINE size_t grow_region_dirty_bytes(grow_region_t *r) {
    return atomic_load_explicit(&r->dirty_end, memory_order_relaxed);
}

#endif
