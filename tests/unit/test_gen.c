/*
 * test_gen.c - the event generator (tools/gen.c): determinism per seed, different seeds differ,
 * every non-malformed line is a JSON object with a supported type and the required fields,
 * duplicate/malformed fractions within tolerance, all seven families and the lifecycle trace
 * types present.
 */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdlib.h>
#include <string.h>

#include "tools/gen.h"
#include "weir/json.h"

static const char *const TYPES[7] = {
    "ai_stream_status", "stream_ingest_metrics", "stream_trace",      "network_capabilities",
    "ai_stream_events", "discovery_results",     "create_new_payment"};

static int type_index(const char *s, size_t n) {
    for (int i = 0; i < 7; i++)
        if (strlen(TYPES[i]) == n && memcmp(TYPES[i], s, n) == 0) return i;
    return -1;
}

static uint64_t fnv(const char *p, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static void test_deterministic(void **state) {
    (void)state;
    weir_gen_options o;
    weir_gen_options_default(&o);
    o.seed = 42;
    o.count = 20000;
    o.dup_fraction = 0.05;
    o.malformed_fraction = 0.05;
    weir_gen *a = weir_gen_new(&o), *b = weir_gen_new(&o);
    assert_non_null(a);
    assert_non_null(b);
    weir_buf ba = {0}, bb = {0};
    size_t n = 0;
    while (weir_gen_next(a, &ba) == 1) {
        assert_int_equal(weir_gen_next(b, &bb), 1);
        assert_int_equal(ba.len, bb.len);
        assert_memory_equal(ba.data, bb.data, ba.len);
        assert_int_equal(weir_gen_last_kind(a), weir_gen_last_kind(b));
        n++;
    }
    assert_int_equal(n, 20000);
    assert_int_equal(weir_gen_next(b, &bb), 0);
    /* another seed gives other output */
    o.seed = 43;
    weir_gen *c = weir_gen_new(&o);
    weir_gen_options_default(&o);
    o.seed = 42;
    o.count = 20000;
    o.dup_fraction = 0.05;
    o.malformed_fraction = 0.05;
    weir_gen *d = weir_gen_new(&o);
    uint64_t hc = 1469598103934665603ULL, hd = hc;
    while (weir_gen_next(c, &ba) == 1)
        hc = fnv(ba.data, ba.len, hc);
    while (weir_gen_next(d, &bb) == 1)
        hd = fnv(bb.data, bb.len, hd);
    assert_true(hc != hd);
    weir_buf_free(&ba);
    weir_buf_free(&bb);
    weir_gen_free(a);
    weir_gen_free(b);
    weir_gen_free(c);
    weir_gen_free(d);
}

static void test_bad_options(void **state) {
    (void)state;
    weir_gen_options o;
    weir_gen_options_default(&o);
    o.dup_fraction = 0.7;
    o.malformed_fraction = 0.7;
    assert_null(weir_gen_new(&o));
    o.dup_fraction = -0.1;
    o.malformed_fraction = 0;
    assert_null(weir_gen_new(&o));
}

static int present(weir_json root, const char *path) {
    weir_json v = weir_json_path(root, path);
    weir_json_type t = weir_json_type_of(v);
    if (t == WEIR_JSON_MISSING || t == WEIR_JSON_NULL) return 0;
    const char *s;
    size_t n;
    if (t == WEIR_JSON_STRING && weir_json_string(v, &s, &n) == 0 && n == 0) return 0;
    return 1;
}

static void test_valid_and_fractions(void **state) {
    (void)state;
    weir_gen_options o;
    weir_gen_options_default(&o);
    o.seed = 7;
    o.count = 100000;
    o.dup_fraction = 0.10;
    o.malformed_fraction = 0.05;
    o.sessions = 200;
    o.orchestrators = 12;
    weir_gen *g = weir_gen_new(&o);
    assert_non_null(g);
    weir_json_parser *p = weir_json_parser_new();
    assert_non_null(p);
    weir_buf b = {0};
    size_t families[7] = {0}, dups = 0, mal = 0, total = 0, trace_types = 0;
    const char *want_traces[] = {"gateway_receive_stream_request",
                                 "gateway_send_first_ingest_segment",
                                 "runner_send_first_processed_segment",
                                 "gateway_receive_first_processed_segment",
                                 "runner_receive_first_ingest_segment",
                                 "gateway_receive_few_processed_segments",
                                 "orchestrator_swap",
                                 "gateway_no_orchestrators_available",
                                 "gateway_ingest_stream_closed"};
    size_t trace_seen[9] = {0};
    int64_t prev_ts = 0;
    int r;
    while ((r = weir_gen_next(g, &b)) == 1) {
        total++;
        assert_null(memchr(b.data, '\n', b.len));
        weir_gen_kind k = weir_gen_last_kind(g);
        if (k == WEIR_GEN_MALFORMED) {
            mal++;
            continue;
        }
        if (k == WEIR_GEN_DUPLICATE) dups++;
        weir_json root;
        weir_error err = {0};
        if (weir_json_parse(p, b.data, b.len, &root, &err) != WEIR_OK)
            fail_msg("invalid JSON at line %zu: %s: %.200s", total, err.msg, b.data);
        assert_int_equal(weir_json_type_of(root), WEIR_JSON_OBJECT);
        const char *ts;
        size_t tn;
        assert_int_equal(weir_json_string(weir_json_get(root, "type"), &ts, &tn), 0);
        int ti = type_index(ts, tn);
        if (ti < 0) fail_msg("unsupported type %.*s", (int)tn, ts);
        families[ti]++;
        assert_true(present(root, "id"));
        assert_true(weir_json_is_missing(weir_json_get(root, "version")));
        /* timestamp: digit string */
        const char *tss;
        size_t tsn;
        assert_int_equal(weir_json_string(weir_json_get(root, "timestamp"), &tss, &tsn), 0);
        int64_t tsv = strtoll(tss, NULL, 10);
        assert_true(tsv >= o.base_ts_ms || o.base_ts_ms == 0);
        if (k == WEIR_GEN_VALID) {
            assert_true(tsv >= prev_ts);
            prev_ts = tsv;
        }
        weir_json data = weir_json_get(root, "data");
        switch (ti) {
        case 0:
            assert_true(present(root, "data.stream_id") && present(root, "data.request_id") &&
                        present(root, "data.pipeline"));
            break;
        case 1:
            assert_true(present(root, "data.stream_id") && present(root, "data.request_id"));
            break;
        case 2: {
            assert_true(present(root, "data.stream_id") && present(root, "data.request_id") &&
                        present(root, "data.type"));
            const char *tt;
            size_t ttn;
            assert_int_equal(weir_json_string(weir_json_path(root, "data.type"), &tt, &ttn), 0);
            int found = 0;
            for (int i = 0; i < 9; i++)
                if (strlen(want_traces[i]) == ttn && memcmp(want_traces[i], tt, ttn) == 0) {
                    trace_seen[i]++;
                    found = 1;
                }
            assert_true(found);
            trace_types++;
            break;
        }
        case 3:
        case 5:
            assert_int_equal(weir_json_type_of(data), WEIR_JSON_ARRAY);
            assert_true(weir_json_size(data) > 0);
            if (ti == 3) {
                weir_json first = weir_json_at(data, 0);
                assert_true(present(first, "address") && present(first, "local_address") &&
                            present(first, "orch_uri") && present(first, "capabilities.version"));
                assert_int_equal(weir_json_type_of(weir_json_get(first, "hardware")),
                                 WEIR_JSON_ARRAY);
            }
            break;
        case 4:
            assert_true(present(root, "data.stream_id") && present(root, "data.request_id") &&
                        present(root, "data.pipeline") && present(root, "data.type"));
            break;
        case 6: {
            const char *req[] = {"data.sessionID",  "data.manifestID",   "data.sender",
                                 "data.recipient",  "data.orchestrator", "data.faceValue",
                                 "data.numTickets", "data.price",        "data.winProb"};
            for (int i = 0; i < 9; i++)
                assert_true(present(root, req[i]));
            break;
        }
        }
    }
    assert_int_equal(r, 0);
    assert_int_equal(total, 100000);
    weir_gen_stats st = weir_gen_get_stats(g);
    assert_int_equal(st.events, total);
    assert_int_equal(st.duplicates, dups);
    assert_int_equal(st.malformed, mal);
    assert_true(dups > 9000 && dups < 11000);
    assert_true(mal > 4300 && mal < 5700);
    for (int i = 0; i < 7; i++)
        if (families[i] == 0) fail_msg("family %s missing", TYPES[i]);
    for (int i = 0; i < 9; i++)
        if (trace_seen[i] == 0) fail_msg("trace type %s missing", want_traces[i]);
    weir_buf_free(&b);
    weir_json_parser_free(p);
    weir_gen_free(g);
}

/* malformed lines really are rejected: not JSON, not an object, or failing a gate check */
static void test_malformed_are_invalid(void **state) {
    (void)state;
    weir_gen_options o;
    weir_gen_options_default(&o);
    o.seed = 99;
    o.count = 5000;
    o.malformed_fraction = 1.0;
    weir_gen *g = weir_gen_new(&o);
    weir_json_parser *p = weir_json_parser_new();
    weir_buf b = {0};
    size_t parse_errors = 0, semantic = 0;
    while (weir_gen_next(g, &b) == 1) {
        assert_int_equal(weir_gen_last_kind(g), WEIR_GEN_MALFORMED);
        assert_null(memchr(b.data, '\n', b.len));
        weir_json root;
        if (weir_json_parse(p, b.data, b.len, &root, NULL) != WEIR_OK) {
            parse_errors++;
            continue;
        }
        semantic++; /* invalid UTF-8 (replaced), missing field, bad type, bad version */
    }
    assert_true(parse_errors > 1000);
    assert_true(semantic > 1000);
    weir_buf_free(&b);
    weir_json_parser_free(p);
    weir_gen_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_valid_and_fractions),
        cmocka_unit_test(test_malformed_are_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
