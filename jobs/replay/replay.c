/*
 * replay.c - the pure DLQ replay transformation and the replay configuration (spec
 * dedup-job.md §10, §5.3, §14.3, §14.4, §14.6; issue #5).
 *
 * Design: one rp_replayer per task thread owns two JSON parsers, one for the envelope and one
 * for the payload body, because the body is a string inside the envelope document: both
 * documents must stay alive while the output is written (the failure class comes from the
 * envelope, the object members from the body).
 *
 * Invariants:
 *  - every input maps to exactly one rp_outcome; only RP_REPLAYED writes to `out`, so a caller
 *    counting outcomes accounts for every record (nothing is lost silently);
 *  - the checks run in the order of §10 (decode, window, payload, encoding, body, object), with
 *    the loop guard last, so a record is attributed to the first rule it breaks;
 *  - the output is the body object re-serialised compactly in document order (duplicate keys
 *    collapsed as Jackson does: last value at the first position) with the four `__replay*` keys
 *    set in place when present and appended in the order __replay, __replay_ts,
 *    __replay_source, __replay_failure_class otherwise (Jackson ObjectNode.put semantics);
 *  - window bounds are inclusive on both ends (code behaviour, vector R3; docs/replay-job.md).
 *
 * Envelope decoding follows Jackson's default data binding for the fields the replay uses:
 * unknown keys are ignored; eventTimestamp / source.recordTimestamp accept integers, numbers
 * with a fraction (truncated) and digit strings ("" → null); source, failure and payload must be
 * objects or null; failureClass, encoding and body must be scalars or null (numbers and
 * booleans are taken as their text). Any other type makes the record RP_SKIP_MALFORMED. Fields
 * the replay does not use are not type-checked.
 */
#include "jobs/replay/replay.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobs/common/coerce.h"

/* ------------------------------------------------------------------ configuration */

static void copy_cstr(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src);
}

void rp_config_defaults(rp_config *c) {
    memset(c, 0, sizeof *c);
    copy_cstr(c->bootstrap, sizeof c->bootstrap, "kafka:9092");
    copy_cstr(c->dlq_topic, sizeof c->dlq_topic, "events.dlq.streaming_events.v1");
    copy_cstr(c->output_topic, sizeof c->output_topic, "streaming_events");
    copy_cstr(c->group_id, sizeof c->group_id, "flink-dlq-replay-v1");
}

int rp_parse_bound(const char *text, int64_t *out) {
    if (!text) return 0;
    const char *s = text;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
        s++;
    if (!*s) return 0;
    int neg = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (!isdigit((unsigned char)*s)) return 0;
    uint64_t mag = 0;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (mag > (UINT64_MAX - d) / 10) return 0;
        mag = mag * 10 + d;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
        s++;
    if (*s) return 0;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) return 0;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)mag;
    }
    return 1;
}

/* First set, non-empty variable of @p names (NULL-terminated), or NULL. */
static const char *env_first(const char *(*getenv_fn)(const char *), const char *const *names) {
    for (; *names; names++) {
        const char *v = getenv_fn(*names);
        if (v && *v) return v;
    }
    return NULL;
}

static int env_str(const char *(*getenv_fn)(const char *), const char *const *names, char *dst,
                   size_t cap) {
    const char *v = env_first(getenv_fn, names);
    if (!v) return 0;
    if (strlen(v) >= cap) {
        weir_log(WEIR_LOG_WARN, "replay", "%s is longer than %zu bytes: ignored", names[0],
                 cap - 1);
        return -1;
    }
    copy_cstr(dst, cap, v);
    return 0;
}

static void env_bound(const char *(*getenv_fn)(const char *), const char *name, int *has,
                      int64_t *dst) {
    const char *v = getenv_fn(name);
    if (!v || !*v) return;
    int64_t x;
    if (rp_parse_bound(v, &x)) {
        *has = 1;
        *dst = x;
    } else {
        *has = 0;
        weir_log(WEIR_LOG_WARN, "replay", "%s='%s' is not an integer (epoch ms): no bound", name,
                 v);
    }
}

weir_err rp_config_from_env(rp_config *c, const char *(*getenv_fn)(const char *name)) {
    static const char *const boot[] = {"REPLAY_KAFKA_BOOTSTRAP", "QUALITY_KAFKA_BOOTSTRAP", NULL};
    static const char *const dlq[] = {"REPLAY_DLQ_TOPIC", "QUALITY_DLQ_TOPIC", NULL};
    static const char *const outp[] = {"REPLAY_OUTPUT_TOPIC", "QUALITY_INPUT_TOPIC", NULL};
    static const char *const grp[] = {"REPLAY_GROUP_ID", NULL};
    int bad = 0;
    bad |= env_str(getenv_fn, boot, c->bootstrap, sizeof c->bootstrap);
    bad |= env_str(getenv_fn, dlq, c->dlq_topic, sizeof c->dlq_topic);
    bad |= env_str(getenv_fn, outp, c->output_topic, sizeof c->output_topic);
    bad |= env_str(getenv_fn, grp, c->group_id, sizeof c->group_id);
    env_bound(getenv_fn, "REPLAY_START_EPOCH_MS", &c->has_start, &c->start_ms);
    env_bound(getenv_fn, "REPLAY_END_EPOCH_MS", &c->has_end, &c->end_ms);
    const char *v = getenv_fn("REPLAY_INCLUDE_REPLAYED");
    if (v && *v) c->include_replayed = !strcasecmp(v, "true") || !strcmp(v, "1");
    return bad ? WEIR_EINVAL : WEIR_OK;
}

/* ----------------------------------------------------------------------- outcomes */

static const char *const outcome_names[RP__COUNT] = {
    "replayed", "malformed",    "no_time",    "window",        "no_payload",
    "encoding", "body_invalid", "not_object", "replayed_again"};
static const char *const outcome_counters[RP__COUNT] = {"replay.replayed",
                                                        "replay.skipped_malformed",
                                                        "replay.skipped_no_time",
                                                        "replay.skipped_window",
                                                        "replay.skipped_no_payload",
                                                        "replay.skipped_encoding",
                                                        "replay.skipped_body_invalid",
                                                        "replay.skipped_not_object",
                                                        "replay.skipped_replayed"};

const char *rp_outcome_name(rp_outcome o) {
    return (unsigned)o < RP__COUNT ? outcome_names[o] : "unknown";
}

const char *rp_outcome_counter(rp_outcome o) {
    return (unsigned)o < RP__COUNT ? outcome_counters[o] : "replay.unknown";
}

/* ------------------------------------------------------------------ the replayer */

struct rp_replayer {
    rp_config cfg;
    weir_json_parser *env, *body;
    /* text of non-string scalars (Jackson's scalar-to-String coercion), one buffer per field so
     * that a slice into one stays valid while the next is written */
    weir_buf fc_scratch, enc_scratch, body_scratch;
};

rp_replayer *rp_replayer_new(const rp_config *cfg) {
    rp_replayer *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->cfg = *cfg;
    r->env = weir_json_parser_new();
    r->body = weir_json_parser_new();
    if (!r->env || !r->body) {
        rp_replayer_free(r);
        return NULL;
    }
    return r;
}

void rp_replayer_free(rp_replayer *r) {
    if (!r) return;
    weir_json_parser_free(r->env);
    weir_json_parser_free(r->body);
    weir_buf_free(&r->fc_scratch);
    weir_buf_free(&r->enc_scratch);
    weir_buf_free(&r->body_scratch);
    free(r);
}

/* Jackson binding of a Long field. Returns 0 and sets *has and *out, or -1 for a wrong type. */
static int bind_long(weir_json v, int *has, int64_t *out) {
    *has = 0;
    switch (weir_json_type_of(v)) {
    case WEIR_JSON_MISSING:
    case WEIR_JSON_NULL:
        return 0;
    case WEIR_JSON_INT:
        *has = 1;
        *out = weir_json_int(v);
        return 0;
    case WEIR_JSON_DOUBLE: {
        double d = weir_json_double(v);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return -1;
        *has = 1;
        *out = (int64_t)trunc(d);
        return 0;
    }
    case WEIR_JSON_STRING: {
        const char *s;
        size_t n;
        weir_json_string(v, &s, &n);
        char tmp[64];
        if (n >= sizeof tmp || memchr(s, 0, n)) return -1;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        size_t i = 0;
        while (tmp[i] == ' ' || tmp[i] == '\t')
            i++;
        if (!tmp[i]) return 0; /* "" → null (Jackson's empty-string coercion for wrappers) */
        if (!rp_parse_bound(tmp, out)) return -1;
        *has = 1;
        return 0;
    }
    default: /* UINT / BIGINT out of range, bool, object, array */
        return -1;
    }
}

/* Jackson binding of a String field: string as is, numbers/booleans as text, null/missing →
 * null slice. Returns -1 for objects and arrays. */
static int bind_text(weir_json v, wj_str *out, weir_buf *scratch) {
    switch (weir_json_type_of(v)) {
    case WEIR_JSON_MISSING:
    case WEIR_JSON_NULL:
        *out = wj_null();
        return 0;
    case WEIR_JSON_ARRAY:
    case WEIR_JSON_OBJECT:
        return -1;
    default:
        *out = wj_text(v, wj_null(), scratch);
        return 0;
    }
}

/* Java's "json".equalsIgnoreCase(s): per UTF-16 unit, equal after toUpperCase or toLowerCase.
 * Besides ASCII case, U+017F LATIN SMALL LETTER LONG S upper-cases to 'S' and so matches 's'. */
static int is_json_encoding(wj_str s) {
    static const char want[4] = {'j', 's', 'o', 'n'};
    size_t i = 0, k = 0;
    for (; k < 4; k++) {
        if (i >= s.n) return 0;
        unsigned char c = (unsigned char)s.s[i];
        if (c < 0x80) {
            if (tolower(c) != want[k]) return 0;
            i++;
        } else if (want[k] == 's' && i + 1 < s.n && c == 0xC5 &&
                   (unsigned char)s.s[i + 1] == 0xBF) {
            i += 2;
        } else {
            return 0;
        }
    }
    return i == s.n;
}

static void detail_str(weir_buf *d, const char *what, wj_str s) {
    if (!d) return;
    weir_buf_printf(d, "%s '%.*s'", what, (int)(s.n > 64 ? 64 : s.n), s.s ? s.s : "");
}

static const char *type_name(weir_json_type t) {
    switch (t) {
    case WEIR_JSON_MISSING:
        return "empty";
    case WEIR_JSON_NULL:
        return "null";
    case WEIR_JSON_BOOL:
        return "a boolean";
    case WEIR_JSON_STRING:
        return "a string";
    case WEIR_JSON_ARRAY:
        return "an array";
    case WEIR_JSON_OBJECT:
        return "an object";
    default:
        return "a number";
    }
}

static int key_is(const char *k, size_t n, const char *lit) {
    size_t l = strlen(lit);
    return n == l && memcmp(k, lit, l) == 0;
}

static rp_outcome malformed(weir_buf *detail, const char *why) {
    if (detail) weir_buf_printf(detail, "undecodable envelope: %s", why);
    return RP_SKIP_MALFORMED;
}

rp_outcome rp_replay_record(rp_replayer *r, const void *value, size_t len, int64_t now_ms,
                            weir_buf *out, weir_buf *detail) {
    if (!value) return malformed(detail, "tombstone (no value)");
    weir_error e = {0};
    weir_json env;
    if (weir_json_parse(r->env, value, len, &env, &e) != WEIR_OK)
        return malformed(detail, e.msg[0] ? e.msg : "not JSON");
    if (weir_json_type_of(env) != WEIR_JSON_OBJECT) return malformed(detail, "not a JSON object");

    /* ---- decode the fields the replay uses (§5.3) */
    int has_ev_ts = 0, has_rec_ts = 0;
    int64_t ev_ts = 0, rec_ts = 0;
    if (bind_long(weir_json_get(env, "eventTimestamp"), &has_ev_ts, &ev_ts))
        return malformed(detail, "eventTimestamp is not a long");
    weir_json source = weir_json_get(env, "source");
    weir_json_type st = weir_json_type_of(source);
    if (st == WEIR_JSON_OBJECT) {
        if (bind_long(weir_json_get(source, "recordTimestamp"), &has_rec_ts, &rec_ts))
            return malformed(detail, "source.recordTimestamp is not a long");
    } else if (st != WEIR_JSON_MISSING && st != WEIR_JSON_NULL) {
        return malformed(detail, "source is not an object");
    }
    weir_json failure = weir_json_get(env, "failure");
    weir_json_type ft = weir_json_type_of(failure);
    int has_failure = ft == WEIR_JSON_OBJECT;
    wj_str failure_class = wj_null();
    weir_buf_reset(&r->fc_scratch);
    weir_buf_reset(&r->enc_scratch);
    weir_buf_reset(&r->body_scratch);
    if (has_failure) {
        if (bind_text(weir_json_get(failure, "failureClass"), &failure_class, &r->fc_scratch))
            return malformed(detail, "failure.failureClass is not a string");
    } else if (ft != WEIR_JSON_MISSING && ft != WEIR_JSON_NULL) {
        return malformed(detail, "failure is not an object");
    }
    weir_json payload = weir_json_get(env, "payload");
    weir_json_type pt = weir_json_type_of(payload);
    wj_str encoding = wj_null(), body = wj_null();
    if (pt == WEIR_JSON_OBJECT) {
        if (bind_text(weir_json_get(payload, "encoding"), &encoding, &r->enc_scratch))
            return malformed(detail, "payload.encoding is not a string");
        if (bind_text(weir_json_get(payload, "body"), &body, &r->body_scratch))
            return malformed(detail, "payload.body is not a string");
    } else if (pt != WEIR_JSON_MISSING && pt != WEIR_JSON_NULL) {
        return malformed(detail, "payload is not an object");
    }
    int env_replay = wj_lbool(weir_json_get(env, "replay"));

    /* ---- window (§10; both bounds inclusive) */
    if (r->cfg.has_start || r->cfg.has_end) {
        int64_t t;
        if (has_ev_ts)
            t = ev_ts;
        else if (has_rec_ts)
            t = rec_ts;
        else {
            if (detail) weir_buf_puts(detail, "no eventTimestamp and no source.recordTimestamp");
            return RP_SKIP_NO_TIME;
        }
        if ((r->cfg.has_start && t < r->cfg.start_ms) || (r->cfg.has_end && t > r->cfg.end_ms)) {
            if (detail) {
                weir_buf_printf(detail, "%s %lld outside the window [",
                                has_ev_ts ? "eventTimestamp" : "source.recordTimestamp",
                                (long long)t);
                if (r->cfg.has_start) weir_buf_put_i64(detail, r->cfg.start_ms);
                weir_buf_puts(detail, ", ");
                if (r->cfg.has_end) weir_buf_put_i64(detail, r->cfg.end_ms);
                weir_buf_puts(detail, "]");
            }
            return RP_SKIP_WINDOW;
        }
    }

    /* ---- payload rules */
    if (pt != WEIR_JSON_OBJECT || !body.s) {
        if (detail)
            weir_buf_puts(detail,
                          pt != WEIR_JSON_OBJECT ? "payload is null" : "payload.body is null");
        return RP_SKIP_NO_PAYLOAD;
    }
    if (!encoding.s || !is_json_encoding(encoding)) {
        if (detail) {
            if (encoding.s)
                detail_str(detail, "payload.encoding", encoding);
            else
                weir_buf_puts(detail, "payload.encoding is null");
        }
        return RP_SKIP_ENCODING;
    }
    weir_json root;
    if (weir_json_parse(r->body, body.s, body.n, &root, &e) != WEIR_OK) {
        if (detail) weir_buf_printf(detail, "payload.body is not JSON: %s", e.msg);
        return RP_SKIP_BODY_INVALID;
    }
    weir_json_type rt = weir_json_type_of(root);
    if (rt != WEIR_JSON_OBJECT) {
        if (detail) weir_buf_printf(detail, "payload.body is %s, not an object", type_name(rt));
        return RP_SKIP_NOT_OBJECT;
    }

    /* ---- loop protection (§14.4, issue #5) */
    if (!r->cfg.include_replayed && (env_replay || wj_lbool(weir_json_get(root, "__replay")))) {
        if (detail)
            weir_buf_puts(detail, "payload is already a replay (__replay or the envelope replay "
                                  "flag is true): it failed "
                                  "again after a replay and is not re-published");
        return RP_SKIP_REPLAYED;
    }

    /* ---- transformation (§10) */
    int seen_replay = 0, seen_ts = 0, seen_src = 0, seen_fc = 0;
    weir_buf_putc(out, '{');
    int first = 1;
    weir_json_iter it = weir_json_iter_begin(root);
    const char *k;
    size_t kn;
    weir_json v;
    while (weir_json_next(&it, &k, &kn, &v)) {
        if (!first) weir_buf_putc(out, ',');
        first = 0;
        weir_json_write_string(out, k, kn);
        weir_buf_putc(out, ':');
        if (key_is(k, kn, "__replay")) {
            seen_replay = 1;
            weir_buf_puts(out, "true");
        } else if (key_is(k, kn, "__replay_ts")) {
            seen_ts = 1;
            weir_buf_put_i64(out, now_ms);
        } else if (key_is(k, kn, "__replay_source")) {
            seen_src = 1;
            weir_buf_puts(out, "\"dlq\"");
        } else if (has_failure && key_is(k, kn, "__replay_failure_class")) {
            seen_fc = 1;
            if (failure_class.s)
                weir_json_write_string(out, failure_class.s, failure_class.n);
            else
                weir_buf_puts(out, "null");
        } else {
            weir_json_write_compact(out, v, NULL);
        }
    }
    if (!seen_replay) weir_buf_puts(out, first ? "\"__replay\":true" : ",\"__replay\":true");
    first = 0;
    if (!seen_ts) {
        weir_buf_puts(out, ",\"__replay_ts\":");
        weir_buf_put_i64(out, now_ms);
    }
    if (!seen_src) weir_buf_puts(out, ",\"__replay_source\":\"dlq\"");
    if (has_failure && !seen_fc) {
        weir_buf_puts(out, ",\"__replay_failure_class\":");
        if (failure_class.s)
            weir_json_write_string(out, failure_class.s, failure_class.n);
        else
            weir_buf_puts(out, "null");
    }
    weir_buf_putc(out, '}');
    return RP_REPLAYED;
}
