/*
 * jobs/replay/replay.h - the bounded DLQ replay job (spec dedup-job.md §10, issue #5).
 *
 *   Kafka source (DLQ topic, earliest, bounded at the end offsets seen at start)
 *     └─forward─► replay (decode envelope §5.3, window, payload rules, loop guard, transform)
 *                   └─forward─► Kafka sink (input topic of the dedup job, value only, no key)
 *
 * Two layers:
 *  - the pure transformation (rp_replayer): one DLQ record in, either one replayed event or one
 *    skip reason out. No I/O, no clock (the caller passes "now"), deterministic.
 *  - the job (rp_job): the DAG above, the per-reason counters, progress and summary.
 *
 * Decisions on the spec's open points (docs/replay-job.md):
 *  - window bounds are BOTH INCLUSIVE (§10 code behaviour, vector R3; §14.3): a record is kept
 *    when start <= t <= end. Adjacent windows are written [a, b-1], [b, c-1]; an overlap can only
 *    replay a boundary record twice, which the dedup job absorbs, while an exclusive end chosen
 *    by mistake would lose records silently.
 *  - loop protection (§14.4, issue #5): an envelope whose payload already carries a truthy
 *    `__replay` (or whose envelope `replay` flag is true) is a replay that failed again; it is
 *    counted as RP_SKIP_REPLAYED and not re-published. rp_config.include_replayed = 1
 *    (REPLAY_INCLUDE_REPLAYED=true) restores the original behaviour (vector R1 as written).
 */
#ifndef WEIR_JOBS_REPLAY_H
#define WEIR_JOBS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "weir/weir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ configuration */

/** Replay job configuration (spec §10). Plain data; copy freely. */
typedef struct rp_config {
    char bootstrap[512]; /**< REPLAY_KAFKA_BOOTSTRAP → QUALITY_KAFKA_BOOTSTRAP → kafka:9092 */
    char dlq_topic[256]; /**< REPLAY_DLQ_TOPIC → QUALITY_DLQ_TOPIC →
                              events.dlq.streaming_events.v1 */
    char output_topic[256]; /**< REPLAY_OUTPUT_TOPIC → QUALITY_INPUT_TOPIC → streaming_events */
    char group_id[256];     /**< REPLAY_GROUP_ID → flink-dlq-replay-v1 (offsets are only committed
                                 for monitoring; the job always starts at the earliest offset) */
    int has_start;          /**< 1 when REPLAY_START_EPOCH_MS holds a bound */
    int64_t start_ms;       /**< inclusive lower bound, epoch ms (valid when has_start) */
    int has_end;            /**< 1 when REPLAY_END_EPOCH_MS holds a bound */
    int64_t end_ms;         /**< INCLUSIVE upper bound, epoch ms (valid when has_end) */
    int include_replayed;   /**< 0 (default): loop protection on, replays of replays are skipped;
                                 1: replay them too (original Java behaviour, §14.4) */
} rp_config;

/** Fills @p c with the defaults of §10 (no bounds, loop protection on). Never fails. */
void rp_config_defaults(rp_config *c);

/**
 * Overrides @p c from the environment through @p getenv_fn (e.g. getenv; tests pass a fake).
 * Variables and fallbacks as documented on rp_config; an unset or empty variable keeps the
 * current value. Bounds: unset, empty or unparsable (see rp_parse_bound) → no bound (a set but
 * unparsable value is logged at WARN). REPLAY_INCLUDE_REPLAYED: "true"/"1" (case-insensitive)
 * → 1, anything else → 0. Returns WEIR_EINVAL when a string does not fit its field (the field
 * keeps its previous value), WEIR_OK otherwise. Not thread-safe with respect to @p c.
 */
weir_err rp_config_from_env(rp_config *c, const char *(*getenv_fn)(const char *name));

/**
 * Parses a window bound: optional ASCII whitespace, optional sign, decimal digits, optional
 * whitespace; must fit int64 (Java Long.parseLong of the trimmed text). Returns 1 and sets
 * *out (epoch ms) or 0 for NULL, empty or unparsable text. Pure, thread-safe.
 */
int rp_parse_bound(const char *text, int64_t *out);

/* ----------------------------------------------------------- the transformation */

/** What happened to one DLQ record. Every record gets exactly one outcome. */
typedef enum rp_outcome {
    RP_REPLAYED = 0,      /**< re-published */
    RP_SKIP_MALFORMED,    /**< not an envelope: tombstone, not JSON, not an object, or a field of
                               the wrong JSON type (Jackson would fail to bind it) */
    RP_SKIP_NO_TIME,      /**< a window is set but the envelope has neither eventTimestamp nor
                               source.recordTimestamp (§14.6: the Java job would crash) */
    RP_SKIP_WINDOW,       /**< reference time outside [start, end] */
    RP_SKIP_NO_PAYLOAD,   /**< payload or payload.body is null/missing */
    RP_SKIP_ENCODING,     /**< payload.encoding is not "json" ignoring case (e.g. base64) */
    RP_SKIP_BODY_INVALID, /**< payload.body is not valid JSON */
    RP_SKIP_NOT_OBJECT, /**< payload.body is valid JSON but not an object (array, scalar, empty) */
    RP_SKIP_REPLAYED,   /**< loop protection: the payload is already a replay */
    RP__COUNT
} rp_outcome;

/** Short name of an outcome ("replayed", "malformed", "no_time", "window", "no_payload",
 *  "encoding", "body_invalid", "not_object", "replayed_again"); static string. */
const char *rp_outcome_name(rp_outcome o);
/** Job counter of an outcome: "replay.replayed", "replay.skipped_malformed", ...,
 *  "replay.skipped_replayed" (static string). */
const char *rp_outcome_counter(rp_outcome o);

/** One subtask's replay transformer: owns two JSON parsers. Not thread-safe; one per thread. */
typedef struct rp_replayer rp_replayer;

/** Creates a transformer for @p cfg (copied). NULL on allocation failure. */
rp_replayer *rp_replayer_new(const rp_config *cfg);
/** Frees @p r (NULL accepted). */
void rp_replayer_free(rp_replayer *r);

/**
 * Applies §10 to one DLQ record value (@p value, @p len bytes, UTF-8 JSON; NULL = tombstone).
 * Order of checks: decode envelope → window → payload null → encoding → body parse → body is an
 * object → loop protection → transform. On RP_REPLAYED the compact replayed event (document key
 * order; `__replay`=true, `__replay_ts`=@p now_ms, `__replay_source`="dlq" and, when the
 * envelope's `failure` is an object, `__replay_failure_class`; existing keys keep their
 * position, new ones are appended in that order) is APPENDED to @p out. On a skip nothing is
 * appended to @p out and, if @p detail is non-NULL, a short human explanation is appended to it
 * (for DEBUG logs). Allocation failure shows as out->oom / detail->oom. Never fails otherwise.
 */
rp_outcome rp_replay_record(rp_replayer *r, const void *value, size_t len, int64_t now_ms,
                            weir_buf *out, weir_buf *detail);

/* --------------------------------------------------------------------- the job */

/** What to run. Zero-initialise, then fill. Strings are borrowed for the job's lifetime. */
typedef struct rp_job_options {
    rp_config cfg;            /**< topics, bootstrap, window, loop protection */
    int32_t parallelism;      /**< source/replay/sink parallelism, >= 1 */
    const weir_config *props; /**< extra librdkafka properties (borrowed, may be NULL) */
} rp_job_options;

/** A built replay job: the graph and the connector configurations it points to. */
typedef struct rp_job rp_job;

/** Builds the DAG for @p o (copied). NULL with @p err set on a bad option or no memory. */
rp_job *rp_job_new(const rp_job_options *o, weir_error *err);
/** The job graph (owned by @p j); run it with weir_job_start(). */
weir_graph *rp_job_graph(rp_job *j);
/** Frees the job (after the weir_job using its graph has been freed); flushes the Kafka sink. */
void rp_job_free(rp_job *j);

/** Counters of a (running or finished) replay job, read from its metrics. */
typedef struct rp_progress {
    int64_t read;          /**< DLQ records consumed ("replay.read") */
    int64_t by[RP__COUNT]; /**< per outcome; by[RP_REPLAYED] = re-published */
    int64_t skipped;       /**< sum of all skip outcomes */
} rp_progress;

/** Reads the counters of @p m (a job's metrics; thread-safe, may be called while the job runs).
 *  Invariant once the job finished: read == by[RP_REPLAYED] + skipped. */
void rp_job_progress(weir_metrics *m, rp_progress *p);
/** Appends a one-line human progress text, e.g. "replay: read 120, replayed 100, skipped 20
 *  (window 15, encoding 5)" (only non-zero reasons listed; no newline). */
void rp_progress_write(weir_buf *out, const rp_progress *p);
/**
 * Appends the one-line JSON summary of a finished run: job, dlq_topic, output_topic, window
 * {start_ms, end_ms (null when unset), end_inclusive: true}, include_replayed, records_in,
 * replayed, skipped (total), skipped_by_reason {malformed, ..., replayed_again}, elapsed_ms,
 * records_per_s.
 */
void rp_job_summary(rp_job *j, weir_metrics *m, int64_t elapsed_ms, weir_buf *out);

/** Operator uids, for tools and tests. */
#define RP_UID_SOURCE "dlq-source"
#define RP_UID_REPLAY "replay"
#define RP_UID_SINK "replay-sink"
/** Counter of DLQ records consumed by the replay operator. */
#define RP_COUNTER_READ "replay.read"

#ifdef __cplusplus
}
#endif
#endif
