#include "lru_pa_kernels.h"

#include <stdlib.h>

#include "lru.h"
#include "page_arena.h"

// ---- lru -----------------------------------------------------------------------------------

typedef struct {
    char header[64]; // stands for the rest of a segment header
    lru_node_t node;
} kern_segment_t;

struct kern_lru {
    lru_t lru;
    size_t resident;
    kern_segment_t *segs; // resident + 1
};

kern_lru_t *kern_lru_new(size_t resident) {
    kern_lru_t *k = calloc(1, sizeof *k);
    if (k == NULL) return NULL;
    k->segs = calloc(resident + 1, sizeof *k->segs);
    if (k->segs == NULL) {
        free(k);
        return NULL;
    }
    k->resident = resident;
    lru_init(&k->lru, resident + 1, SIZE_MAX, 1000);
    for (size_t i = 0; i < resident; i++)
        lru_insert(&k->lru, &k->segs[i].node, 2u << 20, 1);
    return k;
}

void kern_lru_delete(kern_lru_t *k) {
    lru_expire(&k->lru, 0, true);
    free(k->segs);
    free(k);
}

uint64_t kern_lru_insert_remove(kern_lru_t *k, uint32_t n) {
    lru_node_t *spare = &k->segs[k->resident].node;
    uint64_t hits = 0;
    for (uint32_t i = 0; i < n; i++) {
        lru_insert(&k->lru, spare, 2u << 20, 2);
        hits += lru_remove(&k->lru, spare);
    }
    return hits;
}

uint64_t kern_lru_expire_nothing_due(kern_lru_t *k, uint32_t n) {
    uint64_t got = 0;
    for (uint32_t i = 0; i < n; i++) {
        got += lru_expire(&k->lru, 5, false) != NULL;
        __asm__ volatile("" ::: "memory"); // one real check per round
    }
    return got;
}

// ---- page_arena ----------------------------------------------------------------------------

struct kern_pa {
    page_arena_t arena;
    enum kern_pa_mode mode;
    size_t bytes;
};

kern_pa_t *kern_pa_new(enum kern_pa_mode mode, size_t bytes) {
    kern_pa_t *k = calloc(1, sizeof *k);
    if (k == NULL) return NULL;
    k->mode = mode;
    k->bytes = bytes;
    // No decay by time during a run; the warm arena has no hot level, so every put decommits.
    size_t cap = 4 * bytes;
    page_arena_init(&k->arena, mode == KERN_PA_HOT ? cap : 0, cap, UINT64_MAX, UINT64_MAX);
    return k;
}

void kern_pa_delete(kern_pa_t *k) {
    page_arena_trim(&k->arena);
    free(k);
}

static void touch_pages(char *p, size_t bytes) {
    size_t page = hak_os_page_size();
    for (size_t off = 0; off < bytes; off += page)
        ((volatile char *)p)[off] = 1;
}

uint64_t kern_pa_cycle(kern_pa_t *k, uint32_t n, int touch) {
    uint64_t hits = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t got = k->bytes;
        bool hot;
        char *p = NULL;
        if (k->mode != KERN_PA_MMAP) p = page_arena_take(&k->arena, k->bytes, &got, &hot);
        if (p != NULL)
            hits++;
        else
            p = hak_os_reserve_aligned(k->bytes, 2u << 20);
        if (p == NULL) abort();
        if (touch)
            touch_pages(p, got);
        else
            ((volatile char *)p)[64] = 1; // the caller writes its header, at least
        if (k->mode == KERN_PA_MMAP)
            hak_os_release(p, got);
        else
            page_arena_put(&k->arena, p, got, 1);
    }
    return hits;
}
