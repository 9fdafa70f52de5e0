// stats: the public counters (hak_stats_t) from the heaps' sums a caller has taken already, for
// the introspection calls that need both (introspect.c) without walking every heap twice.
#ifndef HAK_API_STATS_H
#define HAK_API_STATS_H

#include "hakmem.h"
#include "slab_stats.h"

void stats_from_slabs(const slab_stats_t *ss, hak_stats_t *out);

#endif
