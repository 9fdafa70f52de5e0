// The malloc family: hak_* always; the unprefixed names too when built with HAK_OVERRIDE.
#include "hakmem.h"

#include "alloc.h"
#include "maintenance.h"
#include "purger.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>

// ---- lookups ------------------------------------------------------------------------------------

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
    } else if (what == SEGMAP_SAMPLED) {
        return prof_block_usable(p, caller);
    }
    hak_fatal("%s(): invalid pointer %p", caller, p);
}

static HAK_NOINLINE void *huge_alloc(size_t size, size_t align, bool zero) {
    hak_init();
    void *p = os_direct_alloc(size, align, zero);
    if (p != NULL && hak_prof_rate != 0)
        prof_note_huge(&os_direct_header(p)->sample, size, __builtin_return_address(0));
    return p;
}

void *aligned_alloc_any(size_t align, size_t size) {
    unsigned cls = aligned_class(align, size);
    return cls < HAK_NCLASSES ? heap_alloc(cls)
                              : huge_alloc(size, align, false); // os_direct raises align to 16
}

// ---- the API ------------------------------------------------------------------------------------

HAK_EXPORT void *hak_malloc(size_t size) {
    if (HAK_LIKELY(size <= HAK_TINY_MAX))
        return heap_alloc_from(heap_cache_at(size_class_small_entry(size)));
    if (size <= HAK_LARGE_MAX) return heap_alloc(size_class_of(size));
    return huge_alloc(size, 16, false);
}

HAK_EXPORT void hak_free(void *p) { free_any(p); }

HAK_NOINLINE void free_other(void *p, unsigned what) {
    if (p == NULL) return;
    if (what == SEGMAP_GROW) {
        heap_grow_free((grow_region_t *)segment_header_of(p), p);
        return;
    }
    if (what == SEGMAP_SAMPLED) {
        prof_free_block(p, "free");
        return;
    }
    os_direct_header_t *h = what == SEGMAP_HUGE ? os_direct_header(p) : NULL;
    if (h == NULL) hak_fatal("free(): invalid pointer %p", p);
    if (h->sample != NULL) prof_forget_huge(h->sample);
    os_direct_free(h);
}

// The size and alignment are not needed to find the block.
HAK_EXPORT void hak_free_sized(void *p, size_t size) { free_any(p); }
HAK_EXPORT void hak_free_aligned_sized(void *p, size_t align, size_t size) { free_any(p); }

HAK_EXPORT size_t hak_good_size(size_t size) {
    return size <= HAK_LARGE_MAX ? hak_class_size[size_class_of(size)] : os_direct_good_size(size);
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

// realloc of a block already freed (it would be copied from and freed again): the block this
// thread freed last in every preset, any freed block where freed blocks are marked.
static void check_not_freed(void *p, unsigned what, const char *caller) {
    if (!segmap_is_slabs(what)) return;
    hak_slab_t *s = segment_slab_at((hak_segment_t *)segment_header_of(p), p, what);
    if (!slab_is_block(s, p)) return; // block_usable says so
    heap_check_not_just_freed(s, p, caller);
    heap_check_unmarked(p, caller);
}

static HAK_NOINLINE void *realloc_slow(void *p, size_t size, unsigned what) {
    size_t old = block_usable(p, "realloc");
    check_not_freed(p, what, "realloc");
    if (size == 0) { // glibc frees and returns NULL
        hak_free(p);
        return NULL;
    }
    // Shrinking keeps the block unless more than half of it would be idle.
    if (size <= old && size >= old / 2) return p;
    // A sampled huge block keeps its record where it is: it moves by copy.
    if (size > old && size > HAK_LARGE_MAX && what == SEGMAP_HUGE && os_direct_header(p)->sample == NULL) {
        void *moved = os_direct_grow(os_direct_header(p), size); // pages move, nothing is copied
        if (moved != NULL) return moved;
    }
    void *q = NULL;
    // A block that grew once tends to grow again (buffers, string builders): moved to the top of
    // the thread's grow region, it grows in place from then on, as long as it stays on top.
    if (size > old && what != SEGMAP_HUGE) q = heap_grow_alloc(size);
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
    if (what == SEGMAP_GROW && size != 0 && heap_grow_resize((grow_region_t *)hdr, p, size))
        return p;
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

// errno is the caller's: only the slow paths (mmap and the like) may touch it, so only they save
// it.
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
    if ((align & (align - 1)) != 0)
        align = (size_t)1 << (64 - __builtin_clzll(align)); // glibc rounds up
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
    size_t rounded = size == 0 ? page : hak_page_round(size);
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

// ---- process ------------------------------------------------------------------------------------

// After hak_init (which a first malloc may already have run): registering fork handlers and
// starting a thread allocate, so they wait for the C library to be up, outside any malloc.
__attribute__((constructor(101))) static void hak_startup(void) {
    hak_init();
    hak_fork_hooks_install();
    purger_start();
    prof_start();
}

__attribute__((destructor)) static void hak_shutdown(void) { prof_exit(); }

HAK_EXPORT int hak_prof_dump(const char *path) { return prof_dump(path); }

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
void free_sized(void *p, size_t size) HAK_ALIAS("hak_free_sized");
void free_aligned_sized(void *p, size_t align, size_t size) HAK_ALIAS("hak_free_aligned_sized");

// Tuning knobs of glibc's allocator have no meaning here; accepted and ignored.
HAK_EXPORT int mallopt(int param, int value) { return 1; }
#endif
