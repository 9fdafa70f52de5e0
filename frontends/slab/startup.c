// startup: what the process needs before its first heap or huge block, done once, by whichever
// comes first: the first malloc (perhaps in another library's constructor, before hakmem's), or
// hakmem's constructor (hak_startup, frontends/api/malloc.c). The C library has set up the
// environment before any constructor or allocation runs, so the options are read once, here.
#include "depots.h"
#include "grow.h"
#include "heaps.h"
#include "os_direct.h"
#include "prof.h"
#include "segments.h"

uintptr_t hak_freed_mark;

static _Atomic int init_done;
static hak_lock_t init_lock = HAK_LOCK_INIT;

void hak_init(void) {
    // acquire: pairs with the release below; whoever sees 1 sees the options and hooks in place.
    if (atomic_load_explicit(&init_done, memory_order_acquire)) return;
    hak_lock(&init_lock);
    if (!atomic_load_explicit(&init_done, memory_order_relaxed)) {
        hak_options_load();
        if (hak_options.options) hak_options_log();
        heap_mark_init();
        prof_init(); // before the first heap: its countdowns depend on the rate
        // Each part protects its locks across fork as it starts, so a fork takes them in this
        // order, the order in which they nest: the heap registry's is held while slabs go back to
        // the segments (whose cache takes its own lock); the others are never held together.
        heaps_init();
        heap_grow_init();
        depots_init();
        segments_init();
        os_direct_init();
        atomic_store_explicit(&init_done, 1, memory_order_release);
    }
    hak_unlock(&init_lock);
}
