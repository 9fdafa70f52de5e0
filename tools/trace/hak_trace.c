// hak-trace: what a recorded trace holds (events by kind, sizes, live bytes over time, threads,
// frees made by another thread than the allocation).
//
//   hak-trace FILE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_read.h"

#define BUCKETS 48
#define TIMELINE 10

static void print_sizes(const trace_t *t) {
    uint64_t count[BUCKETS] = {0};
    for (uint64_t i = 0; i < t->nevents; i++) {
        const trace_event_t *e = &t->events[i];
        if (!e->block) continue;
        unsigned b = e->size ? 64 - (unsigned)__builtin_clzll(e->size) : 0;
        count[b < BUCKETS ? b : BUCKETS - 1]++;
    }
    printf("\nsizes of the blocks made (count by power of two):\n");
    for (unsigned b = 0; b < BUCKETS; b++)
        if (count[b])
            printf("  %10llu - %-10llu B  %10llu\n", b ? 1ull << (b - 1) : 0ull,
                   b ? (1ull << b) - 1 : 0ull, (unsigned long long)count[b]);
}

static void print_live(const trace_t *t) {
    uint64_t live = 0, peak = 0, peak_ms = 0, last_ms = t->nevents ? t->events[t->nevents - 1].ms : 0;
    uint64_t mark[TIMELINE] = {0};
    unsigned next_mark = 0;
    for (uint64_t i = 0; i < t->nevents; i++) {
        const trace_event_t *e = &t->events[i];
        if (e->arg) live -= t->block_size[e->arg];
        if (e->block) live += t->block_size[e->block];
        if (live > peak) peak = live, peak_ms = e->ms;
        while (next_mark < TIMELINE && i + 1 >= (t->nevents * (next_mark + 1)) / TIMELINE)
            mark[next_mark++] = live;
    }
    printf("\nlive bytes: peak %llu (at %llu ms of %llu), at the end %llu\n",
           (unsigned long long)peak, (unsigned long long)peak_ms, (unsigned long long)last_ms,
           (unsigned long long)live);
    printf("live bytes after each tenth of the events:");
    for (unsigned k = 0; k < TIMELINE; k++) printf(" %llu", (unsigned long long)mark[k]);
    printf("\n");
}

static void print_threads(const trace_t *t) {
    uint64_t *ev = calloc(t->threads + 1, sizeof *ev), *made = calloc(t->threads + 1, sizeof *made),
             *cross = calloc(t->threads + 1, sizeof *cross);
    uint64_t cross_all = 0;
    for (uint64_t i = 0; i < t->nevents; i++) {
        const trace_event_t *e = &t->events[i];
        ev[e->thread]++;
        if (e->block) made[e->thread]++;
        if (e->arg && t->block_thread[e->arg] != e->thread) cross[e->thread]++, cross_all++;
    }
    printf("\nthreads: %u; frees of another thread's block: %llu\n", t->threads,
           (unsigned long long)cross_all);
    printf("  thread      events    blocks made  frees of another's\n");
    for (uint32_t th = 0; th < t->threads; th++)
        printf("  %6u  %10llu  %13llu  %17llu\n", th, (unsigned long long)ev[th],
               (unsigned long long)made[th], (unsigned long long)cross[th]);
    free(ev), free(made), free(cross);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    trace_t t;
    char err[256];
    if (trace_load(argv[1], &t, err, sizeof err) != 0) {
        fprintf(stderr, "hak-trace: %s: %s\n", argv[1], err);
        return 1;
    }
    uint64_t by_op[OP_LAST] = {0};
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < t.nevents; i++) {
        by_op[t.events[i].op]++;
        if (t.events[i].block) bytes += t.events[i].size;
    }
    printf("trace %s: format %llu, page size %llu, process %llu\n", argv[1],
           (unsigned long long)t.version, (unsigned long long)t.page_size,
           (unsigned long long)t.pid);
    printf("events: %llu; blocks made: %u (%llu bytes asked for); frees of blocks made before "
           "the recording: %llu\n",
           (unsigned long long)t.nevents, t.nblocks, (unsigned long long)bytes,
           (unsigned long long)t.unknown_frees);
    for (uint8_t op = 1; op < OP_LAST; op++)
        if (by_op[op]) printf("  %-9s %12llu\n", trace_op_name(op), (unsigned long long)by_op[op]);
    print_sizes(&t);
    print_live(&t);
    print_threads(&t);
    trace_free(&t);
    return 0;
}
