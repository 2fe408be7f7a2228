/*
 * timers.h - the per-subtask timer service behind weir/timer.h (internal; DESIGN.md §2).
 *
 * Data structure: per time domain, a binary min-heap of (timestamp, key group, key) in memory,
 * and the durable copy in a keyed map state of the subtask's backend ("_timers/event",
 * "_timers/processing": key → {8-byte big-endian timestamp → ""}). The map state is the truth:
 * a heap entry whose map entry is gone (deleted timer) is skipped when popped, and re-registering
 * an existing timer adds no heap entry. The states are registered on the first timer or found
 * at restore (wtimers_restore rebuilds the heaps from them), so timers are checkpointed,
 * savepointed and redistributed by key group with the rest of the keyed state.
 * Thread-safety: the owning task thread only.
 */
#ifndef WEIR_TIMERS_H
#define WEIR_TIMERS_H

#include <stdint.h>

#include "weir/error.h"
#include "weir/state.h"
#include "weir/timer.h"

typedef struct wtimers wtimers;

/** Creates an empty timer service over @p be (borrowed). NULL on OOM. */
wtimers *wtimers_new(weir_state_backend *be);
/** Frees the service (not the backend). NULL accepted. */
void wtimers_free(wtimers *t);
/** Rebuilds the heaps from restored timer states, if the backend has any. */
weir_err wtimers_restore(wtimers *t, weir_error *err);
/** Registers a timer for the backend's current key. WEIR_EINVAL without a current key. */
weir_err wtimers_register(wtimers *t, weir_time_domain d, int64_t ts_ms);
/** Deletes the current key's timer at @p ts_ms. */
weir_err wtimers_delete(wtimers *t, weir_time_domain d, int64_t ts_ms);
/** The earliest registered timestamp of domain @p d, INT64_MAX if none (may be a deleted one). */
int64_t wtimers_next(const wtimers *t, weir_time_domain d);
/** Fire callback: the timer's key is already the backend's current key. */
typedef weir_err (*wtimers_fire_fn)(void *ud, weir_time_domain d, int64_t ts_ms, const void *key,
                                    size_t key_len);
/** Fires (in timestamp order) every timer of domain @p d with timestamp <= @p upto_ms, removing
 *  each before its callback (a callback may register new timers; those due fire too). Returns
 *  the first callback/state error. */
weir_err wtimers_advance(wtimers *t, weir_time_domain d, int64_t upto_ms, wtimers_fire_fn fn,
                         void *ud);
/** Live + stale heap entries over both domains (upper bound of registered timers). */
uint64_t wtimers_count(const wtimers *t);

#endif
