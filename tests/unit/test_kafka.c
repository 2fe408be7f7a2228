/*
 * test_kafka.c - Kafka source, sink and embedded cluster (operators/kafka_*.c) against the
 * in-process mock cluster, run in real job graphs.
 *
 * The collecting sink below stores every record it receives (copied, mutex-guarded) so tests
 * can check exactly-once arrival and the origin coordinates against the delivery reports of a
 * plain librdkafka producer. Set WEIR_KAFKA_BENCH=<n> to also print source throughput.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir/connectors.h"
#include "weir/graph.h"
#include "weir/job.h"

#define TOPIC_PARTS 4

static weir_embedded_kafka *g_k; /* the cluster of the current test (setup/teardown) */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ collecting sink */

typedef struct got {
    char *value; /* NULL for tombstones */
    char *key;
    char topic[64];
    int32_t partition;
    int64_t offset, record_ts, ts;
} got;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static got *g_got;
static size_t g_n, g_cap;

static void got_reset(void) {
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n; i++) {
        free(g_got[i].value);
        free(g_got[i].key);
    }
    g_n = 0;
    pthread_mutex_unlock(&g_lock);
}

static size_t got_count(void) {
    pthread_mutex_lock(&g_lock);
    size_t n = g_n;
    pthread_mutex_unlock(&g_lock);
    return n;
}

static weir_err collect_process(weir_ctx *ctx, const weir_record *r) {
    (void)ctx;
    pthread_mutex_lock(&g_lock);
    if (g_n == g_cap) {
        g_cap = g_cap ? g_cap * 2 : 1024;
        g_got = realloc(g_got, g_cap * sizeof *g_got);
    }
    got *g = &g_got[g_n++];
    memset(g, 0, sizeof *g);
    g->value = r->value ? strndup((const char *)r->value, r->value_len) : NULL;
    g->key = r->key ? strndup((const char *)r->key, r->key_len) : NULL;
    snprintf(g->topic, sizeof g->topic, "%.*s", (int)r->origin.topic_len,
             r->origin.topic ? r->origin.topic : "");
    g->partition = r->origin.partition;
    g->offset = r->origin.offset;
    g->record_ts = r->origin.record_ts;
    g->ts = r->timestamp_ms;
    pthread_mutex_unlock(&g_lock);
    return WEIR_OK;
}

static const weir_operator_def collect_def = {.kind = "collect", .process = collect_process};

/* ------------------------------------------------------------ generator source */

typedef struct gen_conf {
    int n;
} gen_conf;

static weir_err gen_poll(weir_ctx *ctx, size_t max, weir_poll_status *st) {
    gen_conf *gc = weir_ctx_udata(ctx);
    intptr_t next = (intptr_t)weir_ctx_local(ctx);
    int32_t sub = weir_ctx_subtask(ctx), par = weir_ctx_parallelism(ctx);
    char buf[64];
    for (size_t k = 0; k < max; k++) {
        int i = (int)(next * par + sub);
        if (i >= gc->n) {
            *st = WEIR_POLL_END;
            weir_ctx_set_local(ctx, (void *)next);
            return WEIR_OK;
        }
        int len = snprintf(buf, sizeof buf, "sink-%d", i);
        weir_record r = {.value = (const uint8_t *)buf,
                         .value_len = (uint32_t)len,
                         .key = (const uint8_t *)buf,
                         .key_len = (uint32_t)len,
                         .timestamp_ms = 1700000000000 + i,
                         .key_group = -1};
        weir_err rc = weir_emit(ctx, &r);
        if (rc) return rc;
        next++;
    }
    weir_ctx_set_local(ctx, (void *)next);
    *st = WEIR_POLL_MORE;
    return WEIR_OK;
}

static const weir_operator_def gen_def = {.kind = "gen", .poll = gen_poll};

/* ------------------------------------------------------------ helpers */

typedef struct produced {
    int32_t partition;
    int64_t offset;
} produced;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    produced *p = m->_private;
    assert_int_equal(m->err, 0);
    if (!p) return;
    p->partition = m->partition;
    p->offset = m->offset;
}

/** Produces n messages "v<i>" with key "k<i>" to partition i % TOPIC_PARTS; message i ==
 *  tombstone_at (if >= 0) has a NULL value. Fills out[i] with its coordinates. */
static void produce_n(const char *bootstrap, const char *topic, int n, int value_size,
                      int tombstone_at, produced *out) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr),
                     0);
    rd_kafka_conf_set(conf, "linger.ms", "5", NULL, 0);
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", NULL, 0);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    char *val = malloc((size_t)value_size + 64);
    for (int i = 0; i < n; i++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "k%d", i);
        int vl = snprintf(val, 64, "v%d", i);
        if (value_size > vl) {
            memset(val + vl, 'x', (size_t)(value_size - vl));
            vl = value_size;
        }
        void *vp = i == tombstone_at ? NULL : val;
        size_t vlen = i == tombstone_at ? 0 : (size_t)vl;
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(i % TOPIC_PARTS),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(vp, vlen),
                RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_TIMESTAMP(1600000000000 + i),
                RD_KAFKA_V_OPAQUE(out ? &out[i] : NULL), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk, 10);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        assert_int_equal(e, 0);
        if (out) out[i].offset = -1;
        rd_kafka_poll(rk, 0);
    }
    assert_int_equal(rd_kafka_flush(rk, 30000), 0);
    free(val);
    rd_kafka_destroy(rk);
}

/** Runs source (parallelism p) → collect (parallelism 1). Returns the job result. */
static weir_err run_source_job(weir_kafka_source_conf *sc, int p, weir_error *err) {
    weir_graph *g = weir_graph_new("kafka-test");
    int s = weir_graph_add(g, "src", "kafka-source", &weir_kafka_source_def, sc, p, err);
    assert_true(s >= 0);
    int c = weir_graph_add(g, "collect", "collect", &collect_def, NULL, 1, err);
    assert_true(c >= 0);
    assert_int_equal(weir_graph_connect(g, s, NULL, c, WEIR_PART_REBALANCE, err), 0);
    weir_job_options opt = {0};
    weir_job *job = weir_job_start(g, &opt, err);
    weir_err rc;
    if (!job) {
        rc = err->code ? err->code : WEIR_EINTERNAL;
    } else {
        rc = weir_job_wait(job, err);
        weir_job_free(job);
    }
    weir_graph_free(g);
    return rc;
}

static void source_conf(weir_kafka_source_conf *sc, const char *bootstrap, const char *topic) {
    memset(sc, 0, sizeof *sc);
    snprintf(sc->bootstrap, sizeof sc->bootstrap, "%s", bootstrap);
    snprintf(sc->topics[0], sizeof sc->topics[0], "%s", topic);
    sc->n_topics = 1;
    sc->bounded = 1;
    sc->metadata_timeout_ms = 5000;
}

/* ------------------------------------------------------------ snapshot/restore wrapper */

/* Wraps the Kafka source to drive its state callbacks inside a real job (the runtime's
 * checkpointing is not needed): open() first restores every blob in g_restore, and when the
 * source reports END the wrapper snapshots it (checkpoint 1) into g_snap[subtask] and notifies
 * checkpoint 1 complete (offset commit to the group). */
static weir_buf g_snap[8];
static weir_buf *g_restore;
static int g_n_restore;

static weir_err wrap_open(weir_ctx *ctx) {
    for (int i = 0; i < g_n_restore; i++) {
        weir_err rc = weir_kafka_source_def.restore_state(ctx, g_restore[i].data, g_restore[i].len);
        if (rc) return rc;
    }
    return weir_kafka_source_def.open(ctx);
}

static weir_err wrap_poll(weir_ctx *ctx, size_t max, weir_poll_status *st) {
    weir_err rc = weir_kafka_source_def.poll(ctx, max, st);
    if (rc || *st != WEIR_POLL_END) return rc;
    weir_barrier b = {.checkpoint_id = 1};
    weir_buf *out = &g_snap[weir_ctx_subtask(ctx)];
    weir_buf_reset(out);
    if ((rc = weir_kafka_source_def.snapshot_state(ctx, &b, out))) return rc;
    return weir_kafka_source_def.notify_checkpoint_complete(ctx, 1);
}

static void wrap_close(weir_ctx *ctx) {
    weir_kafka_source_def.close(ctx);
}

static const weir_operator_def wrap_def = {
    .kind = "kafka-source-wrapped", .open = wrap_open, .poll = wrap_poll, .close = wrap_close};

static weir_err run_wrapped(weir_kafka_source_conf *sc, int p, weir_error *err) {
    weir_graph *g = weir_graph_new("kafka-state");
    int s = weir_graph_add(g, "src", "kafka-source", &wrap_def, sc, p, err);
    int c = weir_graph_add(g, "collect", "collect", &collect_def, NULL, 1, err);
    assert_int_equal(weir_graph_connect(g, s, NULL, c, WEIR_PART_REBALANCE, err), 0);
    weir_job_options opt = {0};
    weir_job *job = weir_job_start(g, &opt, err);
    weir_err rc = job ? weir_job_wait(job, err) : (err->code ? err->code : WEIR_EINTERNAL);
    if (job) weir_job_free(job);
    weir_graph_free(g);
    return rc;
}

static void test_source_snapshot_restore_commit(void **state) {
    (void)state;
    weir_error err = {0};
    const char *topic = "src-state";
    const char *bs = weir_embedded_kafka_bootstrap(g_k);
    assert_int_equal(weir_embedded_kafka_create_topic(g_k, topic, TOPIC_PARTS, &err), 0);
    produce_n(bs, topic, 400, 0, -1, NULL);
    weir_kafka_source_conf sc;
    source_conf(&sc, bs, topic);
    snprintf(sc.group_id, sizeof sc.group_id, "weir-test-group");
    got_reset();
    g_n_restore = 0;
    assert_int_equal(run_wrapped(&sc, 2, &err), WEIR_OK);
    assert_int_equal(got_count(), 400);
    /* each subtask owns 2 of the 4 partitions; each was read to offset 100 */
    for (int i = 0; i < 2; i++) {
        assert_non_null(g_snap[i].data);
        assert_int_equal(strncmp(g_snap[i].data, "weir-kafka-source v1\n", 21), 0);
        assert_non_null(strstr(g_snap[i].data, "\t100\n"));
    }

    /* the group's committed offsets (monitoring) equal the snapshot */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "weir-test-group", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(TOPIC_PARTS);
    for (int p = 0; p < TOPIC_PARTS; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    assert_int_equal(rd_kafka_committed(rk, l, 5000), 0);
    for (int p = 0; p < TOPIC_PARTS; p++)
        assert_int_equal(l->elems[p].offset, 100);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    /* restore both subtasks' state into one subtask (rescale 2 → 1): only new records */
    produce_n(bs, topic, 200, 0, -1, NULL);
    got_reset();
    weir_buf blobs[2] = {g_snap[0], g_snap[1]};
    memset(g_snap, 0, sizeof g_snap);
    g_restore = blobs;
    g_n_restore = 2;
    assert_int_equal(run_wrapped(&sc, 1, &err), WEIR_OK);
    g_n_restore = 0;
    assert_int_equal(got_count(), 200);
    for (size_t j = 0; j < g_n; j++)
        assert_true(g_got[j].offset >= 100 && g_got[j].offset < 150);

    /* a corrupt state fails the job with a message */
    weir_buf bad = {0};
    weir_buf_puts(&bad, "garbage");
    g_restore = &bad;
    g_n_restore = 1;
    assert_int_not_equal(run_wrapped(&sc, 1, &err), WEIR_OK);
    assert_non_null(strstr(err.msg, "bad header"));
    g_n_restore = 0;
    weir_buf_free(&bad);
    weir_buf_free(&blobs[0]);
    weir_buf_free(&blobs[1]);
    for (int i = 0; i < 8; i++)
        weir_buf_free(&g_snap[i]);
}

/* ------------------------------------------------------------ fixtures */

static int setup(void **state) {
    (void)state;
    weir_error err = {0};
    g_k = weir_embedded_kafka_start(1, &err);
    if (!g_k) fprintf(stderr, "embedded kafka: %s\n", err.msg);
    return g_k ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    got_reset();
    weir_embedded_kafka_stop(g_k);
    g_k = NULL;
    return 0;
}

/* ------------------------------------------------------------ tests */

static void test_embedded_start_stop(void **state) {
    (void)state;
    weir_error err = {0};
    weir_embedded_kafka *k = weir_embedded_kafka_start(2, &err);
    assert_non_null(k);
    const char *bs = weir_embedded_kafka_bootstrap(k);
    assert_non_null(strstr(bs, "127.0.0.1:"));
    assert_non_null(strchr(bs, ',')); /* two brokers */
    assert_int_equal(weir_embedded_kafka_create_topic(k, "t-a", 3, &err), WEIR_OK);
    assert_int_equal(weir_embedded_kafka_create_topic(k, "bad topic", 3, &err), WEIR_EINVAL);
    assert_int_equal(weir_embedded_kafka_create_topic(k, "t-b", 0, &err), WEIR_EINVAL);
    /* a client sees the topic */
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "t-a", NULL);
    const struct rd_kafka_metadata *md;
    assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, 5000), 0);
    assert_int_equal(md->topics[0].partition_cnt, 3);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    int64_t t0 = mono_ms();
    weir_embedded_kafka_stop(k);
    assert_true(mono_ms() - t0 < 5000);
    weir_embedded_kafka_stop(NULL);
}

static void check_all_once(int n, const produced *pr, int tombstone_at, const char *topic) {
    assert_int_equal(got_count(), (size_t)n);
    char *seen = calloc((size_t)n, 1);
    for (size_t j = 0; j < g_n; j++) {
        got *g = &g_got[j];
        assert_non_null(g->key);
        int i = atoi(g->key + 1);
        assert_true(i >= 0 && i < n);
        assert_false(seen[i]);
        seen[i] = 1;
        if (i == tombstone_at) {
            assert_null(g->value);
        } else {
            char exp[32];
            snprintf(exp, sizeof exp, "v%d", i);
            assert_string_equal(g->value, exp);
        }
        assert_string_equal(g->topic, topic);
        assert_int_equal(g->partition, pr[i].partition);
        assert_int_equal(g->offset, pr[i].offset);
        assert_int_equal(g->record_ts, 1600000000000 + i);
        assert_int_equal(g->ts, 1600000000000 + i);
    }
    free(seen);
}

static void source_bounded(int parallelism) {
    char topic[32];
    snprintf(topic, sizeof topic, "src-p%d", parallelism);
    weir_error err = {0};
    assert_int_equal(weir_embedded_kafka_create_topic(g_k, topic, TOPIC_PARTS, &err), 0);
    enum { N = 2000 };
    produced *pr = calloc(N, sizeof *pr);
    produce_n(weir_embedded_kafka_bootstrap(g_k), topic, N, 0, 7, pr);
    got_reset();
    weir_kafka_source_conf sc;
    source_conf(&sc, weir_embedded_kafka_bootstrap(g_k), topic);
    int64_t t0 = mono_ms();
    weir_err rc = run_source_job(&sc, parallelism, &err);
    if (rc) fprintf(stderr, "job failed: %s\n", err.msg);
    assert_int_equal(rc, WEIR_OK);
    assert_true(mono_ms() - t0 < 20000);
    check_all_once(N, pr, 7, topic);
    free(pr);
}

static void test_source_bounded_p1(void **state) {
    (void)state;
    source_bounded(1);
}

static void test_source_bounded_p3(void **state) {
    (void)state;
    source_bounded(3);
}

static void test_source_empty_topic_and_more_subtasks_than_partitions(void **state) {
    (void)state;
    weir_error err = {0};
    assert_int_equal(weir_embedded_kafka_create_topic(g_k, "empty2", 2, &err), 0);
    got_reset();
    weir_kafka_source_conf sc;
    source_conf(&sc, weir_embedded_kafka_bootstrap(g_k), "empty2");
    weir_err rc = run_source_job(&sc, 4, &err);
    if (rc) fprintf(stderr, "job failed: %s\n", err.msg);
    assert_int_equal(rc, WEIR_OK);
    assert_int_equal(got_count(), 0);
}

static void test_source_explicit_offsets(void **state) {
    (void)state;
    weir_error err = {0};
    const char *topic = "src-offsets";
    assert_int_equal(weir_embedded_kafka_create_topic(g_k, topic, TOPIC_PARTS, &err), 0);
    enum { N = 400 };
    produced *pr = calloc(N, sizeof *pr);
    produce_n(weir_embedded_kafka_bootstrap(g_k), topic, N, 0, -1, pr);
    got_reset();
    weir_kafka_source_conf sc;
    source_conf(&sc, weir_embedded_kafka_bootstrap(g_k), topic);
    weir_kafka_offset offs[2] = {{.partition = 0, .offset = 30}, {.partition = 2, .offset = 100}};
    strcpy(offs[0].topic, topic);
    strcpy(offs[1].topic, topic);
    sc.start = WEIR_KAFKA_START_OFFSETS;
    sc.offsets = offs;
    sc.n_offsets = 2;
    assert_int_equal(run_source_job(&sc, 2, &err), WEIR_OK);
    /* partition 0 from 30, partition 2 from 100 (= its end: nothing), others from earliest */
    size_t expect = 0;
    for (int i = 0; i < N; i++)
        if (!(pr[i].partition == 0 && pr[i].offset < 30) &&
            !(pr[i].partition == 2 && pr[i].offset < 100))
            expect++;
    assert_int_equal(got_count(), expect);
    for (size_t j = 0; j < g_n; j++) {
        if (g_got[j].partition == 0) assert_true(g_got[j].offset >= 30);
        assert_int_not_equal(g_got[j].partition, 2);
    }
    free(pr);

    /* start = latest, bounded: nothing */
    got_reset();
    sc.start = WEIR_KAFKA_START_LATEST;
    assert_int_equal(run_source_job(&sc, 1, &err), WEIR_OK);
    assert_int_equal(got_count(), 0);
}

static void test_source_unreachable(void **state) {
    (void)state;
    weir_error err = {0};
    weir_kafka_source_conf sc;
    source_conf(&sc, "127.0.0.1:1", "nope");
    sc.metadata_timeout_ms = 2000;
    int64_t t0 = mono_ms();
    weir_err rc = run_source_job(&sc, 2, &err);
    int64_t dt = mono_ms() - t0;
    fprintf(stderr, "unreachable: rc=%d in %lld ms: %s\n", rc, (long long)dt, err.msg);
    assert_int_not_equal(rc, WEIR_OK);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
    assert_true(dt < 6000);
}

/* The mock cluster auto-creates any topic a client asks for (with 4 partitions), whatever
 * allow.auto.create.topics says (its Metadata API version predates the flag): an unknown topic
 * therefore reads as empty here. A real broker answers UNKNOWN_TOPIC_OR_PART, which open()
 * turns into "topic ... not available" (not testable against the mock). */
static void test_source_unknown_topic_autocreated(void **state) {
    (void)state;
    weir_error err = {0};
    weir_kafka_source_conf sc;
    source_conf(&sc, weir_embedded_kafka_bootstrap(g_k), "no-such-topic");
    got_reset();
    int64_t t0 = mono_ms();
    weir_err rc = run_source_job(&sc, 1, &err);
    if (rc) fprintf(stderr, "unknown topic: %s\n", err.msg);
    assert_int_equal(rc, WEIR_OK);
    assert_int_equal(got_count(), 0);
    assert_true(mono_ms() - t0 < 8000);
}

static void test_source_unbounded_cancel(void **state) {
    (void)state;
    weir_error err = {0};
    const char *topic = "src-unbounded";
    assert_int_equal(weir_embedded_kafka_create_topic(g_k, topic, TOPIC_PARTS, &err), 0);
    got_reset();
    weir_kafka_source_conf sc;
    source_conf(&sc, weir_embedded_kafka_bootstrap(g_k), topic);
    sc.bounded = 0;
    weir_graph *g = weir_graph_new("kafka-unbounded");
    int s = weir_graph_add(g, "src", "kafka-source", &weir_kafka_source_def, &sc, 2, &err);
    int c = weir_graph_add(g, "collect", "collect", &collect_def, NULL, 1, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, c, WEIR_PART_REBALANCE, &err), 0);
    weir_job_options opt = {0};
    weir_job *job = weir_job_start(g, &opt, &err);
    assert_non_null(job);
    produce_n(weir_embedded_kafka_bootstrap(g_k), topic, 300, 0, -1, NULL);
    int64_t t0 = mono_ms();
    while (got_count() < 300 && mono_ms() - t0 < 10000) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(got_count(), 300);
    t0 = mono_ms();
    weir_job_cancel(job);
    weir_job_wait(job, &err);
    weir_job_free(job);
    weir_graph_free(g);
    assert_true(mono_ms() - t0 < 5000);
}

static void test_sink_roundtrip(void **state) {
    (void)state;
    weir_error err = {0};
    const char *topic = "sink-out";
    assert_int_equal(weir_embedded_kafka_create_topic(g_k, topic, 3, &err), 0);
    enum { M = 5000 };
    weir_kafka_sink_conf kc;
    memset(&kc, 0, sizeof kc);
    snprintf(kc.bootstrap, sizeof kc.bootstrap, "%s", weir_embedded_kafka_bootstrap(g_k));
    snprintf(kc.topic, sizeof kc.topic, "%s", topic);
    gen_conf gc = {.n = M};
    weir_graph *g = weir_graph_new("kafka-sink-test");
    int s = weir_graph_add(g, "gen", "gen", &gen_def, &gc, 2, &err);
    int k = weir_graph_add(g, "sink", "kafka-sink", &weir_kafka_sink_def, &kc, 2, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, k, WEIR_PART_REBALANCE, &err), 0);
    weir_job_options opt = {0};
    weir_job *job = weir_job_start(g, &opt, &err);
    assert_non_null(job);
    weir_err rc = weir_job_wait(job, &err);
    if (rc) fprintf(stderr, "sink job: %s\n", err.msg);
    assert_int_equal(rc, WEIR_OK);
    weir_job_free(job);
    weir_graph_free(g);
    assert_int_equal(kc.delivered, M);
    assert_int_equal(kc.failed, 0);
    assert_null(kc.producer); /* last close destroyed it */
    weir_kafka_sink_conf_cleanup(&kc);
    weir_kafka_sink_conf_cleanup(&kc);

    /* read it back with the source (bounded) */
    got_reset();
    weir_kafka_source_conf sc;
    source_conf(&sc, weir_embedded_kafka_bootstrap(g_k), topic);
    assert_int_equal(run_source_job(&sc, 1, &err), WEIR_OK);
    assert_int_equal(got_count(), M);
    char *seen = calloc(M, 1);
    for (size_t j = 0; j < g_n; j++) {
        int i = atoi(g_got[j].value + 5);
        assert_true(i >= 0 && i < M);
        assert_false(seen[i]);
        seen[i] = 1;
        assert_string_equal(g_got[j].key, g_got[j].value);
        assert_int_equal(g_got[j].record_ts, 1700000000000 + i);
    }
    free(seen);
}

/* Deliveries that fail (the broker answers every Produce request with a non-retriable error,
 * injected into a mock cluster of our own) must fail the job, never vanish silently. */
static void test_sink_delivery_failure_fails_job(void **state) {
    (void)state;
    weir_error err = {0};
    char errstr[256];
    rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr, sizeof errstr);
    assert_non_null(host);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 1);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "sink-fail", 2, 1), 0);
    enum { NERR = 200 };
    rd_kafka_resp_err_t errs[NERR];
    for (int i = 0; i < NERR; i++)
        errs[i] = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
    rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */, NERR, errs);

    weir_kafka_sink_conf kc;
    memset(&kc, 0, sizeof kc);
    snprintf(kc.bootstrap, sizeof kc.bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(mc));
    snprintf(kc.topic, sizeof kc.topic, "sink-fail");
    gen_conf gc = {.n = 1000};
    weir_graph *g = weir_graph_new("kafka-sink-fail");
    int s = weir_graph_add(g, "gen", "gen", &gen_def, &gc, 1, &err);
    int k = weir_graph_add(g, "sink", "kafka-sink", &weir_kafka_sink_def, &kc, 1, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, k, WEIR_PART_REBALANCE, &err), 0);
    weir_job_options opt = {0};
    weir_job *job = weir_job_start(g, &opt, &err);
    if (!job) fprintf(stderr, "start: %s\n", err.msg);
    assert_non_null(job);
    weir_err rc = weir_job_wait(job, &err);
    fprintf(stderr, "delivery failure: rc=%d: %s\n", rc, err.msg);
    assert_int_not_equal(rc, WEIR_OK);
    assert_non_null(strstr(err.msg, "not delivered"));
    assert_true(kc.failed > 0);
    weir_job_free(job);
    weir_graph_free(g);
    weir_kafka_sink_conf_cleanup(&kc);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
}

static void test_sink_unreachable(void **state) {
    (void)state;
    weir_error err = {0};
    weir_kafka_sink_conf kc;
    memset(&kc, 0, sizeof kc);
    snprintf(kc.bootstrap, sizeof kc.bootstrap, "127.0.0.1:1");
    snprintf(kc.topic, sizeof kc.topic, "x");
    gen_conf gc = {.n = 10};
    weir_graph *g = weir_graph_new("kafka-sink-unreachable");
    int s = weir_graph_add(g, "gen", "gen", &gen_def, &gc, 1, &err);
    int k = weir_graph_add(g, "sink", "kafka-sink", &weir_kafka_sink_def, &kc, 1, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, k, WEIR_PART_FORWARD, &err), 0);
    weir_job_options opt = {0};
    int64_t t0 = mono_ms();
    weir_job *job = weir_job_start(g, &opt, &err);
    fprintf(stderr, "sink unreachable in %lld ms: %s\n", (long long)(mono_ms() - t0), err.msg);
    assert_null(job);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
    assert_true(mono_ms() - t0 < 15000);
    weir_graph_free(g);
    weir_kafka_sink_conf_cleanup(&kc);
}

static void test_source_throughput(void **state) {
    (void)state;
    const char *env = getenv("WEIR_KAFKA_BENCH");
    int per_part = env ? atoi(env) : 0;
    if (per_part <= 0) skip();
    if (per_part > 40000) per_part = 40000; /* the mock keeps only ~5 MB per partition */
    weir_error err = {0};
    const char *topic = "bench";
    assert_int_equal(weir_embedded_kafka_create_topic(g_k, topic, TOPIC_PARTS, &err), 0);
    int n = per_part * TOPIC_PARTS;
    produce_n(weir_embedded_kafka_bootstrap(g_k), topic, n, 100, -1, NULL);
    for (int p = 1; p <= 2; p++) {
        got_reset();
        weir_kafka_source_conf sc;
        source_conf(&sc, weir_embedded_kafka_bootstrap(g_k), topic);
        int64_t t0 = mono_ms();
        assert_int_equal(run_source_job(&sc, p, &err), WEIR_OK);
        int64_t dt = mono_ms() - t0;
        assert_int_equal(got_count(), (size_t)n);
        fprintf(stderr,
                "kafka source p=%d: %d msgs (100 B) in %lld ms = %.0f msgs/s (incl. open)\n", p, n,
                (long long)dt, n * 1000.0 / (double)(dt ? dt : 1));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_start_stop),
        cmocka_unit_test_setup_teardown(test_source_bounded_p1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_bounded_p3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_empty_topic_and_more_subtasks_than_partitions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_explicit_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_snapshot_restore_commit, setup, teardown),
        cmocka_unit_test(test_source_unreachable),
        cmocka_unit_test_setup_teardown(test_source_unknown_topic_autocreated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_unbounded_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_roundtrip, setup, teardown),
        cmocka_unit_test(test_sink_delivery_failure_fails_job),
        cmocka_unit_test(test_sink_unreachable),
        cmocka_unit_test_setup_teardown(test_source_throughput, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
