#include "platform.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

hak_options_t hak_options = {
#define HAK_OPTION_DEFAULT(field, env, def, desc, words) .field = def,
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

// The number a word stands for in an option's `words` ("json=2,csv=3"); false if none.
static bool word_value(const char *words, const char *v, long *out) {
    for (const char *w = words; *w != '\0';) {
        const char *a = v;
        while (*a != '\0' && *a == *w) a++, w++;
        if (*a == '\0' && *w == '=') {
            *out = strtol(w + 1, NULL, 0);
            return true;
        }
        while (*w != '\0' && *w != ',') w++; // on to the next word
        if (*w == ',') w++;
    }
    return false;
}

static void option_parse(long *field, const char *env, const char *words) {
    const char *v = env_lookup(env);
    if (v == NULL || *v == '\0') return;
    char *end;
    long x = strtol(v, &end, 0);
    if (*end == '\0') *field = x;
    else if (!word_value(words, v, field)) hak_log("ignoring %s=%s: not a number", env, v);
}

static void text_option_parse(char *field, const char *env) {
    const char *v = env_lookup(env);
    if (v == NULL) return;
    size_t n = strlen(v);
    if (n >= HAK_TEXT_OPTION_MAX) {
        hak_log("ignoring %s: longer than %d bytes", env, HAK_TEXT_OPTION_MAX - 1);
        return;
    }
    memcpy(field, v, n + 1);
}

void hak_options_load(void) {
#define HAK_OPTION_PARSE(field, env, def, desc, words) option_parse(&hak_options.field, env, words);
    HAK_OPTIONS(HAK_OPTION_PARSE)
#undef HAK_OPTION_PARSE
#define HAK_TEXT_OPTION_PARSE(field, env, desc) text_option_parse(hak_options.field, env);
    HAK_TEXT_OPTIONS(HAK_TEXT_OPTION_PARSE)
#undef HAK_TEXT_OPTION_PARSE
}

void hak_options_log(void) {
#define HAK_OPTION_LOG(field, env, def, desc, words)                                               \
    hak_log("option %s=%ld (default %ld): %s", env, hak_options.field, (long)(def), desc);
    HAK_OPTIONS(HAK_OPTION_LOG)
#undef HAK_OPTION_LOG
#define HAK_TEXT_OPTION_LOG(field, env, desc) hak_log("option %s=%s (default none): %s", env, hak_options.field, desc);
    HAK_TEXT_OPTIONS(HAK_TEXT_OPTION_LOG)
#undef HAK_TEXT_OPTION_LOG
}
