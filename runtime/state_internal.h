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
};

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

#endif
