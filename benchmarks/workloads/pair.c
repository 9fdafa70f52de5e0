/*
 * pair - the cheapest possible use of an allocator: malloc one block, write one byte, free it.
 *
 *   pair <size> <pairs>
 *
 * Runs `p = malloc(size); p[0] = byte; free(p);` <pairs> times. The store goes through a volatile
 * pointer so that no compiler can drop the pair. Meant for instruction counts rather than timing:
 * benchmarks/runner/instructions.py runs it under callgrind with <pairs> and 2 x <pairs>, and the
 * difference divided by <pairs> is the cost of one malloc+free pair (start-up cancels out).
 *
 * Prints ops/s where one op is one malloc+free pair.
 */
#include "workload_common.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <size> <pairs>\n", argv[0]);
        return 2;
    }
    uint64_t size = wl_size(argv[1], "size");
    uint64_t pairs = wl_count(argv[2], "pairs");
    if (size == 0 || size > UINT32_MAX) wl_die("need 0 < size < 4 GiB");

    double t0 = wl_now();
    for (uint64_t i = 0; i < pairs; i++) {
        /* No NULL check: it would add two instructions to every pair (a failed malloc crashes on
         * the store instead, which is as loud). */
        void *p = malloc((size_t)size);
        *(volatile unsigned char *)p = (unsigned char)i;
        free(p);
    }
    double secs = wl_now() - t0;

    double ops = secs > 0 ? (double)pairs / secs : 0.0;
    printf("pair: %llu malloc+free pairs of %llu B\n", (unsigned long long)pairs,
           (unsigned long long)size);
    printf("ops/s: %.0f (%.3f s)\n", ops, secs);
    wl_report("pair", "ops_per_sec=%.0f seconds=%.6f peak_rss_kb=%ld", ops, secs,
              wl_peak_rss_kb());
    return 0;
}
