/*
 * state_internal.h - private contract between the keyed-state dispatch layer (state.c) and the
 * backends (state_heap.c, state_rocksdb.c). Not a public header.
 *
 * A backend struct embeds struct weir_state_backend as its first member and a backend state
 * embeds struct weir_state first, so the dispatch layer can downcast. state.c validates
 * arguments (state kind, current key, owned key groups) before calling the ops, so the ops may
 * assume: s->kind matches the call, be->has_key is set for per-key calls, and every key group
 * passed in is owned.
 *
 * Shared encodings (identical in both backends so that entries compare and enumerate the same):
 *   key prefix  = key_group (2 bytes big-endian) | varint(len(key)) | key      (then user key)
 *   TTL frame   = last-write timestamp ms (8 bytes little-endian) | payload    (ttl_ms > 0 only)
 *   list value  = element*, element = [timestamp (8 bytes LE) if ttl] | varint(len) | payload
 */
#ifndef WEIR_STATE_INTERNAL_H
#define WEIR_STATE_INTERNAL_H

#include "weir/buf.h"
#include "weir/state.h"

struct weir_snap_info; /* see "snapshots" below */

/** Operations a backend implements (see the public functions of the same name). */
typedef struct weir_state_ops {
    const char *name;
    void (*backend_free)(weir_state_backend *be);
    /** Creates the backend part of a new state; the dispatch layer fills the common fields. */
    weir_state *(*state_new)(weir_state_backend *be, const weir_state_desc *d, weir_error *err);
    void (*state_free)(weir_state *s);
    weir_err (*value_get)(weir_state *s, const void **val, size_t *len);
    weir_err (*value_put)(weir_state *s, const void *val, size_t len);
    weir_err (*value_clear)(weir_state *s);
    weir_err (*map_get)(weir_state *s, const void *uk, size_t uk_len, const void **val,
                        size_t *len);
    weir_err (*map_put)(weir_state *s, const void *uk, size_t uk_len, const void *val, size_t len);
    weir_err (*map_remove)(weir_state *s, const void *uk, size_t uk_len);
    weir_err (*map_foreach)(weir_state *s, weir_map_visit_fn fn, void *ud);
    weir_err (*map_clear)(weir_state *s);
    weir_err (*list_add)(weir_state *s, const void *val, size_t len);
    weir_err (*list_foreach)(weir_state *s, weir_list_visit_fn fn, void *ud);
    weir_err (*list_clear)(weir_state *s);
    /** keys[] have their key groups resolved (>= 0) and owned. */
    weir_err (*multi_get)(weir_state *s, const weir_state_key *keys, size_t n,
                          weir_state_slice *out);
    weir_err (*multi_put)(weir_state *s, const weir_state_key *keys, const weir_state_slice *vals,
                          size_t n);
    weir_err (*foreach_entry)(weir_state *s, weir_entry_visit_fn fn, void *ud);
    uint64_t (*approx_count)(weir_state *s);
    /** Physically removes expired entries now (RocksDB: full compaction of the column family;
     *  heap: one full cleanup pass). */
    weir_err (*compact)(weir_state *s);
    /** Native snapshot into the existing empty directory @p dir (see weir_state_backend_snapshot);
     *  NULL → the canonical format is the native one. */
    weir_err (*snapshot_native)(weir_state_backend *be, const char *dir, uint64_t *bytes,
                                weir_error *err);
    /** Optional fast restore of a native snapshot described by @p info (whose states are not yet
     *  registered): WEIR_EUNSUPPORTED when it does not apply (then the generic entry-by-entry
     *  restore runs), WEIR_OK when done (the states are then registered by the caller). */
    weir_err (*restore_native)(weir_state_backend *be, const char *dir,
                               const struct weir_snap_info *info, weir_error *err);
    /** Restore: inserts (replacing) one entry of state @p s. e->key_group is owned; e->val is the
     *  payload without TTL frame (list state: the serialized list, live elements only, with
     *  their timestamps when ttl > 0); @p ts is the last-write timestamp (value/map state with a
     *  TTL; 0 otherwise). e->expires_at_ms is ignored. May buffer: see restore_end. */
    weir_err (*restore_put)(weir_state *s, const weir_state_entry *e, int64_t ts);
    /** Makes every entry given to restore_put visible and ends the restore. */
    weir_err (*restore_end)(weir_state_backend *be);
} weir_state_ops;

/** Common part of every backend. */
struct weir_state_backend {
    const weir_state_ops *ops;
    weir_kg_range key_groups;
    int32_t max_parallelism;
    weir_clock_fn clock; /**< never NULL after init (wall clock by default) */
    void *clock_ud;
    weir_state **states; /**< registered states, owned */
    size_t nstates, cap_states;
    int has_key;         /**< 1 once weir_state_set_current_key() succeeded */
    int32_t cur_kg;      /**< current key's key group */
    weir_buf cur_key;    /**< current key bytes */
    weir_buf cur_prefix; /**< encoded prefix of the current key (see above) */
    weir_buf resolved;   /**< batch keys with resolved key groups (reused) */
    weir_error last_err; /**< details of the last failed per-key call (ops have no err arg) */
};

/** Common part of every state. */
struct weir_state {
    weir_state_backend *be;
    char *name;
    weir_state_kind kind;
    int64_t ttl_ms;
    weir_state_desc desc; /**< {name, kind, ttl_ms}: what weir_state_backend_state_desc returns */
};

/** Clears the current key: per-key calls then fail with WEIR_EINVAL until the next
 *  weir_state_set_current_key (the runtime does this for records of a non-keyed input, e.g. the
 *  broadcast side of a keyed operator, where Flink has no current key either). */
void weir_state_unset_current_key(weir_state_backend *be);
/** Initialises the common part from @p opt (validates the key-group range). */
weir_err weir_state_backend_init(weir_state_backend *be, const weir_state_ops *ops,
                                 const weir_backend_options *opt, weir_error *err);
/** Frees what weir_state_backend_init() and the dispatch layer allocated (not @p be itself). */
void weir_state_backend_fini(weir_state_backend *be);
/** Internal (tests, maintenance): removes expired entries of @p s physically, now. */
weir_err weir_state_compact(weir_state *s);
/** Current processing time of the backend's clock. */
static inline int64_t weir_state_now(const weir_state_backend *be) {
    return be->clock(be->clock_ud);
}
/** 1 if an entry written at @p ts with @p ttl_ms is expired at @p now (Flink: ts+ttl <= now). */
static inline int weir_ttl_expired(int64_t ts, int64_t ttl_ms, int64_t now) {
    return ttl_ms > 0 && ts + ttl_ms <= now;
}

/** Appends the encoded key prefix key_group | varint(len) | key to @p b. */
int weir_state_encode_prefix(weir_buf *b, int32_t key_group, const void *key, size_t len);
/** Decodes a prefix at @p p (@p n bytes): returns the prefix length, 0 if malformed. */
size_t weir_state_decode_prefix(const void *p, size_t n, int32_t *key_group, const void **key,
                                size_t *key_len);
/** Appends an unsigned varint (7 bits per byte, little-endian groups). */
int weir_state_put_varint(weir_buf *b, uint64_t v);
/** Reads a varint at @p p (at most @p n bytes): bytes consumed, 0 if malformed. */
size_t weir_state_get_varint(const unsigned char *p, size_t n, uint64_t *v);
/** Writes/reads a 64-bit little-endian integer. */
void weir_put_i64le(void *p, int64_t v);
int64_t weir_get_i64le(const void *p);

/** One element of a serialized list. */
typedef struct weir_list_iter {
    const unsigned char *p, *end;
    int has_ts;
} weir_list_iter;
/** Next element: 1 and fields set, 0 at the end, -1 when malformed. */
int weir_list_next(weir_list_iter *it, int64_t *ts, const void **val, size_t *len);
/** Appends one list element (with @p ts when @p has_ts). */
int weir_list_append_elem(weir_buf *b, int has_ts, int64_t ts, const void *val, size_t len);
/** Copies the live elements of a serialized list into @p out (reset first); returns the number
 *  of live elements, -1 if malformed; *max_expiry = the latest expiry of a live element. */
long weir_list_filter_live(weir_buf *out, const void *list, size_t len, int64_t ttl_ms, int64_t now,
                           int64_t *max_expiry);

/* ---- snapshots (state_snapshot.c; the RocksDB native reader is in state_rocksdb.c) ----
 *
 * A snapshot directory holds either the canonical file SNAP_CANONICAL_FILE, or a RocksDB
 * checkpoint in SNAP_ROCKSDB_DIR plus the manifest SNAP_MANIFEST_FILE (see state_snapshot.c for
 * both layouts). */
#define WEIR_SNAP_CANONICAL_FILE "keyed-state.bin"
#define WEIR_SNAP_ROCKSDB_DIR "db"
#define WEIR_SNAP_MANIFEST_FILE "states"

/** What a snapshot directory records besides its entries. Owned by the caller of
 *  weir_snap_info_load(); freed with weir_snap_info_free(). */
typedef struct weir_snap_info {
    int rocksdb;              /**< 1 = RocksDB native (db/ + states), 0 = canonical */
    int32_t max_parallelism;  /**< of the backend that wrote it */
    weir_kg_range key_groups; /**< key groups owned by the backend that wrote it */
    int nstates;
    weir_snapshot_state_info *states; /**< names owned */
} weir_snap_info;

/** Reads the header (canonical) or the manifest (RocksDB) of the snapshot in @p dir.
 *  WEIR_EIO (unreadable), WEIR_EPARSE (unknown format, corrupt) with @p err set. */
weir_err weir_snap_info_load(const char *dir, weir_snap_info *info, weir_error *err);
/** Frees what weir_snap_info_load() allocated (a zeroed info is accepted). */
void weir_snap_info_free(weir_snap_info *info);
/** Writes the manifest of a RocksDB native snapshot (the registered states of @p be, its
 *  max parallelism and key-group range) to @p dir/states: temporary file, fsync, rename. */
weir_err weir_snap_manifest_write(const char *dir, const weir_state_backend *be, weir_error *err);
/** Visitor of weir_snap_scan_fn: @p si indexes info->states. e->val is the payload without
 *  TTL frame (list state: the serialized list), e->expires_at_ms as in weir_state_entry
 *  (expired entries included). Return non-zero to stop. */
typedef int (*weir_snap_entry_fn)(void *ud, int si, const weir_state_entry *e);
/** Visits the entries of a RocksDB native snapshot whose key group is in @p range, per state
 *  of @p info in key order (opens @p dir/db read-only). */
weir_err weir_rdb_snapshot_scan(const char *dir, const weir_snap_info *info, weir_kg_range range,
                                weir_snap_entry_fn fn, void *ud, weir_error *err);
/** Fsyncs the directory @p dir (after a rename in it); 0 or -1 with errno. */
int weir_fsync_dir(const char *dir);

/** Results of weir_snapshot_bench() (times in ms, sizes in bytes). */
typedef struct weir_snapshot_bench_result {
    uint64_t entries;          /**< value-state entries written */
    uint64_t payload_bytes;    /**< key + value bytes written */
    uint64_t snapshot_bytes;   /**< *bytes reported by the snapshot */
    double fill_ms;            /**< filling the state */
    double snapshot_ms;        /**< weir_state_backend_snapshot (the synchronous part) */
    double restore_ms;         /**< weir_state_backend_restore into a fresh backend, same range */
    double restore_rescale_ms; /**< restore into a backend owning half the key groups */
} weir_snapshot_bench_result;

/**
 * Benchmark helper for `weir bench`: fills @p mb MiB (keys + values) of one value state of a new
 * @p backend ("heap" or "rocksdb") with @p value_len-byte values (0 → 100) under key groups
 * [0, 127] of max parallelism 128, snapshots it in format @p fmt and restores it into a fresh
 * backend of the same kind (same key groups, then half of them), checking the entry counts.
 * Everything lives below @p work_dir (created; removed afterwards). Fills @p out.
 * Returns WEIR_OK or the first error with @p err set. Not thread-safe with itself on one
 * @p work_dir; takes as long as the work (seconds for a few hundred MB).
 */
weir_err weir_snapshot_bench(const char *backend, weir_snapshot_format fmt, size_t mb,
                             size_t value_len, const char *work_dir,
                             weir_snapshot_bench_result *out, weir_error *err);

#endif
