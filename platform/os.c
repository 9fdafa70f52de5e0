#define _GNU_SOURCE // mremap, RTLD_NEXT
#include "platform.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

size_t hak_os_page_size(void) {
    static _Atomic size_t page;
    // relaxed: every thread that finds it unset stores the same value.
    size_t p = atomic_load_explicit(&page, memory_order_relaxed);
    if (HAK_UNLIKELY(p == 0)) {
        p = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&page, p, memory_order_relaxed);
    }
    return p;
}

static void *os_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

static void *reserve_once(size_t size, size_t align) {
    size_t page = hak_os_page_size();
    if (align < page) align = page;
    size = hak_page_round(size);
    if (size == 0 || size + align < size) {
        errno = ENOMEM;
        return NULL;
    }
    // Most mappings land aligned already when the size is a multiple of the alignment; try that
    // first to avoid the over-reserve and trim.
    void *p = os_map(size);
    if (p == NULL) return NULL;
    if (((uintptr_t)p & (align - 1)) == 0) return p;
    munmap(p, size);

    p = os_map(size + align);
    if (p == NULL) return NULL;
    uintptr_t start = (uintptr_t)p;
    uintptr_t aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
    if (aligned > start) munmap(p, aligned - start);
    uintptr_t end = start + size + align;
    if (end > aligned + size) munmap((void *)(aligned + size), end - (aligned + size));
    return (void *)aligned;
}

static bool (*_Atomic pressure_handler)(void);

void hak_os_on_pressure(bool (*release_cached)(void)) {
    // relaxed: set once at start-up, before any reservation that could fail needs it.
    atomic_store_explicit(&pressure_handler, release_cached, memory_order_relaxed);
}

// Under an address-space limit (ulimit -v, a container's) the mappings hakmem keeps cached for
// reuse can be all that stands between a request and success.
void *hak_os_reserve_aligned(size_t size, size_t align) {
    void *p = reserve_once(size, align);
    bool (*release_cached)(void) = atomic_load_explicit(&pressure_handler, memory_order_relaxed);
    if (p == NULL && release_cached != NULL && release_cached()) p = reserve_once(size, align);
    return p;
}

void hak_os_release(void *p, size_t size) { munmap(p, size); }

bool hak_os_move(void *old, size_t old_size, void *dest, size_t new_size) {
    return mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dest) == dest;
}

int64_t hak_clock_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int hak_os_pid(void) { return (int)getpid(); }

uint64_t hak_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool hak_os_decommit(void *p, size_t size) {
    if (hak_options.purge_madv_free && madvise(p, size, MADV_FREE) == 0) return true;
    return madvise(p, size, MADV_DONTNEED) == 0; // also the fallback of kernels without MADV_FREE
}

bool hak_os_decommit_zeroes(void) { return !hak_options.purge_madv_free; }

uint64_t hak_os_random_seed(void) {
    uint64_t r;
    memcpy(&r, (const void *)getauxval(AT_RANDOM), sizeof r);
    return r;
}

void *hak_os_next_symbol(const char *symbol) { return dlsym(RTLD_NEXT, symbol); }

void *hak_os_library(const char *name) { return dlopen(name, RTLD_NOW | RTLD_LOCAL); }

void *hak_os_library_symbol(void *library, const char *symbol) { return dlsym(library, symbol); }
