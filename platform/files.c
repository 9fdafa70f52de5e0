#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(sem_t) <= sizeof(((hak_wakeup_t *)0)->sem), "hak_wakeup_t holds a sem_t");

int hak_file_open_read(const char *path) {
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd;
}

int hak_file_create(const char *path) {
    int fd;
    do fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    return fd;
}

ssize_t hak_file_read(int fd, void *buf, size_t n) {
    ssize_t r;
    do r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

int hak_file_write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void hak_file_close(int fd) { close(fd); }

bool hak_wakeup_init(hak_wakeup_t *w) { return sem_init((sem_t *)w->sem, 0, 0) == 0; }
void hak_wakeup_post(hak_wakeup_t *w) { sem_post((sem_t *)w->sem); }
void hak_wakeup_wait(hak_wakeup_t *w) {
    while (sem_wait((sem_t *)w->sem) != 0 && errno == EINTR) {
    }
}

bool hak_signal_handle(int sig, void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL) == 0;
}
