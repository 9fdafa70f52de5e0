// The malloc family: hak_* always; the unprefixed names too when built with HAK_OVERRIDE.
#include "hakmem.h"

#include "grow.h"
#include "heap.h"
#include "os_direct.h"
#include "purger.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <string.h>

// ---- lookups -----------------------------------------------------------------------------------

// Usable size of a block, or a one-line report and abort if p is not a block hakmem handed out.
static size_t block_usable(void *p, const char *caller) {
    uintptr_t hdr = segment_header_of(p);
    unsigned what = segmap_get(hdr);
    if (segmap_is_slabs(what)) {
        hak_slab_t *s = segment_slab_at((hak_segment_t *)hdr, p, what);
        if (slab_is_block(s, p)) return s->block_size;
    } else if (what == SEGMAP_HUGE) {
        os_direct_header_t *h = os_direct_header(p);
        if (h != NULL) return h->usable;
    } else if (what == SEGMAP_GROW) {
        return heap_grow_usable((grow_region_t *)hdr, p, caller);
    }
    hak_fatal("%s(): invalid pointer %p", caller, p);
}

static HAK_NOINLINE void *huge_alloc(size_t size, size_t align, bool zero) {
    hak_init();
    return os_direct_alloc(size, align, zero);
}

// The slab class serving `size` bytes aligned to `align` (a power of two), or HAK_NCLASSES for
// a huge block.
static inline unsigned aligned_class(size_t align, size_t size) {
    if (align < 16) align = 16; // every block is 16-byte aligned
    if (align <= 64 * HAK_KiB && size <= HAK_LARGE_MAX &&
        ((size + align - 1) & ~(align - 1)) <= HAK_LARGE_MAX)
        return size_class_aligned(size, align);
    return HAK_NCLASSES;
}

static void *aligned_alloc_any(size_t align, size_t size) {
    unsigned cls = aligned_class(align, size);
    return cls < HAK_NCLASSES ? heap_alloc(cls) : huge_alloc(size, align, false); // os_direct raises align to 16
}

// ---- the API -----------------------------------------------------------------------------------

HAK_EXPORT void *hak_malloc(size_t size) {
    if (HAK_LIKELY(size <= HAK_TINY_MAX)) return heap_alloc(size_class_small(size));
    if (size <= HAK_LARGE_MAX) return heap_alloc(size_class_of(size));
    return huge_alloc(size, 16, false);
}

HAK_EXPORT void hak_free(void *p) {
    uintptr_t hdr = segment_header_of(p);
    unsigned what = segmap_get(hdr);
    // Tiny blocks first, with their slot shift as a constant: the slab's address then does not
    // wait for the segment-map byte (the CPU loads the slab line while the byte's test is
    // predicted), one dependent load fewer on the way to the push.
    if (HAK_LIKELY(what == SEGMAP_TINY)) {
        heap_free((hak_segment_t *)hdr, p, SEGMAP_TINY);
        return;
    }
    if (HAK_LIKELY(segmap_is_slabs(what))) {
        heap_free((hak_segment_t *)hdr, p, what);
        return;
    }
    if (p == NULL) return;
    if (what == SEGMAP_GROW) {
        heap_grow_free((grow_region_t *)hdr, p);
        return;
    }
    os_direct_header_t *h = what == SEGMAP_HUGE ? os_direct_header(p) : NULL;
    if (h == NULL) hak_fatal("free(): invalid pointer %p", p);
    os_direct_free(h);
}

HAK_EXPORT void *hak_calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > HAK_LARGE_MAX) return huge_alloc(total, 16, true);
    void *p = hak_malloc(total);
    if (p != NULL) memset(p, 0, total);
    return p;
}

static HAK_NOINLINE void *realloc_slow(void *p, size_t size, unsigned what) {
    size_t old = block_usable(p, "realloc");
    if (size == 0) { // glibc frees and returns NULL
        hak_free(p);
        return NULL;
    }
    // Shrinking keeps the block unless more than half of it would be idle.
    if (size <= old && size >= old / 2) return p;
    if (size > old && size > HAK_LARGE_MAX && what == SEGMAP_HUGE) {
        void *moved = os_direct_grow(os_direct_header(p), size); // pages move, nothing is copied
        if (moved != NULL) return moved;
    }
    void *q = NULL;
#if HAK_GROW_REGION
    // A block that grew once tends to grow again (buffers, string builders): moved to the top of
    // the thread's grow region, it grows in place from then on, as long as it stays on top.
    if (size > old && what != SEGMAP_HUGE) q = heap_grow_alloc(size);
#endif
    // Elsewhere, half again as much headroom lets the next grows stay in place instead of copying
    // at every size class (growth chains 16 B -> 256 KiB 2.8x faster; doubling was slower, and so
    // was moving blocks of 128 KiB and more to their own mappings to grow them by mremap: 10x
    // slower, fresh pages fault in).
    if (q == NULL && size > old && size <= HAK_LARGE_MAX / 2) q = hak_malloc(size + size / 2);
    if (q == NULL) q = hak_malloc(size);
    if (q == NULL) return NULL; // errno is ENOMEM; p is untouched
    memcpy(q, p, size < old ? size : old);
    hak_free(p);
    return q;
}

HAK_EXPORT void *hak_realloc(void *p, size_t size) {
    if (p == NULL) return hak_malloc(size);
    uintptr_t hdr = segment_header_of(p);
    unsigned what = segmap_get(hdr);
    // A block of the thread's grow region resizes in place while it is the region's last block.
    if (what == SEGMAP_GROW && size != 0 && heap_grow_resize((grow_region_t *)hdr, p, size)) return p;
    return realloc_slow(p, size, what);
}

HAK_EXPORT void *hak_reallocarray(void *p, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_realloc(p, total);
}

// errno is the caller's: only the slow paths (mmap and the like) may touch it, so only they save it.
static HAK_NOINLINE int posix_memalign_slow(void **out, size_t align, size_t size) {
    int saved = errno;
    void *p = aligned_alloc_any(align, size);
    if (p == NULL) return ENOMEM;
    errno = saved;
    *out = p;
    return 0;
}

HAK_EXPORT int hak_posix_memalign(void **out, size_t align, size_t size) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    unsigned cls = aligned_class(align, size);
    void *p = cls < HAK_NCLASSES ? heap_alloc_cached(cls) : NULL;
    if (HAK_UNLIKELY(p == NULL)) return posix_memalign_slow(out, align, size);
    *out = p;
    return 0;
}

HAK_EXPORT void *hak_memalign(size_t align, size_t size) {
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if ((align & (align - 1)) != 0) align = (size_t)1 << (64 - __builtin_clzll(align)); // glibc rounds up
    return aligned_alloc_any(align, size);
}

HAK_EXPORT void *hak_aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_alloc_any(align, size);
}

HAK_EXPORT void *hak_valloc(size_t size) { return aligned_alloc_any(hak_os_page_size(), size); }

HAK_EXPORT void *hak_pvalloc(size_t size) {
    size_t page = hak_os_page_size();
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = size == 0 ? page : (size + page - 1) & ~(page - 1);
    return aligned_alloc_any(page, rounded);
}

HAK_EXPORT size_t hak_malloc_usable_size(void *p) {
    return p == NULL ? 0 : block_usable(p, "malloc_usable_size");
}

HAK_EXPORT int hak_malloc_trim(size_t pad) {
    bool released = heap_trim();
    if (os_direct_trim()) released = true;
    return released ? 1 : 0;
}

// ---- process -----------------------------------------------------------------------------------

static void fork_prepare(void) {
    heap_fork_prepare();
    os_direct_lock();
}
static void fork_parent(void) {
    os_direct_unlock();
    heap_fork_parent();
}
static void fork_child(void) {
    os_direct_reset_lock();
    heap_fork_child();
}

// Runs once the C library is up: the environment is certain to be readable, and registering
// fork handlers can no longer recurse into a first malloc.
__attribute__((constructor(101))) static void hak_startup(void) {
    hak_init();
    hak_options_load();
    hak_fork_hooks_install(fork_prepare, fork_parent, fork_child);
    purger_start();
}

#ifdef HAK_OVERRIDE
// The C library's names, as aliases of the same code (no extra call, no PLT).
#define HAK_ALIAS(name) __attribute__((alias(name), visibility("default"), used))
void *malloc(size_t size) HAK_ALIAS("hak_malloc");
void free(void *p) HAK_ALIAS("hak_free");
void *calloc(size_t count, size_t size) HAK_ALIAS("hak_calloc");
void *realloc(void *p, size_t size) HAK_ALIAS("hak_realloc");
void *reallocarray(void *p, size_t count, size_t size) HAK_ALIAS("hak_reallocarray");
int posix_memalign(void **out, size_t align, size_t size) HAK_ALIAS("hak_posix_memalign");
void *memalign(size_t align, size_t size) HAK_ALIAS("hak_memalign");
void *aligned_alloc(size_t align, size_t size) HAK_ALIAS("hak_aligned_alloc");
void *valloc(size_t size) HAK_ALIAS("hak_valloc");
void *pvalloc(size_t size) HAK_ALIAS("hak_pvalloc");
size_t malloc_usable_size(void *p) HAK_ALIAS("hak_malloc_usable_size");
int malloc_trim(size_t pad) HAK_ALIAS("hak_malloc_trim");

// Tuning knobs of glibc's allocator have no meaning here; accepted and ignored.
HAK_EXPORT int mallopt(int param, int value) { return 1; }

HAK_EXPORT struct mallinfo2 mallinfo2(void) {
    hak_stats_t st;
    hak_stats_get(&st);
    struct mallinfo2 mi = {0};
    mi.arena = st.bytes_mapped - st.huge_live_bytes; // bytes in slab segments
    mi.ordblks = st.segments_mapped;
    mi.hblks = st.allocs[3] - st.frees[3];
    mi.hblkhd = st.huge_live_bytes;
    mi.uordblks = mi.arena;   // in use or cached: not tracked byte by byte
    mi.fordblks = 0;
    return mi;
}

// ---- C++ operators -----------------------------------------------------------------------------
// operator new and delete in every form C++17 declares, so that a C++ program's `new` reaches the
// thread cache in one call, not through the C++ runtime's operator new and then malloc. Only a
// failed allocation leaves hakmem: the C++ runtime's operator new of the same form (the next
// definition after this library) calls the new-handler and throws std::bad_alloc, which C cannot
// do. Without a C++ runtime in the process the throwing forms abort with a diagnostic, the nothrow
// forms return NULL. (An exception thrown there unwinds through these frames: x86-64 code has
// unwind tables by default.)

typedef struct cxx_nothrow cxx_nothrow_t; // std::nothrow_t, passed by reference
typedef void *cxx_new_fn(size_t);
typedef void *cxx_new_nothrow_fn(size_t, const cxx_nothrow_t *);
typedef void *cxx_new_aligned_fn(size_t, size_t);
typedef void *cxx_new_aligned_nothrow_fn(size_t, size_t, const cxx_nothrow_t *);

// A huge block, an empty thread cache, or a failure.
static HAK_NOINLINE void *cxx_new_slow(size_t size) {
    void *p = hak_malloc(size);
    if (p != NULL) return p;
    cxx_new_fn *next = (cxx_new_fn *)dlsym(RTLD_NEXT, "_Znwm");
    if (next == NULL) hak_fatal("operator new(%zu): out of memory", size);
    return next(size);
}

static HAK_NOINLINE void *cxx_new_nothrow_slow(size_t size, const cxx_nothrow_t *tag) {
    void *p = hak_malloc(size);
    if (p != NULL) return p;
    cxx_new_nothrow_fn *next = (cxx_new_nothrow_fn *)dlsym(RTLD_NEXT, "_ZnwmRKSt9nothrow_t");
    return next != NULL ? next(size, tag) : NULL;
}

// An alignment that is not a power of two is left to the C++ runtime (it throws).
static HAK_NOINLINE void *cxx_new_aligned_slow(size_t size, size_t align) {
    void *p = (align & (align - 1)) == 0 ? aligned_alloc_any(align, size) : NULL;
    if (p != NULL) return p;
    cxx_new_aligned_fn *next = (cxx_new_aligned_fn *)dlsym(RTLD_NEXT, "_ZnwmSt11align_val_t");
    if (next == NULL) hak_fatal("operator new(%zu, align %zu): out of memory", size, align);
    return next(size, align);
}

static HAK_NOINLINE void *cxx_new_aligned_nothrow_slow(size_t size, size_t align,
                                                       const cxx_nothrow_t *tag) {
    void *p = (align & (align - 1)) == 0 ? aligned_alloc_any(align, size) : NULL;
    if (p != NULL) return p;
    cxx_new_aligned_nothrow_fn *next = (cxx_new_aligned_nothrow_fn *)dlsym(
        RTLD_NEXT, "_ZnwmSt11align_val_tRKSt9nothrow_t");
    return next != NULL ? next(size, align, tag) : NULL;
}

// A slab class's thread cache inline, as in malloc; everything else (and a failure) in the slow
// functions, so that the fast path needs no stack frame.
static inline void *cxx_cached(size_t size) {
    if (HAK_LIKELY(size <= HAK_TINY_MAX)) return heap_alloc_cached(size_class_small(size));
    return size <= HAK_LARGE_MAX ? heap_alloc_cached(size_class_above_128(size)) : NULL;
}
static void *cxx_new(size_t size) {
    void *p = cxx_cached(size);
    return HAK_LIKELY(p != NULL) ? p : cxx_new_slow(size);
}
static void *cxx_new_nothrow(size_t size, const cxx_nothrow_t *tag) {
    void *p = cxx_cached(size);
    return HAK_LIKELY(p != NULL) ? p : cxx_new_nothrow_slow(size, tag);
}
// The aligned forms as posix_memalign: the class of the size rounded up to the alignment, its
// cache inline. A C++ type's size is a multiple of its alignment, and up to 64 B of alignment
// the plain class of such a size is too (size_class_aligned) on slabs that start 64-byte
// aligned: `new` of an alignas(32) or alignas(64) type takes the plain path.
static inline void *cxx_aligned_cached(size_t size, size_t align) {
    if ((align & (align - 1)) != 0) return NULL;
    if (HAK_LIKELY(align <= HAK_COLOR_ALIGN && size != 0 && (size & (align - 1)) == 0))
        return cxx_cached(size);
    unsigned cls = aligned_class(align, size);
    return cls < HAK_NCLASSES ? heap_alloc_cached(cls) : NULL;
}
static void *cxx_new_aligned(size_t size, size_t align) {
    void *p = cxx_aligned_cached(size, align);
    return HAK_LIKELY(p != NULL) ? p : cxx_new_aligned_slow(size, align);
}
static void *cxx_new_aligned_nothrow(size_t size, size_t align, const cxx_nothrow_t *tag) {
    void *p = cxx_aligned_cached(size, align);
    return HAK_LIKELY(p != NULL) ? p : cxx_new_aligned_nothrow_slow(size, align, tag);
}

// The mangled names (Itanium C++ ABI); new[] is new, and every delete is free (the sized and
// aligned forms' arguments are not needed to find the block).
#define HAK_CXX(symbol, target) __asm__(symbol) HAK_ALIAS(target)
cxx_new_fn cxx_op_Znwm HAK_CXX("_Znwm", "cxx_new");
cxx_new_fn cxx_op_Znam HAK_CXX("_Znam", "cxx_new");
cxx_new_nothrow_fn cxx_op_ZnwmRKSt9nothrow_t HAK_CXX("_ZnwmRKSt9nothrow_t", "cxx_new_nothrow");
cxx_new_nothrow_fn cxx_op_ZnamRKSt9nothrow_t HAK_CXX("_ZnamRKSt9nothrow_t", "cxx_new_nothrow");
cxx_new_aligned_fn cxx_op_ZnwmSt11align_val_t HAK_CXX("_ZnwmSt11align_val_t", "cxx_new_aligned");
cxx_new_aligned_fn cxx_op_ZnamSt11align_val_t HAK_CXX("_ZnamSt11align_val_t", "cxx_new_aligned");
cxx_new_aligned_nothrow_fn cxx_op_ZnwmSt11align_val_tRKSt9nothrow_t
    HAK_CXX("_ZnwmSt11align_val_tRKSt9nothrow_t", "cxx_new_aligned_nothrow");
cxx_new_aligned_nothrow_fn cxx_op_ZnamSt11align_val_tRKSt9nothrow_t
    HAK_CXX("_ZnamSt11align_val_tRKSt9nothrow_t", "cxx_new_aligned_nothrow");
// The extra arguments of the sized, aligned and nothrow deletes arrive in registers that hak_free
// does not read (SysV calling convention), so they are declared here as free's own type.
typedef void cxx_delete_fn(void *);
cxx_delete_fn cxx_op_ZdlPv HAK_CXX("_ZdlPv", "hak_free");
cxx_delete_fn cxx_op_ZdaPv HAK_CXX("_ZdaPv", "hak_free");
cxx_delete_fn cxx_op_ZdlPvm HAK_CXX("_ZdlPvm", "hak_free");
cxx_delete_fn cxx_op_ZdaPvm HAK_CXX("_ZdaPvm", "hak_free");
cxx_delete_fn cxx_op_ZdlPvRKSt9nothrow_t HAK_CXX("_ZdlPvRKSt9nothrow_t", "hak_free");
cxx_delete_fn cxx_op_ZdaPvRKSt9nothrow_t HAK_CXX("_ZdaPvRKSt9nothrow_t", "hak_free");
cxx_delete_fn cxx_op_ZdlPvSt11align_val_t HAK_CXX("_ZdlPvSt11align_val_t", "hak_free");
cxx_delete_fn cxx_op_ZdaPvSt11align_val_t HAK_CXX("_ZdaPvSt11align_val_t", "hak_free");
cxx_delete_fn cxx_op_ZdlPvmSt11align_val_t HAK_CXX("_ZdlPvmSt11align_val_t", "hak_free");
cxx_delete_fn cxx_op_ZdaPvmSt11align_val_t HAK_CXX("_ZdaPvmSt11align_val_t", "hak_free");
cxx_delete_fn cxx_op_ZdlPvSt11align_val_tRKSt9nothrow_t
    HAK_CXX("_ZdlPvSt11align_val_tRKSt9nothrow_t", "hak_free");
cxx_delete_fn cxx_op_ZdaPvSt11align_val_tRKSt9nothrow_t
    HAK_CXX("_ZdaPvSt11align_val_tRKSt9nothrow_t", "hak_free");
#endif
