#include "page_arena.h"

// Counters are statistics: relaxed, nothing is ordered by them.
#define PA_COUNT(a, field, n)                                                                      \
    atomic_fetch_add_explicit(&(a)->stats.field, (uint64_t)(n), memory_order_relaxed)

static uint64_t add_sat(uint64_t a, uint64_t b) {
    return a + b < a ? UINT64_MAX : a + b;
}

// Every write of a list link (a head included) goes through here: the heads are peeked at without
// the lock, and a plain store racing with that atomic load would be a data race.
static void set_link(pa_span_t **link, pa_span_t *s) {
    // relaxed: only the emptiness of a head is read without the lock; the spans themselves are
    // only read under it, and the lock orders those reads.
    __atomic_store_n(link, s, __ATOMIC_RELAXED);
}

static bool looks_empty(page_arena_t *a) {
    // relaxed: a peek; a span put concurrently is seen by the next call.
    return __atomic_load_n(&a->hot, __ATOMIC_RELAXED) == NULL &&
           __atomic_load_n(&a->warm, __ATOMIC_RELAXED) == NULL;
}

void page_arena_init(page_arena_t *a, size_t max_hot_bytes, size_t max_warm_bytes,
                     uint64_t hot_decay_ms, uint64_t warm_decay_ms) {
    a->lock = (hak_lock_t)HAK_LOCK_INIT;
    a->hot = a->warm = NULL;
    a->hot_bytes = a->warm_bytes = 0;
    a->hot_oldest_ms = a->warm_oldest_ms = UINT64_MAX;
    a->max_hot_bytes = max_hot_bytes;
    a->max_warm_bytes = max_warm_bytes;
    a->hot_decay_ms = hot_decay_ms;
    a->warm_decay_ms = warm_decay_ms;
    // relaxed: initialisation; the arena reaches other threads through whatever hands them a.
    atomic_store_explicit(&a->stats.puts, 0, memory_order_relaxed);
    atomic_store_explicit(&a->stats.hot_hits, 0, memory_order_relaxed);
    atomic_store_explicit(&a->stats.warm_hits, 0, memory_order_relaxed);
    atomic_store_explicit(&a->stats.misses, 0, memory_order_relaxed);
    atomic_store_explicit(&a->stats.decommitted, 0, memory_order_relaxed);
    atomic_store_explicit(&a->stats.released, 0, memory_order_relaxed);
    atomic_store_explicit(&a->stats.bytes_released, 0, memory_order_relaxed);
}

// ---- under the lock ------------------------------------------------------------------------

// Push the chain first..last (newest first) in front of *head at time now_ms.
static void push_chain(pa_span_t **head, size_t *bytes, uint64_t *oldest_ms, pa_span_t *first,
                       pa_span_t *last, size_t chain_bytes, uint64_t now_ms) {
    // Keep the list sorted by since_ms even when callers' clock readings arrive out of order.
    if (*head != NULL && (*head)->since_ms > now_ms) now_ms = (*head)->since_ms;
    if (*head == NULL) *oldest_ms = now_ms;
    for (pa_span_t *s = first;; s = s->next) {
        s->since_ms = now_ms;
        if (s == last) break;
    }
    last->next = *head;
    set_link(head, first);
    *bytes += chain_bytes;
}

// Detach the tail of a list from its first span that no longer fits in `max` bytes (counting from
// the newest) or whose age reached `decay`: the oldest spans go first. Returns it (newest first).
static pa_span_t *cut_tail(pa_span_t **head, size_t *bytes, uint64_t *oldest_ms, size_t max,
                           uint64_t decay, uint64_t now_ms) {
    if (*bytes <= max && now_ms < add_sat(*oldest_ms, decay)) return NULL; // nothing due
    size_t kept = 0;
    pa_span_t **link = head, *last_kept = NULL;
    for (pa_span_t *s = *link; s != NULL; link = &s->next, s = *link) {
        if (s->bytes > max - kept || now_ms >= add_sat(s->since_ms, decay)) break;
        kept += s->bytes;
        last_kept = s;
    }
    *oldest_ms = last_kept != NULL ? last_kept->since_ms : UINT64_MAX;
    pa_span_t *cut = *link;
    if (cut != NULL) {
        set_link(link, NULL);
        *bytes = kept;
    }
    return cut;
}

// The link to the smallest span of `bytes` .. bytes + bytes/4 in a list, or NULL.
static pa_span_t **find_best(pa_span_t **head, size_t bytes) {
    pa_span_t **best = NULL;
    for (pa_span_t **link = head; *link != NULL; link = &(*link)->next) {
        size_t b = (*link)->bytes;
        if (b >= bytes && b - bytes <= bytes / 4 && (best == NULL || b < (*best)->bytes)) {
            best = link;
            if (b == bytes) break;
        }
    }
    return best;
}

static void append(pa_span_t **chain, pa_span_t *more) {
    while (*chain != NULL)
        chain = &(*chain)->next;
    *chain = more;
}

// ---- outside the lock ----------------------------------------------------------------------

static void release_chain(page_arena_t *a, pa_span_t *s) {
    for (pa_span_t *next; s != NULL; s = next) {
        next = s->next;
        size_t bytes = s->bytes;
        hak_os_release(s, bytes);
        PA_COUNT(a, released, 1);
        PA_COUNT(a, bytes_released, bytes);
    }
}

// Decommit the spans cut from the hot list (they are in no list: nobody else can see them), then
// publish them warm; unmap what does not stay warm. `release` holds spans already due for unmap.
static void demote_and_release(page_arena_t *a, pa_span_t *demote, pa_span_t *release,
                               uint64_t now_ms) {
    size_t page = hak_os_page_size();
    pa_span_t *first = NULL, *last = NULL;
    size_t warm_add = 0;
    for (pa_span_t *s = demote, *next; s != NULL; s = next) {
        next = s->next;
        // A span that could not stay warm is unmapped without the useless madvise; one the kernel
        // refused to decommit still holds data a warm taker would take for zeros.
        bool keep = s->bytes <= a->max_warm_bytes && a->warm_decay_ms != 0 &&
                    (s->bytes <= page || hak_os_decommit((char *)s + page, s->bytes - page));
        if (keep) {
            s->next = NULL;
            if (last != NULL)
                last->next = s;
            else
                first = s;
            last = s;
            warm_add += s->bytes;
            PA_COUNT(a, decommitted, 1);
        } else {
            s->next = release;
            release = s;
        }
    }
    if (first != NULL) {
        hak_lock(&a->lock);
        push_chain(&a->warm, &a->warm_bytes, &a->warm_oldest_ms, first, last, warm_add, now_ms);
        pa_span_t *old = cut_tail(&a->warm, &a->warm_bytes, &a->warm_oldest_ms,
                                  a->max_warm_bytes, a->warm_decay_ms, now_ms);
        hak_unlock(&a->lock);
        append(&release, old);
    }
    release_chain(a, release);
}

// Apply bounds and decay to both levels: under the lock, cut what must move; then move it.
static void decay_and_unlock(page_arena_t *a, uint64_t now_ms) {
    pa_span_t *demote = cut_tail(&a->hot, &a->hot_bytes, &a->hot_oldest_ms, a->max_hot_bytes,
                                 a->hot_decay_ms, now_ms);
    pa_span_t *release = cut_tail(&a->warm, &a->warm_bytes, &a->warm_oldest_ms,
                                  a->max_warm_bytes, a->warm_decay_ms, now_ms);
    hak_unlock(&a->lock);
    if (demote != NULL || release != NULL) demote_and_release(a, demote, release, now_ms);
}

// ---- interface -----------------------------------------------------------------------------

void *page_arena_take(page_arena_t *a, size_t bytes, size_t *span_bytes, bool *hot) {
    if (looks_empty(a)) {
        PA_COUNT(a, misses, 1);
        return NULL;
    }
    bool from_hot = true;
    pa_span_t *s = NULL;
    hak_lock(&a->lock);
    pa_span_t **link = find_best(&a->hot, bytes);
    if (link == NULL) {
        link = find_best(&a->warm, bytes);
        from_hot = false;
    }
    if (link != NULL) {
        s = *link;
        set_link(link, s->next);
        if (from_hot)
            a->hot_bytes -= s->bytes;
        else
            a->warm_bytes -= s->bytes;
    }
    hak_unlock(&a->lock);
    if (s == NULL) {
        PA_COUNT(a, misses, 1);
        return NULL;
    }
    if (from_hot)
        PA_COUNT(a, hot_hits, 1);
    else
        PA_COUNT(a, warm_hits, 1);
    *span_bytes = s->bytes;
    *hot = from_hot;
    return s;
}

void page_arena_put(page_arena_t *a, void *span, size_t bytes, uint64_t now_ms) {
    size_t page = hak_os_page_size();
    if (HAK_UNLIKELY((((uintptr_t)span | bytes) & (page - 1)) != 0 || bytes == 0))
        hak_fatal("page_arena: put of %p, %zu bytes: not whole pages", span, bytes);
    pa_span_t *s = span;
    s->bytes = bytes;
    PA_COUNT(a, puts, 1);
    hak_lock(&a->lock);
#ifdef HAK_DEBUG_CHECKS
    for (pa_span_t *o = a->hot; o != NULL; o = o->next)
        if (o == s) hak_fatal("page_arena: span %p put twice", span);
    for (pa_span_t *o = a->warm; o != NULL; o = o->next)
        if (o == s) hak_fatal("page_arena: span %p put twice", span);
#endif
    push_chain(&a->hot, &a->hot_bytes, &a->hot_oldest_ms, s, s, bytes, now_ms);
    decay_and_unlock(a, now_ms);
}

void page_arena_tick(page_arena_t *a, uint64_t now_ms) {
    if (looks_empty(a)) return;
    hak_lock(&a->lock);
    decay_and_unlock(a, now_ms);
}

bool page_arena_trim(page_arena_t *a) {
    hak_lock(&a->lock);
    pa_span_t *all = a->hot;
    set_link(&a->hot, NULL);
    append(&all, a->warm);
    set_link(&a->warm, NULL);
    a->hot_bytes = a->warm_bytes = 0;
    a->hot_oldest_ms = a->warm_oldest_ms = UINT64_MAX;
    hak_unlock(&a->lock);
    release_chain(a, all);
    return all != NULL;
}

void page_arena_lock(page_arena_t *a) {
    hak_lock(&a->lock);
}
void page_arena_unlock(page_arena_t *a) {
    hak_unlock(&a->lock);
}
void page_arena_reset_lock(page_arena_t *a) {
    hak_lock_reset(&a->lock);
}

size_t page_arena_hot_bytes(page_arena_t *a) {
    hak_lock(&a->lock);
    size_t bytes = a->hot_bytes;
    hak_unlock(&a->lock);
    return bytes;
}
