#include "lru.h"

#include <string.h>

static uint64_t add_sat(uint64_t a, uint64_t b) {
    return a + b < a ? UINT64_MAX : a + b;
}

void lru_init(lru_t *l, size_t max_count, size_t max_bytes, uint64_t decay_ms) {
    l->lock = (hak_lock_t)HAK_LOCK_INIT;
    l->newest = l->oldest = NULL;
    l->count = l->bytes = 0;
    l->max_count = max_count;
    l->max_bytes = max_bytes;
    l->decay_ms = decay_ms;
    // relaxed: initialisation; the cache is published to other threads by whatever hands them l.
    atomic_store_explicit(&l->next_expiry_ms, UINT64_MAX, memory_order_relaxed);
    memset(&l->stats, 0, sizeof l->stats);
}

// ---- under the lock ------------------------------------------------------------------------

static void unlink_node(lru_t *l, lru_node_t *n) {
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        l->newest = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        l->oldest = n->prev;
    n->prev = n->next = NULL;
    l->count--;
    l->bytes -= n->bytes;
    // relaxed: the authoritative reads of `linked` are under the lock, which orders them; the
    // unlocked peek in lru_remove is only a shortcut for a node nobody has linked.
    atomic_store_explicit(&n->linked, false, memory_order_relaxed);
}

static void link_newest(lru_t *l, lru_node_t *n, size_t bytes, uint64_t now_ms) {
    // Keep the list sorted by since_ms even when callers' clock readings arrive out of order.
    if (l->newest != NULL && l->newest->since_ms > now_ms) now_ms = l->newest->since_ms;
    n->since_ms = now_ms;
    n->bytes = bytes;
    n->prev = NULL;
    n->next = l->newest;
    if (l->newest != NULL)
        l->newest->prev = n;
    else
        l->oldest = n;
    l->newest = n;
    l->count++;
    l->bytes += bytes;
    // relaxed: as in unlink_node, the lock orders every read that matters.
    atomic_store_explicit(&n->linked, true, memory_order_relaxed);
}

static void update_expiry(lru_t *l) {
    uint64_t t = l->oldest != NULL ? add_sat(l->oldest->since_ms, l->decay_ms) : UINT64_MAX;
    // relaxed: a hint for the unlocked check in lru_expire; a stale value only moves an expiry
    // to a later call (or makes one call take the lock for nothing).
    atomic_store_explicit(&l->next_expiry_ms, t, memory_order_relaxed);
}

// Unlink the oldest node and append it to the chain (*first .. *last).
static void pop_oldest_to(lru_t *l, lru_node_t **first, lru_node_t **last) {
    lru_node_t *n = l->oldest;
    unlink_node(l, n);
    if (*last != NULL)
        (*last)->next = n;
    else
        *first = n;
    *last = n;
}

// ---- interface -----------------------------------------------------------------------------

lru_node_t *lru_insert(lru_t *l, lru_node_t *n, size_t bytes, uint64_t now_ms) {
    lru_node_t *first = NULL, *last = NULL;
    size_t evicted = 0;
    hak_lock(&l->lock);
    // relaxed: read under the lock, which ordered the last write.
    bool refresh = atomic_load_explicit(&n->linked, memory_order_relaxed);
    if (refresh) unlink_node(l, n);
    link_newest(l, n, bytes, now_ms);
    while (l->count > l->max_count || l->bytes > l->max_bytes) {
        pop_oldest_to(l, &first, &last);
        evicted++;
    }
    update_expiry(l);
    hak_unlock(&l->lock);
    if (!refresh) hak_count(&l->stats.inserted, 1);
    if (evicted != 0) hak_count(&l->stats.evicted, evicted);
    return first;
}

bool lru_remove(lru_t *l, lru_node_t *n) {
    // relaxed: a node the caller has not seen linked reads false here without the lock; one that
    // is linked is re-checked under the lock, as a concurrent eviction may win.
    if (!atomic_load_explicit(&n->linked, memory_order_relaxed)) return false;
    hak_lock(&l->lock);
    // relaxed: under the lock.
    bool linked = atomic_load_explicit(&n->linked, memory_order_relaxed);
    if (linked) {
        bool was_oldest = l->oldest == n;
        unlink_node(l, n);
        if (was_oldest) update_expiry(l);
    }
    hak_unlock(&l->lock);
    if (linked) hak_count(&l->stats.hits, 1);
    return linked;
}

lru_node_t *lru_expire(lru_t *l, uint64_t now_ms, bool all) {
    // relaxed: see update_expiry.
    if (!all && now_ms < atomic_load_explicit(&l->next_expiry_ms, memory_order_relaxed))
        return NULL;
    lru_node_t *first = NULL, *last = NULL;
    size_t expired = 0;
    hak_lock(&l->lock);
    while (l->oldest != NULL && (all || now_ms >= add_sat(l->oldest->since_ms, l->decay_ms))) {
        pop_oldest_to(l, &first, &last);
        expired++;
    }
    update_expiry(l);
    hak_unlock(&l->lock);
    if (expired != 0) hak_count(&l->stats.expired, expired);
    return first;
}

void lru_lock(lru_t *l) {
    hak_lock(&l->lock);
}
void lru_unlock(lru_t *l) {
    hak_unlock(&l->lock);
}
