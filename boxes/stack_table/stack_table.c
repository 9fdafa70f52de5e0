#include "stack_table.h"

#include <string.h>

#define CHUNK_SIZE (256 * HAK_KiB)
#define FIRST_SLOTS 1024

void stack_table_init(stack_table_t *t) {
    memset(t, 0, sizeof *t);
    t->lock = (hak_lock_t)HAK_LOCK_INIT;
}

static size_t index_bytes(size_t nslots) { return sizeof(st_index_t) + nslots * sizeof(st_stack_t *); }

void stack_table_reset(stack_table_t *t) {
    for (char *c = t->chunks, *next; c != NULL; c = next) {
        next = *(char **)c;
        hak_os_release(c, CHUNK_SIZE);
    }
    for (st_index_t *i = atomic_load_explicit(&t->index, memory_order_relaxed), *older; i != NULL; i = older) {
        older = i->older;
        hak_os_release(i, index_bytes(i->nslots));
    }
    stack_table_init(t);
}

static uint64_t hash_frames(void *const *frames, unsigned depth) {
    uint64_t h = 0x9e3779b97f4a7c15u ^ depth;
    for (unsigned i = 0; i < depth; i++) {
        h ^= (uint64_t)(uintptr_t)frames[i];
        h *= 0xbf58476d1ce4e5b9u;
        h ^= h >> 31;
    }
    return h;
}

// Under the lock.
static void *cut(stack_table_t *t, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (t->chunk == NULL || t->chunk_used + n > t->chunk_size) {
        char *c = hak_os_reserve_aligned(CHUNK_SIZE, hak_os_page_size());
        if (c == NULL) return NULL;
        *(char **)c = t->chunks;
        t->chunks = c;
        t->chunk = c;
        t->chunk_used = 16;
        t->chunk_size = CHUNK_SIZE;
        hak_count(&t->stats.bytes, CHUNK_SIZE);
    }
    void *p = t->chunk + t->chunk_used;
    t->chunk_used += n;
    return p;
}

// The stack of these frames in `index`, or NULL and (empty not NULL) the slot where it would go.
static st_stack_t *probe(st_index_t *index, uint64_t h, void *const *frames, unsigned depth,
                         st_stack_t *_Atomic **empty) {
    for (size_t i = h;; i++) {
        st_stack_t *_Atomic *slot = &index->slots[i & (index->nslots - 1)];
        // acquire: pairs with the release that published the stack (its fields are written).
        st_stack_t *s = atomic_load_explicit(slot, memory_order_acquire);
        if (s == NULL) {
            if (empty != NULL) *empty = slot;
            return NULL;
        }
        if (s->hash == h && s->depth == depth && memcmp(s->frames, frames, depth * sizeof *frames) == 0)
            return s;
    }
}

// Under the lock: an index twice the size (or the first one) with every stack, published; the
// old one stays for lookups that are reading it. False when memory ran out.
static bool grow_index(stack_table_t *t) {
    st_index_t *old = atomic_load_explicit(&t->index, memory_order_relaxed); // ours: under the lock
    size_t n = old != NULL ? 2 * old->nslots : FIRST_SLOTS;
    st_index_t *index = hak_os_reserve_aligned(index_bytes(n), hak_os_page_size());
    if (index == NULL) return false;
    index->nslots = n;
    index->older = old;
    for (size_t i = 0; old != NULL && i < old->nslots; i++) {
        st_stack_t *s = atomic_load_explicit(&old->slots[i], memory_order_relaxed); // written by us
        st_stack_t *_Atomic *slot;
        if (s != NULL && probe(index, s->hash, s->frames, s->depth, &slot) == NULL)
            atomic_store_explicit(slot, s, memory_order_relaxed); // published below
    }
    hak_count(&t->stats.bytes, index_bytes(n));
    // release: a lookup that loads the new index sees its slots filled.
    atomic_store_explicit(&t->index, index, memory_order_release);
    return true;
}

static st_stack_t *add(stack_table_t *t, uint64_t h, void *const *frames, unsigned depth) {
    st_index_t *index = atomic_load_explicit(&t->index, memory_order_relaxed); // under the lock
    st_stack_t *found = index != NULL ? probe(index, h, frames, depth, NULL) : NULL;
    if (found != NULL) return found; // added since our lookup
    // At most half full: probes stay short.
    if (index == NULL || 2 * (t->count + 1) > index->nslots) {
        if (!grow_index(t) && index == NULL) return NULL;
        index = atomic_load_explicit(&t->index, memory_order_relaxed);
        if (t->count + 1 == index->nslots) return NULL; // full, and no memory for a bigger one
    }
    st_stack_t *s = cut(t, sizeof *s + depth * sizeof *frames);
    if (s == NULL) return NULL;
    memset(s, 0, sizeof *s);
    s->hash = h;
    s->depth = depth;
    memcpy(s->frames, frames, depth * sizeof *frames);
    s->next_all = atomic_load_explicit(&t->all, memory_order_relaxed);
    st_stack_t *_Atomic *slot;
    (void)probe(index, h, frames, depth, &slot);
    // release: whoever loads s from the slot or from `all` sees its fields.
    atomic_store_explicit(slot, s, memory_order_release);
    atomic_store_explicit(&t->all, s, memory_order_release);
    t->count++;
    hak_count(&t->stats.stacks, 1);
    return s;
}

st_stack_t *stack_table_intern(stack_table_t *t, void *const *frames, unsigned depth) {
    if (depth > STACK_TABLE_MAX_DEPTH) depth = STACK_TABLE_MAX_DEPTH;
    uint64_t h = hash_frames(frames, depth);
    // acquire: pairs with the release in grow_index.
    st_index_t *index = atomic_load_explicit(&t->index, memory_order_acquire);
    st_stack_t *s = index != NULL ? probe(index, h, frames, depth, NULL) : NULL;
    if (s != NULL) return s;
    hak_lock(&t->lock);
    s = add(t, h, frames, depth);
    hak_unlock(&t->lock);
    return s;
}

st_stack_t *stack_table_first(stack_table_t *t) {
    // acquire: pairs with the release in add (the stacks' fields and links are seen written).
    return atomic_load_explicit(&t->all, memory_order_acquire);
}
