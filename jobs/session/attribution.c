/*
 * jobs/session/attribution.c - capability attribution (spec session-job.md §5.2-§5.6).
 *
 * Data: ws_cache is an open-addressing hash map (FNV-1a, linear probing, power-of-two capacity,
 * load ≤ 1/2) from a normalised address (hot wallet `local_address` or canonical address) to a
 * bucket: an array of at most max_per_key+1 ws_snapshot refs (one spare slot for the insert
 * before bounding). Invariants: every bucket holds ≤ max_per_key refs with distinct candidate
 * keys; keys are never removed (spec: buckets never expire). Each bucket's array is allocated
 * once on the key's first row (no per-event malloc afterwards).
 * Deterministic choices for the spec's open point §12.6 (Java HashMap order): eviction among
 * equal snapshot_ts removes the larger candidate key first; full selection ties keep the
 * smaller candidate key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "jobs/session/session.h"

typedef struct ws_bucket {
    char key[WS_ADDR_CAP];
    int n;
    ws_snapshot *refs;
} ws_bucket;

struct ws_cache {
    ws_bucket *slots;
    size_t cap, used;
    int64_t ttl_ms;
    int max_per_key;
};

static uint64_t fnv(const char *s) {
    return XXH3_64bits(s, strlen(s)); /* xxHash (libxxhash), see docs/dependencies.md */
}

ws_cache *ws_cache_new(int64_t ttl_ms, int max_per_key) {
    ws_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cap = 64;
    c->slots = calloc(c->cap, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->ttl_ms = ttl_ms;
    c->max_per_key = max_per_key < 1 ? 1 : max_per_key;
    return c;
}

void ws_cache_free(ws_cache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++)
        free(c->slots[i].refs);
    free(c->slots);
    free(c);
}

size_t ws_cache_keys(const ws_cache *c) {
    return c ? c->used : 0;
}

static ws_bucket *find(const ws_cache *c, const char *key) {
    size_t m = c->cap - 1;
    for (size_t i = fnv(key) & m;; i = (i + 1) & m) {
        ws_bucket *b = &c->slots[i];
        if (!b->refs) return NULL;
        if (strcmp(b->key, key) == 0) return b;
    }
}

static int grow(ws_cache *c) {
    size_t ncap = c->cap * 2;
    ws_bucket *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].refs) continue;
        size_t j = fnv(c->slots[i].key) & (ncap - 1);
        while (ns[j].refs)
            j = (j + 1) & (ncap - 1);
        ns[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = ns;
    c->cap = ncap;
    return 0;
}

static ws_bucket *find_or_add(ws_cache *c, const char *key) {
    ws_bucket *b = find(c, key);
    if (b) return b;
    if ((c->used + 1) * 2 > c->cap && grow(c)) return NULL;
    size_t m = c->cap - 1, i = fnv(key) & m;
    while (c->slots[i].refs)
        i = (i + 1) & m;
    b = &c->slots[i];
    b->refs = calloc((size_t)c->max_per_key + 1, sizeof *b->refs);
    if (!b->refs) return NULL;
    ws_copy(b->key, sizeof b->key, key);
    b->n = 0;
    c->used++;
    return b;
}

const ws_snapshot *ws_cache_bucket(const ws_cache *c, const char *key, int *n) {
    *n = 0;
    if (!c || ws_blank(key)) return NULL;
    ws_bucket *b = find(c, key);
    if (!b || b->n == 0) return NULL;
    *n = b->n;
    return b->refs;
}

/* key(x) of §5.2/§5.4: trim + lower-case, blank → "__empty__". */
static void keyify(char *out, size_t cap, const char *s) {
    if (ws_blank(s))
        ws_copy(out, cap, "__empty__");
    else
        ws_norm_addr(out, cap, s);
}

void ws_candidate_key(char *out, size_t cap, const ws_snapshot *r) {
    char m[WS_LABEL_CAP], a[WS_ADDR_CAP], u[WS_URL_CAP], g[WS_LABEL_CAP], e[WS_ID_CAP];
    keyify(m, sizeof m, r->model_id);
    keyify(a, sizeof a, r->canonical_address);
    keyify(u, sizeof u, r->orchestrator_url);
    keyify(g, sizeof g, r->gpu_id);
    keyify(e, sizeof e, r->source_event_id);
    snprintf(out, cap, "%s|%s|%s|%s|%" PRId64 "|%s", m, a, u, g, r->snapshot_ts, e);
}

static int64_t absd(int64_t a, int64_t b) {
    return a > b ? a - b : b - a;
}

weir_err ws_cache_upsert_key(ws_cache *c, const char *key, const ws_snapshot *ref,
                             int64_t reference_ts) {
    ws_bucket *b = find_or_add(c, key);
    if (!b) return WEIR_ENOMEM;
    char k1[1024], k2[1024];
    ws_candidate_key(k1, sizeof k1, ref);
    int i;
    for (i = 0; i < b->n; i++) {
        ws_candidate_key(k2, sizeof k2, &b->refs[i]);
        if (strcmp(k1, k2) == 0) break;
    }
    b->refs[i] = *ref; /* replace, or append into the spare slot */
    if (i == b->n) b->n++;
    /* prune: |reference_ts − ts| > 2 × ttl */
    int w = 0;
    for (int r = 0; r < b->n; r++)
        if (absd(reference_ts, b->refs[r].snapshot_ts) <= 2 * c->ttl_ms) b->refs[w++] = b->refs[r];
    b->n = w;
    /* bound: remove the oldest (ties: larger candidate key first) */
    while (b->n > c->max_per_key) {
        int victim = 0;
        for (int r = 1; r < b->n; r++) {
            if (b->refs[r].snapshot_ts < b->refs[victim].snapshot_ts) {
                victim = r;
            } else if (b->refs[r].snapshot_ts == b->refs[victim].snapshot_ts) {
                ws_candidate_key(k1, sizeof k1, &b->refs[r]);
                ws_candidate_key(k2, sizeof k2, &b->refs[victim]);
                if (strcmp(k1, k2) > 0) victim = r;
            }
        }
        b->refs[victim] = b->refs[b->n - 1];
        b->n--;
    }
    return WEIR_OK;
}

weir_err ws_cache_upsert(ws_cache *c, const ws_snapshot *row) {
    if (ws_blank(row->local_address) && ws_blank(row->canonical_address)) return WEIR_OK;
    weir_err rc = WEIR_OK;
    if (!ws_blank(row->local_address))
        rc = ws_cache_upsert_key(c, row->local_address, row, row->snapshot_ts);
    if (rc == WEIR_OK && !ws_blank(row->canonical_address) &&
        strcmp(row->canonical_address, row->local_address) != 0)
        rc = ws_cache_upsert_key(c, row->canonical_address, row, row->snapshot_ts);
    return rc;
}

/* ------------------------------------------------------------------------ selection §5.4 */

int ws_compatible(const char *hint, const char *model) {
    return ws_blank(hint) || ws_blank(model) || ws_eq_trim_ci(hint, model);
}

typedef struct score {
    int compat, url, gpu, fresh;
    int64_t delta, ts;
    char mk[WS_LABEL_CAP], uk[WS_URL_CAP], gk[WS_LABEL_CAP];
} score;

static void make_score(score *s, const ws_snapshot *r, const ws_select_ctx *x) {
    s->compat = (!ws_blank(x->model_hint) && !ws_blank(r->model_id) &&
                 ws_eq_trim_ci(x->model_hint, r->model_id))
                    ? 0
                    : 1;
    keyify(s->mk, sizeof s->mk, r->model_id);
    keyify(s->uk, sizeof s->uk, r->orchestrator_url);
    keyify(s->gk, sizeof s->gk, r->gpu_id);
    char h[WS_URL_CAP];
    s->url = 1;
    if (!ws_blank(x->url_hint)) {
        keyify(h, sizeof h, x->url_hint);
        s->url = strcmp(h, s->uk) == 0 ? 0 : 1;
    }
    s->gpu = 1;
    if (!ws_blank(x->gpu_hint)) {
        keyify(h, sizeof h, x->gpu_hint);
        s->gpu = strcmp(h, s->gk) == 0 ? 0 : 1;
    }
    s->delta = absd(x->signal_ts, r->snapshot_ts);
    s->ts = r->snapshot_ts;
    if (s->delta == 0)
        s->fresh = 0;
    else if (r->snapshot_ts <= x->signal_ts && s->delta <= x->ttl_ms)
        s->fresh = 1;
    else if (s->delta <= x->ttl_ms)
        s->fresh = 2;
    else
        s->fresh = r->snapshot_ts <= x->signal_ts ? 3 : 4;
}

/* <0 if a is better (smaller) than b. */
static int cmp_score(const score *a, const score *b) {
    if (a->compat != b->compat) return a->compat - b->compat;
    if (a->url != b->url) return a->url - b->url;
    if (a->gpu != b->gpu) return a->gpu - b->gpu;
    if (a->fresh != b->fresh) return a->fresh - b->fresh;
    if (a->delta != b->delta) return a->delta < b->delta ? -1 : 1;
    if (a->ts != b->ts) return a->ts > b->ts ? -1 : 1;
    int c = strcmp(a->mk, b->mk);
    if (c) return c;
    c = strcmp(a->uk, b->uk);
    if (c) return c;
    return strcmp(a->gk, b->gk);
}

int ws_select_best(const ws_snapshot *refs, int n, const ws_select_ctx *ctx) {
    if (!refs || n <= 0) return -1;
    /* ambiguity guard */
    const char *first = NULL;
    char na[WS_ADDR_CAP], nb[WS_ADDR_CAP];
    for (int i = 0; i < n; i++) {
        const ws_snapshot *r = &refs[i];
        if (!ws_compatible(ctx->model_hint, r->model_id)) continue;
        if (absd(ctx->signal_ts, r->snapshot_ts) > ctx->ttl_ms) continue;
        if (ws_blank(r->canonical_address)) continue;
        if (!first) {
            first = r->canonical_address;
            ws_norm_addr(na, sizeof na, first);
        } else {
            ws_norm_addr(nb, sizeof nb, r->canonical_address);
            if (strcmp(na, nb) != 0) return -1;
        }
    }
    int best = -1;
    score bs, cs;
    char bk[1024], ck[1024];
    for (int i = 0; i < n; i++) {
        if (!ws_compatible(ctx->model_hint, refs[i].model_id)) continue;
        make_score(&cs, &refs[i], ctx);
        if (best < 0) {
            best = i;
            bs = cs;
            continue;
        }
        int c = cmp_score(&cs, &bs);
        if (c == 0) {
            ws_candidate_key(ck, sizeof ck, &refs[i]);
            ws_candidate_key(bk, sizeof bk, &refs[best]);
            c = strcmp(ck, bk);
        }
        if (c < 0) {
            best = i;
            bs = cs;
        }
    }
    return best;
}

const char *ws_attribution_method(int64_t signal_ts, int64_t snapshot_ts, int64_t ttl_ms,
                                  float *conf) {
    int64_t d = absd(signal_ts, snapshot_ts);
    if (d == 0) {
        *conf = 1.0f;
        return "exact_orchestrator_time_match";
    }
    if (snapshot_ts <= signal_ts && d <= ttl_ms) {
        *conf = 0.9f;
        return "nearest_prior_snapshot";
    }
    if (d <= ttl_ms) {
        *conf = 0.7f;
        return "nearest_snapshot_within_ttl";
    }
    *conf = 0.4f;
    return "proxy_address_join";
}

/* ------------------------------------------------------------------------- resolver §5.6 */

ws_resolution ws_resolve(ws_model_mode mode, const ws_signal *sig, const char *existing_pipeline,
                         const char *existing_model, const ws_snapshot *snap) {
    const char *sig_pipe_hint = ws_fnb(2, sig->pipeline_hint, sig->pipeline);
    const char *sig_model_hint = ws_fnb(2, sig->model_hint, sig_pipe_hint);
    const char *snap_pipe = snap ? snap->pipeline : "";
    const char *snap_model = snap ? snap->model_id : "";
    ws_resolution r;
    if (mode == WS_MODE_NATIVE_CORRECT) {
        r.pipeline = ws_fnb(3, sig->pipeline, existing_pipeline, snap_pipe);
        r.model_id = ws_fnb(3, sig_model_hint, existing_model, snap_model);
        r.compat_hint = ws_fnb(3, sig_model_hint, r.model_id, existing_model);
    } else {
        r.pipeline = ws_fnb(2, snap_pipe, existing_pipeline);
        r.model_id = ws_fnb(3, snap_model, existing_model, sig_model_hint);
        r.compat_hint = ws_fnb(2, sig_model_hint, existing_model);
    }
    return r;
}

const char *ws_canonical_pipeline(const char *pipeline, const char *model) {
    if (!ws_blank(pipeline) && !ws_blank(model) && ws_eq_trim_ci(pipeline, model)) return "";
    return ws_fnb(1, pipeline);
}

/* ------------------------------------------------------------- snapshot / restore support */

int ws_cache_foreach(const ws_cache *c, ws_cache_visit_fn fn, void *ud) {
    for (size_t i = 0; c && i < c->cap; i++) {
        const ws_bucket *b = &c->slots[i];
        if (!b->refs || b->n == 0) continue;
        int rc = fn(ud, b->key, b->refs, b->n);
        if (rc) return rc;
    }
    return 0;
}

weir_err ws_cache_set_bucket(ws_cache *c, const char *key, const ws_snapshot *refs, int n) {
    if (n < 0 || n > c->max_per_key) return WEIR_EINVAL;
    ws_bucket *b = find_or_add(c, key);
    if (!b) return WEIR_ENOMEM;
    memcpy(b->refs, refs, (size_t)n * sizeof *refs);
    b->n = n;
    return WEIR_OK;
}
