#include "slab.h"

#include "segments.h"

static hak_slab_t **bin_list(heap_bin_t *bin, unsigned list) {
    return list == SLAB_FULL ? &bin->full : &bin->partial;
}

void slab_list_push(heap_bin_t *bin, hak_slab_t *s, unsigned list) {
    hak_slab_t **head = bin_list(bin, list);
    s->list = (uint8_t)list;
    s->prev = NULL;
    s->next = *head;
    if (*head != NULL) (*head)->prev = s;
    *head = s;
}

void slab_list_remove(heap_bin_t *bin, hak_slab_t *s) {
    if (s->list == SLAB_CURRENT) {
        bin->cur = NULL;
        return;
    }
    hak_slab_t **head = bin_list(bin, s->list);
    if (s->prev != NULL) s->prev->next = s->next;
    else *head = s->next;
    if (s->next != NULL) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

size_t slab_collect_remote(hak_slab_t *s) {
    uint32_t n;
    void *chain = remote_queue_take_all(&s->remote, &n);
    if (chain == NULL) return 0;
    // One list goes in front of the other: the shorter is walked to its end (the slab's own free
    // list is carved - used blocks long, the queue said how long the chain is). The chain's
    // blocks were written by other cores: walking them is a cache miss each.
    uint32_t own = (uint32_t)(s->carved - s->used);
    if (own == 0) {
        s->free = chain;
    } else if (own <= n) {
        *(void **)tc_chain_last(s->free) = chain;
    } else {
        *(void **)tc_chain_last(chain) = s->free;
        s->free = chain;
    }
    s->used = (uint16_t)(s->used - n);
    return n;
}

uint32_t slab_take(hak_heap_t *h, hak_slab_t *s, uint32_t want, tc_t *cache) {
    uint32_t avail = (uint32_t)(s->carved - s->used), got = 0;
    if (avail < want && !remote_queue_is_empty(&s->remote)) {
        heap_collect_remote(h, s);
        avail = (uint32_t)(s->carved - s->used);
    }
    if (avail > 0) {
        void *first = s->free, *last = NULL; // the whole list: its end is not known
        got = avail <= want ? avail : want;
        if (got == avail) {
            s->free = NULL;
        } else {
            last = first;
            for (uint32_t i = 1; i < got; i++) last = *(void **)last;
            s->free = *(void **)last;
            *(void **)last = NULL;
        }
        tc_fill(cache, first, last, got);
        s->used = (uint16_t)(s->used + got);
    }
    uint32_t room = (uint32_t)(s->capacity - s->carved);
    if (got < want && room > 0) {
        uint32_t n = room < want - got ? room : want - got;
        tc_fill_carved(cache, s->start + (size_t)s->carved * s->block_size, s->block_size, n);
        // atomic store: threads freeing blocks of this slab read `carved` to validate addresses.
        __atomic_store_n(&s->carved, (uint16_t)(s->carved + n), __ATOMIC_RELAXED);
        s->used = (uint16_t)(s->used + n);
        got += n;
    }
    return got;
}

void slab_release(hak_slab_t *s) {
    atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
    s->list = SLAB_FREE_SLOT;
    s->free = NULL;
    __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED); // stale pointers into it are now invalid
    segments_release_slot(slab_segment(s), s->slot);
}
