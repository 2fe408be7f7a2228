/*
 * test_config.c - Flink-style configuration (weir/config.h).
 *
 * Expected values follow the header and Flink's syntax: durations are "<number> <unit>" with
 * ms/s/sec/min/h/d and long forms, case-insensitive, a bare number is milliseconds (Flink's
 * TimeUtils.parseDuration); memory sizes are binary multiples (Flink's MemorySize: 1 kb = 1024
 * bytes), a bare number is bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "weir/config.h"

static void test_set_get(void **st) {
    (void)st;
    weir_config *c = weir_config_new();
    assert_non_null(c);
    assert_string_equal(weir_config_get(c, "parallelism.default", "dflt"), "dflt");
    assert_null(weir_config_get(c, "parallelism.default", NULL));
    assert_int_equal(weir_config_set(c, "parallelism.default", "4"), WEIR_OK);
    assert_string_equal(weir_config_get(c, "parallelism.default", "dflt"), "4");
    /* replace */
    assert_int_equal(weir_config_set(c, "parallelism.default", "8"), WEIR_OK);
    assert_string_equal(weir_config_get(c, "parallelism.default", NULL), "8");
    /* the value is copied */
    char buf[16] = "hello";
    assert_int_equal(weir_config_set(c, "greeting", buf), WEIR_OK);
    strcpy(buf, "bye");
    assert_string_equal(weir_config_get(c, "greeting", NULL), "hello");
    /* empty value is a value, not "unset" */
    assert_int_equal(weir_config_set(c, "empty", ""), WEIR_OK);
    assert_string_equal(weir_config_get(c, "empty", "dflt"), "");
    /* keys are exact */
    assert_null(weir_config_get(c, "Parallelism.default", NULL));
    assert_null(weir_config_get(c, "parallelism", NULL));
    weir_config_free(c);
    weir_config_free(NULL);
    /* a NULL config reads as empty (job options allow config == NULL) */
    assert_string_equal(weir_config_get(NULL, "x", "d"), "d");
}

typedef struct seen {
    char k[8][64], v[8][64];
    int n;
} seen;

static void collect(void *ud, const char *k, const char *v) {
    seen *s = ud;
    assert_true(s->n < 8);
    snprintf(s->k[s->n], sizeof s->k[0], "%s", k);
    snprintf(s->v[s->n], sizeof s->v[0], "%s", v);
    s->n++;
}

static void test_foreach_insertion_order(void **st) {
    (void)st;
    weir_config *c = weir_config_new();
    assert_int_equal(weir_config_set(c, "z", "1"), WEIR_OK);
    assert_int_equal(weir_config_set(c, "a", "2"), WEIR_OK);
    assert_int_equal(weir_config_set(c, "m", "3"), WEIR_OK);
    assert_int_equal(weir_config_set(c, "a", "22"), WEIR_OK); /* replacing keeps the position */
    seen s = {0};
    weir_config_foreach(c, collect, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.k[0], "z");
    assert_string_equal(s.k[1], "a");
    assert_string_equal(s.v[1], "22");
    assert_string_equal(s.k[2], "m");
    weir_config_free(c);
}

static void test_many_keys(void **st) {
    (void)st;
    weir_config *c = weir_config_new();
    for (int i = 0; i < 200; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "key.%d", i);
        snprintf(v, sizeof v, "%d", i * 3);
        assert_int_equal(weir_config_set(c, k, v), WEIR_OK);
    }
    for (int i = 0; i < 200; i++) {
        char k[32];
        snprintf(k, sizeof k, "key.%d", i);
        int64_t x = -1;
        assert_int_equal(weir_config_get_int(c, k, -7, &x, NULL), WEIR_OK);
        assert_true(x == i * 3);
    }
    weir_config_free(c);
}

static void test_set_kv(void **st) {
    (void)st;
    weir_config *c = weir_config_new();
    weir_error err = {0};
    assert_int_equal(weir_config_set_kv(c, "state.backend.type=rocksdb", &err), WEIR_OK);
    assert_string_equal(weir_config_get(c, "state.backend.type", NULL), "rocksdb");
    /* only the first '=' splits */
    assert_int_equal(weir_config_set_kv(c, "env.java.opts=-Da=b", &err), WEIR_OK);
    assert_string_equal(weir_config_get(c, "env.java.opts", NULL), "-Da=b");
    /* empty value */
    assert_int_equal(weir_config_set_kv(c, "x=", &err), WEIR_OK);
    assert_string_equal(weir_config_get(c, "x", "dflt"), "");
    /* replacing through -D */
    assert_int_equal(weir_config_set_kv(c, "state.backend.type=heap", &err), WEIR_OK);
    assert_string_equal(weir_config_get(c, "state.backend.type", NULL), "heap");

    /* missing '=' */
    memset(&err, 0, sizeof err);
    assert_int_equal(weir_config_set_kv(c, "parallelism.default", &err), WEIR_EINVAL);
    assert_int_equal(err.code, WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "parallelism.default"));
    assert_null(weir_config_get(c, "parallelism.default", NULL));
    /* empty key */
    memset(&err, 0, sizeof err);
    assert_int_equal(weir_config_set_kv(c, "=4", &err), WEIR_EINVAL);
    assert_int_equal(err.code, WEIR_EINVAL);
    assert_null(weir_config_get(c, "", NULL));
    assert_int_equal(weir_config_set_kv(c, "", &err), WEIR_EINVAL);
    /* NULL error object is accepted */
    assert_int_equal(weir_config_set_kv(c, "novalue", NULL), WEIR_EINVAL);
    weir_config_free(c);
}

static void test_get_int(void **st) {
    (void)st;
    weir_config *c = weir_config_new();
    weir_error err = {0};
    int64_t x = 0;
    assert_int_equal(weir_config_get_int(c, "unset", 17, &x, &err), WEIR_OK);
    assert_true(x == 17);
    weir_config_set(c, "a", "42");
    weir_config_set(c, "neg", "-3");
    weir_config_set(c, "big", "9223372036854775807");
    weir_config_set(c, "sp", " 12 ");
    weir_config_set(c, "junk", "12abc");
    weir_config_set(c, "empty", "");
    weir_config_set(c, "float", "1.5");
    weir_config_set(c, "huge", "99999999999999999999");
    weir_config_set(c, "word", "four");
    assert_int_equal(weir_config_get_int(c, "a", 0, &x, &err), WEIR_OK);
    assert_true(x == 42);
    assert_int_equal(weir_config_get_int(c, "neg", 0, &x, &err), WEIR_OK);
    assert_true(x == -3);
    assert_int_equal(weir_config_get_int(c, "big", 0, &x, &err), WEIR_OK);
    assert_true(x == INT64_MAX);
    assert_int_equal(weir_config_get_int(c, "sp", 0, &x, &err), WEIR_OK);
    assert_true(x == 12);
    const char *bad[] = {"junk", "empty", "float", "huge", "word"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        x = 555;
        memset(&err, 0, sizeof err);
        assert_int_equal(weir_config_get_int(c, bad[i], 1, &x, &err), WEIR_EINVAL);
        assert_true(x == 555); /* untouched */
        assert_non_null(strstr(err.msg, bad[i]));
    }
    weir_config_free(c);
}

static int64_t dur(const char *text) {
    int64_t x = -12345;
    weir_err rc = weir_parse_duration_ms(text, &x);
    if (rc != WEIR_OK) {
        print_error("duration '%s' rejected\n", text);
        fail();
    }
    return x;
}

static void test_durations(void **st) {
    (void)st;
    assert_true(dur("100ms") == 100);
    assert_true(dur("100 ms") == 100);
    assert_true(dur("10 s") == 10000);
    assert_true(dur("10s") == 10000);
    assert_true(dur("3 sec") == 3000);
    assert_true(dur("3 secs") == 3000);
    assert_true(dur("2 seconds") == 2000);
    assert_true(dur("1 second") == 1000);
    assert_true(dur("1 min") == 60000);
    assert_true(dur("5min") == 300000);
    assert_true(dur("5 m") == 300000);
    assert_true(dur("2 minutes") == 120000);
    assert_true(dur("1440 min") == 86400000); /* the dedup TTL */
    assert_true(dur("2h") == 7200000);
    assert_true(dur("1 hour") == 3600000);
    assert_true(dur("3 hours") == 10800000);
    assert_true(dur("1d") == 86400000);
    assert_true(dur("2 days") == 172800000);
    assert_true(dur("7 milliseconds") == 7);
    assert_true(dur("250") == 250); /* bare number = ms */
    assert_true(dur("0") == 0);
    assert_true(dur("  30 s  ") == 30000);
    assert_true(dur("10 S") == 10000); /* Flink lower-cases the unit */
    assert_true(dur("1 MIN") == 60000);

    const char *bad[] = {"",      "ms",     "10 parsecs", "10 s x", "abc", "-5 s",
                         "1.5 s", "10 sss", "s10",        "10 mss", "   "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t x = 777;
        if (weir_parse_duration_ms(bad[i], &x) != WEIR_EINVAL) {
            print_error("duration '%s' accepted\n", bad[i]);
            fail();
        }
        assert_true(x == 777);
    }
    int64_t x;
    /* overflow is an error, not a wrapped value */
    assert_int_equal(weir_parse_duration_ms("9223372036854775807 d", &x), WEIR_EINVAL);
    assert_int_equal(weir_parse_duration_ms("99999999999999999999", &x), WEIR_EINVAL);
}

static void test_config_duration(void **st) {
    (void)st;
    weir_config *c = weir_config_new();
    weir_error err = {0};
    int64_t x = 0;
    assert_int_equal(
        weir_config_get_duration_ms(c, "execution.checkpointing.interval", 5000, &x, &err),
        WEIR_OK);
    assert_true(x == 5000);
    weir_config_set(c, "execution.checkpointing.interval", "10 s");
    assert_int_equal(
        weir_config_get_duration_ms(c, "execution.checkpointing.interval", 5000, &x, &err),
        WEIR_OK);
    assert_true(x == 10000);
    weir_config_set(c, "bad", "10 fortnights");
    x = 1;
    assert_int_equal(weir_config_get_duration_ms(c, "bad", 5000, &x, &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "bad"));
    assert_true(x == 1);
    weir_config_free(c);
}

static int64_t bytes(const char *text) {
    int64_t x = -12345;
    if (weir_parse_bytes(text, &x) != WEIR_OK) {
        print_error("size '%s' rejected\n", text);
        fail();
    }
    return x;
}

static void test_bytes(void **st) {
    (void)st;
    assert_true(bytes("64mb") == 64LL * 1024 * 1024);
    assert_true(bytes("64 mb") == 64LL * 1024 * 1024);
    assert_true(bytes("64m") == 64LL * 1024 * 1024);
    assert_true(bytes("1 gb") == 1024LL * 1024 * 1024);
    assert_true(bytes("1g") == 1024LL * 1024 * 1024);
    assert_true(bytes("512k") == 512LL * 1024);
    assert_true(bytes("512 kb") == 512LL * 1024);
    assert_true(bytes("100") == 100); /* bare number = bytes */
    assert_true(bytes("100b") == 100);
    assert_true(bytes("0") == 0);
    assert_true(bytes("64MB") == 64LL * 1024 * 1024); /* case-insensitive */
    assert_true(bytes("8 GB") == 8LL * 1024 * 1024 * 1024);
    const char *bad[] = {"", "mb", "64 xb", "1.5gb", "-1mb", "64 mb extra", "ten"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t x = 777;
        if (weir_parse_bytes(bad[i], &x) != WEIR_EINVAL) {
            print_error("size '%s' accepted\n", bad[i]);
            fail();
        }
        assert_true(x == 777);
    }
    int64_t x;
    assert_int_equal(weir_parse_bytes("9223372036854775807 gb", &x), WEIR_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get),         cmocka_unit_test(test_foreach_insertion_order),
        cmocka_unit_test(test_many_keys),       cmocka_unit_test(test_set_kv),
        cmocka_unit_test(test_get_int),         cmocka_unit_test(test_durations),
        cmocka_unit_test(test_config_duration), cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
