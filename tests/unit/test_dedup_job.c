/*
 * test_dedup_job.c - the dedup job's keyed dedup operator end to end (spec dedup-job.md §4.4,
 * §4.5, vectors D9, D10, D12) and the file-in/file-out DAG.
 *
 * The processing-time clock is injected: with one record per channel batch, the clock the dedup
 * operator reads while handling record k is base + offset[k], where k is the number of records
 * the dedup operator has finished (its counters), so TTL expiry can be tested exactly.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs/dedup/job.h"

#define MIN_MS (60 * 1000LL)
#define TS0 1710000000000LL

typedef struct clock_ctl {
    weir_job *_Atomic job; /* set by the test right after weir_job_start() returns */
    pthread_t main_thread;
    const int64_t *offsets;
    size_t n;
} clock_ctl;

static int64_t test_clock(void *ud) {
    clock_ctl *c = ud;
    int64_t k = 0;
    /* task threads may start before the test has the job's counters: wait for them (the main
     * thread itself calls the clock while opening operators, before the job exists) */
    while (!atomic_load(&c->job) && !pthread_equal(pthread_self(), c->main_thread))
        usleep(100);
    weir_job *j = atomic_load(&c->job);
    if (j) {
        weir_metrics *m = weir_job_metrics(j);
        k = weir_metrics_value(m, "quality_gate.dedup.accepted") +
            weir_metrics_value(m, "quality_gate.dedup.duplicates");
    }
    if ((size_t)k >= c->n) k = (int64_t)c->n - 1;
    return TS0 + c->offsets[k];
}

static const char *tmpdir(void) {
    const char *t = getenv("WEIR_TEST_TMP");
    return t && *t ? t : "/tmp";
}

static void write_file(const char *path, const char *const *lines, size_t n) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

static size_t read_lines(const char *path, char lines[][4096], size_t max) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = 0;
    while (n < max && fgets(lines[n], 4096, f))
        n++;
    fclose(f);
    return n;
}

/* Runs the dedup job over @p lines with the clock offsets; returns its metrics values. */
typedef struct result {
    int64_t in, accepted, quarantine, dlq;
} result;

static result run(const char *name, const char *const *lines, size_t n, const int64_t *offsets,
                  const char *backend, char *outdir, size_t outdir_len) {
    char in[512], state[512];
    snprintf(in, sizeof in, "%s/%s-%d.jsonl", tmpdir(), name, (int)getpid());
    snprintf(outdir, outdir_len, "%s/%s-%d-out", tmpdir(), name, (int)getpid());
    snprintf(state, sizeof state, "%s/%s-%d-state", tmpdir(), name, (int)getpid());
    mkdir(tmpdir(), 0755);
    write_file(in, lines, n);
    const char *inputs[1] = {in};
    dd_job_options o;
    memset(&o, 0, sizeof o);
    dd_config_defaults(&o.cfg);
    o.input_files = inputs;
    o.n_input_files = 1;
    o.output_dir = outdir;
    o.parallelism = 1;
    weir_error err = {0};
    dd_job *dj = dd_job_new(&o, &err);
    assert_non_null(dj);
    clock_ctl cc = {NULL, pthread_self(), offsets, n};
    weir_job_options jo;
    memset(&jo, 0, sizeof jo);
    jo.state_backend = backend;
    jo.state_dir = state;
    jo.batch_records = 1; /* one record per batch: the clock advances between records */
    jo.clock = test_clock;
    jo.clock_ud = &cc;
    weir_job *j = weir_job_start(dd_job_graph(dj), &jo, &err);
    assert_non_null(j);
    atomic_store(&cc.job, j);
    assert_int_equal(weir_job_wait(j, &err), WEIR_OK);
    weir_metrics *m = weir_job_metrics(j);
    result r = {weir_metrics_value(m, "quality_gate.input"),
                weir_metrics_value(m, "quality_gate.dedup.accepted"),
                weir_metrics_value(m, "quarantine.envelopes"),
                weir_metrics_value(m, "dlq.envelopes")};
    weir_job_free(j);
    dd_job_free(dj);
    unlink(in);
    return r;
}

static const char *const EVT =
    "{\"id\":\"dedup-1\",\"type\":\"ai_stream_status\",\"timestamp\":1710000000000,"
    "\"data\":{\"stream_id\":\"s1\",\"request_id\":\"r1\",\"pipeline\":\"p1\"}}";

/* D9 + D12: two events with the same key in a row: one forwarded, one quarantined, and the
 * quarantine row has the spec's shape. */
static void test_d9_d12_duplicate(void **state, const char *backend) {
    (void)state;
    const char *lines[2] = {EVT, EVT};
    int64_t offs[2] = {0, 1000};
    char out[512];
    result r = run("d9", lines, 2, offs, backend, out, sizeof out);
    assert_int_equal(r.in, 2);
    assert_int_equal(r.accepted, 1);
    assert_int_equal(r.quarantine, 1);
    assert_int_equal(r.dlq, 0);
    char path[700];
    static char rows[4][4096];
    snprintf(path, sizeof path, "%s/ai_stream_status.jsonl", out);
    assert_int_equal(read_lines(path, rows, 4), 1);
    snprintf(path, sizeof path, "%s/streaming_events_quarantine.jsonl", out);
    assert_int_equal(read_lines(path, rows, 4), 1);
    const char *q = rows[0];
    assert_non_null(strstr(q, "\"source_topic\":\"streaming_events\",\"source_partition\":0,"
                              "\"source_offset\":1,"));
    assert_non_null(strstr(q, "\"event_id\":\"dedup-1\",\"event_type\":\"ai_stream_status\","
                              "\"event_version\":\"1\",\"event_timestamp\":\"2024-03-09 "
                              "16:00:00.000\",\"dedup_key\":\"dedup-1\",\"dedup_strategy\":"
                              "\"event_id\",\"replay\":0,\"failure_stage\":\"DEDUP\","
                              "\"failure_class\":\"DUPLICATE\",\"failure_reason\":"
                              "\"duplicate_event\",\"failure_details\":\"Duplicate detected for "
                              "key: dedup-1\""));
    assert_non_null(strstr(q, "\"payload_encoding\":\"json\""));
    assert_non_null(strstr(q, "\"payload_canonical_json\":null"));
}
static void d9_heap(void **s) {
    test_d9_d12_duplicate(s, "heap");
}
static void d9_rocksdb(void **s) {
    test_d9_d12_duplicate(s, "rocksdb");
}

/* D10: the same key after more than the TTL is forwarded again; a duplicate in between does
 * not extend the TTL (it is counted from the entry's creation). */
static void test_d10_ttl(void **state, const char *backend) {
    (void)state;
    const char *lines[3] = {EVT, EVT, EVT};
    int64_t offs[3] = {0, 1439 * MIN_MS, 1440 * MIN_MS + 1};
    char out[512];
    result r = run("d10", lines, 3, offs, backend, out, sizeof out);
    assert_int_equal(r.in, 3);
    assert_int_equal(r.accepted, 2);   /* first, and again after expiry */
    assert_int_equal(r.quarantine, 1); /* the one inside the TTL */
}
static void d10_heap(void **s) {
    test_d10_ttl(s, "heap");
}
static void d10_rocksdb(void **s) {
    test_d10_ttl(s, "rocksdb");
}

/* Just inside the TTL the key is still live. */
static void test_ttl_boundary(void **state, const char *backend) {
    (void)state;
    const char *lines[2] = {EVT, EVT};
    int64_t offs[2] = {0, 1440 * MIN_MS - 1};
    char out[512];
    result r = run("ttlb", lines, 2, offs, backend, out, sizeof out);
    assert_int_equal(r.accepted, 1);
    assert_int_equal(r.quarantine, 1);
}
static void ttlb_heap(void **s) {
    test_ttl_boundary(s, "heap");
}
static void ttlb_rocksdb(void **s) {
    test_ttl_boundary(s, "rocksdb");
}

/* Every record ends in exactly one place: in = accepted + gate DLQ + quarantine; parse
 * failures (P8) add a DLQ envelope for an accepted event. */
static void test_every_record_accounted(void **state) {
    (void)state;
    const char *lines[6] = {
        EVT,
        "{\"id\":\"x\",",
        "",
        "{\"id\":\"nc-1\",\"type\":\"network_capabilities\",\"timestamp\":1710000000000,"
        "\"data\":[{\"address\":\"0xA\",\"hardware\":null}]}",
        EVT,
        "{\"type\":\"foo\",\"timestamp\":1,\"data\":{}}",
    };
    int64_t offs[6] = {0, 0, 0, 0, 0, 0};
    char out[512];
    result r = run("acct", lines, 6, offs, "heap", out, sizeof out);
    assert_int_equal(r.in, 6);
    assert_int_equal(r.accepted, 2);   /* EVT and nc-1 */
    assert_int_equal(r.quarantine, 1); /* second EVT */
    assert_int_equal(r.dlq, 4);        /* 3 gate rejects + the P8 parse failure */
    char path[700];
    static char rows[8][4096];
    snprintf(path, sizeof path, "%s/streaming_events_dlq.jsonl", out);
    assert_int_equal(read_lines(path, rows, 8), 4);
    int parse = 0;
    for (int i = 0; i < 4; i++)
        if (strstr(rows[i], "\"failure_stage\":\"PARSE\"")) {
            parse++;
            assert_non_null(
                strstr(rows[i], "\"failure_details\":\"No valid orchestrator data found\""));
            assert_non_null(strstr(rows[i], "\"dedup_key\":\"nc-1\""));
        }
    assert_int_equal(parse, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(d9_heap),
        cmocka_unit_test(d9_rocksdb),
        cmocka_unit_test(d10_heap),
        cmocka_unit_test(d10_rocksdb),
        cmocka_unit_test(ttlb_heap),
        cmocka_unit_test(ttlb_rocksdb),
        cmocka_unit_test(test_every_record_accounted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
