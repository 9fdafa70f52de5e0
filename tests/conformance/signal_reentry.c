// A malloc called from a signal handler that interrupted the same thread's malloc (not
// async-signal-safe, but programs do it): hakmem aborts with one line that says so, instead of
// spinning forever on the heap the interrupted call holds. To interrupt the slow path at a known
// point, the program defines mmap itself (hakmem's static library calls the program's): armed,
// it raises SIGUSR1 before mapping, and the first mmap after arming is a new segment's, taken in
// the middle of a malloc's slow path. The handler's malloc, of a size class not used before, goes
// to its slow path too. Not under ThreadSanitizer: its runtime calls mmap for its own memory,
// and a program's mmap in its place breaks it.
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <setjmp.h>

#include <cmocka.h>

#include "child.h"
#include "hakmem.h"

#ifndef __SANITIZE_THREAD__
static volatile sig_atomic_t armed;

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
    if (armed) {
        armed = 0;
        raise(SIGUSR1);
    }
    return (void *)syscall(SYS_mmap, addr, length, prot, flags, fd, offset);
}

static void on_signal(int sig) {
    (void)sig;
    hak_free(hak_malloc(200));
}

static void reentry_body(void *arg) {
    (void)arg;
    hak_free(hak_malloc(48)); // the thread's heap and a first segment
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    armed = 1;
    void *p = hak_malloc(256 * 1024); // a class of another segment kind: a new segment is mapped
    if (armed) _exit(3);              // no mmap: the case proves nothing
    hak_free(p);
}

#endif

static void test_reentry_from_a_signal_handler_aborts(void **state) {
#ifdef __SANITIZE_THREAD__
    skip();
#else
    child_result_t r;
    run_child(reentry_body, NULL, &r);
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3) fail_msg("the slow path mapped nothing");
    if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGABRT)
        fail_msg("the child did not abort (status %#x); its stderr: %s", r.status, r.out);
    assert_non_null(strstr(r.out, "hakmem: malloc or free called from a signal handler"));
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reentry_from_a_signal_handler_aborts),
    };
    return cmocka_run_group_tests_name("signal_reentry", tests, NULL, NULL);
}
