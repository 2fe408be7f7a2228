/*
 * gen.c - synthetic streaming-event generator (`weir gen`, see tools/gen.h).
 *
 * Design:
 *  - One splitmix64/xorshift-style PRNG (seeded from options.seed) drives every choice, so the
 *    output is a pure function of the options. Nothing depends on wall-clock time.
 *  - The orchestrator pool (hot wallet, canonical wallet, url, GPU, models, prices) is built once
 *    at creation. A fixed array of `sessions` workflow sessions is kept alive; each step picks a
 *    random session and emits the next event of its script (a precomputed list of step codes
 *    following one of the three real lifecycles); a finished session is replaced by a new one.
 *    network_capabilities snapshots are emitted every NC_EVERY events (and first).
 *  - Event time is base_ts + i * spacing for line i (also for malformed lines); a duplicate is a
 *    verbatim copy of one of the last `dup_window` valid lines (kept in a ring of reused buffers).
 *  - JSON is written with small inline appenders straight into the caller's weir_buf (reserve,
 *    memcpy); no printf and no per-event allocation once buffers have grown.
 * Invariants: valid lines are strict JSON objects with one of the seven supported types, all
 * required fields present and no version field; no line contains '\n'.
 */
#include "tools/gen.h"

#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ PRNG */

static inline uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct rng {
    uint64_t s[4];
} rng;

static inline uint64_t rotl64(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t rnext(rng *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return res;
}

static void rseed(rng *r, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&s);
}

/** Uniform integer in [0, n) (n > 0); the tiny modulo bias is irrelevant here. */
static inline uint64_t rbelow(rng *r, uint64_t n) {
    return rnext(r) % n;
}
/** Uniform double in [0, 1). */
static inline double runit(rng *r) {
    return (double)(rnext(r) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------------ appenders */

static inline void w_raw(weir_buf *b, const void *p, size_t n) {
    if (b->cap - b->len < n && weir_buf_reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
#define W(b, lit) w_raw((b), (lit), sizeof(lit) - 1)
static inline void w_str(weir_buf *b, const char *s) {
    w_raw(b, s, strlen(s));
}
static inline void w_c(weir_buf *b, char c) {
    w_raw(b, &c, 1);
}

static const char DIG2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                           "34353637383940414243444546474849505152535455565758596061626364656667"
                           "6869707172737475767778798081828384858687888990919293949596979899";

static inline void w_u64(weir_buf *b, uint64_t v) {
    char tmp[24];
    char *p = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = DIG2[d + 1];
        *--p = DIG2[d];
    }
    if (v >= 10) {
        unsigned d = (unsigned)v * 2;
        *--p = DIG2[d + 1];
        *--p = DIG2[d];
    } else {
        *--p = (char)('0' + v);
    }
    w_raw(b, p, (size_t)(tmp + sizeof tmp - p));
}
static inline void w_i64(weir_buf *b, int64_t v) {
    if (v < 0) {
        w_c(b, '-');
        w_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        w_u64(b, (uint64_t)v);
    }
}
static const char HEX[] = "0123456789abcdef";
/** @p n lowercase hex digits from the PRNG. */
static inline void w_hex(weir_buf *b, rng *r, int n) {
    char tmp[64];
    uint64_t x = 0;
    for (int i = 0; i < n; i++) {
        if ((i & 15) == 0) x = rnext(r);
        tmp[i] = HEX[x & 15];
        x >>= 4;
    }
    w_raw(b, tmp, (size_t)n);
}
/** A double with @p frac_digits random fraction digits: "<ip>.<digits>". */
static inline void w_dbl(weir_buf *b, rng *r, uint64_t ip, int frac_digits) {
    if (frac_digits < 1) frac_digits = 1;
    if (frac_digits > 19) frac_digits = 19;
    w_u64(b, ip);
    char tmp[20] = {0};
    uint64_t x = rnext(r);
    for (int i = 0; i < frac_digits; i++) {
        tmp[i] = (char)('0' + x % 10);
        x /= 10;
    }
    if (tmp[frac_digits - 1] == '0') tmp[frac_digits - 1] = '7'; /* no trailing zero */
    w_c(b, '.');
    w_raw(b, tmp, (size_t)frac_digits);
}
/** A UUID-4-like string (36 chars) from the PRNG. */
static inline void w_uuid(weir_buf *b, rng *r) {
    char t[36];
    uint64_t a = rnext(r), c = rnext(r);
    int k = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            t[i] = '-';
            continue;
        }
        uint64_t *src = k < 16 ? &a : &c;
        t[i] = HEX[*src & 15];
        *src >>= 4;
        k++;
    }
    t[14] = '4';
    t[19] = HEX[8 + (t[19] & 3)];
    w_raw(b, t, 36);
}

/* ------------------------------------------------------------------ model */

#define NC_EVERY 2000
#define MAX_MODELS 3
#define SCRIPT_MAX 80

static const char *const PIPELINES[] = {"streamdiffusion-sdxl-v2v", "streamdiffusion-sdxl",
                                        "streamdiffusion-sdxl-faceid", "streamdiffusion"};
#define N_PIPELINES 4
static const char *const GATEWAYS[] = {"", "cloud-spe-ai-live-video-tester-mdw",
                                       "cloud-spe-ai-live-video-tester-sea", "gw-eu-fra-1"};
#define N_GATEWAYS 4
static const char *const SENDERS[] = {
    "0x5aE4E42dB3671370a0c25AfF451E7482aAEc3D0B", "0x3c1B5eC96D0a1c5E8aD3b2F7e9C4a6D0e1F2a3B4",
    "0x8e7D6c5B4a39281706F5e4D3c2B1a0F9E8d7C6b5", "0x1F2e3D4c5B6a79880A9b8C7d6E5f4A3b2C1d0E9f"};
static const char *const HOST_A[] = {"lpt", "ai",   "orch", "server", "rtav-orch",
                                     "gpu", "node", "live", "video",  "inference"};
static const char *const HOST_B[] = {
    "gzp.link",         "legiocorp.link", "kilout.link", "pon-eth.com",    "organic-node.uk",
    "ai-bitbender.xyz", "xodeapp.xyz",    "livepool.io", "streamnode.net", "coldwallet.dev"};
static const char *const GPUS[] = {"NVIDIA GeForce RTX 5090", "NVIDIA GeForce RTX 4090",
                                   "NVIDIA GeForce RTX 3090", "NVIDIA L40S",
                                   "NVIDIA A100-SXM4-80GB",   "NVIDIA H100 80GB HBM3"};
static const int GPU_MAJOR[] = {12, 8, 8, 8, 8, 9};
static const int64_t GPU_MEM[] = {34190917632LL, 25757220864LL, 25769803776LL,
                                  48305799168LL, 85899345920LL, 85520809984LL};
static const int CAP_IDS[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 14,
                              15, 16, 17, 18, 26, 27, 28, 29, 30, 31, 32, 34, 35, 36};
#define CAP_LV2V_IDX 26 /* CAP_IDS[26] == 35, live-video-to-video */
#define N_CAP_IDS ((int)(sizeof CAP_IDS / sizeof CAP_IDS[0]))

typedef struct orch {
    char hot[43];    /* hot wallet, lowercase (stream_trace / ai_stream_status / discovery) */
    char hot_cs[43]; /* the same address in mixed case (network_capabilities local_address) */
    char canon[43];  /* canonical (recipient) wallet, mixed case */
    char url[96];
    char version[32];
    char runner[32];
    char gpu_id[48];
    int gpu;
    int models[MAX_MODELS];
    int n_models;
    int price[MAX_MODELS];
    uint64_t caps_mask; /* bit i set → CAP_IDS[i] supported */
    int latency_ms;
} orch;

enum step {
    S_REQ,
    S_DISCOVERY,
    S_PAYMENT,
    S_SEND_FIRST,
    S_RUNNER_SEND_FIRST,
    S_STATUS_DEG_IN,
    S_STATUS_DEG_INF,
    S_STATUS_ONLINE,
    S_RECV_FIRST,
    S_RUNNER_RECV_FIRST,
    S_RECV_FEW,
    S_METRICS,
    S_SWAP,
    S_TRACE_NOORCH,
    S_ERR_NOORCH,
    S_ERR_DISCONNECT,
    S_CLOSED,
    S_ERR_PUBLISH,
    S_SWITCH_ORCH /* silent: the session moves to its second orchestrator */
};

typedef struct session {
    char stream_id[48];
    char request_id[9];
    char session_id[9];
    char params_hash[33];
    int pipeline, orch, orch2, gateway, sender;
    int64_t start_ts;
    uint64_t bytes_in, packets;
    int publish_seq;
    uint8_t script[SCRIPT_MAX];
    int n, pos;
} session;

struct weir_gen {
    weir_gen_options o;
    rng r;
    orch *orchs;
    session *sess;
    weir_buf *ring; /* dup_window buffers of recent valid lines */
    size_t ring_n, ring_pos;
    uint64_t next_nc;
    weir_gen_stats st;
    weir_gen_kind last;
    uint64_t sess_seq;
};

void weir_gen_options_default(weir_gen_options *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->sessions = 64;
    o->orchestrators = 16;
    o->base_ts_ms = 1767908945298LL;
    o->spacing_ms = 5;
    o->dup_window = 256;
}

static void make_addr(rng *r, char out[43], int mixed) {
    out[0] = '0';
    out[1] = 'x';
    uint64_t x = 0, m = rnext(r);
    for (int i = 0; i < 40; i++) {
        if ((i & 15) == 0) x = rnext(r);
        char c = HEX[x & 15];
        x >>= 4;
        if (mixed && c >= 'a' && (m >> (i & 63) & 1)) c = (char)(c - 'a' + 'A');
        out[2 + i] = c;
    }
    out[42] = '\0';
}

static void init_orch(weir_gen *g, orch *o, int idx) {
    rng *r = &g->r;
    make_addr(r, o->hot, 0);
    memcpy(o->hot_cs, o->hot, sizeof o->hot);
    uint64_t m = rnext(r);
    for (int i = 2; i < 42; i++)
        if (o->hot_cs[i] >= 'a' && (m >> (i & 63) & 1)) o->hot_cs[i] = (char)(o->hot_cs[i] - 32);
    make_addr(r, o->canon, 1);
    snprintf(o->url, sizeof o->url, "https://%s%d.%s:%d", HOST_A[rbelow(r, 10)], idx + 1,
             HOST_B[rbelow(r, 10)], 1000 + (int)rbelow(r, 59000));
    snprintf(o->version, sizeof o->version, "0.8.%d-%08llx", 7 + (int)rbelow(r, 3),
             (unsigned long long)(rnext(r) & 0xffffffffULL));
    snprintf(o->runner, sizeof o->runner, "0.14.%d-%08llx", (int)rbelow(r, 2),
             (unsigned long long)(rnext(r) & 0xffffffffULL));
    o->gpu = (int)rbelow(r, 6);
    uint64_t a = rnext(r), c = rnext(r);
    snprintf(o->gpu_id, sizeof o->gpu_id, "GPU-%08llx-%04llx-%04llx-%04llx-%012llx",
             (unsigned long long)(a & 0xffffffff), (unsigned long long)((a >> 32) & 0xffff),
             (unsigned long long)((a >> 48) & 0xffff), (unsigned long long)(c & 0xffff),
             (unsigned long long)((c >> 16) & 0xffffffffffffULL));
    o->n_models = 1 + (int)rbelow(r, MAX_MODELS);
    int first = (int)rbelow(r, N_PIPELINES);
    for (int i = 0; i < o->n_models; i++) {
        o->models[i] = (first + i) % N_PIPELINES;
        o->price[i] = 1000 + (int)rbelow(r, 3000);
    }
    /* a random subset of the catalog, always with 0..7 and 35 (live-video-to-video) */
    o->caps_mask = (rnext(r) & ((1ULL << N_CAP_IDS) - 1)) | 0xffULL | 1ULL << CAP_LV2V_IDX;
    o->latency_ms = 20 + (int)rbelow(r, 300);
}

static void script_push(session *s, int step) {
    if (s->n < SCRIPT_MAX) s->script[s->n++] = (uint8_t)step;
}

static void script_startup(session *s, rng *r) {
    script_push(s, S_REQ);
    script_push(s, S_DISCOVERY);
    script_push(s, S_PAYMENT);
    int first_status = rbelow(r, 4) == 0 ? 0 : 1; /* before or after the first segments */
    if (first_status == 0) script_push(s, S_STATUS_DEG_IN);
    if (rbelow(r, 3) == 0) {
        script_push(s, S_RUNNER_SEND_FIRST);
        script_push(s, S_SEND_FIRST);
    } else {
        script_push(s, S_SEND_FIRST);
        script_push(s, S_RUNNER_SEND_FIRST);
    }
    if (first_status) {
        uint64_t k = rbelow(r, 10);
        script_push(s, k < 5 ? S_STATUS_DEG_IN : k < 9 ? S_STATUS_ONLINE : S_STATUS_DEG_INF);
    }
    script_push(s, S_RECV_FIRST);
    script_push(s, S_RUNNER_RECV_FIRST);
    script_push(s, S_RECV_FEW);
}

static void script_running(session *s, rng *r, int loops) {
    for (int i = 0; i < loops; i++) {
        script_push(s, S_METRICS);
        script_push(s, rbelow(r, 8) == 0 ? S_STATUS_DEG_IN : S_STATUS_ONLINE);
        if (i % 3 == 2) script_push(s, S_PAYMENT);
    }
}

static void script_close(session *s, rng *r) {
    if (rbelow(r, 4) == 0) {
        script_push(s, S_CLOSED);
        script_push(s, S_ERR_DISCONNECT);
    } else {
        script_push(s, S_ERR_DISCONNECT);
        script_push(s, S_CLOSED);
    }
}

static void init_session(weir_gen *g, session *s, int64_t ts) {
    rng *r = &g->r;
    memset(s, 0, sizeof *s);
    if (rbelow(r, 2)) {
        uint64_t nanos = (uint64_t)ts * 1000000ULL + rbelow(r, 1000000);
        snprintf(s->stream_id, sizeof s->stream_id, "aiJobTesterStream-%llu",
                 (unsigned long long)nanos);
    } else {
        static const char B36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
        char a[7], b[9];
        for (int i = 0; i < 6; i++)
            a[i] = B36[rbelow(r, 36)];
        for (int i = 0; i < 8; i++)
            b[i] = B36[rbelow(r, 36)];
        a[6] = b[8] = '\0';
        snprintf(s->stream_id, sizeof s->stream_id, "stream-%s-%s", a, b);
    }
    uint64_t x = rnext(r);
    for (int i = 0; i < 8; i++)
        s->request_id[i] = HEX[(x >> (4 * i)) & 15];
    for (int i = 0; i < 8; i++)
        s->session_id[i] = HEX[(x >> (32 + 4 * i)) & 15];
    for (int i = 0; i < 32; i++)
        s->params_hash[i] = HEX[rbelow(r, 16)];
    s->orch = (int)rbelow(r, (uint64_t)g->o.orchestrators);
    s->orch2 =
        g->o.orchestrators > 1
            ? (s->orch + 1 + (int)rbelow(r, (uint64_t)g->o.orchestrators - 1)) % g->o.orchestrators
            : s->orch;
    const orch *o = &g->orchs[s->orch];
    s->pipeline = o->models[rbelow(r, (uint64_t)o->n_models)];
    s->gateway = (int)rbelow(r, N_GATEWAYS);
    s->sender = (int)rbelow(r, 4);
    s->start_ts = ts;
    uint64_t k = rbelow(r, 10);
    if (k < 6) { /* scenario 1: clean success, no swap */
        script_startup(s, r);
        script_running(s, r, 3 + (int)rbelow(r, 10));
        script_close(s, r);
    } else if (k < 8) { /* scenario 2: no orchestrator, then closed */
        script_push(s, S_REQ);
        if (rbelow(r, 2)) {
            script_push(s, S_TRACE_NOORCH);
            script_push(s, S_ERR_NOORCH);
        } else {
            script_push(s, S_ERR_NOORCH);
            script_push(s, S_TRACE_NOORCH);
        }
        script_close(s, r);
    } else { /* scenario 3: success with a swap */
        script_startup(s, r);
        script_running(s, r, 2 + (int)rbelow(r, 5));
        script_push(s, S_SWAP);
        if (rbelow(r, 2)) { /* as in production: no replacement, publish errors trail */
            script_push(s, S_TRACE_NOORCH);
            script_push(s, S_ERR_NOORCH);
            script_push(s, S_ERR_DISCONNECT);
            script_push(s, S_CLOSED);
            int n = 1 + (int)rbelow(r, 3);
            for (int i = 0; i < n; i++)
                script_push(s, S_ERR_PUBLISH);
        } else { /* the orchestrator changed */
            script_push(s, S_SWITCH_ORCH);
            script_push(s, S_SEND_FIRST);
            script_push(s, S_RECV_FIRST);
            script_running(s, r, 2 + (int)rbelow(r, 4));
            script_close(s, r);
        }
    }
}

/* ------------------------------------------------------------------ event writers */

enum mal { M_NONE, M_NO_ID, M_BAD_TYPE, M_BAD_VERSION, M_BAD_UTF8, M_EMPTY_REQ };

/** {"id":"<uuid>","type":"<type>","timestamp":"<ts>","gateway":"<gw>","data": */
static void w_head(weir_gen *g, weir_buf *b, const char *type, int64_t ts, int gw, int mal) {
    if (mal == M_NO_ID) {
        W(b, "{\"type\":\"");
    } else {
        W(b, "{\"id\":\"");
        w_uuid(b, &g->r);
        W(b, "\",\"type\":\"");
    }
    w_str(b, mal == M_BAD_TYPE ? "stream_heartbeat" : type);
    W(b, "\",\"timestamp\":\"");
    w_i64(b, ts);
    W(b, "\",\"gateway\":\"");
    w_str(b, GATEWAYS[gw]);
    if (mal == M_BAD_VERSION) W(b, "\",\"version\":\"2");
    W(b, "\",\"data\":");
}

static void w_orch_info(weir_buf *b, const orch *o) {
    if (!o) {
        W(b, "\"orchestrator_info\":{\"address\":\"\",\"url\":\"\"}");
        return;
    }
    W(b, "\"orchestrator_info\":{\"address\":\"");
    w_raw(b, o->hot, 42);
    W(b, "\",\"url\":\"");
    w_str(b, o->url);
    W(b, "\"}");
}

static void ev_trace(weir_gen *g, weir_buf *b, session *s, const char *ttype, int with_orch,
                     int64_t ts, int mal) {
    w_head(g, b, "stream_trace", ts, s->gateway, mal);
    w_c(b, '{');
    w_orch_info(b, with_orch ? &g->orchs[s->orch] : NULL);
    W(b, ",\"pipeline_id\":\"\",\"request_id\":\"");
    w_raw(b, s->request_id, 8);
    W(b, "\",\"stream_id\":\"");
    w_str(b, s->stream_id);
    W(b, "\",\"timestamp\":");
    w_i64(b, strncmp(ttype, "runner_", 7) == 0 ? ts - (int64_t)rbelow(&g->r, 120) : ts);
    W(b, ",\"type\":\"");
    w_str(b, ttype);
    W(b, "\"}}");
}

static void ev_event(weir_gen *g, weir_buf *b, session *s, int64_t ts, int kind, int mal) {
    w_head(g, b, "ai_stream_events", ts, s->gateway, M_NONE);
    W(b, "{\"capability\":\"\",\"message\":\"");
    if (mal == M_BAD_UTF8) {
        W(b, "bad \xff\xfe bytes \xc3\x28 in \xed\xa0\x80 message");
    } else if (kind == S_ERR_NOORCH) {
        W(b, "no orchestrators available");
    } else if (kind == S_ERR_DISCONNECT) {
        W(b, "mediamtx ingest disconnected");
    } else {
        const orch *o = &g->orchs[s->orch];
        W(b, "Error publishing, wrote ");
        w_u64(b, 300000 + rbelow(&g->r, 1700000));
        W(b, " dropping Post \\\"");
        w_str(b, o->url);
        W(b, "/ai/trickle/");
        w_hex(b, &g->r, 8);
        w_c(b, '/');
        w_u64(b, (uint64_t)++s->publish_seq + 3);
        W(b, "\\\": read tcp 172.19.0.");
        w_u64(b, 2 + rbelow(&g->r, 8));
        w_c(b, ':');
        w_u64(b, 32768 + rbelow(&g->r, 28000));
        W(b, "->217.155.59.172:1112: read: connection reset by peer");
    }
    W(b, "\",\"pipeline\":\"");
    w_str(b, PIPELINES[s->pipeline]);
    W(b, "\",\"pipeline_id\":\"\",\"request_id\":\"");
    if (mal != M_EMPTY_REQ) w_raw(b, s->request_id, 8);
    W(b, "\",\"stream_id\":\"");
    w_str(b, s->stream_id);
    W(b, "\",\"type\":\"error\"}}");
}

static void ev_status(weir_gen *g, weir_buf *b, session *s, int64_t ts, const char *state) {
    rng *r = &g->r;
    int degraded_in = strcmp(state, "DEGRADED_INPUT") == 0;
    w_head(g, b, "ai_stream_status", ts, s->gateway, M_NONE);
    W(b, "{\"inference_status\":{\"fps\":");
    if (degraded_in && rbelow(r, 2))
        w_c(b, '0');
    else
        w_dbl(b, r, 12 + rbelow(r, 12), 15);
    W(b, ",\"last_error\":null,\"last_error_time\":null,\"last_output_time\":");
    w_i64(b, ts - (int64_t)rbelow(r, 100));
    if (s->params_hash[0] < '8') {
        W(b, ",\"last_params\":{\"height\":512,\"width\":512},\"last_params_hash\":\"");
    } else {
        W(b, ",\"last_params\":{},\"last_params_hash\":\"");
    }
    w_raw(b, s->params_hash, 32);
    W(b, "\",\"last_params_update_time\":");
    w_i64(b, s->start_ts + 1);
    W(b, ",\"last_restart_logs\":null,\"last_restart_time\":null,\"restart_count\":0},"
         "\"input_status\":{\"fps\":");
    w_dbl(b, r, 15 + rbelow(r, 15), 15);
    W(b, ",\"last_input_time\":");
    w_i64(b, ts - (int64_t)rbelow(r, 100));
    W(b, "},\"last_state_update_time\":");
    w_i64(b, ts - (int64_t)rbelow(r, 3000));
    W(b, ",\"last_status_timestamp\":");
    w_i64(b, s->start_ts);
    w_c(b, ',');
    w_orch_info(b, &g->orchs[s->orch]);
    W(b, ",\"pipeline\":\"");
    w_str(b, PIPELINES[s->pipeline]);
    W(b, "\",\"pipeline_id\":\"\",\"request_id\":\"");
    w_raw(b, s->request_id, 8);
    W(b, "\",\"start_time\":");
    w_i64(b, s->start_ts);
    W(b, ",\"state\":\"");
    w_str(b, state);
    W(b, "\",\"stream_id\":\"");
    w_str(b, s->stream_id);
    W(b, "\",\"timestamp\":");
    w_i64(b, ts - (int64_t)rbelow(r, 50));
    W(b, ",\"type\":\"status\"}}");
}

static void ev_metrics(weir_gen *g, weir_buf *b, session *s, int64_t ts) {
    rng *r = &g->r;
    s->bytes_in += 200000 + rbelow(r, 400000);
    s->packets += 200 + rbelow(r, 400);
    double secs = (double)(ts - s->start_ts) / 1000.0;
    w_head(g, b, "stream_ingest_metrics", ts, s->gateway, M_NONE);
    W(b, "{\"pipeline_id\":\"\",\"request_id\":\"");
    w_raw(b, s->request_id, 8);
    W(b, "\",\"stats\":{\"peer_conn_stats\":{\"ID\":\"iceTransport\",\"BytesReceived\":");
    w_u64(b, s->bytes_in);
    W(b, ",\"BytesSent\":");
    w_u64(b, s->bytes_in / 100 + 1000);
    W(b, "},\"track_stats\":[{\"type\":\"video\",\"jitter\":");
    w_dbl(b, r, 5 + rbelow(r, 20), 15);
    W(b, ",\"packets_lost\":0,\"packets_received\":");
    w_u64(b, s->packets);
    W(b, ",\"packet_loss_pct\":0,\"rtt\":0,\"last_input_ts\":");
    w_dbl(b, r, (uint64_t)secs, 3);
    W(b, ",\"last_output_ts\":0,\"latency\":0},{\"type\":\"audio\",\"jitter\":");
    w_dbl(b, r, 10 + rbelow(r, 20), 14);
    W(b, ",\"packets_lost\":0,\"packets_received\":");
    w_u64(b, s->packets * 3 / 5);
    W(b, ",\"packet_loss_pct\":0,\"rtt\":0,\"last_input_ts\":");
    w_dbl(b, r, (uint64_t)secs, 4);
    W(b, ",\"last_output_ts\":0,\"latency\":0}],\"conn_quality\":\"");
    w_str(b, rbelow(r, 10) ? "good" : "bad");
    W(b, "\"},\"stream_id\":\"");
    w_str(b, s->stream_id);
    W(b, "\",\"timestamp\":");
    w_i64(b, ts);
    W(b, "}}");
}

static void ev_payment(weir_gen *g, weir_buf *b, session *s, int64_t ts) {
    rng *r = &g->r;
    const orch *o = &g->orchs[s->orch];
    w_head(g, b, "create_new_payment", ts, s->gateway, M_NONE);
    W(b, "{\"capability\":\"\",\"clientIP\":\"\",\"faceValue\":\"");
    w_u64(b, 1000000000000000ULL + rbelow(r, 3000000000000000ULL));
    W(b, " WEI\",\"manifestID\":\"");
    w_u64(b, 1 + rbelow(r, 99));
    w_c(b, '_');
    w_str(b, PIPELINES[s->pipeline]);
    W(b, "\",\"numTickets\":\"");
    w_u64(b, 1 + rbelow(r, 4));
    W(b, "\",\"orchestrator\":\"");
    w_str(b, o->url);
    W(b, "\",\"price\":\"");
    w_u64(b, 1000 + rbelow(r, 2000));
    w_c(b, '.');
    w_u64(b, 100 + rbelow(r, 900));
    W(b, " wei/pixel\",\"recipient\":\"");
    w_raw(b, o->canon, 42);
    W(b, "\",\"requestID\":\"");
    w_raw(b, s->request_id, 8);
    W(b, "\",\"sender\":\"");
    w_str(b, SENDERS[s->sender]);
    W(b, "\",\"sessionID\":\"");
    w_raw(b, s->session_id, 8);
    W(b, "\",\"winProb\":\"0.0009990010\"}}");
}

static void ev_discovery(weir_gen *g, weir_buf *b, session *s, int64_t ts) {
    rng *r = &g->r;
    w_head(g, b, "discovery_results", ts, s->gateway, M_NONE);
    w_c(b, '[');
    int n = 1 + (int)rbelow(r, 3);
    if (n > g->o.orchestrators) n = g->o.orchestrators;
    for (int i = 0; i < n; i++) {
        const orch *o = &g->orchs[(s->orch + i) % g->o.orchestrators];
        if (i) w_c(b, ',');
        W(b, "{\"address\":\"");
        w_raw(b, o->hot, 42);
        W(b, "\",\"latency_ms\":\"");
        w_u64(b, (uint64_t)o->latency_ms + rbelow(r, 40));
        W(b, "\",\"url\":\"");
        w_str(b, o->url);
        W(b, "\"}");
    }
    W(b, "]}");
}

static void ev_netcaps(weir_gen *g, weir_buf *b, int64_t ts) {
    rng *r = &g->r;
    w_head(g, b, "network_capabilities", ts, 0, M_NONE);
    w_c(b, '[');
    for (int k = 0; k < g->o.orchestrators; k++) {
        const orch *o = &g->orchs[k];
        if (k) w_c(b, ',');
        W(b, "{\"address\":\"");
        w_raw(b, o->canon, 42);
        W(b, "\",\"local_address\":\"");
        w_raw(b, o->hot_cs, 42);
        W(b, "\",\"orch_uri\":\"");
        w_str(b, o->url);
        W(b, "\",\"capabilities\":{\"bitstring\":[");
        uint64_t bits = 0;
        for (int i = 0; i < N_CAP_IDS; i++)
            if (o->caps_mask >> i & 1) bits |= 1ULL << CAP_IDS[i];
        w_u64(b, bits);
        W(b, "],\"capacities\":{");
        int first = 1;
        for (int i = 0; i < N_CAP_IDS; i++) {
            if (!(o->caps_mask >> i & 1)) continue;
            if (!first) w_c(b, ',');
            first = 0;
            w_c(b, '"');
            w_u64(b, (uint64_t)CAP_IDS[i]);
            W(b, "\":1");
        }
        W(b, "},\"version\":\"");
        w_str(b, o->version);
        W(b, "\",\"constraints\":{\"PerCapability\":{\"35\":{\"models\":{");
        for (int m = 0; m < o->n_models; m++) {
            if (m) w_c(b, ',');
            w_c(b, '"');
            w_str(b, PIPELINES[o->models[m]]);
            W(b, "\":{\"warm\":");
            w_str(b, m == 0 || rbelow(r, 2) ? "true" : "false");
            W(b, ",\"capacity\":1,\"runnerVersion\":\"");
            w_str(b, o->runner);
            W(b, "\",\"capacityInUse\":");
            w_u64(b, rbelow(r, 2));
            w_c(b, '}');
        }
        W(b, "}}}}},\"capabilities_prices\":[");
        for (int m = 0; m < o->n_models; m++) {
            if (m) w_c(b, ',');
            W(b, "{\"pricePerUnit\":");
            w_u64(b, (uint64_t)o->price[m]);
            W(b, ",\"pixelsPerUnit\":1,\"capability\":35,\"constraint\":\"");
            w_str(b, PIPELINES[o->models[m]]);
            W(b, "\"}");
        }
        W(b, "],\"hardware\":[");
        for (int m = 0; m < o->n_models; m++) {
            if (m) w_c(b, ',');
            W(b, "{\"pipeline\":\"live-video-to-video\",\"model_id\":\"");
            w_str(b, PIPELINES[o->models[m]]);
            W(b, "\",\"gpu_info\":{\"0\":{\"id\":\"");
            w_str(b, o->gpu_id);
            W(b, "\",\"name\":\"");
            w_str(b, GPUS[o->gpu]);
            W(b, "\",\"major\":");
            w_u64(b, (uint64_t)GPU_MAJOR[o->gpu]);
            W(b, ",\"memory_free\":");
            w_i64(b, GPU_MEM[o->gpu] - (int64_t)rbelow(r, (uint64_t)GPU_MEM[o->gpu] / 2));
            W(b, ",\"memory_total\":");
            w_i64(b, GPU_MEM[o->gpu]);
            W(b, "}}}");
        }
        W(b, "]}");
    }
    W(b, "]}");
}

/** Emits the next step of session @p s (replacing it with a new session when its script ended). */
static void ev_session_step(weir_gen *g, weir_buf *b, session *s, int64_t ts) {
    for (;;) {
        if (s->pos >= s->n) init_session(g, s, ts);
        int st = s->script[s->pos++];
        switch (st) {
        case S_REQ:
            ev_trace(g, b, s, "gateway_receive_stream_request", 0, ts, M_NONE);
            return;
        case S_DISCOVERY:
            ev_discovery(g, b, s, ts);
            return;
        case S_PAYMENT:
            ev_payment(g, b, s, ts);
            return;
        case S_SEND_FIRST:
            ev_trace(g, b, s, "gateway_send_first_ingest_segment", 1, ts, M_NONE);
            return;
        case S_RUNNER_SEND_FIRST:
            ev_trace(g, b, s, "runner_send_first_processed_segment", 1, ts, M_NONE);
            return;
        case S_STATUS_DEG_IN:
            ev_status(g, b, s, ts, "DEGRADED_INPUT");
            return;
        case S_STATUS_DEG_INF:
            ev_status(g, b, s, ts, "DEGRADED_INFERENCE");
            return;
        case S_STATUS_ONLINE:
            ev_status(g, b, s, ts, "ONLINE");
            return;
        case S_RECV_FIRST:
            ev_trace(g, b, s, "gateway_receive_first_processed_segment", 1, ts, M_NONE);
            return;
        case S_RUNNER_RECV_FIRST:
            ev_trace(g, b, s, "runner_receive_first_ingest_segment", 1, ts, M_NONE);
            return;
        case S_RECV_FEW:
            ev_trace(g, b, s, "gateway_receive_few_processed_segments", 1, ts, M_NONE);
            return;
        case S_METRICS:
            ev_metrics(g, b, s, ts);
            return;
        case S_SWAP:
            ev_trace(g, b, s, "orchestrator_swap", 1, ts, M_NONE);
            return;
        case S_TRACE_NOORCH:
            ev_trace(g, b, s, "gateway_no_orchestrators_available", 0, ts, M_NONE);
            return;
        case S_CLOSED:
            ev_trace(g, b, s, "gateway_ingest_stream_closed", 0, ts, M_NONE);
            return;
        case S_ERR_NOORCH:
        case S_ERR_DISCONNECT:
        case S_ERR_PUBLISH:
            ev_event(g, b, s, ts, st, M_NONE);
            return;
        case S_SWITCH_ORCH: {
            s->orch = s->orch2;
            const orch *o = &g->orchs[s->orch];
            int ok = 0;
            for (int i = 0; i < o->n_models; i++)
                ok |= o->models[i] == s->pipeline;
            if (!ok) s->pipeline = o->models[0];
            continue;
        }
        default:
            continue;
        }
    }
}

static void ev_malformed(weir_gen *g, weir_buf *b, int64_t ts) {
    rng *r = &g->r;
    session *s = &g->sess[rbelow(r, (uint64_t)g->o.sessions)];
    if (s->n == 0) init_session(g, s, ts);
    switch (rbelow(r, 8)) {
    case 0: { /* truncated JSON: a proper prefix of an object is never valid */
        ev_status(g, b, s, ts, "ONLINE");
        b->len = 1 + rbelow(r, b->len - 1);
        break;
    }
    case 1: { /* binary garbage (no '\n'), starting with a byte that cannot start JSON */
        size_t n = 8 + rbelow(r, 120);
        if (weir_buf_reserve(b, n)) return;
        for (size_t i = 0; i < n; i++) {
            uint8_t c = (uint8_t)rnext(r);
            if (c == '\n' || c == '\r') c = 0x01;
            b->data[b->len + i] = (char)c;
        }
        b->data[b->len] = (char)0xfe;
        b->len += n;
        break;
    }
    case 2:
        ev_event(g, b, s, ts, S_ERR_DISCONNECT, M_BAD_UTF8);
        break;
    case 3:
        ev_trace(g, b, s, "gateway_receive_stream_request", 0, ts, M_NO_ID);
        break;
    case 4:
        ev_event(g, b, s, ts, S_ERR_DISCONNECT, M_EMPTY_REQ);
        break;
    case 5:
        ev_trace(g, b, s, "gateway_receive_stream_request", 0, ts, M_BAD_TYPE);
        break;
    case 6:
        ev_trace(g, b, s, "gateway_ingest_stream_closed", 0, ts, M_BAD_VERSION);
        break;
    default: { /* deeply nested arrays inside data */
        w_head(g, b, "ai_stream_events", ts, s->gateway, M_NONE);
        int depth = 2000;
        if (weir_buf_reserve(b, (size_t)depth * 2 + 2)) return;
        memset(b->data + b->len, '[', (size_t)depth);
        b->len += (size_t)depth;
        memset(b->data + b->len, ']', (size_t)depth);
        b->len += (size_t)depth;
        w_c(b, '}');
        break;
    }
    }
}

/* ------------------------------------------------------------------ API */

weir_gen *weir_gen_new(const weir_gen_options *opt) {
    weir_gen_options o;
    if (opt)
        o = *opt;
    else
        weir_gen_options_default(&o);
    if (!(o.dup_fraction >= 0 && o.dup_fraction <= 1 && o.malformed_fraction >= 0 &&
          o.malformed_fraction <= 1 && o.dup_fraction + o.malformed_fraction <= 1.0 + 1e-12))
        return NULL;
    if (o.sessions <= 0) o.sessions = 64;
    if (o.orchestrators <= 0) o.orchestrators = 16;
    if (o.base_ts_ms == 0) o.base_ts_ms = 1767908945298LL;
    if (o.spacing_ms == 0) o.spacing_ms = 5;
    if (o.dup_window <= 0) o.dup_window = 256;
    weir_gen *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->o = o;
    rseed(&g->r, o.seed);
    g->orchs = calloc((size_t)o.orchestrators, sizeof *g->orchs);
    g->sess = calloc((size_t)o.sessions, sizeof *g->sess);
    g->ring = calloc((size_t)o.dup_window, sizeof *g->ring);
    if (!g->orchs || !g->sess || !g->ring) {
        weir_gen_free(g);
        return NULL;
    }
    for (int i = 0; i < o.orchestrators; i++)
        init_orch(g, &g->orchs[i], i);
    /* every session starts at its first step; they interleave because steps pick sessions at
     * random, and a finished session is replaced by a fresh one */
    for (int i = 0; i < o.sessions; i++)
        init_session(g, &g->sess[i], o.base_ts_ms);
    return g;
}

int weir_gen_next(weir_gen *g, weir_buf *out) {
    if (g->o.count && g->st.events >= g->o.count) return 0;
    weir_buf_reset(out);
    int64_t ts = g->o.base_ts_ms + (int64_t)g->st.events * g->o.spacing_ms;
    double u = runit(&g->r);
    if (u < g->o.malformed_fraction) {
        ev_malformed(g, out, ts);
        g->last = WEIR_GEN_MALFORMED;
        g->st.malformed++;
    } else if (u < g->o.malformed_fraction + g->o.dup_fraction && g->ring_n > 0) {
        const weir_buf *src =
            &g->ring[(g->ring_pos + g->o.dup_window - 1 - rbelow(&g->r, g->ring_n)) %
                     (size_t)g->o.dup_window];
        w_raw(out, src->data, src->len);
        g->last = WEIR_GEN_DUPLICATE;
        g->st.duplicates++;
    } else {
        if (g->st.events >= g->next_nc) {
            ev_netcaps(g, out, ts);
            g->next_nc = g->st.events + NC_EVERY;
        } else {
            ev_session_step(g, out, &g->sess[rbelow(&g->r, (uint64_t)g->o.sessions)], ts);
        }
        g->last = WEIR_GEN_VALID;
        if (g->o.dup_fraction > 0) {
            weir_buf *slot = &g->ring[g->ring_pos];
            weir_buf_reset(slot);
            w_raw(slot, out->data, out->len);
            if (slot->oom) return -1;
            if (slot->cap) slot->data[slot->len] = '\0';
            g->ring_pos = (g->ring_pos + 1) % (size_t)g->o.dup_window;
            if (g->ring_n < (size_t)g->o.dup_window) g->ring_n++;
        }
    }
    if (out->oom) return -1;
    if (out->cap) out->data[out->len] = '\0';
    g->st.events++;
    return 1;
}

weir_gen_kind weir_gen_last_kind(const weir_gen *g) {
    return g->last;
}

weir_gen_stats weir_gen_get_stats(const weir_gen *g) {
    return g->st;
}

void weir_gen_free(weir_gen *g) {
    if (!g) return;
    if (g->ring)
        for (int i = 0; i < g->o.dup_window; i++)
            weir_buf_free(&g->ring[i]);
    free(g->ring);
    free(g->sess);
    free(g->orchs);
    free(g);
}

/* ------------------------------------------------------------------ CLI */

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static int64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void gen_usage(FILE *f) {
    fputs("usage: weir gen [options]\n"
          "Generates synthetic Livepeer streaming events (JSON lines): all seven event families,\n"
          "many interleaved workflow sessions following the production lifecycles, periodic\n"
          "network_capabilities snapshots, optional duplicates and malformed lines.\n"
          "\n"
          "  --count N                events to produce (default 10000; 0 = until interrupted)\n"
          "  --seed S                 PRNG seed; same seed + options = same output (default 1)\n"
          "  --dup-fraction F         share of verbatim re-emitted recent events (default 0)\n"
          "  --malformed-fraction F   share of malformed lines (default 0)\n"
          "  --sessions N             concurrent workflow sessions (default 64)\n"
          "  --orchestrators N        orchestrator pool size (default 16)\n"
          "  --base-ts MS             timestamp of the first event, epoch ms\n"
          "  --spacing MS             event-time step between events, ms (default 5)\n"
          "  --rate EV_PER_S          bound the output rate (default 0 = unlimited)\n"
          "  --output FILE|-          write to FILE or stdout '-' (default -)\n"
          "  --kafka BOOTSTRAP        produce to Kafka instead (needs --topic)\n"
          "  --topic T                Kafka topic\n"
          "  --compression CODEC      producer compression.type: lz4 (default), none, gzip,\n"
          "                           snappy, zstd\n"
          "  --help                   this text\n"
          "At the end a JSON summary {count, duplicates, malformed, elapsed_ms} goes to stderr.\n",
          f);
}

static int parse_u64(const char *s, uint64_t *v) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return -1;
    *v = x;
    return 0;
}
static int parse_frac(const char *s, double *v) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !(x >= 0 && x <= 1)) return -1;
    *v = x;
    return 0;
}

static int64_t g_kafka_failed;
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (g_kafka_failed++ == 0)
            fprintf(stderr, "weir gen: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

int weir_cmd_gen(int argc, char **argv) {
    weir_gen_options o;
    weir_gen_options_default(&o);
    o.count = 10000;
    g_kafka_failed = 0;
    double rate = 0;
    const char *output = "-", *bootstrap = NULL, *topic = NULL, *compression = "lz4";
    static const struct option longopts[] = {{"count", required_argument, 0, 'n'},
                                             {"seed", required_argument, 0, 's'},
                                             {"dup-fraction", required_argument, 0, 'd'},
                                             {"malformed-fraction", required_argument, 0, 'm'},
                                             {"sessions", required_argument, 0, 'S'},
                                             {"orchestrators", required_argument, 0, 'O'},
                                             {"base-ts", required_argument, 0, 'b'},
                                             {"spacing", required_argument, 0, 'p'},
                                             {"rate", required_argument, 0, 'r'},
                                             {"output", required_argument, 0, 'o'},
                                             {"kafka", required_argument, 0, 'k'},
                                             {"topic", required_argument, 0, 't'},
                                             {"compression", required_argument, 0, 'c'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "n:s:d:m:S:O:b:p:r:o:k:t:c:h", longopts, NULL)) != -1) {
        uint64_t u = 0;
        int bad = 0;
        switch (c) {
        case 'n':
            bad = parse_u64(optarg, &o.count);
            break;
        case 's':
            bad = parse_u64(optarg, &o.seed);
            break;
        case 'd':
            bad = parse_frac(optarg, &o.dup_fraction);
            break;
        case 'm':
            bad = parse_frac(optarg, &o.malformed_fraction);
            break;
        case 'S':
            bad = parse_u64(optarg, &u) || u < 1 || u > 10000000;
            o.sessions = (int)u;
            break;
        case 'O':
            bad = parse_u64(optarg, &u) || u < 1 || u > 100000;
            o.orchestrators = (int)u;
            break;
        case 'b':
            bad = parse_u64(optarg, &u) || u == 0 || u > (uint64_t)INT64_MAX / 2;
            o.base_ts_ms = (int64_t)u;
            break;
        case 'p':
            bad = parse_u64(optarg, &u) || u == 0 || u > 86400000;
            o.spacing_ms = (int64_t)u;
            break;
        case 'r': {
            char *end;
            rate = strtod(optarg, &end);
            bad = end == optarg || *end || !(rate >= 0);
            break;
        }
        case 'o':
            output = optarg;
            break;
        case 'k':
            bootstrap = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'c':
            compression = optarg;
            break;
        case 'h':
            gen_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "weir gen: unknown or incomplete option '%s'\n", argv[optind - 1]);
            gen_usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "weir gen: invalid value '%s' (see weir gen --help)\n", optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weir gen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o.dup_fraction + o.malformed_fraction > 1.0) {
        fprintf(stderr, "weir gen: --dup-fraction + --malformed-fraction must be <= 1\n");
        return 2;
    }
    if ((bootstrap != NULL) != (topic != NULL)) {
        fprintf(stderr, "weir gen: --kafka and --topic go together\n");
        return 2;
    }

    weir_gen *g = weir_gen_new(&o);
    if (!g) {
        fprintf(stderr, "weir gen: cannot create the generator (out of memory)\n");
        return 1;
    }
    FILE *f = NULL;
    rd_kafka_t *rk = NULL;
    weir_buf ob = {0}; /* output chunk: lines are batched into ~1 MiB writes */
    int rc = 0;
    if (bootstrap) {
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
            rd_kafka_conf_set(conf, "linger.ms", "20", errstr, sizeof errstr) ||
            rd_kafka_conf_set(conf, "compression.type", compression, errstr, sizeof errstr) ||
            rd_kafka_conf_set(conf, "message.max.bytes", "16777216", errstr, sizeof errstr) ||
            rd_kafka_conf_set(conf, "message.timeout.ms", "30000", errstr, sizeof errstr) ||
            /* a random partition per message: the sticky partitioner piles whole batches onto a
             * few partitions, and the embedded Kafka keeps only ~5 MB of each */
            rd_kafka_conf_set(conf, "sticky.partitioning.linger.ms", "0", errstr, sizeof errstr)) {
            fprintf(stderr, "weir gen: kafka config: %s\n", errstr);
            rd_kafka_conf_destroy(conf);
            weir_gen_free(g);
            return 2;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!rk) {
            fprintf(stderr, "weir gen: cannot create the Kafka producer: %s\n", errstr);
            weir_gen_free(g);
            return 1;
        }
    } else if (strcmp(output, "-") == 0) {
        f = stdout;
    } else {
        f = fopen(output, "wb");
        if (!f) {
            fprintf(stderr, "weir gen: cannot open '%s': %s\n", output, strerror(errno));
            weir_gen_free(g);
            return 1;
        }
    }
    g_stop = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    weir_buf line = {0};
    int64_t t0 = mono_ns();
    uint64_t n = 0;
    int r = 1;
    while (!g_stop && (r = weir_gen_next(g, &line)) == 1) {
        if (rate > 0 && (n & 15) == 0) {
            int64_t due = t0 + (int64_t)((double)n * 1e9 / rate);
            int64_t now = mono_ns();
            if (due > now) {
                struct timespec ts = {(time_t)((due - now) / 1000000000LL),
                                      (long)((due - now) % 1000000000LL)};
                nanosleep(&ts, NULL);
            }
        }
        if (rk) {
            for (;;) {
                rd_kafka_resp_err_t e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(line.data, line.len),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    rd_kafka_poll(rk, 50); /* block until the queue drains */
                    if (g_stop || g_kafka_failed) break;
                    continue;
                }
                if (e) {
                    fprintf(stderr, "weir gen: produce failed: %s\n", rd_kafka_err2str(e));
                    rc = 1;
                }
                break;
            }
            if (rc || g_kafka_failed) { /* a delivery failure (e.g. unreachable) ends it */
                rc = 1;
                break;
            }
            rd_kafka_poll(rk, 0);
        } else {
            w_raw(&ob, line.data, line.len);
            w_c(&ob, '\n');
            if (ob.len >= (1u << 20)) {
                if (ob.oom || fwrite(ob.data, 1, ob.len, f) != ob.len) {
                    fprintf(stderr, "weir gen: write failed: %s\n",
                            ob.oom ? "out of memory" : strerror(errno));
                    rc = 1;
                    break;
                }
                ob.len = 0;
            }
        }
        n++;
    }
    if (!rc && r < 0 && !g_stop) {
        fprintf(stderr, "weir gen: out of memory\n");
        rc = 1;
    }
    if (rk) {
        rd_kafka_resp_err_t e = rd_kafka_flush(rk, rc ? 1000 : 60000);
        if (e && !rc) {
            fprintf(stderr, "weir gen: flush timed out, %d messages undelivered\n",
                    rd_kafka_outq_len(rk));
            rc = 1;
        }
        if (g_kafka_failed) rc = 1;
        rd_kafka_destroy(rk);
    } else if (f) {
        if (!rc && ob.len && fwrite(ob.data, 1, ob.len, f) != ob.len) rc = 1;
        if (fflush(f) != 0) {
            fprintf(stderr, "weir gen: write failed: %s\n", strerror(errno));
            rc = 1;
        }
        if (f != stdout && fclose(f) != 0) rc = 1;
    }
    weir_buf_free(&ob);
    int64_t elapsed_ms = (mono_ns() - t0) / 1000000;
    weir_gen_stats st = weir_gen_get_stats(g);
    fprintf(
        stderr, "{\"count\":%llu,\"duplicates\":%llu,\"malformed\":%llu,\"elapsed_ms\":%lld%s}\n",
        (unsigned long long)n, (unsigned long long)st.duplicates, (unsigned long long)st.malformed,
        (long long)elapsed_ms, g_kafka_failed ? ",\"delivery_failed\":true" : "");
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    weir_buf_free(&line);
    weir_gen_free(g);
    return rc;
}
