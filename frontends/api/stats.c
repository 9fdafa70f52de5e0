// Process-wide counters: hak_stats_get, and the report of every part's counters (HAKMEM_STATS=1 as
// text lines at exit, HAKMEM_STATS=json as one JSON object, hak_stats_json on demand). Each part
// reports its own groups from its table of counters.
#include "hakmem.h"

#include "grow.h"
#include "maintenance.h"
#include "os_direct.h"
#include "prof.h"
#include "purger.h"
#include "segments.h"
#include "stats.h"

#define GET(counter) hak_counter_get(&(counter))

// The byte counters of *out.
static void memory_bytes(const slab_stats_t *ss, hak_stats_t *out) {
    out->huge_live_bytes = GET(os_direct_stats.bytes_live);
    out->bytes_unmapped = os_direct_bytes_unmapped();
    // Freed huge mappings still mapped: mapped, less unmapped, less live.
    out->huge_cached_bytes =
        GET(os_direct_stats.bytes_mapped) - out->bytes_unmapped - out->huge_live_bytes;
    out->bytes_purged = GET(segment_stats.bytes_purged);
    out->bytes_mapped = GET(segment_stats.bytes_mapped) + GET(os_direct_stats.bytes_mapped) -
                        out->bytes_unmapped;
    out->thread_cache_bytes = ss->thread_cache_bytes;
    out->depot_bytes = ss->depot_bytes;
    out->spare_slab_bytes = ss->spare_slab_bytes;
    heap_grow_stats_t gs;
    heap_grow_stats_sum(&gs);
    out->bytes_mapped += gs.regions * HAK_SEG_SIZE;
    out->grow_regions = gs.regions;
    out->grow_placed = GET(gs.counters.placed);
    out->grow_in_place = GET(gs.counters.grown) + GET(gs.counters.shrunk);
    out->grow_frees = GET(gs.counters.freed);
    out->in_use_bytes = gs.dirty_bytes;
    for (unsigned f = 0; f < SLAB_FRONTENDS; f++) out->in_use_bytes += ss->in_use_bytes[f];
    for (unsigned c = 0; c < HAK_NCLASSES; c++) out->free_blocks += ss->free_blocks[c];
    segments_space_t space;
    segments_space_total(&space);
    out->free_slots = space.free_slots;
    out->free_dirty_bytes = space.free_dirty_bytes;
    // Huge side: live blocks and the huge cache's hot mappings (its warm ones are decommitted).
    out->committed_bytes = space.committed + out->huge_live_bytes + gs.dirty_bytes +
                           os_direct_cached_hot_bytes();
    out->huge_peak_blocks = GET(os_direct_stats.peak_blocks_live);
    out->huge_peak_bytes = GET(os_direct_stats.peak_bytes_live);
}

void stats_from_slabs(const slab_stats_t *ss, hak_stats_t *out) {
    *out = (hak_stats_t){0};
    for (unsigned f = 0; f < SLAB_FRONTENDS; f++) {
        out->allocs[f] = ss->allocs[f];
        out->frees[f] = ss->frees[f];
        out->remote_frees += GET(ss->counters[f].remote_blocks);
        out->refills += GET(ss->counters[f].refills);
        out->drains += GET(ss->counters[f].drains);
    }
    out->remote_frees += ss->heapless_frees;
    out->allocs[FRONTEND_HUGE] = GET(os_direct_stats.allocs);
    out->frees[FRONTEND_HUGE] = GET(os_direct_stats.frees);
    for (unsigned k = 0; k < SEG_KINDS; k++) {
        const shared_pool_counters_t *ps = segments_pool_counters((seg_kind_t)k);
        out->slabs_claimed += GET(ps->slots_claimed);
        out->slabs_released += GET(ps->slots_released);
        out->slabs_abandoned += GET(ps->slabs_abandoned);
        out->slabs_adopted += GET(ps->slabs_adopted);
    }
    const lru_counters_t *cache = segments_cache_counters();
    out->lru_inserted = GET(cache->inserted);
    out->lru_hits = GET(cache->hits);
    out->segments_mapped = GET(segment_stats.mapped);
    out->segments_purged = GET(segment_stats.purged);
    out->purger_ticks = purger_tick_count();
    out->idle_collections = heap_idle_collections();
    memory_bytes(ss, out);
}

HAK_EXPORT void hak_stats_get(hak_stats_t *out) {
    slab_stats_t ss;
    slab_stats_sum(&ss);
    stats_from_slabs(&ss, out);
}

// Every part's groups of counters, then the purger's and the memory summary.
static void report(hak_stats_writer_t *w) {
    slab_stats_t ss;
    slab_stats_sum(&ss);
    slab_stats_report(&ss, w);
    os_direct_report(w);
    segments_report(w);
    prof_report(w);
    static const char *const purger_names[] = {"ticks", "idle_collections"};
    const uint64_t purger_values[] = {purger_tick_count(), heap_idle_collections()};
    hak_stats_group(w, "purger", purger_names, purger_values, 2);
    hak_stats_t m = {0};
    memory_bytes(&ss, &m);
    static const char *const names[] = {"mapped",    "committed",   "in_use",      "thread_caches",
                                        "depots",    "spare_slabs", "huge_cached", "unmapped"};
    const uint64_t values[] = {m.bytes_mapped,       m.committed_bytes, m.in_use_bytes,
                               m.thread_cache_bytes, m.depot_bytes,     m.spare_slab_bytes,
                               m.huge_cached_bytes,  m.bytes_unmapped};
    hak_stats_group(w, "memory", names, values, sizeof values / sizeof values[0]);
}

HAK_EXPORT void hak_stats_print(void) { report(&hak_stats_text); }

// ---- JSON ---------------------------------------------------------------------------------------

typedef struct {
    hak_stats_writer_t w; // first: the writer's address is the struct's
    char *buf;
    size_t size, len; // len counts what did not fit too
    bool first;
} json_writer_t;

static void json_put(json_writer_t *j, const char *s) {
    for (; *s != '\0'; s++, j->len++)
        if (j->len + 1 < j->size) j->buf[j->len] = *s;
}

static void json_put_u64(json_writer_t *j, uint64_t v) {
    char digits[24], *d = digits + sizeof digits;
    *--d = '\0';
    do *--d = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    json_put(j, d);
}

// Group and counter names are identifiers and brackets: nothing to escape.
static void json_group(hak_stats_writer_t *w, const char *what, const char *const names[],
                       const uint64_t values[], unsigned n) {
    json_writer_t *j = (json_writer_t *)w;
    json_put(j, j->first ? "\"" : ", \"");
    j->first = false;
    json_put(j, what);
    json_put(j, "\": {");
    for (unsigned i = 0; i < n; i++) {
        json_put(j, i == 0 ? "\"" : ", \"");
        json_put(j, names[i]);
        json_put(j, "\": ");
        json_put_u64(j, values[i]);
    }
    json_put(j, "}");
}

HAK_EXPORT size_t hak_stats_json(char *buf, size_t size) {
    json_writer_t j = {{json_group}, buf, size, 0, true};
    json_put(&j, "{");
    report(&j.w);
    json_put(&j, "}");
    if (size > 0) buf[j.len < size ? j.len : size - 1] = '\0';
    return j.len;
}

__attribute__((destructor)) static void hak_stats_at_exit(void) {
    if (hak_options.stats == 1) hak_stats_print();
    if (hak_options.stats == 2) {
        char buf[32 * 1024];
        size_t n = hak_stats_json(buf, sizeof buf - 1);
        if (n > sizeof buf - 2) n = sizeof buf - 2; // cut: the object is far smaller than this
        buf[n] = '\n';
        hak_write_stderr(buf, n + 1);
    }
}
