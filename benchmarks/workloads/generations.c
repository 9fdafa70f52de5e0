/*
 * generations - generations of threads, each inheriting half of the previous one's blocks.
 *
 *   generations <generations> <threads> <bytes-per-thread> <seed>
 *
 * Each generation starts <threads> threads together. Thread i frees the blocks thread i of the
 * previous generation left it, then mallocs blocks of uniform random size in 16 B-5 KiB (writing
 * their first bytes) until it holds <bytes-per-thread>, frees every other one and exits, leaving
 * the rest to thread i of the next generation. After the last generation the main thread frees
 * what is left and reads the resident set at once (end_rss_kb), and again one second later
 * (rss_after_free_kb): what an allocator still holds for threads that are gone. One op = one block
 * allocated and freed.
 */
#include <pthread.h>

#include "workload_common.h"

#define MAX_THREADS 256
#define MIN_SIZE 16
#define MAX_SIZE 5120

typedef struct {
    void **blocks;
    uint64_t count;
} leftovers_t;

typedef struct {
    uint64_t seed;
    leftovers_t inherit, leave;
    uint64_t allocs, check;
} job_t;

static uint64_t g_bytes;

static uint64_t free_all(leftovers_t *l) {
    uint64_t check = 0;
    for (uint64_t k = 0; k < l->count; k++) {
        check += wl_peek(l->blocks[k]);
        free(l->blocks[k]);
    }
    free(l->blocks);
    l->blocks = NULL;
    l->count = 0;
    return check;
}

static void *worker(void *arg) {
    job_t *j = arg;
    uint64_t check = free_all(&j->inherit);
    rng_t rng;
    rng_seed(&rng, j->seed);
    // Room for twice the expected count (the mean size is about 2.5 KiB), so that the array of
    // pointers stays a small block and not a mapping of its own.
    uint64_t cap = 2 * g_bytes / ((MIN_SIZE + MAX_SIZE) / 2) + 16, n = 0, held = 0;
    void **mine = malloc(cap * sizeof *mine);
    if (!mine) wl_die("out of memory");
    while (held < g_bytes && n < cap) {
        size_t sz = (size_t)rng_range(&rng, MIN_SIZE, MAX_SIZE);
        if (!(mine[n] = malloc(sz))) wl_die("malloc(%zu) failed", sz);
        wl_touch(mine[n], sz, n + 1);
        n++;
        held += sz;
    }
    uint64_t kept = 0;
    for (uint64_t k = 0; k < n; k++) {
        if (k & 1) {
            check += wl_peek(mine[k]);
            free(mine[k]);
        } else {
            mine[kept++] = mine[k];
        }
    }
    j->leave = (leftovers_t){mine, kept};
    j->allocs = n;
    j->check = check;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5)
        wl_die("usage: %s <generations> <threads> <bytes-per-thread> <seed>", argv[0]);
    uint64_t gens = wl_count(argv[1], "generations");
    unsigned nt = (unsigned)wl_count(argv[2], "threads");
    g_bytes = wl_size(argv[3], "bytes-per-thread");
    uint64_t seed = wl_count(argv[4], "seed");
    if (!nt || nt > MAX_THREADS) wl_die("need 1-%d threads", MAX_THREADS);

    static job_t jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    long start = wl_rss_kb();
    uint64_t ops = 0, check = 0;
    double t0 = wl_now();
    for (uint64_t g = 0; g < gens; g++) {
        for (unsigned i = 0; i < nt; i++) {
            jobs[i].inherit = jobs[i].leave;
            jobs[i].leave = (leftovers_t){NULL, 0};
            jobs[i].seed = seed + g * MAX_THREADS + i;
            if (pthread_create(&th[i], NULL, worker, &jobs[i])) wl_die("pthread_create failed");
        }
        for (unsigned i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            ops += jobs[i].allocs;
            check += jobs[i].check;
        }
    }
    for (unsigned i = 0; i < nt; i++)
        check += free_all(&jobs[i].leave);
    double secs = wl_now() - t0;
    long end = wl_rss_kb();
    struct timespec one_second = {1, 0};
    while (nanosleep(&one_second, &one_second) != 0 && errno == EINTR) {
    }
    long after = wl_rss_kb();
    printf("generations: %llu x %u threads, %.0f blocks in %.3f s; rss start %.1f MiB, peak %.1f "
           "MiB, end %.1f MiB, 1 s later %.1f MiB\n",
           (unsigned long long)gens, nt, (double)ops, secs, start / 1024.0,
           wl_peak_rss_kb() / 1024.0, end / 1024.0, after / 1024.0);
    wl_report("generations",
              "ops=%llu seconds=%.6f ops_per_sec=%.0f start_rss_kb=%ld peak_rss_kb=%ld "
              "end_rss_kb=%ld rss_after_free_kb=%ld retained_kb=%ld checksum=%llu",
              (unsigned long long)ops, secs, ops / secs, start, wl_peak_rss_kb(), end, after,
              after - start,
              (unsigned long long)check);
    return 0;
}
