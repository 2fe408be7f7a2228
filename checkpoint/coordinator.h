/*
 * checkpoint/coordinator.h - the checkpoint coordinator (issue #3, DESIGN.md §4; Flink's
 * CheckpointCoordinator). Internal to weir: the job runtime (runtime/job.c) owns one per job
 * that has a checkpoint directory.
 *
 * Protocol (aligned, Chandy-Lamport style as in Flink):
 *  1. The coordinator thread triggers checkpoint n: every `interval_ms`, never earlier than
 *     `min_pause_ms` after the previous one ended, at most one in flight; at once when a
 *     savepoint is requested or when every task has finished (the final checkpoint that commits
 *     the last outputs of a bounded job). It creates `<dir>/<job-id>/chk-n/` and calls the
 *     `trigger` hook: the runtime asks source tasks (and finished tasks) to snapshot; sources
 *     inject barrier n into their outputs; other tasks snapshot when barrier n has arrived on all
 *     their inputs (aligned) and forward it.
 *  2. Every task acknowledges with its operators' snapshots (wck_coord_ack) or declines.
 *  3. When all tasks acknowledged, `_metadata` is written atomically; the checkpoint is complete;
 *     retention deletes older ones beyond `num_retained`; the `complete` hook notifies every task
 *     (sinks commit, Kafka offsets are committed to the consumer group).
 *  4. A decline, a storage error or `timeout_ms` aborts the checkpoint. More than
 *     `tolerable_failures` consecutive failures fail the job through the `fail_job` hook.
 *
 * Thread-safety: every function may be called from any thread; hooks are called without the
 * coordinator's lock held, from the coordinator thread or from the thread that acknowledged.
 */
#ifndef WEIR_CHECKPOINT_COORDINATOR_H
#define WEIR_CHECKPOINT_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>

#include "weir/element.h"
#include "weir/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A vertex of the job as the coordinator records it in `_metadata`. */
typedef struct wck_vertex_info {
    const char *uid; /**< borrowed for the coordinator's lifetime */
    int32_t parallelism, max_parallelism;
} wck_vertex_info;

/** Callbacks into the runtime. */
typedef struct wck_coord_hooks {
    void *ud;
    /** Checkpoint/savepoint @p b was triggered: start it (inject barriers). */
    void (*trigger)(void *ud, const weir_barrier *b);
    /** Checkpoint @p id completed: notify every task. */
    void (*complete)(void *ud, int64_t id);
    /** Too many consecutive failures: fail the job with @p msg. */
    void (*fail_job)(void *ud, const char *msg);
    /** 1 when every task has finished its input (time for the final checkpoint). */
    int (*all_finished)(void *ud);
} wck_coord_hooks;

/** Coordinator configuration (Flink's keys in brackets). Zero-initialise, then fill. */
typedef struct wck_coord_conf {
    const char *base_dir; /**< [state.checkpoints.dir] required */
    const char *job_id;   /**< 32 hex digits */
    const char *job_name;
    const char *state_backend;
    int64_t interval_ms;    /**< [execution.checkpointing.interval] 0 = no periodic ones */
    int64_t min_pause_ms;   /**< [execution.checkpointing.min-pause] default 0 */
    int64_t timeout_ms;     /**< [execution.checkpointing.timeout] default 10 min */
    int tolerable_failures; /**< [execution.checkpointing.tolerable-failed-checkpoints] 0 */
    int num_retained;       /**< [state.checkpoints.num-retained] default 1 */
    int64_t first_id;       /**< id of the first checkpoint (restored id + 1, or 1) */
    const wck_vertex_info *vertices;
    int nvertices;
    int ntasks; /**< acknowledgements expected per checkpoint */
    wck_coord_hooks hooks;
} wck_coord_conf;

/** One operator subtask's part of an acknowledgement (all pointers borrowed during the call). */
typedef struct wck_ack_op {
    const char *uid;
    int32_t subtask;
    int32_t kg_start, kg_end; /**< -1/-1 when not keyed */
    const void *op_state;     /**< operator state from snapshot_state (copied) */
    size_t op_state_len;
    const char *keyed_dir; /**< relative to the snapshot directory, or NULL */
    uint64_t keyed_bytes;
} wck_ack_op;

/** The coordinator. */
typedef struct wck_coord wck_coord;

/** Creates a coordinator (conf copied; vertices and hooks.ud borrowed) and starts its thread.
 *  NULL with @p err set when the checkpoint directory cannot be created. */
wck_coord *wck_coord_start(const wck_coord_conf *conf, weir_error *err);
/** Stops the thread and frees the coordinator (NULL accepted). A checkpoint in flight is
 *  abandoned (its directory is cleaned up by the next run's retention). */
void wck_coord_free(wck_coord *c);

/** The directory where tasks write the snapshot of checkpoint/savepoint @p id into @p out
 *  (size @p cap). Returns @p out, or NULL if @p id is not in flight. */
const char *wck_coord_snapshot_dir(wck_coord *c, int64_t id, char *out, size_t cap);
/** Task @p task (0..ntasks-1) acknowledges @p id with @p n operator snapshots and the time it
 *  paused processing for the synchronous part (@p sync_ms). Stale ids are ignored. */
void wck_coord_ack(wck_coord *c, int task, int64_t id, const wck_ack_op *ops, int n,
                   int64_t sync_ms);
/** Task @p task declines @p id (snapshot failed): the checkpoint is aborted with @p reason. */
void wck_coord_decline(wck_coord *c, int task, int64_t id, const char *reason);
/** The id of the checkpoint in flight, or 0 if none. */
int64_t wck_coord_pending_id(wck_coord *c);
/** The id of the last completed checkpoint (0 if none yet). */
int64_t wck_coord_last_completed(wck_coord *c);

/**
 * Takes a savepoint into a new directory under @p target_dir (canonical state format) and waits
 * for it: WEIR_OK with the savepoint path in @p out_path, or the failure with @p err set
 * (WEIR_ETIMEOUT after the checkpoint timeout). @p stop = 1 marks it as stop-with-savepoint
 * (weir_barrier.is_savepoint == 2): sources stop emitting after their snapshot.
 */
weir_err wck_coord_savepoint(wck_coord *c, const char *target_dir, int stop, char *out_path,
                             size_t cap, weir_error *err);

#ifdef __cplusplus
}
#endif
#endif
