#include "segmap.h"

// One byte per 2 MiB of the 47-bit address space: 64 MiB of zero-fill .bss, of which only the
// pages covering hakmem's own regions are ever touched.
uint8_t hak_segmap[HAK_SEGMAP_ENTRIES];

void segmap_set(uintptr_t header, unsigned what) {
    __atomic_store_n(&hak_segmap[header >> HAK_SEG_SHIFT], (uint8_t)what, __ATOMIC_RELEASE);
}
