/*
 * memory - resident memory an allocator costs, and how much it gives back.
 *
 *   memory tiny16 [<count>]   (default 1M)
 *       Allocates <count> blocks of 16 B (15.6 MiB of data for 1M) and writes all of each, then
 *       reads the peak resident set (VmHWM). Frees everything, waits one second, reads VmRSS again.
 *   memory mixed [<count>]    (default 100K)
 *       Allocates <count> blocks of log-uniform random size in 16 B-16 KiB and writes all of each,
 *       frees every other one (a half-freed heap), reads VmRSS against the live data, then frees
 * the rest, waits one second and reads VmRSS again.
 *
 * The array of pointers lives in its own anonymous mapping, not in the allocator under test, and is
 * unmapped before the after-free reading; its size is reported as index_kb. overhead_kb is
 * peak_rss_kb - start_rss_kb - index_kb - data_kb: what the allocator itself costs at its peak.
 * retained_kb is rss_after_free_kb - start_rss_kb: what it still holds a second after the program
 * freed everything (without calling malloc_trim).
 */
#include <math.h>
#include <sys/mman.h>

#include "workload_common.h"

static void **map_index(size_t count, size_t *bytes) {
    *bytes = (count * sizeof(void *) + 4095) & ~(size_t)4095;
    void *p = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) wl_die("mmap of the index failed");
    return p;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int run_tiny16(uint64_t count) {
    long start = wl_rss_kb();
    size_t index_bytes;
    void **ptrs = map_index(count, &index_bytes);

    double t0 = wl_now();
    for (uint64_t i = 0; i < count; i++) {
        unsigned char *p = malloc(16);
        if (!p) wl_die("malloc(16) failed at block %llu", (unsigned long long)i);
        memset(p, (int)(i & 0xff), 16);
        ptrs[i] = p;
    }
    double alloc_secs = wl_now() - t0;
    long peak = wl_peak_rss_kb();
    long full = wl_rss_kb();

    uint64_t check = 0;
    t0 = wl_now();
    for (uint64_t i = 0; i < count; i++) {
        check += wl_peek(ptrs[i]);
        free(ptrs[i]);
    }
    double free_secs = wl_now() - t0;
    munmap(ptrs, index_bytes);
    long freed_now = wl_rss_kb();
    sleep_ms(1000);
    long after = wl_rss_kb();

    long data_kb = (long)(count * 16 / 1024);
    long index_kb = (long)(index_bytes / 1024);
    long overhead = peak - start - index_kb - data_kb;
    printf("memory tiny16: %llu x 16 B = %.1f MiB of data (+ %.1f MiB index)\n",
           (unsigned long long)count, data_kb / 1024.0, index_kb / 1024.0);
    printf("rss: start %.1f MiB, peak %.1f MiB (allocator overhead %.1f MiB), after free %.1f MiB, "
           "1 s later %.1f MiB\n",
           start / 1024.0, peak / 1024.0, overhead / 1024.0, freed_now / 1024.0, after / 1024.0);
    wl_report(
        "memory_tiny16",
        "count=%llu data_kb=%ld index_kb=%ld start_rss_kb=%ld peak_rss_kb=%ld full_rss_kb=%ld "
        "overhead_kb=%ld rss_freed_now_kb=%ld rss_after_free_kb=%ld retained_kb=%ld "
        "alloc_seconds=%.6f free_seconds=%.6f checksum=%llu",
        (unsigned long long)count, data_kb, index_kb, start, peak, full, overhead, freed_now, after,
        after - start, alloc_secs, free_secs, (unsigned long long)check);
    return 0;
}

static int run_mixed(uint64_t count, uint64_t seed) {
    long start = wl_rss_kb();
    size_t index_bytes;
    void **ptrs = map_index(count, &index_bytes);
    size_t sizes_bytes = (count * sizeof(uint32_t) + 4095) & ~(size_t)4095;
    uint32_t *sizes =
        mmap(NULL, sizes_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sizes == MAP_FAILED) wl_die("mmap of the size table failed");

    rng_t rng;
    rng_seed(&rng, seed);
    const double lo = log(16.0), hi = log(16384.0);
    uint64_t data = 0;
    for (uint64_t i = 0; i < count; i++) {
        double u = (double)(rng_next(&rng) >> 11) * (1.0 / 9007199254740992.0);
        sizes[i] = (uint32_t)exp(lo + u * (hi - lo));
        if (sizes[i] < 16) sizes[i] = 16;
        data += sizes[i];
    }
    for (uint64_t i = 0; i < count; i++) {
        void *p = malloc(sizes[i]);
        if (!p) wl_die("malloc(%u) failed", sizes[i]);
        memset(p, (int)(i & 0xff), sizes[i]);
        ptrs[i] = p;
    }
    long peak = wl_peak_rss_kb();

    uint64_t live = data, check = 0;
    for (uint64_t i = 0; i < count; i += 2) {
        check += wl_peek(ptrs[i]);
        free(ptrs[i]);
        ptrs[i] = NULL;
        live -= sizes[i];
    }
    sleep_ms(100);
    long half = wl_rss_kb();
    for (uint64_t i = 1; i < count; i += 2) {
        check += wl_peek(ptrs[i]);
        free(ptrs[i]);
    }
    munmap(ptrs, index_bytes);
    munmap(sizes, sizes_bytes);
    long freed_now = wl_rss_kb();
    sleep_ms(1000);
    long after = wl_rss_kb();

    long data_kb = (long)(data / 1024), live_kb = (long)(live / 1024);
    long index_kb = (long)((index_bytes + sizes_bytes) / 1024);
    printf("memory mixed: %llu blocks of 16 B-16 KiB = %.1f MiB of data (+ %.1f MiB index)\n",
           (unsigned long long)count, data_kb / 1024.0, index_kb / 1024.0);
    printf("rss: start %.1f MiB, peak %.1f MiB, half freed %.1f MiB (live %.1f MiB), after free "
           "%.1f MiB, "
           "1 s later %.1f MiB\n",
           start / 1024.0, peak / 1024.0, half / 1024.0, live_kb / 1024.0, freed_now / 1024.0,
           after / 1024.0);
    wl_report("memory_mixed",
              "count=%llu data_kb=%ld index_kb=%ld start_rss_kb=%ld peak_rss_kb=%ld "
              "overhead_kb=%ld live_half_kb=%ld rss_half_kb=%ld rss_freed_now_kb=%ld "
              "rss_after_free_kb=%ld retained_kb=%ld checksum=%llu",
              (unsigned long long)count, data_kb, index_kb, start, peak,
              peak - start - index_kb - data_kb, live_kb, half, freed_now, after, after - start,
              (unsigned long long)check);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "tiny16";
    if (argc > 3) wl_die("usage: %s [tiny16|mixed] [<count>]", argv[0]);
    if (strcmp(mode, "tiny16") == 0)
        return run_tiny16(argc > 2 ? wl_count(argv[2], "count") : 1000000);
    if (strcmp(mode, "mixed") == 0)
        return run_mixed(argc > 2 ? wl_count(argv[2], "count") : 100000, 42);
    wl_die("usage: %s [tiny16|mixed] [<count>]", argv[0]);
    return 2;
}
