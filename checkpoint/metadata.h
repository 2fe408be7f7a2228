/*
 * checkpoint/metadata.h - the `_metadata` file of a completed checkpoint or savepoint and the
 * checkpoint directory layout (issue #3, DESIGN.md §4). Internal to weir (used by the job runtime
 * and the tools), not part of the public API.
 *
 * Layout:  <checkpoint-dir>/<job-id>/chk-<n>/_metadata        completed checkpoint n
 *          <checkpoint-dir>/<job-id>/chk-<n>/<uid>-<subtask>/   keyed state of one subtask
 *          <savepoint-dir>/savepoint-<job-id6>-<n>/_metadata     savepoints (same content)
 * A checkpoint directory without `_metadata` is incomplete (in progress, failed or crashed).
 * `_metadata` is protobuf (checkpoint/metadata.proto), written to a temporary file, fsynced and
 * renamed, so it is either absent or complete.
 *
 * Memory: a wck_metadata owns every string and buffer it points to; wck_metadata_clear() frees.
 * Thread-safety: functions are reentrant; a wck_metadata is used by one thread at a time.
 */
#ifndef WEIR_CHECKPOINT_METADATA_H
#define WEIR_CHECKPOINT_METADATA_H

#include <stddef.h>
#include <stdint.h>

#include "weir/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** State of one subtask of one operator in a checkpoint. */
typedef struct wck_subtask {
    int32_t subtask;
    int32_t kg_start, kg_end; /**< key-group range owned (inclusive); -1/-1 when not keyed */
    uint8_t *op_state;        /**< operator (non-keyed) state from snapshot_state(); owned */
    size_t op_state_len;
    char *keyed_dir;      /**< keyed state directory relative to the checkpoint dir, or NULL */
    uint64_t keyed_bytes; /**< size of that snapshot (bytes) */
} wck_subtask;

/** One operator (vertex) of the job, matched by uid on restore. */
typedef struct wck_operator {
    char *uid;
    int32_t parallelism, max_parallelism;
    wck_subtask *subtasks; /**< owned array of n_subtasks */
    int n_subtasks;
} wck_operator;

/** The content of `_metadata`. */
typedef struct wck_metadata {
    char *job_id; /**< 32 hex digits */
    char *job_name;
    int64_t checkpoint_id;
    int is_savepoint;
    int canonical;          /**< 1 = keyed state in the canonical format (savepoints) */
    char *state_backend;    /**< "heap" | "rocksdb" that wrote it */
    int64_t trigger_ts_ms;  /**< wall clock at trigger */
    int64_t complete_ts_ms; /**< wall clock when the last acknowledgement arrived */
    uint64_t total_bytes;   /**< sum of keyed_bytes and op_state lengths */
    wck_operator *ops;      /**< owned array */
    int n_ops;
} wck_metadata;

/** Frees everything @p m owns and zeroes it (NULL accepted). */
void wck_metadata_clear(wck_metadata *m);
/** Adds an operator (uid copied) and returns it, or NULL on OOM (or uid NULL, parallelism < 0).
 *  Its subtasks array has @p parallelism zeroed entries with subtask indices set and
 *  kg_start/kg_end = -1; the caller fills them (buffers it stores become owned by @p m). The
 *  returned pointer is valid until the next wck_metadata_add_operator() on @p m (the array may
 *  move). */
wck_operator *wck_metadata_add_operator(wck_metadata *m, const char *uid, int32_t parallelism,
                                        int32_t max_parallelism);
/** Finds an operator by uid, NULL if absent; the pointer is into @p m (not owned). */
const wck_operator *wck_metadata_find(const wck_metadata *m, const char *uid);

/** Writes @p m as `<chk_dir>/_metadata` atomically (temporary file, fsync, rename, fsync of the
 *  directory). @p chk_dir must exist (it is not created); an existing `_metadata` is replaced.
 *  NULL strings are written as "". WEIR_EIO with @p err set (path and system message) on failure
 *  (e.g. read-only directory): the temporary file is removed and no `_metadata` is left, also
 *  when only the directory fsync failed. WEIR_EINVAL for inconsistent arrays (e.g. op_state_len
 *  without op_state), WEIR_ENOMEM. */
weir_err wck_metadata_write(const char *chk_dir, const wck_metadata *m, weir_error *err);
/** Reads `_metadata` from @p path (a checkpoint/savepoint directory or the file itself) into
 *  @p out (zeroed first; the caller frees it with wck_metadata_clear(), also left zeroed on
 *  error). Strings read are never NULL ("" when unset) except keyed_dir (NULL when none).
 *  WEIR_ENOTFOUND if absent, WEIR_EPARSE if corrupt (not protobuf, no weir magic, or a format
 *  version newer than this build), WEIR_EIO, WEIR_ENOMEM. */
weir_err wck_metadata_read(const char *path, wck_metadata *out, weir_error *err);

/** One completed checkpoint found in a job directory. */
typedef struct wck_entry {
    int64_t checkpoint_id;
    char path[1024]; /**< the chk-<n> directory */
    int64_t trigger_ts_ms, complete_ts_ms;
    uint64_t total_bytes;
} wck_entry;

/**
 * Lists completed checkpoints (those with a readable `_metadata`) of @p job_dir
 * (<checkpoint-dir>/<job-id>), ascending by id (the id of the directory name chk-<n>; names with
 * leading zeros or other characters are ignored). *out is malloc'ed (caller frees; NULL when
 * *n is 0), *n its length. A missing directory gives 0 entries and WEIR_OK; WEIR_EIO if it
 * cannot be read, WEIR_EINVAL if its path is too long for wck_entry.path.
 */
weir_err wck_list(const char *job_dir, wck_entry **out, size_t *n, weir_error *err);
/** The latest completed checkpoint of @p job_dir: WEIR_OK with *out, or WEIR_ENOTFOUND (and the
 *  errors of wck_list()). */
weir_err wck_latest(const char *job_dir, wck_entry *out, weir_error *err);
/**
 * Retention (state.checkpoints.num-retained): deletes completed checkpoints of @p job_dir beyond
 * the newest @p num_retained, and incomplete chk-<n> directories with n < @p keep_from_id (those
 * in progress have larger ids: pass the id of the oldest checkpoint in progress, or the next id
 * to trigger when none is). RocksDB SST files are hard links, so deleting an old checkpoint
 * never touches files a newer one shares. A checkpoint's `_metadata` is unlinked (durably)
 * before the rest, so an interrupted deletion leaves an incomplete directory. Deletes what it
 * can and returns the first failure (WEIR_EIO with the path); WEIR_EINVAL if
 * @p num_retained < 1. Not safe against a concurrent writer of the same chk-<n> below
 * @p keep_from_id (the coordinator is the only writer).
 */
weir_err wck_retain(const char *job_dir, int num_retained, int64_t keep_from_id, weir_error *err);

/** A stable job id for a job name: the first 32 lowercase hex digits of SHA-256(name) (NULL is
 *  ""), so a job restarted with the same command finds its checkpoints. @p out has room for 33
 *  bytes (NUL-terminated). Uses libcrypto's EVP SHA-256; should that ever fail, the id is 32
 *  '0' (no real name hashes to it). */
void wck_job_id_for(const char *job_name, char out[33]);

#ifdef __cplusplus
}
#endif
#endif
