// What the profiler's files share: the lock, the stacks, the records of live samples.
#ifndef HAK_PROF_INTERNAL_H
#define HAK_PROF_INTERNAL_H

#include "prof.h"
#include "stack_table.h"

// One live sampled allocation.
typedef struct prof_record {
    st_stack_t *stack;
    uint64_t size;
    double objects, bytes; // what it stands for: 1 / p objects, size / p bytes
    struct prof_record *next_free;
} prof_record_t;

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

// Guards everything below, and the store.
extern HAK_INTERNAL hak_lock_t prof_lock;
// Serialises the writers of profiles (dump.c); taken before prof_lock.
extern HAK_INTERNAL hak_lock_t prof_writer_lock;
extern HAK_INTERNAL stack_table_t prof_stacks;
extern HAK_INTERNAL prof_counters_t prof_stats;

// Where hakmem's own code is, so that samples leave its frames out (sample.c).
void prof_find_own_code(void);
// The unwinder is warmed up: samples may be taken from now on.
void prof_set_ready(void);

// Under prof_lock: the end of a sample's record, when its allocation is freed (its stack's in-use
// totals lose it).
void prof_record_forget(prof_record_t *r);

// Under prof_lock: a store block for a new record / the end of a store block (store.c).
void *prof_store_alloc(size_t size, prof_record_t *r);
prof_record_t *prof_store_free(void *p, const char *caller);
size_t prof_store_usable(void *p, const char *caller);
// Purge the regions empty for HAKMEM_PURGE_DELAY_MS (all: every empty one). True if one was.
bool prof_store_purge(bool all);

// The profile and the leak report (dump.c).
int prof_write_profile(const char *path);
void prof_report_leaks(void);

#endif
