/*
 * test_kafka_sink_tx.c - the exactly-once (transactional) Kafka sink (operators/kafka_sink.c,
 * docs/checkpoints.md "Kafka sink exactly-once").
 *
 * 1. The pure parts of the protocol: the restore decision (weir_kafka_sink_tx_decide) in all
 *    branches, the ownership of old transactional ids after rescaling (weir_kafka_sink_tx_owns)
 *    and the parsing of the delivery guarantee.
 * 2. End to end against the embedded (mock) cluster: sequence source (its position is its
 *    operator state) → hash → a failure-injecting mapper → exactly-once Kafka sink (chained),
 *    run by weir_job_run with checkpoints every 20 ms and restarts. Failures alternate between
 *    the mapper's process() (a random record: the sink's open transaction is lost and, usually,
 *    the restored checkpoint's transaction was committed → skip) and the mapper's
 *    notify_checkpoint_complete() (it runs before the sink's in the chain, so the checkpoint is
 *    complete but the sink never committed it → re-commit on restore).
 *
 * What the mock allows us to verify (librdkafka 2.0.2's mock cluster accepts transactions but
 * does not hide aborted records from read_committed consumers): the sink runs with
 * txn_header = 1, so every data record carries the id of the transaction that wrote it, and every
 * commit marker names its transaction. A record copy counts as committed when a marker names its
 * transaction (markers are produced right before commit_transaction on the task thread, so in this
 * test a marker is only written by a transaction that then committed; a failed commit would fail
 * the test's job). We check: every record has exactly one committed copy (nothing lost, nothing
 * committed twice), each (tid, lineage) records each checkpoint at most once and in increasing
 * order, and both restore branches ran (counters kafka_sink.<uid>.tx_recommits / tx_skips).
 * What it cannot verify: that a real broker hides the aborted copies from read_committed
 * consumers, and that init_transactions() aborts a fenced producer's open transaction (the mock
 * keeps the records either way); those are Kafka's guarantees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weir/weir.h"

#define DATA_TOPIC "eo-out"
#define SINK_UID "eo-sink"

static char g_tmp[512];

/* ------------------------------------------------------------ pure decision */

static weir_kafka_tx_marker mk(const char *tid, const char *lineage, int64_t ck) {
    weir_kafka_tx_marker m;
    memset(&m, 0, sizeof m);
    snprintf(m.tid, sizeof m.tid, "%s", tid);
    snprintf(m.lineage, sizeof m.lineage, "%s", lineage);
    m.checkpoint_id = ck;
    return m;
}

static void test_decide_never_committed(void **st) {
    (void)st;
    assert_int_equal(weir_kafka_sink_tx_decide("p-s-0", "L1", 5, NULL, 0), WEIR_KAFKA_TX_RECOMMIT);
    weir_kafka_tx_marker m[] = {mk("p-s-0", "L1", 3), mk("p-s-0", "L1", 4)};
    assert_int_equal(weir_kafka_sink_tx_decide("p-s-0", "L1", 5, m, 2), WEIR_KAFKA_TX_RECOMMIT);
}

static void test_decide_committed_n(void **st) {
    (void)st;
    weir_kafka_tx_marker m[] = {mk("p-s-0", "L1", 4), mk("p-s-0", "L1", 5)};
    assert_int_equal(weir_kafka_sink_tx_decide("p-s-0", "L1", 5, m, 2), WEIR_KAFKA_TX_SKIP);
}

static void test_decide_committed_later(void **st) {
    (void)st;
    /* a later checkpoint committed: n's records were committed before (or with) it */
    weir_kafka_tx_marker m[] = {mk("p-s-0", "L1", 9)};
    assert_int_equal(weir_kafka_sink_tx_decide("p-s-0", "L1", 5, m, 1), WEIR_KAFKA_TX_SKIP);
}

static void test_decide_other_subtasks_and_lineages(void **st) {
    (void)st;
    weir_kafka_tx_marker m[] = {
        mk("p-s-1", "L1", 7),  /* another subtask's id */
        mk("p-s-0", "L2", 7),  /* same id, another attempt (e.g. a --fresh run) */
        mk("q-s-0", "L1", 7),  /* another prefix (another job) */
        mk("p-s-0", "L1", 4),  /* ours, but older */
        mk("p-s-00", "L1", 7), /* not a prefix match */
    };
    assert_int_equal(weir_kafka_sink_tx_decide("p-s-0", "L1", 5, m, 5), WEIR_KAFKA_TX_RECOMMIT);
    assert_int_equal(weir_kafka_sink_tx_decide("p-s-1", "L1", 5, m, 5), WEIR_KAFKA_TX_SKIP);
    assert_int_equal(weir_kafka_sink_tx_decide("p-s-0", "L2", 7, m, 5), WEIR_KAFKA_TX_SKIP);
    assert_int_equal(weir_kafka_sink_tx_decide("p-s-0", "L2", 8, m, 5), WEIR_KAFKA_TX_RECOMMIT);
}

static void test_owns_rescaled_ids(void **st) {
    (void)st;
    /* every old id is owned by exactly one new subtask, for any old/new parallelism */
    for (int32_t oldp = 1; oldp <= 9; oldp++)
        for (int32_t newp = 1; newp <= 9; newp++)
            for (int32_t k = 0; k < oldp; k++) {
                int owners = 0;
                for (int32_t s = 0; s < newp; s++)
                    owners += weir_kafka_sink_tx_owns(k, s, newp);
                assert_int_equal(owners, 1);
            }
    /* 4 → 2: ids 0, 2 to subtask 0; 1, 3 to subtask 1 (beyond the new parallelism too) */
    assert_true(weir_kafka_sink_tx_owns(2, 0, 2));
    assert_true(weir_kafka_sink_tx_owns(3, 1, 2));
    assert_false(weir_kafka_sink_tx_owns(2, 1, 2));
    /* same parallelism: own id only */
    for (int32_t k = 0; k < 4; k++)
        for (int32_t s = 0; s < 4; s++)
            assert_int_equal(weir_kafka_sink_tx_owns(k, s, 4), k == s);
    /* 2 → 4: subtasks 2 and 3 own no old id (their own id is fenced by their producer) */
    assert_false(weir_kafka_sink_tx_owns(0, 2, 4) || weir_kafka_sink_tx_owns(1, 2, 4));
    assert_false(weir_kafka_sink_tx_owns(0, 0, 0));
    assert_false(weir_kafka_sink_tx_owns(-1, 0, 2));
}

static void test_delivery_parse(void **st) {
    (void)st;
    weir_kafka_delivery d = WEIR_KAFKA_DELIVERY_DEFAULT;
    assert_int_equal(weir_kafka_delivery_parse("exactly-once", &d), WEIR_OK);
    assert_int_equal(d, WEIR_KAFKA_DELIVERY_EXACTLY_ONCE);
    assert_int_equal(weir_kafka_delivery_parse("AT_LEAST_ONCE", &d), WEIR_OK);
    assert_int_equal(d, WEIR_KAFKA_DELIVERY_AT_LEAST_ONCE);
    assert_int_equal(weir_kafka_delivery_parse("none", &d), WEIR_OK);
    assert_int_equal(d, WEIR_KAFKA_DELIVERY_AT_LEAST_ONCE);
    assert_int_equal(weir_kafka_delivery_parse("twice", &d), WEIR_EINVAL);
    assert_int_equal(weir_kafka_delivery_parse(NULL, &d), WEIR_EINVAL);
}

/* ------------------------------------------------------------ end to end: the job */

static long g_total;
static atomic_int g_proc_fail_left, g_notify_fail_left, g_attempt;
static atomic_long g_processed;
static long g_rec_recommits, g_rec_skips;

typedef struct src_local {
    long next, restored;
} src_local;

static src_local *src_get(weir_ctx *ctx) {
    src_local *l = weir_ctx_local(ctx);
    if (!l) {
        l = calloc(1, sizeof *l);
        l->restored = -1;
        weir_ctx_set_local(ctx, l);
    }
    return l;
}

static weir_err src_restore(weir_ctx *ctx, const void *data, size_t len) {
    src_local *l = src_get(ctx);
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)len, (const char *)data);
    if (atol(buf) > l->restored) l->restored = atol(buf);
    return WEIR_OK;
}

static weir_err src_open(weir_ctx *ctx) {
    src_local *l = src_get(ctx);
    l->next = l->restored >= 0 ? l->restored : 0;
    return WEIR_OK;
}

static weir_err src_poll(weir_ctx *ctx, size_t max, weir_poll_status *st) {
    src_local *l = weir_ctx_local(ctx);
    for (size_t i = 0; i < max && i < 50 && l->next < g_total; i++) {
        char key[16], val[32];
        int kn = snprintf(key, sizeof key, "k%ld", l->next % 97);
        int vn = snprintf(val, sizeof val, "v-%ld", l->next);
        weir_record r = {.key = (const uint8_t *)key,
                         .key_len = (uint32_t)kn,
                         .value = (const uint8_t *)val,
                         .value_len = (uint32_t)vn,
                         .timestamp_ms = 1700000000000 + l->next,
                         .key_group = -1};
        weir_err rc = weir_emit(ctx, &r);
        if (rc) return rc;
        l->next++;
    }
    usleep(1000); /* spread the input over many checkpoints */
    *st = l->next >= g_total ? WEIR_POLL_END : WEIR_POLL_MORE;
    return WEIR_OK;
}

static weir_err src_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    (void)b;
    weir_buf_printf(out, "%ld", ((src_local *)weir_ctx_local(ctx))->next);
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

/* The mapper: passes records on; fails once per attempt (subtask 0 decides how). */
typedef struct map_local {
    long fail_at;    /* processed count at which process() fails; -1 = never */
    int fail_notify; /* the 2nd notification of this attempt fails */
    int notified;
} map_local;

static weir_err map_open(weir_ctx *ctx) {
    map_local *l = calloc(1, sizeof *l);
    l->fail_at = -1;
    if (weir_ctx_subtask(ctx) == 0) {
        int a = atomic_fetch_add(&g_attempt, 1);
        if (a % 2 == 0 && atomic_load(&g_notify_fail_left) > 0)
            l->fail_notify = 1;
        else if (atomic_load(&g_proc_fail_left) > 0)
            l->fail_at = atomic_load(&g_processed) + 100 + rand() % 400;
    }
    weir_ctx_set_local(ctx, l);
    return WEIR_OK;
}

static weir_err map_process(weir_ctx *ctx, const weir_record *rec) {
    map_local *l = weir_ctx_local(ctx);
    long n = atomic_fetch_add(&g_processed, 1) + 1;
    if (l->fail_at >= 0 && n >= l->fail_at) {
        l->fail_at = -1;
        atomic_fetch_sub(&g_proc_fail_left, 1);
        return weir_ctx_fail(ctx, WEIR_EINTERNAL, "injected failure at record %ld", n);
    }
    return weir_emit(ctx, rec);
}

static weir_err map_notify(weir_ctx *ctx, int64_t ck) {
    map_local *l = weir_ctx_local(ctx);
    if (l->fail_notify && ++l->notified == 2) {
        l->fail_notify = 0;
        atomic_fetch_sub(&g_notify_fail_left, 1);
        return weir_ctx_fail(ctx, WEIR_EINTERNAL, "injected failure in notify(%lld)",
                             (long long)ck);
    }
    return WEIR_OK;
}

static void map_close(weir_ctx *ctx) {
    free(weir_ctx_local(ctx));
    weir_ctx_set_local(ctx, NULL);
}

static const weir_operator_def map_def = {.kind = "failing-mapper",
                                          .open = map_open,
                                          .process = map_process,
                                          .notify_checkpoint_complete = map_notify,
                                          .close = map_close};

static void on_started(void *ud, weir_job *job, int attempt) {
    (void)ud;
    (void)attempt;
    /* the sinks' restore decisions happen in open(), before this call */
    g_rec_recommits +=
        weir_metrics_value(weir_job_metrics(job), "kafka_sink." SINK_UID ".tx_recommits");
    g_rec_skips += weir_metrics_value(weir_job_metrics(job), "kafka_sink." SINK_UID ".tx_skips");
}

/* ------------------------------------------------------------ end to end: reading back */

typedef struct msg {
    char *value, *txn;
} msg;

/** Reads every record of every partition of @p topic (all copies: the mock hides nothing). */
static msg *read_all(const char *bootstrap, const char *topic, size_t *n) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "eo-test-reader", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, 5000), 0);
    int np = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(tl, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, tl), 0);
    rd_kafka_topic_partition_list_destroy(tl);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    size_t cap = 1024;
    msg *out = calloc(cap, sizeof *out);
    *n = 0;
    int eofs = 0;
    for (int idle = 0; eofs < np && idle < 300;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            if (*n == cap) out = realloc(out, (cap *= 2) * sizeof *out);
            msg *g = &out[(*n)++];
            g->value = strndup(m->payload ? (const char *)m->payload : "", m->len);
            rd_kafka_headers_t *h = NULL;
            const void *tv = NULL;
            size_t tl2 = 0;
            g->txn = NULL;
            if (!rd_kafka_message_headers(m, &h) &&
                !rd_kafka_header_get_last(h, "weir.txn", &tv, &tl2))
                g->txn = strndup(tv, tl2);
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(eofs, np);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

static void msgs_free(msg *m, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(m[i].value);
        free(m[i].txn);
    }
    free(m);
}

static int str_in(char **set, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(set[i], s)) return 1;
    return 0;
}

static void test_end_to_end_with_failures(void **st) {
    (void)st;
    weir_error err = {0};
    weir_embedded_kafka *k = weir_embedded_kafka_start(1, &err);
    assert_non_null(k);
    const char *bs = weir_embedded_kafka_bootstrap(k);
    assert_int_equal(weir_embedded_kafka_create_topic(k, DATA_TOPIC, 3, &err), WEIR_OK);
    assert_int_equal(weir_embedded_kafka_create_topic(k, WEIR_KAFKA_SINK_COMMIT_TOPIC, 1, &err),
                     WEIR_OK);

    g_total = 24000;
    atomic_store(&g_proc_fail_left, 3);
    atomic_store(&g_notify_fail_left, 3);
    atomic_store(&g_attempt, 0);
    atomic_store(&g_processed, 0);
    g_rec_recommits = g_rec_skips = 0;

    weir_kafka_sink_conf sink;
    memset(&sink, 0, sizeof sink);
    snprintf(sink.bootstrap, sizeof sink.bootstrap, "%s", bs);
    snprintf(sink.topic, sizeof sink.topic, "%s", DATA_TOPIC);
    sink.txn_header = 1; /* the guarantee itself comes from the job configuration below */

    weir_graph *g = weir_graph_new("eo-kafka");
    int s = weir_graph_add(g, "src", "seq-source", &src_def, NULL, 1, NULL);
    int m = weir_graph_add(g, "mapper", "mapper", &map_def, NULL, 2, NULL);
    int o = weir_graph_add(g, SINK_UID, "kafka-sink", &weir_kafka_sink_def, &sink, 2, NULL);
    assert_int_equal(weir_graph_connect(g, s, NULL, m, WEIR_PART_HASH, NULL), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, m, NULL, o, WEIR_PART_FORWARD, NULL), WEIR_OK);
    weir_config *cfg = weir_config_new();
    weir_config_set(cfg, "sink.delivery-guarantee", "exactly-once");
    weir_config_set(cfg, "sink.transactional-id-prefix", "eo-test");
    weir_config_set(cfg, "execution.checkpointing.interval", "20ms");
    weir_config_set(cfg, "restart-strategy.type", "fixed-delay");
    weir_config_set(cfg, "restart-strategy.fixed-delay.attempts", "100");
    weir_config_set(cfg, "restart-strategy.fixed-delay.delay", "10ms");
    weir_job_options opt;
    memset(&opt, 0, sizeof opt);
    opt.config = cfg;
    char ck[700];
    snprintf(ck, sizeof ck, "%s/ck", g_tmp);
    opt.checkpoint_dir = ck;
    opt.batch_records = 64;
    weir_job *last = NULL;
    int r0 = weir_job_restarts();
    weir_err rc = weir_job_run(g, &opt, on_started, NULL, &last, &err);
    if (rc) fprintf(stderr, "job: %s\n", err.msg);
    assert_int_equal(rc, WEIR_OK);
    int restarts = weir_job_restarts() - r0;
    long commits = weir_metrics_value(weir_job_metrics(last), "kafka_sink." SINK_UID ".tx_commits");
    weir_job_free(last);
    weir_kafka_sink_conf_cleanup(&sink);
    weir_config_free(cfg);
    weir_graph_free(g);

    /* markers: each (tid, lineage) commits each checkpoint once, in increasing order */
    size_t nm = 0, nd = 0;
    msg *marks = read_all(bs, WEIR_KAFKA_SINK_COMMIT_TOPIC, &nm);
    char **committed = calloc(nm + 1, sizeof *committed);
    size_t ncommitted = 0;
    for (size_t i = 0; i < nm; i++) {
        char tid[256], lin[64], txn[128];
        long long c;
        assert_int_equal(
            sscanf(marks[i].value,
                   "{\"tid\":\"%255[^\"]\",\"lineage\":\"%63[^\"]\",\"checkpoint\":%lld,"
                   "\"txn\":\"%127[^\"]\"",
                   tid, lin, &c, txn),
            4);
        assert_non_null(marks[i].txn);
        assert_string_equal(marks[i].txn, txn); /* the marker's own header names its txn */
        assert_false(str_in(committed, ncommitted, txn));
        committed[ncommitted++] = strdup(txn);
        for (size_t j = 0; j < i; j++) {
            char tid2[256], lin2[64];
            long long c2;
            sscanf(marks[j].value,
                   "{\"tid\":\"%255[^\"]\",\"lineage\":\"%63[^\"]\",\"checkpoint\":%lld", tid2,
                   lin2, &c2);
            if (!strcmp(tid, tid2) && !strcmp(lin, lin2)) assert_true(c2 < c);
        }
    }

    /* data: exactly one committed copy of every record */
    msg *data = read_all(bs, DATA_TOPIC, &nd);
    unsigned char *copies = calloc((size_t)g_total, 1);
    long uncommitted = 0, bad = 0;
    for (size_t i = 0; i < nd; i++) {
        long v;
        if (sscanf(data[i].value, "v-%ld", &v) != 1 || v < 0 || v >= g_total || !data[i].txn) {
            bad++;
            continue;
        }
        if (str_in(committed, ncommitted, data[i].txn)) {
            if (copies[v] < 255) copies[v]++;
        } else {
            uncommitted++;
        }
    }
    long lost = 0, dups = 0;
    for (long i = 0; i < g_total; i++) {
        if (copies[i] == 0) lost++;
        if (copies[i] > 1) dups++;
    }
    fprintf(stderr,
            "eo: %d restarts, %zu markers (%ld commits in the last attempt), %ld re-commits, "
            "%ld skips; %zu data copies: %ld uncommitted (aborted, visible in the mock), "
            "%ld lost, %ld committed twice, %ld malformed\n",
            restarts, nm, commits, g_rec_recommits, g_rec_skips, nd, uncommitted, lost, dups, bad);
    assert_int_equal(restarts, 6);
    assert_int_equal(bad, 0);
    assert_int_equal(lost, 0);
    assert_int_equal(dups, 0);
    assert_true(g_rec_recommits >= 1); /* the notify failures */
    assert_true(g_rec_skips >= 1);     /* the process failures after a commit */

    for (size_t i = 0; i < ncommitted; i++)
        free(committed[i]);
    free(committed);
    free(copies);
    msgs_free(marks, nm);
    msgs_free(data, nd);
    weir_embedded_kafka_stop(k);
}

/* Without the commit topic (and no auto-creation), exactly-once fails open() with a clear
 * message; without checkpointing the same conf writes at-least-once. */
static void test_eo_needs_checkpointing_else_alo(void **st) {
    (void)st;
    weir_error err = {0};
    weir_embedded_kafka *k = weir_embedded_kafka_start(1, &err);
    assert_non_null(k);
    const char *bs = weir_embedded_kafka_bootstrap(k);
    assert_int_equal(weir_embedded_kafka_create_topic(k, DATA_TOPIC, 1, &err), WEIR_OK);
    g_total = 500;
    atomic_store(&g_proc_fail_left, 0);
    atomic_store(&g_notify_fail_left, 0);
    weir_kafka_sink_conf sink;
    memset(&sink, 0, sizeof sink);
    snprintf(sink.bootstrap, sizeof sink.bootstrap, "%s", bs);
    snprintf(sink.topic, sizeof sink.topic, "%s", DATA_TOPIC);
    sink.delivery_guarantee = WEIR_KAFKA_DELIVERY_EXACTLY_ONCE;
    weir_graph *g = weir_graph_new("eo-alo");
    int s = weir_graph_add(g, "src", "seq-source", &src_def, NULL, 1, NULL);
    int o = weir_graph_add(g, SINK_UID, "kafka-sink", &weir_kafka_sink_def, &sink, 1, NULL);
    assert_int_equal(weir_graph_connect(g, s, NULL, o, WEIR_PART_FORWARD, NULL), WEIR_OK);
    weir_job_options opt;
    memset(&opt, 0, sizeof opt);
    weir_job *job = weir_job_start(g, &opt, &err);
    assert_non_null(job);
    assert_int_equal(weir_job_wait(job, &err), WEIR_OK);
    weir_job_free(job);
    weir_kafka_sink_conf_cleanup(&sink);
    size_t nd = 0;
    msg *data = read_all(bs, DATA_TOPIC, &nd);
    assert_int_equal(nd, 500);
    assert_null(data[0].txn); /* no transaction, no header */
    msgs_free(data, nd);
    weir_graph_free(g);
    weir_embedded_kafka_stop(k);
}

int main(void) {
    const char *t = getenv("WEIR_TEST_TMP");
    snprintf(g_tmp, sizeof g_tmp, "%s/test_kafka_sink_tx.%d", t ? t : "/tmp", (int)getpid());
    weir_mkdirs(g_tmp);
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_never_committed),
        cmocka_unit_test(test_decide_committed_n),
        cmocka_unit_test(test_decide_committed_later),
        cmocka_unit_test(test_decide_other_subtasks_and_lineages),
        cmocka_unit_test(test_owns_rescaled_ids),
        cmocka_unit_test(test_delivery_parse),
        cmocka_unit_test(test_eo_needs_checkpointing_else_alo),
        cmocka_unit_test(test_end_to_end_with_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) weir_rmtree(g_tmp);
    return rc;
}
