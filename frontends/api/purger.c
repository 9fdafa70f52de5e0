// The background purger: one thread that applies the purge delays while the program does not call
// the allocator, so that memory freed by a program that then goes idle returns to the OS within
// about HAKMEM_PURGE_DELAY_MS. Without it, empty segments and cached huge mappings are purged
// only on the allocator's own slow paths, or by malloc_trim.
//
// It is started by hakmem's constructor, never from inside malloc: pthread_create itself
// allocates and takes locks the application's own pthread_create may hold while it allocates.
// A fork child runs without it (only async-signal-safe calls are allowed after fork); it purges on
// its slow paths.
#define _GNU_SOURCE // pthread_setname_np
#include "purger.h"

#include "heap.h"
#include "os_direct.h"

#include <string.h>
#include <time.h>

static _Atomic uint64_t purger_ticks;

static void *purger_main(void *arg) {
    long interval_ms = hak_options.purge_delay_ms / 2;
    if (interval_ms < 10) interval_ms = 10;
    struct timespec ts = {interval_ms / 1000, (interval_ms % 1000) * 1000000};
    for (;;) {
        nanosleep(&ts, NULL);
        heap_flush_depots(false);
        heap_collect_idle(false);
        heap_release_idle_spares(false);
        heap_reclaim_abandoned(false);
        heap_expire_segments(false);
        heap_purge_dirty_slots(false);
        os_direct_tick();
        atomic_fetch_add_explicit(&purger_ticks, 1, memory_order_relaxed); // statistics only
    }
    return NULL;
}

void purger_start(void) {
    if (!hak_options.background_purge || hak_options.purge_delay_ms < 0) return;
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    // The default stack size: a thread's stack also holds the program's static TLS, which can be
    // larger than any small stack chosen here (pthread_create then fails). Untouched pages of the
    // stack cost address space only.
    int err = pthread_create(&thread, &attr, purger_main, NULL);
    if (err == 0)
        pthread_setname_np(thread, "hakmem-purge");
    else
        hak_log("no background purger thread (%s): idle memory is returned on slow paths only",
                strerror(err));
    pthread_attr_destroy(&attr);
}

uint64_t purger_tick_count(void) { return atomic_load_explicit(&purger_ticks, memory_order_relaxed); }
