// platform: the only part of hakmem that talks to the operating system.
//
// Glossary
//   reserve   map fresh address space (anonymous, read-write, lazily backed by the kernel)
//   release   give address space back (munmap)
//   decommit  drop the physical pages of a range but keep the range mapped; it reads as zero next
//             time (MADV_DONTNEED)
//
// Nothing here allocates with malloc: every function may run inside the first malloc of the
// process, before main and before the C library has finished starting.
#ifndef HAK_PLATFORM_H
#define HAK_PLATFORM_H

#include "counters.h"

#include <pthread.h>
#include <sys/types.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HAK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAK_INLINE static inline __attribute__((always_inline))
#define HAK_NOINLINE __attribute__((noinline))
#define HAK_EXPORT __attribute__((visibility("default")))
// On declarations of the library's own globals: the compiler then addresses them directly,
// not through the GOT (the hidden default applies to definitions only).
#define HAK_INTERNAL __attribute__((visibility("hidden")))
#define HAK_CACHE_LINE 64

#define HAK_KiB ((size_t)1 << 10)
#define HAK_MiB ((size_t)1 << 20)

// ---- memory -------------------------------------------------------------------------------------
size_t hak_os_page_size(void);
// `size` rounded up to a whole number of pages (no overflow check: callers bound it first).
HAK_INLINE size_t hak_page_round(size_t size) {
    size_t page = hak_os_page_size();
    return (size + page - 1) & ~(page - 1);
}
// Reserve `size` bytes aligned to `align` (a power of two >= page size). NULL with errno = ENOMEM.
// A reservation that fails calls the pressure handler, if one is set, and tries once more if it
// gave something back.
void *hak_os_reserve_aligned(size_t size, size_t align);
// Set the pressure handler: give back memory kept cached (unmap it); true if there was some. It
// may take locks of its own, never one held by a caller of hak_os_reserve_aligned.
void hak_os_on_pressure(bool (*release_cached)(void));
void hak_os_release(void *p, size_t size);
// Move the pages of [old, old+old_size) to `dest` (a range the caller reserved, page-aligned),
// growing the mapping to new_size: no copy, the page tables move. The old range is gone after.
bool hak_os_move(void *old, size_t old_size, void *dest, size_t new_size);
// Drop the pages of [p, p+size) (page-aligned): MADV_DONTNEED, or MADV_FREE with
// HAKMEM_PURGE_MADV_FREE=1 (cheaper, the kernel takes the pages only under memory pressure, and
// until then they keep their contents). Returns false if the kernel refused.
bool hak_os_decommit(void *p, size_t size);
// Whether decommitted pages read as zero afterwards (MADV_DONTNEED), or may keep old data.
bool hak_os_decommit_zeroes(void);

// ---- logging ------------------------------------------------------------------------------------
// Write a formatted line to stderr with write(2); never allocates.
void hak_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Write n bytes to stderr as they are (write(2), retried until done or failed).
void hak_write_stderr(const char *s, size_t n);
// Report a fatal error of the program (invalid free...) in one line and abort.
_Noreturn void hak_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// ---- locks --------------------------------------------------------------------------------------
// A mutex that needs no initialisation call and can be reset in a fork child.
typedef struct hak_lock {
    pthread_mutex_t m;
    struct hak_lock *fork_next; // the next lock hak_fork_protect registered
} hak_lock_t;
#define HAK_LOCK_INIT {PTHREAD_MUTEX_INITIALIZER, NULL}
HAK_INLINE void hak_lock(hak_lock_t *l) { pthread_mutex_lock(&l->m); }
HAK_INLINE void hak_unlock(hak_lock_t *l) { pthread_mutex_unlock(&l->m); }
// In a fork child only one thread exists; a lock held across fork is made free again.
void hak_lock_reset(hak_lock_t *l);

// ---- fork ---------------------------------------------------------------------------------------
// The locks fork must not split: before a fork the calling thread takes every protected lock, in
// the order they were protected, so the child inherits each one's data in a consistent state; the
// parent then releases them and the child resets them. Protect each lock once, at start-up, in
// the order in which hakmem's code nests them (a lock taken while holding another comes after it).
void hak_fork_protect(hak_lock_t *l);
// Install the handlers that do the above (pthread_atfork). Once, outside malloc: it may allocate.
void hak_fork_hooks_install(void);

// ---- threads ------------------------------------------------------------------------------------
// Call `on_exit(arg)` when the calling thread exits (arg set per thread with
// hak_thread_set_exit_arg). Install once, before any thread registers.
bool hak_thread_exit_hook_install(void (*on_exit)(void *));
void hak_thread_set_exit_arg(void *arg);

// Start a detached thread running fn(arg), named `name` (at most 15 characters, as ps shows it).
// Returns 0 or an errno value. Outside malloc: the C library's pthread_create allocates.
int hak_thread_start(void *(*fn)(void *), void *arg, const char *name);
// Let another thread run (a short wait for something another thread holds).
void hak_thread_yield(void);
// Sleep for `ms` milliseconds.
void hak_sleep_ms(long ms);

// ---- files -------------------------------------------------------------------------------------
// Thin wrappers of open/read/write/close that retry on EINTR: -1 with errno on failure.
int hak_file_open_read(const char *path);
int hak_file_create(const char *path); // write-only, created or truncated, mode 0644
ssize_t hak_file_read(int fd, void *buf, size_t n);
int hak_file_write_all(int fd, const void *buf, size_t n); // 0, or -1
void hak_file_close(int fd);

// ---- signals -----------------------------------------------------------------------------------
// A wake-up a signal handler can give (sem_post is async-signal-safe) and a thread wait for.
typedef struct {
    _Alignas(8) char sem[32]; // a sem_t
} hak_wakeup_t;
bool hak_wakeup_init(hak_wakeup_t *w);
void hak_wakeup_post(hak_wakeup_t *w);
void hak_wakeup_wait(hak_wakeup_t *w);
// Run handler(sig) on signal sig (SA_RESTART). False if the signal cannot be caught.
bool hak_signal_handle(int sig, void (*handler)(int));

// ---- stacks ------------------------------------------------------------------------------------
// The return addresses of the calling thread's stack, innermost first (from the unwind tables: no
// frame pointers needed; no malloc once warmed up; stack.c says which unwinder). Returns how many,
// at most max.
int hak_stack_capture(void **frames, int max);
// Make the unwinders ready (their first call and dlopen allocate): at start-up, outside malloc.
void hak_stack_warm_up(void);
// The address range of hakmem's own code when it is a shared object (libhakmem.so); false when it
// is linked into the program (its code is then not told from the program's this way).
bool hak_own_code(uintptr_t *start, uintptr_t *end);

// ---- process ------------------------------------------------------------------------------------
// 64 random bits the kernel handed the process at exec (AT_RANDOM): no system call, no failure.
uint64_t hak_os_random_seed(void);
// The definition of `symbol` that the dynamic linker finds after hakmem's (dlsym RTLD_NEXT), or
// NULL: how hakmem reaches another library's function it also defines.
void *hak_os_next_symbol(const char *symbol);
// A shared library loaded now (dlopen, RTLD_LOCAL: its symbols interpose nothing), or NULL; a
// symbol of it, or NULL. Outside malloc: loading allocates.
void *hak_os_library(const char *name);
void *hak_os_library_symbol(void *library, const char *symbol);

// ---- clock --------------------------------------------------------------------------------------
// Milliseconds of a monotonic clock (vDSO, no system call).
uint64_t hak_clock_ms(void);
// Nanoseconds since the epoch (wall-clock time, for timestamps).
int64_t hak_clock_realtime_ns(void);
// The process's id (getpid).
int hak_os_pid(void);

// ---- options ------------------------------------------------------------------------------------
// Every HAKMEM_* option, declared once: X(field, ENV_NAME, default, description, words). An
// option's value is a number (decimal or 0x hex), or one of its `words` ("json=2,...": json
// stands for 2).
#define HAK_OPTIONS(X)                                                                             \
    X(stats, "HAKMEM_STATS", 0,                                                                    \
      "print the counters of every part to stderr at exit: 1 as lines of text, json as one "       \
      "object",                                                                                    \
      "json=2")                                                                                    \
    X(options, "HAKMEM_OPTIONS", 0,                                                                \
      "print every option, its value, default and meaning at start-up", "")                        \
    X(purge_delay_ms, "HAKMEM_PURGE_DELAY_MS", 100,                                                \
      "return an empty segment's pages to the OS once it has stayed empty this long; -1: never",   \
      "")                                                                                          \
    X(purge_madv_free, "HAKMEM_PURGE_MADV_FREE", 0,                                                \
      "purge with MADV_FREE (pages reclaimed lazily by the kernel) instead of MADV_DONTNEED", "")  \
    X(background_purge, "HAKMEM_BACKGROUND_PURGE", 1,                                              \
      "a background thread returns idle memory after HAKMEM_PURGE_DELAY_MS, even in idle "         \
      "programs",                                                                                  \
      "")                                                                                          \
    X(lru_max_segments, "HAKMEM_LRU_MAX_SEGMENTS", 64, "empty segments the lru keeps unpurged",    \
      "")                                                                                          \
    X(lru_max_mb, "HAKMEM_LRU_MAX_MB", 128, "MiB of empty segments the lru keeps unpurged", "")    \
    X(arena_hot_mb, "HAKMEM_ARENA_HOT_MB", 128,                                                    \
      "MiB of freed huge mappings kept with their pages", "")                                      \
    X(arena_warm_mb, "HAKMEM_ARENA_WARM_MB", 256, "MiB of freed huge mappings kept decommitted",   \
      "")                                                                                          \
    X(arena_warm_decay_ms, "HAKMEM_ARENA_WARM_DECAY_MS", 2000,                                     \
      "unmap a decommitted huge mapping unused this long; -1: never", "")                          \
    X(prof_sample, "HAKMEM_PROF_SAMPLE", 0,                                                        \
      "sample allocations for heap profiles, one per this many bytes on average; 0: off", "on=524288") \
    X(prof_signal, "HAKMEM_PROF_SIGNAL", 0,                                                        \
      "write a heap profile to HAKMEM_PROF_FILE.<n> on this signal; 0: none", "usr1=10,usr2=12")   \
    X(leaks, "HAKMEM_LEAKS", 0, "print the sampled allocations still live at exit, by stack", "")

// Options whose value is text: X(field, ENV_NAME, description); "" when not set.
#define HAK_TEXT_OPTIONS(X)                                                                        \
    X(prof_file, "HAKMEM_PROF_FILE", "write a heap profile (pprof format) to this file at exit")
#define HAK_TEXT_OPTION_MAX 4096

typedef struct {
#define HAK_OPTION_FIELD(field, env, def, desc, words) long field;
    HAK_OPTIONS(HAK_OPTION_FIELD)
#undef HAK_OPTION_FIELD
#define HAK_TEXT_OPTION_FIELD(field, env, desc) char field[HAK_TEXT_OPTION_MAX];
    HAK_TEXT_OPTIONS(HAK_TEXT_OPTION_FIELD)
#undef HAK_TEXT_OPTION_FIELD
} hak_options_t;

extern HAK_INTERNAL hak_options_t hak_options;
// Read HAKMEM_* from the environment (once, at start-up).
void hak_options_load(void);
// Print the table to stderr: each option's variable, value, default and meaning.
void hak_options_log(void);

#endif
