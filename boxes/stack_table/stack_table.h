// stack_table: the distinct call stacks a profiler has seen, each once, with weighted totals.
//
// Glossary
//   stack    up to STACK_TABLE_MAX_DEPTH return addresses, innermost first; two stacks are the
//            same when every address is
//   totals   per stack, what the profiler adds: estimated objects and bytes allocated there since
//            the start, and those still live (in use)
//
// The caller serialises every call (one lock of its own). Memory comes from platform in chunks
// and is never given back while the table lives (a program has a bounded number of call sites);
// the hash index grows as stacks are added. Nothing here calls malloc.
//
// Counters: stacks (distinct stacks interned), bytes (memory the table holds).
#ifndef HAK_STACK_TABLE_H
#define HAK_STACK_TABLE_H

#include "platform.h"

#define STACK_TABLE_MAX_DEPTH 64

typedef struct st_stack {
    struct st_stack *next_in_bucket;
    struct st_stack *next_all; // every stack, newest first
    uint64_t hash;
    double alloc_objects, alloc_bytes, inuse_objects, inuse_bytes;
    uint32_t depth;
    void *frames[]; // depth of them
} st_stack_t;

#define STACK_TABLE_COUNTERS(X)                                                                    \
    X(stacks, "distinct stacks interned")                                                          \
    X(bytes, "memory the table holds")
typedef struct {
    STACK_TABLE_COUNTERS(HAK_COUNTER_FIELD)
} stack_table_counters_t;

typedef struct {
    st_stack_t **buckets; // nbuckets, a power of two
    size_t nbuckets, count;
    st_stack_t *all;
    char *chunk; // the chunk stacks are cut from
    size_t chunk_used, chunk_size;
    char *chunks; // every chunk, linked through its first word
    stack_table_counters_t stats;
} stack_table_t;

// An empty table.
void stack_table_init(stack_table_t *t);
// Give every chunk and the index back; the table is empty again.
void stack_table_reset(stack_table_t *t);
// The stack of these frames (depth at most STACK_TABLE_MAX_DEPTH), added with zero totals if new;
// NULL when memory ran out.
st_stack_t *stack_table_intern(stack_table_t *t, void *const *frames, unsigned depth);

#endif
