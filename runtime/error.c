/*
 * error.c - weir_error objects (see weir/error.h). No global state.
 */
#include "weir/error.h"

#include <stdio.h>
#include <string.h>

const char *weir_err_name(weir_err code) {
    switch (code) {
    case WEIR_OK: return "WEIR_OK";
    case WEIR_EINVAL: return "WEIR_EINVAL";
    case WEIR_ENOMEM: return "WEIR_ENOMEM";
    case WEIR_EIO: return "WEIR_EIO";
    case WEIR_ENOTFOUND: return "WEIR_ENOTFOUND";
    case WEIR_EPARSE: return "WEIR_EPARSE";
    case WEIR_ESTATE: return "WEIR_ESTATE";
    case WEIR_EKAFKA: return "WEIR_EKAFKA";
    case WEIR_ETIMEOUT: return "WEIR_ETIMEOUT";
    case WEIR_ECANCELLED: return "WEIR_ECANCELLED";
    case WEIR_EUNSUPPORTED: return "WEIR_EUNSUPPORTED";
    case WEIR_EINTERNAL: return "WEIR_EINTERNAL";
    }
    return "WEIR_E?";
}

weir_err weir_error_vset(weir_error *e, weir_err code, int retriable, const char *fmt, va_list ap) {
    if (!e) return code;
    e->code = code;
    e->retriable = retriable;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return code;
}

weir_err weir_error_set(weir_error *e, weir_err code, int retriable, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    weir_error_vset(e, code, retriable, fmt, ap);
    va_end(ap);
    return code;
}

void weir_error_clear(weir_error *e) {
    if (!e) return;
    e->code = WEIR_OK;
    e->retriable = 0;
    e->msg[0] = '\0';
}
