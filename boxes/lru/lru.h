// lru: a bounded cache of idle objects (empty segments) that forgets them with time.
//
// Glossary
//   node     an lru_node_t embedded in the caller's object (a segment header); the box never
//            allocates and never looks past the node
//   linked   the node is in the cache; exactly one call ends each stay: lru_remove returning true
//            (a hit: the object is reused), or lru_insert / lru_expire handing the node back in a
//            chain (the caller then gives the object back to the OS)
//   chain    nodes handed back, linked through ->next, NULL-terminated, oldest first
//   decay    a node whose age reaches decay_ms (now_ms >= since_ms + decay_ms) is expired
//
// The list runs newest to oldest (->next points to the older neighbour, ->prev to the newer) under
// one mutex. A node's since_ms never goes below that of the node inserted before it (it is raised
// to it when a caller's clock reading lags another's), so the list stays sorted by age and expiry
// only ever looks at the oldest end. next_expiry_ms (oldest's since_ms + decay_ms, or UINT64_MAX
// when empty) lets lru_expire return without the lock when nothing is due.
//
// Bounds: after an insert, count <= max_count and bytes <= max_bytes; the oldest nodes go first,
// and that may be the node just inserted (a node larger than max_bytes, or max_count 0, comes
// straight back: the cache is then a pass-through).
//
// Counters (relaxed, statistics only): inserted (a node became linked; a refresh is not counted),
// hits (lru_remove found the node), evicted (by a bound), expired (by decay, or by lru_expire's
// `all`). At any quiet moment: inserted == hits + evicted + expired + count.
#ifndef HAK_LRU_H
#define HAK_LRU_H

#include "platform.h"

#include <stdatomic.h>

typedef struct lru_node {
    struct lru_node *prev, *next;
    uint64_t since_ms; // when it was inserted (or last refreshed)
    size_t bytes;      // what it costs while cached (counted against max_bytes)
    _Atomic bool linked;
} lru_node_t;

#define LRU_COUNTERS(X)                                                                            \
    X(inserted, "nodes that became linked (a refresh is not counted)")                             \
    X(hits, "nodes lru_remove found linked: objects reused")                                       \
    X(evicted, "nodes handed back to keep within the bounds")                                      \
    X(expired, "nodes handed back by decay or by lru_expire's `all`")
typedef struct {
    LRU_COUNTERS(HAK_COUNTER_FIELD)
} lru_counters_t;

typedef struct {
    hak_lock_t lock;
    lru_node_t *newest, *oldest;
    size_t count, bytes;             // under lock
    size_t max_count, max_bytes;     // set by lru_init
    uint64_t decay_ms;               // set by lru_init
    _Atomic uint64_t next_expiry_ms; // a hint read without the lock; written under it
    lru_counters_t stats;
} lru_t;

// An empty cache. decay_ms = UINT64_MAX: nodes never expire by time.
void lru_init(lru_t *l, size_t max_count, size_t max_bytes, uint64_t decay_ms);

// Insert n (zeroed before its first insert: `linked` false) as the newest node, costing `bytes`,
// at time now_ms; a node already linked is refreshed instead (moved to newest, its since_ms and
// bytes updated, not counted again). Returns the chain of nodes evicted to keep within the
// bounds, oldest first (possibly n itself), or NULL. Read a chain node's ->next before handing
// the node on: its new owner may reuse the node at once.
lru_node_t *lru_insert(lru_t *l, lru_node_t *n, size_t bytes, uint64_t now_ms);

// The node's object is being reused: unlink it (a hit). Returns false, without taking the lock
// when the `linked` flag already says so, if the node was not linked (never inserted, or already
// removed, evicted or expired: whoever got it in a chain owns it now).
bool lru_remove(lru_t *l, lru_node_t *n);

// Unlink and return the chain of nodes whose age reached decay_ms, oldest first, or of every node
// when `all` (counted as expired either way). Without `all`, returns NULL without taking the lock
// when now_ms < next_expiry_ms.
lru_node_t *lru_expire(lru_t *l, uint64_t now_ms, bool all);

// Whether n is linked now (a relaxed read: exact only while the caller excludes the others).
static inline bool lru_contains(const lru_node_t *n) {
    // relaxed: a snapshot for the caller's information; nothing is read through it.
    return atomic_load_explicit(&((lru_node_t *)n)->linked, memory_order_relaxed);
}

// Hold the cache's lock: a caller walking a chain that lru_insert may relink (see lru_insert)
// reads its links under it. Fork: the lock is `lock`; the owner protects it with hak_fork_protect.
void lru_lock(lru_t *l);
void lru_unlock(lru_t *l);

#endif
