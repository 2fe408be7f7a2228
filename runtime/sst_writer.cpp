/*
 * sst_writer.cpp - the SST writer of sst_writer.h on RocksDB's C++ API.
 *
 * One rocksdb::SstFileWriter per file, built from a weir_sst_format so that its table options
 * (filter, format version) equal those of the column families the file is ingested into
 * (state_rocksdb.c builds those from the same values; the compression may differ, RocksDB records
 * it in each file). The only difference from
 * rocksdb_sstfilewriter_create() is invalidate_page_cache = false. No exception crosses the C
 * boundary: allocation failures become error messages.
 */
#include "runtime/sst_writer.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

struct weir_sst_writer {
    rocksdb::SstFileWriter *w = nullptr;
};

namespace {

void set_error(char **errptr, const std::string &msg) {
    if (!errptr) return;
    std::free(*errptr);
    *errptr = strdup(msg.c_str());
}

bool failed(const rocksdb::Status &s, char **errptr) {
    if (s.ok()) return false;
    set_error(errptr, s.ToString());
    return true;
}

} // namespace

extern "C" weir_sst_writer *weir_sst_writer_open(const weir_sst_format *fmt, const char *path,
                                                 char **errptr) {
    try {
        rocksdb::BlockBasedTableOptions t;
        t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(fmt->bloom_bits_per_key, false));
        t.format_version = static_cast<uint32_t>(fmt->format_version);
        rocksdb::Options o;
        o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
        o.compression = fmt->lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
        std::unique_ptr<rocksdb::SstFileWriter> fw(new rocksdb::SstFileWriter(
            rocksdb::EnvOptions(), o, nullptr, /*invalidate_page_cache=*/false));
        if (failed(fw->Open(path), errptr)) return nullptr;
        auto *sw = new weir_sst_writer;
        sw->w = fw.release();
        return sw;
    } catch (const std::bad_alloc &) {
        set_error(errptr, "out of memory creating an SST writer");
        return nullptr;
    }
}

extern "C" void weir_sst_writer_put(weir_sst_writer *w, const char *key, size_t klen,
                                    const char *val, size_t vlen, char **errptr) {
    try {
        failed(w->w->Put(rocksdb::Slice(key, klen), rocksdb::Slice(val, vlen)), errptr);
    } catch (const std::bad_alloc &) {
        set_error(errptr, "out of memory writing an SST file");
    }
}

extern "C" void weir_sst_writer_delete(weir_sst_writer *w, const char *key, size_t klen,
                                       char **errptr) {
    try {
        failed(w->w->Delete(rocksdb::Slice(key, klen)), errptr);
    } catch (const std::bad_alloc &) {
        set_error(errptr, "out of memory writing an SST file");
    }
}

extern "C" void weir_sst_writer_finish(weir_sst_writer *w, char **errptr) {
    try {
        failed(w->w->Finish(), errptr);
    } catch (const std::bad_alloc &) {
        set_error(errptr, "out of memory finishing an SST file");
    }
}

extern "C" void weir_sst_writer_free(weir_sst_writer *w) {
    if (!w) return;
    delete w->w;
    delete w;
}
