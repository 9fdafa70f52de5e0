#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "trace_next.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

// The boot buffer: a bump allocator; each block is preceded by its size (for realloc's copy).
#define BOOT_BYTES (64 * 1024)
static _Alignas(64) char boot[BOOT_BYTES];
static size_t boot_used;

static void *boot_aligned(size_t align, size_t size) {
    if (align < 16) align = 16;
    size_t at = (boot_used + sizeof(size_t) + align - 1) & ~(align - 1);
    if (at + size > BOOT_BYTES || size > BOOT_BYTES) return NULL;
    *(size_t *)(boot + at - sizeof(size_t)) = size;
    boot_used = at + size;
    return boot + at;
}
static void *boot_malloc(size_t size) { return boot_aligned(16, size); }
static void boot_free(void *p) { (void)p; }
static void *boot_calloc(size_t n, size_t size) {
    size_t total;
    return __builtin_mul_overflow(n, size, &total) ? NULL : boot_malloc(total); // zero: static
}
static void *boot_realloc(void *p, size_t size) { return trace_next_boot_realloc(p, size); }
static int boot_posix_memalign(void **out, size_t align, size_t size) {
    *out = boot_aligned(align, size);
    return *out ? 0 : 12; // ENOMEM
}
static void *boot_valloc(size_t size) { return boot_aligned(4096, size); }

trace_next_t trace_next = {boot_malloc,         boot_free,    boot_calloc,
                           boot_realloc,        boot_posix_memalign,
                           boot_aligned,        boot_aligned, boot_valloc,
                           boot_valloc};

bool trace_next_is_boot(const void *p) {
    return (const char *)p >= boot && (const char *)p < boot + BOOT_BYTES;
}

void *trace_next_boot_realloc(void *p, size_t size) {
    void *q = trace_next.malloc(size);
    if (q != NULL && p != NULL) {
        size_t old = trace_next_is_boot(p) ? *(size_t *)((char *)p - sizeof(size_t)) : 0;
        memcpy(q, p, old < size ? old : size);
    }
    return q;
}

bool trace_next_resolving;

void trace_next_resolve(void) {
    if (trace_next_resolving) return; // resolved, or dlsym's own allocations during it
    trace_next_resolving = true;
    trace_next_t next;
#define NEXT(f) *(void **)&next.f = dlsym(RTLD_NEXT, #f)
    NEXT(malloc);
    NEXT(free);
    NEXT(calloc);
    NEXT(realloc);
    NEXT(posix_memalign);
    NEXT(aligned_alloc);
    NEXT(memalign);
    NEXT(valloc);
    NEXT(pvalloc);
#undef NEXT
    // Any that could not be found stays the boot buffer's (which only the first calls need).
    void **dst = (void **)&trace_next, **src = (void **)&next;
    for (size_t i = 0; i < sizeof next / sizeof(void *); i++)
        if (src[i] != NULL) dst[i] = src[i];
}
