/*
 * weir/element.h - stream elements and record batches (DESIGN.md §2).
 *
 * Elements flowing between tasks: records, watermarks, checkpoint barriers and end-of-input.
 * Records travel in batches: a weir_batch is one contiguous arena holding N record headers and
 * their bytes, so moving a batch between threads is a pointer hand-off and filling one does not
 * allocate once it has grown (batches are recycled by their channel).
 */
#ifndef WEIR_ELEMENT_H
#define WEIR_ELEMENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** "No timestamp" marker for weir_record.timestamp_ms (Flink's Long.MIN_VALUE). */
#define WEIR_NO_TIMESTAMP INT64_MIN

/** Where a record came from in its source split (Kafka topic/partition/offset, or file/line). */
typedef struct weir_origin {
    const char *topic;     /**< topic or file name; NULL when unknown */
    uint32_t topic_len;
    int32_t partition;     /**< Kafka partition, 0 for files, -1 when unknown */
    int64_t offset;        /**< Kafka offset or 0-based line number, -1 when unknown */
    int64_t record_ts;     /**< Kafka record timestamp ms, -1 when none */
} weir_origin;

/**
 * One record. All pointers are borrowed: valid only during the call that received the record
 * (copy what you keep). `value == NULL` is an absent value (Kafka tombstone), distinct from an
 * empty value (value != NULL, value_len == 0).
 */
typedef struct weir_record {
    const uint8_t *key;    /**< partitioning/state key bytes, NULL if none */
    uint32_t key_len;
    const uint8_t *value;  /**< payload bytes, NULL = absent */
    uint32_t value_len;
    int64_t timestamp_ms;  /**< event time (ms since epoch) or WEIR_NO_TIMESTAMP */
    int32_t key_group;     /**< set by the runtime on keyed inputs, -1 otherwise */
    weir_origin origin;
} weir_record;

/** A checkpoint barrier (DESIGN.md §4). */
typedef struct weir_barrier {
    int64_t checkpoint_id;
    int64_t timestamp_ms;  /**< trigger time, wall clock */
    int is_savepoint;
} weir_barrier;

/** A batch of records in one arena. Created and recycled by the runtime. */
typedef struct weir_batch weir_batch;

/** Creates an empty batch with room for about @p record_cap records and @p byte_cap bytes
 *  (both grow on demand). NULL on allocation failure. */
weir_batch *weir_batch_new(size_t record_cap, size_t byte_cap);
/** Frees a batch (NULL accepted). */
void weir_batch_free(weir_batch *b);
/** Appends a deep copy of @p r. Returns 0, or -1 on allocation failure. */
int weir_batch_add(weir_batch *b, const weir_record *r);
/** Number of records. */
size_t weir_batch_count(const weir_batch *b);
/** Bytes of payload held (keys + values + origin names). */
size_t weir_batch_bytes(const weir_batch *b);
/** The @p i-th record; pointers valid until the batch is cleared or freed. */
const weir_record *weir_batch_get(const weir_batch *b, size_t i);
/** Contiguous array of all records (same validity as weir_batch_get). */
const weir_record *weir_batch_records(const weir_batch *b);
/** Empties the batch, keeping its memory. */
void weir_batch_clear(weir_batch *b);

#ifdef __cplusplus
}
#endif
#endif
