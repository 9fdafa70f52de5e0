// What the conformance programs compiled twice share: API(f) names the function under test (the
// hak_ one, or with HAKMEM_CONFORMANCE_PLAIN=1 the C library's name hakmem exports), and helpers
// that keep the compiler from folding a malloc/free pair away or reasoning about a size.
#ifndef HAK_CONFORMANCE_COMMON_H
#define HAK_CONFORMANCE_COMMON_H

#include <stddef.h>

#include "hakmem.h"

#ifndef HAKMEM_CONFORMANCE_PLAIN
#define HAKMEM_CONFORMANCE_PLAIN 0
#endif
#if HAKMEM_CONFORMANCE_PLAIN
#define API(f) f
// C23's, which this C library's headers do not declare yet.
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);
#else
#define API(f) hak_##f
#endif

#define LARGE_MAX ((size_t)1835008) // the largest slab class; above it each block is a mapping

// Hide a value from the optimiser.
static inline size_t opaque(size_t v) {
    __asm__ volatile("" : "+r"(v));
    return v;
}
static inline void *escape(void *p) {
    __asm__ volatile("" : "+r"(p)::"memory");
    return p;
}

#endif
