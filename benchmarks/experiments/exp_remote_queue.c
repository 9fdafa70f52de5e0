// exp_remote_queue: the remote_queue box alone, under 1..P producer threads and one consumer.
//
// Every producer pushes its own slice of a preallocated array of blocks into one remote_queue (one
// block per push, or chains of --batch blocks with remote_queue_push_chain); one consumer calls
// remote_queue_take_all in a loop until it has received every block. For each producer count the
// program prints the throughput (blocks per second from the start barrier until the consumer holds
// the last block), how many blocks each successful take_all returned (the chain length: how much
// work one exchange amortises), how often the consumer found the queue empty, the producers' wall
// time per block pushed, and how often the process was preempted during the run (with more threads
// than cores, the scheduler rather than the queue sets the chain lengths). It checks that every
// block arrived exactly once, from the producer that owns it.
//
// Links hak::remote_queue only (and the platform layer it depends on): not the allocator.
//
//   exp_remote_queue [-p MAX_PRODUCERS] [-n BLOCKS] [-b BATCH] [-s BLOCK_SIZE] [-r RUNS] [-w WORK]
//                    [-a]
#define _GNU_SOURCE
#include "exp_common.h"
#include "remote_queue.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    void *next;        // the queue's link (the block's first word)
    uint32_t id;       // index in the array
    uint32_t producer; // who pushed it
} block_t;

typedef struct {
    int producers, runs;
    size_t blocks, batch, block_size;
    long work; // empty loop iterations the consumer spends after each take_all
} options_t;

typedef struct {
    // On a cache line of its own: producers read the other fields in their loop, and the queue
    // head's line must move only because of the queue.
    _Alignas(64) remote_queue_t q;
    _Alignas(64) char after_q;
    unsigned char *arena; // blocks * block_size bytes
    size_t blocks, batch, block_size;
    int producers;
    _Atomic int ready;
    _Atomic int go;
} shared_t;

typedef struct {
    shared_t *sh;
    int index;
    pthread_t tid;
    double push_seconds; // wall time of this producer's pushing
} producer_t;

typedef struct {
    double seconds, blocks_per_sec, avg_chain, push_ns;
    size_t takes, max_chain, empty_polls;
    long preempted; // involuntary context switches of the process during the run
    size_t missing, duplicates, wrong_producer;
} result_t;

// -a: pin threads to the CPUs this process may run on, round-robin (the n-th of the allowed set).
static size_t parse_count(const char *s, const char *what) {
    return (size_t)parse_number("exp_remote_queue", s, what, 1);
}

static block_t *block_at(shared_t *sh, size_t i) {
    return (block_t *)(sh->arena + i * sh->block_size);
}

// Producer p owns the blocks [lo, hi) of the array.
static void slice(const shared_t *sh, int p, size_t *lo, size_t *hi) {
    *lo = sh->blocks * (size_t)p / (size_t)sh->producers;
    *hi = sh->blocks * (size_t)(p + 1) / (size_t)sh->producers;
}

static void *producer_main(void *arg) {
    producer_t *pr = arg;
    shared_t *sh = pr->sh;
    size_t lo, hi;
    slice(sh, pr->index, &lo, &hi);
    pin_to(1 + pr->index);
    atomic_fetch_add(&sh->ready, 1);
    while (!atomic_load_explicit(&sh->go, memory_order_acquire))
        sched_yield();
    double t0 = now();
    for (size_t i = lo; i < hi;) {
        size_t n = hi - i < sh->batch ? hi - i : sh->batch;
        block_t *first = block_at(sh, i);
        block_t *b = first;
        for (size_t k = 0; k < n; k++) {
            b = block_at(sh, i + k);
            b->producer = (uint32_t)pr->index;
            if (k + 1 < n) b->next = block_at(sh, i + k + 1);
        }
        remote_queue_push_chain(&sh->q, first, b, (uint32_t)n);
        i += n;
    }
    pr->push_seconds = now() - t0;
    return NULL;
}

static int run_once(const options_t *o, int producers, unsigned char *arena, unsigned char *seen,
                    result_t *res) {
    shared_t sh = {.arena = arena,
                   .blocks = o->blocks,
                   .batch = o->batch,
                   .block_size = o->block_size,
                   .producers = producers};
    remote_queue_init(&sh.q);
    atomic_init(&sh.ready, 0);
    atomic_init(&sh.go, 0);
    for (size_t i = 0; i < o->blocks; i++) {
        block_t *b = block_at(&sh, i);
        b->next = NULL;
        b->id = (uint32_t)i;
        b->producer = UINT32_MAX;
    }
    memset(seen, 0, o->blocks);

    producer_t *prs = calloc((size_t)producers, sizeof *prs);
    if (prs == NULL) return -1;
    for (int p = 0; p < producers; p++) {
        prs[p].sh = &sh;
        prs[p].index = p;
        int e = pthread_create(&prs[p].tid, NULL, producer_main, &prs[p]);
        if (e != 0) {
            fprintf(stderr, "exp_remote_queue: pthread_create: %s\n", strerror(e));
            exit(1);
        }
    }
    while (atomic_load(&sh.ready) < producers)
        sched_yield();

    // The consumer: this thread.
    size_t received = 0, takes = 0, max_chain = 0, empty = 0, dup = 0, wrong = 0;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now();
    atomic_store_explicit(&sh.go, 1, memory_order_release);
    while (received < o->blocks) {
        block_t *b = remote_queue_take_all(&sh.q, NULL);
        if (o->work) spin(o->work);
        if (b == NULL) {
            empty++;
            continue;
        }
        size_t n = 0;
        for (; b != NULL; b = b->next) {
            n++;
            if (b->id >= o->blocks || (unsigned char *)b != arena + (size_t)b->id * o->block_size) {
                fprintf(stderr,
                        "exp_remote_queue: a chain holds %p, which is no block of the array\n",
                        (void *)b);
                exit(1);
            }
            if (seen[b->id]++) dup++;
            size_t lo = 0, hi = 0;
            if (b->producer < (uint32_t)producers) slice(&sh, (int)b->producer, &lo, &hi);
            if (b->id < lo || b->id >= hi) wrong++;
        }
        received += n;
        takes++;
        if (n > max_chain) max_chain = n;
    }
    double secs = now() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double push = 0;
    for (int p = 0; p < producers; p++) {
        pthread_join(prs[p].tid, NULL);
        push += prs[p].push_seconds;
    }
    free(prs);

    size_t missing = 0;
    for (size_t i = 0; i < o->blocks; i++)
        missing += seen[i] == 0;
    *res = (result_t){.seconds = secs,
                      .blocks_per_sec = (double)o->blocks / secs,
                      .avg_chain = (double)received / (double)takes,
                      .takes = takes,
                      .max_chain = max_chain,
                      .empty_polls = empty,
                      .preempted = ru1.ru_nivcsw - ru0.ru_nivcsw,
                      .push_ns = push / (double)o->blocks * 1e9,
                      .missing = missing,
                      .duplicates = dup,
                      .wrong_producer = wrong};
    if (!remote_queue_is_empty(&sh.q)) {
        fprintf(stderr, "exp_remote_queue: the queue is not empty after every block arrived\n");
        return -1;
    }
    return 0;
}

static int cmp_result(const void *a, const void *b) {
    double x = ((const result_t *)a)->blocks_per_sec, y = ((const result_t *)b)->blocks_per_sec;
    return (x > y) - (x < y);
}

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: exp_remote_queue [-p MAX_PRODUCERS] [-n BLOCKS] [-b BATCH] [-s BLOCK_SIZE] [-r "
        "RUNS] [-w WORK] [-a]\n"
        "  -p  producers go 1, 2, ... up to this (default 8)\n"
        "  -n  blocks pushed in total per run, split among the producers (default 2M; K and M "
        "suffixes)\n"
        "  -b  blocks per push: 1 = remote_queue_push, more = remote_queue_push_chain (default 1)\n"
        "  -s  bytes per block, >= 16 (default 64)\n"
        "  -r  runs per producer count; the median run by throughput is printed (default 3)\n"
        "  -w  empty loop iterations the consumer spends after each take_all, as an owner thread\n"
        "      that looks at its queue between allocations (default 0: it polls flat out)\n"
        "  -a  pin the consumer to the first allowed CPU and producer i to the (1+i)-th, "
        "round-robin\n");
}

int main(int argc, char **argv) {
    options_t o = {.producers = 8, .runs = 3, .blocks = 2000000, .batch = 1, .block_size = 64};
    int c;
    while ((c = getopt(argc, argv, "p:n:b:s:r:w:ah")) != -1) {
        switch (c) {
        case 'p':
            o.producers = (int)parse_count(optarg, "producer count");
            break;
        case 'n':
            o.blocks = parse_count(optarg, "block count");
            break;
        case 'b':
            o.batch = parse_count(optarg, "batch");
            break;
        case 's':
            o.block_size = parse_count(optarg, "block size");
            break;
        case 'r':
            o.runs = (int)parse_count(optarg, "run count");
            break;
        case 'a':
            g_pin = 1;
            break;
        case 'w':
            o.work = (long)parse_count(optarg, "work");
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || o.producers > 1024 || o.block_size < sizeof(block_t) ||
        o.block_size % 8 || o.blocks > UINT32_MAX || o.runs > 1000) {
        usage(stderr);
        return 2;
    }

    unsigned char *arena = aligned_alloc(64, (o.blocks * o.block_size + 63) / 64 * 64);
    unsigned char *seen = malloc(o.blocks);
    result_t *rs = calloc((size_t)o.runs, sizeof *rs);
    if (arena == NULL || seen == NULL || rs == NULL) {
        fprintf(stderr, "exp_remote_queue: out of memory for %zu blocks\n", o.blocks);
        return 1;
    }
    memset(arena, 0, o.blocks * o.block_size); // touch every page before timing
    if (sched_getaffinity(0, sizeof g_allowed, &g_allowed) != 0) g_pin = 0;
    pin_to(0); // the consumer is this thread

    printf("exp_remote_queue: %zu blocks of %zu B per run, %zu per push, consumer work %ld, median "
           "of %d runs, %ld CPUs online%s\n",
           o.blocks, o.block_size, o.batch, o.work, o.runs, sysconf(_SC_NPROCESSORS_ONLN),
           g_pin ? ", threads pinned" : "");
    printf("%9s %10s %12s %9s %10s %9s %11s %9s %9s  %s\n", "producers", "seconds", "blocks/s",
           "takes", "avg_chain", "max_chain", "empty_polls", "push_ns", "preempted", "check");
    int bad = 0;
    for (int p = 1; p <= o.producers; p++) {
        for (int r = 0; r < o.runs; r++) {
            if (run_once(&o, p, arena, seen, &rs[r]) != 0) return 1;
            if (rs[r].missing || rs[r].duplicates || rs[r].wrong_producer) bad = 1;
        }
        // Check every run; print the median one.
        size_t missing = 0, dup = 0, wrong = 0;
        for (int r = 0; r < o.runs; r++) {
            missing += rs[r].missing;
            dup += rs[r].duplicates;
            wrong += rs[r].wrong_producer;
        }
        qsort(rs, (size_t)o.runs, sizeof *rs, cmp_result);
        const result_t *m = &rs[o.runs / 2];
        char check[128];
        if (missing || dup || wrong)
            snprintf(check, sizeof check, "FAIL: %zu missing, %zu twice, %zu from a wrong producer",
                     missing, dup, wrong);
        else
            snprintf(check, sizeof check, "ok (each block once)");
        printf("%9d %10.4f %12.0f %9zu %10.1f %9zu %11zu %9.1f %9ld  %s\n", p, m->seconds,
               m->blocks_per_sec, m->takes, m->avg_chain, m->max_chain, m->empty_polls, m->push_ns,
               m->preempted, check);
        fflush(stdout);
    }
    free(rs);
    free(seen);
    free(arena);
    if (bad) {
        printf("exp_remote_queue: FAILED: some block did not arrive exactly once\n");
        return 1;
    }
    return 0;
}
