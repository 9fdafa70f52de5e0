// libhakmem-trace.so: records every malloc-family call of a program, and its C++ new and delete,
// into the file HAKMEM_TRACE names (trace_format.h), forwarding each call to the allocator loaded
// after it (hakmem, any peer, or the C library's):
//
//   HAKMEM_TRACE=prog.trace LD_PRELOAD="libhakmem-trace.so libhakmem.so" prog args...
//
// Without HAKMEM_TRACE it only forwards. Each thread writes its events into a buffer of its own
// (mapped, not allocated, so the allocator under study sees only the program's calls) and appends
// it to the file as one chunk when full, when the thread exits and when the process exits. Every
// event takes a number from one process-wide counter; that atomic add is most of the cost.
// A fork child records nothing (its own calls are not in the trace).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "recorder.h"

#define BUF_BYTES (256 * 1024)
#define EVENT_MAX (1 + 5 * TRACE_VARINT_MAX)
#define TIME_EVERY 256

static int trace_fd = -1;
// Set at exit and in a fork child: no event is recorded any more.
static _Atomic bool closing;
// Orders every event of the process (trace_format.h).
static _Atomic uint64_t next_seq = 1;
static struct timespec started;
static pthread_mutex_t buffers_lock = PTHREAD_MUTEX_INITIALIZER;
static tbuf_t *buffers;
static uint32_t threads_seen;
static pthread_key_t exit_key;
// initial-exec: the library is loaded at start-up (LD_PRELOAD), so its TLS is in the static block;
// the default model's first access in a thread may call malloc, which is this library.
#define RECORDER_TLS __thread __attribute__((tls_model("initial-exec")))
static RECORDER_TLS tbuf_t *my;
static RECORDER_TLS bool busy; // inside the recorder: the calls it causes are not the program's

static void write_all(const struct iovec *iov, int n) {
    // O_APPEND: one writev is appended whole, whichever thread writes at the same time.
    if (writev(trace_fd, iov, n) < 0) trace_fd = -1;
}

static void flush(tbuf_t *t) {
    if (t->len == 0 || trace_fd < 0) return;
    uint8_t head[1 + 2 * TRACE_VARINT_MAX + 4];
    size_t h = 0;
    head[h++] = TRACE_CHUNK_MAGIC;
    h += trace_put_varint(head + h, t->index);
    h += trace_put_varint(head + h, t->len);
    uint32_t sum = trace_checksum(t->data, t->len);
    for (int i = 0; i < 4; i++) head[h++] = (uint8_t)(sum >> (8 * i));
    struct iovec iov[2] = {{head, h}, {t->data, t->len}};
    write_all(iov, 2);
    t->len = 0;
}

static void thread_exit(void *arg) {
    tbuf_t *t = arg;
    pthread_mutex_lock(&buffers_lock);
    if (!atomic_load(&closing)) flush(t);
    pthread_mutex_unlock(&buffers_lock);
}

static tbuf_t *thread_buffer(void) {
    if (my != NULL) return my;
    tbuf_t *t = mmap(NULL, sizeof *t + BUF_BYTES, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED) return NULL;
    t->data = (uint8_t *)(t + 1);
    pthread_mutex_lock(&buffers_lock);
    t->index = threads_seen++;
    t->next = buffers;
    buffers = t;
    pthread_mutex_unlock(&buffers_lock);
    my = t;
    pthread_setspecific(exit_key, t); // may allocate: busy is set, so it is not recorded
    return t;
}

static uint64_t ms_since_start(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (uint64_t)(now.tv_sec - started.tv_sec) * 1000 +
           (uint64_t)((now.tv_nsec - started.tv_nsec) / 1000000);
}

bool event_begin(tbuf_t **out) {
    if (trace_fd < 0 || busy) return false;
    busy = true;
    tbuf_t *t = thread_buffer();
    if (t == NULL) {
        busy = false;
        return false;
    }
    // seq_cst (this store, the load of closing, and the exit flush's store and loads): either
    // the flush sees this event under way and waits, or this event sees the flush and stops.
    atomic_store(&t->in_event, 1);
    if (atomic_load(&closing)) {
        event_cancel(t);
        return false;
    }
    *out = t;
    return true;
}

uint64_t event_seq(void) {
    // relaxed: the adds of all threads to one counter are totally ordered, and that order
    // agrees with happens-before (a free's number, taken before the block goes back, is below
    // the number of the allocation that gets the block again).
    return atomic_fetch_add_explicit(&next_seq, 1, memory_order_relaxed);
}

void event_cancel(tbuf_t *t) {
    atomic_store_explicit(&t->in_event, 0, memory_order_release);
    busy = false;
}

static void put(tbuf_t *t, uint64_t v) { t->len += trace_put_varint(t->data + t->len, v); }

void event_end(tbuf_t *t, uint8_t op, uint64_t seq, int n, uint64_t a, uint64_t b,
                      uint64_t c, uint64_t d) {
    if (t->len + 2 * EVENT_MAX > BUF_BYTES) flush(t);
    if (t->until_time-- == 0) {
        t->until_time = TIME_EVERY - 1;
        t->data[t->len++] = OP_TIME;
        put(t, 0); // a time mark shares the sequence number of the event after it
        put(t, ms_since_start());
    }
    t->data[t->len++] = op;
    put(t, seq - t->last_seq);
    t->last_seq = seq;
    uint64_t f[4] = {a, b, c, d};
    for (int i = 0; i < n; i++) put(t, f[i]);
    t->events++;
    event_cancel(t); // release: the exit flush that sees in_event 0 sees the event's bytes
}

static void at_fork_child(void) {
    atomic_store(&closing, true);
    trace_fd = -1;
}

static void finish(void) {
    if (trace_fd < 0) return;
    atomic_store(&closing, true);
    pthread_mutex_lock(&buffers_lock);
    uint64_t events = 0;
    for (tbuf_t *t = buffers; t != NULL; t = t->next) {
        // A thread still inside an event finishes it (closing makes every later one return).
        while (atomic_load(&t->in_event))
            sched_yield();
        flush(t);
        events += t->events;
    }
    uint8_t end[2 + 2 * TRACE_VARINT_MAX + 8];
    size_t n = 0;
    end[n++] = TRACE_END_RECORD;
    n += trace_put_varint(end + n, threads_seen);
    n += trace_put_varint(end + n, events);
    memcpy(end + n, TRACE_END_MAGIC, 8);
    struct iovec iov = {end, n + 8};
    write_all(&iov, 1);
    close(trace_fd);
    trace_fd = -1;
    pthread_mutex_unlock(&buffers_lock);
}

__attribute__((constructor)) static void start(void) {
    trace_next_resolve();
    const char *path = getenv("HAKMEM_TRACE");
    if (path == NULL || *path == '\0') return;
    busy = true;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        busy = false;
        return;
    }
    uint8_t head[8 + 3 * TRACE_VARINT_MAX];
    size_t n = 8;
    memcpy(head, TRACE_MAGIC, 8);
    n += trace_put_varint(head + n, TRACE_VERSION);
    n += trace_put_varint(head + n, (uint64_t)sysconf(_SC_PAGESIZE));
    n += trace_put_varint(head + n, (uint64_t)getpid());
    clock_gettime(CLOCK_MONOTONIC_COARSE, &started);
    pthread_key_create(&exit_key, thread_exit);
    pthread_atfork(NULL, NULL, at_fork_child);
    atexit(finish);
    trace_fd = fd;
    struct iovec iov = {head, n};
    write_all(&iov, 1);
    busy = false;
}

// ---- the interposed calls ------------------------------------------------------------------------

EXPORT void *malloc(size_t size) {
    TRACE_NEXT_READY();
    RECORD_ALLOC(OP_MALLOC, trace_next.malloc(size), 2, size, (uintptr_t)p_, 0);
}

EXPORT void free(void *p) {
    TRACE_NEXT_READY();
    if (trace_next_is_boot(p)) return;
    RECORD_FREE(OP_FREE, p, trace_next.free(p));
}

EXPORT void *calloc(size_t count, size_t size) {
    TRACE_NEXT_READY();
    RECORD_ALLOC(OP_CALLOC, trace_next.calloc(count, size), 3, count, size, (uintptr_t)p_);
}

EXPORT void *realloc(void *old, size_t size) {
    TRACE_NEXT_READY();
    if (trace_next_is_boot(old)) return trace_next_boot_realloc(old, size);
    // Two numbers: the old block's release before the call (it may be handed out again at once),
    // the new block's birth after it; the event carries the later one and their distance.
    tbuf_t *t;
    if (!event_begin(&t)) return trace_next.realloc(old, size);
    uint64_t before = event_seq();
    void *p = trace_next.realloc(old, size);
    uint64_t after = event_seq();
    event_end(t, OP_REALLOC, after, 4, (uintptr_t)old, size, (uintptr_t)p, after - before);
    return p;
}

EXPORT void *reallocarray(void *old, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    TRACE_NEXT_READY();
    tbuf_t *t;
    if (!event_begin(&t)) return trace_next.posix_memalign(out, align, size);
    int r = trace_next.posix_memalign(out, align, size);
    if (r == 0) event_end(t, OP_MEMALIGN, event_seq(), 3, align, size, (uintptr_t)*out, 0);
    else event_cancel(t);
    return r;
}

EXPORT void *aligned_alloc(size_t align, size_t size) {
    TRACE_NEXT_READY();
    RECORD_ALLOC(OP_MEMALIGN, trace_next.aligned_alloc(align, size), 3, align, size, (uintptr_t)p_);
}

EXPORT void *memalign(size_t align, size_t size) {
    TRACE_NEXT_READY();
    RECORD_ALLOC(OP_MEMALIGN, trace_next.memalign(align, size), 3, align, size, (uintptr_t)p_);
}

EXPORT void *valloc(size_t size) {
    TRACE_NEXT_READY();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    RECORD_ALLOC(OP_MEMALIGN, trace_next.valloc(size), 3, page, size, (uintptr_t)p_);
}

EXPORT void *pvalloc(size_t size) {
    TRACE_NEXT_READY();
    size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded = (size + page - 1) & ~(page - 1);
    RECORD_ALLOC(OP_MEMALIGN, trace_next.pvalloc(size), 3, page, rounded, (uintptr_t)p_);
}

