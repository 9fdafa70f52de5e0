// Micro-benchmarks of the public hak_ API: malloc/free pairs per size class, batches, and frees
// made by another thread. Each benchmark reports `hak_allocs`, the allocations hakmem's own
// counters saw per iteration, so a run proves which allocator served it.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "hakmem.h"

namespace {

uint64_t hak_total_allocs() {
    hak_stats_t st;
    hak_stats_get(&st);
    return st.allocs[0] + st.allocs[1] + st.allocs[2] + st.allocs[3];
}

// Allocations counted by hakmem per iteration of the benchmark (or per item when items > 0).
void report_hak_allocs(benchmark::State &state, uint64_t before, double per) {
    double n = static_cast<double>(hak_total_allocs() - before);
    state.counters["hak_allocs"] = benchmark::Counter(per > 0 ? n / per : 0);
}

constexpr int64_t KiB = 1024, MiB = 1024 * 1024;

// ---- one malloc and one free, same size, same thread ---------------------------------------
void BM_MallocFree(benchmark::State &state) {
    const size_t size = static_cast<size_t>(state.range(0));
    void *warm = hak_malloc(size); // first use of a class maps its slab outside the timing
    hak_free(warm);
    uint64_t before = hak_total_allocs();
    for (auto _ : state) {
        void *p = hak_malloc(size);
        benchmark::DoNotOptimize(p);
        hak_free(p);
    }
    state.SetItemsProcessed(state.iterations());
    report_hak_allocs(state, before, static_cast<double>(state.iterations()));
}
BENCHMARK(BM_MallocFree)
    ->ArgName("bytes")
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Arg(128)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1 * KiB) // tiny
    ->Arg(2 * KiB)
    ->Arg(4 * KiB)
    ->Arg(8 * KiB)
    ->Arg(16 * KiB)
    ->Arg(32 * KiB) // mid
    ->Arg(64 * KiB)
    ->Arg(256 * KiB)
    ->Arg(1 * MiB)  // large
    ->Arg(8 * MiB); // huge

// ---- a buffer grown by realloc, ~12% a step, from 16 B to range(0), then freed ------------------
void BM_ReallocGrowChain(benchmark::State &state) {
    const size_t max = static_cast<size_t>(state.range(0));
    uint64_t steps = 0;
    for (auto _ : state) {
        size_t size = 16;
        char *p = static_cast<char *>(hak_malloc(size));
        while (size < max) {
            size += size / 8 + 16;
            p = static_cast<char *>(hak_realloc(p, size));
            p[size - 1] = 1;
            steps++;
        }
        hak_free(p);
    }
    state.SetItemsProcessed(static_cast<int64_t>(steps)); // items are reallocs
    hak_stats_t st;
    hak_stats_get(&st);
    state.counters["grow_in_place"] = benchmark::Counter(static_cast<double>(st.grow_in_place));
}
BENCHMARK(BM_ReallocGrowChain)->ArgName("max")->Arg(4 * KiB)->Arg(256 * KiB)->Arg(1 * MiB);

// Same, writing the first and last byte: what a program does with a fresh block.
void BM_MallocTouchFree(benchmark::State &state) {
    const size_t size = static_cast<size_t>(state.range(0));
    uint64_t before = hak_total_allocs();
    for (auto _ : state) {
        char *p = static_cast<char *>(hak_malloc(size));
        p[0] = 1;
        p[size - 1] = 2;
        benchmark::DoNotOptimize(p);
        hak_free(p);
    }
    state.SetItemsProcessed(state.iterations());
    report_hak_allocs(state, before, static_cast<double>(state.iterations()));
}
BENCHMARK(BM_MallocTouchFree)
    ->ArgName("bytes")
    ->Arg(16)
    ->Arg(256)
    ->Arg(4 * KiB)
    ->Arg(64 * KiB)
    ->Arg(8 * MiB);

// ---- N allocations, then N frees -----------------------------------------------------------
// range(0): block size; range(1): N; range(2): 0 frees in allocation order, 1 in reverse.
void BM_BatchAllocFree(benchmark::State &state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const size_t n = static_cast<size_t>(state.range(1));
    const bool reverse = state.range(2) != 0;
    std::vector<void *> ptrs(n);
    uint64_t before = hak_total_allocs();
    for (auto _ : state) {
        for (size_t i = 0; i < n; i++)
            ptrs[i] = hak_malloc(size);
        benchmark::DoNotOptimize(ptrs.data());
        if (reverse)
            for (size_t i = n; i-- > 0;)
                hak_free(ptrs[i]);
        else
            for (size_t i = 0; i < n; i++)
                hak_free(ptrs[i]);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
    report_hak_allocs(state, before,
                      static_cast<double>(state.iterations() * static_cast<int64_t>(n)));
}
void BatchArgs(benchmark::internal::Benchmark *b) {
    b->ArgNames({"bytes", "n", "reverse"});
    for (int64_t size :
         {int64_t{16}, int64_t{64}, int64_t{256}, 1 * KiB, 4 * KiB, 32 * KiB, 256 * KiB})
        for (int64_t n : {int64_t{100}, int64_t{1000}, int64_t{10000}})
            if (size * n <= 64 * MiB)
                for (int64_t rev : {0, 1})
                    b->Args({size, n, rev});
}
BENCHMARK(BM_BatchAllocFree)->Apply(BatchArgs);

// ---- one thread allocates, another frees ---------------------------------------------------
// A bounded single-producer single-consumer ring of pointers between the two threads.
class PtrRing {
  public:
    static constexpr size_t kCap = 4096; // a power of two
    bool push(void *p) {
        size_t t = tail_.load(std::memory_order_relaxed);
        if (t - head_cache_ == kCap) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (t - head_cache_ == kCap) return false;
        }
        slots_[t & (kCap - 1)] = p;
        tail_.store(t + 1, std::memory_order_release);
        return true;
    }
    // Up to max pointers into out; returns how many.
    size_t pop_some(void **out, size_t max) {
        size_t h = head_.load(std::memory_order_relaxed);
        size_t t = tail_.load(std::memory_order_acquire);
        size_t n = t - h < max ? t - h : max;
        for (size_t i = 0; i < n; i++)
            out[i] = slots_[(h + i) & (kCap - 1)];
        head_.store(h + n, std::memory_order_release);
        return n;
    }

  private:
    alignas(64) std::atomic<size_t> head_{0};
    alignas(64) std::atomic<size_t> tail_{0};
    size_t head_cache_ = 0; // producer's view of head_
    alignas(64) void *slots_[kCap];
};

void BM_CrossThreadFree(benchmark::State &state) {
    const size_t size = static_cast<size_t>(state.range(0));
    auto ring = std::make_unique<PtrRing>();
    std::atomic<bool> done{false};
    std::thread freer([&] {
        void *batch[256];
        for (;;) {
            size_t n = ring->pop_some(batch, 256);
            for (size_t i = 0; i < n; i++)
                hak_free(batch[i]);
            if (n == 0) {
                if (done.load(std::memory_order_acquire)) {
                    // The producer stopped before setting done: one last drain.
                    while ((n = ring->pop_some(batch, 256)) > 0)
                        for (size_t i = 0; i < n; i++)
                            hak_free(batch[i]);
                    return;
                }
                std::this_thread::yield();
            }
        }
    });
    uint64_t before = hak_total_allocs();
    for (auto _ : state) {
        void *p = hak_malloc(size);
        benchmark::DoNotOptimize(p);
        while (!ring->push(p))
            std::this_thread::yield();
    }
    done.store(true, std::memory_order_release);
    freer.join();
    state.SetItemsProcessed(state.iterations());
    report_hak_allocs(state, before, static_cast<double>(state.iterations()));
    hak_stats_t st;
    hak_stats_get(&st);
    state.counters["remote_frees_total"] = static_cast<double>(st.remote_frees);
}
BENCHMARK(BM_CrossThreadFree)
    ->ArgName("bytes")
    ->Arg(16)
    ->Arg(256)
    ->Arg(1 * KiB)
    ->Arg(4 * KiB)
    ->Arg(32 * KiB)
    ->Arg(256 * KiB)
    ->UseRealTime();

} // namespace

BENCHMARK_MAIN();
