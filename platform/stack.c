#include "platform.h"

#include <elf.h>
#include <execinfo.h>
#include <link.h>
#include <sys/auxv.h>

// Two unwinders over the unwind tables (programs built without frame pointers unwind too):
// glibc's backtrace (libgcc's unwinder) keeps no per-thread state but decodes every frame anew;
// libunwind's unw_backtrace keeps a per-thread cache of decoded steps, which makes a thread's
// stacks 2-4x cheaper after the first ones but costs every thread that unwinds a mapping and page
// faults to set it up (with the profiler on, a program of short-lived threads ran 3x slower on it
// alone). So a thread's first stacks go through glibc's, the rest through libunwind's when it is
// installed (Debian: libunwind8). It is loaded when the profiler starts, not linked: a program
// that does not profile maps neither it nor zlib (0.5 MB resident each program). Not under
// ThreadSanitizer: its runtime would unwind through libunwind's _Unwind_Backtrace and crash in its
// per-thread destructor.
#define CHEAP_FIRST_STACKS 16
typedef int unw_backtrace_fn(void **frames, int max);
static unw_backtrace_fn *_Atomic cached_unwinder;
static __thread unsigned stacks_taken;

int hak_stack_capture(void **frames, int max) {
    // relaxed: set once, before the profiler takes its first sample (prof_start).
    unw_backtrace_fn *fast = atomic_load_explicit(&cached_unwinder, memory_order_relaxed);
    int n = fast != NULL && ++stacks_taken > CHEAP_FIRST_STACKS ? fast(frames, max)
                                                                 : backtrace(frames, max);
    return n > 0 ? n : 0;
}

void hak_stack_warm_up(void) {
    void *frames[4];
    (void)backtrace(frames, 4); // glibc's first call loads libgcc_s with dlopen, which allocates
#ifndef __SANITIZE_THREAD__
    void *libunwind = hak_os_library("libunwind.so.8");
    if (libunwind != NULL)
        atomic_store_explicit(&cached_unwinder,
                              (unw_backtrace_fn *)hak_os_library_symbol(libunwind, "unw_backtrace"),
                              memory_order_relaxed);
#endif
}

// The ELF header of the object this code is linked into: hakmem's shared library, or the program.
extern const ElfW(Ehdr) __ehdr_start;

bool hak_own_code(uintptr_t *start, uintptr_t *end) {
    const ElfW(Ehdr) *eh = &__ehdr_start;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
    if ((uintptr_t)ph == getauxval(AT_PHDR)) return false; // linked into the program itself
    // The object's load bias: its first PT_LOAD maps file offset 0, where the ELF header is.
    uintptr_t bias = (uintptr_t)eh;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) bias -= ph[i].p_vaddr;
    *start = UINTPTR_MAX;
    *end = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X)) continue;
        if (bias + ph[i].p_vaddr < *start) *start = bias + ph[i].p_vaddr;
        if (bias + ph[i].p_vaddr + ph[i].p_memsz > *end) *end = bias + ph[i].p_vaddr + ph[i].p_memsz;
    }
    return *start < *end;
}
