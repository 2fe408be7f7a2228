/*
 * weir/keygroup.h - key groups exactly as Flink assigns them (DESIGN.md §8,
 * Flink's KeyGroupRangeAssignment and MathUtils.murmurHash).
 *
 * A key is hashed like Java's String.hashCode over its UTF-16 code units, then passed through
 * Flink's murmur finalizer; key_group = murmur % max_parallelism; the subtask owning a key group
 * is key_group * parallelism / max_parallelism. All functions are pure and thread-safe.
 */
#ifndef WEIR_KEYGROUP_H
#define WEIR_KEYGROUP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Flink's default lower bound for the max parallelism. */
#define WEIR_DEFAULT_MAX_PARALLELISM 128
/** Flink's upper bound for the max parallelism (2^15). */
#define WEIR_UPPER_MAX_PARALLELISM 32768

/** An inclusive range of key groups [start, end]; empty when end < start. */
typedef struct weir_kg_range {
    int32_t start, end;
} weir_kg_range;

/** Java's String.hashCode of the string whose UTF-8 bytes are @p key (@p len bytes): h = 31*h + c
 *  over UTF-16 code units (supplementary characters as surrogate pairs; invalid UTF-8 bytes count
 *  as U+FFFD, like Java's decoder). */
int32_t weir_java_string_hash(const void *key, size_t len);

/** Flink's MathUtils.murmurHash(int) finalizer, including the final absolute value
 *  (INT_MIN → 0). Result is in [0, INT32_MAX]. */
int32_t weir_flink_murmur(int32_t code);

/** Key group of a string key: murmur(String.hashCode(key)) % max_parallelism. */
int32_t weir_key_group_of(const void *key, size_t len, int32_t max_parallelism);

/** Operator index (subtask) that owns @p key_group: key_group * parallelism / max_parallelism. */
int32_t weir_subtask_for_key_group(int32_t key_group, int32_t parallelism, int32_t max_parallelism);

/** The key-group range owned by @p subtask: [(i*maxP + p - 1)/p, ((i+1)*maxP - 1)/p]. */
weir_kg_range weir_key_group_range(int32_t subtask, int32_t parallelism, int32_t max_parallelism);

/** Flink's default max parallelism for an operator parallelism @p p:
 *  min(max(roundUpToPowerOfTwo(p + p/2), 128), 32768). */
int32_t weir_default_max_parallelism(int32_t parallelism);

#ifdef __cplusplus
}
#endif
#endif
