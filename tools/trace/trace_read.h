// trace_read: loads a trace (trace_format.h), checks it whole, and turns its addresses into block
// ids by following the events in sequence order. hak-trace and hak-replay read traces with it.
#ifndef HAK_TRACE_READ_H
#define HAK_TRACE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "trace_format.h"

typedef struct {
    uint64_t seq;     // its number (a realloc's later one)
    uint64_t release; // when its argument block was released (a realloc's earlier number; = seq)
    uint64_t ms;      // milliseconds since the recording began (the thread's last time mark)
    uint64_t size;    // bytes asked for (calloc: count * size); 0 for frees
    uint64_t align;   // OP_MEMALIGN: the alignment; else 0
    uint32_t thread;
    uint32_t block;   // the block this event made (0: none, or the allocation failed)
    uint32_t arg;     // the block it freed or resized (0: none, NULL, or one made before the
                      // recording began)
    uint8_t op;       // trace_op (OP_TIME never appears here)
} trace_event_t;

typedef struct {
    uint64_t version, page_size, pid;
    uint32_t threads;
    uint64_t nevents;
    trace_event_t *events; // in sequence order
    uint32_t nblocks;      // block ids are 1..nblocks
    uint32_t *block_thread; // [id]: the thread that made the block
    uint8_t *block_op;      // [id]: the op that made it
    uint64_t *block_size;   // [id]: the bytes asked for
    uint64_t unknown_frees; // frees of blocks made before the recording began (or not seen)
} trace_t;

// Loads the trace at path. Returns 0, or -1 with a one-line reason in err (the file is damaged
// or truncated, at which byte, or cannot be read). trace_free releases what it allocated.
int trace_load(const char *path, trace_t *t, char *err, size_t errlen);
void trace_free(trace_t *t);

// Zeroed memory of its own mapping (not from the allocator a replay measures); released with
// trace_map_release.
void *trace_map_alloc(size_t bytes);
void trace_map_release(void *p);

// Whether the op makes a block, and whether it releases one (a realloc does both).
static inline int trace_op_allocates(uint8_t op) {
    return op == OP_MALLOC || op == OP_CALLOC || op == OP_REALLOC || op == OP_MEMALIGN ||
           op == OP_NEW || op == OP_NEW_ARRAY;
}
static inline int trace_op_releases(uint8_t op) {
    return op == OP_FREE || op == OP_DELETE || op == OP_DELETE_ARRAY || op == OP_REALLOC;
}
const char *trace_op_name(uint8_t op);

#endif
