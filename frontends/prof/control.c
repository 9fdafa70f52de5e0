// The profiler's options, its start and end, and profiles on demand or on a signal.
#include "prof_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int start_pid; // the process that read the options; a fork child writes files of its own
static hak_wakeup_t signalled;

void prof_init(void) {
    if (hak_options.prof_sample <= 0) return;
    hak_prof_rate = (uint64_t)hak_options.prof_sample;
    start_pid = hak_os_pid();
    hak_fork_protect(&prof_writer_lock);
    prof_sample_init();
    prof_store_init();
}

int prof_dump(const char *path) {
    if (hak_prof_rate == 0) {
        errno = EINVAL;
        return -1;
    }
    return prof_write_profile(path);
}

// HAKMEM_PROF_FILE, or hakmem.<pid>.prof; with .<pid> after it in a fork child, and .<n> for the
// n-th profile written on the signal.
static void profile_path(char *out, size_t size, unsigned n) {
    const char *base = hak_options.prof_file;
    int pid = hak_os_pid(), len;
    if (base[0] != '\0') len = snprintf(out, size, "%s", base);
    else len = snprintf(out, size, "hakmem.%d.prof", start_pid);
    if (pid != start_pid && len >= 0 && (size_t)len < size) len += snprintf(out + len, size - (size_t)len, ".%d", pid);
    if (n > 0 && len >= 0 && (size_t)len < size) snprintf(out + len, size - (size_t)len, ".%u", n);
}

// The n-th profile (0: the exit's), reported on stderr if it cannot be written.
static void write_profile(unsigned n) {
    char path[HAK_TEXT_OPTION_MAX + 64];
    profile_path(path, sizeof path, n);
    if (prof_dump(path) != 0) hak_log("heap profile %s not written (%s)", path, strerror(errno));
}

static void on_signal(int sig) {
    (void)sig;
    hak_wakeup_post(&signalled); // async-signal-safe; the profiler's thread does the writing
}

static void *signal_thread(void *arg) {
    for (unsigned n = 1;; n++) {
        hak_wakeup_wait(&signalled);
        write_profile(n);
    }
    return NULL;
}

void prof_start(void) {
    if (hak_prof_rate == 0) return;
    hak_stack_warm_up();
    prof_set_ready();
    if (hak_options.prof_signal <= 0) return;
    if (!hak_wakeup_init(&signalled) || hak_thread_start(signal_thread, NULL, "hakmem-prof") != 0 ||
        !hak_signal_handle((int)hak_options.prof_signal, on_signal))
        hak_log("no heap profiles on signal %ld", hak_options.prof_signal);
}

bool prof_maintain(bool all) {
    if (hak_prof_rate == 0) return false;
    return prof_store_purge(all);
}

void prof_report(hak_stats_writer_t *w) {
    if (hak_prof_rate != 0) HAK_COUNTERS_REPORT(w, "prof", PROF_COUNTERS, &prof_stats);
}

void prof_exit(void) {
    if (hak_prof_rate == 0) return;
    if (hak_options.prof_file[0] != '\0') write_profile(0);
    if (hak_options.leaks) prof_report_leaks();
}
