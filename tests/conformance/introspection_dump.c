// Allocates a mix of sizes on two threads, keeps some live, and writes malloc_info's XML to stdout;
// check_introspection.py parses it, and the JSON that HAKMEM_STATS=json prints at exit.
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hakmem.h"

#define LIVE 300
static void *live[2][LIVE];

static void *churn(void *arg) {
    void **mine = arg;
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < LIVE; i++) {
            size_t size = 16 + (size_t)((i * 7919 + round * 104729) % 40000);
            if (mine[i] != NULL) hak_free(mine[i]);
            mine[i] = hak_malloc(size);
            memset(mine[i], 1, 16);
        }
    return NULL;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, churn, live[1]);
    churn(live[0]);
    pthread_join(t, NULL);
    void *huge = hak_malloc(3 << 20);
    memset(huge, 1, 4096);
    for (int i = 0; i < LIVE; i += 2) { // half of them go, the rest stays live
        hak_free(live[0][i]);
        hak_free(live[1][i]);
    }
    return hak_malloc_info(0, stdout) == 0 ? 0 : 1;
}
