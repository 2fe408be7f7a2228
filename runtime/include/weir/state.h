/*
 * weir/state.h - keyed state: value, map and list state scoped to the current key, with
 * processing-time TTL, on a heap or a RocksDB backend (DESIGN.md §3).
 *
 * One backend instance serves one subtask of a keyed operator and owns a key-group range.
 * All state is stored per key group: in RocksDB the key is
 *   key_group (2 bytes, big-endian) | varint(len(key)) | key | user key (map state) ...
 * so one key group is one contiguous range (what makes rescaling and per-key-group snapshots
 * possible); one column family per registered state. TTL follows Flink's defaults:
 * update on create and write, never return expired values; expired entries are physically
 * removed by a RocksDB compaction filter and incrementally (a few entries per access) on the heap.
 *
 * Thread-safety: a backend and its states are used by one task thread only.
 * Memory: value pointers returned by getters are owned by the backend and valid until the next
 * call on the same backend.
 */
#ifndef WEIR_STATE_H
#define WEIR_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "weir/error.h"
#include "weir/keygroup.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The kinds of keyed state. */
typedef enum weir_state_kind {
    WEIR_STATE_VALUE = 1, /**< one value per key */
    WEIR_STATE_MAP,       /**< user-key → value per key */
    WEIR_STATE_LIST       /**< ordered list of values per key */
} weir_state_kind;

/** Describes a state to register. */
typedef struct weir_state_desc {
    const char *name; /**< unique per operator; becomes the column family name */
    weir_state_kind kind;
    int64_t ttl_ms; /**< time-to-live in ms of processing time; 0 = never expires */
} weir_state_desc;

/** Processing-time clock in epoch ms; used for TTL (tests inject a fake clock). */
typedef int64_t (*weir_clock_fn)(void *ud);

/** Options for creating a backend. Zero-initialise, then set what you need. */
typedef struct weir_backend_options {
    const char *dir;          /**< RocksDB: database directory (created if missing) */
    weir_kg_range key_groups; /**< key groups owned by this subtask */
    int32_t max_parallelism;  /**< the operator's max parallelism (number of key groups) */
    weir_clock_fn clock;      /**< NULL → wall clock */
    void *clock_ud;
    size_t block_cache_bytes;  /**< RocksDB block cache (bytes); 0 → 64 MiB */
    size_t write_buffer_bytes; /**< RocksDB memtable size (bytes); 0 → 64 MiB */
    /** RocksDB: the directory is not read again after weir_state_backend_free(), so writes
     *  still buffered in memory are dropped instead of written out. A job sets it: it empties
     *  working directories at start and restores only from checkpoints, which flush the buffer
     *  themselves. */
    int discard_on_close;
} weir_backend_options;

/** A keyed state backend instance (one per keyed subtask). */
typedef struct weir_state_backend weir_state_backend;
/** A registered state; owned by its backend. */
typedef struct weir_state weir_state;

/** Creates a heap backend (hash tables). NULL on failure with @p err set. */
weir_state_backend *weir_state_backend_heap_new(const weir_backend_options *opt, weir_error *err);
/** Opens (creating) a RocksDB backend in opt->dir. NULL on failure with @p err set
 *  (e.g. directory not writable). */
weir_state_backend *weir_state_backend_rocksdb_new(const weir_backend_options *opt,
                                                   weir_error *err);
/** Closes the backend and frees all its states (NULL accepted). Data in RocksDB stays on disk,
 *  except writes still buffered when the backend was opened with discard_on_close. */
void weir_state_backend_free(weir_state_backend *be);
/** "heap" or "rocksdb". */
const char *weir_state_backend_name(const weir_state_backend *be);

/** Registers (or returns the already registered) state @p d. NULL on failure (kind mismatch
 *  with an existing state of the same name, I/O error). */
weir_state *weir_state_register(weir_state_backend *be, const weir_state_desc *d, weir_error *err);

/** Sets the current key for the per-key accessors below. @p key_group < 0 → computed with
 *  weir_key_group_of(). The key bytes are copied. WEIR_EINVAL if the key group is not owned. */
weir_err weir_state_set_current_key(weir_state_backend *be, const void *key, size_t len,
                                    int32_t key_group);

/* ---- value state (current key) ---- */
/** Gets the value: WEIR_OK with *val and *len set, or WEIR_ENOTFOUND (absent or expired). */
weir_err weir_value_get(weir_state *s, const void **val, size_t *len);
/** Sets the value (refreshes the TTL timestamp). */
weir_err weir_value_put(weir_state *s, const void *val, size_t len);
/** Removes the value. */
weir_err weir_value_clear(weir_state *s);

/* ---- map state (current key) ---- */
/** Gets the value of user key @p uk: WEIR_OK or WEIR_ENOTFOUND. */
weir_err weir_map_get(weir_state *s, const void *uk, size_t uk_len, const void **val, size_t *len);
/** Puts user key @p uk → value (refreshes that entry's TTL). */
weir_err weir_map_put(weir_state *s, const void *uk, size_t uk_len, const void *val, size_t len);
/** Removes user key @p uk (absent is not an error). */
weir_err weir_map_remove(weir_state *s, const void *uk, size_t uk_len);
/** Visitor for map entries; return non-zero to stop. Pointers valid during the call only. */
typedef int (*weir_map_visit_fn)(void *ud, const void *uk, size_t uk_len, const void *val,
                                 size_t len);
/** Visits the live entries of the current key in ascending user-key byte order. */
weir_err weir_map_foreach(weir_state *s, weir_map_visit_fn fn, void *ud);
/** Removes all entries of the current key. */
weir_err weir_map_clear(weir_state *s);

/* ---- list state (current key) ---- */
/** Appends a value to the current key's list. */
weir_err weir_list_add(weir_state *s, const void *val, size_t len);
/** Visitor for list elements; return non-zero to stop. */
typedef int (*weir_list_visit_fn)(void *ud, const void *val, size_t len);
/** Visits the live elements in insertion order. */
weir_err weir_list_foreach(weir_state *s, weir_list_visit_fn fn, void *ud);
/** Removes the current key's list. */
weir_err weir_list_clear(weir_state *s);

/* ---- batch access with explicit keys (hot paths: one RocksDB MultiGet / WriteBatch) ---- */
/** An explicit key for batch calls. key_group < 0 → computed. */
typedef struct weir_state_key {
    const void *key;
    size_t len;
    int32_t key_group;
} weir_state_key;
/** A byte slice; data == NULL means absent. */
typedef struct weir_state_slice {
    const void *data;
    size_t len;
} weir_state_slice;
/** Looks up @p n keys of a VALUE state at once; out[i].data == NULL when absent or expired.
 *  Returned memory is valid until the next call on the backend. */
weir_err weir_value_multi_get(weir_state *s, const weir_state_key *keys, size_t n,
                              weir_state_slice *out);
/** Writes @p n key → value pairs of a VALUE state atomically (one RocksDB write batch). */
weir_err weir_value_multi_put(weir_state *s, const weir_state_key *keys,
                              const weir_state_slice *vals, size_t n);

/* ---- enumeration (savepoints, inspection, rescaling) ---- */
/** One physical entry. For value state uk is NULL; for list state uk is NULL and val is the whole
 *  serialized list. expires_at_ms is 0 when the state has no TTL. */
typedef struct weir_state_entry {
    int32_t key_group;
    const void *key;
    size_t key_len;
    const void *uk;
    size_t uk_len;
    const void *val;
    size_t val_len;
    int64_t expires_at_ms;
} weir_state_entry;
/** Visitor for weir_state_foreach_entry; return non-zero to stop. */
typedef int (*weir_entry_visit_fn)(void *ud, const weir_state_entry *e);
/** Visits every live entry of @p s in key-group order (expired entries are skipped). */
weir_err weir_state_foreach_entry(weir_state *s, weir_entry_visit_fn fn, void *ud);
/** Number of live entries (approximate for RocksDB: estimate-num-keys). */
uint64_t weir_state_approx_count(weir_state *s);

/* ---- snapshots and restore (checkpoints, savepoints, rescaling; issue #3, DESIGN.md §4) ---- */

/** How a backend snapshot is written. */
typedef enum weir_snapshot_format {
    /** The backend's own format: RocksDB → a RocksDB checkpoint (hard links; SST files shared
     *  with earlier checkpoints, i.e. incremental), heap → the canonical format. */
    WEIR_SNAPSHOT_NATIVE = 0,
    /** Backend-independent (savepoints): per state, per key group, the live entries with their
     *  TTL timestamps. Readable by either backend. */
    WEIR_SNAPSHOT_CANONICAL = 1
} weir_snapshot_format;

/**
 * Writes a snapshot of every registered state of @p be (all its key groups) into the directory
 * @p dir (created; must not exist or be empty). Runs synchronously on the task thread: the RocksDB
 * native path flushes the write-through buffer and memtables and hard-links the SST files (the
 * "synchronous pause": bounded by the buffer and memtable sizes, not by the state size: 35-95 ms
 * measured with 1 GiB of state, ~110 ms with a full 32 MiB value-state buffer, on a loaded 2-core
 * VM); the canonical path iterates every entry (seconds per GiB).
 * Layout: canonical → `<dir>/keyed-state.bin` (checksummed, written to a temporary file,
 * fsynced, renamed); RocksDB native → `<dir>/db/` (a RocksDB checkpoint) and `<dir>/states` (its
 * manifest). Entries already expired are left out of the canonical format; the native format
 * may contain them physically (they are skipped on restore). *bytes (may be NULL) receives the
 * size in bytes of the files written/linked. Returns WEIR_OK, or with @p err set WEIR_EINVAL
 * (bad arguments; a state name containing a line break in a RocksDB native snapshot),
 * WEIR_EIO (@p dir not empty, I/O), WEIR_ESTATE (backend failure), WEIR_ENOMEM; the backend
 * stays usable. Timers live in keyed state, so they are part of the snapshot.
 * Thread-safety: on the backend's task thread, like every call on @p be; getter pointers
 * returned before are invalidated.
 */
weir_err weir_state_backend_snapshot(weir_state_backend *be, const char *dir,
                                     weir_snapshot_format fmt, uint64_t *bytes, weir_error *err);
/**
 * Restores from a snapshot directory written by weir_state_backend_snapshot() of EITHER backend
 * and EITHER format: registers the states it records (name, kind, TTL) through
 * weir_state_register() (so a later registration of the same state in open() returns it) and
 * inserts every entry whose key group is in @p be's range, keeping the entries' last-write
 * timestamps (so each entry expires exactly when it would have; entries already expired are
 * skipped). An inserted entry replaces what @p be holds under the same key (a list is replaced
 * as a whole), so restoring the same snapshot twice is harmless. Call once per old subtask
 * snapshot whose key-group range overlaps (rescaling), before the operator's open(). A RocksDB
 * backend that is still empty restores a RocksDB native snapshot of key groups it owns entirely
 * by hard-linking its files (milliseconds); otherwise entries are read and written as sorted SST
 * files. Returns WEIR_OK, or with @p err set: WEIR_EIO (missing or unreadable), WEIR_EPARSE
 * (corrupt — checksum mismatch — or unknown format), WEIR_EINVAL (a state already registered in
 * @p be with another kind or TTL; a snapshot of another max parallelism), WEIR_ESTATE/
 * WEIR_ENOMEM. After an error @p be may hold part of the snapshot: discard it.
 * Thread-safety: on the backend's task thread.
 */
weir_err weir_state_backend_restore(weir_state_backend *be, const char *dir, weir_error *err);
/** Describes a state recorded in a snapshot (borrowed during the visit). */
typedef struct weir_snapshot_state_info {
    const char *name;
    weir_state_kind kind;
    int64_t ttl_ms;
} weir_snapshot_state_info;
/** Visitor for weir_snapshot_foreach(); return non-zero to stop. */
typedef int (*weir_snapshot_visit_fn)(void *ud, const weir_snapshot_state_info *st,
                                      const weir_state_entry *e);
/** Visits every entry of a snapshot directory (either format) in state then key-group order,
 *  without a backend (savepoint inspection). Entries are as in weir_state_foreach_entry(): val
 *  without TTL frame, a list as its serialized form (element = [8-byte LE last-write timestamp
 *  if ttl_ms > 0] | varint(len) | payload), expires_at_ms = last write + ttl_ms (0 without TTL).
 *  A RocksDB native snapshot may include entries that had expired (compare expires_at_ms with
 *  your clock). Pointers are valid during the call only. Returns WEIR_OK or, with @p err set,
 *  the errors of weir_state_backend_restore(). Thread-safe (touches nothing shared). */
weir_err weir_snapshot_foreach(const char *dir, weir_snapshot_visit_fn fn, void *ud,
                               weir_error *err);
/** Number of registered states of @p be (0 for NULL), and the i-th one's descriptor in
 *  registration order (NULL when out of range; borrowed, valid until @p be is freed). */
int weir_state_backend_state_count(const weir_state_backend *be);
const weir_state_desc *weir_state_backend_state_desc(const weir_state_backend *be, int i);

#ifdef __cplusplus
}
#endif
#endif
