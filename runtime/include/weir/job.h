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
/** The job's counters (valid until weir_job_free). */
weir_metrics *weir_job_metrics(weir_job *job);
/** Frees a job after weir_job_wait() returned. */
void weir_job_free(weir_job *job);

#ifdef __cplusplus
}
#endif
#endif
