/*
 * weir/timer.h - per-key timers of keyed operators, in event time and processing time
 * (DESIGN.md §2; Flink's TimerService). Issue #4.
 *
 * A keyed operator registers a timer for the CURRENT key (the key of the record being processed,
 * or of the timer being fired). Timers are deduplicated per (key, domain, timestamp). They are
 * stored in the operator's keyed state backend (a map state named "_timers/event" or
 * "_timers/processing": key → timestamp), so they are part of checkpoints and savepoints and are
 * redistributed by key group on restore; an in-memory queue orders them.
 *
 * Firing: an event-time timer fires when the operator's input watermark reaches or passes its
 * timestamp (before on_watermark() runs and before the watermark goes downstream, as in Flink);
 * a processing-time timer fires when the job clock reaches its timestamp (checked between input
 * elements and at least every 10 ms of idleness). The operator's on_timer() is called on its task
 * thread with the timer's key set as the current key. Timers registered for a time already
 * passed fire at the next opportunity. At end of input (MAX_WATERMARK) every event-time timer
 * fires; processing-time timers do not (Flink's behaviour on a finished input).
 *
 * Thread-safety: task thread of the operator only. Errors: WEIR_EINVAL when the operator is not
 * keyed or no current key is set; state backend errors as returned.
 */
#ifndef WEIR_TIMER_H
#define WEIR_TIMER_H

#include <stdint.h>

#include "weir/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct weir_ctx;

/** The time domain of a timer. */
typedef enum weir_time_domain {
    WEIR_TIME_EVENT = 0,     /**< fires on the input watermark */
    WEIR_TIME_PROCESSING = 1 /**< fires on the job clock (weir_ctx_now_ms) */
} weir_time_domain;

/** Registers a timer at @p ts_ms (epoch ms) for the current key (no-op if already registered). */
weir_err weir_timer_register(struct weir_ctx *ctx, weir_time_domain d, int64_t ts_ms);
/** Deletes the current key's timer at @p ts_ms (absent is not an error). */
weir_err weir_timer_delete(struct weir_ctx *ctx, weir_time_domain d, int64_t ts_ms);
/** The operator's current input watermark (ms); INT64_MIN before the first one. */
int64_t weir_ctx_current_watermark(const struct weir_ctx *ctx);
/** Number of timers currently registered on this subtask (both domains; for tests/metrics). */
uint64_t weir_timer_count(const struct weir_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
