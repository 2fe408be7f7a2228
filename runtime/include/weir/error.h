/*
 * weir/error.h - error codes and error objects.
 *
 * Every fallible weir function returns a weir_err (WEIR_OK == 0) or NULL, and
 * fills an optional caller-owned weir_error with a human-readable message and
 * whether retrying the same operation may succeed (like librdkafka's
 * rd_kafka_error_is_retriable). Library code never calls exit().
 */
#ifndef WEIR_ERROR_H
#define WEIR_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Error codes. Negative values are never used; 0 is success. */
typedef enum weir_err {
    WEIR_OK = 0,
    WEIR_EINVAL,      /**< invalid argument, flag or configuration */
    WEIR_ENOMEM,      /**< allocation failed */
    WEIR_EIO,         /**< file or network I/O failed */
    WEIR_ENOTFOUND,   /**< key or entity not found (not always an error) */
    WEIR_EPARSE,      /**< input could not be parsed */
    WEIR_ESTATE,      /**< state backend failure */
    WEIR_EKAFKA,      /**< Kafka client failure */
    WEIR_ETIMEOUT,    /**< an operation timed out */
    WEIR_ECANCELLED,  /**< the job or operation was cancelled */
    WEIR_EUNSUPPORTED,/**< feature not supported by this build/backend */
    WEIR_EINTERNAL    /**< invariant violated: a bug */
} weir_err;

/** An error object: a code, a retriable flag and a message. Caller-owned, no heap memory. */
typedef struct weir_error {
    weir_err code;
    int retriable;  /**< 1 if retrying the same operation may succeed */
    char msg[512];  /**< NUL-terminated message, "" when code == WEIR_OK */
} weir_error;

/** Returns the constant name of a code, e.g. "WEIR_EINVAL". Thread-safe. */
const char *weir_err_name(weir_err code);

/**
 * Fills @p e (which may be NULL: then nothing happens) with @p code, @p retriable and a
 * printf-style message; returns @p code so callers can write `return weir_error_set(...)`.
 * Thread-safe (touches only @p e).
 */
weir_err weir_error_set(weir_error *e, weir_err code, int retriable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** va_list variant of weir_error_set(). */
weir_err weir_error_vset(weir_error *e, weir_err code, int retriable, const char *fmt, va_list ap);

/** Resets @p e to WEIR_OK with an empty message. NULL is accepted. */
void weir_error_clear(weir_error *e);

#ifdef __cplusplus
}
#endif
#endif
