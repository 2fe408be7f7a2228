/*
 * sst_writer.h - writes sorted SST files for ingestion into the RocksDB backend (internal).
 *
 * RocksDB's C API creates an SstFileWriter that drops every page it writes from the page cache
 * (invalidate_page_cache = true, not settable from C). The dedup job ingests its write buffer as
 * one such file every 256 Ki keys and reads duplicates back from it at once, so each of those
 * reads went to the disk: ~120 us of blocking I/O per lookup and a measurable share of the
 * job's CPU in the block layer. This shim (sst_writer.cpp, RocksDB's C++ API) keeps the pages.
 * The file is still synced by finish(), as RocksDB requires for ingestion.
 *
 * Errors follow RocksDB's C convention: on failure *errptr receives a malloc'd message (free it
 * with free() or rocksdb_free()); it must be NULL on entry. Not thread-safe per writer.
 */
#ifndef WEIR_RUNTIME_SST_WRITER_H
#define WEIR_RUNTIME_SST_WRITER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The table format of every SST file of the backend: the column families' options and the
 *  files weir writes itself are built from the same values. */
typedef struct weir_sst_format {
    int bloom_bits_per_key; /**< full Bloom filter, bits per key */
    int format_version;     /**< BlockBasedTableOptions::format_version */
    int lz4;                /**< 1: LZ4-compressed blocks, 0: uncompressed */
} weir_sst_format;

/** An SST file being written. */
typedef struct weir_sst_writer weir_sst_writer;

/** Creates @p path (truncating it) for writing. NULL and *errptr set on failure. */
weir_sst_writer *weir_sst_writer_open(const weir_sst_format *fmt, const char *path, char **errptr);

/** Appends an entry; keys must be strictly increasing (bytewise). Sets *errptr on failure. */
void weir_sst_writer_put(weir_sst_writer *w, const char *key, size_t klen, const char *val,
                         size_t vlen, char **errptr);

/** Appends a deletion of @p key (same ordering rule as put). Sets *errptr on failure. */
void weir_sst_writer_delete(weir_sst_writer *w, const char *key, size_t klen, char **errptr);

/** Writes the index, filter and footer and syncs the file. Sets *errptr on failure. */
void weir_sst_writer_finish(weir_sst_writer *w, char **errptr);

/** Frees the writer (an unfinished file is left as it is; the caller unlinks it). NULL-safe. */
void weir_sst_writer_free(weir_sst_writer *w);

#ifdef __cplusplus
}
#endif

#endif
