/*
 * weir/buf.h - growable byte buffer used by encoders (JSON rows, envelopes, batches).
 *
 * Invariant: data[len] == '\0' whenever cap > 0, so the content can be used as a C string
 * when it holds text. Growth is geometric; a buffer is reused across records by
 * weir_buf_reset(), so steady-state hot paths do not allocate.
 */
#ifndef WEIR_BUF_H
#define WEIR_BUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A growable buffer. Zero-initialise ({0}) before first use; owns `data`. Not thread-safe. */
typedef struct weir_buf {
    char *data; /**< heap memory owned by the buffer; NULL until first append */
    size_t len; /**< bytes used (bytes) */
    size_t cap; /**< bytes allocated, excluding the terminating NUL slot */
    int oom;    /**< set to 1 when an allocation failed; later appends are no-ops */
} weir_buf;

/** Slow path of weir_buf_reserve(): grows the allocation. */
int weir_buf_grow(weir_buf *b, size_t extra);
/** Ensures room for @p extra more bytes. Returns 0, or -1 on allocation failure (sets oom). */
static inline int weir_buf_reserve(weir_buf *b, size_t extra) {
    if (b->cap && b->len + extra <= b->cap && !b->oom) return 0; /* cap 0: no memory yet */
    return weir_buf_grow(b, extra);
}
/** Appends @p n bytes. Returns 0 or -1 (oom). */
static inline int weir_buf_append(weir_buf *b, const void *p, size_t n) {
    if (weir_buf_reserve(b, n)) return -1;
    if (n) __builtin_memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}
/** Appends a NUL-terminated string. Returns 0 or -1. */
int weir_buf_puts(weir_buf *b, const char *s);
/** Appends one byte. Returns 0 or -1. */
static inline int weir_buf_putc(weir_buf *b, char c) {
    return weir_buf_append(b, &c, 1);
}
/** Appends printf-formatted text. Returns 0 or -1. */
int weir_buf_printf(weir_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Appends the decimal text of a signed 64-bit integer. */
int weir_buf_put_i64(weir_buf *b, int64_t v);
/** Appends the decimal text of an unsigned 64-bit integer. */
int weir_buf_put_u64(weir_buf *b, uint64_t v);
/** Sets len to 0 (keeps memory). */
void weir_buf_reset(weir_buf *b);
/** Frees memory and zeroes the struct. */
void weir_buf_free(weir_buf *b);

#ifdef __cplusplus
}
#endif
#endif
