/*
 * tools/bench_job.h - one measured job run for `weir bench` (tools/bench_job.c): start a graph,
 * wait for its end, and take the wall-clock and CPU time it used. Shared by the dedup, session
 * and checkpoint benchmarks so that they all measure the same way.
 */
#ifndef WEIR_TOOLS_BENCH_JOB_H
#define WEIR_TOOLS_BENCH_JOB_H

#include <sys/resource.h>

#include "weir/weir.h"

/** Monotonic time in seconds. */
double weir_bench_wall_s(void);
/** User plus system CPU time of @p ru, in seconds. */
double weir_bench_rusage_cpu_s(const struct rusage *ru);
/** CPU time of the whole process (every thread: tasks, librdkafka, RocksDB), in seconds. */
double weir_bench_cpu_s(void);

/** A finished measured run. */
typedef struct weir_bench_run {
    weir_job *job;        /**< the ended job, its metrics readable; the caller frees it */
    double wall_s, cpu_s; /**< from just before weir_job_start() to the end of weir_job_wait() */
} weir_bench_run;

/**
 * Runs @p g with @p jo to its end (a bounded job). Returns 0 with @p run filled, or -1 after
 * printing "weir bench: <what> failed: <message>" to stderr (run->job is then NULL and nothing
 * is left to free). Calls sync() first, so that no earlier step's page-cache writeback runs
 * during the measurement.
 */
int weir_bench_run_job(weir_graph *g, const weir_job_options *jo, const char *what,
                       weir_bench_run *run);

#endif
