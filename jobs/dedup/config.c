/*
 * jobs/dedup/config.c - the dedup job's configuration from environment variables
 * (spec dedup-job.md §11, §3.4 and Appendix A multi-topic input).
 *
 * Data structures: dd_config is a flat struct of fixed-size char arrays and integers (no heap).
 * Invariants after dd_config_defaults()/dd_config_from_env():
 *  - every char array is NUL-terminated;
 *  - n_input_topics >= 1 (the baseline single topic when no list is given);
 *  - n_supported_versions == 0 means "accept every version" (whitespace-only variable, §3.4);
 *  - list/map entries never exceed DD_MAX_LIST, strings never exceed their array: a value that
 *    does not fit is an error (WEIR_EINVAL), never silently truncated.
 *
 * Parsing rules (each documented where implemented):
 *  - unset or empty variable → default (§11);
 *  - integers: trimmed, then Java Integer.parseInt / Long.parseLong syntax (optional sign, decimal
 *    digits, in range); anything else → default (U4: "abc" → 1440);
 *  - QUALITY_SUPPORTED_VERSIONS: Java `value.split("\\s*,\\s*")` (trailing empty strings removed)
 *    with a whitespace-only value giving the empty set (§3.4);
 *  - topic lists and maps: comma separated, entries trimmed, empty entries and pairs without '='
 *    or with an empty side ignored (Appendix A).
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/dedup/dedup.h"

/* Copies the NUL-terminated @p s into @p dst of @p cap bytes. Returns 0 or -1 if it does not fit.
 */
static int copy_str(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Java String.trim(): removes chars <= U+0020 at both ends. [*s, *s + *n) is updated in place. */
static void trim(const char **s, size_t *n) {
    while (*n > 0 && (unsigned char)(*s)[0] <= 0x20) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && (unsigned char)(*s)[*n - 1] <= 0x20)
        (*n)--;
}

/* Parses a Java Long.parseLong / Integer.parseInt string (already trimmed) within [lo, hi].
 * Returns 1 and sets *out, or 0 when the text is not a valid in-range decimal integer. */
static int parse_int_range(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (n == 0) return 0;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n) return 0;
    uint64_t mag = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (mag > (limit - d) / 10u) return 0;
        mag = mag * 10u + d;
    }
    int64_t v;
    if (neg)
        v = mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag;
    else
        v = (int64_t)mag;
    if (v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* Reads an integer variable: unset/empty/unparseable → keep *dst (the default). */
static void env_int(const char *(*getenv_fn)(const char *), const char *name, int64_t lo,
                    int64_t hi, int64_t *dst) {
    const char *v = getenv_fn(name);
    if (!v || !*v) return;
    const char *s = v;
    size_t n = strlen(v);
    trim(&s, &n);
    int64_t x;
    if (parse_int_range(s, n, lo, hi, &x)) *dst = x;
}

/* Reads a string variable: unset/empty → keep default. Returns -1 when it does not fit. */
static int env_str(const char *(*getenv_fn)(const char *), const char *name, char *dst,
                   size_t cap) {
    const char *v = getenv_fn(name);
    if (!v || !*v) return 0;
    return copy_str(dst, cap, v, strlen(v));
}

/* Splits @p v on ',' into trimmed non-empty entries stored in topics[]. Returns the number of
 * entries, or -1 when there are more than DD_MAX_LIST entries or one does not fit. */
static int split_list(const char *v, char (*out)[256]) {
    int n = 0;
    const char *p = v;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *s = p;
        trim(&s, &len);
        if (len > 0) {
            if (n >= DD_MAX_LIST || copy_str(out[n], 256, s, len)) return -1;
            n++;
        }
        if (!e) break;
        p = e + 1;
    }
    return n;
}

/* Parses a `k=v,k=v` map (Appendix A): entries and both sides trimmed; entries without '=' or
 * with an empty side ignored. Returns the number of pairs or -1 (too many / too long). */
static int split_map(const char *v, char (*out)[2][256]) {
    int n = 0;
    const char *p = v;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            const char *k = p, *val = eq + 1;
            size_t kn = (size_t)(eq - p), vn = len - kn - 1;
            trim(&k, &kn);
            trim(&val, &vn);
            if (kn > 0 && vn > 0) {
                if (n >= DD_MAX_LIST || copy_str(out[n][0], 256, k, kn) ||
                    copy_str(out[n][1], 256, val, vn))
                    return -1;
                n++;
            }
        }
        if (!e) break;
        p = e + 1;
    }
    return n;
}

/*
 * §3.4 supported versions: Java `value.split("\\s*,\\s*")`: separators are a comma with any
 * whitespace around it; leading empty entries are kept (",1" → "", "1"), trailing empty entries
 * are removed ("1,v1," → "1", "v1"); whitespace at the very start/end of the value is kept.
 * A whitespace-only value yields the empty set (accept all). Returns the count or -1.
 */
static int split_versions(const char *v, dd_config *c) {
    size_t total = strlen(v);
    size_t i;
    for (i = 0; i < total && is_ws(v[i]); i++) {
    }
    if (i == total) return 0; /* whitespace-only: empty set */
    int n = 0;
    const char *p = v, *end = v + total;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *seg_end = comma ? comma : end;
        /* the separator swallows whitespace before the comma and after it */
        const char *s = p, *e = seg_end;
        if (comma)
            while (e > s && is_ws(e[-1]))
                e--;
        if (n >= DD_MAX_LIST || copy_str(c->supported_versions[n], 64, s, (size_t)(e - s)))
            return -1;
        n++;
        if (!comma) break;
        p = comma + 1;
        while (p < end && is_ws(*p))
            p++;
    }
    /* Java split drops trailing empty strings */
    while (n > 0 && c->supported_versions[n - 1][0] == '\0')
        n--;
    return n;
}

/*
 * §11 database derivation (U3): the text after the last '/' of the URL when that '/' is neither
 * the first nor the last character and the remainder has no '?' and no ':'; otherwise
 * "livepeer_analytics". A URL without '/' also gives the fallback.
 */
static void derive_database(dd_config *c) {
    const char *url = c->clickhouse_url;
    const char *slash = strrchr(url, '/');
    size_t len = strlen(url);
    const char *db = "livepeer_analytics";
    if (slash && slash != url && (size_t)(slash - url) != len - 1) {
        const char *rest = slash + 1;
        if (!strchr(rest, '?') && !strchr(rest, ':') &&
            strlen(rest) < sizeof c->clickhouse_database)
            db = rest;
    }
    copy_str(c->clickhouse_database, sizeof c->clickhouse_database, db, strlen(db));
}

void dd_config_defaults(dd_config *c) {
    memset(c, 0, sizeof *c);
    strcpy(c->kafka_bootstrap, "kafka:9092");
    strcpy(c->input_topics[0], "streaming_events");
    c->n_input_topics = 1;
    strcpy(c->dlq_topic, "events.dlq.streaming_events.v1");
    strcpy(c->quarantine_topic, "events.quarantine.streaming_events.v1");
    strcpy(c->group_id, "flink-quality-gate-v1");
    c->dedup_ttl_minutes = 1440;
    strcpy(c->supported_versions[0], "1");
    strcpy(c->supported_versions[1], "v1");
    c->n_supported_versions = 2;
    c->max_record_bytes = 1000000;
    c->table_prefix[0] = '\0';
    strcpy(c->clickhouse_url, "http://clickhouse:8123");
    strcpy(c->clickhouse_user, "analytics_user");
    strcpy(c->clickhouse_password, "analytics_password");
    strcpy(c->clickhouse_database, "livepeer_analytics");
    c->ch_max_batch_size = 1000;
    c->ch_max_in_flight = 2;
    c->ch_max_buffered = 10000;
    c->ch_max_batch_bytes = 5000000;
    c->ch_max_time_ms = 1000;
    c->metrics_rate_window_sec = 60;
    c->capability_catalog_path[0] = '\0';
}

weir_err dd_config_from_env(dd_config *c, const char *(*getenv_fn)(const char *name)) {
    int bad = 0;
    const char *v;
    bad |= env_str(getenv_fn, "QUALITY_KAFKA_BOOTSTRAP", c->kafka_bootstrap,
                   sizeof c->kafka_bootstrap);

    /* Appendix A: QUALITY_INPUT_TOPICS, falling back to QUALITY_INPUT_TOPIC when unset, empty or
     * holding no non-blank entry. */
    v = getenv_fn("QUALITY_INPUT_TOPICS");
    int nt = 0;
    if (v && *v) {
        char tmp[DD_MAX_LIST][256];
        nt = split_list(v, tmp);
        if (nt < 0) {
            bad = 1;
            nt = 0;
        } else if (nt > 0) {
            memcpy(c->input_topics, tmp, sizeof tmp);
            c->n_input_topics = nt;
        }
    }
    if (nt == 0) {
        v = getenv_fn("QUALITY_INPUT_TOPIC");
        if (v && *v) {
            if (copy_str(c->input_topics[0], 256, v, strlen(v)))
                bad = 1;
            else
                c->n_input_topics = 1;
        }
    }
    v = getenv_fn("QUALITY_TOPIC_ORG_MAP");
    if (v && *v) {
        int n = split_map(v, c->topic_org);
        if (n < 0)
            bad = 1;
        else
            c->n_topic_org = n;
    }
    v = getenv_fn("QUALITY_TOPIC_RESET_STRATEGY_MAP");
    if (v && *v) {
        int n = split_map(v, c->topic_reset);
        if (n < 0) {
            bad = 1;
        } else {
            /* strategies are compared case-insensitively and stored lower-case; anything other
             * than earliest/latest is a configuration error rather than a silent default */
            for (int i = 0; i < n; i++) {
                char *s = c->topic_reset[i][1];
                for (char *q = s; *q; q++)
                    *q = (char)tolower((unsigned char)*q);
                if (strcmp(s, "earliest") != 0 && strcmp(s, "latest") != 0) bad = 1;
            }
            c->n_topic_reset = n;
        }
    }

    bad |= env_str(getenv_fn, "QUALITY_DLQ_TOPIC", c->dlq_topic, sizeof c->dlq_topic);
    bad |= env_str(getenv_fn, "QUALITY_QUARANTINE_TOPIC", c->quarantine_topic,
                   sizeof c->quarantine_topic);
    bad |= env_str(getenv_fn, "QUALITY_GROUP_ID", c->group_id, sizeof c->group_id);
    env_int(getenv_fn, "QUALITY_DEDUP_TTL_MINUTES", INT64_MIN, INT64_MAX, &c->dedup_ttl_minutes);

    v = getenv_fn("QUALITY_SUPPORTED_VERSIONS");
    if (v && *v) {
        int n = split_versions(v, c);
        if (n < 0)
            bad = 1;
        else
            c->n_supported_versions = n;
    }

    bad |= env_str(getenv_fn, "QUALITY_TABLE_PREFIX", c->table_prefix, sizeof c->table_prefix);
    bad |= env_str(getenv_fn, "CLICKHOUSE_URL", c->clickhouse_url, sizeof c->clickhouse_url);
    bad |= env_str(getenv_fn, "CLICKHOUSE_USER", c->clickhouse_user, sizeof c->clickhouse_user);
    bad |= env_str(getenv_fn, "CLICKHOUSE_PASSWORD", c->clickhouse_password,
                   sizeof c->clickhouse_password);
    v = getenv_fn("CLICKHOUSE_DATABASE");
    if (v && *v)
        bad |= copy_str(c->clickhouse_database, sizeof c->clickhouse_database, v, strlen(v));
    else
        derive_database(c);

    env_int(getenv_fn, "CLICKHOUSE_SINK_MAX_BATCH_SIZE", INT32_MIN, INT32_MAX,
            &c->ch_max_batch_size);
    env_int(getenv_fn, "CLICKHOUSE_SINK_MAX_IN_FLIGHT", INT32_MIN, INT32_MAX, &c->ch_max_in_flight);
    env_int(getenv_fn, "CLICKHOUSE_SINK_MAX_BUFFERED", INT32_MIN, INT32_MAX, &c->ch_max_buffered);
    env_int(getenv_fn, "CLICKHOUSE_SINK_MAX_BATCH_BYTES", INT32_MIN, INT32_MAX,
            &c->ch_max_batch_bytes);
    env_int(getenv_fn, "CLICKHOUSE_SINK_MAX_TIME_MS", INT64_MIN, INT64_MAX, &c->ch_max_time_ms);
    env_int(getenv_fn, "CLICKHOUSE_SINK_MAX_RECORD_BYTES", INT32_MIN, INT32_MAX,
            &c->max_record_bytes);
    env_int(getenv_fn, "QUALITY_METRICS_RATE_WINDOW_SEC", INT32_MIN, INT32_MAX,
            &c->metrics_rate_window_sec);
    bad |= env_str(getenv_fn, "WEIR_CAPABILITY_CATALOG", c->capability_catalog_path,
                   sizeof c->capability_catalog_path);
    return bad ? WEIR_EINVAL : WEIR_OK;
}
