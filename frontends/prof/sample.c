// Taking samples: the gaps between them, the stacks, the records and their totals.
#include "prof_internal.h"

#include "prof_math.h"

#include <string.h>

uint64_t hak_prof_rate;
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

// ---- weights and huge records ------------------------------------------------------------------

prof_weight_t prof_weight(size_t size) {
    // The chance that an allocation of `size` bytes holds a sampled byte.
    double p = prof_one_minus_exp_neg((double)size / (double)hak_prof_rate);
    return (prof_weight_t){(uint64_t)(PROF_OBJECT_UNIT / p + 0.5), (uint64_t)((double)size / p + 0.5)};
}

// A sampled huge block's record (in its header): huge blocks have any size, and realloc may move
// them to a bigger mapping, so the weight it was counted with goes with it.
typedef struct huge_record {
    st_stack_t *stack;
    prof_weight_t weight;
    struct huge_record *next_free;
} huge_record_t;

static hak_lock_t records_lock = HAK_LOCK_INIT;
static huge_record_t *free_records;
static char *record_chunk;
static size_t record_chunk_left;

static huge_record_t *record_new(st_stack_t *stack, size_t size) {
    hak_lock(&records_lock);
    huge_record_t *r = free_records;
    if (r != NULL) {
        free_records = r->next_free;
    } else {
        if (record_chunk_left < sizeof *r) {
            char *chunk = hak_os_reserve_aligned(64 * HAK_KiB, hak_os_page_size());
            if (chunk != NULL) {
                record_chunk = chunk;
                record_chunk_left = 64 * HAK_KiB;
            }
        }
        if (record_chunk_left >= sizeof *r) {
            r = (huge_record_t *)record_chunk;
            record_chunk += sizeof *r;
            record_chunk_left -= sizeof *r;
        }
    }
    hak_unlock(&records_lock);
    if (r != NULL) *r = (huge_record_t){stack, prof_weight(size), NULL};
    return r;
}

static void record_free(huge_record_t *r) {
    hak_lock(&records_lock);
    r->next_free = free_records;
    free_records = r;
    hak_unlock(&records_lock);
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

void prof_sample_init(void) {
    if (!hak_own_code(&own_start, &own_end)) own_start = own_end = 0;
    stack_table_init(&prof_stacks);
    hak_fork_protect(&prof_stacks.lock);
    hak_fork_protect(&records_lock);
}

// The calling thread's stack, interned, for a sample; NULL when none is to be taken now. Sets
// in_profiler: the caller clears it once done.
static st_stack_t *sample_stack(void *program) {
    if (!can_sample()) return NULL;
    in_profiler = true;
    void *frames[STACK_TABLE_MAX_DEPTH];
    unsigned depth = capture(frames, program);
    return stack_table_intern(&prof_stacks, frames, depth);
}

void *prof_sample_block(size_t size, void *program) {
    st_stack_t *stack = sample_stack(program);
    prof_weight_t w;
    void *b = stack != NULL ? prof_store_alloc(size, stack, &w) : NULL;
    if (b != NULL) stack_table_count_alloc(stack, w.objects, w.bytes);
    in_profiler = false;
    hak_count(b != NULL ? &prof_stats.samples : &prof_stats.samples_lost, 1);
    return b;
}

void prof_free_block(void *p, const char *caller) {
    prof_weight_t w;
    st_stack_t *stack = prof_store_free(p, caller, &w);
    stack_table_count_free(stack, w.objects, w.bytes);
    hak_count(&prof_stats.samples_freed, 1);
}

size_t prof_block_usable(void *p, const char *caller) { return prof_store_usable(p, caller); }

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
    st_stack_t *stack = sample_stack(program);
    huge_record_t *r = stack != NULL ? record_new(stack, size) : NULL;
    if (r != NULL) stack_table_count_alloc(stack, r->weight.objects, r->weight.bytes);
    in_profiler = false;
    hak_count(r != NULL ? &prof_stats.huge_samples : &prof_stats.samples_lost, 1);
    *record = r;
}

void prof_forget_huge(void *record) {
    huge_record_t *r = record;
    stack_table_count_free(r->stack, r->weight.objects, r->weight.bytes);
    record_free(r);
    hak_count(&prof_stats.samples_freed, 1);
}
