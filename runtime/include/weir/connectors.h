/*
 * weir/connectors.h - built-in sources and sinks (implemented in operators/):
 * Kafka source and sink (librdkafka), the embedded Kafka (librdkafka's mock cluster),
 * JSON-lines file source and sink. DESIGN.md §5.
 *
 * Each connector is a weir_operator_def plus a configuration struct passed as the vertex's udata.
 * The configuration must outlive the job; connectors keep shared resources (a producer, open
 * files) inside it, guarded for concurrent use by the subtasks.
 */
#ifndef WEIR_CONNECTORS_H
#define WEIR_CONNECTORS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/error.h"
#include "weir/operator.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEIR_MAX_TOPICS 32

/* ------------------------------------------------------------------ Kafka source */

/** Where a Kafka source starts when it has no restored offsets. */
typedef enum weir_kafka_start {
    WEIR_KAFKA_START_EARLIEST = 0,
    WEIR_KAFKA_START_LATEST,
    WEIR_KAFKA_START_OFFSETS /**< explicit offsets from `offsets` (others: earliest) */
} weir_kafka_start;

/** An explicit start offset for one partition. */
typedef struct weir_kafka_offset {
    char topic[256];
    int32_t partition;
    int64_t offset;
} weir_kafka_offset;

/**
 * Kafka source configuration (udata of weir_kafka_source_def). Partitions of all topics are
 * discovered at open and assigned manually: partition p of topic t goes to subtask
 * ((javaHash(t) * 31 & 0x7fffffff) % parallelism + p) % parallelism, as Flink's KafkaSource does.
 * Each subtask keeps topic/partition → next offset as its source state (snapshot_state()).
 * Records: value = message value (NULL for tombstones), key = message key, origin = topic,
 * partition, offset, message timestamp.
 */
typedef struct weir_kafka_source_conf {
    char bootstrap[512];
    char topics[WEIR_MAX_TOPICS][256];
    int n_topics;
    char group_id[256];              /**< used only to commit offsets for monitoring */
    weir_kafka_start start;
    weir_kafka_offset *offsets;      /**< for WEIR_KAFKA_START_OFFSETS (borrowed) */
    size_t n_offsets;
    int bounded;                     /**< 1 → stop at the end offsets seen at open() */
    const weir_config *props;        /**< extra librdkafka properties (borrowed, may be NULL) */
    int64_t metadata_timeout_ms;     /**< 0 → 10000; open() fails when the cluster is unreachable */
} weir_kafka_source_conf;

/** The Kafka source operator. */
extern const weir_operator_def weir_kafka_source_def;

/* -------------------------------------------------------------------- Kafka sink */

/**
 * Kafka sink configuration (udata of weir_kafka_sink_def). Produces each record's value
 * (and key, if any) to `topic`. One producer is shared by all subtasks of all vertices that use
 * this conf (created on first open, destroyed by weir_kafka_sink_conf_cleanup). Flushes on every
 * checkpoint barrier and at end of input (at-least-once); a delivery failure fails the job.
 */
typedef struct weir_kafka_sink_conf {
    char bootstrap[512];
    char topic[256];
    const weir_config *props;        /**< extra librdkafka properties (borrowed, may be NULL) */
    /* internal, zero-initialise: */
    pthread_mutex_t lock;
    int lock_init;
    void *producer;                  /**< rd_kafka_t* */
    int users;
    int64_t delivered, failed;
} weir_kafka_sink_conf;

/** The Kafka sink operator. */
extern const weir_operator_def weir_kafka_sink_def;
/** Flushes and destroys the shared producer (if any). Safe to call twice. */
void weir_kafka_sink_conf_cleanup(weir_kafka_sink_conf *c);

/* ---------------------------------------------------------------- embedded Kafka */

/** An embedded Kafka cluster (librdkafka mock cluster) running in this process. */
typedef struct weir_embedded_kafka weir_embedded_kafka;

/** Starts a mock cluster with @p brokers brokers on random loopback ports. NULL on failure. */
weir_embedded_kafka *weir_embedded_kafka_start(int brokers, weir_error *err);
/** The bootstrap servers, e.g. "127.0.0.1:39123" (borrowed). */
const char *weir_embedded_kafka_bootstrap(const weir_embedded_kafka *k);
/** Creates @p topic with @p partitions partitions (replication 1). */
weir_err weir_embedded_kafka_create_topic(weir_embedded_kafka *k, const char *topic, int partitions,
                                          weir_error *err);
/** Stops the cluster and frees it (NULL accepted). Clients must be destroyed first. */
void weir_embedded_kafka_stop(weir_embedded_kafka *k);

/* ------------------------------------------------------------- JSON-lines files */

/**
 * JSON-lines file source configuration (udata of weir_file_source_def). Each file is one split;
 * splits go round-robin to subtasks. Emits one record per line (without the line terminator;
 * "\r\n" also accepted; empty lines included as empty values; lines of any length). origin = {origin_topic (or the
 * path when empty), partition 0, offset = 0-based line number, record_ts = -1}.
 * Bounded: poll() reports END after the last line. A missing/unreadable file fails open().
 */
typedef struct weir_file_source_conf {
    const char **paths;              /**< borrowed */
    size_t n_paths;
    char origin_topic[256];
} weir_file_source_conf;

/** The JSON-lines file source operator. */
extern const weir_operator_def weir_file_source_def;

/**
 * JSON-lines file sink configuration (udata of weir_file_sink_def). Each record's key names
 * the file: value + "\n" is appended to `<dir>/<key><suffix>` (suffix default ".jsonl"). All
 * subtasks and vertices using this conf share one open file per key (guarded by a mutex;
 * each subtask buffers locally and appends whole lines). Counts rows per key in the job counter
 * "rows.<key>". Keys must match [A-Za-z0-9_.-]+ (WEIR_EINVAL otherwise).
 */
typedef struct weir_file_sink_conf {
    char dir[1024];
    char suffix[32];
    const char *const *precreate;    /**< NULL-terminated keys whose files are created at open */
    /* internal, zero-initialise: */
    pthread_mutex_t lock;
    int lock_init;
    void *files;                     /**< internal registry */
} weir_file_sink_conf;

/** The JSON-lines file sink operator. */
extern const weir_operator_def weir_file_sink_def;
/** Closes all files of @p c. Safe to call twice. */
void weir_file_sink_conf_cleanup(weir_file_sink_conf *c);

#ifdef __cplusplus
}
#endif
#endif
