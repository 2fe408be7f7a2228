/*
 * weir/json.h - JSON documents with Jackson-compatible semantics (spec dedup-job.md §2.2, §4.3).
 *
 * Parsing is done by simdjson (C++, Debian libsimdjson-dev) behind a one-file C shim
 * (runtime/json_simdjson.cpp); this header is the only JSON API the rest of weir sees.
 *
 * Semantics, matching what the Java pipeline's Jackson parser did:
 *  - strict JSON (no comments, NaN, trailing commas, leading zeros);
 *  - only the first JSON value is read; anything after a complete value is ignored;
 *  - empty or whitespace-only input is not an error: the root is WEIR_JSON_MISSING;
 *  - invalid UTF-8 is replaced by U+FFFD before parsing (Java's decoder behaviour); the
 *    decoded text is available from weir_json_parser_text();
 *  - duplicate object keys: the LAST value wins, kept at the position of the FIRST occurrence
 *    (weir_json_get() and object iteration both follow this);
 *  - numbers: integer literals are INT (fits int64), UINT (fits uint64 only) or BIGINT
 *    (larger; the literal digits are kept); any literal with a fraction or exponent is DOUBLE.
 *
 * Memory: a weir_json_parser owns the parsed document. Every weir_json handle and every string
 * pointer obtained from it stays valid until the next weir_json_parse() on the same parser or
 * weir_json_parser_free(). A parser is not thread-safe; use one per task thread.
 */
#ifndef WEIR_JSON_H
#define WEIR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "weir/buf.h"
#include "weir/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** JSON value types. MISSING means "no such key / no value" and is never an error. */
typedef enum weir_json_type {
    WEIR_JSON_MISSING = 0,
    WEIR_JSON_NULL,
    WEIR_JSON_BOOL,
    WEIR_JSON_INT,    /**< integer literal that fits int64 */
    WEIR_JSON_UINT,   /**< integer literal in (INT64_MAX, UINT64_MAX] */
    WEIR_JSON_BIGINT, /**< integer literal beyond uint64; digits kept as text */
    WEIR_JSON_DOUBLE, /**< literal with a fraction or exponent */
    WEIR_JSON_STRING,
    WEIR_JSON_ARRAY,
    WEIR_JSON_OBJECT
} weir_json_type;

/**
 * A handle to one value inside a parsed document: plain data, copy freely. The zero value
 * ({0}) is a MISSING value. Valid only while its document is (see file comment).
 */
typedef struct weir_json {
    const void *doc; /**< owning document, NULL for MISSING */
    uint64_t idx;    /**< position in the document's tape */
} weir_json;

/** A reusable parser; owns the current document. */
typedef struct weir_json_parser weir_json_parser;

/** Creates a parser. Returns NULL on allocation failure. Free with weir_json_parser_free(). */
weir_json_parser *weir_json_parser_new(void);
/** Frees the parser and its document. NULL is accepted. */
void weir_json_parser_free(weir_json_parser *p);

/**
 * Parses @p len bytes at @p buf (need not be NUL-terminated) with the semantics of the file
 * comment. Valid UTF-8 input is parsed in place when the bytes after it can be read safely, so
 * weir_json_parser_text() may point into @p buf: it is then valid only while @p buf is. Handles
 * and the strings read through them never refer to @p buf. On success returns WEIR_OK and sets *root (MISSING for empty input).
 * On a syntax error returns WEIR_EPARSE with a message in @p err (which may be NULL).
 * Never crashes on arbitrary bytes; nesting deeper than 1024 levels is a WEIR_EPARSE error.
 */
weir_err weir_json_parse(weir_json_parser *p, const char *buf, size_t len, weir_json *root,
                         weir_error *err);

/**
 * The decoded text of the last parsed input: identical to the input when it was valid UTF-8,
 * otherwise with each invalid sequence replaced by U+FFFD (EF BF BD). Valid until the next parse
 * and, when it is the caller's input itself (see weir_json_parse()), while that input is.
 */
const char *weir_json_parser_text(const weir_json_parser *p, size_t *len);

/** Type of @p v. */
weir_json_type weir_json_type_of(weir_json v);
/** 1 if @p v is MISSING. */
static inline int weir_json_is_missing(weir_json v) {
    return v.doc == NULL;
}

/** Member @p key (NUL-terminated) of object @p obj; last duplicate wins. MISSING if @p obj is
 *  not an object or has no such key. */
weir_json weir_json_get(weir_json obj, const char *key);
/** Like weir_json_get() with an explicit key length. */
weir_json weir_json_getn(weir_json obj, const char *key, size_t key_len);

/** Maximum number of keys in a weir_json_keyset. */
#define WEIR_JSON_KEYSET_MAX 64

/**
 * A fixed set of member names prepared for weir_json_get_many(): an open-addressing table of the
 * keys' first 16 bytes and lengths (load factor <= 1/4). Caller-owned, no heap; fill it once with
 * weir_json_keyset_init() and then share it read-only between threads. The key strings are
 * borrowed (use literals). Fields are private.
 */
typedef struct weir_json_keyset {
    uint32_t n, mask;
    uint8_t slot[256];                                                /* key index + 1, 0 = empty */
    uint64_t head[WEIR_JSON_KEYSET_MAX], head2[WEIR_JSON_KEYSET_MAX]; /* bytes 0-7, 8-15 */
    uint32_t len[WEIR_JSON_KEYSET_MAX];
    const char *key[WEIR_JSON_KEYSET_MAX];
} weir_json_keyset;

/**
 * Prepares @p ks for the @p n keys @p keys (@p lens[i] bytes each; NULL lens = NUL-terminated).
 * Returns 0, or -1 when @p n exceeds WEIR_JSON_KEYSET_MAX or a key is repeated.
 */
int weir_json_keyset_init(weir_json_keyset *ks, const char *const *keys, const size_t *lens,
                          size_t n);

/**
 * Looks all keys of @p ks up in object @p obj with ONE pass over its members: out[i] receives the
 * value of member keys[i] (the last one when the name is repeated, as weir_json_get()), MISSING
 * when absent or when @p obj is not an object. Cheaper than separate lookups as soon as a few keys
 * of the same object are needed (each weir_json_get() walks the members).
 */
void weir_json_get_many(weir_json obj, const weir_json_keyset *ks, weir_json *out);

/** Dotted path lookup, e.g. "data.orchestrator_info.address"; each step as weir_json_get(). */
weir_json weir_json_path(weir_json v, const char *dotted_path);

/** Array length, or number of DISTINCT keys of an object; 0 for anything else. */
size_t weir_json_size(weir_json v);
/** Element @p i of an array (MISSING when out of range or not an array). O(i). */
weir_json weir_json_at(weir_json arr, size_t i);

/** Iterator over an array's elements or an object's distinct keys (first-occurrence order,
 *  last value). Zero-initialise, then call weir_json_next() until it returns 0. */
typedef struct weir_json_iter {
    weir_json container;
    uint64_t pos; /**< internal cursor */
    size_t n;     /**< number of items returned so far */
} weir_json_iter;

/** Starts an iteration over @p v (array or object; anything else yields nothing). */
weir_json_iter weir_json_iter_begin(weir_json v);
/**
 * Advances: returns 1 and sets *value (and, for objects, *key and *key_len, which may be NULL for
 * arrays) or returns 0 at the end.
 */
int weir_json_next(weir_json_iter *it, const char **key, size_t *key_len, weir_json *value);

/** String contents (decoded, not NUL-terminated in general; may contain NUL) of a STRING.
 *  Returns 0 and sets *s and *len, or -1 if @p v is not a string. */
int weir_json_string(weir_json v, const char **s, size_t *len);
/** Boolean value; 0 for non-booleans. */
int weir_json_bool(weir_json v);
/** int64 value of an INT; UINT values are returned wrapped (two's complement); 0 otherwise. */
int64_t weir_json_int(weir_json v);
/** uint64 value of a UINT or a non-negative INT; 0 otherwise. */
uint64_t weir_json_uint(weir_json v);
/** double value of any number (INT/UINT/BIGINT converted); 0.0 for non-numbers. */
double weir_json_double(weir_json v);
/** Decimal digits (with optional leading '-') of a BIGINT; NULL otherwise. */
const char *weir_json_bigint_text(weir_json v, size_t *len);

/**
 * Appends the compact serialisation of @p v to @p out with Jackson's rules (spec §4.3):
 * document key order, duplicate keys collapsed, strings re-escaped (weir_json_write_string),
 * integers as digits, doubles as Java's Double.toString. A MISSING value writes nothing.
 * If @p skip_top_keys is non-NULL (NULL-terminated list) and @p v is an object, those top-level
 * keys are omitted (used to strip the __replay* keys before hashing).
 */
void weir_json_write_compact(weir_buf *out, weir_json v, const char *const *skip_top_keys);

/** Appends @p s (@p n bytes, UTF-8) as a quoted JSON string with Jackson's escaping (§4.3):
 *  `"` and `\` escaped; \b \t \n \f \r short forms; other code points < 0x20 as \u00XX with
 *  uppercase hex; DEL, '/' and non-ASCII written raw. */
void weir_json_write_string(weir_buf *out, const char *s, size_t n);

/** Appends Java's Double.toString(@p d) (shortest round-trip digits; plain decimal with at least
 *  one fractional digit when 1e-3 <= |d| < 1e7, otherwise d.dddE±n; NaN/Infinity as Java). */
void weir_json_write_double_java(weir_buf *out, double d);
/** Appends Java's Float.toString(@p f) (same rules, float32 shortest digits). */
void weir_json_write_float_java(weir_buf *out, float f);

#ifdef __cplusplus
}
#endif
#endif
