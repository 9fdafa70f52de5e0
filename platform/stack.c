#define UNW_LOCAL_ONLY // this process's own stack: libunwind's fast local unwinder
#include "platform.h"

#include <libunwind.h>

#ifndef __SANITIZE_THREAD__
int hak_stack_capture(void **frames, int max) {
    int n = unw_backtrace(frames, max); // fast: a per-thread cache of unwind steps
    return n > 0 ? n : 0;
}
#else
// ThreadSanitizer's runtime crashes in the destructor of unw_backtrace's per-thread cache at
// thread exit: step by step instead, which keeps no per-thread state.
int hak_stack_capture(void **frames, int max) {
    unw_context_t context;
    unw_cursor_t cursor;
    if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0) return 0;
    int n = 0;
    while (n < max && unw_step(&cursor) > 0) {
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0) break;
        frames[n++] = (void *)ip;
    }
    return n;
}
#endif

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
