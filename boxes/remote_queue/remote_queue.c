#include "remote_queue.h"

size_t remote_queue_chain_length(void *chain, void **last) {
    size_t n = 0;
    void *prev = NULL;
    for (void *b = chain; b != NULL; b = *(void **)b) {
        prev = b;
        n++;
    }
    if (last != NULL) *last = prev;
    return n;
}
