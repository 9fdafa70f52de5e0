// Benchmark kernels for the boxes, written in C: the boxes' headers are C11 (stdatomic.h,
// _Atomic) and their fast paths are inline functions, so the loops that exercise them are
// compiled as C and the C++ benchmarks call one kernel per batch of operations.
#ifndef HAK_MICRO_BOX_KERNELS_H
#define HAK_MICRO_BOX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- tls_sll -------------------------------------------------------------------------------
typedef struct kern_sll kern_sll_t; // a tls_sll list plus `nblocks` 16-byte blocks

kern_sll_t *kern_sll_new(uint32_t cap, size_t nblocks);
void kern_sll_delete(kern_sll_t *k);
// Push n blocks, then pop n (n <= nblocks). Returns a checksum of the popped addresses.
uintptr_t kern_sll_push_n_pop_n(kern_sll_t *k, uint32_t n);
// n times: push one block and pop it again (a free followed by a malloc of the same class).
uintptr_t kern_sll_pairs(kern_sll_t *k, uint32_t n);
// Fill the list with n blocks, then n/batch times detach `batch` blocks with pop_chain and put
// them back with push_chain (a drain and a refill of the thread cache). Returns blocks moved.
uint32_t kern_sll_chains(kern_sll_t *k, uint32_t n, uint32_t batch);

// ---- thread caches side by side: tls_sll vs unified_cache ---------------------------------
// Both caches over the same blocks: nbatches x batch blocks of `stride` bytes, each batch linked
// into its own NULL-terminated chain (block 0 -> 1 -> ... -> batch-1) as a slab's free list would
// be. A refill kernel takes the next batch each round, cycling through all of them: with one
// batch the blocks stay in L1; with many (a region larger than the caches) every refill meets
// cold blocks, which is where a cache that does not touch its blocks differs.
typedef struct kern_tc kern_tc_t;

kern_tc_t *kern_tc_new(uint32_t batch, size_t nbatches, size_t stride);
void kern_tc_delete(kern_tc_t *k);
// n times: push one block and pop it again (a free followed by a malloc of the same class).
uintptr_t kern_tc_sll_pairs(kern_tc_t *k, uint32_t n);
uintptr_t kern_tc_uc_pairs(kern_tc_t *k, uint32_t n);
// `rounds` times: refill the empty cache with the next batch's chain (push_chain), then pop the
// whole batch. Returns a checksum of the popped addresses.
uintptr_t kern_tc_sll_refill_chain(kern_tc_t *k, uint32_t rounds);
uintptr_t kern_tc_uc_refill_chain(kern_tc_t *k, uint32_t rounds);
// `rounds` times: refill the empty cache with the next batch freshly carved (tls_sll: link the
// blocks, then push_chain; unified_cache: push_range, which stores addresses only), then pop the
// whole batch. Returns a checksum of the popped addresses.
uintptr_t kern_tc_sll_refill_carve(kern_tc_t *k, uint32_t rounds);
uintptr_t kern_tc_uc_refill_carve(kern_tc_t *k, uint32_t rounds);
// As refill_carve, and each popped block is then written (its first word), as a program writes
// the memory malloc gave it: the cache misses a cache without links avoids at refill are paid here.
uintptr_t kern_tc_sll_refill_carve_use(kern_tc_t *k, uint32_t rounds);
uintptr_t kern_tc_uc_refill_carve_use(kern_tc_t *k, uint32_t rounds);

// ---- remote_queue --------------------------------------------------------------------------
typedef struct kern_rq kern_rq_t; // a remote_queue (on its own cache line)

kern_rq_t *kern_rq_new(void);
void kern_rq_delete(kern_rq_t *k);
// Blocks for a producer: n blocks of `stride` bytes (>= 16), cache-line aligned.
void *kern_rq_blocks_new(size_t n, size_t stride);
void kern_rq_blocks_delete(void *blocks);
// Producer: push the n blocks one by one. Returns how many pushes found the queue empty.
size_t kern_rq_produce(kern_rq_t *k, void *blocks, size_t n, size_t stride);
// Consumer: take_all until `expected` blocks were received, walking each chain (as the owner
// does when it frees the blocks). Returns the number of non-empty takes.
size_t kern_rq_consume(kern_rq_t *k, size_t expected);
// One thread: push n blocks, take them all, walk the chain. Returns the chain length.
size_t kern_rq_push_take(kern_rq_t *k, void *blocks, size_t n, size_t stride);

#ifdef __cplusplus
}
#endif
#endif
