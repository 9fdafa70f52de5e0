// The background purger: one thread that applies the purge delays while the program does not call
// the allocator, so that memory freed by a program that then goes idle returns to the OS within
// about HAKMEM_PURGE_DELAY_MS. Without it, empty segments and cached huge mappings are purged
// only on the allocator's own slow paths, or by malloc_trim.
//
// It is started by hakmem's constructor, never from inside malloc: starting a thread allocates
// and takes locks the application's own pthread_create may hold while it allocates. A fork child
// runs without it (only async-signal-safe calls are allowed after fork); it purges on its slow
// paths.
#include "purger.h"

#include "maintenance.h"
#include "os_direct.h"

#include <string.h>

static hak_counter_t purger_ticks;

static void *purger_main(void *arg) {
    long interval_ms = hak_options.purge_delay_ms / 2;
    if (interval_ms < 10) interval_ms = 10;
    for (;;) {
        hak_sleep_ms(interval_ms);
        heap_maintain(false);
        os_direct_tick();
        hak_count(&purger_ticks, 1);
    }
    return NULL;
}

void purger_start(void) {
    if (!hak_options.background_purge || hak_options.purge_delay_ms < 0) return;
    int err = hak_thread_start(purger_main, NULL, "hakmem-purge");
    if (err != 0)
        hak_log("no background purger thread (%s): idle memory is returned on slow paths only",
                strerror(err));
}

uint64_t purger_tick_count(void) { return hak_counter_get(&purger_ticks); }
