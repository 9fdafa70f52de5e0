/*
 * remote - frees made by a thread that did not allocate the block.
 *
 *   remote pc <pairs> <items> <seed> [<min-size> <max-size>]
 *       Producer/consumer: <pairs> pairs of threads; each producer mallocs <items> blocks of
 * uniform random size (default 16-1024 B), writes their first bytes and passes them through a
 *       single-producer single-consumer ring to its consumer, which reads and frees them.
 *       One op = one block produced and freed.
 *   remote ring <threads> <remote-pct> <iterations> <working-set> <seed> [<min-size> <max-size>]
 *       A ring of T threads, each churning its own working set like random_mixed (every step frees
 * a random slot's block and puts a new one there). <remote-pct> percent of the freed blocks are
 *       handed to the next thread in the ring, which frees them; the rest are freed locally. A
 *       thread whose ring to the next one is full waits for room, freeing what its own inbound
 *       ring holds meanwhile. One op = one step of one thread.
 *
 * Sizes, slots and the local/remote choice are drawn into tables before the timed part. The ring
 * between two threads is the workload's own code, the same under every allocator.
 */
#include <pthread.h>

#include "workload_common.h"

/* ---- a bounded single-producer single-consumer ring of pointers ---------------------------------
 */

#define SPSC_CAP 4096u
typedef struct {
    _Alignas(64) atomic_size_t head; /* next slot to write (producer) */
    _Alignas(64) atomic_size_t tail; /* next slot to read (consumer) */
    _Alignas(64) void *buf[SPSC_CAP];
} spsc_t;

static inline int spsc_push(spsc_t *q, void *p) {
    size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (h - t == SPSC_CAP) return 0;
    q->buf[h & (SPSC_CAP - 1)] = p;
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
    return 1;
}

static inline void *spsc_pop(spsc_t *q) {
    size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    if (h == t) return NULL;
    void *p = q->buf[t & (SPSC_CAP - 1)];
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return p;
}

static spsc_t *spsc_new(void) {
    spsc_t *q = aligned_alloc(64, sizeof(spsc_t));
    if (!q) wl_die("out of memory");
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    return q;
}

/* ---- shared parameters --------------------------------------------------------------------------
 */

static uint64_t g_iters, g_ws, g_min = 16, g_max = 1024, g_seed, g_pct;
static unsigned g_threads;
static spin_barrier_t g_start;
static atomic_uint g_done;
static spsc_t **g_q;

typedef struct {
    unsigned id;
    uint64_t check, remote_sent;
    pthread_t th;
} worker_t;

static uint32_t *size_table(uint64_t seed, size_t len) {
    uint32_t *t = malloc(len * sizeof *t);
    if (!t) wl_die("out of memory");
    rng_t rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < len; i++)
        t[i] = (uint32_t)rng_range(&rng, g_min, g_max);
    return t;
}

/* ---- producer / consumer -----------------------------------------------------------------------
 */

static void *producer(void *arg) {
    worker_t *w = arg;
    size_t len = wl_table_len(g_iters, (size_t)1 << 16);
    uint32_t *sizes = size_table(g_seed + 1000003ull * w->id, len);
    spsc_t *q = g_q[w->id / 2];
    spin_barrier_wait(&g_start);
    for (uint64_t i = 0; i < g_iters; i++) {
        uint32_t sz = sizes[i & (len - 1)];
        void *p = malloc(sz);
        if (!p) wl_die("malloc(%u) failed", sz);
        wl_touch(p, sz, i | 1);
        while (!spsc_push(q, p))
            sched_yield();
    }
    free(sizes);
    return NULL;
}

static void *consumer(void *arg) {
    worker_t *w = arg;
    spsc_t *q = g_q[w->id / 2];
    uint64_t check = 0;
    spin_barrier_wait(&g_start);
    for (uint64_t i = 0; i < g_iters;) {
        void *p = spsc_pop(q);
        if (!p) {
            sched_yield();
            continue;
        }
        check += wl_peek(p);
        free(p);
        i++;
    }
    w->check = check;
    return NULL;
}

/* ---- ring ---------------------------------------------------------------------------------------
 */

/* step_t (workload_common.h) with REMOTE_BIT set in size: hand the old block to the next thread. */
#define REMOTE_BIT 0x80000000u

static uint64_t drain(spsc_t *q, unsigned max) {
    uint64_t check = 0;
    void *p;
    for (unsigned n = 0; n < max && (p = spsc_pop(q)) != NULL; n++) {
        check += wl_peek(p);
        free(p);
    }
    return check;
}

static void *ring_worker(void *arg) {
    worker_t *w = arg;
    size_t len = wl_table_len(g_iters, (size_t)1 << 16);
    step_t *tab = malloc(len * sizeof *tab);
    void **slots = calloc(g_ws, sizeof *slots);
    if (!tab || !slots) wl_die("out of memory");
    rng_t rng;
    rng_seed(&rng, g_seed + 1000003ull * w->id);
    for (size_t i = 0; i < len; i++) {
        tab[i].slot = (uint32_t)(rng_next(&rng) % g_ws);
        tab[i].size = (uint32_t)rng_range(&rng, g_min, g_max);
        if (rng_next(&rng) % 100 < g_pct) tab[i].size |= REMOTE_BIT;
    }
    for (uint64_t s = 0; s < g_ws; s++) {
        size_t sz = (size_t)rng_range(&rng, g_min, g_max);
        slots[s] = malloc(sz);
        if (!slots[s]) wl_die("malloc(%zu) failed", sz);
        wl_touch(slots[s], sz, s);
    }
    spsc_t *out = g_q[(w->id + 1) % g_threads], *in = g_q[w->id];

    spin_barrier_wait(&g_start);
    uint64_t check = 0, sent = 0;
    for (uint64_t i = 0; i < g_iters; i++) {
        step_t st = tab[i & (len - 1)];
        void *old = slots[st.slot];
        if (st.size & REMOTE_BIT) {
            /* A full ring waits (serving its own inbound ring meanwhile, so the ring of threads
             * always makes progress) instead of freeing locally: the share of remote frees is
             * then the one asked for, not one that depends on how the threads were scheduled. */
            while (!spsc_push(out, old)) {
                check += drain(in, SPSC_CAP);
                sched_yield();
            }
            sent++;
        } else {
            check += wl_peek(old);
            free(old);
        }
        uint32_t sz = st.size & ~REMOTE_BIT;
        void *p = malloc(sz);
        if (!p) wl_die("malloc(%u) failed", sz);
        wl_touch(p, sz, i);
        slots[st.slot] = p;
        if ((i & 15) == 0) check += drain(in, 64);
    }
    atomic_fetch_add(&g_done, 1);
    while (atomic_load(&g_done) < g_threads) {
        check += drain(in, SPSC_CAP);
        sched_yield();
    }
    check += drain(in, SPSC_CAP);
    for (uint64_t s = 0; s < g_ws; s++)
        free(slots[s]);
    free(slots);
    free(tab);
    w->check = check;
    w->remote_sent = sent;
    return NULL;
}

/* ---- main -------------------------------------------------------------------------------------
 */

static void usage(const char *argv0) {
    wl_die("usage: %s pc <pairs> <items> <seed> [<min-size> <max-size>]\n"
           "       %s ring <threads> <remote-pct> <iterations> <working-set> <seed> [<min-size> "
           "<max-size>]",
           argv0, argv0);
}

int main(int argc, char **argv) {
    if (argc < 2) usage(argv[0]);
    int pc = strcmp(argv[1], "pc") == 0;
    int ring = strcmp(argv[1], "ring") == 0;
    int nfixed = pc ? 5 : 7;
    if ((!pc && !ring) || (argc != nfixed && argc != nfixed + 2)) usage(argv[0]);
    if (argc == nfixed + 2) {
        g_min = wl_size(argv[nfixed], "min-size");
        g_max = wl_size(argv[nfixed + 1], "max-size");
    }
    if (g_min == 0 || g_max < g_min || g_max >= REMOTE_BIT)
        wl_die("need 0 < min-size <= max-size < 2 GiB");
    if (pc) {
        g_threads = 2 * (unsigned)wl_count(argv[2], "pairs");
        g_iters = wl_count(argv[3], "items");
        g_seed = wl_count(argv[4], "seed");
    } else {
        g_threads = (unsigned)wl_count(argv[2], "threads");
        g_pct = wl_count(argv[3], "remote-pct");
        g_iters = wl_count(argv[4], "iterations");
        g_ws = wl_count(argv[5], "working-set");
        g_seed = wl_count(argv[6], "seed");
        if (g_pct > 100 || g_ws == 0 || g_ws > UINT32_MAX)
            wl_die("need remote-pct <= 100, 0 < working-set");
    }
    if (g_threads == 0 || g_threads > 4096) wl_die("need 1..4096 threads (pairs)");

    unsigned nq = pc ? g_threads / 2 : g_threads;
    g_q = calloc(nq, sizeof *g_q);
    worker_t *ws = calloc(g_threads, sizeof *ws);
    if (!g_q || !ws) wl_die("out of memory");
    for (unsigned i = 0; i < nq; i++)
        g_q[i] = spsc_new();
    atomic_init(&g_done, 0);
    spin_barrier_init(&g_start, g_threads + 1);
    for (unsigned t = 0; t < g_threads; t++) {
        ws[t].id = t;
        void *(*fn)(void *) = pc ? ((t & 1) ? consumer : producer) : ring_worker;
        if (pthread_create(&ws[t].th, NULL, fn, &ws[t]) != 0) wl_die("pthread_create failed");
    }
    spin_barrier_wait(&g_start);
    double t0 = wl_now();
    uint64_t check = 0, sent = 0;
    for (unsigned t = 0; t < g_threads; t++) {
        pthread_join(ws[t].th, NULL);
        check += ws[t].check;
        sent += ws[t].remote_sent;
    }
    double secs = wl_now() - t0;
    long peak = wl_peak_rss_kb();
    for (unsigned i = 0; i < nq; i++)
        free(g_q[i]);
    free(g_q);
    free(ws);

    if (pc) {
        double ops = (double)(g_threads / 2) * (double)g_iters / secs;
        printf("remote pc: %u pairs x %llu blocks, sizes %llu-%llu B, seed %llu\n", g_threads / 2,
               (unsigned long long)g_iters, (unsigned long long)g_min, (unsigned long long)g_max,
               (unsigned long long)g_seed);
        printf("ops/s: %.0f (%.3f s)\n", ops, secs);
        wl_report("remote_pc",
                  "ops_per_sec=%.0f seconds=%.6f threads=%u peak_rss_kb=%ld checksum=%llu", ops,
                  secs, g_threads, peak, (unsigned long long)check);
    } else {
        double total = (double)g_threads * (double)g_iters;
        double ops = total / secs;
        printf(
            "remote ring: %u threads x %llu steps, %llu%% remote (%.1f%% sent), working set %llu, "
            "sizes %llu-%llu B, seed %llu\n",
            g_threads, (unsigned long long)g_iters, (unsigned long long)g_pct,
            100.0 * (double)sent / total, (unsigned long long)g_ws, (unsigned long long)g_min,
            (unsigned long long)g_max, (unsigned long long)g_seed);
        printf("ops/s: %.0f (%.3f s)\n", ops, secs);
        wl_report("remote_ring",
                  "ops_per_sec=%.0f seconds=%.6f threads=%u remote_pct=%llu remote_sent=%llu "
                  "peak_rss_kb=%ld "
                  "checksum=%llu",
                  ops, secs, g_threads, (unsigned long long)g_pct, (unsigned long long)sent, peak,
                  (unsigned long long)check);
    }
    return 0;
}
