/*
 * weir/log.h - one-line log events on stderr: time, level, job/operator/subtask when known.
 * Thread-safe (each line is written with a single write()).
 */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/** Log levels, most to least severe. */
typedef enum weir_log_level { WEIR_LOG_ERROR = 0, WEIR_LOG_WARN, WEIR_LOG_INFO, WEIR_LOG_DEBUG } weir_log_level;

/** Sets the process-wide threshold (default WARN; env WEIR_LOG_LEVEL=error|warn|info|debug). */
void weir_log_set_level(weir_log_level lvl);
/** 1 if @p lvl would be printed. */
int weir_log_enabled(weir_log_level lvl);
/** Writes one line: `<iso time> <LEVEL> [<where>] <message>`; @p where may be NULL. */
void weir_log(weir_log_level lvl, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
