// recorder: what the interposed functions of libhakmem-trace.so share (recorder.c: the C
// library's malloc family; recorder_cxx.c: C++ new and delete).
#ifndef HAK_RECORDER_H
#define HAK_RECORDER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "trace_format.h"
#include "trace_next.h"

#define EXPORT __attribute__((visibility("default")))

typedef struct tbuf {
    uint8_t *data;
    size_t len;
    uint32_t index;           // the thread's number in the trace, from 0
    uint64_t last_seq;        // the previous event's sequence number
    uint64_t events;
    uint32_t until_time;      // events until the next OP_TIME
    _Atomic int in_event;     // the owner is writing an event (the exit flush waits for it)
    struct tbuf *next;        // every buffer, for the exit flush
} tbuf_t;

// Recording an event: event_begin says whether to record it (tracing on, not a call the recorder
// itself caused, not past the exit flush) and marks the thread busy, so that whatever the
// allocator's call does with malloc is not recorded too; event_seq numbers it (an allocation after
// the call, a free before it); event_end writes the op and its n fields (at most 4), or
// event_cancel drops it.
bool event_begin(tbuf_t **out);
uint64_t event_seq(void);
void event_end(tbuf_t *t, uint8_t op, uint64_t seq, int n, uint64_t a, uint64_t b, uint64_t c,
               uint64_t d);
void event_cancel(tbuf_t *t);

// Returns the result of `call` (an allocation, as p_), recorded with the fields given when not NULL.
#define RECORD_ALLOC(op, call, n, a, b, c)                                                         \
    do {                                                                                           \
        tbuf_t *t_;                                                                                \
        if (!event_begin(&t_)) return call;                                                        \
        void *p_ = call;                                                                           \
        if (p_ != NULL) event_end(t_, op, event_seq(), n, a, b, c, 0);                             \
        else event_cancel(t_);                                                                     \
        return p_;                                                                                 \
    } while (0)

// Frees p with `call`, recorded when p is not NULL.
#define RECORD_FREE(op, p, call)                                                                   \
    do {                                                                                           \
        tbuf_t *t_;                                                                                \
        if ((p) == NULL || !event_begin(&t_)) {                                                    \
            call;                                                                                  \
            return;                                                                                \
        }                                                                                          \
        uint64_t s_ = event_seq();                                                                 \
        call;                                                                                      \
        event_end(t_, op, s_, 1, (uintptr_t)(p), 0, 0, 0);                                         \
    } while (0)

#endif
