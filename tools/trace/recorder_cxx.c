// C++ new and delete, recorded and forwarded to the next definition (the allocator's own, or the
// C++ library's, which calls malloc: the recorder is busy then, so that call is not recorded
// twice). Aligned forms are recorded as OP_MEMALIGN and their deletes as OP_DELETE: a replay frees
// every block with the function that matches its allocation. The nothrow forms are recorded as
// the plain ones.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>

#include "recorder.h"

// The next definition of a symbol, looked up on first use (NULL: none, e.g. no C++ library: then
// the C library's functions stand in).
static void *next_of(void **slot, const char *name) {
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (f == NULL) {
        TRACE_NEXT_READY();
        f = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}
typedef void *(*new_fn)(size_t);
typedef void *(*new_nothrow_fn)(size_t, const void *);
typedef void *(*new_aligned_fn)(size_t, size_t);
typedef void *(*new_aligned_nothrow_fn)(size_t, size_t, const void *);

static void *slot_new, *slot_new_array, *slot_new_nt, *slot_new_array_nt, *slot_new_al,
    *slot_new_array_al, *slot_new_al_nt, *slot_new_array_al_nt;
static void *slot_del, *slot_del_array, *slot_del_sized, *slot_del_array_sized, *slot_del_al,
    *slot_del_array_al, *slot_del_sized_al, *slot_del_array_sized_al, *slot_del_nt,
    *slot_del_array_nt;

static void *plain_new(void **slot, const char *name, size_t size, uint8_t op) {
    new_fn next = (new_fn)next_of(slot, name);
    RECORD_ALLOC(op, next ? next(size) : trace_next.malloc(size), 2, size, (uintptr_t)p_, 0);
}
static void *nothrow_new(void **slot, const char *name, size_t size, const void *tag, uint8_t op) {
    new_nothrow_fn next = (new_nothrow_fn)next_of(slot, name);
    RECORD_ALLOC(op, next ? next(size, tag) : trace_next.malloc(size), 2, size, (uintptr_t)p_, 0);
}
static void *aligned_new(void **slot, const char *name, size_t size, size_t align) {
    new_aligned_fn next = (new_aligned_fn)next_of(slot, name);
    RECORD_ALLOC(OP_MEMALIGN, next ? next(size, align) : trace_next.aligned_alloc(align, size), 3,
                 align, size, (uintptr_t)p_);
}
static void *aligned_nothrow_new(void **slot, const char *name, size_t size, size_t align,
                                 const void *tag) {
    new_aligned_nothrow_fn next = (new_aligned_nothrow_fn)next_of(slot, name);
    RECORD_ALLOC(OP_MEMALIGN, next ? next(size, align, tag) : trace_next.aligned_alloc(align, size),
                 3, align, size, (uintptr_t)p_);
}

EXPORT void *_Znwm(size_t s) { return plain_new(&slot_new, "_Znwm", s, OP_NEW); }
EXPORT void *_Znam(size_t s) { return plain_new(&slot_new_array, "_Znam", s, OP_NEW_ARRAY); }
EXPORT void *_ZnwmRKSt9nothrow_t(size_t s, const void *t) {
    return nothrow_new(&slot_new_nt, "_ZnwmRKSt9nothrow_t", s, t, OP_NEW);
}
EXPORT void *_ZnamRKSt9nothrow_t(size_t s, const void *t) {
    return nothrow_new(&slot_new_array_nt, "_ZnamRKSt9nothrow_t", s, t, OP_NEW_ARRAY);
}
EXPORT void *_ZnwmSt11align_val_t(size_t s, size_t a) {
    return aligned_new(&slot_new_al, "_ZnwmSt11align_val_t", s, a);
}
EXPORT void *_ZnamSt11align_val_t(size_t s, size_t a) {
    return aligned_new(&slot_new_array_al, "_ZnamSt11align_val_t", s, a);
}
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t s, size_t a, const void *t) {
    return aligned_nothrow_new(&slot_new_al_nt, "_ZnwmSt11align_val_tRKSt9nothrow_t", s, a, t);
}
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t s, size_t a, const void *t) {
    return aligned_nothrow_new(&slot_new_array_al_nt, "_ZnamSt11align_val_tRKSt9nothrow_t", s, a, t);
}

// Every delete: the next definition called with the same arguments (x, y: the size and the
// alignment or the nothrow tag, as the form has them). One pointer type for all forms: on x86-64
// and AArch64 the arguments a form does not take are registers it never reads.
typedef void (*delete_fn)(void *, uintptr_t, uintptr_t);
static void any_delete(void **slot, const char *name, void *p, uintptr_t x, uintptr_t y, uint8_t op) {
    delete_fn next = (delete_fn)next_of(slot, name);
    RECORD_FREE(op, p, next ? next(p, x, y) : trace_next.free(p));
}

EXPORT void _ZdlPv(void *p) { any_delete(&slot_del, "_ZdlPv", p, 0, 0, OP_DELETE); }
EXPORT void _ZdaPv(void *p) { any_delete(&slot_del_array, "_ZdaPv", p, 0, 0, OP_DELETE_ARRAY); }
EXPORT void _ZdlPvm(void *p, size_t s) { any_delete(&slot_del_sized, "_ZdlPvm", p, s, 0, OP_DELETE); }
EXPORT void _ZdaPvm(void *p, size_t s) {
    any_delete(&slot_del_array_sized, "_ZdaPvm", p, s, 0, OP_DELETE_ARRAY);
}
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t a) {
    any_delete(&slot_del_al, "_ZdlPvSt11align_val_t", p, a, 0, OP_DELETE);
}
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t a) {
    any_delete(&slot_del_array_al, "_ZdaPvSt11align_val_t", p, a, 0, OP_DELETE_ARRAY);
}
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t s, size_t a) {
    any_delete(&slot_del_sized_al, "_ZdlPvmSt11align_val_t", p, s, a, OP_DELETE);
}
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t s, size_t a) {
    any_delete(&slot_del_array_sized_al, "_ZdaPvmSt11align_val_t", p, s, a, OP_DELETE_ARRAY);
}
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *t) {
    any_delete(&slot_del_nt, "_ZdlPvRKSt9nothrow_t", p, (uintptr_t)t, 0, OP_DELETE);
}
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *t) {
    any_delete(&slot_del_array_nt, "_ZdaPvRKSt9nothrow_t", p, (uintptr_t)t, 0, OP_DELETE_ARRAY);
}
