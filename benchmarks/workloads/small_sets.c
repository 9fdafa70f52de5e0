/*
 * small_sets - small working sets per thread, most blocks tiny: the footprint of a small program.
 *
 *   small_sets <threads> <iterations> <seed>
 *
 * Each of T threads churns its own working set of 1,024 slots: every step frees a random slot's
 * block and puts a new one there, of a size drawn with an inverse-square law between 4 B and
 * 32 KiB (half the blocks are 8 B or less, one in a hundred is above 400 B), and writes every byte
 * of it. A thread holds about 40 KiB live: the figure is peak RSS, what an allocator costs a
 * program that allocates little (per-thread metadata, slabs of every class a thread touched,
 * caches); and time (one op = one step of one thread). The shape of glibc's bench-malloc-thread.
 */
#include <math.h>
#include <pthread.h>

#include "workload_common.h"

#define SLOTS 1024
#define MIN_SIZE 4.0
#define MAX_SIZE 32768.0

static uint64_t g_iters, g_seed;
static spin_barrier_t g_start;

/* Inverse square: the density is proportional to 1/size^2 on [MIN_SIZE, MAX_SIZE]. */
static uint32_t draw_size(rng_t *r) {
    double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double inv = 1.0 / MIN_SIZE - u * (1.0 / MIN_SIZE - 1.0 / MAX_SIZE);
    return (uint32_t)(1.0 / inv);
}

typedef struct {
    unsigned id;
    uint64_t check;
    pthread_t th;
} worker_t;

static void *worker(void *arg) {
    worker_t *w = arg;
    size_t len = wl_table_len(g_iters, (size_t)1 << 16);
    step_t *tab = malloc(len * sizeof *tab);
    void **slots = calloc(SLOTS, sizeof *slots);
    if (!tab || !slots) wl_die("out of memory for the tables");
    rng_t rng;
    rng_seed(&rng, g_seed + 1000003ull * w->id);
    for (size_t i = 0; i < len; i++) {
        tab[i].slot = (uint32_t)(rng_next(&rng) % SLOTS);
        tab[i].size = draw_size(&rng);
    }
    spin_barrier_wait(&g_start);
    uint64_t check = 0;
    for (uint64_t i = 0; i < g_iters; i++) {
        step_t st = tab[i & (len - 1)];
        check += wl_churn_step(slots, st, i);
        memset(slots[st.slot], (int)(i & 0xff), st.size);
    }
    for (unsigned s = 0; s < SLOTS; s++)
        free(slots[s]);
    free(slots);
    free(tab);
    w->check = check;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) wl_die("usage: %s <threads> <iterations> <seed>", argv[0]);
    unsigned nt = (unsigned)wl_count(argv[1], "threads");
    g_iters = wl_count(argv[2], "iterations");
    g_seed = wl_count(argv[3], "seed");
    if (!nt || nt > 256) wl_die("need 1-256 threads");
    worker_t w[256];
    spin_barrier_init(&g_start, nt + 1);
    for (unsigned i = 0; i < nt; i++) {
        w[i].id = i;
        if (pthread_create(&w[i].th, NULL, worker, &w[i])) wl_die("pthread_create failed");
    }
    spin_barrier_wait(&g_start);
    double t0 = wl_now();
    uint64_t check = 0;
    for (unsigned i = 0; i < nt; i++) {
        pthread_join(w[i].th, NULL);
        check += w[i].check;
    }
    double secs = wl_now() - t0;
    double ops = (double)nt * g_iters;
    printf("small_sets: %u threads x %llu steps in %.3f s, peak rss %.1f MiB\n", nt,
           (unsigned long long)g_iters, secs, wl_peak_rss_kb() / 1024.0);
    wl_report("small_sets", "ops=%.0f seconds=%.6f ops_per_sec=%.0f peak_rss_kb=%ld checksum=%llu",
              ops, secs, ops / secs, wl_peak_rss_kb(), (unsigned long long)check);
    return 0;
}
