/*
 * timers.c - per-key timers over the keyed state backend (see timers.h for the data structure
 * and its invariants).
 */
#include "timers.h"

#include <stdlib.h>
#include <string.h>

#include "state_internal.h"

typedef struct tentry {
    int64_t ts;
    int32_t kg;
    uint32_t key_len;
    char *key;
} tentry;

typedef struct theap {
    tentry *v;
    size_t n, cap;
    weir_state *st; /* the map state, NULL until the first timer */
} theap;

struct wtimers {
    weir_state_backend *be;
    theap h[2];
};

static const char *state_name(weir_time_domain d) {
    return d == WEIR_TIME_EVENT ? "_timers/event" : "_timers/processing";
}

static void ts_be(unsigned char out[8], int64_t ts) {
    uint64_t u = (uint64_t)ts ^ (1ULL << 63); /* sign flip: byte order = numeric order */
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
}

static int64_t ts_from_be(const unsigned char *p) {
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return (int64_t)(u ^ (1ULL << 63));
}

wtimers *wtimers_new(weir_state_backend *be) {
    wtimers *t = calloc(1, sizeof *t);
    if (t) t->be = be;
    return t;
}

void wtimers_free(wtimers *t) {
    if (!t) return;
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; i < t->h[d].n; i++)
            free(t->h[d].v[i].key);
        free(t->h[d].v);
    }
    free(t);
}

static int heap_push(theap *h, int64_t ts, int32_t kg, const void *key, size_t len) {
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        tentry *nv = realloc(h->v, nc * sizeof *nv);
        if (!nv) return -1;
        h->v = nv;
        h->cap = nc;
    }
    char *k = malloc(len ? len : 1);
    if (!k) return -1;
    if (len) memcpy(k, key, len);
    size_t i = h->n++;
    h->v[i] = (tentry){.ts = ts, .kg = kg, .key_len = (uint32_t)len, .key = k};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].ts <= h->v[i].ts) break;
        tentry tmp = h->v[p];
        h->v[p] = h->v[i];
        h->v[i] = tmp;
        i = p;
    }
    return 0;
}

static tentry heap_pop(theap *h) {
    tentry top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l].ts < h->v[m].ts) m = l;
        if (r < h->n && h->v[r].ts < h->v[m].ts) m = r;
        if (m == i) break;
        tentry tmp = h->v[m];
        h->v[m] = h->v[i];
        h->v[i] = tmp;
        i = m;
    }
    return top;
}

static weir_err ensure_state(wtimers *t, weir_time_domain d, weir_error *err) {
    if (t->h[d].st) return WEIR_OK;
    weir_state_desc desc = {.name = state_name(d), .kind = WEIR_STATE_MAP, .ttl_ms = 0};
    t->h[d].st = weir_state_register(t->be, &desc, err);
    return t->h[d].st ? WEIR_OK : WEIR_ESTATE;
}

typedef struct rebuild_ctx {
    theap *h;
    int oom;
} rebuild_ctx;

static int rebuild_visit(void *ud, const weir_state_entry *e) {
    rebuild_ctx *r = ud;
    if (e->uk_len != 8) return 0;
    if (heap_push(r->h, ts_from_be(e->uk), e->key_group, e->key, e->key_len)) {
        r->oom = 1;
        return 1;
    }
    return 0;
}

weir_err wtimers_restore(wtimers *t, weir_error *err) {
    int n = weir_state_backend_state_count(t->be);
    for (weir_time_domain d = WEIR_TIME_EVENT; d <= WEIR_TIME_PROCESSING; d++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(weir_state_backend_state_desc(t->be, i)->name, state_name(d)) == 0)
                found = 1;
        if (!found) continue;
        weir_err rc = ensure_state(t, d, err);
        if (rc) return rc;
        rebuild_ctx r = {.h = &t->h[d]};
        rc = weir_state_foreach_entry(t->h[d].st, rebuild_visit, &r);
        if (rc || r.oom)
            return weir_error_set(err, rc ? rc : WEIR_ENOMEM, 0, "restoring %s timers failed",
                                  state_name(d));
    }
    return WEIR_OK;
}

weir_err wtimers_register(wtimers *t, weir_time_domain d, int64_t ts_ms) {
    if (!t->be->has_key) return WEIR_EINVAL;
    weir_error e = {0};
    weir_err rc = ensure_state(t, d, &e);
    if (rc) return rc;
    unsigned char k[8];
    ts_be(k, ts_ms);
    const void *v;
    size_t vl;
    rc = weir_map_get(t->h[d].st, k, 8, &v, &vl);
    if (rc == WEIR_OK) return WEIR_OK; /* already registered */
    if (rc != WEIR_ENOTFOUND) return rc;
    rc = weir_map_put(t->h[d].st, k, 8, "", 0);
    if (rc) return rc;
    if (heap_push(&t->h[d], ts_ms, t->be->cur_kg, t->be->cur_key.data, t->be->cur_key.len))
        return WEIR_ENOMEM;
    return WEIR_OK;
}

weir_err wtimers_delete(wtimers *t, weir_time_domain d, int64_t ts_ms) {
    if (!t->be->has_key) return WEIR_EINVAL;
    if (!t->h[d].st) return WEIR_OK;
    unsigned char k[8];
    ts_be(k, ts_ms);
    return weir_map_remove(t->h[d].st, k, 8); /* the heap entry is skipped when popped */
}

int64_t wtimers_next(const wtimers *t, weir_time_domain d) {
    return t->h[d].n ? t->h[d].v[0].ts : INT64_MAX;
}

weir_err wtimers_advance(wtimers *t, weir_time_domain d, int64_t upto_ms, wtimers_fire_fn fn,
                         void *ud) {
    theap *h = &t->h[d];
    while (h->n && h->v[0].ts <= upto_ms) {
        tentry e = heap_pop(h);
        weir_err rc = weir_state_set_current_key(t->be, e.key, e.key_len, e.kg);
        unsigned char k[8];
        ts_be(k, e.ts);
        const void *v;
        size_t vl;
        if (!rc) rc = weir_map_get(h->st, k, 8, &v, &vl);
        if (rc == WEIR_ENOTFOUND) { /* deleted, or a duplicate heap entry already fired */
            free(e.key);
            continue;
        }
        if (!rc) rc = weir_map_remove(h->st, k, 8);
        if (!rc) rc = fn(ud, d, e.ts, e.key, e.key_len);
        free(e.key);
        if (rc) return rc;
    }
    return WEIR_OK;
}

uint64_t wtimers_count(const wtimers *t) {
    return (uint64_t)(t->h[0].n + t->h[1].n);
}
