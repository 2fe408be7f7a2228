/*
 * file_source.c - JSON-lines file source (weir_file_source_def, see weir/connectors.h).
 *
 * Design: every path of the conf is one split; split i belongs to subtask i % parallelism.
 * open() opens (and validates) all of this subtask's files, so a missing or unreadable file fails
 * the job at start. A file being read is mapped whole with mmap (read-only, MADV_SEQUENTIAL), so
 * a line of any length is one contiguous slice and records point straight into the mapping (no
 * copy: weir_emit copies what it keeps). Files that cannot be mapped (pipes, /proc) are read whole
 * into a heap buffer instead. poll() emits at most `max` lines, then returns MORE; after the last
 * line of the last split it returns END.
 *
 * Line rules: lines end at '\n'; a '\r' directly before the '\n' is dropped; a final line without
 * '\n' is emitted; a file ending in '\n' has no extra empty line at the end; empty lines are
 * emitted as empty values. origin = {origin_topic or the path, partition 0, offset = 0-based line
 * number in its file, record_ts = -1}; the record has no key and no timestamp.
 *
 * Operator state: snapshot_state() writes "<path>\t<byte offset>\t<line>\n" for the split being
 * read and "<path>\t-1\t<lines>\n" for finished ones; restore_state() resumes those splits
 * where they stopped (the assignment must cover the same paths, which holds when the parallelism
 * is unchanged).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weir/connectors.h"

/** One assigned split. */
typedef struct fsrc_split {
    const char *path; /* borrowed from the conf */
    int fd;
    int64_t start_pos;  /* restored byte offset (0 normally), -1 = already finished */
    int64_t start_line; /* restored line number */
} fsrc_split;

/** Per-subtask state (weir_ctx_local). */
typedef struct fsrc_local {
    fsrc_split *splits;
    size_t n_splits;
    size_t cur;       /* index of the split being read */
    const char *data; /* the current file's bytes */
    size_t size;
    int mapped;   /* 1 → data is an mmap, 0 → malloc'd */
    int loaded;   /* 1 once the current split's data is loaded */
    size_t pos;   /* next byte to read */
    int64_t line; /* next line number */
    /* restored positions (from restore_state, before open) */
    char *restored; /* the raw snapshot text, NUL-terminated */
} fsrc_local;

static void fsrc_unload(fsrc_local *l) {
    if (l->loaded && l->data) {
        if (l->mapped)
            munmap((void *)l->data, l->size);
        else
            free((void *)l->data);
    }
    l->data = NULL;
    l->size = 0;
    l->loaded = 0;
    l->mapped = 0;
}

static void fsrc_free(fsrc_local *l) {
    if (!l) return;
    fsrc_unload(l);
    for (size_t i = 0; i < l->n_splits; i++)
        if (l->splits[i].fd >= 0) close(l->splits[i].fd);
    free(l->splits);
    free(l->restored);
    free(l);
}

/** Finds @p path in the restored snapshot; sets *pos and *line; 0 if found. */
static int fsrc_lookup_restored(const fsrc_local *l, const char *path, int64_t *pos,
                                int64_t *line) {
    if (!l->restored) return -1;
    size_t plen = strlen(path);
    const char *p = l->restored;
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        const char *tab = memchr(p, '\t', (size_t)(eol - p));
        if (tab && (size_t)(tab - p) == plen && memcmp(p, path, plen) == 0) {
            long long a = 0, b = 0;
            if (sscanf(tab + 1, "%lld\t%lld", &a, &b) == 2) {
                *pos = a;
                *line = b;
                return 0;
            }
        }
        p = *eol ? eol + 1 : eol;
    }
    return -1;
}

static weir_err fsrc_restore(weir_ctx *ctx, const void *data, size_t len) {
    fsrc_local *l = weir_ctx_local(ctx);
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l) return weir_ctx_fail(ctx, WEIR_ENOMEM, "file source: out of memory");
        weir_ctx_set_local(ctx, l);
    }
    char *copy = malloc(len + 1);
    if (!copy) return weir_ctx_fail(ctx, WEIR_ENOMEM, "file source: out of memory");
    memcpy(copy, data, len);
    copy[len] = '\0';
    if (l->restored) {
        /* several restored states (rescaling): concatenate */
        size_t ol = strlen(l->restored);
        char *both = realloc(l->restored, ol + len + 2);
        if (!both) {
            free(copy);
            return weir_ctx_fail(ctx, WEIR_ENOMEM, "file source: out of memory");
        }
        both[ol] = '\n';
        memcpy(both + ol + 1, copy, len + 1);
        free(copy);
        l->restored = both;
    } else {
        l->restored = copy;
    }
    return WEIR_OK;
}

static weir_err fsrc_open_impl(weir_ctx *ctx) {
    const weir_file_source_conf *c = weir_ctx_udata(ctx);
    if (!c) return weir_ctx_fail(ctx, WEIR_EINVAL, "file source: no configuration");
    int32_t sub = weir_ctx_subtask(ctx), par = weir_ctx_parallelism(ctx);
    fsrc_local *l = weir_ctx_local(ctx);
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l) return weir_ctx_fail(ctx, WEIR_ENOMEM, "file source: out of memory");
        weir_ctx_set_local(ctx, l);
    }
    size_t n = 0;
    for (size_t i = (size_t)sub; i < c->n_paths; i += (size_t)par)
        n++;
    l->splits = calloc(n ? n : 1, sizeof *l->splits);
    if (!l->splits) return weir_ctx_fail(ctx, WEIR_ENOMEM, "file source: out of memory");
    for (size_t i = (size_t)sub; i < c->n_paths; i += (size_t)par) {
        fsrc_split *s = &l->splits[l->n_splits];
        s->path = c->paths[i];
        s->fd = -1;
        if (!s->path) return weir_ctx_fail(ctx, WEIR_EINVAL, "file source: path %zu is NULL", i);
        s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
        l->n_splits++;
        if (s->fd < 0)
            return weir_ctx_fail(ctx, WEIR_EIO, "file source: cannot open '%s': %s", s->path,
                                 strerror(errno));
        struct stat st;
        if (fstat(s->fd, &st) == 0 && S_ISDIR(st.st_mode))
            return weir_ctx_fail(ctx, WEIR_EIO, "file source: '%s' is a directory", s->path);
        int64_t pos = 0, line = 0;
        if (fsrc_lookup_restored(l, s->path, &pos, &line) == 0) {
            s->start_pos = pos;
            s->start_line = line;
        }
    }
    return WEIR_OK;
}

/* close() is not called when open() fails: release the per-subtask state here */
static weir_err fsrc_open(weir_ctx *ctx) {
    weir_err e = fsrc_open_impl(ctx);
    if (e) {
        fsrc_free(weir_ctx_local(ctx));
        weir_ctx_set_local(ctx, NULL);
    }
    return e;
}

/** Reads the whole of @p fd into a heap buffer (for files mmap refuses). */
static int read_all(int fd, char **out, size_t *len) {
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    if (!b) return -1;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return -1;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            free(b);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *out = b;
    *len = n;
    return 0;
}

/** Loads split l->cur. */
static weir_err fsrc_load(weir_ctx *ctx, fsrc_local *l) {
    fsrc_split *s = &l->splits[l->cur];
    struct stat st;
    if (fstat(s->fd, &st) != 0)
        return weir_ctx_fail(ctx, WEIR_EIO, "file source: cannot stat '%s': %s", s->path,
                             strerror(errno));
    l->data = NULL;
    l->size = 0;
    l->mapped = 0;
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, s->fd, 0);
        if (m != MAP_FAILED) {
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            l->data = m;
            l->size = (size_t)st.st_size;
            l->mapped = 1;
        }
    }
    if (!l->mapped && !(S_ISREG(st.st_mode) && st.st_size == 0)) {
        char *b = NULL;
        size_t n = 0;
        if (read_all(s->fd, &b, &n) != 0)
            return weir_ctx_fail(ctx, WEIR_EIO, "file source: cannot read '%s': %s", s->path,
                                 strerror(errno));
        l->data = b;
        l->size = n;
    }
    l->loaded = 1;
    l->pos = s->start_pos > 0 ? (size_t)s->start_pos : 0;
    if (l->pos > l->size) l->pos = l->size;
    l->line = s->start_line;
    return WEIR_OK;
}

static weir_err fsrc_poll(weir_ctx *ctx, size_t max, weir_poll_status *status) {
    fsrc_local *l = weir_ctx_local(ctx);
    const weir_file_source_conf *c = weir_ctx_udata(ctx);
    size_t emitted = 0;
    if (!l) {
        *status = WEIR_POLL_END;
        return WEIR_OK;
    }
    while (emitted < max) {
        if (l->cur >= l->n_splits) {
            *status = WEIR_POLL_END;
            return WEIR_OK;
        }
        fsrc_split *s = &l->splits[l->cur];
        if (!l->loaded) {
            if (s->start_pos < 0) { /* finished before the restored checkpoint */
                l->cur++;
                continue;
            }
            weir_err e = fsrc_load(ctx, l);
            if (e) return e;
        }
        if (l->pos >= l->size) {
            fsrc_unload(l);
            close(s->fd);
            s->fd = -1;
            s->start_pos = -1;
            s->start_line = l->line;
            l->cur++;
            continue;
        }
        const char *topic = c->origin_topic[0] ? c->origin_topic : s->path;
        size_t topic_len = strlen(topic);
        while (emitted < max && l->pos < l->size) {
            const char *p = l->data + l->pos;
            size_t rest = l->size - l->pos;
            const char *nl = memchr(p, '\n', rest);
            size_t len = nl ? (size_t)(nl - p) : rest;
            size_t adv = nl ? len + 1 : len;
            if (nl && len > 0 && p[len - 1] == '\r') len--;
            if (len > UINT32_MAX)
                return weir_ctx_fail(ctx, WEIR_EINVAL,
                                     "file source: line %lld of '%s' is longer than 4 GiB",
                                     (long long)l->line, s->path);
            weir_record r;
            memset(&r, 0, sizeof r);
            r.value = (const uint8_t *)p;
            r.value_len = (uint32_t)len;
            r.timestamp_ms = WEIR_NO_TIMESTAMP;
            r.key_group = -1;
            r.origin.topic = topic;
            r.origin.topic_len = (uint32_t)topic_len;
            r.origin.partition = 0;
            r.origin.offset = l->line;
            r.origin.record_ts = -1;
            weir_err e = weir_emit(ctx, &r);
            if (e) return e;
            l->pos += adv;
            l->line++;
            emitted++;
        }
    }
    *status = WEIR_POLL_MORE;
    return WEIR_OK;
}

static weir_err fsrc_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    (void)b;
    fsrc_local *l = weir_ctx_local(ctx);
    if (!l) return WEIR_OK;
    for (size_t i = 0; i < l->n_splits; i++) {
        const fsrc_split *s = &l->splits[i];
        int64_t pos = s->start_pos, line = s->start_line;
        if (i == l->cur && l->loaded) {
            pos = (int64_t)l->pos;
            line = l->line;
        }
        weir_buf_puts(out, s->path);
        weir_buf_putc(out, '\t');
        weir_buf_put_i64(out, pos);
        weir_buf_putc(out, '\t');
        weir_buf_put_i64(out, line);
        weir_buf_putc(out, '\n');
    }
    return out->oom ? weir_ctx_fail(ctx, WEIR_ENOMEM, "file source: out of memory") : WEIR_OK;
}

static void fsrc_close(weir_ctx *ctx) {
    fsrc_free(weir_ctx_local(ctx));
    weir_ctx_set_local(ctx, NULL);
}

const weir_operator_def weir_file_source_def = {
    .kind = "file-source",
    .open = fsrc_open,
    .poll = fsrc_poll,
    .snapshot_state = fsrc_snapshot,
    .restore_state = fsrc_restore,
    .close = fsrc_close,
};
