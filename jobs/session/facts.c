/*
 * jobs/session/facts.c - the seven lifecycle fact tables of spec session-job.md §9 as
 * JSONEachRow objects (column order of §9; no trailing newline).
 *
 * Data: writers append to a caller-owned weir_buf (amortised growth, no other allocation).
 * Conventions of §9: timestamps `yyyy-MM-dd HH:mm:ss.SSS` UTC; nullable columns JSON null;
 * non-nullable strings "" for null; booleans 0/1; Float32 as Java Float.toString; Float64 as
 * Java Double.toString. Versioning: each row carries the accumulator's `version` (sessions:
 * == event_count; segments: continues across segments; params: counts every signal), so a
 * ReplacingMergeTree(version) keeps the latest row per key (§2.6, §9).
 */
#include <string.h>

#include "jobs/session/session.h"

/* The column helpers take the key pre-quoted as a literal (`,"name":`, see KQ) so that a
 * column costs one fixed-length copy instead of strlen + three appends. */
#define KQ(k) ",\"" k "\":", sizeof(",\"" k "\":") - 1

static void key_q(weir_buf *o, const char *kq, size_t kqn, int first) {
    if (first) /* skip the comma */
        weir_buf_append(o, kq + 1, kqn - 1);
    else
        weir_buf_append(o, kq, kqn);
}
static void str_q(weir_buf *o, const char *kq, size_t kqn, const char *v) {
    key_q(o, kq, kqn, 0);
    if (!v) v = "";
    weir_json_write_string(o, v, strlen(v));
}
static void null_q(weir_buf *o, const char *kq, size_t kqn) {
    key_q(o, kq, kqn, 0);
    weir_buf_append(o, "null", 4);
}
static void nstr_q(weir_buf *o, const char *kq, size_t kqn, const char *v, int is_null) {
    if (is_null || !v)
        null_q(o, kq, kqn);
    else
        str_q(o, kq, kqn, v);
}
static void ts_q(weir_buf *o, const char *kq, size_t kqn, int64_t v) {
    key_q(o, kq, kqn, 0);
    weir_buf_putc(o, '"');
    wj_format_ts(o, v);
    weir_buf_putc(o, '"');
}
static void nts_q(weir_buf *o, const char *kq, size_t kqn, int64_t v, int is_null) {
    if (is_null)
        null_q(o, kq, kqn);
    else
        ts_q(o, kq, kqn, v);
}
static void num_q(weir_buf *o, const char *kq, size_t kqn, int64_t v) {
    key_q(o, kq, kqn, 0);
    weir_buf_put_i64(o, v);
}
static void f32_q(weir_buf *o, const char *kq, size_t kqn, float v) {
    key_q(o, kq, kqn, 0);
    weir_json_write_float_java(o, v);
}
static void ndbl_q(weir_buf *o, const char *kq, size_t kqn, int has, double v) {
    key_q(o, kq, kqn, 0);
    if (has)
        weir_json_write_double_java(o, v);
    else
        weir_buf_append(o, "null", 4);
}
static void first_str_q(weir_buf *o, const char *kq, size_t kqn, const char *v) {
    weir_buf_putc(o, '{');
    key_q(o, kq, kqn, 1);
    weir_json_write_string(o, v, strlen(v));
}
/* k must be a string literal */
#define key(o, k, first) key_q(o, KQ(k), first)
#define str(o, k, v) str_q(o, KQ(k), v)
#define nstr(o, k, v, n) nstr_q(o, KQ(k), v, n)
#define ts(o, k, v) ts_q(o, KQ(k), v)
#define nts(o, k, v, n) nts_q(o, KQ(k), v, n)
#define num(o, k, v) num_q(o, KQ(k), v)
#define f32(o, k, v) f32_q(o, KQ(k), v)
#define ndbl(o, k, h, v) ndbl_q(o, KQ(k), h, v)
#define first_str(o, k, v) first_str_q(o, KQ(k), v)

void ws_fact_session(weir_buf *o, const ws_session *s) {
    ws_session_derived d;
    ws_session_derive(s, &d);
    first_str(o, "workflow_session_id", s->workflow_session_id);
    str(o, "workflow_type", "ai_live_video_stream");
    str(o, "workflow_id", s->workflow_id);
    str(o, "stream_id", s->stream_id);
    str(o, "request_id", s->request_id);
    str(o, "session_id", "");
    str(o, "pipeline", s->pipeline);
    str(o, "gateway", s->gateway);
    str(o, "orchestrator_address", s->orchestrator_address);
    str(o, "orchestrator_url", s->orchestrator_url);
    nstr(o, "model_id", s->model_id, s->model_null);
    nstr(o, "gpu_id", s->gpu_id, s->gpu_null);
    nstr(o, "region", NULL, 1);
    num(o, "has_model_change", d.has_model_change);
    num(o, "has_pipeline_change", d.has_pipeline_change);
    str(o, "gpu_attribution_method", s->attribution_method);
    f32(o, "gpu_attribution_confidence", s->attribution_confidence);
    ts(o, "session_start_ts", s->session_start_ts == INT64_MAX ? 0 : s->session_start_ts);
    nts(o, "session_end_ts", s->session_end_ts, s->session_end_ts == INT64_MIN);
    num(o, "known_stream", s->known_stream);
    num(o, "startup_success", d.startup_success);
    num(o, "startup_excused", d.startup_excused);
    num(o, "startup_unexcused", d.startup_unexcused);
    num(o, "confirmed_swap_count", d.confirmed_swap_count);
    num(o, "inferred_orchestrator_change_count", d.inferred_orchestrator_change_count);
    num(o, "swap_count", d.swap_count);
    num(o, "error_count", s->error_count);
    num(o, "excusable_error_count", s->excusable_error_count);
    num(o, "last_error_occurred", s->last_error_occurred);
    num(o, "loading_only_session", d.loading_only_session);
    num(o, "zero_output_fps_session", d.zero_output_fps_session);
    num(o, "status_sample_count", s->status_sample_count);
    num(o, "status_error_sample_count", s->status_error_sample_count);
    num(o, "health_signal_count", d.health_signal_count);
    num(o, "health_expected_signal_count", d.health_expected_signal_count);
    f32(o, "health_completeness_ratio", d.health_completeness_ratio);
    nts(o, "first_stream_request_ts", s->first_stream_request_ts,
        s->first_stream_request_ts == WS_TS_NULL);
    nts(o, "first_processed_ts", s->first_processed_ts, s->first_processed_ts == WS_TS_NULL);
    nts(o, "first_playable_ts", s->first_playable_ts, s->first_playable_ts == WS_TS_NULL);
    num(o, "event_count", s->event_count);
    num(o, "version", s->version);
    str(o, "source_first_event_uid", s->source_first_event_uid);
    str(o, "source_last_event_uid", s->source_last_event_uid);
    weir_buf_putc(o, '}');
}

int ws_latency_delta(int64_t a, int64_t b, double *ms) {
    if (a == WS_TS_NULL || b == WS_TS_NULL || b - a < 0) return 0;
    *ms = (double)(b - a);
    return 1;
}

void ws_fact_latency(weir_buf *o, const ws_session *s) {
    double p = 0, st = 0, e = 0;
    int hp = ws_latency_delta(s->first_stream_request_ts, s->first_processed_ts, &p);
    int hs = ws_latency_delta(s->first_processed_ts, s->first_playable_ts, &st);
    int he = ws_latency_delta(s->first_stream_request_ts, s->first_playable_ts, &e);
    weir_buf_putc(o, '{');
    key(o, "sample_ts", 1);
    weir_buf_putc(o, '"');
    wj_format_ts(o, s->session_start_ts == INT64_MAX ? 0 : s->session_start_ts);
    weir_buf_putc(o, '"');
    str(o, "workflow_session_id", s->workflow_session_id);
    str(o, "stream_id", s->stream_id);
    str(o, "request_id", s->request_id);
    str(o, "gateway", s->gateway);
    str(o, "orchestrator_address", s->orchestrator_address);
    str(o, "pipeline", s->pipeline);
    nstr(o, "model_id", s->model_id, s->model_null);
    nstr(o, "gpu_id", s->gpu_id, s->gpu_null);
    nstr(o, "region", NULL, 1);
    ndbl(o, "prompt_to_first_frame_ms", hp, p);
    ndbl(o, "startup_time_ms", hs, st);
    ndbl(o, "e2e_latency_ms", he, e);
    num(o, "has_prompt_to_first_frame", hp);
    num(o, "has_startup_time", hs);
    num(o, "has_e2e_latency", he);
    str(o, "edge_semantics_version", "v1");
    num(o, "version", s->version);
    weir_buf_putc(o, '}');
}

void ws_fact_segment(weir_buf *o, const ws_segment *g) {
    first_str(o, "workflow_session_id", g->workflow_session_id);
    num(o, "segment_index", g->segment_index);
    ts(o, "segment_start_ts", g->segment_start_ts);
    nts(o, "segment_end_ts", g->segment_end_ts, g->segment_end_ts == WS_TS_NULL);
    str(o, "gateway", g->gateway);
    str(o, "pipeline", g->pipeline);
    str(o, "orchestrator_address", g->orchestrator_address);
    str(o, "orchestrator_url", g->orchestrator_url);
    str(o, "worker_id", "");
    nstr(o, "gpu_id", g->gpu_id, g->gpu_null);
    nstr(o, "model_id", g->model_id, g->model_null);
    nstr(o, "region", g->region, g->region_null);
    str(o, "gpu_attribution_method", g->attribution_method);
    f32(o, "gpu_attribution_confidence", g->attribution_confidence);
    str(o, "reason", g->reason);
    str(o, "source_trace_type", g->source_trace_type);
    str(o, "source_event_uid", g->source_event_uid);
    num(o, "version", g->version);
    weir_buf_putc(o, '}');
}

void ws_fact_param_update(weir_buf *o, const ws_param_row *r) {
    const ws_params *p = &r->st;
    weir_buf_putc(o, '{');
    key(o, "update_ts", 1);
    weir_buf_putc(o, '"');
    wj_format_ts(o, r->update_ts);
    weir_buf_putc(o, '"');
    str(o, "workflow_session_id", p->workflow_session_id);
    str(o, "stream_id", p->stream_id);
    str(o, "request_id", p->request_id);
    str(o, "pipeline", p->pipeline);
    str(o, "gateway", p->gateway);
    str(o, "orchestrator_address", p->orchestrator_address);
    str(o, "orchestrator_url", p->orchestrator_url);
    nstr(o, "model_id", p->model_id, p->model_null);
    nstr(o, "gpu_id", p->gpu_id, p->gpu_null);
    str(o, "gpu_attribution_method", p->attribution_method);
    f32(o, "gpu_attribution_confidence", p->attribution_confidence);
    str(o, "update_type", "params_update");
    str(o, "message", r->message);
    str(o, "source_event_uid", r->source_event_uid);
    num(o, "version", p->version);
    weir_buf_putc(o, '}');
}

const char *ws_unmatched_reason(const ws_session *s, const ws_signal *sig) {
    int terminal = sig->type == WS_SIG_STREAM_TRACE &&
                   strcmp(sig->trace_type, "gateway_ingest_stream_closed") == 0;
    int processed = s->first_processed_ts != WS_TS_NULL,
        playable = s->first_playable_ts != WS_TS_NULL;
    if (!s->known_stream) return "missing_stream_request_edge";
    if (terminal && !processed) return "missing_first_processed_segment_edge";
    if (terminal && !playable) return "missing_playable_edge";
    if (!processed) return "awaiting_first_processed_segment_edge";
    if (!playable) return "awaiting_playable_edge";
    return "";
}

void ws_fact_coverage(weir_buf *o, const ws_session *s, const ws_signal *sig) {
    int terminal = sig->type == WS_SIG_STREAM_TRACE &&
                   strcmp(sig->trace_type, "gateway_ingest_stream_closed") == 0;
    int processed = s->first_processed_ts != WS_TS_NULL,
        playable = s->first_playable_ts != WS_TS_NULL;
    weir_buf_putc(o, '{');
    key(o, "signal_ts", 1);
    weir_buf_putc(o, '"');
    wj_format_ts(o, sig->signal_ts);
    weir_buf_putc(o, '"');
    str(o, "workflow_session_id", s->workflow_session_id);
    str(o, "stream_id", s->stream_id);
    str(o, "request_id", s->request_id);
    str(o, "pipeline", s->pipeline);
    str(o, "gateway", s->gateway);
    str(o, "orchestrator_address", s->orchestrator_address);
    str(o, "trace_type", sig->trace_type);
    str(o, "source_event_uid", sig->source_event_uid);
    num(o, "known_stream", s->known_stream);
    num(o, "has_first_processed_edge", processed);
    num(o, "has_first_playable_edge", playable);
    num(o, "startup_edge_matched", s->known_stream && processed);
    num(o, "playable_edge_matched", s->known_stream && playable);
    num(o, "is_terminal_signal", terminal);
    str(o, "unmatched_reason", ws_unmatched_reason(s, sig));
    num(o, "version", s->version);
    weir_buf_putc(o, '}');
}

const char *ws_trace_category(const char *t) {
    if (!t) return "other";
    if (!strncmp(t, "gateway_", 8)) return "gateway";
    if (!strncmp(t, "orchestrator_", 13)) return "orchestrator";
    if (!strncmp(t, "runner_", 7)) return "runner";
    if (!strncmp(t, "app_", 4)) return "app";
    return "other";
}

void ws_fact_join(weir_buf *o, ws_join_kind kind, const ws_join_row *r) {
    const ws_signal *e = &r->ev;
    const ws_segment *g = &r->seg;
    int a = r->attributed;
    weir_buf_putc(o, '{');
    if (kind == WS_JOIN_STATUS)
        key(o, "sample_ts", 1);
    else
        key(o, "edge_ts", 1);
    weir_buf_putc(o, '"');
    wj_format_ts(o, e->signal_ts);
    weir_buf_putc(o, '"');
    str(o, "workflow_session_id", r->workflow_session_id);
    str(o, "stream_id", e->stream_id);
    str(o, "request_id", e->request_id);
    str(o, "gateway", e->gateway);
    str(o, "orchestrator_address", a ? g->orchestrator_address : "");
    str(o, "orchestrator_url",
        a ? ws_fnb(2, g->orchestrator_url, e->orchestrator_url) : e->orchestrator_url);
    str(o, "pipeline",
        a ? ws_canonical_pipeline(g->pipeline, g->model_null ? "" : g->model_id) : "");
    nstr(o, "model_id", g->model_id, !a || ws_blank(g->model_id));
    if (kind == WS_JOIN_STATUS) {
        nstr(o, "gpu_id", g->gpu_id, !a || ws_blank(g->gpu_id));
        nstr(o, "region", g->region, !a || ws_blank(g->region));
        str(o, "state", e->status_state);
        f32(o, "output_fps", e->status_output_fps);
        f32(o, "input_fps", e->status_input_fps);
        num(o, "is_attributed", a);
        str(o, "gpu_attribution_method", a ? "segment_window_join" : "none");
        f32(o, "gpu_attribution_confidence", a ? 1.0f : 0.0f);
    } else {
        str(o, "trace_type", e->trace_type);
        str(o, "trace_category", ws_trace_category(e->trace_type));
        num(o, "is_swap_event", strcmp(e->trace_type, "orchestrator_swap") == 0);
        num(o, "is_attributed", a);
    }
    str(o, "source_event_uid", e->source_event_uid);
    weir_buf_putc(o, '}');
}
