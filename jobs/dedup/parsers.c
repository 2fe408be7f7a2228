/*
 * parsers.c - typed-row parsers of spec dedup-job.md §6.0-§6.7 plus the Appendix A deltas, and
 * the §7.1 row encoding (one compact JSON object per row, keys in table order).
 *
 * Data structures and invariants:
 *  - dd_parser owns a set of weir_bufs that are reset, never freed, between records, so the
 *    steady state does not allocate (buffers only grow to the largest record seen):
 *      row    the row being encoded; handed to the row callback, then reset;
 *      tmp    scratch for wj_text()/wj_ntext() conversions: reset before EVERY conversion and
 *             consumed (copied into another buffer) before the next one, so a slice into it is
 *             never used after a realloc;
 *      tmp2   second scratch (address normalisation, compact serialisation);
 *      f_*    pre-rendered JSON fragments for the network-capability fan-out: each fragment
 *             starts with ',' and is appended verbatim to every row that shares it (event
 *             prefix, orchestrator identity, orchestrator version + raw_json, hardware entry,
 *             GPU), so per-row work is a few memcpy.
 *  - The capability catalog is a sorted (ascending id, unique) array of entries whose name and
 *    group are stored pre-escaped as JSON string literals in `cat_pool`; entries reference the
 *    pool by offset (the pool never moves after dd_parser_new()).
 *  - Strings from the parsed document (wj_str slices) are borrowed from the document of the
 *    current event and never kept across calls.
 *
 * Row shapes (key order) are documented at each writer. The three Appendix A capability outputs
 * that the spec only sketches follow the later-revision ClickHouse DDL shapes:
 *
 *   network_capabilities_advertised (one row per key of O.capabilities.capacities):
 *     event_timestamp, source_event_id, orchestrator_address, local_address, orch_uri,
 *     capability_id, capability_name, capability_group, capability_catalog_version,
 *     capacity (nint of the value, Nullable), raw_json (compact orchestrator element)
 *   network_capabilities_model_constraints (one row per PerCapability.<cap>.models.<model>):
 *     event_timestamp, source_event_id, orchestrator_address, local_address, orch_uri,
 *     capability_id, capability_name, capability_group, capability_catalog_version, model_id,
 *     runner_version (ntext), capacity (nint), capacity_in_use (nint), warm (bool → 1/0, else
 *     nint), raw_json
 *   network_capabilities_prices (one row per capabilities_prices element):
 *     event_timestamp, source_event_id, orchestrator_address, local_address, orch_uri,
 *     capability_id (nint(elem.capability), -1 when absent), capability_name, capability_group,
 *     capability_catalog_version, constraint_name (ntext(elem.constraint)), price_per_unit (nint),
 *     pixels_per_unit (nint), raw_json
 *
 * Capability ids: an absent (or non-integer) capability resolves to id -1 with name/group
 * "unknown"; an integer id absent from the catalog keeps its number with name/group "unknown".
 * capability_catalog_version is always the loaded catalog's version. In the advertised and
 * model-constraint outputs a capacities / PerCapability key that is not a base-10 int32 is
 * skipped (no row), as the production parser did; a snapshot row whose matched PerCapability key
 * is not an integer falls back to the selected price's capability, else -1.
 * source_event_id is the accepted event's id ("" when it has none).
 *
 * Emission order for network_capabilities: per orchestrator (array order) its snapshot rows, then
 * its advertised, model-constraint and price rows. Failures are per output: the snapshot output
 * reports "No valid orchestrator data found" (bare message, §14.12 baseline choice) when it
 * produced no row (empty array, no hardware anywhere, data neither object nor array); the other
 * three never fail for lack of data (zero rows), only on out-of-memory. An output that failed
 * emits nothing more for that event while the others continue.
 *
 * Thread-safety: one dd_parser per task thread.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/common/codec.h"
#include "jobs/common/coerce.h"
#include "jobs/dedup/dedup.h"

/* Accessors of capability_catalog.c (it has no header; prototypes must match that file). */
const char *dd_capcat_builtin_version(void);
size_t dd_capcat_builtin_count(void);
int dd_capcat_builtin_entry(size_t i, int32_t *id, const char **name, const char **group);

/* ------------------------------------------------------------------------ parser state */

/* Key sets of the objects the single-row parsers read: each object's members are fetched with one
 * weir_json_get_many() pass instead of one member walk per column. The K_* constants index the
 * lists below and the values array a pass fills. */
enum { /* ai_stream_status data */
       SS_ORCH_INFO,
       SS_INFERENCE,
       SS_INPUT,
       SS_STREAM_ID,
       SS_REQUEST_ID,
       SS_PIPELINE,
       SS_PIPELINE_ID,
       SS_STATE,
       SS_START_TIME,
       SS__N
};
static const char *const SS_KEYS[SS__N] = {
    "orchestrator_info", "inference_status", "input_status", "stream_id", "request_id",
    "pipeline",          "pipeline_id",      "state",        "start_time"};
enum { /* ai_stream_status data.inference_status */
       IS_FPS,
       IS_RESTART_COUNT,
       IS_LAST_ERROR,
       IS_LAST_PARAMS,
       IS_LAST_PARAMS_HASH,
       IS__N
};
static const char *const IS_KEYS[IS__N] = {"fps", "restart_count", "last_error", "last_params",
                                           "last_params_hash"};
enum { /* stream_ingest_metrics data */
       IM_STATS,
       IM_STREAM_ID,
       IM_REQUEST_ID,
       IM_PIPELINE_ID,
       IM__N
};
static const char *const IM_KEYS[IM__N] = {"stats", "stream_id", "request_id", "pipeline_id"};
enum { /* stream_ingest_metrics data.stats */
       ST_TRACK_STATS,
       ST_CONN_QUALITY,
       ST_PEER_CONN_STATS,
       ST__N
};
static const char *const ST_KEYS[ST__N] = {"track_stats", "conn_quality", "peer_conn_stats"};
enum { /* one element of data.stats.track_stats; TR_TYPE first, the rest in column order */
       TR_TYPE,
       TR_JITTER,
       TR_PACKETS_RECEIVED,
       TR_PACKETS_LOST,
       TR_PACKET_LOSS_PCT,
       TR_RTT,
       TR_LAST_INPUT_TS,
       TR_LATENCY,
       TR__N
};
static const char *const TR_KEYS[TR__N] = {"type",          "jitter",          "packets_received",
                                           "packets_lost",  "packet_loss_pct", "rtt",
                                           "last_input_ts", "latency"};
enum { /* stream_trace data */
       TE_ORCH_INFO,
       TE_STREAM_ID,
       TE_REQUEST_ID,
       TE_PIPELINE_ID,
       TE_TYPE,
       TE_TIMESTAMP,
       TE__N
};
static const char *const TE_KEYS[TE__N] = {"orchestrator_info", "stream_id", "request_id",
                                           "pipeline_id",       "type",      "timestamp"};
enum { /* ai_stream_events data, in column order */
       AE_STREAM_ID,
       AE_REQUEST_ID,
       AE_PIPELINE,
       AE_PIPELINE_ID,
       AE_TYPE,
       AE_MESSAGE,
       AE_CAPABILITY,
       AE__N
};
static const char *const AE_KEYS[AE__N] = {"stream_id", "request_id", "pipeline",  "pipeline_id",
                                           "type",      "message",    "capability"};
/* create_new_payment data, in column order (see row_payment) */
#define PAY__N 12
static const char *const PAY_KEYS[PAY__N] = {
    "requestID", "sessionID", "manifestID", "sender",  "recipient", "orchestrator",
    "faceValue", "price",     "numTickets", "winProb", "clientIP",  "capability"};
enum { /* one discovery_results element */
       DR_ADDRESS,
       DR_URL,
       DR_LATENCY_MS,
       DR__N
};
static const char *const DR_KEYS[DR__N] = {"address", "url", "latency_ms"};

/* The key sets, in the order of dd_parser.ks. */
enum { KS_SS, KS_IS, KS_IM, KS_ST, KS_TR, KS_TE, KS_AE, KS_PAY, KS_DR, KS__COUNT };
static const struct {
    const char *const *keys;
    size_t n;
} KEY_SETS[KS__COUNT] = {{SS_KEYS, SS__N}, {IS_KEYS, IS__N},   {IM_KEYS, IM__N},
                         {ST_KEYS, ST__N}, {TR_KEYS, TR__N},   {TE_KEYS, TE__N},
                         {AE_KEYS, AE__N}, {PAY_KEYS, PAY__N}, {DR_KEYS, DR__N}};

/** One catalog entry: id plus offsets of the pre-escaped name/group literals in cat_pool. */
typedef struct cat_entry {
    int32_t id;
    size_t name_off, name_len;   /* `"Live video to video"` incl. quotes */
    size_t group_off, group_len; /* `"live-video"` incl. quotes */
} cat_entry;

struct dd_parser {
    weir_buf row, tmp, tmp2;
    weir_buf f_ts; /* {"event_timestamp":"…"                                       */
    weir_buf
        f_orch; /* ,"source_event_id":…,"orchestrator_address":…,"local_address":…,"orch_uri":… */
    weir_buf f_tail; /* ,"orchestrator_version":"…","raw_json":"…"}  (snapshot rows)   */
    weir_buf f_raw;  /* ,"raw_json":"…"}                            (extra capability rows) */
    weir_buf f_hw;   /* ,"pipeline":…,"model_id":…,capability…,…,"pixels_per_unit":…   */
    weir_buf f_gpu;  /* ,"gpu_id":…,…,"gpu_minor":…                                    */
    weir_buf cat_pool;
    cat_entry *cat;
    size_t n_cat;
    weir_buf cat_version;           /* pre-escaped literal, e.g. `"v1"` */
    weir_json_keyset ks[KS__COUNT]; /* KEY_SETS, prepared once */
};

/* ------------------------------------------------------------------- small encoders */

#define LIT(b, s) weir_buf_append((b), (s), sizeof(s) - 1)

static void put_str(weir_buf *b, wj_str s) {
    if (!s.s) {
        LIT(b, "\"\"");
        return;
    }
    weir_json_write_string(b, s.s, s.n);
}

static void put_nstr(weir_buf *b, wj_str s) {
    if (!s.s) {
        LIT(b, "null");
        return;
    }
    weir_json_write_string(b, s.s, s.n);
}

/* text(v, "") written as a String column. */
static void put_text(dd_parser *p, weir_buf *b, weir_json v) {
    weir_buf_reset(&p->tmp);
    put_str(b, wj_text(v, wj_cstr(""), &p->tmp));
}

/* ntext(v) written as a Nullable(String) column. */
static void put_ntext(dd_parser *p, weir_buf *b, weir_json v) {
    weir_buf_reset(&p->tmp);
    put_nstr(b, wj_ntext(v, &p->tmp));
}

static void put_nint(weir_buf *b, weir_json v) {
    int32_t x;
    if (wj_nint(v, &x))
        weir_buf_put_i64(b, x);
    else
        LIT(b, "null");
}

static void put_nlong(weir_buf *b, weir_json v) {
    int64_t x;
    if (wj_nlong(v, &x))
        weir_buf_put_i64(b, x);
    else
        LIT(b, "null");
}

/* Float32 column from ldouble(v, 0), Java Float.toString text (§7.1). Fast path: an integral
 * float32 below 1e7 in magnitude prints as its integer digits plus ".0" in Java (all such values
 * are exact and no shorter digit string round-trips), which covers most fps/latency/count values
 * and avoids the general shortest-digits search of weir_json_write_float_java(). */
static void put_f32(weir_buf *b, weir_json v) {
    float f = (float)wj_ldouble(v, 0.0);
    if (f > -1e7f && f < 1e7f && f == (float)(int32_t)f) {
        if (f == 0.0f && signbit(f)) {
            LIT(b, "-0.0");
            return;
        }
        weir_buf_put_i64(b, (int32_t)f);
        LIT(b, ".0");
        return;
    }
    weir_json_write_float_java(b, f);
}

static void put_ts(weir_buf *b, int64_t ms) {
    weir_buf_putc(b, '"');
    wj_format_ts(b, ms);
    weir_buf_putc(b, '"');
}

static void put_buf(weir_buf *dst, const weir_buf *src) {
    weir_buf_append(dst, src->data, src->len);
}

/* weir_json_get() with the key length folded at compile time (keys are literals). */
static inline weir_json jget(weir_json v, const char *k) {
    return weir_json_getn(v, k, strlen(k));
}

static int str_eq(wj_str s, const char *lit, size_t n) {
    return s.s && s.n == n && memcmp(s.s, lit, n) == 0;
}

/* Strict base-10 int32 (Java Integer.parseInt: optional sign, digits only). */
static int parse_i32(const char *s, size_t n, int32_t *out) {
    size_t i = 0;
    int neg = 0;
    if (n == 0) return 0;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
        if (n == 1) return 0;
    }
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
        if (v > 2147483648LL) return 0;
    }
    if (neg) v = -v;
    if (v > INT32_MAX || v < INT32_MIN) return 0;
    *out = (int32_t)v;
    return 1;
}

/* Emits the finished row; resets the buffer. Out of memory becomes a parse failure. */
static int emit(dd_parser *p, dd_table t, dd_row_fn row_fn, dd_parse_error_fn err_fn, void *ud,
                int *failed) {
    int rc;
    if (p->row.oom) {
        weir_buf_free(&p->row);
        *failed = 1;
        return err_fn ? err_fn(ud, t, wj_cstr("Out of memory while encoding row")) : 0;
    }
    rc = row_fn ? row_fn(ud, t, p->row.data, p->row.len) : 0;
    weir_buf_reset(&p->row);
    return rc;
}

static int fail(dd_parse_error_fn err_fn, void *ud, dd_table t, const char *msg) {
    return err_fn ? err_fn(ud, t, wj_cstr(msg)) : 0;
}

/* Restores scratch buffers that ran out of memory (they are unusable once oom is set). */
static void heal(weir_buf *b) {
    if (b->oom) weir_buf_free(b);
}

/* ------------------------------------------------------------------ capability catalog */

static int cat_add(dd_parser *p, size_t *cap, int32_t id, const char *name, size_t nn,
                   const char *group, size_t gn) {
    if (p->n_cat == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        cat_entry *ne = realloc(p->cat, nc * sizeof *ne);
        if (!ne) return -1;
        p->cat = ne;
        *cap = nc;
    }
    cat_entry *e = &p->cat[p->n_cat++];
    e->id = id;
    e->name_off = p->cat_pool.len;
    weir_json_write_string(&p->cat_pool, name, nn);
    e->name_len = p->cat_pool.len - e->name_off;
    e->group_off = p->cat_pool.len;
    weir_json_write_string(&p->cat_pool, group, gn);
    e->group_len = p->cat_pool.len - e->group_off;
    return p->cat_pool.oom ? -1 : 0;
}

/* Sorts by id; for duplicate ids the last definition wins (stable: keep the later index). */
static void cat_finish(dd_parser *p) {
    for (size_t i = 1; i < p->n_cat; i++) { /* stable insertion sort: catalogs are tiny */
        cat_entry e = p->cat[i];
        size_t j = i;
        while (j > 0 && p->cat[j - 1].id > e.id) {
            p->cat[j] = p->cat[j - 1];
            j--;
        }
        p->cat[j] = e;
    }
    size_t w = 0;
    for (size_t i = 0; i < p->n_cat; i++) {
        if (w > 0 && p->cat[w - 1].id == p->cat[i].id)
            p->cat[w - 1] = p->cat[i];
        else
            p->cat[w++] = p->cat[i];
    }
    p->n_cat = w;
}

static weir_err cat_load_builtin(dd_parser *p, weir_error *err) {
    size_t cap = 0, n = dd_capcat_builtin_count();
    for (size_t i = 0; i < n; i++) {
        int32_t id;
        const char *name, *group;
        dd_capcat_builtin_entry(i, &id, &name, &group);
        if (cat_add(p, &cap, id, name, strlen(name), group, strlen(group)))
            return weir_error_set(err, WEIR_ENOMEM, 0, "capability catalog: out of memory");
    }
    const char *v = dd_capcat_builtin_version();
    weir_json_write_string(&p->cat_version, v, strlen(v));
    cat_finish(p);
    return WEIR_OK;
}

/* Loads a catalog file shaped like capability_catalog.v1.json:
 * {"catalog_version":"v1","capabilities":[{"id":0,"name":"H.264","group":"transcoding"},…]}.
 * Entries without an integer id are skipped; a missing name/group becomes "unknown". */
static weir_err cat_load_file(dd_parser *p, const char *path, weir_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return weir_error_set(err, WEIR_EIO, 0, "capability catalog %s: %s", path, strerror(errno));
    weir_buf text = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        weir_buf_append(&text, chunk, got);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || text.oom) {
        weir_buf_free(&text);
        return weir_error_set(err, WEIR_EIO, 0, "capability catalog %s: read failed", path);
    }
    weir_json_parser *jp = weir_json_parser_new();
    if (!jp) {
        weir_buf_free(&text);
        return weir_error_set(err, WEIR_ENOMEM, 0, "capability catalog: out of memory");
    }
    weir_json root;
    weir_error perr = {0};
    weir_err rc = weir_json_parse(jp, text.data ? text.data : "", text.len, &root, &perr);
    if (rc != WEIR_OK || weir_json_type_of(root) != WEIR_JSON_OBJECT) {
        weir_json_parser_free(jp);
        weir_buf_free(&text);
        return weir_error_set(err, WEIR_EPARSE, 0, "capability catalog %s: not a JSON object (%s)",
                              path, perr.msg);
    }
    weir_json caps = jget(root, "capabilities");
    if (weir_json_type_of(caps) != WEIR_JSON_ARRAY) {
        weir_json_parser_free(jp);
        weir_buf_free(&text);
        return weir_error_set(err, WEIR_EPARSE, 0,
                              "capability catalog %s: missing \"capabilities\" array", path);
    }
    weir_buf scratch = {0};
    size_t cap = 0;
    weir_json_iter it = weir_json_iter_begin(caps);
    weir_json e;
    rc = WEIR_OK;
    while (weir_json_next(&it, NULL, NULL, &e)) {
        int32_t id;
        if (!wj_nint(jget(e, "id"), &id)) continue;
        weir_buf_reset(&scratch);
        wj_str nm = wj_text(jget(e, "name"), wj_cstr("unknown"), &scratch);
        weir_buf nm_copy = {0}; /* nm may live in scratch: copy it before the next conversion */
        weir_buf_append(&nm_copy, nm.s ? nm.s : "", nm.n);
        weir_buf_reset(&scratch);
        wj_str gr = wj_text(jget(e, "group"), wj_cstr("unknown"), &scratch);
        int bad = cat_add(p, &cap, id, nm_copy.data ? nm_copy.data : "", nm_copy.len,
                          gr.s ? gr.s : "", gr.n);
        weir_buf_free(&nm_copy);
        if (bad) {
            rc = weir_error_set(err, WEIR_ENOMEM, 0, "capability catalog: out of memory");
            break;
        }
    }
    if (rc == WEIR_OK) {
        weir_buf_reset(&scratch);
        wj_str v = wj_text(jget(root, "catalog_version"), wj_cstr("unknown"), &scratch);
        weir_json_write_string(&p->cat_version, v.s ? v.s : "", v.n);
        cat_finish(p);
    }
    weir_buf_free(&scratch);
    weir_json_parser_free(jp);
    weir_buf_free(&text);
    return rc;
}

static const cat_entry *cat_find(const dd_parser *p, int32_t id) {
    size_t lo = 0, hi = p->n_cat;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->cat[mid].id == id) return &p->cat[mid];
        if (p->cat[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Appends
 * ,"capability_id":N,"capability_name":…,"capability_group":…,"capability_catalog_version":…
 * (Appendix A: unknown id → name/group "unknown"; has_id == 0 → id -1). */
static void put_capability(const dd_parser *p, weir_buf *b, int has_id, int32_t id) {
    const cat_entry *e = has_id ? cat_find(p, id) : NULL;
    LIT(b, ",\"capability_id\":");
    weir_buf_put_i64(b, has_id ? id : -1);
    LIT(b, ",\"capability_name\":");
    if (e)
        weir_buf_append(b, p->cat_pool.data + e->name_off, e->name_len);
    else
        LIT(b, "\"unknown\"");
    LIT(b, ",\"capability_group\":");
    if (e)
        weir_buf_append(b, p->cat_pool.data + e->group_off, e->group_len);
    else
        LIT(b, "\"unknown\"");
    LIT(b, ",\"capability_catalog_version\":");
    put_buf(b, &p->cat_version);
}

/* --------------------------------------------------------------------- life cycle */

/* dd_parser_new (dedup.h): allocates the parser (its buffers grow lazily) and loads the capability
 * catalog: the built-in v1 table, or cfg->capability_catalog_path when non-empty (WEIR_EIO when
 * unreadable, WEIR_EPARSE when not a catalog object). NULL on failure with @p err filled. */
dd_parser *dd_parser_new(const dd_config *cfg, weir_error *err) {
    dd_parser *p = calloc(1, sizeof *p);
    if (!p) {
        weir_error_set(err, WEIR_ENOMEM, 0, "dd_parser_new: out of memory");
        return NULL;
    }
    for (int i = 0; i < KS__COUNT; i++)
        if (weir_json_keyset_init(&p->ks[i], KEY_SETS[i].keys, NULL, KEY_SETS[i].n)) {
            dd_parser_free(p); /* the lists above are fixed: cannot happen */
            weir_error_set(err, WEIR_EINTERNAL, 0, "dd_parser_new: bad key set %d", i);
            return NULL;
        }
    weir_err rc;
    if (cfg && cfg->capability_catalog_path[0])
        rc = cat_load_file(p, cfg->capability_catalog_path, err);
    else
        rc = cat_load_builtin(p, err);
    if (rc != WEIR_OK) {
        dd_parser_free(p);
        return NULL;
    }
    return p;
}

/* dd_parser_free (dedup.h): releases buffers and the catalog; NULL accepted. */
void dd_parser_free(dd_parser *p) {
    if (!p) return;
    weir_buf *bufs[] = {&p->row,   &p->tmp,  &p->tmp2,  &p->f_ts,     &p->f_orch,     &p->f_tail,
                        &p->f_raw, &p->f_hw, &p->f_gpu, &p->cat_pool, &p->cat_version};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        weir_buf_free(bufs[i]);
    free(p->cat);
    free(p);
}

/* -------------------------------------------------------------- single-row parsers */

/* Starts a row with {"event_timestamp":"…". */
static void row_begin(dd_parser *p, int64_t ts) {
    weir_buf_reset(&p->row);
    LIT(&p->row, "{\"event_timestamp\":");
    put_ts(&p->row, ts);
}

/* Ends a row with ,"raw_json":"<raw event>"}. */
static void row_end_raw(dd_parser *p, wj_str raw) {
    LIT(&p->row, ",\"raw_json\":");
    put_str(&p->row, raw);
    weir_buf_putc(&p->row, '}');
}

/* Appends ,"raw_event_uid":"<event id, or SHA-256 hex of the raw JSON when the id is blank>"
 * (Appendix A raw event uid; there is no precomputed uid in weir's accepted event). */
static void put_raw_event_uid(weir_buf *b, const dd_event *ev) {
    LIT(b, ",\"raw_event_uid\":");
    if (!wj_is_blank(ev->event_id)) {
        put_str(b, ev->event_id);
        return;
    }
    char hex[65];
    wj_sha256_hex(ev->raw_json.s ? ev->raw_json.s : "", ev->raw_json.n, hex);
    weir_buf_putc(b, '"');
    weir_buf_append(b, hex, 64);
    weir_buf_putc(b, '"');
}

#define K(name) LIT(&p->row, ",\"" name "\":")

/* §6.1 ai_stream_status: event_timestamp, stream_id, request_id, gateway, orchestrator_address,
 * orchestrator_url, pipeline, pipeline_id, output_fps, input_fps, state, restart_count,
 * last_error, prompt_text, prompt_width, prompt_height, params_hash, start_time, raw_json. */
static void row_ai_stream_status(dd_parser *p, const dd_event *ev, weir_json d) {
    weir_json v[SS__N], is[IS__N];
    weir_json_get_many(d, &p->ks[KS_SS], v);
    weir_json_get_many(v[SS_INFERENCE], &p->ks[KS_IS], is);
    weir_json oi = v[SS_ORCH_INFO], lp = is[IS_LAST_PARAMS];
    int64_t st;
    row_begin(p, ev->timestamp);
    K("stream_id");
    put_text(p, &p->row, v[SS_STREAM_ID]);
    K("request_id");
    put_text(p, &p->row, v[SS_REQUEST_ID]);
    K("gateway");
    put_str(&p->row, ev->gateway);
    K("orchestrator_address");
    put_text(p, &p->row, jget(oi, "address"));
    K("orchestrator_url");
    put_text(p, &p->row, jget(oi, "url"));
    K("pipeline");
    put_text(p, &p->row, v[SS_PIPELINE]);
    K("pipeline_id");
    put_text(p, &p->row, v[SS_PIPELINE_ID]);
    K("output_fps");
    put_f32(&p->row, is[IS_FPS]);
    K("input_fps");
    put_f32(&p->row, jget(v[SS_INPUT], "fps"));
    K("state");
    put_text(p, &p->row, v[SS_STATE]);
    K("restart_count");
    weir_buf_put_i64(&p->row, wj_lint(is[IS_RESTART_COUNT], 0));
    K("last_error");
    put_ntext(p, &p->row, is[IS_LAST_ERROR]);
    K("prompt_text");
    put_ntext(p, &p->row, jget(lp, "prompt"));
    K("prompt_width");
    weir_buf_put_i64(&p->row, wj_lint(jget(lp, "width"), 0));
    K("prompt_height");
    weir_buf_put_i64(&p->row, wj_lint(jget(lp, "height"), 0));
    K("params_hash");
    put_text(p, &p->row, is[IS_LAST_PARAMS_HASH]);
    K("start_time");
    if (wj_ts(v[SS_START_TIME], &st))
        put_ts(&p->row, st);
    else
        LIT(&p->row, "null");
    row_end_raw(p, ev->raw_json);
}

/* §6.2 stream_ingest_metrics. */
static void row_stream_ingest_metrics(dd_parser *p, const dd_event *ev, weir_json d) {
    weir_json v[IM__N], st[ST__N];
    weir_json_get_many(d, &p->ks[KS_IM], v);
    weir_json_get_many(v[IM_STATS], &p->ks[KS_ST], st);
    /* members of the last "video" / "audio" element (all MISSING when there is none: every
     * helper then yields its default) */
    weir_json track[2][TR__N], e, cur[TR__N];
    memset(track, 0, sizeof track);
    weir_json t = st[ST_TRACK_STATS];
    if (weir_json_type_of(t) == WEIR_JSON_ARRAY) {
        weir_json_iter it = weir_json_iter_begin(t);
        while (weir_json_next(&it, NULL, NULL, &e)) {
            const char *ty;
            size_t tn;
            weir_json_get_many(e, &p->ks[KS_TR], cur);
            /* text(type) equals exactly "video"/"audio": only a JSON string can */
            if (weir_json_string(cur[TR_TYPE], &ty, &tn) != 0 || tn != 5) continue;
            if (memcmp(ty, "video", 5) == 0) memcpy(track[0], cur, sizeof cur);
            if (memcmp(ty, "audio", 5) == 0) memcpy(track[1], cur, sizeof cur);
        }
    }
    row_begin(p, ev->timestamp);
    K("stream_id");
    put_text(p, &p->row, v[IM_STREAM_ID]);
    K("request_id");
    put_text(p, &p->row, v[IM_REQUEST_ID]);
    K("pipeline_id");
    put_text(p, &p->row, v[IM_PIPELINE_ID]);
    K("connection_quality");
    put_text(p, &p->row, st[ST_CONN_QUALITY]);
    for (int m = 0; m < 2; m++) {
        const weir_json *tr = track[m];
        weir_buf *r = &p->row;
        if (m == 0)
            LIT(r, ",\"video_jitter\":");
        else
            LIT(r, ",\"audio_jitter\":");
        put_f32(r, tr[TR_JITTER]);
        weir_buf_append(r, m ? ",\"audio_packets_received\":" : ",\"video_packets_received\":", 26);
        weir_buf_put_i64(r, wj_lint(tr[TR_PACKETS_RECEIVED], 0));
        weir_buf_append(r, m ? ",\"audio_packets_lost\":" : ",\"video_packets_lost\":", 22);
        weir_buf_put_i64(r, wj_lint(tr[TR_PACKETS_LOST], 0));
        weir_buf_append(r, m ? ",\"audio_packet_loss_pct\":" : ",\"video_packet_loss_pct\":", 25);
        put_f32(r, tr[TR_PACKET_LOSS_PCT]);
        weir_buf_append(r, m ? ",\"audio_rtt\":" : ",\"video_rtt\":", 13);
        put_f32(r, tr[TR_RTT]);
        weir_buf_append(r, m ? ",\"audio_last_input_ts\":" : ",\"video_last_input_ts\":", 23);
        put_f32(r, tr[TR_LAST_INPUT_TS]);
        weir_buf_append(r, m ? ",\"audio_latency\":" : ",\"video_latency\":", 17);
        put_f32(r, tr[TR_LATENCY]);
    }
    weir_json pcs = st[ST_PEER_CONN_STATS];
    int64_t n;
    K("bytes_received");
    weir_buf_put_i64(&p->row, wj_nlong(jget(pcs, "BytesReceived"), &n) ? n : 0);
    K("bytes_sent");
    weir_buf_put_i64(&p->row, wj_nlong(jget(pcs, "BytesSent"), &n) ? n : 0);
    row_end_raw(p, ev->raw_json);
}

/* §6.3 stream_trace_events: event_timestamp, stream_id, request_id, pipeline_id,
 * orchestrator_address, orchestrator_url, trace_type, data_timestamp, raw_json. */
static void row_stream_trace(dd_parser *p, const dd_event *ev, weir_json d) {
    weir_json v[TE__N];
    weir_json_get_many(d, &p->ks[KS_TE], v);
    weir_json oi = v[TE_ORCH_INFO];
    int64_t dts;
    row_begin(p, ev->timestamp);
    K("stream_id");
    put_text(p, &p->row, v[TE_STREAM_ID]);
    K("request_id");
    put_text(p, &p->row, v[TE_REQUEST_ID]);
    K("pipeline_id");
    put_text(p, &p->row, v[TE_PIPELINE_ID]);
    K("orchestrator_address");
    put_text(p, &p->row, jget(oi, "address"));
    K("orchestrator_url");
    put_text(p, &p->row, jget(oi, "url"));
    K("trace_type");
    put_text(p, &p->row, v[TE_TYPE]);
    K("data_timestamp");
    put_ts(&p->row, wj_ts(v[TE_TIMESTAMP], &dts) ? dts : ev->timestamp);
    row_end_raw(p, ev->raw_json);
}

/* §6.5 ai_stream_events: event_timestamp, stream_id, request_id, pipeline, pipeline_id,
 * event_type, message, capability, raw_json. */
static void row_ai_stream_events(dd_parser *p, const dd_event *ev, weir_json d) {
    static const char *const COLS[AE__N] = {
        ",\"stream_id\":",  ",\"request_id\":", ",\"pipeline\":",  ",\"pipeline_id\":",
        ",\"event_type\":", ",\"message\":",    ",\"capability\":"};
    weir_json v[AE__N];
    weir_json_get_many(d, &p->ks[KS_AE], v);
    row_begin(p, ev->timestamp);
    for (int i = 0; i < AE__N; i++) {
        weir_buf_puts(&p->row, COLS[i]);
        put_text(p, &p->row, v[i]);
    }
    row_end_raw(p, ev->raw_json);
}

/* §6.7 payment_events: event_timestamp, request_id, session_id, manifest_id, sender, recipient,
 * orchestrator, face_value, price, num_tickets, win_prob, client_ip, capability,
 * raw_event_uid (Appendix A), raw_json. */
static void row_payment(dd_parser *p, const dd_event *ev, weir_json d) {
    /* pre-rendered column keys, no formatting per row; source keys: PAY_KEYS, same order */
    static const char *const COLS[PAY__N] = {
        ",\"request_id\":",  ",\"session_id\":",   ",\"manifest_id\":", ",\"sender\":",
        ",\"recipient\":",   ",\"orchestrator\":", ",\"face_value\":",  ",\"price\":",
        ",\"num_tickets\":", ",\"win_prob\":",     ",\"client_ip\":",   ",\"capability\":"};
    weir_json v[PAY__N];
    weir_json_get_many(d, &p->ks[KS_PAY], v);
    row_begin(p, ev->timestamp);
    for (size_t i = 0; i < PAY__N; i++) {
        weir_buf_puts(&p->row, COLS[i]);
        put_text(p, &p->row, v[i]);
    }
    put_raw_event_uid(&p->row, ev);
    row_end_raw(p, ev->raw_json);
}

/* §6.6 discovery_results (fan-out): event_timestamp, orchestrator_address, orchestrator_url,
 * latency_ms, raw_event_uid (Appendix A), raw_json (compact element). */
static int parse_discovery(dd_parser *p, const dd_event *ev, weir_json d, dd_row_fn row_fn,
                           dd_parse_error_fn err_fn, void *ud) {
    const dd_table T = DD_T_DISCOVERY_RESULTS;
    if (weir_json_type_of(d) != WEIR_JSON_ARRAY || weir_json_size(d) == 0)
        return fail(err_fn, ud, T, "No valid discovery data found");
    weir_json_iter it = weir_json_iter_begin(d);
    weir_json x;
    int failed = 0, rc;
    while (weir_json_next(&it, NULL, NULL, &x)) {
        int32_t lat;
        weir_json v[DR__N];
        weir_json_get_many(x, &p->ks[KS_DR], v);
        row_begin(p, ev->timestamp);
        K("orchestrator_address");
        put_text(p, &p->row, v[DR_ADDRESS]);
        K("orchestrator_url");
        put_text(p, &p->row, v[DR_URL]);
        K("latency_ms");
        weir_buf_put_i64(&p->row, wj_nint(v[DR_LATENCY_MS], &lat) ? lat : 0);
        put_raw_event_uid(&p->row, ev);
        weir_buf_reset(&p->tmp2);
        weir_json_write_compact(&p->tmp2, x, NULL);
        K("raw_json");
        weir_json_write_string(&p->row, p->tmp2.data ? p->tmp2.data : "", p->tmp2.len);
        weir_buf_putc(&p->row, '}');
        if ((rc = emit(p, T, row_fn, err_fn, ud, &failed)) != 0 || failed) return rc;
    }
    return 0;
}

#undef K

/* --------------------------------------------------- network capabilities (Appendix A) */

/* Renders the orchestrator-level fragments f_orch, f_tail, f_raw for element @p o. */
static void nc_orchestrator(dd_parser *p, const dd_event *ev, weir_json o) {
    weir_buf *f = &p->f_orch;
    weir_buf_reset(f);
    LIT(f, ",\"source_event_id\":");
    put_str(f, ev->event_id);
    static const char *const ADDR[2][2] = {{",\"orchestrator_address\":", "address"},
                                           {",\"local_address\":", "local_address"}};
    for (int i = 0; i < 2; i++) {
        weir_buf_puts(f, ADDR[i][0]);
        weir_buf_reset(&p->tmp);
        weir_buf_reset(&p->tmp2);
        wj_normalize_address(&p->tmp2, wj_text(jget(o, ADDR[i][1]), wj_cstr(""), &p->tmp));
        weir_json_write_string(f, p->tmp2.data ? p->tmp2.data : "", p->tmp2.len);
    }
    LIT(f, ",\"orch_uri\":");
    put_text(p, f, jget(o, "orch_uri"));

    weir_buf_reset(&p->tmp2);
    weir_json_write_compact(&p->tmp2, o, NULL);
    weir_buf_reset(&p->f_raw);
    LIT(&p->f_raw, ",\"raw_json\":");
    weir_json_write_string(&p->f_raw, p->tmp2.data ? p->tmp2.data : "", p->tmp2.len);
    weir_buf_putc(&p->f_raw, '}');

    weir_buf_reset(&p->f_tail);
    LIT(&p->f_tail, ",\"orchestrator_version\":");
    put_text(p, &p->f_tail, jget(jget(o, "capabilities"), "version"));
    put_buf(&p->f_tail, &p->f_raw);
}

/* Starts a capability row: {"event_timestamp":…,"source_event_id":…,addresses…,"orch_uri":…. */
static void nc_row_begin(dd_parser *p) {
    weir_buf_reset(&p->row);
    put_buf(&p->row, &p->f_ts);
    put_buf(&p->row, &p->f_orch);
}

/* Model config selection of §6.4 step 4. Sets *cfg (MISSING when none) and *has_cap, *cap. */
static void nc_select_cfg(weir_json pc, wj_str model_id, weir_json *cfg, int *has_cap,
                          int32_t *cap) {
    const char *k;
    size_t kn;
    weir_json v;
    *cfg = (weir_json){0};
    *has_cap = 0;
    if (weir_json_type_of(pc) != WEIR_JSON_OBJECT) return;
    if (model_id.n > 0) {
        weir_json_iter it = weir_json_iter_begin(pc);
        while (weir_json_next(&it, &k, &kn, &v)) {
            weir_json models = jget(v, "models");
            if (weir_json_type_of(models) != WEIR_JSON_OBJECT) continue;
            weir_json c = weir_json_getn(models, model_id.s, model_id.n);
            if (weir_json_is_missing(c)) continue;
            *cfg = c;
            *has_cap = parse_i32(k, kn, cap);
            return;
        }
    }
    /* fallback: first model of the FIRST capability only (§14.10, reproduced as-is) */
    weir_json_iter it = weir_json_iter_begin(pc);
    if (!weir_json_next(&it, &k, &kn, &v)) return;
    weir_json models = jget(v, "models");
    if (weir_json_type_of(models) != WEIR_JSON_OBJECT || weir_json_size(models) == 0) return;
    weir_json_iter mi = weir_json_iter_begin(models);
    weir_json first;
    if (!weir_json_next(&mi, NULL, NULL, &first)) return;
    *cfg = first;
    *has_cap = parse_i32(k, kn, cap);
}

/* Price selection of §6.4 step 4 (first match, else P[0]; MISSING when P is not a non-empty array).
 */
static weir_json nc_select_price(dd_parser *p, weir_json prices, wj_str model_id, int has_cap,
                                 int32_t cap) {
    if (weir_json_type_of(prices) != WEIR_JSON_ARRAY || weir_json_size(prices) == 0)
        return (weir_json){0};
    weir_json_iter it = weir_json_iter_begin(prices);
    weir_json e;
    while (weir_json_next(&it, NULL, NULL, &e)) {
        int32_t c;
        if (has_cap && !(wj_nint(jget(e, "capability"), &c) && c == cap)) continue;
        if (model_id.n > 0) {
            weir_buf_reset(&p->tmp);
            wj_str con = wj_text(jget(e, "constraint"), wj_null(), &p->tmp);
            if (!con.s || con.n != model_id.n || memcmp(con.s, model_id.s, con.n) != 0) continue;
        }
        return e;
    }
    return weir_json_at(prices, 0);
}

/* warm: JSON boolean → 1/0, otherwise nint(cfg.warm); null without cfg. */
static void put_warm(weir_buf *b, weir_json cfg) {
    weir_json w = jget(cfg, "warm");
    if (weir_json_is_missing(cfg))
        LIT(b, "null");
    else if (weir_json_type_of(w) == WEIR_JSON_BOOL)
        weir_buf_putc(b, weir_json_bool(w) ? '1' : '0');
    else
        put_nint(b, w);
}

/* Snapshot rows of one orchestrator (§6.4 + Appendix A). Row key order (from the golden rows):
 * event_timestamp, source_event_id, orchestrator_address, local_address, orch_uri, gpu_id,
 * gpu_name, gpu_memory_total, gpu_memory_free, gpu_major, gpu_minor, pipeline, model_id,
 * capability_id, capability_name, capability_group, capability_catalog_version, runner_version,
 * capacity, capacity_in_use, warm, price_per_unit, pixels_per_unit, orchestrator_version,
 * raw_json. Adds the number of rows emitted to *n_rows. */
static int nc_snapshot(dd_parser *p, weir_json o, dd_row_fn row_fn, dd_parse_error_fn err_fn,
                       void *ud, size_t *n_rows, int *failed) {
    const dd_table T = DD_T_NETWORK_CAPABILITIES;
    weir_json caps = jget(o, "capabilities");
    weir_json pc = jget(jget(caps, "constraints"), "PerCapability");
    weir_json prices = jget(o, "capabilities_prices");
    weir_json hw = jget(o, "hardware");
    if (weir_json_type_of(hw) != WEIR_JSON_ARRAY || weir_json_size(hw) == 0) return 0;
    weir_json_iter hi = weir_json_iter_begin(hw);
    weir_json h;
    int rc;
    while (weir_json_next(&hi, NULL, NULL, &h)) {
        weir_buf *f = &p->f_hw;
        weir_json cfg, price;
        int has_cap;
        int32_t cap = 0;
        weir_buf_reset(f);
        LIT(f, ",\"pipeline\":");
        put_text(p, f, jget(h, "pipeline"));
        /* model_id is needed for matching: render it, then read it back from the fragment */
        LIT(f, ",\"model_id\":");
        weir_buf_reset(&p->tmp2);
        weir_buf_reset(&p->tmp);
        wj_str mid = wj_text(jget(h, "model_id"), wj_cstr(""), &p->tmp);
        weir_buf_append(&p->tmp2, mid.s ? mid.s : "", mid.n);
        put_str(f, mid);
        wj_str model_id = {p->tmp2.data ? p->tmp2.data : "", p->tmp2.len};
        nc_select_cfg(pc, model_id, &cfg, &has_cap, &cap);
        price = nc_select_price(p, prices, model_id, has_cap, cap);
        if (!has_cap && !weir_json_is_missing(price))
            has_cap = wj_nint(jget(price, "capability"), &cap);
        put_capability(p, f, has_cap, cap);
        LIT(f, ",\"runner_version\":");
        if (weir_json_is_missing(cfg))
            LIT(f, "null");
        else
            put_ntext(p, f, jget(cfg, "runnerVersion"));
        LIT(f, ",\"capacity\":");
        put_nint(f, jget(cfg, "capacity"));
        LIT(f, ",\"capacity_in_use\":");
        put_nint(f, jget(cfg, "capacityInUse"));
        LIT(f, ",\"warm\":");
        put_warm(f, cfg);
        LIT(f, ",\"price_per_unit\":");
        put_nint(f, jget(price, "pricePerUnit"));
        LIT(f, ",\"pixels_per_unit\":");
        put_nint(f, jget(price, "pixelsPerUnit"));

        weir_json gi = jget(h, "gpu_info");
        int per_gpu = weir_json_type_of(gi) == WEIR_JSON_OBJECT && weir_json_size(gi) > 0;
        weir_json_iter git = weir_json_iter_begin(gi);
        weir_json g = {0};
        for (;;) {
            if (per_gpu && !weir_json_next(&git, NULL, NULL, &g)) break;
            weir_buf *q = &p->f_gpu;
            weir_buf_reset(q);
            if (per_gpu) {
                LIT(q, ",\"gpu_id\":");
                put_ntext(p, q, jget(g, "id"));
                LIT(q, ",\"gpu_name\":");
                put_ntext(p, q, jget(g, "name"));
                LIT(q, ",\"gpu_memory_total\":");
                put_nlong(q, jget(g, "memory_total"));
                LIT(q, ",\"gpu_memory_free\":");
                put_nlong(q, jget(g, "memory_free"));
                LIT(q, ",\"gpu_major\":");
                put_nint(q, jget(g, "major"));
                LIT(q, ",\"gpu_minor\":");
                put_nint(q, jget(g, "minor"));
            } else {
                LIT(q, ",\"gpu_id\":null,\"gpu_name\":null,\"gpu_memory_total\":null,"
                       "\"gpu_memory_free\":null,\"gpu_major\":null,\"gpu_minor\":null");
            }
            nc_row_begin(p);
            put_buf(&p->row, q);
            put_buf(&p->row, f);
            put_buf(&p->row, &p->f_tail);
            (*n_rows)++;
            if ((rc = emit(p, T, row_fn, err_fn, ud, failed)) != 0 || *failed) return rc;
            if (!per_gpu) break;
        }
    }
    return 0;
}

/* Advertised rows: one per key of O.capabilities.capacities (shape in the file comment). */
static int nc_advertised(dd_parser *p, weir_json o, dd_row_fn row_fn, dd_parse_error_fn err_fn,
                         void *ud, int *failed) {
    weir_json capmap = jget(jget(o, "capabilities"), "capacities");
    weir_json_iter it = weir_json_iter_begin(capmap); /* yields nothing unless an object */
    const char *k;
    size_t kn;
    weir_json v;
    int rc;
    if (weir_json_type_of(capmap) != WEIR_JSON_OBJECT) return 0;
    while (weir_json_next(&it, &k, &kn, &v)) {
        int32_t id = 0;
        if (!parse_i32(k, kn, &id)) continue; /* not a capability id: skipped (as production) */
        nc_row_begin(p);
        put_capability(p, &p->row, 1, id);
        LIT(&p->row, ",\"capacity\":");
        put_nint(&p->row, v);
        put_buf(&p->row, &p->f_raw);
        if ((rc = emit(p, DD_T_NETWORK_CAPABILITIES_ADVERTISED, row_fn, err_fn, ud, failed)) != 0 ||
            *failed)
            return rc;
    }
    return 0;
}

/* Model-constraint rows: one per PerCapability.<cap>.models.<model> (shape in the file comment). */
static int nc_model_constraints(dd_parser *p, weir_json o, dd_row_fn row_fn,
                                dd_parse_error_fn err_fn, void *ud, int *failed) {
    weir_json pc = jget(jget(jget(o, "capabilities"), "constraints"), "PerCapability");
    const char *k, *mk;
    size_t kn, mkn;
    weir_json v, c;
    int rc;
    if (weir_json_type_of(pc) != WEIR_JSON_OBJECT) return 0;
    weir_json_iter it = weir_json_iter_begin(pc);
    while (weir_json_next(&it, &k, &kn, &v)) {
        weir_json models = jget(v, "models");
        if (weir_json_type_of(models) != WEIR_JSON_OBJECT) continue;
        int32_t id = 0;
        if (!parse_i32(k, kn, &id)) continue; /* not a capability id: skipped (as production) */
        weir_json_iter mi = weir_json_iter_begin(models);
        while (weir_json_next(&mi, &mk, &mkn, &c)) {
            nc_row_begin(p);
            put_capability(p, &p->row, 1, id);
            LIT(&p->row, ",\"model_id\":");
            weir_json_write_string(&p->row, mk, mkn);
            LIT(&p->row, ",\"runner_version\":");
            put_ntext(p, &p->row, jget(c, "runnerVersion"));
            LIT(&p->row, ",\"capacity\":");
            put_nint(&p->row, jget(c, "capacity"));
            LIT(&p->row, ",\"capacity_in_use\":");
            put_nint(&p->row, jget(c, "capacityInUse"));
            LIT(&p->row, ",\"warm\":");
            put_warm(&p->row, c);
            put_buf(&p->row, &p->f_raw);
            if ((rc = emit(p, DD_T_NETWORK_CAPABILITIES_MODEL_CONSTRAINTS, row_fn, err_fn, ud,
                           failed)) != 0 ||
                *failed)
                return rc;
        }
    }
    return 0;
}

/* Price rows: one per element of O.capabilities_prices (shape in the file comment). */
static int nc_prices(dd_parser *p, weir_json o, dd_row_fn row_fn, dd_parse_error_fn err_fn,
                     void *ud, int *failed) {
    weir_json prices = jget(o, "capabilities_prices");
    weir_json e;
    int rc;
    if (weir_json_type_of(prices) != WEIR_JSON_ARRAY) return 0;
    weir_json_iter it = weir_json_iter_begin(prices);
    while (weir_json_next(&it, NULL, NULL, &e)) {
        int32_t id = 0;
        int has = wj_nint(jget(e, "capability"), &id);
        nc_row_begin(p);
        put_capability(p, &p->row, has, id);
        LIT(&p->row, ",\"constraint_name\":");
        put_ntext(p, &p->row, jget(e, "constraint"));
        LIT(&p->row, ",\"price_per_unit\":");
        put_nint(&p->row, jget(e, "pricePerUnit"));
        LIT(&p->row, ",\"pixels_per_unit\":");
        put_nint(&p->row, jget(e, "pixelsPerUnit"));
        put_buf(&p->row, &p->f_raw);
        if ((rc = emit(p, DD_T_NETWORK_CAPABILITIES_PRICES, row_fn, err_fn, ud, failed)) != 0 ||
            *failed)
            return rc;
    }
    return 0;
}

/* The four network-capability outputs in one pass over the orchestrators. Each output has its
 * own failure state: once an output failed (only out-of-memory can fail the three extra ones)
 * it emits nothing more for this event while the others continue. The snapshot output fails
 * with "No valid orchestrator data found" when it produced no row (Appendix A: data may be one
 * orchestrator object or an array; an empty array or any other shape yields that failure). */
static int parse_network_capabilities(dd_parser *p, const dd_event *ev, weir_json d,
                                      dd_row_fn row_fn, dd_parse_error_fn err_fn, void *ud) {
    weir_json_type dt = weir_json_type_of(d);
    size_t n_snap = 0;
    int f_snap = 0, f_adv = 0, f_mc = 0, f_pr = 0, rc;
    weir_buf_reset(&p->f_ts);
    LIT(&p->f_ts, "{\"event_timestamp\":");
    put_ts(&p->f_ts, ev->timestamp);
    if (dt == WEIR_JSON_OBJECT || dt == WEIR_JSON_ARRAY) {
        weir_json_iter it = weir_json_iter_begin(d);
        weir_json o = d;
        for (;;) {
            if (dt == WEIR_JSON_ARRAY && !weir_json_next(&it, NULL, NULL, &o)) break;
            nc_orchestrator(p, ev, o);
            if (!f_snap && (rc = nc_snapshot(p, o, row_fn, err_fn, ud, &n_snap, &f_snap)) != 0)
                return rc;
            if (!f_adv && (rc = nc_advertised(p, o, row_fn, err_fn, ud, &f_adv)) != 0) return rc;
            if (!f_mc && (rc = nc_model_constraints(p, o, row_fn, err_fn, ud, &f_mc)) != 0)
                return rc;
            if (!f_pr && (rc = nc_prices(p, o, row_fn, err_fn, ud, &f_pr)) != 0) return rc;
            if (dt == WEIR_JSON_OBJECT) break;
        }
    }
    if (n_snap == 0 && !f_snap)
        return fail(err_fn, ud, DD_T_NETWORK_CAPABILITIES, "No valid orchestrator data found");
    return 0;
}

/* ---------------------------------------------------------------------- dispatch */

/* dd_parse_event (dedup.h): routes by event type (exact strings of §1); a type without a parser
 * yields no rows and no failure (unreachable after validation). Rows are passed to @p row_fn
 * (either callback may be NULL); the row text is valid only during the callback. */
int dd_parse_event(dd_parser *p, const dd_event *ev, weir_json root, dd_row_fn row_fn,
                   dd_parse_error_fn err_fn, void *ud) {
    wj_str ty = ev->event_type;
    weir_json d = jget(root, "data");
    int failed = 0;
    dd_table t;
    heal(&p->tmp);
    heal(&p->tmp2);
    heal(&p->f_ts);
    heal(&p->f_orch);
    heal(&p->f_tail);
    heal(&p->f_raw);
    heal(&p->f_hw);
    heal(&p->f_gpu);
    if (str_eq(ty, "ai_stream_status", 16))
        t = DD_T_AI_STREAM_STATUS;
    else if (str_eq(ty, "stream_ingest_metrics", 21))
        t = DD_T_STREAM_INGEST_METRICS;
    else if (str_eq(ty, "stream_trace", 12))
        t = DD_T_STREAM_TRACE_EVENTS;
    else if (str_eq(ty, "ai_stream_events", 16))
        t = DD_T_AI_STREAM_EVENTS;
    else if (str_eq(ty, "create_new_payment", 18))
        t = DD_T_PAYMENT_EVENTS;
    else if (str_eq(ty, "network_capabilities", 20))
        return parse_network_capabilities(p, ev, d, row_fn, err_fn, ud);
    else if (str_eq(ty, "discovery_results", 17))
        return parse_discovery(p, ev, d, row_fn, err_fn, ud);
    else
        return 0; /* unreachable after validation: no parser, no rows */
    weir_json_type dt = weir_json_type_of(d);
    if (dt == WEIR_JSON_MISSING || dt == WEIR_JSON_NULL) {
        /* §6.0: "Missing data payload for <type>" (unreachable after validation) */
        weir_buf_reset(&p->tmp2);
        LIT(&p->tmp2, "Missing data payload for ");
        weir_buf_append(&p->tmp2, ty.s, ty.n);
        return err_fn ? err_fn(ud, t, (wj_str){p->tmp2.data ? p->tmp2.data : "", p->tmp2.len}) : 0;
    }
    switch (t) {
    case DD_T_AI_STREAM_STATUS:
        row_ai_stream_status(p, ev, d);
        break;
    case DD_T_STREAM_INGEST_METRICS:
        row_stream_ingest_metrics(p, ev, d);
        break;
    case DD_T_STREAM_TRACE_EVENTS:
        row_stream_trace(p, ev, d);
        break;
    case DD_T_AI_STREAM_EVENTS:
        row_ai_stream_events(p, ev, d);
        break;
    default:
        row_payment(p, ev, d);
        break;
    }
    return emit(p, t, row_fn, err_fn, ud, &failed);
}
