// exp_shared_pool: the shared_pool box alone, under slot-claim contention from 1..T threads.
//
// Every thread loops: claim a slot of the pool (shared_pool_claim); when the pool has no free slot
// (claim returns -1), make a new fake segment and add it (shared_pool_add_segment, which hands the
// caller the segment's first slot); hold the slot for a while (up to --hold slots per thread, the
// oldest released first with shared_pool_release). A fake segment is a cache-line-aligned struct
// embedding sp_segment_t, plus one atomic owner word per slot: a thread marks each slot it claims
// and unmarks it before releasing it, so a slot handed to two threads at once is caught.
//
// For each thread count it prints: successful claims per second (all threads together); the time
// of one claim, median and 99th percentile (one claim in --sample is timed, the cost of reading the
// clock subtracted); the share of claims another thread disturbed (one claim in --sample is
// watched: the bitmap of the segment it starts with is read just before and just after it, and if
// it changed by more than our own slot, another claim or release hit that word while ours ran,
// which is what makes the box's CAS fail and retry: an outside estimate of the failed-CAS rate);
// the share of claims that found no free slot; and how many segments were added, against how many
// the threads need when every one holds --hold slots at once. At the end of each run every slot
// must be free again and the box's counters must match the program's. It also prints how often the
// process was preempted during the run: with more threads than cores, threads mostly take turns
// rather than contend.
//
// Links hak::shared_pool only (and the platform layer it depends on): not the allocator.
//
//   exp_shared_pool [-t MAX_THREADS] [-d MILLISECONDS | -i CLAIMS] [-k HOLD] [-s SLOTS]
//                   [-w WORK] [-S SAMPLE] [-a]
#define _GNU_SOURCE
#include "exp_common.h"
#include "shared_pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 32

typedef struct fake_segment {
    sp_segment_t hdr;                  // what the pool sees
    _Atomic uint32_t owner[MAX_SLOTS]; // 0: nobody holds the slot; else the holder's id + 1
} __attribute__((aligned(64))) fake_segment_t;

typedef struct {
    int max_threads, hold, slots, sample;
    long work;
    double seconds;       // per thread count, when claims == 0
    unsigned long claims; // per thread, if set
} options_t;

typedef struct {
    shared_pool_t *pool;
    const options_t *o;
    uint32_t all_mask;
    _Atomic int ready, go, stop;
} shared_t;

typedef struct {
    fake_segment_t *seg;
    int slot;
} held_t;

typedef struct {
    shared_t *sh;
    int id;
    pthread_t tid;
    // results
    unsigned long claims, releases, empty, added, violations;
    unsigned long watched, disturbed; // watched claims, and those another thread interfered with
    uint32_t *ns;                     // times of the timed claims
    size_t nns, cap;
} __attribute__((aligned(64)))
worker_t; // one cache line each: the counters are written every claim

// -a: pin threads to the CPUs this process may run on, round-robin (the n-th of the allowed set).
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static fake_segment_t *fake_of(sp_segment_t *s) {
    return (fake_segment_t *)s;
} // hdr is the first member

static fake_segment_t *new_segment(void) {
    fake_segment_t *f = aligned_alloc(64, sizeof *f);
    if (f == NULL) {
        fprintf(stderr, "exp_shared_pool: out of memory for a segment\n");
        exit(1);
    }
    memset(f, 0, sizeof *f);
    return f;
}

static void release_one(worker_t *w, held_t h) {
    uint32_t me = (uint32_t)w->id + 1, expect = me;
    if (!atomic_compare_exchange_strong(&h.seg->owner[h.slot], &expect, 0)) w->violations++;
    shared_pool_release(w->sh->pool, &h.seg->hdr, h.slot);
    w->releases++;
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    shared_t *sh = w->sh;
    const options_t *o = sh->o;
    shared_pool_t *p = sh->pool;
    held_t *held = calloc((size_t)o->hold, sizeof *held);
    if (held == NULL) abort();
    int head = 0, n = 0; // ring of held slots: oldest at head
    pin_to(w->id);
    uint32_t me = (uint32_t)w->id + 1;
    unsigned long iter = 0;

    atomic_fetch_add(&sh->ready, 1);
    while (!atomic_load_explicit(&sh->go, memory_order_acquire))
        sched_yield();
    for (;;) {
        if (o->claims ? iter >= o->claims : atomic_load_explicit(&sh->stop, memory_order_relaxed))
            break;
        iter++;
        if (n == o->hold) {
            release_one(w, held[head]);
            head = (head + 1) % o->hold;
            n--;
        }

        sp_segment_t *seg = NULL;
        int slot;
        unsigned long phase = iter % (unsigned long)o->sample;
        if (phase == 0) {
            // A timed claim (nothing else between the clock reads).
            uint64_t t0 = now_ns();
            slot = shared_pool_claim(p, &seg);
            uint64_t t1 = now_ns();
            if (w->nns < w->cap)
                w->ns[w->nns++] = (uint32_t)(t1 - t0 > UINT32_MAX ? UINT32_MAX : t1 - t0);
        } else if (phase == (unsigned long)o->sample / 2) {
            // A watched claim: read the bitmap of the segment the claim starts with (the pool's
            // hint; the pool's fields are public) just before and just after it. If the word
            // afterwards is not the word before minus our slot, another thread claimed or released
            // a slot of that segment while our claim ran: its CAS may have failed and retried (it
            // must have, unless the word changed back before the CAS or the change came after it).
            sp_segment_t *start = atomic_load_explicit(&p->hint, memory_order_acquire);
            if (start == NULL) start = atomic_load_explicit(&p->segments, memory_order_acquire);
            uint32_t before =
                start ? atomic_load_explicit(&start->free_mask, memory_order_relaxed) : 0;
            slot = shared_pool_claim(p, &seg);
            uint32_t after =
                start ? atomic_load_explicit(&start->free_mask, memory_order_relaxed) : 0;
            if (before != 0) {
                w->watched++;
                if (slot < 0 || seg != start || after != (before & ~(1u << slot))) w->disturbed++;
            }
        } else {
            slot = shared_pool_claim(p, &seg);
        }
        if (slot < 0) {
            w->empty++;
            fake_segment_t *f = new_segment();
            slot = shared_pool_add_segment(p, &f->hdr, sh->all_mask);
            seg = &f->hdr;
            w->added++;
        }
        w->claims++;
        fake_segment_t *f = fake_of(seg);
        uint32_t expect = 0;
        if (!atomic_compare_exchange_strong(&f->owner[slot], &expect, me)) w->violations++;
        held[(head + n) % o->hold] = (held_t){f, slot};
        n++;
        if (o->work) spin(o->work);
    }
    while (n > 0) {
        release_one(w, held[head]);
        head = (head + 1) % o->hold;
        n--;
    }
    free(held);
    return NULL;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

// The cost of the two clock reads around a timed claim, to subtract (median of many).
static double clock_overhead_ns(void) {
    enum { N = 2001 };
    static uint32_t d[N];
    for (int i = 0; i < N; i++) {
        uint64_t a = now_ns(), b = now_ns();
        d[i] = (uint32_t)(b - a);
    }
    qsort(d, N, sizeof d[0], cmp_u32);
    return d[N / 2];
}

static double parse_num(const char *s, const char *what) {
    return parse_number("exp_shared_pool", s, what, 0);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: exp_shared_pool [-t MAX_THREADS] [-d MILLISECONDS | -i CLAIMS] [-k HOLD] [-s "
            "SLOTS] [-w WORK]"
            " [-S SAMPLE] [-a]\n"
            "  -t  threads go 1, 2, ... up to this (default 8)\n"
            "  -d  run time per thread count in ms (default 500)\n"
            "  -i  claims per thread instead of a run time (K and M suffixes)\n"
            "  -k  slots a thread holds at most before it releases its oldest (default 4)\n"
            "  -s  slots per segment, 1..32 (default 32)\n"
            "  -w  empty loop iterations after each claim, the work done with a slab (default 0)\n"
            "  -S  time one claim in this many, and watch another one (>= 2, default 8)\n"
            "  -a  pin thread i to the i-th allowed CPU, round-robin\n");
}

int main(int argc, char **argv) {
    options_t o = {.max_threads = 8,
                   .hold = 4,
                   .slots = 32,
                   .sample = 8,
                   .work = 0,
                   .seconds = 0.5,
                   .claims = 0};
    int c;
    while ((c = getopt(argc, argv, "t:d:i:k:s:w:S:ah")) != -1) {
        switch (c) {
        case 't':
            o.max_threads = (int)parse_num(optarg, "thread count");
            break;
        case 'd':
            o.seconds = parse_num(optarg, "duration") / 1000.0;
            break;
        case 'i':
            o.claims = (unsigned long)parse_num(optarg, "claim count");
            break;
        case 'k':
            o.hold = (int)parse_num(optarg, "hold count");
            break;
        case 's':
            o.slots = (int)parse_num(optarg, "slot count");
            break;
        case 'a':
            g_pin = 1;
            break;
        case 'w':
            o.work = (long)parse_num(optarg, "work");
            break;
        case 'S':
            o.sample = (int)parse_num(optarg, "sample interval");
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || o.max_threads < 1 || o.max_threads > 1024 || o.hold < 1 || o.slots < 1 ||
        o.slots > MAX_SLOTS || o.sample < 2 || (o.claims == 0 && o.seconds <= 0)) {
        usage(stderr);
        return 2;
    }

    if (sched_getaffinity(0, sizeof g_allowed, &g_allowed) != 0) g_pin = 0;
    double clk = clock_overhead_ns();
    printf("exp_shared_pool: %d slots per segment, %d held per thread, work %ld, ", o.slots, o.hold,
           o.work);
    if (o.claims)
        printf("%lu claims per thread", o.claims);
    else
        printf("%.0f ms per thread count", o.seconds * 1000);
    printf(", 1 claim in %d timed (clock %.0f ns, subtracted) and 1 in %d watched, %ld CPUs "
           "online%s\n",
           o.sample, clk, o.sample, sysconf(_SC_NPROCESSORS_ONLN), g_pin ? ", threads pinned" : "");
    printf("%7s %12s %9s %9s %10s %8s %10s %9s %9s  %s\n", "threads", "claims/s", "p50_ns",
           "p99_ns", "disturbed", "empty", "segs_added", "segs_need", "preempted", "check");

    int failed = 0;
    static const shared_pool_t pool_init = SHARED_POOL_INIT;
    for (int t = 1; t <= o.max_threads; t++) {
        shared_pool_t *pool = aligned_alloc(64, (sizeof *pool + 63) / 64 * 64);
        worker_t *ws = aligned_alloc(64, (size_t)t * sizeof *ws);
        if (pool == NULL || ws == NULL) return 1;
        memcpy(pool, &pool_init, sizeof *pool);
        memset(ws, 0, (size_t)t * sizeof *ws);
        shared_t sh = {
            .pool = pool, .o = &o, .all_mask = o.slots == 32 ? UINT32_MAX : (1u << o.slots) - 1};
        atomic_init(&sh.ready, 0);
        atomic_init(&sh.go, 0);
        atomic_init(&sh.stop, 0);
        for (int i = 0; i < t; i++) {
            ws[i].sh = &sh;
            ws[i].id = i;
            ws[i].cap = 1u << 20;
            ws[i].ns = malloc(ws[i].cap * sizeof(uint32_t));
            if (ws[i].ns == NULL) return 1;
            int e = pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
            if (e != 0) {
                fprintf(stderr, "exp_shared_pool: pthread_create: %s\n", strerror(e));
                return 1;
            }
        }
        while (atomic_load(&sh.ready) < t)
            sched_yield();
        struct rusage ru0, ru1;
        getrusage(RUSAGE_SELF, &ru0);
        double t0 = now();
        atomic_store_explicit(&sh.go, 1, memory_order_release);
        if (!o.claims) {
            struct timespec d = {(time_t)o.seconds,
                                 (long)((o.seconds - (double)(time_t)o.seconds) * 1e9)};
            while (nanosleep(&d, &d) != 0 && errno == EINTR) {
            }
            atomic_store_explicit(&sh.stop, 1, memory_order_relaxed);
        }
        for (int i = 0; i < t; i++)
            pthread_join(ws[i].tid, NULL);
        double secs = now() - t0;
        getrusage(RUSAGE_SELF, &ru1);
        long preempted = ru1.ru_nivcsw - ru0.ru_nivcsw;

        unsigned long claims = 0, releases = 0, empty = 0, added = 0, viol = 0, pred = 0, dist = 0;
        size_t nns = 0;
        for (int i = 0; i < t; i++) {
            claims += ws[i].claims;
            releases += ws[i].releases;
            empty += ws[i].empty;
            added += ws[i].added;
            viol += ws[i].violations;
            pred += ws[i].watched;
            dist += ws[i].disturbed;
            nns += ws[i].nns;
        }
        uint32_t *all = malloc((nns ? nns : 1) * sizeof *all);
        if (all == NULL) return 1;
        size_t k = 0;
        for (int i = 0; i < t; i++) {
            memcpy(all + k, ws[i].ns, ws[i].nns * sizeof *all);
            k += ws[i].nns;
        }
        qsort(all, nns, sizeof *all, cmp_u32);
        // Percentiles, not a mean: on a loaded machine a few timed claims span a preemption (ms).
        double p50 = nns ? all[nns / 2] - clk : 0, p99 = nns ? all[nns * 99 / 100] - clk : 0;

        // Afterwards: every slot is free, the pool's free-slot count says so, the box counted what
        // we did.
        unsigned long segs = 0, free_slots = 0;
        for (sp_segment_t *s = atomic_load(&pool->segments); s != NULL; s = s->next) {
            segs++;
            free_slots += (unsigned long)__builtin_popcount(atomic_load(&s->free_mask));
        }
        unsigned long need_segs =
            ((unsigned long)t * (unsigned long)o.hold + (unsigned long)o.slots - 1) /
            (unsigned long)o.slots;
        char check[200];
        int ok = viol == 0 && releases == claims && segs == added &&
                 free_slots == segs * (unsigned long)o.slots &&
                 atomic_load(&pool->free_slots) == (long)free_slots &&
                 atomic_load(&pool->stats.slots_claimed) == claims &&
                 atomic_load(&pool->stats.slots_released) == releases &&
                 atomic_load(&pool->stats.segments_added) == added;
        if (ok)
            snprintf(check, sizeof check, "ok (no slot held twice, all free at the end)");
        else
            snprintf(check, sizeof check,
                     "FAIL: %lu slot(s) held twice; %lu of %lu slots free at the end (pool says "
                     "%ld); box counted "
                     "%lu claims, %lu releases, %lu segments",
                     viol, free_slots, segs * (unsigned long)o.slots,
                     (long)atomic_load(&pool->free_slots),
                     (unsigned long)atomic_load(&pool->stats.slots_claimed),
                     (unsigned long)atomic_load(&pool->stats.slots_released),
                     (unsigned long)atomic_load(&pool->stats.segments_added));
        failed |= !ok;
        char dis[32];
        if (pred)
            snprintf(dis, sizeof dis, "%.2f%%", 100.0 * (double)dist / (double)pred);
        else
            snprintf(dis, sizeof dis, "-");
        printf("%7d %12.0f %9.0f %9.0f %10s %7.3f%% %10lu %9lu %9ld  %s\n", t,
               (double)claims / secs, p50, p99, dis,
               100.0 * (double)empty / (double)(claims ? claims : 1), added, need_segs, preempted,
               check);
        fflush(stdout);

        for (sp_segment_t *s = atomic_load(&pool->segments), *next; s != NULL; s = next) {
            next = s->next;
            free(fake_of(s));
        }
        for (int i = 0; i < t; i++)
            free(ws[i].ns);
        free(all);
        free(ws);
        free(pool);
    }
    if (failed) {
        printf("exp_shared_pool: FAILED\n");
        return 1;
    }
    return 0;
}
