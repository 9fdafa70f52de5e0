// What the profiler's files share: the stacks, what a sample stands for, the store.
#ifndef HAK_PROF_INTERNAL_H
#define HAK_PROF_INTERNAL_H

#include "prof.h"
#include "stack_table.h"

// What a sample of s bytes stands for: 1 / p objects, s / p bytes (p: the chance that it was
// sampled), in the stacks' totals' units: objects in 1/PROF_OBJECT_UNIT, bytes rounded.
#define PROF_OBJECT_UNIT 65536
typedef struct {
    uint64_t objects, bytes;
} prof_weight_t;
prof_weight_t prof_weight(size_t size);

#define PROF_COUNTERS(X)                                                                           \
    X(samples, "allocations sampled (slab sizes)")                                                 \
    X(huge_samples, "huge allocations sampled")                                                    \
    X(samples_freed, "sampled allocations freed")                                                  \
    X(samples_lost, "samples not taken: inside the profiler itself, or no memory")                 \
    X(store_regions, "2 MiB regions of the store of sampled blocks")                               \
    X(profiles, "profiles written")
typedef struct {
    PROF_COUNTERS(HAK_COUNTER_FIELD)
} prof_counters_t;

// Serialises the writers of profiles (dump.c).
extern HAK_INTERNAL hak_lock_t prof_writer_lock;
extern HAK_INTERNAL stack_table_t prof_stacks;
extern HAK_INTERNAL prof_counters_t prof_stats;

// Start-up (sample.c): where hakmem's own code is, so that samples leave its frames out; the
// stacks' and the huge records' locks protected across fork.
void prof_sample_init(void);
// The unwinder is warmed up: samples may be taken from now on.
void prof_set_ready(void);

// The store (store.c). Start-up: its locks protected across fork.
void prof_store_init(void);
// A block of `size` bytes for a sample at `stack`, and what the sample stands for; NULL when
// memory ran out / the end of a store block: its stack and weight.
void *prof_store_alloc(size_t size, st_stack_t *stack, prof_weight_t *weight);
st_stack_t *prof_store_free(void *p, const char *caller, prof_weight_t *weight);
size_t prof_store_usable(void *p, const char *caller);
// Purge the regions empty for HAKMEM_PURGE_DELAY_MS (all: every empty one). True if one was.
bool prof_store_purge(bool all);

// The profile and the leak report (dump.c).
int prof_write_profile(const char *path);
void prof_report_leaks(void);

#endif
