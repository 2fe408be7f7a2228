/*
 * jobs/session/state.c - the keyed lifecycle state machines of spec session-job.md: the
 * workflow session (§2.1-§2.6), coverage (§7, same accumulator, apply_signal only), segments
 * (§3) and parameter updates (§4), plus their byte encoding for weir keyed state.
 *
 * Data: ws_session / ws_segment / ws_params are plain values (fixed arrays, no heap).
 * Invariants: session_start_ts ≤ session_end_ts once event_count > 0 (sentinels before);
 * version == event_count for sessions; attribution_method / reason always point to one of the
 * static strings of METHODS / REASONS (so they can be encoded as an index).
 * The four "seen" sets of §2.1 are kept as sets of 64-bit FNV-1a hashes (only their sizes are
 * ever output, §2.5; `orchestrators_seen` is never output and not kept). A collision would
 * undercount a change: probability ~n²/2⁶⁴, negligible.
 * Encoding: magic "WSx1" + uint32 struct size + the struct bytes with the static-string
 * pointers replaced by their index (decoding restores them and re-terminates every string).
 * It is a same-build layout (the state layout version is the magic): a layout change must bump
 * the magic, and decoding foreign bytes fails with WEIR_EPARSE.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "jobs/session/session.h"

static const char *const METHODS[] = {"none", "exact_orchestrator_time_match",
                                      "nearest_prior_snapshot", "nearest_snapshot_within_ttl",
                                      "proxy_address_join"};
static const char *const REASONS[] = {"initial", "orchestrator_change", "stream_closed"};

static const char *const EXCUSABLE[] = {
    "no orchestrators available",  "mediamtx ingest disconnected",
    "whip disconnected",           "missing video",
    "ice connection state failed", "user disconnected"};

/* ------------------------------------------------------------------------------- helpers */

static uint64_t hash_str(const char *s) {
    return XXH3_64bits(s, strlen(s)); /* xxHash (libxxhash), see docs/dependencies.md */
}

static void hset_add(ws_hset *set, const char *s) {
    uint64_t h = hash_str(s);
    for (uint32_t i = 0; i < set->n; i++)
        if (set->h[i] == h) return;
    if (set->n < WS_SET_CAP)
        set->h[set->n++] = h;
    else if (set->overflow < UINT32_MAX)
        set->overflow++; /* may double-count beyond the cap; only "> 1" and "− 1" are output */
}

static uint64_t hset_size(const ws_hset *s) {
    return (uint64_t)s->n + s->overflow;
}

#define COPY(dst, src) (void)ws_copy((dst), sizeof(dst), (src))
#define FIRST_WRITE(dst, src)                                                                      \
    do {                                                                                           \
        if (ws_blank(dst) && !ws_blank(src)) COPY(dst, src);                                       \
    } while (0)

static int64_t min_ts(int64_t cur, int64_t ts) {
    return (cur == WS_TS_NULL || ts < cur) ? ts : cur;
}

/* Looks up the best snapshot (§2.6 steps 2-4): returns NULL when none. */
static const ws_snapshot *lookup(const ws_cache *cache, const char *sig_addr, const char *st_addr,
                                 const char *model_hint, const char *url_hint, const char *gpu_hint,
                                 int64_t ts, int64_t ttl) {
    if (!cache) return NULL;
    char key[WS_ADDR_CAP];
    ws_norm_addr(key, sizeof key, ws_fnb(2, sig_addr, st_addr));
    if (ws_blank(key)) return NULL;
    int n;
    const ws_snapshot *b = ws_cache_bucket(cache, key, &n);
    if (!b) return NULL;
    ws_select_ctx ctx = {model_hint, url_hint, gpu_hint, ts, ttl};
    int i = ws_select_best(b, n, &ctx);
    return i < 0 ? NULL : &b[i];
}

/* Two-phase resolution (§2.6 steps 3-5, §3.2, §4). Copies pipeline/model into the outputs and
 * returns the snapshot (a copy in *snap_buf) or NULL. */
static const ws_snapshot *resolve2(const ws_config *cfg, const ws_cache *cache,
                                   const ws_signal *sig, const char *st_pipeline,
                                   const char *st_model, const char *st_addr, const char *st_gpu,
                                   ws_snapshot *snap_buf, char *pipe_out, size_t pipe_cap,
                                   char *model_out, size_t model_cap) {
    ws_resolution pre = ws_resolve(cfg->mode, sig, st_pipeline, st_model, NULL);
    const ws_snapshot *s = lookup(cache, sig->orchestrator_address, st_addr, pre.compat_hint,
                                  sig->orchestrator_url, st_gpu, sig->signal_ts, cfg->ttl_ms);
    if (s) {
        *snap_buf = *s;
        s = snap_buf;
    }
    ws_resolution res = ws_resolve(cfg->mode, sig, st_pipeline, st_model, s);
    ws_copy(pipe_out, pipe_cap, res.pipeline);
    ws_copy(model_out, model_cap, res.model_id);
    return s;
}

/* ----------------------------------------------------------------------------- session §2 */

void ws_session_init(ws_session *s, const char *wsid) {
    memset(s, 0, sizeof *s);
    COPY(s->workflow_session_id, wsid);
    COPY(s->workflow_id, "");
    s->model_null = s->gpu_null = 1;
    s->attribution_method = METHODS[0];
    s->session_start_ts = INT64_MAX;
    s->session_end_ts = INT64_MIN;
    s->first_stream_request_ts = s->first_processed_ts = s->first_playable_ts = WS_TS_NULL;
    s->last_signal_ts = INT64_MIN;
}

static int excusable(const char *msg) {
    if (ws_blank(msg)) return 0;
    char low[WS_MSG_CAP];
    size_t n = strlen(msg);
    if (n >= sizeof low) n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (msg[i] >= 'A' && msg[i] <= 'Z') ? (char)(msg[i] - 'A' + 'a') : msg[i];
    low[n] = 0;
    for (size_t i = 0; i < sizeof EXCUSABLE / sizeof *EXCUSABLE; i++)
        if (strstr(low, EXCUSABLE[i])) return 1;
    return 0;
}

void ws_session_apply_signal(ws_session *s, const ws_signal *sig) {
    FIRST_WRITE(s->workflow_session_id, sig->workflow_session_id);
    FIRST_WRITE(s->stream_id, sig->stream_id);
    FIRST_WRITE(s->request_id, sig->request_id);
    FIRST_WRITE(s->pipeline, sig->pipeline);
    if ((s->model_null || ws_blank(s->model_id)) && !ws_blank(sig->model_hint)) {
        COPY(s->model_id, sig->model_hint);
        s->model_null = 0;
    }
    if (!ws_blank(s->pipeline)) hset_add(&s->pipelines_seen, s->pipeline);
    if (!s->model_null && !ws_blank(s->model_id)) hset_add(&s->model_ids_seen, s->model_id);
    if (ws_blank(s->workflow_id))
        COPY(s->workflow_id, ws_fnb(2, s->pipeline, "ai_live_video_stream"));
    FIRST_WRITE(s->gateway, sig->gateway);
    if (!ws_blank(sig->orchestrator_url)) COPY(s->orchestrator_url, sig->orchestrator_url);
    int64_t ts = sig->signal_ts;
    if (ts < s->session_start_ts) s->session_start_ts = ts;
    if (ts > s->session_end_ts) s->session_end_ts = ts;
    if (sig->type == WS_SIG_STREAM_STATUS && sig->has_start_time &&
        sig->start_time_ms < s->session_start_ts)
        s->session_start_ts = sig->start_time_ms;
    if (ts > s->last_signal_ts) s->last_signal_ts = ts;
    s->event_count++;
    s->version++;
    if (ws_blank(s->source_first_event_uid)) COPY(s->source_first_event_uid, sig->source_event_uid);
    COPY(s->source_last_event_uid, sig->source_event_uid);
    switch (sig->type) {
    case WS_SIG_STREAM_TRACE: {
        const char *t = sig->trace_type;
        if (strcmp(t, "gateway_receive_stream_request") == 0) {
            s->known_stream = 1;
            s->first_stream_request_ts = min_ts(s->first_stream_request_ts, ts);
        } else if (strcmp(t, "gateway_receive_first_processed_segment") == 0) {
            s->first_processed_ts = min_ts(s->first_processed_ts, ts);
        } else if (strcmp(t, "gateway_receive_few_processed_segments") == 0) {
            s->startup_success = 1;
            s->first_playable_ts = min_ts(s->first_playable_ts, ts);
        } else if (strcmp(t, "gateway_no_orchestrators_available") == 0) {
            s->no_orchestrators_available = 1;
        } else if (strcmp(t, "orchestrator_swap") == 0) {
            s->explicit_swap_count++;
        } else if (strcmp(t, "gateway_ingest_stream_closed") == 0) {
            s->closed = 1;
        }
        break;
    }
    case WS_SIG_AI_STREAM_EVENT:
        if (strcasecmp(sig->ai_event_type, "error") == 0) {
            s->error_count++;
            if (excusable(sig->message)) s->excusable_error_count++;
        } else if (strcasecmp(sig->ai_event_type, "params_update") == 0) {
            s->params_update_count++;
        }
        break;
    case WS_SIG_STREAM_STATUS:
        s->status_sample_count++;
        if (strcasecmp(sig->status_state, "LOADING") != 0) s->status_non_loading_sample_count++;
        if (sig->status_output_fps > 0) s->status_positive_output_sample_count++;
        if (!sig->status_last_error_null && !ws_blank(sig->status_last_error)) {
            s->last_error_occurred = 1;
            s->status_error_sample_count++;
        }
        break;
    }
}

void ws_session_apply_snapshot(ws_session *s, const ws_snapshot *snap, int64_t signal_ts,
                               int64_t ttl_ms) {
    if (!snap) return;
    if (!ws_blank(snap->canonical_address)) {
        char n[WS_ADDR_CAP];
        ws_norm_addr(n, sizeof n, snap->canonical_address);
        COPY(s->orchestrator_address, snap->canonical_address);
        hset_add(&s->canonical_orchestrators_seen, n);
    }
    COPY(s->orchestrator_url, ws_fnb(2, s->orchestrator_url, snap->orchestrator_url));
    s->attribution_method =
        ws_attribution_method(signal_ts, snap->snapshot_ts, ttl_ms, &s->attribution_confidence);
    s->model_null = ws_blank(snap->model_id);
    COPY(s->model_id, s->model_null ? "" : snap->model_id);
    s->gpu_null = ws_blank(snap->gpu_id);
    COPY(s->gpu_id, s->gpu_null ? "" : snap->gpu_id);
    if (!s->model_null) hset_add(&s->model_ids_seen, s->model_id);
    if (!ws_blank(s->pipeline)) hset_add(&s->pipelines_seen, s->pipeline);
}

void ws_session_process(ws_session *s, const ws_signal *in, const ws_cache *cache,
                        const ws_config *cfg) {
    ws_signal sig = *in; /* §1.4: the operator mutates its own copy */
    if (ws_blank(s->workflow_session_id)) COPY(s->workflow_session_id, sig.workflow_session_id);
    ws_snapshot snap_buf;
    char pipe[WS_LABEL_CAP], model[WS_LABEL_CAP];
    const ws_snapshot *snap = resolve2(
        cfg, cache, &sig, s->pipeline, s->model_null ? "" : s->model_id, s->orchestrator_address,
        s->gpu_null ? "" : s->gpu_id, &snap_buf, pipe, sizeof pipe, model, sizeof model);
    COPY(sig.pipeline, pipe);
    ws_session_apply_signal(s, &sig);
    if (!ws_blank(pipe)) COPY(s->pipeline, pipe);
    if (!ws_blank(model)) {
        COPY(s->model_id, model);
        s->model_null = 0;
    }
    ws_session_apply_snapshot(s, snap, sig.signal_ts, cfg->ttl_ms);
    if (sig.type == WS_SIG_STREAM_TRACE &&
        strcmp(sig.trace_type, "gateway_ingest_stream_closed") == 0) {
        const char *hint = ws_fnb(4, s->model_null ? "" : s->model_id, sig.model_hint,
                                  sig.pipeline_hint, sig.pipeline);
        const char *url = ws_fnb(2, sig.orchestrator_url, s->orchestrator_url);
        const ws_snapshot *t =
            lookup(cache, sig.orchestrator_address, s->orchestrator_address, hint, url,
                   s->gpu_null ? "" : s->gpu_id, sig.signal_ts, cfg->ttl_ms);
        if (t) {
            ws_snapshot copy = *t;
            ws_session_apply_snapshot(s, &copy, sig.signal_ts, cfg->ttl_ms);
        }
    }
}

void ws_coverage_process(ws_session *s, const ws_signal *sig) {
    if (ws_blank(s->workflow_session_id)) COPY(s->workflow_session_id, sig->workflow_session_id);
    ws_session_apply_signal(s, sig);
}

void ws_session_derive(const ws_session *s, ws_session_derived *d) {
    memset(d, 0, sizeof *d);
    d->startup_success = s->startup_success;
    d->startup_excused = s->known_stream && !s->startup_success &&
                         (s->no_orchestrators_available ||
                          (s->error_count > 0 && s->error_count == s->excusable_error_count));
    d->startup_unexcused = s->known_stream && !s->startup_success && !d->startup_excused;
    d->confirmed_swap_count = s->explicit_swap_count;
    uint64_t nc = hset_size(&s->canonical_orchestrators_seen);
    d->inferred_orchestrator_change_count = nc > 1 ? (int64_t)nc - 1 : 0;
    d->swap_count = d->confirmed_swap_count;
    d->loading_only_session = s->status_sample_count > 0 && s->status_non_loading_sample_count == 0;
    d->zero_output_fps_session =
        s->status_sample_count > 0 && s->status_positive_output_sample_count == 0;
    d->health_expected_signal_count = s->known_stream ? 3 : 0;
    d->health_signal_count = (s->status_sample_count > 0) + (s->first_processed_ts != WS_TS_NULL) +
                             (s->first_playable_ts != WS_TS_NULL);
    d->health_completeness_ratio =
        d->health_expected_signal_count > 0
            ? (float)((double)d->health_signal_count / (double)d->health_expected_signal_count)
            : 1.0f;
    d->has_model_change = hset_size(&s->model_ids_seen) > 1;
    d->has_pipeline_change = hset_size(&s->pipelines_seen) > 1;
}

int64_t ws_session_expiry(const ws_session *s, const ws_config *cfg) {
    int64_t r = s->closed && cfg->closed_retention_ms > 0 ? cfg->closed_retention_ms
                                                          : cfg->idle_retention_ms;
    if (r <= 0 || s->last_signal_ts == INT64_MIN) return INT64_MAX;
    if (s->last_signal_ts > INT64_MAX - r) return INT64_MAX;
    return s->last_signal_ts + r;
}

/* ---------------------------------------------------------------------------- segments §3 */

void ws_segment_init(ws_segment *g) {
    memset(g, 0, sizeof *g);
    g->segment_end_ts = WS_TS_NULL;
    g->gpu_null = g->model_null = g->region_null = 1;
    g->attribution_method = METHODS[0];
    g->reason = REASONS[0];
}

static void seg_apply_snapshot(ws_segment *g, const ws_snapshot *snap, int64_t ts, int64_t ttl) {
    if (!snap) return;
    g->attribution_method =
        ws_attribution_method(ts, snap->snapshot_ts, ttl, &g->attribution_confidence);
    if (!ws_blank(snap->canonical_address)) COPY(g->orchestrator_address, snap->canonical_address);
    COPY(g->orchestrator_url, ws_fnb(2, snap->orchestrator_url, g->orchestrator_url));
    g->model_null = ws_blank(snap->model_id);
    COPY(g->model_id, g->model_null ? "" : snap->model_id);
    g->gpu_null = ws_blank(snap->gpu_id);
    COPY(g->gpu_id, g->gpu_null ? "" : snap->gpu_id);
}

static void seg_open(ws_segment *g, const ws_signal *sig, const char *effective,
                     const char *reason) {
    g->open_segment = 1;
    COPY(g->workflow_session_id, sig->workflow_session_id);
    g->segment_start_ts = sig->signal_ts;
    g->segment_end_ts = WS_TS_NULL;
    FIRST_WRITE(g->gateway, sig->gateway);
    FIRST_WRITE(g->pipeline, sig->pipeline);
    COPY(g->orchestrator_address, ws_fnb(2, effective, g->orchestrator_address));
    COPY(g->orchestrator_url, ws_fnb(2, sig->orchestrator_url, g->orchestrator_url));
    g->reason = reason;
    COPY(g->source_trace_type, ws_fnb(1, sig->trace_type));
    COPY(g->source_event_uid, ws_fnb(2, sig->source_event_uid, g->source_event_uid));
    g->version++;
}

int ws_segment_process(ws_segment *g, const ws_signal *in, const ws_cache *cache,
                       const ws_config *cfg, ws_segment rows[2]) {
    ws_signal sig = *in;
    ws_snapshot snap_buf;
    char pipe[WS_LABEL_CAP], model[WS_LABEL_CAP];
    const ws_snapshot *snap = resolve2(
        cfg, cache, &sig, g->pipeline, g->model_null ? "" : g->model_id, g->orchestrator_address,
        g->gpu_null ? "" : g->gpu_id, &snap_buf, pipe, sizeof pipe, model, sizeof model);
    COPY(sig.pipeline, pipe);
    if (!ws_blank(model)) {
        COPY(g->model_id, model);
        g->model_null = 0;
    }
    char effective[WS_ADDR_CAP] = "";
    if (snap) ws_norm_addr(effective, sizeof effective, snap->canonical_address);
    if (!g->open_segment) {
        seg_open(g, &sig, effective, REASONS[0]);
        seg_apply_snapshot(g, snap, sig.signal_ts, cfg->ttl_ms);
        rows[0] = *g;
        return 1;
    }
    char cur[WS_ADDR_CAP];
    ws_norm_addr(cur, sizeof cur, g->orchestrator_address);
    if (!ws_blank(effective) && !ws_blank(g->orchestrator_address) && strcmp(cur, effective) != 0) {
        g->segment_end_ts = sig.signal_ts;
        g->reason = REASONS[1];
        COPY(g->source_trace_type, ws_fnb(2, sig.trace_type, g->source_trace_type));
        COPY(g->source_event_uid, ws_fnb(2, sig.source_event_uid, g->source_event_uid));
        g->version++;
        rows[0] = *g;
        g->segment_index++;
        seg_open(g, &sig, effective, REASONS[1]);
        seg_apply_snapshot(g, snap, sig.signal_ts, cfg->ttl_ms);
        rows[1] = *g;
        return 2;
    }
    FIRST_WRITE(g->gateway, sig.gateway);
    FIRST_WRITE(g->pipeline, sig.pipeline);
    if (!ws_blank(effective)) COPY(g->orchestrator_address, effective);
    COPY(g->orchestrator_url, ws_fnb(2, sig.orchestrator_url, g->orchestrator_url));
    COPY(g->source_trace_type, ws_fnb(2, sig.trace_type, g->source_trace_type));
    COPY(g->source_event_uid, ws_fnb(2, sig.source_event_uid, g->source_event_uid));
    seg_apply_snapshot(g, snap, sig.signal_ts, cfg->ttl_ms);
    if (sig.type == WS_SIG_STREAM_TRACE &&
        strcmp(sig.trace_type, "gateway_ingest_stream_closed") == 0) {
        g->segment_end_ts = sig.signal_ts;
        g->reason = REASONS[2];
    }
    g->version++;
    rows[0] = *g;
    return 1;
}

/* ------------------------------------------------------------------------ param updates §4 */

void ws_params_init(ws_params *p) {
    memset(p, 0, sizeof *p);
    p->model_null = p->gpu_null = 1;
    p->attribution_method = METHODS[0];
}

int ws_params_process(ws_params *p, const ws_signal *in, const ws_cache *cache,
                      const ws_config *cfg, ws_param_row *row) {
    ws_signal sig = *in;
    FIRST_WRITE(p->workflow_session_id, sig.workflow_session_id);
    FIRST_WRITE(p->stream_id, sig.stream_id);
    FIRST_WRITE(p->request_id, sig.request_id);
    FIRST_WRITE(p->gateway, sig.gateway);
    FIRST_WRITE(p->orchestrator_url, sig.orchestrator_url);
    ws_snapshot snap_buf;
    char pipe[WS_LABEL_CAP], model[WS_LABEL_CAP];
    const ws_snapshot *snap = resolve2(
        cfg, cache, &sig, p->pipeline, p->model_null ? "" : p->model_id, p->orchestrator_address,
        p->gpu_null ? "" : p->gpu_id, &snap_buf, pipe, sizeof pipe, model, sizeof model);
    COPY(sig.pipeline, pipe);
    FIRST_WRITE(p->pipeline, sig.pipeline);
    if ((p->model_null || ws_blank(p->model_id)) && !ws_blank(model)) {
        COPY(p->model_id, model);
        p->model_null = 0;
    }
    if (snap) {
        if (!ws_blank(snap->canonical_address))
            COPY(p->orchestrator_address, snap->canonical_address);
        COPY(p->orchestrator_url, ws_fnb(2, p->orchestrator_url, snap->orchestrator_url));
        p->attribution_method = ws_attribution_method(sig.signal_ts, snap->snapshot_ts, cfg->ttl_ms,
                                                      &p->attribution_confidence);
        p->model_null = ws_blank(snap->model_id);
        COPY(p->model_id, p->model_null ? "" : snap->model_id);
        p->gpu_null = ws_blank(snap->gpu_id);
        COPY(p->gpu_id, p->gpu_null ? "" : snap->gpu_id);
    }
    p->version++;
    if (sig.type == WS_SIG_AI_STREAM_EVENT && strcasecmp(sig.ai_event_type, "params_update") == 0) {
        row->st = *p;
        row->update_ts = sig.signal_ts;
        COPY(row->message, sig.message);
        COPY(row->source_event_uid, sig.source_event_uid);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------ encoding */

static int idx_of(const char *const *tab, int n, const char *p) {
    for (int i = 0; i < n; i++)
        if (tab[i] == p || (p && strcmp(tab[i], p) == 0)) return i;
    return 0;
}

static void enc(weir_buf *out, const char magic[4], const void *st, size_t n) {
    uint32_t sz = (uint32_t)n;
    weir_buf_append(out, magic, 4);
    weir_buf_append(out, &sz, 4);
    weir_buf_append(out, st, n);
}

static int dec(const void *p, size_t n, const char magic[4], void *st, size_t sz) {
    uint32_t s;
    if (!p || n != 8 + sz || memcmp(p, magic, 4) != 0) return -1;
    memcpy(&s, (const char *)p + 4, 4);
    if (s != sz) return -1;
    memcpy(st, (const char *)p + 8, sz);
    return 0;
}

#define TERM(a) ((a)[sizeof(a) - 1] = 0)
#define NMETHODS ((int)(sizeof METHODS / sizeof *METHODS))

void ws_session_encode(weir_buf *out, const ws_session *s) {
    ws_session c = *s;
    c.attribution_method =
        (const char *)(uintptr_t)idx_of(METHODS, NMETHODS, s->attribution_method);
    enc(out, "WSS1", &c, sizeof c);
}

weir_err ws_session_decode(const void *p, size_t n, ws_session *s) {
    if (dec(p, n, "WSS1", s, sizeof *s)) return WEIR_EPARSE;
    uintptr_t m = (uintptr_t)s->attribution_method;
    if (m >= (uintptr_t)NMETHODS) return WEIR_EPARSE;
    s->attribution_method = METHODS[m];
    TERM(s->workflow_session_id), TERM(s->stream_id), TERM(s->request_id), TERM(s->pipeline);
    TERM(s->workflow_id), TERM(s->gateway), TERM(s->orchestrator_address);
    TERM(s->orchestrator_url), TERM(s->model_id), TERM(s->gpu_id);
    TERM(s->source_first_event_uid), TERM(s->source_last_event_uid);
    if (s->canonical_orchestrators_seen.n > WS_SET_CAP || s->model_ids_seen.n > WS_SET_CAP ||
        s->pipelines_seen.n > WS_SET_CAP)
        return WEIR_EPARSE;
    return WEIR_OK;
}

void ws_segment_encode(weir_buf *out, const ws_segment *g) {
    ws_segment c = *g;
    c.attribution_method =
        (const char *)(uintptr_t)idx_of(METHODS, NMETHODS, g->attribution_method);
    c.reason = (const char *)(uintptr_t)idx_of(REASONS, 3, g->reason);
    enc(out, "WSG1", &c, sizeof c);
}

weir_err ws_segment_decode(const void *p, size_t n, ws_segment *g) {
    if (dec(p, n, "WSG1", g, sizeof *g)) return WEIR_EPARSE;
    uintptr_t m = (uintptr_t)g->attribution_method, r = (uintptr_t)g->reason;
    if (m >= (uintptr_t)NMETHODS || r >= 3) return WEIR_EPARSE;
    g->attribution_method = METHODS[m];
    g->reason = REASONS[r];
    TERM(g->workflow_session_id), TERM(g->gateway), TERM(g->pipeline);
    TERM(g->orchestrator_address), TERM(g->orchestrator_url), TERM(g->gpu_id), TERM(g->model_id);
    TERM(g->region), TERM(g->source_trace_type), TERM(g->source_event_uid);
    return WEIR_OK;
}

void ws_params_encode(weir_buf *out, const ws_params *p) {
    ws_params c = *p;
    c.attribution_method =
        (const char *)(uintptr_t)idx_of(METHODS, NMETHODS, p->attribution_method);
    enc(out, "WSP1", &c, sizeof c);
}

weir_err ws_params_decode(const void *buf, size_t n, ws_params *p) {
    if (dec(buf, n, "WSP1", p, sizeof *p)) return WEIR_EPARSE;
    uintptr_t m = (uintptr_t)p->attribution_method;
    if (m >= (uintptr_t)NMETHODS) return WEIR_EPARSE;
    p->attribution_method = METHODS[m];
    TERM(p->workflow_session_id), TERM(p->stream_id), TERM(p->request_id), TERM(p->pipeline);
    TERM(p->gateway), TERM(p->orchestrator_address), TERM(p->orchestrator_url);
    TERM(p->model_id), TERM(p->gpu_id);
    return WEIR_OK;
}
