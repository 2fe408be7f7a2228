/*
 * weir/metrics.h - named counters shared by all subtasks of a job (DESIGN.md §7).
 *
 * A counter is an atomic 64-bit integer identified by name (e.g. "quality_gate.input",
 * "rows.ai_stream_status"); all subtasks that ask for the same name get the same counter, so
 * the value is the job-wide total. Registration takes a lock; increments are lock-free and go to
 * a per-thread cache line of the counter (a striped counter, as Java's LongAdder), so task
 * threads counting every record do not contend; a read sums the stripes.
 */
#ifndef WEIR_METRICS_H
#define WEIR_METRICS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A registry of counters; owned by a job. */
typedef struct weir_metrics weir_metrics;
/** One counter; owned by its registry, valid for the registry's lifetime. */
typedef struct weir_counter weir_counter;

/** Creates an empty registry (NULL on allocation failure). */
weir_metrics *weir_metrics_new(void);
/** Frees the registry and its counters (NULL accepted). */
void weir_metrics_free(weir_metrics *m);
/** Returns the counter @p name, creating it at 0. NULL only on allocation failure. Thread-safe. */
weir_counter *weir_metrics_counter(weir_metrics *m, const char *name);
/** Adds @p n (may be negative). Lock-free, thread-safe, no contention between threads in the
 *  common case (each thread adds to its own stripe). NULL is accepted (no-op). */
void weir_counter_add(weir_counter *c, int64_t n);
/** Current value: the sum of the stripes. Thread-safe; exact once the adding threads have been
 *  joined, otherwise some interleaving of the concurrent increments. */
int64_t weir_counter_get(const weir_counter *c);
/** Value of counter @p name, 0 if it does not exist. Thread-safe. */
int64_t weir_metrics_value(weir_metrics *m, const char *name);
/** Visits counters in registration order. Thread-safe (holds the registry lock). */
void weir_metrics_foreach(weir_metrics *m, void (*fn)(void *ud, const char *name, int64_t v),
                          void *ud);

#ifdef __cplusplus
}
#endif
#endif
