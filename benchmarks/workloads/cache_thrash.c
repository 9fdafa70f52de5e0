/*
 * cache_thrash - false sharing between threads' small blocks.
 *
 *   cache_thrash active  <threads> <iterations> <size> <writes>
 *   cache_thrash passive <threads> <iterations> <size> <writes>
 *
 * Each thread, <iterations> times: mallocs a block of <size> bytes, writes and reads back each of
 * its bytes <writes> / <threads> times, frees it. The work is the same under every allocator; what
 * differs is where the blocks land: if two threads' blocks share a cache line, every write moves
 * the line between cores and the program slows down many times over. In passive mode the main
 * thread first mallocs one block per thread, back to back, and each thread starts by freeing the
 * one it is handed (an allocator that gives that block back to its new owner makes the threads
 * share lines from then on). One op = one byte written and read.
 */
#include <pthread.h>

#include "workload_common.h"

static uint64_t g_iters, g_size, g_writes;
static spin_barrier_t g_start;

typedef struct {
    void *handed; /* passive mode: a block the main thread allocated, freed by this thread */
    uint64_t check;
} job_t;

static void *worker(void *arg) {
    job_t *j = arg;
    spin_barrier_wait(&g_start);
    if (j->handed) free(j->handed);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < g_iters; i++) {
        volatile unsigned char *p = malloc(g_size);
        if (!p) wl_die("malloc(%llu) failed", (unsigned long long)g_size);
        for (uint64_t w = 0; w < g_writes; w++)
            for (uint64_t k = 0; k < g_size; k++) {
                p[k] = (unsigned char)(k + w);
                sum += p[k];
            }
        free((void *)p);
    }
    j->check = sum;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 6 || (strcmp(argv[1], "active") != 0 && strcmp(argv[1], "passive") != 0))
        wl_die("usage: %s active|passive <threads> <iterations> <size> <writes>", argv[0]);
    int passive = strcmp(argv[1], "passive") == 0;
    unsigned nt = (unsigned)wl_count(argv[2], "threads");
    g_iters = wl_count(argv[3], "iterations");
    g_size = wl_size(argv[4], "size");
    uint64_t writes = wl_count(argv[5], "writes");
    if (!nt || nt > 1024 || !g_size) wl_die("need 1-1024 threads and a size of at least 1");
    g_writes = writes / nt;
    spin_barrier_init(&g_start, nt + 1);

    pthread_t th[1024];
    static job_t jobs[1024];
    for (unsigned i = 0; i < nt; i++) {
        if (passive && !(jobs[i].handed = malloc(g_size))) wl_die("malloc failed");
        if (pthread_create(&th[i], NULL, worker, &jobs[i])) wl_die("pthread_create failed");
    }
    spin_barrier_wait(&g_start);
    double t0 = wl_now();
    uint64_t check = 0;
    for (unsigned i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        check += jobs[i].check;
    }
    double secs = wl_now() - t0;
    double ops = (double)nt * g_iters * g_writes * g_size;
    printf("cache_thrash %s: %u threads, %llu blocks of %llu B each, %.0f writes in %.3f s\n",
           argv[1], nt, (unsigned long long)g_iters, (unsigned long long)g_size, ops, secs);
    wl_report(passive ? "cache_scratch" : "cache_thrash",
              "threads=%u ops=%.0f seconds=%.6f ops_per_sec=%.0f peak_rss_kb=%ld checksum=%llu", nt,
              ops, secs, ops / secs, wl_peak_rss_kb(), (unsigned long long)check);
    return 0;
}
