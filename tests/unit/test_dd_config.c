/*
 * test_dd_config.c - the dedup job's configuration (jobs/dedup/config.c): §11 defaults, U3
 * (database derivation), U4 (junk TTL → default), §3.4 supported-version splitting and the
 * Appendix A topic list / maps. The environment is a test double (a name → value table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/dedup/dedup.h"

/* --- getenv double: pairs of (name, value), terminated by a NULL name */
static const char *const *g_env;

static const char *fake_getenv(const char *name) {
    for (const char *const *p = g_env; p && p[0]; p += 2)
        if (strcmp(p[0], name) == 0) return p[1];
    return NULL;
}

static weir_err load(dd_config *c, const char *const *env) {
    g_env = env;
    dd_config_defaults(c);
    return dd_config_from_env(c, fake_getenv);
}

static void defaults(void **state) {
    (void)state;
    const char *env[] = {NULL};
    dd_config c;
    assert_int_equal(load(&c, env), WEIR_OK);
    assert_string_equal(c.kafka_bootstrap, "kafka:9092");
    assert_int_equal(c.n_input_topics, 1);
    assert_string_equal(c.input_topics[0], "streaming_events");
    assert_int_equal(c.n_topic_org, 0);
    assert_int_equal(c.n_topic_reset, 0);
    assert_string_equal(c.dlq_topic, "events.dlq.streaming_events.v1");
    assert_string_equal(c.quarantine_topic, "events.quarantine.streaming_events.v1");
    assert_string_equal(c.group_id, "flink-quality-gate-v1");
    assert_int_equal(c.dedup_ttl_minutes, 1440);
    assert_int_equal(c.n_supported_versions, 2);
    assert_string_equal(c.supported_versions[0], "1");
    assert_string_equal(c.supported_versions[1], "v1");
    assert_int_equal(c.max_record_bytes, 1000000);
    assert_string_equal(c.table_prefix, "");
    assert_string_equal(c.clickhouse_url, "http://clickhouse:8123");
    assert_string_equal(c.clickhouse_user, "analytics_user");
    assert_string_equal(c.clickhouse_password, "analytics_password");
    assert_string_equal(c.clickhouse_database, "livepeer_analytics");
    assert_int_equal(c.ch_max_batch_size, 1000);
    assert_int_equal(c.ch_max_in_flight, 2);
    assert_int_equal(c.ch_max_buffered, 10000);
    assert_int_equal(c.ch_max_batch_bytes, 5000000);
    assert_int_equal(c.ch_max_time_ms, 1000);
    assert_int_equal(c.metrics_rate_window_sec, 60);
    assert_string_equal(c.capability_catalog_path, "");
}

static void u3_database(void **state) {
    (void)state;
    dd_config c;
    const char *e1[] = {"CLICKHOUSE_URL", "http://ch:8123/analytics", NULL};
    assert_int_equal(load(&c, e1), WEIR_OK);
    assert_string_equal(c.clickhouse_database, "analytics");
    const char *e2[] = {"CLICKHOUSE_URL", "http://clickhouse:8123", NULL};
    load(&c, e2);
    assert_string_equal(c.clickhouse_database, "livepeer_analytics");
    const char *e3[] = {"CLICKHOUSE_URL", "http://ch:8123/", NULL};
    load(&c, e3);
    assert_string_equal(c.clickhouse_database, "livepeer_analytics");
    const char *e4[] = {"CLICKHOUSE_URL", "http://ch:8123/db?x=1", NULL};
    load(&c, e4);
    assert_string_equal(c.clickhouse_database, "livepeer_analytics");
    /* an explicit database wins; an empty one means "derive" */
    const char *e5[] = {"CLICKHOUSE_URL", "http://ch:8123/analytics", "CLICKHOUSE_DATABASE", "x",
                        NULL};
    load(&c, e5);
    assert_string_equal(c.clickhouse_database, "x");
    const char *e6[] = {"CLICKHOUSE_URL", "http://ch:8123/analytics", "CLICKHOUSE_DATABASE", "",
                        NULL};
    load(&c, e6);
    assert_string_equal(c.clickhouse_database, "analytics");
}

static void u4_ttl(void **state) {
    (void)state;
    dd_config c;
    const char *e1[] = {"QUALITY_DEDUP_TTL_MINUTES", "abc", NULL};
    assert_int_equal(load(&c, e1), WEIR_OK);
    assert_int_equal(c.dedup_ttl_minutes, 1440);
    const char *e2[] = {"QUALITY_DEDUP_TTL_MINUTES", " 30 ", NULL};
    load(&c, e2);
    assert_int_equal(c.dedup_ttl_minutes, 30);
    const char *e3[] = {"QUALITY_DEDUP_TTL_MINUTES", "", NULL};
    load(&c, e3);
    assert_int_equal(c.dedup_ttl_minutes, 1440);
    const char *e4[] = {"QUALITY_DEDUP_TTL_MINUTES", "1.5", NULL};
    load(&c, e4);
    assert_int_equal(c.dedup_ttl_minutes, 1440);
}

static void integers(void **state) {
    (void)state;
    dd_config c;
    const char *e[] = {"CLICKHOUSE_SINK_MAX_BATCH_SIZE",
                       "99999999999", /* > int32 → default */
                       "CLICKHOUSE_SINK_MAX_TIME_MS",
                       "99999999999", /* int64 */
                       "CLICKHOUSE_SINK_MAX_RECORD_BYTES",
                       "+10",
                       "CLICKHOUSE_SINK_MAX_IN_FLIGHT",
                       "-",
                       "QUALITY_METRICS_RATE_WINDOW_SEC",
                       "\t5\n",
                       NULL};
    assert_int_equal(load(&c, e), WEIR_OK);
    assert_int_equal(c.ch_max_batch_size, 1000);
    assert_int_equal(c.ch_max_time_ms, INT64_C(99999999999));
    assert_int_equal(c.max_record_bytes, 10);
    assert_int_equal(c.ch_max_in_flight, 2);
    assert_int_equal(c.metrics_rate_window_sec, 5);
}

/* Asserts the parsed version set equals @p want (NULL-terminated). */
static void assert_versions(const char *value, const char *const *want) {
    dd_config c;
    const char *e[] = {"QUALITY_SUPPORTED_VERSIONS", value, NULL};
    assert_int_equal(load(&c, e), WEIR_OK);
    int n = 0;
    while (want[n])
        n++;
    assert_int_equal(c.n_supported_versions, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(c.supported_versions[i], want[i]);
}

static void versions(void **state) {
    (void)state;
    const char *const dflt[] = {"1", "v1", NULL};
    assert_versions("", dflt); /* empty → default */
    const char *const none[] = {NULL};
    assert_versions("   ", none); /* whitespace-only → empty set (accept all) */
    assert_versions(" \t", none);
    const char *const a[] = {"1", "v1", "2", NULL};
    assert_versions("1 , v1,\t2", a);
    /* leading/trailing whitespace of the whole value is kept */
    const char *const b[] = {" 1", "v1 ", NULL};
    assert_versions(" 1 , v1 ", b);
    /* Java split: middle empties kept, trailing empties dropped */
    const char *const c[] = {"a", "", "b", NULL};
    assert_versions("a,,b", c);
    const char *const d[] = {"1", "v1", NULL};
    assert_versions("1,v1,", d);
    assert_versions("1,v1, ,", d);
    const char *const e[] = {"V1", NULL};
    assert_versions("V1", e);
}

static void topics(void **state) {
    (void)state;
    dd_config c;
    const char *e1[] = {"QUALITY_INPUT_TOPICS", "a, b,,c ", "QUALITY_INPUT_TOPIC", "x", NULL};
    assert_int_equal(load(&c, e1), WEIR_OK);
    assert_int_equal(c.n_input_topics, 3);
    assert_string_equal(c.input_topics[0], "a");
    assert_string_equal(c.input_topics[1], "b");
    assert_string_equal(c.input_topics[2], "c");
    const char *e2[] = {"QUALITY_INPUT_TOPIC", "x", NULL};
    load(&c, e2);
    assert_int_equal(c.n_input_topics, 1);
    assert_string_equal(c.input_topics[0], "x");
    const char *e3[] = {"QUALITY_INPUT_TOPICS", "", "QUALITY_INPUT_TOPIC", "y", NULL};
    load(&c, e3);
    assert_int_equal(c.n_input_topics, 1);
    assert_string_equal(c.input_topics[0], "y");
    /* a list with no usable entry falls back as well */
    const char *e4[] = {"QUALITY_INPUT_TOPICS", " , ,", NULL};
    load(&c, e4);
    assert_int_equal(c.n_input_topics, 1);
    assert_string_equal(c.input_topics[0], "streaming_events");
}

static void maps(void **state) {
    (void)state;
    dd_config c;
    const char *e1[] = {"QUALITY_TOPIC_ORG_MAP",
                        "t1=org1, t2 = org2 ,bad,=x,y=,  ,",
                        "QUALITY_TOPIC_RESET_STRATEGY_MAP",
                        "t1=latest,t2=EARLIEST,t3",
                        "QUALITY_TABLE_PREFIX",
                        "raw_",
                        NULL};
    assert_int_equal(load(&c, e1), WEIR_OK);
    assert_int_equal(c.n_topic_org, 2);
    assert_string_equal(c.topic_org[0][0], "t1");
    assert_string_equal(c.topic_org[0][1], "org1");
    assert_string_equal(c.topic_org[1][0], "t2");
    assert_string_equal(c.topic_org[1][1], "org2");
    assert_int_equal(c.n_topic_reset, 2);
    assert_string_equal(c.topic_reset[0][0], "t1");
    assert_string_equal(c.topic_reset[0][1], "latest");
    assert_string_equal(c.topic_reset[1][1], "earliest");
    assert_string_equal(c.table_prefix, "raw_");
    /* an unknown strategy is a configuration error, not a silent default */
    const char *e2[] = {"QUALITY_TOPIC_RESET_STRATEGY_MAP", "t1=sometimes", NULL};
    assert_int_equal(load(&c, e2), WEIR_EINVAL);
}

static void too_long_or_too_many(void **state) {
    (void)state;
    dd_config c;
    char many[1024] = "";
    for (int i = 0; i < DD_MAX_LIST + 1; i++)
        strcat(many, "t,");
    const char *e1[] = {"QUALITY_INPUT_TOPICS", many, NULL};
    assert_int_equal(load(&c, e1), WEIR_EINVAL);
    char lng[700];
    memset(lng, 'a', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    const char *e2[] = {"QUALITY_KAFKA_BOOTSTRAP", lng, NULL};
    assert_int_equal(load(&c, e2), WEIR_EINVAL);
    assert_string_equal(c.kafka_bootstrap, "kafka:9092"); /* not truncated */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults), cmocka_unit_test(u3_database),
        cmocka_unit_test(u4_ttl),   cmocka_unit_test(integers),
        cmocka_unit_test(versions), cmocka_unit_test(topics),
        cmocka_unit_test(maps),     cmocka_unit_test(too_long_or_too_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
