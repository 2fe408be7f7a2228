/*
 * test_ch_sink.c - the ClickHouse sink's pure parts (configuration from the spec's
 * variables §11, database derivation, the DLQ row helper §5.4) and, when WEIR_CLICKHOUSE_URL
 * points at a running server with the 18.16 schema applied (tests/integration/
 * test_clickhouse_sink.sh sets it), a live round trip through the sink.
 *
 * Driver mode: `test_ch_sink ch-load ...` / `test_ch_sink schema ...` run the
 * `weir ch-load` / `weir schema` subcommands, so the integration test works before tools/weir.c
 * dispatches them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weir/weir.h"

#include "tools/cli.h"

static const char *const vars[][2] = {{"CLICKHOUSE_URL", "http://ch:8123/analytics"},
                                      {"CLICKHOUSE_SINK_MAX_BATCH_SIZE", " 250 "},
                                      {"CLICKHOUSE_SINK_MAX_IN_FLIGHT", "x3"},
                                      {"CLICKHOUSE_SINK_MAX_TIME_MS", ""},
                                      {NULL, NULL}};

static const char *lookup(void *ud, const char *name) {
    (void)ud;
    for (int i = 0; vars[i][0]; i++)
        if (!strcmp(vars[i][0], name)) return vars[i][1];
    return NULL;
}

static void test_conf_from_env(void **st) {
    (void)st;
    weir_clickhouse_sink_conf c;
    weir_clickhouse_sink_conf_from_env(&c, lookup, NULL);
    assert_string_equal(c.url, "http://ch:8123");
    assert_string_equal(c.database, "analytics");
    assert_string_equal(c.user, "analytics_user");
    assert_string_equal(c.password, "analytics_password");
    assert_int_equal(c.max_batch_rows, 250);
    assert_int_equal(c.max_in_flight, 2);  /* unparsable → default */
    assert_int_equal(c.max_time_ms, 1000); /* empty → default */
    assert_int_equal(c.max_buffered, 10000);
    assert_int_equal(c.max_batch_bytes, 5000000);
    assert_int_equal(c.max_record_bytes, 1000000);
}

static void test_database_from_url(void **st) {
    (void)st;
    char db[64];
    static const char *const cases[][2] = {{"http://clickhouse:8123", "livepeer_analytics"},
                                           {"http://ch:8123/analytics", "analytics"},
                                           {"http://ch:8123/", "livepeer_analytics"},
                                           {"http://ch:8123/db?x=1", "livepeer_analytics"},
                                           {"/x", "livepeer_analytics"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        weir_clickhouse_database_from_url(cases[i][0], db, sizeof db);
        assert_string_equal(db, cases[i][1]);
    }
}

static void test_dlq_row(void **st) {
    (void)st;
    const char *doc =
        "{\"table\":\"ai_stream_status\",\"stage\":\"CLICKHOUSE_SINK\",\"failureClass\":"
        "\"DLQ_SINK_WRITE\",\"reason\":\"sink_write_failed\",\"details\":\"Table "
        "ai_stream_status: Code: 27, bad\",\"source\":{\"topic\":\"streaming_events\","
        "\"partition\":3,\"offset\":42,\"recordTimestamp\":1770062064713},\"row\":"
        "\"{\\\"stream_id\\\":\\\"s\\\",\\\"raw_json\\\":\\\"{\\\\\\\"id\\\\\\\":"
        "\\\\\\\"e1\\\\\\\","
        "\\\\\\\"type\\\\\\\":\\\\\\\"ai_stream_status\\\\\\\"}\\\"}\"}";
    weir_buf out = {0};
    weir_error err = {0};
    assert_int_equal(weir_clickhouse_dlq_row(doc, strlen(doc), 0, &out, &err), WEIR_OK);
    assert_string_equal(
        out.data,
        "{\"schema_version\":\"v1\",\"source_topic\":\"streaming_events\",\"source_partition\":3,"
        "\"source_offset\":42,\"source_record_timestamp\":\"2026-02-02 19:54:24.713\","
        "\"event_id\":\"e1\",\"event_type\":\"ai_stream_status\",\"event_version\":null,"
        "\"event_timestamp\":null,\"dedup_key\":null,\"dedup_strategy\":null,\"replay\":0,"
        "\"failure_stage\":\"CLICKHOUSE_SINK\",\"failure_class\":\"DLQ_SINK_WRITE\","
        "\"failure_reason\":\"sink_write_failed\",\"failure_details\":\"Table ai_stream_status: "
        "Code: 27, bad\",\"orchestrator\":null,\"broadcaster\":null,\"region\":null,"
        "\"payload_encoding\":\"json\",\"payload_body\":\"{\\\"id\\\":\\\"e1\\\",\\\"type\\\":"
        "\\\"ai_stream_status\\\"}\",\"payload_canonical_json\":null,\"ingestion_timestamp\":"
        "\"1970-01-01 00:00:00.000\"}");
    weir_buf_reset(&out);
    assert_int_equal(weir_clickhouse_dlq_row("[1]", 3, 0, &out, &err), WEIR_EPARSE);
    weir_buf_free(&out);
}

/* ------------------------------------------------------------------ live */

/* A source emitting n rows of table t (one bad row at index bad if bad >= 0) and one oversized
 * row, then END. */
typedef struct live_src {
    int n, bad;
} live_src;

static weir_err src_poll(weir_ctx *ctx, size_t max, weir_poll_status *status) {
    const live_src *s = weir_ctx_udata(ctx);
    int *i = weir_ctx_local(ctx);
    if (!i) {
        i = calloc(1, sizeof *i);
        weir_ctx_set_local(ctx, i);
    }
    char row[256];
    for (size_t k = 0; k < max && *i <= s->n; k++, (*i)++) {
        weir_record r = {.key = (const uint8_t *)"discovery_results",
                         .key_len = 17,
                         .timestamp_ms = WEIR_NO_TIMESTAMP,
                         .key_group = -1,
                         .origin = {.partition = 0, .offset = *i, .record_ts = -1}};
        char *big = NULL;
        if (*i == s->n) { /* oversized */
            big = malloc(2100);
            memset(big, 'x', 2099);
            big[2099] = 0;
            r.value = (const uint8_t *)big;
            r.value_len = 2099;
        } else {
            int len = snprintf(row, sizeof row,
                               "{\"event_timestamp\":\"2026-01-08 10:00:%02d.%03d\","
                               "\"orchestrator_address\":\"0xunit\",\"orchestrator_url\":\"u\","
                               "\"latency_ms\":%s,\"raw_event_uid\":\"u%d\",\"raw_json\":\"{}\"}",
                               *i % 60, *i % 1000, *i == s->bad ? "\"oops\"" : "7", *i);
            r.value = (const uint8_t *)row;
            r.value_len = (uint32_t)len;
        }
        weir_err rc = weir_emit(ctx, &r);
        free(big);
        if (rc) return rc;
    }
    *status = *i > s->n ? WEIR_POLL_END : WEIR_POLL_MORE;
    return WEIR_OK;
}

static void src_close(weir_ctx *ctx) {
    free(weir_ctx_local(ctx));
}

static const weir_operator_def src_def = {.kind = "unit-src", .poll = src_poll, .close = src_close};

static void test_live(void **st) {
    (void)st;
    const char *url = getenv("WEIR_CLICKHOUSE_URL");
    if (!url || !*url) {
        printf("SKIP live: WEIR_CLICKHOUSE_URL not set\n");
        skip();
    }
    const char *db = getenv("WEIR_CLICKHOUSE_DB");
    live_src s = {.n = 2500, .bad = 1234};
    weir_clickhouse_sink_conf c = {0};
    snprintf(c.url, sizeof c.url, "%s", url);
    snprintf(c.database, sizeof c.database, "%s", db ? db : "livepeer_analytics");
    snprintf(c.table_prefix, sizeof c.table_prefix, "%s", "");
    c.max_batch_rows = 1000;
    c.max_record_bytes = 2000;
    weir_file_sink_conf dlq = {0};
    const char *tmp = getenv("WEIR_TEST_TMP");
    snprintf(dlq.dir, sizeof dlq.dir, "%s", tmp ? tmp : "/tmp");
    snprintf(dlq.suffix, sizeof dlq.suffix, ".unit-dlq.jsonl");
    weir_error err = {0};
    weir_graph *g = weir_graph_new("unit");
    int a = weir_graph_add(g, "src", "src", &src_def, &s, 1, &err);
    int b = weir_graph_add(g, "ch", "ch", &weir_clickhouse_sink_def, &c, 1, &err);
    int d = weir_graph_add(g, "dlq", "dlq", &weir_file_sink_def, &dlq, 1, &err);
    assert_true(a >= 0 && b >= 0 && d >= 0);
    assert_int_equal(weir_graph_connect(g, a, NULL, b, WEIR_PART_FORWARD, &err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, b, "dlq", d, WEIR_PART_FORWARD, &err), WEIR_OK);
    weir_job_options jo = {0};
    weir_job *job = weir_job_start(g, &jo, &err);
    assert_non_null(job);
    assert_int_equal(weir_job_wait(job, &err), WEIR_OK);
    weir_metrics *m = weir_job_metrics(job);
    assert_int_equal(weir_metrics_value(m, "clickhouse.discovery_results.rows"), 2499);
    assert_int_equal(weir_metrics_value(m, "clickhouse.discovery_results.failed_rows"), 2);
    assert_int_equal(weir_metrics_value(m, "clickhouse.discovery_results.oversize_rows"), 1);
    weir_job_free(job);
    weir_graph_free(g);
    weir_file_sink_conf_cleanup(&dlq);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "ch-load")) return weir_cmd_ch_load(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "schema")) return weir_cmd_schema(argc - 1, argv + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_from_env),
        cmocka_unit_test(test_database_from_url),
        cmocka_unit_test(test_dlq_row),
        cmocka_unit_test(test_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
