// A program for the heap profiler's tests, run with libhakmem.so preloaded (it is not linked to
// hakmem; hak_prof_dump is looked up with dlsym). It allocates at known call sites, known amounts:
//
//   prof_sites sites DIR    keep_a 10,000 x 1 KiB and keep_b 50,000 x 96 B live, churn 50,000
//                           x 4 KiB allocated and freed, leak 3,000 x 2 KiB never freed; DIR/mid.prof
//                           written by hak_prof_dump while all of it is live; keep_a and keep_b
//                           freed before exit
//   prof_sites threads DIR  two threads allocate 20,000 x 512 B each (thread_one, thread_two),
//                           live at exit; SIGUSR2 raised while they run
//   prof_sites fork DIR     parent_site 10,000 x 1 KiB, then a fork child allocates child_site
//                           20,000 x 1 KiB; both live at their exits
//   prof_sites stats DIR    tiny_site 2,000,000 x 64 B, mid_site 100,000 x 8 KiB, huge_site
//                           200 x 4 MiB, each freed at once
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *escape(void *p) {
    __asm__ volatile("" : "+r"(p)::"memory");
    return p;
}

static void touch(void *p, size_t n) { memset(p, 0x5a, n < 64 ? n : 64); }

__attribute__((noinline)) void keep_a(void **out, int n) {
    for (int i = 0; i < n; i++) touch(out[i] = escape(malloc(1024)), 1024);
}
__attribute__((noinline)) void keep_b(void **out, int n) {
    for (int i = 0; i < n; i++) out[i] = escape(calloc(1, 96));
}
__attribute__((noinline)) void churn(int n) {
    for (int i = 0; i < n; i++) {
        void *p = escape(malloc(4096));
        touch(p, 4096);
        free(escape(p));
    }
}
__attribute__((noinline)) void leak(int n) {
    for (int i = 0; i < n; i++) touch(escape(malloc(2048)), 2048);
}

static int sites(const char *dir) {
    static void *a[10000], *b[50000];
    keep_a(a, 10000);
    keep_b(b, 50000);
    churn(50000);
    leak(3000);
    int (*dump)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "hak_prof_dump");
    if (dump == NULL) {
        fprintf(stderr, "prof_sites: hak_prof_dump not found: is libhakmem.so preloaded?\n");
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/mid.prof", dir);
    if (dump(path) != 0) {
        perror("prof_sites: hak_prof_dump");
        return 1;
    }
    for (int i = 0; i < 10000; i++) free(a[i]);
    for (int i = 0; i < 50000; i++) free(b[i]);
    return 0;
}

static volatile int go_on = 1;

__attribute__((noinline)) void *thread_one(void *arg) {
    for (int i = 0; i < 20000; i++) touch(escape(malloc(512)), 512);
    while (go_on) usleep(1000);
    return NULL;
}
__attribute__((noinline)) void *thread_two(void *arg) {
    for (int i = 0; i < 20000; i++) touch(escape(malloc(512)), 512);
    while (go_on) usleep(1000);
    return NULL;
}

static int threads(const char *dir) {
    pthread_t t1, t2;
    pthread_create(&t1, NULL, thread_one, NULL);
    pthread_create(&t2, NULL, thread_two, NULL);
    raise(SIGUSR2); // a profile while they allocate
    char path[4096];
    snprintf(path, sizeof path, "%s/threads.prof.1", dir);
    struct stat st;
    for (int i = 0; i < 1000 && stat(path, &st) != 0; i++) usleep(10000); // written by hakmem's thread
    go_on = 0;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    return stat(path, &st) == 0 ? 0 : 1;
}

__attribute__((noinline)) void parent_site(int n) {
    for (int i = 0; i < n; i++) touch(escape(malloc(1024)), 1024);
}
__attribute__((noinline)) void child_site(int n) {
    for (int i = 0; i < n; i++) touch(escape(malloc(1024)), 1024);
}

static int forks(void) {
    parent_site(10000);
    pid_t pid = fork();
    if (pid == 0) {
        child_site(20000);
        exit(0); // hakmem writes the child's profile at its exit
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    printf("child %d\n", (int)pid);
    return 0;
}

__attribute__((noinline)) void tiny_site(int n) {
    for (int i = 0; i < n; i++) free(escape(malloc(64)));
}
__attribute__((noinline)) void mid_site(int n) {
    for (int i = 0; i < n; i++) free(escape(malloc(8192)));
}
__attribute__((noinline)) void huge_site(int n) {
    for (int i = 0; i < n; i++) free(escape(malloc(4 << 20)));
}

static int stats(void) {
    tiny_site(2000000);
    mid_site(100000);
    huge_site(200);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: prof_sites sites|threads|fork|stats DIR\n");
        return 2;
    }
    if (strcmp(argv[1], "sites") == 0) return sites(argv[2]);
    if (strcmp(argv[1], "threads") == 0) return threads(argv[2]);
    if (strcmp(argv[1], "fork") == 0) return forks();
    if (strcmp(argv[1], "stats") == 0) return stats();
    return 2;
}
