/*
 * weir/clock.h - the clocks weir reads: monotonic time for durations and timeouts, wall time for
 * timestamps, and absolute deadlines for pthread_cond_timedwait. All in milliseconds.
 * Thread-safe (no state).
 */
#ifndef WEIR_CLOCK_H
#define WEIR_CLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Monotonic time in ms (CLOCK_MONOTONIC): for durations, timeouts and rate limits. */
int64_t weir_mono_ms(void);
/** Wall-clock time in epoch ms (CLOCK_REALTIME): for timestamps shown to users. */
int64_t weir_wall_ms(void);
/** The CLOCK_REALTIME instant @p ms milliseconds from now (>= 0), as pthread_cond_timedwait
 *  expects it. */
struct timespec weir_deadline_after_ms(int64_t ms);

#ifdef __cplusplus
}
#endif
#endif
