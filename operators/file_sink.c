/*
 * file_sink.c - JSON-lines file sink (weir_file_sink_def, see weir/connectors.h).
 *
 * Design:
 *  - Shared registry (conf->files, guarded by conf->lock): key → open fd of
 *    "<dir>/<key><suffix>". A file is created/truncated the first time any subtask of the job
 *    needs it (or at open() for the precreate keys), then shared. The registry counts the open
 *    subtasks (users); when the last one closes, all files are closed and the registry is emptied,
 *    so the next job that uses the same conf truncates the files again.
 *  - Per subtask (weir_ctx_local): one entry per key seen, with a local line buffer (flushed at
 *    FLUSH_BYTES = 256 KiB), the shared file, and the "rows.<key>" counter resolved once. A flush
 *    appends the whole buffer with one write() under the registry lock, so lines of different
 *    subtasks never interleave inside a line. Row counts are added to the counter at flush time.
 *  - Flush points: buffer full, snapshot_state() (checkpoint barrier), end_input() and close().
 * Invariants: the registry lock is taken only around registry lookups and writes; a subtask's
 * lines reach the file in the order it received them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "weir/connectors.h"
#include "weir/fs.h"

#define FLUSH_BYTES (256u * 1024u)
#define DEFAULT_SUFFIX ".jsonl"

/** One shared open file. */
typedef struct fsink_file {
    char *key;
    int fd;
} fsink_file;

/** The shared registry kept in conf->files. */
typedef struct fsink_registry {
    fsink_file *files;
    size_t n, cap;
    int users; /* subtasks between open() and close() */
} fsink_registry;

/** One key as seen by one subtask. */
typedef struct fsink_entry {
    char *key;
    size_t key_len;
    uint64_t hash;
    int fd; /* shared fd (owned by the registry) */
    weir_buf buf;
    int64_t pending_rows;
    weir_counter *rows;
} fsink_entry;

/** Per-subtask state. */
typedef struct fsink_local {
    fsink_entry *entries;
    size_t n, cap;
    size_t *slots; /* open-addressing index: 0 = empty, else entry index + 1 */
    size_t n_slots;
    fsink_entry *last; /* cache for runs of equal keys */
} fsink_local;

static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash_bytes(const void *p, size_t n) {
    return XXH3_64bits(p, n); /* xxHash (libxxhash), see docs/dependencies.md */
}

static int key_valid(const uint8_t *k, size_t n) {
    if (!k || n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *suffix_of(const weir_file_sink_conf *c) {
    return c->suffix[0] ? c->suffix : DEFAULT_SUFFIX;
}

/** Returns the shared fd for @p key, opening (truncating) the file on first use. Caller holds
 *  conf->lock. -1 with errno on failure. */
static int registry_get(weir_file_sink_conf *c, fsink_registry *r, const char *key) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->files[i].key, key) == 0) return r->files[i].fd;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        fsink_file *nf = realloc(r->files, ncap * sizeof *nf);
        if (!nf) {
            errno = ENOMEM;
            return -1;
        }
        r->files = nf;
        r->cap = ncap;
    }
    char path[2048];
    int pn = snprintf(path, sizeof path, "%s/%s%s", c->dir, key, suffix_of(c));
    if (pn < 0 || (size_t)pn >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *k = strdup(key);
    if (!k) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(k);
        errno = e;
        return -1;
    }
    r->files[r->n].key = k;
    r->files[r->n].fd = fd;
    r->n++;
    return fd;
}

static void registry_close_all(fsink_registry *r) {
    for (size_t i = 0; i < r->n; i++) {
        if (r->files[i].fd >= 0) close(r->files[i].fd);
        free(r->files[i].key);
    }
    free(r->files);
    r->files = NULL;
    r->n = r->cap = 0;
}

/** Writes all of @p p (@p n bytes) to @p fd. 0 or -1 with errno. */
static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static weir_err flush_entry(weir_ctx *ctx, weir_file_sink_conf *c, fsink_entry *e) {
    if (e->buf.len > 0) {
        pthread_mutex_lock(&c->lock);
        int rc = write_all(e->fd, e->buf.data, e->buf.len);
        int err = errno;
        pthread_mutex_unlock(&c->lock);
        if (rc != 0)
            return weir_ctx_fail(ctx, WEIR_EIO, "file sink: write to %s/%s%s failed: %s", c->dir,
                                 e->key, suffix_of(c), strerror(err));
        weir_buf_reset(&e->buf);
    }
    if (e->pending_rows) {
        weir_counter_add(e->rows, e->pending_rows);
        e->pending_rows = 0;
    }
    return WEIR_OK;
}

static weir_err flush_all(weir_ctx *ctx) {
    fsink_local *l = weir_ctx_local(ctx);
    weir_file_sink_conf *c = weir_ctx_udata(ctx);
    if (!l) return WEIR_OK;
    weir_err first = WEIR_OK;
    for (size_t i = 0; i < l->n; i++) {
        weir_err e = flush_entry(ctx, c, &l->entries[i]);
        if (e && !first) first = e;
    }
    return first;
}

static int index_insert(fsink_local *l, size_t idx) {
    if ((l->n + 1) * 2 > l->n_slots) {
        size_t ns = l->n_slots ? l->n_slots * 2 : 64;
        size_t *nslots = calloc(ns, sizeof *nslots);
        if (!nslots) return -1;
        for (size_t i = 0; i < l->n; i++) {
            if (i == idx) continue;
            size_t h = (size_t)l->entries[i].hash & (ns - 1);
            while (nslots[h])
                h = (h + 1) & (ns - 1);
            nslots[h] = i + 1;
        }
        free(l->slots);
        l->slots = nslots;
        l->n_slots = ns;
    }
    size_t h = (size_t)l->entries[idx].hash & (l->n_slots - 1);
    while (l->slots[h])
        h = (h + 1) & (l->n_slots - 1);
    l->slots[h] = idx + 1;
    return 0;
}

/** Finds or creates this subtask's entry for @p key. NULL after weir_ctx_fail(). */
static fsink_entry *entry_for(weir_ctx *ctx, fsink_local *l, const uint8_t *key, size_t n) {
    if (l->last && l->last->key_len == n && memcmp(l->last->key, key, n) == 0) return l->last;
    uint64_t h = hash_bytes(key, n);
    if (l->n_slots) {
        size_t s = (size_t)h & (l->n_slots - 1);
        while (l->slots[s]) {
            fsink_entry *e = &l->entries[l->slots[s] - 1];
            if (e->hash == h && e->key_len == n && memcmp(e->key, key, n) == 0) {
                l->last = e;
                return e;
            }
            s = (s + 1) & (l->n_slots - 1);
        }
    }
    weir_file_sink_conf *c = weir_ctx_udata(ctx);
    if (!key_valid(key, n)) {
        weir_ctx_fail(ctx, WEIR_EINVAL,
                      "file sink: invalid key '%.*s' (keys must match [A-Za-z0-9_.-]+)",
                      (int)(n > 200 ? 200 : n), key ? (const char *)key : "");
        return NULL;
    }
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        fsink_entry *ne = realloc(l->entries, ncap * sizeof *ne);
        if (!ne) {
            weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
            return NULL;
        }
        l->entries = ne;
        l->cap = ncap;
        l->last = NULL;
    }
    fsink_entry *e = &l->entries[l->n];
    memset(e, 0, sizeof *e);
    e->key = malloc(n + 1);
    if (!e->key) {
        weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
        return NULL;
    }
    memcpy(e->key, key, n);
    e->key[n] = '\0';
    e->key_len = n;
    e->hash = h;
    char cname[300];
    snprintf(cname, sizeof cname, "rows.%s", e->key);
    e->rows = weir_metrics_counter(weir_ctx_metrics(ctx), cname);
    pthread_mutex_lock(&c->lock);
    fsink_registry *r = c->files;
    e->fd = registry_get(c, r, e->key);
    int err = errno;
    pthread_mutex_unlock(&c->lock);
    if (e->fd < 0) {
        weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot create %s/%s%s: %s", c->dir, e->key,
                      suffix_of(c), strerror(err));
        free(e->key);
        return NULL;
    }
    if (index_insert(l, l->n) != 0) {
        free(e->key);
        weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
        return NULL;
    }
    l->n++;
    /* entries may have moved (realloc): reset the cache */
    l->last = &l->entries[l->n - 1];
    return l->last;
}

static void local_free(fsink_local *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->entries[i].key);
        weir_buf_free(&l->entries[i].buf);
    }
    free(l->entries);
    free(l->slots);
    free(l);
}

/** Drops one user of the registry; the last one closes all files. */
static void registry_release(weir_file_sink_conf *c) {
    pthread_mutex_lock(&c->lock);
    fsink_registry *r = c->files;
    if (r && --r->users <= 0) {
        r->users = 0;
        registry_close_all(r);
    }
    pthread_mutex_unlock(&c->lock);
}

static weir_err fsink_open(weir_ctx *ctx) {
    weir_file_sink_conf *c = weir_ctx_udata(ctx);
    if (!c) return weir_ctx_fail(ctx, WEIR_EINVAL, "file sink: no configuration");
    if (c->dir[0] == '\0') return weir_ctx_fail(ctx, WEIR_EINVAL, "file sink: no directory");
    pthread_mutex_lock(&g_init_lock);
    if (!c->lock_init) {
        pthread_mutex_init(&c->lock, NULL);
        c->lock_init = 1;
    }
    if (!c->files) c->files = calloc(1, sizeof(fsink_registry));
    pthread_mutex_unlock(&g_init_lock);
    if (!c->files) return weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");

    pthread_mutex_lock(&c->lock);
    fsink_registry *r = c->files;
    r->users++;
    weir_err rc = WEIR_OK;
    if (weir_mkdirs(c->dir) != 0) {
        rc = weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot create directory '%s': %s", c->dir,
                           strerror(errno));
    } else if (access(c->dir, W_OK | X_OK) != 0) {
        rc = weir_ctx_fail(ctx, WEIR_EIO, "file sink: directory '%s' is not writable: %s", c->dir,
                           strerror(errno));
    } else if (c->precreate) {
        for (const char *const *k = c->precreate; *k; k++) {
            if (!key_valid((const uint8_t *)*k, strlen(*k))) {
                rc = weir_ctx_fail(ctx, WEIR_EINVAL,
                                   "file sink: invalid precreate key '%s' (must match "
                                   "[A-Za-z0-9_.-]+)",
                                   *k);
                break;
            }
            if (registry_get(c, r, *k) < 0) {
                rc = weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot create %s/%s%s: %s", c->dir,
                                   *k, suffix_of(c), strerror(errno));
                break;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (rc) {
        registry_release(c);
        return rc;
    }
    fsink_local *l = calloc(1, sizeof *l);
    if (!l) {
        registry_release(c);
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
    }
    weir_ctx_set_local(ctx, l);
    return WEIR_OK;
}

static weir_err fsink_write(weir_ctx *ctx, fsink_local *l, const weir_record *rec) {
    fsink_entry *e = entry_for(ctx, l, rec->key, rec->key_len);
    if (!e) return WEIR_EINVAL; /* message already set */
    weir_file_sink_conf *c = weir_ctx_udata(ctx);
    size_t n = rec->value ? rec->value_len : 0;
    if (e->buf.len > 0 && e->buf.len + n + 1 > FLUSH_BYTES) {
        weir_err err = flush_entry(ctx, c, e);
        if (err) return err;
    }
    if (weir_buf_reserve(&e->buf, n + 1) != 0)
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
    if (n) memcpy(e->buf.data + e->buf.len, rec->value, n);
    e->buf.data[e->buf.len + n] = '\n';
    e->buf.len += n + 1;
    e->pending_rows++;
    if (e->buf.len >= FLUSH_BYTES) {
        weir_err err = flush_entry(ctx, c, e);
        if (err) return err;
        if (e->buf.cap > 4 * FLUSH_BYTES) weir_buf_free(&e->buf); /* after a huge line */
    }
    return WEIR_OK;
}

static weir_err fsink_process(weir_ctx *ctx, const weir_record *rec) {
    return fsink_write(ctx, weir_ctx_local(ctx), rec);
}

static weir_err fsink_process_batch(weir_ctx *ctx, const weir_record *recs, size_t n) {
    fsink_local *l = weir_ctx_local(ctx);
    for (size_t i = 0; i < n; i++) {
        weir_err e = fsink_write(ctx, l, &recs[i]);
        if (e) return e;
    }
    return WEIR_OK;
}

static weir_err fsink_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    (void)b;
    (void)out;
    return flush_all(ctx);
}

static weir_err fsink_end_input(weir_ctx *ctx) {
    return flush_all(ctx);
}

static void fsink_close(weir_ctx *ctx) {
    fsink_local *l = weir_ctx_local(ctx);
    if (!l) return;
    (void)flush_all(ctx);
    local_free(l);
    weir_ctx_set_local(ctx, NULL);
    registry_release(weir_ctx_udata(ctx));
}

void weir_file_sink_conf_cleanup(weir_file_sink_conf *c) {
    if (!c) return;
    pthread_mutex_lock(&g_init_lock);
    if (c->files) {
        fsink_registry *r = c->files;
        registry_close_all(r);
        free(r);
        c->files = NULL;
    }
    if (c->lock_init) {
        pthread_mutex_destroy(&c->lock);
        c->lock_init = 0;
    }
    pthread_mutex_unlock(&g_init_lock);
}

const weir_operator_def weir_file_sink_def = {
    .kind = "file-sink",
    .open = fsink_open,
    .process = fsink_process,
    .process_batch = fsink_process_batch,
    .snapshot_state = fsink_snapshot,
    .end_input = fsink_end_input,
    .close = fsink_close,
};
