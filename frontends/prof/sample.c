// Taking samples: the gaps between them, the stacks, the records and their totals.
#include "prof_internal.h"

#include "prof_math.h"

#include <string.h>

uint64_t hak_prof_rate;
hak_lock_t prof_lock = HAK_LOCK_INIT;
stack_table_t prof_stacks;
prof_counters_t prof_stats;

// Set while this thread is in the profiler: an allocation made meanwhile (by the unwinder, say)
// is not sampled.
static __thread bool in_profiler;

// Set by prof_start once the unwinder has made its first call (which loads a library: from inside
// the dynamic loader's own allocations, that breaks it). Allocations before are not sampled.
static _Atomic bool ready;

void prof_set_ready(void) { atomic_store_explicit(&ready, true, memory_order_release); }

// Not in the profiler already, and ready (acquire: pairs with prof_set_ready, after the warm-up).
static bool can_sample(void) {
    return !in_profiler && atomic_load_explicit(&ready, memory_order_acquire);
}

// ---- gaps --------------------------------------------------------------------------------------

static uint64_t rng_next(uint64_t *s) { // xorshift64*
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1du;
}

// An exponential variate of mean 1.
static double exp1(uint64_t *rng) {
    double u = (double)((rng_next(rng) >> 11) + 1) * 0x1.0p-53; // (0, 1]
    return -prof_ln(u);
}

// Each byte is sampled with chance 1 / rate, independently: the allocations of s bytes between two
// samples are geometric, P(gap > k) = exp(-k s / rate), drawn as ceil(E rate / s).
uint64_t prof_next_gap(size_t size, uint64_t *rng) {
    double gap = exp1(rng) * (double)hak_prof_rate / (double)size;
    return gap < 1 ? 1 : gap > 0x1p62 ? (uint64_t)1 << 62 : prof_ceil(gap);
}

// ---- records -----------------------------------------------------------------------------------

static prof_record_t *free_records;
static char *record_chunk;
static size_t record_chunk_left;

static void record_free(prof_record_t *r) {
    r->next_free = free_records;
    free_records = r;
}

// A record of an allocation of `size` bytes at this stack, not yet counted in its totals.
static prof_record_t *record_new(void *const *frames, unsigned depth, size_t size) {
    st_stack_t *st = stack_table_intern(&prof_stacks, frames, depth);
    if (st == NULL) return NULL;
    prof_record_t *r = free_records;
    if (r != NULL) {
        free_records = r->next_free;
    } else {
        if (record_chunk_left < sizeof *r) {
            record_chunk = hak_os_reserve_aligned(64 * HAK_KiB, hak_os_page_size());
            if (record_chunk == NULL) return NULL;
            record_chunk_left = 64 * HAK_KiB;
        }
        r = (prof_record_t *)record_chunk;
        record_chunk += sizeof *r;
        record_chunk_left -= sizeof *r;
    }
    // The chance that an allocation of `size` bytes holds a sampled byte.
    double p = prof_one_minus_exp_neg((double)size / (double)hak_prof_rate);
    r->stack = st;
    r->size = size;
    r->objects = 1 / p;
    r->bytes = (double)size / p;
    return r;
}

static void record_count(prof_record_t *r) {
    r->stack->alloc_objects += r->objects;
    r->stack->alloc_bytes += r->bytes;
    r->stack->inuse_objects += r->objects;
    r->stack->inuse_bytes += r->bytes;
}

void prof_record_forget(prof_record_t *r) {
    r->stack->inuse_objects -= r->objects;
    r->stack->inuse_bytes -= r->bytes;
    record_free(r);
    hak_count(&prof_stats.samples_freed, 1);
}

// ---- samples -----------------------------------------------------------------------------------

// hakmem's own code, when it is a shared object (set by prof_init).
static uintptr_t own_start, own_end;

// The calling thread's stack from the frame whose return address is `program` on (all of it if
// the unwinder did not see that frame), and without the frames in hakmem's own code before the
// program's (calloc, operator new, ... calling the allocation that was sampled).
static unsigned capture(void **frames, void *program) {
    int depth = hak_stack_capture(frames, STACK_TABLE_MAX_DEPTH), from = 0;
    for (int i = 0; i < depth; i++)
        if (frames[i] == program) {
            from = i;
            break;
        }
    while (from < depth && (uintptr_t)frames[from] >= own_start && (uintptr_t)frames[from] < own_end) from++;
    memmove(frames, frames + from, (size_t)(depth - from) * sizeof *frames);
    return (unsigned)(depth - from);
}

void prof_find_own_code(void) {
    if (!hak_own_code(&own_start, &own_end)) own_start = own_end = 0;
}

// A sample of an allocation of `size` bytes: its record, counted in its stack's totals, and (block
// not NULL) a store block for it; NULL, counted as lost, when it cannot be taken. `taken` counts it.
static prof_record_t *sample(size_t size, void *program, void **block, hak_counter_t *taken) {
    prof_record_t *r = NULL;
    if (can_sample()) {
        in_profiler = true;
        void *frames[STACK_TABLE_MAX_DEPTH];
        unsigned depth = capture(frames, program); // before the lock: it may be slow
        hak_lock(&prof_lock);
        r = record_new(frames, depth, size);
        if (r != NULL && block != NULL && (*block = prof_store_alloc(size, r)) == NULL) {
            record_free(r);
            r = NULL;
        }
        if (r != NULL) record_count(r);
        hak_unlock(&prof_lock);
        in_profiler = false;
    }
    hak_count(r != NULL ? taken : &prof_stats.samples_lost, 1);
    return r;
}

void *prof_sample_block(size_t size, void *program) {
    void *b = NULL;
    return sample(size, program, &b, &prof_stats.samples) != NULL ? b : NULL;
}

void prof_free_block(void *p, const char *caller) {
    hak_lock(&prof_lock);
    prof_record_t *r = prof_store_free(p, caller);
    if (r != NULL) prof_record_forget(r);
    hak_unlock(&prof_lock);
}

size_t prof_block_usable(void *p, const char *caller) {
    hak_lock(&prof_lock);
    size_t n = prof_store_usable(p, caller);
    hak_unlock(&prof_lock);
    return n;
}

// Huge blocks: the thread's own countdown, in bytes.
static __thread double huge_bytes_until;
static __thread uint64_t huge_rng;

void prof_note_huge(void **record, size_t size, void *program) {
    if (huge_rng == 0) { // this thread's first huge block
        huge_rng = hak_os_random_seed() ^ (uint64_t)(uintptr_t)&huge_rng;
        huge_bytes_until = exp1(&huge_rng) * (double)hak_prof_rate;
    }
    huge_bytes_until -= (double)size;
    if (huge_bytes_until > 0) return;
    while (huge_bytes_until <= 0) huge_bytes_until += exp1(&huge_rng) * (double)hak_prof_rate;
    *record = sample(size, program, NULL, &prof_stats.huge_samples);
}

void prof_forget_huge(void *record) {
    hak_lock(&prof_lock);
    prof_record_forget(record);
    hak_unlock(&prof_lock);
}
