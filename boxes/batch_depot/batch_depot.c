#include "batch_depot.h"

void batch_depot_init(batch_depot_t *d, uint32_t cap, depot_batch_t *storage) {
    *d = (batch_depot_t){.lock = HAK_LOCK_INIT,
                         .cap = cap < BATCH_DEPOT_MAX ? cap : BATCH_DEPOT_MAX,
                         .batches = storage};
}

// Under the lock: publish the new counts for the lock-free hints (relaxed: the batches themselves
// are handed over by the lock).
static void set_counts(batch_depot_t *d, uint32_t count, uint32_t blocks) {
    atomic_store_explicit(&d->count, count, memory_order_relaxed);
    atomic_store_explicit(&d->blocks, blocks, memory_order_relaxed);
}

bool batch_depot_put(batch_depot_t *d, void *first, void *last, uint32_t n) {
    hak_lock(&d->lock);
    uint32_t count = atomic_load_explicit(&d->count, memory_order_relaxed);
    if (count >= d->cap) {
        hak_unlock(&d->lock);
        hak_count(&d->stats.refused, 1);
        return false;
    }
    d->batches[count] = (depot_batch_t){first, last, n};
    set_counts(d, count + 1, atomic_load_explicit(&d->blocks, memory_order_relaxed) + n);
    hak_unlock(&d->lock);
    hak_count(&d->stats.puts, 1);
    return true;
}

bool batch_depot_take(batch_depot_t *d, depot_batch_t *out) {
    if (atomic_load_explicit(&d->count, memory_order_relaxed) == 0) return false; // a hint
    hak_lock(&d->lock);
    uint32_t count = atomic_load_explicit(&d->count, memory_order_relaxed);
    if (count == 0) {
        hak_unlock(&d->lock);
        return false;
    }
    *out = d->batches[count - 1];
    set_counts(d, count - 1, atomic_load_explicit(&d->blocks, memory_order_relaxed) - out->n);
    hak_unlock(&d->lock);
    hak_count(&d->stats.takes, 1);
    return true;
}

uint32_t batch_depot_take_all(batch_depot_t *d, depot_batch_t *out) {
    hak_lock(&d->lock);
    uint32_t n = atomic_load_explicit(&d->count, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) out[i] = d->batches[i];
    set_counts(d, 0, 0);
    hak_unlock(&d->lock);
    hak_count(&d->stats.flushed, n);
    return n;
}

