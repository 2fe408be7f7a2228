/*
 * jobs/dedup/envelope.c - the rejected-event envelope (spec dedup-job.md §5): construction from
 * an accepted event (§5.2 last column), the Kafka JSON value (§5.3) and the ClickHouse
 * JSONEachRow row of streaming_events_dlq / streaming_events_quarantine (§5.4).
 *
 * Data structures: dd_envelope (dedup.h) is a plain struct of borrowed slices and static
 * enumeration strings; nothing here allocates except by appending to the caller's weir_buf.
 * Invariants: writers emit keys in the exact spec order, every string through
 * weir_json_write_string() (Jackson escaping, §4.3), nulls explicitly. A null enumeration
 * pointer (stage, class, reason, encoding) is written as JSON null in Kafka and "" in the row.
 * Thread-safety: all functions are reentrant (they touch only their arguments).
 */
#include <string.h>

#include "jobs/dedup/dedup.h"

int dd_row_too_large(size_t row_bytes, int64_t limit, weir_buf *details) {
    if ((int64_t)row_bytes <= limit) return 0;
    if (details)
        weir_buf_printf(details, "Row size %zu exceeds limit %lld", row_bytes, (long long)limit);
    return 1;
}

void dd_envelope_from_event(dd_envelope *env, const dd_event *ev, const char *stage,
                            const char *failure_class, const char *reason, wj_str details,
                            int64_t now_ms) {
    memset(env, 0, sizeof *env);
    env->source = ev->source;
    env->stage = stage;
    env->failure_class = failure_class;
    env->reason = reason;
    env->details = details;
    env->event_id = ev->event_id;
    env->event_type = ev->event_type;
    env->event_version = ev->event_version;
    env->has_dims = 1;
    env->dims = ev->dims;
    env->payload_encoding = "json";
    env->payload_body = ev->raw_json;
    env->canonical_json = wj_null();
    env->dedup_key = ev->dedup_key;
    env->dedup_strategy = ev->dedup_strategy;
    env->replay = ev->replay ? 1 : 0;
    env->ingestion_ts = now_ms;
    env->has_event_ts = 1;
    env->event_ts = ev->timestamp;
}

/* A nullable string: JSON null or the escaped string. */
static void put_nstr(weir_buf *out, wj_str s) {
    if (s.s)
        weir_json_write_string(out, s.s, s.n);
    else
        weir_buf_append(out, "null", 4);
}

/* A string column where null becomes "" (§5.4). */
static void put_str_or_empty(weir_buf *out, wj_str s) {
    if (s.s)
        weir_json_write_string(out, s.s, s.n);
    else
        weir_buf_append(out, "\"\"", 2);
}

/* Appends `,"key":` (or `"key":` when @p first). @p k is a literal. */
#define KEY(out, lit) weir_buf_append((out), lit, sizeof(lit) - 1)

void dd_envelope_write_kafka(weir_buf *out, const dd_envelope *env) {
    KEY(out, "{\"schemaVersion\":\"v1\",\"source\":");
    if (env->source.present) {
        KEY(out, "{\"topic\":");
        put_nstr(out, env->source.topic);
        KEY(out, ",\"partition\":");
        weir_buf_put_i64(out, env->source.partition);
        KEY(out, ",\"offset\":");
        weir_buf_put_i64(out, env->source.offset);
        KEY(out, ",\"recordTimestamp\":");
        weir_buf_put_i64(out, env->source.record_ts);
        weir_buf_putc(out, '}');
    } else {
        KEY(out, "null");
    }
    KEY(out, ",\"failure\":{\"stage\":");
    put_nstr(out, wj_cstr(env->stage));
    KEY(out, ",\"failureClass\":");
    put_nstr(out, wj_cstr(env->failure_class));
    KEY(out, ",\"reason\":");
    put_nstr(out, wj_cstr(env->reason));
    KEY(out, ",\"details\":");
    put_nstr(out, env->details);
    KEY(out, "},\"identity\":{\"eventId\":");
    put_nstr(out, env->event_id);
    KEY(out, ",\"eventType\":");
    put_nstr(out, env->event_type);
    KEY(out, ",\"eventVersion\":");
    put_nstr(out, env->event_version);
    KEY(out, "},\"dimensions\":");
    if (env->has_dims) {
        KEY(out, "{\"orchestrator\":");
        put_nstr(out, env->dims.orchestrator);
        KEY(out, ",\"broadcaster\":");
        put_nstr(out, env->dims.broadcaster);
        KEY(out, ",\"region\":");
        put_nstr(out, env->dims.region);
        weir_buf_putc(out, '}');
    } else {
        KEY(out, "null");
    }
    KEY(out, ",\"payload\":{\"encoding\":");
    put_nstr(out, wj_cstr(env->payload_encoding));
    KEY(out, ",\"body\":");
    put_nstr(out, env->payload_body);
    KEY(out, ",\"canonicalJson\":");
    put_nstr(out, env->canonical_json);
    KEY(out, "},\"dedupKey\":");
    put_nstr(out, env->dedup_key);
    KEY(out, ",\"dedupStrategy\":");
    put_nstr(out, wj_cstr(env->dedup_strategy));
    KEY(out, ",\"replay\":");
    if (env->replay)
        KEY(out, "true");
    else
        KEY(out, "false");
    KEY(out, ",\"ingestionTimestamp\":");
    weir_buf_put_i64(out, env->ingestion_ts);
    KEY(out, ",\"eventTimestamp\":");
    if (env->has_event_ts)
        weir_buf_put_i64(out, env->event_ts);
    else
        KEY(out, "null");
    weir_buf_putc(out, '}');
}

/* A quoted §7.1 timestamp. */
static void put_ts(weir_buf *out, int64_t ms) {
    weir_buf_putc(out, '"');
    wj_format_ts(out, ms);
    weir_buf_putc(out, '"');
}

void dd_envelope_write_row(weir_buf *out, const dd_envelope *env) {
    const dd_source *src = &env->source;
    KEY(out, "{\"schema_version\":\"v1\",\"source_topic\":");
    put_str_or_empty(out, src->present ? src->topic : wj_null());
    KEY(out, ",\"source_partition\":");
    weir_buf_put_i64(out, src->present ? src->partition : 0);
    KEY(out, ",\"source_offset\":");
    weir_buf_put_i64(out, src->present ? src->offset : 0);
    KEY(out, ",\"source_record_timestamp\":");
    put_ts(out, src->present ? src->record_ts : env->ingestion_ts);
    KEY(out, ",\"event_id\":");
    put_str_or_empty(out, env->event_id);
    KEY(out, ",\"event_type\":");
    put_str_or_empty(out, env->event_type);
    KEY(out, ",\"event_version\":");
    put_nstr(out, env->event_version);
    KEY(out, ",\"event_timestamp\":");
    if (env->has_event_ts)
        put_ts(out, env->event_ts);
    else
        KEY(out, "null");
    KEY(out, ",\"dedup_key\":");
    put_nstr(out, env->dedup_key);
    KEY(out, ",\"dedup_strategy\":");
    put_nstr(out, wj_cstr(env->dedup_strategy));
    KEY(out, ",\"replay\":");
    weir_buf_putc(out, env->replay ? '1' : '0');
    KEY(out, ",\"failure_stage\":");
    put_str_or_empty(out, wj_cstr(env->stage));
    KEY(out, ",\"failure_class\":");
    put_str_or_empty(out, wj_cstr(env->failure_class));
    KEY(out, ",\"failure_reason\":");
    put_str_or_empty(out, wj_cstr(env->reason));
    KEY(out, ",\"failure_details\":");
    put_str_or_empty(out, env->details);
    KEY(out, ",\"orchestrator\":");
    put_nstr(out, env->has_dims ? env->dims.orchestrator : wj_null());
    KEY(out, ",\"broadcaster\":");
    put_nstr(out, env->has_dims ? env->dims.broadcaster : wj_null());
    KEY(out, ",\"region\":");
    put_nstr(out, env->has_dims ? env->dims.region : wj_null());
    KEY(out, ",\"payload_encoding\":");
    put_str_or_empty(out, wj_cstr(env->payload_encoding));
    KEY(out, ",\"payload_body\":");
    put_str_or_empty(out, env->payload_body);
    KEY(out, ",\"payload_canonical_json\":");
    put_nstr(out, env->canonical_json);
    KEY(out, ",\"ingestion_timestamp\":");
    put_ts(out, env->ingestion_ts);
    weir_buf_putc(out, '}');
}
