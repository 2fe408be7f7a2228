/*
 * jobs/session/job.h - the workflow-session lifecycle job as a weir DAG (spec session-job.md
 * §1.4; issue #4). `weir run session` and `weir run pipeline`.
 *
 *   source ─fwd─► quality gate ─fwd─► event-time (timestamps = signal time, per-split
 *                                      bounded-out-of-orderness watermarks with idleness)
 *     └─hash(dedup key)─► dedup ─fwd─► [parse ─► typed-row sinks]         (pipeline only)
 *                           └─fwd─► lifecycle-signals ─hash(workflow_session_id)──────┐
 *                                     └─side "capabilities" ─broadcast──────────────┐ │
 *                                                                                   ▼ ▼
 *                       lifecycle (keyed; input 0 = signals, input 1 = capability rows)
 *                         └─► fact rows (key = table) ─► file sink <dir>/<table>.jsonl
 *                                                     ─► ClickHouse sink (--clickhouse)
 *
 * The lifecycle operator runs the four keyed machines of §1.4 (session, segment, param
 * updates, coverage) and the two §6 window joins for one workflow_session_id: they all share
 * the key, so one keyed operator with one state blob per key replaces the five Flink operators
 * (each machine still gets its own copy of the signal and keeps its own accumulator). It holds
 * signals until the watermark passes them and applies them in event-time order (ties: source
 * event uid, then arrival), merged with the capability rows by their timestamps (a row wins a
 * tie), so input shuffled within the out-of-orderness bound gives the same facts. Late signals
 * (at or before the watermark) are applied at once (spec §8: nothing is rejected). The §6 wait
 * (15 s) is an EVENT-time timer (see docs/session-job.md for why); retention timers clear a
 * session's state (docs: LIFECYCLE_STATE_*_RETENTION_MS).
 *
 * State: keyed value state WS_STATE_NAME (per workflow_session_id, checkpointed and rescaled
 * by key group; compressed, see docs/session-job.md); operator state (snapshot_state): the
 * capability cache (broadcast state, identical on every subtask: restore keeps the first copy),
 * the capability rows and signals not yet reached by the watermark and the operator's event-time
 * timers (signals and timers are re-distributed by key group on restore).
 */
#ifndef WEIR_JOBS_SESSION_JOB_H
#define WEIR_JOBS_SESSION_JOB_H

#include "jobs/dedup/job.h"
#include "jobs/session/session.h"
#include "weir/weir.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What to run. Zero-initialise, then fill. Strings are borrowed for the job's lifetime. */
typedef struct ws_job_options {
    /** Inputs, outputs, parallelism, ClickHouse, dedup configuration: as for `weir run dedup`.
     *  ws_job_new() sets its no_typed_rows and post_gate_* fields itself. output_dir or
     *  clickhouse is required (fact rows always land somewhere). */
    dd_job_options dedup;
    ws_config cfg;  /**< lifecycle configuration (ws_config_defaults / ws_config_from_env) */
    int typed_rows; /**< 1 → `pipeline`: dedup typed rows and lifecycle facts in one DAG */
} ws_job_options;

/** A built session/pipeline job. */
typedef struct ws_job ws_job;

/** Builds the DAG for @p o (copied). NULL with @p err set on a bad option. */
ws_job *ws_job_new(const ws_job_options *o, weir_error *err);
/** The job graph (owned by @p j). */
weir_graph *ws_job_graph(ws_job *j);
/**
 * Appends the one-line JSON summary of a finished run: job, records_in, accepted, dlq,
 * quarantine, signals, capability_rows, late_signals, sessions_expired, rows (table → count:
 * the seven fact tables, plus the typed tables for `pipeline`), elapsed_ms, records_per_s.
 */
void ws_job_summary(ws_job *j, weir_metrics *m, int64_t elapsed_ms, weir_buf *out);
/** Frees the job (after the weir_job using its graph has been freed). NULL accepted. */
void ws_job_free(ws_job *j);

/** The seven fact tables of §9 (index = ws_fact_table). */
typedef enum ws_fact_table {
    WS_T_SESSIONS = 0,
    WS_T_LATENCY,
    WS_T_SEGMENTS,
    WS_T_PARAMS,
    WS_T_COVERAGE,
    WS_T_STATUS,
    WS_T_TRACE,
    WS_T__COUNT
} ws_fact_table;
/** ClickHouse table name of @p t, e.g. "fact_workflow_sessions" (static). */
const char *ws_fact_table_name(ws_fact_table t);

/** Operator uids and the keyed state's name, for tools and tests. */
#define WS_UID_SIGNALS "lifecycle-signals"
#define WS_UID_LIFECYCLE "lifecycle"
#define WS_STATE_NAME "workflow-lifecycle-state"
/** Side-output tag of lifecycle-signals carrying capability rows. */
#define WS_TAG_CAPABILITIES "capabilities"

/** The lifecycle operator (udata: ws_job_shared via ws_job_new; exposed for unit tests that
 *  build their own graphs with ws_lifecycle_udata()). */
extern const weir_operator_def ws_lifecycle_def;
/** The signal extraction operator (udata as above): input = dedup output (encoded dd_event). */
extern const weir_operator_def ws_signals_def;
/** The event-time assigner / watermark generator (udata as above): input = gate output. */
extern const weir_operator_def ws_event_time_def;
/** Creates the udata the three operators above share (copy of @p cfg); free with free(). */
void *ws_lifecycle_udata(const ws_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
