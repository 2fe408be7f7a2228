/*
 * jobs/session/session.h - the workflow-session lifecycle job's pure logic (spec session-job.md).
 *
 * Pure, runtime-free C on plain structs so that operators can wrap it later:
 *   config.c       §10 LIFECYCLE_* environment variables                      (ws_config)
 *   signals.c      §1.2-§1.3 lifecycle signal extraction from parsed events    (ws_signal_*)
 *                  §5.1 capability rows from network_capabilities              (ws_cap_rows_*)
 *   attribution.c  §5.2-§5.6 capability cache, selector, resolver, method      (ws_cache_*,
 * ws_select_best, ws_resolve) state.c        §2 session state machine, §3 segments, §4 param
 * updates, §7 coverage and the byte encoding of each state                        (ws_session_*,
 * ws_segment_*, ...) window_join.c  §6 status / trace attribution against segment rows (ws_join_*)
 *   facts.c        §9 the seven fact tables as JSONEachRow lines               (ws_fact_*)
 *
 * Strings: every struct OWNS its strings in fixed-size NUL-terminated arrays (no heap, so the
 * structs are plain values that can be copied per operator, §1.4, and encoded byte-wise). An
 * input longer than the array is truncated and the owner's `truncated` flag is set (reported,
 * never silent). Nullable output strings carry an explicit `*_null` flag; "" is blank.
 * Timestamps are Unix epoch milliseconds (int64) everywhere.
 * Thread-safety: no global mutable state; each object is used by one thread at a time.
 */
#ifndef WEIR_JOBS_SESSION_H
#define WEIR_JOBS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/common/coerce.h"
#include "weir/buf.h"
#include "weir/error.h"
#include "weir/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ constants (§10) */

#define WS_ID_CAP 192    /**< stream/request/event ids, uids, gateways, trace types */
#define WS_WSID_CAP 400  /**< workflow_session_id (two ids + separators) */
#define WS_ADDR_CAP 96   /**< addresses (0x + 40 hex, plus slack) */
#define WS_URL_CAP 256   /**< orchestrator URLs */
#define WS_LABEL_CAP 160 /**< pipeline, model and gpu labels, states */
#define WS_MSG_CAP 512   /**< ai event message */

#define WS_ATTRIBUTION_TTL_MS 86400000LL /**< §10 attribution TTL, 24 h */
#define WS_CACHE_MAX_PER_KEY 32          /**< §5.2 max candidates per cache key */
#define WS_ATTRIBUTION_WAIT_MS 15000LL   /**< §6 pending wait (processing time) */
#define WS_SET_CAP 16                    /**< hashes kept per change-detection set (see state.c) */

/* ---------------------------------------------------------------------- configuration (§10) */

/** Resolver mode of §5.6. */
typedef enum ws_model_mode {
    WS_MODE_LEGACY_MISNAMED = 0,
    WS_MODE_NATIVE_CORRECT = 1
} ws_model_mode;

/** Lifecycle configuration. Plain value; defaults from ws_config_defaults(). */
typedef struct ws_config {
    ws_model_mode mode;            /**< LIFECYCLE_PIPELINE_MODEL_MODE, default legacy_misnamed */
    int64_t ttl_ms;                /**< attribution TTL (hard-coded 86 400 000 in the spec) */
    int max_per_key;               /**< cache bound per key (hard-coded 32 in the spec) */
    int64_t wait_ms;               /**< status/trace attribution wait (15 000 ms) */
    int64_t idle_retention_ms;     /**< LIFECYCLE_STATE_IDLE_RETENTION_MS (weir extension, issue #4
                                        item 4): a session idle this long in event time is finalized
                                        and cleared by a timer; 0 = never (spec behaviour). Default
                                        6 h. See docs/session-job.md. */
    int64_t closed_retention_ms;   /**< LIFECYCLE_STATE_CLOSED_RETENTION_MS: retention after the
                                        close trace (default 30 min); 0 = same as idle. */
    int64_t out_of_orderness_ms;   /**< LIFECYCLE_WATERMARK_OUT_OF_ORDERNESS_MS (weir, issue #4):
                                        bound of the per-split watermark generator, ms (default
                                        5000); the lifecycle operator applies signals in event-time
                                        order once the watermark passes them. */
    int64_t idle_timeout_ms;       /**< LIFECYCLE_WATERMARK_IDLE_TIMEOUT_MS: a source split with no
                                        record for this long (processing time) no longer holds the
                                        watermark back (default 60000; 0 = never idle). */
    int64_t watermark_interval_ms; /**< LIFECYCLE_WATERMARK_INTERVAL_MS: watermarks are emitted
                                        at most this often (processing time, default 200, Flink's
                                        auto-watermark interval) or every 4096 records. */
} ws_config;

/** Fills @p c with the defaults (legacy mode, spec constants, 6 h idle, 30 min after close,
 *  5 s out-of-orderness, 60 s split idleness, 200 ms watermark interval). */
void ws_config_defaults(ws_config *c);
/**
 * Reads LIFECYCLE_PIPELINE_MODEL_MODE (§5.6: trimmed, case-insensitive `native_correct`/`native`
 * → native, anything else → legacy), the two retention variables and the three
 * LIFECYCLE_WATERMARK_* variables (integers ≥ 0, ms; junk → the default, reported by
 * WEIR_EINVAL while every other variable is still applied) through
 * @p getenv_fn. Returns WEIR_OK or WEIR_EINVAL. Thread-safe if @p getenv_fn is.
 */
weir_err ws_config_from_env(ws_config *c, const char *(*getenv_fn)(const char *name));
/** Parses a mode text per §5.6 (NULL → legacy). */
ws_model_mode ws_mode_parse(const char *text);

/* --------------------------------------------------------------------- string helpers (§0) */

/** 1 if @p s is NULL, empty or ASCII whitespace only. */
int ws_blank(const char *s);
/** first_non_blank over @p n C strings (NULL allowed); "" if none. Returns one of the inputs
 *  (untrimmed) or a static "". */
const char *ws_fnb(int n, ...);
/** norm_addr: trim + ASCII lower-case into @p out (capacity @p cap, truncated); "" if blank.
 *  Returns 1 if truncated. */
int ws_norm_addr(char *out, size_t cap, const char *in);
/** Copies @p s (NULL → "") into @p dst of capacity @p cap; returns 1 if truncated. */
int ws_copy(char *dst, size_t cap, const char *s);
/** Copies slice @p s (null → "") into @p dst; returns 1 if truncated. */
int ws_copy_str(char *dst, size_t cap, wj_str s);
/** ASCII case-insensitive equality of trimmed @p a and @p b. */
int ws_eq_trim_ci(const char *a, const char *b);

/* ------------------------------------------------------------------------- signals (§1.2) */

/** Signal type of §1.2. */
typedef enum ws_signal_type {
    WS_SIG_STREAM_STATUS = 0,
    WS_SIG_STREAM_TRACE = 1,
    WS_SIG_AI_STREAM_EVENT = 2
} ws_signal_type;

/** One lifecycle signal (owned strings; a plain value, copy it per operator). Also carries the
 *  status/trace columns the §6 attribution rows need (input_fps, envelope gateway). */
typedef struct ws_signal {
    ws_signal_type type;
    int64_t signal_ts; /**< §1.2 */
    int64_t ingest_ts; /**< envelope event_ts */
    char workflow_session_id[WS_WSID_CAP];
    char event_id[WS_ID_CAP];
    char stream_id[WS_ID_CAP], request_id[WS_ID_CAP];
    char gateway[WS_ID_CAP];
    char source_event_uid[WS_ID_CAP];
    char orchestrator_address[WS_ADDR_CAP]; /**< norm_addr(data.orchestrator_info.address) */
    char orchestrator_url[WS_URL_CAP];      /**< raw */
    char pipeline[WS_LABEL_CAP], pipeline_hint[WS_LABEL_CAP], model_hint[WS_LABEL_CAP];
    char trace_type[WS_ID_CAP];         /**< STREAM_TRACE: data.type */
    char ai_event_type[WS_ID_CAP];      /**< AI_STREAM_EVENT: data.type */
    char message[WS_MSG_CAP];           /**< AI_STREAM_EVENT: data.message ("" default) */
    char status_state[WS_LABEL_CAP];    /**< STREAM_STATUS: data.state */
    char status_last_error[WS_MSG_CAP]; /**< STREAM_STATUS: "" when null/missing */
    int status_last_error_null;
    float status_output_fps; /**< data.inference_status.fps (0 default) */
    float status_input_fps;  /**< data.input_status.fps (0 default; §6 rows) */
    int has_start_time;
    int64_t start_time_ms;
    int truncated; /**< 1 if any field was truncated to its capacity */
} ws_signal;

/** Result of ws_signal_from_event(). */
typedef enum ws_sig_result { WS_SIG_OK = 0, WS_SIG_NOT_A_SIGNAL = 1 } ws_sig_result;

/**
 * §1.2: builds the signal of one accepted event. @p root is the parsed envelope, @p raw / @p
 * raw_len its decoded JSON text (for the SHA-256 uid fallback), @p raw_event_uid the dedup key
 * (may be null), @p now_ms the wall clock for the §1.1 timestamp fallback. Returns
 * WS_SIG_NOT_A_SIGNAL for every other event type (network_capabilities feeds the cache instead).
 * Memory: @p out owns copies of everything. Thread-safe (pure).
 */
ws_sig_result ws_signal_from_event(ws_signal *out, weir_json root, const char *raw, size_t raw_len,
                                   wj_str raw_event_uid, int64_t now_ms);
/** Zeroes @p s and sets the type (tests build signals by hand). */
void ws_signal_init(ws_signal *s, ws_signal_type type);
/** §1.3 into @p out (cap WS_WSID_CAP); returns 1 if truncated. */
int ws_workflow_session_id(char *out, const char *stream_id, const char *request_id,
                           const char *event_id);

/* ------------------------------------------------------------- capability rows / cache (§5) */

/** A capability snapshot reference (§5.2). Owned strings; "" blank, *_null for null. */
typedef struct ws_snapshot {
    int64_t snapshot_ts;
    char source_event_id[WS_ID_CAP];
    char canonical_address[WS_ADDR_CAP]; /**< normalised */
    char local_address[WS_ADDR_CAP];     /**< normalised hot wallet (row only) */
    char orchestrator_url[WS_URL_CAP];
    char pipeline[WS_LABEL_CAP];
    char model_id[WS_LABEL_CAP];
    char gpu_id[WS_LABEL_CAP];
    int gpu_null, model_null;
} ws_snapshot;

/** Visitor receiving each §5.1 capability row of an event; non-zero return stops. */
typedef int (*ws_cap_row_fn)(void *ud, const ws_snapshot *row);
/**
 * §5.1: walks a network_capabilities envelope (@p root) and calls @p fn per (orchestrator,
 * hardware, gpu) row, with snapshot_ts = @p event_ts and source_event_id = envelope id.
 * Returns the number of rows. Pure.
 */
int ws_cap_rows_from_event(weir_json root, int64_t event_ts, ws_cap_row_fn fn, void *ud);

/** The capability cache (broadcast state "capability-by-hot-wallet", §5.2). Heap-allocated
 *  open-addressing map key → bucket (≤ max_per_key refs). Not thread-safe. */
typedef struct ws_cache ws_cache;

/** Creates an empty cache with the given TTL and per-key bound. NULL on OOM. */
ws_cache *ws_cache_new(int64_t ttl_ms, int max_per_key);
/** Frees @p c (NULL accepted). */
void ws_cache_free(ws_cache *c);
/**
 * §5.2: upserts @p row under norm(local) and norm(canonical) (if different), pruning entries
 * older/newer than 2×TTL relative to @p row->snapshot_ts and bounding each bucket (oldest
 * evicted; equal timestamps: the larger candidate key is evicted first — deterministic choice
 * for open point §12.6). Returns WEIR_OK, or WEIR_ENOMEM (the cache is unchanged then).
 */
weir_err ws_cache_upsert(ws_cache *c, const ws_snapshot *row);
/** Lower-level: upsert into the bucket of exactly @p key with an explicit reference ts (§5.2,
 *  TV22). */
weir_err ws_cache_upsert_key(ws_cache *c, const char *key, const ws_snapshot *ref,
                             int64_t reference_ts);
/** Bucket of @p key (normalised by the caller) or NULL; *n receives its size. The pointer is
 *  valid until the next upsert. */
const ws_snapshot *ws_cache_bucket(const ws_cache *c, const char *key, int *n);
/** Number of keys in the cache. */
size_t ws_cache_keys(const ws_cache *c);
/** Visitor for ws_cache_foreach(): one key and its bucket (borrowed for the call). Non-zero
 *  return stops the walk. */
typedef int (*ws_cache_visit_fn)(void *ud, const char *key, const ws_snapshot *refs, int n);
/** Visits every non-empty bucket (unspecified order; operator-state snapshots). Returns the
 *  visitor's non-zero value or 0. */
int ws_cache_foreach(const ws_cache *c, ws_cache_visit_fn fn, void *ud);
/** Replaces the bucket of @p key by the @p n refs (restore of a snapshot: no pruning, no
 *  bounding). WEIR_EINVAL if n > max_per_key, WEIR_ENOMEM. */
weir_err ws_cache_set_bucket(ws_cache *c, const char *key, const ws_snapshot *refs, int n);

/** Selection context of §5.4. */
typedef struct ws_select_ctx {
    const char *model_hint, *url_hint, *gpu_hint;
    int64_t signal_ts, ttl_ms;
} ws_select_ctx;

/** §5.3 compatible(hint, candidate_model). */
int ws_compatible(const char *hint, const char *model);
/**
 * §5.4 select_best over @p n refs: returns the index of the chosen candidate or -1 (empty,
 * ambiguous, no compatible). Full ties: the smaller candidate key wins (deterministic, §12.6).
 */
int ws_select_best(const ws_snapshot *refs, int n, const ws_select_ctx *ctx);
/**
 * ws_select_best() over the bucket of @p key (normalised by the caller) in one step: returns
 * the chosen ref (valid until the next upsert) or NULL (no bucket, empty, ambiguous, no
 * compatible candidate). Same result as ws_select_best(ws_cache_bucket(...)), but uses the
 * normalised candidate strings the cache computed when each ref was inserted (the hot path:
 * three selections per signal).
 */
const ws_snapshot *ws_cache_select(const ws_cache *c, const char *key, const ws_select_ctx *ctx);
/** §5.2 candidate key into @p out (cap ≥ 1024). */
void ws_candidate_key(char *out, size_t cap, const ws_snapshot *ref);

/** §5.5 method / confidence. Returns a static method string; *conf gets the float32 value. */
const char *ws_attribution_method(int64_t signal_ts, int64_t snapshot_ts, int64_t ttl_ms,
                                  float *conf);

/** §5.6 resolver output (pointers into the inputs or static ""). */
typedef struct ws_resolution {
    const char *pipeline, *model_id, *compat_hint;
} ws_resolution;
/** §5.6 resolve(mode, signal, existing pipeline/model, snapshot or NULL). Pure. */
ws_resolution ws_resolve(ws_model_mode mode, const ws_signal *sig, const char *existing_pipeline,
                         const char *existing_model, const ws_snapshot *snap);
/** §5.6 canonical_pipeline(pipeline, model): "" if both non-blank and equal ignoring case. */
const char *ws_canonical_pipeline(const char *pipeline, const char *model);

/* ------------------------------------------------------------------ session state (§2, §7) */

/** A small set of 64-bit string hashes (cardinality only is ever output, §2.5). `n` saturates
 *  at WS_SET_CAP; `overflow` counts distinct values beyond it. */
typedef struct ws_hset {
    uint64_t h[WS_SET_CAP];
    uint32_t n, overflow;
} ws_hset;

/** The session accumulator of §2.1 (also the coverage accumulator of §7). Plain value. */
typedef struct ws_session {
    char workflow_session_id[WS_WSID_CAP];
    char stream_id[WS_ID_CAP], request_id[WS_ID_CAP];
    char pipeline[WS_LABEL_CAP], workflow_id[WS_LABEL_CAP], gateway[WS_ID_CAP];
    char orchestrator_address[WS_ADDR_CAP], orchestrator_url[WS_URL_CAP];
    char model_id[WS_LABEL_CAP], gpu_id[WS_LABEL_CAP];
    int model_null, gpu_null;
    const char *attribution_method; /**< static string; encoded as an enum */
    float attribution_confidence;
    int64_t session_start_ts, session_end_ts; /**< INT64_MAX / INT64_MIN sentinels */
    int64_t first_stream_request_ts, first_processed_ts, first_playable_ts; /**< INT64_MIN = null */
    uint8_t known_stream, startup_success, no_orchestrators_available, last_error_occurred;
    uint8_t closed; /**< saw gateway_ingest_stream_closed (retention only, not a spec field) */
    int64_t error_count, excusable_error_count, explicit_swap_count, event_count, version,
        params_update_count;
    int64_t status_sample_count, status_non_loading_sample_count,
        status_positive_output_sample_count, status_error_sample_count;
    char source_first_event_uid[WS_ID_CAP], source_last_event_uid[WS_ID_CAP];
    ws_hset canonical_orchestrators_seen, model_ids_seen, pipelines_seen;
    int64_t last_signal_ts; /**< max signal ts (retention timer base) */
    int truncated;
} ws_session;

#define WS_TS_NULL INT64_MIN

/** Fresh accumulator (§2.1) with the given id. */
void ws_session_init(ws_session *s, const char *workflow_session_id);
/** §2.2-§2.3 apply_signal (generic + type-specific). */
void ws_session_apply_signal(ws_session *s, const ws_signal *sig);
/** §5.7 apply_capability_attribution; @p snap NULL → nothing. */
void ws_session_apply_snapshot(ws_session *s, const ws_snapshot *snap, int64_t signal_ts,
                               int64_t ttl_ms);
/**
 * §2.6 the Session operator's per-signal procedure (steps 2-10) on @p s with cache @p cache
 * (may be NULL). @p sig is copied internally (the caller's copy is not mutated). After the call
 * emit ws_fact_session()/ws_fact_latency() from @p s.
 */
void ws_session_process(ws_session *s, const ws_signal *sig, const ws_cache *cache,
                        const ws_config *cfg);
/** §7: the coverage operator applies signals only (no resolver, no capability). */
void ws_coverage_process(ws_session *s, const ws_signal *sig);

/** §2.4-§2.5 derived values computed at emission. */
typedef struct ws_session_derived {
    int startup_success, startup_excused, startup_unexcused;
    int64_t confirmed_swap_count, inferred_orchestrator_change_count, swap_count;
    int loading_only_session, zero_output_fps_session;
    int64_t health_expected_signal_count, health_signal_count;
    float health_completeness_ratio;
    int has_model_change, has_pipeline_change;
} ws_session_derived;
/** Computes §2.4-§2.5 from @p s. */
void ws_session_derive(const ws_session *s, ws_session_derived *d);

/* --------------------------------------------------------------------------- segments (§3) */

/** The segment accumulator of §3.1. */
typedef struct ws_segment {
    char workflow_session_id[WS_WSID_CAP];
    int32_t segment_index;
    uint8_t open_segment;
    int64_t segment_start_ts, segment_end_ts; /**< end WS_TS_NULL = null */
    char gateway[WS_ID_CAP], pipeline[WS_LABEL_CAP];
    char orchestrator_address[WS_ADDR_CAP], orchestrator_url[WS_URL_CAP];
    char gpu_id[WS_LABEL_CAP], model_id[WS_LABEL_CAP], region[WS_LABEL_CAP];
    int gpu_null, model_null, region_null;
    const char *attribution_method;
    float attribution_confidence;
    const char *reason; /**< "initial" | "orchestrator_change" | "stream_closed" */
    char source_trace_type[WS_ID_CAP], source_event_uid[WS_ID_CAP];
    int64_t version;
    int truncated;
} ws_segment;

/** Fresh segment accumulator (§3.1). */
void ws_segment_init(ws_segment *g);
/**
 * §3.2-§3.3: processes @p sig; writes the 1 or 2 emitted rows (copies of the state at emission)
 * into @p rows and returns their number.
 */
int ws_segment_process(ws_segment *g, const ws_signal *sig, const ws_cache *cache,
                       const ws_config *cfg, ws_segment rows[2]);

/* ---------------------------------------------------------------------- param updates (§4) */

/** The param-update accumulator of §4. */
typedef struct ws_params {
    char workflow_session_id[WS_WSID_CAP], stream_id[WS_ID_CAP], request_id[WS_ID_CAP];
    char pipeline[WS_LABEL_CAP], gateway[WS_ID_CAP];
    char orchestrator_address[WS_ADDR_CAP], orchestrator_url[WS_URL_CAP];
    char model_id[WS_LABEL_CAP], gpu_id[WS_LABEL_CAP];
    int model_null, gpu_null;
    const char *attribution_method;
    float attribution_confidence;
    int64_t version;
    int truncated;
} ws_params;

/** One fact_workflow_param_updates row (§9.3): the state plus the update columns. */
typedef struct ws_param_row {
    ws_params st;
    int64_t update_ts;
    char message[WS_MSG_CAP];
    char source_event_uid[WS_ID_CAP];
} ws_param_row;

/** Fresh accumulator (§4). */
void ws_params_init(ws_params *p);
/** §4: processes @p sig; returns 1 and fills @p row when a params_update row is emitted. */
int ws_params_process(ws_params *p, const ws_signal *sig, const ws_cache *cache,
                      const ws_config *cfg, ws_param_row *row);

/* -------------------------------------------------------------- state encoding (weir state) */

/**
 * Encodes @p s as bytes appended to @p out (magic "WSS1", then fixed little-endian fields and
 * length-prefixed strings). ws_session_decode() reverses it; returns WEIR_OK or WEIR_EPARSE on
 * malformed/truncated/foreign bytes. Same pattern for segments and params.
 */
void ws_session_encode(weir_buf *out, const ws_session *s);
weir_err ws_session_decode(const void *p, size_t n, ws_session *s);
void ws_segment_encode(weir_buf *out, const ws_segment *g);
weir_err ws_segment_decode(const void *p, size_t n, ws_segment *g);
void ws_params_encode(weir_buf *out, const ws_params *p);
weir_err ws_params_decode(const void *buf, size_t n, ws_params *p);
/** Signals (channel records, pending buffers): magic "WSI2"; same contract as above. */
void ws_signal_encode(weir_buf *out, const ws_signal *s);
weir_err ws_signal_decode(const void *p, size_t n, ws_signal *s);
/** The source_event_uid of an encoded signal without decoding it (the encoding starts with
 *  it): *uid points into @p p. Returns 0, or -1 if @p p is not an encoded signal. */
int ws_signal_peek_uid(const void *p, size_t n, wj_str *uid);
/** Capability rows (broadcast records, cache snapshots): magic "WSC2"; same contract. */
void ws_snapshot_encode(weir_buf *out, const ws_snapshot *s);
weir_err ws_snapshot_decode(const void *p, size_t n, ws_snapshot *s);

/* ----------------------------------------------------------------- retention (issue #4.4) */

/**
 * The event-time instant at which the state of @p s may be finalized and cleared (weir
 * extension, see docs/session-job.md): last_signal_ts + closed_retention (after a close trace)
 * or + idle_retention; INT64_MAX when retention is disabled. The lead registers an event-time
 * timer for it and re-registers after each signal; on firing, if the deadline has not moved,
 * the state of all four keyed operators for the key is cleared (no extra row is emitted: every
 * signal already emitted the session's latest row).
 */
int64_t ws_session_expiry(const ws_session *s, const ws_config *cfg);

/* --------------------------------------------------- status / trace attribution (§6) */

/** Which §6 operator a join instance implements. */
typedef enum ws_join_kind { WS_JOIN_STATUS = 0, WS_JOIN_TRACE = 1 } ws_join_kind;

/** One emitted §6 row: the event, the covering segment (if attributed) and the flag. */
typedef struct ws_join_row {
    ws_signal ev;
    int attributed;                        /**< canonical attribution applied */
    ws_segment seg;                        /**< valid when attributed */
    char workflow_session_id[WS_WSID_CAP]; /**< the operator key */
} ws_join_row;

/** Per-key §6 state: segment rows by index plus the pending events. Heap (growable arrays). */
typedef struct ws_join ws_join;

/** Receives each emitted row; non-zero return is propagated. */
typedef int (*ws_join_emit_fn)(void *ud, const ws_join_row *row);

/** Creates the per-key state for key @p workflow_session_id. NULL on OOM. */
ws_join *ws_join_new(ws_join_kind kind, const char *workflow_session_id, int64_t wait_ms);
/** Frees @p j (NULL accepted). */
void ws_join_free(ws_join *j);
/** Input 1: a status/trace event at processing time @p now_ms; emits at once when covered,
 *  else queues it until @p now_ms + wait. Returns WEIR_OK or WEIR_ENOMEM. */
weir_err ws_join_on_event(ws_join *j, const ws_signal *ev, int64_t now_ms, ws_join_emit_fn fn,
                          void *ud);
/** Input 2: a segment row (replaces the stored row of its index when version ≥ stored). */
weir_err ws_join_on_segment(ws_join *j, const ws_segment *seg, ws_join_emit_fn fn, void *ud);
/** Timer at processing time @p now_ms: flushes every pending item with deadline ≤ now. */
void ws_join_on_timer(ws_join *j, int64_t now_ms, ws_join_emit_fn fn, void *ud);
/** Earliest pending deadline, or INT64_MAX when nothing is pending (timer registration). */
int64_t ws_join_next_deadline(const ws_join *j);
/** Number of pending events / stored segment rows (tests, state hygiene). */
size_t ws_join_pending(const ws_join *j);
size_t ws_join_segments(const ws_join *j);
/** Empties @p j (keeps its memory) and sets its key: reuse for another key. */
void ws_join_reset(ws_join *j, const char *workflow_session_id);
/**
 * Appends the state of @p j (magic "WSJ2"): the segment rows when @p with_segments (the status
 * and trace joins of one key hold the same rows, so the job stores them once) and the pending
 * events with their deadlines. Sets out->oom on allocation failure.
 */
void ws_join_encode(weir_buf *out, const ws_join *j, int with_segments);
/**
 * Adds the segments and pending events encoded at @p data to @p j (normally fresh or reset);
 * segments are added before pending events, so nothing is emitted. *used (may be NULL) gets the
 * bytes consumed. WEIR_OK, WEIR_EPARSE (malformed) or WEIR_ENOMEM.
 */
weir_err ws_join_decode(ws_join *j, const void *data, size_t len, size_t *used);
/** Adds every segment row of @p src to @p dst (no emission: call before adding pending). */
weir_err ws_join_copy_segments(ws_join *dst, const ws_join *src);

/* ------------------------------------------------------------------------ fact rows (§9) */

/** Appends one fact_workflow_sessions row (§9.1), no newline. */
void ws_fact_session(weir_buf *out, const ws_session *s);
/** Appends one fact_workflow_latency_samples row (§2.7, §9.5). */
void ws_fact_latency(weir_buf *out, const ws_session *s);
/** Appends one fact_workflow_session_segments row (§9.2). */
void ws_fact_segment(weir_buf *out, const ws_segment *g);
/** Appends one fact_workflow_param_updates row (§9.3). */
void ws_fact_param_update(weir_buf *out, const ws_param_row *r);
/** Appends one fact_lifecycle_edge_coverage row (§7, §9.4) for coverage state @p s after
 *  @p sig was applied. */
void ws_fact_coverage(weir_buf *out, const ws_session *s, const ws_signal *sig);
/** Appends one fact_stream_status_samples (WS_JOIN_STATUS) or fact_stream_trace_edges row. */
void ws_fact_join(weir_buf *out, ws_join_kind kind, const ws_join_row *r);

/** §2.7 latency deltas: returns 1 and sets *ms when both ends are set and b − a ≥ 0. */
int ws_latency_delta(int64_t a, int64_t b, double *ms);
/** §7 unmatched_reason for coverage state @p s after @p sig (static string). */
const char *ws_unmatched_reason(const ws_session *s, const ws_signal *sig);
/** §6 trace_category by prefix. */
const char *ws_trace_category(const char *trace_type);

#ifdef __cplusplus
}
#endif
#endif
