/*
 * jobs/dedup/gate.c - the quality gate: decoding (§2.2), the 11 ordered checks (§3.1 with the
 * Appendix A validation delta), the accepted event (§3.5), the dedup key (§4.1) and the
 * dimensions (§4.2), plus the DESERIALIZATION / SCHEMA_VALIDATION envelopes (§5.2).
 *
 * Data structures: a dd_gate owns one weir_json_parser (the current document) and a set of
 * scratch weir_bufs, one per derived string (id, type, version, gateway, three dimensions,
 * details, hash pre-image / missing path, canonical JSON, base64). A buffer is reset right before
 * it is written and receives at most one conversion per record, so a slice taken from a buffer
 * is never invalidated by a later realloc within the same call. In steady state no call
 * allocates (buffers keep their capacity).
 *
 * Hot path: the top-level and `data` members the gate reads are fetched up front with one pass
 * over each object (struct view, weir_json_get_many() with key sets prepared in dd_gate_new()),
 * instead of one member walk per key. The document is re-serialised only for the payload hash
 * (events without id) and for schema-failure envelopes.
 *
 * Invariant: slices handed out borrow from the parser document, the parser's decoded text,
 * static strings, the caller's dd_source (topic) or the scratch buffers (the base64 body of a
 * json_parse_error envelope included); all stay valid until the next dd_gate_process() or
 * dd_gate_free(). The caller's value bytes are never retained.
 */
#include <stdlib.h>
#include <string.h>

#include "jobs/common/codec.h"
#include "jobs/common/coerce.h"
#include "jobs/dedup/dedup.h"

/* Keys of `data` the gate reads (§3.2 required paths, §3.4 data.version, §4.2 dimensions). */
enum {
    DK_STREAM_ID,
    DK_REQUEST_ID,
    DK_PIPELINE,
    DK_TYPE,
    DK_SESSION_ID,
    DK_MANIFEST_ID,
    DK_SENDER,
    DK_RECIPIENT,
    DK_ORCHESTRATOR,
    DK_FACE_VALUE,
    DK_NUM_TICKETS,
    DK_PRICE,
    DK_WIN_PROB,
    DK_VERSION,
    DK_ORCH_INFO,
    DK_BROADCASTER,
    DK_REGION,
    DK__COUNT
};

/* A key name with its length (computed at compile time). */
typedef struct key_name {
    const char *s;
    size_t n;
} key_name;
#define KN(lit)                                                                                    \
    { lit, sizeof(lit) - 1 }

static const key_name data_keys[DK__COUNT] = {
    KN("stream_id"),   KN("request_id"), KN("pipeline"),
    KN("type"),        KN("sessionID"),  KN("manifestID"),
    KN("sender"),      KN("recipient"),  KN("orchestrator"),
    KN("faceValue"),   KN("numTickets"), KN("price"),
    KN("winProb"),     KN("version"),    KN("orchestrator_info"),
    KN("broadcaster"), KN("region")};

/* Top-level keys (§2.3). */
enum { RK_ID, RK_TYPE, RK_TIMESTAMP, RK_DATA, RK_VERSION, RK_GATEWAY, RK_REPLAY, RK__COUNT };
static const key_name root_keys[RK__COUNT] = {KN("id"),      KN("type"),    KN("timestamp"),
                                              KN("data"),    KN("version"), KN("gateway"),
                                              KN("__replay")};

/* The 7 supported types (§1) with their required data paths (§3.2, in order). A path index of
 * -1 means the root `id`, -2 means `data` itself. */
#define REQ_ROOT_ID (-1)
#define REQ_DATA (-2)
typedef struct type_rule {
    key_name name;
    int n_req;
    int req[9];
} type_rule;

enum { T_AI_STREAM_STATUS, T_INGEST, T_TRACE, T_NETCAPS, T_AI_EVENTS, T_DISCOVERY, T_PAYMENT };

static const type_rule type_rules[] = {
    {KN("ai_stream_status"), 3, {DK_STREAM_ID, DK_REQUEST_ID, DK_PIPELINE}},
    {KN("stream_ingest_metrics"), 2, {DK_STREAM_ID, DK_REQUEST_ID}},
    {KN("stream_trace"), 4, {REQ_ROOT_ID, DK_STREAM_ID, DK_REQUEST_ID, DK_TYPE}},
    {KN("network_capabilities"), 1, {REQ_DATA}},
    {KN("ai_stream_events"), 4, {DK_STREAM_ID, DK_REQUEST_ID, DK_PIPELINE, DK_TYPE}},
    {KN("discovery_results"), 1, {REQ_DATA}},
    {KN("create_new_payment"),
     9,
     {DK_SESSION_ID, DK_MANIFEST_ID, DK_SENDER, DK_RECIPIENT, DK_ORCHESTRATOR, DK_FACE_VALUE,
      DK_NUM_TICKETS, DK_PRICE, DK_WIN_PROB}},
};
#define N_TYPES ((int)(sizeof type_rules / sizeof type_rules[0]))

/* Top-level keys stripped before hashing (§4.3). */
static const char *const replay_keys[] = {"__replay", "__replay_ts", "__replay_source",
                                          "__replay_failure_class", NULL};

struct dd_gate {
    dd_config cfg;
    weir_json_keyset root_set, data_set; /* root_keys / data_keys for weir_json_get_many() */
    weir_json_parser *parser;
    weir_json root;
    weir_buf b_id, b_type, b_ver, b_gw, b_orch, b_brd, b_reg;
    weir_buf b_details, b_pre, b_canon, b_b64;
    char key[65];
};

/* A slice of the whole content of @p b; "" (not null) when the buffer never allocated. */
static wj_str buf_str(const weir_buf *b) {
    wj_str r;
    r.s = b->data ? b->data : "";
    r.n = b->data ? b->len : 0;
    return r;
}

/* §3.3 "present": not missing, not JSON null, not the empty string. */
static int present(weir_json v) {
    switch (weir_json_type_of(v)) {
    case WEIR_JSON_MISSING:
    case WEIR_JSON_NULL:
        return 0;
    case WEIR_JSON_STRING: {
        const char *s;
        size_t n;
        weir_json_string(v, &s, &n);
        return n > 0;
    }
    default:
        return 1;
    }
}

dd_gate *dd_gate_new(const dd_config *cfg, weir_error *err) {
    dd_gate *g = calloc(1, sizeof *g);
    if (!g) {
        weir_error_set(err, WEIR_ENOMEM, 0, "dd_gate_new: out of memory");
        return NULL;
    }
    if (cfg)
        g->cfg = *cfg;
    else
        dd_config_defaults(&g->cfg);
    _Static_assert((int)RK__COUNT <= (int)DK__COUNT, "names[] holds either key list");
    const char *names[DK__COUNT];
    size_t lens[DK__COUNT];
    for (int i = 0; i < RK__COUNT; i++) {
        names[i] = root_keys[i].s;
        lens[i] = root_keys[i].n;
    }
    int bad = weir_json_keyset_init(&g->root_set, names, lens, RK__COUNT);
    for (int i = 0; i < DK__COUNT; i++) {
        names[i] = data_keys[i].s;
        lens[i] = data_keys[i].n;
    }
    bad |= weir_json_keyset_init(&g->data_set, names, lens, DK__COUNT);
    if (bad) { /* the key lists above are fixed: cannot happen */
        free(g);
        weir_error_set(err, WEIR_EINTERNAL, 0, "dd_gate_new: bad key set");
        return NULL;
    }
    g->parser = weir_json_parser_new();
    if (!g->parser) {
        free(g);
        weir_error_set(err, WEIR_ENOMEM, 0, "dd_gate_new: cannot create JSON parser");
        return NULL;
    }
    return g;
}

void dd_gate_free(dd_gate *g) {
    if (!g) return;
    weir_json_parser_free(g->parser);
    weir_buf *bufs[] = {&g->b_id,  &g->b_type,    &g->b_ver, &g->b_gw,    &g->b_orch, &g->b_brd,
                        &g->b_reg, &g->b_details, &g->b_pre, &g->b_canon, &g->b_b64};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        weir_buf_free(bufs[i]);
    free(g);
}

weir_json dd_gate_root(const dd_gate *g) {
    return g->root;
}

/* §3.4 version node → text. Returns the null slice when there is no version. */
static wj_str version_text(weir_json vnode, weir_buf *scratch) {
    switch (weir_json_type_of(vnode)) {
    case WEIR_JSON_MISSING:
    case WEIR_JSON_NULL:
        return wj_null();
    case WEIR_JSON_STRING: {
        wj_str r;
        weir_json_string(vnode, &r.s, &r.n);
        return r;
    }
    case WEIR_JSON_BOOL:
        return wj_cstr(weir_json_bool(vnode) ? "true" : "false");
    case WEIR_JSON_INT:
    case WEIR_JSON_UINT:
    case WEIR_JSON_BIGINT:
    case WEIR_JSON_DOUBLE: {
        /* truncated to int32 like Jackson's asInt(): integers wrap, doubles clamp (§2.4 lint) */
        size_t off = scratch->len;
        weir_buf_put_i64(scratch, wj_lint(vnode, 0));
        wj_str r = {scratch->data ? scratch->data + off : "",
                    scratch->data ? scratch->len - off : 0};
        return r;
    }
    default: /* object / array → "" (J) */
        return wj_cstr("");
    }
}

/* The per-record view: every top-level and `data` member the gate reads, fetched with one pass
 * over each object (weir_json_get_many, last duplicate wins); MISSING when absent, and every
 * `data` member is MISSING when data is not an object (§2.4 path navigation). */
typedef struct view {
    weir_json root, data;
    weir_json rk[RK__COUNT];
    weir_json dk[DK__COUNT];
} view;

static inline weir_json R(const view *v, int i) {
    return v->rk[i];
}

static inline weir_json DK(const view *v, int i) {
    return v->dk[i];
}

static void view_init(const dd_gate *g, view *v, weir_json root) {
    v->root = root;
    weir_json_get_many(root, &g->root_set, v->rk); /* all MISSING when root is not an object */
    v->data = v->rk[RK_DATA];
    weir_json_get_many(v->data, &g->data_set, v->dk);
}

/* §4.2 dimensions. @p schema_variant selects ntext for the orchestrator lookups. */
static void dimensions(dd_gate *g, view *v, int schema_variant, dd_dims *d) {
    wj_str orch = wj_null();
    if (weir_json_type_of(DK(v, DK_ORCH_INFO)) == WEIR_JSON_OBJECT) {
        weir_json a = weir_json_get(DK(v, DK_ORCH_INFO), "address");
        orch = schema_variant ? wj_ntext(a, &g->b_orch) : wj_text(a, wj_null(), &g->b_orch);
    }
    if (orch.s == NULL || orch.n == 0) {
        weir_buf_reset(&g->b_orch);
        weir_json o = DK(v, DK_ORCHESTRATOR);
        orch = schema_variant ? wj_ntext(o, &g->b_orch) : wj_text(o, wj_null(), &g->b_orch);
    }
    d->orchestrator = orch;
    d->broadcaster = wj_ntext(DK(v, DK_BROADCASTER), &g->b_brd);
    d->region = wj_ntext(DK(v, DK_REGION), &g->b_reg);
}

static void append_dim(weir_buf *b, wj_str s) {
    if (s.s)
        weir_buf_append(b, s.s, s.n);
    else
        weir_buf_append(b, "null", 4);
}

/* Fills the common part of a gate-stage envelope. */
static void env_base(dd_envelope *env, const dd_source *src, int64_t now_ms, const char *stage,
                     const char *cls, const char *reason, wj_str details) {
    memset(env, 0, sizeof *env);
    if (src) env->source = *src;
    env->stage = stage;
    env->failure_class = cls;
    env->reason = reason;
    env->details = details;
    env->ingestion_ts = now_ms;
    env->payload_encoding = "json";
}

/* A SCHEMA_VALIDATION envelope (§5.2 third column). @p details_a + @p details_b form details. */
static dd_gate_result schema_fail(dd_gate *g, view *v, const dd_source *src, int64_t now_ms,
                                  const char *cls, const char *reason, const char *details_a,
                                  wj_str details_b, dd_envelope *env) {
    weir_buf_append(&g->b_details, details_a, strlen(details_a));
    if (details_b.s) weir_buf_append(&g->b_details, details_b.s, details_b.n);
    env_base(env, src, now_ms, "SCHEMA_VALIDATION", cls, reason, buf_str(&g->b_details));

    /* identity: text(root.id,""), text(root.type,""), extracted version or null */
    weir_buf_reset(&g->b_id);
    weir_buf_reset(&g->b_type);
    weir_buf_reset(&g->b_ver);
    env->event_id = wj_text(R(v, RK_ID), wj_cstr(""), &g->b_id);
    env->event_type = wj_text(R(v, RK_TYPE), wj_cstr(""), &g->b_type);
    weir_json vn = R(v, RK_VERSION);
    if (weir_json_type_of(vn) <= WEIR_JSON_NULL) vn = DK(v, DK_VERSION);
    env->event_version = version_text(vn, &g->b_ver);

    env->has_dims = 1;
    weir_buf_reset(&g->b_orch);
    weir_buf_reset(&g->b_brd);
    weir_buf_reset(&g->b_reg);
    dimensions(g, v, 1, &env->dims);

    size_t tn;
    const char *text = weir_json_parser_text(g->parser, &tn);
    env->payload_body.s = text ? text : "";
    env->payload_body.n = text ? tn : 0;

    weir_buf_reset(&g->b_canon);
    if (weir_json_is_missing(g->root))
        weir_buf_append(&g->b_canon, "null", 4);
    else
        weir_json_write_compact(&g->b_canon, g->root, NULL);
    env->canonical_json = buf_str(&g->b_canon);

    env->replay = wj_lbool(R(v, RK_REPLAY));
    int64_t ts;
    if (wj_ts(R(v, RK_TIMESTAMP), &ts)) {
        env->has_event_ts = 1;
        env->event_ts = ts;
    }
    return DD_GATE_REJECTED;
}

dd_gate_result dd_gate_process(dd_gate *g, const void *value, size_t len, const dd_source *src,
                               int64_t now_ms, dd_event *ev, dd_envelope *env) {
    weir_buf_reset(&g->b_details);
    g->root = (weir_json){0};

    /* check 1: absent value */
    if (value == NULL) {
        env_base(env, src, now_ms, "DESERIALIZATION", "DESERIALIZATION_FAILED", "null_payload",
                 wj_cstr("Record value is null"));
        return DD_GATE_REJECTED;
    }

    /* check 2: parse error → base64 of the original bytes, the parser's message as details */
    weir_error perr;
    weir_error_clear(&perr);
    if (weir_json_parse(g->parser, (const char *)value, len, &g->root, &perr) != WEIR_OK) {
        g->root = (weir_json){0};
        weir_buf_append(&g->b_details, perr.msg, strlen(perr.msg));
        env_base(env, src, now_ms, "DESERIALIZATION", "DESERIALIZATION_FAILED", "json_parse_error",
                 buf_str(&g->b_details));
        weir_buf_reset(&g->b_b64);
        wj_base64(&g->b_b64, value, len);
        env->payload_encoding = "base64";
        env->payload_body = buf_str(&g->b_b64);
        return DD_GATE_REJECTED;
    }

    view v;
    view_init(g, &v, g->root);

    /* check 3: root must be an object (empty input → MISSING) */
    if (weir_json_type_of(g->root) != WEIR_JSON_OBJECT)
        return schema_fail(g, &v, src, now_ms, "SCHEMA_INVALID", "root_not_object",
                           "Root node is missing or not an object", wj_null(), env);

    /* check 4: type must be a JSON string ("" allowed here) */
    wj_str type;
    if (weir_json_string(R(&v, RK_TYPE), &type.s, &type.n) != 0)
        return schema_fail(g, &v, src, now_ms, "SCHEMA_INVALID", "missing_type",
                           "Event type is missing or not a string", wj_null(), env);

    /* checks 5 + 6: timestamp present and ts() not none */
    int64_t ts;
    if (!wj_ts(R(&v, RK_TIMESTAMP), &ts))
        return schema_fail(g, &v, src, now_ms, "SCHEMA_INVALID", "missing_timestamp",
                           "Event timestamp is missing or not numeric", wj_null(), env);

    /* check 7: data key missing (JSON null is not missing) */
    if (weir_json_is_missing(R(&v, RK_DATA)))
        return schema_fail(g, &v, src, now_ms, "SCHEMA_INVALID", "missing_data",
                           "Event data payload is missing", wj_null(), env);

    /* check 8: supported type (exact, case-sensitive) */
    int t = -1;
    for (int i = 0; i < N_TYPES; i++) {
        const key_name *name = &type_rules[i].name;
        if (name->n == type.n && memcmp(name->s, type.s, type.n) == 0) {
            t = i;
            break;
        }
    }
    if (t < 0)
        return schema_fail(g, &v, src, now_ms, "SCHEMA_INVALID", "unsupported_event_type",
                           "Unsupported event type: ", type, env);

    /* check 9: version (root.version, else data.version when root's is missing/null) */
    weir_buf_reset(&g->b_ver);
    weir_json vnode = R(&v, RK_VERSION);
    if (weir_json_type_of(vnode) <= WEIR_JSON_NULL) vnode = DK(&v, DK_VERSION);
    wj_str version = version_text(vnode, &g->b_ver);
    if (version.s && g->cfg.n_supported_versions > 0) {
        int ok = 0;
        for (int i = 0; i < g->cfg.n_supported_versions && !ok; i++) {
            const char *sv = g->cfg.supported_versions[i];
            ok = strlen(sv) == version.n && memcmp(sv, version.s, version.n) == 0;
        }
        if (!ok)
            return schema_fail(g, &v, src, now_ms, "UNSUPPORTED_VERSION", "unsupported_version",
                               "Unsupported event version: ", version, env);
    }

    /* check 10: required paths in list order */
    const type_rule *rule = &type_rules[t];
    for (int i = 0; i < rule->n_req; i++) {
        int r = rule->req[i];
        weir_json pv = r == REQ_ROOT_ID ? R(&v, RK_ID) : r == REQ_DATA ? R(&v, RK_DATA) : DK(&v, r);
        if (!present(pv)) {
            wj_str path;
            if (r == REQ_ROOT_ID)
                path = wj_cstr("id");
            else if (r == REQ_DATA)
                path = wj_cstr("data");
            else {
                /* "data." + key: built in b_pre (unused on this path) */
                weir_buf_reset(&g->b_pre);
                weir_buf_puts(&g->b_pre, "data.");
                weir_buf_append(&g->b_pre, data_keys[r].s, data_keys[r].n);
                path = buf_str(&g->b_pre);
            }
            return schema_fail(g, &v, src, now_ms, "SCHEMA_INVALID", "missing_field",
                               "Missing required field: ", path, env);
        }
    }

    /* check 11 with the Appendix A delta: network_capabilities needs an object or an array
     * (an empty array passes); discovery_results needs a non-empty array. */
    weir_json_type dt = weir_json_type_of(R(&v, RK_DATA));
    if (t == T_NETCAPS && dt != WEIR_JSON_OBJECT && dt != WEIR_JSON_ARRAY)
        return schema_fail(g, &v, src, now_ms, "SCHEMA_INVALID", "invalid_data_shape",
                           "Expected data object or array", wj_null(), env);
    if (t == T_DISCOVERY && (dt != WEIR_JSON_ARRAY || weir_json_size(R(&v, RK_DATA)) == 0))
        return schema_fail(g, &v, src, now_ms, "SCHEMA_INVALID", "empty_array",
                           "Expected non-empty data array", wj_null(), env);

    /* accepted (§3.5) */
    memset(ev, 0, sizeof *ev);
    weir_buf_reset(&g->b_id);
    weir_buf_reset(&g->b_gw);
    weir_buf_reset(&g->b_orch);
    weir_buf_reset(&g->b_brd);
    weir_buf_reset(&g->b_reg);
    ev->event_id = wj_text(R(&v, RK_ID), wj_cstr(""), &g->b_id);
    ev->event_type = type;
    ev->event_version = version.s ? version : wj_cstr("1");
    ev->gateway = wj_text(R(&v, RK_GATEWAY), wj_cstr(""), &g->b_gw);
    size_t tn;
    const char *text = weir_json_parser_text(g->parser, &tn);
    ev->raw_json.s = text ? text : "";
    ev->raw_json.n = text ? tn : 0;
    ev->timestamp = ts;
    ev->replay = wj_lbool(R(&v, RK_REPLAY));
    if (src) ev->source = *src;
    dimensions(g, &v, 0, &ev->dims);

    /* §4.1 dedup key */
    if (ev->event_id.s && ev->event_id.n > 0) {
        ev->dedup_key = ev->event_id;
        ev->dedup_strategy = "event_id";
    } else {
        weir_buf *pre = &g->b_pre;
        weir_buf_reset(pre);
        weir_buf_append(pre, type.s, type.n);
        weir_buf_putc(pre, '|');
        append_dim(pre, ev->dims.orchestrator);
        weir_buf_putc(pre, '|');
        append_dim(pre, ev->dims.broadcaster);
        weir_buf_putc(pre, '|');
        append_dim(pre, ev->dims.region);
        weir_buf_putc(pre, '|');
        weir_json_write_compact(pre, g->root, replay_keys);
        wj_sha256_hex(pre->data ? pre->data : "", pre->data ? pre->len : 0, g->key);
        ev->dedup_key.s = g->key;
        ev->dedup_key.n = 64;
        ev->dedup_strategy = "payload_hash";
    }
    return DD_GATE_ACCEPTED;
}
