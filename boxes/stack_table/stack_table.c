#include "stack_table.h"

#include <string.h>

#define CHUNK_SIZE (256 * HAK_KiB)

void stack_table_init(stack_table_t *t) { memset(t, 0, sizeof *t); }

void stack_table_reset(stack_table_t *t) {
    for (char *c = t->chunks, *next; c != NULL; c = next) {
        next = *(char **)c;
        hak_os_release(c, CHUNK_SIZE);
    }
    if (t->buckets != NULL) hak_os_release(t->buckets, t->nbuckets * sizeof *t->buckets);
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

// Double the index (or make the first one); false when memory ran out (the old index stays).
static bool grow_index(stack_table_t *t) {
    size_t n = t->nbuckets ? 2 * t->nbuckets : 1024;
    st_stack_t **b = hak_os_reserve_aligned(n * sizeof *b, hak_os_page_size());
    if (b == NULL) return false;
    for (st_stack_t *s = t->all; s != NULL; s = s->next_all) {
        st_stack_t **head = &b[s->hash & (n - 1)];
        s->next_in_bucket = *head;
        *head = s;
    }
    if (t->buckets != NULL) {
        hak_os_release(t->buckets, t->nbuckets * sizeof *t->buckets);
        hak_count_down(&t->stats.bytes, t->nbuckets * sizeof *t->buckets);
    }
    hak_count(&t->stats.bytes, n * sizeof *b);
    t->buckets = b;
    t->nbuckets = n;
    return true;
}

st_stack_t *stack_table_intern(stack_table_t *t, void *const *frames, unsigned depth) {
    if (depth > STACK_TABLE_MAX_DEPTH) depth = STACK_TABLE_MAX_DEPTH;
    uint64_t h = hash_frames(frames, depth);
    if (t->nbuckets != 0) {
        for (st_stack_t *s = t->buckets[h & (t->nbuckets - 1)]; s != NULL; s = s->next_in_bucket)
            if (s->hash == h && s->depth == depth && memcmp(s->frames, frames, depth * sizeof *frames) == 0)
                return s;
    }
    if (t->count >= t->nbuckets && !grow_index(t) && t->nbuckets == 0) return NULL;
    st_stack_t *s = cut(t, sizeof *s + depth * sizeof *frames);
    if (s == NULL) return NULL;
    memset(s, 0, sizeof *s);
    s->hash = h;
    s->depth = depth;
    memcpy(s->frames, frames, depth * sizeof *frames);
    s->next_all = t->all;
    t->all = s;
    st_stack_t **head = &t->buckets[h & (t->nbuckets - 1)];
    s->next_in_bucket = *head;
    *head = s;
    t->count++;
    hak_count(&t->stats.stacks, 1);
    return s;
}
