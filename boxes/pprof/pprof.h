// pprof: writes a profile in pprof's format (profile.proto, gzipped), the format `pprof`,
// `go tool pprof` and continuous-profiling services read.
//
// Glossary
//   string    every name in a profile is an index into its string table; index 0 is ""
//   mapping   a range of the process's address space and the file it maps (from /proc/self/maps):
//             pprof symbolises a location's address with the mapping's file
//   location  one address of a call stack, in a mapping
//   sample    a call stack (location ids, innermost first) and one value per sample type
//
// The writer allocates nothing with malloc (it may run inside an allocator): its buffers come
// from platform's reserve/release, and zlib gets the same through its allocation hooks. A
// profile is built in memory, then compressed into a file descriptor.
//
// Counters: none (a profile is the output).
#ifndef HAK_PPROF_H
#define HAK_PPROF_H

#include "platform.h"

typedef struct {
    char *data;
    size_t len, cap;
    bool failed; // out of memory: the profile is lost, pprof_write says so
} pprof_buf_t;

typedef struct {
    pprof_buf_t out;     // the Profile message's fields, but the string table
    pprof_buf_t strings; // the string table: each string NUL-terminated, in index order
    uint64_t nstrings;
} pprof_t;

// An empty profile (its string table holds "").
void pprof_init(pprof_t *p);
// Release the buffers.
void pprof_free(pprof_t *p);

// The index of a string in the table, added if new (a linear search: profiles name few strings).
int64_t pprof_string(pprof_t *p, const char *s);

// The profile's sample types, in the order of the values of every sample: type and unit names
// ("inuse_space", "bytes").
void pprof_sample_type(pprof_t *p, const char *type, const char *unit);
// What one unit of sampling is (type, unit), how many of it there are between samples, and which
// sample type a viewer shows first (an index of the sample types).
void pprof_period(pprof_t *p, const char *type, const char *unit, int64_t period);
void pprof_default_sample_type(pprof_t *p, int64_t index);
void pprof_time_nanos(pprof_t *p, int64_t nanos);
// A regular expression of function names a viewer drops from every stack, with the frames they
// called (the allocator's own, under the program's call to it).
void pprof_drop_frames(pprof_t *p, const char *regex);
void pprof_mapping(pprof_t *p, uint64_t id, uint64_t start, uint64_t limit, uint64_t file_offset,
                   const char *filename);
void pprof_location(pprof_t *p, uint64_t id, uint64_t mapping_id, uint64_t address);
void pprof_sample(pprof_t *p, const uint64_t *location_ids, unsigned nlocations, const int64_t *values,
                  unsigned nvalues);

// Finish the profile (once: nothing is added after) and give it encoded, uncompressed; NULL if
// memory ran out.
const char *pprof_encode(pprof_t *p, size_t *len);
// Finish the profile (once) and write it gzipped to fd (zlib, loaded at the first call; without
// it, uncompressed). Returns 0, or -1 with errno set (ENOMEM, or write's).
int pprof_write(pprof_t *p, int fd);

#endif
