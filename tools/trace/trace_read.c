#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "trace_read.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const char *trace_op_name(uint8_t op) {
    static const char *const names[OP_LAST] = {
        [OP_MALLOC] = "malloc", [OP_CALLOC] = "calloc",  [OP_REALLOC] = "realloc",
        [OP_MEMALIGN] = "aligned", [OP_FREE] = "free",   [OP_NEW] = "new",
        [OP_NEW_ARRAY] = "new[]", [OP_DELETE] = "delete", [OP_DELETE_ARRAY] = "delete[]",
        [OP_TIME] = "time"};
    return op < OP_LAST && names[op] ? names[op] : "?";
}

static int fail(char *err, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

// ---- memory: mapped, not allocated ---------------------------------------------------------------
// A replay runs the trace's calls under the allocator being measured: the loader's tables (large:
// 48 bytes an event) come from mappings, so that allocator sees the program's calls only. Each
// mapping starts with its length.

void *trace_map_alloc(size_t bytes) {
    size_t len = (bytes + sizeof(size_t) + 4095) & ~(size_t)4095;
    size_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    m[0] = len;
    return m + 1;
}

void trace_map_release(void *p) {
    if (p != NULL) munmap((size_t *)p - 1, ((size_t *)p)[-1]);
}

static void *map_grow(void *p, size_t bytes) {
    if (p == NULL) return trace_map_alloc(bytes);
    size_t *m = (size_t *)p - 1, len = (bytes + sizeof(size_t) + 4095) & ~(size_t)4095;
    if (len <= m[0]) return p;
    size_t *n = mremap(m, m[0], len, MREMAP_MAYMOVE);
    if (n == MAP_FAILED) return NULL;
    n[0] = len;
    return n + 1;
}

// ---- reading the file ------------------------------------------------------------------------

typedef struct {
    trace_event_t *ev;
    uint64_t *in, *out; // per event: the address it released, the one it made (0: none)
    uint64_t n, cap;
} loading_t;

static int grow(loading_t *l) {
    uint64_t cap = l->cap ? 2 * l->cap : 1 << 16;
    trace_event_t *ev = map_grow(l->ev, cap * sizeof *ev);
    uint64_t *in = map_grow(l->in, cap * sizeof *in), *out = map_grow(l->out, cap * sizeof *out);
    if (ev) l->ev = ev;
    if (in) l->in = in;
    if (out) l->out = out;
    if (!ev || !in || !out) return -1;
    l->cap = cap;
    return 0;
}

typedef struct {
    uint64_t last_seq, ms;
} thread_state_t;

// One chunk's events (of thread `th`), from p to end.
static int read_chunk(loading_t *l, thread_state_t *ts, uint32_t th, const uint8_t *p,
                      const uint8_t *end, const uint8_t *file, char *err, size_t errlen) {
    while (p < end) {
        size_t at = (size_t)(p - file);
        uint8_t op = *p++;
        uint64_t delta, f[4] = {0};
        static const uint8_t nfields[OP_LAST] = {
            [OP_MALLOC] = 2, [OP_CALLOC] = 3, [OP_REALLOC] = 4, [OP_MEMALIGN] = 3, [OP_FREE] = 1,
            [OP_NEW] = 2,    [OP_NEW_ARRAY] = 2, [OP_DELETE] = 1, [OP_DELETE_ARRAY] = 1,
            [OP_TIME] = 1};
        if (op == 0 || op >= OP_LAST)
            return fail(err, errlen, "damaged trace: unknown event %u at byte %zu", op, at);
        if (!trace_get_varint(&p, end, &delta))
            return fail(err, errlen, "damaged trace: event cut short at byte %zu", at);
        for (unsigned i = 0; i < nfields[op]; i++)
            if (!trace_get_varint(&p, end, &f[i]))
                return fail(err, errlen, "damaged trace: event cut short at byte %zu", at);
        if (op == OP_TIME) {
            ts->ms = f[0];
            continue;
        }
        if (delta == 0)
            return fail(err, errlen, "damaged trace: event out of order at byte %zu", at);
        if (l->n == l->cap && grow(l) != 0) return fail(err, errlen, "out of memory");
        trace_event_t *e = &l->ev[l->n];
        memset(e, 0, sizeof *e);
        e->op = op;
        e->thread = th;
        e->ms = ts->ms;
        e->seq = e->release = ts->last_seq += delta;
        uint64_t in = 0, out = 0;
        switch (op) {
        case OP_MALLOC: case OP_NEW: case OP_NEW_ARRAY: e->size = f[0], out = f[1]; break;
        case OP_CALLOC:
            e->size = __builtin_mul_overflow(f[0], f[1], &e->size) ? UINT64_MAX : e->size;
            out = f[2];
            break;
        case OP_REALLOC:
            in = f[0], e->size = f[1], out = f[2];
            if (f[3] == 0 || f[3] >= e->seq)
                return fail(err, errlen, "damaged trace: realloc numbered wrong at byte %zu", at);
            e->release = e->seq - f[3];
            break;
        case OP_MEMALIGN: e->align = f[0], e->size = f[1], out = f[2]; break;
        default: in = f[0]; break;
        }
        l->in[l->n] = in;
        l->out[l->n] = out;
        l->n++;
    }
    return 0;
}

static int read_file(const uint8_t *file, size_t len, trace_t *t, loading_t *l, char *err,
                     size_t errlen) {
    const uint8_t *p = file, *end = file + len;
    if (len < 8 || memcmp(file, TRACE_MAGIC, 8) != 0)
        return fail(err, errlen, "not a hakmem trace (no HAKTRACE header)");
    p += 8;
    if (!trace_get_varint(&p, end, &t->version) || !trace_get_varint(&p, end, &t->page_size) ||
        !trace_get_varint(&p, end, &t->pid))
        return fail(err, errlen, "truncated trace: the header is cut short");
    if (t->version != TRACE_VERSION)
        return fail(err, errlen, "trace format version %llu, this reader knows %d",
                    (unsigned long long)t->version, TRACE_VERSION);
    thread_state_t *ts = NULL;
    uint64_t nthreads = 0;
    int rc = -1;
    for (;;) {
        size_t at = (size_t)(p - file);
        if (p == end) {
            fail(err, errlen, "truncated trace: no end record after byte %zu (the program did "
                              "not exit through exit(), or the file was cut)", at);
            break;
        }
        uint8_t kind = *p++;
        uint64_t th, n;
        if (kind == TRACE_END_RECORD) {
            if (!trace_get_varint(&p, end, &th) || !trace_get_varint(&p, end, &n) ||
                end - p != 8 || memcmp(p, TRACE_END_MAGIC, 8) != 0) {
                fail(err, errlen, "damaged trace: bad end record at byte %zu", at);
            } else if (n != l->n || th < nthreads) {
                fail(err, errlen, "damaged trace: the end record counts %llu events of %llu "
                                  "threads, the chunks hold %llu of %llu",
                     (unsigned long long)n, (unsigned long long)th, (unsigned long long)l->n,
                     (unsigned long long)nthreads);
            } else {
                t->threads = (uint32_t)th;
                rc = 0;
            }
            break;
        }
        if (kind != TRACE_CHUNK_MAGIC || !trace_get_varint(&p, end, &th) ||
            !trace_get_varint(&p, end, &n) || end - p < 4 || n > (uint64_t)(end - p - 4) ||
            th > 1000000) {
            fail(err, errlen, "%s trace: bad chunk at byte %zu",
                 kind == TRACE_CHUNK_MAGIC ? "truncated or damaged" : "damaged", at);
            break;
        }
        uint32_t sum = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                       (uint32_t)p[3] << 24;
        p += 4;
        if (trace_checksum(p, n) != sum) {
            fail(err, errlen, "damaged trace: the chunk at byte %zu fails its checksum", at);
            break;
        }
        if (th >= nthreads) {
            thread_state_t *more = map_grow(ts, (th + 1) * sizeof *ts);
            if (!more) {
                fail(err, errlen, "out of memory");
                break;
            }
            ts = more;
            memset(ts + nthreads, 0, (th + 1 - nthreads) * sizeof *ts);
            nthreads = th + 1;
        }
        if (read_chunk(l, &ts[th], (uint32_t)th, p, p + n, file, err, errlen) != 0) break;
        p += n;
    }
    trace_map_release(ts);
    return rc;
}

// ---- addresses to block ids --------------------------------------------------------------------

// Live blocks by address: open addressing, linear probing, deletion by backward shift.
typedef struct {
    uint64_t *key;
    uint32_t *id;
    uint64_t mask, used;
} addr_map_t;

static uint64_t slot_of(const addr_map_t *m, uint64_t a) {
    return ((a >> 4) * 0x9E3779B97F4A7C15ull >> 20) & m->mask;
}

static int map_init(addr_map_t *m, uint64_t cap) {
    uint64_t n = 1024;
    while (n < 2 * cap) n <<= 1;
    m->key = trace_map_alloc(n * sizeof *m->key); // zero: fresh mappings
    m->id = trace_map_alloc(n * sizeof *m->id);
    m->mask = n - 1;
    m->used = 0;
    return m->key && m->id ? 0 : -1;
}

static uint32_t map_take(addr_map_t *m, uint64_t a) {
    uint64_t i = slot_of(m, a);
    while (m->key[i] != 0 && m->key[i] != a) i = (i + 1) & m->mask;
    if (m->key[i] == 0) return 0;
    uint32_t id = m->id[i];
    m->key[i] = 0;
    m->used--;
    for (uint64_t j = (i + 1) & m->mask; m->key[j] != 0; j = (j + 1) & m->mask) {
        uint64_t home = slot_of(m, m->key[j]);
        // Move j back into the hole at i unless its home lies cyclically in (i, j].
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
            m->key[i] = m->key[j], m->id[i] = m->id[j], m->key[j] = 0;
            i = j;
        }
    }
    return id;
}

static void map_put(addr_map_t *m, uint64_t a, uint32_t id) {
    map_take(m, a); // an address still live: its free was not recorded; the new block replaces it
    uint64_t i = slot_of(m, a);
    while (m->key[i] != 0) i = (i + 1) & m->mask;
    m->key[i] = a, m->id[i] = id;
    m->used++;
}

typedef struct {
    uint64_t seq;
    uint64_t event; // index, times 2, plus 1 for a birth
} action_t;

// Sorts n records of `size` bytes by the uint64_t each begins with: a bottom-up merge sort with a
// mapped buffer (qsort would take its buffer from the allocator a replay is about to measure, and
// leave it hundreds of megabytes of freed, resident memory to start with). Stable.
static int sort_by_key(void *base, size_t n, size_t size) {
    char *a = base, *b = trace_map_alloc(n * size + 1);
    if (b == NULL) return -1;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                uint64_t x, y;
                memcpy(&x, a + i * size, 8);
                memcpy(&y, a + j * size, 8);
                memcpy(b + k++ * size, a + (y < x ? j++ : i++) * size, size);
            }
            memcpy(b + k * size, a + i * size, (mid - i) * size), k += mid - i;
            memcpy(b + k * size, a + j * size, (hi - j) * size);
        }
        char *t = a;
        a = b, b = t;
    }
    if (a != base) { // the last pass wrote the buffer: copy back
        memcpy(base, a, n * size);
        b = a;
    }
    trace_map_release(b);
    return 0;
}

static int resolve(trace_t *t, loading_t *l, char *err, size_t errlen) {
    action_t *act = trace_map_alloc(2 * l->n * sizeof *act + 1);
    addr_map_t m;
    if (!act || map_init(&m, 1 << 16) != 0) return fail(err, errlen, "out of memory");
    uint64_t na = 0;
    for (uint64_t i = 0; i < l->n; i++) {
        // A realloc that failed (NULL, size not 0) left its block where it was.
        bool failed = l->ev[i].op == OP_REALLOC && l->out[i] == 0 && l->ev[i].size != 0;
        if (l->in[i] && !failed) act[na++] = (action_t){l->ev[i].release, 2 * i};
        if (l->out[i]) act[na++] = (action_t){l->ev[i].seq, 2 * i + 1};
    }
    if (sort_by_key(act, na, sizeof *act) != 0) return fail(err, errlen, "out of memory");
    uint32_t next = 0;
    for (uint64_t k = 0; k < na; k++) {
        uint64_t i = act[k].event / 2;
        if (act[k].event & 1) {
            if (m.used * 2 >= m.mask) { // keep the table at most half full
                addr_map_t bigger;
                if (map_init(&bigger, m.used * 2) != 0) return fail(err, errlen, "out of memory");
                for (uint64_t s = 0; s <= m.mask; s++)
                    if (m.key[s]) map_put(&bigger, m.key[s], m.id[s]);
                trace_map_release(m.key), trace_map_release(m.id);
                m = bigger;
            }
            l->ev[i].block = ++next;
            map_put(&m, l->out[i], next);
        } else if ((l->ev[i].arg = map_take(&m, l->in[i])) == 0) {
            t->unknown_frees++;
        }
    }
    trace_map_release(act), trace_map_release(m.key), trace_map_release(m.id);
    t->nblocks = next;
    t->block_thread = trace_map_alloc(((size_t)next + 1) * sizeof *t->block_thread);
    t->block_op = trace_map_alloc((size_t)next + 1);
    t->block_size = trace_map_alloc(((size_t)next + 1) * sizeof *t->block_size);
    if (!t->block_thread || !t->block_op || !t->block_size) return fail(err, errlen, "out of memory");
    for (uint64_t i = 0; i < l->n; i++)
        if (l->ev[i].block) {
            t->block_thread[l->ev[i].block] = l->ev[i].thread;
            t->block_op[l->ev[i].block] = l->ev[i].op;
            t->block_size[l->ev[i].block] = l->ev[i].size;
        }
    if (sort_by_key(l->ev, l->n, sizeof *l->ev) != 0) return fail(err, errlen, "out of memory");
    return 0;
}

int trace_load(const char *path, trace_t *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *file = len > 0 ? trace_map_alloc((size_t)len) : NULL;
    if (!file || fread(file, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        trace_map_release(file);
        return fail(err, errlen, "cannot read %s (empty?)", path);
    }
    fclose(f);
    loading_t l = {0};
    int rc = read_file(file, (size_t)len, t, &l, err, errlen);
    trace_map_release(file);
    if (rc == 0) rc = resolve(t, &l, err, errlen);
    trace_map_release(l.in), trace_map_release(l.out);
    t->events = l.ev;
    t->nevents = l.n;
    if (rc != 0) trace_free(t);
    return rc;
}

void trace_free(trace_t *t) {
    trace_map_release(t->events), trace_map_release(t->block_thread), trace_map_release(t->block_op);
    trace_map_release(t->block_size);
    memset(t, 0, sizeof *t);
}
