/*
 * state.c - keyed-state dispatch layer and the code both backends share (see weir/state.h and
 * state_internal.h).
 *
 * Data structures: a backend (struct weir_state_backend, embedded first in the heap and RocksDB
 * backend structs) holds the owned key-group range, the clock, the registered states (array,
 * looked up by name: operators register a handful of states once, so linear search is fine) and
 * the current key: its bytes, its key group and its encoded prefix
 * key_group (2 bytes BE) | varint(len) | key, computed once per set_current_key() so that the
 * per-key calls only append a user key to it.
 *
 * Invariants checked here, so backends need not: a per-key call needs a current key
 * (WEIR_EINVAL otherwise); a call must match the state's kind (WEIR_EINVAL); every key group is
 * within the owned range (WEIR_EINVAL).
 */
#include "state_internal.h"
#include "weir/clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared encodings ---- */

int weir_state_put_varint(weir_buf *b, uint64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    return weir_buf_append(b, tmp, n);
}

size_t weir_state_get_varint(const unsigned char *p, size_t n, uint64_t *v) {
    uint64_t r = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        r |= (uint64_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

void weir_put_i64le(void *p, int64_t v) {
    unsigned char *q = p;
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        q[i] = (unsigned char)(u >> (8 * i));
}

int64_t weir_get_i64le(const void *p) {
    const unsigned char *q = p;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)q[i] << (8 * i);
    return (int64_t)u;
}

int weir_state_encode_prefix(weir_buf *b, int32_t key_group, const void *key, size_t len) {
    unsigned char kg[2] = {(unsigned char)(key_group >> 8), (unsigned char)key_group};
    if (weir_buf_append(b, kg, 2) || weir_state_put_varint(b, len)) return -1;
    return weir_buf_append(b, key, len);
}

size_t weir_state_decode_prefix(const void *p, size_t n, int32_t *key_group, const void **key,
                                size_t *key_len) {
    const unsigned char *q = p;
    if (n < 3) return 0;
    uint64_t len;
    size_t vl = weir_state_get_varint(q + 2, n - 2, &len);
    if (!vl || len > n - 2 - vl) return 0;
    *key_group = (int32_t)((q[0] << 8) | q[1]);
    *key = q + 2 + vl;
    *key_len = (size_t)len;
    return 2 + vl + (size_t)len;
}

int weir_list_next(weir_list_iter *it, int64_t *ts, const void **val, size_t *len) {
    if (it->p >= it->end) return 0;
    *ts = 0;
    if (it->has_ts) {
        if (it->end - it->p < 8) return -1;
        *ts = weir_get_i64le(it->p);
        it->p += 8;
    }
    uint64_t l;
    size_t vl = weir_state_get_varint(it->p, (size_t)(it->end - it->p), &l);
    if (!vl || l > (uint64_t)(it->end - it->p) - vl) return -1;
    *val = it->p + vl;
    *len = (size_t)l;
    it->p += vl + l;
    return 1;
}

int weir_list_append_elem(weir_buf *b, int has_ts, int64_t ts, const void *val, size_t len) {
    if (has_ts) {
        unsigned char t[8];
        weir_put_i64le(t, ts);
        if (weir_buf_append(b, t, 8)) return -1;
    }
    if (weir_state_put_varint(b, len)) return -1;
    return weir_buf_append(b, val, len);
}

long weir_list_filter_live(weir_buf *out, const void *list, size_t len, int64_t ttl_ms, int64_t now,
                           int64_t *max_expiry) {
    weir_list_iter it = {list, (const unsigned char *)list + len, ttl_ms > 0};
    int64_t ts;
    const void *v;
    size_t vl;
    long n = 0;
    int r;
    weir_buf_reset(out);
    *max_expiry = 0;
    while ((r = weir_list_next(&it, &ts, &v, &vl)) == 1) {
        if (weir_ttl_expired(ts, ttl_ms, now)) continue;
        if (weir_list_append_elem(out, ttl_ms > 0, ts, v, vl)) return -1;
        if (ttl_ms > 0 && ts + ttl_ms > *max_expiry) *max_expiry = ts + ttl_ms;
        n++;
    }
    return r < 0 ? -1 : n;
}

/* ---- backend lifecycle ---- */

static int64_t wall_clock(void *ud) {
    (void)ud;
    return weir_wall_ms();
}

weir_err weir_state_backend_init(weir_state_backend *be, const weir_state_ops *ops,
                                 const weir_backend_options *opt, weir_error *err) {
    memset(be, 0, sizeof *be);
    be->ops = ops;
    if (!opt) return weir_error_set(err, WEIR_EINVAL, 0, "state backend: options are NULL");
    be->max_parallelism =
        opt->max_parallelism > 0 ? opt->max_parallelism : WEIR_DEFAULT_MAX_PARALLELISM;
    if (be->max_parallelism > WEIR_UPPER_MAX_PARALLELISM)
        return weir_error_set(err, WEIR_EINVAL, 0, "state backend: max parallelism %d > %d",
                              be->max_parallelism, WEIR_UPPER_MAX_PARALLELISM);
    be->key_groups = opt->key_groups;
    if (be->key_groups.start < 0 || be->key_groups.end >= be->max_parallelism ||
        be->key_groups.end < be->key_groups.start)
        return weir_error_set(err, WEIR_EINVAL, 0,
                              "state backend: key-group range [%d, %d] not within [0, %d)",
                              be->key_groups.start, be->key_groups.end, be->max_parallelism);
    be->clock = opt->clock ? opt->clock : wall_clock;
    be->clock_ud = opt->clock ? opt->clock_ud : NULL;
    return WEIR_OK;
}

void weir_state_backend_fini(weir_state_backend *be) {
    for (size_t i = 0; i < be->nstates; i++) {
        weir_state *s = be->states[i];
        char *name = s->name;
        be->ops->state_free(s);
        free(name);
    }
    free(be->states);
    be->states = NULL;
    be->nstates = 0;
    weir_buf_free(&be->cur_key);
    weir_buf_free(&be->cur_prefix);
    weir_buf_free(&be->resolved);
}

void weir_state_backend_free(weir_state_backend *be) {
    if (be) be->ops->backend_free(be);
}

const char *weir_state_backend_name(const weir_state_backend *be) {
    return be ? be->ops->name : "?";
}

weir_state *weir_state_register(weir_state_backend *be, const weir_state_desc *d, weir_error *err) {
    if (!be || !d || !d->name || !d->name[0]) {
        weir_error_set(err, WEIR_EINVAL, 0, "state register: missing backend or name");
        return NULL;
    }
    if (d->kind < WEIR_STATE_VALUE || d->kind > WEIR_STATE_LIST || d->ttl_ms < 0) {
        weir_error_set(err, WEIR_EINVAL, 0, "state '%s': invalid kind or ttl", d->name);
        return NULL;
    }
    for (size_t i = 0; i < be->nstates; i++) {
        weir_state *s = be->states[i];
        if (strcmp(s->name, d->name)) continue;
        if (s->kind != d->kind || s->ttl_ms != d->ttl_ms) {
            weir_error_set(err, WEIR_EINVAL, 0,
                           "state '%s' already registered with kind %d ttl %lld (now %d, %lld)",
                           d->name, (int)s->kind, (long long)s->ttl_ms, (int)d->kind,
                           (long long)d->ttl_ms);
            return NULL;
        }
        return s;
    }
    if (be->nstates == be->cap_states) {
        size_t nc = be->cap_states ? be->cap_states * 2 : 8;
        weir_state **ns = realloc(be->states, nc * sizeof *ns);
        if (!ns) {
            weir_error_set(err, WEIR_ENOMEM, 0, "state '%s': out of memory", d->name);
            return NULL;
        }
        be->states = ns;
        be->cap_states = nc;
    }
    char *name = strdup(d->name);
    if (!name) {
        weir_error_set(err, WEIR_ENOMEM, 0, "state '%s': out of memory", d->name);
        return NULL;
    }
    weir_state *s = be->ops->state_new(be, d, err);
    if (!s) {
        free(name);
        return NULL;
    }
    s->be = be;
    s->name = name;
    s->kind = d->kind;
    s->ttl_ms = d->ttl_ms;
    s->desc = (weir_state_desc){name, d->kind, d->ttl_ms};
    be->states[be->nstates++] = s;
    return s;
}

int weir_state_backend_state_count(const weir_state_backend *be) {
    return be ? (int)be->nstates : 0;
}

const weir_state_desc *weir_state_backend_state_desc(const weir_state_backend *be, int i) {
    if (!be || i < 0 || (size_t)i >= be->nstates) return NULL;
    return &be->states[i]->desc;
}

static int kg_owned(const weir_state_backend *be, int32_t kg) {
    return kg >= be->key_groups.start && kg <= be->key_groups.end;
}

void weir_state_unset_current_key(weir_state_backend *be) {
    if (be) be->has_key = 0;
}

weir_err weir_state_set_current_key(weir_state_backend *be, const void *key, size_t len,
                                    int32_t key_group) {
    if (!be || (!key && len)) return WEIR_EINVAL;
    if (key_group < 0) key_group = weir_key_group_of(key, len, be->max_parallelism);
    if (!kg_owned(be, key_group)) {
        be->has_key = 0;
        return weir_error_set(&be->last_err, WEIR_EINVAL, 0,
                              "key group %d not owned (range [%d, %d])", key_group,
                              be->key_groups.start, be->key_groups.end);
    }
    weir_buf_reset(&be->cur_key);
    weir_buf_reset(&be->cur_prefix);
    if (weir_buf_append(&be->cur_key, key, len) ||
        weir_state_encode_prefix(&be->cur_prefix, key_group, key, len)) {
        be->has_key = 0;
        return WEIR_ENOMEM;
    }
    be->cur_kg = key_group;
    be->has_key = 1;
    return WEIR_OK;
}

/* ---- per-key dispatch ---- */

#define CHECK_KEYED(s, k)                                                                          \
    do {                                                                                           \
        if (!(s) || (s)->kind != (k) || !(s)->be->has_key) return WEIR_EINVAL;                     \
    } while (0)

weir_err weir_value_get(weir_state *s, const void **val, size_t *len) {
    CHECK_KEYED(s, WEIR_STATE_VALUE);
    return s->be->ops->value_get(s, val, len);
}

weir_err weir_value_put(weir_state *s, const void *val, size_t len) {
    CHECK_KEYED(s, WEIR_STATE_VALUE);
    if (!val && len) return WEIR_EINVAL;
    return s->be->ops->value_put(s, val ? val : "", len);
}

weir_err weir_value_clear(weir_state *s) {
    CHECK_KEYED(s, WEIR_STATE_VALUE);
    return s->be->ops->value_clear(s);
}

weir_err weir_map_get(weir_state *s, const void *uk, size_t uk_len, const void **val, size_t *len) {
    CHECK_KEYED(s, WEIR_STATE_MAP);
    if (!uk && uk_len) return WEIR_EINVAL;
    return s->be->ops->map_get(s, uk ? uk : "", uk_len, val, len);
}

weir_err weir_map_put(weir_state *s, const void *uk, size_t uk_len, const void *val, size_t len) {
    CHECK_KEYED(s, WEIR_STATE_MAP);
    if ((!uk && uk_len) || (!val && len)) return WEIR_EINVAL;
    return s->be->ops->map_put(s, uk ? uk : "", uk_len, val ? val : "", len);
}

weir_err weir_map_remove(weir_state *s, const void *uk, size_t uk_len) {
    CHECK_KEYED(s, WEIR_STATE_MAP);
    if (!uk && uk_len) return WEIR_EINVAL;
    return s->be->ops->map_remove(s, uk ? uk : "", uk_len);
}

weir_err weir_map_foreach(weir_state *s, weir_map_visit_fn fn, void *ud) {
    CHECK_KEYED(s, WEIR_STATE_MAP);
    if (!fn) return WEIR_EINVAL;
    return s->be->ops->map_foreach(s, fn, ud);
}

weir_err weir_map_clear(weir_state *s) {
    CHECK_KEYED(s, WEIR_STATE_MAP);
    return s->be->ops->map_clear(s);
}

weir_err weir_list_add(weir_state *s, const void *val, size_t len) {
    CHECK_KEYED(s, WEIR_STATE_LIST);
    if (!val && len) return WEIR_EINVAL;
    return s->be->ops->list_add(s, val ? val : "", len);
}

weir_err weir_list_foreach(weir_state *s, weir_list_visit_fn fn, void *ud) {
    CHECK_KEYED(s, WEIR_STATE_LIST);
    if (!fn) return WEIR_EINVAL;
    return s->be->ops->list_foreach(s, fn, ud);
}

weir_err weir_list_clear(weir_state *s) {
    CHECK_KEYED(s, WEIR_STATE_LIST);
    return s->be->ops->list_clear(s);
}

/* ---- batch dispatch ---- */

/* Checks key groups; when some are < 0, resolves them into a copy kept in be->resolved (reused,
 * so the hot path does not allocate once it has grown). */
static weir_err resolve_keys(weir_state *s, const weir_state_key *keys, size_t n,
                             const weir_state_key **out) {
    weir_state_backend *be = s->be;
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keys[i].key && keys[i].len) return WEIR_EINVAL;
        if (keys[i].key_group < 0)
            need = 1;
        else if (!kg_owned(be, keys[i].key_group))
            return WEIR_EINVAL;
    }
    if (!need) {
        *out = keys;
        return WEIR_OK;
    }
    weir_buf_reset(&be->resolved);
    if (weir_buf_reserve(&be->resolved, n * sizeof(weir_state_key))) return WEIR_ENOMEM;
    weir_state_key *r = (weir_state_key *)(void *)be->resolved.data;
    for (size_t i = 0; i < n; i++) {
        r[i] = keys[i];
        if (r[i].key_group < 0)
            r[i].key_group = weir_key_group_of(r[i].key, r[i].len, be->max_parallelism);
        if (!kg_owned(be, r[i].key_group)) return WEIR_EINVAL;
    }
    *out = r;
    return WEIR_OK;
}

weir_err weir_value_multi_get(weir_state *s, const weir_state_key *keys, size_t n,
                              weir_state_slice *out) {
    if (!s || s->kind != WEIR_STATE_VALUE || (n && (!keys || !out))) return WEIR_EINVAL;
    if (!n) return WEIR_OK;
    const weir_state_key *rk;
    weir_err e = resolve_keys(s, keys, n, &rk);
    return e ? e : s->be->ops->multi_get(s, rk, n, out);
}

weir_err weir_value_multi_put(weir_state *s, const weir_state_key *keys,
                              const weir_state_slice *vals, size_t n) {
    if (!s || s->kind != WEIR_STATE_VALUE || (n && (!keys || !vals))) return WEIR_EINVAL;
    if (!n) return WEIR_OK;
    for (size_t i = 0; i < n; i++)
        if (!vals[i].data && vals[i].len) return WEIR_EINVAL;
    const weir_state_key *rk;
    weir_err e = resolve_keys(s, keys, n, &rk);
    return e ? e : s->be->ops->multi_put(s, rk, vals, n);
}

weir_err weir_state_foreach_entry(weir_state *s, weir_entry_visit_fn fn, void *ud) {
    if (!s || !fn) return WEIR_EINVAL;
    return s->be->ops->foreach_entry(s, fn, ud);
}

uint64_t weir_state_approx_count(weir_state *s) {
    return s ? s->be->ops->approx_count(s) : 0;
}

weir_err weir_state_compact(weir_state *s) {
    return s ? s->be->ops->compact(s) : WEIR_EINVAL;
}
