#include "platform.h"

#include <stdatomic.h>

// Protected locks, oldest first: appended at start-up, walked by the fork handlers. A fork racing
// with a registration sees the list up to some lock, whole (release/acquire on the links).
static hak_lock_t *_Atomic protected_first;
static hak_lock_t *protected_last; // written by registrations only (start-up, one thread)

void hak_fork_protect(hak_lock_t *l) {
    l->fork_next = NULL;
    if (protected_last == NULL) atomic_store_explicit(&protected_first, l, memory_order_release);
    else __atomic_store_n(&protected_last->fork_next, l, __ATOMIC_RELEASE);
    protected_last = l;
}

static hak_lock_t *next_protected(hak_lock_t *l) {
    // acquire: pairs with the release in hak_fork_protect (the lock's fields are seen initialised).
    return l == NULL ? atomic_load_explicit(&protected_first, memory_order_acquire)
                     : __atomic_load_n(&l->fork_next, __ATOMIC_ACQUIRE);
}

// The handlers take the locks in list order and release them in the same order (a release never
// blocks, so only the taking order matters). The parent and the child stop at the last lock the
// prepare handler took: a lock protected after it is not theirs to release. Between the handlers
// the forking thread holds every lock, so no other fork can rewrite taken_last meanwhile.
static hak_lock_t *taken_last;

static void fork_prepare(void) {
    for (hak_lock_t *l = next_protected(NULL); l != NULL; l = next_protected(l)) {
        hak_lock(l);
        taken_last = l;
    }
}
static void for_each_taken(void (*action)(hak_lock_t *)) {
    for (hak_lock_t *l = next_protected(NULL), *last = taken_last; last != NULL;
         l = next_protected(l)) {
        action(l);
        if (l == last) break;
    }
}
static void unlock(hak_lock_t *l) { hak_unlock(l); }
static void fork_parent(void) { for_each_taken(unlock); }
static void fork_child(void) { for_each_taken(hak_lock_reset); }

void hak_fork_hooks_install(void) {
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        hak_log("no fork handlers: a fork child may find hakmem's locks held");
}
