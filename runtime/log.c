/*
 * log.c - one-line log events on stderr (see weir/log.h). The level threshold is a process-wide
 * atomic, initialised from WEIR_LOG_LEVEL on first use.
 */
#include "weir/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = -1;

static int current_level(void) {
    int l = atomic_load(&g_level);
    if (l >= 0) return l;
    const char *e = getenv("WEIR_LOG_LEVEL");
    l = WEIR_LOG_WARN;
    if (e) {
        if (!strcasecmp(e, "error"))
            l = WEIR_LOG_ERROR;
        else if (!strcasecmp(e, "info"))
            l = WEIR_LOG_INFO;
        else if (!strcasecmp(e, "debug"))
            l = WEIR_LOG_DEBUG;
    }
    atomic_store(&g_level, l);
    return l;
}

void weir_log_set_level(weir_log_level lvl) {
    atomic_store(&g_level, (int)lvl);
}

int weir_log_enabled(weir_log_level lvl) {
    return (int)lvl <= current_level();
}

void weir_log(weir_log_level lvl, const char *where, const char *fmt, ...) {
    if (!weir_log_enabled(lvl)) return;
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s%s%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), names[lvl], where ? "[" : "", where ? where : "",
                     where ? "] " : "");
    if (n < 0 || (size_t)n >= sizeof line) n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(2, line, len);
    (void)w;
}
