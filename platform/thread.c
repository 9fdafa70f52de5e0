#define _GNU_SOURCE // pthread_setname_np
#include "platform.h"

#include <sched.h>
#include <string.h>
#include <time.h>

static pthread_key_t exit_key;
static bool exit_key_ready;

bool hak_thread_exit_hook_install(void (*on_exit)(void *)) {
    if (exit_key_ready) return true;
    if (pthread_key_create(&exit_key, on_exit) != 0) return false;
    exit_key_ready = true;
    return true;
}

void hak_thread_set_exit_arg(void *arg) {
    if (exit_key_ready) pthread_setspecific(exit_key, arg);
}

int hak_thread_start(void *(*fn)(void *), void *arg, const char *name) {
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    // The default stack size: a thread's stack also holds the program's static TLS, which can be
    // larger than any small stack chosen here (pthread_create then fails). Untouched pages of the
    // stack cost address space only.
    int err = pthread_create(&thread, &attr, fn, arg);
    if (err == 0) pthread_setname_np(thread, name);
    pthread_attr_destroy(&attr);
    return err;
}

void hak_thread_yield(void) { sched_yield(); }

void hak_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    } // a signal cut it short: sleep the rest
}

void hak_lock_reset(hak_lock_t *l) {
    // The child owns a copy of a mutex some vanished thread may have held; start it afresh.
    memset(&l->m, 0, sizeof l->m);
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    l->m = fresh;
}
