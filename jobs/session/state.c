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
 * Encoding (weir keyed state, checkpoints, channels): magic "WSx2" then the fields one by one
 * (varints, zig-zag varints, 4-byte floats, length-prefixed strings), so a blob holds only the
 * bytes in use. Static-string pointers are encoded as their index. A layout change must bump
 * the magic; decoding foreign, truncated or over-long bytes fails with WEIR_EPARSE.
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
    ws_select_ctx ctx = {model_hint, url_hint, gpu_hint, ts, ttl};
    return ws_cache_select(cache, key, &ctx);
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

/* Compact field-by-field encoding (magic "WSx2"): unsigned varints, zig-zag varints for signed
 * integers, 4-byte little-endian floats, strings as varint length + bytes. A state blob of a
 * typical session is a few hundred bytes instead of the struct size (kilobytes), which is what
 * RocksDB reads and writes per signal. Decoding checks every length against the destination
 * array and requires the input to be consumed exactly (WEIR_EPARSE otherwise). */

static void w_u(weir_buf *b, uint64_t v) {
    uint8_t t[10];
    int n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    weir_buf_append(b, t, (size_t)n);
}

static void w_i(weir_buf *b, int64_t v) {
    w_u(b, ((uint64_t)v << 1) ^ ((uint64_t)0 - ((uint64_t)v >> 63))); /* zigzag */
}

static void w_s(weir_buf *b, const char *s) {
    size_t n = strlen(s);
    w_u(b, n);
    weir_buf_append(b, s, n);
}

static void w_f(weir_buf *b, float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint8_t t[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
    weir_buf_append(b, t, 4);
}

typedef struct rd {
    const uint8_t *p, *e;
    int bad;
} rd;

static uint64_t r_u(rd *r) {
    uint64_t v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (r->p >= r->e) break;
        uint8_t c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t r_i(rd *r) {
    uint64_t u = r_u(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static void r_s(rd *r, char *dst, size_t cap) {
    uint64_t n = r_u(r);
    if (r->bad || n >= cap || n > (uint64_t)(r->e - r->p)) {
        r->bad = 1;
        dst[0] = 0;
        return;
    }
    memcpy(dst, r->p, n);
    dst[n] = 0;
    r->p += n;
}

static float r_f(rd *r) {
    if (r->e - r->p < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t x = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 24;
    r->p += 4;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static int r_open(rd *r, const void *p, size_t n, const char magic[4]) {
    if (!p || n < 4 || memcmp(p, magic, 4) != 0) return -1;
    r->p = (const uint8_t *)p + 4;
    r->e = (const uint8_t *)p + n;
    r->bad = 0;
    return 0;
}

static int r_done(const rd *r) {
    return r->bad || r->p != r->e ? -1 : 0;
}

static int idx_of(const char *const *tab, int n, const char *p) {
    for (int i = 0; i < n; i++)
        if (tab[i] == p || (p && strcmp(tab[i], p) == 0)) return i;
    return 0;
}

#define NMETHODS ((int)(sizeof METHODS / sizeof *METHODS))
#define WS(b, f) w_s((b), (f))
#define RS(r, f) r_s((r), (f), sizeof(f))

static void w_hset(weir_buf *b, const ws_hset *h) {
    w_u(b, h->n);
    w_u(b, h->overflow);
    for (uint32_t i = 0; i < h->n && i < WS_SET_CAP; i++)
        weir_buf_append(b, &h->h[i], 8);
}

static void r_hset(rd *r, ws_hset *h) {
    uint64_t n = r_u(r);
    h->overflow = (uint32_t)r_u(r);
    if (n > WS_SET_CAP || (uint64_t)(r->e - r->p) < n * 8) {
        r->bad = 1;
        h->n = 0;
        return;
    }
    h->n = (uint32_t)n;
    for (uint32_t i = 0; i < h->n; i++, r->p += 8)
        memcpy(&h->h[i], r->p, 8);
}

void ws_session_encode(weir_buf *out, const ws_session *s) {
    weir_buf_append(out, "WSS2", 4);
    WS(out, s->workflow_session_id), WS(out, s->stream_id), WS(out, s->request_id);
    WS(out, s->pipeline), WS(out, s->workflow_id), WS(out, s->gateway);
    WS(out, s->orchestrator_address), WS(out, s->orchestrator_url);
    WS(out, s->model_id), WS(out, s->gpu_id);
    w_u(out, (uint64_t)(s->model_null != 0) | (uint64_t)(s->gpu_null != 0) << 1 |
                 (uint64_t)(s->known_stream != 0) << 2 | (uint64_t)(s->startup_success != 0) << 3 |
                 (uint64_t)(s->no_orchestrators_available != 0) << 4 |
                 (uint64_t)(s->last_error_occurred != 0) << 5 | (uint64_t)(s->closed != 0) << 6 |
                 (uint64_t)(s->truncated != 0) << 7);
    w_u(out, (uint64_t)idx_of(METHODS, NMETHODS, s->attribution_method));
    w_f(out, s->attribution_confidence);
    const int64_t ints[] = {s->session_start_ts,
                            s->session_end_ts,
                            s->first_stream_request_ts,
                            s->first_processed_ts,
                            s->first_playable_ts,
                            s->error_count,
                            s->excusable_error_count,
                            s->explicit_swap_count,
                            s->event_count,
                            s->version,
                            s->params_update_count,
                            s->status_sample_count,
                            s->status_non_loading_sample_count,
                            s->status_positive_output_sample_count,
                            s->status_error_sample_count,
                            s->last_signal_ts};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        w_i(out, ints[i]);
    WS(out, s->source_first_event_uid), WS(out, s->source_last_event_uid);
    w_hset(out, &s->canonical_orchestrators_seen);
    w_hset(out, &s->model_ids_seen);
    w_hset(out, &s->pipelines_seen);
}

weir_err ws_session_decode(const void *p, size_t n, ws_session *s) {
    rd r;
    if (r_open(&r, p, n, "WSS2")) return WEIR_EPARSE;
    memset(s, 0, sizeof *s);
    RS(&r, s->workflow_session_id), RS(&r, s->stream_id), RS(&r, s->request_id);
    RS(&r, s->pipeline), RS(&r, s->workflow_id), RS(&r, s->gateway);
    RS(&r, s->orchestrator_address), RS(&r, s->orchestrator_url);
    RS(&r, s->model_id), RS(&r, s->gpu_id);
    uint64_t fl = r_u(&r);
    s->model_null = fl & 1, s->gpu_null = (fl >> 1) & 1, s->known_stream = (fl >> 2) & 1;
    s->startup_success = (fl >> 3) & 1, s->no_orchestrators_available = (fl >> 4) & 1;
    s->last_error_occurred = (fl >> 5) & 1, s->closed = (fl >> 6) & 1, s->truncated = (fl >> 7) & 1;
    uint64_t m = r_u(&r);
    if (m >= (uint64_t)NMETHODS) return WEIR_EPARSE;
    s->attribution_method = METHODS[m];
    s->attribution_confidence = r_f(&r);
    int64_t *ints[] = {&s->session_start_ts,
                       &s->session_end_ts,
                       &s->first_stream_request_ts,
                       &s->first_processed_ts,
                       &s->first_playable_ts,
                       &s->error_count,
                       &s->excusable_error_count,
                       &s->explicit_swap_count,
                       &s->event_count,
                       &s->version,
                       &s->params_update_count,
                       &s->status_sample_count,
                       &s->status_non_loading_sample_count,
                       &s->status_positive_output_sample_count,
                       &s->status_error_sample_count,
                       &s->last_signal_ts};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        *ints[i] = r_i(&r);
    RS(&r, s->source_first_event_uid), RS(&r, s->source_last_event_uid);
    r_hset(&r, &s->canonical_orchestrators_seen);
    r_hset(&r, &s->model_ids_seen);
    r_hset(&r, &s->pipelines_seen);
    return r_done(&r) ? WEIR_EPARSE : WEIR_OK;
}

void ws_segment_encode(weir_buf *out, const ws_segment *g) {
    weir_buf_append(out, "WSG2", 4);
    WS(out, g->workflow_session_id);
    w_i(out, g->segment_index);
    w_u(out, (uint64_t)(g->open_segment != 0) | (uint64_t)(g->gpu_null != 0) << 1 |
                 (uint64_t)(g->model_null != 0) << 2 | (uint64_t)(g->region_null != 0) << 3 |
                 (uint64_t)(g->truncated != 0) << 4);
    w_i(out, g->segment_start_ts), w_i(out, g->segment_end_ts);
    WS(out, g->gateway), WS(out, g->pipeline), WS(out, g->orchestrator_address);
    WS(out, g->orchestrator_url), WS(out, g->gpu_id), WS(out, g->model_id), WS(out, g->region);
    w_u(out, (uint64_t)idx_of(METHODS, NMETHODS, g->attribution_method));
    w_f(out, g->attribution_confidence);
    w_u(out, (uint64_t)idx_of(REASONS, 3, g->reason));
    WS(out, g->source_trace_type), WS(out, g->source_event_uid);
    w_i(out, g->version);
}

weir_err ws_segment_decode(const void *p, size_t n, ws_segment *g) {
    rd r;
    if (r_open(&r, p, n, "WSG2")) return WEIR_EPARSE;
    memset(g, 0, sizeof *g);
    RS(&r, g->workflow_session_id);
    g->segment_index = (int32_t)r_i(&r);
    uint64_t fl = r_u(&r);
    g->open_segment = fl & 1, g->gpu_null = (fl >> 1) & 1, g->model_null = (fl >> 2) & 1;
    g->region_null = (fl >> 3) & 1, g->truncated = (fl >> 4) & 1;
    g->segment_start_ts = r_i(&r), g->segment_end_ts = r_i(&r);
    RS(&r, g->gateway), RS(&r, g->pipeline), RS(&r, g->orchestrator_address);
    RS(&r, g->orchestrator_url), RS(&r, g->gpu_id), RS(&r, g->model_id), RS(&r, g->region);
    uint64_t m = r_u(&r);
    g->attribution_confidence = r_f(&r);
    uint64_t rs = r_u(&r);
    if (m >= (uint64_t)NMETHODS || rs >= 3) return WEIR_EPARSE;
    g->attribution_method = METHODS[m];
    g->reason = REASONS[rs];
    RS(&r, g->source_trace_type), RS(&r, g->source_event_uid);
    g->version = r_i(&r);
    return r_done(&r) ? WEIR_EPARSE : WEIR_OK;
}

void ws_params_encode(weir_buf *out, const ws_params *p) {
    weir_buf_append(out, "WSP2", 4);
    WS(out, p->workflow_session_id), WS(out, p->stream_id), WS(out, p->request_id);
    WS(out, p->pipeline), WS(out, p->gateway), WS(out, p->orchestrator_address);
    WS(out, p->orchestrator_url), WS(out, p->model_id), WS(out, p->gpu_id);
    w_u(out, (uint64_t)(p->model_null != 0) | (uint64_t)(p->gpu_null != 0) << 1 |
                 (uint64_t)(p->truncated != 0) << 2);
    w_u(out, (uint64_t)idx_of(METHODS, NMETHODS, p->attribution_method));
    w_f(out, p->attribution_confidence);
    w_i(out, p->version);
}

weir_err ws_params_decode(const void *buf, size_t n, ws_params *p) {
    rd r;
    if (r_open(&r, buf, n, "WSP2")) return WEIR_EPARSE;
    memset(p, 0, sizeof *p);
    RS(&r, p->workflow_session_id), RS(&r, p->stream_id), RS(&r, p->request_id);
    RS(&r, p->pipeline), RS(&r, p->gateway), RS(&r, p->orchestrator_address);
    RS(&r, p->orchestrator_url), RS(&r, p->model_id), RS(&r, p->gpu_id);
    uint64_t fl = r_u(&r);
    p->model_null = fl & 1, p->gpu_null = (fl >> 1) & 1, p->truncated = (fl >> 2) & 1;
    uint64_t m = r_u(&r);
    if (m >= (uint64_t)NMETHODS) return WEIR_EPARSE;
    p->attribution_method = METHODS[m];
    p->attribution_confidence = r_f(&r);
    p->version = r_i(&r);
    return r_done(&r) ? WEIR_EPARSE : WEIR_OK;
}

void ws_signal_encode(weir_buf *out, const ws_signal *s) {
    weir_buf_append(out, "WSI2", 4);
    WS(out, s->source_event_uid); /* first: ws_signal_peek_uid() */
    w_u(out, (uint64_t)s->type);
    w_i(out, s->signal_ts), w_i(out, s->ingest_ts);
    WS(out, s->workflow_session_id), WS(out, s->event_id), WS(out, s->stream_id);
    WS(out, s->request_id), WS(out, s->gateway);
    WS(out, s->orchestrator_address), WS(out, s->orchestrator_url), WS(out, s->pipeline);
    WS(out, s->pipeline_hint), WS(out, s->model_hint), WS(out, s->trace_type);
    WS(out, s->ai_event_type), WS(out, s->message), WS(out, s->status_state);
    WS(out, s->status_last_error);
    w_u(out, (uint64_t)(s->status_last_error_null != 0) | (uint64_t)(s->has_start_time != 0) << 1 |
                 (uint64_t)(s->truncated != 0) << 2);
    w_f(out, s->status_output_fps), w_f(out, s->status_input_fps);
    w_i(out, s->start_time_ms);
}

weir_err ws_signal_decode(const void *p, size_t n, ws_signal *s) {
    rd r;
    if (r_open(&r, p, n, "WSI2")) return WEIR_EPARSE;
    memset(s, 0, sizeof *s);
    RS(&r, s->source_event_uid);
    uint64_t t = r_u(&r);
    if (t > WS_SIG_AI_STREAM_EVENT) return WEIR_EPARSE;
    s->type = (ws_signal_type)t;
    s->signal_ts = r_i(&r), s->ingest_ts = r_i(&r);
    RS(&r, s->workflow_session_id), RS(&r, s->event_id), RS(&r, s->stream_id);
    RS(&r, s->request_id), RS(&r, s->gateway);
    RS(&r, s->orchestrator_address), RS(&r, s->orchestrator_url), RS(&r, s->pipeline);
    RS(&r, s->pipeline_hint), RS(&r, s->model_hint), RS(&r, s->trace_type);
    RS(&r, s->ai_event_type), RS(&r, s->message), RS(&r, s->status_state);
    RS(&r, s->status_last_error);
    uint64_t fl = r_u(&r);
    s->status_last_error_null = fl & 1, s->has_start_time = (fl >> 1) & 1;
    s->truncated = (fl >> 2) & 1;
    s->status_output_fps = r_f(&r), s->status_input_fps = r_f(&r);
    s->start_time_ms = r_i(&r);
    return r_done(&r) ? WEIR_EPARSE : WEIR_OK;
}

int ws_signal_peek_uid(const void *p, size_t n, wj_str *uid) {
    rd r;
    if (r_open(&r, p, n, "WSI2")) return -1;
    uint64_t len = r_u(&r);
    if (r.bad || len > (uint64_t)(r.e - r.p)) return -1;
    uid->s = (const char *)r.p;
    uid->n = (size_t)len;
    return 0;
}

void ws_snapshot_encode(weir_buf *out, const ws_snapshot *s) {
    weir_buf_append(out, "WSC2", 4);
    w_i(out, s->snapshot_ts);
    WS(out, s->source_event_id), WS(out, s->canonical_address), WS(out, s->local_address);
    WS(out, s->orchestrator_url), WS(out, s->pipeline), WS(out, s->model_id), WS(out, s->gpu_id);
    w_u(out, (uint64_t)(s->gpu_null != 0) | (uint64_t)(s->model_null != 0) << 1);
}

weir_err ws_snapshot_decode(const void *p, size_t n, ws_snapshot *s) {
    rd r;
    if (r_open(&r, p, n, "WSC2")) return WEIR_EPARSE;
    memset(s, 0, sizeof *s);
    s->snapshot_ts = r_i(&r);
    RS(&r, s->source_event_id), RS(&r, s->canonical_address), RS(&r, s->local_address);
    RS(&r, s->orchestrator_url), RS(&r, s->pipeline), RS(&r, s->model_id), RS(&r, s->gpu_id);
    uint64_t fl = r_u(&r);
    s->gpu_null = fl & 1, s->model_null = (fl >> 1) & 1;
    return r_done(&r) ? WEIR_EPARSE : WEIR_OK;
}
