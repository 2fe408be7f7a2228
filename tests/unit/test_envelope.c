/*
 * test_envelope.c - rejected-event envelopes (jobs/dedup/envelope.c, spec dedup-job.md §5) and
 * the binary event encoding (jobs/dedup/event.c).
 *
 * Kafka JSON: the §5.3 example is exactly vector Q16 (offset 1, replay true, eventTimestamp
 * TS0); the ingestion time is fixed at NOW. ClickHouse rows: Q26, Q27, D12 (§13.1, §13.2).
 * D12 needs the dedup operator; its row shape is covered with an envelope built by
 * dd_envelope_from_event() for the D9 duplicate (id evt-1, dedup key dedup-1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/dedup/dedup.h"

#define TS0 INT64_C(1710000000000)
#define NOW INT64_C(1710000005000)

static dd_source src_at(int64_t offset) {
    dd_source s;
    memset(&s, 0, sizeof s);
    s.present = 1;
    s.topic = wj_cstr("streaming_events");
    s.partition = 0;
    s.offset = offset;
    s.record_ts = TS0;
    return s;
}

#define Q16                                                                                        \
    "{\"id\":\"evt-1\",\"type\":\"ai_stream_status\",\"timestamp\":\"1710000000000\","             \
    "\"__replay\":true,\"data\":{\"request_id\":\"r1\",\"pipeline\":\"p1\"}}"
#define Q16_ESCAPED                                                                                \
    "\"{\\\"id\\\":\\\"evt-1\\\",\\\"type\\\":\\\"ai_stream_status\\\",\\\"timestamp\\\":"         \
    "\\\"1710000000000\\\",\\\"__replay\\\":true,\\\"data\\\":{\\\"request_id\\\":\\\"r1\\\","     \
    "\\\"pipeline\\\":\\\"p1\\\"}}\""

/* §5.3 example (= Q16). */
static void kafka_example(void **state) {
    (void)state;
    dd_config c;
    dd_config_defaults(&c);
    dd_gate *g = dd_gate_new(&c, NULL);
    assert_non_null(g);
    dd_source s = src_at(1);
    dd_event ev;
    dd_envelope env;
    assert_int_equal(dd_gate_process(g, Q16, strlen(Q16), &s, NOW, &ev, &env), DD_GATE_REJECTED);
    weir_buf out = {0};
    dd_envelope_write_kafka(&out, &env);
    assert_string_equal(
        out.data,
        "{\"schemaVersion\":\"v1\",\"source\":{\"topic\":\"streaming_events\",\"partition\":0,"
        "\"offset\":1,\"recordTimestamp\":1710000000000},"
        "\"failure\":{\"stage\":\"SCHEMA_VALIDATION\",\"failureClass\":\"SCHEMA_INVALID\","
        "\"reason\":\"missing_field\",\"details\":\"Missing required field: data.stream_id\"},"
        "\"identity\":{\"eventId\":\"evt-1\",\"eventType\":\"ai_stream_status\","
        "\"eventVersion\":null},"
        "\"dimensions\":{\"orchestrator\":null,\"broadcaster\":null,\"region\":null},"
        "\"payload\":{\"encoding\":\"json\",\"body\":" Q16_ESCAPED ",\"canonicalJson\":" Q16_ESCAPED
        "},"
        "\"dedupKey\":null,\"dedupStrategy\":null,\"replay\":true,"
        "\"ingestionTimestamp\":1710000005000,\"eventTimestamp\":1710000000000}");

    /* Q26: the same envelope as a streaming_events_dlq row */
    weir_buf_reset(&out);
    dd_envelope_write_row(&out, &env);
    assert_string_equal(
        out.data, "{\"schema_version\":\"v1\",\"source_topic\":\"streaming_events\","
                  "\"source_partition\":0,\"source_offset\":1,"
                  "\"source_record_timestamp\":\"2024-03-09 16:00:00.000\",\"event_id\":\"evt-1\","
                  "\"event_type\":\"ai_stream_status\",\"event_version\":null,"
                  "\"event_timestamp\":\"2024-03-09 16:00:00.000\",\"dedup_key\":null,"
                  "\"dedup_strategy\":null,\"replay\":1,\"failure_stage\":\"SCHEMA_VALIDATION\","
                  "\"failure_class\":\"SCHEMA_INVALID\",\"failure_reason\":\"missing_field\","
                  "\"failure_details\":\"Missing required field: data.stream_id\","
                  "\"orchestrator\":null,\"broadcaster\":null,\"region\":null,"
                  "\"payload_encoding\":\"json\",\"payload_body\":" Q16_ESCAPED
                  ",\"payload_canonical_json\":" Q16_ESCAPED
                  ",\"ingestion_timestamp\":\"2024-03-09 16:00:05.000\"}");
    weir_buf_free(&out);
    dd_gate_free(g);
}

/* Q1 / Q27: null payload in Kafka JSON and as a row. */
static void null_payload(void **state) {
    (void)state;
    dd_gate *g = dd_gate_new(NULL, NULL);
    assert_non_null(g);
    dd_source s = src_at(3);
    dd_event ev;
    dd_envelope env;
    assert_int_equal(dd_gate_process(g, NULL, 0, &s, NOW, &ev, &env), DD_GATE_REJECTED);
    weir_buf out = {0};
    dd_envelope_write_kafka(&out, &env);
    assert_string_equal(
        out.data,
        "{\"schemaVersion\":\"v1\",\"source\":{\"topic\":\"streaming_events\",\"partition\":0,"
        "\"offset\":3,\"recordTimestamp\":1710000000000},"
        "\"failure\":{\"stage\":\"DESERIALIZATION\",\"failureClass\":\"DESERIALIZATION_FAILED\","
        "\"reason\":\"null_payload\",\"details\":\"Record value is null\"},"
        "\"identity\":{\"eventId\":null,\"eventType\":null,\"eventVersion\":null},"
        "\"dimensions\":null,"
        "\"payload\":{\"encoding\":\"json\",\"body\":null,\"canonicalJson\":null},"
        "\"dedupKey\":null,\"dedupStrategy\":null,\"replay\":false,"
        "\"ingestionTimestamp\":1710000005000,\"eventTimestamp\":null}");
    weir_buf_reset(&out);
    dd_envelope_write_row(&out, &env);
    assert_string_equal(
        out.data,
        "{\"schema_version\":\"v1\",\"source_topic\":\"streaming_events\",\"source_partition\":0,"
        "\"source_offset\":3,\"source_record_timestamp\":\"2024-03-09 16:00:00.000\","
        "\"event_id\":\"\",\"event_type\":\"\",\"event_version\":null,\"event_timestamp\":null,"
        "\"dedup_key\":null,\"dedup_strategy\":null,\"replay\":0,"
        "\"failure_stage\":\"DESERIALIZATION\",\"failure_class\":\"DESERIALIZATION_FAILED\","
        "\"failure_reason\":\"null_payload\",\"failure_details\":\"Record value is null\","
        "\"orchestrator\":null,\"broadcaster\":null,\"region\":null,"
        "\"payload_encoding\":\"json\",\"payload_body\":\"\",\"payload_canonical_json\":null,"
        "\"ingestion_timestamp\":\"2024-03-09 16:00:05.000\"}");
    weir_buf_free(&out);
    dd_gate_free(g);
}

/* The accepted event of D9 (id evt-1, dedup key dedup-1), as the dedup operator would see it. */
static dd_event d9_event(void) {
    dd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.event_id = wj_cstr("evt-1");
    ev.event_type = wj_cstr("ai_stream_status");
    ev.event_version = wj_cstr("1");
    ev.gateway = wj_cstr("");
    ev.raw_json = wj_cstr("{\"id\":\"evt-1\",\"type\":\"ai_stream_status\",\"timestamp\":"
                          "1710000000000,\"data\":{\"stream_id\":\"s1\",\"request_id\":\"r1\","
                          "\"pipeline\":\"p1\"}}");
    ev.timestamp = TS0;
    ev.replay = 0;
    ev.source = src_at(9);
    ev.dedup_key = wj_cstr("dedup-1");
    ev.dedup_strategy = "event_id";
    return ev;
}

/* D12: the quarantine row of D9's duplicate. */
static void d12_quarantine_row(void **state) {
    (void)state;
    dd_event ev = d9_event();
    dd_envelope env;
    dd_envelope_from_event(&env, &ev, "DEDUP", "DUPLICATE", "duplicate_event",
                           wj_cstr("Duplicate detected for key: dedup-1"), NOW);
    weir_buf out = {0};
    dd_envelope_write_row(&out, &env);
    assert_string_equal(
        out.data,
        "{\"schema_version\":\"v1\",\"source_topic\":\"streaming_events\",\"source_partition\":0,"
        "\"source_offset\":9,\"source_record_timestamp\":\"2024-03-09 16:00:00.000\","
        "\"event_id\":\"evt-1\",\"event_type\":\"ai_stream_status\",\"event_version\":\"1\","
        "\"event_timestamp\":\"2024-03-09 16:00:00.000\",\"dedup_key\":\"dedup-1\","
        "\"dedup_strategy\":\"event_id\",\"replay\":0,\"failure_stage\":\"DEDUP\","
        "\"failure_class\":\"DUPLICATE\",\"failure_reason\":\"duplicate_event\","
        "\"failure_details\":\"Duplicate detected for key: dedup-1\","
        "\"orchestrator\":null,\"broadcaster\":null,\"region\":null,"
        "\"payload_encoding\":\"json\",\"payload_body\":\"{\\\"id\\\":\\\"evt-1\\\",\\\"type\\\":"
        "\\\"ai_stream_status\\\",\\\"timestamp\\\":1710000000000,\\\"data\\\":{\\\"stream_id\\\":"
        "\\\"s1\\\",\\\"request_id\\\":\\\"r1\\\",\\\"pipeline\\\":\\\"p1\\\"}}\","
        "\"payload_canonical_json\":null,\"ingestion_timestamp\":\"2024-03-09 16:00:05.000\"}");

    /* the same envelope on Kafka */
    weir_buf_reset(&out);
    dd_envelope_write_kafka(&out, &env);
    const char *want_tail =
        "\"dedupKey\":\"dedup-1\",\"dedupStrategy\":\"event_id\",\"replay\":false,"
        "\"ingestionTimestamp\":1710000005000,\"eventTimestamp\":1710000000000}";
    assert_non_null(strstr(out.data, "\"failure\":{\"stage\":\"DEDUP\",\"failureClass\":"
                                     "\"DUPLICATE\",\"reason\":\"duplicate_event\",\"details\":"
                                     "\"Duplicate detected for key: dedup-1\"}"));
    assert_non_null(strstr(out.data, "\"identity\":{\"eventId\":\"evt-1\",\"eventType\":"
                                     "\"ai_stream_status\",\"eventVersion\":\"1\"}"));
    assert_non_null(strstr(out.data, "\"canonicalJson\":null}"));
    assert_string_equal(out.data + out.len - strlen(want_tail), want_tail);
    weir_buf_free(&out);
}

/* §5.4: without a source object the row uses ingestionTimestamp and zeros; Kafka writes null.
 * Dimensions present with values; details escaped like §4.3; a null details → "" in the row. */
static void no_source_and_escaping(void **state) {
    (void)state;
    dd_event ev = d9_event();
    ev.source.present = 0;
    ev.dims.orchestrator = wj_cstr("0xABC");
    ev.dims.broadcaster = wj_cstr("");
    ev.replay = 1;
    dd_envelope env;
    dd_envelope_from_event(&env, &ev, "PARSE", "PARSING_FAILED", "parse_exception",
                           wj_cstr("a\"b\\c\n\x01/é"), NOW);
    weir_buf out = {0};
    dd_envelope_write_row(&out, &env);
    assert_non_null(strstr(out.data, "\"source_topic\":\"\",\"source_partition\":0,"
                                     "\"source_offset\":0,\"source_record_timestamp\":"
                                     "\"2024-03-09 16:00:05.000\""));
    assert_non_null(strstr(out.data, "\"failure_details\":\"a\\\"b\\\\c\\n\\u0001/é\""));
    assert_non_null(strstr(out.data, "\"orchestrator\":\"0xABC\",\"broadcaster\":\"\","
                                     "\"region\":null"));
    assert_non_null(strstr(out.data, "\"replay\":1,"));
    weir_buf_reset(&out);
    dd_envelope_write_kafka(&out, &env);
    assert_non_null(strstr(out.data, "{\"schemaVersion\":\"v1\",\"source\":null,\"failure\":"));
    assert_non_null(strstr(out.data, "\"dimensions\":{\"orchestrator\":\"0xABC\","
                                     "\"broadcaster\":\"\",\"region\":null}"));
    assert_non_null(strstr(out.data, "\"replay\":true,"));

    dd_envelope_from_event(&env, &ev, "PARSE", "PARSING_FAILED", "parse_exception", wj_null(), NOW);
    weir_buf_reset(&out);
    dd_envelope_write_row(&out, &env);
    assert_non_null(strstr(out.data, "\"failure_details\":\"\","));
    weir_buf_reset(&out);
    dd_envelope_write_kafka(&out, &env);
    assert_non_null(strstr(out.data, "\"details\":null}"));
    weir_buf_free(&out);
}

/* ------------------------------------------------------------------ event encoding */

static void assert_slice_eq(wj_str a, wj_str b) {
    if (a.s == NULL || b.s == NULL) {
        assert_true(a.s == NULL && b.s == NULL);
        return;
    }
    assert_int_equal(a.n, b.n);
    if (a.n) assert_memory_equal(a.s, b.s, a.n);
}

static void assert_event_eq(const dd_event *a, const dd_event *b) {
    assert_slice_eq(a->event_id, b->event_id);
    assert_slice_eq(a->event_type, b->event_type);
    assert_slice_eq(a->event_version, b->event_version);
    assert_slice_eq(a->gateway, b->gateway);
    assert_slice_eq(a->raw_json, b->raw_json);
    assert_int_equal(a->timestamp, b->timestamp);
    assert_int_equal(a->replay, b->replay);
    assert_int_equal(a->source.present, b->source.present);
    assert_slice_eq(a->source.topic, b->source.topic);
    assert_int_equal(a->source.partition, b->source.partition);
    assert_int_equal(a->source.offset, b->source.offset);
    assert_int_equal(a->source.record_ts, b->source.record_ts);
    assert_slice_eq(a->dims.orchestrator, b->dims.orchestrator);
    assert_slice_eq(a->dims.broadcaster, b->dims.broadcaster);
    assert_slice_eq(a->dims.region, b->dims.region);
    assert_slice_eq(a->dedup_key, b->dedup_key);
    if (a->dedup_strategy == NULL || b->dedup_strategy == NULL)
        assert_true(a->dedup_strategy == NULL && b->dedup_strategy == NULL);
    else
        assert_string_equal(a->dedup_strategy, b->dedup_strategy);
}

static void event_round_trip(void **state) {
    (void)state;
    dd_event ev = d9_event();
    ev.replay = 1;
    ev.timestamp = -1;
    ev.source.partition = -7;
    ev.source.offset = INT64_MAX;
    ev.source.record_ts = -1;
    ev.dims.orchestrator = wj_cstr(""); /* empty, not null */
    ev.dims.broadcaster = wj_null();    /* null */
    ev.dims.region = wj_cstr("eu\0x");  /* stops at NUL: "eu" */
    ev.raw_json.s = "a\0b";             /* embedded NUL kept */
    ev.raw_json.n = 3;
    weir_buf out = {0};
    dd_event_encode(&out, &ev);
    dd_event back;
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_OK);
    assert_event_eq(&ev, &back);
    assert_non_null(back.dims.orchestrator.s);
    assert_null(back.dims.broadcaster.s);

    /* payload_hash strategy and an absent source */
    ev.dedup_strategy = "payload_hash";
    ev.source.present = 0;
    ev.source.topic = wj_null();
    weir_buf_reset(&out);
    dd_event_encode(&out, &ev);
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_OK);
    assert_event_eq(&ev, &back);

    /* an event straight from the gate */
    dd_gate *g = dd_gate_new(NULL, NULL);
    assert_non_null(g);
    const char *in = "{\"type\":\"ai_stream_status\",\"timestamp\":1,\"gateway\":7,\"data\":{"
                     "\"stream_id\":\"s\",\"request_id\":\"r\",\"pipeline\":\"p\","
                     "\"orchestrator\":\"0xo\",\"region\":\"eu\"}}";
    dd_source s = src_at(5);
    dd_envelope env;
    assert_int_equal(dd_gate_process(g, in, strlen(in), &s, NOW, &ev, &env), DD_GATE_ACCEPTED);
    weir_buf_reset(&out);
    dd_event_encode(&out, &ev);
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_OK);
    assert_event_eq(&ev, &back);
    assert_string_equal(back.dedup_strategy, "payload_hash");
    dd_gate_free(g);
    weir_buf_free(&out);
}

static void event_malformed(void **state) {
    (void)state;
    dd_event ev = d9_event(), back;
    weir_buf out = {0};
    dd_event_encode(&out, &ev);
    /* every strict prefix is rejected */
    for (size_t n = 0; n < out.len; n++) {
        char *copy = malloc(n ? n : 1); /* exact-size copy so ASan sees any over-read */
        memcpy(copy, out.data, n);
        assert_int_equal(dd_event_decode(copy, n, &back), WEIR_EPARSE);
        free(copy);
    }
    /* trailing byte */
    weir_buf_putc(&out, 0);
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_EPARSE);
    out.len--;
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_OK);
    /* unknown format version, unknown flag bits */
    out.data[0] = 9;
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_EPARSE);
    out.data[0] = 1;
    out.data[1] = (char)0x80;
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_EPARSE);
    out.data[1] = 2;
    /* a huge length for the first string (topic at offset 2+8+4+8+8 = 30) */
    memset(out.data + 30, 0x7f, 8);
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_EPARSE);
    /* an unknown dedup strategy */
    ev.dedup_strategy = "sorted_hash";
    weir_buf_reset(&out);
    dd_event_encode(&out, &ev);
    assert_int_equal(dd_event_decode(out.data, out.len, &back), WEIR_EPARSE);
    assert_int_equal(dd_event_decode(NULL, 0, &back), WEIR_EPARSE);
    weir_buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kafka_example),      cmocka_unit_test(null_payload),
        cmocka_unit_test(d12_quarantine_row), cmocka_unit_test(no_source_and_escaping),
        cmocka_unit_test(event_round_trip),   cmocka_unit_test(event_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
