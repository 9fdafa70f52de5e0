/*
 * batch_queue - producers allocate blocks in batches and hand whole batches to consumers.
 *
 *   batch_queue <producers> <consumers> <batches-per-producer> <batch> <size> <queue-depth>
 *
 * Each producer mallocs <batch> blocks of <size> bytes, writes their first bytes, and puts the
 * batch (an array of pointers, itself malloc'ed) on one shared queue guarded by a mutex; at most
 * <queue-depth> batches wait there (a full queue makes producers wait on a condition variable).
 * Consumers take batches off the queue, read and free every block and the batch's array. Every
 * free is made by a thread that did not allocate the block, and blocks arrive in bursts of
 * <batch> from one producer: the shape of a server's request objects handed from an acceptor to
 * workers. One op = one block produced and freed.
 */
#include <pthread.h>

#include "workload_common.h"

typedef struct batch {
    struct batch *next;
    void *blocks[];
} batch_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    batch_t *head, *tail;
    uint64_t depth, max_depth;
    unsigned producers_left;
} g_queue = {.lock = PTHREAD_MUTEX_INITIALIZER,
             .not_empty = PTHREAD_COND_INITIALIZER,
             .not_full = PTHREAD_COND_INITIALIZER};

static uint64_t g_batches, g_batch, g_size;
static spin_barrier_t g_start;

static void queue_put(batch_t *b) {
    pthread_mutex_lock(&g_queue.lock);
    while (g_queue.depth == g_queue.max_depth)
        pthread_cond_wait(&g_queue.not_full, &g_queue.lock);
    b->next = NULL;
    if (g_queue.tail)
        g_queue.tail->next = b;
    else
        g_queue.head = b;
    g_queue.tail = b;
    g_queue.depth++;
    pthread_cond_signal(&g_queue.not_empty);
    pthread_mutex_unlock(&g_queue.lock);
}

/* NULL once the queue is empty and every producer is done. */
static batch_t *queue_take(void) {
    pthread_mutex_lock(&g_queue.lock);
    while (!g_queue.head && g_queue.producers_left)
        pthread_cond_wait(&g_queue.not_empty, &g_queue.lock);
    batch_t *b = g_queue.head;
    if (b) {
        g_queue.head = b->next;
        if (!g_queue.head) g_queue.tail = NULL;
        g_queue.depth--;
        pthread_cond_signal(&g_queue.not_full);
    }
    pthread_mutex_unlock(&g_queue.lock);
    return b;
}

static void producer_done(void) {
    pthread_mutex_lock(&g_queue.lock);
    g_queue.producers_left--;
    pthread_cond_broadcast(&g_queue.not_empty);
    pthread_mutex_unlock(&g_queue.lock);
}

static void *producer(void *arg) {
    uint64_t tag = (uintptr_t)arg;
    spin_barrier_wait(&g_start);
    for (uint64_t i = 0; i < g_batches; i++) {
        batch_t *b = malloc(sizeof *b + g_batch * sizeof(void *));
        if (!b) wl_die("malloc of a batch failed");
        for (uint64_t k = 0; k < g_batch; k++) {
            b->blocks[k] = malloc(g_size);
            if (!b->blocks[k]) wl_die("malloc(%llu) failed", (unsigned long long)g_size);
            wl_touch(b->blocks[k], g_size, tag + k);
        }
        queue_put(b);
    }
    producer_done();
    return NULL;
}

static void *consumer(void *arg) {
    uint64_t *check = arg, sum = 0;
    spin_barrier_wait(&g_start);
    batch_t *b;
    while ((b = queue_take()) != NULL) {
        for (uint64_t k = 0; k < g_batch; k++) {
            sum += wl_peek(b->blocks[k]);
            free(b->blocks[k]);
        }
        free(b);
    }
    *check = sum;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 7)
        wl_die("usage: %s <producers> <consumers> <batches-per-producer> <batch> <size> "
               "<queue-depth>",
               argv[0]);
    unsigned np = (unsigned)wl_count(argv[1], "producers");
    unsigned nc = (unsigned)wl_count(argv[2], "consumers");
    g_batches = wl_count(argv[3], "batches-per-producer");
    g_batch = wl_count(argv[4], "batch");
    g_size = wl_size(argv[5], "size");
    g_queue.max_depth = wl_count(argv[6], "queue-depth");
    if (!np || !nc || np + nc > 1024 || !g_batch || !g_size || !g_queue.max_depth)
        wl_die("need 1-1024 threads in all, and a batch, size and queue depth of at least 1");
    g_queue.producers_left = np;
    spin_barrier_init(&g_start, np + nc + 1);

    pthread_t th[1024];
    uint64_t checks[1024] = {0};
    for (unsigned i = 0; i < np; i++)
        if (pthread_create(&th[i], NULL, producer, (void *)(uintptr_t)(i + 1)))
            wl_die("pthread_create failed");
    for (unsigned i = 0; i < nc; i++)
        if (pthread_create(&th[np + i], NULL, consumer, &checks[i])) wl_die("pthread_create failed");
    spin_barrier_wait(&g_start);
    double t0 = wl_now();
    for (unsigned i = 0; i < np + nc; i++)
        pthread_join(th[i], NULL);
    double secs = wl_now() - t0;

    uint64_t ops = (uint64_t)np * g_batches * g_batch, check = 0;
    for (unsigned i = 0; i < nc; i++)
        check += checks[i];
    printf("batch_queue: %u producers, %u consumers, %.0f blocks of %llu B in %.3f s\n", np, nc,
           (double)ops, (unsigned long long)g_size, secs);
    wl_report("batch_queue",
              "producers=%u consumers=%u ops=%llu seconds=%.6f ops_per_sec=%.0f peak_rss_kb=%ld "
              "checksum=%llu",
              np, nc, (unsigned long long)ops, secs, ops / secs, wl_peak_rss_kb(),
              (unsigned long long)check);
    return 0;
}
