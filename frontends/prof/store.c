// The store of sampled blocks of slab sizes: 2 MiB regions, each of blocks of one size after a
// 64 KiB header, registered in the segmap as SEGMAP_SAMPLED. A block's address gives its region
// (segment_header_of), its index, and so its record. A region whose last block was freed keeps
// its pages for the next samples until the maintenance pass finds it empty for
// HAKMEM_PURGE_DELAY_MS (at once on malloc_trim): then its pages go back and it is carved afresh.
// Giving them back at every emptying made a program with few live samples of a size pay a purge
// and its page faults on most samples (large blocks: 100x slower). Under prof_lock.
#include "prof_internal.h"

#include "segmap.h"

#include <string.h>

#define STORE_HEADER (64 * HAK_KiB)

typedef struct store_region {
    uint32_t block_size, capacity, carved, live;
    uint64_t empty_since_ms;     // when live fell to 0 (meaningful while live is 0 and carved > 0)
    void *free;                  // freed blocks, linked through their first word
    struct store_region *next;   // the next region of the same size
    struct store_region *next_partial; // the next of its size with room (when in_partial)
    bool in_partial;
    prof_record_t **records;     // capacity of them, mapped apart (touched sparsely)
    size_t records_bytes;
    uint64_t live_bits[];        // capacity bits: which blocks are handed out
} store_region_t;

// Regions by block size: a sampled allocation has one of the slab classes' sizes.
#define STORE_SIZES 128
static struct {
    uint32_t size;
    store_region_t *regions; // all of them
    store_region_t *partial; // those with a free or uncarved block: an allocation takes the first
} sizes[STORE_SIZES];
static unsigned nsizes;

// The entry of a block size, added if new (-1: every entry taken).
static int size_entry(size_t size) {
    unsigned k = 0;
    while (k < nsizes && sizes[k].size != size) k++;
    if (k == nsizes) {
        if (nsizes == STORE_SIZES) return -1;
        sizes[nsizes++].size = (uint32_t)size;
    }
    return (int)k;
}

static store_region_t *region_new(uint32_t size) {
    uint32_t capacity = (uint32_t)((HAK_SEG_SIZE - STORE_HEADER) / size);
    _Static_assert(sizeof(store_region_t) + (HAK_SEG_SIZE - STORE_HEADER) / 16 / 8 <= STORE_HEADER,
                   "the header holds a bit for every block");
    store_region_t *r = hak_os_reserve_aligned(HAK_SEG_SIZE, HAK_SEG_SIZE);
    if (r == NULL) return NULL;
    size_t records_bytes = hak_page_round((size_t)capacity * sizeof(prof_record_t *));
    r->records = hak_os_reserve_aligned(records_bytes, hak_os_page_size());
    if (r->records == NULL) {
        hak_os_release(r, HAK_SEG_SIZE);
        return NULL;
    }
    r->records_bytes = records_bytes;
    r->block_size = size;
    r->capacity = capacity;
    hak_count(&prof_stats.store_regions, 1);
    segmap_set((uintptr_t)r, SEGMAP_SAMPLED);
    return r;
}

static char *block_at(store_region_t *r, uint32_t i) { return (char *)r + STORE_HEADER + (size_t)i * r->block_size; }

void *prof_store_alloc(size_t size, prof_record_t *rec) {
    int k = size_entry(size);
    if (k < 0) return NULL;
    store_region_t *r = sizes[k].partial;
    if (r == NULL) {
        if ((r = region_new((uint32_t)size)) == NULL) return NULL;
        r->next = sizes[k].regions;
        sizes[k].regions = r;
        r->in_partial = true;
        sizes[k].partial = r;
    }
    char *b;
    if (r->free != NULL) {
        b = r->free;
        r->free = *(void **)b;
    } else {
        b = block_at(r, r->carved++);
    }
    uint32_t i = (uint32_t)((size_t)(b - block_at(r, 0)) / r->block_size);
    r->live_bits[i / 64] |= (uint64_t)1 << (i % 64);
    r->records[i] = rec;
    r->live++;
    if (r->free == NULL && r->carved == r->capacity) { // full: off the partial list (its head)
        sizes[k].partial = r->next_partial;
        r->in_partial = false;
    }
    return b;
}

// The region and index of a live block, or a report and abort.
static store_region_t *live_block(void *p, uint32_t *index, const char *caller) {
    store_region_t *r = (store_region_t *)segment_header_of(p);
    size_t off = (size_t)((char *)p - (char *)r);
    if (off >= STORE_HEADER && (off - STORE_HEADER) % r->block_size == 0) {
        uint32_t i = (uint32_t)((off - STORE_HEADER) / r->block_size);
        if (i < r->carved && (r->live_bits[i / 64] >> (i % 64) & 1)) {
            *index = i;
            return r;
        }
        if (i < r->carved) hak_fatal("%s(): double free %p", caller, p);
    }
    hak_fatal("%s(): invalid pointer %p", caller, p);
}

prof_record_t *prof_store_free(void *p, const char *caller) {
    uint32_t i;
    store_region_t *r = live_block(p, &i, caller);
    r->live_bits[i / 64] &= ~((uint64_t)1 << (i % 64));
    prof_record_t *rec = r->records[i];
    *(void **)p = r->free;
    r->free = p;
    if (!r->in_partial) { // it has room again
        int k = size_entry(r->block_size);
        r->next_partial = sizes[k].partial;
        sizes[k].partial = r;
        r->in_partial = true;
    }
    if (--r->live == 0) r->empty_since_ms = hak_clock_ms();
    return rec;
}

size_t prof_store_usable(void *p, const char *caller) {
    uint32_t i;
    return live_block(p, &i, caller)->block_size;
}

// Purge a region with no live block: its blocks' pages and its records go back, and it is carved
// afresh (no freed block stays in a list meanwhile).
static void region_purge(store_region_t *r) {
    size_t used = hak_page_round((size_t)r->carved * r->block_size);
    hak_os_decommit(block_at(r, 0), used);
    hak_os_decommit(r->records, r->records_bytes);
    r->free = NULL;
    r->carved = 0;
}

bool prof_store_purge(bool all) {
    uint64_t now = hak_clock_ms();
    bool purged = false;
    for (unsigned k = 0; k < nsizes; k++)
        for (store_region_t *r = sizes[k].regions; r != NULL; r = r->next)
            if (r->live == 0 && r->carved > 0 &&
                (all || (hak_options.purge_delay_ms >= 0 &&
                         now - r->empty_since_ms >= (uint64_t)hak_options.purge_delay_ms))) {
                region_purge(r);
                purged = true;
            }
    return purged;
}
