// Unit tests of the options table (platform): values parsed from the environment, the
// HAKMEM_OPTIONS listing, and docs/options.md listing every option with its default.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "platform.h"

static char doc[1 << 16]; // the options page

// Whether the page has the row of env with this default: "| `HAKMEM_X` | <default> |" (reported
// if not).
static bool has_row(const char *env, const char *def) {
    char row[128];
    snprintf(row, sizeof row, "| `%s` | %s |", env, def);
    if (strstr(doc, row) != NULL) return true;
    print_error("%s: no row \"%s\"\n", HAK_OPTIONS_DOC, row);
    return false;
}

// Each option of the table has a row of the options page that starts with its variable and gives
// its default: "| `HAKMEM_X` | <default> | ...", "none" for a text option.
static void test_docs_list_every_option_with_its_default(void **state) {
    FILE *f = fopen(HAK_OPTIONS_DOC, "r");
    assert_non_null(f);
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    unsigned missing = 0, options = 0;
#define CHECK_ROW(field, env, def, desc, words)                                                    \
    {                                                                                              \
        char value[32];                                                                            \
        snprintf(value, sizeof value, "%ld", (long)(def));                                         \
        options++;                                                                                 \
        missing += !has_row(env, value);                                                           \
    }
    HAK_OPTIONS(CHECK_ROW)
#undef CHECK_ROW
#define CHECK_TEXT_ROW(field, env, desc) options++, missing += !has_row(env, "none");
    HAK_TEXT_OPTIONS(CHECK_TEXT_ROW)
#undef CHECK_TEXT_ROW
    assert_true(options >= 10);
    assert_int_equal(missing, 0);
}

static void test_values_from_the_environment(void **state) {
    setenv("HAKMEM_LRU_MAX_SEGMENTS", "7", 1);
    setenv("HAKMEM_ARENA_HOT_MB", "0x10", 1);
    setenv("HAKMEM_PURGE_DELAY_MS", "-1", 1);
    setenv("HAKMEM_STATS", "lots", 1); // not a number nor one of its words: reported, ignored
    setenv("HAKMEM_OPTIONS", "json", 1); // a word of another option's
    hak_options_load();
    assert_int_equal(hak_options.lru_max_segments, 7);
    assert_int_equal(hak_options.arena_hot_mb, 16);
    assert_int_equal(hak_options.purge_delay_ms, -1);
    assert_int_equal(hak_options.stats, 0);
    assert_int_equal(hak_options.options, 0);
    setenv("HAKMEM_STATS", "json", 1); // one of its words
    hak_options_load();
    assert_int_equal(hak_options.stats, 2);
    assert_int_equal(hak_options.lru_max_mb, 128); // untouched: its default
}

// HAKMEM_OPTIONS lists every option on stderr with its value and default.
static void test_listing(void **state) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    hak_options_log();
    dup2(saved, 2);
    close(fds[1]);
    static char out[1 << 14];
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    assert_true(n > 0);
    out[n] = '\0';
    assert_non_null(strstr(out, "hakmem: option HAKMEM_LRU_MAX_SEGMENTS=7 (default 64): "));
    assert_non_null(strstr(out, "hakmem: option HAKMEM_PURGE_DELAY_MS=-1 (default 100): "));
#define CHECK_LISTED(field, env, def, desc, words) assert_non_null(strstr(out, env));
    HAK_OPTIONS(CHECK_LISTED)
#undef CHECK_LISTED
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_list_every_option_with_its_default),
        cmocka_unit_test(test_values_from_the_environment),
        cmocka_unit_test(test_listing),
    };
    return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
