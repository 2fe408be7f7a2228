/*
 * jobs/session/window_join.c - status and trace attribution against segment rows (spec
 * session-job.md §6), as per-key pure state driven by the caller's clock.
 *
 * Data: ws_join holds, for one workflow_session_id, a growable array of the latest segment row
 * per segment_index (replaced when incoming.version ≥ stored.version; never removed, as the
 * spec says) and a growable array of pending events with their processing-time deadline
 * (pending key: status `uid|ts|stream|request`, trace `uid|ts|trace_type`; a re-sent identical
 * key replaces the pending item). Invariant: every event passed to ws_join_on_event() is
 * emitted exactly once (immediately, on a covering segment, or by the timer).
 */
#include <stdlib.h>
#include <string.h>

#include "jobs/session/session.h"

typedef struct pending {
    ws_signal ev;
    int64_t deadline;
} pending;

struct ws_join {
    ws_join_kind kind;
    char key[WS_WSID_CAP];
    int64_t wait_ms;
    ws_segment *segs;
    size_t nsegs, capsegs;
    pending *pend;
    size_t npend, cappend;
    ws_join_row *row; /* emission scratch, allocated on the first emitted row */
};

ws_join *ws_join_new(ws_join_kind kind, const char *wsid, int64_t wait_ms) {
    ws_join *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    ws_copy(j->key, sizeof j->key, wsid);
    j->wait_ms = wait_ms;
    return j;
}

void ws_join_free(ws_join *j) {
    if (!j) return;
    free(j->segs);
    free(j->pend);
    free(j->row);
    free(j);
}

/* find_segment(ts) of §6. */
static const ws_segment *find_segment(const ws_join *j, int64_t ts) {
    const ws_segment *best = NULL;
    for (size_t i = 0; i < j->nsegs; i++) {
        const ws_segment *s = &j->segs[i];
        if (s->segment_start_ts > ts) continue;
        if (s->segment_end_ts != WS_TS_NULL && !(ts < s->segment_end_ts)) continue;
        if (!best || s->segment_start_ts > best->segment_start_ts ||
            (s->segment_start_ts == best->segment_start_ts &&
             (s->version > best->version ||
              (s->version == best->version && s->segment_index > best->segment_index))))
            best = s;
    }
    return best;
}

static int emit(ws_join *j, const ws_signal *ev, const ws_segment *seg, int flag,
                ws_join_emit_fn fn, void *ud) {
    if (!j->row && !(j->row = malloc(sizeof *j->row))) return -1; /* large: not on the stack */
    ws_join_row *r = j->row;
    r->ev = *ev;
    r->attributed = seg && flag && !ws_blank(seg->orchestrator_address);
    if (r->attributed)
        r->seg = *seg;
    else
        ws_segment_init(&r->seg);
    ws_copy(r->workflow_session_id, sizeof r->workflow_session_id, j->key);
    return fn ? fn(ud, r) : 0;
}

static int same_pending(const ws_join *j, const ws_signal *a, const ws_signal *b) {
    if (a->signal_ts != b->signal_ts || strcmp(a->source_event_uid, b->source_event_uid)) return 0;
    if (j->kind == WS_JOIN_STATUS)
        return !strcmp(a->stream_id, b->stream_id) && !strcmp(a->request_id, b->request_id);
    return !strcmp(a->trace_type, b->trace_type);
}

weir_err ws_join_on_event(ws_join *j, const ws_signal *ev, int64_t now_ms, ws_join_emit_fn fn,
                          void *ud) {
    const ws_segment *seg = find_segment(j, ev->signal_ts);
    if (seg) return emit(j, ev, seg, 1, fn, ud) < 0 ? WEIR_ENOMEM : WEIR_OK;
    for (size_t i = 0; i < j->npend; i++)
        if (same_pending(j, &j->pend[i].ev, ev)) {
            j->pend[i].ev = *ev;
            j->pend[i].deadline = now_ms + j->wait_ms;
            return WEIR_OK;
        }
    if (j->npend == j->cappend) {
        size_t nc = j->cappend ? j->cappend * 2 : 4;
        pending *np = realloc(j->pend, nc * sizeof *np);
        if (!np) return WEIR_ENOMEM;
        j->pend = np;
        j->cappend = nc;
    }
    j->pend[j->npend].ev = *ev;
    j->pend[j->npend].deadline = now_ms + j->wait_ms;
    j->npend++;
    return WEIR_OK;
}

weir_err ws_join_on_segment(ws_join *j, const ws_segment *seg, ws_join_emit_fn fn, void *ud) {
    size_t i;
    for (i = 0; i < j->nsegs; i++)
        if (j->segs[i].segment_index == seg->segment_index) break;
    if (i == j->nsegs) {
        if (j->nsegs == j->capsegs) {
            size_t nc = j->capsegs ? j->capsegs * 2 : 2;
            ws_segment *ns = realloc(j->segs, nc * sizeof *ns);
            if (!ns) return WEIR_ENOMEM;
            j->segs = ns;
            j->capsegs = nc;
        }
        j->segs[j->nsegs++] = *seg;
    } else if (seg->version >= j->segs[i].version) {
        j->segs[i] = *seg;
    }
    size_t w = 0;
    for (size_t k = 0; k < j->npend; k++) {
        const ws_segment *s = find_segment(j, j->pend[k].ev.signal_ts);
        if (s) {
            emit(j, &j->pend[k].ev, s, 1, fn, ud);
        } else {
            j->pend[w++] = j->pend[k];
        }
    }
    j->npend = w;
    return WEIR_OK;
}

void ws_join_on_timer(ws_join *j, int64_t now_ms, ws_join_emit_fn fn, void *ud) {
    size_t w = 0;
    for (size_t k = 0; k < j->npend; k++) {
        if (j->pend[k].deadline <= now_ms) {
            const ws_segment *s = find_segment(j, j->pend[k].ev.signal_ts);
            emit(j, &j->pend[k].ev, s, s != NULL, fn, ud);
        } else {
            j->pend[w++] = j->pend[k];
        }
    }
    j->npend = w;
}

int64_t ws_join_next_deadline(const ws_join *j) {
    int64_t d = INT64_MAX;
    for (size_t k = 0; k < j->npend; k++)
        if (j->pend[k].deadline < d) d = j->pend[k].deadline;
    return d;
}

size_t ws_join_pending(const ws_join *j) {
    return j->npend;
}

size_t ws_join_segments(const ws_join *j) {
    return j->nsegs;
}

void ws_join_reset(ws_join *j, const char *workflow_session_id) {
    ws_copy(j->key, sizeof j->key, workflow_session_id);
    j->nsegs = 0;
    j->npend = 0;
}

/* Encoding: "WSJ2", u32 nsegs, u32 npend (little-endian host order: same-build state), then per
 * segment u32 length + ws_segment_encode() bytes (omitted when segments are not included), per
 * pending item i64 deadline + u32 length + ws_signal_encode() bytes. */
static void put_u32(weir_buf *b, uint32_t v) {
    weir_buf_append(b, &v, 4);
}

/* Patches the u32 length placeholder at @p at with the bytes appended after it. */
static void patch_len(weir_buf *out, size_t at) {
    if (out->oom) return;
    uint32_t n = (uint32_t)(out->len - at - 4);
    memcpy(out->data + at, &n, 4);
}

void ws_join_encode(weir_buf *out, const ws_join *j, int with_segments) {
    weir_buf_append(out, "WSJ2", 4);
    put_u32(out, with_segments ? (uint32_t)j->nsegs : 0);
    put_u32(out, (uint32_t)j->npend);
    for (size_t i = 0; with_segments && i < j->nsegs; i++) {
        size_t at = out->len;
        put_u32(out, 0);
        ws_segment_encode(out, &j->segs[i]);
        patch_len(out, at);
    }
    for (size_t i = 0; i < j->npend; i++) {
        weir_buf_append(out, &j->pend[i].deadline, 8);
        size_t at = out->len;
        put_u32(out, 0);
        ws_signal_encode(out, &j->pend[i].ev);
        patch_len(out, at);
    }
}

static int get(const unsigned char **p, const unsigned char *e, void *dst, size_t n) {
    if ((size_t)(e - *p) < n) return -1;
    memcpy(dst, *p, n);
    *p += n;
    return 0;
}

weir_err ws_join_decode(ws_join *j, const void *data, size_t len, size_t *used) {
    const unsigned char *p = data, *e = p + len;
    uint32_t ns, np;
    if (len < 12 || memcmp(p, "WSJ2", 4) != 0) return WEIR_EPARSE;
    p += 4;
    if (get(&p, e, &ns, 4) || get(&p, e, &np, 4)) return WEIR_EPARSE;
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t n;
        ws_segment seg;
        if (get(&p, e, &n, 4) || (size_t)(e - p) < n || ws_segment_decode(p, n, &seg))
            return WEIR_EPARSE;
        p += n;
        if (ws_join_on_segment(j, &seg, NULL, NULL)) return WEIR_ENOMEM;
    }
    for (uint32_t i = 0; i < np; i++) {
        int64_t deadline;
        uint32_t n;
        if (get(&p, e, &deadline, 8) || get(&p, e, &n, 4) || (size_t)(e - p) < n)
            return WEIR_EPARSE;
        if (j->npend == j->cappend) {
            size_t nc = j->cappend ? j->cappend * 2 : 4;
            pending *pp = realloc(j->pend, nc * sizeof *pp);
            if (!pp) return WEIR_ENOMEM;
            j->pend = pp;
            j->cappend = nc;
        }
        if (ws_signal_decode(p, n, &j->pend[j->npend].ev)) return WEIR_EPARSE;
        j->pend[j->npend++].deadline = deadline;
        p += n;
    }
    if (used) *used = (size_t)(p - (const unsigned char *)data);
    return WEIR_OK;
}

weir_err ws_join_copy_segments(ws_join *dst, const ws_join *src) {
    for (size_t i = 0; i < src->nsegs; i++)
        if (ws_join_on_segment(dst, &src->segs[i], NULL, NULL)) return WEIR_ENOMEM;
    return WEIR_OK;
}
