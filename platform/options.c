#include "platform.h"

#include <stdlib.h>

extern char **environ;

hak_options_t hak_options = {
#define HAK_OPTION_DEFAULT(field, env, def, desc) .field = def,
    HAK_OPTIONS(HAK_OPTION_DEFAULT)
#undef HAK_OPTION_DEFAULT
};

// Value of NAME in the environment, scanned by hand: getenv is fine too, but this one is certain
// not to allocate and works on whatever `environ` holds this early.
static const char *env_lookup(const char *name) {
    if (environ == NULL) return NULL;
    for (char **e = environ; *e != NULL; e++) {
        const char *a = *e, *b = name;
        while (*b != '\0' && *a == *b) a++, b++;
        if (*b == '\0' && *a == '=') return a + 1;
    }
    return NULL;
}

static void option_parse(long *field, const char *env) {
    const char *v = env_lookup(env);
    if (v == NULL || *v == '\0') return;
    char *end;
    long x = strtol(v, &end, 0);
    if (*end == '\0') *field = x;
    else hak_log("ignoring %s=%s: not a number", env, v);
}

void hak_options_load(void) {
#define HAK_OPTION_PARSE(field, env, def, desc) option_parse(&hak_options.field, env);
    HAK_OPTIONS(HAK_OPTION_PARSE)
#undef HAK_OPTION_PARSE
}

void hak_options_log(void) {
#define HAK_OPTION_LOG(field, env, def, desc)                                                      \
    hak_log("option %s=%ld (default %ld): %s", env, hak_options.field, (long)(def), desc);
    HAK_OPTIONS(HAK_OPTION_LOG)
#undef HAK_OPTION_LOG
}
