// counters: the statistics every box, backend and frontend keeps, declared once per counter.
//
// A set of counters is a table X(name, what it counts), for example
//
//   #define LRU_COUNTERS(X) X(inserted, "segments that became empty and waited") X(hits, "...")
//   typedef struct { LRU_COUNTERS(HAK_COUNTER_FIELD) } lru_counters_t;
//
// The table generates the struct's fields, their names in the HAKMEM_STATS report
// (HAK_COUNTER_NAME) and the values read for it (HAK_COUNTER_VALUE): adding a counter is one line.
//
// Counters are statistics only: relaxed atomics, ordering nothing; a reader gets a recent value.
#ifndef HAK_COUNTERS_H
#define HAK_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint64_t hak_counter_t;

#define HAK_COUNTER_FIELD(name, what) hak_counter_t name;
#define HAK_COUNTER_NAME(name, what) #name,
// Reads the counter `name` of the set `counters_` points to (a variable of the caller's).
#define HAK_COUNTER_VALUE(name, what) hak_counter_get(&counters_->name),
// Adds the set `from_` points to into the set `into_` points to (variables of the caller's).
#define HAK_COUNTER_ADD(name, what) hak_count(&into_->name, hak_counter_get(&from_->name));

// Any thread may count.
static inline __attribute__((always_inline)) void hak_count(hak_counter_t *c, uint64_t n) {
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
static inline __attribute__((always_inline)) void hak_count_down(hak_counter_t *c, uint64_t n) {
    atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}
// Only one thread ever counts (the owner of a heap): no locked instruction.
static inline __attribute__((always_inline)) void hak_count_owned(hak_counter_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
// A high-water mark: raise c to v if v is higher.
static inline void hak_count_max(hak_counter_t *c, uint64_t v) {
    uint64_t seen = atomic_load_explicit(c, memory_order_relaxed);
    while (seen < v && !atomic_compare_exchange_weak_explicit(c, &seen, v, memory_order_relaxed,
                                                               memory_order_relaxed)) {
    }
}
static inline __attribute__((always_inline)) uint64_t hak_counter_get(const hak_counter_t *c) {
    return atomic_load_explicit((hak_counter_t *)c, memory_order_relaxed);
}

// Where a report of counters goes: one group of named values at a time (a line of HAKMEM_STATS
// text, an object of JSON, ...). The parts that keep counters report them through it.
typedef struct hak_stats_writer {
    void (*group)(struct hak_stats_writer *w, const char *what, const char *const names[],
                  const uint64_t values[], unsigned n);
} hak_stats_writer_t;

static inline void hak_stats_group(hak_stats_writer_t *w, const char *what,
                                   const char *const names[], const uint64_t values[], unsigned n) {
    w->group(w, what, names, values, n);
}

// The HAKMEM_STATS text: each group a line "hakmem: <what> name=value name=value ..." on stderr.
extern hak_stats_writer_t hak_stats_text;

// The group of one set of counters: HAK_COUNTERS_REPORT(w, "lru", LRU_COUNTERS, &l->stats).
#define HAK_COUNTERS_REPORT(w, what, TABLE, counters)                                              \
    do {                                                                                           \
        const __typeof__(*(counters)) *counters_ = (counters);                                     \
        static const char *const names_[] = {TABLE(HAK_COUNTER_NAME)};                             \
        const uint64_t values_[] = {TABLE(HAK_COUNTER_VALUE)};                                     \
        hak_stats_group(w, what, names_, values_, sizeof values_ / sizeof values_[0]);             \
    } while (0)

// Add one set of counters into another of the same table: HAK_COUNTERS_ADD(TABLE, &sum, &one).
#define HAK_COUNTERS_ADD(TABLE, into, from)                                                        \
    do {                                                                                           \
        __typeof__(*(into)) *into_ = (into);                                                       \
        const __typeof__(*(into)) *from_ = (from);                                                 \
        TABLE(HAK_COUNTER_ADD)                                                                     \
    } while (0)

#endif
