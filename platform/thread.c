#include "platform.h"

#include <string.h>

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

void hak_fork_hooks_install(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
    pthread_atfork(prepare, parent, child);
}

void hak_lock_reset(hak_lock_t *l) {
    // The child owns a copy of a mutex some vanished thread may have held; start it afresh.
    memset(&l->m, 0, sizeof l->m);
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    l->m = fresh;
}
