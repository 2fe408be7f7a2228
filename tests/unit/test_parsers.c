/*
 * test_parsers.c - typed-row parsers (jobs/dedup/parsers.c): spec dedup-job.md §13.3 vectors
 * P1-P13 plus the Appendix A deltas weir implements (address normalisation, capability catalog,
 * the four network-capability outputs, raw_event_uid, object-shaped network_capabilities data).
 *
 * Fixtures are read in place from $WEIR_SHARED_DATA/fixtures (default ../shared/data relative
 * to the working directory); tests that need them are skipped with a message when absent.
 *
 * Harness: each event text is parsed with weir_json, a minimal accepted dd_event is built from
 * it (§3.5: id, type, timestamp, gateway, raw_json), dd_parse_event() runs with callbacks that
 * copy every row and every failure into a global list; rows are then re-parsed with a second
 * weir_json parser to check columns. Expected values come from the spec and the fixtures.
 *
 * Deviations from the baseline vectors (weir implements the Appendix A deltas):
 *  - P6/P7: orchestrator_address/local_address are trimmed and lower-cased.
 *  - P8: details stay the bare message (baseline; §14.12 choice), not the Java-class form.
 *  - discovery_results/payment_events rows carry raw_event_uid before raw_json.
 *  - network_capabilities rows carry source_event_id and the capability columns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs/common/coerce.h"
#include "jobs/dedup/dedup.h"
#include "weir/buf.h"
#include "weir/json.h"

/* ------------------------------------------------------------------------- harness */

typedef struct out_row {
    dd_table table;
    char *text;
    size_t len;
} out_row;

static out_row *g_rows;
static size_t g_nrows, g_cap_rows;
static dd_table g_err_table[16];
static char g_err_msg[16][256];
static size_t g_nerr;

static weir_json_parser *g_evp, *g_rowp;
static dd_parser *g_parser;
static dd_event g_ev;
static weir_buf g_sid, g_stype, g_sgw;

static int on_row(void *ud, dd_table t, const char *row, size_t len) {
    (void)ud;
    if (g_nrows == g_cap_rows) {
        g_cap_rows = g_cap_rows ? g_cap_rows * 2 : 256;
        g_rows = realloc(g_rows, g_cap_rows * sizeof *g_rows);
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
    assert_true(g_nerr < 16);
    g_err_table[g_nerr] = t;
    snprintf(g_err_msg[g_nerr], sizeof g_err_msg[0], "%.*s", (int)msg.n, msg.s ? msg.s : "");
    g_nerr++;
    return 0;
}

static void clear_out(void) {
    for (size_t i = 0; i < g_nrows; i++)
        free(g_rows[i].text);
    g_nrows = 0;
    g_nerr = 0;
}

/* Builds the accepted event of §3.5 (fields the parsers read) from the JSON text. */
static weir_json make_event(const char *json, size_t len) {
    weir_json root;
    weir_error err = {0};
    assert_int_equal(weir_json_parse(g_evp, json, len, &root, &err), WEIR_OK);
    memset(&g_ev, 0, sizeof g_ev);
    weir_buf_reset(&g_sid);
    weir_buf_reset(&g_stype);
    weir_buf_reset(&g_sgw);
    g_ev.event_id = wj_text(weir_json_get(root, "id"), wj_cstr(""), &g_sid);
    g_ev.event_type = wj_text(weir_json_get(root, "type"), wj_cstr(""), &g_stype);
    g_ev.gateway = wj_text(weir_json_get(root, "gateway"), wj_cstr(""), &g_sgw);
    g_ev.event_version = wj_cstr("1");
    assert_true(wj_ts(weir_json_get(root, "timestamp"), &g_ev.timestamp));
    size_t tl;
    const char *t = weir_json_parser_text(g_evp, &tl);
    g_ev.raw_json.s = t;
    g_ev.raw_json.n = tl;
    g_ev.source.present = 1;
    g_ev.source.topic = wj_cstr("streaming_events");
    g_ev.source.record_ts = 1710000000000LL;
    return root;
}

static void run_len(const char *json, size_t len) {
    clear_out();
    weir_json root = make_event(json, len);
    assert_int_equal(dd_parse_event(g_parser, &g_ev, root, on_row, on_err, NULL), 0);
}

static void run(const char *json) {
    run_len(json, strlen(json));
}

static size_t count_table(dd_table t) {
    size_t n = 0;
    for (size_t i = 0; i < g_nrows; i++)
        n += g_rows[i].table == t;
    return n;
}

/* The k-th (0-based) row of table t, parsed. */
static weir_json row_of(dd_table t, size_t k) {
    for (size_t i = 0; i < g_nrows; i++) {
        if (g_rows[i].table != t) continue;
        if (k-- == 0) {
            weir_json r;
            weir_error err = {0};
            if (weir_json_parse(g_rowp, g_rows[i].text, g_rows[i].len, &r, &err) != WEIR_OK)
                fail_msg("row is not JSON: %s (%s)", g_rows[i].text, err.msg);
            assert_int_equal(weir_json_type_of(r), WEIR_JSON_OBJECT);
            return r;
        }
    }
    fail_msg("no row %zu in table %s", k, dd_table_name(t));
    return (weir_json){0};
}

static const char *row_text(dd_table t, size_t k) {
    for (size_t i = 0; i < g_nrows; i++)
        if (g_rows[i].table == t && k-- == 0) return g_rows[i].text;
    return NULL;
}

static void col_str(weir_json r, const char *k, const char *want) {
    weir_json v = weir_json_get(r, k);
    if (!want) {
        if (weir_json_type_of(v) != WEIR_JSON_NULL) fail_msg("column %s: want null", k);
        return;
    }
    const char *s;
    size_t n;
    if (weir_json_string(v, &s, &n) != 0)
        fail_msg("column %s: not a string (want \"%s\")", k, want);
    if (n != strlen(want) || memcmp(s, want, n) != 0)
        fail_msg("column %s: got \"%.*s\", want \"%s\"", k, (int)n, s, want);
}

static void col_int(weir_json r, const char *k, int64_t want) {
    weir_json v = weir_json_get(r, k);
    if (weir_json_type_of(v) != WEIR_JSON_INT)
        fail_msg("column %s: not an integer (want %lld)", k, (long long)want);
    if (weir_json_int(v) != want)
        fail_msg("column %s: got %lld, want %lld", k, (long long)weir_json_int(v), (long long)want);
}

static void col_null(weir_json r, const char *k) {
    if (weir_json_type_of(weir_json_get(r, k)) != WEIR_JSON_NULL)
        fail_msg("column %s: want null", k);
}

/* Float32 column: any text that parses to the same float32 is equivalent (§7.1). */
static void col_f32(weir_json r, const char *k, double want) {
    weir_json v = weir_json_get(r, k);
    weir_json_type t = weir_json_type_of(v);
    if (t != WEIR_JSON_DOUBLE && t != WEIR_JSON_INT) fail_msg("column %s: not a number", k);
    if ((float)weir_json_double(v) != (float)want)
        fail_msg("column %s: got %.9g, want float32(%.17g)", k, weir_json_double(v), want);
}

/* Checks the exact key order of a row. */
static void keys_are(weir_json r, const char *const *keys) {
    weir_json_iter it = weir_json_iter_begin(r);
    const char *k;
    size_t kn, i = 0;
    weir_json v;
    while (weir_json_next(&it, &k, &kn, &v)) {
        if (!keys[i]) fail_msg("extra key %.*s", (int)kn, k);
        if (strlen(keys[i]) != kn || memcmp(keys[i], k, kn) != 0)
            fail_msg("key %zu: got %.*s, want %s", i, (int)kn, k, keys[i]);
        i++;
    }
    if (keys[i]) fail_msg("missing key %s", keys[i]);
}

static char *g_data_dir;

static char *load_fixture(const char *name, size_t *len) {
    char path[2048];
    snprintf(path, sizeof path, "%s/fixtures/%s", g_data_dir, name);
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

#define FIXTURE(var, len, name)                                                                    \
    size_t len = 0;                                                                                \
    char *var = load_fixture(name, &len);                                                          \
    if (!var) {                                                                                    \
        print_message("SKIP: fixture %s/fixtures/%s absent (set WEIR_SHARED_DATA)\n", g_data_dir,  \
                      name);                                                                       \
        skip();                                                                                    \
    }

static int setup(void **state) {
    (void)state;
    g_evp = weir_json_parser_new();
    g_rowp = weir_json_parser_new();
    weir_error err = {0};
    dd_config cfg;
    memset(&cfg, 0, sizeof cfg); /* built-in catalog: capability_catalog_path "" */
    g_parser = dd_parser_new(&cfg, &err);
    assert_non_null(g_parser);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    clear_out();
    free(g_rows);
    dd_parser_free(g_parser);
    weir_json_parser_free(g_evp);
    weir_json_parser_free(g_rowp);
    weir_buf_free(&g_sid);
    weir_buf_free(&g_stype);
    weir_buf_free(&g_sgw);
    return 0;
}

/* ---------------------------------------------------------------------- P1 - P13 */

static void test_p1_ai_stream_status(void **state) {
    (void)state;
    FIXTURE(json, len, "ai_stream_status.json");
    run_len(json, len);
    assert_int_equal(g_nerr, 0);
    assert_int_equal(g_nrows, 1);
    assert_int_equal(count_table(DD_T_AI_STREAM_STATUS), 1);
    static const char *const keys[] = {
        "event_timestamp",      "stream_id",        "request_id",   "gateway",
        "orchestrator_address", "orchestrator_url", "pipeline",     "pipeline_id",
        "output_fps",           "input_fps",        "state",        "restart_count",
        "last_error",           "prompt_text",      "prompt_width", "prompt_height",
        "params_hash",          "start_time",       "raw_json",     NULL};
    weir_json r = row_of(DD_T_AI_STREAM_STATUS, 0);
    keys_are(r, keys);
    col_str(r, "event_timestamp", "2026-02-02 19:54:24.713");
    col_str(r, "stream_id", "stream-0h8yoh-ml5l86hk");
    col_str(r, "request_id", "e66dd3fd");
    col_str(r, "gateway", "");
    col_str(r, "orchestrator_address", "0xcdf93b13efcf63f84f2affb01bec48a5c096c69e");
    col_str(r, "orchestrator_url", "https://rtv.nullworks.xyz:9924");
    col_str(r, "pipeline", "streamdiffusion-sdxl");
    col_str(r, "pipeline_id", "");
    col_f32(r, "output_fps", 23.584042845918553);
    col_f32(r, "input_fps", 24.083704770620216);
    col_str(r, "state", "ONLINE");
    col_int(r, "restart_count", 3);
    col_str(r, "last_error",
            "Error updating params: Cannot change output resolution mid-stream (Current "
            "resolution: (512, 512) "
            "requested resolution: (1024, 1024)). Output resolution (e.g. upscalers) can only be "
            "configured when "
            "starting a new stream.");
    col_null(r, "prompt_text");
    col_int(r, "prompt_width", 512);
    col_int(r, "prompt_height", 512);
    col_str(r, "params_hash", "f2f41bce75e30de92f8c308a6722859b");
    col_str(r, "start_time", "2026-02-02 19:53:44.704");
    col_str(r, "raw_json", json); /* whole file text, verbatim */
    free(json);
}

static void test_p2_stream_trace(void **state) {
    (void)state;
    FIXTURE(json, len, "stream_trace.json");
    run_len(json, len);
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_STREAM_TRACE_EVENTS), 1);
    static const char *const keys[] = {
        "event_timestamp",  "stream_id",  "request_id",     "pipeline_id", "orchestrator_address",
        "orchestrator_url", "trace_type", "data_timestamp", "raw_json",    NULL};
    weir_json r = row_of(DD_T_STREAM_TRACE_EVENTS, 0);
    keys_are(r, keys);
    col_str(r, "event_timestamp", "2026-02-02 20:06:27.846");
    col_str(r, "data_timestamp", "2026-02-02 20:06:27.846");
    col_str(r, "stream_id", "stream-qkqf2m-ml5lojrb");
    col_str(r, "request_id", "56bc6b29");
    col_str(r, "pipeline_id", "");
    col_str(r, "orchestrator_address", "");
    col_str(r, "orchestrator_url", "");
    col_str(r, "trace_type", "gateway_receive_stream_request");
    col_str(r, "raw_json", json);
    free(json);
}

static void test_p3_trace_no_data_timestamp(void **state) {
    (void)state;
    FIXTURE(json, len, "stream_trace.json");
    /* remove the line `"timestamp": 1770062787846,` inside data */
    const char *needle = "\"timestamp\": 1770062787846,";
    char *at = strstr(json, needle);
    assert_non_null(at);
    memmove(at, at + strlen(needle), strlen(at + strlen(needle)) + 1);
    run(json);
    assert_int_equal(g_nerr, 0);
    weir_json r = row_of(DD_T_STREAM_TRACE_EVENTS, 0);
    col_str(r, "data_timestamp", "2026-02-02 20:06:27.846");
    col_str(r, "event_timestamp", "2026-02-02 20:06:27.846");
    free(json);
}

static void test_p4_discovery(void **state) {
    (void)state;
    FIXTURE(json, len, "discovery_results.json");
    run_len(json, len);
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_DISCOVERY_RESULTS), 2);
    static const char *const keys[] = {"event_timestamp",
                                       "orchestrator_address",
                                       "orchestrator_url",
                                       "latency_ms",
                                       "raw_event_uid",
                                       "raw_json",
                                       NULL};
    weir_json r = row_of(DD_T_DISCOVERY_RESULTS, 0);
    keys_are(r, keys);
    col_str(r, "event_timestamp", "2026-02-02 19:53:44.627");
    col_str(r, "orchestrator_address", "0xcdf93b13efcf63f84f2affb01bec48a5c096c69e");
    col_str(r, "orchestrator_url", "https://rtv.nullworks.xyz:9924");
    col_int(r, "latency_ms", 84);
    col_str(r, "raw_event_uid",
            "8e1a4b12-57e5-41aa-bcf3-20ec51353656"); /* Appendix A: the event id */
    col_str(r, "raw_json",
            "{\"address\":\"0xcdf93b13efcf63f84f2affb01bec48a5c096c69e\",\"latency_ms\":\"84\","
            "\"url\":\"https://"
            "rtv.nullworks.xyz:9924\"}");
    r = row_of(DD_T_DISCOVERY_RESULTS, 1);
    col_str(r, "event_timestamp", "2026-02-02 19:53:44.627");
    col_str(r, "orchestrator_address", "0xedd45674825cd5a27c4c645014f37b9e402fdcbe");
    col_str(r, "orchestrator_url", "https://ai.nightnode.net:8888");
    col_int(r, "latency_ms", 119);
    free(json);
}

static void test_p5_discovery_latency(void **state) {
    (void)state;
    run("{\"id\":\"d5\",\"type\":\"discovery_results\",\"timestamp\":1710000000000,\"data\":["
        "{\"address\":\"0xa\",\"latency_ms\":\"84.5\"},{\"address\":\"0xb\",\"latency_ms\":84.9},"
        "{\"address\":\"0xc\",\"latency_ms\":\"abc\"},{\"address\":\"0xd\"},7]}");
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_DISCOVERY_RESULTS), 5);
    col_int(row_of(DD_T_DISCOVERY_RESULTS, 0), "latency_ms", 0);
    col_int(row_of(DD_T_DISCOVERY_RESULTS, 1), "latency_ms", 84);
    col_int(row_of(DD_T_DISCOVERY_RESULTS, 2), "latency_ms", 0);
    col_int(row_of(DD_T_DISCOVERY_RESULTS, 3), "latency_ms", 0);
    /* a non-object element still yields a row with empty fields (§6.6) */
    weir_json r = row_of(DD_T_DISCOVERY_RESULTS, 4);
    col_str(r, "orchestrator_address", "");
    col_str(r, "raw_json", "7");
    /* empty array: parse error */
    run("{\"id\":\"d6\",\"type\":\"discovery_results\",\"timestamp\":1,\"data\":[]}");
    assert_int_equal(g_nrows, 0);
    assert_int_equal(g_nerr, 1);
    assert_int_equal(g_err_table[0], DD_T_DISCOVERY_RESULTS);
    assert_string_equal(g_err_msg[0], "No valid discovery data found");
}

static const char *const SNAPSHOT_KEYS[] = {"event_timestamp",
                                            "source_event_id",
                                            "orchestrator_address",
                                            "local_address",
                                            "orch_uri",
                                            "gpu_id",
                                            "gpu_name",
                                            "gpu_memory_total",
                                            "gpu_memory_free",
                                            "gpu_major",
                                            "gpu_minor",
                                            "pipeline",
                                            "model_id",
                                            "capability_id",
                                            "capability_name",
                                            "capability_group",
                                            "capability_catalog_version",
                                            "runner_version",
                                            "capacity",
                                            "capacity_in_use",
                                            "warm",
                                            "price_per_unit",
                                            "pixels_per_unit",
                                            "orchestrator_version",
                                            "raw_json",
                                            NULL};

static void test_p6_net_caps(void **state) {
    (void)state;
    FIXTURE(json, len, "net_caps.json");
    run_len(json, len);
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES), 5);
    for (size_t i = 0; i < 5; i++) {
        weir_json r = row_of(DD_T_NETWORK_CAPABILITIES, i);
        keys_are(r, SNAPSHOT_KEYS);
        col_str(r, "event_timestamp", "2026-02-02 20:10:08.615");
        col_str(r, "pipeline", "live-video-to-video");
        col_str(r, "model_id", "streamdiffusion-sdxl");
        col_int(r, "warm", 1);
        /* Appendix A: capability 35 from the matched PerCapability key */
        col_int(r, "capability_id", 35);
        col_str(r, "capability_name", "Live video to video");
        col_str(r, "capability_group", "live-video");
        col_str(r, "capability_catalog_version", "v1");
    }
    static const char *const gpu[2] = {"GPU-1e7025d4-a3dd-5371-daec-b666af6ec29c",
                                       "GPU-c391d107-0999-d9be-45a4-b494d6da1ccf"};
    for (size_t i = 0; i < 2; i++) {
        weir_json r = row_of(DD_T_NETWORK_CAPABILITIES, i);
        /* spec P6 (baseline) keeps 0x9D61ae5875E89036FBf6059f3116d01a22ACe3C8; Appendix A
         * lower-cases */
        col_str(r, "orchestrator_address", "0x9d61ae5875e89036fbf6059f3116d01a22ace3c8");
        col_str(r, "local_address", "0xcdf93b13efcf63f84f2affb01bec48a5c096c69e");
        col_str(r, "gpu_id", gpu[i]);
        col_str(r, "gpu_name", "NVIDIA GeForce RTX 4090");
        col_int(r, "gpu_memory_total", 25757220864LL);
        col_int(r, "gpu_major", 8);
        col_int(r, "gpu_minor", 9);
        col_str(r, "runner_version", "0.14.1");
        col_null(r, "capacity");
        col_int(r, "capacity_in_use", 2);
        col_int(r, "price_per_unit", 2149);
        col_int(r, "pixels_per_unit", 1);
        col_str(r, "orchestrator_version", "0.8.8");
    }
    weir_json r = row_of(DD_T_NETWORK_CAPABILITIES, 2);
    col_str(r, "orchestrator_address", "0x47a907a0bd1627d71cd14430a721d1550d6d6f58");
    col_str(r, "gpu_name", "NVIDIA GeForce RTX 5090");
    col_int(r, "gpu_major", 12);
    col_null(r, "gpu_minor");
    col_int(r, "capacity_in_use", 1);
    col_int(r, "price_per_unit", 2149);
    col_str(r, "orchestrator_version", "0.8.9");
    static const char *const addr45[2] = {"0xd00354656922168815fcd1e51cbddb9e359e3c7f",
                                          "0xdef1c70578b2b5e8589a42e26980687fc5153079"};
    for (size_t i = 3; i < 5; i++) {
        r = row_of(DD_T_NETWORK_CAPABILITIES, i);
        col_str(r, "orchestrator_address", addr45[i - 3]);
        col_int(r, "capacity", 1);
        col_null(r, "capacity_in_use");
        col_int(r, "price_per_unit", 1719);
    }
    /* raw_json = compact form of the orchestrator element (address case kept inside) */
    r = row_of(DD_T_NETWORK_CAPABILITIES, 0);
    const char *raw;
    size_t rn;
    assert_int_equal(weir_json_string(weir_json_get(r, "raw_json"), &raw, &rn), 0);
    assert_true(rn > 2 && raw[0] == '{' && raw[rn - 1] == '}');
    {
        static const char want[] = "{\"address\":\"0x9D61ae5875E89036FBf6059f3116d01a22ACe3C8\"";
        assert_true(rn > sizeof want && memcmp(raw, want, sizeof want - 1) == 0);
    }
    assert_null(memmem(raw, rn, "\n", 1));
    assert_null(memmem(raw, rn, "0x47A907a0BD1627D71cD14430A721D1550d6D6f58",
                       42)); /* not the whole event */

    /* Appendix A extra outputs: every orchestrator advertises 16 capacities, 1 model, 1 price */
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_ADVERTISED), 4 * 16);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_MODEL_CONSTRAINTS), 4);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_PRICES), 4);
    free(json);
}

static void test_p7_prod_net_caps(void **state) {
    (void)state;
    FIXTURE(json, len, "net_caps_prod_parse_failed_20260224.json");
    run_len(json, len);
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES), 37);
    size_t n_b120 = 0, n_d4 = 0, n_lightning = 0;
    for (size_t i = 0; i < 37; i++) {
        weir_json r = row_of(DD_T_NETWORK_CAPABILITIES, i);
        col_str(r, "event_timestamp", "2026-02-24 12:37:50.203");
        const char *a;
        size_t an;
        assert_int_equal(weir_json_string(weir_json_get(r, "orchestrator_address"), &a, &an), 0);
        if (an == 42 && memcmp(a, "0xb120a72a9264e90092e8197c0fabd210c18bc5be", 42) == 0) {
            n_b120++;
            col_null(r, "runner_version");
            col_int(r, "capacity", 2);
            col_int(r, "capacity_in_use", 15);
            col_int(r, "price_per_unit", 2750);
            assert_int_equal(weir_json_type_of(weir_json_get(r, "gpu_id")), WEIR_JSON_STRING);
        }
        if (an == 42 && memcmp(a, "0xd4c467d8c13752ab7bb9711bc77de2a9f52a65f6", 42) == 0) {
            const char *m;
            size_t mn;
            assert_int_equal(weir_json_string(weir_json_get(r, "model_id"), &m, &mn), 0);
            if (mn == 37 && memcmp(m, "meta-llama/Meta-Llama-3.1-8B-Instruct", 37) == 0) {
                n_d4++;
                col_str(r, "pipeline", "llm");
                col_null(r, "gpu_id");
                col_null(r, "gpu_name");
                col_null(r, "gpu_memory_total");
                col_null(r, "gpu_memory_free");
                col_null(r, "gpu_major");
                col_null(r, "gpu_minor");
                col_int(r, "capacity", 384);
                col_int(r, "price_per_unit", 43803214);
                col_int(r, "capability_id", 33);
                col_str(r, "capability_name", "Llm");
            } else if (mn == 15 && memcmp(m, "llama3.2-vision", 15) == 0) {
                n_d4++;
                col_str(r, "pipeline", "llm");
                col_null(r, "gpu_id");
                col_int(r, "capacity", 2);
                col_int(r, "price_per_unit", 49278615);
            } else if (mn == 13 && memcmp(m, "glm-4.7-flash", 13) == 0) {
                n_d4++;
                col_str(r, "pipeline", "llm");
                col_null(r, "gpu_id");
                col_int(r, "capacity", 3);
                col_int(r, "price_per_unit", 27377008);
            } else if (mn == 33 && memcmp(m, "SG161222/RealVisXL_V4.0_Lightning", 33) == 0) {
                n_lightning++;
                col_int(r, "capacity", 164);
                /* no price matched cap 27 + this model: the first price element is used (§14.10) */
                col_int(r, "price_per_unit", 10443498);
                /* Appendix A: capability from the matched PerCapability key */
                col_int(r, "capability_id", 27);
                col_str(r, "capability_name", "Text to image");
                col_str(r, "capability_group", "inference");
            }
        }
    }
    assert_int_equal(n_b120, 18);
    assert_int_equal(n_d4, 3);
    assert_int_equal(n_lightning, 1);
    free(json);
}

static void test_p8_no_rows(void **state) {
    (void)state;
    run("{\"id\":\"nc-1\",\"type\":\"network_capabilities\",\"timestamp\":1710000000000,"
        "\"data\":[{\"address\":\"0xA\",\"hardware\":null}]}");
    assert_int_equal(g_nrows, 0);
    assert_int_equal(g_nerr, 1);
    assert_int_equal(g_err_table[0], DD_T_NETWORK_CAPABILITIES);
    /* baseline bare message (§14.12 choice), not "java.lang.Exception: …" */
    assert_string_equal(g_err_msg[0], "No valid orchestrator data found");
}

static void test_p9_cfg_fallback(void **state) {
    (void)state;
    run("{\"id\":\"p9\",\"type\":\"network_capabilities\",\"timestamp\":1710000000000,\"data\":[{"
        "\"address\":\"0xA\","
        "\"capabilities\":{\"constraints\":{\"PerCapability\":{\"27\":{\"models\":{\"m1\":{"
        "\"warm\":false,"
        "\"capacity\":\"3\"}}}}}},\"hardware\":[{\"pipeline\":\"x\",\"model_id\":\"m2\"}]}]}");
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES), 1);
    weir_json r = row_of(DD_T_NETWORK_CAPABILITIES, 0);
    keys_are(r, SNAPSHOT_KEYS);
    col_null(r, "gpu_id");
    col_null(r, "gpu_name");
    col_null(r, "gpu_memory_total");
    col_null(r, "gpu_memory_free");
    col_null(r, "gpu_major");
    col_null(r, "gpu_minor");
    col_str(r, "model_id", "m2");
    col_str(r, "pipeline", "x");
    col_int(r, "warm", 0);
    col_int(r, "capacity", 3);
    col_null(r, "runner_version");
    col_null(r, "capacity_in_use");
    col_null(r, "price_per_unit");
    col_null(r, "pixels_per_unit");
    col_int(r, "capability_id", 27); /* from the fallback key */
    col_str(r, "orchestrator_address", "0xa");
    col_str(r, "orchestrator_version", "");
    /* model constraints: the one declared model m1 */
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_MODEL_CONSTRAINTS), 1);
    r = row_of(DD_T_NETWORK_CAPABILITIES_MODEL_CONSTRAINTS, 0);
    col_str(r, "model_id", "m1");
    col_int(r, "capacity", 3);
    col_int(r, "warm", 0);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_ADVERTISED), 0);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_PRICES), 0);
}

static void test_p10_ingest_metrics(void **state) {
    (void)state;
    run("{\"id\":\"sim-1\",\"type\":\"stream_ingest_metrics\",\"timestamp\":1710000000000,\"data\":"
        "{\"stream_id\":"
        "\"s1\",\"request_id\":\"r1\",\"pipeline_id\":\"p-1\",\"stats\":{\"conn_quality\":\"good\","
        "\"peer_conn_"
        "stats\":{\"BytesReceived\":\"12345\",\"BytesSent\":678},\"track_stats\":[{\"type\":"
        "\"video\",\"jitter\":0.5,"
        "\"packets_received\":100,\"packets_lost\":2,\"packet_loss_pct\":1.96,\"rtt\":12.5,\"last_"
        "input_ts\":3.25,"
        "\"latency\":40},{\"type\":\"audio\",\"jitter\":\"0.25\",\"packets_received\":\"50\","
        "\"rtt\":10},{\"type\":"
        "\"data\",\"jitter\":99}]}}}");
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_STREAM_INGEST_METRICS), 1);
    static const char *const keys[] = {"event_timestamp",
                                       "stream_id",
                                       "request_id",
                                       "pipeline_id",
                                       "connection_quality",
                                       "video_jitter",
                                       "video_packets_received",
                                       "video_packets_lost",
                                       "video_packet_loss_pct",
                                       "video_rtt",
                                       "video_last_input_ts",
                                       "video_latency",
                                       "audio_jitter",
                                       "audio_packets_received",
                                       "audio_packets_lost",
                                       "audio_packet_loss_pct",
                                       "audio_rtt",
                                       "audio_last_input_ts",
                                       "audio_latency",
                                       "bytes_received",
                                       "bytes_sent",
                                       "raw_json",
                                       NULL};
    weir_json r = row_of(DD_T_STREAM_INGEST_METRICS, 0);
    keys_are(r, keys);
    col_str(r, "event_timestamp", "2024-03-09 16:00:00.000");
    col_str(r, "stream_id", "s1");
    col_str(r, "request_id", "r1");
    col_str(r, "pipeline_id", "p-1");
    col_str(r, "connection_quality", "good");
    col_f32(r, "video_jitter", 0.5);
    col_int(r, "video_packets_received", 100);
    col_int(r, "video_packets_lost", 2);
    col_f32(r, "video_packet_loss_pct", 1.96);
    col_f32(r, "video_rtt", 12.5);
    col_f32(r, "video_last_input_ts", 3.25);
    col_f32(r, "video_latency", 40.0);
    col_f32(r, "audio_jitter", 0.25);
    col_int(r, "audio_packets_received", 50);
    col_int(r, "audio_packets_lost", 0);
    col_f32(r, "audio_packet_loss_pct", 0);
    col_f32(r, "audio_rtt", 10);
    col_f32(r, "audio_last_input_ts", 0);
    col_f32(r, "audio_latency", 0);
    col_int(r, "bytes_received", 12345);
    col_int(r, "bytes_sent", 678);
}

static const char P11[] = "{\"type\":\"create_new_payment\",\"timestamp\":\"1710000000000\","
                          "\"data\":{\"requestID\":\"req-9\",\"sessionID\":"
                          "\"sess\",\"manifestID\":\"m\",\"sender\":\"0xS\",\"recipient\":\"0xR\","
                          "\"orchestrator\":\"0xO\",\"faceValue\":"
                          "\"1000000000000\",\"numTickets\":1,\"price\":0.5,\"winProb\":\"0.1\","
                          "\"clientIP\":\"1.2.3.4\",\"capability\":"
                          "\"live-video-to-video\"}}";

static void test_p11_payment(void **state) {
    (void)state;
    run(P11);
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_PAYMENT_EVENTS), 1);
    static const char *const keys[] = {
        "event_timestamp", "request_id",    "session_id", "manifest_id", "sender",   "recipient",
        "orchestrator",    "face_value",    "price",      "num_tickets", "win_prob", "client_ip",
        "capability",      "raw_event_uid", "raw_json",   NULL};
    weir_json r = row_of(DD_T_PAYMENT_EVENTS, 0);
    keys_are(r, keys);
    col_str(r, "event_timestamp", "2024-03-09 16:00:00.000");
    col_str(r, "request_id", "req-9");
    col_str(r, "session_id", "sess");
    col_str(r, "manifest_id", "m");
    col_str(r, "sender", "0xS");
    col_str(r, "recipient", "0xR");
    col_str(r, "orchestrator", "0xO");
    col_str(r, "face_value", "1000000000000");
    col_str(r, "num_tickets", "1");
    col_str(r, "price", "0.5");
    col_str(r, "win_prob", "0.1");
    col_str(r, "client_ip", "1.2.3.4");
    col_str(r, "capability", "live-video-to-video");
    /* no id: raw_event_uid = SHA-256 hex of the raw JSON (computed independently with sha256sum) */
    col_str(r, "raw_event_uid", "5c14d0e05525f2c53d7b5ee61b177f7838042e72b401dcf2a5894550b3b1f991");
    col_str(r, "raw_json", P11);
}

static void test_p12_ai_stream_events(void **state) {
    (void)state;
    run("{\"id\":\"ae-1\",\"type\":\"ai_stream_events\",\"timestamp\":1710000000000,\"data\":{"
        "\"stream_id\":\"s1\","
        "\"request_id\":\"r1\",\"pipeline\":\"p1\",\"type\":\"error\",\"message\":\"boom\"}}");
    assert_int_equal(g_nerr, 0);
    static const char *const keys[] = {"event_timestamp", "stream_id",  "request_id", "pipeline",
                                       "pipeline_id",     "event_type", "message",    "capability",
                                       "raw_json",        NULL};
    weir_json r = row_of(DD_T_AI_STREAM_EVENTS, 0);
    keys_are(r, keys);
    col_str(r, "event_type", "error");
    col_str(r, "message", "boom");
    col_str(r, "capability", "");
    col_str(r, "pipeline_id", "");
    col_str(r, "pipeline", "p1");
    col_str(r, "stream_id", "s1");
    col_str(r, "request_id", "r1");
}

static void test_p13_status_coercions(void **state) {
    (void)state;
    run("{\"id\":\"st\",\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,\"data\":{"
        "\"stream_id\":\"s1\","
        "\"request_id\":\"r1\",\"pipeline\":\"p1\",\"start_time\":\"abc\",\"inference_status\":{"
        "\"restart_count\":"
        "\"7\"}}}");
    assert_int_equal(g_nerr, 0);
    weir_json r = row_of(DD_T_AI_STREAM_STATUS, 0);
    col_null(r, "start_time");
    col_int(r, "restart_count", 7);
    col_f32(r, "output_fps", 0);
    col_null(r, "last_error");
    col_str(r, "params_hash", "");
}

/* ----------------------------------------------------------------- Appendix A extras */

/* data as one orchestrator object (later-revision validation, Q21), address normalisation,
 * unknown / missing capability ids, the three extra outputs' row shapes. */
static void test_net_caps_object_and_extra_outputs(void **state) {
    (void)state;
    run("{\"id\":\"o-1\",\"type\":\"network_capabilities\",\"timestamp\":1710000000000,\"data\":{"
        "\"address\":\" 0xAbC123 \",\"local_address\":\"0xDEF\",\"orch_uri\":\"https://o:1\","
        "\"capabilities\":{\"version\":\"0.9\",\"capacities\":{\"35\":2,\"99\":1,\"x\":\"4\"},"
        "\"constraints\":{\"PerCapability\":{\"35\":{\"models\":{\"m\":{\"warm\":true,\"capacity\":"
        "4,"
        "\"capacityInUse\":1,\"runnerVersion\":\"r1\"}}}}}},"
        "\"capabilities_prices\":[{\"pricePerUnit\":5,\"pixelsPerUnit\":1,\"capability\":99,"
        "\"constraint\":\"q\"},"
        "{\"pricePerUnit\":7,\"pixelsPerUnit\":2,\"constraint\":\"\"}],"
        "\"hardware\":[{\"pipeline\":\"live-video-to-video\",\"model_id\":\"m\",\"gpu_info\":{"
        "\"0\":{\"id\":\"G0\","
        "\"name\":\"N\",\"memory_total\":\"10\",\"memory_free\":5,\"major\":8,\"minor\":\"x\"}}}]}"
        "}");
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES), 1);
    weir_json r = row_of(DD_T_NETWORK_CAPABILITIES, 0);
    keys_are(r, SNAPSHOT_KEYS);
    col_str(r, "source_event_id", "o-1");
    col_str(r, "orchestrator_address", "0xabc123"); /* U5 */
    col_str(r, "local_address", "0xdef");
    col_str(r, "orch_uri", "https://o:1");
    col_str(r, "gpu_id", "G0");
    col_int(r, "gpu_memory_total", 10);
    col_int(r, "gpu_memory_free", 5);
    col_int(r, "gpu_major", 8);
    col_null(r, "gpu_minor");
    col_int(r, "capability_id", 35);
    col_str(r, "runner_version", "r1");
    col_int(r, "capacity", 4);
    col_int(r, "capacity_in_use", 1);
    col_int(r, "warm", 1);
    /* no price matches cap 35 + model m: P[0] regardless (§6.4) */
    col_int(r, "price_per_unit", 5);
    col_str(r, "orchestrator_version", "0.9");

    static const char *const adv_keys[] = {
        "event_timestamp", "source_event_id",  "orchestrator_address",
        "local_address",   "orch_uri",         "capability_id",
        "capability_name", "capability_group", "capability_catalog_version",
        "capacity",        "raw_json",         NULL};
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_ADVERTISED),
                     2); /* key "x" is not an id: skipped */
    r = row_of(DD_T_NETWORK_CAPABILITIES_ADVERTISED, 0);
    keys_are(r, adv_keys);
    col_str(r, "event_timestamp", "2024-03-09 16:00:00.000");
    col_str(r, "orchestrator_address", "0xabc123");
    col_int(r, "capability_id", 35);
    col_str(r, "capability_name", "Live video to video");
    col_str(r, "capability_group", "live-video");
    col_str(r, "capability_catalog_version", "v1");
    col_int(r, "capacity", 2);
    r = row_of(DD_T_NETWORK_CAPABILITIES_ADVERTISED, 1); /* id not in catalog: keeps its number */
    col_int(r, "capability_id", 99);
    col_str(r, "capability_name", "unknown");
    col_str(r, "capability_group", "unknown");

    static const char *const mc_keys[] = {"event_timestamp",
                                          "source_event_id",
                                          "orchestrator_address",
                                          "local_address",
                                          "orch_uri",
                                          "capability_id",
                                          "capability_name",
                                          "capability_group",
                                          "capability_catalog_version",
                                          "model_id",
                                          "runner_version",
                                          "capacity",
                                          "capacity_in_use",
                                          "warm",
                                          "raw_json",
                                          NULL};
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_MODEL_CONSTRAINTS), 1);
    r = row_of(DD_T_NETWORK_CAPABILITIES_MODEL_CONSTRAINTS, 0);
    keys_are(r, mc_keys);
    col_int(r, "capability_id", 35);
    col_str(r, "model_id", "m");
    col_str(r, "runner_version", "r1");
    col_int(r, "capacity", 4);
    col_int(r, "capacity_in_use", 1);
    col_int(r, "warm", 1);

    static const char *const pr_keys[] = {"event_timestamp",
                                          "source_event_id",
                                          "orchestrator_address",
                                          "local_address",
                                          "orch_uri",
                                          "capability_id",
                                          "capability_name",
                                          "capability_group",
                                          "capability_catalog_version",
                                          "constraint_name",
                                          "price_per_unit",
                                          "pixels_per_unit",
                                          "raw_json",
                                          NULL};
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_PRICES), 2);
    r = row_of(DD_T_NETWORK_CAPABILITIES_PRICES, 0);
    keys_are(r, pr_keys);
    col_int(r, "capability_id", 99);
    col_str(r, "capability_name", "unknown");
    col_str(r, "constraint_name", "q");
    col_int(r, "price_per_unit", 5);
    col_int(r, "pixels_per_unit", 1);
    r = row_of(DD_T_NETWORK_CAPABILITIES_PRICES,
               1); /* missing capability: -1; "" constraint → null */
    col_int(r, "capability_id", -1);
    col_str(r, "capability_group", "unknown");
    col_null(r, "constraint_name");
    col_int(r, "price_per_unit", 7);
    /* raw_json of the extra outputs: the compact orchestrator element */
    const char *raw;
    size_t rn;
    assert_int_equal(weir_json_string(weir_json_get(r, "raw_json"), &raw, &rn), 0);
    assert_true(rn > 20 && memcmp(raw, "{\"address\":\" 0xAbC123 \"", 23) == 0);
}

/* Snapshot capability id from the selected price when no PerCapability matched; no id → -1. */
static void test_net_caps_capability_from_price(void **state) {
    (void)state;
    run("{\"id\":\"o-2\",\"type\":\"network_capabilities\",\"timestamp\":1,\"data\":[{\"address\":"
        "\"0xA\","
        "\"capabilities_prices\":[{\"pricePerUnit\":9,\"capability\":27,\"constraint\":\"m\"}],"
        "\"hardware\":[{\"pipeline\":\"p\",\"model_id\":\"m\"}]},{\"address\":\"0xB\","
        "\"hardware\":[{\"pipeline\":\"p\",\"model_id\":\"m\"}]}]}");
    assert_int_equal(g_nerr, 0);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES), 2);
    weir_json r = row_of(DD_T_NETWORK_CAPABILITIES, 0);
    col_int(r, "capability_id", 27);
    col_str(r, "capability_name", "Text to image");
    col_null(r, "warm");
    col_int(r, "price_per_unit", 9);
    r = row_of(DD_T_NETWORK_CAPABILITIES, 1);
    col_int(r, "capability_id", -1);
    col_str(r, "capability_name", "unknown");
    col_str(r, "capability_group", "unknown");
    col_str(r, "capability_catalog_version", "v1");
    col_null(r, "price_per_unit");
}

/* Empty array / non-container data: snapshot failure; the other three outputs emit nothing and
 * do not fail. Advertised rows still come out for orchestrators without hardware. */
static void test_net_caps_failures_are_per_output(void **state) {
    (void)state;
    run("{\"id\":\"e\",\"type\":\"network_capabilities\",\"timestamp\":1,\"data\":[]}");
    assert_int_equal(g_nrows, 0);
    assert_int_equal(g_nerr, 1);
    assert_string_equal(g_err_msg[0], "No valid orchestrator data found");
    run("{\"id\":\"e\",\"type\":\"network_capabilities\",\"timestamp\":1,\"data\":\"bad-shape\"}");
    assert_int_equal(g_nrows, 0);
    assert_int_equal(g_nerr, 1);
    assert_int_equal(g_err_table[0], DD_T_NETWORK_CAPABILITIES);
    run("{\"id\":\"e\",\"type\":\"network_capabilities\",\"timestamp\":1,\"data\":[{\"address\":"
        "\"0xA\","
        "\"capabilities\":{\"capacities\":{\"0\":1}},\"hardware\":null}]}");
    assert_int_equal(g_nerr, 1);
    assert_int_equal(g_err_table[0], DD_T_NETWORK_CAPABILITIES);
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_ADVERTISED), 1);
    weir_json r = row_of(DD_T_NETWORK_CAPABILITIES_ADVERTISED, 0);
    col_int(r, "capability_id", 0);
    col_str(r, "capability_name", "H.264");
    col_str(r, "capability_group", "transcoding");
}

/* A configured catalog file replaces the built-in one (dd_config.capability_catalog_path). */
static void test_catalog_override(void **state) {
    (void)state;
    const char *dir = getenv("WEIR_TEST_TMP");
    char path[1024];
    snprintf(path, sizeof path, "%s/weir_test_catalog_%d.json", dir && *dir ? dir : "/tmp",
             (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(path, sizeof path, "/tmp/weir_test_catalog_%d.json", (int)getpid());
        f = fopen(path, "wb");
    }
    assert_non_null(f);
    fputs("{\"catalog_version\":\"v9\",\"capabilities\":[{\"id\":35,\"name\":\"LV2V "
          "\\\"x\\\"\",\"group\":\"live\"},"
          "{\"id\":1,\"name\":\"One\",\"group\":\"g\"}]}",
          f);
    fclose(f);
    dd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.capability_catalog_path, sizeof cfg.capability_catalog_path, "%s", path);
    weir_error err = {0};
    dd_parser *p = dd_parser_new(&cfg, &err);
    assert_non_null(p);
    dd_parser *saved = g_parser;
    g_parser = p;
    run("{\"id\":\"c\",\"type\":\"network_capabilities\",\"timestamp\":1,\"data\":{\"address\":"
        "\"0xA\","
        "\"capabilities\":{\"capacities\":{\"35\":1,\"0\":1}}}}");
    g_parser = saved;
    assert_int_equal(count_table(DD_T_NETWORK_CAPABILITIES_ADVERTISED), 2);
    weir_json r = row_of(DD_T_NETWORK_CAPABILITIES_ADVERTISED, 0);
    col_str(r, "capability_name", "LV2V \"x\"");
    col_str(r, "capability_group", "live");
    col_str(r, "capability_catalog_version", "v9");
    r = row_of(DD_T_NETWORK_CAPABILITIES_ADVERTISED, 1);
    col_str(r, "capability_name", "unknown"); /* 0 is not in the override */
    dd_parser_free(p);
    remove(path);
    /* unreadable path: an error value, no parser */
    snprintf(cfg.capability_catalog_path, sizeof cfg.capability_catalog_path, "%s",
             "/nonexistent/catalog.json");
    assert_null(dd_parser_new(&cfg, &err));
    assert_int_equal(err.code, WEIR_EIO);
}

/* raw_event_uid: a blank id (" ") falls back to the SHA-256 of the raw JSON. */
static void test_raw_event_uid_blank_id(void **state) {
    (void)state;
    run("{\"type\":\"discovery_results\",\"timestamp\":1710000000000,\"data\":[{\"address\":"
        "\"0xa\","
        "\"latency_ms\":\"84\",\"url\":\"https://a\"}]}");
    weir_json r = row_of(DD_T_DISCOVERY_RESULTS, 0);
    col_str(r, "raw_event_uid", "652cd605ac32adefa1493c25e4667129e18468287fe962a565ff4095bdfd7f9c");
    col_str(r, "orchestrator_address", "0xa"); /* discovery addresses are not normalised */
}

/* Rows are compact JSON without a trailing newline; Float32 columns print Java-style. */
static void test_row_text_is_compact(void **state) {
    (void)state;
    run("{\"id\":\"st\",\"type\":\"ai_stream_status\",\"timestamp\":-1,\"data\":{\"stream_id\":"
        "\"s\\n1\","
        "\"inference_status\":{\"fps\":1500}}}");
    const char *t = row_text(DD_T_AI_STREAM_STATUS, 0);
    assert_non_null(t);
    assert_non_null(
        strstr(t, "{\"event_timestamp\":\"1969-12-31 23:59:59.999\",\"stream_id\":\"s\\n1\","));
    assert_non_null(strstr(t, "\"output_fps\":1500.0,"));
    assert_null(strchr(t, '\n'));
}

/* Float32 text follows Java Float.toString (§7.1), including parsers.c's integral fast path. */
static void test_float32_text(void **state) {
    (void)state;
    run("{\"id\":\"f\",\"type\":\"stream_ingest_metrics\",\"timestamp\":1,\"data\":{\"stream_id\":"
        "\"s\","
        "\"stats\":{\"track_stats\":[{\"type\":\"video\",\"jitter\":-0.0,\"packet_loss_pct\":"
        "9999999,"
        "\"rtt\":1e7,\"last_input_ts\":12345678,\"latency\":-3},{\"type\":\"audio\",\"jitter\":0.1,"
        "\"rtt\":1.0E-5,\"latency\":23.584042845918553}]}}}");
    const char *t = row_text(DD_T_STREAM_INGEST_METRICS, 0);
    assert_non_null(t);
    assert_non_null(strstr(t, "\"video_jitter\":-0.0,"));
    assert_non_null(strstr(t, "\"video_packet_loss_pct\":9999999.0,"));
    assert_non_null(strstr(t, "\"video_rtt\":1.0E7,"));
    assert_non_null(strstr(t, "\"video_last_input_ts\":1.2345678E7,"));
    assert_non_null(strstr(t, "\"video_latency\":-3.0,"));
    assert_non_null(strstr(t, "\"audio_jitter\":0.1,"));
    assert_non_null(strstr(t, "\"audio_packet_loss_pct\":0.0,"));
    assert_non_null(strstr(t, "\"audio_rtt\":1.0E-5,"));
    /* 23.584043 / 23.584044 / 23.5840435 all denote this float32: compare values (§7.1) */
    col_f32(row_of(DD_T_STREAM_INGEST_METRICS, 0), "audio_latency", 23.584042845918553);
}

int main(void) {
    const char *d = getenv("WEIR_SHARED_DATA");
    g_data_dir = (char *)(d && *d ? d : "../shared/data");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p1_ai_stream_status),
        cmocka_unit_test(test_p2_stream_trace),
        cmocka_unit_test(test_p3_trace_no_data_timestamp),
        cmocka_unit_test(test_p4_discovery),
        cmocka_unit_test(test_p5_discovery_latency),
        cmocka_unit_test(test_p6_net_caps),
        cmocka_unit_test(test_p7_prod_net_caps),
        cmocka_unit_test(test_p8_no_rows),
        cmocka_unit_test(test_p9_cfg_fallback),
        cmocka_unit_test(test_p10_ingest_metrics),
        cmocka_unit_test(test_p11_payment),
        cmocka_unit_test(test_p12_ai_stream_events),
        cmocka_unit_test(test_p13_status_coercions),
        cmocka_unit_test(test_net_caps_object_and_extra_outputs),
        cmocka_unit_test(test_net_caps_capability_from_price),
        cmocka_unit_test(test_net_caps_failures_are_per_output),
        cmocka_unit_test(test_catalog_override),
        cmocka_unit_test(test_raw_event_uid_blank_id),
        cmocka_unit_test(test_row_text_is_compact),
        cmocka_unit_test(test_float32_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
