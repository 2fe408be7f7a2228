/*
 * jobs/dedup/job.h - the quality-gate/dedup job as a weir DAG (spec dedup-job.md §1).
 *
 *   source (file splits or Kafka partitions)
 *     └─forward─► quality gate ──side "dlq"──► DLQ sinks (file row §5.4, Kafka §5.3)
 *                   └─hash(dedup key)─► dedup (keyed, TTL) ──side "quarantine"──► quarantine sinks
 *                                         └─forward─► parse + size guard ──side "dlq"──► DLQ sinks
 *                                                       └─forward─► typed-row file sink
 *                                                       └─forward─► ClickHouse sink ─"dlq"─►
 *                                                            clickhouse-dlq (→ DLQ row sinks)
 *
 * The gate runs chained to its source, so records of one split keep their order up to the keyBy
 * (first arrival wins deterministically for a single split, as in Flink).
 */
#ifndef WEIR_JOBS_DEDUP_JOB_H
#define WEIR_JOBS_DEDUP_JOB_H

#include "jobs/dedup/dedup.h"
#include "weir/weir.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What to run. Zero-initialise, then fill. Strings are borrowed for the job's lifetime. */
typedef struct dd_job_options {
    dd_config cfg;            /**< spec §11 configuration (topics, TTL, limits, prefix) */
    const char **input_files; /**< JSON-lines inputs (file mode) */
    size_t n_input_files;
    const char *kafka_bootstrap; /**< Kafka mode when non-NULL (overrides cfg.kafka_bootstrap) */
    int bounded;                 /**< Kafka: stop at the end offsets seen at start */
    const char *output_dir;      /**< typed rows + DLQ/quarantine rows as <table>.jsonl; NULL = none
                                  * (then      `clickhouse` is required: typed rows always land somewhere) */
    int32_t parallelism;         /**< dedup/parse parallelism (and Kafka source parallelism) */
    int32_t max_parallelism;     /**< 0 → Flink default */
    const weir_config *props;    /**< extra librdkafka properties (borrowed, may be NULL) */
    /** ClickHouse output (spec §8): typed rows, DLQ and quarantine rows are also inserted there
     *  when non-NULL (copied; its table_prefix is ignored: records carry prefixed names). */
    const weir_clickhouse_sink_conf *clickhouse;
    /** Jobs that reuse this DAG (jobs/session/job.h): 1 → no parse operator and no typed-row
     *  sinks (`weir run session`: the lifecycle operators consume the dedup output). */
    int no_typed_rows;
    /** Optional operator chained between the gate and the keyBy (uid DD_UID_POST_GATE, same
     *  parallelism as the source), e.g. the session job's event-time timestamp and watermark
     *  assigner. Borrowed; NULL = none. */
    const weir_operator_def *post_gate_def;
    void *post_gate_udata;
    /** The graph's job name (checkpoint/savepoint job ids derive from it); NULL → "dedup". */
    const char *job_name;
} dd_job_options;

/** A built dedup job: the graph and the connector configurations it points to. */
typedef struct dd_job dd_job;

/** Builds the DAG for @p o (copied). NULL with @p err set on a bad option. */
dd_job *dd_job_new(const dd_job_options *o, weir_error *err);
/** The job graph (owned by @p j). */
weir_graph *dd_job_graph(dd_job *j);
/**
 * Appends the one-line JSON summary of a finished run (issue #2): job, records_in, accepted,
 * dlq, quarantine, rows (table → count), elapsed_ms, records_per_s.
 */
void dd_job_summary(dd_job *j, weir_metrics *m, int64_t elapsed_ms, weir_buf *out);
/**
 * For jobs that extend this DAG: adds a ClickHouse sink (this job's connection settings) fed by
 * output @p tag (NULL = main) of vertex @p from, with parallelism @p p, plus its DLQ chain (rows
 * the server refuses → streaming_events_dlq rows → ClickHouse and, with an output directory,
 * the DLQ file). Uids are prefixed by @p prefix. No-op without ClickHouse. Returns 0, or -1 with
 * @p err set.
 */
int dd_job_add_clickhouse_rows(dd_job *j, const char *prefix, int from, const char *tag, int32_t p,
                               weir_error *err);
/** Frees the job (after the weir_job using its graph has been freed); flushes Kafka sinks. */
void dd_job_free(dd_job *j);

/** The dedup key state's name (column family) and the operator uids, for tools and tests. */
#define DD_STATE_NAME "dedup-keys"
#define DD_UID_SOURCE "source"
#define DD_UID_GATE "quality-gate"
#define DD_UID_DEDUP "dedup"
#define DD_UID_PARSE "parse"
#define DD_UID_POST_GATE "event-time"

#ifdef __cplusplus
}
#endif
#endif
