// Stress: thousands of short-lived threads, started in waves. Each thread allocates and frees a
// few blocks, frees the blocks that a thread of the previous wave (now exited) left for it, leaves
// blocks of its own for a thread of the next wave, and exits. Exiting threads leave slabs with
// live blocks behind: hakmem must hand them over (abandon / adopt) rather than leak them, so after
// the first waves no more memory is mapped however many waves follow.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include "stress_common.h"

#define WAVE 64
#define WAVES 50  // 3,200 threads
#define LEFT 3    // blocks each thread leaves for the next wave
#define CHURN 200 // blocks each thread allocates and frees itself

typedef struct {
    void *p;
    size_t size;
} item_t;

// left[i % (2 * WAVE)][k]: blocks left by thread i, freed by thread i + WAVE. A wave runs only
// after the previous one has been joined, so two alternating halves never race.
static item_t left[2 * WAVE][LEFT];
static atomic_int errors;
static atomic_ullong freed_foreign;
// All threads of a wave meet here with their blocks live, so every wave reaches the same peak.
static pthread_barrier_t wave_barrier;

typedef struct {
    int index;
} thread_arg_t;

static size_t left_size(rng_t *r, int k) {
    switch (k) {
    case 0:
        return rng_range(r, 1, 1024); // tiny
    case 1:
        return rng_range(r, 1025, 32 * KiB); // mid
    default:
        return rng_range(r, 1, 256); // tiny again, another class
    }
}

static void *thread_main(void *arg) {
    int index = ((thread_arg_t *)arg)->index;
    rng_t r;
    rng_seed(&r, (uint64_t)index + 12345);
    // Churn of our own, some of it still live when we take the previous wave's blocks.
    enum { LIVE = 16 };
    item_t live[LIVE];
    memset(live, 0, sizeof live);
    for (int i = 0; i < CHURN; i++) {
        item_t *s = &live[rng_next(&r) % LIVE];
        if (s->p) {
            if (!pattern_check(s->p, s->size)) atomic_fetch_add(&errors, 1);
            hak_free(s->p);
        }
        unsigned d = (unsigned)(rng_next(&r) % 100);
        s->size = d < 85   ? rng_range(&r, 1, 1024)
                  : d < 98 ? rng_range(&r, 1025, 32 * KiB)
                           : rng_range(&r, 32 * KiB + 1, 300 * KiB);
        s->p = hak_malloc(s->size);
        if (s->p == NULL) {
            atomic_fetch_add(&errors, 1);
            break;
        }
        pattern_fill(s->p, s->size);
    }
    pthread_barrier_wait(&wave_barrier);
    // Free what a thread of the previous wave left, now owned by a thread that has exited.
    item_t *mine = left[index % (2 * WAVE)];
    item_t *prev = left[(index + WAVE) % (2 * WAVE)];
    if (index >= WAVE)
        for (int k = 0; k < LEFT; k++) {
            if (prev[k].p == NULL || !pattern_check(prev[k].p, prev[k].size))
                atomic_fetch_add(&errors, 1);
            hak_free(prev[k].p);
            prev[k].p = NULL;
            atomic_fetch_add(&freed_foreign, 1);
        }
    // Leave blocks of ours for the next wave, and free the rest.
    for (int k = 0; k < LEFT; k++) {
        mine[k].size = left_size(&r, k);
        mine[k].p = hak_malloc(mine[k].size);
        if (mine[k].p == NULL) {
            atomic_fetch_add(&errors, 1);
            continue;
        }
        pattern_fill(mine[k].p, mine[k].size);
    }
    for (int i = 0; i < LIVE; i++)
        if (live[i].p) {
            if (!pattern_check(live[i].p, live[i].size)) atomic_fetch_add(&errors, 1);
            hak_free(live[i].p);
        }
    return NULL;
}

static void run_wave(int wave, pthread_attr_t *attr) {
    pthread_t t[WAVE];
    thread_arg_t args[WAVE];
    for (int i = 0; i < WAVE; i++) {
        args[i].index = wave * WAVE + i;
        int rc = pthread_create(&t[i], attr, thread_main, &args[i]);
        if (rc != 0)
            fail_msg("wave %d: pthread_create of thread %d failed: %s", wave, i, strerror(rc));
    }
    for (int i = 0; i < WAVE; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
}

static void test_thread_waves(void **state) {
    (void)state;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STRESS_SANITIZER_DIV > 1 ? 1 * MiB : 256 * KiB);
    hak_stats_t start, quarter = {0}, half = {0}, end;
    atomic_store(&errors, 0);
    atomic_store(&freed_foreign, 0);
    pthread_barrier_init(&wave_barrier, NULL, WAVE);
    hak_stats_get(&start);
    // Slabs held (claimed from the shared pool and not given back) after each wave: the most in
    // the first quarter of the waves, and the most in the second half.
    uint64_t held_first = 0, held_second = 0;
    for (int w = 0; w < WAVES; w++) {
        run_wave(w, &attr);
        if (atomic_load(&errors))
            fail_msg("wave %d: %d blocks corrupted or not allocated", w, atomic_load(&errors));
        hak_stats_t now;
        hak_stats_get(&now);
        uint64_t held = now.slabs_claimed - now.slabs_released;
        if (w < WAVES / 4 && held > held_first) held_first = held;
        if (w >= WAVES / 2 && held > held_second) held_second = held;
        if (w + 1 == WAVES / 4) quarter = now;
        if (w + 1 == WAVES / 2) half = now;
    }
    pthread_attr_destroy(&attr);
    pthread_barrier_destroy(&wave_barrier);
    // The last wave's blocks: freed by the main thread.
    for (int i = 0; i < 2 * WAVE; i++)
        for (int k = 0; k < LEFT; k++)
            if (left[i][k].p) {
                assert_true(pattern_check(left[i][k].p, left[i][k].size));
                hak_free(left[i][k].p);
                left[i][k].p = NULL;
            }
    hak_stats_get(&end);
    stats_print_delta("threads: first quarter", &start, &quarter);
    stats_print_delta("threads: second half", &half, &end);
    stats_print_delta("threads: all", &start, &end);

    assert_int_equal(atomic_load(&freed_foreign), (unsigned long long)(WAVES - 1) * WAVE * LEFT);
    // Everything allocated was freed (the C library keeps a few blocks of its own, such as the
    // TLS of cached thread stacks, in builds where malloc is hakmem).
    for (int f = 0; f < 3; f++) {
        uint64_t da = end.allocs[f] - start.allocs[f], df = end.frees[f] - start.frees[f];
        if (f < 2 && da < (uint64_t)WAVES * WAVE * LEFT / 3)
            fail_msg("frontend %d: only %llu allocs counted", f, (unsigned long long)da);
        if (da > df + 256 || df > da + 256)
            fail_msg("frontend %d: %llu allocs but %llu frees", f, (unsigned long long)da,
                     (unsigned long long)df);
    }
    // Threads exited with live blocks in their slabs: those slabs were abandoned (and maybe
    // adopted), not silently leaked.
    uint64_t abandoned = end.slabs_abandoned - start.slabs_abandoned;
    uint64_t adopted = end.slabs_adopted - start.slabs_adopted;
    if (abandoned == 0)
        fail_msg("no slab counted as abandoned after %d threads exited with live blocks",
                 WAVES * WAVE);
    if (adopted > abandoned + (start.slabs_abandoned - start.slabs_adopted))
        fail_msg("%llu slabs adopted but only %llu abandoned", (unsigned long long)adopted,
                 (unsigned long long)abandoned);
    // Memory reaches a steady state. Every wave has the same peak (its threads meet at a barrier
    // with their blocks live), so the slabs held after a wave stay about the same; a slab leaked
    // per exiting thread would add WAVE slabs per wave.
    printf("threads: slabs held after a wave: at most %llu in the first quarter, %llu in the "
           "second half\n",
           (unsigned long long)held_first, (unsigned long long)held_second);
    if (held_second > held_first + held_first / 2 + WAVE)
        fail_msg("slabs held keep growing over thread generations: at most %llu after the first %d "
                 "waves, %llu later",
                 (unsigned long long)held_first, WAVES / 4, (unsigned long long)held_second);
    // And the second half of the waves maps at most half as many new segments as the first
    // quarter did (memory that is never reused maps as many or more).
    uint64_t first = quarter.segments_mapped - start.segments_mapped;
    uint64_t second = end.segments_mapped - half.segments_mapped;
    if (second > first / 2 + 2)
        fail_msg("segments keep being mapped: %llu in the first %d waves, %llu in the last %d",
                 (unsigned long long)first, WAVES / 4, (unsigned long long)second,
                 WAVES - WAVES / 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_waves),
    };
    return cmocka_run_group_tests_name("stress_threads", tests, NULL, NULL);
}
