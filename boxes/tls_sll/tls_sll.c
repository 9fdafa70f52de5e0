#include "tls_sll.h"

uint32_t tls_sll_pop_chain(tls_sll_t *l, uint32_t n, void **chain) {
    void *first = l->head;
    if (first == NULL || n == 0) {
        *chain = NULL;
        return 0;
    }
    uint32_t taken = 1;
    void *last = first;
    while (taken < n && *(void **)last != NULL) {
        last = *(void **)last;
        taken++;
    }
    l->head = *(void **)last;
    *(void **)last = NULL;
    l->count -= taken;
    *chain = first;
    return taken;
}
