/*
 * config.c - Flink-style key/value configuration (see weir/config.h).
 *
 * Data structure: a small array of (key, value) string pairs in insertion order; lookups are
 * linear (configurations hold tens of keys and are read at start-up, not per record).
 */
#include "weir/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct weir_config {
    char **keys, **vals;
    size_t n, cap;
};

weir_config *weir_config_new(void) {
    return calloc(1, sizeof(weir_config));
}

void weir_config_free(weir_config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->vals[i]);
    }
    free(c->keys);
    free(c->vals);
    free(c);
}

weir_err weir_config_set(weir_config *c, const char *key, const char *value) {
    char *v = strdup(value ? value : "");
    if (!v) return WEIR_ENOMEM;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) {
            free(c->vals[i]);
            c->vals[i] = v;
            return WEIR_OK;
        }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        char **nk = realloc(c->keys, nc * sizeof *nk);
        if (!nk) goto oom;
        c->keys = nk;
        char **nv = realloc(c->vals, nc * sizeof *nv);
        if (!nv) goto oom;
        c->vals = nv;
        c->cap = nc;
    }
    c->keys[c->n] = strdup(key);
    if (!c->keys[c->n]) goto oom;
    c->vals[c->n++] = v;
    return WEIR_OK;
oom:
    free(v);
    return WEIR_ENOMEM;
}

weir_err weir_config_set_kv(weir_config *c, const char *kv, weir_error *err) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return weir_error_set(err, WEIR_EINVAL, 0, "expected key=value, got '%s'", kv);
    char key[256];
    size_t kl = (size_t)(eq - kv);
    if (kl >= sizeof key) return weir_error_set(err, WEIR_EINVAL, 0, "configuration key too long");
    memcpy(key, kv, kl);
    key[kl] = '\0';
    weir_err rc = weir_config_set(c, key, eq + 1);
    if (rc) return weir_error_set(err, rc, 0, "out of memory");
    return WEIR_OK;
}

const char *weir_config_get(const weir_config *c, const char *key, const char *dflt) {
    if (c)
        for (size_t i = 0; i < c->n; i++)
            if (strcmp(c->keys[i], key) == 0) return c->vals[i];
    return dflt;
}

weir_err weir_config_get_int(const weir_config *c, const char *key, int64_t dflt, int64_t *out,
                             weir_error *err) {
    const char *v = weir_config_get(c, key, NULL);
    if (!v) {
        *out = dflt;
        return WEIR_OK;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno || end == v || *end)
        return weir_error_set(err, WEIR_EINVAL, 0, "%s: '%s' is not an integer", key, v);
    *out = x;
    return WEIR_OK;
}

/* Parses "<number><ws>*<unit>" with the unit looked up in @p units (name → multiplier). */
static weir_err parse_with_units(const char *text, int64_t *out, const char *const *names,
                                 const int64_t *mult, size_t n_units, int64_t bare_mult) {
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p)) return WEIR_EINVAL;
    char *end;
    errno = 0;
    long long x = strtoll(p, &end, 10);
    if (errno) return WEIR_EINVAL;
    while (isspace((unsigned char)*end))
        end++;
    char unit[16];
    size_t ul = 0;
    while (*end && !isspace((unsigned char)*end) && ul + 1 < sizeof unit)
        unit[ul++] = *end++;
    unit[ul] = '\0';
    while (isspace((unsigned char)*end))
        end++;
    if (*end) return WEIR_EINVAL;
    int64_t m = bare_mult;
    if (ul) {
        size_t i;
        for (i = 0; i < n_units; i++)
            if (strcasecmp(unit, names[i]) == 0) break;
        if (i == n_units) return WEIR_EINVAL;
        m = mult[i];
    }
    if (x > INT64_MAX / m) return WEIR_EINVAL;
    *out = (int64_t)x * m;
    return WEIR_OK;
}

weir_err weir_parse_duration_ms(const char *text, int64_t *out) {
    static const char *const names[] = {"ms",   "milli", "millis", "millisecond", "milliseconds",
                                        "s",    "sec",   "secs",   "second",      "seconds",
                                        "min",  "m",     "minute", "minutes",     "h",
                                        "hour", "hours", "d",      "day",         "days"};
    static const int64_t mult[] = {1,       1,       1,       1,        1,        1000,    1000,
                                   1000,    1000,    1000,    60000,    60000,    60000,   60000,
                                   3600000, 3600000, 3600000, 86400000, 86400000, 86400000};
    return parse_with_units(text, out, names, mult, sizeof mult / sizeof mult[0], 1);
}

weir_err weir_parse_bytes(const char *text, int64_t *out) {
    static const char *const names[] = {"b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib"};
    static const int64_t mult[] = {1,       1024,    1024,       1024,       1048576,
                                   1048576, 1048576, 1073741824, 1073741824, 1073741824};
    return parse_with_units(text, out, names, mult, sizeof mult / sizeof mult[0], 1);
}

weir_err weir_config_get_duration_ms(const weir_config *c, const char *key, int64_t dflt,
                                     int64_t *out, weir_error *err) {
    const char *v = weir_config_get(c, key, NULL);
    if (!v) {
        *out = dflt;
        return WEIR_OK;
    }
    if (weir_parse_duration_ms(v, out))
        return weir_error_set(err, WEIR_EINVAL, 0,
                              "%s: '%s' is not a duration (e.g. 100ms, 10 s, 1 min)", key, v);
    return WEIR_OK;
}

void weir_config_foreach(const weir_config *c, void (*fn)(void *ud, const char *k, const char *v),
                         void *ud) {
    for (size_t i = 0; c && i < c->n; i++)
        fn(ud, c->keys[i], c->vals[i]);
}
