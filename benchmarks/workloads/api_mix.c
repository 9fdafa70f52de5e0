/*
 * api_mix - the malloc family beyond malloc/free: realloc growth chains and aligned allocations.
 *
 *   api_mix realloc <chains> <max-size> <seed>
 *       Grows <chains> buffers one after another from 16 B to <max-size> by realloc, each step
 * adding a random 1-25% (as a string builder or a vector does), checking the bytes written so far
 *       survived the move. One op = one realloc.
 *   api_mix aligned <iterations> <working-set> <seed>
 *       Random churn like random_mixed over a working set, where each new block comes from
 *       posix_memalign / aligned_alloc / memalign with an alignment from 16 B to 4 KiB and a size
 * of 16 B-8 KiB (drawn into a table before the timed loop). One op = one step. A result that is not
 * aligned as asked is counted (misaligned=N) and reported once on stderr, not fatal.
 */
#include <malloc.h>

#include "workload_common.h"

static int run_realloc(uint64_t chains, uint64_t max_size, uint64_t seed) {
    rng_t rng;
    rng_seed(&rng, seed);
    size_t len = 1 << 12;
    uint8_t *pct = malloc(len);
    if (!pct) wl_die("out of memory");
    for (size_t i = 0; i < len; i++)
        pct[i] = (uint8_t)rng_range(&rng, 1, 25);

    uint64_t ops = 0, check = 0, k = 0;
    double t0 = wl_now();
    for (uint64_t c = 0; c < chains; c++) {
        size_t size = 16;
        unsigned char *buf = malloc(size);
        if (!buf) wl_die("malloc failed");
        buf[0] = (unsigned char)c;
        buf[size - 1] = (unsigned char)size;
        while (size < max_size) {
            size_t grow = size * pct[k++ & (len - 1)] / 100;
            size_t next = size + (grow < 16 ? 16 : grow);
            unsigned char *nb = realloc(buf, next);
            if (!nb) wl_die("realloc(%zu) failed", next);
            if (nb[0] != (unsigned char)c || nb[size - 1] != (unsigned char)size)
                wl_die("realloc lost the contents of a %zu B block", size);
            buf = nb;
            size = next;
            buf[size - 1] = (unsigned char)size;
            ops++;
        }
        check += buf[0];
        free(buf);
    }
    double secs = wl_now() - t0;
    free(pct);
    long peak = wl_peak_rss_kb();
    double rate = (double)ops / secs;
    printf("api_mix realloc: %llu chains 16 B -> %llu B, %llu reallocs\n",
           (unsigned long long)chains, (unsigned long long)max_size, (unsigned long long)ops);
    printf("ops/s: %.0f (%.3f s)\n", rate, secs);
    wl_report("api_mix_realloc", "ops_per_sec=%.0f seconds=%.6f peak_rss_kb=%ld checksum=%llu",
              rate, secs, peak, (unsigned long long)check);
    return 0;
}

typedef struct {
    uint32_t slot;
    uint16_t size_16;   /* size in units of 16 B, 1..512 */
    uint8_t align_log2; /* 4..12 */
    uint8_t api;        /* 0 posix_memalign, 1 aligned_alloc, 2 memalign */
} astep_t;

static int run_aligned(uint64_t iters, uint64_t ws, uint64_t seed) {
    if (ws == 0 || ws > UINT32_MAX) wl_die("need 0 < working-set");
    size_t len = wl_table_len(iters, (size_t)1 << 18);
    astep_t *tab = malloc(len * sizeof *tab);
    void **slots = calloc(ws, sizeof *slots);
    if (!tab || !slots) wl_die("out of memory");
    rng_t rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < len; i++) {
        tab[i].slot = (uint32_t)(rng_next(&rng) % ws);
        tab[i].size_16 = (uint16_t)rng_range(&rng, 1, 512);
        tab[i].align_log2 = (uint8_t)rng_range(&rng, 4, 12);
        tab[i].api = (uint8_t)rng_range(&rng, 0, 2);
    }
    uint64_t check = 0, misaligned = 0;
    double t0 = wl_now();
    for (uint64_t i = 0; i < iters; i++) {
        astep_t st = tab[i & (len - 1)];
        void *old = slots[st.slot];
        if (old) {
            check += wl_peek(old);
            free(old);
        }
        size_t size = (size_t)st.size_16 * 16, align = (size_t)1 << st.align_log2;
        void *p = NULL;
        if (st.api == 0) {
            if (posix_memalign(&p, align, size) != 0) p = NULL;
        } else if (st.api == 1) {
            size = (size + align - 1) & ~(align - 1); /* C11: a multiple of the alignment */
            p = aligned_alloc(align, size);
        } else {
            p = memalign(align, size);
        }
        if (!p) wl_die("aligned allocation of %zu B at %zu failed", size, align);
        if ((uintptr_t)p & (align - 1)) {
            if (misaligned++ == 0)
                fprintf(stderr, "api_mix: %s(%zu, %zu) returned %p, not aligned\n",
                        st.api == 0   ? "posix_memalign"
                        : st.api == 1 ? "aligned_alloc"
                                      : "memalign",
                        align, size, p);
        }
        wl_touch(p, size, i);
        slots[st.slot] = p;
    }
    double secs = wl_now() - t0;
    long peak = wl_peak_rss_kb();
    for (uint64_t s = 0; s < ws; s++)
        free(slots[s]);
    free(slots);
    free(tab);
    double rate = (double)iters / secs;
    printf("api_mix aligned: %llu steps, working set %llu, 16 B-8 KiB at 16 B-4 KiB alignment\n",
           (unsigned long long)iters, (unsigned long long)ws);
    printf("ops/s: %.0f (%.3f s), %llu results not aligned as asked\n", rate, secs,
           (unsigned long long)misaligned);
    wl_report("api_mix_aligned",
              "ops_per_sec=%.0f seconds=%.6f peak_rss_kb=%ld misaligned=%llu checksum=%llu", rate,
              secs, peak, (unsigned long long)misaligned, (unsigned long long)check);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "realloc") == 0)
        return run_realloc(wl_count(argv[2], "chains"), wl_size(argv[3], "max-size"),
                           wl_count(argv[4], "seed"));
    if (argc == 5 && strcmp(argv[1], "aligned") == 0)
        return run_aligned(wl_count(argv[2], "iterations"), wl_count(argv[3], "working-set"),
                           wl_count(argv[4], "seed"));
    fprintf(stderr,
            "usage: %s realloc <chains> <max-size> <seed>\n"
            "       %s aligned <iterations> <working-set> <seed>\n",
            argv[0], argv[0]);
    return 2;
}
