#include "shared_pool.h"

// The free-slot hint is a hint: relaxed, nothing is ordered by it.

static int claim_in(shared_pool_t *p, sp_segment_t *s) {
    // relaxed load: only a guess for the CAS, which re-reads the word.
    uint32_t m = atomic_load_explicit(&s->free_mask, memory_order_relaxed);
    while (m != 0) {
        int slot = __builtin_ctz(m);
        // acquire: the slot's previous user released it with a release fetch_or, after resetting
        // the slab; the new owner must see that reset (and any purge) complete.
        if (atomic_compare_exchange_weak_explicit(&s->free_mask, &m, m & ~(1u << slot),
                                                  memory_order_acquire, memory_order_relaxed)) {
            atomic_fetch_sub_explicit(&p->free_slots, 1, memory_order_relaxed);
            // release: this thread saw s published (acquire on the list); a claimer that starts
            // from the hint must see s initialised too, so the hint carries that order on.
            atomic_store_explicit(&p->hint, s, memory_order_release);
            hak_count(&p->stats.slots_claimed, 1);
            return slot;
        }
    }
    return -1;
}

int shared_pool_claim(shared_pool_t *p, sp_segment_t **seg) {
    if (atomic_load_explicit(&p->free_slots, memory_order_relaxed) <= 0) return -1;
    // acquire on the list head and hint pairs with the release that published each segment, so
    // its all_mask and next are seen initialised.
    sp_segment_t *head = atomic_load_explicit(&p->segments, memory_order_acquire);
    sp_segment_t *start = atomic_load_explicit(&p->hint, memory_order_acquire);
    if (start == NULL) start = head;
    for (sp_segment_t *s = start; s != NULL; s = s->next) {
        int slot = claim_in(p, s);
        if (slot >= 0) return *seg = s, slot;
    }
    for (sp_segment_t *s = head; s != NULL && s != start; s = s->next) {
        int slot = claim_in(p, s);
        if (slot >= 0) return *seg = s, slot;
    }
    return -1;
}

int shared_pool_add_segment(shared_pool_t *p, sp_segment_t *seg, uint32_t all_mask) {
    int slot = __builtin_ctz(all_mask);
    seg->all_mask = all_mask;
    atomic_store_explicit(&seg->free_mask, all_mask & ~(1u << slot), memory_order_relaxed);
    sp_segment_t *old = atomic_load_explicit(&p->segments, memory_order_relaxed);
    do {
        seg->next = old;
        // release: publishes all_mask, free_mask and next to the scanners' acquire loads.
    } while (!atomic_compare_exchange_weak_explicit(&p->segments, &old, seg, memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&p->free_slots, __builtin_popcount(all_mask) - 1, memory_order_relaxed);
    hak_count(&p->stats.segments_added, 1);
    hak_count(&p->stats.slots_claimed, 1);
    return slot;
}

bool shared_pool_release(shared_pool_t *p, sp_segment_t *seg, int slot) {
    uint32_t bit = 1u << slot;
    // release: the slab was reset before this point; the next claimer acquires it.
    uint32_t old = atomic_fetch_or_explicit(&seg->free_mask, bit, memory_order_release);
    if (old & bit) hak_fatal("shared_pool: slot %d of segment %p released twice", slot, (void *)seg);
    atomic_fetch_add_explicit(&p->free_slots, 1, memory_order_relaxed);
    hak_count(&p->stats.slots_released, 1);
    return (old | bit) == seg->all_mask;
}

bool shared_pool_seize_empty(shared_pool_t *p, sp_segment_t *seg) {
    uint32_t all = seg->all_mask;
    // acquire: every release of the segment's slots happens before the purge that follows.
    if (!atomic_compare_exchange_strong_explicit(&seg->free_mask, &all, 0, memory_order_acquire,
                                                 memory_order_relaxed))
        return false;
    atomic_fetch_sub_explicit(&p->free_slots, __builtin_popcount(all), memory_order_relaxed);
    hak_count(&p->stats.segments_seized, 1);
    return true;
}

void shared_pool_publish(shared_pool_t *p, sp_segment_t *seg) {
    // release: the purge of the segment's pages is complete before anyone can claim a slot.
    atomic_store_explicit(&seg->free_mask, seg->all_mask, memory_order_release);
    atomic_fetch_add_explicit(&p->free_slots, __builtin_popcount(seg->all_mask), memory_order_relaxed);
}

bool shared_pool_seize_slot(shared_pool_t *p, sp_segment_t *seg, int slot) {
    uint32_t bit = 1u << slot;
    // acquire: the slot's last release (and the reset of its slab) happens before the purge.
    uint32_t old = atomic_fetch_and_explicit(&seg->free_mask, ~bit, memory_order_acquire);
    if (!(old & bit)) return false; // claimed: the and changed nothing
    atomic_fetch_sub_explicit(&p->free_slots, 1, memory_order_relaxed);
    return true;
}

void shared_pool_publish_slot(shared_pool_t *p, sp_segment_t *seg, int slot) {
    // release: the purge of the slot's pages is complete before anyone can claim it.
    atomic_fetch_or_explicit(&seg->free_mask, 1u << slot, memory_order_release);
    atomic_fetch_add_explicit(&p->free_slots, 1, memory_order_relaxed);
}

void shared_pool_abandon(shared_pool_t *p, unsigned cls, sp_link_t *slab) {
    hak_lock(&p->abandoned_lock);
    slab->next = p->abandoned[cls];
    // atomic store: shared_pool_adopt peeks at the list head without the lock.
    __atomic_store_n(&p->abandoned[cls], slab, __ATOMIC_RELAXED);
    p->abandoned_count++;
    hak_unlock(&p->abandoned_lock);
    hak_count(&p->stats.slabs_abandoned, 1);
}

sp_link_t *shared_pool_adopt(shared_pool_t *p, unsigned cls) {
    // Unlocked peek: most claims find no abandoned slab and should not take the lock. A slab
    // pushed right after the peek is adopted by the next claim.
    if (__atomic_load_n(&p->abandoned[cls], __ATOMIC_RELAXED) == NULL) return NULL;
    hak_lock(&p->abandoned_lock);
    sp_link_t *s = p->abandoned[cls];
    if (s != NULL) {
        __atomic_store_n(&p->abandoned[cls], s->next, __ATOMIC_RELAXED);
        p->abandoned_count--;
    }
    hak_unlock(&p->abandoned_lock);
    if (s != NULL) hak_count(&p->stats.slabs_adopted, 1);
    return s;
}

sp_link_t *shared_pool_reclaim_abandoned(shared_pool_t *p, unsigned cls, bool (*empty)(sp_link_t *)) {
    if (__atomic_load_n(&p->abandoned[cls], __ATOMIC_RELAXED) == NULL) return NULL;
    sp_link_t *taken = NULL;
    hak_lock(&p->abandoned_lock);
    for (sp_link_t **link = &p->abandoned[cls], *s; (s = *link) != NULL;) {
        if (!empty(s)) {
            link = &s->next;
            continue;
        }
        // atomic store: the link may be the list head, which shared_pool_adopt peeks at.
        __atomic_store_n(link, s->next, __ATOMIC_RELAXED);
        p->abandoned_count--;
        s->next = taken;
        taken = s;
        hak_count(&p->stats.slabs_reclaimed, 1);
    }
    hak_unlock(&p->abandoned_lock);
    return taken;
}

