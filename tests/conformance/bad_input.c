// Bad input: freeing or reallocating an address hakmem never gave out, or an address inside one of
// its blocks, prints one line naming the call and the address and aborts. Each case runs in a
// forked child whose stderr goes to a pipe; the parent checks the signal and the line.
// Uses the hak_ API so that it runs in every preset, sanitizers included.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "child.h"
#include "hakmem.h"

#define MiB ((size_t)1 << 20)

typedef enum { OP_FREE, OP_REALLOC, OP_USABLE_SIZE } op_t;

static const char *op_message(op_t op) {
    switch (op) {
    case OP_FREE:
        return "free(): invalid pointer";
    case OP_REALLOC:
        return "realloc(): invalid pointer";
    default:
        return "invalid pointer";
    }
}

static void *escape(void *p) {
    __asm__ volatile("" : "+r"(p)::"memory");
    return p;
}

static void do_op(op_t op, void *p) {
    switch (op) {
    case OP_FREE:
        hak_free(escape(p));
        break;
    case OP_REALLOC:
        escape(hak_realloc(escape(p), 64));
        break;
    case OP_USABLE_SIZE: {
        volatile size_t u = hak_malloc_usable_size(escape(p));
        (void)u;
        break;
    }
    }
}

// Assert the child was killed by SIGABRT after printing exactly one line `hakmem: ...`, which
// contains `msg` and the address `addr`.
static void assert_aborted_with(const child_result_t *r, const char *msg, const void *addr) {
    if (!WIFSIGNALED(r->status) || WTERMSIG(r->status) != SIGABRT) {
        if (WIFEXITED(r->status))
            fail_msg("child exited with status %d instead of aborting; stderr: %s",
                     WEXITSTATUS(r->status), r->out);
        fail_msg("child died by signal %d instead of SIGABRT; stderr: %s",
                 WIFSIGNALED(r->status) ? WTERMSIG(r->status) : -1, r->out);
    }
    int hak_lines = 0;
    int found = 0;
    const char *line = r->out;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
        memcpy(buf, line, n);
        buf[n] = '\0';
        if (strncmp(buf, "hakmem:", 7) == 0) hak_lines++;
        const char *m = strstr(buf, msg);
        if (m) {
            // The address, printed in hex after the message (any number of leading zeros).
            const char *x = strstr(m, "0x");
            if (x && strtoull(x + 2, NULL, 16) == (unsigned long long)(uintptr_t)addr) found = 1;
        }
        line += len + (end ? 1 : 0);
    }
    if (!found)
        fail_msg("no line with \"%s\" and address %p in the child's stderr: %s", msg, addr, r->out);
    if (hak_lines != 1) fail_msg("expected one line from hakmem, got %d: %s", hak_lines, r->out);
}

// ---- cases --------------------------------------------------------------------------------------

typedef struct {
    op_t op;
    void *addr;
} bad_call_t;

static void call_body(void *arg) {
    bad_call_t *c = arg;
    do_op(c->op, c->addr);
}

static void expect_abort(op_t op, void *addr) {
    child_result_t r;
    bad_call_t c = {op, addr};
    run_child(call_body, &c, &r);
    assert_aborted_with(&r, op_message(op), addr);
}

static const op_t all_ops[] = {OP_FREE, OP_REALLOC, OP_USABLE_SIZE};
#define FOR_EACH_OP(op) for (size_t oi_ = 0; oi_ < 3 && ((op) = all_ops[oi_], 1); oi_++)

static void stack_body(void *arg) {
    op_t op = *(op_t *)arg;
    char buf[256];
    memset(buf, 1, sizeof buf);
    char *p = escape(buf + 64);
    // The parent cannot know the child's stack address: print it on a line of our own first.
    char line[64];
    int n = snprintf(line, sizeof line, "stack address %p\n", (void *)p);
    if (write(STDERR_FILENO, line, (size_t)n) < 0) _exit(3);
    do_op(op, p);
}

static void test_stack_address(void **state) {
    (void)state;
    op_t op;
    FOR_EACH_OP(op) {
        child_result_t r;
        run_child(stack_body, &op, &r);
        const char *s = strstr(r.out, "stack address 0x");
        if (s == NULL) fail_msg("child printed no address; status %d, stderr: %s", r.status, r.out);
        void *addr = (void *)(uintptr_t)strtoull(s + strlen("stack address 0x"), NULL, 16);
        assert_aborted_with(&r, op_message(op), addr);
    }
}

static char static_array[4096] __attribute__((aligned(64)));

static void test_static_array(void **state) {
    (void)state;
    op_t op;
    FOR_EACH_OP(op) {
        expect_abort(op, &static_array[0]);
        expect_abort(op, &static_array[1024]);
    }
}

static void test_mmap_page(void **state) {
    (void)state;
    // A page of our own, and an address on a 2 MiB boundary inside a mapping of our own whose
    // first bytes look like anything: hakmem must recognise neither as its own.
    size_t len = 6 * MiB;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    char *seg = (char *)(((uintptr_t)m + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1));
    memset(seg, 0, 4096);
    memset(seg + 4096, 0xff, 4096);
    op_t op;
    FOR_EACH_OP(op) {
        expect_abort(op, m);
        expect_abort(op, seg);
        expect_abort(op, seg + 64);
        expect_abort(op, seg + 4096);
    }
    // The same with the first page pointing at itself, as a header whose `block` field matched.
    for (size_t i = 0; i < 4096 / sizeof(void *); i++)
        ((void **)seg)[i] = seg + 4096;
    FOR_EACH_OP(op) expect_abort(op, seg + 4096);
    munmap(m, len);
}

static void test_inside_live_block(void **state) {
    (void)state;
    // Blocks of every frontend, allocated before the fork so that the child sees them live.
    size_t sizes[] = {32, 48, 256, 1024, 4096, 32768, 40000, 300000, 1835008, 3 * MiB, 20 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = hak_malloc(sizes[i]);
        assert_non_null(p);
        memset(p, 0x5a, sizes[i]);
        size_t offs[] = {16, 1, 8, sizes[i] / 2 & ~(size_t)15, 4096};
        op_t op;
        FOR_EACH_OP(op) {
            for (size_t j = 0; j < sizeof offs / sizeof offs[0]; j++)
                if (offs[j] > 0 && offs[j] < sizes[i]) expect_abort(op, p + offs[j]);
        }
        hak_free(p); // the block itself is still fine
    }
}

static void test_segment_end(void **state) {
    (void)state;
    // The byte just past a slab segment belongs to it for the lookup ((p - 1) rounded down), and
    // no block starts there; the same for blocks of each segment kind (tiny, mid, large).
    size_t sizes[] = {32, 4096, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = hak_malloc(sizes[i]);
        assert_non_null(p);
        char *end = (char *)((((uintptr_t)p - 1) & ~(uintptr_t)(2 * MiB - 1)) + 2 * MiB);
        op_t op;
        FOR_EACH_OP(op) expect_abort(op, end);
        hak_free(p);
    }
}

static void double_free_body(void *arg) {
    hak_free(arg);
    hak_free(arg);
}

#if HAK_THREAD_CACHE == 1 || HAK_HARDENED
static void realloc_after_free_body(void *arg) {
    hak_free(arg);
    (void)hak_realloc(arg, 4096);
}
#endif

#define SLAB_SIZES 16, 100, 1024, 5000, 32768, 100000, 1835008

static void test_double_free(void **state) {
    (void)state;
    // A huge block is its own mapping: once freed, its address is not hakmem's any more, in
    // every preset.
    void *huge = hak_malloc(3 * MiB);
    assert_non_null(huge);
    child_result_t r;
    run_child(double_free_body, huge, &r);
    assert_aborted_with(&r, "free(): invalid pointer", huge);
    hak_free(huge);
#if HAK_THREAD_CACHE == 1 || HAK_HARDENED
    // A slab block freed twice in a row by one thread is the front of its cache: caught with the
    // tls_sll cache (the cache would otherwise hold it twice and hand it out twice), by free and
    // realloc; and by any hardened variant's mark.
    size_t slab_sizes[] = {SLAB_SIZES};
    for (size_t i = 0; i < sizeof slab_sizes / sizeof slab_sizes[0]; i++) {
        void *p = hak_malloc(slab_sizes[i]);
        assert_non_null(p);
        run_child(double_free_body, p, &r);
        assert_aborted_with(&r, "free(): double free", p);
        run_child(realloc_after_free_body, p, &r);
        assert_aborted_with(&r, "realloc(): double free", p);
        hak_free(p);
    }
#endif
}

#if HAK_HARDENED
static void *free_on_thread(void *p) {
    hak_free(p);
    return NULL;
}

// The first free on another thread (the block waits in that thread's cache, or went back to
// its slab when the thread exited), the second here.
static void double_free_across_threads_body(void *arg) {
    pthread_t t;
    if (pthread_create(&t, NULL, free_on_thread, arg) != 0) _exit(2);
    pthread_join(t, NULL);
    hak_free(arg);
}

// The first free, then enough frees of the same class that the block leaves the thread's cache
// (for a depot or its slab's free list), then the second. A block of the same refill (of the
// same slab) stays live: a thread that frees this much empties its caches and gives back the
// slabs that empty (the slab of a twice-freed block that was given back is no longer a slab:
// "invalid pointer").
static void double_free_after_drain_body(void *arg) {
    size_t size = hak_malloc_usable_size(arg);
    void *neighbour = hak_malloc(size);
    size_t n = 16 * MiB / size + 64; // more than any cache keeps
    if (n > 20000) n = 20000;
    void **others = hak_malloc(n * sizeof *others);
    for (size_t i = 0; i < n; i++) others[i] = hak_malloc(size);
    hak_free(arg);
    for (size_t i = 0; i < n; i++) hak_free(others[i]);
    hak_free(arg);
    hak_free(neighbour);
}

static void test_double_free_anywhere(void **state) {
    (void)state;
    size_t sizes[] = {SLAB_SIZES};
    void (*bodies[])(void *) = {double_free_across_threads_body, double_free_after_drain_body};
    for (size_t b = 0; b < 2; b++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = hak_malloc(sizes[i]);
            assert_non_null(p);
            child_result_t r;
            run_child(bodies[b], p, &r);
            assert_aborted_with(&r, "free(): double free", p);
            hak_free(p);
        }
}

static void *free_range(void *blocks) {
    for (int k = 0; k < 1000; k++) hak_free(((void **)blocks)[k]);
    return NULL;
}

// A block handed out again carries no mark, whichever call took it and wherever it came from
// (the thread's cache, its slab after a drain, another thread's frees): none of these frees
// aborts.
static void test_reused_blocks_are_not_double_frees(void **state) {
    (void)state;
    enum { N = 5000 };
    static void *blocks[N];
    size_t sizes[] = {16, 48, 1000, 6000, 40000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int round = 0; round < 6; round++) {
            for (int k = 0; k < N; k++) {
                void *p = NULL;
                switch (round) {
                case 0: p = hak_malloc(sizes[i]); break;
                case 1: p = hak_calloc(1, sizes[i]); break;
                case 2: p = hak_realloc(NULL, sizes[i]); break;
                case 3: assert_int_equal(hak_posix_memalign(&p, 64, sizes[i]), 0); break;
                case 4: p = hak_aligned_alloc(256, sizes[i]); break;
                default: p = hak_memalign(32, sizes[i]); break;
                }
                assert_non_null(p);
                blocks[k] = p;
            }
            if (round % 2 == 0) {
                for (int k = 0; k < N; k++) hak_free(blocks[k]);
            } else {
                pthread_t t;
                for (int k = 0; k < N; k += 1000) {
                    assert_int_equal(pthread_create(&t, NULL, free_range, blocks + k), 0);
                    pthread_join(t, NULL);
                }
            }
        }
}
#endif

static void test_grow_region_block(void **state) {
    (void)state;
    // A block realloc grew (in a grow region, where the preset has them): pointers inside it are
    // caught in every preset, and a second free wherever the block is in a region (or with
    // HAK_HARDENED, as for any slab block).
    char *p = hak_realloc(hak_malloc(16), 5000);
    assert_non_null(p);
    memset(p, 0, 5000);
    op_t op;
    FOR_EACH_OP(op) {
        expect_abort(op, p + 16);
        expect_abort(op, p + 2048);
    }
#if HAK_GROW_REGION || HAK_HARDENED
    child_result_t r;
    run_child(double_free_body, p, &r);
    assert_aborted_with(&r, "free()", p);
#endif
    hak_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_address), cmocka_unit_test(test_static_array),
        cmocka_unit_test(test_mmap_page),     cmocka_unit_test(test_inside_live_block),
        cmocka_unit_test(test_double_free),   cmocka_unit_test(test_grow_region_block),
        cmocka_unit_test(test_segment_end),
#if HAK_HARDENED
        cmocka_unit_test(test_double_free_anywhere),
        cmocka_unit_test(test_reused_blocks_are_not_double_frees),
#endif
    };
    return cmocka_run_group_tests_name("bad_input", tests, NULL, NULL);
}
