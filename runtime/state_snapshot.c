/*
 * state_snapshot.c - keyed-state snapshots and restore (see weir/state.h, "snapshots and
 * restore"): the canonical format (writer, reader), the RocksDB snapshot manifest, format
 * detection, restore into any backend (rescaling included), weir_snapshot_foreach and a
 * benchmark helper. The RocksDB native snapshot (a checkpoint) and its reader are in
 * state_rocksdb.c.
 *
 * A snapshot directory holds exactly one of:
 *
 *   keyed-state.bin      canonical format (heap native, and every backend's CANONICAL)
 *   db/ + states         RocksDB native: a RocksDB checkpoint and its manifest
 *
 * Canonical file (all integers little-endian; varint = 7 bits per byte, low groups first):
 *   header  = "WEIRSNAP" | u32 version (1) | u32 max_parallelism | u32 kg_start | u32 kg_end
 *             | varint nstates | state*                       (the writer's key groups, inclusive)
 *   state   = varint len | name | u8 kind (weir_state_kind) | varint ttl_ms
 *   section = 'S' | varint state index | entry*                (one per state, in header order)
 *   entry   = 'E' | varint key_group | varint len | key [| varint len | user key  (map state)]
 *             | varint len | value [| i64 last-write timestamp  (value/map state with ttl > 0)]
 *   trailer = 'Z' | u64 number of entries | u64 XXH3-64 of every byte before this field
 * Entries of a section are in key-group order, then key order (the backends' foreach_entry
 * order). A value is the payload without the backend's TTL frame; a list is stored as one entry
 * whose value is the serialized list of state_internal.h (each element with its own last-write
 * timestamp when ttl > 0), so a restored list is the same list with the same per-element expiry.
 * Only entries live at snapshot time are written. Storing the last-write timestamp (not "now")
 * makes restore reproduce exactly the expiry the entry had: ts + ttl_ms.
 * The file is written as keyed-state.bin.tmp, fsynced, renamed, and the directory fsynced; the
 * reader maps it, checks the checksum before reading anything (corruption → WEIR_EPARSE) and
 * bounds-checks every length.
 *
 * RocksDB manifest (text; one item per line):
 *   weir-snapshot rocksdb 1
 *   max_parallelism <n>
 *   key_groups <start> <end>
 *   state <value|map|list> <ttl_ms> <name>        (one per state; the name is the rest of the line)
 *   xxh3 <16 hex digits: XXH3-64 of the lines above, newlines included>
 *
 * Thread-safety: a backend is used by its task thread only; weir_snapshot_foreach and the
 * readers touch nothing shared.
 */
#include "state_internal.h"
#include "weir/clock.h"
#include "weir/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MAGIC "WEIRSNAP"
#define VERSION 1u
#define HEADER_FIXED 24 /* magic + version + max_parallelism + kg_start + kg_end */
#define TRAILER 17      /* 'Z' + entries + checksum */
#define WRITE_CHUNK (1u << 20)
#define MANIFEST_HEAD "weir-snapshot rocksdb 1\n"

static const char *kind_name(weir_state_kind k) {
    return k == WEIR_STATE_VALUE ? "value" : k == WEIR_STATE_MAP ? "map" : "list";
}

int weir_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Writes @p data to @p dir/@p name atomically: name.tmp, fsync, rename, fsync the directory. */
static weir_err write_file_atomic(const char *dir, const char *name, const void *data, size_t n,
                                  weir_error *err) {
    char tmp[4096], path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return weir_error_set(err, WEIR_EIO, 0, "creating '%s': %s", tmp, strerror(errno));
    if (weir_write_all(fd, data, n) || fsync(fd)) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        return weir_error_set(err, WEIR_EIO, 0, "writing '%s': %s", tmp, strerror(saved));
    }
    if (close(fd) || rename(tmp, path) || weir_fsync_dir(dir)) {
        int saved = errno;
        unlink(tmp);
        return weir_error_set(err, WEIR_EIO, 0, "writing '%s': %s", path, strerror(saved));
    }
    return WEIR_OK;
}

/* ---- snap info ---- */

void weir_snap_info_free(weir_snap_info *info) {
    if (!info) return;
    for (int i = 0; i < info->nstates; i++)
        free((char *)info->states[i].name);
    free(info->states);
    memset(info, 0, sizeof *info);
}

/* Appends a state to @p info (copying @p name of @p len bytes). 0 or -1 (out of memory). */
static int info_add(weir_snap_info *info, const char *name, size_t len, weir_state_kind kind,
                    int64_t ttl) {
    weir_snapshot_state_info *ns =
        realloc(info->states, ((size_t)info->nstates + 1) * sizeof *info->states);
    if (!ns) return -1;
    info->states = ns;
    char *nm = malloc(len + 1);
    if (!nm) return -1;
    memcpy(nm, name, len);
    nm[len] = '\0';
    info->states[info->nstates++] = (weir_snapshot_state_info){nm, kind, ttl};
    // cppcheck-suppress memleak ; nm is owned by info->states (weir_snap_info_free)
    return 0;
}

/* ---- RocksDB manifest ---- */

weir_err weir_snap_manifest_write(const char *dir, const weir_state_backend *be, weir_error *err) {
    weir_buf b = {0};
    weir_buf_puts(&b, MANIFEST_HEAD);
    weir_buf_printf(&b, "max_parallelism %d\nkey_groups %d %d\n", (int)be->max_parallelism,
                    (int)be->key_groups.start, (int)be->key_groups.end);
    for (size_t i = 0; i < be->nstates; i++) {
        const weir_state *s = be->states[i];
        if (strpbrk(s->name, "\r\n")) {
            weir_buf_free(&b);
            return weir_error_set(err, WEIR_EINVAL, 0,
                                  "snapshot: state name with a line break cannot be recorded");
        }
        weir_buf_printf(&b, "state %s %" PRId64 " %s\n", kind_name(s->kind), s->ttl_ms, s->name);
    }
    weir_buf_printf(&b, "xxh3 %016" PRIx64 "\n", (uint64_t)XXH3_64bits(b.data, b.len));
    weir_err r = b.oom ? weir_error_set(err, WEIR_ENOMEM, 0, "snapshot: out of memory")
                       : write_file_atomic(dir, WEIR_SNAP_MANIFEST_FILE, b.data, b.len, err);
    weir_buf_free(&b);
    return r;
}

/* Reads the whole (small) file @p path into @p b. */
static weir_err read_small_file(const char *path, weir_buf *b, weir_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return weir_error_set(err, WEIR_EIO, 0, "snapshot: opening '%s': %s", path,
                              strerror(errno));
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        weir_buf_append(b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return weir_error_set(err, WEIR_EIO, 0, "snapshot: reading '%s'", path);
    if (b->oom) return weir_error_set(err, WEIR_ENOMEM, 0, "snapshot: out of memory");
    return WEIR_OK;
}

static weir_err manifest_load(const char *dir, weir_snap_info *info, weir_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" WEIR_SNAP_MANIFEST_FILE, dir);
    weir_buf b = {0};
    weir_err r = read_small_file(path, &b, err);
    if (r) goto out;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        r = weir_error_set(err, WEIR_EPARSE, 0, __VA_ARGS__);                                      \
        goto out;                                                                                  \
    } while (0)
    if (b.len < sizeof MANIFEST_HEAD || memcmp(b.data, MANIFEST_HEAD, sizeof MANIFEST_HEAD - 1))
        BAD("snapshot '%s': not a weir RocksDB snapshot manifest", path);
    /* the checksum line is the last one */
    char *last = b.data + b.len - 1;
    if (*last != '\n') BAD("snapshot '%s': manifest truncated", path);
    *last = '\0';
    char *cl = strrchr(b.data, '\n');
    unsigned long long want;
    if (!cl || sscanf(cl + 1, "xxh3 %16llx", &want) != 1)
        BAD("snapshot '%s': manifest without checksum (truncated?)", path);
    if ((uint64_t)XXH3_64bits(b.data, (size_t)(cl + 1 - b.data)) != (uint64_t)want)
        BAD("snapshot '%s': manifest checksum mismatch (corrupt)", path);
    *cl = '\0';
    info->rocksdb = 1;
    int have_mp = 0, have_kg = 0;
    char *save = NULL;
    for (char *line = strtok_r(b.data + sizeof MANIFEST_HEAD - 1, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int mp, s, e;
        if (sscanf(line, "max_parallelism %d", &mp) == 1) {
            info->max_parallelism = mp;
            have_mp = 1;
        } else if (sscanf(line, "key_groups %d %d", &s, &e) == 2) {
            info->key_groups = (weir_kg_range){s, e};
            have_kg = 1;
        } else if (!strncmp(line, "state ", 6)) {
            /* state <kind> <ttl_ms> <name: the rest of the line, spaces included> */
            char *kind = line + 6, *sp = strchr(kind, ' '), *end = NULL;
            long long ttl = sp ? strtoll(sp + 1, &end, 10) : -1;
            if (!sp || end == sp + 1 || *end != ' ' || !end[1] || ttl < 0)
                BAD("snapshot '%s': bad state line '%s'", path, line);
            *sp = '\0';
            weir_state_kind k = !strcmp(kind, "value")  ? WEIR_STATE_VALUE
                                : !strcmp(kind, "map")  ? WEIR_STATE_MAP
                                : !strcmp(kind, "list") ? WEIR_STATE_LIST
                                                        : (weir_state_kind)0;
            if (!k) BAD("snapshot '%s': unknown state kind '%s'", path, kind);
            if (info_add(info, end + 1, strlen(end + 1), k, ttl)) {
                r = weir_error_set(err, WEIR_ENOMEM, 0, "snapshot: out of memory");
                goto out;
            }
        } else {
            BAD("snapshot '%s': unknown manifest line '%s'", path, line);
        }
    }
    if (!have_mp || !have_kg || info->max_parallelism <= 0 ||
        info->max_parallelism > WEIR_UPPER_MAX_PARALLELISM || info->key_groups.start < 0 ||
        info->key_groups.end >= info->max_parallelism)
        BAD("snapshot '%s': manifest lacks a valid max_parallelism / key_groups", path);
#undef BAD
out:
    weir_buf_free(&b);
    return r;
}

/* ---- canonical reader ---- */

/* A mapped, checksum-verified canonical file. */
typedef struct canon {
    const unsigned char *p; /* mapping */
    size_t n;               /* file size */
    size_t body;            /* offset of the first section */
    size_t end;             /* offset of the trailer */
    uint64_t entries;       /* from the trailer */
} canon;

static void canon_close(canon *c) {
    if (c->p) munmap((void *)c->p, c->n);
    memset(c, 0, sizeof *c);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A bounds-checked cursor over [p, end). */
typedef struct cur {
    const unsigned char *p, *end;
    int bad;
} cur;

static uint64_t cur_varint(cur *c) {
    uint64_t v = 0;
    size_t n = c->bad ? 0 : weir_state_get_varint(c->p, (size_t)(c->end - c->p), &v);
    if (!n) {
        c->bad = 1;
        return 0;
    }
    c->p += n;
    return v;
}

/* Returns a pointer to the next @p n bytes (NULL and bad when they are not there). */
static const unsigned char *cur_bytes(cur *c, uint64_t n) {
    if (c->bad || n > (uint64_t)(c->end - c->p)) {
        c->bad = 1;
        return NULL;
    }
    const unsigned char *r = c->p;
    c->p += n;
    return r;
}

static weir_err canon_open(const char *dir, canon *c, weir_snap_info *info, weir_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" WEIR_SNAP_CANONICAL_FILE, dir);
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return weir_error_set(err, WEIR_EIO, 0, "snapshot: opening '%s': %s", path,
                              strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int saved = errno;
        close(fd);
        return weir_error_set(err, WEIR_EIO, 0, "snapshot: '%s': %s", path, strerror(saved));
    }
    if ((uint64_t)st.st_size < HEADER_FIXED + 1 + TRAILER) {
        close(fd);
        return weir_error_set(err, WEIR_EPARSE, 0,
                              "snapshot '%s': file too short (%lld bytes): truncated or corrupt",
                              path, (long long)st.st_size);
    }
    c->n = (size_t)st.st_size;
    void *m = mmap(NULL, c->n, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (m == MAP_FAILED) {
        c->n = 0;
        return weir_error_set(err, WEIR_EIO, 0, "snapshot: mapping '%s': %s", path,
                              strerror(saved));
    }
    c->p = m;
    madvise(m, c->n, MADV_SEQUENTIAL);
    weir_err r = WEIR_OK;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        r = weir_error_set(err, WEIR_EPARSE, 0, __VA_ARGS__);                                      \
        goto fail;                                                                                 \
    } while (0)
    if (memcmp(c->p, MAGIC, 8)) BAD("snapshot '%s': not a weir keyed-state snapshot", path);
    c->end = c->n - TRAILER;
    uint64_t want = (uint64_t)weir_get_i64le(c->p + c->n - 8);
    if (c->p[c->end] != 'Z' || (uint64_t)XXH3_64bits(c->p, c->n - 8) != want)
        BAD("snapshot '%s': checksum mismatch: the file is corrupt or truncated", path);
    if (get_u32(c->p + 8) != VERSION)
        BAD("snapshot '%s': unsupported version %u (this build reads %u)", path, get_u32(c->p + 8),
            VERSION);
    c->entries = (uint64_t)weir_get_i64le(c->p + c->end + 1);
    info->rocksdb = 0;
    info->max_parallelism = (int32_t)get_u32(c->p + 12);
    info->key_groups.start = (int32_t)get_u32(c->p + 16);
    info->key_groups.end = (int32_t)get_u32(c->p + 20);
    if (info->max_parallelism <= 0 || info->max_parallelism > WEIR_UPPER_MAX_PARALLELISM ||
        info->key_groups.start < 0 || info->key_groups.end >= info->max_parallelism)
        BAD("snapshot '%s': bad max parallelism / key-group range in the header", path);
    cur k = {c->p + HEADER_FIXED, c->p + c->end, 0};
    uint64_t ns = cur_varint(&k);
    if (ns > 1u << 20) BAD("snapshot '%s': bad state count", path);
    for (uint64_t i = 0; i < ns && !k.bad; i++) {
        uint64_t len = cur_varint(&k);
        const unsigned char *name = cur_bytes(&k, len);
        const unsigned char *kind = cur_bytes(&k, 1);
        uint64_t ttl = cur_varint(&k);
        if (k.bad) break;
        if (!len || *kind < WEIR_STATE_VALUE || *kind > WEIR_STATE_LIST || ttl > INT64_MAX ||
            memchr(name, 0, len))
            BAD("snapshot '%s': bad state descriptor %llu", path, (unsigned long long)i);
        if (info_add(info, (const char *)name, len, (weir_state_kind)*kind, (int64_t)ttl)) {
            r = weir_error_set(err, WEIR_ENOMEM, 0, "snapshot: out of memory");
            goto fail;
        }
    }
    if (k.bad) BAD("snapshot '%s': truncated header", path);
    c->body = (size_t)(k.p - c->p);
#undef BAD
    return WEIR_OK;
fail:
    canon_close(c);
    weir_snap_info_free(info);
    return r;
}

/* Visits the entries of @p c whose key group is in @p range. */
static weir_err canon_scan(const char *dir, const canon *c, const weir_snap_info *info,
                           weir_kg_range range, weir_snap_entry_fn fn, void *ud, weir_error *err) {
    cur k = {c->p + c->body, c->p + c->end, 0};
    int si = -1;
    uint64_t seen = 0;
    const weir_snapshot_state_info *st = NULL;
    while (k.p < k.end) {
        unsigned char tag = *k.p++;
        if (tag == 'S') {
            uint64_t i = cur_varint(&k);
            if (k.bad || i >= (uint64_t)info->nstates) break;
            si = (int)i;
            st = &info->states[si];
            continue;
        }
        if (tag != 'E' || !st) {
            k.bad = 1;
            break;
        }
        weir_state_entry e = {0};
        uint64_t kg = cur_varint(&k);
        e.key_len = (size_t)cur_varint(&k);
        e.key = cur_bytes(&k, e.key_len);
        if (st->kind == WEIR_STATE_MAP) {
            e.uk_len = (size_t)cur_varint(&k);
            e.uk = cur_bytes(&k, e.uk_len);
        }
        e.val_len = (size_t)cur_varint(&k);
        e.val = cur_bytes(&k, e.val_len);
        int64_t ttl = st->ttl_ms;
        if (ttl > 0 && st->kind != WEIR_STATE_LIST) {
            const unsigned char *ts = cur_bytes(&k, 8);
            if (ts) e.expires_at_ms = weir_get_i64le(ts) + ttl;
        }
        if (k.bad || kg >= (uint64_t)info->max_parallelism) {
            k.bad = 1;
            break;
        }
        seen++;
        e.key_group = (int32_t)kg;
        if (e.key_group < range.start || e.key_group > range.end) continue;
        if (st->kind == WEIR_STATE_LIST) {
            weir_list_iter it = {e.val, (const unsigned char *)e.val + e.val_len, ttl > 0};
            int64_t t;
            const void *v;
            size_t vl;
            int rr;
            while ((rr = weir_list_next(&it, &t, &v, &vl)) == 1)
                if (ttl > 0 && t + ttl > e.expires_at_ms) e.expires_at_ms = t + ttl;
            if (rr < 0)
                return weir_error_set(err, WEIR_EPARSE, 0,
                                      "snapshot '%s': state '%s': malformed list", dir, st->name);
        }
        if (fn(ud, si, &e)) return WEIR_OK;
    }
    if (k.bad || seen != c->entries)
        return weir_error_set(err, WEIR_EPARSE, 0,
                              "snapshot '%s/" WEIR_SNAP_CANONICAL_FILE
                              "': malformed entry at offset %zu",
                              dir, (size_t)(k.p - c->p));
    return WEIR_OK;
}

/* ---- opening a snapshot directory ---- */

typedef struct snap {
    weir_snap_info info;
    canon c; /* canonical only */
} snap;

static int exists(const char *dir, const char *name, int want_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return !stat(path, &st) && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

static weir_err snap_open(const char *dir, snap *s, weir_error *err) {
    memset(s, 0, sizeof *s);
    if (!dir || !dir[0]) return weir_error_set(err, WEIR_EINVAL, 0, "snapshot: no directory");
    struct stat st;
    if (stat(dir, &st))
        return weir_error_set(err, WEIR_EIO, 0, "snapshot '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return weir_error_set(err, WEIR_EIO, 0, "snapshot '%s': not a directory", dir);
    if (exists(dir, WEIR_SNAP_CANONICAL_FILE, 0)) return canon_open(dir, &s->c, &s->info, err);
    if (exists(dir, WEIR_SNAP_MANIFEST_FILE, 0)) {
        if (!exists(dir, WEIR_SNAP_ROCKSDB_DIR, 1))
            return weir_error_set(err, WEIR_EPARSE, 0,
                                  "snapshot '%s': manifest '" WEIR_SNAP_MANIFEST_FILE
                                  "' without the RocksDB checkpoint '" WEIR_SNAP_ROCKSDB_DIR "/'",
                                  dir);
        weir_err r = manifest_load(dir, &s->info, err);
        if (r) weir_snap_info_free(&s->info);
        return r;
    }
    return weir_error_set(err, WEIR_EPARSE, 0,
                          "snapshot '%s': unknown format (neither " WEIR_SNAP_CANONICAL_FILE
                          " nor " WEIR_SNAP_MANIFEST_FILE " + " WEIR_SNAP_ROCKSDB_DIR "/)",
                          dir);
}

static void snap_close(snap *s) {
    canon_close(&s->c);
    weir_snap_info_free(&s->info);
}

static weir_err snap_scan(const char *dir, const snap *s, weir_kg_range range,
                          weir_snap_entry_fn fn, void *ud, weir_error *err) {
    if (s->info.rocksdb) return weir_rdb_snapshot_scan(dir, &s->info, range, fn, ud, err);
    return canon_scan(dir, &s->c, &s->info, range, fn, ud, err);
}

weir_err weir_snap_info_load(const char *dir, weir_snap_info *info, weir_error *err) {
    snap s;
    weir_err r = snap_open(dir, &s, err);
    canon_close(&s.c);
    *info = s.info;
    return r;
}

/* ---- canonical writer ---- */

typedef struct cwriter {
    int fd;
    weir_buf buf;
    XXH3_state_t *h;
    uint64_t entries, bytes;
    const weir_state *s;
    int failed; /* errno of the first failed write, or -1 when out of memory */
} cwriter;

static int cw_flush(cwriter *w) {
    if (w->failed) return -1;
    if (w->buf.oom) {
        w->failed = -1;
        return -1;
    }
    XXH3_64bits_update(w->h, w->buf.data, w->buf.len);
    if (weir_write_all(w->fd, w->buf.data, w->buf.len)) {
        w->failed = errno ? errno : EIO;
        return -1;
    }
    w->bytes += w->buf.len;
    weir_buf_reset(&w->buf);
    return 0;
}

static void cw_u32(weir_buf *b, uint32_t v) {
    unsigned char t[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    weir_buf_append(b, t, 4);
}

static void cw_i64(weir_buf *b, int64_t v) {
    unsigned char t[8];
    weir_put_i64le(t, v);
    weir_buf_append(b, t, 8);
}

static int cw_entry(void *ud, const weir_state_entry *e) {
    cwriter *w = ud;
    const weir_state *s = w->s;
    weir_buf *b = &w->buf;
    weir_buf_putc(b, 'E');
    weir_state_put_varint(b, (uint64_t)e->key_group);
    weir_state_put_varint(b, e->key_len);
    weir_buf_append(b, e->key, e->key_len);
    if (s->kind == WEIR_STATE_MAP) {
        weir_state_put_varint(b, e->uk_len);
        weir_buf_append(b, e->uk, e->uk_len);
    }
    weir_state_put_varint(b, e->val_len);
    weir_buf_append(b, e->val, e->val_len);
    if (s->ttl_ms > 0 && s->kind != WEIR_STATE_LIST) cw_i64(b, e->expires_at_ms - s->ttl_ms);
    w->entries++;
    return b->len >= WRITE_CHUNK ? cw_flush(w) : b->oom;
}

static weir_err snapshot_canonical(weir_state_backend *be, const char *dir, uint64_t *bytes,
                                   weir_error *err) {
    char tmp[4096], path[4096];
    if (snprintf(path, sizeof path, "%s/" WEIR_SNAP_CANONICAL_FILE, dir) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/" WEIR_SNAP_CANONICAL_FILE ".tmp", dir) >= (int)sizeof tmp)
        return weir_error_set(err, WEIR_EINVAL, 0, "snapshot: path too long: %s", dir);
    cwriter w = {0};
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w.fd < 0)
        return weir_error_set(err, WEIR_EIO, 0, "snapshot: creating '%s': %s", tmp,
                              strerror(errno));
    weir_err r = WEIR_OK;
    if (!(w.h = XXH3_createState()) || XXH3_64bits_reset(w.h) != XXH_OK) {
        r = weir_error_set(err, WEIR_ENOMEM, 0, "snapshot: out of memory");
        goto fail;
    }
    weir_buf_append(&w.buf, MAGIC, 8);
    cw_u32(&w.buf, VERSION);
    cw_u32(&w.buf, (uint32_t)be->max_parallelism);
    cw_u32(&w.buf, (uint32_t)be->key_groups.start);
    cw_u32(&w.buf, (uint32_t)be->key_groups.end);
    weir_state_put_varint(&w.buf, be->nstates);
    for (size_t i = 0; i < be->nstates; i++) {
        const weir_state *s = be->states[i];
        size_t n = strlen(s->name);
        weir_state_put_varint(&w.buf, n);
        weir_buf_append(&w.buf, s->name, n);
        weir_buf_putc(&w.buf, (char)s->kind);
        weir_state_put_varint(&w.buf, (uint64_t)s->ttl_ms);
    }
    for (size_t i = 0; i < be->nstates && !w.failed; i++) {
        w.s = be->states[i];
        weir_buf_putc(&w.buf, 'S');
        weir_state_put_varint(&w.buf, i);
        weir_err fr = weir_state_foreach_entry(be->states[i], cw_entry, &w);
        if (fr && !w.failed) {
            r = weir_error_set(err, fr == WEIR_ENOMEM ? WEIR_ENOMEM : WEIR_ESTATE, 0,
                               "snapshot: reading state '%s': %s", w.s->name,
                               be->last_err.msg[0] ? be->last_err.msg : weir_err_name(fr));
            goto fail;
        }
    }
    weir_buf_putc(&w.buf, 'Z');
    cw_i64(&w.buf, (int64_t)w.entries);
    if (cw_flush(&w)) goto fail;
    unsigned char sum[8];
    weir_put_i64le(sum, (int64_t)XXH3_64bits_digest(w.h));
    if (weir_write_all(w.fd, sum, 8) || fsync(w.fd)) {
        w.failed = errno ? errno : EIO;
        goto fail;
    }
    w.bytes += 8;
    int fd = w.fd;
    w.fd = -1;
    if (close(fd) || rename(tmp, path) || weir_fsync_dir(dir)) {
        w.failed = errno ? errno : EIO;
        goto fail;
    }
    if (bytes) *bytes = w.bytes;
    XXH3_freeState(w.h);
    weir_buf_free(&w.buf);
    return WEIR_OK;
fail:
    if (!r)
        r = w.failed < 0 ? weir_error_set(err, WEIR_ENOMEM, 0, "snapshot: out of memory")
                         : weir_error_set(err, WEIR_EIO, 0, "snapshot: writing '%s': %s", tmp,
                                          strerror(w.failed));
    if (w.fd >= 0) close(w.fd);
    unlink(tmp);
    if (w.h) XXH3_freeState(w.h);
    weir_buf_free(&w.buf);
    return r;
}

/* ---- public API ---- */

/* 0 when @p dir exists and is empty (created if missing); -1 with err set otherwise. */
static weir_err prepare_dir(const char *dir, weir_error *err) {
    if (weir_mkdirs(dir))
        return weir_error_set(err, WEIR_EIO, 0, "snapshot: cannot create '%s': %s", dir,
                              strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
        return weir_error_set(err, WEIR_EIO, 0, "snapshot: cannot open '%s': %s", dir,
                              strerror(errno));
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    if (!empty) return weir_error_set(err, WEIR_EIO, 0, "snapshot: '%s' is not empty", dir);
    return WEIR_OK;
}

weir_err weir_state_backend_snapshot(weir_state_backend *be, const char *dir,
                                     weir_snapshot_format fmt, uint64_t *bytes, weir_error *err) {
    if (bytes) *bytes = 0;
    if (!be || !dir || !dir[0] || (fmt != WEIR_SNAPSHOT_NATIVE && fmt != WEIR_SNAPSHOT_CANONICAL))
        return weir_error_set(err, WEIR_EINVAL, 0, "snapshot: missing backend or directory");
    weir_err r = prepare_dir(dir, err);
    if (r) return r;
    if (fmt == WEIR_SNAPSHOT_NATIVE && be->ops->snapshot_native) {
        r = be->ops->snapshot_native(be, dir, bytes, err);
        if (r) { /* leave the directory empty again */
            char p[4096];
            snprintf(p, sizeof p, "%s/" WEIR_SNAP_ROCKSDB_DIR, dir);
            weir_rmtree(p);
            snprintf(p, sizeof p, "%s/" WEIR_SNAP_MANIFEST_FILE, dir);
            unlink(p);
        }
        return r;
    }
    return snapshot_canonical(be, dir, bytes, err);
}

/* Restore visitor state. */
typedef struct restorer {
    weir_state_backend *be;
    weir_state **states; /* per snapshot state */
    int64_t now;
    weir_buf list;
    weir_err r;
    uint64_t restored;
} restorer;

static int restore_visit(void *ud, int si, const weir_state_entry *e) {
    restorer *rs = ud;
    weir_state *s = rs->states[si];
    weir_state_backend *be = rs->be;
    if (e->key_group < be->key_groups.start || e->key_group > be->key_groups.end) return 0;
    int64_t ttl = s->ttl_ms, ts = 0;
    weir_state_entry x = *e;
    if (s->kind == WEIR_STATE_LIST) {
        int64_t maxexp;
        long live = weir_list_filter_live(&rs->list, e->val, e->val_len, ttl, rs->now, &maxexp);
        if (live < 0) {
            rs->r = weir_error_set(&be->last_err, WEIR_EPARSE, 0, "state '%s': malformed list",
                                   s->name);
            return 1;
        }
        if (!live) return 0;
        x.val = rs->list.data;
        x.val_len = rs->list.len;
    } else if (ttl > 0) {
        ts = e->expires_at_ms - ttl;
        if (weir_ttl_expired(ts, ttl, rs->now)) return 0;
    }
    if (!x.uk) x.uk = "";
    if (!x.val) x.val = "";
    weir_err r = be->ops->restore_put(s, &x, ts);
    if (r) {
        if (r == WEIR_ENOMEM)
            weir_error_set(&be->last_err, WEIR_ENOMEM, 0, "state '%s': out of memory", s->name);
        rs->r = r;
        return 1;
    }
    rs->restored++;
    return 0;
}

weir_err weir_state_backend_restore(weir_state_backend *be, const char *dir, weir_error *err) {
    if (!be) return weir_error_set(err, WEIR_EINVAL, 0, "restore: no backend");
    snap sn;
    weir_err r = snap_open(dir, &sn, err);
    if (r) return r;
    restorer rs = {.be = be};
    if (sn.info.max_parallelism != be->max_parallelism) {
        r = weir_error_set(err, WEIR_EINVAL, 0,
                           "restore from '%s': max parallelism %d differs from the backend's %d "
                           "(key groups would not match)",
                           dir, (int)sn.info.max_parallelism, (int)be->max_parallelism);
        goto out;
    }
    int fast = 0;
    if (sn.info.rocksdb && be->ops->restore_native) {
        r = be->ops->restore_native(be, dir, &sn.info, err);
        if (r && r != WEIR_EUNSUPPORTED) goto out;
        fast = !r;
        r = WEIR_OK;
    }
    rs.states = calloc((size_t)sn.info.nstates + 1, sizeof *rs.states);
    if (!rs.states) {
        r = weir_error_set(err, WEIR_ENOMEM, 0, "restore: out of memory");
        goto out;
    }
    for (int i = 0; i < sn.info.nstates; i++) {
        const weir_snapshot_state_info *st = &sn.info.states[i];
        weir_state_desc d = {st->name, st->kind, st->ttl_ms};
        weir_error e2 = {0};
        if (!(rs.states[i] = weir_state_register(be, &d, &e2))) {
            r = weir_error_set(err, e2.code ? e2.code : WEIR_ESTATE, 0,
                               "restore from '%s': state '%s' (%s, ttl %lld ms): %s", dir, st->name,
                               kind_name(st->kind), (long long)st->ttl_ms, e2.msg);
            goto out;
        }
    }
    if (fast) goto out;
    weir_kg_range range = {
        be->key_groups.start > sn.info.key_groups.start ? be->key_groups.start
                                                        : sn.info.key_groups.start,
        be->key_groups.end < sn.info.key_groups.end ? be->key_groups.end : sn.info.key_groups.end};
    if (range.end < range.start) goto out; /* no overlap: nothing to insert */
    rs.now = weir_state_now(be);
    weir_error_clear(&be->last_err);
    r = snap_scan(dir, &sn, range, restore_visit, &rs, err);
    weir_err er = be->ops->restore_end(be);
    if (!r && rs.r)
        r = weir_error_set(err, rs.r, 0, "restore from '%s': %s", dir,
                           be->last_err.msg[0] ? be->last_err.msg : weir_err_name(rs.r));
    if (!r && er)
        r = weir_error_set(err, er, 0, "restore from '%s': %s", dir,
                           be->last_err.msg[0] ? be->last_err.msg : weir_err_name(er));
out:
    free(rs.states);
    weir_buf_free(&rs.list);
    snap_close(&sn);
    return r;
}

typedef struct foreach_ctx {
    const weir_snap_info *info;
    weir_snapshot_visit_fn fn;
    void *ud;
} foreach_ctx;

static int foreach_visit(void *ud, int si, const weir_state_entry *e) {
    foreach_ctx *c = ud;
    return c->fn(c->ud, &c->info->states[si], e);
}

weir_err weir_snapshot_foreach(const char *dir, weir_snapshot_visit_fn fn, void *ud,
                               weir_error *err) {
    if (!fn) return weir_error_set(err, WEIR_EINVAL, 0, "snapshot foreach: no visitor");
    snap sn;
    weir_err r = snap_open(dir, &sn, err);
    if (r) return r;
    foreach_ctx c = {&sn.info, fn, ud};
    weir_kg_range all = {0, sn.info.max_parallelism - 1};
    r = snap_scan(dir, &sn, all, foreach_visit, &c, err);
    snap_close(&sn);
    return r;
}

/* ---- benchmark helper ---- */

static double now_ms(void) {
    return (double)weir_mono_ns() / 1e6;
}

static weir_state_backend *bench_backend(const char *backend, const char *dir, weir_kg_range kg,
                                         weir_error *err) {
    weir_backend_options o = {0};
    o.dir = dir;
    o.key_groups = kg;
    o.max_parallelism = 128;
    return strcmp(backend, "rocksdb") ? weir_state_backend_heap_new(&o, err)
                                      : weir_state_backend_rocksdb_new(&o, err);
}

static int bench_count(void *ud, const weir_state_entry *e) {
    (void)e;
    ++*(uint64_t *)ud;
    return 0;
}

/* Counts the entries of the first state of @p be. */
static uint64_t bench_entries(weir_state_backend *be) {
    uint64_t n = 0;
    if (be->nstates) weir_state_foreach_entry(be->states[0], bench_count, &n);
    return n;
}

weir_err weir_snapshot_bench(const char *backend, weir_snapshot_format fmt, size_t mb,
                             size_t value_len, const char *work_dir,
                             weir_snapshot_bench_result *out, weir_error *err) {
    if (!backend || !work_dir || !out)
        return weir_error_set(err, WEIR_EINVAL, 0, "snapshot bench: missing argument");
    memset(out, 0, sizeof *out);
    if (!value_len) value_len = 100;
    char d_src[4096], d_snap[4096], d_dst[4096], d_half[4096];
    snprintf(d_src, sizeof d_src, "%s/src", work_dir);
    snprintf(d_snap, sizeof d_snap, "%s/snapshot", work_dir);
    snprintf(d_dst, sizeof d_dst, "%s/restored", work_dir);
    snprintf(d_half, sizeof d_half, "%s/restored-half", work_dir);
    weir_rmtree(work_dir);
    if (weir_mkdirs(work_dir))
        return weir_error_set(err, WEIR_EIO, 0, "snapshot bench: cannot create '%s': %s", work_dir,
                              strerror(errno));
    weir_err r = WEIR_OK;
    weir_state_backend *src = NULL, *dst = NULL;
    weir_state_desc d = {"bench", WEIR_STATE_VALUE, 0};
    enum { BATCH = 1024 };
    weir_state_key *keys = calloc(BATCH, sizeof *keys);
    weir_state_slice *vals = calloc(BATCH, sizeof *vals);
    char *kbuf = malloc(BATCH * 24), *vbuf = malloc(value_len);
    if (!keys || !vals || !kbuf || !vbuf) {
        r = weir_error_set(err, WEIR_ENOMEM, 0, "snapshot bench: out of memory");
        goto out;
    }
    for (size_t i = 0; i < value_len; i++)
        vbuf[i] = (char)('a' + i % 26);
    if (!(src = bench_backend(backend, d_src, (weir_kg_range){0, 127}, err))) {
        r = err ? err->code : WEIR_ESTATE;
        goto out;
    }
    weir_state *s = weir_state_register(src, &d, err);
    if (!s) {
        r = err ? err->code : WEIR_ESTATE;
        goto out;
    }
    uint64_t target = (uint64_t)mb << 20;
    double t0 = now_ms();
    while (out->payload_bytes < target) {
        for (int i = 0; i < BATCH; i++) {
            char *k = kbuf + i * 24;
            int n = snprintf(k, 24, "key-%016llx",
                             (unsigned long long)(out->entries + i) * 0x9E3779B97F4A7C15ULL);
            keys[i] = (weir_state_key){k, (size_t)n, -1};
            vals[i] = (weir_state_slice){vbuf, value_len};
            out->payload_bytes += (uint64_t)n + value_len;
        }
        if ((r = weir_value_multi_put(s, keys, vals, BATCH))) {
            weir_error_set(err, r, 0, "snapshot bench: put: %s", src->last_err.msg);
            goto out;
        }
        out->entries += BATCH;
    }
    out->fill_ms = now_ms() - t0;
    t0 = now_ms();
    if ((r = weir_state_backend_snapshot(src, d_snap, fmt, &out->snapshot_bytes, err))) goto out;
    out->snapshot_ms = now_ms() - t0;
    weir_state_backend_free(src);
    src = NULL;
    if (!(dst = bench_backend(backend, d_dst, (weir_kg_range){0, 127}, err))) {
        r = err ? err->code : WEIR_ESTATE;
        goto out;
    }
    t0 = now_ms();
    if ((r = weir_state_backend_restore(dst, d_snap, err))) goto out;
    out->restore_ms = now_ms() - t0;
    if (bench_entries(dst) != out->entries) {
        r = weir_error_set(err, WEIR_EINTERNAL, 0, "snapshot bench: restored %llu of %llu entries",
                           (unsigned long long)bench_entries(dst),
                           (unsigned long long)out->entries);
        goto out;
    }
    weir_state_backend_free(dst);
    if (!(dst = bench_backend(backend, d_half, (weir_kg_range){0, 63}, err))) {
        r = err ? err->code : WEIR_ESTATE;
        goto out;
    }
    t0 = now_ms();
    if ((r = weir_state_backend_restore(dst, d_snap, err))) goto out;
    out->restore_rescale_ms = now_ms() - t0;
out:
    weir_state_backend_free(src);
    weir_state_backend_free(dst);
    free(keys);
    free(vals);
    free(kbuf);
    free(vbuf);
    weir_rmtree(work_dir);
    return r;
}
