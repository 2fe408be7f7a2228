/*
 * test_json.c - unit tests of weir/json.h (spec dedup-job.md §2.2 parser rules, §4.3 compact
 * serialisation and Java number text, §13.2 dedup pre-images D2-D8). Expected values are taken
 * from the spec, never from running the code. Each test owns its parser and buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "jobs/common/codec.h"
#include "weir/json.h"

/* Parses @p s (strlen) and asserts success; returns the root. */
static weir_json parse_ok(weir_json_parser *p, const char *s) {
    weir_json root;
    weir_error e;
    weir_error_clear(&e);
    weir_err rc = weir_json_parse(p, s, strlen(s), &root, &e);
    if (rc != WEIR_OK) fail_msg("parse of <%s> failed: %s", s, e.msg);
    return root;
}

/* Compact serialisation of the whole document @p s, asserted equal to @p want. */
static void assert_compact(const char *s, const char *want) {
    weir_json_parser *p = weir_json_parser_new();
    assert_non_null(p);
    weir_json root = parse_ok(p, s);
    weir_buf b = {0};
    weir_json_write_compact(&b, root, NULL);
    assert_string_equal(b.len ? b.data : "", want);
    weir_buf_free(&b);
    weir_json_parser_free(p);
}

static void assert_parse_error(const char *s, size_t n) {
    weir_json_parser *p = weir_json_parser_new();
    weir_json root = {(const void *)1, 7};
    weir_error e;
    weir_error_clear(&e);
    assert_int_equal(weir_json_parse(p, s, n, &root, &e), WEIR_EPARSE);
    assert_int_equal(e.code, WEIR_EPARSE);
    assert_true(strlen(e.msg) > 0);
    weir_json_parser_free(p);
}

static void test_first_value_only(void **state) {
    (void)state;
    assert_compact("{\"a\":1} junk", "{\"a\":1}");
    assert_compact("{\"a\":1}{\"b\":2}", "{\"a\":1}");
    assert_compact("{\"a\":1} xyz", "{\"a\":1}");
    assert_compact("[1,2] ]]", "[1,2]");
    assert_compact("{\"a\":\"}\"}} {", "{\"a\":\"}\"}");
    assert_compact("1 x", "1");
    assert_compact("\"abc\"x", "\"abc\"");
    assert_compact("true false", "true");
    assert_compact("  null\n", "null");
    /* the scalar keeps its type */
    weir_json_parser *p = weir_json_parser_new();
    weir_json r = parse_ok(p, "1 x");
    assert_int_equal(weir_json_type_of(r), WEIR_JSON_INT);
    assert_int_equal(weir_json_int(r), 1);
    weir_json_parser_free(p);
}

static void test_empty_is_missing(void **state) {
    (void)state;
    weir_json_parser *p = weir_json_parser_new();
    const char *blanks[] = {"", " ", " \n\t\r "};
    for (size_t i = 0; i < 3; i++) {
        weir_json r = {(const void *)1, 3};
        assert_int_equal(weir_json_parse(p, blanks[i], strlen(blanks[i]), &r, NULL), WEIR_OK);
        assert_true(weir_json_is_missing(r));
        assert_int_equal(weir_json_type_of(r), WEIR_JSON_MISSING);
        size_t n = 99;
        weir_json_parser_text(p, &n);
        assert_int_equal(n, strlen(blanks[i]));
    }
    weir_json_parser_free(p);
}

static void test_strict_errors(void **state) {
    (void)state;
    const char *bad[] = {"{\"id\":\"x\",",
                         "not json",
                         "{\"a\":1,}",
                         "[1,2,]",
                         "[01]",
                         "{'a':1}",
                         "NaN",
                         "Infinity",
                         "/*c*/1",
                         "1x",
                         "[1,2",
                         "{\"a\" 1}",
                         "\"abc",
                         "{\"a\":\"\x01\"}",
                         "-",
                         "1.",
                         ".5",
                         "tru",
                         "]",
                         "}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_parse_error(bad[i], strlen(bad[i]));
    assert_parse_error("\0", 1);
}

static void test_invalid_utf8(void **state) {
    (void)state;
    weir_json_parser *p = weir_json_parser_new();
    /* valid input: same bytes */
    const char *ok = "{\"a\":\"caf\xC3\xA9 \xF0\x9F\x98\x80\"}";
    parse_ok(p, ok);
    size_t n;
    const char *t = weir_json_parser_text(p, &n);
    assert_int_equal(n, strlen(ok));
    assert_memory_equal(t, ok, n);
    /* one bad byte */
    weir_json r = parse_ok(p, "{\"a\":\"x\xFFy\"}");
    t = weir_json_parser_text(p, &n);
    assert_int_equal(n, strlen("{\"a\":\"x\xEF\xBF\xBDy\"}"));
    assert_memory_equal(t, "{\"a\":\"x\xEF\xBF\xBDy\"}", n);
    const char *s;
    size_t sl;
    assert_int_equal(weir_json_string(weir_json_get(r, "a"), &s, &sl), 0);
    assert_int_equal(sl, 5);
    assert_memory_equal(s, "x\xEF\xBF\xBDy", 5);
    /* truncated 3-byte sequence: one replacement; overlong C0 80: two */
    r = parse_ok(p, "[\"\xE2\x82\", \"\xC0\x80\", \"\xED\xA0\x80\"]");
    weir_buf b = {0};
    weir_json_write_compact(&b, r, NULL);
    assert_string_equal(b.data,
                        "[\"\xEF\xBF\xBD\",\"\xEF\xBF\xBD\xEF\xBF\xBD\",\"\xEF\xBF\xBD\xEF\xBF"
                        "\xBD\xEF\xBF\xBD\"]");
    weir_buf_free(&b);
    weir_json_parser_free(p);
}

static void test_duplicate_keys(void **state) {
    (void)state;
    weir_json_parser *p = weir_json_parser_new();
    weir_json r = parse_ok(p, "{\"a\":1,\"b\":2,\"a\":{\"x\":[3]},\"c\":4,\"b\":5}");
    assert_int_equal(weir_json_size(r), 3);
    assert_int_equal(weir_json_int(weir_json_get(r, "b")), 5);
    assert_int_equal(weir_json_type_of(weir_json_get(r, "a")), WEIR_JSON_OBJECT);
    assert_int_equal(weir_json_int(weir_json_at(weir_json_path(r, "a.x"), 0)), 3);
    weir_json_iter it = weir_json_iter_begin(r);
    const char *k;
    size_t kl;
    weir_json v;
    const char *want_keys[] = {"a", "b", "c"};
    size_t i = 0;
    while (weir_json_next(&it, &k, &kl, &v)) {
        assert_true(i < 3);
        assert_int_equal(kl, 1);
        assert_memory_equal(k, want_keys[i], 1);
        if (i == 0) assert_int_equal(weir_json_type_of(v), WEIR_JSON_OBJECT);
        if (i == 1) assert_int_equal(weir_json_int(v), 5);
        if (i == 2) assert_int_equal(weir_json_int(v), 4);
        i++;
    }
    assert_int_equal(i, 3);
    assert_int_equal(it.n, 3);
    weir_json_parser_free(p);
    assert_compact("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
    assert_compact("{\"o\":{\"k\":1,\"k\":2},\"o2\":{\"k\":1}}",
                   "{\"o\":{\"k\":2},\"o2\":{\"k\":1}}");
    /* many keys (sorted duplicate detection path) */
    assert_compact(
        "{\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,"
        "\"k10\":10,\"k3\":33}",
        "{\"k1\":1,\"k2\":2,\"k3\":33,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,"
        "\"k10\":10}");
}

/* weir_json_get_many: one pass, the same answers as weir_json_getn for every key (last
 * duplicate wins, MISSING when absent or not an object), including keys longer than 16 bytes
 * that share their first 16 bytes, and keys with escapes. */
static void test_get_many(void **state) {
    (void)state;
    static const char *const keys[] = {
        "a", "b", "missing", "orchestrator_info_address", "orchestrator_info_addresz", "q\"", ""};
    const size_t n = sizeof keys / sizeof keys[0];
    weir_json_keyset ks;
    assert_int_equal(weir_json_keyset_init(&ks, keys, NULL, n), 0);
    static const char *const docs[] = {
        "{\"a\":1,\"b\":2,\"a\":{\"x\":3},\"orchestrator_info_address\":\"x\","
        "\"orchestrator_info_addresz\":\"z\",\"q\\\"\":7,\"\":8,\"b\":9}",
        "{}", "{\"A\":1,\"aa\":2}", "[1,2]", "\"text\""};
    weir_json_parser *p = weir_json_parser_new();
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        weir_json r = parse_ok(p, docs[d]);
        weir_json out[8];
        weir_json_get_many(r, &ks, out);
        for (size_t i = 0; i < n; i++) {
            weir_json want = weir_json_getn(r, keys[i], strlen(keys[i]));
            assert_int_equal(weir_json_is_missing(out[i]), weir_json_is_missing(want));
            if (!weir_json_is_missing(want)) assert_true(out[i].idx == want.idx);
        }
    }
    /* the expected values, spelled out for the first document */
    weir_json r = parse_ok(p, docs[0]);
    weir_json out[8];
    weir_json_get_many(r, &ks, out);
    assert_int_equal(weir_json_type_of(out[0]), WEIR_JSON_OBJECT); /* last "a" */
    assert_int_equal(weir_json_int(out[1]), 9);                    /* last "b" */
    assert_true(weir_json_is_missing(out[2]));
    assert_int_equal(weir_json_int(out[5]), 7);
    assert_int_equal(weir_json_int(out[6]), 8);
    weir_json_parser_free(p);
    /* a repeated key or too many keys are refused */
    static const char *const dup[] = {"x", "x"};
    assert_int_equal(weir_json_keyset_init(&ks, dup, NULL, 2), -1);
    static char names[WEIR_JSON_KEYSET_MAX + 1][8];
    const char *many[WEIR_JSON_KEYSET_MAX + 1];
    for (int i = 0; i <= WEIR_JSON_KEYSET_MAX; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        many[i] = names[i];
    }
    assert_int_equal(weir_json_keyset_init(&ks, many, NULL, WEIR_JSON_KEYSET_MAX), 0);
    assert_int_equal(weir_json_keyset_init(&ks, many, NULL, WEIR_JSON_KEYSET_MAX + 1), -1);
}

static void test_navigation(void **state) {
    (void)state;
    weir_json_parser *p = weir_json_parser_new();
    weir_json r = parse_ok(p, "{\"data\":[{\"x\":1}],\"s\":\"v\",\"n\":null,\"t\":true,"
                              "\"o\":{\"orchestrator_info\":{\"address\":\"0xA\"}},\"e\":{},"
                              "\"ea\":[]}");
    assert_int_equal(weir_json_type_of(r), WEIR_JSON_OBJECT);
    assert_true(weir_json_is_missing(weir_json_path(r, "data.orchestrator_info.address")));
    assert_true(weir_json_is_missing(weir_json_path(r, "s.x")));
    assert_true(weir_json_is_missing(weir_json_path(r, "n.x")));
    assert_true(weir_json_is_missing(weir_json_get(r, "zz")));
    assert_true(weir_json_is_missing(weir_json_get(weir_json_get(r, "zz"), "a")));
    const char *s;
    size_t n;
    assert_int_equal(weir_json_string(weir_json_path(r, "o.orchestrator_info.address"), &s, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "0xA", 3);
    assert_int_equal(weir_json_string(weir_json_get(r, "n"), &s, &n), -1);
    assert_int_equal(weir_json_type_of(weir_json_get(r, "n")), WEIR_JSON_NULL);
    assert_int_equal(weir_json_type_of(weir_json_get(r, "t")), WEIR_JSON_BOOL);
    assert_int_equal(weir_json_bool(weir_json_get(r, "t")), 1);
    assert_int_equal(weir_json_size(weir_json_get(r, "data")), 1);
    assert_int_equal(weir_json_size(weir_json_get(r, "e")), 0);
    assert_int_equal(weir_json_size(weir_json_get(r, "ea")), 0);
    assert_int_equal(weir_json_size(weir_json_get(r, "s")), 0);
    assert_true(weir_json_is_missing(weir_json_at(weir_json_get(r, "data"), 1)));
    assert_int_equal(weir_json_int(weir_json_get(weir_json_at(weir_json_get(r, "data"), 0), "x")),
                     1);
    weir_json_iter it = weir_json_iter_begin(weir_json_get(r, "s"));
    assert_int_equal(weir_json_next(&it, NULL, NULL, NULL), 0);
    it = weir_json_iter_begin(weir_json_get(r, "e"));
    assert_int_equal(weir_json_next(&it, NULL, NULL, NULL), 0);
    weir_json_iter z = {0};
    assert_int_equal(weir_json_next(&z, NULL, NULL, NULL), 0);
    /* array iteration */
    r = parse_ok(p, "[1,\"a\",[2],{\"b\":3},null]");
    it = weir_json_iter_begin(r);
    weir_json v;
    const char *k = "x";
    size_t cnt = 0;
    while (weir_json_next(&it, &k, NULL, &v)) {
        assert_null(k);
        cnt++;
    }
    assert_int_equal(cnt, 5);
    assert_int_equal(weir_json_size(r), 5);
    assert_int_equal(weir_json_type_of(weir_json_at(r, 4)), WEIR_JSON_NULL);
    /* strings with NUL and escapes are decoded */
    r = parse_ok(p, "\"a\\u0000b\\u0041\"");
    assert_int_equal(weir_json_string(r, &s, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(s, "a\0bA", 4);
    weir_json_parser_free(p);
}

static void test_numbers(void **state) {
    (void)state;
    weir_json_parser *p = weir_json_parser_new();
    weir_json r = parse_ok(p, "[1.0,-0,-0.0,1.50,1e2,9223372036854775807,9223372036854775808,"
                              "18446744073709551615,18446744073709551616,-9223372036854775808,"
                              "-9223372036854775809,123456789012345678901234567890]");
    weir_json v = weir_json_at(r, 0);
    assert_int_equal(weir_json_type_of(v), WEIR_JSON_DOUBLE);
    assert_true(weir_json_double(v) == 1.0);
    v = weir_json_at(r, 1);
    assert_int_equal(weir_json_type_of(v), WEIR_JSON_INT);
    assert_int_equal(weir_json_int(v), 0);
    v = weir_json_at(r, 2);
    assert_int_equal(weir_json_type_of(v), WEIR_JSON_DOUBLE);
    assert_true(weir_json_double(v) == 0.0 && 1.0 / weir_json_double(v) < 0);
    assert_int_equal(weir_json_type_of(weir_json_at(r, 5)), WEIR_JSON_INT);
    assert_true(weir_json_int(weir_json_at(r, 5)) == INT64_MAX);
    v = weir_json_at(r, 6);
    assert_int_equal(weir_json_type_of(v), WEIR_JSON_UINT);
    assert_true(weir_json_uint(v) == 9223372036854775808ULL);
    assert_true(weir_json_int(v) == INT64_MIN); /* wrapped */
    assert_int_equal(weir_json_type_of(weir_json_at(r, 7)), WEIR_JSON_UINT);
    assert_true(weir_json_uint(weir_json_at(r, 7)) == UINT64_MAX);
    v = weir_json_at(r, 8);
    assert_int_equal(weir_json_type_of(v), WEIR_JSON_BIGINT);
    size_t n;
    const char *bt = weir_json_bigint_text(v, &n);
    assert_non_null(bt);
    assert_int_equal(n, 20);
    assert_memory_equal(bt, "18446744073709551616", 20);
    assert_true(weir_json_double(v) == 18446744073709551616.0);
    assert_int_equal(weir_json_type_of(weir_json_at(r, 9)), WEIR_JSON_INT);
    assert_true(weir_json_int(weir_json_at(r, 9)) == INT64_MIN);
    assert_int_equal(weir_json_type_of(weir_json_at(r, 10)), WEIR_JSON_BIGINT);
    assert_int_equal(weir_json_type_of(weir_json_at(r, 11)), WEIR_JSON_BIGINT);
    assert_null(weir_json_bigint_text(weir_json_at(r, 0), &n));
    assert_int_equal(weir_json_uint(weir_json_at(r, 1)), 0);
    weir_json_parser_free(p);
    assert_compact("[1.0,-0,-0.0,1.50,1e2,100,0.001,0.0001,1234567.0,12345678.9,1e10,1E+2,2.5e-3]",
                   "[1.0,0,-0.0,1.5,100.0,100,0.001,1.0E-4,1234567.0,1.23456789E7,1.0E10,100.0,"
                   "0.0025]");
    /* big integers are written verbatim, wherever they are */
    assert_compact("{\"s\":\"x\",\"b\":123456789012345678901234567890,\"c\":[\"y\","
                   "-99999999999999999999999,{\"d\":18446744073709551616}],\"e\":\"z\"}",
                   "{\"s\":\"x\",\"b\":123456789012345678901234567890,\"c\":[\"y\","
                   "-99999999999999999999999,{\"d\":18446744073709551616}],\"e\":\"z\"}");
    assert_compact("18446744073709551616 junk", "18446744073709551616");
    assert_compact("{\"b\":18446744073709551616} junk", "{\"b\":18446744073709551616}");
    /* a big integer inside a broken document is still an error */
    assert_parse_error("[18446744073709551616,", 22);
    assert_parse_error("[00018446744073709551616]", 25);
}

static void test_depth(void **state) {
    (void)state;
    char *s = malloc(2 * 1025 + 1);
    for (int d = 1024; d <= 1025; d++) {
        memset(s, '[', (size_t)d);
        memset(s + d, ']', (size_t)d);
        s[2 * d] = '\0';
        weir_json_parser *p = weir_json_parser_new();
        weir_json r;
        weir_err rc = weir_json_parse(p, s, strlen(s), &r, NULL);
        assert_int_equal(rc, d <= 1024 ? WEIR_OK : WEIR_EPARSE);
        weir_json_parser_free(p);
    }
    /* deep and with trailing junk */
    memset(s, '[', 1025);
    memset(s + 1025, ']', 1025);
    s[2050] = '\0';
    s[2049] = 'x';
    assert_parse_error(s, 2050);
    free(s);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_fuzz(void **state) {
    (void)state;
    weir_json_parser *p = weir_json_parser_new();
    weir_buf b = {0};
    char buf[512];
    static const char alphabet[] = "{}[]\":,0123456789-+.eEtruefalsn \\u\x80\xff\xc3\xa9";
    const char *seed = "{\"id\":\"x\",\"a\":[1,2.5,-3e4,{\"b\":null,\"c\":true,\"b\":\"\\u00e9\"}],"
                       "\"n\":123456789012345678901234567890}";
    for (int iter = 0; iter < 20000; iter++) {
        size_t n;
        if (iter % 3 == 0) { /* random bytes */
            n = rnd() % sizeof buf;
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)rnd();
        } else if (iter % 3 == 1) { /* random JSON-ish tokens */
            n = rnd() % 64;
            for (size_t i = 0; i < n; i++)
                buf[i] = alphabet[rnd() % (sizeof alphabet - 1)];
        } else { /* mutations of a valid document */
            n = strlen(seed);
            memcpy(buf, seed, n);
            for (int m = 0; m < 3; m++)
                buf[rnd() % n] = alphabet[rnd() % (sizeof alphabet - 1)];
            n = rnd() % (n + 1);
        }
        weir_json r;
        if (weir_json_parse(p, buf, n, &r, NULL) == WEIR_OK) {
            weir_buf_reset(&b);
            weir_json_write_compact(&b, r, NULL);
            (void)weir_json_size(r);
            weir_json_iter it = weir_json_iter_begin(r);
            weir_json v;
            while (weir_json_next(&it, NULL, NULL, &v))
                (void)weir_json_type_of(v);
        }
    }
    weir_buf_free(&b);
    weir_json_parser_free(p);
}

static void test_string_escaping(void **state) {
    (void)state;
    /* decoded value re-escaped: \u0041 -> A, \/ -> /, control chars, DEL and non-ASCII raw */
    assert_compact("\"\\u0041\\/\\u001f\\u0001\\b\\t\\n\\f\\r\x7f\\u00e9\xC3\xA9\\\"\\\\\\u0000\"",
                   "\"A/\\u001F\\u0001\\b\\t\\n\\f\\r\x7f\xC3\xA9\xC3\xA9\\\"\\\\\\u0000\"");
    weir_buf b = {0};
    weir_json_write_string(&b,
                           "a\x0b"
                           "b\x1f/",
                           5);
    assert_string_equal(b.data, "\"a\\u000Bb\\u001F/\"");
    weir_buf_free(&b);
}

/* The escaping of §4.3 one byte at a time, written from the rules: the reference every fast
 * path of weir_json_write_string() (SSE2, SWAR, AVX-512 VBMI2) must match. */
static void ref_escape(weir_buf *b, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    weir_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        const char *e = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\b' ? "\\b"
                        : c == '\t' ? "\\t"
                        : c == '\n' ? "\\n"
                        : c == '\f' ? "\\f"
                        : c == '\r' ? "\\r"
                                    : NULL;
        if (e) {
            weir_buf_puts(b, e);
        } else if (c < 0x20) {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            weir_buf_puts(b, u);
        } else {
            weir_buf_putc(b, (char)c);
        }
    }
    weir_buf_putc(b, '"');
}

/* Escapes the @p n bytes at @p s into @p got and checks the result against @p want. */
static void assert_escapes_to(weir_buf *got, const char *s, size_t n, const weir_buf *want) {
    weir_buf_reset(got);
    weir_json_write_string(got, s, n);
    assert_int_equal(got->len, want->len);
    assert_memory_equal(got->data, want->data, want->len);
}

/* Random strings of 0-300 bytes, from plain text to nothing but specials, at every alignment:
 * the block paths, their tails and the switch between them all meet the reference. */
static void test_string_escaping_random(void **state) {
    (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
    print_message("AVX-512 VBMI2 path %s on this CPU\n",
                  __builtin_cpu_supports("avx512vbmi2") ? "taken" : "not available");
#endif
    static const unsigned char specials[] = {'"', '\\', '\n', '\t', 0x00, 0x1f, 0x7f, 0xc3, 0xa9};
    unsigned char in[320];
    weir_buf got = {0}, want = {0};
    char *guard = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(guard != MAP_FAILED);
    assert_int_equal(mprotect(guard + 4096, 4096, PROT_NONE), 0);
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 20000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (size_t)(x % 301), off = (size_t)((x >> 20) % 16);
        unsigned density = (unsigned)((x >> 32) % 5); /* 0: none ... 4: every byte special */
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int special = density == 4 || (density && (x & 15) < density * density);
            if (density == 1) special = special && (x >> 8) % 4 == 0; /* sparse */
            in[off + i] = special ? specials[(x >> 16) % (density == 2 ? 2 : sizeof specials)]
                                  : (unsigned char)(' ' + (x >> 24) % 95);
        }
        weir_buf_reset(&want);
        ref_escape(&want, in + off, n);
        assert_escapes_to(&got, (const char *)in + off, n, &want);
        /* the same bytes in an allocation of exactly n bytes (AddressSanitizer sees any read
         * past it) and ending on the last byte before an unreadable page (a read past it
         * faults): the masked tail step must not touch a byte beyond the string */
        char *exact = malloc(n ? n : 1);
        assert_non_null(exact);
        memcpy(exact, in + off, n);
        assert_escapes_to(&got, exact, n, &want);
        free(exact);
        memcpy(guard + 4096 - n, in + off, n);
        assert_escapes_to(&got, guard + 4096 - n, n, &want);
    }
    weir_buf_free(&got);
    weir_buf_free(&want);
    munmap(guard, 2 * 4096);
}

static void assert_double(double d, const char *want) {
    weir_buf b = {0};
    weir_json_write_double_java(&b, d);
    assert_string_equal(b.data, want);
    weir_buf_free(&b);
}

static void assert_float(float f, const char *want) {
    weir_buf b = {0};
    weir_json_write_float_java(&b, f);
    assert_string_equal(b.data, want);
    weir_buf_free(&b);
}

static void test_double_java(void **state) {
    (void)state;
    assert_double(1.5, "1.5");
    assert_double(100.0, "100.0");
    assert_double(0.001, "0.001");
    assert_double(0.0001, "1.0E-4");
    assert_double(1234567.0, "1234567.0");
    assert_double(12345678.9, "1.23456789E7");
    assert_double(1e10, "1.0E10");
    assert_double(-0.0, "-0.0");
    assert_double(0.0, "0.0");
    assert_double(0.5, "0.5");
    assert_double(1500.0, "1500.0");
    assert_double(1.0e-5, "1.0E-5");
    assert_double(1e7, "1.0E7");
    assert_double(9999999.0, "9999999.0");
    assert_double(-2.5, "-2.5");
    assert_double(0.1 + 0.2, "0.30000000000000004");
    assert_double(1.7976931348623157e308, "1.7976931348623157E308");
    assert_double(4.9e-324, "4.9E-324"); /* Double.MIN_VALUE (JDK 19+) */
    assert_double(2.2250738585072014E-308, "2.2250738585072014E-308");
    assert_double(1e23, "1.0E23");
    assert_double(-1.0e-3, "-0.001");
    assert_double(0.0 / 0.0, "NaN");
    assert_double(1.0 / 0.0, "Infinity");
    assert_double(-1.0 / 0.0, "-Infinity");
    /* real JDK 17 and 25 print 23.584044 (closest of the two 8-digit candidates; spec §7.1 only
     * asks for text that parses to the same float32) */
    assert_float((float)23.584042845918553, "23.584044");
    assert_float((float)24.083704770620216, "24.083704");
    assert_float(0.1f, "0.1");
    assert_float(100.0f, "100.0");
    assert_float(1e10f, "1.0E10");
    assert_float(1.0e-4f, "1.0E-4");
    assert_float(3.4028235e38f, "3.4028235E38");
    assert_float(1.4e-45f, "1.4E-45"); /* Float.MIN_VALUE */
    assert_float(-0.0f, "-0.0");
}

/* SHA-256 of prefix + compact(doc with __replay* removed). */
static void hash_of(const char *prefix, const char *doc, char hex[65], weir_buf *pre) {
    static const char *const skip[] = {"__replay", "__replay_ts", "__replay_source",
                                       "__replay_failure_class", NULL};
    weir_json_parser *p = weir_json_parser_new();
    weir_json r = parse_ok(p, doc);
    weir_buf_reset(pre);
    weir_buf_puts(pre, prefix);
    weir_json_write_compact(pre, r, skip);
    wj_sha256_hex(pre->data, pre->len, hex);
    weir_json_parser_free(p);
}

static void test_dedup_preimages(void **state) {
    (void)state;
    const char *d2 = "{\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,\"data\":{"
                     "\"stream_id\":\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\","
                     "\"pipeline_id\":\"pid\"}}";
    const char *key2 = "6e1ade4d91217e8e157d5ccec9db8ce18efa9d09111b936e53a1682ad73bcfec";
    char hex[65];
    weir_buf pre = {0};
    hash_of("ai_stream_status|null|null|null|", d2, hex, &pre);
    assert_string_equal(pre.data, "ai_stream_status|null|null|null|{\"type\":\"ai_stream_status\","
                                  "\"timestamp\":1710000000000,\"data\":{\"stream_id\":\"s1\","
                                  "\"request_id\":\"r1\",\"pipeline\":\"p1\",\"pipeline_id\":"
                                  "\"pid\"}}");
    assert_string_equal(hex, key2);
    /* D3: replay metadata removed */
    hash_of("ai_stream_status|null|null|null|",
            "{\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,\"data\":{\"stream_id\":"
            "\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\",\"pipeline_id\":\"pid\"},"
            "\"__replay\":true,\"__replay_ts\":1710000099999,\"__replay_source\":\"dlq\","
            "\"__replay_failure_class\":\"PARSING_FAILED\"}",
            hex, &pre);
    assert_string_equal(hex, key2);
    /* D4: pretty-printed */
    hash_of("ai_stream_status|null|null|null|",
            "{\n  \"type\" : \"ai_stream_status\",\n  \"timestamp\" : 1710000000000,\n"
            "  \"data\" : {\n    \"stream_id\" : \"s1\",\n    \"request_id\" : \"r1\",\n"
            "    \"pipeline\" : \"p1\",\n    \"pipeline_id\" : \"pid\"\n  }\n}\n",
            hex, &pre);
    assert_string_equal(hex, key2);
    /* D5: key order matters */
    hash_of("ai_stream_status|null|null|null|",
            "{\"timestamp\":1710000000000,\"type\":\"ai_stream_status\",\"data\":{\"stream_id\":"
            "\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\",\"pipeline_id\":\"pid\"}}",
            hex, &pre);
    assert_string_equal(hex, "1ef1ab99c923cf3a3d8301aa80239e3020a4a0aa8539e6cdfeeb75b0b7c7e0de");
    /* D6 */
    hash_of("ai_stream_status|0xABC|b1|eu|",
            "{\"id\":\"\",\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,\"data\":{"
            "\"stream_id\":\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\",\"orchestrator_info\":"
            "{\"address\":\"0xABC\",\"url\":\"https://o:1\"},\"broadcaster\":\"b1\",\"region\":"
            "\"eu\"}}",
            hex, &pre);
    assert_string_equal(hex, "a4922e79289fde6fc6b3e54f7a77b81a64e9b1e1d70dd103a0748039f94efc2e");
    /* D7 */
    hash_of("create_new_payment|0xo|null|null|",
            "{\"type\":\"create_new_payment\",\"timestamp\":\"1710000000000\",\"data\":{"
            "\"sessionID\":\"sess\",\"manifestID\":\"m\",\"sender\":\"0xs\",\"recipient\":\"0xr\","
            "\"orchestrator\":\"0xo\",\"faceValue\":\"100\",\"numTickets\":\"1\",\"price\":\"0.5\","
            "\"winProb\":\"0.1\"}}",
            hex, &pre);
    assert_string_equal(hex, "cb6a6b5efe6d0eca43c2d751bf9ef8c2da5b83fba2595bda79a108df68310660");
    /* D8 */
    hash_of("discovery_results|null|null|null|",
            "{\"type\":\"discovery_results\",\"timestamp\":1710000000000,\"data\":[{\"address\":"
            "\"0xa\",\"latency_ms\":\"84\",\"url\":\"https://a\"}]}",
            hex, &pre);
    assert_string_equal(hex, "4a5e4e1a09b6a74b1964d2ff187b93a2df6555f79c7d6345bd8f274a9c181b92");
    weir_buf_free(&pre);
}

static void test_skip_keys_only_top(void **state) {
    (void)state;
    static const char *const skip[] = {"__replay", NULL};
    weir_json_parser *p = weir_json_parser_new();
    weir_json r = parse_ok(p, "{\"__replay\":1,\"a\":{\"__replay\":2},\"b\":3}");
    weir_buf b = {0};
    weir_json_write_compact(&b, r, skip);
    assert_string_equal(b.data, "{\"a\":{\"__replay\":2},\"b\":3}");
    weir_buf_reset(&b);
    weir_json_write_compact(&b, (weir_json){0}, skip);
    assert_int_equal(b.len, 0);
    weir_buf_free(&b);
    weir_json_parser_free(p);
}

/* Input parsed in place (weir_json_parse): a document whose padding lies in its own page is read
 * where it is; one that ends within SIMDJSON_PADDING (64) bytes of an unreadable page is copied
 * first, so parsing it does not fault. Under AddressSanitizer every input is copied. */
static void test_parse_in_place(void **state) {
    (void)state;
    const size_t page = 4096;
    char *mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + page, page, PROT_NONE), 0); /* reading past the page faults */
    static const char doc[] = "{\"id\":\"e1\",\"n\":12}";
    const size_t n = sizeof doc - 1;
    weir_json_parser *p = weir_json_parser_new();
    assert_non_null(p);
    /* last byte at page offset 4031: bytes 4032..4095 are the 64 bytes of padding */
    const size_t ends[] = {100, page - 65, page - 64, page - 1};
    const int in_place[] = {1, 1, 0, 0};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        char *at = mem + ends[i] + 1 - n;
        memcpy(at, doc, n);
        weir_json root;
        assert_int_equal(weir_json_parse(p, at, n, &root, NULL), WEIR_OK);
        assert_int_equal(weir_json_int(weir_json_get(root, "n")), 12);
        const char *id = NULL;
        size_t idn = 0;
        assert_int_equal(weir_json_string(weir_json_get(root, "id"), &id, &idn), 0);
        assert_int_equal(idn, 2);
        assert_memory_equal(id, "e1", 2);
        size_t tn = 0;
        const char *text = weir_json_parser_text(p, &tn);
        assert_int_equal(tn, n);
        assert_memory_equal(text, doc, n);
#if defined(__SANITIZE_ADDRESS__)
        (void)in_place;
        assert_true(text != at);
#else
        assert_int_equal(text == at, in_place[i]);
#endif
    }
    weir_json_parser_free(p);
    munmap(mem, 2 * page);
}

static void test_reuse_and_fixtures(void **state) {
    (void)state;
    /* parse every real event twice with one parser: compact form re-parses to itself */
    const char *dir = getenv("WEIR_SHARED_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/real/streaming-events-2026-01-08.jsonl",
             dir ? dir : "/work/shared/data");
    FILE *f = fopen(path, "rb");
    if (!f) skip();
    weir_json_parser *p = weir_json_parser_new();
    weir_json_parser *q = weir_json_parser_new();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int count = 0;
    weir_buf a = {0}, b = {0};
    while ((n = getline(&line, &cap, f)) > 0) {
        weir_json r;
        assert_int_equal(weir_json_parse(p, line, (size_t)n, &r, NULL), WEIR_OK);
        assert_int_equal(weir_json_type_of(r), WEIR_JSON_OBJECT);
        assert_int_equal(weir_json_type_of(weir_json_get(r, "type")), WEIR_JSON_STRING);
        weir_buf_reset(&a);
        weir_json_write_compact(&a, r, NULL);
        weir_json r2;
        assert_int_equal(weir_json_parse(q, a.data, a.len, &r2, NULL), WEIR_OK);
        weir_buf_reset(&b);
        weir_json_write_compact(&b, r2, NULL);
        assert_string_equal(a.data, b.data);
        count++;
    }
    assert_int_equal(count, 65);
    free(line);
    fclose(f);
    weir_buf_free(&a);
    weir_buf_free(&b);
    weir_json_parser_free(p);
    weir_json_parser_free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_value_only),
        cmocka_unit_test(test_get_many),
        cmocka_unit_test(test_empty_is_missing),
        cmocka_unit_test(test_strict_errors),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_navigation),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_string_escaping),
        cmocka_unit_test(test_string_escaping_random),
        cmocka_unit_test(test_double_java),
        cmocka_unit_test(test_dedup_preimages),
        cmocka_unit_test(test_skip_keys_only_top),
        cmocka_unit_test(test_reuse_and_fixtures),
        cmocka_unit_test(test_parse_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
