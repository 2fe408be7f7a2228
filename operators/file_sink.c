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
 *
 * Exactly-once mode (the job takes checkpoints, weir_ctx_checkpointing()), like Flink's FileSink:
 *  - each subtask writes its own hidden in-progress file per key,
 *    "<dir>/<key>/.inprogress-<uid>-<subtask>-<pid>-<seq>";
 *  - at a checkpoint barrier it is closed and renamed to the hidden pending file
 *    "<dir>/<key>/.part-<uid>-<subtask>-<checkpoint>.pending", listed in the operator state;
 *  - when the checkpoint completes (notify_checkpoint_complete) pending files of that or an
 *    earlier checkpoint are renamed to "<dir>/<key>/part-<uid>-<subtask>-<checkpoint>.jsonl":
 *    committed, visible;
 *  - on restore every subtask receives every old subtask's pending list (union state) and commits
 *    them (idempotent: a rename already done is skipped); then subtask 0 deletes every other
 *    hidden file of this operator (data written after the restored checkpoint). A fresh start
 *    (nothing restored) also deletes this operator's committed part files, as the plain mode
 *    truncates its files.
 * So a restart neither loses nor duplicates a committed row. Renames are atomic; data is not
 * fsynced (a crashed process loses nothing, a crashed machine may: documented in docs/).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <dirent.h>
#include <inttypes.h>

#include "weir/connectors.h"
#include "weir/fs.h"
#include "weir/log.h"

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
    char *inprog; /* exactly-once: this subtask's in-progress file (fd owned), NULL if none */
} fsink_entry;

/** Exactly-once: a pending file waiting for its checkpoint to complete. */
typedef struct fsink_pending {
    int64_t ckid;
    char *key;
    char *name; /* file name inside <dir>/<key>/ */
} fsink_pending;

/** Per-subtask state. */
typedef struct fsink_local {
    fsink_entry *entries;
    size_t n, cap;
    size_t *slots; /* open-addressing index: 0 = empty, else entry index + 1 */
    size_t n_slots;
    fsink_entry *last; /* cache for runs of equal keys */
    int tx;            /* exactly-once mode */
    uint64_t seq;      /* in-progress file counter */
    fsink_pending *pend;
    size_t npend, cappend;
    fsink_pending *restored; /* from restore_state, committed at open */
    size_t nrest, caprest;
    int was_restored;
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

static weir_err tx_open_inprogress(weir_ctx *ctx, weir_file_sink_conf *c, fsink_entry *e);

static weir_err flush_entry(weir_ctx *ctx, weir_file_sink_conf *c, fsink_entry *e) {
    fsink_local *l = weir_ctx_local(ctx);
    if (l && l->tx && e->buf.len > 0) {
        if (e->fd < 0) {
            weir_err rc = tx_open_inprogress(ctx, c, e);
            if (rc) return rc;
        }
        if (weir_write_all(e->fd, e->buf.data, e->buf.len) != 0)
            return weir_ctx_fail(ctx, WEIR_EIO, "file sink: write to %s failed: %s", e->inprog,
                                 strerror(errno));
        weir_buf_reset(&e->buf);
    }
    if (e->buf.len > 0) {
        pthread_mutex_lock(&c->lock);
        int rc = weir_write_all(e->fd, e->buf.data, e->buf.len);
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
    int err = 0;
    if (l->tx) {
        char kd[1400];
        snprintf(kd, sizeof kd, "%s/%s", c->dir, e->key);
        e->fd = weir_mkdirs(kd) ? -2 : -1; /* -1: in-progress file opened at the first flush */
        err = errno;
    } else {
        pthread_mutex_lock(&c->lock);
        fsink_registry *r = c->files;
        e->fd = registry_get(c, r, e->key);
        err = errno;
        pthread_mutex_unlock(&c->lock);
    }
    if (e->fd < -1 || (!l->tx && e->fd < 0)) {
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

static void pending_free(fsink_pending *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(p[i].key);
        free(p[i].name);
    }
    free(p);
}

static void local_free(fsink_local *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->entries[i].key);
        weir_buf_free(&l->entries[i].buf);
        if (l->tx && l->entries[i].fd >= 0) close(l->entries[i].fd);
        free(l->entries[i].inprog);
    }
    pending_free(l->pend, l->npend);
    pending_free(l->restored, l->nrest);
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

/* ---------------------------------------------------------- exactly-once mode */

static weir_err tx_open_inprogress(weir_ctx *ctx, weir_file_sink_conf *c, fsink_entry *e) {
    fsink_local *l = weir_ctx_local(ctx);
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/.inprogress-%s-%d-%d-%" PRIu64, c->dir, e->key,
             weir_ctx_uid(ctx), (int)weir_ctx_subtask(ctx), (int)getpid(), ++l->seq);
    free(e->inprog);
    e->inprog = strdup(path);
    if (!e->inprog) return weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
    e->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (e->fd < 0)
        return weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot create %s: %s", path,
                             strerror(errno));
    return WEIR_OK;
}

static int pending_add(fsink_pending **arr, size_t *n, size_t *cap, int64_t ck, const char *key,
                       const char *name) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        fsink_pending *np = realloc(*arr, nc * sizeof *np);
        if (!np) return -1;
        *arr = np;
        *cap = nc;
    }
    fsink_pending *p = &(*arr)[*n];
    p->ckid = ck;
    p->key = strdup(key);
    p->name = strdup(name);
    if (!p->key || !p->name) {
        free(p->key);
        free(p->name);
        return -1;
    }
    (*n)++;
    return 0;
}

/* Renames pending file @p p to its committed name; already committed is fine. */
static weir_err tx_commit(weir_ctx *ctx, weir_file_sink_conf *c, const fsink_pending *p) {
    char from[2048], to[2048];
    snprintf(from, sizeof from, "%s/%s/%s", c->dir, p->key, p->name);
    /* ".part-<rest>.pending" → "part-<rest>.jsonl" */
    const char *rest = p->name + 1;
    size_t rl = strlen(rest);
    if (rl > 8 && strcmp(rest + rl - 8, ".pending") == 0) rl -= 8;
    snprintf(to, sizeof to, "%s/%s/%.*s%s", c->dir, p->key, (int)rl, rest, suffix_of(c));
    if (rename(from, to) == 0) return WEIR_OK;
    if (errno == ENOENT && access(to, F_OK) == 0) return WEIR_OK; /* committed before */
    if (errno == ENOENT) { /* e.g. a savepoint restored into another output directory: its
                            * rows were committed where the savepoint was taken */
        weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx),
                 "file sink: %s of the restored state is neither pending nor committed here "
                 "(another output directory?); its rows are where the snapshot was taken",
                 from);
        return WEIR_OK;
    }
    return weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot commit %s: %s", from, strerror(errno));
}

static int restored_has(const fsink_local *l, const char *key, const char *name) {
    for (size_t i = 0; i < l->nrest; i++)
        if (strcmp(l->restored[i].key, key) == 0 && strcmp(l->restored[i].name, name) == 0)
            return 1;
    return 0;
}

/* Commits what the restored checkpoint left pending; subtask 0 then removes this operator's
 * other hidden files (and, on a fresh start, its committed part files). */
static weir_err tx_recover(weir_ctx *ctx, weir_file_sink_conf *c, fsink_local *l) {
    for (size_t i = 0; i < l->nrest; i++) {
        weir_err rc = tx_commit(ctx, c, &l->restored[i]);
        if (rc) return rc;
    }
    if (weir_ctx_subtask(ctx) != 0) return WEIR_OK;
    char hid1[300], hid2[300], vis[300];
    snprintf(hid1, sizeof hid1, ".inprogress-%s-", weir_ctx_uid(ctx));
    snprintf(hid2, sizeof hid2, ".part-%s-", weir_ctx_uid(ctx));
    snprintf(vis, sizeof vis, "part-%s-", weir_ctx_uid(ctx));
    DIR *d = opendir(c->dir);
    if (!d) return WEIR_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char kd[1400];
        snprintf(kd, sizeof kd, "%s/%s", c->dir, de->d_name);
        DIR *k = opendir(kd);
        if (!k) continue;
        struct dirent *fe;
        while ((fe = readdir(k))) {
            const char *n = fe->d_name;
            int del = strncmp(n, hid1, strlen(hid1)) == 0 ||
                      (strncmp(n, hid2, strlen(hid2)) == 0 && !restored_has(l, de->d_name, n)) ||
                      (!l->was_restored && strncmp(n, vis, strlen(vis)) == 0);
            if (!del) continue;
            char fp[2048];
            snprintf(fp, sizeof fp, "%s/%s", kd, n);
            if (unlink(fp) != 0 && errno != ENOENT) {
                int e = errno;
                closedir(k);
                closedir(d);
                return weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot remove %s: %s", fp,
                                     strerror(e));
            }
        }
        closedir(k);
    }
    closedir(d);
    return WEIR_OK;
}

static weir_err fsink_restore(weir_ctx *ctx, const void *data, size_t len) {
    fsink_local *l = weir_ctx_local(ctx);
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l) return weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
        weir_ctx_set_local(ctx, l);
    }
    l->was_restored = 1;
    const char *p = data, *end = p + len;
    static const char hdr[] = "weir-file-sink v1\n";
    if (len < sizeof hdr - 1 || memcmp(p, hdr, sizeof hdr - 1) != 0)
        return weir_ctx_fail(ctx, WEIR_EPARSE, "file sink: unknown operator state format");
    p += sizeof hdr - 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        char line[1200];
        size_t ln = (size_t)(nl - p);
        if (ln >= sizeof line)
            return weir_ctx_fail(ctx, WEIR_EPARSE, "file sink: state line too long");
        memcpy(line, p, ln);
        line[ln] = '\0';
        p = nl + 1;
        if (!ln) continue;
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1 || !t2) return weir_ctx_fail(ctx, WEIR_EPARSE, "file sink: bad state line");
        *t1 = *t2 = '\0';
        if (pending_add(&l->restored, &l->nrest, &l->caprest, strtoll(line, NULL, 10), t1 + 1,
                        t2 + 1))
            return weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
    }
    return WEIR_OK;
}

static weir_err fsink_notify(weir_ctx *ctx, int64_t ckid) {
    fsink_local *l = weir_ctx_local(ctx);
    if (!l || !l->tx) return WEIR_OK;
    weir_file_sink_conf *c = weir_ctx_udata(ctx);
    size_t keep = 0;
    for (size_t i = 0; i < l->npend; i++) {
        if (l->pend[i].ckid <= ckid) {
            weir_err rc = tx_commit(ctx, c, &l->pend[i]);
            if (rc) return rc;
            free(l->pend[i].key);
            free(l->pend[i].name);
        } else {
            l->pend[keep++] = l->pend[i];
        }
    }
    l->npend = keep;
    return WEIR_OK;
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

    fsink_local *l = weir_ctx_local(ctx);
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l) return weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
        weir_ctx_set_local(ctx, l);
    }
    l->tx = weir_ctx_checkpointing(ctx);
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
            if (l->tx) {
                char kd[1400];
                snprintf(kd, sizeof kd, "%s/%s", c->dir, *k);
                if (weir_mkdirs(kd)) {
                    rc = weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot create %s: %s", kd,
                                       strerror(errno));
                    break;
                }
                continue;
            }
            if (registry_get(c, r, *k) < 0) {
                rc = weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot create %s/%s%s: %s", c->dir,
                                   *k, suffix_of(c), strerror(errno));
                break;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (!rc && l->tx) rc = tx_recover(ctx, c, l);
    if (rc) {
        registry_release(c);
        local_free(l);
        weir_ctx_set_local(ctx, NULL);
        return rc;
    }
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
    weir_err rc = flush_all(ctx);
    fsink_local *l = weir_ctx_local(ctx);
    if (rc || !l || !l->tx) return rc;
    weir_file_sink_conf *c = weir_ctx_udata(ctx);
    for (size_t i = 0; i < l->n; i++) {
        fsink_entry *e = &l->entries[i];
        if (e->fd < 0) continue;
        close(e->fd);
        e->fd = -1;
        char name[600], to[2048];
        snprintf(name, sizeof name, ".part-%s-%d-%" PRId64 ".pending", weir_ctx_uid(ctx),
                 (int)weir_ctx_subtask(ctx), b->checkpoint_id);
        snprintf(to, sizeof to, "%s/%s/%s", c->dir, e->key, name);
        if (rename(e->inprog, to) != 0)
            return weir_ctx_fail(ctx, WEIR_EIO, "file sink: cannot rename %s: %s", e->inprog,
                                 strerror(errno));
        if (pending_add(&l->pend, &l->npend, &l->cappend, b->checkpoint_id, e->key, name))
            return weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory");
    }
    weir_buf_puts(out, "weir-file-sink v1\n");
    for (size_t i = 0; i < l->npend; i++)
        weir_buf_printf(out, "%" PRId64 "\t%s\t%s\n", l->pend[i].ckid, l->pend[i].key,
                        l->pend[i].name);
    return out->oom ? weir_ctx_fail(ctx, WEIR_ENOMEM, "file sink: out of memory") : WEIR_OK;
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
    .restore_state = fsink_restore,
    .notify_checkpoint_complete = fsink_notify,
    .end_input = fsink_end_input,
    .close = fsink_close,
};
