// Benchmark kernels for the lru and page_arena boxes, in C (the boxes' headers are C11): the C++
// benchmarks in bench_lru_page_arena.cpp call one kernel per batch of operations.
#ifndef HAK_MICRO_LRU_PA_KERNELS_H
#define HAK_MICRO_LRU_PA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- lru -----------------------------------------------------------------------------------
typedef struct kern_lru kern_lru_t; // an lru holding `resident` nodes, plus one spare node

kern_lru_t *kern_lru_new(size_t resident);
void kern_lru_delete(kern_lru_t *k);
// n times: insert the spare node (a segment became empty) and remove it (it is reused: a hit).
// Returns the number of hits.
uint64_t kern_lru_insert_remove(kern_lru_t *k, uint32_t n);
// n times: lru_expire with nothing due (what a slow path pays to check for decay).
uint64_t kern_lru_expire_nothing_due(kern_lru_t *k, uint32_t n);

// ---- page_arena ----------------------------------------------------------------------------
// How a span is obtained and given back, n times, each time touching (writing one byte per page)
// every page of the span when `touch`:
//   hot:  page_arena_take + page_arena_put on an arena that keeps it hot
//   warm: page_arena_take + page_arena_put on an arena without a hot level (a put decommits)
//   mmap: hak_os_reserve_aligned(bytes, 2 MiB) + hak_os_release (what a miss costs)
typedef struct kern_pa kern_pa_t;
enum kern_pa_mode { KERN_PA_HOT, KERN_PA_WARM, KERN_PA_MMAP };

kern_pa_t *kern_pa_new(enum kern_pa_mode mode, size_t bytes);
void kern_pa_delete(kern_pa_t *k);
// Returns how many of the n spans came from the arena (0 for mmap).
uint64_t kern_pa_cycle(kern_pa_t *k, uint32_t n, int touch);

#ifdef __cplusplus
}
#endif
#endif
