/*
 * job.c - the dedup job's operators and DAG (see job.h for the picture).
 *
 * Operators (each subtask keeps its scratch state in a per-subtask `local`):
 *   gate   - dd_gate_process() per record; accepted → emit(key = dedup key, value = encoded
 *            event); rejected → DLQ envelope on the side outputs.
 *   dedup  - keyed by dedup key; process_batch() looks all keys of a channel batch up with one
 *            multi-get, remembers keys first seen inside the batch, writes the new keys with one
 *            multi-put (value: first-seen wall-clock ms; TTL QUALITY_DEDUP_TTL_MINUTES, never
 *            extended by duplicates, §4.4) and only then emits: first occurrence → parse,
 *            duplicate → quarantine envelope (§4.5).
 *   parse  - decodes the event, re-parses its raw JSON, runs the family parser (§6); each row
 *            passes the size guard (§7.2) and goes to the row sink keyed by table name; parse
 *            failures and oversized rows become DLQ envelopes.
 * Envelopes go to two side outputs: "<kind>-row" (ClickHouse row form, §5.4, guarded by §5.5)
 * and "<kind>-kafka" (Kafka JSON, §5.3) when the corresponding sink exists.
 */
#include "jobs/dedup/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---------------------------------------------------------------- shared bits */

typedef struct dd_job_shared {
    dd_config cfg;
    int rows_to_files, env_to_kafka;
    int rows_out; /* envelope rows (§5.4) have a sink: files and/or ClickHouse */
    char table_names[DD_T__COUNT][128]; /* with prefix */
} dd_job_shared;

struct dd_job {
    dd_job_options o;
    dd_job_shared sh;
    weir_graph *g;
    weir_file_source_conf fsrc;
    weir_kafka_source_conf ksrc;
    weir_file_sink_conf fsink;
    weir_kafka_sink_conf kdlq, kquar;
    weir_clickhouse_sink_conf ch;
    weir_config *sink_props; /* user librdkafka properties + DD_ENVELOPE_MAX_MESSAGE_BYTES */
    const char *precreate[DD_T__COUNT + 1];
};

/* Envelopes carry the raw payload (and for schema failures a canonical copy too), so one can be
 * about twice the size of the largest input record. librdkafka's default producer limit (1 MB)
 * would turn a large bad record into a failed job (spec §14.15); the DLQ producers allow 32 MB
 * unless the user sets message.max.bytes. A broker that still refuses fails the job loudly. */
#define DD_ENVELOPE_MAX_MESSAGE_BYTES "33554432"

static void copy_prop(void *ud, const char *k, const char *v) {
    weir_config_set(ud, k, v);
}

/* Counters one subtask resolves once in open(). */
typedef struct counters {
    weir_counter *input, *accepted_gate, *dlq_gate, *dup, *dedup_accepted, *parse_fail, *oversize,
        *dlq_total, *quarantine_total, *rows[DD_T__COUNT];
} counters;

static void counters_init(counters *c, weir_metrics *m) {
    c->input = weir_metrics_counter(m, "quality_gate.input");
    c->accepted_gate = weir_metrics_counter(m, "quality_gate.accepted");
    c->dlq_gate = weir_metrics_counter(m, "quality_gate.dlq");
    c->dup = weir_metrics_counter(m, "quality_gate.dedup.duplicates");
    c->dedup_accepted = weir_metrics_counter(m, "quality_gate.dedup.accepted");
    c->parse_fail = weir_metrics_counter(m, "quality_gate.parse.failures");
    c->oversize = weir_metrics_counter(m, "quality_gate.sink_guard.oversize_drops");
    c->dlq_total = weir_metrics_counter(m, "dlq.envelopes");
    c->quarantine_total = weir_metrics_counter(m, "quarantine.envelopes");
    for (int t = 0; t < DD_T__COUNT; t++) {
        char name[160];
        snprintf(name, sizeof name, "dedup.rows.%s", dd_table_name((dd_table)t));
        c->rows[t] = weir_metrics_counter(m, name);
    }
}

/* Emits one envelope: quarantine (dedup) or DLQ (everything else). */
static weir_err emit_envelope(weir_ctx *ctx, const dd_job_shared *sh, const counters *cn,
                              weir_buf *buf, const dd_envelope *env, int quarantine) {
    weir_counter_add(quarantine ? cn->quarantine_total : cn->dlq_total, 1);
    if (sh->env_to_kafka) {
        weir_buf_reset(buf);
        dd_envelope_write_kafka(buf, env);
        if (buf->oom) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory encoding an envelope");
        weir_record r = {.value = (const uint8_t *)buf->data,
                         .value_len = (uint32_t)buf->len,
                         .timestamp_ms = WEIR_NO_TIMESTAMP,
                         .key_group = -1};
        weir_err rc = weir_emit_side(ctx, quarantine ? "quarantine-kafka" : "dlq-kafka", &r);
        if (rc) return rc;
    }
    if (sh->rows_out) {
        weir_buf_reset(buf);
        dd_envelope_write_row(buf, env);
        if (buf->oom) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory encoding an envelope");
        if (dd_row_too_large(buf->len, sh->cfg.max_record_bytes, NULL)) {
            /* §5.5: dropped for the ClickHouse path only, never re-enveloped (no DLQ loop) */
            weir_counter_add(cn->oversize, 1);
            weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx),
                     "%s row of %zu bytes exceeds %lld bytes: dropped for the table (event id "
                     "'%.*s', type '%.*s'); the Kafka envelope was still written",
                     quarantine ? "quarantine" : "DLQ", buf->len,
                     (long long)sh->cfg.max_record_bytes, (int)env->event_id.n,
                     env->event_id.s ? env->event_id.s : "", (int)env->event_type.n,
                     env->event_type.s ? env->event_type.s : "");
            return WEIR_OK;
        }
        const char *table = sh->table_names[quarantine ? DD_T_QUARANTINE : DD_T_DLQ];
        weir_record r = {.key = (const uint8_t *)table,
                         .key_len = (uint32_t)strlen(table),
                         .value = (const uint8_t *)buf->data,
                         .value_len = (uint32_t)buf->len,
                         .timestamp_ms = WEIR_NO_TIMESTAMP,
                         .key_group = -1};
        return weir_emit_side(ctx, quarantine ? "quarantine-row" : "dlq-row", &r);
    }
    return WEIR_OK;
}

/* ---------------------------------------------------------------------- gate */

typedef struct gate_local {
    dd_gate *gate;
    counters cn;
    weir_buf ev_buf, env_buf;
} gate_local;

static weir_err gate_open(weir_ctx *ctx) {
    const dd_job_shared *sh = weir_ctx_udata(ctx);
    gate_local *L = calloc(1, sizeof *L);
    if (!L) return WEIR_ENOMEM;
    weir_error e = {0};
    L->gate = dd_gate_new(&sh->cfg, &e);
    if (!L->gate) {
        free(L);
        return weir_ctx_fail(ctx, e.code ? e.code : WEIR_ENOMEM, "%s", e.msg);
    }
    counters_init(&L->cn, weir_ctx_metrics(ctx));
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static weir_err gate_process(weir_ctx *ctx, const weir_record *rec) {
    const dd_job_shared *sh = weir_ctx_udata(ctx);
    gate_local *L = weir_ctx_local(ctx);
    weir_counter_add(L->cn.input, 1);
    dd_source src = {.present = 1,
                     .topic = {rec->origin.topic, rec->origin.topic_len},
                     .partition = rec->origin.partition,
                     .offset = rec->origin.offset,
                     .record_ts = rec->origin.record_ts};
    dd_event ev;
    dd_envelope env;
    /* the clock is read only for a rejection (its envelope's ingestion time): most records pass */
    if (dd_gate_process(L->gate, rec->value, rec->value_len, &src, 0, &ev, &env) ==
        DD_GATE_REJECTED) {
        env.ingestion_ts = weir_ctx_now_ms(ctx);
        weir_counter_add(L->cn.dlq_gate, 1);
        return emit_envelope(ctx, sh, &L->cn, &L->env_buf, &env, 0);
    }
    weir_counter_add(L->cn.accepted_gate, 1);
    weir_buf_reset(&L->ev_buf);
    dd_event_encode(&L->ev_buf, &ev);
    if (L->ev_buf.oom) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory encoding an event");
    weir_record out = {.key = (const uint8_t *)ev.dedup_key.s,
                       .key_len = (uint32_t)ev.dedup_key.n,
                       .value = (const uint8_t *)L->ev_buf.data,
                       .value_len = (uint32_t)L->ev_buf.len,
                       .timestamp_ms = ev.timestamp,
                       .key_group = -1,
                       .origin = rec->origin};
    return weir_emit(ctx, &out);
}

static void gate_close(weir_ctx *ctx) {
    gate_local *L = weir_ctx_local(ctx);
    if (!L) return;
    dd_gate_free(L->gate);
    weir_buf_free(&L->ev_buf);
    weir_buf_free(&L->env_buf);
    free(L);
}

static const weir_operator_def gate_def = {
    .kind = "quality-gate", .open = gate_open, .process = gate_process, .close = gate_close};

/* --------------------------------------------------------------------- dedup */

typedef struct dedup_local {
    weir_state *keys;
    counters cn;
    weir_buf env_buf, details; /* reused per duplicate: no allocation on the hot path */
    size_t cap;
    weir_state_key *k;
    weir_state_slice *got, *put_vals;
    weir_state_key *put_keys;
    unsigned char *dup;
    /* open-addressing set of indexes of keys first seen in the current batch */
    int32_t *set;
    size_t set_cap;
    int64_t now_val;
} dedup_local;

static weir_err dedup_open(weir_ctx *ctx) {
    const dd_job_shared *sh = weir_ctx_udata(ctx);
    dedup_local *L = calloc(1, sizeof *L);
    if (!L) return WEIR_ENOMEM;
    weir_state_desc d = {.name = DD_STATE_NAME,
                         .kind = WEIR_STATE_VALUE,
                         .ttl_ms = sh->cfg.dedup_ttl_minutes * 60 * 1000};
    weir_error e = {0};
    weir_state_backend *be = weir_ctx_state_backend(ctx);
    L->keys = be ? weir_state_register(be, &d, &e) : NULL;
    if (!L->keys) {
        free(L);
        return weir_ctx_fail(ctx, WEIR_ESTATE, "cannot register dedup state: %s",
                             be ? e.msg : "operator is not keyed");
    }
    counters_init(&L->cn, weir_ctx_metrics(ctx));
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static int grow_dedup(dedup_local *L, size_t n) {
    if (n <= L->cap) return 0;
    size_t c = L->cap ? L->cap : 256;
    while (c < n)
        c *= 2;
    void *p[6] = {realloc(L->k, c * sizeof *L->k), NULL, NULL, NULL, NULL, NULL};
    if (!p[0]) return -1;
    L->k = p[0];
    if (!(p[1] = realloc(L->got, c * sizeof *L->got))) return -1;
    L->got = p[1];
    if (!(p[2] = realloc(L->put_vals, c * sizeof *L->put_vals))) return -1;
    L->put_vals = p[2];
    if (!(p[3] = realloc(L->put_keys, c * sizeof *L->put_keys))) return -1;
    L->put_keys = p[3];
    if (!(p[4] = realloc(L->dup, c))) return -1;
    L->dup = p[4];
    if (!(p[5] = realloc(L->set, 2 * c * sizeof *L->set))) return -1;
    L->set = p[5];
    L->set_cap = 2 * c;
    L->cap = c;
    return 0;
}

static uint64_t fnv1a(const void *p, size_t n) {
    return XXH3_64bits(p, n); /* xxHash (libxxhash), see docs/dependencies.md */
}

/* Inserts key i into the in-batch set; returns 1 if an equal key was already there. */
static int batch_seen(dedup_local *L, size_t i) {
    const weir_state_key *k = &L->k[i];
    size_t mask = L->set_cap - 1;
    for (size_t h = fnv1a(k->key, k->len) & mask;; h = (h + 1) & mask) {
        int32_t j = L->set[h];
        if (j < 0) {
            L->set[h] = (int32_t)i;
            return 0;
        }
        const weir_state_key *o = &L->k[j];
        if (o->len == k->len && memcmp(o->key, k->key, k->len) == 0) return 1;
    }
}

/* Starts loading the next record's value (an encoded event, ~1 KB, written by the gate on
 * another core) while the current one is parsed: decoding walks its string lengths, which are
 * spread over the whole value, and otherwise waits for each cache line in turn. */
static inline void prefetch_record(const weir_record *r) {
    for (uint32_t o = 0; o < r->value_len; o += 64)
        __builtin_prefetch(r->value + o);
}

static weir_err dedup_batch(weir_ctx *ctx, const weir_record *recs, size_t n) {
    const dd_job_shared *sh = weir_ctx_udata(ctx);
    dedup_local *L = weir_ctx_local(ctx);
    if (grow_dedup(L, n)) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        L->k[i].key = recs[i].key;
        L->k[i].len = recs[i].key_len;
        L->k[i].key_group = recs[i].key_group;
    }
    weir_err rc = weir_value_multi_get(L->keys, L->k, n, L->got);
    if (rc) return weir_ctx_fail(ctx, rc, "dedup state lookup failed");
    memset(L->set, 0xff, L->set_cap * sizeof *L->set);
    L->now_val = weir_ctx_now_ms(ctx);
    size_t nput = 0;
    for (size_t i = 0; i < n; i++) {
        L->dup[i] = L->got[i].data != NULL || batch_seen(L, i);
        if (!L->dup[i]) {
            L->put_keys[nput] = L->k[i];
            L->put_vals[nput].data = &L->now_val;
            L->put_vals[nput].len = sizeof L->now_val;
            nput++;
        }
    }
    if (nput && (rc = weir_value_multi_put(L->keys, L->put_keys, L->put_vals, nput)))
        return weir_ctx_fail(ctx, rc, "dedup state write failed");
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n) prefetch_record(&recs[i + 1]);
        if (!L->dup[i]) {
            weir_counter_add(L->cn.dedup_accepted, 1);
            if ((rc = weir_emit(ctx, &recs[i]))) return rc;
            continue;
        }
        weir_counter_add(L->cn.dup, 1);
        dd_event ev;
        if (dd_event_decode(recs[i].value, recs[i].value_len, &ev))
            return weir_ctx_fail(ctx, WEIR_EINTERNAL, "corrupt event record in dedup");
        dd_envelope env;
        weir_buf_reset(&L->details);
        weir_buf_puts(&L->details, "Duplicate detected for key: ");
        weir_buf_append(&L->details, ev.dedup_key.s, ev.dedup_key.n);
        if (L->details.oom) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
        wj_str d = {L->details.data, L->details.len};
        dd_envelope_from_event(&env, &ev, "DEDUP", "DUPLICATE", "duplicate_event", d,
                               weir_ctx_now_ms(ctx));
        rc = emit_envelope(ctx, sh, &L->cn, &L->env_buf, &env, 1);
        if (rc) return rc;
    }
    return WEIR_OK;
}

static void dedup_close(weir_ctx *ctx) {
    dedup_local *L = weir_ctx_local(ctx);
    if (!L) return;
    free(L->k);
    free(L->got);
    free(L->put_vals);
    free(L->put_keys);
    free(L->dup);
    free(L->set);
    weir_buf_free(&L->env_buf);
    weir_buf_free(&L->details);
    free(L);
}

static const weir_operator_def dedup_def = {
    .kind = "dedup", .open = dedup_open, .process_batch = dedup_batch, .close = dedup_close};

/* --------------------------------------------------------------------- parse */

typedef struct parse_local {
    dd_parser *parser;
    weir_json_parser *json;
    counters cn;
    weir_buf env_buf, details;
    weir_ctx *ctx;
    const dd_job_shared *sh;
    dd_event ev;
    weir_err rc;
} parse_local;

static weir_err parse_open(weir_ctx *ctx) {
    const dd_job_shared *sh = weir_ctx_udata(ctx);
    parse_local *L = calloc(1, sizeof *L);
    if (!L) return WEIR_ENOMEM;
    weir_error e = {0};
    L->parser = dd_parser_new(&sh->cfg, &e);
    L->json = weir_json_parser_new();
    if (!L->parser || !L->json) {
        dd_parser_free(L->parser);
        weir_json_parser_free(L->json);
        free(L);
        return weir_ctx_fail(ctx, e.code ? e.code : WEIR_ENOMEM, "%s", e.msg);
    }
    counters_init(&L->cn, weir_ctx_metrics(ctx));
    L->ctx = ctx;
    L->sh = sh;
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static int dlq_from_event(parse_local *L, const char *stage, const char *cls, const char *reason,
                          wj_str details) {
    dd_envelope env;
    dd_envelope_from_event(&env, &L->ev, stage, cls, reason, details, weir_ctx_now_ms(L->ctx));
    L->rc = emit_envelope(L->ctx, L->sh, &L->cn, &L->env_buf, &env, 0);
    return L->rc != WEIR_OK;
}

static int on_row(void *ud, dd_table t, const char *row, size_t len) {
    parse_local *L = ud;
    weir_buf_reset(&L->details);
    if (dd_row_too_large(len, L->sh->cfg.max_record_bytes, &L->details)) { /* §7.2 */
        weir_counter_add(L->cn.oversize, 1);
        weir_log(WEIR_LOG_WARN, weir_ctx_where(L->ctx), "%s (table %s, event id '%.*s')",
                 L->details.data, dd_table_name(t), (int)L->ev.event_id.n,
                 L->ev.event_id.s ? L->ev.event_id.s : "");
        wj_str d = {L->details.data, L->details.len};
        return dlq_from_event(L, "SINK_GUARD", "RECORD_TOO_LARGE", "record_too_large", d);
    }
    weir_counter_add(L->cn.rows[t], 1);
    const char *table = L->sh->table_names[t];
    weir_record r = {.key = (const uint8_t *)table,
                     .key_len = (uint32_t)strlen(table),
                     .value = (const uint8_t *)row,
                     .value_len = (uint32_t)len,
                     .timestamp_ms = L->ev.timestamp,
                     .key_group = -1};
    L->rc = weir_emit(L->ctx, &r);
    return L->rc != WEIR_OK;
}

static int on_parse_error(void *ud, dd_table t, wj_str msg) {
    parse_local *L = ud;
    (void)t;
    weir_counter_add(L->cn.parse_fail, 1);
    return dlq_from_event(L, "PARSE", "PARSING_FAILED", "parse_exception", msg);
}

static weir_err parse_process(weir_ctx *ctx, const weir_record *rec) {
    parse_local *L = weir_ctx_local(ctx);
    if (dd_event_decode(rec->value, rec->value_len, &L->ev))
        return weir_ctx_fail(ctx, WEIR_EINTERNAL, "corrupt event record in parse");
    weir_json root;
    weir_error e = {0};
    if (weir_json_parse(L->json, L->ev.raw_json.s, L->ev.raw_json.n, &root, &e)) {
        /* cannot happen for an event the gate accepted; still never lose it */
        wj_str d = wj_cstr(e.msg);
        weir_counter_add(L->cn.parse_fail, 1);
        dlq_from_event(L, "PARSE", "PARSING_FAILED", "parse_exception", d);
        return L->rc;
    }
    L->rc = WEIR_OK;
    dd_parse_event(L->parser, &L->ev, root, on_row, on_parse_error, L);
    return L->rc;
}

static void parse_close(weir_ctx *ctx) {
    parse_local *L = weir_ctx_local(ctx);
    if (!L) return;
    dd_parser_free(L->parser);
    weir_json_parser_free(L->json);
    weir_buf_free(&L->env_buf);
    weir_buf_free(&L->details);
    free(L);
}

static const weir_operator_def parse_def = {
    .kind = "parse", .open = parse_open, .process = parse_process, .close = parse_close};

/* ------------------------------------------------------------ clickhouse-dlq */

/* Rows the ClickHouse sink could not write (its "dlq" side output: rejected by the server, or
 * over CLICKHOUSE_SINK_MAX_RECORD_BYTES) become streaming_events_dlq rows (spec §5.2 stage
 * CLICKHOUSE_SINK / DLQ_SINK_WRITE, §5.4), guarded like every envelope row (§5.5). */
typedef struct chdlq_local {
    counters cn;
    weir_buf row;
} chdlq_local;

static weir_err chdlq_open(weir_ctx *ctx) {
    chdlq_local *L = calloc(1, sizeof *L);
    if (!L) return WEIR_ENOMEM;
    counters_init(&L->cn, weir_ctx_metrics(ctx));
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static weir_err chdlq_process(weir_ctx *ctx, const weir_record *rec) {
    const dd_job_shared *sh = weir_ctx_udata(ctx);
    chdlq_local *L = weir_ctx_local(ctx);
    weir_error e = {0};
    weir_buf_reset(&L->row);
    if (weir_clickhouse_dlq_row((const char *)rec->value, rec->value_len, weir_ctx_now_ms(ctx),
                                &L->row, &e))
        return weir_ctx_fail(ctx, e.code ? e.code : WEIR_EINTERNAL,
                             "ClickHouse DLQ record not understood: %s", e.msg);
    weir_counter_add(L->cn.dlq_total, 1);
    if (dd_row_too_large(L->row.len, sh->cfg.max_record_bytes, NULL)) { /* §5.5 */
        weir_counter_add(L->cn.oversize, 1);
        weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx),
                 "DLQ row of %zu bytes for a row ClickHouse refused exceeds %lld bytes: dropped "
                 "for the table",
                 L->row.len, (long long)sh->cfg.max_record_bytes);
        return WEIR_OK;
    }
    const char *table = sh->table_names[DD_T_DLQ];
    weir_record r = {.key = (const uint8_t *)table,
                     .key_len = (uint32_t)strlen(table),
                     .value = (const uint8_t *)L->row.data,
                     .value_len = (uint32_t)L->row.len,
                     .timestamp_ms = WEIR_NO_TIMESTAMP,
                     .key_group = -1};
    return weir_emit(ctx, &r);
}

static void chdlq_close(weir_ctx *ctx) {
    chdlq_local *L = weir_ctx_local(ctx);
    if (!L) return;
    weir_buf_free(&L->row);
    free(L);
}

static const weir_operator_def chdlq_def = {
    .kind = "clickhouse-dlq", .open = chdlq_open, .process = chdlq_process, .close = chdlq_close};

/* ---------------------------------------------------------------------- DAG */

static int add_sink(dd_job *j, const char *uid, const weir_operator_def *def, void *conf, int from,
                    const char *tag, int32_t p, weir_error *err) {
    int v = weir_graph_add(j->g, uid, uid, def, conf, p, err);
    if (v < 0 || weir_graph_connect(j->g, from, tag, v, WEIR_PART_FORWARD, err)) return -1;
    return v;
}

/* Attaches the DLQ or quarantine sinks behind vertex @p from. */
static int add_envelope_sinks(dd_job *j, int from, const char *prefix, int quarantine, int32_t p,
                              weir_error *err) {
    char uid[128], tag[64];
    snprintf(tag, sizeof tag, "%s-row", quarantine ? "quarantine" : "dlq");
    if (j->sh.rows_to_files) {
        snprintf(uid, sizeof uid, "%s-%s-file-sink", prefix, quarantine ? "quarantine" : "dlq");
        if (add_sink(j, uid, &weir_file_sink_def, &j->fsink, from, tag, p, err) < 0) return -1;
    }
    /* an envelope row the server refuses is not re-enveloped (no DLQ loop): with the sink's
     * "dlq" output left unconnected it fails the job, loudly */
    if (j->o.clickhouse) {
        snprintf(uid, sizeof uid, "%s-%s-clickhouse-sink", prefix,
                 quarantine ? "quarantine" : "dlq");
        if (add_sink(j, uid, &weir_clickhouse_sink_def, &j->ch, from, tag, p, err) < 0) return -1;
    }
    if (j->sh.env_to_kafka) {
        snprintf(uid, sizeof uid, "%s-%s-kafka-sink", prefix, quarantine ? "quarantine" : "dlq");
        snprintf(tag, sizeof tag, "%s-kafka", quarantine ? "quarantine" : "dlq");
        if (add_sink(j, uid, &weir_kafka_sink_def, quarantine ? &j->kquar : &j->kdlq, from, tag, p,
                     err) < 0)
            return -1;
    }
    return 0;
}

dd_job *dd_job_new(const dd_job_options *o, weir_error *err) {
    if (!o->kafka_bootstrap && !o->n_input_files) {
        weir_error_set(err, WEIR_EINVAL, 0, "no input: give --input FILE or --kafka BOOTSTRAP");
        return NULL;
    }
    if (!o->output_dir && !o->clickhouse) { /* typed rows must land somewhere: no silent drop */
        weir_error_set(err, WEIR_EINVAL, 0,
                       "no row output: give --output-dir DIR and/or --clickhouse URL");
        return NULL;
    }
    if (o->parallelism < 1) {
        weir_error_set(err, WEIR_EINVAL, 0, "parallelism must be >= 1");
        return NULL;
    }
    dd_job *j = calloc(1, sizeof *j);
    if (!j) {
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        return NULL;
    }
    j->o = *o;
    j->sh.cfg = o->cfg;
    j->sh.rows_to_files = o->output_dir != NULL;
    j->sh.env_to_kafka = o->kafka_bootstrap != NULL;
    j->sh.rows_out = o->output_dir != NULL || o->clickhouse != NULL;
    if (o->clickhouse) {
        j->ch = *o->clickhouse;
        j->ch.table_prefix[0] = '\0'; /* record keys already carry QUALITY_TABLE_PREFIX */
    }
    for (int t = 0; t < DD_T__COUNT; t++) {
        snprintf(j->sh.table_names[t], sizeof j->sh.table_names[t], "%s%s", o->cfg.table_prefix,
                 dd_table_name((dd_table)t));
        j->precreate[t] = j->sh.table_names[t];
    }
    j->precreate[DD_T__COUNT] = NULL;
    if (o->no_typed_rows) { /* only the envelope tables are written */
        j->precreate[0] = j->sh.table_names[DD_T_DLQ];
        j->precreate[1] = j->sh.table_names[DD_T_QUARANTINE];
        j->precreate[2] = NULL;
    }
    j->g = weir_graph_new(o->job_name ? o->job_name : "dedup");
    if (!j->g) {
        free(j);
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        return NULL;
    }
    int32_t p = o->parallelism, psrc;
    int src;
    if (o->kafka_bootstrap) {
        weir_kafka_source_conf *k = &j->ksrc;
        snprintf(k->bootstrap, sizeof k->bootstrap, "%s", o->kafka_bootstrap);
        for (int i = 0; i < o->cfg.n_input_topics && i < WEIR_MAX_TOPICS; i++)
            snprintf(k->topics[k->n_topics++], sizeof k->topics[0], "%s", o->cfg.input_topics[i]);
        snprintf(k->group_id, sizeof k->group_id, "%s", o->cfg.group_id);
        k->start = WEIR_KAFKA_START_EARLIEST;
        /* Appendix A: QUALITY_TOPIC_RESET_STRATEGY_MAP, topic=earliest|latest (default earliest) */
        for (int t = 0; t < k->n_topics; t++)
            for (int r = 0; r < o->cfg.n_topic_reset; r++)
                if (!strcmp(o->cfg.topic_reset[r][0], k->topics[t])) {
                    k->per_topic_start = 1;
                    k->topic_start[t] = strcmp(o->cfg.topic_reset[r][1], "latest")
                                            ? WEIR_KAFKA_START_EARLIEST
                                            : WEIR_KAFKA_START_LATEST;
                }
        k->bounded = o->bounded;
        k->props = o->props;
        psrc = p;
        src = weir_graph_add(j->g, DD_UID_SOURCE, "kafka-source", &weir_kafka_source_def, k, psrc,
                             err);
        j->sink_props = weir_config_new();
        if (!j->sink_props) {
            weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
            goto fail;
        }
        if (o->props) weir_config_foreach(o->props, copy_prop, j->sink_props);
        if (!weir_config_get(j->sink_props, "message.max.bytes", NULL))
            weir_config_set(j->sink_props, "message.max.bytes", DD_ENVELOPE_MAX_MESSAGE_BYTES);
        snprintf(j->kdlq.bootstrap, sizeof j->kdlq.bootstrap, "%s", o->kafka_bootstrap);
        snprintf(j->kdlq.topic, sizeof j->kdlq.topic, "%s", o->cfg.dlq_topic);
        j->kdlq.props = j->sink_props;
        snprintf(j->kquar.bootstrap, sizeof j->kquar.bootstrap, "%s", o->kafka_bootstrap);
        snprintf(j->kquar.topic, sizeof j->kquar.topic, "%s", o->cfg.quarantine_topic);
        j->kquar.props = j->sink_props;
    } else {
        weir_file_source_conf *f = &j->fsrc;
        f->paths = o->input_files;
        f->n_paths = o->n_input_files;
        snprintf(f->origin_topic, sizeof f->origin_topic, "%s",
                 o->cfg.n_input_topics ? o->cfg.input_topics[0] : "streaming_events");
        psrc = (int32_t)(o->n_input_files < (size_t)p ? o->n_input_files : (size_t)p);
        src =
            weir_graph_add(j->g, DD_UID_SOURCE, "file-source", &weir_file_source_def, f, psrc, err);
    }
    if (o->output_dir) {
        snprintf(j->fsink.dir, sizeof j->fsink.dir, "%s", o->output_dir);
        snprintf(j->fsink.suffix, sizeof j->fsink.suffix, ".jsonl");
        j->fsink.precreate = j->precreate;
    }
    if (src < 0) goto fail;
    int gate = weir_graph_add(j->g, DD_UID_GATE, "quality-gate", &gate_def, &j->sh, psrc, err);
    if (gate < 0 || weir_graph_connect(j->g, src, NULL, gate, WEIR_PART_FORWARD, err)) goto fail;
    if (add_envelope_sinks(j, gate, "gate", 0, psrc, err)) goto fail;
    int keyed_from = gate;
    if (o->post_gate_def) {
        keyed_from = weir_graph_add(j->g, DD_UID_POST_GATE, DD_UID_POST_GATE, o->post_gate_def,
                                    o->post_gate_udata, psrc, err);
        if (keyed_from < 0 ||
            weir_graph_connect(j->g, gate, NULL, keyed_from, WEIR_PART_FORWARD, err))
            goto fail;
    }
    int dedup = weir_graph_add(j->g, DD_UID_DEDUP, "dedup", &dedup_def, &j->sh, p, err);
    if (dedup < 0 || weir_graph_connect(j->g, keyed_from, NULL, dedup, WEIR_PART_HASH, err))
        goto fail;
    if (o->max_parallelism && weir_graph_set_max_parallelism(j->g, dedup, o->max_parallelism, err))
        goto fail;
    if (add_envelope_sinks(j, dedup, "dedup", 1, p, err)) goto fail;
    if (o->no_typed_rows) return j;
    int parse = weir_graph_add(j->g, DD_UID_PARSE, "parse", &parse_def, &j->sh, p, err);
    if (parse < 0 || weir_graph_connect(j->g, dedup, NULL, parse, WEIR_PART_FORWARD, err))
        goto fail;
    if (add_envelope_sinks(j, parse, "parse", 0, p, err)) goto fail;
    if (o->output_dir && add_sink(j, "typed-rows-file-sink", &weir_file_sink_def, &j->fsink, parse,
                                  NULL, p, err) < 0)
        goto fail;
    if (o->clickhouse) {
        int chs = add_sink(j, "typed-rows-clickhouse-sink", &weir_clickhouse_sink_def, &j->ch,
                           parse, NULL, p, err);
        int chd = chs < 0 ? -1
                          : weir_graph_add(j->g, "clickhouse-dlq", "clickhouse-dlq", &chdlq_def,
                                           &j->sh, p, err);
        if (chd < 0 ||
            weir_graph_connect(j->g, chs, WEIR_CLICKHOUSE_DLQ_TAG, chd, WEIR_PART_FORWARD, err) ||
            add_sink(j, "clickhouse-dlq-clickhouse-sink", &weir_clickhouse_sink_def, &j->ch, chd,
                     NULL, p, err) < 0 ||
            (o->output_dir && add_sink(j, "clickhouse-dlq-file-sink", &weir_file_sink_def,
                                       &j->fsink, chd, NULL, p, err) < 0))
            goto fail;
    }
    return j;
fail:
    dd_job_free(j);
    return NULL;
}

int dd_job_add_clickhouse_rows(dd_job *j, const char *prefix, int from, const char *tag, int32_t p,
                               weir_error *err) {
    if (!j->o.clickhouse) return 0;
    char uid[3][160];
    snprintf(uid[0], sizeof uid[0], "%s-clickhouse-sink", prefix);
    snprintf(uid[1], sizeof uid[1], "%s-clickhouse-dlq", prefix);
    snprintf(uid[2], sizeof uid[2], "%s-clickhouse-dlq-clickhouse-sink", prefix);
    int chs = add_sink(j, uid[0], &weir_clickhouse_sink_def, &j->ch, from, tag, p, err);
    int chd =
        chs < 0 ? -1 : weir_graph_add(j->g, uid[1], "clickhouse-dlq", &chdlq_def, &j->sh, p, err);
    if (chd < 0 ||
        weir_graph_connect(j->g, chs, WEIR_CLICKHOUSE_DLQ_TAG, chd, WEIR_PART_FORWARD, err) ||
        add_sink(j, uid[2], &weir_clickhouse_sink_def, &j->ch, chd, NULL, p, err) < 0)
        return -1;
    if (j->o.output_dir) {
        snprintf(uid[0], sizeof uid[0], "%s-clickhouse-dlq-file-sink", prefix);
        if (add_sink(j, uid[0], &weir_file_sink_def, &j->fsink, chd, NULL, p, err) < 0) return -1;
    }
    return 0;
}

weir_graph *dd_job_graph(dd_job *j) {
    return j->g;
}

void dd_job_summary(dd_job *j, weir_metrics *m, int64_t elapsed_ms, weir_buf *out) {
    (void)j;
    int64_t in = weir_metrics_value(m, "quality_gate.input");
    weir_buf_printf(out,
                    "{\"job\":\"dedup\",\"records_in\":%lld,\"accepted\":%lld,\"dlq\":%lld,"
                    "\"quarantine\":%lld,\"rows\":{",
                    (long long)in, (long long)weir_metrics_value(m, "quality_gate.dedup.accepted"),
                    (long long)weir_metrics_value(m, "dlq.envelopes"),
                    (long long)weir_metrics_value(m, "quarantine.envelopes"));
    for (int t = 0; t < DD_T_DLQ; t++) {
        char name[160];
        snprintf(name, sizeof name, "dedup.rows.%s", dd_table_name((dd_table)t));
        weir_buf_printf(out, "%s\"%s\":%lld", t ? "," : "", j->sh.table_names[t],
                        (long long)weir_metrics_value(m, name));
    }
    double rate = elapsed_ms > 0 ? (double)in * 1000.0 / (double)elapsed_ms : 0.0;
    weir_buf_printf(out, "},\"elapsed_ms\":%lld,\"records_per_s\":%.0f}", (long long)elapsed_ms,
                    rate);
}

void dd_job_free(dd_job *j) {
    if (!j) return;
    weir_graph_free(j->g);
    if (j->sh.env_to_kafka) {
        weir_kafka_sink_conf_cleanup(&j->kdlq);
        weir_kafka_sink_conf_cleanup(&j->kquar);
    }
    if (j->sh.rows_to_files) weir_file_sink_conf_cleanup(&j->fsink);
    weir_config_free(j->sink_props);
    free(j);
}
