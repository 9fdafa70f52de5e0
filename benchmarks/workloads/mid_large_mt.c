/*
 * mid_large_mt - multi-thread private churn (by default of 8-32 KiB blocks).
 *
 *   mid_large_mt <threads> <iterations> <working-set> <seed> [<min-size> <max-size>]
 *
 * Each of T threads runs the random_mixed loop on its own working set of <working-set> slots: every
 * step picks a random slot, frees its block (if any) and, three times out of four, puts a new block
 * of uniform random size in [min-size, max-size] (default 8K-32K) there, writing its first bytes.
 * No block crosses threads. Slots and sizes are drawn into per-thread tables before the timed part.
 *
 * Prints ops/s where one op is one step of one thread, summed over all threads.
 */
#include <pthread.h>

#include "workload_common.h"

static uint64_t g_iters, g_ws, g_min = 8192, g_max = 32768, g_seed;
static spin_barrier_t g_start;

typedef struct {
    unsigned id;
    uint64_t check;
    pthread_t th;
} worker_t;

static void *worker(void *arg) {
    worker_t *w = arg;
    size_t tab_len = wl_table_len(g_iters, (size_t)1 << 16);
    step_t *tab = malloc(tab_len * sizeof *tab);
    void **slots = calloc(g_ws, sizeof *slots);
    if (!tab || !slots) wl_die("out of memory for the tables");
    rng_t rng;
    rng_seed(&rng, g_seed + 1000003ull * w->id);
    for (size_t i = 0; i < tab_len; i++) {
        tab[i].slot = (uint32_t)(rng_next(&rng) % g_ws);
        uint64_t r = rng_next(&rng);
        tab[i].size = (r & 3) == 0 ? 0 : (uint32_t)(g_min + (r >> 2) % (g_max - g_min + 1));
    }
    for (uint64_t s = 0; s < g_ws; s++) {
        size_t sz = (size_t)rng_range(&rng, g_min, g_max);
        slots[s] = malloc(sz);
        if (!slots[s]) wl_die("malloc(%zu) failed", sz);
        wl_touch(slots[s], sz, s);
    }

    spin_barrier_wait(&g_start);
    uint64_t check = 0;
    const size_t mask = tab_len - 1;
    for (uint64_t i = 0; i < g_iters; i++) {
        check += wl_churn_step(slots, tab[i & mask], i);
    }
    /* The timed part ends when the last thread finishes its loop; freeing the rest is included
     * but is small next to the loop (ws blocks against iterations steps). */
    for (uint64_t s = 0; s < g_ws; s++)
        free(slots[s]);
    free(slots);
    free(tab);
    w->check = check;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 7) {
        fprintf(stderr,
                "usage: %s <threads> <iterations> <working-set> <seed> [<min-size> <max-size>]\n",
                argv[0]);
        return 2;
    }
    unsigned threads = (unsigned)wl_count(argv[1], "threads");
    g_iters = wl_count(argv[2], "iterations");
    g_ws = wl_count(argv[3], "working-set");
    g_seed = wl_count(argv[4], "seed");
    if (argc == 7) {
        g_min = wl_size(argv[5], "min-size");
        g_max = wl_size(argv[6], "max-size");
    }
    if (threads == 0 || threads > 4096 || g_ws == 0 || g_ws > UINT32_MAX || g_min == 0 ||
        g_max < g_min || g_max > UINT32_MAX)
        wl_die("need 0 < threads <= 4096, 0 < working-set, 0 < min-size <= max-size");

    worker_t *ws = calloc(threads, sizeof *ws);
    if (!ws) wl_die("out of memory");
    spin_barrier_init(&g_start, threads + 1);
    for (unsigned t = 0; t < threads; t++) {
        ws[t].id = t;
        if (pthread_create(&ws[t].th, NULL, worker, &ws[t]) != 0) wl_die("pthread_create failed");
    }
    spin_barrier_wait(&g_start);
    double t0 = wl_now();
    uint64_t check = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(ws[t].th, NULL);
        check += ws[t].check;
    }
    double secs = wl_now() - t0;
    long peak = wl_peak_rss_kb();
    free(ws);

    double ops = (double)threads * (double)g_iters / secs;
    printf(
        "mid_large_mt: %u threads x %llu steps, working set %llu, sizes %llu-%llu B, seed %llu\n",
        threads, (unsigned long long)g_iters, (unsigned long long)g_ws, (unsigned long long)g_min,
        (unsigned long long)g_max, (unsigned long long)g_seed);
    printf("ops/s: %.0f (%.3f s)\n", ops, secs);
    wl_report("mid_large_mt",
              "ops_per_sec=%.0f seconds=%.6f threads=%u peak_rss_kb=%ld checksum=%llu", ops, secs,
              threads, peak, (unsigned long long)check);
    return 0;
}
