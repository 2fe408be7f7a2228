/*
 * weir/clock.h - the clocks weir reads: monotonic time for durations and timeouts, wall time for
 * timestamps, and absolute deadlines for pthread_cond_timedwait. In milliseconds, except the two
 * nanosecond readings used to account task time.
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
/** Monotonic time in ns (CLOCK_MONOTONIC): for measuring short durations (task time metrics). */
int64_t weir_mono_ns(void);
/** CPU time consumed by the calling thread, in ns (CLOCK_THREAD_CPUTIME_ID). */
int64_t weir_thread_cpu_ns(void);
/** Wall-clock time in epoch ms (CLOCK_REALTIME): for timestamps shown to users. */
int64_t weir_wall_ms(void);
/** The CLOCK_REALTIME instant @p ms milliseconds from now (>= 0), as pthread_cond_timedwait
 *  expects it. */
struct timespec weir_deadline_after_ms(int64_t ms);

#ifdef __cplusplus
}
#endif
#endif
