/*
 * pair_cxx - the C++ form of `pair`: operator new one block, write one byte, sized operator delete.
 *
 *   pair_cxx <size> <pairs> [<align>]
 *
 * What `p = new T; ...; delete p;` costs a C++ program (its delete is the sized one since C++14).
 * Under an allocator that defines operator new and delete they are its own entry points; under one
 * that does not, the C++ runtime's operators call its malloc and free. The operators are called
 * explicitly: a new-expression whose block is not otherwise used may be elided by the compiler.
 * With <align>, the aligned forms (`new` of a type declared alignas(<align>)).
 * The runner's cxx_new_delete case, and instruction counts (benchmarks/runner/instructions.py
 * --cxx).
 *
 * Prints ops/s where one op is one new+delete pair.
 */
#include <new>

#include "workload_common.h"

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s <size> <pairs> [<align>]\n", argv[0]);
        return 2;
    }
    uint64_t size = wl_size(argv[1], "size");
    uint64_t pairs = wl_count(argv[2], "pairs");
    uint64_t align = argc == 4 ? wl_size(argv[3], "align") : 0;
    if (size == 0 || size > UINT32_MAX) wl_die("need 0 < size < 4 GiB");
    if (argc == 4 && (align == 0 || (align & (align - 1)) != 0)) wl_die("align must be a power of two");

    double t0 = wl_now();
    if (align == 0) {
        for (uint64_t i = 0; i < pairs; i++) {
            void *p = ::operator new(static_cast<size_t>(size));
            *static_cast<volatile unsigned char *>(p) = static_cast<unsigned char>(i);
            ::operator delete(p, static_cast<size_t>(size));
        }
    } else {
        std::align_val_t al{static_cast<size_t>(align)};
        for (uint64_t i = 0; i < pairs; i++) {
            void *p = ::operator new(static_cast<size_t>(size), al);
            *static_cast<volatile unsigned char *>(p) = static_cast<unsigned char>(i);
            ::operator delete(p, static_cast<size_t>(size), al);
        }
    }
    double secs = wl_now() - t0;

    double ops = secs > 0 ? static_cast<double>(pairs) / secs : 0.0;
    printf("pair_cxx: %llu new+delete pairs of %llu B\n", static_cast<unsigned long long>(pairs),
           static_cast<unsigned long long>(size));
    printf("ops/s: %.0f (%.3f s)\n", ops, secs);
    wl_report("pair_cxx", "ops_per_sec=%.0f seconds=%.6f peak_rss_kb=%ld", ops, secs,
              wl_peak_rss_kb());
    return 0;
}
