/*
 * keygroup.c - Flink's key-group assignment (see weir/keygroup.h, DESIGN.md §8).
 *
 * Pure functions, no state. Arithmetic that Java does in wrap-around int is done here in
 * uint32_t and converted back to int32_t at the end, so no signed overflow (UB) occurs.
 *
 * UTF-8 decoding follows Java's new String(bytes, UTF_8): each maximal ill-formed subpart
 * (Unicode "best practice") becomes one U+FFFD, except that an encoded surrogate (ED A0..BF xx)
 * is one U+FFFD for all three bytes, as in the JDK; code points above U+FFFF become a surrogate
 * pair.
 */
#include "weir/keygroup.h"

#include <string.h>

/* Decodes one code point starting at p[0] (n > 0 bytes available). Returns the number of bytes
 * consumed (>= 1) and stores the code point (U+FFFD for an ill-formed subpart) in *cp. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp) {
    unsigned char b0 = p[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    uint32_t c;
    unsigned char lo = 0x80, hi = 0xBF; /* valid range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        c = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0; /* no overlongs; ED A0..BF (surrogates): see below */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        c = b0 & 0x07;
        if (b0 == 0xF0)
            lo = 0x90; /* no overlongs */
        else if (b0 == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else {
        *cp = 0xFFFD; /* 0x80..0xC1, 0xF5..0xFF: never valid as a lead byte */
        return 1;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n) break;
        unsigned char b = p[i];
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) break;
        c = (c << 6) | (b & 0x3F);
    }
    if (i <= need) { /* truncated or ill-formed: the maximal subpart is p[0..i) */
        *cp = 0xFFFD;
        return i;
    }
    /* Java decodes a well-formed-looking 3-byte surrogate (ED A0..BF xx) as one U+FFFD. */
    *cp = (c >= 0xD800 && c <= 0xDFFF) ? 0xFFFD : c;
    return need + 1;
}

int32_t weir_java_string_hash(const void *key, size_t len) {
    const unsigned char *p = key;
    uint32_t h = 0;
    size_t i = 0;
    while (i < len) {
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ULL) == 0)) {
            /* 8 ASCII bytes: h * 31^8 + sum p[i+k] * 31^(7-k) (mod 2^32), one multiply on the
             * dependency chain instead of eight (dedup keys are 36- or 64-byte ASCII) */
            h = h * 2487512833u + p[i] * 1742810335u + p[i + 1] * 887503681u +
                p[i + 2] * 28629151u + p[i + 3] * 923521u + p[i + 4] * 29791u + p[i + 5] * 961u +
                p[i + 6] * 31u + p[i + 7];
            i += 8;
            continue;
        }
        if (p[i] < 0x80) { /* ASCII */
            h = 31u * h + p[i++];
            continue;
        }
        uint32_t cp;
        i += utf8_next(p + i, len - i, &cp);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31u * h + (0xD800u + (cp >> 10));
            h = 31u * h + (0xDC00u + (cp & 0x3FF));
        } else {
            h = 31u * h + cp;
        }
    }
    return (int32_t)h;
}

static uint32_t rotl32(uint32_t x, int r) {
    return (x << r) | (x >> (32 - r));
}

int32_t weir_flink_murmur(int32_t code) {
    uint32_t h = (uint32_t)code;
    h *= 0xcc9e2d51u;
    h = rotl32(h, 15);
    h *= 0x1b873593u;
    h = rotl32(h, 13);
    h = h * 5u + 0xe6546b64u;
    h ^= 4u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    if (h == 0x80000000u) return 0; /* Integer.MIN_VALUE */
    int32_t s = (int32_t)h;
    return s >= 0 ? s : -s;
}

int32_t weir_key_group_of(const void *key, size_t len, int32_t max_parallelism) {
    if (max_parallelism <= 0) max_parallelism = WEIR_DEFAULT_MAX_PARALLELISM;
    return weir_flink_murmur(weir_java_string_hash(key, len)) % max_parallelism;
}

int32_t weir_subtask_for_key_group(int32_t key_group, int32_t parallelism,
                                   int32_t max_parallelism) {
    return (int32_t)((int64_t)key_group * parallelism / max_parallelism);
}

weir_kg_range weir_key_group_range(int32_t subtask, int32_t parallelism, int32_t max_parallelism) {
    weir_kg_range r;
    int64_t maxp = max_parallelism, p = parallelism, i = subtask;
    r.start = (int32_t)((i * maxp + p - 1) / p);
    r.end = (int32_t)(((i + 1) * maxp - 1) / p);
    return r;
}

int32_t weir_default_max_parallelism(int32_t parallelism) {
    int64_t n = (int64_t)parallelism + parallelism / 2;
    int64_t pow2 = 1;
    while (pow2 < n)
        pow2 <<= 1;
    if (pow2 < WEIR_DEFAULT_MAX_PARALLELISM) pow2 = WEIR_DEFAULT_MAX_PARALLELISM;
    if (pow2 > WEIR_UPPER_MAX_PARALLELISM) pow2 = WEIR_UPPER_MAX_PARALLELISM;
    return (int32_t)pow2;
}
