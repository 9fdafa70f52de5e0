// Unit tests of the pprof box: the profile.proto it encodes, read back field by field by a small
// protobuf reader, and the gzip stream it writes, inflated by zlib.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof.h"

// ---- a reader of protobuf's wire format -------------------------------------------------------

typedef struct {
    const unsigned char *at, *end;
} reader_t;

static uint64_t read_varint(reader_t *r) {
    uint64_t v = 0;
    for (int shift = 0; r->at < r->end; shift += 7) {
        unsigned char b = *r->at++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    fail_msg("truncated varint");
    return 0;
}

// The next field: its number, wire type, and (varint) value or (bytes) sub-reader.
static bool next_field(reader_t *r, unsigned *field, uint64_t *value, reader_t *bytes) {
    if (r->at >= r->end) return false;
    uint64_t key = read_varint(r);
    *field = (unsigned)(key >> 3);
    if ((key & 7) == 0) {
        *value = read_varint(r);
    } else {
        assert_int_equal(key & 7, 2);
        uint64_t n = read_varint(r);
        assert_true(n <= (uint64_t)(r->end - r->at));
        *bytes = (reader_t){r->at, r->at + n};
        r->at += n;
    }
    return true;
}

typedef struct {
    char strings[16][32];
    unsigned nstrings, sample_types, mappings, locations, samples;
    uint64_t sample_locs[4][8], sample_vals[4][4];
    unsigned sample_nlocs[4], sample_nvals[4];
    uint64_t mapping_start, mapping_limit, mapping_filename, drop_frames, period, default_type;
    uint64_t location_address[4], location_mapping[4];
} decoded_t;

static void decode(const char *data, size_t len, decoded_t *d) {
    memset(d, 0, sizeof *d);
    reader_t r = {(const unsigned char *)data, (const unsigned char *)data + len}, sub;
    unsigned field;
    uint64_t v;
    while (next_field(&r, &field, &v, &sub)) {
        unsigned f2;
        uint64_t v2;
        reader_t sub2;
        switch (field) {
        case 1: d->sample_types++; break;
        case 2: {
            unsigned s = d->samples++;
            while (next_field(&sub, &f2, &v2, &sub2)) {
                while (sub2.at < sub2.end) {
                    if (f2 == 1) d->sample_locs[s][d->sample_nlocs[s]++] = read_varint(&sub2);
                    else d->sample_vals[s][d->sample_nvals[s]++] = read_varint(&sub2);
                }
            }
            break;
        }
        case 3:
            d->mappings++;
            while (next_field(&sub, &f2, &v2, &sub2)) {
                if (f2 == 2) d->mapping_start = v2;
                if (f2 == 3) d->mapping_limit = v2;
                if (f2 == 5) d->mapping_filename = v2;
            }
            break;
        case 4: {
            unsigned l = d->locations++;
            while (next_field(&sub, &f2, &v2, &sub2)) {
                if (f2 == 2) d->location_mapping[l] = v2;
                if (f2 == 3) d->location_address[l] = v2;
            }
            break;
        }
        case 6:
            memcpy(d->strings[d->nstrings], sub.at, (size_t)(sub.end - sub.at));
            d->nstrings++;
            break;
        case 7: d->drop_frames = v; break;
        case 12: d->period = v; break;
        case 14: d->default_type = v; break;
        }
    }
}

static void build(pprof_t *p) {
    pprof_init(p);
    pprof_sample_type(p, "inuse_objects", "count");
    pprof_sample_type(p, "inuse_space", "bytes");
    pprof_default_sample_type(p, 1);
    pprof_period(p, "space", "bytes", 524288);
    pprof_drop_frames(p, "^malloc$");
    pprof_mapping(p, 1, 0x400000, 0x500000, 0x1000, "/bin/program");
    pprof_location(p, 1, 1, 0x401234);
    pprof_location(p, 2, 1, 0x405678);
    pprof_location(p, 3, 0, 0x7fff0000);
    const uint64_t stack_a[] = {1, 2}, stack_b[] = {3, 2, 1};
    const int64_t values_a[] = {3, 3072}, values_b[] = {1, 300000};
    pprof_sample(p, stack_a, 2, values_a, 2);
    pprof_sample(p, stack_b, 3, values_b, 2);
}

static void test_encoding(void **state) {
    pprof_t p;
    build(&p);
    size_t len;
    const char *data = pprof_encode(&p, &len);
    assert_non_null(data);
    decoded_t d;
    decode(data, len, &d);
    assert_string_equal(d.strings[0], ""); // index 0 is the empty string
    assert_int_equal(d.sample_types, 2);
    assert_int_equal(d.samples, 2);
    assert_int_equal(d.sample_nlocs[1], 3);
    assert_int_equal(d.sample_locs[1][0], 3);
    assert_int_equal(d.sample_vals[0][1], 3072);
    assert_int_equal(d.sample_vals[1][1], 300000);
    assert_int_equal(d.mappings, 1);
    assert_int_equal(d.mapping_start, 0x400000);
    assert_int_equal(d.mapping_limit, 0x500000);
    assert_string_equal(d.strings[d.mapping_filename], "/bin/program");
    assert_int_equal(d.locations, 3);
    assert_int_equal(d.location_address[1], 0x405678);
    assert_int_equal(d.location_mapping[2], 0); // no mapping: left out, reads as 0
    assert_string_equal(d.strings[d.drop_frames], "^malloc$");
    assert_int_equal(d.period, 524288);
    assert_int_equal(d.default_type, 1);
    // Each string once: "bytes" names a unit twice.
    unsigned bytes = 0;
    for (unsigned i = 0; i < d.nstrings; i++) bytes += strcmp(d.strings[i], "bytes") == 0;
    assert_int_equal(bytes, 1);
    pprof_free(&p);
}

static void test_gzip_stream_inflates_to_the_encoding(void **state) {
    pprof_t a, b;
    build(&a);
    build(&b);
    size_t len;
    const char *plain = pprof_encode(&b, &len);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(pprof_write(&a, fileno(f)), 0);
    static unsigned char gz[1 << 16], out[1 << 16];
    size_t n = (size_t)pread(fileno(f), gz, sizeof gz, 0);
    fclose(f);
    assert_true(n > 18);
    assert_int_equal(gz[0], 0x1f); // gzip's magic
    assert_int_equal(gz[1], 0x8b);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = gz;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = sizeof out;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, len);
    assert_memory_equal(out, plain, len);
    inflateEnd(&z);
    pprof_free(&a);
    pprof_free(&b);
}

// A profile larger than the first buffer: the buffers grow, nothing is lost.
static void test_large_profile(void **state) {
    pprof_t p;
    pprof_init(&p);
    pprof_sample_type(&p, "alloc_space", "bytes");
    enum { N = 50000 };
    for (uint64_t i = 1; i <= N; i++) {
        char name[32];
        snprintf(name, sizeof name, "/lib/object%llu.so", (unsigned long long)(i % 100));
        pprof_mapping(&p, i, i << 20, (i + 1) << 20, 0, name);
        const int64_t v = (int64_t)i;
        pprof_sample(&p, &i, 1, &v, 1);
    }
    size_t len;
    const char *data = pprof_encode(&p, &len);
    assert_non_null(data);
    assert_true(len > 64 * 1024);
    reader_t r = {(const unsigned char *)data, (const unsigned char *)data + len}, sub;
    unsigned field, samples = 0, mappings = 0;
    uint64_t v;
    while (next_field(&r, &field, &v, &sub)) samples += field == 2, mappings += field == 3;
    assert_int_equal(samples, N);
    assert_int_equal(mappings, N);
    pprof_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_gzip_stream_inflates_to_the_encoding),
        cmocka_unit_test(test_large_profile),
    };
    return cmocka_run_group_tests_name("pprof", tests, NULL, NULL);
}
