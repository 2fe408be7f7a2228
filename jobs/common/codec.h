/*
 * jobs/common/codec.h - SHA-256 hex and Base64, backed by OpenSSL's libcrypto (a well-kept
 * library; see docs/dependencies.md). Pure functions, thread-safe.
 */
#ifndef WEIR_JOBS_CODEC_H
#define WEIR_JOBS_CODEC_H

#include <stddef.h>

#include "weir/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Writes the lowercase hex SHA-256 of @p n bytes at @p p into @p out (65 bytes incl. NUL).
 *  Spec dedup-job.md §4.1, test vector U1. */
void wj_sha256_hex(const void *p, size_t n, char out[65]);

/** Appends standard Base64 (RFC 4648 alphabet, '=' padding, no line breaks) of @p n bytes.
 *  Spec §5.2 (payload of json_parse_error envelopes). */
void wj_base64(weir_buf *out, const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
