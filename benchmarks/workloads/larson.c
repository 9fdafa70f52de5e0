/*
 * larson - the Larson-Krishnan server simulation, with a fixed amount of work.
 *
 *   larson <threads> <rounds> <steps-per-round> <blocks-per-thread> <min-size> <max-size> <seed>
 *
 * T threads each own an array of <blocks-per-thread> blocks of uniform random size in
 * [min-size, max-size] (the classic setting is 8-1000 B). In each round every thread replaces
 * <steps-per-round> random entries of the array it holds (free the old block, malloc a new one,
 * write its first bytes). At the end of each round the arrays move on: in round r thread i works on
 * the array thread (i + r) mod T started with, so most blocks a thread frees were allocated by
 * another thread, as in a server where one thread allocates a request's memory and another frees
 * it.
 *
 * Entries and sizes are drawn into per-thread tables before the timed part. Prints ops/s where one
 * op is one replacement (a free and a malloc), summed over all threads.
 */
#include <pthread.h>

#include "workload_common.h"

static unsigned g_threads;
static uint64_t g_rounds, g_steps, g_blocks, g_min, g_max, g_seed;
static void ***g_arrays; /* g_arrays[a][slot] */
static spin_barrier_t g_start, g_round;

typedef struct {
    unsigned id;
    step_t *tab;
    size_t mask;
    uint64_t check;
    pthread_t th;
} worker_t;

static void *worker(void *arg) {
    worker_t *w = arg;
    /* Fill this thread's own array (not timed). */
    rng_t rng;
    rng_seed(&rng, g_seed * 7919 + w->id + 1);
    void **own = g_arrays[w->id];
    for (uint64_t s = 0; s < g_blocks; s++) {
        size_t sz = (size_t)rng_range(&rng, g_min, g_max);
        own[s] = malloc(sz);
        if (!own[s]) wl_die("malloc(%zu) failed", sz);
        wl_touch(own[s], sz, s);
    }

    spin_barrier_wait(&g_start);
    uint64_t check = 0, k = 0;
    for (uint64_t r = 0; r < g_rounds; r++) {
        void **arr = g_arrays[(w->id + r) % g_threads];
        for (uint64_t i = 0; i < g_steps; i++, k++) {
            check += wl_churn_step(arr, w->tab[k & w->mask], k);
        }
        spin_barrier_wait(&g_round);
    }
    w->check = check;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr,
                "usage: %s <threads> <rounds> <steps-per-round> <blocks-per-thread> <min-size> "
                "<max-size> "
                "<seed>\n",
                argv[0]);
        return 2;
    }
    g_threads = (unsigned)wl_count(argv[1], "threads");
    g_rounds = wl_count(argv[2], "rounds");
    g_steps = wl_count(argv[3], "steps-per-round");
    g_blocks = wl_count(argv[4], "blocks-per-thread");
    g_min = wl_size(argv[5], "min-size");
    g_max = wl_size(argv[6], "max-size");
    g_seed = wl_count(argv[7], "seed");
    if (g_threads == 0 || g_threads > 4096 || g_blocks == 0 || g_blocks > UINT32_MAX ||
        g_min == 0 || g_max < g_min || g_max > UINT32_MAX)
        wl_die("need 0 < threads <= 4096, 0 < blocks, 0 < min-size <= max-size");

    g_arrays = calloc(g_threads, sizeof *g_arrays);
    worker_t *ws = calloc(g_threads, sizeof *ws);
    if (!g_arrays || !ws) wl_die("out of memory");
    uint64_t per_thread = g_rounds * g_steps;
    size_t tab_len = wl_table_len(per_thread, (size_t)1 << 16);
    for (unsigned t = 0; t < g_threads; t++) {
        g_arrays[t] = calloc(g_blocks, sizeof(void *));
        ws[t].id = t;
        ws[t].mask = tab_len - 1;
        ws[t].tab = malloc(tab_len * sizeof(step_t));
        if (!g_arrays[t] || !ws[t].tab) wl_die("out of memory");
        rng_t rng;
        rng_seed(&rng, g_seed + 1000003ull * t);
        for (size_t i = 0; i < tab_len; i++) {
            ws[t].tab[i].slot = (uint32_t)(rng_next(&rng) % g_blocks);
            ws[t].tab[i].size = (uint32_t)rng_range(&rng, g_min, g_max);
        }
    }

    spin_barrier_init(&g_start, g_threads + 1);
    spin_barrier_init(&g_round, g_threads);
    for (unsigned t = 0; t < g_threads; t++) {
        if (pthread_create(&ws[t].th, NULL, worker, &ws[t]) != 0) wl_die("pthread_create failed");
    }
    spin_barrier_wait(&g_start);
    double t0 = wl_now();
    uint64_t check = 0;
    for (unsigned t = 0; t < g_threads; t++) {
        pthread_join(ws[t].th, NULL);
        check += ws[t].check;
    }
    double secs = wl_now() - t0;

    long peak = wl_peak_rss_kb();
    for (unsigned t = 0; t < g_threads; t++) {
        for (uint64_t s = 0; s < g_blocks; s++)
            free(g_arrays[t][s]);
        free(g_arrays[t]);
        free(ws[t].tab);
    }
    free(g_arrays);
    free(ws);

    double total = (double)g_threads * (double)per_thread;
    double ops = total / secs;
    printf("larson: %u threads, %llu rounds x %llu steps, %llu blocks/thread, sizes %llu-%llu B, "
           "seed %llu\n",
           g_threads, (unsigned long long)g_rounds, (unsigned long long)g_steps,
           (unsigned long long)g_blocks, (unsigned long long)g_min, (unsigned long long)g_max,
           (unsigned long long)g_seed);
    printf("ops/s: %.0f (%.3f s)\n", ops, secs);
    wl_report("larson", "ops_per_sec=%.0f seconds=%.6f threads=%u peak_rss_kb=%ld checksum=%llu",
              ops, secs, g_threads, peak, (unsigned long long)check);
    return 0;
}
