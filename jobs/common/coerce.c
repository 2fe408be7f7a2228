/*
 * coerce.c - the lenient value coercions of spec dedup-job.md §2.4, the §7.1 timestamp format
 * and the Appendix A string helpers (see coerce.h).
 *
 * No state: every function reads a weir_json handle (or a borrowed slice) and returns a value or
 * appends to a caller-owned weir_buf, so all are thread-safe as long as the document is not
 * re-parsed concurrently. "Trim" is Java's String.trim(): it strips every byte <= 0x20 at both
 * ends. Integer wrapping (Jackson's intValue()/longValue() of a wider integer) keeps the low bits
 * in two's complement; double-to-integer conversion is Java's cast (truncate toward zero, clamp,
 * NaN -> 0).
 *
 * Slices returned by wj_text()/wj_ntext() point into the document (strings, big integers), at
 * string constants ("true"/"false") or into @p scratch (INT/UINT/DOUBLE text, at most 32 bytes
 * each). A later append that makes @p scratch grow moves its memory, so a caller that keeps several
 * number slices alive at once should reserve room first (weir_buf_reserve(scratch, 32 * k)).
 */
#include "jobs/common/coerce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

static wj_str trim(wj_str s) {
    if (!s.s) return s;
    size_t a = 0, b = s.n;
    while (a < b && (unsigned char)s.s[a] <= ' ')
        a++;
    while (b > a && (unsigned char)s.s[b - 1] <= ' ')
        b--;
    wj_str r = {s.s + a, b - a};
    return r;
}

static wj_str json_str(weir_json v) {
    wj_str r = {NULL, 0};
    if (weir_json_string(v, &r.s, &r.n) != 0) r.s = NULL;
    return r;
}

/* Java (int) cast of a double. */
static int32_t d2i32(double d) {
    if (isnan(d)) return 0;
    if (d >= 2147483647.0) return INT32_MAX;
    if (d <= -2147483648.0) return INT32_MIN;
    return (int32_t)d;
}

/* Java (long) cast of a double. */
static int64_t d2i64(double d) {
    if (isnan(d)) return 0;
    if (d >= 9223372036854775808.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

/* Low 64 bits (two's complement) of an integer value: INT, UINT or BIGINT. */
static uint64_t int_bits(weir_json v) {
    switch (weir_json_type_of(v)) {
    case WEIR_JSON_INT:
        return (uint64_t)weir_json_int(v);
    case WEIR_JSON_UINT:
        return weir_json_uint(v);
    case WEIR_JSON_BIGINT: {
        size_t n = 0;
        const char *s = weir_json_bigint_text(v, &n);
        uint64_t acc = 0;
        int neg = n > 0 && s[0] == '-';
        for (size_t i = neg ? 1 : 0; i < n; i++)
            acc = acc * 10u + (uint64_t)(s[i] - '0');
        return neg ? (uint64_t)0 - acc : acc;
    }
    default:
        return 0;
    }
}

static int is_int_type(weir_json_type t) {
    return t == WEIR_JSON_INT || t == WEIR_JSON_UINT || t == WEIR_JSON_BIGINT;
}

/*
 * Parses an optionally signed ('+'/'-') base-10 integer that must fit [lo, hi]; the whole slice
 * must be digits after the sign. Returns 1 on success, 0 when not a digit string, -1 when it is
 * one but out of range.
 */
static int parse_signed(wj_str s, int64_t lo, int64_t hi, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (s.n && (s.s[0] == '+' || s.s[0] == '-')) {
        neg = s.s[0] == '-';
        i = 1;
    }
    if (i >= s.n) return 0;
    if (s.n - i <= 18) { /* 18 digits cannot overflow int64: one pass, no overflow checks */
        int64_t v = 0;
        for (; i < s.n; i++) {
            unsigned dg = (unsigned)(unsigned char)s.s[i] - '0';
            if (dg > 9) return 0;
            v = v * 10 + (int64_t)dg;
        }
        if (neg) v = -v;
        if (v < lo || v > hi) return -1;
        *out = v;
        return 1;
    }
    for (size_t j = i; j < s.n; j++)
        if (s.s[j] < '0' || s.s[j] > '9') return 0;
    /* accumulate as a negative number to reach INT64_MIN */
    int64_t acc = 0;
    int overflow = 0;
    for (; i < s.n; i++) {
        int dg = s.s[i] - '0';
        if (acc < (INT64_MIN + dg) / 10) overflow = 1;
        if (!overflow) acc = acc * 10 - dg;
    }
    if (overflow) return -1;
    if (!neg) {
        if (acc == INT64_MIN) return -1;
        acc = -acc;
    }
    if (acc < lo || acc > hi) return -1;
    *out = acc;
    return 1;
}

/* Java Double.parseDouble syntax on an already trimmed slice. Returns 1 and sets *out or 0. */
static int java_parse_double(wj_str s, double *out) {
    if (!s.s || s.n == 0) return 0;
    size_t i = 0, n = s.n;
    const char *p = s.s;
    int neg = 0;
    if (p[0] == '+' || p[0] == '-') {
        neg = p[0] == '-';
        i++;
    }
    if (n - i == 3 && memcmp(p + i, "NaN", 3) == 0) {
        *out = NAN;
        return 1;
    }
    if (n - i == 8 && memcmp(p + i, "Infinity", 8) == 0) {
        *out = neg ? -INFINITY : INFINITY;
        return 1;
    }
    size_t end = n;
    if (end > i && strchr("fFdD", p[end - 1])) end--; /* type suffix */
    size_t j = i;
    int hex = end - j > 2 && p[j] == '0' && (p[j + 1] == 'x' || p[j + 1] == 'X');
    size_t digits = 0;
    if (hex) {
        j += 2;
        while (j < end && strchr("0123456789abcdefABCDEF", p[j]))
            j++, digits++;
        if (j < end && p[j] == '.') {
            j++;
            while (j < end && strchr("0123456789abcdefABCDEF", p[j]))
                j++, digits++;
        }
        if (!digits || j >= end || (p[j] != 'p' && p[j] != 'P')) return 0;
        j++;
    } else {
        while (j < end && p[j] >= '0' && p[j] <= '9')
            j++, digits++;
        if (j < end && p[j] == '.') {
            j++;
            while (j < end && p[j] >= '0' && p[j] <= '9')
                j++, digits++;
        }
        if (!digits) return 0;
        if (j == end) goto convert;
        if (p[j] != 'e' && p[j] != 'E') return 0;
        j++;
    }
    /* exponent: [+-]?digits+ */
    if (j < end && (p[j] == '+' || p[j] == '-')) j++;
    if (j >= end) return 0;
    while (j < end && p[j] >= '0' && p[j] <= '9')
        j++;
    if (j != end) return 0;
convert:;
    char stackbuf[128];
    char *b = end < sizeof stackbuf ? stackbuf : malloc(end + 1);
    if (!b) return 0;
    memcpy(b, p, end);
    b[end] = '\0';
    *out = strtod(b, NULL);
    if (b != stackbuf) free(b);
    return 1;
}

/* ---- §2.4 helpers ---- */

/* Appends the Jackson text of a number to scratch; returns the slice. */
static wj_str number_text(weir_json v, weir_buf *scratch) {
    wj_str r = {NULL, 0};
    weir_json_type t = weir_json_type_of(v);
    if (t == WEIR_JSON_BIGINT) {
        r.s = weir_json_bigint_text(v, &r.n);
        return r;
    }
    size_t at = scratch->len;
    if (t == WEIR_JSON_INT)
        weir_buf_put_i64(scratch, weir_json_int(v));
    else if (t == WEIR_JSON_UINT)
        weir_buf_put_u64(scratch, weir_json_uint(v));
    else
        weir_json_write_double_java(scratch, weir_json_double(v));
    if (scratch->oom || !scratch->data) {
        r.s = "";
        return r;
    }
    r.s = scratch->data + at;
    r.n = scratch->len - at;
    return r;
}

wj_str wj_text(weir_json v, wj_str dflt, weir_buf *scratch) {
    wj_str r = {"", 0};
    switch (weir_json_type_of(v)) {
    case WEIR_JSON_MISSING:
    case WEIR_JSON_NULL:
        return dflt;
    case WEIR_JSON_STRING:
        return json_str(v);
    case WEIR_JSON_BOOL:
        return wj_cstr(weir_json_bool(v) ? "true" : "false");
    case WEIR_JSON_INT:
    case WEIR_JSON_UINT:
    case WEIR_JSON_BIGINT:
    case WEIR_JSON_DOUBLE:
        return number_text(v, scratch);
    default:
        return r; /* object / array */
    }
}

wj_str wj_ntext(weir_json v, weir_buf *scratch) {
    wj_str r = wj_text(v, wj_null(), scratch);
    if (r.s && r.n == 0) return wj_null();
    return r;
}

int wj_nint(weir_json v, int32_t *out) {
    weir_json_type t = weir_json_type_of(v);
    if (is_int_type(t)) {
        *out = (int32_t)(uint32_t)int_bits(v);
        return 1;
    }
    if (t == WEIR_JSON_DOUBLE) {
        *out = d2i32(weir_json_double(v));
        return 1;
    }
    if (t != WEIR_JSON_STRING) return 0;
    int64_t x;
    if (parse_signed(trim(json_str(v)), INT32_MIN, INT32_MAX, &x) != 1) return 0;
    *out = (int32_t)x;
    return 1;
}

int wj_nlong(weir_json v, int64_t *out) {
    weir_json_type t = weir_json_type_of(v);
    if (is_int_type(t)) {
        *out = (int64_t)int_bits(v);
        return 1;
    }
    if (t == WEIR_JSON_DOUBLE) {
        *out = d2i64(weir_json_double(v));
        return 1;
    }
    if (t != WEIR_JSON_STRING) return 0;
    return parse_signed(trim(json_str(v)), INT64_MIN, INT64_MAX, out) == 1;
}

int32_t wj_lint(weir_json v, int32_t dflt) {
    weir_json_type t = weir_json_type_of(v);
    int32_t r;
    if (t == WEIR_JSON_BOOL) return weir_json_bool(v) ? 1 : 0;
    if (is_int_type(t) || t == WEIR_JSON_DOUBLE) return wj_nint(v, &r) ? r : dflt;
    if (t != WEIR_JSON_STRING) return dflt;
    wj_str s = trim(json_str(v));
    int64_t x;
    int k = parse_signed(s, INT32_MIN, INT32_MAX, &x);
    if (k == 1) return (int32_t)x;
    if (k == -1) return dflt;
    double d;
    if (!java_parse_double(s, &d)) return dflt;
    return d2i32(d);
}

double wj_ldouble(weir_json v, double dflt) {
    weir_json_type t = weir_json_type_of(v);
    if (t == WEIR_JSON_BOOL) return weir_json_bool(v) ? 1.0 : 0.0;
    if (is_int_type(t) || t == WEIR_JSON_DOUBLE) return weir_json_double(v);
    if (t != WEIR_JSON_STRING) return dflt;
    double d;
    return java_parse_double(trim(json_str(v)), &d) ? d : dflt;
}

int wj_lbool(weir_json v) {
    switch (weir_json_type_of(v)) {
    case WEIR_JSON_BOOL:
        return weir_json_bool(v);
    case WEIR_JSON_INT:
    case WEIR_JSON_UINT:
        return int_bits(v) != 0;
    case WEIR_JSON_BIGINT:
        return 1; /* beyond 64 bits, so never zero */
    case WEIR_JSON_STRING: {
        wj_str s = trim(json_str(v));
        return s.n == 4 && memcmp(s.s, "true", 4) == 0;
    }
    default:
        return 0; /* missing, null, double, object, array */
    }
}

int wj_ts(weir_json v, int64_t *out) {
    weir_json_type t = weir_json_type_of(v);
    if (is_int_type(t)) {
        *out = (int64_t)int_bits(v);
        return 1;
    }
    if (t == WEIR_JSON_DOUBLE) {
        *out = d2i64(weir_json_double(v));
        return 1;
    }
    if (t != WEIR_JSON_STRING) return 0;
    wj_str s = trim(json_str(v));
    /* digits only (no sign); parse_signed() checks the digits */
    if (s.n == 0 || s.s[0] == '+' || s.s[0] == '-') return 0;
    return parse_signed(s, INT64_MIN, INT64_MAX, out) == 1;
}

/* ---- §7.1 timestamps ---- */

/* Seconds wj_format_ts() rendered on this thread and their "yyyy-MM-dd HH:mm:ss." text, in a
 * direct-mapped cache indexed by the second: the rows of one event share a second, and the
 * events of one source batch come from a few hundred Kafka partitions whose event times differ
 * by seconds to minutes. In `weir bench` (1 M events, 204 partitions) one entry (the first
 * design) served 32 % of the calls, 256 entries serve 68 %. ~8 KB per thread. */
#define TS_CACHE_SLOTS 256
typedef struct ts_cache_entry {
    int64_t sec; /* floor(ms / 1000); valid only when len > 0 */
    size_t len;  /* 20, or 0 before the first use */
    char text[20];
} ts_cache_entry;
static _Thread_local ts_cache_entry t_ts_cache[TS_CACHE_SLOTS];

void wj_format_ts(weir_buf *out, int64_t ms) {
    int64_t msec = ms % 1000, esec = ms / 1000; /* floor division into seconds and ms */
    if (msec < 0) {
        msec += 1000;
        esec--;
    }
    ts_cache_entry *ce = &t_ts_cache[(uint64_t)esec % TS_CACHE_SLOTS];
    if (ce->len && ce->sec == esec) {
        if (weir_buf_reserve(out, ce->len + 3)) return;
        char *w = out->data + out->len;
        memcpy(w, ce->text, ce->len);
        w += ce->len;
        w[0] = (char)('0' + msec / 100);
        w[1] = (char)('0' + msec / 10 % 10);
        w[2] = (char)('0' + msec % 10);
        out->len += ce->len + 3;
        out->data[out->len] = '\0';
        return;
    }
    /* floor division into days and milliseconds of day */
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    /* civil_from_days (H. Hinnant), proleptic Gregorian */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    int64_t sec = rem / 1000;
    if (y < 0 || y > 9999) { /* astronomical years: rare, keep printf */
        weir_buf_printf(out, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%03lld", (long long)y,
                        (long long)m, (long long)d, (long long)(sec / 3600),
                        (long long)(sec / 60 % 60), (long long)(sec % 60), (long long)(rem % 1000));
        return;
    }
    /* hot path (every row has a timestamp): fixed-width digits without printf */
    char t[23];
    int hh = (int)(sec / 3600), mi = (int)(sec / 60 % 60), ss = (int)(sec % 60);
    int f[7] = {(int)y, (int)m, (int)d, hh, mi, ss, (int)(rem % 1000)};
    static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
    static const char sep[7] = {'-', '-', ' ', ':', ':', '.', 0};
    int k = 0;
    for (int i = 0; i < 7; i++) {
        for (int w = width[i] - 1; w >= 0; w--) {
            t[k + w] = (char)('0' + f[i] % 10);
            f[i] /= 10;
        }
        k += width[i];
        if (sep[i]) t[k++] = sep[i];
    }
    weir_buf_append(out, t, (size_t)k);
    memcpy(ce->text, t, sizeof ce->text); /* through the '.' */
    ce->sec = esec;
    ce->len = sizeof ce->text;
}

/* ---- Appendix A ---- */

void wj_normalize_address(weir_buf *out, wj_str s) {
    wj_str t = trim(s);
    if (!t.s) return;
    if (weir_buf_reserve(out, t.n)) return;
    for (size_t i = 0; i < t.n; i++) {
        char c = t.s[i];
        weir_buf_putc(out, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
    }
}

int wj_is_blank(wj_str s) {
    return trim(s).n == 0;
}

wj_str wj_first_non_blank(const wj_str *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!wj_is_blank(v[i])) return v[i];
    wj_str r = {"", 0};
    return r;
}

void wj_workflow_session_id(weir_buf *out, wj_str stream_id, wj_str request_id, wj_str event_id) {
    wj_str st = trim(stream_id), rq = trim(request_id), ev = trim(event_id);
    if (st.n)
        weir_buf_append(out, st.s, st.n);
    else
        weir_buf_puts(out, "_missing_stream");
    weir_buf_putc(out, '|');
    if (rq.n) {
        weir_buf_append(out, rq.s, rq.n);
        return;
    }
    weir_buf_puts(out, "_missing_request");
    if (st.n) return;
    weir_buf_putc(out, '|');
    if (ev.n)
        weir_buf_append(out, ev.s, ev.n);
    else
        weir_buf_puts(out, "_missing_event");
}
