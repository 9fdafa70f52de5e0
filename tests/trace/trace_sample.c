// A program whose allocations are known, for the trace tests: with argument "fork" it also forks
// a child that allocates (a child records nothing).
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 1000
static void *blocks[N];

// The second thread frees the blocks the main thread made and left it (cross-thread frees).
static void *free_the_rest(void *arg) {
    (void)arg;
    for (int i = N / 2; i < N; i++) free(blocks[i]);
    void *own = malloc(100);
    free(own);
    return NULL;
}

int main(int argc, char **argv) {
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc((size_t)(i % 500) + 1);
        memset(blocks[i], 1, 1);
    }
    for (int i = 0; i < N / 2; i++) free(blocks[i]);
    for (int i = N / 2; i < N / 2 + 100; i++) blocks[i] = realloc(blocks[i], 4096 + (size_t)i);
    void *zeroed[50], *aligned[30];
    for (int i = 0; i < 50; i++) zeroed[i] = calloc(10, (size_t)i + 1);
    for (int i = 0; i < 20; i++)
        if (posix_memalign(&aligned[i], 64, 100) != 0) return 1;
    for (int i = 20; i < 30; i++) aligned[i] = aligned_alloc(256, 512);
    for (int i = 0; i < 50; i++) free(zeroed[i]);
    for (int i = 0; i < 30; i++) free(aligned[i]);
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 100; i++) free(malloc(64));
            _exit(0);
        }
        waitpid(pid, NULL, 0);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, free_the_rest, NULL) != 0) return 1;
    pthread_join(t, NULL);
    return 0;
}
