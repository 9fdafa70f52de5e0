#define UNW_LOCAL_ONLY // this process's own stack: libunwind's fast local unwinder
#include "platform.h"

#include <execinfo.h>
#include <libunwind.h>

// Two unwinders over the unwind tables (programs built without frame pointers unwind too):
// libunwind's unw_backtrace keeps a per-thread cache of decoded steps, which makes a thread's stacks
// cheap after the first ones but costs every thread that unwinds a mapping and page faults to set
// it up (with the profiler on, a program of short-lived threads ran 3x slower); glibc's backtrace
// (libgcc's unwinder) keeps no per-thread state but decodes every frame anew (2-4x the cost of a
// sample of a big block). So a thread's first stacks go through glibc's, the rest through
// libunwind's. Under ThreadSanitizer glibc's only: its runtime crashes in the destructor of
// libunwind's per-thread cache.
#ifndef __SANITIZE_THREAD__
#define CHEAP_FIRST_STACKS 16
static __thread unsigned stacks_taken;

int hak_stack_capture(void **frames, int max) {
    int n = ++stacks_taken > CHEAP_FIRST_STACKS ? unw_backtrace(frames, max) : backtrace(frames, max);
    return n > 0 ? n : 0;
}
#else
int hak_stack_capture(void **frames, int max) {
    int n = backtrace(frames, max);
    return n > 0 ? n : 0;
}
#endif

// glibc's first backtrace loads libgcc_s with dlopen, which allocates.
void hak_stack_warm_up(void) {
    void *frames[4];
    (void)backtrace(frames, 4);
}

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>

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
