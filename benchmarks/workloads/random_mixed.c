/*
 * random_mixed - single-thread random churn over a working set of slots.
 *
 *   random_mixed <iterations> <working-set> <min-size> <max-size> <seed>
 *
 * A working set of <working-set> slots starts full. Each step picks a random slot, frees the block
 * in it (if any) and, three times out of four, puts a new block of uniform random size in
 * [min-size, max-size] there; otherwise it leaves the slot empty. Each new block has its first
 * bytes written. The slot and size of every step are drawn into a table before the timed loop, so
 * the loop costs one table load per step besides the allocator's own work (two modulo operations
 * per step would cost about as much as a good malloc+free pair and hide the differences).
 *
 * Prints ops/s where one op is one step (a free, a malloc, or both).
 */
#include "workload_common.h"

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s <iterations> <working-set> <min-size> <max-size> <seed>\n",
                argv[0]);
        return 2;
    }
    uint64_t iters = wl_count(argv[1], "iterations");
    uint64_t ws = wl_count(argv[2], "working-set");
    uint64_t min_size = wl_size(argv[3], "min-size");
    uint64_t max_size = wl_size(argv[4], "max-size");
    uint64_t seed = wl_count(argv[5], "seed");
    if (ws == 0 || ws > UINT32_MAX || min_size == 0 || max_size < min_size || max_size > UINT32_MAX)
        wl_die("need 0 < working-set, 0 < min-size <= max-size < 4 GiB");

    /* The table of steps: a power of two no larger than needed, at most 256K entries (2 MiB); the
     * loop walks it cyclically. */
    size_t tab_len = wl_table_len(iters, (size_t)1 << 18);
    step_t *tab = malloc(tab_len * sizeof *tab);
    void **slots = calloc(ws, sizeof *slots);
    if (!tab || !slots) wl_die("out of memory for the tables");

    rng_t rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < tab_len; i++) {
        tab[i].slot = (uint32_t)(rng_next(&rng) % ws);
        uint64_t r = rng_next(&rng);
        tab[i].size =
            (r & 3) == 0 ? 0 : (uint32_t)(min_size + (r >> 2) % (max_size - min_size + 1));
    }

    /* Fill the working set (not timed). */
    for (uint64_t s = 0; s < ws; s++) {
        size_t sz = (size_t)rng_range(&rng, min_size, max_size);
        slots[s] = malloc(sz);
        if (!slots[s]) wl_die("malloc(%zu) failed", sz);
        wl_touch(slots[s], sz, s);
    }

    uint64_t check = 0;
    const size_t mask = tab_len - 1;
    double t0 = wl_now();
    for (uint64_t i = 0; i < iters; i++) {
        check += wl_churn_step(slots, tab[i & mask], i);
    }
    double secs = wl_now() - t0;

    long peak = wl_peak_rss_kb();
    for (uint64_t s = 0; s < ws; s++)
        free(slots[s]);
    free(slots);
    free(tab);

    double ops = (double)iters / secs;
    printf("random_mixed: %llu steps, working set %llu, sizes %llu-%llu B, seed %llu\n",
           (unsigned long long)iters, (unsigned long long)ws, (unsigned long long)min_size,
           (unsigned long long)max_size, (unsigned long long)seed);
    printf("ops/s: %.0f (%.3f s)\n", ops, secs);
    wl_report("random_mixed", "ops_per_sec=%.0f seconds=%.6f peak_rss_kb=%ld checksum=%llu", ops,
              secs, peak, (unsigned long long)check);
    return 0;
}
