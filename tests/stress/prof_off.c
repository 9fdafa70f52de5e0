#define _GNU_SOURCE // mkstemp
// Without HAKMEM_PROF_SAMPLE the profiler is off: hak_prof_dump fails with EINVAL, writes nothing.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hakmem.h"

int main(void) {
    char path[] = "/tmp/hakmem-prof-off-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    unlink(path);
    void *p = hak_malloc(100);
    errno = 0;
    int r = hak_prof_dump(path);
    int e = errno;
    hak_free(p);
    if (r != -1 || e != EINVAL || access(path, F_OK) == 0) {
        fprintf(stderr, "prof_off: hak_prof_dump gave %d, errno %d, file %s\n", r, e,
                access(path, F_OK) == 0 ? "written" : "absent");
        return 1;
    }
    puts("prof_off: ok");
    return 0;
}
