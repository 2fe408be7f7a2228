/*
 * tools/ch_load_cmd.c - `weir ch-load --clickhouse URL --dir D`: loads the `<table>.jsonl` files a
 * job wrote with --output-dir into ClickHouse through the ClickHouse sink (operators/
 * clickhouse_sink.c), and writes the rows the sink rejected to `<dlq-dir>/<table>.dlq.jsonl`
 * (the sink's DLQ documents, see weir/connectors.h). Used by the integration test and as a
 * bulk loader; prints a one-line JSON summary (rows per table, DLQ rows, retries, rows/s).
 *
 * Job graph (parallelism 1 unless -p): file source (every table file, origin = path)
 *   → "table-key" (key = file name without .jsonl; optional pacing --max-rows-per-s)
 *   → clickhouse sink (-p N subtasks, rebalance) --"dlq"--> file sink (suffix .dlq.jsonl).
 * The sink's settings come from CLICKHOUSE_* (spec §11) and are overridden by flags.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli.h"
#include "weir/weir.h"

/* ------------------------------------------------------- table-key operator */

typedef struct tk_conf {
    int64_t max_rows_per_s; /* 0 = unlimited */
} tk_conf;

typedef struct tk_local {
    struct timespec start;
    int64_t n;
} tk_local;

static weir_err tk_open(weir_ctx *ctx) {
    tk_local *L = calloc(1, sizeof *L);
    if (!L) return WEIR_ENOMEM;
    clock_gettime(CLOCK_MONOTONIC, &L->start);
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static weir_err tk_process(weir_ctx *ctx, const weir_record *rec) {
    const tk_conf *c = weir_ctx_udata(ctx);
    tk_local *L = weir_ctx_local(ctx);
    const char *p = rec->origin.topic;
    size_t n = rec->origin.topic_len;
    if (!p) return weir_ctx_fail(ctx, WEIR_EINVAL, "table-key: record without a file name");
    const char *slash = memrchr(p, '/', n);
    if (slash) {
        n -= (size_t)(slash + 1 - p);
        p = slash + 1;
    }
    if (n > 6 && !memcmp(p + n - 6, ".jsonl", 6)) n -= 6;
    if (c->max_rows_per_s > 0) {
        L->n++;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el =
            (double)(now.tv_sec - L->start.tv_sec) + (double)(now.tv_nsec - L->start.tv_nsec) / 1e9;
        double due = (double)L->n / (double)c->max_rows_per_s;
        if (due > el + 0.001) {
            double d = due - el;
            struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    weir_record r = *rec;
    r.key = (const uint8_t *)p;
    r.key_len = (uint32_t)n;
    return weir_emit(ctx, &r);
}

static void tk_close(weir_ctx *ctx) {
    free(weir_ctx_local(ctx));
    weir_ctx_set_local(ctx, NULL);
}

static const weir_operator_def tk_def = {
    .kind = "table-key", .open = tk_open, .process = tk_process, .close = tk_close};

/* ------------------------------------------------------------------ command */

static const char ch_load_usage[] =
    "Usage: weir ch-load --clickhouse URL --dir DIR [options]\n"
    "Loads every DIR/<table>.jsonl (one JSONEachRow line per row) into ClickHouse table\n"
    "<database>.<prefix><table> through the ClickHouse sink; rows the server rejects and rows\n"
    "over the record limit are written to <dlq-dir>/<table>.dlq.jsonl.\n"
    "  --clickhouse URL        HTTP endpoint (default CLICKHOUSE_URL)\n"
    "  --database DB           (default CLICKHOUSE_DATABASE or derived, spec §11)\n"
    "  --user U --password P   (default CLICKHOUSE_USER/PASSWORD; --user '' = none)\n"
    "  --tables a,b            only these tables (default: every *.jsonl but *.dlq.jsonl)\n"
    "  --table-prefix P        prepended to table names (e.g. raw_)\n"
    "  --dlq-dir D             where rejected rows go (default DIR)\n"
    "  --batch-rows N --batch-bytes N --max-time-ms N --max-buffered N --in-flight N\n"
    "  --max-record-bytes N    sink limits (default CLICKHOUSE_SINK_* or the spec's defaults)\n"
    "  --settings K=V&..       extra ClickHouse settings in the insert URL\n"
    "  --retry-timeout-ms N    fail after retrying a batch this long (default: retry forever)\n"
    "  --max-rows-per-s N      pace the input (tests)\n"
    "  -p N                    sink subtasks (default 1)\n";

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int weir_cmd_ch_load(int argc, char **argv) {
    weir_clickhouse_sink_conf sc;
    weir_clickhouse_sink_conf_from_env(&sc, NULL, NULL);
    const char *dir = NULL, *dlq_dir = NULL, *tables = NULL;
    tk_conf tk = {0};
    int par = 1;
    static const struct option opts[] = {{"clickhouse", required_argument, 0, 'c'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"database", required_argument, 0, 'b'},
                                         {"user", required_argument, 0, 'u'},
                                         {"password", required_argument, 0, 'w'},
                                         {"tables", required_argument, 0, 't'},
                                         {"table-prefix", required_argument, 0, 'x'},
                                         {"dlq-dir", required_argument, 0, 'q'},
                                         {"batch-rows", required_argument, 0, 1},
                                         {"batch-bytes", required_argument, 0, 2},
                                         {"max-time-ms", required_argument, 0, 3},
                                         {"max-buffered", required_argument, 0, 4},
                                         {"in-flight", required_argument, 0, 5},
                                         {"max-record-bytes", required_argument, 0, 6},
                                         {"settings", required_argument, 0, 7},
                                         {"retry-timeout-ms", required_argument, 0, 8},
                                         {"max-rows-per-s", required_argument, 0, 9},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            snprintf(sc.url, sizeof sc.url, "%s", optarg);
            break;
        case 'd':
            dir = optarg;
            break;
        case 'b':
            snprintf(sc.database, sizeof sc.database, "%s", optarg);
            break;
        case 'u':
            snprintf(sc.user, sizeof sc.user, "%s", optarg);
            break;
        case 'w':
            snprintf(sc.password, sizeof sc.password, "%s", optarg);
            break;
        case 't':
            tables = optarg;
            break;
        case 'x':
            snprintf(sc.table_prefix, sizeof sc.table_prefix, "%s", optarg);
            break;
        case 'q':
            dlq_dir = optarg;
            break;
        case 1:
            sc.max_batch_rows = atoll(optarg);
            break;
        case 2:
            sc.max_batch_bytes = atoll(optarg);
            break;
        case 3:
            sc.max_time_ms = atoll(optarg);
            break;
        case 4:
            sc.max_buffered = atoll(optarg);
            break;
        case 5:
            sc.max_in_flight = atoll(optarg);
            break;
        case 6:
            sc.max_record_bytes = atoll(optarg);
            break;
        case 7:
            snprintf(sc.settings, sizeof sc.settings, "%s", optarg);
            break;
        case 8:
            sc.retry_timeout_ms = atoll(optarg);
            break;
        case 9:
            tk.max_rows_per_s = atoll(optarg);
            break;
        case 'p':
            par = atoi(optarg);
            break;
        case 'h':
            fputs(ch_load_usage, stdout);
            return 0;
        default:
            fputs(ch_load_usage, stderr);
            return 2;
        }
    }
    if (!dir || par < 1) {
        fputs(ch_load_usage, stderr);
        return 2;
    }
    if (!dlq_dir) dlq_dir = dir;
    /* the table files */
    char **paths = NULL;
    size_t n_paths = 0;
    int status = 1;
    if (tables) {
        char *copy = strdup(tables), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
             t = strtok_r(NULL, ",", &save)) {
            char **np = realloc(paths, (n_paths + 1) * sizeof *paths);
            if (!np || asprintf(&np[n_paths], "%s/%s.jsonl", dir, t) < 0) {
                fputs("weir ch-load: out of memory\n", stderr);
                free(np ? np : paths);
                free(copy);
                return 1;
            }
            paths = np;
            n_paths++;
        }
        free(copy);
    } else {
        DIR *d = opendir(dir);
        if (!d) {
            fprintf(stderr, "weir ch-load: cannot open %s\n", dir);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l <= 6 || strcmp(e->d_name + l - 6, ".jsonl")) continue;
            if (l > 10 && !strcmp(e->d_name + l - 10, ".dlq.jsonl")) continue;
            char **np = realloc(paths, (n_paths + 1) * sizeof *paths);
            if (!np || asprintf(&np[n_paths], "%s/%s", dir, e->d_name) < 0) {
                fputs("weir ch-load: out of memory\n", stderr);
                free(np ? np : paths);
                closedir(d);
                return 1;
            }
            paths = np;
            n_paths++;
        }
        closedir(d);
        qsort(paths, n_paths, sizeof *paths, cmp_str);
    }
    if (!n_paths) {
        fprintf(stderr, "weir ch-load: no table files in %s\n", dir);
        free(paths);
        return 1;
    }
    weir_file_source_conf fs = {.paths = (const char **)paths, .n_paths = n_paths};
    weir_file_sink_conf dlq = {0};
    snprintf(dlq.dir, sizeof dlq.dir, "%s", dlq_dir);
    snprintf(dlq.suffix, sizeof dlq.suffix, ".dlq.jsonl");
    weir_error err = {0};
    weir_graph *g = weir_graph_new("ch-load");
    weir_job *job = NULL;
    int src = weir_graph_add(g, "files", "file-source", &weir_file_source_def, &fs, 1, &err);
    int key = src < 0 ? -1 : weir_graph_add(g, "table-key", "table-key", &tk_def, &tk, 1, &err);
    int sink = key < 0 ? -1
                       : weir_graph_add(g, "clickhouse", "clickhouse-sink",
                                        &weir_clickhouse_sink_def, &sc, par, &err);
    int dsink = sink < 0 ? -1
                         : weir_graph_add(g, "dlq-files", "dlq-file-sink", &weir_file_sink_def,
                                          &dlq, par, &err);
    if (dsink < 0 || weir_graph_connect(g, src, NULL, key, WEIR_PART_FORWARD, &err) ||
        weir_graph_connect(g, key, NULL, sink, par > 1 ? WEIR_PART_REBALANCE : WEIR_PART_FORWARD,
                           &err) ||
        weir_graph_connect(g, sink, WEIR_CLICKHOUSE_DLQ_TAG, dsink, WEIR_PART_FORWARD, &err)) {
        fprintf(stderr, "weir ch-load: %s\n", err.msg);
        goto out;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    weir_job_options jo = {0};
    job = weir_job_start(g, &jo, &err);
    if (!job) {
        fprintf(stderr, "weir ch-load: %s\n", err.msg);
        goto out;
    }
    weir_err rc = weir_job_wait(job, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ms = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    weir_metrics *m = weir_job_metrics(job);
    weir_buf sum = {0};
    int64_t total = 0, failed = 0, retries = 0, batches = 0, oversize = 0;
    weir_buf_puts(&sum, "{\"rows\":{");
    for (size_t i = 0; i < n_paths; i++) {
        const char *base = strrchr(paths[i], '/');
        base = base ? base + 1 : paths[i];
        char t[256], cn[400];
        snprintf(t, sizeof t, "%s%.*s", sc.table_prefix, (int)(strlen(base) - 6), base);
        snprintf(cn, sizeof cn, "clickhouse.%s.rows", t);
        int64_t r = weir_metrics_value(m, cn);
        total += r;
        weir_buf_printf(&sum, "%s\"%s\":%lld", i ? "," : "", t, (long long)r);
        snprintf(cn, sizeof cn, "clickhouse.%s.failed_rows", t);
        failed += weir_metrics_value(m, cn);
        snprintf(cn, sizeof cn, "clickhouse.%s.retries", t);
        retries += weir_metrics_value(m, cn);
        snprintf(cn, sizeof cn, "clickhouse.%s.batches", t);
        batches += weir_metrics_value(m, cn);
        snprintf(cn, sizeof cn, "clickhouse.%s.oversize_rows", t);
        oversize += weir_metrics_value(m, cn);
    }
    weir_buf_printf(
        &sum,
        "},\"rows_total\":%lld,\"batches\":%lld,\"dlq_rows\":%lld,\"oversize_rows\":%lld,"
        "\"retries\":%lld,\"backpressure_waits\":%lld,\"elapsed_ms\":%lld,"
        "\"rows_per_s\":%.0f}\n",
        (long long)total, (long long)batches, (long long)failed, (long long)oversize,
        (long long)retries, (long long)weir_metrics_value(m, "clickhouse.backpressure_waits"),
        (long long)ms, ms > 0 ? (double)total * 1000.0 / (double)ms : 0.0);
    if (rc) {
        fprintf(stderr, "weir ch-load: %s\n", err.msg);
        fputs(sum.data, stderr);
    } else {
        fputs(sum.data, stdout);
        status = 0;
    }
    weir_buf_free(&sum);
out:
    if (job) weir_job_free(job);
    weir_graph_free(g);
    weir_file_sink_conf_cleanup(&dlq);
    for (size_t i = 0; i < n_paths; i++)
        free(paths[i]);
    free(paths);
    return status;
}
