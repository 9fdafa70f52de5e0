#include "depots.h"

#include "remote_free.h"

batch_depot_t hak_depots[DEPOT_CLASSES];
static depot_batch_t depot_storage[DEPOT_CLASSES][BATCH_DEPOT_MAX];

void depots_init(void) {
    for (unsigned c = 0; c < DEPOT_CLASSES; c++) {
        uint32_t batch_bytes = size_class_batch(c) * hak_class_size[c];
        batch_depot_init(&hak_depots[c], (uint32_t)(DEPOT_BYTES / batch_bytes), depot_storage[c]);
        hak_fork_protect(&hak_depots[c].lock);
    }
}

bool depots_flush_idle(bool all) {
    static _Atomic uint64_t seen[DEPOT_CLASSES]; // puts + takes at the previous call
    bool flushed = false;
    for (unsigned cls = 0; cls < DEPOT_CLASSES; cls++) {
        batch_depot_t *d = &hak_depots[cls];
        if (batch_depot_blocks(d) == 0) continue;
        uint64_t use = hak_counter_get(&d->stats.puts) + hak_counter_get(&d->stats.takes);
        // relaxed: a hint between calls; a race only flushes one round early or late.
        uint64_t before = atomic_exchange_explicit(&seen[cls], use, memory_order_relaxed);
        if (!all && use != before) continue;
        depot_batch_t batches[BATCH_DEPOT_MAX];
        uint32_t n = batch_depot_take_all(d, batches);
        for (uint32_t i = 0; i < n; i++) remote_return_chain(cls, batches[i].first);
        if (n > 0) flushed = true;
    }
    return flushed;
}

void depots_sum(batch_depot_counters_t *sum, uint64_t *bytes) {
    *bytes = 0;
    for (unsigned c = 0; c < DEPOT_CLASSES; c++) {
        *bytes += (uint64_t)batch_depot_blocks(&hak_depots[c]) * hak_class_size[c];
        HAK_COUNTERS_ADD(BATCH_DEPOT_COUNTERS, sum, &hak_depots[c].stats);
    }
}
