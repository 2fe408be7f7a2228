/*
 * test_checkpoint.c - checkpoints, failure recovery, rescaling and timers (issue #3, #4 item 1),
 * in the style of Flink's DataStream "allround" end-to-end test.
 *
 * The job: a sequence source (K keys, per-key sequence numbers 0..N/K-1, its position is its
 * operator state) → hash(key) → a keyed "checker" with value, list and map state → the
 * exactly-once file sink. For every record the checker
 *   - compares the sequence number with its value state (the last one seen + 1): a gap or a
 *     repeat means state and source offsets were not restored together;
 *   - keeps the last 3 sequence numbers in list state and a per-key count in map state, and
 *     writes them into the output row, so a lost or doubled state update shows in the rows;
 *   - fails the job at a random record, at most once per attempt (the first subtask to reach
 *     its point), while g_failures_left > 0 (the failure-injecting mapper of the allround test).
 * weir_job_run restarts the job from the latest checkpoint (fixed-delay strategy). The checker
 * then reads the committed part files: every (key, seq) exactly once, no "error" rows, and the
 * state-derived columns equal what an uninterrupted run computes by definition.
 * Timers: an event-time timer per key fires once at end of input with the key's final count
 * (registered per record, deduplicated by the timer service); so each key has exactly one
 * "timer" row with count == N/K, also across failures and restores.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "checkpoint/metadata.h"
#include "weir/weir.h"

#define KEYS 50

static char g_tmp[512];
static atomic_int g_failures_left;
/* weir_job_restarts() of the attempt that injected the last failure (-1: none yet): with p > 1
 * two checker subtasks could reach their failure points in the same attempt, and two injected
 * failures would fail the job only once (seen as restarts 2 != injected 3). */
static atomic_int g_failed_attempt;
static atomic_long g_processed;
static long g_total;      /* records the source emits */
static long g_fail_every; /* a failure is injected around every g_fail_every records */

/* ------------------------------------------------------------------ source */

typedef struct src_local {
    long next;     /* next global index to emit (operator state) */
    long restored; /* -1 = fresh */
} src_local;

static weir_err src_restore(weir_ctx *ctx, const void *data, size_t len) {
    src_local *l = weir_ctx_local(ctx);
    if (!l) {
        l = calloc(1, sizeof *l);
        l->restored = -1;
        weir_ctx_set_local(ctx, l);
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)len, (const char *)data);
    long v = atol(buf);
    /* union state: all old subtasks; the source runs at parallelism 1 */
    if (v > l->restored) l->restored = v;
    return WEIR_OK;
}

static weir_err src_open(weir_ctx *ctx) {
    src_local *l = weir_ctx_local(ctx);
    if (!l) {
        l = calloc(1, sizeof *l);
        l->restored = -1;
        weir_ctx_set_local(ctx, l);
    }
    l->next = l->restored >= 0 ? l->restored : 0;
    return WEIR_OK;
}

static weir_err src_poll(weir_ctx *ctx, size_t max, weir_poll_status *st) {
    src_local *l = weir_ctx_local(ctx);
    for (size_t i = 0; i < max && l->next < g_total; i++) {
        char key[16], val[64];
        int kn = snprintf(key, sizeof key, "k%ld", l->next % KEYS);
        int vn = snprintf(val, sizeof val, "%ld", l->next / KEYS);
        weir_record r = {.key = (const uint8_t *)key,
                         .key_len = (uint32_t)kn,
                         .value = (const uint8_t *)val,
                         .value_len = (uint32_t)vn,
                         .timestamp_ms = l->next,
                         .key_group = -1};
        weir_err rc = weir_emit(ctx, &r);
        if (rc) return rc;
        l->next++;
        if (l->next % 1000 == 0) {
            rc = weir_emit_watermark(ctx, l->next - 1);
            if (rc) return rc;
        }
    }
    *st = l->next >= g_total ? WEIR_POLL_END : WEIR_POLL_MORE;
    return WEIR_OK;
}

static weir_err src_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    (void)b;
    src_local *l = weir_ctx_local(ctx);
    weir_buf_printf(out, "%ld", l->next);
    return WEIR_OK;
}

static void src_close(weir_ctx *ctx) {
    free(weir_ctx_local(ctx));
    weir_ctx_set_local(ctx, NULL);
}

static const weir_operator_def src_def = {.kind = "seq-source",
                                          .open = src_open,
                                          .poll = src_poll,
                                          .snapshot_state = src_snapshot,
                                          .restore_state = src_restore,
                                          .close = src_close};

/* ------------------------------------------------------------------ checker */

typedef struct chk_local {
    weir_state *last, *recent, *counts;
    long fail_at; /* processed count at which this attempt fails; -1 = never */
} chk_local;

static weir_err chk_open(weir_ctx *ctx) {
    chk_local *l = calloc(1, sizeof *l);
    weir_state_backend *be = weir_ctx_state_backend(ctx);
    weir_state_desc d1 = {.name = "last-seq", .kind = WEIR_STATE_VALUE};
    weir_state_desc d2 = {.name = "recent", .kind = WEIR_STATE_LIST};
    weir_state_desc d3 = {.name = "counts", .kind = WEIR_STATE_MAP};
    l->last = weir_state_register(be, &d1, NULL);
    l->recent = weir_state_register(be, &d2, NULL);
    l->counts = weir_state_register(be, &d3, NULL);
    l->fail_at = -1;
    if (atomic_load(&g_failures_left) > 0)
        l->fail_at = atomic_load(&g_processed) + 1 + rand() % g_fail_every;
    weir_ctx_set_local(ctx, l);
    return l->last && l->recent && l->counts ? WEIR_OK : WEIR_ESTATE;
}

typedef struct list_acc {
    long v[64];
    int n;
} list_acc;

static int list_visit(void *ud, const void *val, size_t len) {
    list_acc *a = ud;
    char b[32];
    snprintf(b, sizeof b, "%.*s", (int)len, (const char *)val);
    if (a->n < 64) a->v[a->n++] = atol(b);
    return 0;
}

static weir_err emit_row(weir_ctx *ctx, const char *table, const char *row) {
    weir_record r = {.key = (const uint8_t *)table,
                     .key_len = (uint32_t)strlen(table),
                     .value = (const uint8_t *)row,
                     .value_len = (uint32_t)strlen(row),
                     .timestamp_ms = WEIR_NO_TIMESTAMP,
                     .key_group = -1};
    return weir_emit(ctx, &r);
}

static weir_err chk_process(weir_ctx *ctx, const weir_record *rec) {
    chk_local *l = weir_ctx_local(ctx);
    long n = atomic_fetch_add(&g_processed, 1) + 1;
    if (l->fail_at >= 0 && n >= l->fail_at && atomic_load(&g_failures_left) > 0) {
        /* at most one injected failure per attempt: the first subtask of it to get here */
        int attempt = weir_job_restarts(), prev = atomic_load(&g_failed_attempt);
        if (prev != attempt && atomic_compare_exchange_strong(&g_failed_attempt, &prev, attempt)) {
            atomic_fetch_sub(&g_failures_left, 1);
            return weir_ctx_fail(ctx, WEIR_EINTERNAL, "injected failure at record %ld", n);
        }
        l->fail_at = -1;
    }
    char key[16], sv[32];
    snprintf(key, sizeof key, "%.*s", (int)rec->key_len, (const char *)rec->key);
    snprintf(sv, sizeof sv, "%.*s", (int)rec->value_len, (const char *)rec->value);
    long seq = atol(sv);
    const void *v;
    size_t vl;
    long last = -1;
    if (weir_value_get(l->last, &v, &vl) == WEIR_OK) {
        char b[32];
        snprintf(b, sizeof b, "%.*s", (int)vl, (const char *)v);
        last = atol(b);
    }
    char row[256];
    if (seq != last + 1) {
        snprintf(row, sizeof row, "{\"key\":\"%s\",\"seq\":%ld,\"last\":%ld}", key, seq, last);
        weir_err rc = emit_row(ctx, "error", row);
        if (rc) return rc;
    }
    weir_value_put(l->last, sv, strlen(sv));
    weir_list_add(l->recent, sv, strlen(sv));
    long count = 0;
    if (weir_map_get(l->counts, "n", 1, &v, &vl) == WEIR_OK) {
        char b[32];
        snprintf(b, sizeof b, "%.*s", (int)vl, (const char *)v);
        count = atol(b);
    }
    count++;
    char cb[32];
    snprintf(cb, sizeof cb, "%ld", count);
    weir_map_put(l->counts, "n", 1, cb, strlen(cb));
    list_acc acc = {0};
    weir_list_foreach(l->recent, list_visit, &acc);
    if (acc.n > 3) { /* keep the last 3 */
        weir_list_clear(l->recent);
        for (int i = acc.n - 3; i < acc.n; i++) {
            char b[32];
            snprintf(b, sizeof b, "%ld", acc.v[i]);
            weir_list_add(l->recent, b, strlen(b));
        }
        memmove(acc.v, acc.v + acc.n - 3, 3 * sizeof acc.v[0]);
        acc.n = 3;
    }
    long prev = acc.n >= 2 ? acc.v[acc.n - 2] : -1;
    weir_timer_register(ctx, WEIR_TIME_EVENT, INT64_MAX - 1); /* fires at end of input only */
    snprintf(row, sizeof row, "{\"key\":\"%s\",\"seq\":%ld,\"count\":%ld,\"prev\":%ld,\"list\":%d}",
             key, seq, count, prev, acc.n);
    return emit_row(ctx, "rows", row);
}

static weir_err chk_timer(weir_ctx *ctx, weir_time_domain d, int64_t ts, const void *key,
                          size_t key_len) {
    (void)d;
    (void)ts;
    chk_local *l = weir_ctx_local(ctx);
    const void *v;
    size_t vl;
    long count = 0;
    if (weir_map_get(l->counts, "n", 1, &v, &vl) == WEIR_OK) {
        char b[32];
        snprintf(b, sizeof b, "%.*s", (int)vl, (const char *)v);
        count = atol(b);
    }
    char row[128];
    snprintf(row, sizeof row, "{\"key\":\"%.*s\",\"count\":%ld}", (int)key_len, (const char *)key,
             count);
    return emit_row(ctx, "timer", row);
}

static void chk_close(weir_ctx *ctx) {
    free(weir_ctx_local(ctx));
    weir_ctx_set_local(ctx, NULL);
}

static const weir_operator_def chk_def = {.kind = "checker",
                                          .open = chk_open,
                                          .process = chk_process,
                                          .on_timer = chk_timer,
                                          .close = chk_close};

/* ------------------------------------------------------------------ harness */

typedef struct result {
    long rows, errors, dups, gaps, bad_state, timers, bad_timers;
} result;

/* Reads every committed part file of <out>/<table>/ and calls @p fn per line. */
static void read_parts(const char *out, const char *table, void (*fn)(void *, const char *),
                       void *ud) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", out, table);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "part-", 5)) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        FILE *f = fopen(p, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f))
            fn(ud, line);
        if (f) fclose(f);
    }
    closedir(d);
}

typedef struct check_ctx {
    unsigned char *seen; /* [key][seq] */
    long per_key;
    result *r;
} check_ctx;

static void check_row(void *ud, const char *line) {
    check_ctx *c = ud;
    int k;
    long seq, count, prev;
    int list;
    if (sscanf(line, "{\"key\":\"k%d\",\"seq\":%ld,\"count\":%ld,\"prev\":%ld,\"list\":%d", &k,
               &seq, &count, &prev, &list) != 5 ||
        k < 0 || k >= KEYS || seq < 0 || seq >= c->per_key) {
        c->r->bad_state++;
        return;
    }
    c->r->rows++;
    unsigned char *s = &c->seen[(size_t)k * (size_t)c->per_key + (size_t)seq];
    if (*s) c->r->dups++;
    *s = 1;
    /* by definition: count = seq + 1, prev = seq - 1, the list holds seq + 1 elements */
    if (count != seq + 1 || prev != seq - 1 || list != (int)(seq + 1 > 3 ? 3 : seq + 1))
        c->r->bad_state++;
}

static void check_error(void *ud, const char *line) {
    (void)line;
    ((check_ctx *)ud)->r->errors++;
}

static void check_timer(void *ud, const char *line) {
    check_ctx *c = ud;
    int k;
    long count;
    c->r->timers++;
    if (sscanf(line, "{\"key\":\"k%d\",\"count\":%ld", &k, &count) != 2 || count != c->per_key)
        c->r->bad_timers++;
}

static weir_err run_allround(const char *name, int par, const char *backend, int failures,
                             const char *mode, result *r) {
    char out[600], ck[600];
    snprintf(out, sizeof out, "%s/%s-out", g_tmp, name);
    snprintf(ck, sizeof ck, "%s/%s-ck", g_tmp, name);
    weir_rmtree(out);
    weir_rmtree(ck);
    atomic_store(&g_failures_left, failures);
    atomic_store(&g_failed_attempt, -1);
    atomic_store(&g_processed, 0);
    weir_graph *g = weir_graph_new(name);
    weir_file_sink_conf sink;
    memset(&sink, 0, sizeof sink);
    snprintf(sink.dir, sizeof sink.dir, "%s", out);
    int s = weir_graph_add(g, "seq-source", "seq-source", &src_def, NULL, 1, NULL);
    int c = weir_graph_add(g, "checker", "checker", &chk_def, NULL, par, NULL);
    int k = weir_graph_add(g, "sink", "sink", &weir_file_sink_def, &sink, par, NULL);
    assert_int_equal(weir_graph_connect(g, s, NULL, c, WEIR_PART_HASH, NULL), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, c, NULL, k, WEIR_PART_FORWARD, NULL), WEIR_OK);
    weir_config *cfg = weir_config_new();
    weir_config_set(cfg, "execution.checkpointing.interval", "20ms");
    weir_config_set(cfg, "execution.checkpointing.mode", mode);
    weir_config_set(cfg, "restart-strategy.type", "fixed-delay");
    weir_config_set(cfg, "restart-strategy.fixed-delay.attempts", "100");
    weir_config_set(cfg, "restart-strategy.fixed-delay.delay", "10ms");
    weir_job_options o;
    memset(&o, 0, sizeof o);
    o.config = cfg;
    o.state_backend = backend;
    char sd[700];
    snprintf(sd, sizeof sd, "%s/%s-state", g_tmp, name);
    o.state_dir = sd;
    o.checkpoint_dir = ck;
    o.batch_records = 64;
    weir_error err = {0};
    weir_job *last = NULL;
    int restarts0 = weir_job_restarts();
    weir_err rc = weir_job_run(g, &o, NULL, NULL, &last, &err);
    if (rc) fprintf(stderr, "%s: %s\n", name, err.msg);
    weir_job_free(last);
    int restarts = weir_job_restarts() - restarts0;
    long per_key = g_total / KEYS;
    check_ctx cc = {.seen = calloc((size_t)KEYS * (size_t)per_key, 1), .per_key = per_key, .r = r};
    memset(r, 0, sizeof *r);
    read_parts(out, "rows", check_row, &cc);
    read_parts(out, "error", check_error, &cc);
    read_parts(out, "timer", check_timer, &cc);
    for (long i = 0; i < KEYS * per_key; i++)
        if (!cc.seen[i]) r->gaps++;
    free(cc.seen);
    fprintf(stderr,
            "%s: p=%d %s %s, %d restarts: %ld rows, %ld gaps, %ld duplicates, %ld state errors, "
            "%ld sequence errors, %ld timer rows (%ld wrong)\n",
            name, par, backend, mode, restarts, r->rows, r->gaps, r->dups, r->bad_state, r->errors,
            r->timers, r->bad_timers);
    /* every injected failure restarted the job once; at least one was injected (the first
     * attempt fails within its first g_fail_every records) */
    if (failures) {
        int injected = failures - atomic_load(&g_failures_left);
        assert_true(injected >= 1);
        assert_int_equal(restarts, injected);
    }
    weir_file_sink_conf_cleanup(&sink);
    weir_config_free(cfg);
    weir_graph_free(g);
    return rc;
}

static void expect_exactly_once(const result *r) {
    assert_int_equal(r->rows, g_total);
    assert_int_equal(r->gaps, 0);
    assert_int_equal(r->dups, 0);
    assert_int_equal(r->bad_state, 0);
    assert_int_equal(r->errors, 0);
    assert_int_equal(r->timers, KEYS);
    assert_int_equal(r->bad_timers, 0);
}

static void test_no_failure_heap(void **st) {
    (void)st;
    result r;
    assert_int_equal(run_allround("nofail", 2, "heap", 0, "EXACTLY_ONCE", &r), WEIR_OK);
    expect_exactly_once(&r);
}

static void test_failures_heap(void **st) {
    (void)st;
    result r;
    assert_int_equal(run_allround("fail-heap", 3, "heap", 5, "EXACTLY_ONCE", &r), WEIR_OK);
    expect_exactly_once(&r);
}

static void test_failures_rocksdb(void **st) {
    (void)st;
    result r;
    assert_int_equal(run_allround("fail-rocks", 2, "rocksdb", 5, "EXACTLY_ONCE", &r), WEIR_OK);
    expect_exactly_once(&r);
}

/* at-least-once does not block inputs while aligning; with one input channel per consumer
 * (source parallelism 1) it is still exact here */
static void test_failures_at_least_once(void **st) {
    (void)st;
    result r;
    assert_int_equal(run_allround("fail-alo", 2, "heap", 3, "AT_LEAST_ONCE", &r), WEIR_OK);
    expect_exactly_once(&r);
}

/* a checkpoint's _metadata names every operator with its key-group ranges */
static void test_metadata_written(void **st) {
    (void)st;
    result r;
    assert_int_equal(run_allround("meta", 4, "rocksdb", 0, "EXACTLY_ONCE", &r), WEIR_OK);
    char jd[800], jid[33];
    wck_job_id_for("meta", jid);
    snprintf(jd, sizeof jd, "%s/meta-ck/%s", g_tmp, jid);
    wck_entry e;
    assert_int_equal(wck_latest(jd, &e, NULL), WEIR_OK);
    wck_metadata md = {0};
    assert_int_equal(wck_metadata_read(e.path, &md, NULL), WEIR_OK);
    const wck_operator *op = wck_metadata_find(&md, "checker");
    assert_non_null(op);
    assert_int_equal(op->n_subtasks, 4);
    int32_t next = 0;
    for (int s = 0; s < 4; s++) { /* contiguous ranges covering 0..127 (Flink's assignment) */
        assert_int_equal(op->subtasks[s].kg_start, next);
        next = op->subtasks[s].kg_end + 1;
        assert_non_null(op->subtasks[s].keyed_dir);
    }
    assert_int_equal(next, 128);
    assert_non_null(wck_metadata_find(&md, "seq-source"));
    wck_metadata_clear(&md);
}

/* Restoring state of an operator the job does not have fails with a message naming it, unless
 * allow_non_restored_state; a keyed operator's max parallelism (key groups) must not change. */
static void test_non_restored_state_and_max_parallelism(void **st) {
    (void)st;
    result r;
    assert_int_equal(run_allround("nonres", 2, "heap", 0, "EXACTLY_ONCE", &r), WEIR_OK);
    char jd[800], jid[33];
    wck_job_id_for("nonres", jid);
    snprintf(jd, sizeof jd, "%s/nonres-ck/%s", g_tmp, jid);
    wck_entry e;
    assert_int_equal(wck_latest(jd, &e, NULL), WEIR_OK);
    for (int variant = 0; variant < 3; variant++) {
        weir_graph *g = weir_graph_new("nonres");
        weir_file_sink_conf sink;
        memset(&sink, 0, sizeof sink);
        snprintf(sink.dir, sizeof sink.dir, "%s/nonres-out2", g_tmp);
        int s = weir_graph_add(g, "seq-source", "seq-source", &src_def, NULL, 1, NULL);
        int c = weir_graph_add(g, "checker", "checker", &chk_def, NULL, 2, NULL);
        /* variants 0 and 1: the sink has a new uid; variant 2: 256 key groups */
        int k = weir_graph_add(g, variant < 2 ? "sink-renamed" : "sink", "sink",
                               &weir_file_sink_def, &sink, 2, NULL);
        if (variant == 2) weir_graph_set_max_parallelism(g, c, 256, NULL);
        weir_graph_connect(g, s, NULL, c, WEIR_PART_HASH, NULL);
        weir_graph_connect(g, c, NULL, k, WEIR_PART_FORWARD, NULL);
        weir_job_options o;
        memset(&o, 0, sizeof o);
        o.restore_path = e.path;
        o.allow_non_restored_state = variant == 1;
        weir_error err = {0};
        weir_job *j = weir_job_start(g, &o, &err);
        if (variant == 1) {
            assert_non_null(j);
            assert_int_equal(weir_job_restored_from(j), e.checkpoint_id);
            assert_int_equal(weir_job_wait(j, &err), WEIR_OK);
            weir_job_free(j);
        } else {
            assert_null(j);
            assert_int_equal(err.code, WEIR_EINVAL);
            assert_non_null(strstr(err.msg, variant == 0 ? "'sink'" : "max parallelism"));
            if (variant == 0) assert_non_null(strstr(err.msg, "allowNonRestoredState"));
        }
        weir_file_sink_conf_cleanup(&sink);
        weir_graph_free(g);
    }
}

int main(void) {
    const char *t = getenv("WEIR_TEST_TMP");
    snprintf(g_tmp, sizeof g_tmp, "%s/test_checkpoint.%d", t ? t : "/tmp", (int)getpid());
    weir_mkdirs(g_tmp);
    srand((unsigned)getpid());
    g_total = 50L * 2000; /* 50 keys x 2000 sequence numbers */
    g_fail_every = 15000;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_failure_heap),
        cmocka_unit_test(test_failures_heap),
        cmocka_unit_test(test_failures_rocksdb),
        cmocka_unit_test(test_failures_at_least_once),
        cmocka_unit_test(test_metadata_written),
        cmocka_unit_test(test_non_restored_state_and_max_parallelism),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) weir_rmtree(g_tmp);
    return rc;
}
