/*
 * test_replay_job.c - the DLQ replay job end to end (jobs/replay/job.c, tools/replay_cmd.c;
 * spec dedup-job.md §10, issue #5) against the embedded Kafka (librdkafka mock cluster).
 *
 * A plain librdkafka producer writes hand-built §5.3 envelopes (and a tombstone) to a
 * 2-partition DLQ topic; the replay job runs bounded with an injected clock; the output topic is
 * read back with the weir Kafka source (bounded) into a collecting sink. Expected output strings
 * are written by hand from the spec's rules; each must arrive exactly once, and the counters must
 * account for every DLQ record. The CLI entry point is then run against the same DLQ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/replay/replay.h"

#include "tools/cli.h"

#define DLQ "events.dlq.streaming_events.v1"
#define OUT "streaming_events"
#define NOW 1760000000777LL
#define NOW_S "1760000000777"

/* ------------------------------------------------------------ collecting sink */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char *g_vals[256];
static size_t g_n;

static weir_err collect_process(weir_ctx *ctx, const weir_record *r) {
    (void)ctx;
    pthread_mutex_lock(&g_lock);
    if (g_n < 256) g_vals[g_n++] = r->value ? strndup((const char *)r->value, r->value_len) : NULL;
    pthread_mutex_unlock(&g_lock);
    return WEIR_OK;
}

static const weir_operator_def collect_def = {.kind = "collect", .process = collect_process};

static void collect_reset(void) {
    for (size_t i = 0; i < g_n; i++)
        free(g_vals[i]);
    g_n = 0;
}

/* Reads @p topic from the earliest offset to its current end into g_vals. */
static void read_topic(const char *bootstrap, const char *topic) {
    collect_reset();
    weir_kafka_source_conf sc;
    memset(&sc, 0, sizeof sc);
    snprintf(sc.bootstrap, sizeof sc.bootstrap, "%s", bootstrap);
    snprintf(sc.topics[0], sizeof sc.topics[0], "%s", topic);
    sc.n_topics = 1;
    snprintf(sc.group_id, sizeof sc.group_id, "test-reader");
    sc.start = WEIR_KAFKA_START_EARLIEST;
    sc.bounded = 1;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("reader");
    int s = weir_graph_add(g, "src", "src", &weir_kafka_source_def, &sc, 1, &err);
    int c = weir_graph_add(g, "collect", "collect", &collect_def, NULL, 1, &err);
    assert_true(s >= 0 && c >= 0);
    assert_int_equal(weir_graph_connect(g, s, NULL, c, WEIR_PART_FORWARD, &err), 0);
    weir_job_options jo = {0};
    weir_job *job = weir_job_start(g, &jo, &err);
    if (!job) fail_msg("reader: %s", err.msg);
    if (weir_job_wait(job, &err)) fail_msg("reader: %s", err.msg);
    weir_job_free(job);
    weir_graph_free(g);
}

/* ------------------------------------------------------------ producing envelopes */

static void produce(const char *bootstrap, const char *topic, int32_t part, const char *value) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr),
                     0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0), RD_KAFKA_V_END);
    assert_int_equal(e, 0);
    assert_int_equal(rd_kafka_flush(rk, 30000), 0);
    rd_kafka_destroy(rk);
}

/* A §5.3 envelope; body is already JSON-string-escaped. */
static char *env(const char *failure, const char *encoding, const char *body, const char *event_ts,
                 const char *rec_ts, const char *replay) {
    char *s = NULL;
    int n = asprintf(&s,
                     "{\"schemaVersion\":\"v1\",\"source\":{\"topic\":\"streaming_events\","
                     "\"partition\":0,\"offset\":7,\"recordTimestamp\":%s},\"failure\":%s,"
                     "\"identity\":{\"eventId\":null,\"eventType\":null,\"eventVersion\":null},"
                     "\"dimensions\":null,\"payload\":{\"encoding\":\"%s\",\"body\":%s,"
                     "\"canonicalJson\":null},\"dedupKey\":null,\"dedupStrategy\":null,"
                     "\"replay\":%s,\"ingestionTimestamp\":1710000005000,\"eventTimestamp\":%s}",
                     rec_ts, failure, encoding, body, replay, event_ts);
    assert_true(n > 0);
    return s;
}

#define SCHEMA_F                                                                                   \
    "{\"stage\":\"SCHEMA_VALIDATION\",\"failureClass\":\"SCHEMA_INVALID\",\"reason\":"             \
    "\"missing_field\",\"details\":\"Missing required field: data.stream_id\"}"
#define PARSE_F                                                                                    \
    "{\"stage\":\"PARSE\",\"failureClass\":\"PARSING_FAILED\",\"reason\":\"parse_exception\","     \
    "\"details\":\"No valid orchestrator data found\"}"

static int64_t fixed_clock(void *ud) {
    (void)ud;
    return NOW;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_replay_job_end_to_end(void **state) {
    (void)state;
    weir_error err = {0};
    weir_embedded_kafka *k = weir_embedded_kafka_start(1, &err);
    if (!k) fail_msg("embedded kafka: %s", err.msg);
    const char *bs = weir_embedded_kafka_bootstrap(k);
    assert_int_equal(weir_embedded_kafka_create_topic(k, DLQ, 2, &err), 0);
    assert_int_equal(weir_embedded_kafka_create_topic(k, OUT, 1, &err), 0);
    assert_int_equal(weir_embedded_kafka_create_topic(k, "out2", 1, &err), 0);

    /* window [1000, 2000], both inclusive */
    char *in[] = {
        /* 0 replayed: schema failure inside the window */
        env(SCHEMA_F, "json", "\"{\\\"id\\\":\\\"a\\\",\\\"n\\\":1}\"", "1500", "1", "false"),
        /* 1 skipped: base64 (deserialisation failure) */
        env(SCHEMA_F, "base64", "\"eyJhIjoxfQ==\"", "1500", "1", "false"),
        /* 2 skipped: after the window */
        env(SCHEMA_F, "json", "\"{\\\"id\\\":\\\"late\\\"}\"", "2001", "1", "false"),
        /* 3 skipped: a replay that failed again (loop protection) */
        env(SCHEMA_F, "json", "\"{\\\"id\\\":\\\"r\\\",\\\"__replay\\\":true}\"", "1500", "1",
            "true"),
        /* 4 replayed: no eventTimestamp, recordTimestamp on the start bound; no failure */
        env("null", "JSON", "\"{\\\"id\\\":\\\"b\\\"}\"", "null", "1000", "false"),
        /* 5 skipped: not an envelope */
        strdup("this is not json"),
        /* 6 replayed: parse failure exactly on the (inclusive) end bound */
        env(PARSE_F, "json",
            "\"{\\\"type\\\":\\\"x\\\",\\\"__replay_ts\\\":1,\\\"id\\\":\\\"c\\\"}\"", "2000", "1",
            "false"),
        /* 7 skipped: array body */
        env(PARSE_F, "json", "\"[1,2]\"", "1500", "1", "false"),
    };
    size_t n_in = sizeof in / sizeof *in;
    for (size_t i = 0; i < n_in; i++) {
        produce(bs, DLQ, (int32_t)(i % 2), in[i]);
        free(in[i]);
    }
    produce(bs, DLQ, 0, NULL); /* 8 skipped: tombstone */

    rp_job_options o;
    memset(&o, 0, sizeof o);
    rp_config_defaults(&o.cfg);
    snprintf(o.cfg.bootstrap, sizeof o.cfg.bootstrap, "%s", bs);
    o.cfg.has_start = 1;
    o.cfg.start_ms = 1000;
    o.cfg.has_end = 1;
    o.cfg.end_ms = 2000;
    o.parallelism = 2;
    rp_job *rj = rp_job_new(&o, &err);
    if (!rj) fail_msg("rp_job_new: %s", err.msg);
    weir_job_options jo = {0};
    jo.clock = fixed_clock;
    weir_job *job = weir_job_start(rp_job_graph(rj), &jo, &err);
    if (!job) fail_msg("start: %s", err.msg);
    if (weir_job_wait(job, &err)) fail_msg("replay job: %s", err.msg);

    rp_progress p;
    rp_job_progress(weir_job_metrics(job), &p);
    assert_int_equal(p.read, 9);
    assert_int_equal(p.by[RP_REPLAYED], 3);
    assert_int_equal(p.skipped, 6);
    assert_int_equal(p.by[RP_SKIP_ENCODING], 1);
    assert_int_equal(p.by[RP_SKIP_WINDOW], 1);
    assert_int_equal(p.by[RP_SKIP_REPLAYED], 1);
    assert_int_equal(p.by[RP_SKIP_MALFORMED], 2);
    assert_int_equal(p.by[RP_SKIP_NOT_OBJECT], 1);
    weir_buf sum = {0};
    rp_job_summary(rj, weir_job_metrics(job), 10, &sum);
    assert_non_null(strstr(sum.data, "\"records_in\":9,\"replayed\":3,\"skipped\":6,"));
    weir_buf_free(&sum);
    weir_job_free(job);
    rp_job_free(rj); /* flushes the producer */

    read_topic(bs, OUT);
    assert_int_equal(g_n, 3);
    qsort(g_vals, g_n, sizeof *g_vals, cmp_str);
    const char *want[3] = {
        "{\"id\":\"a\",\"n\":1,\"__replay\":true,\"__replay_ts\":" NOW_S
        ",\"__replay_source\":\"dlq\",\"__replay_failure_class\":\"SCHEMA_INVALID\"}",
        "{\"id\":\"b\",\"__replay\":true,\"__replay_ts\":" NOW_S ",\"__replay_source\":\"dlq\"}",
        "{\"type\":\"x\",\"__replay_ts\":" NOW_S ",\"id\":\"c\",\"__replay\":true,"
        "\"__replay_source\":\"dlq\",\"__replay_failure_class\":\"PARSING_FAILED\"}",
    };
    for (int i = 0; i < 3; i++) {
        assert_non_null(g_vals[i]);
        assert_string_equal(g_vals[i], want[i]);
    }

    /* the CLI entry point on the same DLQ, into another topic, with the window from flags */
    char *argv[] = {"replay",         "--kafka", (char *)bs,   "--dlq-topic", DLQ,
                    "--output-topic", "out2",    "--start-ms", "1000",        "--end-ms",
                    "2000",           "-p",      "1",          NULL};
    int argc = (int)(sizeof argv / sizeof *argv) - 1;
    fflush(stdout);
    assert_int_equal(weir_cmd_replay(argc, argv), 0);
    read_topic(bs, "out2");
    assert_int_equal(g_n, 3);
    for (size_t i = 0; i < g_n; i++) {
        assert_non_null(strstr(g_vals[i], "\"__replay\":true"));
        assert_non_null(strstr(g_vals[i], "\"__replay_source\":\"dlq\""));
    }
    /* usage errors exit 2 */
    char *bad[] = {"replay", "--end-ms", "abc", NULL};
    assert_int_equal(weir_cmd_replay(3, bad), 2);
    char *same[] = {"replay", "--kafka", (char *)bs, "--output-topic", DLQ, NULL};
    assert_int_equal(weir_cmd_replay(5, same), 2);

    collect_reset();
    weir_embedded_kafka_stop(k);
}

/* An empty DLQ: the bounded job ends at once with zero counts. */
static void test_replay_job_empty_dlq(void **state) {
    (void)state;
    weir_error err = {0};
    weir_embedded_kafka *k = weir_embedded_kafka_start(1, &err);
    if (!k) fail_msg("embedded kafka: %s", err.msg);
    assert_int_equal(weir_embedded_kafka_create_topic(k, DLQ, 1, &err), 0);
    assert_int_equal(weir_embedded_kafka_create_topic(k, OUT, 1, &err), 0);
    rp_job_options o;
    memset(&o, 0, sizeof o);
    rp_config_defaults(&o.cfg);
    snprintf(o.cfg.bootstrap, sizeof o.cfg.bootstrap, "%s", weir_embedded_kafka_bootstrap(k));
    o.parallelism = 1;
    rp_job *rj = rp_job_new(&o, &err);
    assert_non_null(rj);
    weir_job_options jo = {0};
    weir_job *job = weir_job_start(rp_job_graph(rj), &jo, &err);
    if (!job) fail_msg("start: %s", err.msg);
    assert_int_equal(weir_job_wait(job, &err), WEIR_OK);
    rp_progress p;
    rp_job_progress(weir_job_metrics(job), &p);
    assert_int_equal(p.read, 0);
    assert_int_equal(p.skipped, 0);
    weir_job_free(job);
    rp_job_free(rj);
    weir_embedded_kafka_stop(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_job_end_to_end),
        cmocka_unit_test(test_replay_job_empty_dlq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
