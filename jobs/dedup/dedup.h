/*
 * jobs/dedup/dedup.h - the quality-gate/dedup job's building blocks (spec dedup-job.md).
 *
 * Stages, each in its own file:
 *   config.c    §11 + Appendix A configuration from environment variables     (dd_config)
 *   gate.c      §2-§4.2 decoding, ordered validation, accepted event, dedup key (dd_gate)
 *   event.c     binary encoding of an accepted event for channels              (dd_event_*)
 *   envelope.c  §5 rejected-event envelope: Kafka JSON (§5.3) and ClickHouse row (§5.4)
 *   parsers.c   §6 + Appendix A typed-row parsers, §7.1 row encoding           (dd_parser)
 *   job.c       the DAG: source → gate → keyBy(dedup key) → dedup → parse → sinks
 *
 * Strings are wj_str slices (see jobs/common/coerce.h); a slice with s == NULL is null.
 * Slices in a dd_event/dd_envelope borrow from the parsed document, the record bytes or the
 * owning object's scratch buffers: valid until the next call on the same object.
 */
#ifndef WEIR_JOBS_DEDUP_H
#define WEIR_JOBS_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/common/coerce.h"
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ configuration (§11) */

/** Maximum number of supported versions / topics kept from a comma list. */
#define DD_MAX_LIST 32

/** Job configuration; every field has the spec default after dd_config_defaults(). Owns its
 *  strings (fixed-size arrays, no heap). */
typedef struct dd_config {
    char kafka_bootstrap[512];           /**< QUALITY_KAFKA_BOOTSTRAP, default "kafka:9092" */
    char input_topics[DD_MAX_LIST][256]; /**< QUALITY_INPUT_TOPICS, else QUALITY_INPUT_TOPIC */
    int n_input_topics;
    char topic_org[DD_MAX_LIST][2][256]; /**< QUALITY_TOPIC_ORG_MAP pairs (topic, org) */
    int n_topic_org;
    char topic_reset[DD_MAX_LIST][2]
                    [256]; /**< QUALITY_TOPIC_RESET_STRATEGY_MAP (topic, earliest|latest) */
    int n_topic_reset;
    char dlq_topic[256];        /**< QUALITY_DLQ_TOPIC */
    char quarantine_topic[256]; /**< QUALITY_QUARANTINE_TOPIC */
    char group_id[256];         /**< QUALITY_GROUP_ID */
    int64_t dedup_ttl_minutes; /**< QUALITY_DEDUP_TTL_MINUTES, default 1440 (U4: junk → default) */
    char supported_versions[DD_MAX_LIST][64]; /**< QUALITY_SUPPORTED_VERSIONS (§3.4) */
    int n_supported_versions; /**< 0 = every version accepted (whitespace-only variable) */
    int64_t max_record_bytes; /**< CLICKHOUSE_SINK_MAX_RECORD_BYTES, default 1000000 */
    char table_prefix[64];    /**< QUALITY_TABLE_PREFIX, default "" (baseline names); "raw_" gives
                                 later names */
    char clickhouse_url[512]; /**< CLICKHOUSE_URL */
    char clickhouse_user[128];
    char clickhouse_password[128];
    char clickhouse_database[128]; /**< CLICKHOUSE_DATABASE or derived from the URL (§11, U3) */
    int64_t ch_max_batch_size, ch_max_in_flight, ch_max_buffered, ch_max_batch_bytes,
        ch_max_time_ms;
    int64_t metrics_rate_window_sec;
    char
        capability_catalog_path[1024]; /**< WEIR_CAPABILITY_CATALOG; "" = the built-in v1 catalog */
} dd_config;

/** Fills @p c with the spec defaults. */
void dd_config_defaults(dd_config *c);
/**
 * Reads the §11 and Appendix A environment variables through @p getenv_fn (pass getenv, or a
 * test double) over the defaults already in @p c. An unset or empty variable means "default";
 * integers that fail to parse after trimming fall back to the default. Returns WEIR_OK, or
 * WEIR_EINVAL when a value does not fit its field (never truncated: the default is kept), a list
 * has more than DD_MAX_LIST entries, or a reset strategy is neither earliest nor latest; every
 * other variable is still read. Not thread-safe only in that @p getenv_fn must be.
 */
weir_err dd_config_from_env(dd_config *c, const char *(*getenv_fn)(const char *name));

/* ---------------------------------------------------------------- records and events */

/** Kafka coordinates of an input record (§2.1). `present == 0` means "no source object". */
typedef struct dd_source {
    int present;
    wj_str topic;
    int32_t partition;
    int64_t offset;
    int64_t record_ts; /**< ms, -1 when the broker has none */
} dd_source;

/** The three dimensions of §4.2 (each may be null). */
typedef struct dd_dims {
    wj_str orchestrator, broadcaster, region;
} dd_dims;

/** An accepted event (§3.5) plus its dedup key (§4.1). */
typedef struct dd_event {
    wj_str event_id, event_type, event_version, gateway;
    wj_str raw_json;   /**< decoded raw JSON, verbatim (§2.2) */
    int64_t timestamp; /**< ts(root.timestamp), epoch ms */
    int replay;        /**< lbool(root.__replay) */
    dd_source source;
    dd_dims dims; /**< gate variant */
    wj_str dedup_key;
    const char *dedup_strategy; /**< "event_id" or "payload_hash" (static string) */
} dd_event;

/* ------------------------------------------------------------------- envelope (§5) */

/** Rejected-event envelope (§5.1). Static strings for the enumerations. */
typedef struct dd_envelope {
    dd_source source;
    const char *stage, *failure_class,
        *reason; /**< e.g. "SCHEMA_VALIDATION", "SCHEMA_INVALID", "missing_field" */
    wj_str details;
    wj_str event_id, event_type, event_version;
    int has_dims; /**< 0 → "dimensions": null */
    dd_dims dims;
    const char *payload_encoding; /**< "json" or "base64" */
    wj_str payload_body, canonical_json;
    wj_str dedup_key;
    const char *dedup_strategy; /**< NULL → null */
    int replay;
    int64_t ingestion_ts; /**< wall clock ms when built */
    int has_event_ts;
    int64_t event_ts;
} dd_envelope;

/**
 * Fills @p env from an accepted event (§5.2 last column) with the given failure triple and
 * details. Slices borrow from @p ev and @p details.
 */
void dd_envelope_from_event(dd_envelope *env, const dd_event *ev, const char *stage,
                            const char *failure_class, const char *reason, wj_str details,
                            int64_t now_ms);
/**
 * The pre-sink size guard of §7.2 / §5.5: returns 1 when a row of @p row_bytes UTF-8 bytes
 * (without the newline) is over @p limit (strictly greater; equality passes), and then, if
 * @p details is non-NULL, appends `Row size <n> exceeds limit <limit>` to it. Returns 0
 * otherwise. Pure, thread-safe. Test vectors G1-G5.
 */
int dd_row_too_large(size_t row_bytes, int64_t limit, weir_buf *details);
/** Appends the Kafka value of @p env: compact JSON, field order of §5.3. */
void dd_envelope_write_kafka(weir_buf *out, const dd_envelope *env);
/** Appends the ClickHouse JSONEachRow row of @p env (§5.4), no trailing newline. */
void dd_envelope_write_row(weir_buf *out, const dd_envelope *env);

/* ----------------------------------------------------------------------- gate (§2-§4) */

/** Result of the quality gate. */
typedef enum dd_gate_result {
    DD_GATE_ACCEPTED =
        0, /**< *ev filled; the parsed document is weir_json root from dd_gate_root() */
    DD_GATE_REJECTED = 1 /**< *env filled (DESERIALIZATION or SCHEMA_VALIDATION) */
} dd_gate_result;

/** Per-subtask gate: owns a JSON parser and scratch buffers. Not thread-safe. */
typedef struct dd_gate dd_gate;

/** Creates a gate using @p cfg (copied). NULL on allocation failure (message in @p err). */
dd_gate *dd_gate_new(const dd_config *cfg, weir_error *err);
/** Frees @p g (NULL accepted). */
void dd_gate_free(dd_gate *g);
/**
 * Runs decoding, the ordered checks of §3.1 and, on success, builds the accepted event and its
 * dedup key (§4.1: event id, else SHA-256 of type|D|C). @p value == NULL means an absent value
 * (tombstone). Exactly one of *ev / *env is filled, per the return value. Borrowed slices stay
 * valid until the next call on @p g. Never fails on any input bytes. @p now_ms (epoch ms) is used
 * only as a rejection's env->ingestion_ts: a caller that reads the clock only for rejections may
 * pass 0 and set env->ingestion_ts itself (the dedup job's gate operator does).
 */
dd_gate_result dd_gate_process(dd_gate *g, const void *value, size_t len, const dd_source *src,
                               int64_t now_ms, dd_event *ev, dd_envelope *env);
/** Root of the document parsed by the last dd_gate_process() call. */
weir_json dd_gate_root(const dd_gate *g);

/** Encodes @p ev (all fields, incl. source and dedup key) as bytes appended to @p out. */
void dd_event_encode(weir_buf *out, const dd_event *ev);
/** Decodes bytes written by dd_event_encode(); slices point into @p p. Returns WEIR_OK or
 *  WEIR_EPARSE on malformed input. */
weir_err dd_event_decode(const void *p, size_t n, dd_event *ev);

/* ------------------------------------------------------------------ parsers (§6, §7) */

/** Output tables. The order is the order of the summary's `rows` object. */
typedef enum dd_table {
    DD_T_AI_STREAM_STATUS = 0,
    DD_T_STREAM_INGEST_METRICS,
    DD_T_STREAM_TRACE_EVENTS,
    DD_T_NETWORK_CAPABILITIES,
    DD_T_NETWORK_CAPABILITIES_ADVERTISED,
    DD_T_NETWORK_CAPABILITIES_MODEL_CONSTRAINTS,
    DD_T_NETWORK_CAPABILITIES_PRICES,
    DD_T_AI_STREAM_EVENTS,
    DD_T_DISCOVERY_RESULTS,
    DD_T_PAYMENT_EVENTS,
    DD_T_DLQ,        /**< streaming_events_dlq */
    DD_T_QUARANTINE, /**< streaming_events_quarantine */
    DD_T__COUNT
} dd_table;

/** Baseline table name without prefix, e.g. "stream_trace_events". */
const char *dd_table_name(dd_table t);

/** Receives one typed row (compact JSON, no newline). Return 0 to continue, non-zero to abort. */
typedef int (*dd_row_fn)(void *ud, dd_table table, const char *row, size_t len);
/** Receives one parse failure (§6.0): one PARSE DLQ envelope is to be emitted per call.
 *  @p table names the output whose parser failed (Appendix A: four capability outputs each
 *  have their own DLQ path). */
typedef int (*dd_parse_error_fn)(void *ud, dd_table table, wj_str message);

/** Per-subtask parser state (scratch buffers, capability catalog). Not thread-safe. */
typedef struct dd_parser dd_parser;

/** Creates a parser; loads the capability catalog (built-in v1 unless configured). */
dd_parser *dd_parser_new(const dd_config *cfg, weir_error *err);
/** Frees @p p (NULL accepted). */
void dd_parser_free(dd_parser *p);
/**
 * Parses the accepted event @p ev whose document root is @p root with the parser of its type
 * (§6.1-§6.7 + Appendix A), calling @p row_fn per typed row in order and @p err_fn per parse
 * failure. Returns 0, or the first non-zero value returned by a callback.
 */
int dd_parse_event(dd_parser *p, const dd_event *ev, weir_json root, dd_row_fn row_fn,
                   dd_parse_error_fn err_fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
