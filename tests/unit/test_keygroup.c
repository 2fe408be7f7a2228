/*
 * test_keygroup.c - key groups as Flink assigns them (weir/keygroup.h).
 *
 * Expected values: Java String.hashCode computed by hand/Java semantics; murmur values checked
 * against the public MurmurHash3_x86_32 test vectors (Flink's MathUtils.murmurHash(int) equals
 * MurmurHash3_x86_32 of the int's 4 little-endian bytes with seed 0, then abs()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "weir/keygroup.h"

static int32_t jh(const char *s) {
    return weir_java_string_hash(s, strlen(s));
}

static void test_java_string_hash(void **st) {
    (void)st;
    assert_int_equal(jh(""), 0);
    assert_int_equal(jh("a"), 97);
    assert_int_equal(jh("ab"), 31 * 97 + 98);
    assert_int_equal(jh("hello"), 99162322);
    assert_int_equal(jh("stream-42"), -315674645); /* wraps around */
    assert_int_equal(jh("user_1"), -836030275);
    assert_int_equal(jh("\xc3\xa9"), 233);             /* U+00E9: one code unit */
    assert_int_equal(jh("\xf0\x9f\x98\x80"), 1772899); /* U+1F600: D83D DE00 */
    assert_int_equal(jh("\xff"), 0xFFFD);              /* invalid lead byte */
    assert_int_equal(jh("\xe2\x82"), 0xFFFD);          /* truncated: one U+FFFD */
    assert_int_equal(jh("\xe2\x82"
                        "A"),
                     31 * 0xFFFD + 'A');          /* maximal subpart, then 'A' */
    assert_int_equal(jh("\xed\xa0\x80"), 0xFFFD); /* encoded surrogate: one U+FFFD (JDK) */
    assert_int_equal(jh("\xed\xa0"
                        "A"),
                     31 * 0xFFFD + 'A');
    assert_int_equal(jh("\xf0\x90\x41"), 31 * 0xFFFD + 'A');
    assert_int_equal(jh("\xf4\x90\x80\x80"), ((31 * 0xFFFD + 0xFFFD) * 31 + 0xFFFD) * 31 + 0xFFFD);
    assert_int_equal(jh("\xc0\xaf"), 31 * 0xFFFD + 0xFFFD); /* overlong: two bad bytes */
    /* longer keys (8-byte ASCII blocks), values of Java's s[0]*31^(n-1) + ... + s[n-1] */
    assert_int_equal(jh("abcdefgh"), 1259673732);
    assert_int_equal(jh("abcdefghi"), 395180133);
    assert_int_equal(jh("59485235-8460-472f-a894-3b84f37ee9bb"), 816484336); /* an event id */
    assert_int_equal(jh("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                     -190825824);
    /* non-ASCII inside and across 8-byte blocks: U+00E9 and U+1F600 (a surrogate pair) */
    assert_int_equal(jh("ab\xc3\xa9"
                        "cdefgh12345678\xf0\x9f\x98\x80xyz"),
                     -1594299097);
}

static void test_murmur(void **st) {
    (void)st;
    /* MurmurHash3_x86_32("\0\0\0\0", 0) = 0x2362F9DE; ("test", 0) = 0xBA6BD213 (negative → abs) */
    assert_int_equal(weir_flink_murmur(0), 593689054);
    assert_int_equal(weir_flink_murmur(0x74736574), 1167338989);
    assert_int_equal(weir_flink_murmur(1), 68075478);
    assert_int_equal(weir_flink_murmur(-1), 1982413648);
    for (int32_t i = -100000; i < 100000; i++)
        assert_true(weir_flink_murmur(i * 7919) >= 0);
}

static void test_key_group_of(void **st) {
    (void)st;
    assert_int_equal(weir_key_group_of("hello", 5, 128), 1715862179 % 128);
    assert_int_equal(weir_key_group_of("hello", 5, 128), 35);
    assert_int_equal(weir_key_group_of("", 0, 128), 94);
    assert_int_equal(weir_key_group_of("a", 1, 128), 81);
    assert_int_equal(weir_key_group_of("stream-42", 9, 128), 55);
    assert_int_equal(weir_key_group_of("user_1", 6, 128), 53);
    assert_int_equal(weir_key_group_of("hello", 5, 1000), 1715862179 % 1000);
    assert_int_equal(weir_key_group_of("hello", 5, 0), 35); /* 0 → default 128 */
}

static void test_ranges_partition(void **st) {
    (void)st;
    static const int32_t maxps[] = {1, 2, 3, 7, 10, 128, 129, 256, 1000, 4096, 32768};
    for (size_t m = 0; m < sizeof maxps / sizeof maxps[0]; m++) {
        int32_t maxp = maxps[m];
        for (int32_t p = 1; p <= maxp && p <= 300; p++) {
            int32_t next = 0;
            for (int32_t i = 0; i < p; i++) {
                weir_kg_range r = weir_key_group_range(i, p, maxp);
                assert_int_equal(r.start, next); /* contiguous, no gaps/overlaps */
                assert_true(r.end >= r.start);   /* p <= maxP: never empty */
                for (int32_t kg = r.start; kg <= r.end; kg++)
                    assert_int_equal(weir_subtask_for_key_group(kg, p, maxp), i);
                next = r.end + 1;
            }
            assert_int_equal(next, maxp);
        }
    }
    weir_kg_range r = weir_key_group_range(0, 1, 128);
    assert_int_equal(r.start, 0);
    assert_int_equal(r.end, 127);
    r = weir_key_group_range(1, 3, 128); /* [43, 85] */
    assert_int_equal(r.start, 43);
    assert_int_equal(r.end, 85);
    assert_int_equal(weir_subtask_for_key_group(32767, 32768, 32768), 32767);
}

static void test_default_max_parallelism(void **st) {
    (void)st;
    assert_int_equal(weir_default_max_parallelism(1), 128);
    assert_int_equal(weir_default_max_parallelism(85), 128);  /* 85+42=127 → 128 */
    assert_int_equal(weir_default_max_parallelism(86), 256);  /* 129 → 256 */
    assert_int_equal(weir_default_max_parallelism(100), 256); /* 150 → 256 */
    assert_int_equal(weir_default_max_parallelism(171), 256); /* 171+85=256 */
    assert_int_equal(weir_default_max_parallelism(172), 512); /* 258 → 512 */
    assert_int_equal(weir_default_max_parallelism(30000), 32768);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_java_string_hash),
        cmocka_unit_test(test_murmur),
        cmocka_unit_test(test_key_group_of),
        cmocka_unit_test(test_ranges_partition),
        cmocka_unit_test(test_default_max_parallelism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
