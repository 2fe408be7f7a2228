/*
 * test_golden_typed.c - weir's typed rows against the rows production really wrote.
 *
 * For every session of $WEIR_SHARED_DATA/real/scenarios/<snapshot>/<scenario>/<session>
 * (default ../shared/data relative to the working directory; skipped with a message when
 * absent), every event of <session>.events.jsonl is parsed with dd_parse_event() (from a
 * minimal accepted dd_event built here: id, type, timestamp, gateway, raw_json, source), and
 * every golden typed row of <session>.expected.jsonl (tables stream_trace_events,
 * ai_stream_status, ai_stream_events, network_capabilities) must have a weir row in the same
 * table that agrees on all key columns listed below. Golden values are read with weir_json.
 *
 * Comparison rules:
 *  - timestamps: the export writes ISO text ("2026-02-23T03:52:16.085000+00:00"), weir writes
 *    §7.1 text ("2026-02-23 03:52:16.085"): instants are compared, not text;
 *  - Float32 columns compare as float32 values (§7.1: any text with the same float32 is equal);
 *  - raw_json compares the compact re-serialisation of both texts: the export re-escaped
 *    some characters (e.g. '>' as \u003e) so the text differs while the JSON value is the same.
 *
 * Recorded differences between the golden rows and the spec (golden = what production wrote):
 *  - ai_stream_status golden rows carry `last_error_time`, a column the spec's §6.1 does not
 *    list (a later-revision column); weir follows the spec and does not emit it.
 *  - golden ai_stream_status, stream_trace_events and ai_stream_events rows have no
 *    `pipeline_id` column (the export did not select it); weir emits it per §6.1/§6.3/§6.5.
 *    Neither is a key column; both are skipped.
 *  - network_capabilities: golden orchestrator_address/local_address are lower-cased (Appendix
 *    A normalisation, which weir implements; baseline §6.4 and P6 keep the case), and golden
 *    rows carry source_event_id and the capability_* columns (Appendix A). The golden table is
 *    a ReplacingMergeTree keyed (orchestrator_address, orch_uri, model_id, event_timestamp), so
 *    of the per-GPU rows of one event only ONE survived (§14.9): production shows one row per
 *    event where weir emits one per GPU. The test therefore asks "is the golden row among
 *    weir's rows", never "same number of rows".
 *  - ai_stream_status.start_time is non-nullable in ClickHouse (§14.7): a golden
 *    1970-01-01 00:00:00 equals a weir JSON null.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jobs/common/coerce.h"
#include "jobs/dedup/dedup.h"
#include "weir/buf.h"
#include "weir/json.h"

/* Column kinds for the comparison. */
enum { C_STR, C_INT, C_F32, C_TS, C_RAW };

typedef struct col {
    const char *name;
    int kind;
} col;

static const col STATUS_COLS[] = {{"event_timestamp", C_TS},
                                  {"stream_id", C_STR},
                                  {"request_id", C_STR},
                                  {"gateway", C_STR},
                                  {"orchestrator_address", C_STR},
                                  {"orchestrator_url", C_STR},
                                  {"pipeline", C_STR},
                                  {"output_fps", C_F32},
                                  {"input_fps", C_F32},
                                  {"state", C_STR},
                                  {"restart_count", C_INT},
                                  {"last_error", C_STR},
                                  {"prompt_text", C_STR},
                                  {"prompt_width", C_INT},
                                  {"prompt_height", C_INT},
                                  {"params_hash", C_STR},
                                  {"start_time", C_TS},
                                  {"raw_json", C_RAW},
                                  {NULL, 0}};
static const col TRACE_COLS[] = {
    {"event_timestamp", C_TS},       {"stream_id", C_STR},        {"request_id", C_STR},
    {"orchestrator_address", C_STR}, {"orchestrator_url", C_STR}, {"trace_type", C_STR},
    {"data_timestamp", C_TS},        {"raw_json", C_RAW},         {NULL, 0}};
static const col EVENTS_COLS[] = {
    {"event_timestamp", C_TS}, {"stream_id", C_STR},  {"request_id", C_STR},
    {"pipeline", C_STR},       {"event_type", C_STR}, {"message", C_STR},
    {"capability", C_STR},     {"raw_json", C_RAW},   {NULL, 0}};
static const col NETCAPS_COLS[] = {{"event_timestamp", C_TS},
                                   {"source_event_id", C_STR},
                                   {"orchestrator_address", C_STR},
                                   {"local_address", C_STR},
                                   {"orch_uri", C_STR},
                                   {"gpu_id", C_STR},
                                   {"gpu_name", C_STR},
                                   {"gpu_memory_total", C_INT},
                                   {"gpu_memory_free", C_INT},
                                   {"gpu_major", C_INT},
                                   {"gpu_minor", C_INT},
                                   {"pipeline", C_STR},
                                   {"model_id", C_STR},
                                   {"capability_id", C_INT},
                                   {"capability_name", C_STR},
                                   {"capability_group", C_STR},
                                   {"capability_catalog_version", C_STR},
                                   {"runner_version", C_STR},
                                   {"capacity", C_INT},
                                   {"capacity_in_use", C_INT},
                                   {"warm", C_INT},
                                   {"price_per_unit", C_INT},
                                   {"pixels_per_unit", C_INT},
                                   {"orchestrator_version", C_STR},
                                   {"raw_json", C_RAW},
                                   {NULL, 0}};

typedef struct golden_table {
    const char *name;
    dd_table table;
    const col *cols;
    int64_t ts_offset_ms; /* golden instant - weir instant (see the file comment) */
    size_t rows, matched, columns;
} golden_table;

/* The export shows ai_stream_status, stream_trace_events and ai_stream_events instants exactly
 * +5 h (18 000 000 ms) after the event's epoch-ms timestamp, in both snapshots, for every row
 * and every timestamp column (event_timestamp, data_timestamp, start_time); network_capabilities
 * rows show the exact instant. Spec §7.1/U2 and P1-P3 fix the §7.1 text as UTC (1770062064713 →
 * 2026-02-02 19:54:24.713), so this is a time-zone artifact of how those three production
 * tables' DateTime64 columns interpreted the UTC text (a UTC-5 server/column time zone), not a
 * parser rule: weir keeps the spec's UTC text and the test allows exactly that constant offset
 * per table (and no other). */
#define FIVE_HOURS_MS 18000000LL
static golden_table TABLES[] = {
    {"ai_stream_status", DD_T_AI_STREAM_STATUS, STATUS_COLS, FIVE_HOURS_MS, 0, 0, 0},
    {"stream_trace_events", DD_T_STREAM_TRACE_EVENTS, TRACE_COLS, FIVE_HOURS_MS, 0, 0, 0},
    {"ai_stream_events", DD_T_AI_STREAM_EVENTS, EVENTS_COLS, FIVE_HOURS_MS, 0, 0, 0},
    {"network_capabilities", DD_T_NETWORK_CAPABILITIES, NETCAPS_COLS, 0, 0, 0, 0},
};
static int64_t g_ts_offset; /* offset of the table being compared */

/* ------------------------------------------------------------------------ weir rows */

typedef struct out_row {
    dd_table table;
    char *text;
    size_t len;
} out_row;

static out_row *g_rows;
static size_t g_nrows, g_cap;
static size_t g_nerr;
static char g_last_err[256];

static int on_row(void *ud, dd_table t, const char *row, size_t len) {
    (void)ud;
    if (g_nrows == g_cap) {
        g_cap = g_cap ? g_cap * 2 : 256;
        g_rows = realloc(g_rows, g_cap * sizeof *g_rows);
        assert_non_null(g_rows);
    }
    g_rows[g_nrows].table = t;
    g_rows[g_nrows].text = malloc(len + 1);
    memcpy(g_rows[g_nrows].text, row, len);
    g_rows[g_nrows].text[len] = '\0';
    g_rows[g_nrows].len = len;
    g_nrows++;
    return 0;
}

static int on_err(void *ud, dd_table t, wj_str msg) {
    (void)ud;
    snprintf(g_last_err, sizeof g_last_err, "%s: %.*s", dd_table_name(t), (int)msg.n,
             msg.s ? msg.s : "");
    g_nerr++;
    return 0;
}

static void clear_rows(void) {
    for (size_t i = 0; i < g_nrows; i++)
        free(g_rows[i].text);
    g_nrows = 0;
    g_nerr = 0;
}

/* ---------------------------------------------------------------------- helpers */

static weir_json_parser *g_evp, *g_gp, *g_wp, *g_rawa, *g_rawb;
static dd_parser *g_parser;

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = '\0';
    *len = got;
    return b;
}

/* Parses "YYYY-MM-DD[ T]HH:MM:SS[.fff…][+00:00|Z]" (UTC) into epoch ms. Returns 1 on success. */
static int parse_instant(const char *s, size_t n, int64_t *ms) {
    char buf[64];
    if (n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    int y, mo, d, h, mi, se, pos = 0;
    if (sscanf(buf, "%4d-%2d-%2d%*c%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &pos) != 6) return 0;
    int64_t frac = 0;
    int digits = 0;
    if (buf[pos] == '.') {
        pos++;
        while (buf[pos] >= '0' && buf[pos] <= '9') {
            if (digits < 3) frac = frac * 10 + (buf[pos] - '0');
            digits++;
            pos++;
        }
        while (digits < 3) {
            frac *= 10;
            digits++;
        }
    }
    if (buf[pos] && strcmp(buf + pos, "+00:00") != 0 && strcmp(buf + pos, "Z") != 0) return 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 1;
}

/* Compact re-serialisation of a JSON text into @p out (parsed with @p p). */
static int compact_of(weir_json_parser *p, const char *s, size_t n, weir_buf *out) {
    weir_json r;
    weir_error err = {0};
    if (weir_json_parse(p, s, n, &r, &err) != WEIR_OK) return 0;
    weir_buf_reset(out);
    weir_json_write_compact(out, r, NULL);
    return 1;
}

/* 1 if golden value @p g equals weir value @p w for a column of kind @p kind. */
static int values_equal(const char *name, int kind, weir_json g, weir_json w) {
    weir_json_type gt = weir_json_type_of(g), wt = weir_json_type_of(w);
    const char *gs, *ws;
    size_t gn, wn;
    if (kind == C_TS) {
        int64_t a = 0, b = 0;
        int ga = gt == WEIR_JSON_STRING && weir_json_string(g, &gs, &gn) == 0 &&
                 parse_instant(gs, gn, &a);
        int wb = wt == WEIR_JSON_STRING && weir_json_string(w, &ws, &wn) == 0 &&
                 parse_instant(ws, wn, &b);
        /* §14.7: non-nullable start_time stores null as 1970-01-01 00:00:00 */
        if (strcmp(name, "start_time") == 0 && wt == WEIR_JSON_NULL)
            return gt == WEIR_JSON_NULL || (ga && (a == 0 || a == g_ts_offset));
        if (gt == WEIR_JSON_NULL || wt == WEIR_JSON_NULL) return gt == wt;
        return ga && wb && a == b + g_ts_offset;
    }
    if (gt == WEIR_JSON_NULL || wt == WEIR_JSON_NULL) return gt == wt;
    switch (kind) {
    case C_STR:
        if (weir_json_string(g, &gs, &gn) != 0 || weir_json_string(w, &ws, &wn) != 0) return 0;
        return gn == wn && memcmp(gs, ws, gn) == 0;
    case C_INT:
        if (gt != WEIR_JSON_INT || wt != WEIR_JSON_INT) return 0;
        return weir_json_int(g) == weir_json_int(w);
    case C_F32:
        if (gt < WEIR_JSON_INT || gt > WEIR_JSON_DOUBLE || wt < WEIR_JSON_INT ||
            wt > WEIR_JSON_DOUBLE)
            return 0;
        return (float)weir_json_double(g) == (float)weir_json_double(w);
    case C_RAW: {
        static weir_buf a, b;
        if (weir_json_string(g, &gs, &gn) != 0 || weir_json_string(w, &ws, &wn) != 0) return 0;
        if (!compact_of(g_rawa, gs, gn, &a) || !compact_of(g_rawb, ws, wn, &b)) return 0;
        return a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
    }
    }
    return 0;
}

/* --------------------------------------------------------------------- the test */

static weir_buf g_sid, g_stype, g_sgw;

static void parse_events(const char *path) {
    size_t len = 0;
    char *text = read_file(path, &len);
    assert_non_null(text);
    clear_rows();
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ln = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (ln > 0) {
            weir_json root;
            weir_error err = {0};
            assert_int_equal(weir_json_parse(g_evp, line, ln, &root, &err), WEIR_OK);
            dd_event ev;
            memset(&ev, 0, sizeof ev);
            weir_buf_reset(&g_sid);
            weir_buf_reset(&g_stype);
            weir_buf_reset(&g_sgw);
            ev.event_id = wj_text(weir_json_get(root, "id"), wj_cstr(""), &g_sid);
            ev.event_type = wj_text(weir_json_get(root, "type"), wj_cstr(""), &g_stype);
            ev.gateway = wj_text(weir_json_get(root, "gateway"), wj_cstr(""), &g_sgw);
            ev.event_version = wj_cstr("1");
            assert_true(wj_ts(weir_json_get(root, "timestamp"), &ev.timestamp));
            ev.raw_json.s = weir_json_parser_text(g_evp, &ev.raw_json.n);
            ev.source.present = 1;
            ev.source.topic = wj_cstr("streaming_events");
            size_t before = g_nerr;
            assert_int_equal(dd_parse_event(g_parser, &ev, root, on_row, on_err, NULL), 0);
            if (g_nerr != before) fail_msg("%s: parse failure %s", path, g_last_err);
        }
        line += ln + 1;
    }
    free(text);
}

/* Checks every golden typed row of one session; returns the number of unmatched rows. */
static size_t check_session(const char *path) {
    size_t len = 0, unmatched = 0;
    char *text = read_file(path, &len);
    assert_non_null(text);
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ln = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        weir_json g;
        weir_error err = {0};
        if (ln > 0 && weir_json_parse(g_gp, line, ln, &g, &err) == WEIR_OK) {
            const char *tn;
            size_t tl;
            golden_table *gt = NULL;
            if (weir_json_string(weir_json_get(g, "__table"), &tn, &tl) == 0)
                for (size_t i = 0; i < sizeof TABLES / sizeof TABLES[0]; i++)
                    if (strlen(TABLES[i].name) == tl && memcmp(TABLES[i].name, tn, tl) == 0)
                        gt = &TABLES[i];
            if (gt) {
                gt->rows++;
                size_t ncols = 0, best = 0, best_row = (size_t)-1;
                int found = 0;
                while (gt->cols[ncols].name)
                    ncols++;
                g_ts_offset = gt->ts_offset_ms;
                for (size_t r = 0; r < g_nrows && !found; r++) {
                    if (g_rows[r].table != gt->table) continue;
                    weir_json w;
                    assert_int_equal(weir_json_parse(g_wp, g_rows[r].text, g_rows[r].len, &w, &err),
                                     WEIR_OK);
                    size_t agree = 0;
                    for (size_t c = 0; c < ncols; c++) {
                        weir_json gv = weir_json_get(g, gt->cols[c].name);
                        weir_json wv = weir_json_get(w, gt->cols[c].name);
                        if (weir_json_is_missing(gv))
                            fail_msg("%s: golden %s has no column %s", path, gt->name,
                                     gt->cols[c].name);
                        agree += (size_t)values_equal(gt->cols[c].name, gt->cols[c].kind, gv, wv);
                    }
                    if (agree == ncols) found = 1;
                    if (agree >= best) {
                        best = agree;
                        best_row = r;
                    }
                }
                if (found) {
                    gt->matched++;
                    gt->columns += ncols;
                } else {
                    unmatched++;
                    print_message("MISMATCH %s %s: golden %.*s\n", path, gt->name,
                                  (int)(ln > 600 ? 600 : ln), line);
                    if (best_row != (size_t)-1) {
                        weir_json w;
                        weir_json_parse(g_wp, g_rows[best_row].text, g_rows[best_row].len, &w,
                                        &err);
                        for (size_t c = 0; c < ncols; c++) {
                            weir_json gv = weir_json_get(g, gt->cols[c].name);
                            weir_json wv = weir_json_get(w, gt->cols[c].name);
                            if (!values_equal(gt->cols[c].name, gt->cols[c].kind, gv, wv)) {
                                weir_buf a = {0}, b = {0};
                                weir_json_write_compact(&a, gv, NULL);
                                weir_json_write_compact(&b, wv, NULL);
                                print_message("   column %s: golden %.200s weir %.200s\n",
                                              gt->cols[c].name, a.data ? a.data : "",
                                              b.data ? b.data : "(missing)");
                                weir_buf_free(&a);
                                weir_buf_free(&b);
                            }
                        }
                    }
                }
            }
        }
        line += ln + 1;
    }
    free(text);
    return unmatched;
}

static void test_golden_typed_rows(void **state) {
    (void)state;
    const char *d = getenv("WEIR_SHARED_DATA");
    char pattern[2048];
    snprintf(pattern, sizeof pattern, "%s/real/scenarios/*/*/*.events.jsonl",
             d && *d ? d : "../shared/data");
    glob_t gl;
    if (glob(pattern, 0, NULL, &gl) != 0 || gl.gl_pathc == 0) {
        print_message("SKIP: no scenario sessions match %s (set WEIR_SHARED_DATA)\n", pattern);
        skip();
    }
    g_evp = weir_json_parser_new();
    g_gp = weir_json_parser_new();
    g_wp = weir_json_parser_new();
    g_rawa = weir_json_parser_new();
    g_rawb = weir_json_parser_new();
    dd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    weir_error err = {0};
    g_parser = dd_parser_new(&cfg, &err);
    assert_non_null(g_parser);
    size_t unmatched = 0;
    for (size_t i = 0; i < gl.gl_pathc; i++) {
        char exp[2048];
        const char *ev = gl.gl_pathv[i];
        size_t n = strlen(ev) - strlen(".events.jsonl");
        snprintf(exp, sizeof exp, "%.*s.expected.jsonl", (int)n, ev);
        parse_events(ev);
        unmatched += check_session(exp);
    }
    size_t total_rows = 0, total_matched = 0, total_cols = 0;
    for (size_t i = 0; i < sizeof TABLES / sizeof TABLES[0]; i++) {
        print_message("golden %-22s rows %3zu matched %3zu (key columns compared %zu)\n",
                      TABLES[i].name, TABLES[i].rows, TABLES[i].matched, TABLES[i].columns);
        total_rows += TABLES[i].rows;
        total_matched += TABLES[i].matched;
        total_cols += TABLES[i].columns;
    }
    print_message("golden sessions %zu, typed rows %zu, matched %zu, column values agreeing %zu\n",
                  gl.gl_pathc, total_rows, total_matched, total_cols);
    globfree(&gl);
    clear_rows();
    free(g_rows);
    dd_parser_free(g_parser);
    weir_json_parser_free(g_evp);
    weir_json_parser_free(g_gp);
    weir_json_parser_free(g_wp);
    weir_json_parser_free(g_rawa);
    weir_json_parser_free(g_rawb);
    weir_buf_free(&g_sid);
    weir_buf_free(&g_stype);
    weir_buf_free(&g_sgw);
    assert_true(total_rows > 0);
    assert_int_equal(unmatched, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_typed_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
