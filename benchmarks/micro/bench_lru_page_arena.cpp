// Micro-benchmarks of the lru and page_arena boxes, in isolation from the allocator.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "lru_pa_kernels.h"

namespace {

// ---- lru -----------------------------------------------------------------------------------

// A segment empties (insert) and is reused (remove, a hit): 1024 pairs per iteration, with
// `resident` other segments cached. Items are pairs.
void BM_Lru_InsertRemovePair(benchmark::State &state) {
    kern_lru_t *k = kern_lru_new(static_cast<size_t>(state.range(0)));
    uint64_t hits = 0;
    for (auto _ : state)
        hits += kern_lru_insert_remove(k, 1024);
    state.SetItemsProcessed(state.iterations() * 1024);
    state.counters["hit_rate"] = state.iterations() ? hits / (1024.0 * state.iterations()) : 0;
    kern_lru_delete(k);
}
BENCHMARK(BM_Lru_InsertRemovePair)->ArgName("resident")->Arg(0)->Arg(16);

// lru_expire when nothing is due: the check a slow path makes (no lock). Items are checks.
void BM_Lru_ExpireNothingDue(benchmark::State &state) {
    kern_lru_t *k = kern_lru_new(16);
    for (auto _ : state)
        benchmark::DoNotOptimize(kern_lru_expire_nothing_due(k, 1024));
    state.SetItemsProcessed(state.iterations() * 1024);
    kern_lru_delete(k);
}
BENCHMARK(BM_Lru_ExpireNothingDue);

// ---- page_arena ----------------------------------------------------------------------------
// One iteration: obtain a span of `size` bytes, write one byte per page if `touch` (else only a
// header byte), give it back. Compare, per size and touch: a hot hit, a warm hit (the put
// decommits, the touch faults the pages in again) and an mmap + munmap (the miss path).

void pa_cycle(benchmark::State &state, kern_pa_mode mode) {
    const size_t size = static_cast<size_t>(state.range(0));
    const int touch = static_cast<int>(state.range(1));
    kern_pa_t *k = kern_pa_new(mode, size);
    kern_pa_cycle(k, 1, touch); // the first take misses and maps
    uint64_t hits = 0;
    for (auto _ : state)
        hits += kern_pa_cycle(k, 1, touch);
    state.SetItemsProcessed(state.iterations());
    state.counters["hit_rate"] = state.iterations() ? double(hits) / state.iterations() : 0;
    kern_pa_delete(k);
}

void BM_PageArena_HotHit(benchmark::State &state) {
    pa_cycle(state, KERN_PA_HOT);
}
void BM_PageArena_WarmHit(benchmark::State &state) {
    pa_cycle(state, KERN_PA_WARM);
}
void BM_PageArena_MmapMunmap(benchmark::State &state) {
    pa_cycle(state, KERN_PA_MMAP);
}

void pa_args(benchmark::internal::Benchmark *b) {
    b->ArgNames({"size", "touch"});
    for (int64_t size : {int64_t{2} << 20, int64_t{8} << 20, int64_t{32} << 20})
        for (int64_t touch : {0, 1})
            b->Args({size, touch});
}
BENCHMARK(BM_PageArena_HotHit)->Apply(pa_args);
BENCHMARK(BM_PageArena_WarmHit)->Apply(pa_args);
BENCHMARK(BM_PageArena_MmapMunmap)->Apply(pa_args);

} // namespace
