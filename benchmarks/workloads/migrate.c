/*
 * migrate - a small threaded program: objects move between threads, threads are recreated.
 *
 *   migrate <rounds> <threads> <steps-per-thread> <seed>
 *
 * Each round starts <threads> threads together and waits for them. A thread keeps up to 1,024
 * objects of its own and, step after step, either replaces one of them (half the steps), frees
 * one (a quarter), or swaps a new object into a slot of a transfer table of 4,096 slots shared by
 * all threads and all rounds, freeing the object it takes out, which another thread (often of an
 * earlier round) allocated. Sizes: 8 B times a power of two up to 1 KiB, one object in 100 of
 * 8-64 KiB, one in 10,000 of 256 KiB-1 MiB. Objects are written when made and read when freed. A
 * thread frees what it kept before it exits; the transfer table lives on. The figure is the peak
 * resident set of a short program with a few megabytes live, and time; one op = one step.
 */
#include <pthread.h>

#include "workload_common.h"

#define MAX_THREADS 256
#define KEEP 1024
#define TRANSFER 4096

static _Atomic(void *) g_transfer[TRANSFER];
static uint64_t g_steps;

static size_t draw_size(rng_t *r) {
    uint64_t x = rng_next(r);
    if (x % 10000 == 0) return (size_t)rng_range(r, 256 << 10, 1 << 20);
    if (x % 100 == 0) return (size_t)rng_range(r, 8 << 10, 64 << 10);
    return (size_t)8 << rng_range(r, 0, 7);
}

static void *make(rng_t *r) {
    size_t sz = draw_size(r);
    void *p = malloc(sz);
    if (!p) wl_die("malloc(%zu) failed", sz);
    memset(p, 0x5a, sz < 64 ? sz : 64);
    return p;
}

static uint64_t drop(void *p) {
    if (!p) return 0;
    uint64_t c = wl_peek(p);
    free(p);
    return c;
}

typedef struct {
    uint64_t seed, check;
} job_t;

static void *worker(void *arg) {
    job_t *j = arg;
    rng_t rng;
    rng_seed(&rng, j->seed);
    void *kept[KEEP] = {0};
    uint64_t check = 0;
    for (uint64_t s = 0; s < g_steps; s++) {
        uint64_t x = rng_next(&rng);
        unsigned what = (unsigned)(x & 3), slot = (unsigned)((x >> 2) % KEEP);
        if (what < 2) {
            check += drop(kept[slot]);
            kept[slot] = make(&rng);
        } else if (what == 2) {
            check += drop(kept[slot]);
            kept[slot] = NULL;
        } else {
            unsigned t = (unsigned)((x >> 20) % TRANSFER);
            check += drop(atomic_exchange(&g_transfer[t], make(&rng)));
        }
    }
    for (unsigned k = 0; k < KEEP; k++)
        check += drop(kept[k]);
    j->check = check;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) wl_die("usage: %s <rounds> <threads> <steps-per-thread> <seed>", argv[0]);
    uint64_t rounds = wl_count(argv[1], "rounds");
    unsigned nt = (unsigned)wl_count(argv[2], "threads");
    g_steps = wl_count(argv[3], "steps-per-thread");
    uint64_t seed = wl_count(argv[4], "seed");
    if (!nt || nt > MAX_THREADS) wl_die("need 1-%d threads", MAX_THREADS);

    static job_t jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    uint64_t check = 0;
    double t0 = wl_now();
    for (uint64_t r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < nt; i++) {
            jobs[i].seed = seed + r * MAX_THREADS + i;
            if (pthread_create(&th[i], NULL, worker, &jobs[i])) wl_die("pthread_create failed");
        }
        for (unsigned i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            check += jobs[i].check;
        }
    }
    for (unsigned t = 0; t < TRANSFER; t++)
        check += drop(atomic_exchange(&g_transfer[t], NULL));
    double secs = wl_now() - t0;
    double ops = (double)rounds * nt * g_steps;
    printf("migrate: %llu rounds of %u threads, %.0f steps in %.3f s, peak rss %.1f MiB\n",
           (unsigned long long)rounds, nt, ops, secs, wl_peak_rss_kb() / 1024.0);
    wl_report("migrate", "ops=%.0f seconds=%.6f ops_per_sec=%.0f peak_rss_kb=%ld checksum=%llu",
              ops, secs, ops / secs, wl_peak_rss_kb(), (unsigned long long)check);
    return 0;
}
