/*
 * buf.c - growable byte buffer (see weir/buf.h).
 *
 * Invariant: when cap > 0, data has cap + 1 bytes and data[len] == '\0'.
 */
#include "weir/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int weir_buf_grow(weir_buf *b, size_t extra) {
    if (b->oom) return -1;
    if (b->len + extra <= b->cap) return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < b->len + extra) ncap *= 2;
    char *nd = realloc(b->data, ncap + 1);
    if (!nd) {
        b->oom = 1;
        return -1;
    }
    b->data = nd;
    b->cap = ncap;
    b->data[b->len] = '\0';
    return 0;
}

int weir_buf_puts(weir_buf *b, const char *s) { return weir_buf_append(b, s, strlen(s)); }

int weir_buf_printf(weir_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof tmp) return weir_buf_append(b, tmp, (size_t)n);
    if (weir_buf_reserve(b, (size_t)n)) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int weir_buf_put_u64(weir_buf *b, uint64_t v) {
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return weir_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

int weir_buf_put_i64(weir_buf *b, int64_t v) {
    if (v < 0) {
        if (weir_buf_putc(b, '-')) return -1;
        return weir_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    }
    return weir_buf_put_u64(b, (uint64_t)v);
}

void weir_buf_reset(weir_buf *b) {
    b->len = 0;
    if (b->cap) b->data[0] = '\0';
}

void weir_buf_free(weir_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}
