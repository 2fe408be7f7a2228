/*
 * test_replay.c - the pure DLQ replay transformation and its configuration (jobs/replay,
 * spec dedup-job.md §10, vectors R1-R6 of §13.5, open points §14.3/§14.4/§14.6, issue #5).
 *
 * Envelopes are written here as JSON text in the §5.3 layout; expected outputs are written out
 * by hand from the spec's rules (document key order, replay keys set in place or appended in the
 * order __replay, __replay_ts, __replay_source, __replay_failure_class), with __replay_ts = the
 * injected NOW.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/replay/replay.h"

#define NOW 1760000000123LL
#define NOW_S "1760000000123"

#define R1_BODY                                                                                    \
    "{\"id\":\"evt-1\",\"type\":\"ai_stream_status\",\"timestamp\":\"1710000000000\",\"__"         \
    "replay\":"                                                                                    \
    "true,\"data\":{\"request_id\":\"r1\",\"pipeline\":\"p1\"}}"

#define SCHEMA_FAILURE                                                                             \
    "{\"stage\":\"SCHEMA_VALIDATION\",\"failureClass\":\"SCHEMA_INVALID\",\"reason\":"             \
    "\"missing_field\",\"details\":\"Missing required field: data.stream_id\"}"
#define PARSE_FAILURE                                                                              \
    "{\"stage\":\"PARSE\",\"failureClass\":\"PARSING_FAILED\",\"reason\":\"parse_exception\","     \
    "\"details\":\"No valid orchestrator data found\"}"

/* Appends @p s as a JSON string (escapes " and \ only: test bodies are plain ASCII). */
static void quote(weir_buf *b, const char *s) {
    weir_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') weir_buf_putc(b, '\\');
        weir_buf_putc(b, *s);
    }
    weir_buf_putc(b, '"');
}

typedef struct env_spec {
    const char *failure;  /* JSON text of the failure value; NULL → SCHEMA_FAILURE */
    const char *encoding; /* JSON text of payload.encoding; NULL → "json" */
    const char *body;     /* raw body text (quoted here); NULL → JSON null */
    const char *payload;  /* JSON text replacing the whole payload object when set */
    const char *event_ts; /* JSON text; NULL → null */
    const char *rec_ts;   /* JSON text of source.recordTimestamp; NULL → 1710000000000 */
    const char *source;   /* JSON text replacing the source object when set */
    const char *replay;   /* JSON text of the envelope replay flag; NULL → false */
    const char *extra;    /* extra top-level members, e.g. ",\"x\":1" */
} env_spec;

/* Builds a §5.3 envelope into @p b (reset first). */
static const char *envelope(weir_buf *b, const env_spec *e) {
    weir_buf_reset(b);
    weir_buf_puts(b, "{\"schemaVersion\":\"v1\",\"source\":");
    if (e->source)
        weir_buf_puts(b, e->source);
    else
        weir_buf_printf(b,
                        "{\"topic\":\"streaming_events\",\"partition\":0,\"offset\":1,"
                        "\"recordTimestamp\":%s}",
                        e->rec_ts ? e->rec_ts : "1710000000000");
    weir_buf_printf(b, ",\"failure\":%s", e->failure ? e->failure : SCHEMA_FAILURE);
    weir_buf_puts(b, ",\"identity\":{\"eventId\":\"evt-1\",\"eventType\":\"ai_stream_status\","
                     "\"eventVersion\":null},\"dimensions\":{\"orchestrator\":null,"
                     "\"broadcaster\":null,\"region\":null},\"payload\":");
    if (e->payload) {
        weir_buf_puts(b, e->payload);
    } else {
        weir_buf_printf(b, "{\"encoding\":%s,\"body\":", e->encoding ? e->encoding : "\"json\"");
        if (e->body)
            quote(b, e->body);
        else
            weir_buf_puts(b, "null");
        weir_buf_puts(b, ",\"canonicalJson\":null}");
    }
    weir_buf_printf(b,
                    ",\"dedupKey\":null,\"dedupStrategy\":null,\"replay\":%s,"
                    "\"ingestionTimestamp\":1710000005000,\"eventTimestamp\":%s%s}",
                    e->replay ? e->replay : "false", e->event_ts ? e->event_ts : "null",
                    e->extra ? e->extra : "");
    assert_false(b->oom);
    return b->data;
}

typedef struct fx {
    rp_config cfg;
    rp_replayer *r;
    weir_buf env, out, detail;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    rp_config_defaults(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    rp_replayer_free(f->r);
    weir_buf_free(&f->env);
    weir_buf_free(&f->out);
    weir_buf_free(&f->detail);
    free(f);
    return 0;
}

/* (Re)creates the replayer from f->cfg. */
static void use_cfg(fx *f) {
    rp_replayer_free(f->r);
    f->r = rp_replayer_new(&f->cfg);
    assert_non_null(f->r);
}

/* Runs one raw record; returns the outcome; the output (if any) is in f->out. */
static rp_outcome run_raw(fx *f, const char *value, size_t len) {
    if (!f->r) use_cfg(f);
    weir_buf_reset(&f->out);
    weir_buf_reset(&f->detail);
    rp_outcome o = rp_replay_record(f->r, value, len, NOW, &f->out, &f->detail);
    if (o != RP_REPLAYED) {
        assert_int_equal(f->out.len, 0); /* a skip never produces output */
        assert_true(f->detail.len > 0);  /* ... and always explains itself */
    }
    return o;
}

static rp_outcome run(fx *f, const env_spec *e) {
    const char *v = envelope(&f->env, e);
    return run_raw(f, v, strlen(v));
}

static void expect_replayed(fx *f, const env_spec *e, const char *want) {
    rp_outcome o = run(f, e);
    if (o != RP_REPLAYED) fail_msg("skipped as %s: %s", rp_outcome_name(o), f->detail.data);
    assert_string_equal(f->out.data, want);
}

/* ---------------------------------------------------------------- §13.5 vectors */

/* R1 as written in the spec: the original job (loop protection off) re-replays a payload that
 * already carries "__replay":true; __replay keeps its position, the other keys are appended. */
static void test_r1_spec_vector(void **state) {
    fx *f = *state;
    f->cfg.include_replayed = 1;
    use_cfg(f);
    env_spec e = {.body = R1_BODY, .replay = "true", .event_ts = "1710000000000"};
    expect_replayed(f, &e,
                    "{\"id\":\"evt-1\",\"type\":\"ai_stream_status\",\"timestamp\":"
                    "\"1710000000000\",\"__replay\":true,\"data\":{\"request_id\":\"r1\","
                    "\"pipeline\":\"p1\"},\"__replay_ts\":" NOW_S ",\"__replay_source\":\"dlq\","
                    "\"__replay_failure_class\":\"SCHEMA_INVALID\"}");
}

/* R1 with the default loop protection (issue #5): the same record is a replay that failed
 * again: skipped with its own reason. */
static void test_r1_loop_protection(void **state) {
    fx *f = *state;
    env_spec e = {.body = R1_BODY, .replay = "true", .event_ts = "1710000000000"};
    assert_int_equal(run(f, &e), RP_SKIP_REPLAYED);
    assert_string_equal(rp_outcome_counter(RP_SKIP_REPLAYED), "replay.skipped_replayed");
    /* the envelope flag alone is enough (payload without __replay) ... */
    env_spec e2 = {.body = "{\"id\":\"evt-1\"}", .replay = "true"};
    assert_int_equal(run(f, &e2), RP_SKIP_REPLAYED);
    /* ... and so is the payload flag alone, also in its lenient forms (lbool, §2.4) */
    env_spec e3 = {.body = "{\"id\":\"evt-1\",\"__replay\":true}"};
    assert_int_equal(run(f, &e3), RP_SKIP_REPLAYED);
    env_spec e4 = {.body = "{\"id\":\"evt-1\",\"__replay\":\" true \"}"};
    assert_int_equal(run(f, &e4), RP_SKIP_REPLAYED);
    env_spec e5 = {.body = "{\"id\":\"evt-1\",\"__replay\":1}"};
    assert_int_equal(run(f, &e5), RP_SKIP_REPLAYED);
}

/* R1's payload without the __replay key: every replay key is appended in spec order. */
static void test_r1_first_replay(void **state) {
    fx *f = *state;
    env_spec e = {.body =
                      "{\"id\":\"evt-1\",\"type\":\"ai_stream_status\",\"timestamp\":"
                      "\"1710000000000\",\"data\":{\"request_id\":\"r1\",\"pipeline\":\"p1\"}}"};
    expect_replayed(f, &e,
                    "{\"id\":\"evt-1\",\"type\":\"ai_stream_status\",\"timestamp\":"
                    "\"1710000000000\",\"data\":{\"request_id\":\"r1\",\"pipeline\":\"p1\"},"
                    "\"__replay\":true,\"__replay_ts\":" NOW_S ",\"__replay_source\":\"dlq\","
                    "\"__replay_failure_class\":\"SCHEMA_INVALID\"}");
}

static void test_r2_base64(void **state) {
    fx *f = *state;
    env_spec e = {.encoding = "\"base64\"", .body = "eyJhIjoxfQ=="};
    assert_int_equal(run(f, &e), RP_SKIP_ENCODING);
}

static void test_r3_r4_window(void **state) {
    fx *f = *state;
    f->cfg.has_start = 1;
    f->cfg.start_ms = 1000;
    f->cfg.has_end = 1;
    f->cfg.end_ms = 2000;
    use_cfg(f);
    const char *body = "{\"id\":\"w\"}";
    const char *want =
        "{\"id\":\"w\",\"__replay\":true,\"__replay_ts\":" NOW_S
        ",\"__replay_source\":\"dlq\",\"__replay_failure_class\":\"SCHEMA_INVALID\"}";
    /* R3: the end bound is inclusive */
    env_spec r3 = {.body = body, .event_ts = "2000"};
    expect_replayed(f, &r3, want);
    /* R4: no eventTimestamp → source.recordTimestamp 999 < start */
    env_spec r4 = {.body = body, .rec_ts = "999"};
    assert_int_equal(run(f, &r4), RP_SKIP_WINDOW);
    /* the start bound is inclusive too; just outside either end is dropped */
    env_spec s = {.body = body, .event_ts = "1000"};
    expect_replayed(f, &s, want);
    env_spec after = {.body = body, .event_ts = "2001"};
    assert_int_equal(run(f, &after), RP_SKIP_WINDOW);
    env_spec before = {.body = body, .event_ts = "999"};
    assert_int_equal(run(f, &before), RP_SKIP_WINDOW);
    /* recordTimestamp is only the fallback: eventTimestamp wins when non-null */
    env_spec ev_wins = {.body = body, .event_ts = "1500", .rec_ts = "999"};
    expect_replayed(f, &ev_wins, want);
    env_spec ev_out = {.body = body, .event_ts = "2500", .rec_ts = "1500"};
    assert_int_equal(run(f, &ev_out), RP_SKIP_WINDOW);
    env_spec rec_in = {.body = body, .rec_ts = "2000"};
    expect_replayed(f, &rec_in, want);
    /* no time at all (§14.6): cannot be placed in a window, counted separately */
    env_spec none = {.body = body, .source = "null"};
    assert_int_equal(run(f, &none), RP_SKIP_NO_TIME);
    env_spec none2 = {.body = body, .source = "{\"topic\":\"t\",\"recordTimestamp\":null}"};
    assert_int_equal(run(f, &none2), RP_SKIP_NO_TIME);
}

static void test_window_one_sided(void **state) {
    fx *f = *state;
    const char *body = "{\"id\":\"w\"}";
    f->cfg.has_start = 1;
    f->cfg.start_ms = 1000;
    use_cfg(f);
    env_spec hi = {.body = body, .event_ts = "9223372036854775807"};
    assert_int_equal(run(f, &hi), RP_REPLAYED);
    env_spec lo = {.body = body, .event_ts = "-1"};
    assert_int_equal(run(f, &lo), RP_SKIP_WINDOW);
    f->cfg.has_start = 0;
    f->cfg.has_end = 1;
    f->cfg.end_ms = 1000;
    use_cfg(f);
    assert_int_equal(run(f, &lo), RP_REPLAYED);
    assert_int_equal(run(f, &hi), RP_SKIP_WINDOW);
    /* no bounds: everything passes, even without any time */
    f->cfg.has_end = 0;
    use_cfg(f);
    env_spec none = {.body = body, .source = "null"};
    assert_int_equal(run(f, &none), RP_REPLAYED);
}

static void test_r5_non_object_bodies(void **state) {
    fx *f = *state;
    env_spec arr = {.body = "[1,2]"};
    assert_int_equal(run(f, &arr), RP_SKIP_NOT_OBJECT);
    env_spec bad = {.body = "{\"id\":"};
    assert_int_equal(run(f, &bad), RP_SKIP_BODY_INVALID);
    env_spec bad2 = {.body = "not json"};
    assert_int_equal(run(f, &bad2), RP_SKIP_BODY_INVALID);
    env_spec str = {.body = "\"text\""};
    assert_int_equal(run(f, &str), RP_SKIP_NOT_OBJECT);
    env_spec num = {.body = "42"};
    assert_int_equal(run(f, &num), RP_SKIP_NOT_OBJECT);
    env_spec nul = {.body = "null"};
    assert_int_equal(run(f, &nul), RP_SKIP_NOT_OBJECT);
    env_spec empty = {.body = ""}; /* empty input is "no value" (§2.2), not an object */
    assert_int_equal(run(f, &empty), RP_SKIP_NOT_OBJECT);
}

static void test_r6_failure_null(void **state) {
    fx *f = *state;
    const char *want = "{\"id\":\"evt-2\",\"__replay\":true,\"__replay_ts\":" NOW_S
                       ",\"__replay_source\":\"dlq\"}";
    env_spec e = {.failure = "null", .body = "{\"id\":\"evt-2\"}"};
    expect_replayed(f, &e, want);
    /* no failure member at all: same */
    weir_buf_reset(&f->env);
    const char *v = "{\"payload\":{\"encoding\":\"json\",\"body\":\"{\\\"id\\\":\\\"evt-2\\\"}\"}}";
    assert_int_equal(run_raw(f, v, strlen(v)), RP_REPLAYED);
    assert_string_equal(f->out.data, want);
    /* without a failure object an existing __replay_failure_class is left alone */
    env_spec k = {.failure = "null",
                  .body = "{\"__replay_failure_class\":\"OLD\",\"id\":\"evt-2\"}"};
    expect_replayed(f, &k,
                    "{\"__replay_failure_class\":\"OLD\",\"id\":\"evt-2\",\"__replay\":true,"
                    "\"__replay_ts\":" NOW_S ",\"__replay_source\":\"dlq\"}");
    /* a failure object whose failureClass is null → JSON null */
    env_spec fc = {.failure = "{\"stage\":\"PARSE\",\"failureClass\":null}", .body = "{}"};
    expect_replayed(f, &fc,
                    "{\"__replay\":true,\"__replay_ts\":" NOW_S ",\"__replay_source\":\"dlq\","
                    "\"__replay_failure_class\":null}");
    /* ... and so is a failure object without failureClass */
    env_spec fc2 = {.failure = "{}", .body = "{}"};
    expect_replayed(f, &fc2,
                    "{\"__replay\":true,\"__replay_ts\":" NOW_S ",\"__replay_source\":\"dlq\","
                    "\"__replay_failure_class\":null}");
}

/* ------------------------------------------------------------ further behaviour */

static void test_encoding_case_insensitive(void **state) {
    fx *f = *state;
    const char *want =
        "{\"a\":1,\"__replay\":true,\"__replay_ts\":" NOW_S
        ",\"__replay_source\":\"dlq\",\"__replay_failure_class\":\"SCHEMA_INVALID\"}";
    static const char *const ok[] = {"\"JSON\"", "\"Json\"", "\"jSoN\"",
                                     "\"j\\u017fon\"" /* Java: 'ſ'.toUpperCase() == 'S' */};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        env_spec e = {.encoding = ok[i], .body = "{\"a\":1}"};
        expect_replayed(f, &e, want);
    }
    static const char *const bad[] = {"\"json \"",  "\" json\"", "\"jso\"", "\"jsonx\"",
                                      "\"BASE64\"", "\"\"",      "null",    "5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        env_spec e = {.encoding = bad[i], .body = "{\"a\":1}"};
        assert_int_equal(run(f, &e), RP_SKIP_ENCODING);
    }
}

static void test_keys_keep_position(void **state) {
    fx *f = *state;
    env_spec e = {.failure = PARSE_FAILURE,
                  .body = "{\"__replay_source\":\"old\",\"a\":1,\"__replay_ts\":5,"
                          "\"__replay_failure_class\":\"OLD\",\"b\":[1,{\"c\":null}],"
                          "\"__replay\":false}"};
    expect_replayed(f, &e,
                    "{\"__replay_source\":\"dlq\",\"a\":1,\"__replay_ts\":" NOW_S
                    ",\"__replay_failure_class\":\"PARSING_FAILED\",\"b\":[1,{\"c\":null}],"
                    "\"__replay\":true}");
    /* __replay:false in the middle keeps its slot; the others are appended */
    env_spec e2 = {.failure = PARSE_FAILURE, .body = "{\"x\":1,\"__replay\":false,\"y\":2}"};
    expect_replayed(f, &e2,
                    "{\"x\":1,\"__replay\":true,\"y\":2,\"__replay_ts\":" NOW_S
                    ",\"__replay_source\":\"dlq\",\"__replay_failure_class\":\"PARSING_FAILED\"}");
}

/* Output is the compact serialisation with the §2.2/§4.3 rules: whitespace dropped, duplicate
 * keys collapsed (last value, first position), doubles in Java format, escapes re-written. */
static void test_compact_serialisation(void **state) {
    fx *f = *state;
    env_spec e = {.failure = "null",
                  .body =
                      "{ \"a\" : 1, \"v\": 1.50, \"w\": 1e2, \"a\": 2, \"s\": \"x\\u0041\\/\" }"};
    expect_replayed(
        f, &e,
        "{\"a\":2,\"v\":1.5,\"w\":100.0,\"s\":\"xA/\",\"__replay\":true,\"__replay_ts\":" NOW_S
        ",\"__replay_source\":\"dlq\"}");
}

static void test_unknown_keys_ignored(void **state) {
    fx *f = *state;
    env_spec e = {.failure = "{\"stage\":\"PARSE\",\"failureClass\":\"PARSING_FAILED\","
                             "\"newField\":[1,2]}",
                  .payload = "{\"encoding\":\"json\",\"compression\":{\"k\":\"none\"},"
                             "\"body\":\"{\\\"id\\\":\\\"u\\\"}\",\"canonicalJson\":null,"
                             "\"more\":true}",
                  .extra = ",\"schemaVersion2\":\"v2\",\"traceparent\":{\"x\":[null]}"};
    expect_replayed(f, &e,
                    "{\"id\":\"u\",\"__replay\":true,\"__replay_ts\":" NOW_S
                    ",\"__replay_source\":\"dlq\",\"__replay_failure_class\":\"PARSING_FAILED\"}");
}

static void test_malformed_envelopes(void **state) {
    fx *f = *state;
    static const char *const bad[] = {
        "not json",
        "{\"payload\":",
        "[1,2]",
        "\"string\"",
        "",
        "{\"payload\":\"x\"}",
        "{\"payload\":{\"encoding\":\"json\",\"body\":{\"id\":1}}}",
        "{\"failure\":\"SCHEMA_INVALID\",\"payload\":{\"encoding\":\"json\",\"body\":\"{}\"}}",
        "{\"eventTimestamp\":\"abc\",\"payload\":{\"encoding\":\"json\",\"body\":\"{}\"}}",
        "{\"eventTimestamp\":true,\"payload\":{\"encoding\":\"json\",\"body\":\"{}\"}}",
        "{\"source\":[],\"payload\":{\"encoding\":\"json\",\"body\":\"{}\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rp_outcome o = run_raw(f, bad[i], strlen(bad[i]));
        if (o != RP_SKIP_MALFORMED) fail_msg("'%s' → %s", bad[i], rp_outcome_name(o));
    }
    assert_int_equal(run_raw(f, NULL, 0), RP_SKIP_MALFORMED); /* tombstone */
    assert_string_equal(rp_outcome_counter(RP_SKIP_MALFORMED), "replay.skipped_malformed");
}

/* Jackson's default scalar coercions for the timestamp fields. */
static void test_timestamp_coercion(void **state) {
    fx *f = *state;
    f->cfg.has_start = 1;
    f->cfg.start_ms = 1000;
    f->cfg.has_end = 1;
    f->cfg.end_ms = 2000;
    use_cfg(f);
    env_spec s = {.body = "{}", .event_ts = "\"1500\""};
    assert_int_equal(run(f, &s), RP_REPLAYED);
    env_spec d = {.body = "{}", .event_ts = "2000.9"}; /* truncated to 2000 */
    assert_int_equal(run(f, &d), RP_REPLAYED);
    env_spec blank = {.body = "{}", .event_ts = "\"\"", .rec_ts = "999"}; /* "" → null */
    assert_int_equal(run(f, &blank), RP_SKIP_WINDOW);
}

static void test_no_payload(void **state) {
    fx *f = *state;
    env_spec p = {.payload = "null"};
    assert_int_equal(run(f, &p), RP_SKIP_NO_PAYLOAD);
    env_spec b = {.body = NULL};
    assert_int_equal(run(f, &b), RP_SKIP_NO_PAYLOAD);
    const char *missing = "{\"failure\":null}";
    assert_int_equal(run_raw(f, missing, strlen(missing)), RP_SKIP_NO_PAYLOAD);
}

/* The loop guard comes after the payload rules: a base64 envelope of a replay is an encoding
 * skip, a replayed payload outside the window is a window skip. */
static void test_skip_order(void **state) {
    fx *f = *state;
    f->cfg.has_end = 1;
    f->cfg.end_ms = 2000;
    use_cfg(f);
    env_spec e = {.encoding = "\"base64\"", .body = "e30=", .replay = "true", .event_ts = "1500"};
    assert_int_equal(run(f, &e), RP_SKIP_ENCODING);
    env_spec w = {.body = "{\"__replay\":true}", .event_ts = "3000"};
    assert_int_equal(run(f, &w), RP_SKIP_WINDOW);
}

/* ------------------------------------------------------------------ configuration */

static const char *const *g_env;

static const char *fake_getenv(const char *name) {
    for (const char *const *p = g_env; p && *p; p += 2)
        if (!strcmp(p[0], name)) return p[1];
    return NULL;
}

static void test_config_defaults_and_env(void **state) {
    (void)state;
    rp_config c;
    rp_config_defaults(&c);
    g_env = NULL;
    assert_int_equal(rp_config_from_env(&c, fake_getenv), WEIR_OK);
    assert_string_equal(c.bootstrap, "kafka:9092");
    assert_string_equal(c.dlq_topic, "events.dlq.streaming_events.v1");
    assert_string_equal(c.output_topic, "streaming_events");
    assert_string_equal(c.group_id, "flink-dlq-replay-v1");
    assert_int_equal(c.has_start, 0);
    assert_int_equal(c.has_end, 0);
    assert_int_equal(c.include_replayed, 0);

    static const char *const fallback[] = {"QUALITY_KAFKA_BOOTSTRAP",
                                           "q:1",
                                           "QUALITY_DLQ_TOPIC",
                                           "qdlq",
                                           "QUALITY_INPUT_TOPIC",
                                           "qin",
                                           "REPLAY_DLQ_TOPIC",
                                           "", /* empty → fallback */
                                           NULL};
    g_env = fallback;
    rp_config_defaults(&c);
    rp_config_from_env(&c, fake_getenv);
    assert_string_equal(c.bootstrap, "q:1");
    assert_string_equal(c.dlq_topic, "qdlq");
    assert_string_equal(c.output_topic, "qin");

    static const char *const own[] = {"QUALITY_KAFKA_BOOTSTRAP",
                                      "q:1",
                                      "REPLAY_KAFKA_BOOTSTRAP",
                                      "r:2",
                                      "QUALITY_DLQ_TOPIC",
                                      "qdlq",
                                      "REPLAY_DLQ_TOPIC",
                                      "rdlq",
                                      "QUALITY_INPUT_TOPIC",
                                      "qin",
                                      "REPLAY_OUTPUT_TOPIC",
                                      "rout",
                                      "REPLAY_GROUP_ID",
                                      "g",
                                      "REPLAY_START_EPOCH_MS",
                                      " 1000 ",
                                      "REPLAY_END_EPOCH_MS",
                                      "2000",
                                      "REPLAY_INCLUDE_REPLAYED",
                                      "TRUE",
                                      NULL};
    g_env = own;
    rp_config_defaults(&c);
    rp_config_from_env(&c, fake_getenv);
    assert_string_equal(c.bootstrap, "r:2");
    assert_string_equal(c.dlq_topic, "rdlq");
    assert_string_equal(c.output_topic, "rout");
    assert_string_equal(c.group_id, "g");
    assert_int_equal(c.has_start, 1);
    assert_int_equal(c.start_ms, 1000);
    assert_int_equal(c.has_end, 1);
    assert_int_equal(c.end_ms, 2000);
    assert_int_equal(c.include_replayed, 1);

    static const char *const bad[] = {"REPLAY_START_EPOCH_MS", "abc", "REPLAY_END_EPOCH_MS", "",
                                      NULL};
    g_env = bad;
    rp_config_defaults(&c);
    rp_config_from_env(&c, fake_getenv);
    assert_int_equal(c.has_start, 0);
    assert_int_equal(c.has_end, 0);
    g_env = NULL;
}

static void test_parse_bound(void **state) {
    (void)state;
    int64_t v = 0;
    assert_int_equal(rp_parse_bound("1000", &v), 1);
    assert_int_equal(v, 1000);
    assert_int_equal(rp_parse_bound("  -5\t", &v), 1);
    assert_int_equal(v, -5);
    assert_int_equal(rp_parse_bound("+7", &v), 1);
    assert_int_equal(v, 7);
    assert_int_equal(rp_parse_bound("9223372036854775807", &v), 1);
    assert_true(v == INT64_MAX);
    assert_int_equal(rp_parse_bound("-9223372036854775808", &v), 1);
    assert_true(v == INT64_MIN);
    static const char *const bad[] = {"",  "  ", "abc", "1.5", "1e3", "12x", "9223372036854775808",
                                      "+", "-",  "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(rp_parse_bound(bad[i], &v), 0);
    assert_int_equal(rp_parse_bound(NULL, &v), 0);
}

/* ---------------------------------------------------------- progress and summary */

static void test_progress_and_summary(void **state) {
    (void)state;
    weir_metrics *m = weir_metrics_new();
    weir_counter_add(weir_metrics_counter(m, "replay.read"), 10);
    weir_counter_add(weir_metrics_counter(m, "replay.replayed"), 6);
    weir_counter_add(weir_metrics_counter(m, "replay.skipped_window"), 3);
    weir_counter_add(weir_metrics_counter(m, "replay.skipped_replayed"), 1);
    rp_progress p;
    rp_job_progress(m, &p);
    assert_int_equal(p.read, 10);
    assert_int_equal(p.by[RP_REPLAYED], 6);
    assert_int_equal(p.skipped, 4);
    assert_int_equal(p.by[RP_SKIP_WINDOW], 3);
    weir_buf b = {0};
    rp_progress_write(&b, &p);
    assert_string_equal(b.data,
                        "replay: read 10, replayed 6, skipped 4 (window 3, replayed_again 1)");
    rp_job_options o;
    memset(&o, 0, sizeof o);
    rp_config_defaults(&o.cfg);
    o.cfg.has_start = 1;
    o.cfg.start_ms = 1000;
    o.parallelism = 1;
    weir_error err = {0};
    rp_job *j = rp_job_new(&o, &err);
    assert_non_null(j);
    weir_buf_reset(&b);
    rp_job_summary(j, m, 2000, &b);
    assert_string_equal(
        b.data, "{\"job\":\"replay\",\"dlq_topic\":\"events.dlq.streaming_events.v1\","
                "\"output_topic\":\"streaming_events\",\"window\":{\"start_ms\":1000,\"end_ms\":"
                "null,\"end_inclusive\":true},\"include_replayed\":false,\"records_in\":10,"
                "\"replayed\":6,\"skipped\":4,\"skipped_by_reason\":{\"malformed\":0,"
                "\"no_time\":0,\"window\":3,\"no_payload\":0,\"encoding\":0,\"body_invalid\":0,"
                "\"not_object\":0,\"replayed_again\":1},\"elapsed_ms\":2000,\"records_per_s\":5}");
    rp_job_free(j);
    /* bad options are errors, not crashes */
    o.cfg.has_end = 1;
    o.cfg.end_ms = 999;
    assert_null(rp_job_new(&o, &err));
    assert_int_equal(err.code, WEIR_EINVAL);
    o.cfg.has_end = 0;
    snprintf(o.cfg.output_topic, sizeof o.cfg.output_topic, "%s", o.cfg.dlq_topic);
    assert_null(rp_job_new(&o, &err));
    o.parallelism = 0;
    assert_null(rp_job_new(&o, &err));
    weir_buf_free(&b);
    weir_metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_r1_spec_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_r1_loop_protection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_r1_first_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_r2_base64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_r3_r4_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_one_sided, setup, teardown),
        cmocka_unit_test_setup_teardown(test_r5_non_object_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_r6_failure_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoding_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_keep_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_serialisation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keys_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_envelopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_coercion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_order, setup, teardown),
        cmocka_unit_test(test_config_defaults_and_env),
        cmocka_unit_test(test_parse_bound),
        cmocka_unit_test(test_progress_and_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
