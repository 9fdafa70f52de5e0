// hakmem: a general-purpose memory allocator.
//
// The hak_ functions below work in any program that links libhakmem, whether or not it also
// replaces malloc. They behave exactly as the C library's functions of the same name without the
// prefix (glibc's documented behaviour, errno included). A block from one family must be freed by
// the same family: hak_free for hak_malloc, free for malloc (in a build that overrides malloc the
// two families are the same allocator).
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 2

void *hak_malloc(size_t size);
void hak_free(void *ptr);
void *hak_calloc(size_t count, size_t size);
void *hak_realloc(void *ptr, size_t size);
void *hak_reallocarray(void *ptr, size_t count, size_t size);
int hak_posix_memalign(void **out, size_t alignment, size_t size);
void *hak_aligned_alloc(size_t alignment, size_t size);
void *hak_memalign(size_t alignment, size_t size);
void *hak_valloc(size_t size);
void *hak_pvalloc(size_t size);
size_t hak_malloc_usable_size(void *ptr);
// Return free memory to the operating system now. Returns 1 if any memory was released.
int hak_malloc_trim(size_t pad);
// C23's sized frees: free a block, given the size (and alignment) it was allocated with.
void hak_free_sized(void *ptr, size_t size);
void hak_free_aligned_sized(void *ptr, size_t alignment, size_t size);
// The usable size a request of `size` bytes gets (malloc_usable_size of the block malloc(size)
// returns is at least this): the size to ask for when more would cost nothing.
size_t hak_good_size(size_t size);

// Process-wide counters, summed over every thread (live or exited) at the time of the call.
typedef struct {
    uint64_t allocs[4];        // by frontend: [0] tiny (<=1 KiB) [1] mid (<=32 KiB) [2] large [3] huge
    uint64_t frees[4];         // frees of blocks of that frontend, by any thread
    uint64_t remote_frees;     // blocks handed back to a slab another thread owns (remote queue)
    uint64_t refills;          // thread-cache refills from slabs
    uint64_t drains;           // thread-cache drains back to slabs
    uint64_t slabs_claimed;    // slab slots claimed from the shared pool
    uint64_t slabs_released;   // slab slots given back to the shared pool
    uint64_t slabs_abandoned;  // slabs left with live blocks by exiting threads
    uint64_t slabs_adopted;    // abandoned slabs taken over by another thread
    uint64_t segments_mapped;  // 2 MiB segments mapped
    uint64_t segments_purged;  // times an empty segment's pages were returned to the OS
    uint64_t lru_inserted;     // segments that became empty and waited in the lru box
    uint64_t lru_hits;         // of those, reused before being purged
    uint64_t bytes_mapped;     // segment and grow region bytes mapped, plus huge bytes mapped now
    uint64_t huge_live_bytes;  // bytes of huge mappings currently live
    uint64_t huge_cached_bytes; // bytes of freed huge mappings the page_arena keeps for reuse
    uint64_t bytes_purged;     // segment bytes whose pages were given back (MADV_DONTNEED), in total
    uint64_t bytes_unmapped;   // huge mapping bytes unmapped, in total
    uint64_t purger_ticks;     // rounds of the background purger thread (0: it is not running)
    uint64_t thread_cache_bytes; // free blocks held in threads' caches
    uint64_t spare_slab_bytes;   // empty slabs heaps keep back for reuse (one per class at most)
    // Upper bound of resident memory: slab segments (headers, claimed slabs, free slots not yet
    // purged), live huge blocks, cached huge mappings whose pages are kept (hot), and the pages of
    // grow regions below their highest use since the last purge.
    uint64_t committed_bytes;
    // Grow regions (one per thread that grew a block by realloc): blocks realloc moved there, the
    // reallocs that then resized one in place, and frees of such blocks (by any thread).
    uint64_t grow_regions, grow_placed, grow_in_place, grow_frees;
    uint64_t depot_bytes;      // free blocks waiting in the batch depots between threads' caches
    uint64_t idle_collections; // passes of the purger over the slabs of heaps whose thread was idle
    // Since version 0.2. Bytes of live slab blocks (at their size class's size) and of grow
    // regions below their top: the blocks the program holds, but for huge ones (huge_live_bytes).
    uint64_t in_use_bytes;
    uint64_t free_blocks;      // free blocks waiting in threads' caches and the depots
    uint64_t free_slots;       // free slab slots of the segments
    uint64_t free_dirty_bytes; // bytes of free slots not yet purged (resident until the purge)
    uint64_t huge_peak_blocks, huge_peak_bytes; // the most huge blocks (and bytes) live at once
} hak_stats_t;

void hak_stats_get(hak_stats_t *out);
// Print the counters, one line per frontend and box, to stderr (what HAKMEM_STATS=1 prints at exit).
void hak_stats_print(void);
// The same counters as one JSON object ({"tiny": {"allocs": N, ...}, "lru": {...}, ...}), written
// to buf (at most size bytes, NUL-terminated when size > 0). Returns the length of the whole
// object, as snprintf does: more than size - 1 means it was cut. Allocates nothing.
size_t hak_stats_json(char *buf, size_t size);

// What glibc's functions of the same names report, for hakmem's memory: malloc_stats prints
// system and in-use bytes per size range (tiny, mid, large) to stderr; malloc_info writes them
// as XML in glibc's format (options must be 0; returns 0, or -1 with errno = EINVAL).
void hak_malloc_stats(void);
int hak_malloc_info(int options, FILE *fp);

// Write a heap profile of the allocations sampled so far to `path`, in pprof's format (gzipped
// profile.proto: in-use and allocated objects and bytes, by call stack). Profiling is on when
// HAKMEM_PROF_SAMPLE is set (docs/profiling.md). Returns 0, or -1 with errno set (EINVAL:
// profiling is off; or what creating or writing the file gave).
int hak_prof_dump(const char *path);

#ifdef __cplusplus
}
#endif
#endif
