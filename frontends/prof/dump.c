// The profile in pprof's format, and the leak report.
#define _GNU_SOURCE // dladdr
#include "pprof.h"
#include "prof_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

// ---- mappings: the executable ranges of /proc/self/maps ------------------------------------------

typedef struct {
    uint64_t start, limit, offset;
    char path[256];
} mapping_t;

#define MAX_MAPPINGS 1024

// Reads /proc/self/maps into maps[] (executable mappings of files), in address order.
static unsigned read_mappings(mapping_t *maps, unsigned max) {
    int fd = hak_file_open_read("/proc/self/maps");
    if (fd < 0) return 0;
    char buf[8192], line[512];
    size_t line_len = 0;
    unsigned n = 0;
    ssize_t got;
    while ((got = hak_file_read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n') {
                if (line_len < sizeof line - 1) line[line_len++] = buf[i];
                continue;
            }
            line[line_len] = '\0';
            line_len = 0;
            // start-end perms offset dev inode path
            char *s = line, *end;
            uint64_t start = strtoull(s, &end, 16), limit = strtoull(end + 1, &end, 16);
            char perms[5] = {0};
            memcpy(perms, end + 1, 4);
            uint64_t offset = strtoull(end + 6, &end, 16);
            char *path = strchr(end, '/');
            if (perms[2] != 'x' || path == NULL || n == max) continue;
            maps[n] = (mapping_t){start, limit, offset, ""};
            strncpy(maps[n].path, path, sizeof maps[n].path - 1);
            n++;
        }
    }
    hak_file_close(fd);
    return n;
}

static unsigned mapping_of(const mapping_t *maps, unsigned n, uint64_t addr) {
    for (unsigned i = 0; i < n; i++)
        if (addr >= maps[i].start && addr < maps[i].limit) return i + 1; // ids start at 1
    return 0;
}

// ---- the profile -------------------------------------------------------------------------------

// A stack's totals in whole objects and bytes.
typedef struct {
    uint64_t alloc_objects, alloc_bytes, inuse_objects, inuse_bytes;
} prof_totals_t;

// False when nothing was ever sampled at s (a stack interned for a sample that was then lost).
static bool prof_totals(st_stack_t *s, prof_totals_t *t) {
    uint64_t half = PROF_OBJECT_UNIT / 2;
    *t = (prof_totals_t){(hak_counter_get(&s->alloc_objects) + half) / PROF_OBJECT_UNIT,
                         hak_counter_get(&s->alloc_bytes),
                         (hak_counter_get(&s->inuse_objects) + half) / PROF_OBJECT_UNIT,
                         hak_counter_get(&s->inuse_bytes)};
    return hak_counter_get(&s->alloc_bytes) != 0;
}

// The allocator's entry points: pprof drops them and what they called from every stack.
#define ALLOCATOR_FRAMES                                                                           \
    "^(malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|"    \
    "pvalloc|hak_.*|operator new.*|operator delete.*|_Zn[wa]m.*)$"

// Serialises the writers of profiles (their mappings' buffer is shared). Sampling threads never
// wait for a writer: the stacks and their totals are read without a lock.
hak_lock_t prof_writer_lock = HAK_LOCK_INIT;

int prof_write_profile(const char *path) {
    static mapping_t maps[MAX_MAPPINGS]; // static: large; under prof_writer_lock
    int fd = hak_file_create(path);
    if (fd < 0) return -1;
    hak_lock(&prof_writer_lock);
    pprof_t p;
    pprof_init(&p);
    pprof_sample_type(&p, "alloc_objects", "count");
    pprof_sample_type(&p, "alloc_space", "bytes");
    pprof_sample_type(&p, "inuse_objects", "count");
    pprof_sample_type(&p, "inuse_space", "bytes");
    pprof_default_sample_type(&p, 3);
    pprof_period(&p, "space", "bytes", (int64_t)hak_prof_rate);
    pprof_time_nanos(&p, hak_clock_realtime_ns());
    pprof_drop_frames(&p, ALLOCATOR_FRAMES);
    unsigned nmaps = read_mappings(maps, MAX_MAPPINGS);
    for (unsigned i = 0; i < nmaps; i++)
        pprof_mapping(&p, i + 1, maps[i].start, maps[i].limit, maps[i].offset, maps[i].path);
    // A location per frame of every stack (pprof merges equal addresses); a caller's return
    // address less one, so that it falls in the call instruction.
    uint64_t next_location = 1;
    for (st_stack_t *s = stack_table_first(&prof_stacks); s != NULL; s = s->next_all) {
        prof_totals_t t;
        if (!prof_totals(s, &t)) continue;
        uint64_t ids[STACK_TABLE_MAX_DEPTH];
        for (uint32_t i = 0; i < s->depth; i++) {
            uint64_t addr = (uint64_t)(uintptr_t)s->frames[i] - (i > 0);
            ids[i] = next_location++;
            pprof_location(&p, ids[i], mapping_of(maps, nmaps, addr), addr);
        }
        int64_t values[4] = {(int64_t)t.alloc_objects, (int64_t)t.alloc_bytes, (int64_t)t.inuse_objects,
                             (int64_t)t.inuse_bytes};
        pprof_sample(&p, ids, s->depth, values, 4);
    }
    hak_unlock(&prof_writer_lock);
    int status = pprof_write(&p, fd);
    int saved = errno;
    pprof_free(&p);
    hak_file_close(fd);
    errno = saved;
    if (status == 0) hak_count(&prof_stats.profiles, 1);
    return status;
}

// ---- the leak report ---------------------------------------------------------------------------

static void print_frame(unsigned i, void *addr) {
    Dl_info info;
    int found = dladdr(addr, &info);
    if (found && info.dli_sname != NULL)
        hak_log("    #%u %p %s+%#lx (%s)", i, addr, info.dli_sname,
                (unsigned long)((char *)addr - (char *)info.dli_saddr), info.dli_fname);
    else if (found && info.dli_fname != NULL)
        hak_log("    #%u %p (%s+%#lx)", i, addr, info.dli_fname,
                (unsigned long)((char *)addr - (char *)info.dli_fbase));
    else
        hak_log("    #%u %p", i, addr);
}

void prof_report_leaks(void) {
    // Stacks with live samples, largest first (a selection sort: leaks are few). Threads still
    // running may change the totals meanwhile: the second pass keeps to the first one's count.
    size_t n = 0, k = 0;
    uint64_t total_objects = 0, total_bytes = 0;
    prof_totals_t t;
    for (st_stack_t *s = stack_table_first(&prof_stacks); s != NULL; s = s->next_all)
        if (prof_totals(s, &t) && t.inuse_objects > 0) n++;
    st_stack_t **order = n ? hak_os_reserve_aligned(n * sizeof *order, hak_os_page_size()) : NULL;
    for (st_stack_t *s = stack_table_first(&prof_stacks); s != NULL && k < n && order != NULL; s = s->next_all)
        if (prof_totals(s, &t) && t.inuse_objects > 0) order[k++] = s;
    for (size_t i = 0; i < k; i++) {
        for (size_t j = i + 1; j < k; j++)
            if (hak_counter_get(&order[j]->inuse_bytes) > hak_counter_get(&order[i]->inuse_bytes)) {
                st_stack_t *swap = order[i];
                order[i] = order[j];
                order[j] = swap;
            }
        prof_totals(order[i], &t);
        total_objects += t.inuse_objects;
        total_bytes += t.inuse_bytes;
    }
    hak_log("leaks: about %llu bytes in %llu objects still allocated at exit, from %zu stacks "
            "(estimated from samples, one per %llu bytes on average)",
            (unsigned long long)total_bytes, (unsigned long long)total_objects, k,
            (unsigned long long)hak_prof_rate);
    for (size_t i = 0; i < k; i++) {
        prof_totals(order[i], &t);
        hak_log("leak: about %llu bytes in %llu objects allocated at:", (unsigned long long)t.inuse_bytes,
                (unsigned long long)t.inuse_objects);
        // The stacks start at the program's frame already (sample.c's capture).
        for (uint32_t f = 0; f < order[i]->depth; f++) print_frame(f, order[i]->frames[f]);
    }
    if (order != NULL) hak_os_release(order, n * sizeof *order);
}
