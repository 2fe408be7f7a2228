/*
 * weir/job.h - running a job graph in this process (DESIGN.md §2 execution graph).
 *
 * Each vertex becomes `parallelism` subtasks. Forward edges between vertices of equal
 * parallelism are chained: one task thread runs the whole chain and calls the next operator
 * directly. Every other edge becomes channels: bounded queues of record batches, one per
 * (producer subtask, consumer subtask) pair; a full channel blocks the producer (backpressure,
 * nothing dropped). Channels are reached through an interface so that a remote (TCP,
 * credit-based) implementation can replace them without touching operators.
 */
#ifndef WEIR_JOB_H
#define WEIR_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "weir/config.h"
#include "weir/error.h"
#include "weir/graph.h"
#include "weir/metrics.h"
#include "weir/state.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options for running a job. Zero-initialise, then set what you need. */
typedef struct weir_job_options {
    const char *state_backend;   /**< "heap" (default) or "rocksdb" */
    const char *state_dir;       /**< RocksDB base directory; default "<tmp>/weir-state-<pid>" */
    const weir_config *config;   /**< job configuration (borrowed); NULL = empty */
    size_t batch_records;        /**< records per channel batch; 0 → 512 */
    size_t channel_capacity;     /**< batches buffered per channel; 0 → 8 */
    int disable_chaining;        /**< 1 → every edge is a channel (tests) */
    weir_clock_fn clock;         /**< processing-time clock; NULL → wall clock */
    void *clock_ud;
    size_t rocksdb_block_cache_bytes;  /**< per keyed subtask; 0 → backend default */
    size_t rocksdb_write_buffer_bytes; /**< per keyed subtask; 0 → backend default */
    /* ---- fault tolerance (issue #3, DESIGN.md §4) ---- */
    /** Enables checkpoints: <checkpoint_dir>/<job-id>/chk-<n>/. The interval, min pause,
     *  timeout, mode, tolerable failures and retention come from `config` with Flink's keys:
     *  execution.checkpointing.interval (0/unset = only the final checkpoint and savepoints),
     *  .min-pause, .timeout (10 min), .mode (EXACTLY_ONCE | AT_LEAST_ONCE),
     *  .tolerable-failed-checkpoints (0), state.checkpoints.num-retained (1). */
    const char *checkpoint_dir;
    const char *job_id;          /**< NULL → stable id from the job name (wck_job_id_for) */
    /** A checkpoint or savepoint (directory or its _metadata) to restore from; NULL = fresh. */
    const char *restore_path;
    int allow_non_restored_state; /**< 1 → state of operators not in the graph is ignored */
} weir_job_options;

/** A running (or finished) job. */
typedef struct weir_job weir_job;

/** Validates @p g, builds the execution graph, opens all subtasks and starts the task threads.
 *  NULL on failure (bad graph, state directory not writable, an open() failed) with @p err set. */
weir_job *weir_job_start(const weir_graph *g, const weir_job_options *opt, weir_error *err);
/** Waits until every task finished (end of bounded input, cancel, or failure). Returns WEIR_OK,
 *  or the first failure (message in @p err). */
weir_err weir_job_wait(weir_job *job, weir_error *err);
/** Requests cancellation (thread-safe, async-signal-unsafe). Sources stop, tasks drain. */
void weir_job_cancel(weir_job *job);
/** Ends the job gracefully, like Flink's stop with drain: every source finishes at its next poll
 *  boundary as if its input had ended, operators run end_input() and flush, and the job
 *  completes with WEIR_OK. Only sets a flag: thread-safe and async-signal-safe. */
void weir_job_drain(weir_job *job);
/**
 * Takes a savepoint (canonical state format) into a new directory under @p target_dir and waits
 * for it; the path is written to @p out_path. @p stop = 1 is stop-with-savepoint: sources stop
 * after their snapshot and, once the savepoint completed, the job ends and weir_job_wait()
 * returns WEIR_OK. WEIR_EUNSUPPORTED when the job runs without a checkpoint directory; other
 * failures with @p err set. Thread-safe; blocks up to the checkpoint timeout.
 */
weir_err weir_job_savepoint(weir_job *job, const char *target_dir, int stop, char *out_path,
                            size_t cap, weir_error *err);
/** The job id (32 hex digits, borrowed). */
const char *weir_job_id(const weir_job *job);
/** The last completed checkpoint id (0 if none), thread-safe. */
int64_t weir_job_last_checkpoint(weir_job *job);
/** The checkpoint/savepoint id the job restored from (0 when it started fresh). */
int64_t weir_job_restored_from(const weir_job *job);
/** Called by weir_job_run() after each (re)start with the running job and the attempt number
 *  (0 = first start). The job stays valid until the next call or until weir_job_run returns. */
typedef void (*weir_job_started_fn)(void *ud, weir_job *job, int attempt);
/**
 * Runs a job to its end with Flink's restart strategies (runtime/restart.c): on a failure the job
 * is restarted from the latest completed checkpoint in opt->checkpoint_dir (state and source
 * offsets together) after the strategy's delay; the log says which checkpoint. Configuration keys
 * (opt->config): restart-strategy.type = none | fixed-delay | exponential-delay (default:
 * exponential-delay when checkpointing, else none); restart-strategy.fixed-delay.attempts (1),
 * .delay (1 s); restart-strategy.exponential-delay.initial-backoff (1 s), .max-backoff (1 min),
 * .backoff-multiplier (2.0), .jitter-factor (0.1), .reset-backoff-threshold (1 h),
 * .attempts-before-reset-backoff (unlimited). Returns the last attempt's result; *last (may be
 * NULL) receives the last job, which the caller frees (metrics of that attempt). A cancelled job
 * is not restarted. Thread-safety: call from one thread.
 */
weir_err weir_job_run(const weir_graph *g, const weir_job_options *opt, weir_job_started_fn fn,
                      void *ud, weir_job **last, weir_error *err);
/** Number of restarts weir_job_run performed in this process (for summaries and tests). */
int weir_job_restarts(void);
/** The job's counters (valid until weir_job_free). */
weir_metrics *weir_job_metrics(weir_job *job);
/** Frees a job after weir_job_wait() returned. */
void weir_job_free(weir_job *job);

#ifdef __cplusplus
}
#endif
#endif
