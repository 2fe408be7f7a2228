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

/* The normalised strings of one ref that selection compares (§5.4), computed once when the
 * ref enters the cache instead of per signal and candidate: keyify(model_id / orchestrator_url
 * / gpu_id), norm(canonical_address) and the blank flags. */
typedef struct ref_keys {
    char mk[WS_LABEL_CAP], uk[WS_URL_CAP], gk[WS_LABEL_CAP], na[WS_ADDR_CAP];
    uint64_t mh, uh, gh; /* hashes of mk, uk, gk: unequal hashes prove unequal strings */
    uint8_t model_blank, canon_blank;
} ref_keys;

typedef struct ws_bucket {
    char key[WS_ADDR_CAP];
    int n;
    ws_snapshot *refs;
    ref_keys *keys; /* keys[i] belongs to refs[i] (same capacity) */
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
    for (size_t i = 0; i < c->cap; i++) {
        free(c->slots[i].refs);
        free(c->slots[i].keys);
    }
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
    ref_keys *keys = calloc((size_t)c->max_per_key + 1, sizeof *keys);
    b->refs = keys ? calloc((size_t)c->max_per_key + 1, sizeof *b->refs) : NULL;
    if (!b->refs) {
        free(keys);
        return NULL;
    }
    b->keys = keys;
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

static void ref_keys_make(ref_keys *k, const ws_snapshot *r) {
    keyify(k->mk, sizeof k->mk, r->model_id);
    keyify(k->uk, sizeof k->uk, r->orchestrator_url);
    keyify(k->gk, sizeof k->gk, r->gpu_id);
    ws_norm_addr(k->na, sizeof k->na, r->canonical_address);
    k->mh = fnv(k->mk);
    k->uh = fnv(k->uk);
    k->gh = fnv(k->gk);
    k->model_blank = (uint8_t)ws_blank(r->model_id);
    k->canon_blank = (uint8_t)ws_blank(r->canonical_address);
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
    ref_keys_make(&b->keys[i], ref);
    if (i == b->n) b->n++;
    /* prune: |reference_ts − ts| > 2 × ttl */
    int w = 0;
    for (int r = 0; r < b->n; r++)
        if (absd(reference_ts, b->refs[r].snapshot_ts) <= 2 * c->ttl_ms) {
            if (w != r) {
                b->refs[w] = b->refs[r];
                b->keys[w] = b->keys[r];
            }
            w++;
        }
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
        b->keys[victim] = b->keys[b->n - 1];
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

/* The selection context with its hints normalised once per call (not per candidate). */
typedef struct hints {
    const ws_select_ctx *x;
    int model_blank, url_set, gpu_set;
    int model_norm_ok; /* hint fits mk: compatibility can compare normalised strings */
    char mk[WS_LABEL_CAP], uk[WS_URL_CAP], gk[WS_LABEL_CAP];
    uint64_t mh, uh, gh; /* as in ref_keys */
} hints;

static void hints_make(hints *h, const ws_select_ctx *x) {
    h->x = x;
    h->model_blank = ws_blank(x->model_hint);
    h->model_norm_ok = !h->model_blank && !ws_norm_addr(h->mk, sizeof h->mk, x->model_hint);
    if (h->model_norm_ok) h->mh = fnv(h->mk);
    h->url_set = !ws_blank(x->url_hint);
    if (h->url_set) {
        keyify(h->uk, sizeof h->uk, x->url_hint);
        h->uh = fnv(h->uk);
    }
    h->gpu_set = !ws_blank(x->gpu_hint);
    if (h->gpu_set) {
        keyify(h->gk, sizeof h->gk, x->gpu_hint);
        h->gh = fnv(h->gk);
    }
}

/* ws_eq_trim_ci(model_hint, r->model_id) for non-blank hint and model: both trimmed and ASCII
 * lower-cased are equal (k->mk is the untruncated norm of model_id, which fits its array). */
static int hint_eq_model(const hints *h, const ws_snapshot *r, const ref_keys *k) {
    if (h->model_norm_ok) return h->mh == k->mh && strcmp(h->mk, k->mk) == 0;
    return ws_eq_trim_ci(h->x->model_hint, r->model_id);
}

/* §5.3 compatible(model_hint, r->model_id). */
static int hint_compatible(const hints *h, const ws_snapshot *r, const ref_keys *k) {
    return h->model_blank || k->model_blank || hint_eq_model(h, r, k);
}

typedef struct score {
    int compat, url, gpu, fresh;
    int64_t delta, ts;
    const char *mk, *uk, *gk; /* into the candidate's ref_keys */
} score;

static void make_score(score *s, const ws_snapshot *r, const ref_keys *k, const hints *h) {
    const ws_select_ctx *x = h->x;
    s->compat = (!h->model_blank && !k->model_blank && hint_eq_model(h, r, k)) ? 0 : 1;
    s->mk = k->mk;
    s->uk = k->uk;
    s->gk = k->gk;
    s->url = h->url_set && h->uh == k->uh && strcmp(h->uk, s->uk) == 0 ? 0 : 1;
    s->gpu = h->gpu_set && h->gh == k->gh && strcmp(h->gk, s->gk) == 0 ? 0 : 1;
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

/* §5.4 over refs[0..n) whose keys are keys[0..n) (or computed here when keys is NULL). */
static int select_core(const ws_snapshot *refs, const ref_keys *keys, int n,
                       const ws_select_ctx *ctx) {
    if (!refs || n <= 0) return -1;
    hints h;
    hints_make(&h, ctx);
    ref_keys scratch[2]; /* keys == NULL: the best's keys and the current candidate's */
    const ref_keys *k;
    /* ambiguity guard */
    const char *first = NULL;
    for (int i = 0; i < n; i++) {
        const ws_snapshot *r = &refs[i];
        if (absd(ctx->signal_ts, r->snapshot_ts) > ctx->ttl_ms) continue;
        if (keys) {
            k = &keys[i];
        } else {
            ref_keys_make(&scratch[0], r);
            k = &scratch[0];
        }
        if (!hint_compatible(&h, r, k) || k->canon_blank) continue;
        if (!first) {
            first = r->canonical_address;
            memcpy(scratch[1].na, k->na, sizeof k->na);
        } else if (strcmp(scratch[1].na, k->na) != 0) {
            return -1;
        }
    }
    int best = -1, cur = 0;
    score bs = {0}, cs;
    char bk[1024], ck[1024];
    for (int i = 0; i < n; i++) {
        if (keys) {
            k = &keys[i];
        } else {
            ref_keys_make(&scratch[cur], &refs[i]);
            k = &scratch[cur];
        }
        if (!hint_compatible(&h, &refs[i], k)) continue;
        make_score(&cs, &refs[i], k, &h);
        int c = best < 0 ? -1 : cmp_score(&cs, &bs);
        if (c == 0) {
            ws_candidate_key(ck, sizeof ck, &refs[i]);
            ws_candidate_key(bk, sizeof bk, &refs[best]);
            c = strcmp(ck, bk);
        }
        if (c < 0) {
            best = i;
            bs = cs;
            cur ^= 1; /* keys == NULL: keep the best's scratch keys, compute into the other */
        }
    }
    return best;
}

int ws_select_best(const ws_snapshot *refs, int n, const ws_select_ctx *ctx) {
    return select_core(refs, NULL, n, ctx);
}

const ws_snapshot *ws_cache_select(const ws_cache *c, const char *key, const ws_select_ctx *ctx) {
    if (!c || ws_blank(key)) return NULL;
    ws_bucket *b = find(c, key);
    if (!b || b->n == 0) return NULL;
    int i = select_core(b->refs, b->keys, b->n, ctx);
    return i < 0 ? NULL : &b->refs[i];
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
    for (int i = 0; i < n; i++)
        ref_keys_make(&b->keys[i], &refs[i]);
    b->n = n;
    return WEIR_OK;
}
