// A program with functions and variables named like hakmem's internal ones (boxes, backends,
// frontends, platform) links with libhakmem.a, and its calls reach its own definitions: hakmem's
// internal symbols are local to the library.
#include "hakmem.h"

#include <stdio.h>
#include <string.h>

int lru_insert(int x) { return x + 1; }
int segment_create(int x) { return x + 2; }
int heap_free(int x) { return x + 3; }
int slab_format(int x) { return x + 4; }
int heap_trim(int x) { return x + 5; }
int purger_start(int x) { return x + 6; }
int shared_pool_claim(int x) { return x + 7; }
int hak_init(int x) { return x + 8; }
int hak_log(int x) { return x + 9; }
long hak_options = 10;
char hak_segmap[16] = "segmap";

int main(void) {
    int sum = lru_insert(0) + segment_create(0) + heap_free(0) + slab_format(0) + heap_trim(0) +
              purger_start(0) + shared_pool_claim(0) + hak_init(0) + hak_log(0) + (int)hak_options;
    if (sum != 55 || strcmp(hak_segmap, "segmap") != 0) {
        fprintf(stderr, "internal_names: the program's own definitions were not called (%d)\n", sum);
        return 1;
    }
    // hakmem itself still works beside them.
    char *p = hak_malloc(100), *q = hak_malloc(1 << 22);
    if (p == NULL || q == NULL || hak_malloc_usable_size(p) < 100) return 1;
    memset(p, 1, 100);
    memset(q, 2, 1 << 22);
    hak_free(p);
    hak_free(q);
    hak_malloc_trim(0);
    puts("internal_names: ok");
    return 0;
}
