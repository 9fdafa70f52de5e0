// trace_format: the file a recorded program's allocations are written to (HAKMEM_TRACE), read by
// hak-trace (a summary) and hak-replay (a replay under any allocator).
//
// A file is a header, then chunks, then an end record:
//   header   "HAKTRACE" (8 bytes), then varints: format version, page size, process id
//   chunk    CHUNK_MAGIC (1 byte), varints: thread index, payload length in bytes; the payload's
//            checksum (trace_checksum, 4 bytes, little-endian); the payload
//   end      END_MAGIC (1 byte), varints: threads seen, events recorded, then "HAKTREND"
// A chunk holds events of one thread in its order; a thread writes many chunks. Each event is an
// op byte, the varint distance of its sequence number from the thread's previous event's (the
// sequence orders every event of the process: a free takes its number before the block is freed,
// an allocation after it was made, so a block handed out again always comes after its free), then
// the op's fields as varints:
//   OP_MALLOC, OP_NEW, OP_NEW_ARRAY     size, result
//   OP_CALLOC                           count, size, result
//   OP_REALLOC                          old address, size, result (0: failed, or size 0), and
//                                       how many numbers before this event's the old block was
//                                       released (a realloc is numbered twice)
//   OP_MEMALIGN (all aligned forms)     alignment, size, result
//   OP_FREE, OP_DELETE, OP_DELETE_ARRAY address
//   OP_TIME                             milliseconds since the recording began (every 256 events)
// Addresses are raw; a reader turns them into block ids by following the sequence.
#ifndef HAK_TRACE_FORMAT_H
#define HAK_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_MAGIC "HAKTRACE"
#define TRACE_END_MAGIC "HAKTREND"
#define TRACE_VERSION 1
#define TRACE_CHUNK_MAGIC 0xC7
#define TRACE_END_RECORD 0xE5

enum trace_op {
    OP_MALLOC = 1,
    OP_CALLOC,
    OP_REALLOC,
    OP_MEMALIGN,
    OP_FREE,
    OP_NEW,
    OP_NEW_ARRAY,
    OP_DELETE,
    OP_DELETE_ARRAY,
    OP_TIME,
    OP_LAST
};

// FNV-1a, 32 bits: a damaged chunk is refused, not replayed.
static inline uint32_t trace_checksum(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

// Unsigned LEB128: 7 bits a byte, low first. At most 10 bytes for 64 bits.
#define TRACE_VARINT_MAX 10
static inline size_t trace_put_varint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

// Reads a varint from [*p, end); false if it runs past end or past 64 bits.
static inline int trace_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return 0;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

#endif
