/*
 * json.c - the pure-C half of weir/json.h: Jackson-style string escaping and Java's
 * Double.toString / Float.toString (spec dedup-job.md §4.3, §7.1).
 *
 * No data structure of its own: every function appends to a caller-owned weir_buf and keeps
 * no state, so all of them are thread-safe. The parser and the tape walker live in
 * json_simdjson.cpp.
 *
 * Number formatting: the shortest decimal digit string that round-trips (normally from Google's
 * double-conversion via json_simdjson.cpp; in the few cases it cannot decide, by binary search
 * over the precision of "%.*e", which is monotonic: a correctly rounded p+1 digit decimal is never
 * farther from the value than a p digit one), with Java's "at least two digits considered" rule
 * (JDK 19+: when one digit suffices, the closest decimal of at most two digits is chosen, which
 * is why Double.MIN_VALUE prints as 4.9E-324), then laid out the Java way: plain decimal with at
 * least one fractional digit when 1e-3 <= |x| < 1e7, otherwise d.ddd...E[-]n.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define WEIR_ESCAPE_VBMI2 1
#endif

#include "weir/json.h"

/* 1 for the bytes §4.3 escapes: control characters, '"' and '\\'. */
static const unsigned char k_needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};

/* SWAR: non-zero when one of the 8 bytes of @p v is < 0x20, '"' or '\\'. */
static inline uint64_t special8(uint64_t v) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t lt20 = (v - ones * 0x20) & ~v;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t eq_q = (q - ones) & ~q, eq_b = (b - ones) & ~b;
    return (lt20 | eq_q | eq_b) & high;
}

/* The character after the backslash for each byte §4.3 escapes: 'u' for the \u00XX form. */
static const char k_escape_char[32] = {'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n',
                                       'u', 'f', 'r', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
                                       'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u'};

/* Writes the escape sequence of the special byte @p c at @p w; returns the new end. */
static inline char *put_escape(char *w, unsigned char c) {
    static const char hex[] = "0123456789ABCDEF";
    char e = c < 0x20 ? k_escape_char[c] : (char)c; /* '"' and '\\' stand for themselves */
    w[0] = '\\';
    w[1] = e;
    if (e != 'u') return w + 2;
    w[2] = '0';
    w[3] = '0';
    w[4] = hex[c >> 4];
    w[5] = hex[c & 15];
    return w + 6;
}

/* Writes byte @p c at @p w, escaped when §4.3 says so; returns the new end. */
static inline char *put_byte(char *w, unsigned char c) {
    if (k_needs_escape[c]) return put_escape(w, c);
    *w = (char)c;
    return w + 1;
}

#if defined(__SSE2__)
/* Bit k set when byte k of @p v needs escaping (< 0x20, '"' or '\\'). */
static inline unsigned special16(__m128i v) {
    const __m128i lim = _mm_set1_epi8(0x1F);
    __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, lim), lim); /* unsigned v <= 0x1F */
    __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), ctl));
}
#endif

#if defined(WEIR_ESCAPE_VBMI2)
#define VBMI2_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2,bmi2,popcnt")))

/* 1 when this CPU (and the OS) can run escape_vbmi2(): AVX-512 VBMI2 (Ice Lake, Zen 4 and
 * later). libgcc reads CPUID and XCR0 once at start-up, so this is a load and a test. */
static inline int have_vbmi2(void) {
    return __builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("bmi2");
}

/* Escapes the @p n bytes of @p s to @p w in steps of 32 (the last step masked: a masked load
 * does not touch, or fault on, the bytes past the end); returns the new end. Stores 64 bytes at
 * a time: needs 64 writable bytes past the output, which the caller reserves.
 * A step without special bytes is stored as it is. A step whose only specials are '"' and '\\'
 * (the common case in JSON text) is escaped without a loop: vpexpandb spreads its bytes to the
 * odd bytes of a 64-byte register, the even bytes are filled with '\\', and vpcompressb keeps
 * every odd byte and only the even bytes in front of a special, i.e. exactly the escaped text.
 * A step with a control character goes byte by byte. */
VBMI2_TARGET static char *escape_vbmi2(char *w, const char *s, size_t n) {
    const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\'),
                  space = _mm256_set1_epi8(0x20);
    const __m512i bslash64 = _mm512_set1_epi8('\\');
    const uint64_t odd = 0xAAAAAAAAAAAAAAAAULL, even = 0x5555555555555555ULL;
    for (size_t i = 0; i < n; i += 32) {
        size_t r = n - i < 32 ? n - i : 32;
        uint32_t lanes = r == 32 ? 0xFFFFFFFFu : (1u << r) - 1u;
        __m256i v = _mm256_maskz_loadu_epi8(lanes, s + i);
        uint32_t m =
            (uint32_t)(_mm256_cmpeq_epi8_mask(v, quote) | _mm256_cmpeq_epi8_mask(v, bslash));
        uint32_t ctl = (uint32_t)_mm256_cmplt_epu8_mask(v, space) & lanes; /* 0 past the end */
        if (!(m | ctl)) {
            _mm256_storeu_si256((__m256i *)(void *)w, v);
            w += r;
            continue;
        }
        if (ctl) {
            for (size_t k = i; k < i + r; k++)
                w = put_byte(w, (unsigned char)s[k]);
            continue;
        }
        uint64_t out_lanes = r == 32 ? ~0ULL : (1ULL << (2 * r)) - 1u;
        __m512i d = _mm512_maskz_expand_epi8(odd, _mm512_castsi256_si512(v));
        d = _mm512_mask_blend_epi8(even, d, bslash64);
        __m512i e = _mm512_maskz_compress_epi8((odd & out_lanes) | _pdep_u64(m, even), d);
        _mm512_storeu_si512((void *)w, e);
        w += r + (size_t)__builtin_popcount(m);
    }
    return w;
}
#endif

void weir_json_write_string(weir_buf *out, const char *s, size_t n) {
    /* worst case: every byte becomes \u00XX; reserve once, then write through a pointer.
     * Plain stretches are copied before they are checked, which is safe because the
     * reservation covers 6 bytes per input byte. */
    if (weir_buf_reserve(out, 6 * n + 10 + 64)) return; /* + 64: escape_vbmi2's wide stores */
    char *w = out->data + out->len;
    *w++ = '"';
    size_t i = 0;
#if defined(WEIR_ESCAPE_VBMI2)
    if (have_vbmi2()) {
        w = escape_vbmi2(w, s, n);
        i = n;
    }
#endif
#if defined(__SSE2__)
    /* 16-byte blocks while 32 input bytes remain, so that after each special byte the rest of
     * the block can be re-copied with one 16-byte load from s + i + pos (never past the input):
     * JSON text has a quote every few bytes, so the specials of a block are handled without
     * re-scanning it. */
    while (i + 32 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        _mm_storeu_si128((__m128i *)(void *)w, v);
        unsigned m = special16(v);
        if (!m) {
            w += 16;
            i += 16;
            continue;
        }
        unsigned pos = 0; /* bytes of the block already in place */
        do {
            unsigned j = (unsigned)__builtin_ctz(m);
            m &= m - 1;
            w += j - pos; /* bytes pos..j-1 were copied by the last store */
            w = put_escape(w, (unsigned char)s[i + j]);
            pos = j + 1;
            _mm_storeu_si128((__m128i *)(void *)w,
                             _mm_loadu_si128((const __m128i *)(const void *)(s + i + pos)));
        } while (m);
        w += 16 - pos;
        i += 16;
    }
#endif
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            memcpy(w, &v, 8);
            uint64_t m = special8(v);
            if (!m) {
                w += 8;
                i += 8;
                continue;
            }
            size_t k = (size_t)__builtin_ctzll(m) / 8; /* first special byte (little endian) */
            w += k;
            i += k;
        }
        w = put_byte(w, (unsigned char)s[i++]);
    }
    *w++ = '"';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
}

static int round_trips(const char *tmp, double v, int is_float) {
    return is_float ? (strtof(tmp, NULL) == (float)v) : (strtod(tmp, NULL) == v);
}

/*
 * Writes into @p tmp a (p+1)-significant-digit decimal in "%.*e" form that rounds back to @p v, if
 * there is one, and returns 1; else 0. The candidate is the correctly rounded decimal; at a power
 * of two the rounding interval is narrower below the value than above it, so when the closest
 * decimal is below and falls outside, the next decimal above is tried (Java picks it too).
 */
static int candidate(double v, int p, int is_float, char tmp[64]) {
    snprintf(tmp, 64, "%.*e", p, v);
    if (round_trips(tmp, v, is_float)) return 1;
    int bexp;
    double m = is_float ? (double)frexpf((float)v, &bexp) : frexp(v, &bexp);
    if (m != 0.5 || strtod(tmp, NULL) > v) return 0;
    /* add one unit in the last digit of the mantissa */
    char *e = strchr(tmp, 'e');
    if (!e) return 0;
    int carry = 1;
    for (char *q = e - 1; q >= tmp && carry; q--) {
        if (*q == '.') continue;
        if (*q == '9') {
            *q = '0';
        } else {
            (*q)++;
            carry = 0;
        }
    }
    if (carry) { /* 9.99e+n became 0.00e+n: it is 1.00e+(n+1) */
        tmp[0] = '1';
        char mant[24];
        size_t ml = (size_t)(e - tmp) < sizeof mant ? (size_t)(e - tmp) : sizeof mant - 1;
        memcpy(mant, tmp, ml);
        mant[ml] = '\0';
        int x = atoi(e + 1) % 1000 + 1;
        snprintf(tmp, 64, "%se%+03d", mant, x);
    }
    return round_trips(tmp, v, is_float);
}

/*
 * Writes into @p cand the decimal of p+1 significant digits nearest to @p v, derived from its
 * correctly rounded digits @p full (nf of them, exponent e0): rounding that string is exact
 * unless the dropped tail is exactly "500..0", in which case snprintf decides from the value.
 */
static void rounded_candidate(double v, const char *full, int nf, int e0, int p, char cand[64]) {
    int keep = p + 1;
    int half = full[keep] == '5';
    for (int i = keep + 1; i < nf && half; i++)
        half = full[i] == '0';
    if (half) {
        snprintf(cand, 64, "%.*e", p, v);
        return;
    }
    char d[20];
    memcpy(d, full, (size_t)keep);
    int e = e0;
    if (full[keep] >= '5') { /* round up with carry */
        int i = keep - 1;
        while (i >= 0 && d[i] == '9')
            d[i--] = '0';
        if (i >= 0) {
            d[i]++;
        } else {
            d[0] = '1';
            e++;
        }
    }
    int k = 0;
    cand[k++] = d[0];
    if (keep > 1) {
        cand[k++] = '.';
        memcpy(cand + k, d + 1, (size_t)(keep - 1));
        k += keep - 1;
    }
    snprintf(cand + k, (size_t)(64 - k), "e%d", e % 1000);
}

/*
 * Shortest round-trip digits of the finite, non-zero, positive value @p v: writes the significant
 * digits (no trailing zeros, at least one) to @p digits and returns their count; *exp10 receives
 * the decimal exponent of the first digit (v ~= d.ddd * 10^exp10). @p is_float selects float32
 * round-tripping (max 9 digits) instead of double (max 17). The slow, snprintf/strtod based
 * search; shortest_digits() below only comes here when double-conversion cannot decide.
 */
static int shortest_digits_slow(double v, int is_float, char digits[32], int *exp10) {
    char tmp[64];
    int maxp = is_float ? 8 : 16; /* precision p means p+1 significant digits */
    int bexp;
    double m = is_float ? (double)frexpf((float)v, &bexp) : frexp(v, &bexp);
    if (m != 0.5) {
        /* Fast path: one "%.*e" with maxp+1 digits (always round-trips), then shorter candidates
         * are obtained by rounding that digit string, which is exact unless the dropped tail is
         * exactly "500..0" (then the value itself decides: fall back to snprintf). */
        snprintf(tmp, sizeof tmp, "%.*e", maxp, v);
        char full[20];
        int nf = 0;
        const char *q = tmp;
        for (; *q && *q != 'e'; q++)
            if (*q >= '0' && *q <= '9') full[nf++] = *q;
        int e0 = atoi(q + 1);
        /* binary search for the smallest p whose candidate round-trips (p = maxp always does) */
        int lo = 0, hi = maxp;
        char cand[64], best[64];
        memcpy(best, tmp, sizeof best);
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            rounded_candidate(v, full, nf, e0, mid, cand);
            if (round_trips(cand, v, is_float)) {
                hi = mid;
                memcpy(best, cand, sizeof best);
            } else {
                lo = mid + 1;
            }
        }
        /* Java: when one digit suffices, take the closest decimal of length <= 2 */
        if (lo == 0) {
            rounded_candidate(v, full, nf, e0, 1, cand);
            if (round_trips(cand, v, is_float)) memcpy(best, cand, sizeof best);
        }
        memcpy(tmp, best, sizeof tmp);
        goto digits_out; /* tmp holds the chosen candidate, or the maxp+1 digit form */
    }
    {
        int lo = 0, hi = maxp;
        /* binary search for the smallest p that round-trips */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (candidate(v, mid, is_float, tmp))
                hi = mid;
            else
                lo = mid + 1;
        }
        /* Java: when a single digit suffices, choose the closest decimal of length <= 2. */
        if (!candidate(v, lo == 0 ? 1 : lo, is_float, tmp)) candidate(v, lo, is_float, tmp);
    }
digits_out:;
    /* tmp is "d[.ddd]e[+-]xx" */
    int n = 0;
    const char *q = tmp;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') digits[n++] = *q;
    *exp10 = (*q == 'e') ? atoi(q + 1) : 0;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    return n;
}

/* In json_simdjson.cpp: double-conversion's shortest digits of @p v (see there). */
int weir_json_shortest_dtoa(double v, int is_float, char *buf, int buflen, int *point);

/* 1 when the finite, positive @p v equals @p dec * 10^@p e exactly (0 when unsure). */
static int decimal_is_exact(double v, uint64_t dec, int e) {
    int bexp;
    double m = frexp(v, &bexp); /* v = m * 2^bexp, 0.5 <= m < 1 */
    uint64_t mant = (uint64_t)ldexp(m, 53);
    int k = bexp - 53, tz = __builtin_ctzll(mant);
    mant >>= tz; /* v = mant * 2^k, mant odd */
    k += tz;
    unsigned __int128 lhs, rhs = dec;
    if (e >= 0) { /* mant * 2^k == dec * 10^e: needs an integer v */
        if (k < 0 || k > 74 || e > 20) return 0;
        for (int i = 0; i < e; i++)
            rhs *= 10;
        lhs = (unsigned __int128)mant << k;
    } else { /* mant * 5^j * 2^(k+j) == dec, j = -e: an integer only when k + j >= 0 */
        int j = -e, sh = k + j;
        if (j > 27 || sh < 0 || sh >= 64) return 0;
        lhs = mant;
        for (int i = 0; i < j; i++)
            lhs *= 5;
        if (lhs > (rhs >> sh)) return 0;
        lhs <<= sh;
    }
    return lhs == rhs;
}

/*
 * shortest_digits_slow()'s contract, fast: double-conversion gives the shortest digits that
 * round-trip, the closest to @p v among them (ties to even). That is exactly what the slow search
 * finds (the correctly rounded decimal of the smallest round-tripping length) whenever the
 * rounding interval is symmetric, i.e. @p v is not a power of two, and the result has at least
 * two digits (one digit triggers Java's "closest of length <= 2" rule). A result equal to @p v
 * itself is also what the slow search returns, whatever the interval. Everything else (rare: a
 * one-digit result or a power of two that is not exactly its digits) takes the slow path.
 */
static int shortest_digits(double v, int is_float, char digits[32], int *exp10) {
    int point;
    int n = weir_json_shortest_dtoa(v, is_float, digits, 32, &point);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    if (n < 1 || n > 17) return shortest_digits_slow(v, is_float, digits, exp10);
    int bexp;
    double m = is_float ? (double)frexpf((float)v, &bexp) : frexp(v, &bexp);
    if (n < 2 || m == 0.5) {
        uint64_t dec = 0;
        for (int i = 0; i < n; i++)
            dec = dec * 10 + (uint64_t)(digits[i] - '0');
        if (!decimal_is_exact(v, dec, point - n))
            return shortest_digits_slow(v, is_float, digits, exp10);
    }
    digits[n] = '\0';
    *exp10 = point - 1;
    return n;
}

/* Lays out digits/exp10 the Java way; @p plain selects the 1e-3 <= |x| < 1e7 form. */
static void java_layout(weir_buf *out, int neg, const char *d, int n, int e, int plain) {
    char s[64];
    size_t k = 0;
    if (neg) s[k++] = '-';
    if (plain) {
        if (e >= 0) {
            for (int i = 0; i <= e; i++)
                s[k++] = i < n ? d[i] : '0';
            s[k++] = '.';
            if (n > e + 1)
                for (int i = e + 1; i < n; i++)
                    s[k++] = d[i];
            else
                s[k++] = '0';
        } else {
            s[k++] = '0';
            s[k++] = '.';
            for (int i = 0; i < -e - 1; i++)
                s[k++] = '0';
            for (int i = 0; i < n; i++)
                s[k++] = d[i];
        }
        weir_buf_append(out, s, k);
        return;
    }
    s[k++] = d[0];
    s[k++] = '.';
    if (n > 1)
        for (int i = 1; i < n; i++)
            s[k++] = d[i];
    else
        s[k++] = '0';
    s[k++] = 'E';
    weir_buf_append(out, s, k);
    weir_buf_printf(out, "%d", e);
}

/* Shared body of the double/float writers; @p v is the (exactly representable) value. */
static void write_java(weir_buf *out, double v, int is_float) {
    if (isnan(v)) {
        weir_buf_puts(out, "NaN");
        return;
    }
    if (isinf(v)) {
        weir_buf_puts(out, v < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (v == 0) {
        weir_buf_puts(out, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    int neg = v < 0;
    double a = neg ? -v : v;
    char d[32];
    int e;
    int n = shortest_digits(a, is_float, d, &e);
    int plain = is_float ? ((float)a >= 1e-3f && (float)a < 1e7f) : (a >= 1e-3 && a < 1e7);
    java_layout(out, neg, d, n, e, plain);
}

void weir_json_write_double_java(weir_buf *out, double d) {
    write_java(out, d, 0);
}

void weir_json_write_float_java(weir_buf *out, float f) {
    write_java(out, (double)f, 1);
}
