/*
 * jobs/session/signals.c - lifecycle signal extraction (spec session-job.md §1.2-§1.3), the
 * capability rows of §5.1 and the small string helpers of the spec's notation section.
 *
 * Data: a ws_signal owns fixed-size copies of every field (see session.h); extraction reads the
 * parsed envelope once and copies, so the signal outlives the document. Invariants: after
 * ws_signal_from_event() workflow_session_id and source_event_uid are never blank, and
 * orchestrator_address is already norm_addr()-ed. Number-to-text conversions use a stack
 * scratch buffer (heap only if a converted number text exceeds it; never for string fields).
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "jobs/common/codec.h"
#include "jobs/session/session.h"

/* ------------------------------------------------------------------------------- helpers */

int ws_blank(const char *s) {
    if (!s) return 1;
    for (; *s; s++)
        if ((unsigned char)*s > ' ') return 0;
    return 1;
}

const char *ws_fnb(int n, ...) {
    va_list ap;
    va_start(ap, n);
    const char *r = "";
    for (int i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        if (!ws_blank(s)) {
            r = s;
            break;
        }
    }
    va_end(ap);
    return r;
}

int ws_copy(char *dst, size_t cap, const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    int tr = 0;
    if (n >= cap) {
        n = cap - 1;
        tr = 1;
    }
    if (dst != s) memmove(dst, s, n);
    dst[n] = 0;
    return tr;
}

int ws_copy_str(char *dst, size_t cap, wj_str s) {
    size_t n = s.s ? s.n : 0;
    int tr = 0;
    if (n >= cap) {
        n = cap - 1;
        tr = 1;
    }
    if (n) memcpy(dst, s.s, n);
    dst[n] = 0;
    return tr;
}

int ws_norm_addr(char *out, size_t cap, const char *in) {
    if (!in) in = "";
    const char *a = in, *b = in + strlen(in);
    while (a < b && (unsigned char)*a <= ' ')
        a++;
    while (b > a && (unsigned char)b[-1] <= ' ')
        b--;
    size_t n = (size_t)(b - a);
    int tr = 0;
    if (n >= cap) {
        n = cap - 1;
        tr = 1;
    }
    for (size_t i = 0; i < n; i++) { /* index-by-index, so out may alias a */
        char c = a[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = 0;
    return tr;
}

int ws_eq_trim_ci(const char *a, const char *b) {
    if (!a) a = "";
    if (!b) b = "";
    while (*a && (unsigned char)*a <= ' ')
        a++;
    while (*b && (unsigned char)*b <= ' ')
        b++;
    size_t na = strlen(a), nb = strlen(b);
    while (na && (unsigned char)a[na - 1] <= ' ')
        na--;
    while (nb && (unsigned char)b[nb - 1] <= ' ')
        nb--;
    return na == nb && strncasecmp(a, b, na) == 0;
}

int ws_workflow_session_id(char *out, const char *stream_id, const char *request_id,
                           const char *event_id) {
    weir_buf b = {0};
    char stack[WS_WSID_CAP];
    wj_workflow_session_id(&b, wj_cstr(stream_id ? stream_id : ""),
                           wj_cstr(request_id ? request_id : ""),
                           wj_cstr(event_id ? event_id : ""));
    int tr = 0;
    if (b.oom || !b.data) {
        ws_copy(out, WS_WSID_CAP, "_missing_stream|_missing_request|_missing_event");
    } else {
        size_t n = b.len;
        if (n >= sizeof stack) n = sizeof stack - 1, tr = 1;
        memcpy(out, b.data, n);
        out[n] = 0;
    }
    weir_buf_free(&b);
    return tr;
}

void ws_signal_init(ws_signal *s, ws_signal_type type) {
    memset(s, 0, sizeof *s);
    s->type = type;
    s->status_last_error_null = 1;
}

/* ---------------------------------------------------------------------------- extraction */

/* text(v, "") of the dedup spec §2.4 copied into dst. */
static int put_text(char *dst, size_t cap, weir_json v) {
    weir_buf scratch = {0};
    wj_str s = wj_text(v, wj_cstr(""), &scratch);
    int tr = ws_copy_str(dst, cap, s);
    weir_buf_free(&scratch);
    return tr;
}

/* §1.1 timestamp: number → truncated integer, digit string → integer, else @p dflt. */
static int64_t parse_ts(weir_json v, int64_t dflt) {
    int64_t t;
    return wj_ts(v, &t) ? t : dflt;
}

ws_sig_result ws_signal_from_event(ws_signal *out, weir_json root, const char *raw, size_t raw_len,
                                   wj_str raw_event_uid, int64_t now_ms) {
    char type[64];
    put_text(type, sizeof type, weir_json_get(root, "type"));
    ws_signal_type st;
    if (strcmp(type, "ai_stream_status") == 0)
        st = WS_SIG_STREAM_STATUS;
    else if (strcmp(type, "stream_trace") == 0)
        st = WS_SIG_STREAM_TRACE;
    else if (strcmp(type, "ai_stream_events") == 0)
        st = WS_SIG_AI_STREAM_EVENT;
    else
        return WS_SIG_NOT_A_SIGNAL;
    ws_signal_init(out, st);
    int tr = 0;
    weir_json data = weir_json_get(root, "data");
    int64_t event_ts = parse_ts(weir_json_get(root, "timestamp"), now_ms);
    out->ingest_ts = event_ts;
    out->signal_ts = event_ts;
    tr |= put_text(out->event_id, sizeof out->event_id, weir_json_get(root, "id"));
    tr |= put_text(out->gateway, sizeof out->gateway, weir_json_get(root, "gateway"));
    tr |= put_text(out->stream_id, sizeof out->stream_id, weir_json_get(data, "stream_id"));
    tr |= put_text(out->request_id, sizeof out->request_id, weir_json_get(data, "request_id"));
    if (st != WS_SIG_AI_STREAM_EVENT) {
        weir_json oi = weir_json_get(data, "orchestrator_info");
        char tmp[WS_ADDR_CAP * 2];
        tr |= put_text(tmp, sizeof tmp, weir_json_get(oi, "address"));
        tr |= ws_norm_addr(out->orchestrator_address, sizeof out->orchestrator_address, tmp);
        tr |=
            put_text(out->orchestrator_url, sizeof out->orchestrator_url, weir_json_get(oi, "url"));
    }
    if (st != WS_SIG_STREAM_TRACE) {
        tr |= put_text(out->pipeline, sizeof out->pipeline, weir_json_get(data, "pipeline"));
        memcpy(out->pipeline_hint, out->pipeline, sizeof out->pipeline);
        memcpy(out->model_hint, out->pipeline, sizeof out->pipeline);
    }
    switch (st) {
    case WS_SIG_STREAM_STATUS: {
        tr |= put_text(out->status_state, sizeof out->status_state, weir_json_get(data, "state"));
        out->status_output_fps = (float)wj_ldouble(weir_json_path(data, "inference_status.fps"), 0);
        out->status_input_fps = (float)wj_ldouble(weir_json_path(data, "input_status.fps"), 0);
        weir_buf scratch = {0};
        wj_str le = wj_ntext(weir_json_path(data, "inference_status.last_error"), &scratch);
        out->status_last_error_null = le.s == NULL;
        tr |= ws_copy_str(out->status_last_error, sizeof out->status_last_error, le);
        weir_buf_free(&scratch);
        int64_t stt;
        if (wj_ts(weir_json_get(data, "start_time"), &stt)) {
            out->has_start_time = 1;
            out->start_time_ms = stt;
        }
        break;
    }
    case WS_SIG_STREAM_TRACE: {
        int64_t dts = parse_ts(weir_json_get(data, "timestamp"), event_ts);
        out->signal_ts = dts > 0 ? dts : event_ts;
        tr |= put_text(out->trace_type, sizeof out->trace_type, weir_json_get(data, "type"));
        break;
    }
    case WS_SIG_AI_STREAM_EVENT:
        tr |= put_text(out->ai_event_type, sizeof out->ai_event_type, weir_json_get(data, "type"));
        tr |= put_text(out->message, sizeof out->message, weir_json_get(data, "message"));
        break;
    }
    tr |= ws_workflow_session_id(out->workflow_session_id, out->stream_id, out->request_id,
                                 out->event_id);
    if (!wj_is_blank(raw_event_uid))
        tr |= ws_copy_str(out->source_event_uid, sizeof out->source_event_uid, raw_event_uid);
    else if (!ws_blank(out->event_id))
        ws_copy(out->source_event_uid, sizeof out->source_event_uid, out->event_id);
    else {
        char hex[65];
        wj_sha256_hex(raw ? raw : "", raw ? raw_len : 0, hex);
        ws_copy(out->source_event_uid, sizeof out->source_event_uid, hex);
    }
    out->truncated = tr;
    return WS_SIG_OK;
}

/* ------------------------------------------------------------------- capability rows (§5.1) */

int ws_cap_rows_from_event(weir_json root, int64_t event_ts, ws_cap_row_fn fn, void *ud) {
    weir_json data = weir_json_get(root, "data");
    char event_id[WS_ID_CAP];
    put_text(event_id, sizeof event_id, weir_json_get(root, "id"));
    size_t norch = 1;
    int is_arr = weir_json_type_of(data) == WEIR_JSON_ARRAY;
    if (is_arr) norch = weir_json_size(data);
    int rows = 0;
    ws_snapshot r;
    for (size_t i = 0; i < norch; i++) {
        weir_json o = is_arr ? weir_json_at(data, i) : data;
        if (weir_json_type_of(o) != WEIR_JSON_OBJECT || weir_json_size(o) == 0) continue;
        weir_json hw = weir_json_get(o, "hardware");
        if (weir_json_type_of(hw) != WEIR_JSON_ARRAY || weir_json_size(hw) == 0) continue;
        memset(&r, 0, sizeof r);
        r.snapshot_ts = event_ts;
        ws_copy(r.source_event_id, sizeof r.source_event_id, event_id);
        char tmp[WS_URL_CAP];
        put_text(tmp, sizeof tmp, weir_json_get(o, "address"));
        ws_norm_addr(r.canonical_address, sizeof r.canonical_address, tmp);
        put_text(tmp, sizeof tmp, weir_json_get(o, "local_address"));
        ws_norm_addr(r.local_address, sizeof r.local_address, tmp);
        put_text(r.orchestrator_url, sizeof r.orchestrator_url, weir_json_get(o, "orch_uri"));
        for (size_t h = 0; h < weir_json_size(hw); h++) {
            weir_json e = weir_json_at(hw, h);
            if (weir_json_type_of(e) != WEIR_JSON_OBJECT) continue;
            put_text(r.pipeline, sizeof r.pipeline, weir_json_get(e, "pipeline"));
            put_text(r.model_id, sizeof r.model_id, weir_json_get(e, "model_id"));
            r.model_null = ws_blank(r.model_id);
            weir_json gi = weir_json_get(e, "gpu_info");
            if (weir_json_type_of(gi) == WEIR_JSON_OBJECT && weir_json_size(gi) > 0) {
                weir_json_iter it = weir_json_iter_begin(gi);
                const char *k;
                size_t kn;
                weir_json g;
                while (weir_json_next(&it, &k, &kn, &g)) {
                    put_text(r.gpu_id, sizeof r.gpu_id, weir_json_get(g, "id"));
                    r.gpu_null = r.gpu_id[0] == 0;
                    rows++;
                    if (fn && fn(ud, &r)) return rows;
                }
            } else {
                r.gpu_id[0] = 0;
                r.gpu_null = 1;
                rows++;
                if (fn && fn(ud, &r)) return rows;
            }
        }
    }
    return rows;
}
