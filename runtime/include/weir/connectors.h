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
    /** Per-topic start (EARLIEST or LATEST) for topics[i], used instead of `start` when
     *  per_topic_start is 1 (spec dedup-job.md Appendix A, QUALITY_TOPIC_RESET_STRATEGY_MAP). */
    int per_topic_start;
    weir_kafka_start topic_start[WEIR_MAX_TOPICS];
    weir_kafka_offset *offsets;      /**< for WEIR_KAFKA_START_OFFSETS (borrowed) */
    size_t n_offsets;
    int bounded;                     /**< 1 → stop at the end offsets seen at open() */
    const weir_config *props;        /**< extra librdkafka properties (borrowed, may be NULL) */
    int64_t metadata_timeout_ms;     /**< 0 → 10000; open() fails when the cluster is unreachable */
} weir_kafka_source_conf;

/** The Kafka source operator. */
extern const weir_operator_def weir_kafka_source_def;

/* -------------------------------------------------------------------- Kafka sink */

/** Delivery guarantee of a Kafka sink (Flink's `sink.delivery-guarantee`). */
typedef enum weir_kafka_delivery {
    /** Taken from the job configuration key `sink.delivery-guarantee` (`at-least-once`,
     *  `exactly-once`, `none` = at-least-once); unset → at-least-once. */
    WEIR_KAFKA_DELIVERY_DEFAULT = 0,
    WEIR_KAFKA_DELIVERY_AT_LEAST_ONCE,
    /** Transactions committed on checkpoint completion; only when the job takes checkpoints
     *  (weir_ctx_checkpointing()), otherwise the sink falls back to at-least-once. */
    WEIR_KAFKA_DELIVERY_EXACTLY_ONCE
} weir_kafka_delivery;

/** Default commit-marker topic of the exactly-once Kafka sink. */
#define WEIR_KAFKA_SINK_COMMIT_TOPIC "__weir_sink_commits"

/**
 * Kafka sink configuration (udata of weir_kafka_sink_def). Produces each record's value
 * (and key, if any) to `topic`.
 *
 * At-least-once (default): one producer is shared by all subtasks of all vertices that use
 * this conf (created on first open, destroyed by weir_kafka_sink_conf_cleanup). Flushes on every
 * checkpoint barrier and at end of input; a delivery failure fails the job.
 *
 * Exactly-once (`delivery_guarantee`, or `-D sink.delivery-guarantee=exactly-once`, with
 * checkpointing): one transactional producer per subtask, transactional.id
 * `<prefix>-<operator uid>-<subtask>`; the records between two barriers form one transaction,
 * kept in the operator state until it is committed, which happens when the checkpoint completes,
 * together with a commit marker written to `commit_topic` in the same transaction. On restore
 * the markers decide per pending transaction: re-commit or skip (docs/checkpoints.md, "Kafka
 * sink exactly-once"). The commit topic must exist (or be auto-created by the brokers).
 */
typedef struct weir_kafka_sink_conf {
    char bootstrap[512];
    char topic[256];
    const weir_config *props;        /**< extra librdkafka properties (borrowed, may be NULL) */
    weir_kafka_delivery delivery_guarantee; /**< see weir_kafka_delivery */
    /** Exactly-once: transactional.id prefix; "" → job configuration key
     *  `sink.transactional-id-prefix`, unset → "weir". Must be unique per job and sink topic
     *  owner: two jobs with the same prefix and operator uid fence each other (fatal error). */
    char transactional_id_prefix[128];
    /** Exactly-once: commit-marker topic; "" → job configuration key
     *  `sink.exactly-once.commit-topic`, unset → WEIR_KAFKA_SINK_COMMIT_TOPIC. */
    char commit_topic[256];
    /** Exactly-once: 1 → every data record carries the header `weir.txn` = the id of the
     *  transaction that wrote it, also stored in that transaction's commit marker, so that an
     *  auditor (or a test against a cluster that does not hide aborted records) can tell which
     *  copies were committed. 0 (default) → no headers. */
    int txn_header;
    /* internal, zero-initialise: */
    pthread_mutex_t lock;
    int lock_init;
    void *producer;                  /**< rd_kafka_t* (at-least-once) */
    int users;
    int64_t delivered, failed;
} weir_kafka_sink_conf;

/** The Kafka sink operator. */
extern const weir_operator_def weir_kafka_sink_def;
/** Flushes and destroys the shared producer (if any). Safe to call twice. */
void weir_kafka_sink_conf_cleanup(weir_kafka_sink_conf *c);

/** Parses a delivery guarantee name (`at-least-once`, `exactly-once`, `none`; case-insensitive,
 *  '_' accepted for '-'). Returns WEIR_OK or WEIR_EINVAL (then *out is unchanged). */
weir_err weir_kafka_delivery_parse(const char *text, weir_kafka_delivery *out);

/** One commit marker of the exactly-once Kafka sink as read back from the commit topic: the
 *  transactional id it was written under, the lineage (a random id of the sink subtask attempt
 *  whose operator state holds the transaction) and the checkpoint it commits. */
typedef struct weir_kafka_tx_marker {
    char tid[256];
    char lineage[40];
    int64_t checkpoint_id;
} weir_kafka_tx_marker;

/** What a restored sink subtask does with one pending transaction of the operator state. */
typedef enum weir_kafka_tx_decision {
    WEIR_KAFKA_TX_RECOMMIT = 1, /**< no marker proves it committed: send it again and commit */
    WEIR_KAFKA_TX_SKIP          /**< a marker of the same tid and lineage with a checkpoint id >=
                                 *   its checkpoint exists: it (or a later one, which implies it)
                                 *   was committed */
} weir_kafka_tx_decision;

/**
 * The restore decision for the transaction of checkpoint @p checkpoint_id, pending in the state
 * of the subtask attempt (@p tid, @p lineage), given the committed markers @p m (@p n of them, any
 * order, of any subtask and job). Markers of another tid or lineage are ignored: commits of one
 * (tid, lineage) happen in increasing checkpoint order, so a marker >= @p checkpoint_id means
 * committed. Pure function; thread-safe.
 */
weir_kafka_tx_decision weir_kafka_sink_tx_decide(const char *tid, const char *lineage,
                                                 int64_t checkpoint_id,
                                                 const weir_kafka_tx_marker *m, size_t n);

/**
 * 1 when new subtask @p subtask (of @p parallelism) takes over the transactional id of old
 * subtask @p old_subtask after a restore: old k goes to new k % parallelism, so every old id
 * (also those beyond the new parallelism) is fenced and recovered by exactly one new subtask.
 * Pure function; thread-safe.
 */
int weir_kafka_sink_tx_owns(int32_t old_subtask, int32_t subtask, int32_t parallelism);

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

/* ---------------------------------------------------------------- ClickHouse sink */

/** Side-output tag on which the ClickHouse sink emits rows it could not write (see below). */
#define WEIR_CLICKHOUSE_DLQ_TAG "dlq"

/**
 * ClickHouse sink configuration (udata of weir_clickhouse_sink_def; spec dedup-job.md §7, §8,
 * §11; docs/clickhouse.md). Records: key = table name (without database; `table_prefix` is
 * prepended), value = one JSONEachRow line without the trailing newline. Each subtask keeps one
 * open batch per table and sends `INSERT INTO <database>.<prefix><table> FORMAT JSONEachRow`
 * over HTTP POST with a libcurl multi handle, so up to `max_in_flight` requests are in flight
 * while the task thread keeps processing.
 *
 * Limits (0 → default): a batch is sealed at `max_batch_rows` rows (1000), `max_batch_bytes`
 * body bytes (5 000 000) or when its first row is `max_time_ms` old (1000; checked whenever the
 * sink is called: records, watermarks, barriers). At most `max_buffered` rows (10 000) are held
 * per subtask (open + queued + in flight + waiting for retry); beyond that process() blocks
 * (backpressure) until acknowledgements free room. Nothing is ever dropped silently.
 *
 * Failures: connection errors, timeouts, HTTP 5xx without a data-error code and a few
 * overload codes are transient: the batch is retried with exponential backoff
 * (`retry_initial_ms` 100 doubling up to `retry_max_ms` 10 000, ±25 % jitter), each retry logged
 * at WARN, forever unless `retry_timeout_ms` > 0 (then the job fails). Errors about the data
 * (`Code: NNN` of a parse/type error, any 4xx with a code) are permanent: the batch is split in
 * halves and re-sent until the offending rows are isolated; each rejected row is emitted on the
 * side output WEIR_CLICKHOUSE_DLQ_TAG. Configuration errors (unknown table/database, auth,
 * unknown setting) fail the job. Rows larger than `max_record_bytes` (1 000 000) or containing a
 * raw newline go to the same side output before batching (§7.2).
 *
 * The DLQ side-output record: key = table name (as received), value = a JSON document
 * {"table","stage","failureClass","reason","details","source":{"topic","partition","offset",
 * "recordTimestamp"},"row"} where stage/class/reason are CLICKHOUSE_SINK/DLQ_SINK_WRITE/
 * sink_write_failed with details "Table <table>: <server message>" for rejected rows, and
 * SINK_GUARD/RECORD_TOO_LARGE/record_too_large with "Row size <n> exceeds limit <limit>" for
 * oversized rows (§5.2); `row` is the row text; source is the record's origin.
 * weir_clickhouse_dlq_row() turns it into a streaming_events_dlq row (§5.4). When no edge is
 * connected to that tag a rejected row fails the job.
 *
 * snapshot_state() (checkpoint barrier) and end_input() send every open batch and wait until all
 * are acknowledged, so a completed checkpoint means its rows are in ClickHouse (at-least-once).
 * A re-sent batch may duplicate rows; the schema's ReplacingMergeTree keys collapse them
 * (`FINAL`). With `dedup_token` = 1 each request carries insert_deduplication_token (ClickHouse
 * >= 22.x; 18.16 rejects the setting). Counters: clickhouse.<table>.rows, .batches, .retries,
 * .failed_rows, .oversize_rows, and clickhouse.backpressure_waits.
 *
 * The conf is read-only while a job runs (shared by all subtasks); it holds no resources.
 */
typedef struct weir_clickhouse_sink_conf {
    char url[512];                /**< HTTP endpoint, e.g. "http://127.0.0.1:8123" */
    char database[128];           /**< "" → "default" */
    char user[128];               /**< "" → no authentication headers */
    char password[128];
    char table_prefix[64];        /**< prepended to every record key, e.g. "raw_" */
    char settings[512];           /**< extra URL query settings "k=v&k2=v2" (may be "") */
    int64_t max_batch_rows;       /**< CLICKHOUSE_SINK_MAX_BATCH_SIZE, rows; 0 → 1000 */
    int64_t max_batch_bytes;      /**< CLICKHOUSE_SINK_MAX_BATCH_BYTES, bytes; 0 → 5000000 */
    int64_t max_time_ms;          /**< CLICKHOUSE_SINK_MAX_TIME_MS, ms; 0 → 1000 */
    int64_t max_buffered;         /**< CLICKHOUSE_SINK_MAX_BUFFERED, rows; 0 → 10000 */
    int64_t max_in_flight;        /**< CLICKHOUSE_SINK_MAX_IN_FLIGHT, requests; 0 → 2 */
    int64_t max_record_bytes;     /**< CLICKHOUSE_SINK_MAX_RECORD_BYTES, bytes; 0 → 1000000 */
    int64_t request_timeout_ms;   /**< per HTTP request, ms; 0 → 30000 */
    int64_t retry_initial_ms;     /**< first backoff, ms; 0 → 100 */
    int64_t retry_max_ms;         /**< backoff cap, ms; 0 → 10000 */
    int64_t retry_timeout_ms;     /**< give up (fail the job) after retrying this long; 0 → never */
    int dedup_token;              /**< 1 → send insert_deduplication_token (ClickHouse >= 22) */
} weir_clickhouse_sink_conf;

/** The ClickHouse sink operator (see weir_clickhouse_sink_conf). */
extern const weir_operator_def weir_clickhouse_sink_def;

/**
 * Fills @p c with the defaults, then with the spec's variables (§11): CLICKHOUSE_URL (default
 * "http://clickhouse:8123"), CLICKHOUSE_USER ("analytics_user"), CLICKHOUSE_PASSWORD
 * ("analytics_password"), CLICKHOUSE_DATABASE (derived from the URL, fallback
 * "livepeer_analytics"), CLICKHOUSE_SINK_MAX_* (unset, empty or unparsable → default).
 * @p lookup returns a variable's value or NULL; NULL → getenv(). Never fails.
 */
void weir_clickhouse_sink_conf_from_env(weir_clickhouse_sink_conf *c,
                                        const char *(*lookup)(void *ud, const char *name),
                                        void *ud);

/** The database derived from a URL by the §11 rule (text after the last '/' unless that '/' is
 *  first or last or the rest holds '?' or ':'; else "livepeer_analytics"), into @p out. */
void weir_clickhouse_database_from_url(const char *url, char *out, size_t out_size);

/**
 * Builds a streaming_events_dlq row (spec §5.4 column order, one line, no newline) from the
 * value of a DLQ side-output record of the ClickHouse sink, appending it to @p out:
 * schema_version "v1", source_* from the document's source (record timestamp or @p now_ms when
 * unknown), event_id/event_type from the row's "raw_json" event when it is a whole event (else
 * ""), failure_* from the document, payload_encoding "json", payload_body = the row's raw_json
 * when present (replayable for single-row tables), else the row text, ingestion_timestamp =
 * @p now_ms. Returns WEIR_OK, WEIR_EPARSE if @p doc is not such a document, WEIR_ENOMEM.
 * Thread-safe (no shared state).
 */
weir_err weir_clickhouse_dlq_row(const char *doc, size_t len, int64_t now_ms, weir_buf *out,
                                 weir_error *err);

#ifdef __cplusplus
}
#endif
#endif
