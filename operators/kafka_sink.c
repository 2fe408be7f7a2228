/*
 * kafka_sink.c - the Kafka sink operator (weir/connectors.h, DESIGN.md §5), at-least-once.
 *
 * Design: one librdkafka producer per weir_kafka_sink_conf, shared by every subtask (and every
 * vertex) using that conf. It is created lazily by the first open() under conf->lock (the lock
 * itself is initialised once under a process-wide mutex) and reference-counted by conf->users;
 * the last close() flushes and destroys it (weir_kafka_sink_conf_cleanup() also does, and frees
 * the lock). librdkafka's producer is thread-safe, so subtasks produce without holding the lock.
 *
 * Invariants:
 *  - nothing is dropped: RD_KAFKA_RESP_ERR__QUEUE_FULL makes the caller serve delivery reports
 *    and retry (blocking = backpressure) until there is room or the job is cancelled;
 *  - every delivery report is counted (conf->delivered / conf->failed, atomics); once a delivery
 *    failed, every later call of every subtask returns WEIR_EKAFKA with the first failure's
 *    message, so the job fails instead of silently losing records;
 *  - snapshot_state() and end_input() wait until the producer's queue is empty (all records
 *    acknowledged) and then check for failures: a completed checkpoint implies that every record
 *    before its barrier is in Kafka (at-least-once).
 *
 * Records: value (NULL → tombstone), key (if any), timestamp (if the record has one) go to
 * conf->topic, partitioned by librdkafka's default partitioner (murmur2-compatible with Java
 * clients only when partitioner=murmur2_random is set in props).
 */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/kafka_common.h"
#include "weir/connectors.h"
#include "weir/log.h"

/** Private data hung on the producer (rd_kafka_opaque). */
typedef struct ksink_shared {
    weir_kafka_sink_conf *conf;
    rd_kafka_topic_t *rkt;
    pthread_mutex_t err_lock;
    char first_err[512];
} ksink_shared;

/** open() fails when the cluster does not answer a metadata request within this time (ms). */
#define KSINK_METADATA_TIMEOUT_MS 5000

static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;

static void conf_lock(weir_kafka_sink_conf *c) {
    pthread_mutex_lock(&g_init_lock);
    if (!c->lock_init) {
        pthread_mutex_init(&c->lock, NULL);
        c->lock_init = 1;
    }
    pthread_mutex_unlock(&g_init_lock);
    pthread_mutex_lock(&c->lock);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)opaque;
    ksink_shared *sh = rd_kafka_opaque(rk);
    if (!m->err) {
        __atomic_fetch_add(&sh->conf->delivered, 1, __ATOMIC_RELAXED);
        return;
    }
    pthread_mutex_lock(&sh->err_lock);
    if (!sh->first_err[0])
        snprintf(sh->first_err, sizeof sh->first_err, "delivery to %s[%d] failed: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
    pthread_mutex_unlock(&sh->err_lock);
    __atomic_fetch_add(&sh->conf->failed, 1, __ATOMIC_RELEASE);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    weir_log_level l = weir_kafka_log_level(level);
    weir_log(l, "kafka-sink", "librdkafka %s: %s", fac, buf);
}

/** Destroys the producer of @p c (lock held). Waits at most @p flush_ms for deliveries. */
static void producer_destroy(weir_kafka_sink_conf *c, int flush_ms) {
    rd_kafka_t *rk = c->producer;
    if (!rk) return;
    ksink_shared *sh = rd_kafka_opaque(rk);
    rd_kafka_flush(rk, flush_ms);
    int left = rd_kafka_outq_len(rk);
    if (left > 0)
        weir_log(WEIR_LOG_WARN, "kafka-sink",
                 "producer for topic %s closed with %d undelivered message(s)", c->topic, left);
    if (sh->rkt) rd_kafka_topic_destroy(sh->rkt);
    rd_kafka_destroy(rk);
    pthread_mutex_destroy(&sh->err_lock);
    free(sh);
    c->producer = NULL;
}

/** Creates the shared producer (lock held). */
static weir_err producer_create(weir_ctx *ctx, weir_kafka_sink_conf *c) {
    char errstr[512];
    static const char *defaults[][2] = {
        {"linger.ms", "5"},
        {"batch.num.messages", "100000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"client.id", "weir-kafka-sink"},
        {"log.connection.close", "false"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstrap, errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        return weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: bootstrap.servers: %s", errstr);
    }
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, sizeof errstr)) {
            rd_kafka_conf_destroy(conf);
            return weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: %s: %s", defaults[i][0], errstr);
        }
    char perr[512];
    if (weir_kafka_conf_apply(conf, c->props, perr, sizeof perr)) {
        rd_kafka_conf_destroy(conf);
        return weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: %s", perr);
    }
    ksink_shared *sh = calloc(1, sizeof *sh);
    if (!sh) {
        rd_kafka_conf_destroy(conf);
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
    }
    sh->conf = c;
    pthread_mutex_init(&sh->err_lock, NULL);
    rd_kafka_conf_set_opaque(conf, sh);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        pthread_mutex_destroy(&sh->err_lock);
        free(sh);
        return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: cannot create producer: %s", errstr);
    }
    c->producer = rk;
    c->delivered = 0;
    c->failed = 0;
    sh->rkt = rd_kafka_topic_new(rk, c->topic, NULL);
    if (!sh->rkt) {
        producer_destroy(c, 0);
        return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: topic %s: %s", c->topic,
                             rd_kafka_err2str(rd_kafka_last_error()));
    }
    /* fail fast on an unreachable cluster: one metadata round trip */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, sh->rkt, &md, KSINK_METADATA_TIMEOUT_MS);
    if (e) {
        producer_destroy(c, 0);
        return weir_ctx_fail(ctx, WEIR_EKAFKA,
                             "kafka sink: cannot read metadata of topic '%s' from %s within %d ms "
                             "(cluster unreachable?): %s",
                             c->topic, c->bootstrap, KSINK_METADATA_TIMEOUT_MS,
                             rd_kafka_err2str(e));
    }
    rd_kafka_metadata_destroy(md);
    return WEIR_OK;
}

static weir_err ksink_open(weir_ctx *ctx) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    if (!c || !c->bootstrap[0] || !c->topic[0])
        return weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: needs a bootstrap and a topic");
    conf_lock(c);
    weir_err rc = c->producer ? WEIR_OK : producer_create(ctx, c);
    if (!rc) c->users++;
    pthread_mutex_unlock(&c->lock);
    if (!rc) weir_ctx_set_local(ctx, c->producer);
    return rc;
}

/** Returns WEIR_EKAFKA (through weir_ctx_fail) when any delivery failed. */
static weir_err check_failed(weir_ctx *ctx, weir_kafka_sink_conf *c, rd_kafka_t *rk) {
    if (__atomic_load_n(&c->failed, __ATOMIC_ACQUIRE) == 0) return WEIR_OK;
    ksink_shared *sh = rd_kafka_opaque(rk);
    char msg[512];
    pthread_mutex_lock(&sh->err_lock);
    snprintf(msg, sizeof msg, "%s", sh->first_err);
    pthread_mutex_unlock(&sh->err_lock);
    return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: %" PRId64 " record(s) not delivered: %s",
                         __atomic_load_n(&c->failed, __ATOMIC_RELAXED), msg);
}

static weir_err produce_one(weir_ctx *ctx, rd_kafka_t *rk, const weir_record *r) {
    ksink_shared *sh = rd_kafka_opaque(rk);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_RKT(sh->rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE((void *)r->value, r->value ? r->value_len : 0),
            RD_KAFKA_V_KEY(r->key, r->key ? r->key_len : 0),
            RD_KAFKA_V_TIMESTAMP(r->timestamp_ms >= 0 ? r->timestamp_ms : 0), RD_KAFKA_V_END);
        if (!e) return WEIR_OK;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: produce to %s failed: %s",
                                 sh->conf->topic, rd_kafka_err2str(e));
        rd_kafka_poll(rk, 10); /* backpressure: wait for deliveries */
        weir_err rc = check_failed(ctx, sh->conf, rk);
        if (rc) return rc;
        if (weir_ctx_cancelled(ctx)) return WEIR_ECANCELLED;
    }
}

static weir_err ksink_process_batch(weir_ctx *ctx, const weir_record *recs, size_t n) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    rd_kafka_t *rk = weir_ctx_local(ctx);
    weir_err rc = check_failed(ctx, c, rk);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = produce_one(ctx, rk, &recs[i]))) return rc;
    rd_kafka_poll(rk, 0);
    return WEIR_OK;
}

static weir_err ksink_process(weir_ctx *ctx, const weir_record *rec) {
    return ksink_process_batch(ctx, rec, 1);
}

/** Waits until every queued record is acknowledged, then checks for failures. */
static weir_err flush_all(weir_ctx *ctx) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    rd_kafka_t *rk = weir_ctx_local(ctx);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_flush(rk, 100);
        if (!e) break;
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT)
            return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: flush failed: %s",
                                 rd_kafka_err2str(e));
        weir_err rc = check_failed(ctx, c, rk);
        if (rc) return rc;
        if (weir_ctx_cancelled(ctx)) return WEIR_ECANCELLED;
    }
    return check_failed(ctx, c, rk);
}

static weir_err ksink_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    (void)b;
    (void)out; /* no operator state: everything before the barrier is in Kafka */
    return flush_all(ctx);
}

static weir_err ksink_end_input(weir_ctx *ctx) {
    return flush_all(ctx);
}

static void ksink_close(weir_ctx *ctx) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    if (!weir_ctx_local(ctx)) return;
    conf_lock(c);
    if (--c->users <= 0) {
        c->users = 0;
        producer_destroy(c, 5000);
    }
    pthread_mutex_unlock(&c->lock);
    weir_ctx_set_local(ctx, NULL);
}

void weir_kafka_sink_conf_cleanup(weir_kafka_sink_conf *c) {
    if (!c) return;
    pthread_mutex_lock(&g_init_lock);
    int init = c->lock_init;
    pthread_mutex_unlock(&g_init_lock);
    if (!init) return;
    pthread_mutex_lock(&c->lock);
    producer_destroy(c, 10000);
    c->users = 0;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&g_init_lock);
    pthread_mutex_destroy(&c->lock);
    c->lock_init = 0;
    pthread_mutex_unlock(&g_init_lock);
}

const weir_operator_def weir_kafka_sink_def = {
    .kind = "kafka-sink",
    .open = ksink_open,
    .process = ksink_process,
    .process_batch = ksink_process_batch,
    .snapshot_state = ksink_snapshot,
    .end_input = ksink_end_input,
    .close = ksink_close,
};
