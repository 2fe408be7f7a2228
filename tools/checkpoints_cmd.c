/*
 * tools/checkpoints_cmd.c - `weir checkpoints [--json] DIR`: lists the completed checkpoints
 * found under DIR (checkpoint/README.md describes the layout).
 *
 * DIR may be a checkpoint directory (state.checkpoints.dir: one <job-id>/ directory per job; a
 * savepoint directory works too, its savepoint-* directories are listed), one job's directory
 * (chk-<n>/ directories) or a single checkpoint or savepoint directory (a `_metadata` file). Only
 * completed checkpoints (a readable `_metadata`) are listed, per job in ascending id; jobs in
 * name order. One line per checkpoint:
 *
 *   <job-id> <id> <trigger time, ISO-8601 UTC> <size bytes> <duration ms> <path>
 *
 * or, with --json, one JSON object per line with the same facts (plus the raw timestamps). The
 * job id is the name of the job directory (the layout's <job-id>), or the one recorded in
 * `_metadata` for a single checkpoint/savepoint directory. Exit status: 0 (also when nothing is
 * found), 1 when DIR or a job directory cannot be read, 2 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "checkpoint/metadata.h"
#include "tools/cli.h"
#include "weir/buf.h"
#include "weir/json.h"

static const char checkpoints_usage[] =
    "Usage: weir checkpoints [--json] DIR\n"
    "Lists the completed checkpoints under DIR: a checkpoint directory (one <job-id>/ per job),\n"
    "one job's directory (chk-<n>/) or one checkpoint or savepoint directory (_metadata).\n"
    "One line per checkpoint, oldest first:\n"
    "  <job-id> <id> <trigger time (UTC)> <size (bytes)> <duration (ms)> <path>\n"
    "  --json   one JSON object per line: job_id, checkpoint_id, trigger_time, trigger_ts_ms,\n"
    "           complete_ts_ms, duration_ms, size_bytes, path\n";

/* ISO-8601 UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z. */
static void iso8601(int64_t ms, char *out, size_t n) {
    int64_t s = ms / 1000, r = ms % 1000;
    if (r < 0) { /* floor for times before 1970 */
        r += 1000;
        s -= 1;
    }
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, n, "%" PRId64 "ms", ms);
        return;
    }
    char day[48];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", day, (int)r);
}

static void print_one(const char *job_id, int64_t id, int64_t trigger_ms, int64_t complete_ms,
                      uint64_t bytes, const char *path, int json, weir_buf *b) {
    char when[64];
    iso8601(trigger_ms, when, sizeof when);
    int64_t duration = complete_ms - trigger_ms;
    if (!json) {
        printf("%s %" PRId64 " %s %" PRIu64 " %" PRId64 " %s\n", job_id, id, when, bytes, duration,
               path);
        return;
    }
    weir_buf_reset(b);
    weir_buf_puts(b, "{\"job_id\":");
    weir_json_write_string(b, job_id, strlen(job_id));
    weir_buf_printf(b,
                    ",\"checkpoint_id\":%" PRId64
                    ",\"trigger_time\":\"%s\",\"trigger_ts_ms\":%" PRId64
                    ",\"complete_ts_ms\":%" PRId64 ",\"duration_ms\":%" PRId64
                    ",\"size_bytes\":%" PRIu64 ",\"path\":",
                    id, when, trigger_ms, complete_ms, duration, bytes);
    weir_json_write_string(b, path, strlen(path));
    weir_buf_puts(b, "}\n");
    fwrite(b->data, 1, b->len, stdout);
}

static int has_metadata(const char *dir) {
    char p[4096];
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/_metadata", dir) >= sizeof p) return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* 1 if @p dir holds at least one chk-<something> directory (it is a job directory). */
static int has_chk_dirs(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        if (strncmp(de->d_name, "chk-", 4)) continue;
        char p[4096];
        struct stat st;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < sizeof p && !stat(p, &st) &&
            S_ISDIR(st.st_mode))
            found = 1;
    }
    closedir(d);
    return found;
}

/* One checkpoint or savepoint directory (with _metadata). */
static int list_single(const char *dir, int json, weir_buf *b) {
    wck_metadata m;
    weir_error err;
    if (wck_metadata_read(dir, &m, &err)) {
        fprintf(stderr, "weir checkpoints: %s\n", err.msg);
        return 1;
    }
    print_one(m.job_id ? m.job_id : "", m.checkpoint_id, m.trigger_ts_ms, m.complete_ts_ms,
              m.total_bytes, dir, json, b);
    wck_metadata_clear(&m);
    return 0;
}

/* One job directory; the job id is its last path component. */
static int list_job(const char *dir, int json, weir_buf *b) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t s = n;
    while (s > 0 && dir[s - 1] != '/')
        s--;
    char job_id[256];
    snprintf(job_id, sizeof job_id, "%.*s", (int)(n - s), dir + s);
    wck_entry *v;
    size_t k;
    weir_error err;
    if (wck_list(dir, &v, &k, &err)) {
        fprintf(stderr, "weir checkpoints: %s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < k; i++)
        print_one(job_id, v[i].checkpoint_id, v[i].trigger_ts_ms, v[i].complete_ts_ms,
                  v[i].total_bytes, v[i].path, json, b);
    free(v);
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A checkpoint (or savepoint) base directory: every subdirectory, in name order. */
static int list_base(const char *dir, int json, weir_buf *b) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "weir checkpoints: cannot list %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *p = NULL;
        struct stat st;
        if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
            rc = 1;
            break;
        }
        if (stat(p, &st) || !S_ISDIR(st.st_mode)) {
            free(p);
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) {
                free(p);
                rc = 1;
                break;
            }
            names = nn;
            cap = nc;
        }
        names[n++] = p;
    }
    closedir(d);
    if (rc) fprintf(stderr, "weir checkpoints: out of memory\n");
    if (n) qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) { /* an unreadable job does not hide the others */
        if (has_metadata(names[i]) ? list_single(names[i], json, b) : list_job(names[i], json, b))
            rc = 1;
        free(names[i]);
    }
    free(names);
    return rc;
}

/**
 * Entry point of `weir checkpoints [--json] DIR`; @p argv[0] is "checkpoints". Prints to stdout,
 * errors to stderr. Returns the exit status: 0 ok (also when no checkpoint is found), 1 when a
 * directory cannot be read, 2 on a usage error. Not thread-safe (getopt).
 */
int weir_cmd_checkpoints(int argc, char **argv) {
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(checkpoints_usage, stdout);
            return 0;
        default:
            fputs(checkpoints_usage, stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || !*argv[optind]) {
        fputs(checkpoints_usage, stderr);
        return 2;
    }
    char *dir = argv[optind];
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = '\0'; /* a//chk-1 */
    struct stat st;
    if (stat(dir, &st)) {
        fprintf(stderr, "weir checkpoints: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "weir checkpoints: %s: not a directory\n", dir);
        return 1;
    }
    weir_buf b = {0};
    int rc;
    if (has_metadata(dir))
        rc = list_single(dir, json, &b);
    else if (has_chk_dirs(dir))
        rc = list_job(dir, json, &b);
    else
        rc = list_base(dir, json, &b);
    weir_buf_free(&b);
    if (fflush(stdout)) rc = 1;
    return rc;
}
