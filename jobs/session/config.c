/*
 * jobs/session/config.c - the lifecycle job's configuration (spec session-job.md §10, §5.6).
 *
 * Data: ws_config is a plain value (no pointers). Invariants after ws_config_from_env():
 * ttl_ms > 0, max_per_key ≥ 1, wait_ms ≥ 0, retention values ≥ 0 (0 = disabled).
 * The spec hard-codes TTL, bound and wait; only the mode and weir's retention extension are read
 * from the environment.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/session/session.h"

void ws_config_defaults(ws_config *c) {
    c->mode = WS_MODE_LEGACY_MISNAMED;
    c->ttl_ms = WS_ATTRIBUTION_TTL_MS;
    c->max_per_key = WS_CACHE_MAX_PER_KEY;
    c->wait_ms = WS_ATTRIBUTION_WAIT_MS;
    c->idle_retention_ms = 6LL * 3600 * 1000;
    c->closed_retention_ms = 30LL * 60 * 1000;
    c->out_of_orderness_ms = 5000;
    c->idle_timeout_ms = 60000;
    c->watermark_interval_ms = 200;
}

ws_model_mode ws_mode_parse(const char *text) {
    if (!text) return WS_MODE_LEGACY_MISNAMED;
    while (*text && isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    if ((n == 14 && strncasecmp(text, "native_correct", 14) == 0) ||
        (n == 6 && strncasecmp(text, "native", 6) == 0))
        return WS_MODE_NATIVE_CORRECT;
    return WS_MODE_LEGACY_MISNAMED;
}

/* Parses a trimmed non-negative decimal; returns 0 on success. */
static int parse_nonneg(const char *v, int64_t *out) {
    while (*v && isspace((unsigned char)*v))
        v++;
    if (!*v) return -1;
    errno = 0;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    while (end && *end && isspace((unsigned char)*end))
        end++;
    if (errno || !end || *end || x < 0) return -1;
    *out = x;
    return 0;
}

weir_err ws_config_from_env(ws_config *c, const char *(*getenv_fn)(const char *name)) {
    weir_err rc = WEIR_OK;
    c->mode = ws_mode_parse(getenv_fn("LIFECYCLE_PIPELINE_MODEL_MODE"));
    static const char *const names[5] = {
        "LIFECYCLE_STATE_IDLE_RETENTION_MS", "LIFECYCLE_STATE_CLOSED_RETENTION_MS",
        "LIFECYCLE_WATERMARK_OUT_OF_ORDERNESS_MS", "LIFECYCLE_WATERMARK_IDLE_TIMEOUT_MS",
        "LIFECYCLE_WATERMARK_INTERVAL_MS"};
    int64_t *dst[5] = {&c->idle_retention_ms, &c->closed_retention_ms, &c->out_of_orderness_ms,
                       &c->idle_timeout_ms, &c->watermark_interval_ms};
    for (int i = 0; i < 5; i++) {
        const char *v = getenv_fn(names[i]);
        if (!v || !*v) continue;
        int64_t x;
        if (parse_nonneg(v, &x) == 0)
            *dst[i] = x;
        else
            rc = WEIR_EINVAL;
    }
    return rc;
}
