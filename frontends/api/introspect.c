// The C library's introspection calls, answered for hakmem's memory: malloc_stats, malloc_info,
// mallinfo2 and mallinfo (with HAK_OVERRIDE), hak_malloc_stats and hak_malloc_info always.
//
// glibc describes its arenas; hakmem has one "arena" per slab size range (tiny, mid, large: the
// segments of that kind), plus grow regions and huge blocks (glibc's mmapped chunks). Free blocks
// in threads' caches and the depots are glibc's fastbin chunks; free slab slots its ordinary free
// chunks; free slots not yet purged (and cached huge mappings that keep their pages) its
// releasable top.
#include "hakmem.h"

#include "os_direct.h"
#include "segments.h"
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <string.h>

// One size range's figures.
typedef struct {
    segments_space_t space;
    uint64_t in_use, fast_blocks, fast_bytes;
    uint64_t rest_bytes; // committed, neither in use nor in a cache
} range_figures_t;

static uint64_t minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; } // racy reads: no wrap

static void range_figures(const slab_stats_t *ss, unsigned f, range_figures_t *out) {
    *out = (range_figures_t){0};
    segments_space((seg_kind_t)f, &out->space);
    out->in_use = ss->in_use_bytes[f];
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        if (size_class_frontend(c) != f) continue;
        out->fast_blocks += ss->free_blocks[c];
        out->fast_bytes += ss->free_blocks[c] * hak_class_size[c];
    }
    out->rest_bytes = minus(out->space.committed, out->in_use + out->fast_bytes);
}

HAK_EXPORT void hak_malloc_stats(void) {
    slab_stats_t ss;
    slab_stats_sum(&ss);
    hak_stats_t st;
    stats_from_slabs(&ss, &st);
    char buf[1024];
    size_t len = 0;
    for (unsigned f = 0; f < SLAB_FRONTENDS; f++) {
        range_figures_t r;
        range_figures(&ss, f, &r);
        len += (size_t)snprintf(buf + len, sizeof buf - len,
                                "Arena %u (%s):\nsystem bytes     = %10" PRIu64
                                "\nin use bytes     = %10" PRIu64 "\n",
                                f, slab_frontend_names[f], r.space.committed, r.in_use);
    }
    snprintf(buf + len, sizeof buf - len,
             "Total (incl. mmap):\nsystem bytes     = %10" PRIu64 "\nin use bytes     = %10" PRIu64
             "\nmax mmap regions = %10" PRIu64 "\nmax mmap bytes   = %10" PRIu64 "\n",
             st.committed_bytes, st.in_use_bytes + st.huge_live_bytes, st.huge_peak_blocks,
             st.huge_peak_bytes);
    hak_write_stderr(buf, strlen(buf));
}

HAK_EXPORT int hak_malloc_info(int options, FILE *fp) {
    if (options != 0 || fp == NULL) {
        errno = EINVAL;
        return -1;
    }
    // Every figure is read before the first write: writing may allocate.
    slab_stats_t ss;
    slab_stats_sum(&ss);
    hak_stats_t st;
    stats_from_slabs(&ss, &st);
    range_figures_t r[SLAB_FRONTENDS];
    uint64_t fast_blocks = 0, fast_bytes = 0, rest_blocks = 0, rest_bytes = 0;
    for (unsigned f = 0; f < SLAB_FRONTENDS; f++) {
        range_figures(&ss, f, &r[f]);
        fast_blocks += r[f].fast_blocks;
        fast_bytes += r[f].fast_bytes;
        rest_blocks += r[f].space.free_slots;
        rest_bytes += r[f].rest_bytes;
    }
    fprintf(fp, "<malloc version=\"1\">\n");
    for (unsigned f = 0; f < SLAB_FRONTENDS; f++) {
        fprintf(fp, "<heap nr=\"%u\">\n<sizes>\n", f);
        // Distinct sizes only: an aligned twin's free blocks count with its size's class.
        for (unsigned c = 0, from = 1; c < HAK_SIZE_CLASSES; from = hak_class_size[c] + 1, c++) {
            if (size_class_frontend(c) != f) continue;
            uint64_t count = ss.free_blocks[c] +
                             (hak_aligned_twin[c] != c ? ss.free_blocks[hak_aligned_twin[c]] : 0);
            if (count != 0)
                fprintf(fp,
                        "  <size from=\"%u\" to=\"%u\" total=\"%" PRIu64 "\" count=\"%" PRIu64
                        "\"/>\n",
                        from, hak_class_size[c], count * hak_class_size[c], count);
        }
        fprintf(fp,
                "</sizes>\n<total type=\"fast\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n"
                "<total type=\"rest\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n"
                "<system type=\"current\" size=\"%" PRIu64
                "\"/>\n<system type=\"max\" size=\"%" PRIu64 "\"/>\n"
                "<aspace type=\"total\" size=\"%" PRIu64
                "\"/>\n<aspace type=\"mprotect\" size=\"%" PRIu64 "\"/>\n"
                "</heap>\n",
                r[f].fast_blocks, r[f].fast_bytes, r[f].space.free_slots, r[f].rest_bytes,
                r[f].space.committed,
                r[f].space.committed, r[f].space.mapped, r[f].space.mapped);
    }
    fprintf(fp,
            "<total type=\"fast\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n"
            "<total type=\"rest\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n"
            "<total type=\"mmap\" count=\"%" PRIu64 "\" size=\"%" PRIu64 "\"/>\n"
            "<system type=\"current\" size=\"%" PRIu64 "\"/>\n<system type=\"max\" size=\"%" PRIu64
            "\"/>\n"
            "<aspace type=\"total\" size=\"%" PRIu64
            "\"/>\n<aspace type=\"mprotect\" size=\"%" PRIu64 "\"/>\n"
            "</malloc>\n",
            fast_blocks, fast_bytes, rest_blocks, rest_bytes, minus(st.allocs[3], st.frees[3]),
            st.huge_live_bytes, st.committed_bytes, st.committed_bytes, st.bytes_mapped,
            st.bytes_mapped);
    return 0;
}

#ifdef HAK_OVERRIDE
HAK_EXPORT void malloc_stats(void) { hak_malloc_stats(); }
HAK_EXPORT int malloc_info(int options, FILE *fp) { return hak_malloc_info(options, fp); }

// arena: what the slab ranges and grow regions hold resident, with the freed huge mappings kept
// hot; uordblks of it in use, fordblks free (the two add up to arena); keepcost: what the next
// purge returns without moving a block; hblks/hblkhd: live huge blocks.
HAK_EXPORT struct mallinfo2 mallinfo2(void) {
    hak_stats_t st;
    hak_stats_get(&st);
    struct mallinfo2 mi = {0};
    mi.arena = minus(st.committed_bytes, st.huge_live_bytes);
    mi.uordblks = st.in_use_bytes < mi.arena ? st.in_use_bytes : mi.arena;
    mi.fordblks = mi.arena - mi.uordblks;
    mi.ordblks = st.free_slots;
    mi.smblks = st.free_blocks;
    mi.fsmblks = st.thread_cache_bytes + st.depot_bytes;
    mi.keepcost = st.free_dirty_bytes + os_direct_cached_hot_bytes();
    mi.hblks = minus(st.allocs[3], st.frees[3]);
    mi.hblkhd = st.huge_live_bytes;
    return mi;
}

static int saturate(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

// The legacy form: the same figures in ints, saturated.
HAK_EXPORT struct mallinfo mallinfo(void) {
    struct mallinfo2 m = mallinfo2();
    return (struct mallinfo){saturate(m.arena),   saturate(m.ordblks),  saturate(m.smblks),
                             saturate(m.hblks),   saturate(m.hblkhd),   saturate(m.usmblks),
                             saturate(m.fsmblks), saturate(m.uordblks), saturate(m.fordblks),
                             saturate(m.keepcost)};
}
#endif
