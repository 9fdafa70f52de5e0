// stack_table: the distinct call stacks a profiler has seen, each once, with weighted totals.
//
// Glossary
//   stack    up to STACK_TABLE_MAX_DEPTH return addresses, innermost first; two stacks are the
//            same when every address is
//   totals   per stack, what the profiler adds, in units of its own: objects and bytes allocated
//            there since the start, and those still live (in use)
//   index    an open-addressed array of stack pointers, doubled (into a new array) as it fills
//
// Any thread may call stack_table_intern at any time: a stack already in the table is found
// without a lock (the slots and the stacks they point to are written once, before they are
// published); a new one is added under the table's lock. The totals are atomic counters. Memory
// comes from platform in chunks and is never given back while the table lives (a program has a
// bounded number of call sites; older indexes stay too, for lookups still reading them). Nothing
// here calls malloc.
//
// Counters: stacks (distinct stacks interned), bytes (memory the table holds).
#ifndef HAK_STACK_TABLE_H
#define HAK_STACK_TABLE_H

#include "platform.h"

#define STACK_TABLE_MAX_DEPTH 64

typedef struct st_stack {
    struct st_stack *next_all; // every stack, newest first
    uint64_t hash;
    hak_counter_t alloc_objects, alloc_bytes, inuse_objects, inuse_bytes;
    uint32_t depth;
    void *frames[]; // depth of them
} st_stack_t;

typedef struct st_index {
    size_t nslots; // a power of two
    struct st_index *older;
    st_stack_t *_Atomic slots[];
} st_index_t;

#define STACK_TABLE_COUNTERS(X)                                                                    \
    X(stacks, "distinct stacks interned")                                                          \
    X(bytes, "memory the table holds")
typedef struct {
    STACK_TABLE_COUNTERS(HAK_COUNTER_FIELD)
} stack_table_counters_t;

typedef struct {
    st_index_t *_Atomic index;
    st_stack_t *_Atomic all;
    hak_lock_t lock; // adding a stack
    size_t count;    // under the lock
    char *chunk;     // the chunk stacks are cut from
    size_t chunk_used, chunk_size;
    char *chunks; // every chunk, linked through its first word
    stack_table_counters_t stats;
} stack_table_t;

// An empty table.
void stack_table_init(stack_table_t *t);
// Give every chunk and index back; the table is empty again. No other call may run meanwhile.
void stack_table_reset(stack_table_t *t);
// The stack of these frames (depth at most STACK_TABLE_MAX_DEPTH), added with zero totals if new;
// NULL when memory ran out.
st_stack_t *stack_table_intern(stack_table_t *t, void *const *frames, unsigned depth);
// The newest stack (then follow next_all): every stack interned before the call.
st_stack_t *stack_table_first(stack_table_t *t);

// A sample of `objects` and `bytes` (the caller's units) allocated at s / no longer in use.
HAK_INLINE void stack_table_count_alloc(st_stack_t *s, uint64_t objects, uint64_t bytes) {
    hak_count(&s->alloc_objects, objects);
    hak_count(&s->alloc_bytes, bytes);
    hak_count(&s->inuse_objects, objects);
    hak_count(&s->inuse_bytes, bytes);
}
HAK_INLINE void stack_table_count_free(st_stack_t *s, uint64_t objects, uint64_t bytes) {
    hak_count_down(&s->inuse_objects, objects);
    hak_count_down(&s->inuse_bytes, bytes);
}

#endif
