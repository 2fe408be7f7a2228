/*
 * test_gate.c - the quality gate (jobs/dedup/gate.c) against the spec's test vectors
 * (dedup-job.md §13.1 Q1-Q27 and §13.2 D1-D8, D11). Expected values are copied from the spec.
 *
 * weir implements the baseline plus all Appendix A deltas, so the network_capabilities shape
 * vectors use the Appendix A variants: Q20 (empty array) is accepted for network_capabilities
 * (the empty_array rule is checked with discovery_results instead), Q21 (data object) is
 * accepted, Q22 (data string) fails with invalid_data_shape.
 *
 * Inputs use topic streaming_events, partition 0, record timestamp 1710000000000 (TS0) and the
 * default configuration unless stated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/common/codec.h"
#include "jobs/dedup/dedup.h"

#define TS0 INT64_C(1710000000000)
#define NOW INT64_C(1710000005000)

typedef struct fx {
    dd_gate *g;
    dd_event ev;
    dd_envelope env;
    weir_buf out;
} fx;

static int setup(void **state) {
    static fx f;
    memset(&f, 0, sizeof f);
    dd_config c;
    dd_config_defaults(&c);
    weir_error err;
    f.g = dd_gate_new(&c, &err);
    if (!f.g) return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    dd_gate_free(f->g);
    weir_buf_free(&f->out);
    return 0;
}

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

static dd_gate_result runn(fx *f, const char *json, size_t n, int64_t offset) {
    dd_source s = src_at(offset);
    memset(&f->ev, 0x5a, sizeof f->ev); /* garbage: the gate must fill what it returns */
    memset(&f->env, 0x5a, sizeof f->env);
    return dd_gate_process(f->g, json, n, &s, NOW, &f->ev, &f->env);
}

static dd_gate_result run(fx *f, const char *json) {
    return runn(f, json, strlen(json), 0);
}

/* Asserts a slice equals @p want (NULL = the null slice). */
#define assert_slice(sl, want) assert_slice_((sl), (want), __FILE__, __LINE__)
static void assert_slice_(wj_str s, const char *want, const char *file, int line) {
    if (want == NULL) {
        if (s.s != NULL) {
            print_error("%s:%d: expected null, got \"%.*s\"\n", file, line, (int)s.n, s.s);
            fail();
        }
        return;
    }
    if (s.s == NULL) {
        print_error("%s:%d: expected \"%s\", got null\n", file, line, want);
        fail();
    }
    if (s.n != strlen(want) || memcmp(s.s, want, s.n) != 0) {
        print_error("%s:%d: expected \"%s\", got \"%.*s\"\n", file, line, want, (int)s.n, s.s);
        fail();
    }
}

/* Asserts a schema failure with the given class/reason/details and the common §5.2 fields. */
static void assert_schema(fx *f, dd_gate_result r, const char *cls, const char *reason,
                          const char *details) {
    assert_int_equal(r, DD_GATE_REJECTED);
    assert_string_equal(f->env.stage, "SCHEMA_VALIDATION");
    assert_string_equal(f->env.failure_class, cls);
    assert_string_equal(f->env.reason, reason);
    if (details) assert_slice(f->env.details, details);
    assert_string_equal(f->env.payload_encoding, "json");
    assert_non_null(f->env.canonical_json.s);
    assert_null(f->env.dedup_key.s);
    assert_null(f->env.dedup_strategy);
    assert_int_equal(f->env.has_dims, 1);
    assert_int_equal(f->env.ingestion_ts, NOW);
    assert_int_equal(f->env.source.present, 1);
    assert_slice(f->env.source.topic, "streaming_events");
    assert_int_equal(f->env.source.record_ts, TS0);
}

static void assert_accepted(fx *f, dd_gate_result r) {
    if (r != DD_GATE_ACCEPTED) {
        print_error("rejected: %s/%s: %.*s\n", f->env.failure_class, f->env.reason,
                    (int)f->env.details.n, f->env.details.s);
        fail();
    }
}

/* ------------------------------------------------------------------------- §13.1 */

static void q1_null_payload(void **state) {
    fx *f = *state;
    dd_source s = src_at(7);
    dd_gate_result r = dd_gate_process(f->g, NULL, 0, &s, NOW, &f->ev, &f->env);
    assert_int_equal(r, DD_GATE_REJECTED);
    assert_string_equal(f->env.stage, "DESERIALIZATION");
    assert_string_equal(f->env.failure_class, "DESERIALIZATION_FAILED");
    assert_string_equal(f->env.reason, "null_payload");
    assert_slice(f->env.details, "Record value is null");
    assert_string_equal(f->env.payload_encoding, "json");
    assert_slice(f->env.payload_body, NULL);
    assert_slice(f->env.canonical_json, NULL);
    assert_slice(f->env.event_id, NULL);
    assert_slice(f->env.event_type, NULL);
    assert_slice(f->env.event_version, NULL);
    assert_int_equal(f->env.has_dims, 0);
    assert_int_equal(f->env.replay, 0);
    assert_int_equal(f->env.has_event_ts, 0);
    assert_slice(f->env.dedup_key, NULL);
    assert_null(f->env.dedup_strategy);
    assert_int_equal(f->env.source.offset, 7);
    assert_int_equal(f->env.ingestion_ts, NOW);
    assert_true(weir_json_is_missing(dd_gate_root(f->g)));
}

static void assert_parse_error(fx *f, dd_gate_result r, const char *b64) {
    assert_int_equal(r, DD_GATE_REJECTED);
    assert_string_equal(f->env.stage, "DESERIALIZATION");
    assert_string_equal(f->env.failure_class, "DESERIALIZATION_FAILED");
    assert_string_equal(f->env.reason, "json_parse_error");
    assert_non_null(f->env.details.s); /* the parser's message: free text (§14.13) */
    assert_true(f->env.details.n > 0);
    assert_string_equal(f->env.payload_encoding, "base64");
    assert_slice(f->env.payload_body, b64);
    assert_slice(f->env.canonical_json, NULL);
    assert_slice(f->env.event_id, NULL);
    assert_slice(f->env.event_type, NULL);
    assert_slice(f->env.event_version, NULL);
    assert_int_equal(f->env.has_dims, 0);
    assert_int_equal(f->env.replay, 0);
    assert_int_equal(f->env.has_event_ts, 0);
}

static void q2_parse_error(void **state) {
    fx *f = *state;
    assert_parse_error(f, run(f, "{\"id\":\"x\","), "eyJpZCI6IngiLA==");
}

static void q3_not_json(void **state) {
    fx *f = *state;
    assert_parse_error(f, run(f, "not json"), "bm90IGpzb24=");
}

static void q4_empty(void **state) {
    fx *f = *state;
    dd_gate_result r = runn(f, "", 0, 0);
    assert_schema(f, r, "SCHEMA_INVALID", "root_not_object",
                  "Root node is missing or not an object");
    assert_slice(f->env.payload_body, "");
    assert_slice(f->env.event_id, "");
    assert_slice(f->env.event_type, "");
    assert_slice(f->env.event_version, NULL);
    assert_slice(f->env.canonical_json, "null");
    assert_slice(f->env.dims.orchestrator, NULL);
    assert_slice(f->env.dims.broadcaster, NULL);
    assert_slice(f->env.dims.region, NULL);
    assert_int_equal(f->env.has_event_ts, 0);
    assert_int_equal(f->env.replay, 0);
}

static void q5_array_root(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "[1,2]");
    assert_schema(f, r, "SCHEMA_INVALID", "root_not_object",
                  "Root node is missing or not an object");
    assert_slice(f->env.canonical_json, "[1,2]");
    assert_slice(f->env.payload_body, "[1,2]");
    /* whitespace-only input is "no value" as well */
    r = run(f, "  \n ");
    assert_schema(f, r, "SCHEMA_INVALID", "root_not_object", NULL);
    assert_slice(f->env.canonical_json, "null");
    r = run(f, "null");
    assert_schema(f, r, "SCHEMA_INVALID", "root_not_object", NULL);
    assert_slice(f->env.canonical_json, "null");
}

static void q6_missing_type(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"timestamp\":1,\"data\":{}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_type", "Event type is missing or not a string");
    assert_slice(f->env.event_type, "");
    assert_slice(f->env.event_id, "");
    assert_int_equal(f->env.has_event_ts, 1);
    assert_int_equal(f->env.event_ts, 1);
    assert_slice(f->env.canonical_json, "{\"timestamp\":1,\"data\":{}}");
    r = run(f, "{\"type\":null,\"timestamp\":1,\"data\":{}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_type", NULL);
}

static void q7_numeric_type(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"type\":5,\"timestamp\":1,\"data\":{}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_type", "Event type is missing or not a string");
    assert_slice(f->env.event_type, "5");
}

static void q8_missing_timestamp(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"type\":\"ai_stream_status\",\"data\":{}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_timestamp",
                  "Event timestamp is missing or not numeric");
    assert_int_equal(f->env.has_event_ts, 0);
    assert_slice(f->env.event_type, "ai_stream_status");
}

static void q9_bad_timestamps(void **state) {
    fx *f = *state;
    const char *in[] = {
        "{\"type\":\"ai_stream_status\",\"timestamp\":\"-5\",\"data\":{}}",
        "{\"type\":\"ai_stream_status\",\"timestamp\":\"abc\",\"data\":{}}",
        "{\"type\":\"ai_stream_status\",\"timestamp\":true,\"data\":{}}",
        "{\"type\":\"ai_stream_status\",\"timestamp\":null,\"data\":{}}",
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        dd_gate_result r = run(f, in[i]);
        assert_schema(f, r, "SCHEMA_INVALID", "missing_timestamp",
                      "Event timestamp is missing or not numeric");
        assert_int_equal(f->env.has_event_ts, 0);
    }
}

static void q10_missing_data_first(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"type\":\"foo\",\"timestamp\":1}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_data", "Event data payload is missing");
}

static void q11_unsupported_type(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"type\":\"foo\",\"timestamp\":1,\"data\":{}}");
    assert_schema(f, r, "SCHEMA_INVALID", "unsupported_event_type", "Unsupported event type: foo");
    /* §3.1 notes: "" passes check 4 and fails check 8 with a trailing space */
    r = run(f, "{\"type\":\"\",\"timestamp\":1,\"data\":{}}");
    assert_schema(f, r, "SCHEMA_INVALID", "unsupported_event_type", "Unsupported event type: ");
    /* case-sensitive */
    r = run(f, "{\"type\":\"AI_STREAM_STATUS\",\"timestamp\":1,\"data\":{}}");
    assert_schema(f, r, "SCHEMA_INVALID", "unsupported_event_type",
                  "Unsupported event type: AI_STREAM_STATUS");
}

#define Q12_HEAD "{\"id\":\"evt-3\",\"type\":\"ai_stream_status\","
#define Q12_TAIL                                                                                   \
    "\"timestamp\":1710000000000,\"data\":{\"stream_id\":\"s1\",\"request_id\":\"r1\","            \
    "\"pipeline\":\"p1\",\"pipeline_id\":\"pid\"}}"

static void q12_unsupported_version(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, Q12_HEAD "\"version\":\"2\"," Q12_TAIL);
    assert_schema(f, r, "UNSUPPORTED_VERSION", "unsupported_version",
                  "Unsupported event version: 2");
    assert_slice(f->env.event_version, "2");
    assert_slice(f->env.event_id, "evt-3");
    assert_int_equal(f->env.event_ts, TS0);
}

static void q13_supported_versions(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, Q12_HEAD "\"version\":1," Q12_TAIL);
    assert_accepted(f, r);
    assert_slice(f->ev.event_version, "1");
    r = run(f, "{\"id\":\"evt-3\",\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,"
               "\"data\":{\"version\":\"v1\",\"stream_id\":\"s1\",\"request_id\":\"r1\","
               "\"pipeline\":\"p1\",\"pipeline_id\":\"pid\"}}");
    assert_accepted(f, r);
    assert_slice(f->ev.event_version, "v1");
    /* §3.4: a number is truncated to int32 (1.9 → "1"); root null falls back to data.version */
    r = run(f, Q12_HEAD "\"version\":1.9," Q12_TAIL);
    assert_accepted(f, r);
    assert_slice(f->ev.event_version, "1");
    r = run(f, "{\"id\":\"e\",\"type\":\"ai_stream_status\",\"version\":null,\"timestamp\":1,"
               "\"data\":{\"version\":2,\"stream_id\":\"s1\",\"request_id\":\"r1\","
               "\"pipeline\":\"p1\"}}");
    assert_schema(f, r, "UNSUPPORTED_VERSION", "unsupported_version",
                  "Unsupported event version: 2");
}

static void q14_version_case_sensitive(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, Q12_HEAD "\"version\":\"V1\"," Q12_TAIL);
    assert_schema(f, r, "UNSUPPORTED_VERSION", "unsupported_version",
                  "Unsupported event version: V1");
    /* §3.4: booleans → "true", objects → "" (both rejected by the default set) */
    r = run(f, Q12_HEAD "\"version\":true," Q12_TAIL);
    assert_schema(f, r, "UNSUPPORTED_VERSION", "unsupported_version",
                  "Unsupported event version: true");
    r = run(f, Q12_HEAD "\"version\":{}," Q12_TAIL);
    assert_schema(f, r, "UNSUPPORTED_VERSION", "unsupported_version",
                  "Unsupported event version: ");
    assert_slice(f->env.event_version, "");
}

static void versions_empty_set_accepts_all(void **state) {
    (void)state;
    dd_config c;
    dd_config_defaults(&c);
    c.n_supported_versions = 0;
    weir_error err;
    dd_gate *g = dd_gate_new(&c, &err);
    assert_non_null(g);
    const char *in = Q12_HEAD "\"version\":\"2\"," Q12_TAIL;
    dd_source s = src_at(0);
    dd_event ev;
    dd_envelope env;
    assert_int_equal(dd_gate_process(g, in, strlen(in), &s, NOW, &ev, &env), DD_GATE_ACCEPTED);
    assert_slice(ev.event_version, "2");
    dd_gate_free(g);
}

static void q15_missing_stream_id(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"id\":\"evt-2\",\"type\":\"stream_ingest_metrics\",\"timestamp\":"
                              "1710000000000,\"data\":{\"request_id\":\"r1\"}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field",
                  "Missing required field: data.stream_id");
}

#define Q16                                                                                        \
    "{\"id\":\"evt-1\",\"type\":\"ai_stream_status\",\"timestamp\":\"1710000000000\","             \
    "\"__replay\":true,\"data\":{\"request_id\":\"r1\",\"pipeline\":\"p1\"}}"

static void q16_replayed_schema_failure(void **state) {
    fx *f = *state;
    dd_gate_result r = runn(f, Q16, strlen(Q16), 1);
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field",
                  "Missing required field: data.stream_id");
    assert_int_equal(f->env.replay, 1);
    assert_int_equal(f->env.has_event_ts, 1);
    assert_int_equal(f->env.event_ts, TS0);
    assert_slice(f->env.event_version, NULL);
    assert_slice(f->env.event_id, "evt-1");
    assert_slice(f->env.event_type, "ai_stream_status");
    assert_int_equal(f->env.source.offset, 1);
    assert_slice(f->env.payload_body, Q16);
    assert_slice(f->env.canonical_json, Q16); /* already compact; replay keys kept */
    assert_slice(f->env.dims.orchestrator, NULL);
    assert_slice(f->env.dims.broadcaster, NULL);
    assert_slice(f->env.dims.region, NULL);
}

#define Q17                                                                                        \
    "{\"id\":\"evt-2\",\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,\"data\":"        \
    "{\"stream_id\":\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\"}}"

static void q17_accepted(void **state) {
    fx *f = *state;
    dd_gate_result r = runn(f, Q17, strlen(Q17), 2);
    assert_accepted(f, r);
    assert_slice(f->ev.event_id, "evt-2");
    assert_slice(f->ev.event_type, "ai_stream_status");
    assert_slice(f->ev.event_version, "1");
    assert_slice(f->ev.gateway, "");
    assert_slice(f->ev.raw_json, Q17);
    assert_int_equal(f->ev.timestamp, TS0);
    assert_int_equal(f->ev.replay, 0);
    assert_int_equal(f->ev.source.present, 1);
    assert_int_equal(f->ev.source.offset, 2);
    assert_int_equal(f->ev.source.partition, 0);
    assert_int_equal(f->ev.source.record_ts, TS0);
    assert_slice(f->ev.source.topic, "streaming_events");
    assert_slice(f->ev.dims.orchestrator, NULL);
    assert_slice(f->ev.dims.broadcaster, NULL);
    assert_slice(f->ev.dims.region, NULL);
    assert_slice(f->ev.dedup_key, "evt-2");
    assert_string_equal(f->ev.dedup_strategy, "event_id");
    assert_int_equal(weir_json_type_of(dd_gate_root(f->g)), WEIR_JSON_OBJECT);
}

static void q18_trace_requires_id(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"type\":\"stream_trace\",\"timestamp\":1,\"data\":{\"stream_id\":"
                              "\"s\",\"request_id\":\"r\",\"type\":\"t\"}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field", "Missing required field: id");
}

static void q19_present(void **state) {
    fx *f = *state;
    dd_gate_result r =
        run(f, "{\"id\":\"a\",\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":"
               "{\"stream_id\":\"\",\"request_id\":\"r\",\"pipeline\":\"p\"}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field",
                  "Missing required field: data.stream_id");
    r = run(f, "{\"id\":\"a\",\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":"
               "{\"stream_id\":null,\"request_id\":\"r\",\"pipeline\":\"p\"}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field",
                  "Missing required field: data.stream_id");
    r = run(f, "{\"id\":\"a\",\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":"
               "{\"stream_id\":\" \",\"request_id\":\"r\",\"pipeline\":\"p\"}}");
    assert_accepted(f, r);
    r = run(f, "{\"id\":\"a\",\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":"
               "{\"stream_id\":7,\"request_id\":\"r\",\"pipeline\":\"p\"}}");
    assert_accepted(f, r);
    /* §3.3: data null / "" fail the first data path */
    r = run(f, "{\"id\":\"a\",\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":null}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field",
                  "Missing required field: data.stream_id");
    r = run(f, "{\"id\":\"a\",\"type\":\"network_capabilities\",\"timestamp\":1,\"data\":\"\"}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field", "Missing required field: data");
}

/* Q20 (Appendix A variant): an empty array passes validation for network_capabilities; the
 * empty_array rule now applies to discovery_results only. */
static void q20_empty_array(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"id\":\"n\",\"type\":\"network_capabilities\",\"timestamp\":1,"
                              "\"data\":[]}");
    assert_accepted(f, r);
    assert_slice(f->ev.dedup_key, "n");
    r = run(f, "{\"id\":\"n\",\"type\":\"discovery_results\",\"timestamp\":1,\"data\":[]}");
    assert_schema(f, r, "SCHEMA_INVALID", "empty_array", "Expected non-empty data array");
    r = run(f, "{\"id\":\"n\",\"type\":\"discovery_results\",\"timestamp\":1,\"data\":{\"a\":1}}");
    assert_schema(f, r, "SCHEMA_INVALID", "empty_array", "Expected non-empty data array");
}

/* Q21 (Appendix A variant): a data object is accepted as a single orchestrator. */
static void q21_netcaps_object(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"id\":\"evt-4\",\"type\":\"network_capabilities\",\"timestamp\":"
                              "1710000000000,\"data\":{\"address\":\"0xabc\"}}");
    assert_accepted(f, r);
    assert_slice(f->ev.event_id, "evt-4");
    assert_slice(f->ev.event_type, "network_capabilities");
}

/* Q22 (Appendix A variant): other shapes → invalid_data_shape. */
static void q22_netcaps_bad_shape(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"id\":\"evt-5\",\"type\":\"network_capabilities\",\"timestamp\":"
                              "1710000000000,\"data\":\"bad-shape\"}");
    assert_schema(f, r, "SCHEMA_INVALID", "invalid_data_shape", "Expected data object or array");
    r = run(f, "{\"id\":\"evt-5\",\"type\":\"network_capabilities\",\"timestamp\":1,\"data\":5}");
    assert_schema(f, r, "SCHEMA_INVALID", "invalid_data_shape", "Expected data object or array");
}

static void q23_netcaps_null_data(void **state) {
    fx *f = *state;
    dd_gate_result r =
        run(f, "{\"id\":\"p\",\"type\":\"network_capabilities\",\"timestamp\":1,\"data\":null}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field", "Missing required field: data");
}

#define D7_HEAD                                                                                    \
    "{\"type\":\"create_new_payment\",\"timestamp\":\"1710000000000\",\"data\":{\"sessionID\":"    \
    "\"sess\",\"manifestID\":\"m\",\"sender\":\"0xs\",\"recipient\":\"0xr\",\"orchestrator\":"     \
    "\"0xo\",\"faceValue\":\"100\",\"numTickets\":\"1\",\"price\":\"0.5\""
#define D7 D7_HEAD ",\"winProb\":\"0.1\"}}"

static void q24_payment_missing_winprob(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, D7_HEAD "}}");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_field", "Missing required field: data.winProb");
    /* schema-failure dimension variant: data.orchestrator */
    assert_slice(f->env.dims.orchestrator, "0xo");
}

static void q25_trailing_garbage(void **state) {
    fx *f = *state;
    dd_gate_result r = run(f, "{\"a\":1} trailing-garbage");
    assert_schema(f, r, "SCHEMA_INVALID", "missing_type", "Event type is missing or not a string");
    assert_slice(f->env.canonical_json, "{\"a\":1}");
    assert_slice(f->env.payload_body, "{\"a\":1} trailing-garbage");
}

/* Q26: Q16 on the ClickHouse side (the whole row, ingestion time NOW). */
static void q26_dlq_row(void **state) {
    fx *f = *state;
    dd_gate_result r = runn(f, Q16, strlen(Q16), 1);
    assert_int_equal(r, DD_GATE_REJECTED);
    weir_buf_reset(&f->out);
    dd_envelope_write_row(&f->out, &f->env);
    const char *q16_escaped =
        "\"{\\\"id\\\":\\\"evt-1\\\",\\\"type\\\":\\\"ai_stream_status\\\",\\\"timestamp\\\":"
        "\\\"1710000000000\\\",\\\"__replay\\\":true,\\\"data\\\":{\\\"request_id\\\":\\\"r1\\\","
        "\\\"pipeline\\\":\\\"p1\\\"}}\"";
    char want[4096];
    snprintf(want, sizeof want,
             "{\"schema_version\":\"v1\",\"source_topic\":\"streaming_events\","
             "\"source_partition\":0,\"source_offset\":1,"
             "\"source_record_timestamp\":\"2024-03-09 16:00:00.000\",\"event_id\":\"evt-1\","
             "\"event_type\":\"ai_stream_status\",\"event_version\":null,"
             "\"event_timestamp\":\"2024-03-09 16:00:00.000\",\"dedup_key\":null,"
             "\"dedup_strategy\":null,\"replay\":1,\"failure_stage\":\"SCHEMA_VALIDATION\","
             "\"failure_class\":\"SCHEMA_INVALID\",\"failure_reason\":\"missing_field\","
             "\"failure_details\":\"Missing required field: data.stream_id\","
             "\"orchestrator\":null,\"broadcaster\":null,\"region\":null,"
             "\"payload_encoding\":\"json\",\"payload_body\":%s,\"payload_canonical_json\":%s,"
             "\"ingestion_timestamp\":\"2024-03-09 16:00:05.000\"}",
             q16_escaped, q16_escaped);
    assert_string_equal(f->out.data, want);
}

/* Q27: Q1 on the ClickHouse side. */
static void q27_null_payload_row(void **state) {
    fx *f = *state;
    dd_source s = src_at(0);
    assert_int_equal(dd_gate_process(f->g, NULL, 0, &s, NOW, &f->ev, &f->env), DD_GATE_REJECTED);
    weir_buf_reset(&f->out);
    dd_envelope_write_row(&f->out, &f->env);
    assert_string_equal(
        f->out.data,
        "{\"schema_version\":\"v1\",\"source_topic\":\"streaming_events\",\"source_partition\":0,"
        "\"source_offset\":0,\"source_record_timestamp\":\"2024-03-09 16:00:00.000\","
        "\"event_id\":\"\",\"event_type\":\"\",\"event_version\":null,\"event_timestamp\":null,"
        "\"dedup_key\":null,\"dedup_strategy\":null,\"replay\":0,"
        "\"failure_stage\":\"DESERIALIZATION\",\"failure_class\":\"DESERIALIZATION_FAILED\","
        "\"failure_reason\":\"null_payload\",\"failure_details\":\"Record value is null\","
        "\"orchestrator\":null,\"broadcaster\":null,\"region\":null,"
        "\"payload_encoding\":\"json\",\"payload_body\":\"\",\"payload_canonical_json\":null,"
        "\"ingestion_timestamp\":\"2024-03-09 16:00:05.000\"}");
}

/* -------------------------------------------------------------------- dimensions (§4.2) */

static void dims_variants(void **state) {
    fx *f = *state;
    /* gate variant keeps "" (address "" → data.orchestrator "") */
    dd_gate_result r = run(
        f, "{\"id\":\"x\",\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":{\"stream_id\":"
           "\"s\",\"request_id\":\"r\",\"pipeline\":\"p\",\"orchestrator_info\":{\"address\":"
           "\"\"},\"orchestrator\":\"\",\"broadcaster\":\"\",\"region\":\"eu\"}}");
    assert_accepted(f, r);
    assert_slice(f->ev.dims.orchestrator, "");
    assert_slice(f->ev.dims.broadcaster, NULL);
    assert_slice(f->ev.dims.region, "eu");
    /* schema-failure variant turns "" into null */
    r = run(f, "{\"type\":\"foo\",\"timestamp\":1,\"data\":{\"orchestrator_info\":{\"address\":"
               "\"\"},\"orchestrator\":\"\",\"broadcaster\":\"b\",\"region\":\"\"}}");
    assert_schema(f, r, "SCHEMA_INVALID", "unsupported_event_type", NULL);
    assert_slice(f->env.dims.orchestrator, NULL);
    assert_slice(f->env.dims.broadcaster, "b");
    assert_slice(f->env.dims.region, NULL);
    /* address wins over data.orchestrator; address missing → data.orchestrator */
    r = run(f,
            "{\"id\":\"x\",\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":{\"stream_id\":"
            "\"s\",\"request_id\":\"r\",\"pipeline\":\"p\",\"orchestrator_info\":{\"url\":\"u\"},"
            "\"orchestrator\":\"0xo\"}}");
    assert_accepted(f, r);
    assert_slice(f->ev.dims.orchestrator, "0xo");
}

/* ------------------------------------------------------------------------- §13.2 */

static void assert_hash(fx *f, const char *json, const char *preimage_or_prefix, int full,
                        const char *key) {
    dd_gate_result r = run(f, json);
    assert_accepted(f, r);
    assert_string_equal(f->ev.dedup_strategy, "payload_hash");
    assert_slice(f->ev.dedup_key, key);
    if (full) {
        /* the spec's pre-image hashes to the spec's key (consistency of the vector itself) */
        char hex[65];
        wj_sha256_hex(preimage_or_prefix, strlen(preimage_or_prefix), hex);
        assert_string_equal(hex, key);
    }
}

#define D2                                                                                         \
    "{\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,\"data\":{\"stream_id\":\"s1\","   \
    "\"request_id\":\"r1\",\"pipeline\":\"p1\",\"pipeline_id\":\"pid\"}}"
#define D2_KEY "6e1ade4d91217e8e157d5ccec9db8ce18efa9d09111b936e53a1682ad73bcfec"

static void d1_event_id(void **state) {
    fx *f = *state;
    dd_gate_result r =
        run(f, "{\"id\":\"evt-123\",\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,"
               "\"data\":{\"stream_id\":\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\","
               "\"pipeline_id\":\"pid\"}}");
    assert_accepted(f, r);
    assert_slice(f->ev.dedup_key, "evt-123");
    assert_string_equal(f->ev.dedup_strategy, "event_id");
}

static void d2_payload_hash(void **state) {
    fx *f = *state;
    assert_hash(f, D2, "ai_stream_status|null|null|null|" D2, 1, D2_KEY);
    assert_slice(f->ev.event_id, "");
}

static void d3_replay_keys_stripped(void **state) {
    fx *f = *state;
    const char *in =
        "{\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,\"data\":{\"stream_id\":\"s1\","
        "\"request_id\":\"r1\",\"pipeline\":\"p1\",\"pipeline_id\":\"pid\"},\"__replay\":true,"
        "\"__replay_ts\":1710000099999,\"__replay_source\":\"dlq\",\"__replay_failure_class\":"
        "\"PARSING_FAILED\"}";
    assert_hash(f, in, NULL, 0, D2_KEY);
    assert_int_equal(f->ev.replay, 1);
    assert_slice(f->ev.raw_json, in);
}

static void d4_pretty_printed(void **state) {
    fx *f = *state;
    const char *in = "{\n  \"type\" : \"ai_stream_status\",\n  \"timestamp\" : 1710000000000,\n"
                     "  \"data\" : {\n    \"stream_id\" : \"s1\",\n    \"request_id\" : \"r1\",\n"
                     "    \"pipeline\" : \"p1\",\n    \"pipeline_id\" : \"pid\"\n  }\n}\n";
    assert_hash(f, in, NULL, 0, D2_KEY);
}

static void d5_key_order_matters(void **state) {
    fx *f = *state;
    assert_hash(
        f,
        "{\"timestamp\":1710000000000,\"type\":\"ai_stream_status\",\"data\":{\"stream_id\":"
        "\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\",\"pipeline_id\":\"pid\"}}",
        NULL, 0, "1ef1ab99c923cf3a3d8301aa80239e3020a4a0aa8539e6cdfeeb75b0b7c7e0de");
}

static void d6_dimensions_in_hash(void **state) {
    fx *f = *state;
    assert_hash(f,
                "{\"id\":\"\",\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,\"data\":{"
                "\"stream_id\":\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\","
                "\"orchestrator_info\":{\"address\":\"0xABC\",\"url\":\"https://o:1\"},"
                "\"broadcaster\":\"b1\",\"region\":\"eu\"}}",
                NULL, 0, "a4922e79289fde6fc6b3e54f7a77b81a64e9b1e1d70dd103a0748039f94efc2e");
    assert_slice(f->ev.dims.orchestrator, "0xABC");
    assert_slice(f->ev.dims.broadcaster, "b1");
    assert_slice(f->ev.dims.region, "eu");
}

static void d7_payment(void **state) {
    fx *f = *state;
    assert_hash(f, D7, "create_new_payment|0xo|null|null|" D7, 1,
                "cb6a6b5efe6d0eca43c2d751bf9ef8c2da5b83fba2595bda79a108df68310660");
    assert_slice(f->ev.dims.orchestrator, "0xo");
    assert_int_equal(f->ev.timestamp, TS0);
}

static void d8_discovery(void **state) {
    fx *f = *state;
    const char *in = "{\"type\":\"discovery_results\",\"timestamp\":1710000000000,\"data\":[{"
                     "\"address\":\"0xa\",\"latency_ms\":\"84\",\"url\":\"https://a\"}]}";
    char pre[512];
    snprintf(pre, sizeof pre, "discovery_results|null|null|null|%s", in);
    assert_hash(f, in, pre, 1, "4a5e4e1a09b6a74b1964d2ff187b93a2df6555f79c7d6345bd8f274a9c181b92");
    assert_slice(f->ev.dims.orchestrator, NULL);
}

static void d11_space_id(void **state) {
    fx *f = *state;
    dd_gate_result r =
        run(f, "{\"id\":\" \",\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":"
               "{\"stream_id\":\"s\",\"request_id\":\"r\",\"pipeline\":\"p\"}}");
    assert_accepted(f, r);
    assert_slice(f->ev.dedup_key, " ");
    assert_string_equal(f->ev.dedup_strategy, "event_id");
    /* §3.5: a numeric id becomes its text and is used as the key */
    r = run(f, "{\"id\":123,\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":"
               "{\"stream_id\":\"s\",\"request_id\":\"r\",\"pipeline\":\"p\"}}");
    assert_accepted(f, r);
    assert_slice(f->ev.event_id, "123");
    assert_slice(f->ev.dedup_key, "123");
    /* id null / object → payload hash */
    r = run(f, "{\"id\":null,\"type\":\"ai_stream_status\",\"timestamp\":1,\"data\":"
               "{\"stream_id\":\"s\",\"request_id\":\"r\",\"pipeline\":\"p\"}}");
    assert_accepted(f, r);
    assert_string_equal(f->ev.dedup_strategy, "payload_hash");
    assert_int_equal(f->ev.dedup_key.n, 64);
}

/* Arbitrary bytes never crash and always yield exactly one result. */
static void robustness(void **state) {
    fx *f = *state;
    const char *bad[] = {"{\"type\":",
                         "\xff\xfe",
                         "{\"a\":\"\xc3\"}",
                         "[[[[[[",
                         "{}",
                         "\"x\"",
                         "1e999",
                         "{\"type\":\"stream_trace\",\"timestamp\":1,\"data\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dd_gate_result r = run(f, bad[i]);
        assert_true(r == DD_GATE_ACCEPTED || r == DD_GATE_REJECTED);
        if (r == DD_GATE_REJECTED) {
            weir_buf_reset(&f->out);
            dd_envelope_write_kafka(&f->out, &f->env);
            assert_false(f->out.oom);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(q1_null_payload),
        cmocka_unit_test(q2_parse_error),
        cmocka_unit_test(q3_not_json),
        cmocka_unit_test(q4_empty),
        cmocka_unit_test(q5_array_root),
        cmocka_unit_test(q6_missing_type),
        cmocka_unit_test(q7_numeric_type),
        cmocka_unit_test(q8_missing_timestamp),
        cmocka_unit_test(q9_bad_timestamps),
        cmocka_unit_test(q10_missing_data_first),
        cmocka_unit_test(q11_unsupported_type),
        cmocka_unit_test(q12_unsupported_version),
        cmocka_unit_test(q13_supported_versions),
        cmocka_unit_test(q14_version_case_sensitive),
        cmocka_unit_test(versions_empty_set_accepts_all),
        cmocka_unit_test(q15_missing_stream_id),
        cmocka_unit_test(q16_replayed_schema_failure),
        cmocka_unit_test(q17_accepted),
        cmocka_unit_test(q18_trace_requires_id),
        cmocka_unit_test(q19_present),
        cmocka_unit_test(q20_empty_array),
        cmocka_unit_test(q21_netcaps_object),
        cmocka_unit_test(q22_netcaps_bad_shape),
        cmocka_unit_test(q23_netcaps_null_data),
        cmocka_unit_test(q24_payment_missing_winprob),
        cmocka_unit_test(q25_trailing_garbage),
        cmocka_unit_test(q26_dlq_row),
        cmocka_unit_test(q27_null_payload_row),
        cmocka_unit_test(dims_variants),
        cmocka_unit_test(d1_event_id),
        cmocka_unit_test(d2_payload_hash),
        cmocka_unit_test(d3_replay_keys_stripped),
        cmocka_unit_test(d4_pretty_printed),
        cmocka_unit_test(d5_key_order_matters),
        cmocka_unit_test(d6_dimensions_in_hash),
        cmocka_unit_test(d7_payment),
        cmocka_unit_test(d8_discovery),
        cmocka_unit_test(d11_space_id),
        cmocka_unit_test(robustness),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
