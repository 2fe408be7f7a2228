/*
 * state_rocksdb.c - the RocksDB keyed-state backend (see weir/state.h), on RocksDB's C API.
 *
 * Layout. One column family per registered state, named like the state. Keys:
 *   key_group (2 bytes BE) | varint(len(key)) | key [| user key, map state]
 * so one key group is one contiguous range and a key's map entries are one contiguous range in
 * user-key byte order. Values: with a TTL, last-write timestamp (8 bytes LE) | payload; list
 * state stores the whole list under one key as concatenated elements
 * ([timestamp] | varint(len) | payload), appended with a merge operator ("weir.list.append":
 * concatenation, so a list_add is one blind write, no read-modify-write).
 * The default column family holds one metadata record per state, "weir/state/<name>" →
 * kind (1 byte) | ttl_ms (8 bytes LE), so that a reopened directory knows each state's framing
 * before the operator registers it, and a kind change is refused.
 *
 * TTL. Expired values are never returned (checked on every read). A compaction filter per
 * column family drops expired values/map entries and rewrites lists without their expired
 * elements (list appends are merge operands, which the C API's filter does not see: a list is
 * filtered by the compaction after the one that merged its operands); it reads the backend's clock
 * from RocksDB's background threads, so the clock must be thread-safe. Its configuration
 * (rdb_cf.kind/ttl_ms) is atomic: kind 0 = not yet known → keep everything.
 *
 * Durability. The WAL is off (checkpoints provide durability); RocksDB flushes the memtables on
 * a clean close, so reopening a directory after weir_state_backend_free() keeps the data (but
 * for the value-state write buffer's content when the backend was opened with discard_on_close,
 * as a job's are: it never reopens a working directory).
 *
 * Memory. Buffers (encoded keys, framed values, multi-get arrays, the write batch) live on the
 * backend and are reused, so the hot paths do not allocate in weir; RocksDB's C API itself
 * allocates a PinnableSlice per found value (get) and copies found values (multi_get).
 * A value returned by a getter is held (pinned slice / multi-get copies) until the next call.
 */
#include "runtime/sst_writer.h"
#include "state_internal.h"
#include "weir/clock.h"
#include "weir/fs.h"
#include "weir/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define META_PREFIX "weir/state/"
#define DEFAULT_CACHE (64u << 20)
#define DEFAULT_WRITE_BUFFER (64u << 20)

/* The table format of RocksDB's own SST files (flushes, compactions) and of the files weir
 * writes for ingestion (sst_writer.h; write-buffer flushes leave out the compression). */
static const weir_sst_format SST_FORMAT = {.bloom_bits_per_key = 10, .format_version = 5, .lz4 = 1};

struct rdb_backend;

/* One column family; heap-allocated so the compaction filter can point at it. */
typedef struct rdb_cf {
    char *name;
    rocksdb_column_family_handle_t *h;
    rocksdb_compactionfilter_t *filter;
    _Atomic int kind;       /* weir_state_kind, 0 = unknown */
    _Atomic int64_t ttl_ms; /* 0 = no TTL */
    struct rdb_backend *be;
    struct vbuf *vb; /* value states: write buffer in front of RocksDB (see below) */
} rdb_cf;

typedef struct rdb_state {
    struct weir_state base;
    rdb_cf *cf;
} rdb_state;

typedef struct rdb_backend {
    struct weir_state_backend base;
    rocksdb_t *db;
    int discard_on_close;    /* weir_backend_options.discard_on_close */
    rocksdb_options_t *opts; /* base options; copied per column family */
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ro, *iter_ro;
    rocksdb_writeoptions_t *wo;
    rocksdb_writebatch_t *wb;
    rdb_cf **cfs; /* cfs[0] is "default" */
    size_t ncfs, cap_cfs;
    rocksdb_pinnableslice_t *pinned; /* last point-get result, released on the next call */
    weir_buf key, val, lower, upper, list;
    /* multi-get scratch, grown to the largest batch seen */
    weir_buf mkeys;
    size_t mcap;
    const char **klist;
    size_t *klens, *vlens;
    uint64_t *khash; /* multi-get/put: vb_hash of each encoded key */
    size_t *order;   /* multi_put: indexes of klist in key order */
    char **vlist, **errs;
    rocksdb_column_family_handle_t **cflist;
    size_t nheld; /* vlist[0..nheld) still to free */
    char *dir;    /* database directory (ingested SST files are written there first) */
    rocksdb_ingestexternalfileoptions_t *ingest;
    uint64_t ingest_seq;
    /* restore: one SST file being written for one column family (see rdb_restore_put) */
    weir_sst_writer *rs_w;
    rdb_cf *rs_cf;
    char rs_path[1400];
    weir_buf rs_key, rs_last;
    uint64_t rs_n, rs_bytes;
} rdb_backend;

#define RB(s) ((rdb_backend *)(void *)(s)->be)
#define RS(s) ((rdb_state *)(void *)(s))

/* Records a RocksDB error (freeing it) on the backend and returns WEIR_ESTATE. */
static weir_err rdb_fail(rdb_backend *rb, char *errptr, const char *what) {
    weir_error_set(&rb->base.last_err, WEIR_ESTATE, 0, "rocksdb %s: %s", what,
                   errptr ? errptr : "?");
    rocksdb_free(errptr);
    return WEIR_ESTATE;
}

static void release_held(rdb_backend *rb) {
    if (rb->pinned) {
        rocksdb_pinnableslice_destroy(rb->pinned);
        rb->pinned = NULL;
    }
    for (size_t i = 0; i < rb->nheld; i++) {
        if (rb->vlist[i]) rocksdb_free(rb->vlist[i]);
        rb->vlist[i] = NULL;
    }
    rb->nheld = 0;
}

/* ---- merge operator: list append = concatenation ---- */

static char *concat(const char *first, size_t first_len, const char *const *ops,
                    const size_t *op_lens, int nops, size_t *out_len) {
    size_t n = first_len;
    for (int i = 0; i < nops; i++)
        n += op_lens[i];
    char *r = malloc(n ? n : 1);
    if (!r) return NULL;
    size_t o = 0;
    if (first_len) memcpy(r, first, first_len);
    o = first_len;
    for (int i = 0; i < nops; i++) {
        memcpy(r + o, ops[i], op_lens[i]);
        o += op_lens[i];
    }
    *out_len = n;
    return r;
}

static char *merge_full(void *st, const char *key, size_t klen, const char *existing,
                        size_t existing_len, const char *const *ops, const size_t *op_lens,
                        int nops, unsigned char *success, size_t *new_len) {
    (void)st, (void)key, (void)klen;
    char *r = concat(existing, existing ? existing_len : 0, ops, op_lens, nops, new_len);
    *success = r != NULL;
    return r;
}

static char *merge_partial(void *st, const char *key, size_t klen, const char *const *ops,
                           const size_t *op_lens, int nops, unsigned char *success,
                           size_t *new_len) {
    (void)st, (void)key, (void)klen;
    char *r = concat(NULL, 0, ops, op_lens, nops, new_len);
    *success = r != NULL;
    return r;
}

static void merge_delete(void *st, const char *v, size_t len) {
    (void)st, (void)len;
    free((void *)v);
}

static const char *merge_name(void *st) {
    (void)st;
    return "weir.list.append";
}

static void noop_destroy(void *st);

/* The list-append merge operator (owned by the options it is set on). */
static rocksdb_mergeoperator_t *list_merge_operator(void) {
    return rocksdb_mergeoperator_create(NULL, noop_destroy, merge_full, merge_partial, merge_delete,
                                        merge_name);
}

/* ---- compaction filter: TTL ---- */

static pthread_key_t filter_key;
static pthread_once_t filter_once = PTHREAD_ONCE_INIT;

static void filter_buf_free(void *p) {
    weir_buf_free(p);
    free(p);
}

static void filter_key_init(void) {
    pthread_key_create(&filter_key, filter_buf_free);
}

/* The calling thread's scratch buffer (freed when the thread exits), NULL if out of memory. */
static weir_buf *filter_buf(void) {
    pthread_once(&filter_once, filter_key_init);
    weir_buf *b = pthread_getspecific(filter_key);
    if (!b && (b = calloc(1, sizeof *b)) && pthread_setspecific(filter_key, b)) {
        free(b);
        b = NULL;
    }
    return b;
}

static unsigned char ttl_filter(void *state, int level, const char *key, size_t klen,
                                const char *val, size_t vlen, char **new_val, size_t *new_len,
                                unsigned char *changed) {
    (void)level, (void)key, (void)klen;
    rdb_cf *c = state;
    int kind = atomic_load_explicit(&c->kind, memory_order_relaxed);
    int64_t ttl = atomic_load_explicit(&c->ttl_ms, memory_order_relaxed);
    if (!kind || ttl <= 0) return 0;
    if (c->name[0] == 'd' && !strcmp(c->name, "default")) return 0;
    int64_t now = weir_state_now(&c->be->base);
    if (kind == WEIR_STATE_LIST) {
        /* RocksDB copies *new_val and never frees it: one buffer per compaction thread */
        weir_buf *out = filter_buf();
        if (!out) return 0;
        int64_t maxexp;
        long live = weir_list_filter_live(out, val, vlen, ttl, now, &maxexp);
        if (live < 0) return 0; /* malformed or out of memory: keep */
        if (live == 0) return 1;
        if (out->len != vlen) {
            *new_val = out->data;
            *new_len = out->len;
            *changed = 1;
        }
        return 0;
    }
    if (vlen < 8) return 0;
    return weir_ttl_expired(weir_get_i64le(val), ttl, now);
}

static void noop_destroy(void *st) {
    (void)st;
}

static const char *ttl_filter_name(void *st) {
    (void)st;
    return "weir.ttl";
}

/* ---- column families ---- */

static rdb_cf *cf_alloc(rdb_backend *rb, const char *name) {
    if (rb->ncfs == rb->cap_cfs) {
        size_t nc = rb->cap_cfs ? rb->cap_cfs * 2 : 8;
        rdb_cf **n = realloc(rb->cfs, nc * sizeof *n);
        if (!n) return NULL;
        rb->cfs = n;
        rb->cap_cfs = nc;
    }
    rdb_cf *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        free(c);
        return NULL;
    }
    c->be = rb;
    c->filter = rocksdb_compactionfilter_create(c, noop_destroy, ttl_filter, ttl_filter_name);
    rocksdb_compactionfilter_set_ignore_snapshots(c->filter, 1);
    rb->cfs[rb->ncfs++] = c;
    return c;
}

/* Options for column family @p c: the base options plus its compaction filter. */
static rocksdb_options_t *cf_options(rdb_backend *rb, rdb_cf *c) {
    rocksdb_options_t *o = rocksdb_options_create_copy(rb->opts);
    rocksdb_options_set_compaction_filter(o, c->filter);
    return o;
}

static rdb_cf *cf_find(rdb_backend *rb, const char *name) {
    for (size_t i = 0; i < rb->ncfs; i++)
        if (!strcmp(rb->cfs[i]->name, name)) return rb->cfs[i];
    return NULL;
}

/* Reads the metadata record of @p name: 1 found, 0 absent, -1 error. */
static int meta_read(rdb_backend *rb, const char *name, int *kind, int64_t *ttl, weir_error *err) {
    weir_buf_reset(&rb->key);
    weir_buf_puts(&rb->key, META_PREFIX);
    weir_buf_puts(&rb->key, name);
    char *e = NULL;
    size_t vl = 0;
    char *v = rocksdb_get_cf(rb->db, rb->ro, rb->cfs[0]->h, rb->key.data, rb->key.len, &vl, &e);
    if (e) {
        weir_error_set(err, WEIR_ESTATE, 0, "rocksdb: reading state metadata: %s", e);
        rocksdb_free(e);
        return -1;
    }
    if (!v) return 0;
    int ok = vl == 9;
    if (ok) {
        *kind = (unsigned char)v[0];
        *ttl = weir_get_i64le(v + 1);
    }
    rocksdb_free(v);
    return ok ? 1 : 0;
}

static int meta_write(rdb_backend *rb, const char *name, int kind, int64_t ttl, weir_error *err) {
    weir_buf_reset(&rb->key);
    weir_buf_puts(&rb->key, META_PREFIX);
    weir_buf_puts(&rb->key, name);
    char v[9];
    v[0] = (char)kind;
    weir_put_i64le(v + 1, ttl);
    char *e = NULL;
    rocksdb_put_cf(rb->db, rb->wo, rb->cfs[0]->h, rb->key.data, rb->key.len, v, 9, &e);
    if (e) {
        weir_error_set(err, WEIR_ESTATE, 0, "rocksdb: writing state metadata: %s", e);
        rocksdb_free(e);
        return -1;
    }
    return 0;
}

/* ---- helpers ---- */

/* be->key = current prefix [| uk]. */
static int cur_key(rdb_backend *rb, const void *uk, size_t uk_len) {
    weir_buf_reset(&rb->key);
    return weir_buf_append(&rb->key, rb->base.cur_prefix.data, rb->base.cur_prefix.len) ||
           weir_buf_append(&rb->key, uk, uk_len);
}

/* Returns the value to store: payload, or ts | payload in rb->val when the state has a TTL. */
static const char *frame(rdb_backend *rb, weir_state *s, const void *val, size_t len,
                         size_t *out_len, int64_t now) {
    if (s->ttl_ms <= 0) {
        *out_len = len;
        return val;
    }
    weir_buf_reset(&rb->val);
    if (weir_buf_reserve(&rb->val, 8 + len)) return NULL;
    weir_put_i64le(rb->val.data, now);
    memcpy(rb->val.data + 8, val, len);
    rb->val.len = 8 + len;
    *out_len = rb->val.len;
    return rb->val.data;
}

/* Strips the TTL frame; 0 if live (sets *p and *n), 1 if expired or malformed. */
static int unframe(const weir_state *s, const char **p, size_t *n, int64_t now) {
    if (s->ttl_ms <= 0) return 0;
    if (*n < 8 || weir_ttl_expired(weir_get_i64le(*p), s->ttl_ms, now)) return 1;
    *p += 8;
    *n -= 8;
    return 0;
}

static weir_err point_get(rdb_backend *rb, weir_state *s, const void **val, size_t *len) {
    char *e = NULL;
    release_held(rb);
    rb->pinned = rocksdb_get_pinned_cf(rb->db, rb->ro, RS(s)->cf->h, rb->key.data, rb->key.len, &e);
    if (e) return rdb_fail(rb, e, "get");
    if (!rb->pinned) return WEIR_ENOTFOUND;
    size_t n;
    const char *p = rocksdb_pinnableslice_value(rb->pinned, &n);
    if (s->kind != WEIR_STATE_LIST && unframe(s, &p, &n, weir_state_now(s->be)))
        return WEIR_ENOTFOUND;
    *val = p;
    *len = n;
    return WEIR_OK;
}

static weir_err point_put(rdb_backend *rb, weir_state *s, const void *val, size_t len) {
    size_t n;
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    const char *v = frame(rb, s, val, len, &n, now);
    if (!v) return WEIR_ENOMEM;
    char *e = NULL;
    rocksdb_put_cf(rb->db, rb->wo, RS(s)->cf->h, rb->key.data, rb->key.len, v, n, &e);
    return e ? rdb_fail(rb, e, "put") : WEIR_OK;
}

static weir_err point_del(rdb_backend *rb, weir_state *s) {
    char *e = NULL;
    rocksdb_delete_cf(rb->db, rb->wo, RS(s)->cf->h, rb->key.data, rb->key.len, &e);
    return e ? rdb_fail(rb, e, "delete") : WEIR_OK;
}

/* Sets upper = the smallest key greater than every key starting with lower (lower never is all
 * 0xff since its first byte is a key group's high byte < 0x80). */
static void make_upper(rdb_backend *rb) {
    weir_buf_reset(&rb->upper);
    weir_buf_append(&rb->upper, rb->lower.data, rb->lower.len);
    size_t i = rb->upper.len;
    while (i > 0) {
        unsigned char *c = (unsigned char *)rb->upper.data + i - 1;
        if (*c != 0xff) {
            (*c)++;
            break;
        }
        i--;
    }
    rb->upper.len = i;
}

static rocksdb_iterator_t *range_iter(rdb_backend *rb, rdb_cf *c) {
    rocksdb_readoptions_set_iterate_lower_bound(rb->iter_ro, rb->lower.data, rb->lower.len);
    rocksdb_readoptions_set_iterate_upper_bound(rb->iter_ro, rb->upper.data, rb->upper.len);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(rb->db, rb->iter_ro, c->h);
    rocksdb_iter_seek(it, rb->lower.data, rb->lower.len);
    return it;
}

static weir_err iter_end(rdb_backend *rb, rocksdb_iterator_t *it) {
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    rocksdb_iter_destroy(it);
    return e ? rdb_fail(rb, e, "iterate") : WEIR_OK;
}

/* ---- value-state write buffer ----
 *
 * Value states (the dedup keys) are written through an in-memory buffer instead of the memtable:
 * an open-addressing hash index over entries whose key and framed value bytes live in one arena.
 * Reads look in the buffer first, then in RocksDB. When the buffer holds VB_MAX_ENTRIES entries
 * or VB_MAX_BYTES bytes it is flushed: entries are sorted by key, written as one SST file with
 * RocksDB's SstFileWriter and ingested into the column family. Why: a memtable insert of a random
 * key is a skiplist descent through cache misses (about 5 us at a few hundred thousand keys on
 * this class of machine), which made RocksDB the dedup job's bottleneck; sorting a batch and
 * writing a file sequentially costs a fraction of that, and compaction then merges sorted runs.
 * Invariants: one entry per key (a later put replaces the value, a clear leaves a tombstone that
 * the flush writes as a delete); the buffer is flushed before any iteration, compaction or close
 * (not at close with discard_on_close), so everything else sees RocksDB alone. Memory: bounded by
 * VB_MAX_BYTES plus the index.
 */
#define VB_MAX_ENTRIES (256u * 1024u)
#define VB_MAX_BYTES (32u * 1024u * 1024u)

typedef struct vb_entry {
    uint64_t hash; /* vb_hash of the key: probes compare it before the bytes */
    uint64_t head; /* first 8 key bytes, big-endian: the sort compares it before the bytes */
    size_t koff, voff;
    uint32_t klen, vlen;
    int del;
} vb_entry;

/* A scalable blocked Bloom filter over every key this backend instance has written to a value
 * state (a hint, never a source of truth): a negative answer proves the key absent, so the dedup
 * path's lookups of new keys (the vast majority) skip RocksDB, whose per-key cost grows with
 * the number of L0 files. Segments double in size when full (~10 bits per key, 6 probes in one
 * 512-bit block, ~1 % false positives each); a lookup tests every segment. Deletes and TTL
 * expiry leave bits set (false positives only cost a RocksDB read). It is enabled only for a
 * column family created by this instance: data present at open was not seen, so lookups then
 * always go to RocksDB. */
#define VBLOOM_MAX_SEGS 32
typedef struct vbloom_seg {
    uint64_t *bits;
    size_t nblocks; /* power of two; 8 words (512 bits) each */
    size_t n, cap;  /* keys added, keys it was sized for */
} vbloom_seg;

typedef struct vbloom {
    vbloom_seg seg[VBLOOM_MAX_SEGS];
    int nseg;
    int enabled;
} vbloom;

typedef struct vbuf {
    weir_buf arena;
    vb_entry *e;
    size_t n, cap;
    uint64_t *slot; /* 0 = empty, else vb_slot(): entry index + 1 and the hash's upper half */
    size_t nslot;   /* power of two, >= 2 * cap */
    vbloom bloom;
    struct vb_sortkey *sort; /* flush scratch, kept (fresh memory costs page faults per flush) */
    size_t sort_cap;
} vbuf;

static uint64_t vb_hash(const char *k, size_t n) {
    return XXH3_64bits(k, n); /* xxHash (libxxhash), see docs/dependencies.md */
}

/* The 512-bit block of segment g that hash h sets or tests. */
static size_t bloom_block(const vbloom_seg *g, uint64_t h) {
    return (size_t)(h >> 32) & (g->nblocks - 1);
}

static void bloom_probe(const vbloom_seg *g, uint64_t h, size_t *block, uint32_t bit[6]) {
    *block = bloom_block(g, h);
    uint64_t x = h * 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 6; i++, x >>= 9)
        bit[i] = (uint32_t)(x & 511);
}

/* Adds hash h; returns -1 only when a new segment cannot be allocated (the filter is then
 * disabled: correctness never depends on it). */
static int bloom_add(vbloom *b, uint64_t h) {
    if (!b->enabled) return 0;
    vbloom_seg *g = b->nseg ? &b->seg[b->nseg - 1] : NULL;
    if (!g || g->n >= g->cap) {
        size_t cap = g ? g->cap * 2 : (size_t)1 << 20;
        if (b->nseg == VBLOOM_MAX_SEGS) {
            b->enabled = 0;
            return -1;
        }
        vbloom_seg *ng = &b->seg[b->nseg];
        size_t nblocks = 1;
        while (nblocks * 512 < cap * 10)
            nblocks *= 2;
        ng->bits = calloc(nblocks * 8, sizeof(uint64_t));
        if (!ng->bits) {
            b->enabled = 0;
            return -1;
        }
        ng->nblocks = nblocks;
        ng->n = 0;
        ng->cap = cap;
        g = ng;
        b->nseg++;
    }
    size_t blk;
    uint32_t bit[6];
    bloom_probe(g, h, &blk, bit);
    for (int i = 0; i < 6; i++)
        g->bits[blk * 8 + bit[i] / 64] |= (uint64_t)1 << (bit[i] % 64);
    g->n++;
    return 0;
}

/* 0 when the key with hash h was certainly never added; 1 when it may have been (or the filter
 * is disabled). */
static int bloom_maybe(const vbloom *b, uint64_t h) {
    if (!b->enabled) return 1;
    for (int s = 0; s < b->nseg; s++) {
        const vbloom_seg *g = &b->seg[s];
        size_t blk;
        uint32_t bit[6];
        bloom_probe(g, h, &blk, bit);
        int all = 1;
        for (int i = 0; i < 6 && all; i++)
            all = (g->bits[blk * 8 + bit[i] / 64] >> (bit[i] % 64)) & 1;
        if (all) return 1;
    }
    return 0;
}

static void vb_free(vbuf *vb) {
    if (!vb) return;
    for (int i = 0; i < vb->bloom.nseg; i++)
        free(vb->bloom.seg[i].bits);
    weir_buf_free(&vb->arena);
    free(vb->e);
    free(vb->slot);
    free(vb->sort);
    free(vb);
}

static void vb_clear(vbuf *vb) {
    weir_buf_reset(&vb->arena);
    vb->n = 0;
    memset(vb->slot, 0, vb->nslot * sizeof *vb->slot);
}

static uint64_t vb_head(const char *k, size_t n) {
    uint64_t h = 0;
    for (size_t i = 0; i < 8; i++)
        h = (h << 8) | (i < n ? (unsigned char)k[i] : 0);
    return h;
}

/* The first index slot a key of hash h probes (linear probing from there). */
static size_t vb_home(const vbuf *vb, uint64_t h) {
    return (size_t)h & (vb->nslot - 1);
}

/* An index slot: the entry index + 1 in the low half (0 = empty slot) and the upper half of the
 * key's hash, which a probe compares before it reads the entry: an insert then touches only the
 * index (its slots are prefetched per batch) and not one random entry per occupied slot it
 * passes. */
static inline uint64_t vb_tag(uint64_t h) {
    return h & 0xFFFFFFFF00000000ULL;
}

static inline uint64_t vb_slot(uint64_t h, size_t j) {
    return vb_tag(h) | (uint64_t)(j + 1);
}

/* Index of the entry with key k (hash h), or -1; *ins receives the slot where it would go. */
static long vb_find(const vbuf *vb, const char *k, size_t n, uint64_t h, size_t *ins) {
    size_t mask = vb->nslot - 1;
    const uint64_t tag = vb_tag(h);
    for (size_t i = vb_home(vb, h);; i = (i + 1) & mask) {
        uint64_t sl = vb->slot[i];
        if (!sl) {
            *ins = i;
            return -1;
        }
        if (vb_tag(sl) != tag) continue;
        long j = (long)(uint32_t)sl - 1;
        const vb_entry *e = &vb->e[j];
        if (e->hash == h && e->klen == n && memcmp(vb->arena.data + e->koff, k, n) == 0) return j;
    }
}

static int vb_grow(vbuf *vb) {
    size_t nc = vb->cap ? vb->cap * 2 : 4096;
    vb_entry *ne = realloc(vb->e, nc * sizeof *ne);
    if (!ne) return -1;
    vb->e = ne;
    uint64_t *ns = calloc(2 * nc, sizeof *ns);
    if (!ns) return -1;
    free(vb->slot);
    vb->slot = ns;
    vb->nslot = 2 * nc;
    vb->cap = nc;
    for (size_t j = 0; j < vb->n; j++) { /* re-index (keys are unique: first empty slot) */
        size_t mask = vb->nslot - 1, i = vb_home(vb, vb->e[j].hash);
        while (vb->slot[i])
            i = (i + 1) & mask;
        vb->slot[i] = vb_slot(vb->e[j].hash, j);
    }
    return 0;
}

/* Puts (or, with del, tombstones) key k. Returns 0 or -1 on allocation failure. */
static int vb_put_h(vbuf *vb, const char *k, size_t kn, uint64_t h, const void *v, size_t vn,
                    int del) {
    if (vb->n == vb->cap && vb_grow(vb)) return -1;
    size_t ins;
    if (!del) bloom_add(&vb->bloom, h);
    long j = vb_find(vb, k, kn, h, &ins);
    size_t voff = vb->arena.len;
    if (weir_buf_append(&vb->arena, v, vn)) return -1;
    if (j >= 0) {
        vb->e[j].voff = voff;
        vb->e[j].vlen = (uint32_t)vn;
        vb->e[j].del = del;
        return 0;
    }
    size_t koff = vb->arena.len;
    if (weir_buf_append(&vb->arena, k, kn)) return -1;
    vb_entry *e = &vb->e[vb->n];
    e->hash = h;
    e->head = vb_head(k, kn);
    e->koff = koff;
    e->klen = (uint32_t)kn;
    e->voff = voff;
    e->vlen = (uint32_t)vn;
    e->del = del;
    vb->slot[ins] = vb_slot(h, vb->n++);
    return 0;
}

/* Buffers a put (or, with del, a delete) of key k; the hash is computed here. */
static int vb_put(vbuf *vb, const char *k, size_t kn, const void *v, size_t vn, int del) {
    return vb_put_h(vb, k, kn, vb_hash(k, kn), v, vn, del);
}

static int vb_full(const vbuf *vb) {
    return vb->n >= VB_MAX_ENTRIES || vb->arena.len >= VB_MAX_BYTES;
}

/* A sort key of the flush: the first 16 key bytes as two big-endian words (zero-padded) and the
 * entry's fields. Comparing the words settles nearly every comparison without touching the arena;
 * sorting these keys with an inlined introsort instead of qsort_r over entry indexes (indirect
 * comparisons) halved the flush of a full buffer, which a snapshot pays synchronously. */
typedef struct vb_sortkey {
    uint64_t h1, h2;
    size_t koff, voff;
    uint32_t klen, vlen; /* vlen UINT32_MAX: a delete */
} vb_sortkey;

static int cmp_vb(const void *a, const void *b, void *ud) {
    const vbuf *vb = ud;
    const vb_sortkey *x = a, *y = b;
    if (x->h1 != y->h1) return x->h1 < y->h1 ? -1 : 1;
    if (x->h2 != y->h2) return x->h2 < y->h2 ? -1 : 1;
    int c = memcmp(vb->arena.data + x->koff, vb->arena.data + y->koff,
                   x->klen < y->klen ? x->klen : y->klen);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static inline int sk_less(const vbuf *vb, const vb_sortkey *a, const vb_sortkey *b) {
    if (a->h1 != b->h1) return a->h1 < b->h1;
    if (a->h2 != b->h2) return a->h2 < b->h2;
    return cmp_vb(a, b, (void *)vb) < 0;
}

static inline void sk_swap(vb_sortkey *a, vb_sortkey *b) {
    vb_sortkey t = *a;
    *a = *b;
    *b = t;
}

/* Introsort: quicksort (median of three, Hoare partition), insertion sort below 16 elements,
 * qsort_r once the depth budget is spent (adversarial input). The keys are distinct. */
static void sk_sort(const vbuf *vb, vb_sortkey *a, size_t n, int depth) {
    while (n > 16) {
        if (depth-- <= 0) {
            qsort_r(a, n, sizeof *a, cmp_vb, (void *)vb);
            return;
        }
        size_t m = n / 2;
        if (sk_less(vb, &a[m], &a[0])) sk_swap(&a[m], &a[0]);
        if (sk_less(vb, &a[n - 1], &a[0])) sk_swap(&a[n - 1], &a[0]);
        if (sk_less(vb, &a[n - 1], &a[m])) sk_swap(&a[n - 1], &a[m]);
        vb_sortkey p = a[m];
        size_t i = 0, j = n - 1;
        for (;;) { /* a[0] <= p <= a[n-1] stop both scans */
            while (sk_less(vb, &a[i], &p))
                i++;
            while (sk_less(vb, &p, &a[j]))
                j--;
            if (i >= j) break;
            sk_swap(&a[i++], &a[j--]);
        }
        /* a[0..j] <= p <= a[j+1..n): recurse into the smaller part, loop on the larger */
        size_t left = j + 1;
        if (left < n - left) {
            sk_sort(vb, a, left, depth);
            a += left;
            n -= left;
        } else {
            sk_sort(vb, a + left, n - left, depth);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        vb_sortkey x = a[i];
        size_t j = i;
        for (; j > 0 && sk_less(vb, &x, &a[j - 1]); j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Byte d (0-15) of a sort key's first 16 key bytes, most significant first. */
static inline unsigned sk_byte(const vb_sortkey *k, int d) {
    uint64_t w = d < 8 ? k->h1 : k->h2;
    return (unsigned)(w >> (56 - 8 * (d & 7))) & 0xffu;
}

/* Sorts a[0..n) by key: in-place MSD radix sort (American flag sort) on the first 16 key bytes,
 * then sk_sort() (the full comparison) for buckets of at most 64 keys or keys that share their
 * first 16 bytes. A level where every key has the same byte (the key group's high byte, the
 * length byte of equal-length keys) costs one counting pass and moves nothing. Random keys
 * (event ids) of a full buffer settle in about five passes instead of introsort's ~18 levels
 * of mispredicted comparisons. Stack: 6 KB per level, at most 16 levels. */
static void sk_radix(const vbuf *vb, vb_sortkey *a, size_t n, int d) {
    while (n > 64 && d < 16) {
        size_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[sk_byte(&a[i], d)]++;
        if (cnt[sk_byte(&a[0], d)] == n) { /* one bucket: look at the next byte */
            d++;
            continue;
        }
        size_t start[256], next[256];
        for (size_t b = 0, o = 0; b < 256; b++) {
            start[b] = next[b] = o;
            o += cnt[b];
        }
        for (unsigned b = 0; b < 256; b++) { /* cycle each misplaced key into its bucket */
            size_t end = start[b] + cnt[b];
            while (next[b] < end) {
                vb_sortkey x = a[next[b]];
                unsigned bx = sk_byte(&x, d);
                while (bx != b) {
                    sk_swap(&x, &a[next[bx]++]);
                    bx = sk_byte(&x, d);
                }
                a[next[b]++] = x;
            }
        }
        for (unsigned b = 0; b < 256; b++)
            if (cnt[b] > 1) sk_radix(vb, a + start[b], cnt[b], d + 1);
        return;
    }
    int depth = 0;
    for (size_t m = n; m > 1; m >>= 1)
        depth += 2;
    sk_sort(vb, a, n, depth);
}

/* Writes the buffer of column family c as one sorted SST file and ingests it. */
static weir_err vb_flush(rdb_backend *rb, rdb_cf *c) {
    vbuf *vb = c->vb;
    if (!vb || !vb->n) return WEIR_OK;
    if (vb->n > vb->sort_cap) {
        vb_sortkey *ns = realloc(vb->sort, vb->cap * sizeof *ns);
        if (!ns) return WEIR_ENOMEM;
        vb->sort = ns;
        vb->sort_cap = vb->cap;
    }
    vb_sortkey *order = vb->sort;
    for (size_t i = 0; i < vb->n; i++) { /* e[] and its keys in the arena are read in order */
        const vb_entry *en = &vb->e[i];
        order[i].h1 = en->head;
        order[i].h2 = en->klen > 8 ? vb_head(vb->arena.data + en->koff + 8, en->klen - 8) : 0;
        order[i].koff = en->koff;
        order[i].voff = en->voff;
        order[i].klen = en->klen;
        order[i].vlen = en->del ? UINT32_MAX : en->vlen;
    }
    sk_radix(vb, order, vb->n, 0);
    char path[1400];
    snprintf(path, sizeof path, "%s/weir-ingest-%llu.sst", rb->dir,
             (unsigned long long)++rb->ingest_seq);
    /* SST_FORMAT without compression: flush files are young sorted runs that compaction soon
     * merges (and compresses), and compressing each one first was 1.7 % of the dedup job.
     * RocksDB's tuning guide makes the same choice for its first levels. Cost: those runs are
     * ~1.3x larger on disk (and in checkpoints) until compacted (1 M dedup keys: 48.7 MB instead
     * of 37.9 MB). */
    weir_sst_format fmt = SST_FORMAT;
    fmt.lz4 = 0;
    char *e = NULL;
    weir_sst_writer *w = weir_sst_writer_open(&fmt, path, &e);
    for (size_t k = 0; !e && k < vb->n; k++) {
        const vb_sortkey *en = &order[k];
        if (k + 8 < vb->n) { /* the arena is read in random order: fetch ahead */
            __builtin_prefetch(vb->arena.data + order[k + 8].koff);
            __builtin_prefetch(vb->arena.data + order[k + 8].voff);
        }
        const char *key = vb->arena.data + en->koff;
        if (en->vlen == UINT32_MAX)
            weir_sst_writer_delete(w, key, en->klen, &e);
        else
            weir_sst_writer_put(w, key, en->klen, vb->arena.data + en->voff, en->vlen, &e);
    }
    if (!e) weir_sst_writer_finish(w, &e);
    weir_sst_writer_free(w);
    if (!e) {
        const char *files[1] = {path};
        rocksdb_ingest_external_file_cf(rb->db, c->h, files, 1, rb->ingest, &e);
    }
    unlink(path); /* moved (hard-linked) into the database by a successful ingest */
    if (e) return rdb_fail(rb, e, "ingest");
    vb_clear(vb);
    return WEIR_OK;
}

/* Flushes every column family's buffer. */
static weir_err vb_flush_all(rdb_backend *rb) {
    for (size_t i = 0; i < rb->ncfs; i++) {
        weir_err r = vb_flush(rb, rb->cfs[i]);
        if (r) return r;
    }
    return WEIR_OK;
}

/* Starts loading the cache lines a lookup or insert of hash h will touch (the Bloom block of
 * every segment and the index slot), so that a batch's probes overlap their memory latency
 * instead of waiting for each in turn. Always inlined: GCC counts a prefetch as no side effect,
 * so a separate function made only of prefetches is found "pure" and its calls are deleted
 * (GCC 12 -O2 did exactly that: the binary had no prefetch of the buffer at all). */
static inline __attribute__((always_inline)) void vb_prefetch(const vbuf *vb, uint64_t h) {
    if (vb->bloom.enabled)
        for (int s = 0; s < vb->bloom.nseg; s++) {
            const vbloom_seg *g = &vb->bloom.seg[s];
            __builtin_prefetch(&g->bits[bloom_block(g, h) * 8]);
        }
    if (vb->nslot) __builtin_prefetch(&vb->slot[vb_home(vb, h)]);
}

/* Hashes the n encoded keys of rb->klist into rb->khash and prefetches what their probes of
 * c's buffer will touch. */
static void vb_hash_batch(rdb_backend *rb, rdb_cf *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        rb->khash[i] = vb_hash(rb->klist[i], rb->klens[i]);
        if (c->vb) vb_prefetch(c->vb, rb->khash[i]);
    }
}

/* Looks key k (hash h = vb_hash(k)) up in the buffer: 1 found (value framed, or *del), 0 not
 * buffered, -1 certainly absent from RocksDB too (the Bloom filter says it was never written). */
static int vb_lookup_h(rdb_cf *c, const char *k, size_t kn, uint64_t h, const char **v, size_t *vn,
                       int *del) {
    vbuf *vb = c->vb;
    if (!vb) return 0;
    if (!bloom_maybe(&vb->bloom, h)) return -1;
    if (!vb->n) return 0;
    size_t ins;
    long j = vb_find(vb, k, kn, h, &ins);
    if (j < 0) return 0;
    *v = vb->arena.data + vb->e[j].voff;
    *vn = vb->e[j].vlen;
    *del = vb->e[j].del;
    return 1;
}

/* vb_lookup_h() of a key whose hash is not known yet. */
static int vb_lookup(rdb_cf *c, const char *k, size_t kn, const char **v, size_t *vn, int *del) {
    return c->vb ? vb_lookup_h(c, k, kn, vb_hash(k, kn), v, vn, del) : 0;
}

/* ---- value state ---- */

static weir_err rdb_value_get(weir_state *s, const void **val, size_t *len) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, NULL, 0)) return WEIR_ENOMEM;
    const char *p;
    size_t n;
    int del;
    int found = vb_lookup(RS(s)->cf, rb->key.data, rb->key.len, &p, &n, &del);
    if (found < 0) {
        release_held(rb);
        return WEIR_ENOTFOUND;
    }
    if (found) {
        release_held(rb);
        if (del || unframe(s, &p, &n, weir_state_now(s->be))) return WEIR_ENOTFOUND;
        *val = p;
        *len = n;
        return WEIR_OK;
    }
    return point_get(rb, s, val, len);
}

/* Buffers a put (or a delete) of the current key of value state s. */
static weir_err buffered_put(rdb_backend *rb, weir_state *s, const void *val, size_t len, int del) {
    rdb_cf *c = RS(s)->cf;
    size_t n = 0;
    const char *v = "";
    if (!del) {
        int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
        if (!(v = frame(rb, s, val, len, &n, now))) return WEIR_ENOMEM;
    }
    if (vb_put(c->vb, rb->key.data, rb->key.len, v, n, del)) return WEIR_ENOMEM;
    return vb_full(c->vb) ? vb_flush(rb, c) : WEIR_OK;
}

static weir_err rdb_value_put(weir_state *s, const void *val, size_t len) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, NULL, 0)) return WEIR_ENOMEM;
    release_held(rb);
    return buffered_put(rb, s, val, len, 0);
}

static weir_err rdb_value_clear(weir_state *s) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, NULL, 0)) return WEIR_ENOMEM;
    release_held(rb);
    return buffered_put(rb, s, NULL, 0, 1);
}

/* ---- map state ---- */

static weir_err rdb_map_get(weir_state *s, const void *uk, size_t uk_len, const void **val,
                            size_t *len) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, uk, uk_len)) return WEIR_ENOMEM;
    return point_get(rb, s, val, len);
}

static weir_err rdb_map_put(weir_state *s, const void *uk, size_t uk_len, const void *val,
                            size_t len) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, uk, uk_len)) return WEIR_ENOMEM;
    return point_put(rb, s, val, len);
}

static weir_err rdb_map_remove(weir_state *s, const void *uk, size_t uk_len) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, uk, uk_len)) return WEIR_ENOMEM;
    return point_del(rb, s);
}

static weir_err rdb_map_foreach(weir_state *s, weir_map_visit_fn fn, void *ud) {
    rdb_backend *rb = RB(s);
    size_t plen = rb->base.cur_prefix.len;
    weir_buf_reset(&rb->lower);
    weir_buf_append(&rb->lower, rb->base.cur_prefix.data, plen);
    make_upper(rb);
    if (rb->lower.oom || rb->upper.oom) return WEIR_ENOMEM;
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    rocksdb_iterator_t *it = range_iter(rb, RS(s)->cf);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        if (kl < plen || unframe(s, &v, &vl, now)) continue;
        if (fn(ud, k + plen, kl - plen, v, vl)) break;
    }
    return iter_end(rb, it);
}

static weir_err rdb_map_clear(weir_state *s) {
    rdb_backend *rb = RB(s);
    weir_buf_reset(&rb->lower);
    weir_buf_append(&rb->lower, rb->base.cur_prefix.data, rb->base.cur_prefix.len);
    make_upper(rb);
    if (rb->lower.oom || rb->upper.oom) return WEIR_ENOMEM;
    rocksdb_writebatch_clear(rb->wb);
    rocksdb_iterator_t *it = range_iter(rb, RS(s)->cf);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(it, &kl);
        rocksdb_writebatch_delete_cf(rb->wb, RS(s)->cf->h, k, kl);
    }
    weir_err r = iter_end(rb, it);
    if (r) return r;
    char *e = NULL;
    rocksdb_write(rb->db, rb->wo, rb->wb, &e);
    rocksdb_writebatch_clear(rb->wb);
    return e ? rdb_fail(rb, e, "write") : WEIR_OK;
}

/* ---- list state ---- */

static weir_err rdb_list_add(weir_state *s, const void *val, size_t len) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, NULL, 0)) return WEIR_ENOMEM;
    weir_buf_reset(&rb->val);
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    if (weir_list_append_elem(&rb->val, s->ttl_ms > 0, now, val, len)) return WEIR_ENOMEM;
    char *e = NULL;
    rocksdb_merge_cf(rb->db, rb->wo, RS(s)->cf->h, rb->key.data, rb->key.len, rb->val.data,
                     rb->val.len, &e);
    return e ? rdb_fail(rb, e, "merge") : WEIR_OK;
}

static weir_err rdb_list_foreach(weir_state *s, weir_list_visit_fn fn, void *ud) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, NULL, 0)) return WEIR_ENOMEM;
    const void *list;
    size_t n;
    weir_err r = point_get(rb, s, &list, &n);
    if (r == WEIR_ENOTFOUND) return WEIR_OK;
    if (r) return r;
    int64_t now = weir_state_now(s->be), ts;
    weir_list_iter it = {list, (const unsigned char *)list + n, s->ttl_ms > 0};
    const void *v;
    size_t vl;
    int k;
    while ((k = weir_list_next(&it, &ts, &v, &vl)) == 1) {
        if (weir_ttl_expired(ts, s->ttl_ms, now)) continue;
        if (fn(ud, v, vl)) break;
    }
    return k < 0 ? WEIR_ESTATE : WEIR_OK;
}

static weir_err rdb_list_clear(weir_state *s) {
    rdb_backend *rb = RB(s);
    if (cur_key(rb, NULL, 0)) return WEIR_ENOMEM;
    return point_del(rb, s);
}

/* ---- batch ---- */

static int mgrow(rdb_backend *rb, size_t n) {
    if (n <= rb->mcap) return 0;
    size_t nc = rb->mcap ? rb->mcap : 64;
    while (nc < n)
        nc *= 2;
#define GROW(f)                                                                                    \
    do {                                                                                           \
        void *p = realloc((void *)rb->f, nc * sizeof *rb->f);                                      \
        if (!p) return -1;                                                                         \
        rb->f = p;                                                                                 \
    } while (0)
    GROW(klist);
    GROW(klens);
    GROW(vlens);
    GROW(vlist);
    GROW(errs);
    GROW(cflist);
    GROW(order);
    GROW(khash);
#undef GROW
    for (size_t i = rb->mcap; i < nc; i++)
        rb->vlist[i] = NULL;
    rb->mcap = nc;
    return 0;
}

/* Encodes keys[] into rb->mkeys and fills klist/klens. The keys usually arrive from another
 * task's thread (a channel batch) and are not in this core's cache: fetch a few ahead. */
static int encode_keys(rdb_backend *rb, const weir_state_key *keys, size_t n) {
    weir_buf_reset(&rb->mkeys);
    for (size_t i = 0; i < n; i++) {
        if (i + 8 < n) __builtin_prefetch(keys[i + 8].key);
        size_t o = rb->mkeys.len;
        if (weir_state_encode_prefix(&rb->mkeys, keys[i].key_group, keys[i].key, keys[i].len))
            return -1;
        rb->klens[i] = rb->mkeys.len - o;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        rb->klist[i] = rb->mkeys.data + o;
        o += rb->klens[i];
    }
    return 0;
}

static weir_err rdb_multi_get(weir_state *s, const weir_state_key *keys, size_t n,
                              weir_state_slice *out) {
    rdb_backend *rb = RB(s);
    rdb_cf *c = RS(s)->cf;
    release_held(rb);
    if (mgrow(rb, n) || encode_keys(rb, keys, n)) return WEIR_ENOMEM;
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    /* the buffer first; the misses (order[0..nm)) go to RocksDB in one MultiGet */
    size_t nm = 0;
    vb_hash_batch(rb, c, n);
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t len;
        int del;
        out[i].data = NULL;
        out[i].len = 0;
        int found = vb_lookup_h(c, rb->klist[i], rb->klens[i], rb->khash[i], &p, &len, &del);
        if (found < 0) continue; /* never written: absent */
        if (found) {
            if (!del && !unframe(s, &p, &len, now)) {
                out[i].data = p;
                out[i].len = len;
            }
            continue;
        }
        rb->order[nm++] = i;
    }
    if (!nm) return WEIR_OK;
    for (size_t k = 0; k < nm; k++) { /* compact the misses to the front (k <= order[k]) */
        rb->klist[k] = rb->klist[rb->order[k]];
        rb->klens[k] = rb->klens[rb->order[k]];
        rb->cflist[k] = c->h;
    }
    rocksdb_multi_get_cf(rb->db, rb->ro, (const rocksdb_column_family_handle_t *const *)rb->cflist,
                         nm, rb->klist, rb->klens, rb->vlist, rb->vlens, rb->errs);
    rb->nheld = nm;
    weir_err r = WEIR_OK;
    for (size_t k = 0; k < nm; k++) {
        size_t i = rb->order[k];
        if (rb->errs[k]) {
            if (!r)
                r = rdb_fail(rb, rb->errs[k], "multi_get");
            else
                rocksdb_free(rb->errs[k]);
            rb->errs[k] = NULL;
            continue;
        }
        const char *p = rb->vlist[k];
        size_t len = rb->vlens[k];
        if (!p || unframe(s, &p, &len, now)) continue;
        out[i].data = p;
        out[i].len = len;
    }
    return r;
}

static weir_err rdb_multi_put(weir_state *s, const weir_state_key *keys,
                              const weir_state_slice *vals, size_t n) {
    rdb_backend *rb = RB(s);
    rdb_cf *c = RS(s)->cf;
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    release_held(rb);
    if (mgrow(rb, n) || encode_keys(rb, keys, n)) return WEIR_ENOMEM;
    vb_hash_batch(rb, c, n);
    for (size_t i = 0; i < n; i++) {
        /* again 16 keys ahead: the batch's prefetch above overflows L1 (~1000 lines) but
         * leaves them in L2; without it this loop alone was slower (perf, p=2) */
        if (i + 16 < n) vb_prefetch(c->vb, rb->khash[i + 16]);
        size_t vl;
        const char *v = frame(rb, s, vals[i].data ? vals[i].data : "", vals[i].len, &vl, now);
        if (!v || vb_put_h(c->vb, rb->klist[i], rb->klens[i], rb->khash[i], v, vl, 0))
            return WEIR_ENOMEM;
    }
    return vb_full(c->vb) ? vb_flush(rb, c) : WEIR_OK;
}

/* ---- enumeration ---- */

static weir_err rdb_foreach_entry(weir_state *s, weir_entry_visit_fn fn, void *ud) {
    rdb_backend *rb = RB(s);
    weir_err fr = vb_flush(rb, RS(s)->cf);
    if (fr) return fr;
    unsigned char lo[2] = {(unsigned char)(rb->base.key_groups.start >> 8),
                           (unsigned char)rb->base.key_groups.start};
    int32_t end = rb->base.key_groups.end + 1;
    unsigned char hi[2] = {(unsigned char)(end >> 8), (unsigned char)end};
    weir_buf_reset(&rb->lower);
    weir_buf_reset(&rb->upper);
    weir_buf_append(&rb->lower, lo, 2);
    weir_buf_append(&rb->upper, hi, 2);
    if (rb->lower.oom || rb->upper.oom) return WEIR_ENOMEM;
    int64_t ttl = s->ttl_ms, now = weir_state_now(s->be);
    rocksdb_iterator_t *it = range_iter(rb, RS(s)->cf);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        weir_state_entry e = {0};
        size_t pl = weir_state_decode_prefix(k, kl, &e.key_group, &e.key, &e.key_len);
        if (!pl) continue;
        if (s->kind == WEIR_STATE_MAP) {
            e.uk = k + pl;
            e.uk_len = kl - pl;
        }
        if (s->kind == WEIR_STATE_LIST) {
            long live = weir_list_filter_live(&rb->list, v, vl, ttl, now, &e.expires_at_ms);
            if (live <= 0) continue;
            e.val = rb->list.data;
            e.val_len = rb->list.len;
        } else {
            if (ttl > 0 && vl >= 8) e.expires_at_ms = weir_get_i64le(v) + ttl;
            if (unframe(s, &v, &vl, now)) continue;
            e.val = v;
            e.val_len = vl;
        }
        if (fn(ud, &e)) break;
    }
    return iter_end(rb, it);
}

static uint64_t rdb_approx_count(weir_state *s) {
    uint64_t n = 0;
    if (vb_flush(RB(s), RS(s)->cf)) return 0;
    if (rocksdb_property_int_cf(RB(s)->db, RS(s)->cf->h, "rocksdb.estimate-num-keys", &n)) n = 0;
    return n;
}

static weir_err rdb_compact(weir_state *s) {
    rdb_backend *rb = RB(s);
    weir_err fr = vb_flush(rb, RS(s)->cf);
    if (fr) return fr;
    char *e = NULL;
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    rocksdb_flush_cf(rb->db, fo, RS(s)->cf->h, &e);
    rocksdb_flushoptions_destroy(fo);
    if (e) return rdb_fail(rb, e, "flush");
    rocksdb_compact_range_cf(rb->db, RS(s)->cf->h, NULL, 0, NULL, 0);
    /* list appends are merge operands: the first compaction merges them into a value, which
     * RocksDB's filter (C API: values only) sees in the next compaction */
    if (s->kind == WEIR_STATE_LIST)
        rocksdb_compact_range_cf(rb->db, RS(s)->cf->h, NULL, 0, NULL, 0);
    return WEIR_OK;
}

/* ---- snapshots and restore ----
 *
 * Native snapshot: the write buffers are ingested (vb_flush_all), then a RocksDB checkpoint is
 * taken into <dir>/db with log_size_for_flush 0, which flushes the memtables (the WAL is off, so
 * they must be on disk) and hard-links the live SST files (copies MANIFEST, OPTIONS, CURRENT): SST
 * files unchanged since the previous checkpoint are shared with it. This is the synchronous
 * pause; its cost is the ingest of at most one buffer per value state (VB_MAX_BYTES) plus the
 * memtable flush, never proportional to the state size. <dir>/states (the manifest) records the
 * states. The Bloom filters of the write buffers are untouched: a flush only moves keys from the
 * buffer into RocksDB.
 *
 * Restore (generic, any snapshot): entries arrive per state in key order; they are written with
 * an SstFileWriter into one file per run of strictly increasing keys of one column family (at most
 * RESTORE_FILE_BYTES) and ingested, so a large restore writes files sequentially instead of
 * inserting into the memtable. An entry of a value state is also added to the state's Bloom
 * filter (the filter must know every key this instance can return), and the state's write buffer
 * is flushed before the first ingest so that it cannot shadow restored entries.
 *
 * Restore fast path (rdb_restore_native): an empty backend restoring a native snapshot whose key
 * groups it owns entirely closes its database, hard-links the snapshot's SST files into its
 * directory (copies the few other files) and reopens it: no entry is read.
 */
#define RESTORE_FILE_BYTES (64u << 20)

static weir_err rdb_open_db(rdb_backend *rb, weir_error *err);

/* Monotonic time in fractional ms, for the debug log of a snapshot's phases. */
static double mono_ms(void) {
    return (double)weir_mono_ns() / 1e6;
}

/* Sum of the sizes of the regular files directly in @p dir (0 when unreadable). */
static uint64_t dir_bytes(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    uint64_t n = 0;
    struct dirent *de;
    char path[4096];
    struct stat st;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        if (!stat(path, &st) && S_ISREG(st.st_mode)) n += (uint64_t)st.st_size;
    }
    closedir(d);
    return n;
}

static weir_err rdb_snapshot_native(weir_state_backend *be, const char *dir, uint64_t *bytes,
                                    weir_error *err) {
    rdb_backend *rb = (rdb_backend *)(void *)be;
    release_held(rb);
    double t0 = mono_ms();
    weir_err r = vb_flush_all(rb);
    double t1 = mono_ms();
    if (r)
        return weir_error_set(err, r == WEIR_ENOMEM ? WEIR_ENOMEM : WEIR_ESTATE, 0,
                              "rocksdb snapshot: flushing the write buffers: %s",
                              r == WEIR_ENOMEM ? "out of memory" : rb->base.last_err.msg);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/" WEIR_SNAP_ROCKSDB_DIR, dir) >= (int)sizeof path)
        return weir_error_set(err, WEIR_EINVAL, 0, "rocksdb snapshot: path too long: %s", dir);
    char *e = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(rb->db, &e);
    if (!e) rocksdb_checkpoint_create(cp, path, 0, &e);
    if (cp) rocksdb_checkpoint_object_destroy(cp);
    if (e) {
        weir_error_set(err, WEIR_EIO, 0, "rocksdb snapshot: checkpoint into '%s': %s", path, e);
        rocksdb_free(e);
        return WEIR_EIO;
    }
    double t2 = mono_ms();
    if ((r = weir_snap_manifest_write(dir, be, err))) return r;
    if (weir_log_enabled(WEIR_LOG_DEBUG))
        weir_log(WEIR_LOG_DEBUG, "state",
                 "rocksdb snapshot '%s': buffer ingest %.1f ms, checkpoint "
                 "%.1f ms, manifest %.1f ms",
                 dir, t1 - t0, t2 - t1, mono_ms() - t2);
    if (bytes) {
        char mf[4096];
        snprintf(mf, sizeof mf, "%s/" WEIR_SNAP_MANIFEST_FILE, dir);
        struct stat st;
        *bytes = dir_bytes(path) + (stat(mf, &st) ? 0 : (uint64_t)st.st_size);
    }
    return WEIR_OK;
}

/* Finishes the SST file being restored (if any) and ingests it. */
static weir_err rs_finish(rdb_backend *rb) {
    if (!rb->rs_w) return WEIR_OK;
    char *e = NULL;
    if (rb->rs_n) weir_sst_writer_finish(rb->rs_w, &e);
    weir_sst_writer_free(rb->rs_w);
    rb->rs_w = NULL;
    if (!e && rb->rs_n) {
        const char *files[1] = {rb->rs_path};
        rocksdb_ingest_external_file_cf(rb->db, rb->rs_cf->h, files, 1, rb->ingest, &e);
    }
    unlink(rb->rs_path); /* moved (hard-linked) into the database by a successful ingest */
    rb->rs_n = rb->rs_bytes = 0;
    rb->rs_cf = NULL;
    weir_buf_reset(&rb->rs_last);
    return e ? rdb_fail(rb, e, "restore: ingest") : WEIR_OK;
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static weir_err rdb_restore_put(weir_state *s, const weir_state_entry *en, int64_t ts) {
    rdb_backend *rb = RB(s);
    rdb_cf *c = RS(s)->cf;
    weir_buf *k = &rb->rs_key;
    weir_buf_reset(k);
    if (weir_state_encode_prefix(k, en->key_group, en->key, en->key_len) ||
        (s->kind == WEIR_STATE_MAP && weir_buf_append(k, en->uk, en->uk_len)))
        return WEIR_ENOMEM;
    size_t vl = en->val_len;
    const char *v = en->val;
    if (s->kind != WEIR_STATE_LIST && !(v = frame(rb, s, en->val, en->val_len, &vl, ts)))
        return WEIR_ENOMEM;
    weir_err r;
    /* a new file when the column family changes, the file is full or the keys are not increasing
     * (an SST file needs strictly increasing keys; a later file overrides an earlier one) */
    if (rb->rs_w &&
        (rb->rs_cf != c || rb->rs_bytes >= RESTORE_FILE_BYTES ||
         key_cmp(k->data, k->len, rb->rs_last.data, rb->rs_last.len) <= 0) &&
        (r = rs_finish(rb)))
        return r;
    if (!rb->rs_w) {
        if ((r = vb_flush(rb, c))) return r; /* the buffer must not shadow restored entries */
        snprintf(rb->rs_path, sizeof rb->rs_path, "%s/weir-restore-%llu.sst", rb->dir,
                 (unsigned long long)++rb->ingest_seq);
        char *e = NULL;
        rb->rs_w = weir_sst_writer_open(&SST_FORMAT, rb->rs_path, &e);
        rb->rs_cf = c;
        if (e) {
            weir_sst_writer_free(rb->rs_w);
            rb->rs_w = NULL;
            unlink(rb->rs_path);
            return rdb_fail(rb, e, "restore: creating an SST file");
        }
    }
    char *e = NULL;
    weir_sst_writer_put(rb->rs_w, k->data, k->len, v, vl, &e);
    if (e) return rdb_fail(rb, e, "restore: writing an SST file");
    if (c->vb) bloom_add(&c->vb->bloom, vb_hash(k->data, k->len));
    rb->rs_n++;
    rb->rs_bytes += k->len + vl;
    weir_buf_reset(&rb->rs_last);
    return weir_buf_append(&rb->rs_last, k->data, k->len) ? WEIR_ENOMEM : WEIR_OK;
}

static weir_err rdb_restore_end(weir_state_backend *be) {
    return rs_finish((rdb_backend *)(void *)be);
}

/* Copies file @p from to @p to (created, 0644). 0 or -1 with errno. */
static int copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[1 << 16];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        for (ssize_t o = 0; o < n;) {
            ssize_t w = write(out, buf + o, (size_t)(n - o));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                rc = -1;
                break;
            }
            o += w;
        }
        if (rc) break;
    }
    int saved = errno;
    close(in);
    if (close(out) && !rc) rc = -1, saved = errno;
    errno = saved;
    return rc;
}

/* Removes the regular files directly in @p dir (the database files of a closed backend). */
static int clear_dir_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *de;
    char path[4096];
    struct stat st;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) {
            rc = -1;
            continue;
        }
        if (!lstat(path, &st) && !S_ISDIR(st.st_mode) && unlink(path)) rc = -1;
    }
    closedir(d);
    return rc;
}

/* Hard-links (SST files; copies when linking fails, e.g. across file systems) or copies every
 * file of @p from into @p to. */
static int link_db_files(const char *from, const char *to, char *what, size_t what_len) {
    DIR *d = opendir(from);
    if (!d) {
        snprintf(what, what_len, "opening '%s': %s", from, strerror(errno));
        return -1;
    }
    struct dirent *de;
    char src[4096], dst[4096];
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        int ls = snprintf(src, sizeof src, "%s/%s", from, de->d_name);
        int ld = snprintf(dst, sizeof dst, "%s/%s", to, de->d_name);
        size_t n = strlen(de->d_name);
        int sst = n > 4 && !strcmp(de->d_name + n - 4, ".sst");
        if (ls >= (int)sizeof src || ld >= (int)sizeof dst)
            errno = ENAMETOOLONG;
        else if ((sst && !link(src, dst)) || !copy_file(src, dst))
            continue;
        int w =
            snprintf(what, what_len, "copying '%s' into '%s': %s", de->d_name, to, strerror(errno));
        (void)w;
        rc = -1;
    }
    closedir(d);
    return rc;
}

/* 1 when the default column family holds no record. */
static int default_cf_empty(rdb_backend *rb) {
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(rb->db, rb->ro, rb->cfs[0]->h);
    rocksdb_iter_seek_to_first(it);
    int empty = !rocksdb_iter_valid(it);
    rocksdb_iter_destroy(it);
    return empty;
}

/* Closes the database (keeping the rdb_cf structs, without handles). */
static void close_db(rdb_backend *rb) {
    release_held(rb);
    for (size_t i = 0; i < rb->ncfs; i++)
        if (rb->cfs[i]->h) {
            rocksdb_column_family_handle_destroy(rb->cfs[i]->h);
            rb->cfs[i]->h = NULL;
        }
    if (rb->db) rocksdb_close(rb->db);
    rb->db = NULL;
}

static weir_err rdb_restore_native(weir_state_backend *be, const char *dir,
                                   const weir_snap_info *info, weir_error *err) {
    rdb_backend *rb = (rdb_backend *)(void *)be;
    if (!info->rocksdb || be->nstates || rb->ncfs != 1 || rb->rs_w ||
        info->max_parallelism != be->max_parallelism ||
        info->key_groups.start < be->key_groups.start ||
        info->key_groups.end > be->key_groups.end || !default_cf_empty(rb))
        return WEIR_EUNSUPPORTED;
    char from[4096];
    snprintf(from, sizeof from, "%s/" WEIR_SNAP_ROCKSDB_DIR, dir);
    struct stat st;
    if (stat(from, &st) || !S_ISDIR(st.st_mode)) return WEIR_EUNSUPPORTED;
    close_db(rb);
    char what[1024] = "";
    weir_err r = WEIR_OK;
    if (clear_dir_files(rb->dir)) {
        snprintf(what, sizeof what, "clearing '%s': %s", rb->dir, strerror(errno));
        r = WEIR_EIO;
    } else if (link_db_files(from, rb->dir, what, sizeof what)) {
        r = WEIR_EIO;
    } else if ((r = rdb_open_db(rb, err))) {
        snprintf(what, sizeof what, "%s", err ? err->msg : "cannot open the restored database");
    }
    if (!r) return WEIR_OK;
    /* leave an empty, usable database behind */
    close_db(rb);
    clear_dir_files(rb->dir);
    weir_error ignored;
    rdb_open_db(rb, &ignored);
    return weir_error_set(err, r, 0, "rocksdb restore from '%s': %s", dir, what);
}

/* Options to read a snapshot: the list merge operator, nothing created. */
static rocksdb_options_t *reader_options(void) {
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 0);
    rocksdb_options_set_merge_operator(o, list_merge_operator());
    rocksdb_options_set_info_log_level(o, 3 /* ERROR_LEVEL */);
    return o;
}

/* Error code of a RocksDB status message: corruption → WEIR_EPARSE, anything else WEIR_EIO. */
static weir_err status_code(const char *msg) {
    return msg && !strncmp(msg, "Corruption", 10) ? WEIR_EPARSE : WEIR_EIO;
}

weir_err weir_rdb_snapshot_scan(const char *dir, const weir_snap_info *info, weir_kg_range range,
                                weir_snap_entry_fn fn, void *ud, weir_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" WEIR_SNAP_ROCKSDB_DIR, dir);
    if (range.end < range.start) return WEIR_OK;
    int n = info->nstates + 1;
    const char **names = calloc((size_t)n, sizeof *names);
    const rocksdb_options_t **cfo = calloc((size_t)n, sizeof *cfo);
    rocksdb_column_family_handle_t **hs = calloc((size_t)n, sizeof *hs);
    rocksdb_options_t *o = reader_options();
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    weir_err r = WEIR_OK;
    rocksdb_t *db = NULL;
    weir_buf list = {0};
    if (!names || !cfo || !hs) {
        r = weir_error_set(err, WEIR_ENOMEM, 0, "snapshot '%s': out of memory", dir);
        goto done;
    }
    names[0] = "default";
    cfo[0] = o;
    for (int i = 1; i < n; i++) {
        names[i] = info->states[i - 1].name;
        cfo[i] = o;
    }
    char *e = NULL;
    db = rocksdb_open_for_read_only_column_families(o, path, n, names, cfo, hs, 0, &e);
    if (!db) {
        r = weir_error_set(err, status_code(e), 0,
                           "snapshot '%s': cannot open the RocksDB "
                           "checkpoint: %s",
                           dir, e ? e : "?");
        rocksdb_free(e);
        goto done;
    }
    unsigned char lo[2] = {(unsigned char)(range.start >> 8), (unsigned char)range.start};
    int32_t end = range.end + 1;
    unsigned char hi[2] = {(unsigned char)(end >> 8), (unsigned char)end};
    rocksdb_readoptions_set_iterate_lower_bound(ro, (const char *)lo, 2);
    rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, 2);
    rocksdb_readoptions_set_fill_cache(ro, 0);
    int stop = 0;
    for (int si = 0; si < info->nstates && !r && !stop; si++) {
        const weir_snapshot_state_info *st = &info->states[si];
        int64_t ttl = st->ttl_ms;
        rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db, ro, hs[si + 1]);
        for (rocksdb_iter_seek(it, (const char *)lo, 2); !stop && rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
            size_t kl, vl;
            const char *k = rocksdb_iter_key(it, &kl);
            const char *v = rocksdb_iter_value(it, &vl);
            weir_state_entry en = {0};
            size_t pl = weir_state_decode_prefix(k, kl, &en.key_group, &en.key, &en.key_len);
            if (!pl || (st->kind != WEIR_STATE_MAP && pl != kl)) {
                r = weir_error_set(err, WEIR_EPARSE, 0, "snapshot '%s': state '%s': malformed key",
                                   dir, st->name);
                break;
            }
            if (st->kind == WEIR_STATE_MAP) {
                en.uk = k + pl;
                en.uk_len = kl - pl;
            }
            if (st->kind == WEIR_STATE_LIST) {
                int64_t maxexp;
                if (weir_list_filter_live(&list, v, vl, ttl, INT64_MIN, &maxexp) < 0) {
                    r = weir_error_set(err, WEIR_EPARSE, 0,
                                       "snapshot '%s': state '%s': malformed list", dir, st->name);
                    break;
                }
                en.expires_at_ms = maxexp;
            } else if (ttl > 0) {
                if (vl < 8) {
                    r = weir_error_set(err, WEIR_EPARSE, 0,
                                       "snapshot '%s': state '%s': value without TTL timestamp",
                                       dir, st->name);
                    break;
                }
                en.expires_at_ms = weir_get_i64le(v) + ttl;
                v += 8;
                vl -= 8;
            }
            en.val = v;
            en.val_len = vl;
            stop = fn(ud, si, &en);
        }
        rocksdb_iter_get_error(it, &e);
        rocksdb_iter_destroy(it);
        if (e) {
            if (!r)
                r = weir_error_set(err, status_code(e), 0, "snapshot '%s': state '%s': %s", dir,
                                   st->name, e);
            rocksdb_free(e);
            e = NULL;
        }
    }
done:
    if (db) {
        for (int i = 0; i < n; i++)
            if (hs[i]) rocksdb_column_family_handle_destroy(hs[i]);
        rocksdb_close(db);
    }
    weir_buf_free(&list);
    rocksdb_readoptions_destroy(ro);
    rocksdb_options_destroy(o);
    free(names);
    free(cfo);
    free(hs);
    return r;
}

/* ---- lifecycle ---- */

static weir_state *rdb_state_new(weir_state_backend *be, const weir_state_desc *d,
                                 weir_error *err) {
    rdb_backend *rb = (rdb_backend *)(void *)be;
    if (!strcmp(d->name, "default")) {
        weir_error_set(err, WEIR_EINVAL, 0, "state name 'default' is reserved (RocksDB)");
        return NULL;
    }
    int kind = 0;
    int64_t ttl = 0;
    int have = meta_read(rb, d->name, &kind, &ttl, err);
    if (have < 0) return NULL;
    if (have && (kind != (int)d->kind || (ttl > 0) != (d->ttl_ms > 0))) {
        weir_error_set(err, WEIR_EINVAL, 0,
                       "state '%s' exists with kind %d ttl %lld; incompatible with kind %d "
                       "ttl %lld",
                       d->name, kind, (long long)ttl, (int)d->kind, (long long)d->ttl_ms);
        return NULL;
    }
    rdb_cf *c = cf_find(rb, d->name);
    if (!c) {
        if (!(c = cf_alloc(rb, d->name))) {
            weir_error_set(err, WEIR_ENOMEM, 0, "state '%s': out of memory", d->name);
            return NULL;
        }
        rocksdb_options_t *o = cf_options(rb, c);
        char *e = NULL;
        c->h = rocksdb_create_column_family(rb->db, o, d->name, &e);
        rocksdb_options_destroy(o);
        if (e) {
            weir_error_set(err, WEIR_ESTATE, 0, "rocksdb: creating column family '%s': %s", d->name,
                           e);
            rocksdb_free(e);
            return NULL; /* c stays in cfs without a handle; freed on close */
        }
    }
    if ((!have || ttl != d->ttl_ms) && meta_write(rb, d->name, d->kind, d->ttl_ms, err))
        return NULL;
    atomic_store(&c->ttl_ms, d->ttl_ms);
    atomic_store(&c->kind, (int)d->kind);
    if (d->kind == WEIR_STATE_VALUE && !c->vb) {
        c->vb = calloc(1, sizeof *c->vb);
        if (!c->vb || vb_grow(c->vb)) {
            weir_error_set(err, WEIR_ENOMEM, 0, "state '%s': out of memory", d->name);
            return NULL;
        }
        /* only keys written through this instance are known: enable the filter for a state
         * that had no data (no metadata record) when it was registered */
        c->vb->bloom.enabled = !have;
    }
    rdb_state *st = calloc(1, sizeof *st);
    if (!st) {
        weir_error_set(err, WEIR_ENOMEM, 0, "state '%s': out of memory", d->name);
        return NULL;
    }
    st->cf = c;
    return &st->base;
}

static void rdb_state_free(weir_state *s) {
    free(s);
}

static void rdb_backend_free(weir_state_backend *be) {
    rdb_backend *rb = (rdb_backend *)(void *)be;
    release_held(rb);
    if (rb->rs_w) { /* a restore that did not end: its last file is dropped */
        weir_sst_writer_free(rb->rs_w);
        unlink(rb->rs_path);
    }
    /* a job's working directory is emptied before its next use (restores come from checkpoints):
     * writing the buffer out would only cost the end of a bounded job (3 % of the dedup job's
     * CPU over 1 M events, perf) */
    if (rb->db && !rb->discard_on_close && vb_flush_all(rb)) /* nothing can report it: say so */
        fprintf(stderr, "weir: rocksdb backend: flushing buffered state on close failed: %s\n",
                rb->base.last_err.msg);
    weir_state_backend_fini(be);
    for (size_t i = 0; i < rb->ncfs; i++)
        if (rb->cfs[i]->h) rocksdb_column_family_handle_destroy(rb->cfs[i]->h);
    if (rb->db) rocksdb_close(rb->db); /* flushes memtables (WAL is off), stops compactions */
    for (size_t i = 0; i < rb->ncfs; i++) {
        rocksdb_compactionfilter_destroy(rb->cfs[i]->filter);
        vb_free(rb->cfs[i]->vb);
        free(rb->cfs[i]->name);
        free(rb->cfs[i]);
    }
    free(rb->cfs);
    if (rb->wb) rocksdb_writebatch_destroy(rb->wb);
    if (rb->ro) rocksdb_readoptions_destroy(rb->ro);
    if (rb->iter_ro) rocksdb_readoptions_destroy(rb->iter_ro);
    if (rb->wo) rocksdb_writeoptions_destroy(rb->wo);
    if (rb->opts) rocksdb_options_destroy(rb->opts);
    if (rb->cache) rocksdb_cache_destroy(rb->cache);
    if (rb->ingest) rocksdb_ingestexternalfileoptions_destroy(rb->ingest);
    free(rb->dir);
    weir_buf_free(&rb->key);
    weir_buf_free(&rb->val);
    weir_buf_free(&rb->lower);
    weir_buf_free(&rb->upper);
    weir_buf_free(&rb->list);
    weir_buf_free(&rb->mkeys);
    weir_buf_free(&rb->rs_key);
    weir_buf_free(&rb->rs_last);
    free((void *)rb->klist);
    free(rb->klens);
    free(rb->vlens);
    free(rb->vlist);
    free(rb->errs);
    free(rb->cflist);
    free(rb->order);
    free(rb->khash);
    free(rb);
}

static const weir_state_ops rdb_ops = {
    .name = "rocksdb",
    .backend_free = rdb_backend_free,
    .state_new = rdb_state_new,
    .state_free = rdb_state_free,
    .value_get = rdb_value_get,
    .value_put = rdb_value_put,
    .value_clear = rdb_value_clear,
    .map_get = rdb_map_get,
    .map_put = rdb_map_put,
    .map_remove = rdb_map_remove,
    .map_foreach = rdb_map_foreach,
    .map_clear = rdb_map_clear,
    .list_add = rdb_list_add,
    .list_foreach = rdb_list_foreach,
    .list_clear = rdb_list_clear,
    .multi_get = rdb_multi_get,
    .multi_put = rdb_multi_put,
    .foreach_entry = rdb_foreach_entry,
    .approx_count = rdb_approx_count,
    .compact = rdb_compact,
    .snapshot_native = rdb_snapshot_native,
    .restore_native = rdb_restore_native,
    .restore_put = rdb_restore_put,
    .restore_end = rdb_restore_end,
};

/* Base options: bloom filters, block cache, write buffers, merge operator (see the report in
 * docs for the figures these were tuned with). */
static void set_options(rdb_backend *rb, const weir_backend_options *opt) {
    size_t cache = opt->block_cache_bytes ? opt->block_cache_bytes : DEFAULT_CACHE;
    size_t wbuf = opt->write_buffer_bytes ? opt->write_buffer_bytes : DEFAULT_WRITE_BUFFER;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    rocksdb_options_set_max_background_jobs(o, 2);
    rocksdb_options_set_write_buffer_size(o, wbuf);
    rocksdb_options_set_max_write_buffer_number(o, 2);
    rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
    rocksdb_options_set_compaction_style(o, rocksdb_universal_compaction);
    rocksdb_options_set_compression(o, SST_FORMAT.lz4 ? rocksdb_lz4_compression
                                                      : rocksdb_no_compression);
    /* memtable bloom: absent-key lookups (dedup) skip the skiplist search */
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.1);
    rocksdb_options_set_memtable_whole_key_filtering(o, 1);
    rocksdb_options_set_merge_operator(o, list_merge_operator());
    rb->cache = rocksdb_cache_create_lru(cache);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, rb->cache);
    rocksdb_block_based_options_set_filter_policy(
        t, rocksdb_filterpolicy_create_bloom_full(SST_FORMAT.bloom_bits_per_key));
    /* Filters and indexes stay in the table readers, outside the block cache: a full filter of
     * a 64 MB file is ~4 MB, larger than one shard of a sharded LRU cache, so in the cache it is
     * evicted at once and re-read on every lookup (measured: 200 K → 15 K lookups/s).
     * Cost: ~1.25 bytes per key (10 bits) plus the index, e.g. ~15 MB at 10 M keys. */
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 0);
    rocksdb_block_based_options_set_format_version(t, SST_FORMAT.format_version);
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);
    rb->opts = o;
}

/* Opens the database in rb->dir with every column family it has (creating it when missing),
 * allocating an rdb_cf for each one not yet known, and arms the compaction filters of existing
 * states from their metadata. rb->db is NULL on failure. */
static weir_err rdb_open_db(rdb_backend *rb, weir_error *err) {
    /* existing column families (none when the directory holds no database yet) */
    size_t nnames = 0;
    char *e = NULL;
    char **names = rocksdb_list_column_families(rb->opts, rb->dir, &nnames, &e);
    if (e) { /* no database yet; the C API still returns a malloc(0) array */
        rocksdb_free(e);
        e = NULL;
        if (names) rocksdb_list_column_families_destroy(names, nnames);
        names = NULL;
        nnames = 0;
    }
    int ok = cf_find(rb, "default") || cf_alloc(rb, "default");
    for (size_t i = 0; ok && i < nnames; i++)
        if (!cf_find(rb, names[i])) ok = cf_alloc(rb, names[i]) != NULL;
    if (names) rocksdb_list_column_families_destroy(names, nnames);
    if (!ok) return weir_error_set(err, WEIR_ENOMEM, 0, "rocksdb backend: out of memory");
    size_t n = rb->ncfs;
    const char **cfn = calloc(n, sizeof *cfn);
    const rocksdb_options_t **cfo = calloc(n, sizeof *cfo);
    rocksdb_column_family_handle_t **hs = calloc(n, sizeof *hs);
    weir_err r = WEIR_OK;
    if (cfn && cfo && hs) {
        for (size_t i = 0; i < n; i++) {
            cfn[i] = rb->cfs[i]->name;
            cfo[i] = cf_options(rb, rb->cfs[i]);
        }
        rb->db = rocksdb_open_column_families(rb->opts, rb->dir, (int)n, cfn, cfo, hs, &e);
        for (size_t i = 0; i < n; i++) {
            rocksdb_options_destroy((rocksdb_options_t *)cfo[i]);
            if (rb->db) rb->cfs[i]->h = hs[i];
        }
    } else {
        r = weir_error_set(err, WEIR_ENOMEM, 0, "rocksdb backend: out of memory");
    }
    free(cfn);
    free(cfo);
    free(hs);
    if (!rb->db) {
        if (e) {
            r = weir_error_set(err, WEIR_EIO, 0, "rocksdb backend: cannot open '%s': %s", rb->dir,
                               e);
            rocksdb_free(e);
        }
        return r ? r
                 : weir_error_set(err, WEIR_EIO, 0, "rocksdb backend: cannot open '%s'", rb->dir);
    }
    /* arm the compaction filters of existing states from their metadata */
    for (size_t i = 0; i < rb->ncfs; i++) {
        int kind;
        int64_t ttl;
        if (!strcmp(rb->cfs[i]->name, "default")) continue;
        if (meta_read(rb, rb->cfs[i]->name, &kind, &ttl, NULL) == 1) {
            atomic_store(&rb->cfs[i]->ttl_ms, ttl);
            atomic_store(&rb->cfs[i]->kind, kind);
        }
    }
    return WEIR_OK;
}

weir_state_backend *weir_state_backend_rocksdb_new(const weir_backend_options *opt,
                                                   weir_error *err) {
    if (!opt || !opt->dir || !opt->dir[0]) {
        weir_error_set(err, WEIR_EINVAL, 0, "rocksdb backend: no directory given");
        return NULL;
    }
    rdb_backend *rb = calloc(1, sizeof *rb);
    if (!rb) {
        weir_error_set(err, WEIR_ENOMEM, 0, "rocksdb backend: out of memory");
        return NULL;
    }
    if (weir_state_backend_init(&rb->base, &rdb_ops, opt, err)) {
        free(rb);
        return NULL;
    }
    if (weir_mkdirs(opt->dir)) {
        weir_error_set(err, WEIR_EIO, 0, "rocksdb backend: cannot create directory '%s': %s",
                       opt->dir, strerror(errno));
        free(rb);
        return NULL;
    }
    set_options(rb, opt);
    rb->discard_on_close = opt->discard_on_close;
    rb->ro = rocksdb_readoptions_create();
    rb->iter_ro = rocksdb_readoptions_create();
    rb->dir = strdup(opt->dir);
    rb->ingest = rocksdb_ingestexternalfileoptions_create();
    rocksdb_ingestexternalfileoptions_set_move_files(rb->ingest, 1);
    if (!rb->dir || !rb->ingest) {
        weir_error_set(err, WEIR_ENOMEM, 0, "rocksdb backend: out of memory");
        rdb_backend_free(&rb->base);
        return NULL;
    }
    rb->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(rb->wo, 1);
    rb->wb = rocksdb_writebatch_create();

    if (rdb_open_db(rb, err)) {
        rdb_backend_free(&rb->base);
        return NULL;
    }
    return &rb->base;
}
