// The store of sampled blocks of slab sizes: 2 MiB regions, each of blocks of one size after a
// 64 KiB header, registered in the segmap as SEGMAP_SAMPLED. A block's address gives its region
// (segment_header_of), its index, and so its stack. A region whose last block was freed keeps
// its pages for the next samples until the maintenance pass finds it empty for
// HAKMEM_PURGE_DELAY_MS (at once on malloc_trim): then its pages go back and it is carved afresh.
// Giving them back at every emptying made a program with few live samples of a size pay a purge
// and its page faults on most samples (large blocks: 100x slower).
//
// The regions are split in shards, each with its lock, and a thread takes its samples' blocks from
// a shard of its own (threads share one only beyond STORE_SHARDS): one lock and one set of free
// lists for every thread made two threads sampling the same sizes 5x slower a sample than one
// (their lines and the lock moved between cores at every sample). A block freed by another thread
// goes back to its region's shard, under that shard's lock.
#include "prof_internal.h"

#include "segmap.h"

#include <string.h>

#define STORE_HEADER (64 * HAK_KiB)

typedef struct store_region {
    uint32_t block_size, capacity, carved, live;
    unsigned entry, shard;       // its block size's entry in sizes[], its shard
    uint64_t empty_since_ms;     // when live fell to 0 (meaningful while live is 0 and carved > 0)
    void *free;                  // freed blocks, linked through their first word
    struct store_region *next;   // the next region of the same size
    struct store_region *next_partial; // the next of its size with room (when in_partial)
    bool in_partial;
    st_stack_t **stacks;         // the live blocks' stacks: capacity of them, mapped apart
    size_t stacks_bytes;
    uint64_t live_bits[];        // capacity bits: which blocks are handed out
} store_region_t;

// The block sizes seen: a sampled allocation has one of the slab classes' sizes. An entry is
// written once, before nsizes counts it.
#define STORE_SIZES 128
static struct {
    uint32_t size;
    prof_weight_t weight; // what a sample of this size stands for
} sizes[STORE_SIZES];
static _Atomic unsigned nsizes;
static hak_lock_t sizes_lock = HAK_LOCK_INIT; // adding an entry

#define STORE_SHARDS 8
typedef struct {
    hak_lock_t lock; // everything below, and its regions
    struct {
        store_region_t *regions; // all of them
        store_region_t *partial; // those with a free or uncarved block: an allocation takes the first
    } of_size[STORE_SIZES];
} __attribute__((aligned(HAK_CACHE_LINE))) store_shard_t;
static store_shard_t shards[STORE_SHARDS];

static _Atomic unsigned shards_handed_out;
static __thread int my_shard = -1;

static unsigned thread_shard(void) {
    if (my_shard < 0) // relaxed: a ticket, nothing else is published with it
        my_shard = (int)(atomic_fetch_add_explicit(&shards_handed_out, 1, memory_order_relaxed) % STORE_SHARDS);
    return (unsigned)my_shard;
}

void prof_store_init(void) {
    hak_fork_protect(&sizes_lock);
    for (unsigned i = 0; i < STORE_SHARDS; i++) {
        shards[i].lock = (hak_lock_t)HAK_LOCK_INIT;
        hak_fork_protect(&shards[i].lock);
    }
}

static int find_entry(size_t size, unsigned n) {
    for (unsigned k = 0; k < n; k++)
        if (sizes[k].size == size) return (int)k;
    return -1;
}

// The entry of a block size, added if new (-1: every entry taken).
static int size_entry(size_t size) {
    // acquire: pairs with the release below (the entries counted are seen written).
    int k = find_entry(size, atomic_load_explicit(&nsizes, memory_order_acquire));
    if (k >= 0) return k;
    hak_lock(&sizes_lock);
    unsigned n = atomic_load_explicit(&nsizes, memory_order_relaxed); // written under the lock
    if ((k = find_entry(size, n)) < 0 && n < STORE_SIZES) {
        sizes[n].size = (uint32_t)size;
        sizes[n].weight = prof_weight(size);
        k = (int)n;
        atomic_store_explicit(&nsizes, n + 1, memory_order_release);
    }
    hak_unlock(&sizes_lock);
    return k;
}

static store_region_t *region_new(uint32_t size, unsigned entry, unsigned shard) {
    uint32_t capacity = (uint32_t)((HAK_SEG_SIZE - STORE_HEADER) / size);
    _Static_assert(sizeof(store_region_t) + (HAK_SEG_SIZE - STORE_HEADER) / 16 / 8 <= STORE_HEADER,
                   "the header holds a bit for every block");
    store_region_t *r = hak_os_reserve_aligned(HAK_SEG_SIZE, HAK_SEG_SIZE);
    if (r == NULL) return NULL;
    size_t stacks_bytes = hak_page_round((size_t)capacity * sizeof(st_stack_t *));
    r->stacks = hak_os_reserve_aligned(stacks_bytes, hak_os_page_size());
    if (r->stacks == NULL) {
        hak_os_release(r, HAK_SEG_SIZE);
        return NULL;
    }
    r->stacks_bytes = stacks_bytes;
    r->entry = entry;
    r->shard = shard;
    r->block_size = size;
    r->capacity = capacity;
    if (!segmap_set((uintptr_t)r, SEGMAP_SAMPLED)) {
        hak_os_release(r->stacks, stacks_bytes);
        hak_os_release(r, HAK_SEG_SIZE);
        return NULL;
    }
    hak_count(&prof_stats.store_regions, 1);
    return r;
}

static char *block_at(store_region_t *r, uint32_t i) { return (char *)r + STORE_HEADER + (size_t)i * r->block_size; }

// Under the shard's lock.
static void *take_block(unsigned shard, unsigned k, st_stack_t *stack) {
    store_shard_t *sh = &shards[shard];
    store_region_t *r = sh->of_size[k].partial;
    if (r == NULL) {
        if ((r = region_new(sizes[k].size, k, shard)) == NULL) return NULL;
        r->next = sh->of_size[k].regions;
        sh->of_size[k].regions = r;
        r->in_partial = true;
        sh->of_size[k].partial = r;
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
    r->stacks[i] = stack;
    r->live++;
    if (r->free == NULL && r->carved == r->capacity) { // full: off the partial list (its head)
        sh->of_size[k].partial = r->next_partial;
        r->in_partial = false;
    }
    return b;
}

void *prof_store_alloc(size_t size, st_stack_t *stack, prof_weight_t *weight) {
    int k = size_entry(size);
    if (k < 0) return NULL;
    unsigned shard = thread_shard();
    hak_lock(&shards[shard].lock);
    void *b = take_block(shard, (unsigned)k, stack);
    hak_unlock(&shards[shard].lock);
    *weight = sizes[k].weight;
    return b;
}

// The region and index of a live block, or a report and abort. Under the region's shard's lock.
static store_region_t *live_block(store_region_t *r, void *p, uint32_t *index, const char *caller) {
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

st_stack_t *prof_store_free(void *p, const char *caller, prof_weight_t *weight) {
    store_region_t *r = (store_region_t *)segment_header_of(p);
    // Written before the region was registered in the segmap.
    unsigned k = r->entry;
    store_shard_t *sh = &shards[r->shard];
    hak_lock(&sh->lock);
    uint32_t i;
    live_block(r, p, &i, caller);
    r->live_bits[i / 64] &= ~((uint64_t)1 << (i % 64));
    st_stack_t *stack = r->stacks[i];
    *(void **)p = r->free;
    r->free = p;
    if (!r->in_partial) { // it has room again
        r->next_partial = sh->of_size[k].partial;
        sh->of_size[k].partial = r;
        r->in_partial = true;
    }
    if (--r->live == 0) r->empty_since_ms = hak_clock_ms();
    hak_unlock(&sh->lock);
    *weight = sizes[k].weight;
    return stack;
}

size_t prof_store_usable(void *p, const char *caller) {
    store_region_t *r = (store_region_t *)segment_header_of(p);
    hak_lock(&shards[r->shard].lock);
    uint32_t i;
    size_t size = live_block(r, p, &i, caller)->block_size;
    hak_unlock(&shards[r->shard].lock);
    return size;
}

// Purge a region with no live block: its blocks' pages and its stacks' go back, and it is carved
// afresh (no freed block stays in a list meanwhile). Under its shard's lock.
static void region_purge(store_region_t *r) {
    size_t used = hak_page_round((size_t)r->carved * r->block_size);
    hak_os_decommit(block_at(r, 0), used);
    hak_os_decommit(r->stacks, r->stacks_bytes);
    r->free = NULL;
    r->carved = 0;
}

bool prof_store_purge(bool all) {
    uint64_t now = hak_clock_ms();
    bool purged = false;
    unsigned n = atomic_load_explicit(&nsizes, memory_order_acquire); // as in size_entry
    for (unsigned i = 0; i < STORE_SHARDS; i++) {
        hak_lock(&shards[i].lock);
        for (unsigned k = 0; k < n; k++)
            for (store_region_t *r = shards[i].of_size[k].regions; r != NULL; r = r->next)
                if (r->live == 0 && r->carved > 0 &&
                    (all || (hak_options.purge_delay_ms >= 0 &&
                             now - r->empty_since_ms >= (uint64_t)hak_options.purge_delay_ms))) {
                    region_purge(r);
                    purged = true;
                }
        hak_unlock(&shards[i].lock);
    }
    return purged;
}
