/*
 * weir/config.h - Flink-style configuration: string keys ("execution.checkpointing.interval",
 * "parallelism.default", ...) with string values, plus typed getters that understand Flink's
 * duration ("100ms", "10 s", "1 min") and memory ("64mb") syntax.
 *
 * Thread-safety: a config is built on one thread, then only read (reads are thread-safe).
 */
#ifndef WEIR_CONFIG_H
#define WEIR_CONFIG_H

#include <stdint.h>

#include "weir/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A key/value configuration. Owns copies of all keys and values. */
typedef struct weir_config weir_config;

/** Creates an empty configuration; NULL on allocation failure. */
weir_config *weir_config_new(void);
/** Frees @p c (NULL accepted). */
void weir_config_free(weir_config *c);
/** Sets @p key to @p value (both copied; replaces an earlier value). */
weir_err weir_config_set(weir_config *c, const char *key, const char *value);
/** Parses "key=value" (the -D flag form) and sets it; WEIR_EINVAL without '=' or with empty key. */
weir_err weir_config_set_kv(weir_config *c, const char *kv, weir_error *err);
/** The value of @p key, or @p dflt when unset. Borrowed from @p c. */
const char *weir_config_get(const weir_config *c, const char *key, const char *dflt);
/** Integer value; WEIR_EINVAL (and *out untouched) if set but not an integer. */
weir_err weir_config_get_int(const weir_config *c, const char *key, int64_t dflt, int64_t *out,
                             weir_error *err);
/** Duration in ms with Flink's syntax: a number and an optional unit (ms, s, sec, min, h, d, and
 *  their long forms), spaces allowed; a bare number is ms. WEIR_EINVAL on bad syntax. */
weir_err weir_config_get_duration_ms(const weir_config *c, const char *key, int64_t dflt,
                                     int64_t *out, weir_error *err);
/** Parses a duration text as weir_config_get_duration_ms() does. */
weir_err weir_parse_duration_ms(const char *text, int64_t *out);
/** Parses a memory size ("64mb", "1 gb", "512k", bare number = bytes). */
weir_err weir_parse_bytes(const char *text, int64_t *out);
/** Visits all entries in insertion order. */
void weir_config_foreach(const weir_config *c, void (*fn)(void *ud, const char *k, const char *v),
                         void *ud);

#ifdef __cplusplus
}
#endif
#endif
