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

static void put_u64(weir_buf *out, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    weir_buf_append(out, b, 8);
}

static void put_u32(weir_buf *out, uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    weir_buf_append(out, b, 4);
}

static void put_str(weir_buf *out, wj_str s) {
    if (!s.s) {
        put_u64(out, NULL_LEN);
        return;
    }
    put_u64(out, (uint64_t)s.n);
    weir_buf_append(out, s.s, s.n);
}

void dd_event_encode(weir_buf *out, const dd_event *ev) {
    unsigned char hdr[2];
    hdr[0] = DD_EVENT_FORMAT;
    hdr[1] = (unsigned char)((ev->replay ? 1 : 0) | (ev->source.present ? 2 : 0));
    weir_buf_append(out, hdr, 2);
    put_u64(out, (uint64_t)ev->timestamp);
    put_u32(out, (uint32_t)ev->source.partition);
    put_u64(out, (uint64_t)ev->source.offset);
    put_u64(out, (uint64_t)ev->source.record_ts);
    put_str(out, ev->source.topic);
    put_str(out, ev->event_id);
    put_str(out, ev->event_type);
    put_str(out, ev->event_version);
    put_str(out, ev->gateway);
    put_str(out, ev->raw_json);
    put_str(out, ev->dims.orchestrator);
    put_str(out, ev->dims.broadcaster);
    put_str(out, ev->dims.region);
    put_str(out, ev->dedup_key);
    put_str(out, wj_cstr(ev->dedup_strategy));
}

/* A bounded reader over the input bytes. */
typedef struct reader {
    const unsigned char *p;
    size_t n, off;
} reader;

static int get_u64(reader *r, uint64_t *v) {
    if (r->n - r->off < 8) return -1;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 8;
    *v = x;
    return 0;
}

static int get_u32(reader *r, uint32_t *v) {
    if (r->n - r->off < 4) return -1;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++)
        x |= (uint32_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 4;
    *v = x;
    return 0;
}

static int get_str(reader *r, wj_str *s) {
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
