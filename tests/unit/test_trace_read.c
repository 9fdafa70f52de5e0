// The trace reader (tools/trace/trace_read.h) on traces written here byte by byte: events of two
// threads in sequence order, addresses turned into block ids (an address handed out again is a
// new block; a free of one made before the recording is counted, not followed), a realloc's two
// numbers; and every kind of damage refused with its reason. Runs in every preset, the sanitizers'
// included.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace_read.h"

typedef struct {
    uint8_t b[4096];
    size_t n;
} bytes_t;

static void put_varint(bytes_t *o, uint64_t v) { o->n += trace_put_varint(o->b + o->n, v); }

static void put_event(bytes_t *o, uint8_t op, uint64_t delta, int nf, const uint64_t *f) {
    o->b[o->n++] = op;
    put_varint(o, delta);
    for (int i = 0; i < nf; i++) put_varint(o, f[i]);
}

static void put_chunk(bytes_t *file, uint32_t thread, const bytes_t *payload) {
    file->b[file->n++] = TRACE_CHUNK_MAGIC;
    put_varint(file, thread);
    put_varint(file, payload->n);
    uint32_t sum = trace_checksum(payload->b, payload->n);
    for (int i = 0; i < 4; i++) file->b[file->n++] = (uint8_t)(sum >> (8 * i));
    memcpy(file->b + file->n, payload->b, payload->n);
    file->n += payload->n;
}

// Thread 0: malloc A (seq 1), malloc B (2), realloc A -> C (released at 3, made at 4), free of an
// address made before the recording (6). Thread 1: free B (5), malloc at A's old address (7, a
// new block), free C (8, another thread's block).
static void sample(bytes_t *file, uint64_t end_events) {
    memset(file, 0, sizeof *file);
    memcpy(file->b, TRACE_MAGIC, 8);
    file->n = 8;
    put_varint(file, TRACE_VERSION);
    put_varint(file, 4096);
    put_varint(file, 1234);
    bytes_t t0 = {0}, t1 = {0};
    put_event(&t0, OP_TIME, 0, 1, (uint64_t[]){7});
    put_event(&t0, OP_MALLOC, 1, 2, (uint64_t[]){100, 0xA000});
    put_event(&t0, OP_NEW, 1, 2, (uint64_t[]){200, 0xB000});
    put_event(&t0, OP_REALLOC, 2, 4, (uint64_t[]){0xA000, 300, 0xC000, 1});
    put_event(&t0, OP_FREE, 2, 1, (uint64_t[]){0xDEAD0});
    put_event(&t1, OP_DELETE, 5, 1, (uint64_t[]){0xB000});
    put_event(&t1, OP_MEMALIGN, 2, 3, (uint64_t[]){64, 50, 0xA000});
    put_event(&t1, OP_FREE, 1, 1, (uint64_t[]){0xC000});
    put_chunk(file, 0, &t0);
    put_chunk(file, 1, &t1);
    file->b[file->n++] = TRACE_END_RECORD;
    put_varint(file, 2);
    put_varint(file, end_events);
    memcpy(file->b + file->n, TRACE_END_MAGIC, 8);
    file->n += 8;
}

static char path[64];

static int load(const bytes_t *file, size_t len, trace_t *t, char *err) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(file->b, 1, len, f), len);
    fclose(f);
    return trace_load(path, t, err, 256);
}

static void test_events_become_blocks(void **state) {
    (void)state;
    bytes_t file;
    sample(&file, 7);
    trace_t t;
    char err[256] = "";
    assert_int_equal(load(&file, file.n, &t, err), 0);
    assert_int_equal(t.threads, 2);
    assert_int_equal(t.nevents, 7);
    assert_int_equal(t.page_size, 4096);
    const trace_event_t *e = t.events;
    // In sequence order: malloc A, new B, realloc A->C, delete B, free (unknown), memalign, free C.
    uint8_t ops[] = {OP_MALLOC, OP_NEW, OP_REALLOC, OP_DELETE, OP_FREE, OP_MEMALIGN, OP_FREE};
    for (int i = 0; i < 7; i++) assert_int_equal(e[i].op, ops[i]);
    assert_int_equal(e[0].block, 1);                      // A
    assert_int_equal(e[1].block, 2);                      // B
    assert_int_equal(e[2].arg, 1);                        // the realloc released A...
    assert_int_equal(e[2].block, 3);                      // ...and made C
    assert_int_equal(e[2].release, 3);                    // A's release numbered before C's birth
    assert_int_equal(e[3].arg, 2);                        // thread 1 deleted B
    assert_int_equal(e[3].thread, 1);
    assert_int_equal(e[4].arg, 0);                        // made before the recording
    assert_int_equal(t.unknown_frees, 1);
    assert_int_equal(e[5].block, 4);                      // A's address again: a new block
    assert_int_equal(e[5].align, 64);
    assert_int_equal(e[6].arg, 3);                        // C, made by thread 0
    assert_int_equal(t.block_thread[3], 0);
    assert_int_equal(t.block_op[2], OP_NEW);
    assert_int_equal(e[0].ms, 7);
    trace_free(&t);
}

static void expect_refused(const bytes_t *file, size_t len, const char *why) {
    trace_t t;
    char err[256] = "";
    assert_int_equal(load(file, len, &t, err), -1);
    print_message("refused: %s\n", err);
    assert_non_null(strstr(err, why));
}

static void test_damage_is_refused(void **state) {
    (void)state;
    bytes_t file;
    sample(&file, 7);
    expect_refused(&file, 5, "not a hakmem trace");
    expect_refused(&file, 12, "header");
    expect_refused(&file, file.n - 12, "truncated");  // the end record cut
    expect_refused(&file, file.n / 2, "truncated");   // a chunk cut
    bytes_t bad = file;
    bad.b[30] ^= 0x40; // inside the first chunk's events
    expect_refused(&bad, bad.n, "checksum");
    sample(&bad, 9); // the end record's count does not match the chunks
    expect_refused(&bad, bad.n, "end record counts");
    bad = file;
    bad.b[8] = 99; // a format version this reader does not know
    expect_refused(&bad, bad.n, "version");
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/hak-trace-unit-%d.trace", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_become_blocks),
        cmocka_unit_test(test_damage_is_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    return rc;
}
