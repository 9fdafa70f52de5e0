// hak-replay: runs a recorded trace under whatever allocator serves the process (LD_PRELOAD, or
// the C library's), with the trace's threads, each making its own calls in its recorded order.
//
//   hak-replay [--touch FRACTION] FILE
//
// A free, delete or realloc of a block another thread made waits until that thread has made it
// in this replay (the trace's numbering guarantees such a wait always ends); nothing else is
// serialised. Each block made is written: its first byte, or the given fraction of its bytes
// (--touch 1: all). C++ blocks are made and freed with operator new and delete; a realloc to size
// 0 frees. Prints the workload lines the benchmark runner reads (ALLOCATOR, RESULT: ops, seconds,
// ops_per_sec, peak_rss_kb, live blocks and bytes at the end).
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <sys/mman.h>

#include "trace_read.h"
#include "workload_common.h"

void *_Znwm(size_t size);
void *_Znam(size_t size);
void _ZdlPv(void *p);
void _ZdaPv(void *p);

typedef struct {
    uint32_t thread;
    uint64_t *ops; // indices into the trace's events, in order
    uint64_t n;
    uint64_t waits;
    // What this thread made and released in the replay (blocks, bytes asked for); a thread may
    // release more than it made (other threads' blocks): the sum over threads is what is left.
    int64_t live_blocks, live_bytes;
    pthread_t th;
} replay_thread_t;

static trace_t g_trace;
static _Atomic(void *) *g_ptr; // [block]: its address in this replay, NULL until made
static double g_touch;
static spin_barrier_t g_start;

static void *block_of(replay_thread_t *r, uint32_t id) {
    void *p = atomic_load_explicit(&g_ptr[id], memory_order_acquire);
    for (unsigned spins = 0; p == NULL; spins++) {
        if (spins == 0) r->waits++;
        if (spins > 64) sched_yield();
        // acquire: pairs with the maker's release store, so the block's bytes are its.
        p = atomic_load_explicit(&g_ptr[id], memory_order_acquire);
    }
    return p;
}

static void made(replay_thread_t *r, uint32_t id, void *p, uint64_t size) {
    if (p == NULL) wl_die("hak-replay: the allocator returned NULL for %llu bytes",
                          (unsigned long long)size);
    size_t n = g_touch > 0 ? (size_t)((double)size * g_touch) : 1;
    if (n > size) n = (size_t)size;
    if (n) memset(p, 0x5a, n);
    r->live_blocks++, r->live_bytes += (int64_t)size;
    // release: whichever thread frees it later sees it made and written.
    atomic_store_explicit(&g_ptr[id], p, memory_order_release);
}

// The block a realloc or a free gives back, as this thread's accounts see it.
static void *given_back(replay_thread_t *r, uint32_t id) {
    r->live_blocks--, r->live_bytes -= (int64_t)g_trace.block_size[id];
    return block_of(r, id);
}

static void release(replay_thread_t *r, uint32_t id) {
    void *p = given_back(r, id);
    uint8_t how = g_trace.block_op[id];
    if (how == OP_NEW) _ZdlPv(p);
    else if (how == OP_NEW_ARRAY) _ZdaPv(p);
    else free(p);
}

static void replay_event(replay_thread_t *r, const trace_event_t *e) {
    switch (e->op) {
    case OP_MALLOC: if (e->block) made(r, e->block, malloc(e->size), e->size); break;
    case OP_CALLOC: if (e->block) made(r, e->block, calloc(1, e->size), e->size); break;
    case OP_NEW: if (e->block) made(r, e->block, _Znwm(e->size), e->size); break;
    case OP_NEW_ARRAY: if (e->block) made(r, e->block, _Znam(e->size), e->size); break;
    case OP_MEMALIGN:
        if (e->block) {
            void *p = NULL;
            size_t align = e->align < sizeof(void *) ? sizeof(void *) : (size_t)e->align;
            if (posix_memalign(&p, align, e->size) != 0) p = NULL;
            made(r, e->block, p, e->size);
        }
        break;
    case OP_REALLOC:
        if (e->block == 0) { // size 0: freed (one that failed released nothing: no arg)
            if (e->arg) release(r, e->arg);
        } else if (e->arg && g_trace.block_op[e->arg] != OP_NEW &&
                   g_trace.block_op[e->arg] != OP_NEW_ARRAY) {
            made(r, e->block, realloc(given_back(r, e->arg), e->size), e->size);
        } else { // from NULL (or from a block of new, which realloc may not take)
            if (e->arg) release(r, e->arg);
            made(r, e->block, malloc(e->size), e->size);
        }
        break;
    default: // the frees
        if (e->arg) release(r, e->arg);
        break;
    }
}

static void *replay_main(void *arg) {
    replay_thread_t *r = arg;
    spin_barrier_wait(&g_start);
    for (uint64_t i = 0; i < r->n; i++) replay_event(r, &g_trace.events[r->ops[i]]);
    return NULL;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--touch") == 0 && i + 1 < argc) g_touch = atof(argv[++i]);
        else if (!path && argv[i][0] != '-') path = argv[i];
        else wl_die("usage: %s [--touch FRACTION] FILE", argv[0]);
    }
    if (!path) wl_die("usage: %s [--touch FRACTION] FILE", argv[0]);
    char err[256];
    if (trace_load(path, &g_trace, err, sizeof err) != 0) wl_die("hak-replay: %s: %s", path, err);
    uint32_t nt = g_trace.threads ? g_trace.threads : 1;
    // The replay's own tables are mapped, not allocated: the allocator under test serves the
    // trace's calls only (the trace's events were loaded with it, before the timed part).
    g_ptr = trace_map_alloc(((size_t)g_trace.nblocks + 1) * sizeof *g_ptr);
    replay_thread_t *threads = trace_map_alloc(nt * sizeof *threads);
    uint64_t *order = trace_map_alloc((g_trace.nevents + 1) * sizeof *order),
             *fill = trace_map_alloc(nt * sizeof *fill);
    if (!g_ptr || !threads || !order || !fill) wl_die("hak-replay: out of memory");
    for (uint64_t i = 0; i < g_trace.nevents; i++) threads[g_trace.events[i].thread].n++;
    uint64_t at = 0;
    for (uint32_t t = 0; t < nt; t++) threads[t].thread = t, threads[t].ops = order + at, at += threads[t].n;
    for (uint64_t i = 0; i < g_trace.nevents; i++) {
        uint32_t t = g_trace.events[i].thread;
        threads[t].ops[fill[t]++] = i;
    }
    // The peak resident set from here on (the loading's own peak is not the replay's): the
    // trace's tables stay resident and count in it, the same under every allocator (trace_kb).
    long trace_kb = wl_rss_kb();
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    if (clear) fputs("5", clear), fclose(clear);
    spin_barrier_init(&g_start, nt + 1);
    for (uint32_t t = 0; t < nt; t++)
        if (pthread_create(&threads[t].th, NULL, replay_main, &threads[t]) != 0)
            wl_die("hak-replay: pthread_create failed");
    spin_barrier_wait(&g_start);
    double t0 = wl_now();
    uint64_t waits = 0;
    int64_t live = 0, live_bytes = 0;
    for (uint32_t t = 0; t < nt; t++) {
        pthread_join(threads[t].th, NULL);
        waits += threads[t].waits;
        live += threads[t].live_blocks, live_bytes += threads[t].live_bytes;
    }
    double secs = wl_now() - t0;
    printf("hak-replay: %s: %llu events of %u threads in %.3f s (%llu waits for another thread)\n",
           path, (unsigned long long)g_trace.nevents, nt, secs, (unsigned long long)waits);
    wl_report("replay",
              "ops=%llu seconds=%.6f ops_per_sec=%.0f peak_rss_kb=%ld trace_kb=%ld "
              "live_blocks=%lld live_bytes=%lld threads=%u waits=%llu",
              (unsigned long long)g_trace.nevents, secs, g_trace.nevents / (secs > 0 ? secs : 1e-9),
              wl_peak_rss_kb(), trace_kb, (long long)live, (long long)live_bytes,
              nt, (unsigned long long)waits);
    return 0;
}
