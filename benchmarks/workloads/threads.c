/*
 * threads - many short-lived threads that allocate and exit.
 *
 *   threads <total-threads> <concurrency> <allocs-per-thread> <seed>
 *
 * Starts <total-threads> threads in waves of <concurrency>. Each thread mallocs <allocs-per-thread>
 * blocks of uniform random size in 16-4096 B, writes their first bytes, frees all but one and
 * exits; the block it keeps is freed by a thread of the next wave, so every thread also frees one
 * block a dead thread allocated. Measures threads per second; peak RSS shows whether memory cached
 * per thread is given back when threads exit.
 */
#include <pthread.h>

#include "workload_common.h"

static uint64_t g_allocs;
static uint32_t *g_sizes;
static size_t g_mask;

typedef struct {
    uint64_t id;
    void *inherit; /* block left by a thread of the previous wave, to free */
    void *leave;   /* block this thread leaves for the next wave */
    uint64_t check;
} job_t;

static void *worker(void *arg) {
    job_t *j = arg;
    uint64_t check = 0;
    if (j->inherit) {
        check += wl_peek(j->inherit);
        free(j->inherit);
    }
    void *local[64];
    uint64_t n = 0, base = j->id * 7;
    for (uint64_t i = 0; i < g_allocs; i++) {
        uint32_t sz = g_sizes[(base + i) & g_mask];
        void *p = malloc(sz);
        if (!p) wl_die("malloc(%u) failed", sz);
        wl_touch(p, sz, i + 1);
        if (n == 64) {
            for (uint64_t k = 0; k < n; k++) {
                check += wl_peek(local[k]);
                free(local[k]);
            }
            n = 0;
        }
        local[n++] = p;
    }
    j->leave = n ? local[--n] : NULL;
    for (uint64_t k = 0; k < n; k++) {
        check += wl_peek(local[k]);
        free(local[k]);
    }
    j->check = check;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s <total-threads> <concurrency> <allocs-per-thread> <seed>\n",
                argv[0]);
        return 2;
    }
    uint64_t total = wl_count(argv[1], "total-threads");
    uint64_t conc = wl_count(argv[2], "concurrency");
    g_allocs = wl_count(argv[3], "allocs-per-thread");
    uint64_t seed = wl_count(argv[4], "seed");
    if (conc == 0 || conc > 1024) wl_die("need 1 <= concurrency <= 1024");

    size_t len = 1 << 16;
    g_sizes = malloc(len * sizeof *g_sizes);
    job_t *jobs = calloc(conc, sizeof *jobs);
    pthread_t *th = calloc(conc, sizeof *th);
    if (!g_sizes || !jobs || !th) wl_die("out of memory");
    g_mask = len - 1;
    rng_t rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < len; i++)
        g_sizes[i] = (uint32_t)rng_range(&rng, 16, 4096);

    uint64_t check = 0, started = 0;
    double t0 = wl_now();
    while (started < total) {
        uint64_t wave = total - started < conc ? total - started : conc;
        for (uint64_t k = 0; k < wave; k++) {
            jobs[k].id = started + k;
            jobs[k].inherit = jobs[k].leave;
            jobs[k].leave = NULL;
            if (pthread_create(&th[k], NULL, worker, &jobs[k]) != 0)
                wl_die("pthread_create failed");
        }
        for (uint64_t k = 0; k < wave; k++) {
            pthread_join(th[k], NULL);
            check += jobs[k].check;
        }
        started += wave;
    }
    double secs = wl_now() - t0;
    for (uint64_t k = 0; k < conc; k++)
        free(jobs[k].leave);
    long peak = wl_peak_rss_kb();
    long rss = wl_rss_kb();
    free(jobs);
    free(th);
    free(g_sizes);

    double rate = (double)total / secs;
    double ops = (double)total * (double)g_allocs / secs;
    printf("threads: %llu threads (%llu at a time) x %llu blocks of 16-4096 B, seed %llu\n",
           (unsigned long long)total, (unsigned long long)conc, (unsigned long long)g_allocs,
           (unsigned long long)seed);
    printf("threads/s: %.0f, ops/s: %.0f (%.3f s)\n", rate, ops, secs);
    wl_report("threads",
              "ops_per_sec=%.0f threads_per_sec=%.0f seconds=%.6f peak_rss_kb=%ld end_rss_kb=%ld "
              "checksum=%llu",
              ops, rate, secs, peak, rss, (unsigned long long)check);
    return 0;
}
