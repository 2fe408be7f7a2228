/*
 * jobs/session/job.c - the lifecycle job's operators and DAG (see job.h for the picture).
 *
 * Operators (per-subtask scratch state in weir_ctx_local):
 *   event-time        chained to the gate: assigns each accepted event its signal time (§1.2:
 *                     stream_trace data.timestamp when > 0, else the envelope timestamp) as the
 *                     record timestamp and emits bounded-out-of-orderness watermarks per source
 *                     split (topic/partition of the record origin): watermark = min over active
 *                     splits of (max event time − out_of_orderness − 1); a split silent for
 *                     idle_timeout_ms (processing time) is ignored, and when all are silent the
 *                     largest candidate wins. Emitted every watermark_interval_ms or 4096 records.
 *   lifecycle-signals chained to dedup: parses the event, builds the §1.2 signal (record key =
 *                     workflow_session_id) or the §5.1 capability rows (side output
 *                     "capabilities", broadcast). Other event types are counted, not signals.
 *   lifecycle         keyed by workflow_session_id; input 0 = signals, input 1 = capability
 *                     rows. Event-time buffers (two binary heaps: capability rows by (ts, seq),
 *                     signals by (ts, source uid, seq)) are drained up to the watermark in
 *                     on_watermark() and, before a timer of time T is handled, up to T; so
 *                     signals, capability rows and timers are processed in one event-time
 *                     order. Per key one value-state blob holds the session, coverage, segment
 *                     and param accumulators, the §6 join state (segment rows once, pending
 *                     status and trace events) and the two registered timer times. Event-time
 *                     timers are the operator's own (timerq, fired in on_watermark()); the
 *                     blobs a watermark touches are read in one multi-get (prefetch) and
 *                     stored compressed with LZ4 (lz_compress).
 * Memory: heap entries own one malloc block (key | uid | encoded bytes); each registered timer
 * owns two copies of its key; the prefetch batch holds ≤ PF_MAX keys and blobs. The capability
 * cache is per subtask (broadcast state: every subtask receives every row, so all copies are
 * equal).
 */
#include "jobs/session/job.h"

#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "weir/log.h"

#define NO_TIMER INT64_MIN
#define RETENTION_GRANULARITY_MS 60000 /* retention timers are rounded up to the minute */
#define WM_EVERY_RECORDS 4096

static const char *const FACT_TABLES[WS_T__COUNT] = {
    "fact_workflow_sessions",         "fact_workflow_latency_samples",
    "fact_workflow_session_segments", "fact_workflow_param_updates",
    "fact_lifecycle_edge_coverage",   "fact_stream_status_samples",
    "fact_stream_trace_edges"};

const char *ws_fact_table_name(ws_fact_table t) {
    return (unsigned)t < WS_T__COUNT ? FACT_TABLES[t] : "";
}

/** Shared (read-only) operator data. */
typedef struct ws_shared {
    ws_config cfg;
} ws_shared;

void *ws_lifecycle_udata(const ws_config *cfg) {
    ws_shared *sh = calloc(1, sizeof *sh);
    if (sh) sh->cfg = *cfg;
    return sh;
}

/* ================================================================== event-time assigner */

typedef struct split {
    uint64_t id;
    int64_t max_ts, last_seen;
} split;

typedef struct et_local {
    split *sp;
    int n, cap;
    int64_t emitted, last_emit_ms;
    uint32_t since;
    weir_json_parser *json;
} et_local;

static weir_err et_open(weir_ctx *ctx) {
    et_local *L = calloc(1, sizeof *L);
    if (!L || !(L->json = weir_json_parser_new())) {
        free(L);
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    }
    L->emitted = INT64_MIN;
    L->last_emit_ms = weir_ctx_now_ms(ctx);
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static void et_close(weir_ctx *ctx) {
    et_local *L = weir_ctx_local(ctx);
    if (!L) return;
    weir_json_parser_free(L->json);
    free(L->sp);
    free(L);
}

/* The signal time of §1.2 for an accepted event (envelope ts for every non-trace event). */
static int64_t signal_time(et_local *L, const dd_event *ev) {
    int64_t ts = ev->timestamp;
    if (ev->event_type.n != 12 || memcmp(ev->event_type.s, "stream_trace", 12) != 0) return ts;
    weir_json root;
    if (weir_json_parse(L->json, ev->raw_json.s, ev->raw_json.n, &root, NULL)) return ts;
    int64_t dts;
    if (wj_ts(weir_json_path(root, "data.timestamp"), &dts) && dts > 0) return dts;
    return ts;
}

static weir_err et_maybe_watermark(weir_ctx *ctx, et_local *L, const ws_config *cfg, int64_t now) {
    int64_t wm = INT64_MAX, all = INT64_MIN;
    int active = 0;
    for (int i = 0; i < L->n; i++) {
        int64_t cand = L->sp[i].max_ts - cfg->out_of_orderness_ms - 1;
        if (cand > all) all = cand;
        if (cfg->idle_timeout_ms > 0 && now - L->sp[i].last_seen > cfg->idle_timeout_ms) continue;
        if (cand < wm) wm = cand;
        active = 1;
    }
    if (!active) wm = all; /* every split idle: the freshest one drives event time */
    L->since = 0;
    L->last_emit_ms = now;
    if (wm <= L->emitted || wm == INT64_MIN) return WEIR_OK;
    L->emitted = wm;
    return weir_emit_watermark(ctx, wm);
}

static weir_err et_process(weir_ctx *ctx, const weir_record *rec) {
    const ws_shared *sh = weir_ctx_udata(ctx);
    et_local *L = weir_ctx_local(ctx);
    dd_event ev;
    if (dd_event_decode(rec->value, rec->value_len, &ev))
        return weir_ctx_fail(ctx, WEIR_EINTERNAL, "corrupt event record in event-time");
    weir_record out = *rec;
    out.timestamp_ms = signal_time(L, &ev);
    uint64_t id = XXH3_64bits(rec->origin.topic ? rec->origin.topic : "", rec->origin.topic_len) ^
                  ((uint64_t)(uint32_t)rec->origin.partition * 0x9E3779B97F4A7C15ull);
    int64_t now = weir_ctx_now_ms(ctx);
    int i;
    for (i = 0; i < L->n && L->sp[i].id != id; i++)
        ;
    if (i == L->n) {
        if (L->n == L->cap) {
            int nc = L->cap ? L->cap * 2 : 8;
            split *ns = realloc(L->sp, (size_t)nc * sizeof *ns);
            if (!ns) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
            L->sp = ns;
            L->cap = nc;
        }
        L->sp[L->n++] = (split){id, INT64_MIN + sh->cfg.out_of_orderness_ms + 1, now};
    }
    if (out.timestamp_ms > L->sp[i].max_ts) L->sp[i].max_ts = out.timestamp_ms;
    L->sp[i].last_seen = now;
    weir_err rc = weir_emit(ctx, &out);
    if (rc) return rc;
    if (++L->since >= WM_EVERY_RECORDS || now - L->last_emit_ms >= sh->cfg.watermark_interval_ms)
        return et_maybe_watermark(ctx, L, &sh->cfg, now);
    return WEIR_OK;
}

/* Periodic emission (pipeline.auto-watermark-interval): idle splits stop holding event time
 * back even when no record arrives at all. */
static weir_err et_periodic(weir_ctx *ctx, int64_t now) {
    const ws_shared *sh = weir_ctx_udata(ctx);
    et_local *L = weir_ctx_local(ctx);
    if (!L || !L->n) return WEIR_OK;
    return et_maybe_watermark(ctx, L, &sh->cfg, now);
}

const weir_operator_def ws_event_time_def = {.kind = "event-time",
                                             .open = et_open,
                                             .process = et_process,
                                             .on_periodic_emit = et_periodic,
                                             .close = et_close};

/* ======================================================================= signal extraction */

typedef struct sig_local {
    weir_json_parser *json;
    weir_buf buf;
    ws_signal sig;
    weir_counter *signals, *caps, *other, *parse_fail;
    weir_ctx *ctx;
    weir_err rc;
} sig_local;

static weir_err sig_open(weir_ctx *ctx) {
    sig_local *L = calloc(1, sizeof *L);
    if (!L || !(L->json = weir_json_parser_new())) {
        free(L);
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    }
    weir_metrics *m = weir_ctx_metrics(ctx);
    L->signals = weir_metrics_counter(m, "lifecycle.signals");
    L->caps = weir_metrics_counter(m, "lifecycle.capability_rows");
    L->other = weir_metrics_counter(m, "lifecycle.not_signals");
    L->parse_fail = weir_metrics_counter(m, "lifecycle.parse_failures");
    L->ctx = ctx;
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static void sig_close(weir_ctx *ctx) {
    sig_local *L = weir_ctx_local(ctx);
    if (!L) return;
    weir_json_parser_free(L->json);
    weir_buf_free(&L->buf);
    free(L);
}

static int on_cap_row(void *ud, const ws_snapshot *row) {
    sig_local *L = ud;
    weir_buf_reset(&L->buf);
    ws_snapshot_encode(&L->buf, row);
    if (L->buf.oom) {
        L->rc = weir_ctx_fail(L->ctx, WEIR_ENOMEM, "out of memory");
        return 1;
    }
    weir_counter_add(L->caps, 1);
    weir_record r = {.value = (const uint8_t *)L->buf.data,
                     .value_len = (uint32_t)L->buf.len,
                     .timestamp_ms = row->snapshot_ts,
                     .key_group = -1};
    L->rc = weir_emit_side(L->ctx, WS_TAG_CAPABILITIES, &r);
    return L->rc != WEIR_OK;
}

static weir_err sig_process(weir_ctx *ctx, const weir_record *rec) {
    sig_local *L = weir_ctx_local(ctx);
    dd_event ev;
    if (dd_event_decode(rec->value, rec->value_len, &ev))
        return weir_ctx_fail(ctx, WEIR_EINTERNAL, "corrupt event record in lifecycle-signals");
    weir_json root;
    weir_error e = {0};
    if (weir_json_parse(L->json, ev.raw_json.s, ev.raw_json.n, &root, &e)) {
        /* cannot happen for an event the gate accepted; counted and logged, never silent */
        weir_counter_add(L->parse_fail, 1);
        weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx), "event '%.*s' not parsable: %s",
                 (int)ev.event_id.n, ev.event_id.s ? ev.event_id.s : "", e.msg);
        return WEIR_OK;
    }
    if (ws_signal_from_event(&L->sig, root, ev.raw_json.s, ev.raw_json.n, ev.dedup_key,
                             weir_ctx_now_ms(ctx)) == WS_SIG_OK) {
        weir_buf_reset(&L->buf);
        ws_signal_encode(&L->buf, &L->sig);
        if (L->buf.oom) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
        weir_counter_add(L->signals, 1);
        weir_record r = {.key = (const uint8_t *)L->sig.workflow_session_id,
                         .key_len = (uint32_t)strlen(L->sig.workflow_session_id),
                         .value = (const uint8_t *)L->buf.data,
                         .value_len = (uint32_t)L->buf.len,
                         .timestamp_ms = L->sig.signal_ts,
                         .key_group = -1,
                         .origin = rec->origin};
        return weir_emit(ctx, &r);
    }
    if (ev.event_type.n == 20 && memcmp(ev.event_type.s, "network_capabilities", 20) == 0) {
        L->rc = WEIR_OK;
        ws_cap_rows_from_event(root, ev.timestamp, on_cap_row, L);
        return L->rc;
    }
    weir_counter_add(L->other, 1); /* not a lifecycle input (§1.2): typed rows only */
    return WEIR_OK;
}

const weir_operator_def ws_signals_def = {
    .kind = "lifecycle-signals", .open = sig_open, .process = sig_process, .close = sig_close};

/* ============================================================================= lifecycle */

/* ---- event-time buffers: binary min-heaps ---- */

typedef struct pend {
    int64_t ts;
    uint64_t seq;
    int32_t kg;
    uint32_t key_len, uid_len, data_len;
    unsigned char *mem; /* key | uid | data */
} pend;

typedef struct heap {
    pend *a;
    size_t n, cap;
    int by_uid; /* signals: ties by source uid, then seq; capability rows: seq */
} heap;

static int pend_less(const heap *h, const pend *x, const pend *y) {
    if (x->ts != y->ts) return x->ts < y->ts;
    if (h->by_uid) {
        size_t n = x->uid_len < y->uid_len ? x->uid_len : y->uid_len;
        int c = memcmp(x->mem + x->key_len, y->mem + y->key_len, n);
        if (c) return c < 0;
        if (x->uid_len != y->uid_len) return x->uid_len < y->uid_len;
    }
    return x->seq < y->seq;
}

static int heap_push(heap *h, const pend *p) {
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 256;
        pend *na = realloc(h->a, nc * sizeof *na);
        if (!na) return -1;
        h->a = na;
        h->cap = nc;
    }
    size_t i = h->n++;
    h->a[i] = *p;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pend_less(h, &h->a[i], &h->a[parent])) break;
        pend t = h->a[i];
        h->a[i] = h->a[parent];
        h->a[parent] = t;
        i = parent;
    }
    return 0;
}

static pend heap_pop(heap *h) {
    pend top = h->a[0];
    h->a[0] = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && pend_less(h, &h->a[l], &h->a[m])) m = l;
        if (r < h->n && pend_less(h, &h->a[r], &h->a[m])) m = r;
        if (m == i) break;
        pend t = h->a[i];
        h->a[i] = h->a[m];
        h->a[m] = t;
        i = m;
    }
    return top;
}

static void heap_free(heap *h) {
    for (size_t i = 0; i < h->n; i++)
        free(h->a[i].mem);
    free(h->a);
    memset(h, 0, sizeof *h);
}

static int pend_make(pend *p, int64_t ts, uint64_t seq, int32_t kg, const void *key, size_t key_len,
                     const void *uid, size_t uid_len, const void *data, size_t data_len) {
    p->ts = ts;
    p->seq = seq;
    p->kg = kg;
    p->key_len = (uint32_t)key_len;
    p->uid_len = (uint32_t)uid_len;
    p->data_len = (uint32_t)data_len;
    p->mem = malloc(key_len + uid_len + data_len + 1);
    if (!p->mem) return -1;
    if (key_len) memcpy(p->mem, key, key_len);
    if (uid_len) memcpy(p->mem + key_len, uid, uid_len);
    if (data_len) memcpy(p->mem + key_len + uid_len, data, data_len);
    return 0;
}

/* ---- event-time timers held by the operator ----
 * The same algorithm as the runtime's timer service (runtime/timers.c), with the registered
 * set in memory instead of a RocksDB map: a min-heap of (time, key) entries plus the set of
 * registered (key, time) pairs. Registering a pair already in the set is a no-op; deleting
 * removes it from the set only (its heap entry is skipped when popped); a popped entry fires
 * only if its pair is still registered, and is removed from the set first. Why: the runtime's
 * set costs a RocksDB get + put per registration and a get + delete per firing (about a tenth of
 * the job's CPU). Checkpointed as operator state (snapshot_state) and redistributed by key group
 * on restore, like the buffered signals. Memory: two copies of the key per registered timer
 * (the runtime's heap also keeps one). */

typedef struct tq_entry {
    int64_t ts;
    int32_t kg;
    uint32_t key_len;
    unsigned char *key;
} tq_entry;

typedef struct tq_slot {
    uint64_t h;
    int64_t ts;
    int32_t kg;
    uint32_t key_len;
    unsigned char *key; /* NULL = empty slot */
} tq_slot;

typedef struct timerq {
    tq_entry *a; /* min-heap by ts */
    size_t n, cap;
    tq_slot *s; /* registered (key, ts): open addressing, linear probing, load <= 1/2 */
    size_t scap, sn;
} timerq;

static uint64_t tq_hash(const void *key, size_t len, int64_t ts) {
    return XXH3_64bits_withSeed(key, len, (uint64_t)ts);
}

static long tq_find(const timerq *q, const void *key, size_t len, int64_t ts, uint64_t h) {
    if (!q->scap) return -1;
    size_t m = q->scap - 1;
    for (size_t i = h & m;; i = (i + 1) & m) {
        const tq_slot *e = &q->s[i];
        if (!e->key) return -1;
        if (e->h == h && e->ts == ts && e->key_len == len && memcmp(e->key, key, len) == 0)
            return (long)i;
    }
}

static int tq_grow(timerq *q) {
    size_t nc = q->scap ? q->scap * 2 : 1024;
    tq_slot *ns = calloc(nc, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < q->scap; i++) {
        if (!q->s[i].key) continue;
        size_t j = q->s[i].h & (nc - 1);
        while (ns[j].key)
            j = (j + 1) & (nc - 1);
        ns[j] = q->s[i];
    }
    free(q->s);
    q->s = ns;
    q->scap = nc;
    return 0;
}

static int tq_push(timerq *q, int64_t ts, int32_t kg, const void *key, size_t len) {
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 1024;
        tq_entry *na = realloc(q->a, nc * sizeof *na);
        if (!na) return -1;
        q->a = na;
        q->cap = nc;
    }
    unsigned char *k = malloc(len + 1);
    if (!k) return -1;
    memcpy(k, key, len);
    size_t i = q->n++;
    q->a[i] = (tq_entry){.ts = ts, .kg = kg, .key_len = (uint32_t)len, .key = k};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (q->a[p].ts <= q->a[i].ts) break;
        tq_entry t = q->a[p];
        q->a[p] = q->a[i];
        q->a[i] = t;
        i = p;
    }
    return 0;
}

static tq_entry tq_pop(timerq *q) {
    tq_entry top = q->a[0];
    q->a[0] = q->a[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && q->a[l].ts < q->a[m].ts) m = l;
        if (r < q->n && q->a[r].ts < q->a[m].ts) m = r;
        if (m == i) break;
        tq_entry t = q->a[m];
        q->a[m] = q->a[i];
        q->a[i] = t;
        i = m;
    }
    return top;
}

/* Registers (key, ts): 0, or -1 on OOM. */
static int tq_register(timerq *q, const void *key, size_t len, int32_t kg, int64_t ts) {
    uint64_t h = tq_hash(key, len, ts);
    if (tq_find(q, key, len, ts, h) >= 0) return 0; /* already registered */
    if ((q->sn + 1) * 2 > q->scap && tq_grow(q)) return -1;
    unsigned char *k = malloc(len + 1);
    if (!k) return -1;
    memcpy(k, key, len);
    if (tq_push(q, ts, kg, key, len)) {
        free(k);
        return -1;
    }
    size_t m = q->scap - 1, i = h & m;
    while (q->s[i].key)
        i = (i + 1) & m;
    q->s[i] = (tq_slot){.h = h, .ts = ts, .kg = kg, .key_len = (uint32_t)len, .key = k};
    q->sn++;
    return 0;
}

/* Unregisters (key, ts); returns 1 if it was registered. Backward-shift deletion keeps every
 * probe chain intact without tombstones. */
static int tq_remove(timerq *q, const void *key, size_t len, int64_t ts) {
    long f = tq_find(q, key, len, ts, tq_hash(key, len, ts));
    if (f < 0) return 0;
    size_t m = q->scap - 1, i = (size_t)f, j = i;
    free(q->s[i].key);
    q->s[i].key = NULL;
    q->sn--;
    for (;;) {
        j = (j + 1) & m;
        if (!q->s[j].key) break;
        size_t home = q->s[j].h & m;
        if (((j - home) & m) >= ((j - i) & m)) { /* home not in (i, j]: move into the hole */
            q->s[i] = q->s[j];
            q->s[j].key = NULL;
            i = j;
        }
    }
    return 1;
}

static void tq_free(timerq *q) {
    for (size_t i = 0; i < q->n; i++)
        free(q->a[i].key);
    for (size_t i = 0; i < q->scap; i++)
        free(q->s[i].key);
    free(q->a);
    free(q->s);
    memset(q, 0, sizeof *q);
}

/* ---- batched blob reads ----
 * Before a watermark is processed, the blobs of the keys it will touch (buffered signals and
 * timers at or before it, at most PF_MAX keys) are read with one weir_value_multi_get() (one
 * RocksDB MultiGet for those not in the backend's write buffer) and copied here; lc_load()
 * takes them from here. Coherence: a key's entry is invalidated when this operator writes or
 * clears its blob (the only writer), later loads of it go to the backend. The table is emptied
 * when the watermark is done, so nothing here outlives one on_watermark() call. */
#define PF_MAX 8192

typedef struct pf_slot {
    uint64_t h;
    size_t koff, voff;
    uint32_t klen, vlen;
    uint8_t used, present, valid;
} pf_slot;

typedef struct prefetch {
    pf_slot *s; /* open addressing, linear probing, 2 * PF_MAX slots (power of two) */
    size_t cap, n;
    weir_buf arena;         /* keys, then values */
    weir_state_key *keys;   /* PF_MAX scratch */
    weir_state_slice *vals; /* PF_MAX scratch */
    uint32_t *slot_of;      /* PF_MAX scratch: table slot of keys[i] */
    size_t *aux;            /* PF_MAX + 2 scratch: index heap of pf_refill_timers() */
    int active, full;       /* full: more keys were due than PF_MAX */
} prefetch;

static long pf_find(const prefetch *f, const void *key, size_t len, uint64_t h, size_t *ins) {
    size_t m = f->cap - 1;
    for (size_t i = h & m;; i = (i + 1) & m) {
        const pf_slot *e = &f->s[i];
        if (!e->used) {
            if (ins) *ins = i;
            return -1;
        }
        if (e->h == h && e->klen == len && memcmp(f->arena.data + e->koff, key, len) == 0)
            return (long)i;
    }
}

/* Adds @p key to the batch (no-op when present or full). */
static void pf_add(prefetch *f, const void *key, size_t len, int32_t kg) {
    if (f->n >= PF_MAX) {
        f->full = 1;
        return;
    }
    uint64_t h = XXH3_64bits(key, len);
    size_t ins;
    if (pf_find(f, key, len, h, &ins) >= 0) return;
    size_t off = f->arena.len;
    weir_buf_append(&f->arena, key, len);
    if (f->arena.oom) return;
    f->s[ins] = (pf_slot){.h = h, .koff = off, .klen = (uint32_t)len, .used = 1};
    f->keys[f->n] = (weir_state_key){.key = NULL, .len = len, .key_group = kg};
    f->slot_of[f->n++] = (uint32_t)ins;
}

static void pf_reset(prefetch *f) {
    if (f->n || f->active) memset(f->s, 0, f->cap * sizeof *f->s);
    f->n = 0;
    f->active = f->full = 0;
    weir_buf_reset(&f->arena);
}

static void pf_free(prefetch *f) {
    free(f->s);
    free(f->keys);
    free(f->vals);
    free(f->slot_of);
    free(f->aux);
    weir_buf_free(&f->arena);
}

/* ---- blob compression ----
 * A blob repeats its strings (the workflow session id, stream/request ids, gateway and event
 * uids appear in several accumulators and segment rows) and holds runs of zero bytes: it
 * shrinks about 3.6x. Smaller blobs mean more of them per RocksDB block and in the block cache,
 * less write-buffer and compaction volume. Compressed with LZ4 (Debian's liblz4, already under
 * RocksDB; see docs/dependencies.md) at acceleration 1: the same input gives the same bytes. */
typedef struct lz_table {
    LZ4_stream_t st; /* LZ4's working state, reused for every blob (no allocation) */
} lz_table;

/* Appends the compressed form of @p in (@p n bytes, < 2 GiB) to @p out (out->oom on failure). */
static void lz_compress(lz_table *t, weir_buf *out, const unsigned char *in, size_t n) {
    int bound = LZ4_compressBound((int)n);
    if (bound <= 0 || weir_buf_reserve(out, (size_t)bound)) {
        out->oom = 1;
        return;
    }
    int w = LZ4_compress_fast_extState(&t->st, (const char *)in, out->data + out->len, (int)n,
                                       bound, 1);
    if (w <= 0) {
        out->oom = 1;
        return;
    }
    out->len += (size_t)w;
    out->data[out->len] = '\0';
}

/* Replaces @p out by the decompressed form of @p p (@p n bytes) that must be @p raw_len bytes.
 * 0, or -1 on malformed input (or OOM). */
static int lz_decompress(weir_buf *out, const unsigned char *p, size_t n, size_t raw_len) {
    weir_buf_reset(out);
    if (raw_len > INT32_MAX || n > INT32_MAX || weir_buf_reserve(out, raw_len)) return -1;
    int r = LZ4_decompress_safe((const char *)p, out->data, (int)n, (int)raw_len);
    if (r < 0 || (size_t)r != raw_len) return -1;
    out->len = raw_len;
    out->data[raw_len] = '\0';
    return 0;
}

/* ---- per-key state ---- */

typedef struct lc_state {
    ws_session s, cov;
    ws_segment seg;
    ws_params prm;
    ws_join *jt, *js;
    int64_t retention_timer, join_timer; /* registered event-time timers, NO_TIMER = none */
} lc_state;

typedef struct lc_local {
    weir_ctx *ctx;
    const ws_shared *sh;
    weir_state_backend *be;
    weir_state *st;
    ws_cache *cache;
    heap caps, sigs;
    timerq tq;       /* the operator's event-time timers (see above) */
    prefetch pf;     /* blobs read ahead for the current watermark (see above) */
    const void *key; /* the backend's current key (borrowed) and its key group */
    size_t key_len;
    int32_t kg;
    uint64_t seq;
    int64_t wm;
    int restored_broadcast;
    lc_state cur;
    ws_signal sig;
    ws_param_row prow;
    ws_segment rows[2];
    weir_buf blob, body, row, raw; /* raw: a decompressed blob body */
    lz_table lz;
    weir_err rc;
    weir_counter *late, *expired, *rows_c[WS_T__COUNT], *cap_applied;
    /* state hygiene (issue #4.4): live keys of this subtask and the high-water marks of keys
     * and timers, published as counters (sum over subtasks of their peaks) */
    int64_t live, peak_live, peak_timers;
    weir_counter *c_peak_live, *c_peak_timers, *c_created;
} lc_local;

/* The per-subtask data; created on first use (restore_state() runs before open()). */
static lc_local *lc_get(weir_ctx *ctx) {
    lc_local *L = weir_ctx_local(ctx);
    if (L) return L;
    const ws_shared *sh = weir_ctx_udata(ctx);
    L = calloc(1, sizeof *L);
    if (!L) return NULL;
    L->ctx = ctx;
    L->sh = sh;
    L->wm = INT64_MIN;
    L->sigs.by_uid = 1;
    L->cache = ws_cache_new(sh->cfg.ttl_ms, sh->cfg.max_per_key);
    L->cur.jt = ws_join_new(WS_JOIN_TRACE, "", sh->cfg.wait_ms);
    L->cur.js = ws_join_new(WS_JOIN_STATUS, "", sh->cfg.wait_ms);
    if (!L->cache || !L->cur.jt || !L->cur.js) {
        ws_cache_free(L->cache);
        ws_join_free(L->cur.jt);
        ws_join_free(L->cur.js);
        free(L);
        return NULL;
    }
    weir_ctx_set_local(ctx, L);
    return L;
}

static weir_err lc_open(weir_ctx *ctx) {
    lc_local *L = lc_get(ctx);
    if (!L) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    L->be = weir_ctx_state_backend(ctx);
    if (!L->be) return weir_ctx_fail(ctx, WEIR_ESTATE, "lifecycle operator is not keyed");
    L->pf.cap = 2 * PF_MAX;
    L->pf.s = calloc(L->pf.cap, sizeof *L->pf.s);
    L->pf.keys = malloc(PF_MAX * sizeof *L->pf.keys);
    L->pf.vals = malloc(PF_MAX * sizeof *L->pf.vals);
    L->pf.slot_of = malloc(PF_MAX * sizeof *L->pf.slot_of);
    L->pf.aux = malloc((PF_MAX + 2) * sizeof *L->pf.aux);
    if (!L->pf.s || !L->pf.keys || !L->pf.vals || !L->pf.slot_of || !L->pf.aux)
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    weir_state_desc d = {.name = WS_STATE_NAME, .kind = WEIR_STATE_VALUE, .ttl_ms = 0};
    weir_error e = {0};
    if (!(L->st = weir_state_register(L->be, &d, &e)))
        return weir_ctx_fail(ctx, WEIR_ESTATE, "cannot register %s: %s", WS_STATE_NAME, e.msg);
    weir_metrics *m = weir_ctx_metrics(ctx);
    L->late = weir_metrics_counter(m, "lifecycle.late_signals");
    L->expired = weir_metrics_counter(m, "lifecycle.sessions_expired");
    L->cap_applied = weir_metrics_counter(m, "lifecycle.capability_rows_applied");
    L->c_peak_live = weir_metrics_counter(m, "lifecycle.state_keys_peak");
    L->c_peak_timers = weir_metrics_counter(m, "lifecycle.timers_peak");
    L->c_created = weir_metrics_counter(m, "lifecycle.sessions_created");
    for (int t = 0; t < WS_T__COUNT; t++) {
        char name[96];
        snprintf(name, sizeof name, "lifecycle.rows.%s", FACT_TABLES[t]);
        L->rows_c[t] = weir_metrics_counter(m, name);
    }
    return WEIR_OK;
}

static void lc_close(weir_ctx *ctx) {
    lc_local *L = weir_ctx_local(ctx);
    if (!L) return;
    ws_cache_free(L->cache);
    ws_join_free(L->cur.jt);
    ws_join_free(L->cur.js);
    heap_free(&L->caps);
    heap_free(&L->sigs);
    tq_free(&L->tq);
    pf_free(&L->pf);
    weir_buf_free(&L->blob);
    weir_buf_free(&L->body);
    weir_buf_free(&L->raw);
    weir_buf_free(&L->row);
    free(L);
}

/* Notes the backend's current key (set by the runtime or by lc_set_key()): the operator's
 * timers are registered for it. @p kg < 0: computed. */
static void lc_note_key(lc_local *L, const void *key, size_t len, int32_t kg) {
    L->key = key;
    L->key_len = len;
    L->kg = kg >= 0 ? kg : weir_key_group_of(key, len, weir_ctx_max_parallelism(L->ctx));
}

/* Makes @p key the backend's current key. */
static weir_err lc_set_key(lc_local *L, const void *key, size_t len, int32_t kg) {
    lc_note_key(L, key, len, kg);
    weir_err rc = weir_state_set_current_key(L->be, key, len, L->kg);
    return rc ? weir_ctx_fail(L->ctx, rc, "cannot set the current key") : WEIR_OK;
}

/* Registers / deletes an event-time timer of the current key (the operator's timer queue). */
static weir_err lc_timer_register(lc_local *L, int64_t t) {
    return tq_register(&L->tq, L->key, L->key_len, L->kg, t) ? WEIR_ENOMEM : WEIR_OK;
}

static weir_err lc_timer_delete(lc_local *L, int64_t t) {
    tq_remove(&L->tq, L->key, L->key_len, t);
    /* timers restored from a checkpoint of a version that used the runtime's timer service */
    return weir_timer_count(L->ctx) ? weir_timer_delete(L->ctx, WEIR_TIME_EVENT, t) : WEIR_OK;
}

/* Emits the fact row in L->row to table @p t. */
static weir_err emit_row(lc_local *L, ws_fact_table t, int64_t ts) {
    if (L->row.oom) return weir_ctx_fail(L->ctx, WEIR_ENOMEM, "out of memory building a row");
    weir_counter_add(L->rows_c[t], 1);
    weir_record r = {.key = (const uint8_t *)FACT_TABLES[t],
                     .key_len = (uint32_t)strlen(FACT_TABLES[t]),
                     .value = (const uint8_t *)L->row.data,
                     .value_len = (uint32_t)L->row.len,
                     .timestamp_ms = ts,
                     .key_group = -1};
    return weir_emit(L->ctx, &r);
}

static int on_join_row(void *ud, const ws_join_row *r, ws_join_kind kind) {
    lc_local *L = ud;
    if (L->rc) return 1;
    weir_buf_reset(&L->row);
    ws_fact_join(&L->row, kind, r);
    L->rc = emit_row(L, kind == WS_JOIN_STATUS ? WS_T_STATUS : WS_T_TRACE, r->ev.signal_ts);
    return L->rc != WEIR_OK;
}

static int on_trace_row(void *ud, const ws_join_row *r) {
    return on_join_row(ud, r, WS_JOIN_TRACE);
}

static int on_status_row(void *ud, const ws_join_row *r) {
    return on_join_row(ud, r, WS_JOIN_STATUS);
}

/* ---- state blob: "WSL3" i64 retention_timer i64 join_timer u32 body length, then the body
 *      compressed (lz_compress): u32-length-prefixed parts session, coverage, segment, params,
 *      trace join (with segments), status join (pending). "WSL2" (an older version's blob, still
 *      read): the same without the body length, the body not compressed. The timers stay
 *      uncompressed at offsets 4 and 12 (collect_pending() reads the join timer). */

/* Starts a u32-length-prefixed part of L->body: returns where its length goes. */
static size_t part_begin(lc_local *L) {
    size_t at = L->body.len;
    uint32_t zero = 0;
    weir_buf_append(&L->body, &zero, 4);
    return at;
}

/* Ends the part begun at @p at: writes its length. */
static void part_end(lc_local *L, size_t at) {
    if (L->body.oom) return;
    uint32_t n = (uint32_t)(L->body.len - at - 4);
    memcpy(L->body.data + at, &n, 4);
}

/* The current key's blob changes: a batch entry for it is stale from now on. */
static void pf_invalidate(lc_local *L) {
    prefetch *f = &L->pf;
    if (!f->active) return;
    long i = pf_find(f, L->key, L->key_len, XXH3_64bits(L->key, L->key_len), NULL);
    if (i >= 0) f->s[i].valid = 0;
}

/* Reads the blobs of the keys collected in L->pf with one multi-get and makes them current. */
static weir_err pf_fetch(lc_local *L) {
    prefetch *f = &L->pf;
    if (f->arena.oom) return weir_ctx_fail(L->ctx, WEIR_ENOMEM, "out of memory");
    if (!f->n) return WEIR_OK;
    for (size_t i = 0; i < f->n; i++)
        f->keys[i].key = f->arena.data + f->s[f->slot_of[i]].koff;
    weir_err rc = weir_value_multi_get(L->st, f->keys, f->n, f->vals);
    if (rc) return weir_ctx_fail(L->ctx, rc, "lifecycle state read failed");
    /* the values are the backend's until its next call: copy them (offsets: the arena moves) */
    for (size_t i = 0; i < f->n; i++) {
        pf_slot *e = &f->s[f->slot_of[i]];
        e->valid = 1;
        e->present = f->vals[i].data != NULL;
        if (!e->present) continue;
        e->voff = f->arena.len;
        e->vlen = (uint32_t)f->vals[i].len;
        weir_buf_append(&f->arena, f->vals[i].data, f->vals[i].len);
    }
    if (f->arena.oom) return weir_ctx_fail(L->ctx, WEIR_ENOMEM, "out of memory");
    f->active = 1;
    return WEIR_OK;
}

/* Reads the blobs of the keys that processing a watermark @p wm will load: buffered signals
 * and timers at or before it (at most PF_MAX keys; f->full says whether some were left). */
static weir_err pf_begin(lc_local *L, int64_t wm) {
    prefetch *f = &L->pf;
    pf_reset(f);
    for (size_t i = 0; i < L->sigs.n && !f->full; i++) {
        const pend *p = &L->sigs.a[i];
        if (p->ts <= wm) pf_add(f, p->mem, p->key_len, p->kg);
    }
    for (size_t i = 0; i < L->tq.n && !f->full; i++) {
        const tq_entry *e = &L->tq.a[i];
        if (e->ts <= wm) pf_add(f, e->key, e->key_len, e->kg);
    }
    return pf_fetch(L);
}

static int tq_idx_less(const timerq *q, size_t a, size_t b) {
    return q->a[a].ts < q->a[b].ts;
}

/* More timers were due than one batch holds (e.g. the final watermark fires every retention
 * timer): reads the blobs of the (up to) PF_MAX next timers at or before @p wm in time order,
 * found by a best-first walk of the timer heap (an index heap of the walk's frontier). */
static weir_err pf_refill_timers(lc_local *L, int64_t wm) {
    prefetch *f = &L->pf;
    const timerq *q = &L->tq;
    size_t *aux = f->aux, na = 0, pops = 0;
    pf_reset(f);
    if (q->n) aux[na++] = 0;
    while (na && !f->full && pops++ < 4 * PF_MAX) {
        size_t i = aux[0];
        if (q->a[i].ts > wm) break; /* the smallest of the frontier: nothing else is due */
        aux[0] = aux[--na];         /* pop */
        for (size_t k = 0;;) {
            size_t l = 2 * k + 1, r = l + 1, m = k;
            if (l < na && tq_idx_less(q, aux[l], aux[m])) m = l;
            if (r < na && tq_idx_less(q, aux[r], aux[m])) m = r;
            if (m == k) break;
            size_t t = aux[k];
            aux[k] = aux[m];
            aux[m] = t;
            k = m;
        }
        pf_add(f, q->a[i].key, q->a[i].key_len, q->a[i].kg);
        for (size_t c = 2 * i + 1; c <= 2 * i + 2 && c < q->n && na < PF_MAX + 2; c++) {
            size_t k = na++; /* push */
            aux[k] = c;
            while (k > 0 && tq_idx_less(q, aux[k], aux[(k - 1) / 2])) {
                size_t t = aux[k];
                aux[k] = aux[(k - 1) / 2];
                aux[(k - 1) / 2] = t;
                k = (k - 1) / 2;
            }
        }
    }
    f->full = 1; /* refill again when this batch is used up */
    return pf_fetch(L);
}

static weir_err lc_store(lc_local *L) {
    lc_state *c = &L->cur;
    weir_buf_reset(&L->blob);
    weir_buf_reset(&L->body);
    size_t at = part_begin(L);
    ws_session_encode(&L->body, &c->s);
    part_end(L, at);
    at = part_begin(L);
    ws_session_encode(&L->body, &c->cov);
    part_end(L, at);
    at = part_begin(L);
    ws_segment_encode(&L->body, &c->seg);
    part_end(L, at);
    at = part_begin(L);
    ws_params_encode(&L->body, &c->prm);
    part_end(L, at);
    at = part_begin(L);
    ws_join_encode(&L->body, c->jt, 1);
    part_end(L, at);
    at = part_begin(L);
    ws_join_encode(&L->body, c->js, 0);
    part_end(L, at);
    uint32_t body_len = (uint32_t)L->body.len;
    weir_buf_append(&L->blob, "WSL3", 4);
    weir_buf_append(&L->blob, &c->retention_timer, 8);
    weir_buf_append(&L->blob, &c->join_timer, 8);
    weir_buf_append(&L->blob, &body_len, 4);
    lz_compress(&L->lz, &L->blob, (const unsigned char *)L->body.data, L->body.len);
    if (L->blob.oom || L->body.oom)
        return weir_ctx_fail(L->ctx, WEIR_ENOMEM, "out of memory encoding lifecycle state");
    pf_invalidate(L);
    weir_err rc = weir_value_put(L->st, L->blob.data, L->blob.len);
    return rc ? weir_ctx_fail(L->ctx, rc, "lifecycle state write failed") : WEIR_OK;
}

static int get_part(const unsigned char **p, const unsigned char *e, const void **d, size_t *n) {
    uint32_t len;
    if (e - *p < 4) return -1;
    memcpy(&len, *p, 4);
    *p += 4;
    if ((size_t)(e - *p) < len) return -1;
    *d = *p;
    *n = len;
    *p += len;
    return 0;
}

/* Loads the current key's state into L->cur; *found = 0 (and a fresh state for @p wsid) when
 * absent. */
static weir_err lc_load(lc_local *L, const char *wsid, int *found) {
    lc_state *c = &L->cur;
    const void *v;
    size_t n;
    weir_err rc;
    long pi = L->pf.active
                  ? pf_find(&L->pf, L->key, L->key_len, XXH3_64bits(L->key, L->key_len), NULL)
                  : -1;
    if (pi >= 0 && L->pf.s[pi].valid) { /* read ahead for this watermark */
        const pf_slot *e = &L->pf.s[pi];
        rc = e->present ? WEIR_OK : WEIR_ENOTFOUND;
        v = L->pf.arena.data + e->voff;
        n = e->vlen;
    } else {
        rc = weir_value_get(L->st, &v, &n);
    }
    ws_join_reset(c->jt, wsid ? wsid : "");
    ws_join_reset(c->js, wsid ? wsid : "");
    if (rc == WEIR_ENOTFOUND) {
        *found = 0;
        ws_session_init(&c->s, wsid);
        ws_session_init(&c->cov, wsid);
        ws_segment_init(&c->seg);
        ws_params_init(&c->prm);
        c->retention_timer = c->join_timer = NO_TIMER;
        return WEIR_OK;
    }
    if (rc) return weir_ctx_fail(L->ctx, rc, "lifecycle state read failed");
    *found = 1;
    const unsigned char *p = v, *e = p + n;
    const void *d[6];
    size_t dn[6];
    if (n < 20 || (memcmp(p, "WSL3", 4) != 0 && memcmp(p, "WSL2", 4) != 0)) goto corrupt;
    memcpy(&c->retention_timer, p + 4, 8);
    memcpy(&c->join_timer, p + 12, 8);
    if (p[3] == '3') {
        uint32_t body_len;
        if (n < 24) goto corrupt;
        memcpy(&body_len, p + 20, 4);
        if (lz_decompress(&L->raw, p + 24, n - 24, body_len)) goto corrupt;
        p = (const unsigned char *)L->raw.data;
        e = p + body_len;
    } else {
        p += 20;
    }
    for (int i = 0; i < 6; i++)
        if (get_part(&p, e, &d[i], &dn[i])) goto corrupt;
    if (p != e || ws_session_decode(d[0], dn[0], &c->s) ||
        ws_session_decode(d[1], dn[1], &c->cov) || ws_segment_decode(d[2], dn[2], &c->seg) ||
        ws_params_decode(d[3], dn[3], &c->prm))
        goto corrupt;
    ws_join_reset(c->jt, c->s.workflow_session_id);
    ws_join_reset(c->js, c->s.workflow_session_id);
    /* the status join shares the trace join's segment rows: add them before its pending items */
    if (ws_join_decode(c->jt, d[4], dn[4], NULL) || ws_join_copy_segments(c->js, c->jt) ||
        ws_join_decode(c->js, d[5], dn[5], NULL))
        goto corrupt;
    return WEIR_OK;
corrupt:
    return weir_ctx_fail(L->ctx, WEIR_ESTATE, "corrupt lifecycle state blob (%zu bytes)", n);
}

/* The event time at which the current key's state is cleared: the retention deadline of
 * ws_session_expiry() rounded up to RETENTION_GRANULARITY_MS; NO_TIMER when disabled. */
static int64_t retention_at(const lc_local *L) {
    int64_t exp = ws_session_expiry(&L->cur.s, &L->sh->cfg);
    if (exp == INT64_MAX) return NO_TIMER;
    if (exp > INT64_MAX - RETENTION_GRANULARITY_MS) return INT64_MAX - 1;
    return (exp + RETENTION_GRANULARITY_MS - 1) / RETENTION_GRANULARITY_MS *
           RETENTION_GRANULARITY_MS;
}

/* Re-registers the two timers of the current key after its state changed.
 * Retention: lazily extended. A later deadline keeps the registered (earlier) timer; when it
 * fires, on_timer() finds the deadline moved and registers the new one. So a signal costs no
 * timer write unless the deadline moves EARLIER (close trace: closed < idle retention) — one
 * timer write per ~session instead of two per signal.
 * Timers are deduplicated per (key, time), so the retention and the join timer may be one
 * timer: a time still wanted by the other is never deleted. */
static weir_err lc_timers(lc_local *L) {
    lc_state *c = &L->cur;
    int64_t want_r = retention_at(L);
    if (want_r != NO_TIMER && c->retention_timer != NO_TIMER && want_r > c->retention_timer)
        want_r = c->retention_timer; /* lazy extension */
    int64_t dj = ws_join_next_deadline(c->jt), ds = ws_join_next_deadline(c->js);
    int64_t want_j = dj < ds ? dj : ds;
    if (want_j == INT64_MAX) want_j = NO_TIMER;
    if (want_r == c->retention_timer && want_j == c->join_timer) return WEIR_OK;
    int64_t old[2] = {c->retention_timer, c->join_timer}, want[2] = {want_r, want_j};
    weir_err rc = WEIR_OK;
    for (int i = 0; i < 2 && !rc; i++)
        if (old[i] != NO_TIMER && old[i] != want[0] && old[i] != want[1] &&
            (i == 0 || old[1] != old[0]))
            rc = lc_timer_delete(L, old[i]);
    for (int i = 0; i < 2 && !rc; i++)
        if (want[i] != NO_TIMER && want[i] != old[0] && want[i] != old[1] &&
            (i == 0 || want[1] != want[0]))
            rc = lc_timer_register(L, want[i]);
    c->retention_timer = want_r;
    c->join_timer = want_j;
    return rc ? weir_ctx_fail(L->ctx, rc, "timer registration failed") : WEIR_OK;
}

/* Retention (docs/session-job.md): the current key's pending §6 rows are emitted, then its
 * state and timers are removed. No session row is emitted (every signal already emitted one). */
static weir_err lc_expire(lc_local *L) {
    lc_state *c = &L->cur;
    L->rc = WEIR_OK;
    ws_join_on_timer(c->jt, INT64_MAX, on_trace_row, L);
    ws_join_on_timer(c->js, INT64_MAX, on_status_row, L);
    if (L->rc) return L->rc;
    weir_err rc = WEIR_OK;
    if (c->join_timer != NO_TIMER) rc = lc_timer_delete(L, c->join_timer);
    if (!rc && c->retention_timer != NO_TIMER && c->retention_timer != c->join_timer)
        rc = lc_timer_delete(L, c->retention_timer);
    if (rc) return weir_ctx_fail(L->ctx, rc, "timer deletion failed");
    weir_counter_add(L->expired, 1);
    L->live--;
    pf_invalidate(L);
    rc = weir_value_clear(L->st);
    return rc ? weir_ctx_fail(L->ctx, rc, "lifecycle state clear failed") : WEIR_OK;
}

/* Applies one signal to the current key (every machine gets its own copy, §1.4) and emits. */
static weir_err lc_apply(lc_local *L, const ws_signal *sig) {
    const ws_config *cfg = &L->sh->cfg;
    lc_state *c = &L->cur;
    int found;
    weir_err rc = lc_load(L, sig->workflow_session_id, &found);
    if (rc) return rc;
    int64_t ts = sig->signal_ts;
    int64_t clear_at = found ? retention_at(L) : NO_TIMER;
    if (clear_at != NO_TIMER && clear_at < ts) {
        /* the retention timer precedes this signal in event time but has not fired yet (both
         * were reached by one watermark step): expire first, as strict event-time order says */
        if ((rc = lc_expire(L))) return rc;
        found = 0;
        if ((rc = lc_load(L, sig->workflow_session_id, &found))) return rc;
    }
    /* §2.6 session → §9.1 row + §2.7 latency row */
    ws_session_process(&c->s, sig, L->cache, cfg);
    weir_buf_reset(&L->row);
    ws_fact_session(&L->row, &c->s);
    if ((rc = emit_row(L, WS_T_SESSIONS, ts))) return rc;
    weir_buf_reset(&L->row);
    ws_fact_latency(&L->row, &c->s);
    if ((rc = emit_row(L, WS_T_LATENCY, ts))) return rc;
    /* §3 segments; each row also feeds both §6 joins */
    int k = ws_segment_process(&c->seg, sig, L->cache, cfg, L->rows);
    L->rc = WEIR_OK;
    for (int i = 0; i < k; i++) {
        weir_buf_reset(&L->row);
        ws_fact_segment(&L->row, &L->rows[i]);
        if ((rc = emit_row(L, WS_T_SEGMENTS, ts))) return rc;
        if (ws_join_on_segment(c->jt, &L->rows[i], on_trace_row, L) ||
            ws_join_on_segment(c->js, &L->rows[i], on_status_row, L))
            return weir_ctx_fail(L->ctx, WEIR_ENOMEM, "out of memory");
        if (L->rc) return L->rc;
    }
    /* §4 param updates */
    if (ws_params_process(&c->prm, sig, L->cache, cfg, &L->prow)) {
        weir_buf_reset(&L->row);
        ws_fact_param_update(&L->row, &L->prow);
        if ((rc = emit_row(L, WS_T_PARAMS, ts))) return rc;
    }
    /* §7 coverage */
    ws_coverage_process(&c->cov, sig);
    weir_buf_reset(&L->row);
    ws_fact_coverage(&L->row, &c->cov, sig);
    if ((rc = emit_row(L, WS_T_COVERAGE, ts))) return rc;
    /* §6 status / trace attribution; the wait runs in event time (deadline = ts + 15 s) */
    if (sig->type == WS_SIG_STREAM_TRACE || sig->type == WS_SIG_STREAM_STATUS) {
        int tr = sig->type == WS_SIG_STREAM_TRACE;
        if (ws_join_on_event(tr ? c->jt : c->js, sig, ts, tr ? on_trace_row : on_status_row, L))
            return weir_ctx_fail(L->ctx, WEIR_ENOMEM, "out of memory");
        if (L->rc) return L->rc;
    }
    if ((rc = lc_timers(L))) return rc;
    if (!found) {
        weir_counter_add(L->c_created, 1);
        if (++L->live > L->peak_live) {
            weir_counter_add(L->c_peak_live, 1);
            L->peak_live = L->live;
        }
    }
    int64_t nt = (int64_t)(L->tq.n + weir_timer_count(L->ctx));
    if (nt > L->peak_timers) {
        weir_counter_add(L->c_peak_timers, nt - L->peak_timers);
        L->peak_timers = nt;
    }
    return lc_store(L);
}

static weir_err lc_apply_cap(lc_local *L, const void *data, size_t len) {
    ws_snapshot row;
    if (ws_snapshot_decode(data, len, &row))
        return weir_ctx_fail(L->ctx, WEIR_EINTERNAL, "corrupt capability row record");
    weir_counter_add(L->cap_applied, 1);
    weir_err rc = ws_cache_upsert(L->cache, &row);
    return rc ? weir_ctx_fail(L->ctx, rc, "capability cache: out of memory") : WEIR_OK;
}

static weir_err lc_apply_encoded(lc_local *L, const void *data, size_t len) {
    if (ws_signal_decode(data, len, &L->sig))
        return weir_ctx_fail(L->ctx, WEIR_EINTERNAL, "corrupt signal record");
    return lc_apply(L, &L->sig);
}

/* Processes every buffered capability row and signal with ts ≤ @p upto in event-time order
 * (a capability row first on equal ts). Changes the backend's current key. */
static weir_err lc_drain(lc_local *L, int64_t upto) {
    for (;;) {
        pend *c = L->caps.n ? &L->caps.a[0] : NULL, *s = L->sigs.n ? &L->sigs.a[0] : NULL;
        int cap = c && (!s || c->ts <= s->ts);
        pend *top = cap ? c : s;
        if (!top || top->ts > upto) return WEIR_OK;
        pend p = heap_pop(cap ? &L->caps : &L->sigs);
        weir_err rc;
        if (cap) {
            rc = lc_apply_cap(L, p.mem, p.data_len);
        } else {
            rc = lc_set_key(L, p.mem, p.key_len, p.kg);
            if (!rc) rc = lc_apply_encoded(L, p.mem + p.key_len + p.uid_len, p.data_len);
        }
        free(p.mem);
        if (rc) return rc;
    }
}

static weir_err lc_process(weir_ctx *ctx, const weir_record *rec) {
    lc_local *L = weir_ctx_local(ctx);
    int64_t ts = rec->timestamp_ms;
    if (weir_ctx_input(ctx) == 1) { /* capability row (broadcast) */
        if (ts <= L->wm) return lc_apply_cap(L, rec->value, rec->value_len);
        pend p;
        if (pend_make(&p, ts, L->seq++, -1, NULL, 0, NULL, 0, rec->value, rec->value_len) ||
            heap_push(&L->caps, &p))
            return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
        return WEIR_OK;
    }
    if (ts <= L->wm) { /* late: applied at once, in arrival order (spec §8) */
        weir_counter_add(L->late, 1);
        lc_note_key(L, rec->key, rec->key_len, rec->key_group);
        return lc_apply_encoded(L, rec->value, rec->value_len);
    }
    wj_str uid;
    if (ws_signal_peek_uid(rec->value, rec->value_len, &uid))
        return weir_ctx_fail(ctx, WEIR_EINTERNAL, "corrupt signal record");
    pend p;
    if (pend_make(&p, ts, L->seq++, rec->key_group, rec->key, rec->key_len, uid.s, uid.n,
                  rec->value, rec->value_len) ||
        heap_push(&L->sigs, &p))
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    return WEIR_OK;
}

/* Key of an entry with pending §6 items (final flush). */
typedef struct keyref {
    unsigned char *key;
    size_t len;
    int32_t kg;
} keyref;

typedef struct keylist {
    keyref *k;
    size_t n, cap;
    int oom;
} keylist;

static int collect_pending(void *ud, const weir_state_entry *e) {
    keylist *kl = ud;
    int64_t jt;
    if (e->val_len < 20) return 0;
    memcpy(&jt, (const char *)e->val + 12, 8);
    if (jt == NO_TIMER) return 0;
    if (kl->n == kl->cap) {
        size_t nc = kl->cap ? kl->cap * 2 : 64;
        keyref *nk = realloc(kl->k, nc * sizeof *nk);
        if (!nk) return kl->oom = 1;
        kl->k = nk;
        kl->cap = nc;
    }
    keyref *r = &kl->k[kl->n];
    if (!(r->key = malloc(e->key_len + 1))) return kl->oom = 1;
    memcpy(r->key, e->key, e->key_len);
    r->len = e->key_len;
    r->kg = e->key_group;
    kl->n++;
    return 0;
}

/* End of event time: every pending §6 item is emitted (timers registered for an already passed
 * time after the final watermark would otherwise never fire). */
static weir_err lc_flush_all(lc_local *L) {
    keylist kl = {0};
    weir_err rc = weir_state_foreach_entry(L->st, collect_pending, &kl);
    if (!rc && kl.oom) rc = WEIR_ENOMEM;
    for (size_t i = 0; !rc && i < kl.n; i++) {
        int found;
        if ((rc = lc_set_key(L, kl.k[i].key, kl.k[i].len, kl.k[i].kg)) ||
            (rc = lc_load(L, "", &found)))
            break;
        L->rc = WEIR_OK;
        ws_join_on_timer(L->cur.jt, INT64_MAX, on_trace_row, L);
        ws_join_on_timer(L->cur.js, INT64_MAX, on_status_row, L);
        if ((rc = L->rc) || (rc = lc_timers(L)) || (rc = lc_store(L))) break;
    }
    for (size_t i = 0; i < kl.n; i++)
        free(kl.k[i].key);
    free(kl.k);
    return rc ? weir_ctx_fail(L->ctx, rc, "final flush of pending attribution rows failed")
              : WEIR_OK;
}

static weir_err lc_fire(lc_local *L, int64_t t, const void *key, size_t key_len, int32_t kg);

static weir_err lc_watermark(lc_local *L, int64_t wm) {
    /* the operator's timers up to wm fire first, in time order (as the runtime's own timers
     * fire before on_watermark()); a timer registered meanwhile at or before wm fires too */
    while (L->tq.n && L->tq.a[0].ts <= wm) {
        const tq_entry *top = &L->tq.a[0];
        if (L->pf.full && pf_find(&L->pf, top->key, top->key_len,
                                  XXH3_64bits(top->key, top->key_len), NULL) < 0) {
            weir_err rc = pf_refill_timers(L, wm);
            if (rc) return rc;
        }
        tq_entry e = tq_pop(&L->tq);
        weir_err rc = WEIR_OK;
        if (tq_remove(&L->tq, e.key, e.key_len, e.ts))
            rc = lc_fire(L, e.ts, e.key, e.key_len, e.kg);
        free(e.key);
        if (rc) return rc;
    }
    return lc_drain(L, wm);
}

static weir_err lc_on_watermark(weir_ctx *ctx, int64_t wm) {
    lc_local *L = weir_ctx_local(ctx);
    weir_err rc = pf_begin(L, wm);
    if (!rc) rc = lc_watermark(L, wm);
    pf_reset(&L->pf);
    if (rc) return rc;
    if (wm > L->wm) L->wm = wm;
    return wm == INT64_MAX ? lc_flush_all(L) : WEIR_OK;
}

/* An event-time timer of time @p t for @p key fired (the operator's queue, or the runtime's
 * for timers restored from an older checkpoint). */
static weir_err lc_fire(lc_local *L, int64_t t, const void *key, size_t key_len, int32_t kg) {
    /* everything that happened up to t comes first */
    weir_err rc = lc_drain(L, t);
    if (rc) return rc;
    if ((rc = lc_set_key(L, key, key_len, kg))) return rc;
    int found;
    if ((rc = lc_load(L, "", &found)) || !found) return rc;
    lc_state *c = &L->cur;
    L->rc = WEIR_OK;
    if (c->join_timer != NO_TIMER && c->join_timer <= t) {
        ws_join_on_timer(c->jt, t, on_trace_row, L);
        ws_join_on_timer(c->js, t, on_status_row, L);
        c->join_timer = NO_TIMER;
        if (L->rc) return L->rc;
    }
    if (c->retention_timer != NO_TIMER && c->retention_timer <= t) {
        c->retention_timer = NO_TIMER;
        int64_t at = retention_at(L);
        if (at != NO_TIMER && at <= t) {
            return lc_expire(L);
        }
    }
    if ((rc = lc_timers(L))) return rc;
    return lc_store(L);
}

static weir_err lc_on_timer(weir_ctx *ctx, weir_time_domain d, int64_t t, const void *key,
                            size_t key_len) {
    if (d != WEIR_TIME_EVENT) return WEIR_OK;
    return lc_fire(weir_ctx_local(ctx), t, key, key_len, -1);
}

/* ---- operator state: "WSO3", cache, capability rows and signals not yet applied, the
 *      registered timers (u32 n, then per timer i64 ts, i32 key group, u32 key length, key).
 *      "WSO2" (no timers: they were the runtime's) is still restored. ---- */

static void put32(weir_buf *b, uint32_t v) {
    weir_buf_append(b, &v, 4);
}

typedef struct snap_ctx {
    weir_buf *out, tmp;
} snap_ctx;

static int snap_bucket(void *ud, const char *key, const ws_snapshot *refs, int n) {
    snap_ctx *s = ud;
    put32(s->out, (uint32_t)strlen(key));
    weir_buf_append(s->out, key, strlen(key));
    put32(s->out, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        weir_buf_reset(&s->tmp);
        ws_snapshot_encode(&s->tmp, &refs[i]);
        put32(s->out, (uint32_t)s->tmp.len);
        weir_buf_append(s->out, s->tmp.data, s->tmp.len);
    }
    return 0;
}

static void snap_heap(weir_buf *out, const heap *h) {
    put32(out, (uint32_t)h->n);
    for (size_t i = 0; i < h->n; i++) {
        const pend *p = &h->a[i];
        weir_buf_append(out, &p->ts, 8);
        weir_buf_append(out, &p->seq, 8);
        weir_buf_append(out, &p->kg, 4);
        put32(out, p->key_len);
        put32(out, p->uid_len);
        put32(out, p->data_len);
        weir_buf_append(out, p->mem, (size_t)p->key_len + p->uid_len + p->data_len);
    }
}

static weir_err lc_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    (void)b;
    lc_local *L = weir_ctx_local(ctx);
    weir_buf_append(out, "WSO3", 4);
    put32(out, (uint32_t)ws_cache_keys(L->cache));
    snap_ctx s = {out, {0}};
    ws_cache_foreach(L->cache, snap_bucket, &s);
    int oom = s.tmp.oom;
    weir_buf_free(&s.tmp);
    snap_heap(out, &L->caps);
    snap_heap(out, &L->sigs);
    put32(out, (uint32_t)L->tq.sn);
    for (size_t i = 0; i < L->tq.scap; i++) {
        const tq_slot *e = &L->tq.s[i];
        if (!e->key) continue;
        weir_buf_append(out, &e->ts, 8);
        weir_buf_append(out, &e->kg, 4);
        put32(out, e->key_len);
        weir_buf_append(out, e->key, e->key_len);
    }
    if (oom || out->oom) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory in snapshot");
    return WEIR_OK;
}

typedef struct rdr {
    const unsigned char *p, *e;
} rdr;

static int rget(rdr *r, void *dst, size_t n) {
    if ((size_t)(r->e - r->p) < n) return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    return 0;
}

static int restore_heap(lc_local *L, rdr *r, heap *h, int keep, weir_kg_range kgr) {
    uint32_t n;
    if (rget(r, &n, 4)) return -1;
    for (uint32_t i = 0; i < n; i++) {
        pend p;
        if (rget(r, &p.ts, 8) || rget(r, &p.seq, 8) || rget(r, &p.kg, 4) ||
            rget(r, &p.key_len, 4) || rget(r, &p.uid_len, 4) || rget(r, &p.data_len, 4))
            return -1;
        size_t len = (size_t)p.key_len + p.uid_len + p.data_len;
        if ((size_t)(r->e - r->p) < len) return -1;
        int32_t kg = p.kg;
        if (h->by_uid && kg < 0)
            kg = weir_key_group_of(r->p, p.key_len, weir_ctx_max_parallelism(L->ctx));
        int mine = h->by_uid ? (kg >= kgr.start && kg <= kgr.end) : keep;
        if (mine) {
            p.kg = kg;
            if (!(p.mem = malloc(len + 1))) return -2;
            memcpy(p.mem, r->p, len);
            if (heap_push(h, &p)) {
                free(p.mem);
                return -2;
            }
            if (p.seq >= L->seq) L->seq = p.seq + 1;
        }
        r->p += len;
    }
    return 0;
}

/* The registered timers of a "WSO3" state: each new subtask keeps those of its key groups. */
static int restore_timers(lc_local *L, rdr *r, weir_kg_range kgr) {
    uint32_t n;
    if (rget(r, &n, 4)) return -1;
    for (uint32_t i = 0; i < n; i++) {
        int64_t ts;
        int32_t kg;
        uint32_t kl;
        if (rget(r, &ts, 8) || rget(r, &kg, 4) || rget(r, &kl, 4) || (size_t)(r->e - r->p) < kl)
            return -1;
        if (kg < 0) kg = weir_key_group_of(r->p, kl, weir_ctx_max_parallelism(L->ctx));
        if (kg >= kgr.start && kg <= kgr.end && tq_register(&L->tq, r->p, kl, kg, ts)) return -2;
        r->p += kl;
    }
    return 0;
}

static weir_err lc_restore(weir_ctx *ctx, const void *data, size_t len) {
    lc_local *L = lc_get(ctx);
    if (!L) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    rdr r = {data, (const unsigned char *)data + len};
    char magic[4];
    uint32_t nkeys;
    if (rget(&r, magic, 4) || (memcmp(magic, "WSO3", 4) && memcmp(magic, "WSO2", 4)) ||
        rget(&r, &nkeys, 4))
        goto corrupt;
    int with_timers = memcmp(magic, "WSO3", 4) == 0;
    /* broadcast state: every old subtask wrote the same cache and rows; keep the first copy */
    int keep = !L->restored_broadcast;
    ws_snapshot refs[64];
    for (uint32_t i = 0; i < nkeys; i++) {
        uint32_t kl, n;
        char key[WS_ADDR_CAP];
        if (rget(&r, &kl, 4) || kl >= sizeof key || rget(&r, key, kl)) goto corrupt;
        key[kl] = 0;
        if (rget(&r, &n, 4) || n > sizeof refs / sizeof *refs) goto corrupt;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t sl;
            if (rget(&r, &sl, 4) || (size_t)(r.e - r.p) < sl ||
                ws_snapshot_decode(r.p, sl, &refs[k]))
                goto corrupt;
            r.p += sl;
        }
        if (keep && ws_cache_set_bucket(L->cache, key, refs, (int)n)) goto corrupt;
    }
    weir_kg_range kgr = weir_ctx_key_groups(ctx);
    int hr = restore_heap(L, &r, &L->caps, keep, kgr);
    if (!hr) hr = restore_heap(L, &r, &L->sigs, keep, kgr);
    if (hr == -2) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory restoring state");
    if (!hr && with_timers) hr = restore_timers(L, &r, kgr);
    if (hr == -2) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory restoring state");
    if (hr || r.p != r.e) goto corrupt;
    L->restored_broadcast = 1;
    return WEIR_OK;
corrupt:
    return weir_ctx_fail(ctx, WEIR_EPARSE, "corrupt lifecycle operator state (%zu bytes)", len);
}

const weir_operator_def ws_lifecycle_def = {.kind = "lifecycle",
                                            .open = lc_open,
                                            .process = lc_process,
                                            .on_watermark = lc_on_watermark,
                                            .snapshot_state = lc_snapshot,
                                            .restore_state = lc_restore,
                                            .on_timer = lc_on_timer,
                                            .close = lc_close};

/* ==================================================================================== DAG */

struct ws_job {
    ws_job_options o;
    ws_shared sh;
    dd_job *dd;
    weir_file_sink_conf fsink;
    int fsink_used;
    const char *precreate[WS_T__COUNT + 1];
};

ws_job *ws_job_new(const ws_job_options *o, weir_error *err) {
    ws_job *j = calloc(1, sizeof *j);
    if (!j) {
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        return NULL;
    }
    j->o = *o;
    j->sh.cfg = o->cfg;
    dd_job_options d = o->dedup;
    d.no_typed_rows = !o->typed_rows;
    d.post_gate_def = &ws_event_time_def;
    d.post_gate_udata = &j->sh;
    d.job_name = o->typed_rows ? "pipeline" : "session";
    if (!(j->dd = dd_job_new(&d, err))) {
        free(j);
        return NULL;
    }
    weir_graph *g = dd_job_graph(j->dd);
    int32_t p = d.parallelism;
    int dedup = weir_graph_find(g, DD_UID_DEDUP);
    int sig = weir_graph_add(g, WS_UID_SIGNALS, WS_UID_SIGNALS, &ws_signals_def, &j->sh, p, err);
    if (dedup < 0 || sig < 0 || weir_graph_connect(g, dedup, NULL, sig, WEIR_PART_FORWARD, err))
        goto fail;
    int lc =
        weir_graph_add(g, WS_UID_LIFECYCLE, WS_UID_LIFECYCLE, &ws_lifecycle_def, &j->sh, p, err);
    /* input 0: signals keyed by workflow_session_id; input 1: capability rows, broadcast */
    if (lc < 0 || weir_graph_connect(g, sig, NULL, lc, WEIR_PART_HASH, err) ||
        weir_graph_connect(g, sig, WS_TAG_CAPABILITIES, lc, WEIR_PART_BROADCAST, err))
        goto fail;
    if (d.max_parallelism && weir_graph_set_max_parallelism(g, lc, d.max_parallelism, err))
        goto fail;
    if (d.output_dir) {
        snprintf(j->fsink.dir, sizeof j->fsink.dir, "%s", d.output_dir);
        snprintf(j->fsink.suffix, sizeof j->fsink.suffix, ".jsonl");
        for (int t = 0; t < WS_T__COUNT; t++)
            j->precreate[t] = FACT_TABLES[t];
        j->fsink.precreate = j->precreate;
        j->fsink_used = 1;
        int fs = weir_graph_add(g, "facts-file-sink", "facts-file-sink", &weir_file_sink_def,
                                &j->fsink, p, err);
        if (fs < 0 || weir_graph_connect(g, lc, NULL, fs, WEIR_PART_FORWARD, err)) goto fail;
    }
    if (dd_job_add_clickhouse_rows(j->dd, "facts", lc, NULL, p, err)) goto fail;
    return j;
fail:
    ws_job_free(j);
    return NULL;
}

weir_graph *ws_job_graph(ws_job *j) {
    return dd_job_graph(j->dd);
}

void ws_job_summary(ws_job *j, weir_metrics *m, int64_t elapsed_ms, weir_buf *out) {
    int64_t in = weir_metrics_value(m, "quality_gate.input");
    weir_buf_printf(
        out,
        "{\"job\":\"%s\",\"records_in\":%lld,\"accepted\":%lld,\"dlq\":%lld,\"quarantine\":%lld,"
        "\"signals\":%lld,\"capability_rows\":%lld,\"late_signals\":%lld,"
        "\"sessions_expired\":%lld,\"rows\":{",
        j->o.typed_rows ? "pipeline" : "session", (long long)in,
        (long long)weir_metrics_value(m, "quality_gate.dedup.accepted"),
        (long long)weir_metrics_value(m, "dlq.envelopes"),
        (long long)weir_metrics_value(m, "quarantine.envelopes"),
        (long long)weir_metrics_value(m, "lifecycle.signals"),
        (long long)weir_metrics_value(m, "lifecycle.capability_rows"),
        (long long)weir_metrics_value(m, "lifecycle.late_signals"),
        (long long)weir_metrics_value(m, "lifecycle.sessions_expired"));
    char name[160];
    for (int t = 0; t < WS_T__COUNT; t++) {
        snprintf(name, sizeof name, "lifecycle.rows.%s", FACT_TABLES[t]);
        weir_buf_printf(out, "%s\"%s\":%lld", t ? "," : "", FACT_TABLES[t],
                        (long long)weir_metrics_value(m, name));
    }
    for (int t = 0; j->o.typed_rows && t < DD_T_DLQ; t++) {
        snprintf(name, sizeof name, "dedup.rows.%s", dd_table_name((dd_table)t));
        weir_buf_printf(out, ",\"%s%s\":%lld", j->o.dedup.cfg.table_prefix,
                        dd_table_name((dd_table)t), (long long)weir_metrics_value(m, name));
    }
    double rate = elapsed_ms > 0 ? (double)in * 1000.0 / (double)elapsed_ms : 0.0;
    weir_buf_printf(out, "},\"elapsed_ms\":%lld,\"records_per_s\":%.0f}", (long long)elapsed_ms,
                    rate);
}

void ws_job_free(ws_job *j) {
    if (!j) return;
    dd_job_free(j->dd);
    if (j->fsink_used) weir_file_sink_conf_cleanup(&j->fsink);
    free(j);
}
