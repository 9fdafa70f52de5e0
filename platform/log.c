#include "platform.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void log_line(const char *prefix, const char *fmt, va_list ap) {
    char buf[512];
    int saved_errno = errno;
    int n = snprintf(buf, sizeof buf, "%s", prefix);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    buf[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(2, buf + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    errno = saved_errno;
}

void hak_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_line("hakmem: ", fmt, ap);
    va_end(ap);
}

_Noreturn void hak_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_line("hakmem: ", fmt, ap);
    va_end(ap);
    abort();
}

void hak_counters_log(const char *what, const char *const names[], const uint64_t values[], unsigned n) {
    char line[480];
    size_t len = 0;
    for (unsigned i = 0; i < n && len < sizeof line; i++) {
        int w = snprintf(line + len, sizeof line - len, " %s=%" PRIu64, names[i], values[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
    hak_log("%s%s", what, line);
}
