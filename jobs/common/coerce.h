/*
 * jobs/common/coerce.h - the lenient value-coercion helpers of spec dedup-job.md §2.4, the
 * timestamp format of §7.1 and the string helpers of Appendix A.
 *
 * The Java pipeline read JSON through Jackson's lenient accessors; these reproduce exactly the
 * coercions the spec tabulates. Names follow the spec (text, ntext, nint, nlong, lint, ldouble,
 * lbool, ts). "Nullable" results are reported through an `is_null`/return flag instead of a
 * sentinel. All functions are pure and thread-safe; string results point into the parsed
 * document (valid as long as it is) or into the caller's weir_buf.
 */
#ifndef WEIR_JOBS_COERCE_H
#define WEIR_JOBS_COERCE_H

#include <stddef.h>
#include <stdint.h>

#include "weir/buf.h"
#include "weir/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A borrowed string slice; `s == NULL` means null (distinct from "" which is s != NULL, n == 0). */
typedef struct wj_str {
    const char *s;
    size_t n;
} wj_str;

/**
 * text(n, d) of §2.4: appends to @p scratch when a conversion is needed (numbers, booleans) and
 * returns a slice that is valid until @p scratch is reset or the document is re-parsed.
 * missing/null → @p dflt (which may be the null slice); string → itself; number → Jackson text
 * (integers as digits, doubles as Java Double.toString); boolean → "true"/"false";
 * object/array → "".
 */
wj_str wj_text(weir_json v, wj_str dflt, weir_buf *scratch);
/** ntext(n) of §2.4: like text(n, null) but "" and object/array become null. */
wj_str wj_ntext(weir_json v, weir_buf *scratch);
/** nint(n) of §2.4. Returns 1 and sets *out, or 0 for null. */
int wj_nint(weir_json v, int32_t *out);
/** nlong(n) of §2.4. Returns 1 and sets *out, or 0 for null. */
int wj_nlong(weir_json v, int64_t *out);
/** lint(n, d) of §2.4. */
int32_t wj_lint(weir_json v, int32_t dflt);
/** ldouble(n, d) of §2.4 (Java double syntax for strings, trimmed). */
double wj_ldouble(weir_json v, double dflt);
/** lbool(n) of §2.4. */
int wj_lbool(weir_json v);
/** ts(n) of §2.4: returns 1 and sets *out (epoch ms), or 0 for "none". */
int wj_ts(weir_json v, int64_t *out);

/** Appends epoch milliseconds @p ms as `yyyy-MM-dd HH:mm:ss.SSS` in UTC (§7.1; proleptic
 *  Gregorian, negative values allowed: -1 → 1969-12-31 23:59:59.999). */
void wj_format_ts(weir_buf *out, int64_t ms);

/** Appendix A address normaliser: trim ASCII whitespace and lower-case; null/blank → "".
 *  Appends to @p out. */
void wj_normalize_address(weir_buf *out, wj_str s);
/** Appendix A: 1 if @p s is null or only whitespace. */
int wj_is_blank(wj_str s);
/** Appendix A firstNonBlank: the first non-blank of @p n slices (untrimmed), or "" if none. */
wj_str wj_first_non_blank(const wj_str *v, size_t n);

/** Appendix A workflow session id: appends `stream|request`, `stream|_missing_request`,
 *  `_missing_stream|request`, `_missing_stream|_missing_request|<event id>` or
 *  `_missing_stream|_missing_request|_missing_event` (inputs trimmed for the blank test and
 *  for the output). */
void wj_workflow_session_id(weir_buf *out, wj_str stream_id, wj_str request_id, wj_str event_id);

/** Convenience: a slice of a C string (NULL → null slice). */
static inline wj_str wj_cstr(const char *s) {
    wj_str r;
    r.s = s;
    r.n = 0;
    if (s)
        while (s[r.n]) r.n++;
    return r;
}
/** The null slice. */
static inline wj_str wj_null(void) {
    wj_str r = {NULL, 0};
    return r;
}

#ifdef __cplusplus
}
#endif
#endif
