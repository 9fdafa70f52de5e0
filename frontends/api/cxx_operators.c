// The C++ operators new and delete in every form C++17 declares, so that a C++ program's `new`
// reaches the thread cache in one call, not through the C++ runtime's operator new and then
// malloc. Only a failed allocation leaves hakmem: the C++ runtime's operator new of the same form
// (the next definition after this library) calls the new-handler and throws std::bad_alloc, which
// C cannot do. Without a C++ runtime in the process the throwing forms abort with a diagnostic,
// the nothrow forms return NULL. (An exception thrown there unwinds through these frames: x86-64
// code has unwind tables by default.) Built with HAK_OVERRIDE only, like the malloc family's names.
#include "hakmem.h"

#include "alloc.h"

#ifdef HAK_OVERRIDE

typedef struct cxx_nothrow cxx_nothrow_t; // std::nothrow_t, passed by reference
typedef void *cxx_new_fn(size_t);
typedef void *cxx_new_nothrow_fn(size_t, const cxx_nothrow_t *);
typedef void *cxx_new_aligned_fn(size_t, size_t);
typedef void *cxx_new_aligned_nothrow_fn(size_t, size_t, const cxx_nothrow_t *);

// A huge block, an empty thread cache, or a failure.
static HAK_NOINLINE void *cxx_new_slow(size_t size) {
    void *p = hak_malloc(size);
    if (p != NULL) return p;
    cxx_new_fn *next = (cxx_new_fn *)hak_os_next_symbol("_Znwm");
    if (next == NULL) hak_fatal("operator new(%zu): out of memory", size);
    return next(size);
}

static HAK_NOINLINE void *cxx_new_nothrow_slow(size_t size, const cxx_nothrow_t *tag) {
    void *p = hak_malloc(size);
    if (p != NULL) return p;
    cxx_new_nothrow_fn *next = (cxx_new_nothrow_fn *)hak_os_next_symbol("_ZnwmRKSt9nothrow_t");
    return next != NULL ? next(size, tag) : NULL;
}

// An alignment that is not a power of two is left to the C++ runtime (it throws).
static HAK_NOINLINE void *cxx_new_aligned_slow(size_t size, size_t align) {
    void *p = (align & (align - 1)) == 0 ? aligned_alloc_any(align, size) : NULL;
    if (p != NULL) return p;
    cxx_new_aligned_fn *next = (cxx_new_aligned_fn *)hak_os_next_symbol("_ZnwmSt11align_val_t");
    if (next == NULL) hak_fatal("operator new(%zu, align %zu): out of memory", size, align);
    return next(size, align);
}

static HAK_NOINLINE void *cxx_new_aligned_nothrow_slow(size_t size, size_t align,
                                                       const cxx_nothrow_t *tag) {
    void *p = (align & (align - 1)) == 0 ? aligned_alloc_any(align, size) : NULL;
    if (p != NULL) return p;
    cxx_new_aligned_nothrow_fn *next =
        (cxx_new_aligned_nothrow_fn *)hak_os_next_symbol("_ZnwmSt11align_val_tRKSt9nothrow_t");
    return next != NULL ? next(size, align, tag) : NULL;
}

// A slab class's thread cache inline, as in malloc; everything else (and a failure) in the slow
// functions, so that the fast path needs no stack frame.
static inline void *cxx_cached(size_t size) {
    if (HAK_LIKELY(size <= HAK_TINY_MAX))
        return heap_alloc_cached_from(heap_cache_at(size_class_small_entry(size)));
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

// Every delete is free (the sized and aligned forms' arguments are not needed to find the block).
static void cxx_delete(void *p) { free_any(p); }

// The mangled names (Itanium C++ ABI); new[] is new.
#define HAK_CXX(symbol, target)                                                                    \
    __asm__(symbol) __attribute__((alias(target), visibility("default"), used))
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
// The extra arguments of the sized, aligned and nothrow deletes arrive in registers that free does
// not read (SysV calling convention), so they are declared here as free's own type.
typedef void cxx_delete_fn(void *);
cxx_delete_fn cxx_op_ZdlPv HAK_CXX("_ZdlPv", "cxx_delete");
cxx_delete_fn cxx_op_ZdaPv HAK_CXX("_ZdaPv", "cxx_delete");
cxx_delete_fn cxx_op_ZdlPvm HAK_CXX("_ZdlPvm", "cxx_delete");
cxx_delete_fn cxx_op_ZdaPvm HAK_CXX("_ZdaPvm", "cxx_delete");
cxx_delete_fn cxx_op_ZdlPvRKSt9nothrow_t HAK_CXX("_ZdlPvRKSt9nothrow_t", "cxx_delete");
cxx_delete_fn cxx_op_ZdaPvRKSt9nothrow_t HAK_CXX("_ZdaPvRKSt9nothrow_t", "cxx_delete");
cxx_delete_fn cxx_op_ZdlPvSt11align_val_t HAK_CXX("_ZdlPvSt11align_val_t", "cxx_delete");
cxx_delete_fn cxx_op_ZdaPvSt11align_val_t HAK_CXX("_ZdaPvSt11align_val_t", "cxx_delete");
cxx_delete_fn cxx_op_ZdlPvmSt11align_val_t HAK_CXX("_ZdlPvmSt11align_val_t", "cxx_delete");
cxx_delete_fn cxx_op_ZdaPvmSt11align_val_t HAK_CXX("_ZdaPvmSt11align_val_t", "cxx_delete");
cxx_delete_fn cxx_op_ZdlPvSt11align_val_tRKSt9nothrow_t
    HAK_CXX("_ZdlPvSt11align_val_tRKSt9nothrow_t", "cxx_delete");
cxx_delete_fn cxx_op_ZdaPvSt11align_val_tRKSt9nothrow_t
    HAK_CXX("_ZdaPvSt11align_val_tRKSt9nothrow_t", "cxx_delete");
#endif
