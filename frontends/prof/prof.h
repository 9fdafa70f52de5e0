// prof: sampled heap profiles, a leak report, and profiles on demand.
//
// Glossary
//   rate     HAKMEM_PROF_SAMPLE: the mean number of bytes allocated between two samples. Every
//            byte allocated is sampled with the same chance, so the estimates are unbiased for
//            every size: a sampled allocation of s bytes stands for s / p bytes and 1 / p objects,
//            p = 1 - exp(-s / rate), the chance that one of its bytes was sampled
//   sample   an allocation chosen so: its call stack is recorded, and it counts in its stack's
//            allocated totals at once and in its in-use totals until it is freed
//   store    where sampled blocks of slab sizes live (regions registered in the segmap as
//            SEGMAP_SAMPLED), so that their frees take free's slow branch and the fast path
//            never looks for a sample; a sampled huge block keeps its record in its header
//
// The slab frontend picks the allocations (heap_cache_t.until_sample, sample.h): one every
// prof_next_gap allocations of a class. Everything here runs on slow paths; threads that sample
// meet only on the lock of a block size's store and on a stack's totals (atomic counters).
#ifndef HAK_PROF_H
#define HAK_PROF_H

#include "platform.h"

// The rate, 0 when profiling is off; set once by prof_init.
extern HAK_INTERNAL uint64_t hak_prof_rate;

// Start-up (from hak_init, after the options): the rate, the lock protected across fork.
void prof_init(void);
// After start-up, outside malloc (hakmem's constructor): the unwinder's first call (it loads a
// library; allocations before it are not sampled), and the thread that writes a profile on
// HAKMEM_PROF_SIGNAL.
void prof_start(void);

// How many allocations of `size` bytes to let pass before the next sample (at least 1), drawn
// with the caller's random state.
uint64_t prof_next_gap(size_t size, uint64_t *rng);

// A block of `size` bytes (a size class's: aligned as its lowest set bit) from the store, with the
// calling thread's stack recorded from the frame that returns to `program` on (the return address
// into the program's own code, so that the allocator's frames are left out); NULL if it is not to
// be sampled now (a sample taken inside the profiler itself, no memory): the caller hands out an
// ordinary block.
void *prof_sample_block(size_t size, void *program);
// Free a store block / its usable size; an address that is not a live one is reported and aborts.
void prof_free_block(void *p, const char *caller);
size_t prof_block_usable(void *p, const char *caller);

// A new huge block of `size` bytes: counted against the thread's next sample; if it is the one,
// its record goes in *record (the block's header). prof_forget_huge when it is freed.
void prof_note_huge(void **record, size_t size, void *program);
void prof_forget_huge(void *record);

// Write the profile of what was sampled so far to `path` (pprof format, gzipped). 0, or -1 with
// errno set (EINVAL: profiling is off).
int prof_dump(const char *path);
// At exit: HAKMEM_PROF_FILE's profile and HAKMEM_LEAKS's report.
void prof_exit(void);
// The maintenance pass (and malloc_trim, with `all`): the store's regions empty for
// HAKMEM_PURGE_DELAY_MS give their pages back. True if memory was.
bool prof_maintain(bool all);
// The statistics report's group (nothing when profiling is off).
void prof_report(hak_stats_writer_t *w);

#endif
