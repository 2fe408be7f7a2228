/*
 * weir/operator.h - the operator contract and the task context (DESIGN.md §2).
 *
 * An operator is a table of callbacks (weir_operator_def) plus a user pointer given when the
 * graph is built. The runtime runs `parallelism` subtasks of it; each subtask gets its own
 * weir_ctx, calls open() once, then process()/process_batch() per input record, on_watermark()
 * per watermark, snapshot_state() at each checkpoint barrier, end_input() once at the end of a
 * bounded input, and close() always (if open() succeeded).
 * A source is an operator with poll() and no inputs; the runtime calls poll() in a loop.
 *
 * All callbacks of one subtask run on that subtask's task thread; different subtasks run
 * concurrently, so anything reached through weir_ctx_udata() must be read-only or thread-safe,
 * and per-subtask data belongs in weir_ctx_set_local(). A callback returning an error fails the
 * job (the message in weir_ctx_fail / the returned code is reported).
 */
#ifndef WEIR_OPERATOR_H
#define WEIR_OPERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "weir/buf.h"
#include "weir/config.h"
#include "weir/element.h"
#include "weir/error.h"
#include "weir/metrics.h"
#include "weir/state.h"
#include "weir/timer.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The per-subtask context handed to every callback. Owned by the runtime. */
typedef struct weir_ctx weir_ctx;

/** What a source's poll() reports. */
typedef enum weir_poll_status {
    WEIR_POLL_MORE = 0, /**< emitted records, call again */
    WEIR_POLL_IDLE,     /**< nothing available right now (runtime flushes outputs, then retries) */
    WEIR_POLL_END       /**< bounded input finished: no more records ever */
} weir_poll_status;

/** The operator contract. Unused callbacks are NULL. */
typedef struct weir_operator_def {
    const char *kind; /**< short type name for logs, e.g. "kafka-source", "dedup" */
    /** Called once per subtask before anything else. */
    weir_err (*open)(weir_ctx *ctx);
    /** Processes one input record; emits through weir_emit()/weir_emit_side(). */
    weir_err (*process)(weir_ctx *ctx, const weir_record *rec);
    /** Optional: processes a batch (the records of one channel batch); when set it is used
     *  instead of process() for records arriving over a channel. */
    weir_err (*process_batch)(weir_ctx *ctx, const weir_record *recs, size_t n);
    /** Sources only: emit up to @p max records and report the status. */
    weir_err (*poll)(weir_ctx *ctx, size_t max, weir_poll_status *status);
    /** Optional: a new input watermark (ms). The runtime forwards it downstream afterwards. */
    weir_err (*on_watermark)(weir_ctx *ctx, int64_t watermark_ms);
    /** Optional: a checkpoint barrier reached this subtask (after alignment): append the
     *  operator (non-keyed) state, e.g. source offsets, to @p out. Keyed state is snapshotted by
     *  the runtime. */
    weir_err (*snapshot_state)(weir_ctx *ctx, const weir_barrier *b, weir_buf *out);
    /** Optional: restore operator state written by snapshot_state() (called before open()).
     *  Union redistribution (Flink's union list state): every new subtask is called once for
     *  EACH old subtask's state, in old-subtask order, and keeps what it owns (e.g. the Kafka
     *  partitions assigned to it). So a job restores at any parallelism. */
    weir_err (*restore_state)(weir_ctx *ctx, const void *data, size_t len);
    /** Optional: checkpoint @p checkpoint_id completed on all tasks. */
    weir_err (*notify_checkpoint_complete)(weir_ctx *ctx, int64_t checkpoint_id);
    /** Optional: all inputs ended; flush anything buffered (emitting is still allowed). */
    weir_err (*end_input)(weir_ctx *ctx);
    /** Keyed operators with timers (weir/timer.h): timer @p ts_ms of domain @p d fired; the
     *  timer's key is the current key (also given as @p key/@p key_len, borrowed). Emitting is
     *  allowed. */
    weir_err (*on_timer)(weir_ctx *ctx, weir_time_domain d, int64_t ts_ms, const void *key,
                         size_t key_len);
    /** Optional: called on the task thread every `pipeline.auto-watermark-interval` (default
     *  200 ms, Flink's key) of processing time, whether records arrive or not (Flink's
     *  onPeriodicEmit): lets a watermark generator advance event time over idle splits.
     *  @p now_ms is the job clock. Emitting (records, watermarks) is allowed. */
    weir_err (*on_periodic_emit)(weir_ctx *ctx, int64_t now_ms);
    /** Optional: release per-subtask resources. Emitting is not allowed. */
    void (*close)(weir_ctx *ctx);
} weir_operator_def;

/** The pointer passed to weir_graph_add() for this operator (shared by all subtasks). */
void *weir_ctx_udata(const weir_ctx *ctx);
/** Per-subtask pointer, NULL until set. The operator owns what it points to (free in close()). */
void *weir_ctx_local(const weir_ctx *ctx);
/** Sets the per-subtask pointer. */
void weir_ctx_set_local(weir_ctx *ctx, void *local);
/** This subtask's index in [0, parallelism). */
int32_t weir_ctx_subtask(const weir_ctx *ctx);
/** The operator's parallelism. */
int32_t weir_ctx_parallelism(const weir_ctx *ctx);
/** The operator's max parallelism (number of key groups). */
int32_t weir_ctx_max_parallelism(const weir_ctx *ctx);
/** The key groups this subtask owns. */
weir_kg_range weir_ctx_key_groups(const weir_ctx *ctx);
/** The operator's stable uid and display name (borrowed). */
const char *weir_ctx_uid(const weir_ctx *ctx);
const char *weir_ctx_name(const weir_ctx *ctx);
/** A string "<name> (<subtask+1>/<parallelism>)" for log lines (borrowed). */
const char *weir_ctx_where(const weir_ctx *ctx);
/** The job configuration (read-only, thread-safe). */
const weir_config *weir_ctx_config(const weir_ctx *ctx);
/** The job's counters registry (thread-safe). */
weir_metrics *weir_ctx_metrics(const weir_ctx *ctx);
/** Processing time in epoch ms (the job's clock; tests may inject one). */
int64_t weir_ctx_now_ms(const weir_ctx *ctx);
/** The keyed state backend of this subtask, or NULL if the operator is not keyed (its input
 *  is not a hash edge). */
weir_state_backend *weir_ctx_state_backend(weir_ctx *ctx);
/** The input the record being processed arrived on: the index (0-based, in the order of the
 *  weir_graph_connect() calls into this operator) of its input edge; 0 for a chained operator.
 *  Lets an operator with a keyed and a broadcast input (broadcast state) tell them apart.
 *  Records of a non-hash input have no current key: keyed state and timers fail with
 *  WEIR_EINVAL while processing them (as Flink's processBroadcastElement has no key). */
int weir_ctx_input(const weir_ctx *ctx);
/** 1 when the job takes checkpoints: sinks then commit their output on
 *  notify_checkpoint_complete() (exactly-once), not as they write. */
int weir_ctx_checkpointing(const weir_ctx *ctx);
/** 1 once the job is being cancelled or has failed: long-running callbacks should return. */
int weir_ctx_cancelled(const weir_ctx *ctx);

/**
 * Emits @p rec on the main output. The record is copied (or processed synchronously by a chained
 * operator) before the call returns. May block when a downstream channel is full (backpressure).
 * For hash edges downstream, rec->key must be set: it selects the key group.
 * Returns WEIR_OK, WEIR_ECANCELLED when the job is stopping, or the error of a chained operator.
 */
weir_err weir_emit(weir_ctx *ctx, const weir_record *rec);
/** Emits on the side output @p tag. WEIR_EINVAL if no edge is connected to that tag (nothing is
 *  dropped silently). */
weir_err weir_emit_side(weir_ctx *ctx, const char *tag, const weir_record *rec);
/** Emits a watermark from a source (ms). Operators' watermarks are forwarded by the runtime. */
weir_err weir_emit_watermark(weir_ctx *ctx, int64_t watermark_ms);

/** Records a failure message for this subtask (shown as the job's error) and returns @p code. */
weir_err weir_ctx_fail(weir_ctx *ctx, weir_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
