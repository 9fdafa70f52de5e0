#include "pprof.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <zlib.h>

// profile.proto's field numbers.
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_MAPPING = 3,
    PROFILE_LOCATION = 4,
    PROFILE_STRING_TABLE = 6,
    PROFILE_DROP_FRAMES = 7,
    PROFILE_TIME_NANOS = 9,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

// ---- buffers (no malloc) ---------------------------------------------------------------------

static bool buf_reserve(pprof_buf_t *b, size_t more) {
    if (b->failed) return false;
    if (b->len + more <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64 * HAK_KiB;
    while (cap < b->len + more) cap *= 2;
    char *data = hak_os_reserve_aligned(cap, hak_os_page_size());
    if (data == NULL) {
        b->failed = true;
        return false;
    }
    if (b->len > 0) memcpy(data, b->data, b->len);
    if (b->data != NULL) hak_os_release(b->data, b->cap);
    b->data = data;
    b->cap = cap;
    return true;
}

static void buf_put(pprof_buf_t *b, const void *bytes, size_t n) {
    if (!buf_reserve(b, n)) return;
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void buf_free(pprof_buf_t *b) {
    if (b->data != NULL) hak_os_release(b->data, b->cap);
    *b = (pprof_buf_t){0};
}

// ---- protobuf encoding -------------------------------------------------------------------------

static size_t varint_encode(uint64_t v, unsigned char *out) {
    size_t n = 0;
    do {
        out[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return n;
}

static void put_varint(pprof_buf_t *b, uint64_t v) {
    unsigned char tmp[10];
    buf_put(b, tmp, varint_encode(v, tmp));
}

static void put_key(pprof_buf_t *b, unsigned field, unsigned wire) { put_varint(b, (uint64_t)field << 3 | wire); }

// A varint field, left out when 0 (proto3's default).
static void put_uint_field(pprof_buf_t *b, unsigned field, uint64_t v) {
    if (v == 0) return;
    put_key(b, field, WIRE_VARINT);
    put_varint(b, v);
}

static void put_bytes_field(pprof_buf_t *b, unsigned field, const void *bytes, size_t n) {
    put_key(b, field, WIRE_BYTES);
    put_varint(b, n);
    buf_put(b, bytes, n);
}

// A small message, built in a stack buffer by the caller, as a field of the profile.
typedef struct {
    unsigned char data[1024];
    size_t len;
} small_msg_t;

static void msg_varint(small_msg_t *m, uint64_t v) {
    if (m->len + 10 <= sizeof m->data) m->len += varint_encode(v, m->data + m->len);
}
static void msg_uint_field(small_msg_t *m, unsigned field, uint64_t v) {
    if (v == 0) return;
    msg_varint(m, (uint64_t)field << 3 | WIRE_VARINT);
    msg_varint(m, v);
}

// ---- the profile -------------------------------------------------------------------------------

void pprof_init(pprof_t *p) {
    *p = (pprof_t){0};
    buf_put(&p->strings, "", 1);
    p->nstrings = 1;
}

void pprof_free(pprof_t *p) {
    buf_free(&p->out);
    buf_free(&p->strings);
}

int64_t pprof_string(pprof_t *p, const char *s) {
    if (p->strings.failed) return 0;
    const char *at = p->strings.data, *end = p->strings.data + p->strings.len;
    for (int64_t i = 0; at < end; i++) {
        size_t n = strlen(at);
        if (strcmp(at, s) == 0) return i;
        at += n + 1;
    }
    buf_put(&p->strings, s, strlen(s) + 1);
    return (int64_t)p->nstrings++;
}

static void value_type(pprof_t *p, unsigned field, const char *type, const char *unit) {
    small_msg_t m = {.len = 0};
    msg_uint_field(&m, 1, (uint64_t)pprof_string(p, type));
    msg_uint_field(&m, 2, (uint64_t)pprof_string(p, unit));
    put_bytes_field(&p->out, field, m.data, m.len);
}

void pprof_sample_type(pprof_t *p, const char *type, const char *unit) {
    value_type(p, PROFILE_SAMPLE_TYPE, type, unit);
}

void pprof_period(pprof_t *p, const char *type, const char *unit, int64_t period) {
    value_type(p, PROFILE_PERIOD_TYPE, type, unit);
    put_uint_field(&p->out, PROFILE_PERIOD, (uint64_t)period);
}

void pprof_default_sample_type(pprof_t *p, int64_t index) {
    put_uint_field(&p->out, PROFILE_DEFAULT_SAMPLE_TYPE, (uint64_t)index);
}

void pprof_drop_frames(pprof_t *p, const char *regex) {
    put_uint_field(&p->out, PROFILE_DROP_FRAMES, (uint64_t)pprof_string(p, regex));
}

void pprof_time_nanos(pprof_t *p, int64_t nanos) { put_uint_field(&p->out, PROFILE_TIME_NANOS, (uint64_t)nanos); }

void pprof_mapping(pprof_t *p, uint64_t id, uint64_t start, uint64_t limit, uint64_t file_offset,
                   const char *filename) {
    small_msg_t m = {.len = 0};
    msg_uint_field(&m, 1, id);
    msg_uint_field(&m, 2, start);
    msg_uint_field(&m, 3, limit);
    msg_uint_field(&m, 4, file_offset);
    msg_uint_field(&m, 5, (uint64_t)pprof_string(p, filename));
    put_bytes_field(&p->out, PROFILE_MAPPING, m.data, m.len);
}

void pprof_location(pprof_t *p, uint64_t id, uint64_t mapping_id, uint64_t address) {
    small_msg_t m = {.len = 0};
    msg_uint_field(&m, 1, id);
    msg_uint_field(&m, 2, mapping_id);
    msg_uint_field(&m, 3, address);
    put_bytes_field(&p->out, PROFILE_LOCATION, m.data, m.len);
}

// Sample { repeated uint64 location_id = 1 (packed); repeated int64 value = 2 (packed) }
void pprof_sample(pprof_t *p, const uint64_t *location_ids, unsigned nlocations, const int64_t *values,
                  unsigned nvalues) {
    small_msg_t locs = {.len = 0}, vals = {.len = 0}, m = {.len = 0};
    for (unsigned i = 0; i < nlocations; i++) msg_varint(&locs, location_ids[i]);
    for (unsigned i = 0; i < nvalues; i++) msg_varint(&vals, (uint64_t)values[i]);
    msg_varint(&m, 1 << 3 | WIRE_BYTES);
    msg_varint(&m, locs.len);
    if (m.len + locs.len <= sizeof m.data) memcpy(m.data + m.len, locs.data, locs.len), m.len += locs.len;
    msg_varint(&m, 2 << 3 | WIRE_BYTES);
    msg_varint(&m, vals.len);
    if (m.len + vals.len <= sizeof m.data) memcpy(m.data + m.len, vals.data, vals.len), m.len += vals.len;
    put_bytes_field(&p->out, PROFILE_SAMPLE, m.data, m.len);
}

const char *pprof_encode(pprof_t *p, size_t *len) {
    // The string table goes last, each string a field of its own, in index order.
    const char *at = p->strings.data, *end = p->strings.data + p->strings.len;
    while (!p->strings.failed && at < end) {
        size_t n = strlen(at);
        put_bytes_field(&p->out, PROFILE_STRING_TABLE, at, n);
        at += n + 1;
    }
    if (p->out.failed || p->strings.failed) return NULL;
    *len = p->out.len;
    p->strings.len = 0; // written: a second call must not append them again
    return p->out.data;
}

// ---- gzip --------------------------------------------------------------------------------------

// zlib's allocations, from platform (each with its size in front).
static voidpf zalloc(voidpf opaque, uInt items, uInt size) {
    size_t n = (size_t)items * size + 16;
    char *mem = hak_os_reserve_aligned(n, hak_os_page_size());
    if (mem == NULL) return Z_NULL;
    *(size_t *)mem = n;
    return mem + 16;
}
static void zfree(voidpf opaque, voidpf address) {
    char *mem = (char *)address - 16;
    hak_os_release(mem, *(size_t *)mem);
}


// zlib, loaded when a profile is first written (not linked: a program that never profiles maps
// nothing of it). NULL functions: not installed; the profile is then written uncompressed, which
// pprof reads as well.
static struct {
    _Atomic int state; // 0: not tried, 1: loaded, 2: not there
    int (*init)(z_streamp, int, int, int, int, int, const char *, int);
    int (*deflate)(z_streamp, int);
    int (*end)(z_streamp);
} zlib;

static bool zlib_load(void) {
    // acquire/release: whoever sees 1 sees the functions (two first writers may both load).
    int state = atomic_load_explicit(&zlib.state, memory_order_acquire);
    if (state != 0) return state == 1;
    void *lib = hak_os_library("libz.so.1");
    if (lib != NULL) {
        zlib.init = hak_os_library_symbol(lib, "deflateInit2_");
        zlib.deflate = hak_os_library_symbol(lib, "deflate");
        zlib.end = hak_os_library_symbol(lib, "deflateEnd");
    }
    bool ok = zlib.init != NULL && zlib.deflate != NULL && zlib.end != NULL;
    atomic_store_explicit(&zlib.state, ok ? 1 : 2, memory_order_release);
    return ok;
}

int pprof_write(pprof_t *p, int fd) {
    size_t len;
    const char *data = pprof_encode(p, &len);
    if (data == NULL) {
        errno = ENOMEM;
        return -1;
    }
    if (!zlib_load()) return hak_file_write_all(fd, data, len);
    z_stream z = {.zalloc = zalloc, .zfree = zfree};
    // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
    if (zlib.init(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                  (int)sizeof z) != Z_OK) {
        errno = ENOMEM;
        return -1;
    }
    unsigned char chunk[16 * 1024];
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    int status = 0, zr;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        zr = zlib.deflate(&z, Z_FINISH);
        if (zr == Z_STREAM_ERROR || hak_file_write_all(fd, chunk, sizeof chunk - z.avail_out) != 0) {
            status = -1;
            break;
        }
    } while (zr != Z_STREAM_END);
    zlib.end(&z);
    return status;
}
