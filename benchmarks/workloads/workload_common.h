/*
 * workload_common.h - helpers shared by the benchmark workloads.
 *
 * The workloads call nothing but the C library's malloc family, so that any allocator can serve
 * them through LD_PRELOAD. Everything here is header-only and static so that each workload is a
 * single translation unit.
 *
 * Glossary:
 *   rng_t          a small deterministic pseudo-random generator (splitmix64 seeded xorshift64*).
 *   spin_barrier_t a reusable barrier that spins, then yields; cheap when threads outnumber cores.
 *   report         every workload ends with two lines:
 *                    ALLOCATOR <path of the shared object that defines malloc>
 *                    RESULT name=<workload> key=value ...
 *                  so that a runner can check which allocator served the run and parse the figures.
 */
#ifndef HAK_WORKLOAD_COMMON_H
#define HAK_WORKLOAD_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#ifndef __cplusplus
#include <stdatomic.h> /* the barrier; the C++ workloads use the rest */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time ------------------------------------------------------------------------------------ */

static inline double wl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- random numbers ----------------------------------------------------------------------------
 */

typedef struct {
    uint64_t s;
} rng_t;

static inline uint64_t wl_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void rng_seed(rng_t *r, uint64_t seed) {
    uint64_t x = seed;
    r->s = wl_splitmix64(&x);
    if (r->s == 0) r->s = 1;
}

static inline uint64_t rng_next(rng_t *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi] (inclusive); not used inside timed loops. */
static inline uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi) {
    return lo + rng_next(r) % (hi - lo + 1);
}

/* The length of a table of steps drawn before a timed loop that walks it cyclically: the power of
 * two no smaller than n, at most `limit` (a power of two). */
static inline size_t wl_table_len(uint64_t n, size_t limit) {
    size_t len = 1;
    while (len < n && len < limit)
        len <<= 1;
    return len;
}

/* ---- argument parsing -------------------------------------------------------------------------
 */

static inline void wl_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* Parses a non-negative integer with an optional K/M/G suffix, a power of `unit`:
 * wl_count takes K = 1000 (counts), wl_size takes K = 1024 (byte sizes). */
static inline uint64_t wl_parse(const char *s, const char *what, uint64_t unit) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) wl_die("bad %s: '%s'", what, s);
    if (*end == 'k' || *end == 'K')
        v *= unit, end++;
    else if (*end == 'm' || *end == 'M')
        v *= unit * unit, end++;
    else if (*end == 'g' || *end == 'G')
        v *= unit * unit * unit, end++;
    if (*end != '\0') wl_die("bad %s: '%s'", what, s);
    return (uint64_t)v;
}
#define wl_count(s, what) wl_parse((s), (what), 1000)
#define wl_size(s, what) wl_parse((s), (what), 1024)

/* ---- memory ------------------------------------------------------------------------------------
 */

/* Reads a "Key:   N kB" field of /proc/self/status (VmRSS, VmHWM, ...). Returns -1 if missing. */
static inline long wl_status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    size_t klen = strlen(key);
    long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}
static inline long wl_rss_kb(void) {
    return wl_status_kb("VmRSS");
}
static inline long wl_peak_rss_kb(void) {
    return wl_status_kb("VmHWM");
}

/* Writes the first bytes of a fresh block (at most 8) so the allocator's memory is really used. */
static inline void wl_touch(void *p, size_t size, uint64_t tag) {
    unsigned char *c = (unsigned char *)p;
    size_t n = size < 8 ? size : 8;
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)(tag >> (8 * i));
}

/* Reads back the first byte written by wl_touch: folded into a checksum so that no compiler can
 * drop the blocks, and so that a corrupted block is likely to be noticed. */
static inline uint64_t wl_peek(const void *p) {
    return *(const unsigned char *)p;
}

/* One step of a table-driven churn: free what the slot holds, then put a fresh block of `size`
 * bytes there (none when size is 0). The tables are drawn before the timed loop. */
typedef struct {
    uint32_t slot;
    uint32_t size; /* 0: leave the slot empty */
} step_t;

static inline uint64_t wl_churn_step(void **slots, step_t st, uint64_t tag) {
    uint64_t check = 0;
    void *old = slots[st.slot];
    if (old) {
        check = wl_peek(old);
        free(old);
    }
    void *p = NULL;
    if (st.size) {
        p = malloc(st.size);
        if (!p) wl_die("malloc(%u) failed", st.size);
        wl_touch(p, st.size, tag);
    }
    slots[st.slot] = p;
    return check;
}

#ifndef __cplusplus
/* ---- barrier ------------------------------------------------------------------------------------
 */

typedef struct {
    atomic_uint count;
    atomic_uint generation;
    unsigned parties;
} spin_barrier_t;

static inline void spin_barrier_init(spin_barrier_t *b, unsigned parties) {
    atomic_init(&b->count, 0);
    atomic_init(&b->generation, 0);
    b->parties = parties;
}

static inline void spin_barrier_wait(spin_barrier_t *b) {
    unsigned gen = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) + 1 == b->parties) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->generation, 1, memory_order_release);
        return;
    }
    for (unsigned spins = 0; atomic_load_explicit(&b->generation, memory_order_acquire) == gen;
         spins++) {
        if (spins > 64) sched_yield();
    }
}

#endif /* __cplusplus */

/* ---- report ------------------------------------------------------------------------------------
 */

/* Prints the path of the shared object that defines the malloc this process calls. dlsym with
 * RTLD_DEFAULT follows the same lookup order as the program's own calls, so an LD_PRELOADed
 * allocator shows up here, and a preload that failed to load shows libc instead. */
static inline void wl_print_allocator(void) {
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    memset(&info, 0, sizeof info);
    if (sym && dladdr(sym, &info) && info.dli_fname && info.dli_fname[0]) {
        printf("ALLOCATOR %s\n", info.dli_fname);
    } else {
        printf("ALLOCATOR unknown\n");
    }
}

/* Prints the ALLOCATOR line, then "RESULT name=<name> <fields>" as the last line of output. */
static inline void wl_report(const char *name, const char *fmt, ...) {
    wl_print_allocator();
    printf("RESULT name=%s ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

#endif /* HAK_WORKLOAD_COMMON_H */
