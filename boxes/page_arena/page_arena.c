#include "page_arena.h"

#include <string.h>

static uint64_t add_sat(uint64_t a, uint64_t b) {
    return a + b < a ? UINT64_MAX : a + b;
}

// Every write of a level's count goes through here: the counts are peeked at without the lock,
// and a plain store racing with that atomic load would be a data race.
static void set_count(pa_level_t *l, unsigned n) {
    // relaxed: only emptiness is read without the lock; the entries themselves are only read
    // under it, and the lock orders those reads.
    __atomic_store_n(&l->count, n, __ATOMIC_RELAXED);
}

static bool looks_empty(page_arena_t *a) {
    // relaxed: a peek; a span put concurrently is seen by the next call.
    return __atomic_load_n(&a->hot.count, __ATOMIC_RELAXED) == 0 &&
           __atomic_load_n(&a->warm.count, __ATOMIC_RELAXED) == 0;
}

static void level_init(pa_level_t *l) {
    l->count = 0;
    l->bytes = 0;
}

void page_arena_init(page_arena_t *a, size_t max_hot_bytes, size_t max_warm_bytes,
                     uint64_t hot_decay_ms, uint64_t warm_decay_ms) {
    a->lock = (hak_lock_t)HAK_LOCK_INIT;
    level_init(&a->hot);
    level_init(&a->warm);
    a->max_hot_bytes = max_hot_bytes;
    a->max_warm_bytes = max_warm_bytes;
    a->hot_decay_ms = hot_decay_ms;
    a->warm_decay_ms = warm_decay_ms;
    a->split_unit = 0;
    a->takes = a->takes_seen = a->last_take_ms = 0;
    // Plain stores: the arena reaches other threads through whatever hands them a.
    memset(&a->stats, 0, sizeof a->stats);
}

void page_arena_set_split(page_arena_t *a, size_t unit) { a->split_unit = unit; }

// ---- under the lock ------------------------------------------------------------------------

static pa_span_t *chain_push(pa_span_t *chain, void *span, size_t bytes) {
    pa_span_t *s = span;
    s->bytes = bytes;
    s->next = chain;
    return s;
}

// Remove the `n` oldest entries of a level; they go onto *chain.
static void cut_oldest(pa_level_t *l, unsigned n, pa_span_t **chain) {
    for (unsigned i = 0; i < n; i++) {
        *chain = chain_push(*chain, l->entry[i].span, l->entry[i].bytes);
        l->bytes -= l->entry[i].bytes;
    }
    memmove(&l->entry[0], &l->entry[n], (l->count - n) * sizeof l->entry[0]);
    set_count(l, l->count - n);
}

// Add a span as the newest entry at time now_ms. A full level first gives up its oldest span to
// *evicted.
static void level_push(pa_level_t *l, void *span, size_t bytes, uint64_t now_ms,
                       pa_span_t **evicted) {
    if (l->count == PA_LEVEL_CAP) cut_oldest(l, 1, evicted);
    // Keep the entries sorted by since_ms even when callers' clock readings arrive out of order.
    if (l->count > 0 && l->entry[l->count - 1].since_ms > now_ms)
        now_ms = l->entry[l->count - 1].since_ms;
    l->entry[l->count] = (pa_entry_t){span, bytes, now_ms};
    l->bytes += bytes;
    set_count(l, l->count + 1);
}

// Cut, oldest first, the spans that do not fit in `max` bytes (counting from the newest) or whose
// age reached `decay`; they go onto *chain.
static void cut_due(pa_level_t *l, size_t max, uint64_t decay, uint64_t now_ms, pa_span_t **chain) {
    if (l->count == 0 || (l->bytes <= max && now_ms < add_sat(l->entry[0].since_ms, decay)))
        return; // nothing due
    size_t kept = 0;
    unsigned i = l->count;
    while (i > 0) {
        const pa_entry_t *e = &l->entry[i - 1];
        if (e->bytes > max - kept || now_ms >= add_sat(e->since_ms, decay)) break;
        kept += e->bytes;
        i--;
    }
    cut_oldest(l, i, chain);
}

static void level_remove(pa_level_t *l, unsigned i) {
    l->bytes -= l->entry[i].bytes;
    memmove(&l->entry[i], &l->entry[i + 1], (l->count - i - 1) * sizeof l->entry[0]);
    set_count(l, l->count - 1);
}

// The index of the smallest span of at least `bytes` in a level (the newest of equals), or -1;
// one of at most bytes + bytes/4 unless `any_bigger`.
static int find_best(const pa_level_t *l, size_t bytes, bool any_bigger) {
    int best = -1;
    size_t best_bytes = SIZE_MAX;
    for (int i = (int)l->count - 1; i >= 0; i--) {
        size_t b = l->entry[i].bytes;
        if (b >= bytes && (any_bigger || b - bytes <= bytes / 4) && b < best_bytes) {
            best = i;
            best_bytes = b;
            if (b == bytes) break;
        }
    }
    return best;
}

#ifdef HAK_DEBUG_CHECKS
static bool level_holds(const pa_level_t *l, const void *span) {
    for (unsigned i = 0; i < l->count; i++)
        if (l->entry[i].span == span) return true;
    return false;
}
#endif

// Take entry i for a request of `bytes`: whole, or (unit not 0, the span more than a quarter
// bigger, a unit or more left over) its head of `bytes` rounded up to the unit, the rest staying
// in the entry with its time.
static void *level_take(pa_level_t *l, int i, size_t bytes, size_t unit, size_t *span_bytes,
                        bool *split) {
    pa_entry_t *e = &l->entry[i];
    void *span = e->span;
    size_t head = unit != 0 ? (bytes + unit - 1) & ~(unit - 1) : e->bytes;
    *split = e->bytes - bytes > bytes / 4 && head < e->bytes && e->bytes - head >= unit;
    if (*split) {
        e->span = (char *)span + head;
        e->bytes -= head;
        l->bytes -= head;
        *span_bytes = head;
        return span;
    }
    *span_bytes = e->bytes;
    level_remove(l, (unsigned)i);
    return span;
}

// A span put into the hot level absorbs the hot spans it touches (at most one on each side):
// *span and *bytes grow to cover them, their entries go. Returns how many it absorbed.
static unsigned absorb_neighbours(pa_level_t *l, void **span, size_t *bytes) {
    unsigned absorbed = 0;
    for (unsigned i = 0; i < l->count;) {
        pa_entry_t *e = &l->entry[i];
        if ((char *)e->span + e->bytes == (char *)*span) {
            *span = e->span;
        } else if ((char *)*span + *bytes != (char *)e->span) {
            i++;
            continue;
        }
        *bytes += e->bytes;
        level_remove(l, i);
        absorbed++;
    }
    return absorbed;
}

// ---- outside the lock ----------------------------------------------------------------------

static void release_chain(page_arena_t *a, pa_span_t *s) {
    for (pa_span_t *next; s != NULL; s = next) {
        next = s->next;
        size_t bytes = s->bytes;
        hak_os_release(s, bytes);
        hak_count(&a->stats.released, 1);
        hak_count(&a->stats.bytes_released, bytes);
    }
}

// Decommit the spans cut from the hot level (they are in no level: nobody else can see them),
// then publish them warm; unmap what does not stay warm. `release` holds spans already due for
// unmap.
static void demote_and_release(page_arena_t *a, pa_span_t *demote, pa_span_t *release,
                               uint64_t now_ms) {
    size_t page = hak_os_page_size();
    pa_span_t *warm = NULL;
    for (pa_span_t *s = demote, *next; s != NULL; s = next) {
        next = s->next;
        // A span that could not stay warm is unmapped without the useless madvise; one the kernel
        // refused to decommit still holds data a warm taker would take for zeros.
        bool keep = s->bytes <= a->max_warm_bytes && a->warm_decay_ms != 0 &&
                    (s->bytes <= page || hak_os_decommit((char *)s + page, s->bytes - page));
        if (keep) {
            s->next = warm;
            warm = s;
            hak_count(&a->stats.decommitted, 1);
        } else {
            s->next = release;
            release = s;
        }
    }
    if (warm != NULL) {
        hak_lock(&a->lock);
        for (pa_span_t *s = warm, *next; s != NULL; s = next) {
            next = s->next;
            level_push(&a->warm, s, s->bytes, now_ms, &release);
        }
        cut_due(&a->warm, a->max_warm_bytes, a->warm_decay_ms, now_ms, &release);
        hak_unlock(&a->lock);
    }
    release_chain(a, release);
}

// Apply bounds and decay to both levels: under the lock, cut what must move; then move it.
// `demote` may already hold spans evicted from the hot level.
static void decay_and_unlock(page_arena_t *a, uint64_t now_ms, pa_span_t *demote) {
    pa_span_t *release = NULL;
    // Hot spans decay by time only once takes have stopped for the decay time: a program that
    // keeps replacing its big blocks reuses them (its spans were split and merged, so their own
    // times say little), and only the bound applies meanwhile.
    if (a->takes != a->takes_seen) {
        a->takes_seen = a->takes;
        a->last_take_ms = now_ms;
    }
    uint64_t hot_decay = now_ms < add_sat(a->last_take_ms, a->hot_decay_ms) ? UINT64_MAX : a->hot_decay_ms;
    cut_due(&a->hot, a->max_hot_bytes, hot_decay, now_ms, &demote);
    cut_due(&a->warm, a->max_warm_bytes, a->warm_decay_ms, now_ms, &release);
    hak_unlock(&a->lock);
    if (demote != NULL || release != NULL) demote_and_release(a, demote, release, now_ms);
}

// ---- interface -----------------------------------------------------------------------------

void *page_arena_take(page_arena_t *a, size_t bytes, size_t *span_bytes, bool *hot) {
    if (looks_empty(a)) {
        hak_count(&a->stats.misses, 1);
        return NULL;
    }
    void *s = NULL;
    hak_lock(&a->lock);
    bool any_bigger = a->split_unit != 0, split = false;
    int i = find_best(&a->hot, bytes, any_bigger);
    bool from_hot = i >= 0;
    if (from_hot)
        s = level_take(&a->hot, i, bytes, a->split_unit, span_bytes, &split);
    else if ((i = find_best(&a->warm, bytes, any_bigger)) >= 0)
        s = level_take(&a->warm, i, bytes, a->split_unit, span_bytes, &split);
    if (s != NULL) a->takes++;
    hak_unlock(&a->lock);
    if (split) hak_count(&a->stats.splits, 1);
    if (s == NULL) {
        hak_count(&a->stats.misses, 1);
        return NULL;
    }
    if (from_hot)
        hak_count(&a->stats.hot_hits, 1);
    else
        hak_count(&a->stats.warm_hits, 1);
    *hot = from_hot;
    return s;
}

void *page_arena_take_smaller(page_arena_t *a, size_t bytes, size_t *span_bytes) {
    if (looks_empty(a)) return NULL;
    hak_lock(&a->lock);
    int best = -1;
    for (int i = 0; i < (int)a->hot.count; i++)
        if (a->hot.entry[i].bytes < bytes && (best < 0 || a->hot.entry[i].bytes > a->hot.entry[best].bytes))
            best = i;
    void *span = NULL;
    if (best >= 0) {
        span = a->hot.entry[best].span;
        *span_bytes = a->hot.entry[best].bytes;
        level_remove(&a->hot, (unsigned)best);
        a->takes++;
    }
    hak_unlock(&a->lock);
    if (span != NULL) hak_count(&a->stats.smaller_hits, 1);
    return span;
}

void page_arena_put(page_arena_t *a, void *span, size_t bytes, uint64_t now_ms) {
    size_t page = hak_os_page_size();
    if (HAK_UNLIKELY((((uintptr_t)span | bytes) & (page - 1)) != 0 || bytes == 0))
        hak_fatal("page_arena: put of %p, %zu bytes: not whole pages", span, bytes);
    hak_count(&a->stats.puts, 1);
    pa_span_t *demote = NULL;
    hak_lock(&a->lock);
#ifdef HAK_DEBUG_CHECKS
    if (level_holds(&a->hot, span) || level_holds(&a->warm, span))
        hak_fatal("page_arena: span %p put twice", span);
#endif
    unsigned merged = a->split_unit != 0 ? absorb_neighbours(&a->hot, &span, &bytes) : 0;
    level_push(&a->hot, span, bytes, now_ms, &demote);
    decay_and_unlock(a, now_ms, demote);
    if (merged != 0) hak_count(&a->stats.merges, merged);
}

void page_arena_tick(page_arena_t *a, uint64_t now_ms) {
    if (looks_empty(a)) return;
    hak_lock(&a->lock);
    decay_and_unlock(a, now_ms, NULL);
}

bool page_arena_trim(page_arena_t *a) {
    pa_span_t *all = NULL;
    hak_lock(&a->lock);
    cut_oldest(&a->hot, a->hot.count, &all);
    cut_oldest(&a->warm, a->warm.count, &all);
    hak_unlock(&a->lock);
    release_chain(a, all);
    return all != NULL;
}

size_t page_arena_hot_bytes(page_arena_t *a) {
    hak_lock(&a->lock);
    size_t bytes = a->hot.bytes;
    hak_unlock(&a->lock);
    return bytes;
}
