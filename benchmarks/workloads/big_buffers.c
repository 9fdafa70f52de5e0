/*
 * big_buffers - a program that keeps a few big buffers and keeps replacing them, filling each new
 * one with zeros (as C++'s make_unique<char[]>(n) or a calloc-less memset does).
 *
 *   big_buffers <steps> <live> <min-size> <max-size> <seed>
 *
 * <live> buffers start allocated and filled. Each step frees a random one and allocates a new one
 * of uniform random size in [min-size, max-size] in its place, then writes zeros over all of it.
 * The cost is mostly the allocator's: whether the new buffer reuses pages a freed one left
 * resident, or maps new ones that fault in at the memset (the kernel zeroes every page it hands
 * out, and the program zeroes it again).
 *
 * Prints ops/s where one op is one step (a free, a malloc and the fill).
 */
#include "workload_common.h"

#include <string.h>

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s <steps> <live> <min-size> <max-size> <seed>\n", argv[0]);
        return 2;
    }
    uint64_t steps = wl_count(argv[1], "steps");
    uint64_t live = wl_count(argv[2], "live");
    uint64_t min_size = wl_size(argv[3], "min-size");
    uint64_t max_size = wl_size(argv[4], "max-size");
    uint64_t seed = wl_count(argv[5], "seed");
    if (live == 0 || live > 4096 || min_size == 0 || max_size < min_size)
        wl_die("need 0 < live <= 4096, 0 < min-size <= max-size");
    void **bufs = calloc(live, sizeof *bufs);
    if (!bufs) wl_die("out of memory for the table");
    rng_t rng;
    rng_seed(&rng, seed);
    for (uint64_t i = 0; i < live; i++) {
        size_t n = (size_t)rng_range(&rng, min_size, max_size);
        if (!(bufs[i] = malloc(n))) wl_die("malloc(%zu) failed", n);
        memset(bufs[i], 0, n);
    }
    uint64_t check = 0;
    double t0 = wl_now();
    for (uint64_t s = 0; s < steps; s++) {
        uint64_t k = rng_next(&rng) % live;
        size_t n = (size_t)rng_range(&rng, min_size, max_size);
        free(bufs[k]);
        if (!(bufs[k] = malloc(n))) wl_die("malloc(%zu) failed", n);
        memset(bufs[k], 0, n);
        check += ((unsigned char *)bufs[k])[n - 1] + n % 251;
    }
    double secs = wl_now() - t0;
    long peak = wl_peak_rss_kb();
    for (uint64_t i = 0; i < live; i++) free(bufs[i]);
    free(bufs);
    double ops = (double)steps / secs;
    printf("big_buffers: %llu steps, %llu live, sizes %llu-%llu B, seed %llu\n",
           (unsigned long long)steps, (unsigned long long)live, (unsigned long long)min_size,
           (unsigned long long)max_size, (unsigned long long)seed);
    printf("ops/s: %.0f (%.3f s)\n", ops, secs);
    wl_report("big_buffers", "ops_per_sec=%.0f seconds=%.6f peak_rss_kb=%ld checksum=%llu", ops, secs,
              peak, (unsigned long long)check);
    return 0;
}
