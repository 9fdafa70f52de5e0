// Micro-benchmarks of single boxes, in isolation from the allocator: tls_sll, unified_cache and
// remote_queue.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "box_kernels.h"

namespace {

// ---- tls_sll -------------------------------------------------------------------------------

// Push N blocks, then pop N (a thread cache filling up and emptying).
void BM_TlsSll_PushNPopN(benchmark::State &state) {
    const uint32_t n = static_cast<uint32_t>(state.range(0));
    kern_sll_t *k = kern_sll_new(n + 1, n);
    for (auto _ : state)
        benchmark::DoNotOptimize(kern_sll_push_n_pop_n(k, n));
    state.SetItemsProcessed(state.iterations() * n); // one push + one pop per item
    kern_sll_delete(k);
}
BENCHMARK(BM_TlsSll_PushNPopN)->ArgName("n")->Arg(16)->Arg(128)->Arg(1024);

// Push one block and pop it again (free then malloc of one class), 1024 pairs per iteration.
void BM_TlsSll_PushPopPair(benchmark::State &state) {
    kern_sll_t *k = kern_sll_new(64, 1);
    for (auto _ : state)
        benchmark::DoNotOptimize(kern_sll_pairs(k, 1024));
    state.SetItemsProcessed(state.iterations() * 1024);
    kern_sll_delete(k);
}
BENCHMARK(BM_TlsSll_PushPopPair);

// Drain and refill batches with pop_chain / push_chain on a list of 1024 blocks.
void BM_TlsSll_Chains(benchmark::State &state) {
    const uint32_t batch = static_cast<uint32_t>(state.range(0));
    kern_sll_t *k = kern_sll_new(4096, 1024);
    for (auto _ : state)
        benchmark::DoNotOptimize(kern_sll_chains(k, 1024, batch));
    state.SetItemsProcessed(state.iterations() * 1024);
    kern_sll_delete(k);
}
BENCHMARK(BM_TlsSll_Chains)->ArgName("batch")->Arg(8)->Arg(32)->Arg(64);

// ---- thread caches side by side: tls_sll vs unified_cache ---------------------------------
// Same blocks, same loops; the only difference is the box. Items are blocks handed out by a pop.

using tc_kernel = uintptr_t (*)(kern_tc_t *, uint32_t);

// Push one block and pop it again (free then malloc of one class), 1024 pairs per iteration.
void tc_pairs(benchmark::State &state, tc_kernel kernel) {
    kern_tc_t *k = kern_tc_new(64, 1, 64);
    for (auto _ : state)
        benchmark::DoNotOptimize(kernel(k, 1024));
    state.SetItemsProcessed(state.iterations() * 1024);
    kern_tc_delete(k);
}

// Refill an empty cache with a batch of 64 blocks, then pop all 64 (16 rounds per iteration).
// Arg: the number of batches cycled through. 1: the blocks stay hot in L1; 8192 (64-byte blocks,
// 32 MiB): each refill meets blocks that are no longer in any cache.
void tc_refill(benchmark::State &state, tc_kernel kernel) {
    constexpr uint32_t kBatch = 64, kRounds = 16;
    kern_tc_t *k = kern_tc_new(kBatch, static_cast<size_t>(state.range(0)), 64);
    if (k == nullptr) {
        state.SkipWithError("out of memory");
        return;
    }
    for (auto _ : state)
        benchmark::DoNotOptimize(kernel(k, kRounds));
    state.SetItemsProcessed(state.iterations() * kBatch * kRounds);
    kern_tc_delete(k);
}

BENCHMARK_CAPTURE(tc_pairs, TlsSll_PushPopPair, kern_tc_sll_pairs);
BENCHMARK_CAPTURE(tc_pairs, UnifiedCache_PushPopPair, kern_tc_uc_pairs);
BENCHMARK_CAPTURE(tc_refill, TlsSll_Refill64Chain, kern_tc_sll_refill_chain)
    ->ArgName("batches")
    ->Arg(1)
    ->Arg(8192);
BENCHMARK_CAPTURE(tc_refill, UnifiedCache_Refill64Chain, kern_tc_uc_refill_chain)
    ->ArgName("batches")
    ->Arg(1)
    ->Arg(8192);
BENCHMARK_CAPTURE(tc_refill, TlsSll_Refill64Carve, kern_tc_sll_refill_carve)
    ->ArgName("batches")
    ->Arg(1)
    ->Arg(8192);
BENCHMARK_CAPTURE(tc_refill, UnifiedCache_Refill64Carve, kern_tc_uc_refill_carve)
    ->ArgName("batches")
    ->Arg(1)
    ->Arg(8192);
BENCHMARK_CAPTURE(tc_refill, TlsSll_Refill64CarveUse, kern_tc_sll_refill_carve_use)
    ->ArgName("batches")
    ->Arg(1)
    ->Arg(8192);
BENCHMARK_CAPTURE(tc_refill, UnifiedCache_Refill64CarveUse, kern_tc_uc_refill_carve_use)
    ->ArgName("batches")
    ->Arg(1)
    ->Arg(8192);

// ---- remote_queue --------------------------------------------------------------------------

// One thread: push N blocks, take them all at once, walk the chain.
void BM_RemoteQueue_PushTakeAll(benchmark::State &state) {
    const size_t n = static_cast<size_t>(state.range(0));
    kern_rq_t *q = kern_rq_new();
    void *blocks = kern_rq_blocks_new(n, 64);
    for (auto _ : state)
        benchmark::DoNotOptimize(kern_rq_push_take(q, blocks, n, 64));
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
    kern_rq_blocks_delete(blocks);
    kern_rq_delete(q);
}
BENCHMARK(BM_RemoteQueue_PushTakeAll)->ArgName("n")->Arg(1)->Arg(64)->Arg(4096);

// P producer threads each push 2^16 blocks while the consumer (the benchmark thread) takes all
// until it has received every block. Items are blocks; time is wall-clock time of a round.
void BM_RemoteQueue_MPSC(benchmark::State &state) {
    const int producers = static_cast<int>(state.range(0));
    constexpr size_t kPerProducer = size_t{1} << 16, kStride = 64;
    kern_rq_t *q = kern_rq_new();
    std::vector<void *> blocks(producers);
    for (auto &b : blocks)
        b = kern_rq_blocks_new(kPerProducer, kStride);
    size_t takes = 0, empties = 0;
    for (auto _ : state) {
        std::vector<std::thread> threads;
        std::vector<size_t> e(producers);
        for (int t = 0; t < producers; t++)
            threads.emplace_back(
                [&, t] { e[t] = kern_rq_produce(q, blocks[t], kPerProducer, kStride); });
        takes += kern_rq_consume(q, kPerProducer * producers);
        for (auto &th : threads)
            th.join();
        for (size_t x : e)
            empties += x;
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kPerProducer) * producers);
    // Blocks per take_all: how much the consumer batches (higher is cheaper per block).
    state.counters["blocks_per_take"] =
        takes ? static_cast<double>(state.iterations()) * kPerProducer * producers / takes : 0;
    state.counters["empty_pushes_eq_takes"] = empties == takes ? 1 : 0; // sanity: must be 1
    for (auto b : blocks)
        kern_rq_blocks_delete(b);
    kern_rq_delete(q);
}
BENCHMARK(BM_RemoteQueue_MPSC)
    ->ArgName("producers")
    ->DenseRange(1, 4)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

} // namespace
