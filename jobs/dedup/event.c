/*
 * jobs/dedup/event.c - binary encoding of an accepted event (dd_event) for the channels between
 * task threads (gate → keyBy → dedup → parsers).
 *
 * Layout (all integers little-endian, fixed width):
 *
 *   u8  format version (DD_EVENT_FORMAT = 1)
 *   u8  flags: bit 0 replay, bit 1 source.present
 *   i64 timestamp (epoch ms)
 *   i32 source.partition, i64 source.offset, i64 source.record_ts
 *   then 11 nullable strings in this order: source.topic, event_id, event_type, event_version,
 *   gateway, raw_json, dims.orchestrator, dims.broadcaster, dims.region, dedup_key,
 *   dedup_strategy; each is a u64 length followed by that many bytes, or the length
 *   UINT64_MAX (no bytes) for null. An empty string has length 0 and is not null.
 *
 * Invariants: decode consumes exactly the whole input (trailing bytes are an error), checks every
 * length against the remaining bytes before touching them, and never reads out of bounds.
 * dedup_strategy must decode to NULL, "event_id" or "payload_hash" and is returned as the static
 * string. Decoded slices point into the input bytes (no copies, no allocation).
 */
#include <string.h>

#include "jobs/dedup/dedup.h"

#define DD_EVENT_FORMAT 1
#define NULL_LEN UINT64_MAX

/* Stores @p v little-endian at @p p (a plain store on little-endian hosts). */
static inline unsigned char *st_u64(unsigned char *p, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
#endif
    return p + 8;
}

static inline unsigned char *st_u32(unsigned char *p, uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 4);
#else
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
#endif
    return p + 4;
}

static inline unsigned char *st_str(unsigned char *p, wj_str s) {
    if (!s.s) return st_u64(p, NULL_LEN);
    p = st_u64(p, (uint64_t)s.n);
    if (s.n) memcpy(p, s.s, s.n);
    return p + s.n;
}

/* Encoded size of a nullable string. */
static inline size_t str_size(wj_str s) {
    return 8 + (s.s ? s.n : 0);
}

/* One reservation for the whole record, then straight stores (this runs once per accepted event
 * on the gate's thread). */
void dd_event_encode(weir_buf *out, const dd_event *ev) {
    wj_str strategy = wj_cstr(ev->dedup_strategy);
    /* the 11 strings of the layout, in order */
    const wj_str strs[11] = {ev->source.topic,
                             ev->event_id,
                             ev->event_type,
                             ev->event_version,
                             ev->gateway,
                             ev->raw_json,
                             ev->dims.orchestrator,
                             ev->dims.broadcaster,
                             ev->dims.region,
                             ev->dedup_key,
                             strategy};
    size_t total = 2 + 8 + 4 + 8 + 8;
    for (int i = 0; i < 11; i++)
        total += str_size(strs[i]);
    if (weir_buf_reserve(out, total)) return;
    unsigned char *p = (unsigned char *)out->data + out->len;
    p[0] = DD_EVENT_FORMAT;
    p[1] = (unsigned char)((ev->replay ? 1 : 0) | (ev->source.present ? 2 : 0));
    p = st_u64(p + 2, (uint64_t)ev->timestamp);
    p = st_u32(p, (uint32_t)ev->source.partition);
    p = st_u64(p, (uint64_t)ev->source.offset);
    p = st_u64(p, (uint64_t)ev->source.record_ts);
    for (int i = 0; i < 11; i++)
        p = st_str(p, strs[i]);
    out->len += total;
    out->data[out->len] = '\0';
}

/* A bounded reader over the input bytes. */
typedef struct reader {
    const unsigned char *p;
    size_t n, off;
} reader;

static inline uint64_t ld_u64(const unsigned char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
#else
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
#endif
}

static inline int get_u64(reader *r, uint64_t *v) {
    if (r->n - r->off < 8) return -1;
    *v = ld_u64(r->p + r->off);
    r->off += 8;
    return 0;
}

static inline int get_u32(reader *r, uint32_t *v) {
    if (r->n - r->off < 4) return -1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(v, r->p + r->off, 4);
#else
    uint32_t x = 0;
    for (int i = 0; i < 4; i++)
        x |= (uint32_t)r->p[r->off + (size_t)i] << (8 * i);
    *v = x;
#endif
    r->off += 4;
    return 0;
}

static inline int get_str(reader *r, wj_str *s) {
    uint64_t len;
    if (get_u64(r, &len)) return -1;
    if (len == NULL_LEN) {
        *s = wj_null();
        return 0;
    }
    if (len > (uint64_t)(r->n - r->off)) return -1;
    s->s = (const char *)r->p + r->off;
    s->n = (size_t)len;
    r->off += (size_t)len;
    return 0;
}

weir_err dd_event_decode(const void *p, size_t n, dd_event *ev) {
    memset(ev, 0, sizeof *ev);
    reader r = {(const unsigned char *)p, n, 0};
    if (!p || n < 2 || r.p[0] != DD_EVENT_FORMAT || (r.p[1] & ~3u) != 0) return WEIR_EPARSE;
    ev->replay = r.p[1] & 1;
    ev->source.present = (r.p[1] >> 1) & 1;
    r.off = 2;
    uint64_t ts, off, rts;
    uint32_t part;
    wj_str strategy;
    if (get_u64(&r, &ts) || get_u32(&r, &part) || get_u64(&r, &off) || get_u64(&r, &rts) ||
        get_str(&r, &ev->source.topic) || get_str(&r, &ev->event_id) ||
        get_str(&r, &ev->event_type) || get_str(&r, &ev->event_version) ||
        get_str(&r, &ev->gateway) || get_str(&r, &ev->raw_json) ||
        get_str(&r, &ev->dims.orchestrator) || get_str(&r, &ev->dims.broadcaster) ||
        get_str(&r, &ev->dims.region) || get_str(&r, &ev->dedup_key) || get_str(&r, &strategy) ||
        r.off != r.n) {
        memset(ev, 0, sizeof *ev);
        return WEIR_EPARSE;
    }
    ev->timestamp = (int64_t)ts;
    ev->source.partition = (int32_t)part;
    ev->source.offset = (int64_t)off;
    ev->source.record_ts = (int64_t)rts;
    if (!strategy.s)
        ev->dedup_strategy = NULL;
    else if (strategy.n == 8 && memcmp(strategy.s, "event_id", 8) == 0)
        ev->dedup_strategy = "event_id";
    else if (strategy.n == 12 && memcmp(strategy.s, "payload_hash", 12) == 0)
        ev->dedup_strategy = "payload_hash";
    else {
        memset(ev, 0, sizeof *ev);
        return WEIR_EPARSE;
    }
    return WEIR_OK;
}
