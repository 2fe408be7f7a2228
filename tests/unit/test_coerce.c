/*
 * test_coerce.c - unit tests of jobs/common/coerce.h and codec.h: every example of spec
 * dedup-job.md §2.4, the §7.1 timestamp format, and the §13.6 utility vectors U1, U2, U5-U7 plus
 * the Base64 bodies of Q2/Q3. Expected values come from the spec.
 *
 * A value is built by parsing `{"v": <literal>}` with a per-file parser; a handle is used before
 * the next parse (handles die with their document).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/common/codec.h"
#include "jobs/common/coerce.h"

static weir_json_parser *P;
static weir_buf S;

/* The value of literal @p lit (NULL: a missing value). */
static weir_json val(const char *lit) {
    char doc[512];
    snprintf(doc, sizeof doc, "{\"v\":%s}", lit ? lit : "0");
    weir_json root;
    if (weir_json_parse(P, doc, strlen(doc), &root, NULL) != WEIR_OK)
        fail_msg("bad literal %s", lit);
    return lit ? weir_json_get(root, "v") : weir_json_get(root, "nope");
}

static int setup(void **state) {
    (void)state;
    P = weir_json_parser_new();
    return P ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    weir_json_parser_free(P);
    weir_buf_free(&S);
    return 0;
}

static void assert_slice(wj_str s, const char *want) {
    if (!want) {
        assert_null(s.s);
        return;
    }
    assert_non_null(s.s);
    assert_int_equal(s.n, strlen(want));
    assert_memory_equal(s.s, want, s.n);
}

static void check_text(const char *lit, const char *want) {
    weir_buf_reset(&S);
    assert_slice(wj_text(val(lit), wj_cstr("DFLT"), &S), want);
}

static void test_text(void **state) {
    (void)state;
    check_text(NULL, "DFLT");
    check_text("null", "DFLT");
    weir_buf_reset(&S);
    assert_slice(wj_text(val(NULL), wj_null(), &S), NULL);
    check_text("\" a \"", " a ");
    check_text("\"\"", "");
    check_text("42", "42");
    check_text("-7", "-7");
    check_text("9223372036854775808", "9223372036854775808");
    check_text("123456789012345678901234567890", "123456789012345678901234567890");
    check_text("0.5", "0.5");
    check_text("1500.0", "1500.0");
    check_text("1500.00", "1500.0");
    check_text("0.00001", "1.0E-5");
    check_text("1e10", "1.0E10");
    check_text("1e2", "100.0");
    check_text("true", "true");
    check_text("false", "false");
    check_text("{\"a\":1}", "");
    check_text("[1]", "");
}

static void check_ntext(const char *lit, const char *want) {
    weir_buf_reset(&S);
    assert_slice(wj_ntext(val(lit), &S), want);
}

static void test_ntext(void **state) {
    (void)state;
    check_ntext(NULL, NULL);
    check_ntext("null", NULL);
    check_ntext("\"\"", NULL);
    check_ntext("\" \"", " ");
    check_ntext("\"x\"", "x");
    check_ntext("12", "12");
    check_ntext("2.50", "2.5");
    check_ntext("true", "true");
    check_ntext("{}", NULL);
    check_ntext("[]", NULL);
}

static void check_nint(const char *lit, int has, int32_t want) {
    int32_t got = 12345;
    assert_int_equal(wj_nint(val(lit), &got), has);
    if (has) assert_int_equal(got, want);
}

static void test_nint(void **state) {
    (void)state;
    check_nint(NULL, 0, 0);
    check_nint("null", 0, 0);
    check_nint("\" 42 \"", 1, 42);
    check_nint("\"+5\"", 1, 5);
    check_nint("\"-5\"", 1, -5);
    check_nint("\"\"", 0, 0);
    check_nint("\"  \"", 0, 0);
    check_nint("\"84.5\"", 0, 0);
    check_nint("\"abc\"", 0, 0);
    check_nint("\"2147483647\"", 1, INT32_MAX);
    check_nint("\"-2147483648\"", 1, INT32_MIN);
    check_nint("\"2147483648\"", 0, 0);
    check_nint("\"1e3\"", 0, 0);
    check_nint("9999999999", 1, 1410065407);
    check_nint("84.9", 1, 84);
    check_nint("-84.9", 1, -84);
    check_nint("1e20", 1, INT32_MAX);
    check_nint("-1e20", 1, INT32_MIN);
    check_nint("123456789012345678901234567890", 1, (int32_t)0x4E3F0AD2u);
    check_nint("true", 0, 0);
    check_nint("{}", 0, 0);
    check_nint("[1]", 0, 0);
}

static void check_nlong(const char *lit, int has, int64_t want) {
    int64_t got = 12345;
    assert_int_equal(wj_nlong(val(lit), &got), has);
    if (has) assert_true(got == want);
}

static void test_nlong(void **state) {
    (void)state;
    check_nlong(NULL, 0, 0);
    check_nlong("null", 0, 0);
    check_nlong("\" 9223372036854775807 \"", 1, INT64_MAX);
    check_nlong("\"-9223372036854775808\"", 1, INT64_MIN);
    check_nlong("\"9223372036854775808\"", 0, 0);
    /* 18 digits (the no-overflow fast path) and 19 (the checked path) on both sides */
    check_nlong("\"999999999999999999\"", 1, 999999999999999999LL);
    check_nlong("\"-999999999999999999\"", 1, -999999999999999999LL);
    check_nlong("\"1000000000000000000\"", 1, 1000000000000000000LL);
    check_nlong("\"-1000000000000000000\"", 1, -1000000000000000000LL);
    check_nlong("\"12a\"", 0, 0);
    check_nlong("\"+\"", 0, 0);
    check_nlong("\"\"", 0, 0);
    check_nlong("\"1.5\"", 0, 0);
    check_nlong("9999999999", 1, 9999999999LL);
    check_nlong("18446744073709551615", 1, -1);
    check_nlong("18446744073709551617", 1, 1);
    check_nlong("-18446744073709551617", 1, -1);
    check_nlong("1e20", 1, INT64_MAX);
    check_nlong("-1e20", 1, INT64_MIN);
    check_nlong("84.9", 1, 84);
    check_nlong("false", 0, 0);
    check_nlong("{}", 0, 0);
}

static void test_lint(void **state) {
    (void)state;
    assert_int_equal(wj_lint(val(NULL), -9), -9);
    assert_int_equal(wj_lint(val("null"), -9), -9);
    assert_int_equal(wj_lint(val("\"84.9\""), -9), 84);
    assert_int_equal(wj_lint(val("\"1e3\""), -9), 1000);
    assert_int_equal(wj_lint(val("\" 12 \""), -9), 12);
    assert_int_equal(wj_lint(val("\"+12\""), -9), 12);
    assert_int_equal(wj_lint(val("\"-12\""), -9), -12);
    assert_int_equal(wj_lint(val("\"2147483648\""), -9), -9);
    assert_int_equal(wj_lint(val("\"abc\""), -9), -9);
    assert_int_equal(wj_lint(val("\"\""), -9), -9);
    assert_int_equal(wj_lint(val("\"1e20\""), -9), INT32_MAX);
    assert_int_equal(wj_lint(val("\"-84.9\""), -9), -84);
    assert_int_equal(wj_lint(val("9999999999"), -9), 1410065407);
    assert_int_equal(wj_lint(val("84.9"), -9), 84);
    assert_int_equal(wj_lint(val("1e20"), -9), INT32_MAX);
    assert_int_equal(wj_lint(val("true"), -9), 1);
    assert_int_equal(wj_lint(val("false"), -9), 0);
    assert_int_equal(wj_lint(val("{}"), -9), -9);
    assert_int_equal(wj_lint(val("[]"), -9), -9);
}

static void test_ldouble(void **state) {
    (void)state;
    assert_true(wj_ldouble(val(NULL), -1.5) == -1.5);
    assert_true(wj_ldouble(val("null"), -1.5) == -1.5);
    assert_true(wj_ldouble(val("\" 2.5 \""), -1.5) == 2.5);
    assert_true(wj_ldouble(val("\"1e3\""), -1.5) == 1000.0);
    assert_true(wj_ldouble(val("\".5\""), -1.5) == 0.5);
    assert_true(wj_ldouble(val("\"1.5f\""), -1.5) == 1.5);
    assert_true(wj_ldouble(val("\"0x1p3\""), -1.5) == 8.0);
    assert_true(isnan(wj_ldouble(val("\"NaN\""), -1.5)));
    assert_true(isinf(wj_ldouble(val("\"-Infinity\""), -1.5)));
    assert_true(wj_ldouble(val("\"inf\""), -1.5) == -1.5);
    assert_true(wj_ldouble(val("\"abc\""), -1.5) == -1.5);
    assert_true(wj_ldouble(val("\"1e\""), -1.5) == -1.5);
    assert_true(wj_ldouble(val("\"\""), -1.5) == -1.5);
    assert_true(wj_ldouble(val("5"), -1.5) == 5.0);
    assert_true(wj_ldouble(val("1.96"), -1.5) == 1.96);
    assert_true(wj_ldouble(val("true"), -1.5) == 1.0);
    assert_true(wj_ldouble(val("false"), -1.5) == 0.0);
    assert_true(wj_ldouble(val("{}"), -1.5) == -1.5);
    assert_true(wj_ldouble(val("[]"), -1.5) == -1.5);
}

static void test_lbool(void **state) {
    (void)state;
    assert_int_equal(wj_lbool(val(NULL)), 0);
    assert_int_equal(wj_lbool(val("null")), 0);
    assert_int_equal(wj_lbool(val("\"true\"")), 1);
    assert_int_equal(wj_lbool(val("\" true \"")), 1);
    assert_int_equal(wj_lbool(val("\"TRUE\"")), 0);
    assert_int_equal(wj_lbool(val("\"1\"")), 0);
    assert_int_equal(wj_lbool(val("1")), 1);
    assert_int_equal(wj_lbool(val("-3")), 1);
    assert_int_equal(wj_lbool(val("0")), 0);
    assert_int_equal(wj_lbool(val("1.0")), 0);
    assert_int_equal(wj_lbool(val("true")), 1);
    assert_int_equal(wj_lbool(val("false")), 0);
    assert_int_equal(wj_lbool(val("{}")), 0);
    assert_int_equal(wj_lbool(val("[1]")), 0);
}

static void check_ts(const char *lit, int has, int64_t want) {
    int64_t got = 12345;
    assert_int_equal(wj_ts(val(lit), &got), has);
    if (has) assert_true(got == want);
}

static void test_ts(void **state) {
    (void)state;
    check_ts(NULL, 0, 0);
    check_ts("null", 0, 0);
    check_ts("\"-5\"", 0, 0);
    check_ts("\"+5\"", 0, 0);
    check_ts("\"1.5\"", 0, 0);
    check_ts("\" \"", 0, 0);
    check_ts("\"\"", 0, 0);
    check_ts("\"abc\"", 0, 0);
    check_ts("\"99999999999999999999\"", 0, 0);
    check_ts("\"1710000000000\"", 1, 1710000000000LL);
    check_ts("\" 1710000000000 \"", 1, 1710000000000LL);
    check_ts("1710000000000", 1, 1710000000000LL);
    check_ts("1.7e12", 1, 1700000000000LL);
    check_ts("-5", 1, -5);
    check_ts("-5.9", 1, -5);
    check_ts("1e30", 1, INT64_MAX);
    check_ts("18446744073709551615", 1, -1);
    check_ts("true", 0, 0);
    check_ts("{}", 0, 0);
    check_ts("[1]", 0, 0);
}

static void check_fmt(int64_t ms, const char *want) {
    weir_buf b = {0};
    wj_format_ts(&b, ms);
    assert_string_equal(b.data, want);
    weir_buf_free(&b);
}

static void test_format_ts(void **state) {
    (void)state;
    check_fmt(1770062064713LL, "2026-02-02 19:54:24.713");
    check_fmt(1770062024704LL, "2026-02-02 19:53:44.704"); /* U2 */
    check_fmt(1710000000000LL, "2024-03-09 16:00:00.000"); /* TS0 */
    check_fmt(-1, "1969-12-31 23:59:59.999");
    check_fmt(0, "1970-01-01 00:00:00.000");
    check_fmt(1, "1970-01-01 00:00:00.001");
    check_fmt(-86400000LL, "1969-12-31 00:00:00.000");
    check_fmt(951782400000LL, "2000-02-29 00:00:00.000");
    /* repeated seconds (the per-thread cache of the date and time of a second): the same second
     * with other milliseconds, the next and the previous second, and the cache's second reached
     * from the other side of the epoch */
    check_fmt(1770062064000LL, "2026-02-02 19:54:24.000");
    check_fmt(1770062064999LL, "2026-02-02 19:54:24.999");
    check_fmt(1770062065000LL, "2026-02-02 19:54:25.000");
    check_fmt(1770062064001LL, "2026-02-02 19:54:24.001");
    check_fmt(-1000, "1969-12-31 23:59:59.000");
    check_fmt(-999, "1969-12-31 23:59:59.001");
    check_fmt(-1, "1969-12-31 23:59:59.999");
    check_fmt(999, "1970-01-01 00:00:00.999");
    check_fmt(-1001, "1969-12-31 23:59:58.999");
    /* seconds 256 apart share a slot of the 256-entry cache: each evicts the other */
    check_fmt(1770062064713LL + 256000, "2026-02-02 19:58:40.713");
    check_fmt(1770062064713LL, "2026-02-02 19:54:24.713");
    check_fmt(1770062064713LL + 256000, "2026-02-02 19:58:40.713");
    check_fmt(-1000 - 256000, "1969-12-31 23:55:43.000");
    check_fmt(-1000, "1969-12-31 23:59:59.000");
}

static void check_norm(wj_str in, const char *want) {
    weir_buf b = {0};
    wj_normalize_address(&b, in);
    assert_string_equal(b.len ? b.data : "", want);
    weir_buf_free(&b);
}

static void test_appendix_a(void **state) {
    (void)state;
    /* U5 */
    check_norm(wj_null(), "");
    check_norm(wj_cstr("   "), "");
    check_norm(wj_cstr(" 0xAbC123 "), "0xabc123");
    /* blank */
    assert_true(wj_is_blank(wj_null()));
    assert_true(wj_is_blank(wj_cstr("")));
    assert_true(wj_is_blank(wj_cstr(" \t\n")));
    assert_false(wj_is_blank(wj_cstr(" x ")));
    /* U7 */
    wj_str a[] = {wj_cstr(" "), wj_null(), wj_cstr("x"), wj_cstr("y")};
    assert_slice(wj_first_non_blank(a, 4), "x");
    wj_str b[] = {wj_cstr(" "), wj_null(), wj_cstr("\t")};
    assert_slice(wj_first_non_blank(b, 3), "");
    wj_str c[] = {wj_cstr(" "), wj_cstr(" x ")};
    assert_slice(wj_first_non_blank(c, 2), " x "); /* untrimmed */
    /* U6 */
    struct {
        const char *s, *r, *e, *want;
    } u6[] = {{"stream-1", "req-1", "evt-1", "stream-1|req-1"},
              {"stream-1", "", "evt-1", "stream-1|_missing_request"},
              {"", "req-1", "evt-1", "_missing_stream|req-1"},
              {"", "", "evt-1", "_missing_stream|_missing_request|evt-1"},
              {" ", NULL, NULL, "_missing_stream|_missing_request|_missing_event"},
              {" s ", " r ", "e", "s|r"},
              {NULL, NULL, " e ", "_missing_stream|_missing_request|e"}};
    for (size_t i = 0; i < sizeof u6 / sizeof *u6; i++) {
        weir_buf o = {0};
        wj_workflow_session_id(&o, wj_cstr(u6[i].s), wj_cstr(u6[i].r), wj_cstr(u6[i].e));
        assert_string_equal(o.data, u6[i].want);
        weir_buf_free(&o);
    }
}

static void test_codec(void **state) {
    (void)state;
    char hex[65];
    wj_sha256_hex("hello", 5, hex); /* U1 */
    assert_string_equal(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    wj_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    weir_buf b = {0};
    wj_base64(&b, "{\"id\":\"x\",", 10); /* Q2 */
    assert_string_equal(b.data, "eyJpZCI6IngiLA==");
    weir_buf_reset(&b);
    wj_base64(&b, "not json", 8); /* Q3 */
    assert_string_equal(b.data, "bm90IGpzb24=");
    weir_buf_reset(&b);
    wj_base64(&b, "", 0);
    assert_int_equal(b.len, 0);
    wj_base64(&b, "f", 1);
    wj_base64(&b, "fo", 2);
    assert_string_equal(b.data, "Zg==Zm8=");
    weir_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),      cmocka_unit_test(test_ntext),
        cmocka_unit_test(test_nint),      cmocka_unit_test(test_nlong),
        cmocka_unit_test(test_lint),      cmocka_unit_test(test_ldouble),
        cmocka_unit_test(test_lbool),     cmocka_unit_test(test_ts),
        cmocka_unit_test(test_format_ts), cmocka_unit_test(test_appendix_a),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
