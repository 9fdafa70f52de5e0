// Shared helpers of the stress tests: deterministic random numbers, a content pattern derived from
// a block's address and size, the scale of a run, and figures of /proc/self/status.
#ifndef HAK_STRESS_COMMON_H
#define HAK_STRESS_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

// Sanitizers make every access several times slower: run fewer iterations under them.
// HAKMEM_TEST_SCALE (a percentage, default 100) scales further, e.g. 10 for a quick run.
#if defined(__SANITIZE_THREAD__)
#define STRESS_SANITIZER_DIV 8
#elif defined(__SANITIZE_ADDRESS__)
#define STRESS_SANITIZER_DIV 3
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_SANITIZER_DIV 8
#elif __has_feature(address_sanitizer)
#define STRESS_SANITIZER_DIV 3
#endif
#endif
#ifndef STRESS_SANITIZER_DIV
#define STRESS_SANITIZER_DIV 1
#endif
#define STRESS_TSAN (STRESS_SANITIZER_DIV == 8)

// A "Key:  N kB" line of /proc/self/status (key with its colon), in KiB; -1 if absent.
static inline long status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, strlen(key)) == 0) kb = atol(line + strlen(key));
    if (f != NULL) fclose(f);
    return kb;
}

static inline long stress_scaled(long n) {
    long pct = 100;
    const char *s = getenv("HAKMEM_TEST_SCALE");
    if (s && *s) pct = strtol(s, NULL, 10);
    if (pct < 1) pct = 1;
    long v = n * pct / 100 / STRESS_SANITIZER_DIV;
    return v < 1 ? 1 : v;
}

// xorshift64*: one generator per thread, seeded deterministically.
typedef struct {
    uint64_t s;
} rng_t;

static inline void rng_seed(rng_t *r, uint64_t seed) {
    r->s = seed * 0x9E3779B97F4A7C15ull + 1;
}
static inline uint64_t rng_next(rng_t *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi) { // inclusive
    return lo + (size_t)(rng_next(r) % (hi - lo + 1));
}

// The pattern of a block: 64-bit words derived from a key (the block's address when it was
// written) and its size, so that a block handed out twice, overwritten by a neighbour or moved
// shows up. Blocks up to 2 KiB get every byte; larger ones their first and last KiB completely
// and one word per 64 bytes (every cache line) in between, or per 512 bytes above 64 KiB.
static inline uint64_t pattern_word(uintptr_t key, size_t size, size_t off) {
    uint64_t x = (uint64_t)key ^ ((uint64_t)size << 32) ^ (uint64_t)off * 0x100000001B3ull;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 32);
}

// Apply `op` (fill or check) to byte range [from, to) word by word.
static inline int pattern_range(unsigned char *b, size_t from, size_t to, uintptr_t key,
                                size_t size, int fill) {
    size_t i = from;
    for (; i + 8 <= to; i += 8) {
        uint64_t w = pattern_word(key, size, i);
        if (fill) {
            memcpy(b + i, &w, 8);
        } else {
            uint64_t v;
            memcpy(&v, b + i, 8);
            if (v != w) return 0;
        }
    }
    if (i < to) {
        uint64_t w = pattern_word(key, size, i);
        if (fill)
            memcpy(b + i, &w, to - i);
        else if (memcmp(b + i, &w, to - i) != 0)
            return 0;
    }
    return 1;
}

static inline int pattern_apply(void *p, size_t size, uintptr_t key, int fill) {
    unsigned char *b = p;
    if (size <= 2 * KiB) return pattern_range(b, 0, size, key, size, fill);
    if (!pattern_range(b, 0, KiB, key, size, fill)) return 0;
    if (!pattern_range(b, size - KiB, size, key, size, fill)) return 0;
    size_t stride = size > 64 * KiB ? 512 : 64;
    for (size_t off = KiB; off + 8 <= size - KiB; off += stride)
        if (!pattern_range(b, off, off + 8, key, size, fill)) return 0;
    return 1;
}

static inline void pattern_fill(void *p, size_t size) {
    pattern_apply(p, size, (uintptr_t)p, 1);
}
// 1 if the block still holds the pattern written by pattern_fill.
static inline int pattern_check(void *p, size_t size) {
    return pattern_apply(p, size, (uintptr_t)p, 0);
}

static inline int frontend_of(size_t size) {
    return size <= 1024 ? 0 : size <= 32768 ? 1 : size <= 1835008 ? 2 : 3;
}

static inline void stats_print_delta(const char *what, const hak_stats_t *a, const hak_stats_t *b) {
    static const char *names[4] = {"tiny", "mid", "large", "huge"};
    for (int i = 0; i < 4; i++)
        printf("%s: %s allocs=%llu frees=%llu\n", what, names[i],
               (unsigned long long)(b->allocs[i] - a->allocs[i]),
               (unsigned long long)(b->frees[i] - a->frees[i]));
    printf(
        "%s: remote_frees=%llu refills=%llu drains=%llu claimed=%llu released=%llu abandoned=%llu "
        "adopted=%llu segments_mapped=%llu purged=%llu\n",
        what, (unsigned long long)(b->remote_frees - a->remote_frees),
        (unsigned long long)(b->refills - a->refills), (unsigned long long)(b->drains - a->drains),
        (unsigned long long)(b->slabs_claimed - a->slabs_claimed),
        (unsigned long long)(b->slabs_released - a->slabs_released),
        (unsigned long long)(b->slabs_abandoned - a->slabs_abandoned),
        (unsigned long long)(b->slabs_adopted - a->slabs_adopted),
        (unsigned long long)(b->segments_mapped - a->segments_mapped),
        (unsigned long long)(b->segments_purged - a->segments_purged));
}

#endif
