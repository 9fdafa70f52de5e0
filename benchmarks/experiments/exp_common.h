// Helpers shared by the experiments: thread pinning, a clock, a busy loop, number parsing.
#ifndef HAK_EXP_COMMON_H
#define HAK_EXP_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cpu_set_t g_allowed; // the CPUs this process may run on (set by main)
static int g_pin;           // pin thread k to the k-th allowed CPU

static void pin_to(int k) {
    if (!g_pin) return;
    int count = CPU_COUNT(&g_allowed), seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &g_allowed)) continue;
        if (seen++ == k % count) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            int e = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
            if (e != 0) fprintf(stderr, "pthread_setaffinity_np(%d): %s\n", cpu, strerror(e));
            return;
        }
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void spin(long n) {
    for (volatile long i = 0; i < n; i++) {
    }
}

// A number with an optional K or M suffix, at least `min`; exits with a message naming `prog`.
static double parse_number(const char *prog, const char *s, const char *what, double min) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end == 'K' || *end == 'k')
        v *= 1e3, end++;
    else if (*end == 'M' || *end == 'm')
        v *= 1e6, end++;
    if (errno || *end || v < min || v > 1e12) {
        fprintf(stderr, "%s: bad %s '%s'\n", prog, what, s);
        exit(2);
    }
    return v;
}

#endif
