// trace_next: the allocator the recorder forwards to (the next definition of each function after
// libhakmem-trace.so: hakmem, a peer, or the C library's), and the few blocks the recorder hands
// out itself while it looks those up (dlsym may allocate before it knows where malloc is).
#ifndef HAK_TRACE_NEXT_H
#define HAK_TRACE_NEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
} trace_next_t;

// Until trace_next_resolve has run, every entry serves from the boot buffer. The first call of any
// entry resolves them (another library's constructor may allocate before the recorder's runs).
extern trace_next_t trace_next;
extern bool trace_next_resolving; // set once resolving has begun
void trace_next_resolve(void);
#define TRACE_NEXT_READY()                                                                         \
    do {                                                                                           \
        if (__builtin_expect(!trace_next_resolving, 0)) trace_next_resolve();                      \
    } while (0)
// A block of the boot buffer (never freed; realloc copies it out).
bool trace_next_is_boot(const void *p);
void *trace_next_boot_realloc(void *p, size_t size);

#endif
