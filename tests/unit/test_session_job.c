/*
 * test_session_job.c - the lifecycle job as a DAG (issue #4): events in a file go through
 * gate → event-time → dedup → lifecycle-signals → lifecycle (keyed + broadcast capability rows)
 * → fact files, built by ws_job_new() exactly as `weir run session` does.
 *
 *   tv35_through_job     spec TV35 (prod scenario_2): final session row, segment, coverage
 *                        reasons and trace edges.
 *   tv38_event_time      spec TV38 (capability-attributed session) with the capability event
 *                        ARRIVING LAST but timestamped first: the event-time merge applies it
 *                        before the signals (broadcast state + watermarks).
 *   retention_bounded    issue #4.4: 3000 sessions that close one after another; with a 60 s
 *                        closed retention the live keys and timers stay bounded and every
 *                        session's state is cleared; the control without retention grows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs/session/job.h"

static const char *tmpdir(void) {
    const char *t = getenv("WEIR_TEST_TMP");
    return t && *t ? t : "/tmp";
}

typedef struct run_result {
    char out[1024];
    int64_t created, expired, peak_keys, peak_timers, late, sessions_rows;
} run_result;

/* Runs the session job over the file @p in (heap or rocksdb) and collects its counters. */
static void run_job(const char *name, const char *in, const ws_config *cfg, const char *backend,
                    run_result *r) {
    char state[1024];
    snprintf(r->out, sizeof r->out, "%s/%s-%d-out", tmpdir(), name, (int)getpid());
    snprintf(state, sizeof state, "%s/%s-%d-state", tmpdir(), name, (int)getpid());
    mkdir(r->out, 0755);
    const char *inputs[1] = {in};
    ws_job_options o;
    memset(&o, 0, sizeof o);
    dd_config_defaults(&o.dedup.cfg);
    o.dedup.input_files = inputs;
    o.dedup.n_input_files = 1;
    o.dedup.output_dir = r->out;
    o.dedup.parallelism = 1;
    o.cfg = *cfg;
    weir_error err = {0};
    ws_job *j = ws_job_new(&o, &err);
    assert_non_null(j);
    weir_job_options jo;
    memset(&jo, 0, sizeof jo);
    jo.state_backend = backend;
    jo.state_dir = state;
    weir_job *job = weir_job_start(ws_job_graph(j), &jo, &err);
    if (!job) fail_msg("start: %s", err.msg);
    if (weir_job_wait(job, &err)) fail_msg("job: %s", err.msg);
    weir_metrics *m = weir_job_metrics(job);
    r->created = weir_metrics_value(m, "lifecycle.sessions_created");
    r->expired = weir_metrics_value(m, "lifecycle.sessions_expired");
    r->peak_keys = weir_metrics_value(m, "lifecycle.state_keys_peak");
    r->peak_timers = weir_metrics_value(m, "lifecycle.timers_peak");
    r->late = weir_metrics_value(m, "lifecycle.late_signals");
    r->sessions_rows = weir_metrics_value(m, "lifecycle.rows.fact_workflow_sessions");
    weir_job_free(job);
    ws_job_free(j);
}

static void write_lines(const char *path, const char *const *lines, size_t n) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

/* Lines of <dir>/<table>.jsonl (malloc'd array of malloc'd strings, NULL-terminated). */
static char **read_table(const char *dir, const char *table, size_t *n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.jsonl", dir, table);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 16;
    char **v = calloc(cap, sizeof *v);
    *n = 0;
    char *l = NULL;
    size_t lc = 0;
    ssize_t k;
    while ((k = getline(&l, &lc, f)) > 0) {
        if (l[k - 1] == '\n') l[k - 1] = 0;
        if (*n + 1 >= cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = strdup(l);
    }
    v[*n] = NULL;
    free(l);
    fclose(f);
    return v;
}

static void free_lines(char **v) {
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* The row of @p rows with the largest "version" (sessions, segments). */
static const char *max_version(char **rows, size_t n) {
    const char *best = NULL;
    long long bv = -1;
    for (size_t i = 0; i < n; i++) {
        const char *p = strstr(rows[i], "\"version\":");
        long long v = p ? atoll(p + 10) : -1;
        if (v > bv) bv = v, best = rows[i];
    }
    return best;
}

static void has(const char *row, const char *field) {
    if (!strstr(row, field)) fail_msg("row lacks %s:\n%s", field, row);
}

/* ---------------------------------------------------------------------------------- TV35 */

#define WS35 "aiJobTesterStream-1772052113991767774"
#define GW35 "cloud-spe-ai-live-video-tester-fra"

static void tv35_through_job(void **st) {
    (void)st;
    /* arrival order of TV35; ids chosen so that uid order = arrival order at equal ts */
    const char *ev[] = {
        "{\"id\":\"aa923f57-3bd7-41f7-989f-9bebe5bd49bb\",\"type\":\"stream_trace\","
        "\"timestamp\":\"1772052118525\",\"gateway\":\"" GW35 "\",\"data\":{\"orchestrator_info\":"
        "{\"address\":\"\",\"url\":\"\"},\"request_id\":\"0815334c\",\"stream_id\":\"" WS35 "\","
        "\"timestamp\":1772052118525,\"type\":\"gateway_receive_stream_request\"}}",
        "{\"id\":\"b2000000-0000-0000-0000-000000000002\",\"type\":\"ai_stream_events\","
        "\"timestamp\":\"1772052118530\",\"gateway\":\"" GW35 "\",\"data\":{\"capability\":\"\","
        "\"message\":\"no orchestrators available\",\"pipeline\":\"streamdiffusion-sdxl\","
        "\"request_id\":\"0815334c\",\"stream_id\":\"" WS35 "\",\"type\":\"error\"}}",
        "{\"id\":\"b3000000-0000-0000-0000-000000000003\",\"type\":\"stream_trace\","
        "\"timestamp\":\"1772052118530\",\"gateway\":\"" GW35 "\",\"data\":{\"orchestrator_info\":"
        "{\"address\":\"\",\"url\":\"\"},\"request_id\":\"0815334c\",\"stream_id\":\"" WS35 "\","
        "\"timestamp\":1772052118530,\"type\":\"gateway_no_orchestrators_available\"}}",
        "{\"id\":\"3a000000-0000-0000-0000-000000000004\",\"type\":\"stream_trace\","
        "\"timestamp\":\"1772052118628\",\"gateway\":\"" GW35 "\",\"data\":{\"orchestrator_info\":"
        "{\"address\":\"\",\"url\":\"\"},\"request_id\":\"0815334c\",\"stream_id\":\"" WS35 "\","
        "\"timestamp\":1772052118628,\"type\":\"gateway_ingest_stream_closed\"}}",
        "{\"id\":\"3bc042c5-85b8-4df2-b78a-37da45fb5b3b\",\"type\":\"ai_stream_events\","
        "\"timestamp\":\"1772052118628\",\"gateway\":\"" GW35 "\",\"data\":{\"capability\":\"\","
        "\"message\":\"mediamtx ingest disconnected\",\"pipeline\":\"streamdiffusion-sdxl\","
        "\"request_id\":\"0815334c\",\"stream_id\":\"" WS35 "\",\"type\":\"error\"}}",
    };
    char in[1024];
    snprintf(in, sizeof in, "%s/tv35-%d.jsonl", tmpdir(), (int)getpid());
    mkdir(tmpdir(), 0755);
    write_lines(in, ev, 5);
    ws_config cfg;
    ws_config_defaults(&cfg);
    run_result r;
    run_job("tv35", in, &cfg, "heap", &r);
    assert_int_equal(r.created, 1);
    assert_int_equal(r.late, 0);
    size_t n;
    char **rows = read_table(r.out, "fact_workflow_sessions", &n);
    assert_int_equal(n, 5); /* one row per signal (§2.6 step 11) */
    const char *s = max_version(rows, n);
    has(s, "\"workflow_session_id\":\"" WS35 "|0815334c\"");
    has(s, "\"known_stream\":1,\"startup_success\":0,\"startup_excused\":1,"
           "\"startup_unexcused\":0");
    has(s, "\"error_count\":2,\"excusable_error_count\":2");
    has(s, "\"session_start_ts\":\"2026-02-25 20:41:58.525\"");
    has(s, "\"session_end_ts\":\"2026-02-25 20:41:58.628\"");
    has(s, "\"event_count\":5,\"version\":5");
    has(s, "\"pipeline\":\"\"");
    has(s, "\"model_id\":\"streamdiffusion-sdxl\"");
    has(s, "\"workflow_id\":\"ai_live_video_stream\"");
    has(s, "\"orchestrator_address\":\"\"");
    has(s, "\"gpu_attribution_method\":\"none\"");
    has(s, "\"health_completeness_ratio\":0.0");
    has(s, "\"source_first_event_uid\":\"aa923f57-3bd7-41f7-989f-9bebe5bd49bb\"");
    has(s, "\"source_last_event_uid\":\"3bc042c5-85b8-4df2-b78a-37da45fb5b3b\"");
    free_lines(rows);
    rows = read_table(r.out, "fact_workflow_session_segments", &n);
    s = max_version(rows, n);
    has(s, "\"segment_index\":0");
    has(s, "\"segment_start_ts\":\"2026-02-25 20:41:58.525\"");
    has(s, "\"segment_end_ts\":\"2026-02-25 20:41:58.628\"");
    has(s, "\"reason\":\"stream_closed\"");
    has(s, "\"model_id\":\"streamdiffusion-sdxl\"");
    has(s, "\"version\":5");
    for (size_t i = 0; i < n; i++)
        has(rows[i], "\"segment_index\":0");
    free_lines(rows);
    rows = read_table(r.out, "fact_lifecycle_edge_coverage", &n);
    assert_int_equal(n, 5);
    static const char *const reasons[5] = {
        "awaiting_first_processed_segment_edge", "awaiting_first_processed_segment_edge",
        "awaiting_first_processed_segment_edge", "missing_first_processed_segment_edge",
        "awaiting_first_processed_segment_edge"};
    for (size_t i = 0; i < n; i++) {
        char want[128];
        snprintf(want, sizeof want, "\"unmatched_reason\":\"%s\"", reasons[i]);
        has(rows[i], want);
    }
    has(rows[3], "\"is_terminal_signal\":1");
    free_lines(rows);
    rows = read_table(r.out, "fact_stream_trace_edges", &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        has(rows[i], "\"is_attributed\":0");
    free_lines(rows);
    rows = read_table(r.out, "fact_stream_status_samples", &n);
    assert_int_equal(n, 0);
    free_lines(rows);
    unlink(in);
}

/* ---------------------------------------------------------------------------------- TV38 */

static void tv38_event_time(void **st) {
    (void)st;
    const char *ev[] = {
        "{\"id\":\"t1\",\"type\":\"stream_trace\",\"timestamp\":\"1000500\",\"gateway\":\"gw\","
        "\"data\":{\"orchestrator_info\":{\"address\":\"\",\"url\":\"\"},\"request_id\":\"r\","
        "\"stream_id\":\"s\",\"timestamp\":1000500,\"type\":\"gateway_receive_stream_request\"}}",
        "{\"id\":\"st1\",\"type\":\"ai_stream_status\",\"timestamp\":\"1001000\",\"gateway\":"
        "\"gw\","
        "\"data\":{\"inference_status\":{\"fps\":20,\"last_error\":null},\"input_status\":{\"fps\":"
        "30},\"orchestrator_info\":{\"address\":\"0xhot\",\"url\":\"\"},\"pipeline\":"
        "\"streamdiffusion-sdxl-v2v\",\"request_id\":\"r\",\"stream_id\":\"s\",\"state\":\"ONLINE\""
        "}}",
        "{\"id\":\"ai1\",\"type\":\"ai_stream_events\",\"timestamp\":\"1002000\",\"gateway\":"
        "\"gw\","
        "\"data\":{\"message\":\"\",\"pipeline\":\"streamdiffusion-sdxl-v2v\",\"request_id\":\"r\","
        "\"stream_id\":\"s\",\"type\":\"params_update\"}}",
        /* arrives last, timestamped before every signal */
        "{\"id\":\"cap1\",\"type\":\"network_capabilities\",\"timestamp\":\"1000000\",\"gateway\":"
        "\"\",\"data\":[{\"address\":\"0xCANON\",\"local_address\":\"0xHOT\",\"orch_uri\":"
        "\"https://o.example\",\"hardware\":[{\"pipeline\":\"live-video-to-video\",\"model_id\":"
        "\"streamdiffusion-sdxl-v2v\",\"gpu_info\":{\"0\":{\"id\":\"GPU-X\"}}}]}]}",
    };
    char in[1024];
    snprintf(in, sizeof in, "%s/tv38-%d.jsonl", tmpdir(), (int)getpid());
    mkdir(tmpdir(), 0755);
    write_lines(in, ev, 4);
    ws_config cfg;
    ws_config_defaults(&cfg);
    run_result r;
    run_job("tv38", in, &cfg, "rocksdb", &r);
    assert_int_equal(r.late, 0);
    size_t n;
    char **rows = read_table(r.out, "fact_workflow_sessions", &n);
    assert_int_equal(n, 3);
    const char *s = max_version(rows, n);
    has(s, "\"workflow_id\":\"ai_live_video_stream\"");
    has(s, "\"pipeline\":\"live-video-to-video\"");
    has(s, "\"orchestrator_address\":\"0xcanon\"");
    has(s, "\"orchestrator_url\":\"https://o.example\"");
    has(s, "\"model_id\":\"streamdiffusion-sdxl-v2v\"");
    has(s, "\"gpu_id\":\"GPU-X\"");
    has(s, "\"gpu_attribution_method\":\"nearest_prior_snapshot\"");
    has(s, "\"gpu_attribution_confidence\":0.9");
    has(s, "\"inferred_orchestrator_change_count\":0");
    free_lines(rows);
    /* §6: the trace matched the segment while it had no orchestrator (emitted unattributed at
     * once, §12.9); the status matched it after the snapshot filled it in */
    rows = read_table(r.out, "fact_stream_trace_edges", &n);
    assert_int_equal(n, 1);
    has(rows[0], "\"is_attributed\":0");
    free_lines(rows);
    rows = read_table(r.out, "fact_stream_status_samples", &n);
    assert_int_equal(n, 1);
    has(rows[0], "\"is_attributed\":1");
    has(rows[0], "\"orchestrator_address\":\"0xcanon\"");
    has(rows[0], "\"pipeline\":\"live-video-to-video\"");
    has(rows[0], "\"gpu_attribution_method\":\"segment_window_join\"");
    free_lines(rows);
    /* §4: one params_update row with the session's attribution */
    rows = read_table(r.out, "fact_workflow_param_updates", &n);
    assert_int_equal(n, 1);
    has(rows[0], "\"update_type\":\"params_update\"");
    has(rows[0], "\"orchestrator_address\":\"0xcanon\"");
    has(rows[0], "\"version\":3");
    free_lines(rows);
    unlink(in);
}

/* ------------------------------------------------------------------------ state hygiene */

#define NSESS 3000
#define T0 1767908945298LL

static void write_sessions(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char *const steps[3] = {"gateway_receive_stream_request",
                                         "gateway_receive_few_processed_segments",
                                         "gateway_ingest_stream_closed"};
    for (int i = 0; i < NSESS; i++)
        for (int k = 0; k < 3; k++) {
            long long ts = T0 + (long long)i * 10000 + k * 1000;
            fprintf(f,
                    "{\"id\":\"e%d-%d\",\"type\":\"stream_trace\",\"timestamp\":\"%lld\","
                    "\"gateway\":\"gw\",\"data\":{\"orchestrator_info\":{\"address\":\"\",\"url\":"
                    "\"\"},\"request_id\":\"r%d\",\"stream_id\":\"s%d\",\"timestamp\":%lld,"
                    "\"type\":\"%s\"}}\n",
                    i, k, ts, i, i, ts, steps[k]);
        }
    fclose(f);
}

static void retention_bounded(void **st) {
    (void)st;
    char in[1024];
    snprintf(in, sizeof in, "%s/hyg-%d.jsonl", tmpdir(), (int)getpid());
    mkdir(tmpdir(), 0755);
    write_sessions(in);
    ws_config cfg;
    ws_config_defaults(&cfg);
    cfg.closed_retention_ms = 60000; /* one session closes every 10 s of event time */
    cfg.idle_retention_ms = 600000;
    cfg.watermark_interval_ms = 0; /* a watermark per record: the peak then measures retention,
                                      not the watermark step (4096 records by default) */
    run_result r;
    run_job("hyg", in, &cfg, "rocksdb", &r);
    assert_int_equal(r.created, NSESS);
    assert_int_equal(r.sessions_rows, 3 * NSESS);
    assert_int_equal(r.expired, NSESS); /* every key's state was cleared */
    /* a session lives ≤ 2 s + 60 s retention (+ rounding to the minute, + 5 s watermark lag):
     * at most ~14 sessions at once, whatever the total */
    if (r.peak_keys > 20) fail_msg("live keys peaked at %lld", (long long)r.peak_keys);
    /* timers: one retention timer per live key plus superseded idle timers (deleted lazily,
     * they leave the queue when their time passes: ≤ 10 min / 10 s ≈ 60 sessions' worth) */
    if (r.peak_timers > 200) fail_msg("timers peaked at %lld", (long long)r.peak_timers);
    /* control: without retention (the spec's behaviour) state grows with every session */
    cfg.closed_retention_ms = 0;
    cfg.idle_retention_ms = 0;
    run_job("hyg0", in, &cfg, "rocksdb", &r);
    assert_int_equal(r.created, NSESS);
    assert_int_equal(r.expired, 0);
    assert_int_equal(r.peak_keys, NSESS);
    /* only the §6 wait timers (each close trace waits 15 s: its segment ends at its own ts) */
    if (r.peak_timers > 5) fail_msg("timers peaked at %lld", (long long)r.peak_timers);
    unlink(in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tv35_through_job),
        cmocka_unit_test(tv38_event_time),
        cmocka_unit_test(retention_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
