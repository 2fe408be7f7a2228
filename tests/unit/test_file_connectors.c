/*
 * test_file_connectors.c - JSON-lines file source and sink through real job graphs:
 * byte-exact lines (empty line, "\r\n", binary bytes, a 5 MB line, a final line without
 * newline), several files over parallelism 2 with origin offsets checked, sink row counters,
 * precreated files, and open() failures (unwritable directory, missing source file).
 */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weir/connectors.h"
#include "weir/graph.h"
#include "weir/job.h"

static char g_tmp[512];

static void make_tmp(void) {
    const char *base = getenv("WEIR_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(g_tmp, sizeof g_tmp, "%s/file_connectors_XXXXXX", base);
    assert_non_null(mkdtemp(g_tmp));
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    b[sz] = '\0';
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* ---- keying operator: key = file name stem of origin.topic; checks origin offsets ---- */

static atomic_long g_offset_errors;

static weir_err keyer_process(weir_ctx *ctx, const weir_record *rec) {
    const char *t = rec->origin.topic;
    size_t n = rec->origin.topic_len;
    const char *slash = NULL;
    for (size_t i = 0; i < n; i++)
        if (t[i] == '/') slash = t + i;
    const char *stem = slash ? slash + 1 : t;
    size_t sl = (size_t)(t + n - stem);
    for (size_t i = 0; i < sl; i++)
        if (stem[i] == '.') {
            sl = i;
            break;
        }
    /* values "f<i>-l<j>" must come with origin.offset == j */
    if (rec->value_len > 1 && rec->value[0] == 'f') {
        const char *l = memchr(rec->value, 'l', rec->value_len);
        if (l && atol(l + 1) != rec->origin.offset) atomic_fetch_add(&g_offset_errors, 1);
    }
    if (rec->origin.partition != 0 || rec->origin.record_ts != -1)
        atomic_fetch_add(&g_offset_errors, 1);
    weir_record out = *rec;
    out.key = (const uint8_t *)stem;
    out.key_len = (uint32_t)sl;
    return weir_emit(ctx, &out);
}

static const weir_operator_def keyer_def = {.kind = "keyer", .process = keyer_process};

/** Runs source(p_src) → keyer (forward) → sink(p_sink, rebalance). Returns the job error. */
static weir_err run_job(const char **paths, size_t n_paths, int p_src, int p_sink,
                        weir_file_sink_conf *sink, weir_error *err, int64_t *rows_out,
                        const char *rows_key) {
    static weir_file_source_conf src;
    memset(&src, 0, sizeof src);
    src.paths = paths;
    src.n_paths = n_paths;
    weir_graph *g = weir_graph_new("file-connectors-test");
    assert_non_null(g);
    int s = weir_graph_add(g, "src", "file source", &weir_file_source_def, &src, p_src, err);
    int k = weir_graph_add(g, "key", "keyer", &keyer_def, NULL, p_src, err);
    int o = weir_graph_add(g, "sink", "file sink", &weir_file_sink_def, sink, p_sink, err);
    assert_true(s >= 0 && k >= 0 && o >= 0);
    assert_int_equal(weir_graph_connect(g, s, NULL, k, WEIR_PART_FORWARD, err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, k, NULL, o, WEIR_PART_REBALANCE, err), WEIR_OK);
    weir_job_options opt;
    memset(&opt, 0, sizeof opt);
    opt.batch_records = 7; /* many small batches */
    weir_job *job = weir_job_start(g, &opt, err);
    weir_err rc;
    if (!job) {
        rc = err->code ? err->code : WEIR_EINTERNAL;
    } else {
        rc = weir_job_wait(job, err);
        if (rows_out && rows_key) *rows_out = weir_metrics_value(weir_job_metrics(job), rows_key);
        weir_job_free(job);
    }
    weir_graph_free(g);
    return rc;
}

/* ---------------------------------------------------------------------- tests */

static void test_lines_byte_exact(void **state) {
    (void)state;
    make_tmp();
    char in[1100];
    snprintf(in, sizeof in, "%s/mixed.jsonl", g_tmp);
    /* build the input and the expected output */
    size_t big = 5u * 1024 * 1024;
    size_t cap = big + 4096;
    char *data = malloc(cap), *exp = malloc(cap);
    size_t dn = 0, en = 0;
#define ADD(in_s, in_n, ex_s, ex_n)                                                                \
    do {                                                                                           \
        memcpy(data + dn, in_s, in_n);                                                             \
        dn += in_n;                                                                                \
        memcpy(exp + en, ex_s, ex_n);                                                              \
        en += ex_n;                                                                                \
    } while (0)
    ADD("{\"a\":1}\n", 8, "{\"a\":1}\n", 8);
    ADD("\n", 1, "\n", 1);                                   /* empty line */
    ADD("{\"crlf\":true}\r\n", 15, "{\"crlf\":true}\n", 14); /* \r\n */
    ADD("\r\n", 2, "\n", 1);                                 /* empty CRLF line */
    ADD("bin\x00\x01\xff\xfe\x80\r\x7f\n", 11, "bin\x00\x01\xff\xfe\x80\r\x7f\n", 11);
    memset(data + dn, 'x', big);
    memset(exp + en, 'x', big);
    data[dn] = exp[en] = '{';
    dn += big;
    en += big;
    ADD("\n", 1, "\n", 1);
    ADD("{\"last\":\"no newline\"}", 21, "{\"last\":\"no newline\"}\n", 22);
    write_file(in, data, dn);

    weir_file_sink_conf sink;
    memset(&sink, 0, sizeof sink);
    snprintf(sink.dir, sizeof sink.dir, "%s/out/nested", g_tmp); /* created if missing */
    const char *paths[] = {in};
    weir_error err = {0};
    int64_t rows = -1;
    atomic_store(&g_offset_errors, 0);
    weir_err rc = run_job(paths, 1, 1, 1, &sink, &err, &rows, "rows.mixed");
    assert_int_equal(rc, WEIR_OK);
    assert_int_equal(rows, 7);
    assert_int_equal(atomic_load(&g_offset_errors), 0);

    char out[1200];
    snprintf(out, sizeof out, "%s/mixed.jsonl", sink.dir);
    size_t on = 0;
    char *got = read_file(out, &on);
    assert_non_null(got);
    assert_int_equal(on, en);
    assert_memory_equal(got, exp, en);
    free(got);

    /* a second run with the same conf truncates the file instead of appending */
    rc = run_job(paths, 1, 1, 1, &sink, &err, NULL, NULL);
    assert_int_equal(rc, WEIR_OK);
    got = read_file(out, &on);
    assert_int_equal(on, en);
    free(got);
    weir_file_sink_conf_cleanup(&sink);
    weir_file_sink_conf_cleanup(&sink); /* twice is fine */
    free(data);
    free(exp);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_many_files_parallel(void **state) {
    (void)state;
    make_tmp();
    enum { NF = 5 };
    const int lines[NF] = {1000, 1, 0, 2500, 333};
    char names[NF][1100];
    const char *paths[NF];
    for (int i = 0; i < NF; i++) {
        snprintf(names[i], sizeof names[i], "%s/t%d.jsonl", g_tmp, i);
        FILE *f = fopen(names[i], "wb");
        assert_non_null(f);
        for (int j = 0; j < lines[i]; j++)
            fprintf(f, "f%d-l%d%s", i, j, j % 2 ? "\r\n" : "\n");
        fclose(f);
        paths[i] = names[i];
    }
    weir_file_sink_conf sink;
    memset(&sink, 0, sizeof sink);
    snprintf(sink.dir, sizeof sink.dir, "%s/out", g_tmp);
    snprintf(sink.suffix, sizeof sink.suffix, ".out");
    const char *pre[] = {"precreated_table", NULL};
    sink.precreate = pre;
    weir_error err = {0};
    int64_t rows = -1;
    atomic_store(&g_offset_errors, 0);
    weir_err rc = run_job(paths, NF, 2, 2, &sink, &err, &rows, "rows.t3");
    assert_int_equal(rc, WEIR_OK);
    assert_int_equal(rows, lines[3]);
    assert_int_equal(atomic_load(&g_offset_errors), 0);
    for (int i = 0; i < NF; i++) {
        char out[1200];
        snprintf(out, sizeof out, "%s/t%d.out", sink.dir, i);
        size_t on = 0;
        char *got = read_file(out, &on);
        if (lines[i] == 0) { /* never keyed: no file */
            assert_null(got);
            continue;
        }
        assert_non_null(got);
        /* split, sort, compare with the expected set */
        char **ls = calloc((size_t)lines[i] + 1, sizeof *ls);
        size_t n = 0;
        for (char *p = got, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
            *nl = '\0';
            ls[n++] = p;
            assert_true(n <= (size_t)lines[i]);
        }
        assert_int_equal(n, (size_t)lines[i]);
        qsort(ls, n, sizeof *ls, cmp_str);
        char **ex = calloc((size_t)lines[i], sizeof *ex);
        for (int j = 0; j < lines[i]; j++) {
            ex[j] = malloc(32);
            snprintf(ex[j], 32, "f%d-l%d", i, j);
        }
        qsort(ex, n, sizeof *ex, cmp_str);
        for (size_t j = 0; j < n; j++)
            assert_string_equal(ls[j], ex[j]);
        for (int j = 0; j < lines[i]; j++)
            free(ex[j]);
        free(ex);
        free(ls);
        free(got);
    }
    char pc[1200];
    snprintf(pc, sizeof pc, "%s/precreated_table.out", sink.dir);
    struct stat st;
    assert_int_equal(stat(pc, &st), 0);
    assert_int_equal(st.st_size, 0);
    weir_file_sink_conf_cleanup(&sink);
}

static void test_unwritable_dir(void **state) {
    (void)state;
    make_tmp();
    char in[1100], blocker[600];
    snprintf(in, sizeof in, "%s/in.jsonl", g_tmp);
    write_file(in, "{}\n", 3);
    snprintf(blocker, sizeof blocker, "%s/not_a_dir", g_tmp);
    write_file(blocker, "x", 1);
    weir_file_sink_conf sink;
    memset(&sink, 0, sizeof sink);
    snprintf(sink.dir, sizeof sink.dir, "%s/sub", blocker); /* parent is a regular file */
    const char *paths[] = {in};
    weir_error err = {0};
    weir_err rc = run_job(paths, 1, 1, 1, &sink, &err, NULL, NULL);
    assert_int_not_equal(rc, WEIR_OK);
    assert_non_null(strstr(err.msg, "file sink"));
    assert_non_null(strstr(err.msg, "not_a_dir"));
    weir_file_sink_conf_cleanup(&sink);
}

static void test_missing_source_file(void **state) {
    (void)state;
    make_tmp();
    char in[1100];
    snprintf(in, sizeof in, "%s/does-not-exist.jsonl", g_tmp);
    weir_file_sink_conf sink;
    memset(&sink, 0, sizeof sink);
    snprintf(sink.dir, sizeof sink.dir, "%s/out", g_tmp);
    const char *paths[] = {in};
    weir_error err = {0};
    weir_err rc = run_job(paths, 1, 1, 1, &sink, &err, NULL, NULL);
    assert_int_not_equal(rc, WEIR_OK);
    assert_non_null(strstr(err.msg, "does-not-exist.jsonl"));
    weir_file_sink_conf_cleanup(&sink);
}

static weir_err bad_key_process(weir_ctx *ctx, const weir_record *rec) {
    weir_record out = *rec;
    out.key = (const uint8_t *)"../escape";
    out.key_len = 9;
    return weir_emit(ctx, &out);
}
static const weir_operator_def bad_key_def = {.kind = "bad-key", .process = bad_key_process};

static void test_invalid_key(void **state) {
    (void)state;
    make_tmp();
    char in[1100];
    snprintf(in, sizeof in, "%s/in.jsonl", g_tmp);
    write_file(in, "{}\n", 3);
    static weir_file_source_conf src;
    memset(&src, 0, sizeof src);
    const char *paths[] = {in};
    src.paths = paths;
    src.n_paths = 1;
    weir_file_sink_conf sink;
    memset(&sink, 0, sizeof sink);
    snprintf(sink.dir, sizeof sink.dir, "%s/out", g_tmp);
    weir_error err = {0};
    weir_graph *g = weir_graph_new("bad-key");
    int s = weir_graph_add(g, "src", "src", &weir_file_source_def, &src, 1, &err);
    int k = weir_graph_add(g, "key", "key", &bad_key_def, NULL, 1, &err);
    int o = weir_graph_add(g, "sink", "sink", &weir_file_sink_def, &sink, 1, &err);
    weir_graph_connect(g, s, NULL, k, WEIR_PART_FORWARD, &err);
    weir_graph_connect(g, k, NULL, o, WEIR_PART_FORWARD, &err);
    weir_job_options opt;
    memset(&opt, 0, sizeof opt);
    weir_job *job = weir_job_start(g, &opt, &err);
    assert_non_null(job);
    assert_int_not_equal(weir_job_wait(job, &err), WEIR_OK);
    assert_non_null(strstr(err.msg, "invalid key"));
    weir_job_free(job);
    weir_graph_free(g);
    weir_file_sink_conf_cleanup(&sink);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_byte_exact), cmocka_unit_test(test_many_files_parallel),
        cmocka_unit_test(test_unwritable_dir),   cmocka_unit_test(test_missing_source_file),
        cmocka_unit_test(test_invalid_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
