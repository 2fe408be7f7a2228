/*
 * state_heap.c - the heap keyed-state backend: hash tables in memory (see weir/state.h).
 *
 * Data structures. Each state owns one open-addressing hash table (linear probing, power-of-two
 * capacity, load <= 0.75, backward-shift deletion so there are no tombstones). Its keys are the
 * encoded key prefixes key_group (2 bytes BE) | varint(len) | key, the same bytes RocksDB uses,
 * so that sorting nodes by memcmp gives RocksDB's key-group order for foreach_entry. A node is
 * one allocation: header | key bytes | value bytes (vcap reserved), so a put of an existing key
 * whose value fits allocates nothing.
 *   value state: node value = the value, node ts = last write time.
 *   list state:  node value = the serialized list (state_internal.h), one ts per element.
 *   map state:   node->sub = a nested table user key → node (value, ts).
 *
 * TTL (Flink semantics: update on create and write, never return expired): a read that finds an
 * expired entry removes it; in addition every access advances the state's cleanup cursor over
 * CLEANUP_SLOTS slots of the primary table and removes the expired entries it finds (Flink's
 * incremental cleanup). Deleting with backward shift can move a not-yet-visited node behind the
 * cursor; it is then visited on the next round, which is harmless.
 *
 * Invariants: slots[i] == NULL <=> hashes[i] unused; n < cap * 3/4; every node's hash is
 * hash_bytes(node key).
 */
#include "state_internal.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define CLEANUP_SLOTS 4 /* slots examined per access by the incremental TTL cleanup */

typedef struct hnode {
    uint32_t klen, vlen, vcap;
    int64_t ts;           /* last write (TTL) */
    struct htable *sub;   /* map state: user key → value */
    unsigned char data[]; /* key (klen) then value (vcap) */
} hnode;

typedef struct htable {
    hnode **slots;
    uint64_t *hashes;
    size_t cap, n; /* cap is 0 or a power of two */
    size_t cursor; /* incremental cleanup position */
} htable;

typedef struct heap_state {
    struct weir_state base;
    htable t;
} heap_state;

typedef struct heap_backend {
    struct weir_state_backend base;
    weir_buf key;  /* encoded key scratch (uk appended for map state) */
    weir_buf list; /* filtered list scratch */
    hnode **sort;  /* node pointers to sort (foreach) */
    size_t sort_cap;
} heap_backend;

static inline unsigned char *nkey(hnode *x) {
    return x->data;
}
static inline unsigned char *nval(hnode *x) {
    return x->data + x->klen;
}

static uint64_t hash_bytes(const void *p, size_t n) {
    return XXH3_64bits(p, n); /* xxHash (libxxhash), see docs/dependencies.md */
}

/* ---- hash table ---- */

static void node_free(hnode *x);

static void table_free(htable *t) {
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) node_free(t->slots[i]);
    free(t->slots);
    free(t->hashes);
    memset(t, 0, sizeof *t);
}

static void node_free(hnode *x) {
    if (x->sub) {
        table_free(x->sub);
        free(x->sub);
    }
    free(x);
}

/* Slot of @p key, or -1 with *ins = the empty slot where it would go (cap must be > 0). */
static long table_find(const htable *t, const void *key, size_t klen, uint64_t h, size_t *ins) {
    size_t mask = t->cap - 1, i = h & mask;
    while (t->slots[i]) {
        hnode *x = t->slots[i];
        if (t->hashes[i] == h && x->klen == klen && !memcmp(x->data, key, klen)) return (long)i;
        i = (i + 1) & mask;
    }
    if (ins) *ins = i;
    return -1;
}

static int table_grow(htable *t) {
    size_t nc = t->cap ? t->cap * 2 : 16;
    hnode **ns = calloc(nc, sizeof *ns);
    uint64_t *nh = malloc(nc * sizeof *nh);
    if (!ns || !nh) {
        free(ns);
        free(nh);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i]) continue;
        size_t j = t->hashes[i] & (nc - 1);
        while (ns[j])
            j = (j + 1) & (nc - 1);
        ns[j] = t->slots[i];
        nh[j] = t->hashes[i];
    }
    free(t->slots);
    free(t->hashes);
    t->slots = ns;
    t->hashes = nh;
    t->cap = nc;
    t->cursor = 0;
    return 0;
}

/* Removes slot @p i (backward-shift deletion) and frees its node. */
static void table_del(htable *t, size_t i) {
    size_t mask = t->cap - 1;
    node_free(t->slots[i]);
    t->slots[i] = NULL;
    t->n--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j]) break;
        size_t home = t->hashes[j] & mask;
        /* move j into the hole i unless its home lies cyclically in (i, j] */
        int stay = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (stay) continue;
        t->slots[i] = t->slots[j];
        t->hashes[i] = t->hashes[j];
        t->slots[j] = NULL;
        i = j;
    }
}

/* Returns the node for @p key, creating it (empty value) when absent and @p create; sets *slot.
 * NULL when absent (create == 0) or out of memory. */
static hnode *table_upsert(htable *t, const void *key, size_t klen, int create, size_t *slot) {
    uint64_t h = hash_bytes(key, klen);
    size_t ins = 0;
    long i = t->cap ? table_find(t, key, klen, h, &ins) : -1;
    if (i >= 0) {
        *slot = (size_t)i;
        return t->slots[i];
    }
    if (!create) return NULL;
    if ((t->n + 1) * 4 > t->cap * 3) {
        if (table_grow(t)) return NULL;
        table_find(t, key, klen, h, &ins);
    }
    hnode *x = malloc(sizeof *x + klen + 16);
    if (!x) return NULL;
    x->klen = (uint32_t)klen;
    x->vlen = 0;
    x->vcap = 16;
    x->ts = 0;
    x->sub = NULL;
    memcpy(x->data, key, klen);
    t->slots[ins] = x;
    t->hashes[ins] = h;
    t->n++;
    *slot = ins;
    return x;
}

/* Sets the value of the node in slot @p i (reallocating the node when it does not fit). */
static hnode *node_set(htable *t, size_t i, const void *val, size_t len, int64_t ts) {
    hnode *x = t->slots[i];
    if (len > x->vcap) {
        size_t nc = len < 64 ? 64 : len + len / 4;
        hnode *y = realloc(x, sizeof *x + x->klen + nc);
        if (!y) return NULL;
        y->vcap = (uint32_t)nc;
        t->slots[i] = x = y;
    }
    memcpy(nval(x), val, len);
    x->vlen = (uint32_t)len;
    x->ts = ts;
    return x;
}

/* ---- TTL cleanup ---- */

/* Removes expired content of the primary node in slot @p i; returns 1 if the slot was deleted. */
static int prune_slot(heap_backend *hb, heap_state *st, size_t i, int64_t now) {
    htable *t = &st->t;
    hnode *x = t->slots[i];
    int64_t ttl = st->base.ttl_ms;
    switch (st->base.kind) {
    case WEIR_STATE_VALUE:
        if (!weir_ttl_expired(x->ts, ttl, now)) return 0;
        break;
    case WEIR_STATE_MAP:
        if (x->sub) {
            for (size_t j = 0; j < x->sub->cap;) {
                hnode *y = x->sub->slots[j];
                if (y && weir_ttl_expired(y->ts, ttl, now))
                    table_del(x->sub, j);
                else
                    j++;
            }
            if (x->sub->n) return 0;
        }
        break;
    case WEIR_STATE_LIST: {
        int64_t maxexp;
        long live = weir_list_filter_live(&hb->list, nval(x), x->vlen, ttl, now, &maxexp);
        if (live < 0) return 0;
        if (live > 0) {
            if (hb->list.len != x->vlen) node_set(t, i, hb->list.data, hb->list.len, x->ts);
            return 0;
        }
        break;
    }
    }
    table_del(t, i);
    return 1;
}

static void cleanup_step(heap_backend *hb, heap_state *st) {
    htable *t = &st->t;
    if (st->base.ttl_ms <= 0 || !t->n) return;
    int64_t now = weir_state_now(&hb->base);
    for (int k = 0; k < CLEANUP_SLOTS; k++) {
        if (t->cursor >= t->cap) t->cursor = 0;
        size_t i = t->cursor;
        if (t->slots[i] && prune_slot(hb, st, i, now)) continue; /* re-check shifted-in node */
        t->cursor++;
    }
}

/* ---- helpers ---- */

#define HB(s) ((heap_backend *)(void *)(s)->be)
#define HS(s) ((heap_state *)(void *)(s))

static const weir_buf *cur_prefix(weir_state *s) {
    return &s->be->cur_prefix;
}

/* Primary node of the current key (NULL if absent and !create), cleanup step first. */
static hnode *cur_node(weir_state *s, int create, size_t *slot) {
    heap_state *st = HS(s);
    cleanup_step(HB(s), st);
    const weir_buf *p = cur_prefix(s);
    return table_upsert(&st->t, p->data, p->len, create, slot);
}

/* ---- value state ---- */

static weir_err heap_value_get(weir_state *s, const void **val, size_t *len) {
    size_t i;
    hnode *x = cur_node(s, 0, &i);
    if (!x) return WEIR_ENOTFOUND;
    if (weir_ttl_expired(x->ts, s->ttl_ms, weir_state_now(s->be))) {
        table_del(&HS(s)->t, i);
        return WEIR_ENOTFOUND;
    }
    *val = nval(x);
    *len = x->vlen;
    return WEIR_OK;
}

static weir_err heap_value_put(weir_state *s, const void *val, size_t len) {
    size_t i;
    if (!cur_node(s, 1, &i)) return WEIR_ENOMEM;
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    return node_set(&HS(s)->t, i, val, len, now) ? WEIR_OK : WEIR_ENOMEM;
}

static weir_err heap_value_clear(weir_state *s) {
    size_t i;
    if (cur_node(s, 0, &i)) table_del(&HS(s)->t, i);
    return WEIR_OK;
}

/* ---- map state ---- */

static weir_err heap_map_get(weir_state *s, const void *uk, size_t uk_len, const void **val,
                             size_t *len) {
    size_t i, j;
    hnode *x = cur_node(s, 0, &i);
    if (!x || !x->sub) return WEIR_ENOTFOUND;
    hnode *y = table_upsert(x->sub, uk, uk_len, 0, &j);
    if (!y) return WEIR_ENOTFOUND;
    if (weir_ttl_expired(y->ts, s->ttl_ms, weir_state_now(s->be))) {
        table_del(x->sub, j);
        if (!x->sub->n) table_del(&HS(s)->t, i);
        return WEIR_ENOTFOUND;
    }
    *val = nval(y);
    *len = y->vlen;
    return WEIR_OK;
}

static weir_err heap_map_put(weir_state *s, const void *uk, size_t uk_len, const void *val,
                             size_t len) {
    size_t i, j;
    hnode *x = cur_node(s, 1, &i);
    if (!x) return WEIR_ENOMEM;
    if (!x->sub && !(x->sub = calloc(1, sizeof *x->sub))) {
        if (!x->vlen) table_del(&HS(s)->t, i);
        return WEIR_ENOMEM;
    }
    if (!table_upsert(x->sub, uk, uk_len, 1, &j)) return WEIR_ENOMEM;
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    return node_set(x->sub, j, val, len, now) ? WEIR_OK : WEIR_ENOMEM;
}

static weir_err heap_map_remove(weir_state *s, const void *uk, size_t uk_len) {
    size_t i, j;
    hnode *x = cur_node(s, 0, &i);
    if (!x || !x->sub) return WEIR_OK;
    if (table_upsert(x->sub, uk, uk_len, 0, &j)) table_del(x->sub, j);
    if (!x->sub->n) table_del(&HS(s)->t, i);
    return WEIR_OK;
}

static int cmp_node_key(const void *a, const void *b) {
    const hnode *x = *(hnode *const *)a, *y = *(hnode *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->data, y->data, n);
    if (c) return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* Collects the nodes of @p t into hb->sort[base..] and sorts them; returns the count or -1. */
static long collect_sorted(heap_backend *hb, const htable *t, size_t base) {
    if (base + t->n > hb->sort_cap) {
        size_t nc = hb->sort_cap ? hb->sort_cap : 64;
        while (nc < base + t->n)
            nc *= 2;
        hnode **ns = realloc(hb->sort, nc * sizeof *ns);
        if (!ns) return -1;
        hb->sort = ns;
        hb->sort_cap = nc;
    }
    size_t k = base;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) hb->sort[k++] = t->slots[i];
    if (k > base) qsort(hb->sort + base, k - base, sizeof *hb->sort, cmp_node_key); /* sort: NULL */
    return (long)(k - base);
}

/* A node with key bytes 2..9 (after the key group) big-endian, zero-padded: comparing heads
 * orders most pairs without touching the nodes. */
typedef struct headed {
    uint64_t head;
    hnode *x;
} headed;

static uint64_t node_head(const hnode *x) {
    uint64_t h = 0;
    for (uint32_t i = 2; i < 10; i++)
        h = h << 8 | (i < x->klen ? x->data[i] : 0);
    return h;
}

static int cmp_headed(const void *a, const void *b) {
    const headed *x = a, *y = b;
    if (x->head != y->head) return x->head < y->head ? -1 : 1;
    return cmp_node_key(&x->x, &y->x);
}

/* Like collect_sorted(hb, t, 0) for a primary table (keys start with the 2-byte key group) of a
 * backend with @p max_parallelism key groups: a counting sort by key group, then a sort of each
 * key group by the next 8 key bytes (then the whole key). A qsort of millions of node pointers is
 * dominated by cache misses (each comparison dereferences two random nodes: ~1.5 us per node at
 * 4 M nodes); here each node is read a few times in all. */
static long collect_sorted_by_kg(heap_backend *hb, const htable *t, int32_t max_parallelism) {
    if (t->n < 4096) return collect_sorted(hb, t, 0);
    size_t ng = (size_t)max_parallelism;
    size_t *start = calloc(ng + 1, sizeof *start);
    if (!start) return -1;
    if (t->n > hb->sort_cap) {
        hnode **ns = realloc(hb->sort, t->n * sizeof *ns);
        if (!ns) {
            free(start);
            return -1;
        }
        hb->sort = ns;
        hb->sort_cap = t->n;
    }
    for (size_t i = 0; i < t->cap; i++) {
        const hnode *x = t->slots[i];
        if (x) start[((size_t)x->data[0] << 8 | x->data[1]) % ng + 1]++;
    }
    for (size_t g = 0; g < ng; g++)
        start[g + 1] += start[g];
    size_t *next = malloc(ng * sizeof *next);
    if (!next) {
        free(start);
        return -1;
    }
    memcpy(next, start, ng * sizeof *next);
    for (size_t i = 0; i < t->cap; i++) {
        hnode *x = t->slots[i];
        if (x) hb->sort[next[((size_t)x->data[0] << 8 | x->data[1]) % ng]++] = x;
    }
    size_t big = 0;
    for (size_t g = 0; g < ng; g++)
        if (start[g + 1] - start[g] > big) big = start[g + 1] - start[g];
    headed *h = malloc(big * sizeof *h);
    if (!h) {
        free(next);
        free(start);
        return -1;
    }
    for (size_t g = 0; g < ng; g++) {
        size_t m = start[g + 1] - start[g];
        hnode **b = hb->sort + start[g];
        if (m < 2) continue;
        for (size_t j = 0; j < m; j++)
            h[j] = (headed){node_head(b[j]), b[j]};
        qsort(h, m, sizeof *h, cmp_headed);
        for (size_t j = 0; j < m; j++)
            b[j] = h[j].x;
    }
    free(h);
    free(next);
    free(start);
    return (long)t->n;
}

static weir_err heap_map_foreach(weir_state *s, weir_map_visit_fn fn, void *ud) {
    heap_backend *hb = HB(s);
    size_t i;
    hnode *x = cur_node(s, 0, &i);
    if (!x || !x->sub) return WEIR_OK;
    long n = collect_sorted(hb, x->sub, 0);
    if (n < 0) return WEIR_ENOMEM;
    int64_t now = weir_state_now(s->be);
    for (long k = 0; k < n; k++) {
        hnode *y = hb->sort[k];
        if (weir_ttl_expired(y->ts, s->ttl_ms, now)) continue;
        if (fn(ud, nkey(y), y->klen, nval(y), y->vlen)) break;
    }
    return WEIR_OK;
}

static weir_err heap_map_clear(weir_state *s) {
    size_t i;
    if (cur_node(s, 0, &i)) table_del(&HS(s)->t, i);
    return WEIR_OK;
}

/* ---- list state ---- */

static weir_err heap_list_add(weir_state *s, const void *val, size_t len) {
    heap_backend *hb = HB(s);
    size_t i;
    hnode *x = cur_node(s, 1, &i);
    if (!x) return WEIR_ENOMEM;
    /* encode the element at the end of the node's value, growing the node in place */
    weir_buf *e = &hb->list;
    weir_buf_reset(e);
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    if (weir_list_append_elem(e, s->ttl_ms > 0, now, val, len)) return WEIR_ENOMEM;
    size_t need = x->vlen + e->len;
    if (need > x->vcap) {
        size_t nc = need * 2;
        hnode *y = realloc(x, sizeof *x + x->klen + nc);
        if (!y) return WEIR_ENOMEM;
        y->vcap = (uint32_t)nc;
        HS(s)->t.slots[i] = x = y;
    }
    memcpy(nval(x) + x->vlen, e->data, e->len);
    x->vlen = (uint32_t)need;
    x->ts = now;
    return WEIR_OK;
}

static weir_err heap_list_foreach(weir_state *s, weir_list_visit_fn fn, void *ud) {
    size_t i;
    hnode *x = cur_node(s, 0, &i);
    if (!x) return WEIR_OK;
    int64_t now = weir_state_now(s->be), ts;
    weir_list_iter it = {nval(x), nval(x) + x->vlen, s->ttl_ms > 0};
    const void *v;
    size_t vl;
    int r;
    while ((r = weir_list_next(&it, &ts, &v, &vl)) == 1) {
        if (weir_ttl_expired(ts, s->ttl_ms, now)) continue;
        if (fn(ud, v, vl)) break;
    }
    return r < 0 ? WEIR_ESTATE : WEIR_OK;
}

static weir_err heap_list_clear(weir_state *s) {
    size_t i;
    if (cur_node(s, 0, &i)) table_del(&HS(s)->t, i);
    return WEIR_OK;
}

/* ---- batch ---- */

static weir_err heap_multi_get(weir_state *s, const weir_state_key *keys, size_t n,
                               weir_state_slice *out) {
    heap_backend *hb = HB(s);
    heap_state *st = HS(s);
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    cleanup_step(hb, st);
    for (size_t k = 0; k < n; k++) {
        weir_buf_reset(&hb->key);
        if (weir_state_encode_prefix(&hb->key, keys[k].key_group, keys[k].key, keys[k].len))
            return WEIR_ENOMEM;
        size_t i;
        hnode *x = table_upsert(&st->t, hb->key.data, hb->key.len, 0, &i);
        out[k].data = NULL;
        out[k].len = 0;
        if (!x) continue;
        if (weir_ttl_expired(x->ts, s->ttl_ms, now)) {
            table_del(&st->t, i);
            continue;
        }
        out[k].data = nval(x);
        out[k].len = x->vlen;
    }
    /* a later key's deletion never frees an earlier returned node; a later insert cannot occur */
    return WEIR_OK;
}

static weir_err heap_multi_put(weir_state *s, const weir_state_key *keys,
                               const weir_state_slice *vals, size_t n) {
    heap_backend *hb = HB(s);
    heap_state *st = HS(s);
    int64_t now = s->ttl_ms > 0 ? weir_state_now(s->be) : 0;
    cleanup_step(hb, st);
    for (size_t k = 0; k < n; k++) {
        weir_buf_reset(&hb->key);
        if (weir_state_encode_prefix(&hb->key, keys[k].key_group, keys[k].key, keys[k].len))
            return WEIR_ENOMEM;
        size_t i;
        if (!table_upsert(&st->t, hb->key.data, hb->key.len, 1, &i)) return WEIR_ENOMEM;
        if (!node_set(&st->t, i, vals[k].data ? vals[k].data : "", vals[k].len, now))
            return WEIR_ENOMEM;
    }
    return WEIR_OK;
}

/* ---- enumeration ---- */

static weir_err heap_foreach_entry(weir_state *s, weir_entry_visit_fn fn, void *ud) {
    heap_backend *hb = HB(s);
    heap_state *st = HS(s);
    long n = collect_sorted_by_kg(hb, &st->t, s->be->max_parallelism);
    if (n < 0) return WEIR_ENOMEM;
    int64_t ttl = s->ttl_ms, now = weir_state_now(s->be);
    for (long k = 0; k < n; k++) {
        hnode *x = hb->sort[k];
        weir_state_entry e = {0};
        if (!weir_state_decode_prefix(nkey(x), x->klen, &e.key_group, &e.key, &e.key_len))
            return WEIR_EINTERNAL;
        if (s->kind == WEIR_STATE_VALUE) {
            if (weir_ttl_expired(x->ts, ttl, now)) continue;
            e.val = nval(x);
            e.val_len = x->vlen;
            e.expires_at_ms = ttl > 0 ? x->ts + ttl : 0;
            if (fn(ud, &e)) break;
        } else if (s->kind == WEIR_STATE_LIST) {
            int64_t maxexp;
            long live = weir_list_filter_live(&hb->list, nval(x), x->vlen, ttl, now, &maxexp);
            if (live < 0) return WEIR_ESTATE;
            if (!live) continue;
            e.val = hb->list.data;
            e.val_len = hb->list.len;
            e.expires_at_ms = maxexp;
            if (fn(ud, &e)) break;
        } else if (x->sub) {
            long m = collect_sorted(hb, x->sub, (size_t)n);
            if (m < 0) return WEIR_ENOMEM;
            int stop = 0;
            for (long j = 0; j < m && !stop; j++) {
                hnode *y = hb->sort[n + j];
                if (weir_ttl_expired(y->ts, ttl, now)) continue;
                e.uk = nkey(y);
                e.uk_len = y->klen;
                e.val = nval(y);
                e.val_len = y->vlen;
                e.expires_at_ms = ttl > 0 ? y->ts + ttl : 0;
                stop = fn(ud, &e);
            }
            if (stop) break;
        }
    }
    return WEIR_OK;
}

static uint64_t heap_approx_count(weir_state *s) {
    heap_state *st = HS(s);
    if (s->kind != WEIR_STATE_MAP) return st->t.n;
    uint64_t n = 0;
    for (size_t i = 0; i < st->t.cap; i++)
        if (st->t.slots[i] && st->t.slots[i]->sub) n += st->t.slots[i]->sub->n;
    return n;
}

static weir_err heap_compact(weir_state *s) {
    heap_state *st = HS(s);
    if (s->ttl_ms <= 0) return WEIR_OK;
    int64_t now = weir_state_now(s->be);
    for (size_t i = 0; i < st->t.cap;)
        if (!st->t.slots[i] || !prune_slot(HB(s), st, i, now)) i++;
    return WEIR_OK;
}

/* ---- restore ---- */

/* Inserts one restored entry, replacing what the key holds (see state_internal.h). Does not run
 * the incremental cleanup: the caller skips expired entries. */
static weir_err heap_restore_put(weir_state *s, const weir_state_entry *e, int64_t ts) {
    heap_backend *hb = HB(s);
    heap_state *st = HS(s);
    weir_buf_reset(&hb->key);
    if (weir_state_encode_prefix(&hb->key, e->key_group, e->key, e->key_len)) return WEIR_ENOMEM;
    size_t i, j;
    hnode *x = table_upsert(&st->t, hb->key.data, hb->key.len, 1, &i);
    if (!x) return WEIR_ENOMEM;
    if (s->kind != WEIR_STATE_MAP)
        return node_set(&st->t, i, e->val, e->val_len, ts) ? WEIR_OK : WEIR_ENOMEM;
    if (!x->sub && !(x->sub = calloc(1, sizeof *x->sub))) {
        table_del(&st->t, i); /* a fresh node without entries */
        return WEIR_ENOMEM;
    }
    if (!table_upsert(x->sub, e->uk, e->uk_len, 1, &j)) return WEIR_ENOMEM;
    return node_set(x->sub, j, e->val, e->val_len, ts) ? WEIR_OK : WEIR_ENOMEM;
}

static weir_err heap_restore_end(weir_state_backend *be) {
    (void)be;
    return WEIR_OK;
}

/* ---- lifecycle ---- */

static weir_state *heap_state_new(weir_state_backend *be, const weir_state_desc *d,
                                  weir_error *err) {
    (void)be;
    heap_state *st = calloc(1, sizeof *st);
    if (!st) weir_error_set(err, WEIR_ENOMEM, 0, "state '%s': out of memory", d->name);
    /* base is the first member: the backend frees st through it (heap_state_free) */
    // cppcheck-suppress memleak
    return st ? &st->base : NULL;
}

static void heap_state_free(weir_state *s) {
    table_free(&HS(s)->t);
    free(s);
}

static void heap_backend_free(weir_state_backend *be) {
    heap_backend *hb = (heap_backend *)(void *)be;
    weir_state_backend_fini(be);
    weir_buf_free(&hb->key);
    weir_buf_free(&hb->list);
    free(hb->sort);
    free(hb);
}

static const weir_state_ops heap_ops = {
    .name = "heap",
    .backend_free = heap_backend_free,
    .state_new = heap_state_new,
    .state_free = heap_state_free,
    .value_get = heap_value_get,
    .value_put = heap_value_put,
    .value_clear = heap_value_clear,
    .map_get = heap_map_get,
    .map_put = heap_map_put,
    .map_remove = heap_map_remove,
    .map_foreach = heap_map_foreach,
    .map_clear = heap_map_clear,
    .list_add = heap_list_add,
    .list_foreach = heap_list_foreach,
    .list_clear = heap_list_clear,
    .multi_get = heap_multi_get,
    .multi_put = heap_multi_put,
    .foreach_entry = heap_foreach_entry,
    .approx_count = heap_approx_count,
    .compact = heap_compact,
    .snapshot_native = NULL, /* the canonical format */
    .restore_native = NULL,
    .restore_put = heap_restore_put,
    .restore_end = heap_restore_end,
};

weir_state_backend *weir_state_backend_heap_new(const weir_backend_options *opt, weir_error *err) {
    heap_backend *hb = calloc(1, sizeof *hb);
    if (!hb) {
        weir_error_set(err, WEIR_ENOMEM, 0, "heap backend: out of memory");
        return NULL;
    }
    if (weir_state_backend_init(&hb->base, &heap_ops, opt, err)) {
        free(hb);
        return NULL;
    }
    return &hb->base;
}
