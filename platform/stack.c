#define UNW_LOCAL_ONLY // this process's own stack: libunwind's fast local unwinder
#include "platform.h"

#include <libunwind.h>

int hak_stack_capture(void **frames, int max) {
    int n = unw_backtrace(frames, max);
    return n > 0 ? n : 0;
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
