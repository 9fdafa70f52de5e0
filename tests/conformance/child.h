// Running a case in a forked child whose stderr goes to a pipe: the conformance programs that
// check an abort and its message. Needs cmocka (the parent's checks) before it.
#ifndef HAK_TEST_CHILD_H
#define HAK_TEST_CHILD_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int status;     // from waitpid
    char out[8192]; // the child's stderr
} child_result_t;

// Run body(arg) in a child with stderr on a pipe; the child exits 0 if body returns.
static inline void run_child(void (*body)(void *), void *arg, child_result_t *r) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGABRT);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        body(arg);
        _exit(0);
    }
    close(fds[1]);
    // The child has 60 s to finish, its output read meanwhile; then it is killed and the case fails.
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        if (poll(&pfd, 1, 10) > 0) {
            char sink[512]; // once the buffer is full, keep draining: the child must not block
            bool full = len == sizeof r->out - 1;
            ssize_t n = full ? read(fds[0], sink, sizeof sink) : read(fds[0], r->out + len, sizeof r->out - 1 - len);
            if (n > 0 && !full) len += (size_t)n;
        }
        pid_t w = waitpid(pid, &r->status, WNOHANG);
        assert_true(w == 0 || w == pid);
        if (w == pid) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 60) {
            kill(pid, SIGKILL);
            waitpid(pid, &r->status, 0);
            r->out[len] = '\0';
            close(fds[0]);
            fail_msg("child did not exit within 60 s; its stderr: %s", r->out);
        }
    }
    // What it wrote last, now that it is gone.
    for (ssize_t n; len < sizeof r->out - 1 && (n = read(fds[0], r->out + len, sizeof r->out - 1 - len)) > 0;)
        len += (size_t)n;
    r->out[len] = '\0';
    close(fds[0]);
}

#endif
