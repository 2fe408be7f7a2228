/*
 * test_size_guard.c - the pre-sink size guard, spec dedup-job.md §7.2 and §5.5, vectors G1-G5,
 * and the envelope it produces (§5.2 SINK_GUARD triple).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/dedup/dedup.h"

/* G1: limit 10, a row of 11 bytes: no row, one SINK_GUARD envelope with the spec's details */
static void g1_over_limit(void **st) {
    (void)st;
    const char *row = "12345678901";
    weir_buf d = {0};
    assert_int_equal(dd_row_too_large(strlen(row), 10, &d), 1);
    assert_string_equal(d.data, "Row size 11 exceeds limit 10");
    dd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.event_id = wj_cstr("evt-1");
    ev.event_type = wj_cstr("ai_stream_status");
    ev.event_version = wj_cstr("1");
    ev.timestamp = 1710000000000LL;
    ev.dedup_key = wj_cstr("evt-1");
    ev.dedup_strategy = "event_id";
    dd_envelope env;
    wj_str details = {d.data, d.len};
    dd_envelope_from_event(&env, &ev, "SINK_GUARD", "RECORD_TOO_LARGE", "record_too_large", details,
                           1710000005000LL);
    weir_buf k = {0};
    dd_envelope_write_kafka(&k, &env);
    assert_non_null(strstr(k.data, "\"failure\":{\"stage\":\"SINK_GUARD\",\"failureClass\":"
                                   "\"RECORD_TOO_LARGE\",\"reason\":\"record_too_large\","
                                   "\"details\":\"Row size 11 exceeds limit 10\"}"));
    assert_non_null(strstr(k.data, "\"identity\":{\"eventId\":\"evt-1\",\"eventType\":"
                                   "\"ai_stream_status\",\"eventVersion\":\"1\"}"));
    weir_buf_free(&k);
    weir_buf_free(&d);
}

/* G2: limit 10, row "ok": emitted, nothing appended */
static void g2_small_row(void **st) {
    (void)st;
    weir_buf d = {0};
    assert_int_equal(dd_row_too_large(strlen("ok"), 10, &d), 0);
    assert_int_equal(d.len, 0);
    weir_buf_free(&d);
}

/* G3: a row of exactly the limit passes (strictly-greater test) */
static void g3_equal_passes(void **st) {
    (void)st;
    assert_int_equal(dd_row_too_large(10, 10, NULL), 0);
    assert_int_equal(dd_row_too_large(11, 10, NULL), 1);
}

/* G4: an envelope row of 11 bytes is over the limit (the job drops it for the table without a
 * new envelope; that path is exercised end to end by it_test_kafka_kcat) */
static void g4_envelope_row(void **st) {
    (void)st;
    assert_int_equal(dd_row_too_large(11, 10, NULL), 1);
}

/* G5: the size is the UTF-8 byte length: "é" counts 2 */
static void g5_utf8_bytes(void **st) {
    (void)st;
    const char *row = "\xc3\xa9"; /* é */
    assert_int_equal(strlen(row), 2);
    assert_int_equal(dd_row_too_large(strlen(row), 1, NULL), 1);
    assert_int_equal(dd_row_too_large(strlen(row), 2, NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(g1_over_limit),   cmocka_unit_test(g2_small_row),
        cmocka_unit_test(g3_equal_passes), cmocka_unit_test(g4_envelope_row),
        cmocka_unit_test(g5_utf8_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
