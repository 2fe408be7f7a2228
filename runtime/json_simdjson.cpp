/*
 * json_simdjson.cpp - the C shim over simdjson's DOM parser behind weir/json.h (spec
 * dedup-job.md §2.2, §4.3).
 *
 * Data structure: a weir_json_parser owns one simdjson::dom::parser (reused, so the tape and
 * string buffers only grow and steady-state parsing does not allocate), a padded copy of the
 * input (`text`) for input whose padding cannot be read in place or that needed UTF-8 repair,
 * `cur`, the decoded text weir_json_parser_text() returns (either `text` or the caller's bytes),
 * a padded scratch buffer for the rare re-written prefix, and a `wdoc` view of the current
 * document. A weir_json handle is {&parser->wdoc, tape index}; values are read straight off
 * simdjson's tape (see simdjson's doc/tape.md):
 *   tape[0]        'r' root word; tape[1] is the root value;
 *   '{' / '['      payload low 32 bits = index just past the matching '}' / ']',
 *                  bits 32..55 = number of members (saturated at 0xFFFFFF);
 *   '"'            payload = offset into string_buf: uint32 length, bytes, NUL;
 *   'l' 'u' 'd'    int64 / uint64 / double in the following word (two words);
 *   't' 'f' 'n'    one word;
 *   'B'            (ours) a big integer: payload = offset of its digits in string_buf, stored like
 *                  a string. simdjson rejects integers beyond 64 bits, so such literals are quoted
 *                  in a re-written copy of the input and their tape words re-tagged after parsing.
 * weir_json_get_many() looks several names up in one pass over an object's members through a
 * caller-prepared weir_json_keyset (names hashed by their length and first 8 bytes, compared on
 * their first 16 bytes in registers; string_buf's padding makes those 8-byte reads safe).
 * Invariants: handles refer to wdoc of their parser and stay valid until the next parse; object
 * members appear in document order; the duplicate-key index (objects that contain a repeated key)
 * is computed lazily once per document and only those objects take the slow, quadratic path.
 *
 * Jackson parity: only the first JSON value is parsed (a byte scanner finds where it ends when
 * simdjson rejects the whole input), empty input gives MISSING, invalid UTF-8 becomes U+FFFD
 * before parsing, nesting deeper than 1024 is an error (simdjson's default max depth).
 */
#include <double-conversion/double-conversion.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>
#include <xxhash.h>

#include "weir/json.h"

/* WEIR_HAS_ASAN: built with AddressSanitizer (GCC's __SANITIZE_ADDRESS__, clang's feature) */
#if defined(__SANITIZE_ADDRESS__)
#define WEIR_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEIR_HAS_ASAN 1
#endif
#endif
#ifndef WEIR_HAS_ASAN
#define WEIR_HAS_ASAN 0
#endif

namespace {

constexpr uint64_t VALUE_MASK = 0x00FFFFFFFFFFFFFFULL;
constexpr uint32_t COUNT_MASK = 0xFFFFFF;
constexpr char T_BIGINT = 'B';

/** The document view handles point to. Owned by its weir_json_parser. */
struct wdoc {
    const uint64_t *tape = nullptr;
    const uint8_t *strbuf = nullptr;
    /* lazily computed duplicate-key index: 0 unknown, 1 no duplicates, 2 see dup_objs */
    int dup_state = 0;
    std::vector<uint64_t> dup_objs; /* sorted tape indices of objects with a repeated key */
    std::vector<std::pair<uint64_t, uint64_t>> scratch; /* (key hash, tape index), reused */
};

/** Forgets everything derived from the previous document. */
inline void wdoc_reset(wdoc *d) {
    d->tape = nullptr;
    d->strbuf = nullptr;
    d->dup_state = 0;
}

/** A padded, growable byte buffer (SIMDJSON_PADDING readable bytes after len). */
struct pbuf {
    char *data = nullptr;
    size_t len = 0, cap = 0;
    bool reserve(size_t n) {
        if (n <= cap) return true;
        size_t nc = cap ? cap : 4096;
        while (nc < n)
            nc *= 2;
        char *nd = static_cast<char *>(std::realloc(data, nc + simdjson::SIMDJSON_PADDING));
        if (!nd) return false;
        data = nd;
        cap = nc;
        return true;
    }
    void pad() { std::memset(data + len, 0, simdjson::SIMDJSON_PADDING); }
    ~pbuf() { std::free(data); }
};

/** Position and kind of an integer literal beyond 64 bits found by the scanner. */
struct bigint_lit {
    size_t pos, len;
    uint64_t string_ordinal; /* number of string tokens before it */
};

inline char ttype(const uint64_t *tape, uint64_t i) {
    return static_cast<char>(tape[i] >> 56);
}
inline uint64_t tpayload(const uint64_t *tape, uint64_t i) {
    return tape[i] & VALUE_MASK;
}

inline const wdoc *D(weir_json v) {
    return static_cast<const wdoc *>(v.doc);
}

/** Index just past the value at @p i. */
inline uint64_t after_value(const uint64_t *tape, uint64_t i) {
    switch (ttype(tape, i)) {
    case '{':
    case '[':
        return static_cast<uint32_t>(tape[i]);
    case 'l':
    case 'u':
    case 'd':
        return i + 2;
    default:
        return i + 1;
    }
}

/** String bytes of the string (or big integer) word at @p i. */
inline const char *tstring(const wdoc *d, uint64_t i, size_t *len) {
    const uint8_t *p = d->strbuf + tpayload(d->tape, i);
    uint32_t n;
    std::memcpy(&n, p, sizeof n);
    *len = n;
    return reinterpret_cast<const char *>(p + sizeof n);
}

inline bool key_eq(const wdoc *d, uint64_t ki, const char *key, size_t klen) {
    size_t n;
    const char *s = tstring(d, ki, &n);
    return n == klen && (klen == 0 || (s[0] == key[0] && std::memcmp(s, key, klen) == 0));
}

/** The first min(n, 8) bytes of @p s, zero-padded, as one word: byte i in bits 8i..8i+7. Reads
 *  only those bytes, and builds short heads in a register (a partial memcpy into a stack word
 *  followed by a full load stalls on store forwarding). */
inline uint64_t head8(const char *s, size_t n) {
    uint64_t h = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n >= 8) {
        std::memcpy(&h, s, 8);
        return h;
    }
#endif
    for (size_t i = 0; i < n && i < 8; i++)
        h |= static_cast<uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
    return h;
}

/** head8() of (a suffix of) a string in a document's string buffer, which is padded (simdjson's
 *  by SIMDJSON_PADDING), so 8 bytes are readable from any position inside a string. */
inline uint64_t head8_padded(const char *s, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t h;
    std::memcpy(&h, s, 8);
    return n >= 8 ? h : h & ((1ULL << (8 * n)) - 1);
#else
    return head8(s, n);
#endif
}

inline bool keys_eq(const wdoc *d, uint64_t a, uint64_t b) {
    size_t n;
    const char *s = tstring(d, a, &n);
    return key_eq(d, b, s, n);
}

/* ---- duplicate keys ---- */

inline uint64_t fnv1a(const char *s, size_t n) {
    return XXH3_64bits(s, n); /* xxHash (libxxhash) */
}

/** True if the object at @p obj has a repeated key. @p scratch is reused storage. */
bool object_has_dups(const wdoc *d, uint64_t obj, std::vector<std::pair<uint64_t, uint64_t>> &sc) {
    const uint64_t *t = d->tape;
    uint64_t n = (t[obj] >> 32) & COUNT_MASK;
    if (n < 2) return false;
    sc.clear();
    for (uint64_t k = obj + 1; ttype(t, k) != '}'; k = after_value(t, k + 1)) {
        size_t len;
        const char *s = tstring(d, k, &len);
        sc.emplace_back(fnv1a(s, len), k);
    }
    if (sc.size() <= 8) {
        for (size_t i = 0; i < sc.size(); i++)
            for (size_t j = i + 1; j < sc.size(); j++)
                if (sc[i].first == sc[j].first && keys_eq(d, sc[i].second, sc[j].second))
                    return true;
        return false;
    }
    std::sort(sc.begin(), sc.end());
    for (size_t i = 1; i < sc.size(); i++) {
        for (size_t j = i; j > 0 && sc[j - 1].first == sc[i].first; j--)
            if (keys_eq(d, sc[j - 1].second, sc[i].second)) return true;
    }
    return false;
}

/** Builds the duplicate-key index of the document on first use. */
void ensure_dup_index(const wdoc *cd) {
    wdoc *d = const_cast<wdoc *>(cd); /* lazily computed cache; see file comment */
    if (d->dup_state) return;
    d->dup_objs.clear();
    std::vector<std::pair<uint64_t, uint64_t>> &sc = d->scratch;
    const uint64_t *t = d->tape;
    uint64_t end = tpayload(t, 0);
    for (uint64_t i = 1; i < end;) {
        char c = ttype(t, i);
        if (c == '{' && object_has_dups(d, i, sc)) d->dup_objs.push_back(i);
        i += (c == 'l' || c == 'u' || c == 'd') ? 2 : 1;
    }
    d->dup_state = d->dup_objs.empty() ? 1 : 2;
}

inline bool obj_has_dups(const wdoc *d, uint64_t obj) {
    ensure_dup_index(d);
    if (d->dup_state == 1) return false;
    return std::binary_search(d->dup_objs.begin(), d->dup_objs.end(), obj);
}

/** For a duplicate-carrying object: true if key @p k is the first occurrence of its name. */
bool first_occurrence(const wdoc *d, uint64_t obj, uint64_t k) {
    const uint64_t *t = d->tape;
    for (uint64_t j = obj + 1; j < k; j = after_value(t, j + 1))
        if (keys_eq(d, j, k)) return false;
    return true;
}

/** For a duplicate-carrying object: value index of the last occurrence of key @p k. */
uint64_t last_value(const wdoc *d, uint64_t k) {
    const uint64_t *t = d->tape;
    uint64_t v = k + 1;
    for (uint64_t j = after_value(t, k + 1); ttype(t, j) != '}'; j = after_value(t, j + 1))
        if (keys_eq(d, j, k)) v = j + 1;
    return v;
}

/* ---- UTF-8 repair (Java decoder: one U+FFFD per maximal ill-formed subpart) ---- */

/** Length of the valid UTF-8 sequence at @p s (n bytes available), or 0 if ill-formed; in that
 *  case *bad receives the length of the maximal subpart to replace (>= 1). */
size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n) break;
        unsigned char b = s[i];
        unsigned char l = (i == 1) ? lo : 0x80, h = (i == 1) ? hi : 0xBF;
        if (b < l || b > h) break;
    }
    if (i == need + 1) return i;
    *bad = i; /* lead byte plus the valid continuation bytes seen */
    return 0;
}

bool utf8_repair(const char *in, size_t len, pbuf &out) {
    if (!out.reserve(len + len / 2 + 16)) return false;
    const unsigned char *s = reinterpret_cast<const unsigned char *>(in);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t bad = 0;
        size_t k = utf8_seq(s + i, len - i, &bad);
        size_t add = k ? k : 3;
        if (o + add > out.cap && !out.reserve(std::max(out.cap * 2, o + add))) return false;
        if (k) {
            std::memcpy(out.data + o, s + i, k);
            i += k;
        } else {
            std::memcpy(out.data + o, "\xEF\xBF\xBD", 3);
            i += bad;
        }
        o += add;
    }
    out.len = o;
    return true;
}

/* ---- the first-value scanner ---- */

inline bool is_ws(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
inline bool is_delim(unsigned char c) {
    return is_ws(c) || c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':' ||
           c == '"';
}

/** True if s[0..n) is a syntactically valid JSON integer that does not fit int64/uint64. */
bool is_bigint(const char *s, size_t n) {
    size_t i = 0;
    bool neg = false;
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= n) return false;
    if (s[i] == '0') return false; /* 0 or leading zero: not a big integer */
    for (size_t j = i; j < n; j++)
        if (s[j] < '0' || s[j] > '9') return false;
    size_t digits = n - i;
    const char *lim = neg ? "9223372036854775808" : "18446744073709551615";
    size_t ll = std::strlen(lim);
    if (digits != ll) return digits > ll;
    return std::memcmp(s + i, lim, ll) > 0;
}

/**
 * Finds the end of the first JSON value in s[start..len) (start is at a non-blank byte) and
 * collects big-integer literals. Returns the end offset (exclusive); len if the value is
 * incomplete (the parser then reports the error).
 */
size_t scan_first_value(const char *s, size_t len, size_t start, std::vector<bigint_lit> &bigs) {
    size_t i = start;
    uint64_t strings = 0;
    size_t depth = 0;
    unsigned char c0 = static_cast<unsigned char>(s[i]);
    if (c0 != '{' && c0 != '[' && c0 != '"') {
        size_t j = i;
        while (j < len && !is_delim(static_cast<unsigned char>(s[j])))
            j++;
        if (j == i) return i + 1; /* a stray structural byte: let the parser reject it */
        if (is_bigint(s + i, j - i)) bigs.push_back({i, j - i, 0});
        bool num = c0 == '-' || (c0 >= '0' && c0 <= '9');
        /* Jackson requires white space after a root-level number: include the offending byte */
        if (num && j < len && !is_ws(static_cast<unsigned char>(s[j]))) j++;
        return j;
    }
    while (i < len) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"') {
            i++;
            while (i < len && s[i] != '"')
                i += (s[i] == '\\') ? 2 : 1;
            if (i >= len) return len;
            i++;
            strings++;
            if (depth == 0) return i;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return i + 1;
            if (--depth == 0) return i + 1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < len && !is_delim(static_cast<unsigned char>(s[j])))
                j++;
            if (is_bigint(s + i, j - i)) bigs.push_back({i, j - i, strings});
            i = j;
            continue;
        }
        i++;
    }
    return len;
}

} // namespace

/** The opaque parser of weir/json.h. */
struct weir_json_parser {
    simdjson::dom::parser parser;
    pbuf text;                 /* copy of the input, padded, when it could not be parsed in place */
    const char *cur = nullptr; /* the decoded text: text.data, or the caller's bytes */
    size_t cur_len = 0;
    pbuf rewrite; /* prefix with big integers quoted (rarely used) */
    std::vector<bigint_lit> bigs;
    wdoc doc;
};

extern "C" {

weir_json_parser *weir_json_parser_new(void) {
    return new (std::nothrow) weir_json_parser();
}

void weir_json_parser_free(weir_json_parser *p) {
    delete p;
}

const char *weir_json_parser_text(const weir_json_parser *p, size_t *len) {
    if (len) *len = p->cur_len;
    return p->cur ? p->cur : "";
}

/*
 * 1 when the SIMDJSON_PADDING bytes after the @p len > 0 bytes at @p buf can be read without a
 * fault: they lie in the page of the last byte (pages are at least 4096 bytes). simdjson reads
 * its padding but its content does not affect the result (simdjson's "page trick"), so such input
 * is parsed in place instead of being copied. Never under AddressSanitizer, which reports those
 * reads as overflows.
 */
static bool padding_readable(const char *buf, size_t len) {
#if WEIR_HAS_ASAN
    (void)buf;
    (void)len;
    return false;
#else
    uintptr_t last = reinterpret_cast<uintptr_t>(buf + len - 1);
    return (last & 4095) + simdjson::SIMDJSON_PADDING < 4096;
#endif
}

static weir_err parse_error(weir_error *err, simdjson::error_code e, size_t at) {
    return weir_error_set(err, WEIR_EPARSE, 0,
                          "JSON parse error: %s (first value ends near byte %zu)",
                          simdjson::error_message(e), at);
}

weir_err weir_json_parse(weir_json_parser *p, const char *buf, size_t len, weir_json *root,
                         weir_error *err) {
    *root = weir_json{nullptr, 0};
    wdoc_reset(&p->doc);
    p->text.len = 0;
    /* 1. parse the input in place when its padding can be read, else copy it into a padded
     *    buffer as it is. simdjson validates the UTF-8 of the whole input in its stage 1, so
     *    input it parses needs no separate pass; only when the parse fails is the input checked,
     *    and invalid UTF-8 repaired before parsing again (step 3 below). */
    if (len && padding_readable(buf, len)) {
        p->cur = buf;
    } else {
        if (!p->text.reserve(len ? len : 1))
            return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        if (len) std::memcpy(p->text.data, buf, len);
        p->text.len = len;
        p->text.pad();
        p->cur = p->text.data;
    }
    p->cur_len = len;
    bool repaired = false;
    simdjson::dom::element el;
    simdjson::error_code e;
    const char *s;
    size_t n, start;
    for (;;) {
        s = p->cur;
        n = p->cur_len;
        /* 2. empty or blank: MISSING */
        start = 0;
        while (start < n && is_ws(static_cast<unsigned char>(s[start])))
            start++;
        if (start == n) return WEIR_OK;
        /* 3. fast path: the whole input is one value */
        e = p->parser.parse(s, n, false).get(el);
        if (e == simdjson::MEMALLOC || e == simdjson::CAPACITY)
            return weir_error_set(err, WEIR_ENOMEM, 0, "JSON parser: %s",
                                  simdjson::error_message(e));
        if (!e || repaired || simdjson::validate_utf8(buf, len)) break;
        /* invalid UTF-8: decode as Java does (U+FFFD per bad sequence) and start again */
        if (!utf8_repair(buf, len, p->text))
            return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        p->text.pad();
        p->cur = p->text.data;
        p->cur_len = p->text.len;
        repaired = true;
    }
    if (e) {
        /* 4. slow path: parse only the first value, quoting big integers */
        p->bigs.clear();
        size_t end = scan_first_value(s, n, start, p->bigs);
        size_t rest = end;
        while (rest < n && is_ws(static_cast<unsigned char>(s[rest])))
            rest++;
        if (rest == n && p->bigs.empty()) return parse_error(err, e, end);
        const char *src = s;
        size_t srclen = end;
        if (!p->bigs.empty()) {
            pbuf &rw = p->rewrite;
            if (!rw.reserve(end + 2 * p->bigs.size()))
                return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
            size_t o = 0, from = 0;
            for (const bigint_lit &b : p->bigs) {
                std::memcpy(rw.data + o, s + from, b.pos - from);
                o += b.pos - from;
                rw.data[o++] = '"';
                std::memcpy(rw.data + o, s + b.pos, b.len);
                o += b.len;
                rw.data[o++] = '"';
                from = b.pos + b.len;
            }
            std::memcpy(rw.data + o, s + from, end - from);
            o += end - from;
            rw.len = o;
            rw.pad();
            src = rw.data;
            srclen = o;
        }
        e = p->parser.parse(src, srclen, false).get(el);
        if (e == simdjson::MEMALLOC || e == simdjson::CAPACITY)
            return weir_error_set(err, WEIR_ENOMEM, 0, "JSON parser: %s",
                                  simdjson::error_message(e));
        if (e) return parse_error(err, e, end);
        if (!p->bigs.empty()) {
            /* re-tag the quoted big integers: the k-th string tokens named by the scanner */
            uint64_t *t = p->parser.doc.tape.get();
            uint64_t tend = t[0] & VALUE_MASK, strings = 0;
            size_t bi = 0;
            for (uint64_t i = 1; i < tend && bi < p->bigs.size();) {
                char c = static_cast<char>(t[i] >> 56);
                if (c == '"') {
                    if (strings == p->bigs[bi].string_ordinal + bi) {
                        t[i] = (static_cast<uint64_t>(T_BIGINT) << 56) | (t[i] & VALUE_MASK);
                        bi++;
                    }
                    strings++;
                }
                i += (c == 'l' || c == 'u' || c == 'd') ? 2 : 1;
            }
        }
    }
    p->doc.tape = p->parser.doc.tape.get();
    p->doc.strbuf = p->parser.doc.string_buf.get();
    *root = weir_json{&p->doc, 1};
    return WEIR_OK;
}

weir_json_type weir_json_type_of(weir_json v) {
    if (!v.doc) return WEIR_JSON_MISSING;
    switch (ttype(D(v)->tape, v.idx)) {
    case 'n':
        return WEIR_JSON_NULL;
    case 't':
    case 'f':
        return WEIR_JSON_BOOL;
    case 'l':
        return WEIR_JSON_INT;
    case 'u':
        return WEIR_JSON_UINT;
    case 'd':
        return WEIR_JSON_DOUBLE;
    case T_BIGINT:
        return WEIR_JSON_BIGINT;
    case '"':
        return WEIR_JSON_STRING;
    case '[':
        return WEIR_JSON_ARRAY;
    case '{':
        return WEIR_JSON_OBJECT;
    default:
        return WEIR_JSON_MISSING;
    }
}

weir_json weir_json_getn(weir_json obj, const char *key, size_t key_len) {
    weir_json r{nullptr, 0};
    if (!obj.doc) return r;
    const wdoc *d = D(obj);
    const uint64_t *t = d->tape;
    if (ttype(t, obj.idx) != '{') return r;
    for (uint64_t k = obj.idx + 1; ttype(t, k) != '}'; k = after_value(t, k + 1))
        if (key_eq(d, k, key, key_len)) r = weir_json{obj.doc, k + 1}; /* last wins */
    return r;
}

/* Slot of a key in a weir_json_keyset (Fibonacci hashing of its head and length). */
static inline uint32_t keyset_hash(const weir_json_keyset *ks, uint64_t head, size_t len) {
    return static_cast<uint32_t>(((head ^ (len << 56)) * 0x9E3779B97F4A7C15ULL) >> 56) & ks->mask;
}

int weir_json_keyset_init(weir_json_keyset *ks, const char *const *keys, const size_t *lens,
                          size_t n) {
    std::memset(ks, 0, sizeof *ks);
    if (n > WEIR_JSON_KEYSET_MAX) return -1;
    uint32_t slots = 16;
    while (slots < 4 * n)
        slots *= 2; /* <= 256 */
    ks->mask = slots - 1;
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : std::strlen(keys[i]);
        if (len >= UINT32_MAX) return -1;
        uint64_t h = head8(keys[i], len);
        uint32_t sl = keyset_hash(ks, h, len);
        for (; ks->slot[sl]; sl = (sl + 1) & ks->mask) {
            uint32_t j = ks->slot[sl] - 1u;
            if (ks->len[j] == len && std::memcmp(ks->key[j], keys[i], len) == 0) return -1;
        }
        ks->slot[sl] = static_cast<uint8_t>(i + 1);
        ks->head[i] = h;
        ks->head2[i] = len > 8 ? head8(keys[i] + 8, len - 8) : 0;
        ks->len[i] = static_cast<uint32_t>(len);
        ks->key[i] = keys[i];
    }
    ks->n = static_cast<uint32_t>(n);
    return 0;
}

void weir_json_get_many(weir_json obj, const weir_json_keyset *ks, weir_json *out) {
    for (uint32_t i = 0; i < ks->n; i++)
        out[i] = weir_json{nullptr, 0};
    if (!obj.doc) return;
    const wdoc *d = D(obj);
    const uint64_t *t = d->tape;
    if (ttype(t, obj.idx) != '{') return;
    for (uint64_t k = obj.idx + 1; ttype(t, k) != '}'; k = after_value(t, k + 1)) {
        size_t len;
        const char *s = tstring(d, k, &len);
        uint64_t h = head8_padded(s, len);
        for (uint32_t sl = keyset_hash(ks, h, len); ks->slot[sl]; sl = (sl + 1) & ks->mask) {
            uint32_t j = ks->slot[sl] - 1u;
            /* bytes 8-15 compared in a register too (the padded string buffer allows the
             * 8-byte read); only names beyond 16 bytes need memcmp */
            if (ks->head[j] == h && ks->len[j] == len &&
                (len <= 8 ||
                 (ks->head2[j] == head8_padded(s + 8, len - 8) &&
                  (len <= 16 || std::memcmp(ks->key[j] + 16, s + 16, len - 16) == 0)))) {
                out[j] = weir_json{obj.doc, k + 1}; /* a later duplicate overwrites: last wins */
                break;
            }
        }
    }
}

weir_json weir_json_get(weir_json obj, const char *key) {
    return weir_json_getn(obj, key, std::strlen(key));
}

weir_json weir_json_path(weir_json v, const char *dotted_path) {
    const char *s = dotted_path;
    for (;;) {
        const char *dot = std::strchr(s, '.');
        size_t n = dot ? static_cast<size_t>(dot - s) : std::strlen(s);
        v = weir_json_getn(v, s, n);
        if (!dot || !v.doc) return v;
        s = dot + 1;
    }
}

size_t weir_json_size(weir_json v) {
    if (!v.doc) return 0;
    const wdoc *d = D(v);
    const uint64_t *t = d->tape;
    char c = ttype(t, v.idx);
    if (c != '{' && c != '[') return 0;
    uint64_t n = (t[v.idx] >> 32) & COUNT_MASK;
    bool dups = c == '{' && obj_has_dups(d, v.idx);
    if (n < COUNT_MASK && !dups) return n;
    size_t cnt = 0;
    if (c == '[') {
        for (uint64_t i = v.idx + 1; ttype(t, i) != ']'; i = after_value(t, i))
            cnt++;
    } else {
        for (uint64_t k = v.idx + 1; ttype(t, k) != '}'; k = after_value(t, k + 1))
            if (!dups || first_occurrence(d, v.idx, k)) cnt++;
    }
    return cnt;
}

weir_json weir_json_at(weir_json arr, size_t i) {
    weir_json r{nullptr, 0};
    if (!arr.doc) return r;
    const uint64_t *t = D(arr)->tape;
    if (ttype(t, arr.idx) != '[') return r;
    uint64_t k = arr.idx + 1;
    for (size_t j = 0; ttype(t, k) != ']'; j++, k = after_value(t, k))
        if (j == i) return weir_json{arr.doc, k};
    return r;
}

weir_json_iter weir_json_iter_begin(weir_json v) {
    weir_json_iter it;
    it.container = v;
    it.pos = 0;
    it.n = 0;
    if (v.doc) {
        char c = ttype(D(v)->tape, v.idx);
        if (c == '{' || c == '[') it.pos = v.idx + 1;
    }
    return it;
}

int weir_json_next(weir_json_iter *it, const char **key, size_t *key_len, weir_json *value) {
    if (!it->container.doc || it->pos == 0) return 0;
    const wdoc *d = D(it->container);
    const uint64_t *t = d->tape;
    uint64_t c = it->container.idx;
    if (ttype(t, c) == '[') {
        if (ttype(t, it->pos) == ']') return 0;
        if (key) *key = nullptr;
        if (key_len) *key_len = 0;
        if (value) *value = weir_json{it->container.doc, it->pos};
        it->pos = after_value(t, it->pos);
        it->n++;
        return 1;
    }
    if (ttype(t, c) != '{') return 0;
    bool dups = obj_has_dups(d, c);
    while (ttype(t, it->pos) != '}') {
        uint64_t k = it->pos;
        it->pos = after_value(t, k + 1);
        if (dups && !first_occurrence(d, c, k)) continue;
        size_t n;
        const char *s = tstring(d, k, &n);
        if (key) *key = s;
        if (key_len) *key_len = n;
        if (value) *value = weir_json{it->container.doc, dups ? last_value(d, k) : k + 1};
        it->n++;
        return 1;
    }
    return 0;
}

int weir_json_string(weir_json v, const char **s, size_t *len) {
    if (!v.doc || ttype(D(v)->tape, v.idx) != '"') return -1;
    size_t n;
    const char *p = tstring(D(v), v.idx, &n);
    if (s) *s = p;
    if (len) *len = n;
    return 0;
}

int weir_json_bool(weir_json v) {
    return v.doc && ttype(D(v)->tape, v.idx) == 't';
}

int64_t weir_json_int(weir_json v) {
    if (!v.doc) return 0;
    const uint64_t *t = D(v)->tape;
    char c = ttype(t, v.idx);
    if (c != 'l' && c != 'u') return 0;
    int64_t r;
    std::memcpy(&r, &t[v.idx + 1], sizeof r);
    return r;
}

uint64_t weir_json_uint(weir_json v) {
    if (!v.doc) return 0;
    const uint64_t *t = D(v)->tape;
    char c = ttype(t, v.idx);
    if (c == 'u') return t[v.idx + 1];
    if (c == 'l') {
        int64_t r;
        std::memcpy(&r, &t[v.idx + 1], sizeof r);
        return r >= 0 ? static_cast<uint64_t>(r) : 0;
    }
    return 0;
}

double weir_json_double(weir_json v) {
    if (!v.doc) return 0.0;
    const uint64_t *t = D(v)->tape;
    switch (ttype(t, v.idx)) {
    case 'd': {
        double r;
        std::memcpy(&r, &t[v.idx + 1], sizeof r);
        return r;
    }
    case 'l':
        return static_cast<double>(weir_json_int(v));
    case 'u':
        return static_cast<double>(t[v.idx + 1]);
    case T_BIGINT: {
        size_t n;
        const char *s = tstring(D(v), v.idx, &n);
        return std::strtod(s, nullptr); /* NUL-terminated in string_buf */
    }
    default:
        return 0.0;
    }
}

const char *weir_json_bigint_text(weir_json v, size_t *len) {
    if (!v.doc || ttype(D(v)->tape, v.idx) != T_BIGINT) return nullptr;
    size_t n;
    const char *s = tstring(D(v), v.idx, &n);
    if (len) *len = n;
    return s;
}

static bool skipped(const char *k, size_t n, const char *const *skip) {
    for (; *skip; skip++)
        if (std::strlen(*skip) == n && std::memcmp(*skip, k, n) == 0) return true;
    return false;
}

static void write_value(weir_buf *out, const wdoc *d, uint64_t i, const char *const *skip) {
    const uint64_t *t = d->tape;
    switch (ttype(t, i)) {
    case 'n':
        weir_buf_append(out, "null", 4);
        return;
    case 't':
        weir_buf_append(out, "true", 4);
        return;
    case 'f':
        weir_buf_append(out, "false", 5);
        return;
    case 'l': {
        int64_t v;
        std::memcpy(&v, &t[i + 1], sizeof v);
        weir_buf_put_i64(out, v);
        return;
    }
    case 'u':
        weir_buf_put_u64(out, t[i + 1]);
        return;
    case 'd': {
        double v;
        std::memcpy(&v, &t[i + 1], sizeof v);
        weir_json_write_double_java(out, v);
        return;
    }
    case T_BIGINT: {
        size_t n;
        const char *s = tstring(d, i, &n);
        weir_buf_append(out, s, n);
        return;
    }
    case '"': {
        size_t n;
        const char *s = tstring(d, i, &n);
        weir_json_write_string(out, s, n);
        return;
    }
    case '[': {
        weir_buf_putc(out, '[');
        bool first = true;
        for (uint64_t k = i + 1; ttype(t, k) != ']'; k = after_value(t, k)) {
            if (!first) weir_buf_putc(out, ',');
            first = false;
            write_value(out, d, k, nullptr);
        }
        weir_buf_putc(out, ']');
        return;
    }
    case '{': {
        weir_buf_putc(out, '{');
        bool dups = obj_has_dups(d, i), first = true;
        for (uint64_t k = i + 1; ttype(t, k) != '}'; k = after_value(t, k + 1)) {
            if (dups && !first_occurrence(d, i, k)) continue;
            size_t n;
            const char *s = tstring(d, k, &n);
            if (skip && skipped(s, n, skip)) continue;
            if (!first) weir_buf_putc(out, ',');
            first = false;
            weir_json_write_string(out, s, n);
            weir_buf_putc(out, ':');
            write_value(out, d, dups ? last_value(d, k) : k + 1, nullptr);
        }
        weir_buf_putc(out, '}');
        return;
    }
    default:
        return;
    }
}

void weir_json_write_compact(weir_buf *out, weir_json v, const char *const *skip_top_keys) {
    if (!v.doc) return;
    write_value(out, D(v), v.idx, skip_top_keys);
}

} // extern "C"

/*
 * Shortest round-trip digits of the finite, positive value @p v (as a float when @p is_float),
 * for json.c's Java number writer: double-conversion's Grisu3 with its exact bignum fallback.
 * Writes the digits (no trailing zeros, NUL-terminated) to @p buf (at least 18 bytes) and
 * returns their count; *point receives the decimal point position (v = 0.digits * 10^point).
 */
extern "C" int weir_json_shortest_dtoa(double v, int is_float, char *buf, int buflen, int *point) {
    using double_conversion::DoubleToStringConverter;
    bool sign = false;
    int length = 0;
    DoubleToStringConverter::DoubleToAscii(
        v, is_float ? DoubleToStringConverter::SHORTEST_SINGLE : DoubleToStringConverter::SHORTEST,
        0, buf, buflen, &sign, &length, point);
    return length;
}
