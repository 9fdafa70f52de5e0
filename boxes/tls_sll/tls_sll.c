#include "tls_sll.h"

uint32_t tls_sll_pop_chain(tls_sll_t *l, uint32_t n, void **first, void **last) {
    void *head = l->head;
    if (head == NULL || n == 0) {
        *first = *last = NULL;
        return 0;
    }
    uint32_t taken = 1;
    void *end = head;
    while (taken < n && *(void **)end != NULL) {
        end = *(void **)end;
        taken++;
    }
    l->head = *(void **)end;
    *(void **)end = NULL;
    l->count -= taken;
    *first = head;
    *last = end;
    return taken;
}
