/*
 * tools/gen.h - synthetic Livepeer streaming-event generator (library API behind `weir gen`).
 *
 * Produces one event JSON line per call with the shapes and field names of the production events
 * (all seven families: ai_stream_status, stream_ingest_metrics, stream_trace,
 * network_capabilities, ai_stream_events, discovery_results, create_new_payment). Many workflow
 * sessions (stream_id + request_id) run concurrently and interleave; each follows one of the three
 * real lifecycle scenarios (clean success, no orchestrator then closed, success with swap).
 * Periodic network_capabilities snapshots describe the orchestrator pool.
 *
 * Output is a pure function of the options (same seed + same options = same bytes). A generator
 * is not thread-safe; use one per thread.
 */
#ifndef WEIR_TOOLS_GEN_H
#define WEIR_TOOLS_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "weir/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Generator options. Zero-initialise, then call weir_gen_options_default() or set fields. */
typedef struct weir_gen_options {
    uint64_t seed;             /**< PRNG seed: the output is deterministic for a seed */
    uint64_t count;            /**< events to produce; 0 = unlimited */
    double dup_fraction;       /**< [0,1]: share of lines that re-emit a recent event verbatim */
    double malformed_fraction; /**< [0,1]: share of lines that are malformed (mix of kinds) */
    int sessions;              /**< concurrent workflow sessions (>= 1; 0 → 64) */
    int orchestrators;         /**< orchestrator pool size (>= 1; 0 → 16) */
    int64_t base_ts_ms;        /**< timestamp of the first event, epoch ms (0 → 1767908945298) */
    int64_t spacing_ms;        /**< event-time step between consecutive events, ms (0 → 5) */
    int dup_window;            /**< duplicates copy one of the last N events (0 → 256) */
} weir_gen_options;

/** What the last weir_gen_next() produced. */
typedef enum weir_gen_kind {
    WEIR_GEN_VALID = 0, /**< a fresh, well-formed event */
    WEIR_GEN_DUPLICATE, /**< a verbatim copy of an earlier (valid) event */
    WEIR_GEN_MALFORMED  /**< an invalid event (see weir_gen_next) */
} weir_gen_kind;

/** Generator counters. */
typedef struct weir_gen_stats {
    uint64_t events;     /**< lines produced */
    uint64_t duplicates; /**< of which duplicates */
    uint64_t malformed;  /**< of which malformed */
} weir_gen_stats;

/** An event generator (opaque). */
typedef struct weir_gen weir_gen;

/** Fills @p o with the defaults (seed 1, unlimited count, no dups/malformed, 64 sessions, 16
 *  orchestrators, base 1767908945298 ms, spacing 5 ms). */
void weir_gen_options_default(weir_gen_options *o);

/** Creates a generator (copies @p o). Returns NULL on allocation failure or invalid options
 *  (fractions outside [0,1] or summing above 1). Free with weir_gen_free(). */
weir_gen *weir_gen_new(const weir_gen_options *o);

/**
 * Writes the next event into @p out (reset first; one JSON line without the newline; malformed
 * lines never contain '\n'). Malformed lines are one of: truncated JSON, binary garbage, invalid
 * UTF-8 inside a string, a missing required field, an unsupported type, an unsupported version,
 * or deeply nested arrays (2000 levels).
 * Returns 1 when an event was written, 0 when `count` events were already produced, -1 on
 * allocation failure. No allocation in steady state (buffers are reused).
 */
int weir_gen_next(weir_gen *g, weir_buf *out);

/** The kind of the line the last successful weir_gen_next() wrote. */
weir_gen_kind weir_gen_last_kind(const weir_gen *g);

/** Counters so far. */
weir_gen_stats weir_gen_get_stats(const weir_gen *g);

/** Frees the generator (NULL accepted). */
void weir_gen_free(weir_gen *g);

/** `weir gen ...` command entry: parses @p argv (argv[0] = "gen"), writes events to a file,
 *  stdout or Kafka, prints a JSON summary to stderr. Returns a process exit code (0 ok, 2 usage,
 *  1 runtime error). */
int weir_cmd_gen(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
