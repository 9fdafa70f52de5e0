#include "platform.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void hak_write_stderr(const char *s, size_t n) {
    int saved_errno = errno;
    (void)hak_file_write_all(2, s, n); // nowhere to report a failure to write the report
    errno = saved_errno;
}

static void log_line(const char *prefix, const char *fmt, va_list ap) {
    char buf[512];
    int saved_errno = errno;
    int n = snprintf(buf, sizeof buf, "%s", prefix);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    buf[len++] = '\n';
    hak_write_stderr(buf, len);
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

static void text_group(hak_stats_writer_t *writer, const char *what, const char *const names[],
                       const uint64_t values[], unsigned n) {
    char line[480];
    size_t len = 0;
    for (unsigned i = 0; i < n && len < sizeof line; i++) {
        int w = snprintf(line + len, sizeof line - len, " %s=%" PRIu64, names[i], values[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
    hak_log("%s%s", what, line);
}

hak_stats_writer_t hak_stats_text = {text_group};
