/*
 * kafka_sink.c - the Kafka sink operator (weir/connectors.h, DESIGN.md §5): at-least-once by
 * default, exactly-once with transactions when configured and the job checkpoints.
 *
 * At-least-once design: one librdkafka producer per weir_kafka_sink_conf, shared by every
 * subtask (and every vertex) using that conf. It is created lazily by the first open() under
 * conf->lock (the lock itself is initialised once under a process-wide mutex) and
 * reference-counted by conf->users; the last close() flushes and destroys it
 * (weir_kafka_sink_conf_cleanup() also does, and frees the lock). librdkafka's producer is
 * thread-safe, so subtasks produce without holding the lock.
 *
 * Invariants (at-least-once):
 *  - nothing is dropped: RD_KAFKA_RESP_ERR__QUEUE_FULL makes the caller serve delivery reports
 *    and retry (blocking = backpressure) until there is room or the job is cancelled;
 *  - every delivery report is counted (conf->delivered / conf->failed, atomics); once a delivery
 *    failed, every later call of every subtask returns WEIR_EKAFKA with the first failure's
 *    message, so the job fails instead of silently losing records;
 *  - snapshot_state() and end_input() wait until the producer's queue is empty (all records
 *    acknowledged) and then check for failures: a completed checkpoint implies that every record
 *    before its barrier is in Kafka (at-least-once).
 *
 * Exactly-once design (Flink's KafkaSink, simplified to need no resuming of a foreign
 * transaction):
 *  - one transactional producer per subtask, transactional.id `<prefix>-<uid>-<subtask>`, stable
 *    across restarts at the same parallelism. init_transactions() at open fences every older
 *    producer with that id and aborts its open transaction;
 *  - the subtask keeps a queue of segments: each holds the records between two barriers (a
 *    copy, serialised). Only the head segment is ever in the open transaction; records that
 *    arrive while an earlier segment waits for its checkpoint are buffered in memory, not sent
 *    (one producer can have one transaction open; the DLQ/quarantine volume is small);
 *  - barrier n: the collecting segment is flushed (if it is the head) and labelled n; the
 *    operator state is every labelled segment with its records (bounded by the checkpoints not
 *    yet completed, usually one interval);
 *  - notify_checkpoint_complete(m): for every head segment labelled <= m (an aborted
 *    checkpoint's segment goes with the next completed one, still in its own transaction): send
 *    its records if not yet sent, write the commit marker {tid, lineage, checkpoint, txn} to the
 *    commit topic INSIDE the transaction, commit. Then the next segment is sent into a new
 *    transaction;
 *  - lineage: a random id drawn at every open() of every subtask and stored in its state. Markers
 *    are matched on (tid, lineage), so a `--fresh` start (checkpoint ids restart at 1), another
 *    job with the same prefix, or a restore of an older savepoint can never make a restore skip a
 *    transaction that was not committed: within one lineage commits happen in increasing
 *    checkpoint order, so a marker >= n proves n committed (weir_kafka_sink_tx_decide());
 *  - restore (union operator state): new subtask s takes over old subtask k when k % P == s
 *    (weir_kafka_sink_tx_owns()), so also ids beyond a smaller new parallelism. It fences each
 *    such id (its own producer for its own id, a temporary producer for the others), reads the
 *    commit topic with isolation.level=read_committed to its end, and for each pending segment of
 *    those states re-commits it (records + marker of the old tid and lineage, in a transaction of
 *    the old tid) or skips it;
 *  - errors, as librdkafka documents them: rd_kafka_error_is_fatal() (e.g. fenced by a newer
 *    instance) fails the job with that message; a retriable error repeats the call; an error with
 *    rd_kafka_error_txn_requires_abort() aborts the transaction and sends the segment again (we
 *    hold its records), up to KTX_MAX_ATTEMPTS times. A delivery failure before the barrier fails
 *    the job (the checkpoint never completes; the restart re-reads the input).
 * Why not a second producer for the records after a barrier (Flink's pool of producers)? It
 * would need a transactional id per in-flight checkpoint and probing for hanging ids on restore;
 * with at most one checkpoint in flight the buffering costs only memory of one interval.
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
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "operators/kafka_common.h"
#include "weir/connectors.h"
#include "weir/log.h"

/** Private data hung on the shared (at-least-once) producer (rd_kafka_opaque). */
typedef struct ksink_shared {
    weir_kafka_sink_conf *conf;
    rd_kafka_topic_t *rkt;
    pthread_mutex_t err_lock;
    char first_err[512];
} ksink_shared;

/** open() fails when the cluster does not answer a metadata request within this time (ms). */
#define KSINK_METADATA_TIMEOUT_MS 5000
/** Exactly-once: timeout of one transactional API call (ms); a timeout is retriable. */
#define KTX_CALL_TIMEOUT_MS 30000
/** Exactly-once: attempts of a retriable call, and of abort + send again. */
#define KTX_MAX_ATTEMPTS 5
/** Exactly-once: default transaction.timeout.ms (must exceed interval + checkpoint duration). */
#define KTX_DEFAULT_TXN_TIMEOUT "600000"
/** Exactly-once: time allowed to read the commit topic to its end on restore (ms). */
#define KTX_MARKER_READ_TIMEOUT_MS 60000
#define KTX_STATE_MAGIC "WKTX1\n"

/** Exactly-once: one transactional producer (the subtask's own, or a temporary one used to
 *  fence and recover an old subtask's id). Delivery reports are served on the task thread. */
typedef struct ktx_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *data, *marker;
    weir_kafka_sink_conf *conf;
    char tid[256];
    int txn_open;
    int64_t failed; /* delivery failures in the current transaction */
    char first_err[512];
} ktx_producer;

/** Exactly-once: the records between two barriers. ck 0 = still collecting. */
typedef struct ktx_seg {
    int64_t ck;
    weir_buf blob; /* records, see seg_add() */
    size_t n;
} ktx_seg;

/** Exactly-once: one old subtask's state, as restored. */
typedef struct ktx_restored {
    int32_t old_subtask, old_par;
    char tid[256];
    char lineage[40];
    ktx_seg *pend;
    size_t npend;
} ktx_restored;

/** Per-subtask data (weir_ctx_local). */
typedef struct ksink_local {
    int eo;             /* exactly-once mode */
    rd_kafka_t *alo_rk; /* at-least-once: the shared producer */
    ktx_producer main;  /* exactly-once: this subtask's producer */
    char lineage[40];
    char commit_topic[256];
    uint64_t txn_seq; /* transactions begun by this attempt (for the weir.txn tag) */
    char txn_tag[64]; /* tag of the open transaction */
    ktx_seg *segs;
    size_t nsegs, capsegs;
    int head_sent; /* the head segment's records are in the open transaction */
    ktx_restored *rest;
    size_t nrest;
    weir_counter *c_commits, *c_recommits, *c_skips, *c_aborts;
} ksink_local;

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

/** A producer configuration with the bootstrap, weir's defaults and the user's properties.
 *  NULL after weir_ctx_fail(). */
static rd_kafka_conf_t *base_conf(weir_ctx *ctx, weir_kafka_sink_conf *c) {
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
        weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: bootstrap.servers: %s", errstr);
        return NULL;
    }
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, sizeof errstr)) {
            rd_kafka_conf_destroy(conf);
            weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: %s: %s", defaults[i][0], errstr);
            return NULL;
        }
    char perr[512];
    if (weir_kafka_conf_apply(conf, c->props, perr, sizeof perr)) {
        rd_kafka_conf_destroy(conf);
        weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: %s", perr);
        return NULL;
    }
    return conf;
}

/** Creates the shared producer (lock held). */
static weir_err producer_create(weir_ctx *ctx, weir_kafka_sink_conf *c) {
    char errstr[512];
    rd_kafka_conf_t *conf = base_conf(ctx, c);
    if (!conf) return WEIR_EINVAL;
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

/** Waits until every queued record of the shared producer is acknowledged, then checks for
 *  failures. */
static weir_err alo_flush(weir_ctx *ctx, rd_kafka_t *rk) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
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

/* ---------------------------------------------------------- serialised records */

static int put_u32(weir_buf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return weir_buf_append(b, x, 4);
}

static int put_u64(weir_buf *b, uint64_t v) {
    return put_u32(b, (uint32_t)v) | put_u32(b, (uint32_t)(v >> 32));
}

/** A bounded reader over serialised bytes; `bad` is set on overrun. */
typedef struct rd {
    const unsigned char *p, *end;
    int bad;
} rd;

static uint32_t get_u32(rd *r) {
    if (r->end - r->p < 4) {
        r->bad = 1;
        r->p = r->end;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static uint64_t get_u64(rd *r) {
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

static const unsigned char *get_bytes(rd *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) {
        r->bad = 1;
        r->p = r->end;
        return NULL;
    }
    const unsigned char *q = r->p;
    r->p += n;
    return q;
}

/* One record in a segment blob: u8 flags (1 key, 2 value), u64 timestamp, u32 key length, key,
 * u32 value length, value (little-endian). */
static int seg_add(ktx_seg *s, const weir_record *r) {
    unsigned char fl = (unsigned char)((r->key ? 1 : 0) | (r->value ? 2 : 0));
    int e = weir_buf_append(&s->blob, &fl, 1);
    e |= put_u64(&s->blob, (uint64_t)r->timestamp_ms);
    e |= put_u32(&s->blob, r->key ? r->key_len : 0);
    if (r->key) e |= weir_buf_append(&s->blob, r->key, r->key_len);
    e |= put_u32(&s->blob, r->value ? r->value_len : 0);
    if (r->value) e |= weir_buf_append(&s->blob, r->value, r->value_len);
    if (e || s->blob.oom) return -1;
    s->n++;
    return 0;
}

/** Reads the next record of a blob into @p out (pointers into the blob). 1 = read, 0 = end,
 *  -1 = malformed. */
static int seg_next(rd *r, weir_record *out) {
    if (r->p >= r->end) return 0;
    const unsigned char *fl = get_bytes(r, 1);
    memset(out, 0, sizeof *out);
    out->key_group = -1;
    out->timestamp_ms = fl ? (int64_t)get_u64(r) : 0;
    uint32_t kl = get_u32(r);
    const unsigned char *k = get_bytes(r, kl);
    uint32_t vl = get_u32(r);
    const unsigned char *v = get_bytes(r, vl);
    if (r->bad || !fl) return -1;
    if (*fl & 1) {
        out->key = k ? k : (const uint8_t *)"";
        out->key_len = kl;
    }
    if (*fl & 2) {
        out->value = v ? v : (const uint8_t *)"";
        out->value_len = vl;
    }
    return 1;
}

static void seg_free(ktx_seg *s) {
    weir_buf_free(&s->blob);
    s->n = 0;
}

static void restored_free(ksink_local *l) {
    for (size_t i = 0; i < l->nrest; i++) {
        for (size_t j = 0; j < l->rest[i].npend; j++)
            seg_free(&l->rest[i].pend[j]);
        free(l->rest[i].pend);
    }
    free(l->rest);
    l->rest = NULL;
    l->nrest = 0;
}

/* ---------------------------------------------------------- pure protocol parts */

weir_err weir_kafka_delivery_parse(const char *text, weir_kafka_delivery *out) {
    if (!text || !out) return WEIR_EINVAL;
    char t[32];
    size_t n = strlen(text);
    if (n >= sizeof t) return WEIR_EINVAL;
    for (size_t i = 0; i <= n; i++)
        t[i] = text[i] == '_' ? '-' : text[i];
    if (!strcasecmp(t, "at-least-once") || !strcasecmp(t, "none"))
        *out = WEIR_KAFKA_DELIVERY_AT_LEAST_ONCE;
    else if (!strcasecmp(t, "exactly-once"))
        *out = WEIR_KAFKA_DELIVERY_EXACTLY_ONCE;
    else
        return WEIR_EINVAL;
    return WEIR_OK;
}

weir_kafka_tx_decision weir_kafka_sink_tx_decide(const char *tid, const char *lineage,
                                                 int64_t checkpoint_id,
                                                 const weir_kafka_tx_marker *m, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (m[i].checkpoint_id >= checkpoint_id && !strcmp(m[i].tid, tid) &&
            !strcmp(m[i].lineage, lineage))
            return WEIR_KAFKA_TX_SKIP;
    return WEIR_KAFKA_TX_RECOMMIT;
}

int weir_kafka_sink_tx_owns(int32_t old_subtask, int32_t subtask, int32_t parallelism) {
    if (parallelism <= 0 || old_subtask < 0 || subtask < 0 || subtask >= parallelism) return 0;
    return old_subtask % parallelism == subtask;
}

/* ---------------------------------------------------------- transactional producers */

static void ktx_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)opaque;
    ktx_producer *p = rd_kafka_opaque(rk);
    if (!m->err) {
        __atomic_fetch_add(&p->conf->delivered, 1, __ATOMIC_RELAXED);
        return;
    }
    if (!p->first_err[0])
        snprintf(p->first_err, sizeof p->first_err, "delivery to %s[%d] failed: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
    p->failed++;
    __atomic_fetch_add(&p->conf->failed, 1, __ATOMIC_RELAXED);
}

/** Records the failure of transactional call @p what (frees @p e) and returns WEIR_EKAFKA. */
static weir_err txn_fail(weir_ctx *ctx, ktx_producer *p, const char *what, rd_kafka_error_t *e) {
    int fatal = rd_kafka_error_is_fatal(e);
    weir_err rc = weir_ctx_fail(
        ctx, WEIR_EKAFKA, "kafka sink (exactly-once, transactional.id %s): %s failed: %s%s", p->tid,
        what, rd_kafka_error_string(e),
        fatal ? " [fatal: the producer is unusable, e.g. fenced by a newer instance with the same "
                "transactional.id (another job with the same sink.transactional-id-prefix?)]"
              : "");
    rd_kafka_error_destroy(e);
    return rc;
}

static void ktx_producer_destroy(ktx_producer *p, int abort_open) {
    if (!p->rk) return;
    if (abort_open && p->txn_open) {
        rd_kafka_error_t *e = rd_kafka_abort_transaction(p->rk, 5000);
        if (e) {
            weir_log(WEIR_LOG_WARN, "kafka-sink", "%s: abort at close failed: %s", p->tid,
                     rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    if (p->data) rd_kafka_topic_destroy(p->data);
    if (p->marker) rd_kafka_topic_destroy(p->marker);
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
    p->data = p->marker = NULL;
    p->txn_open = 0;
}

/** Creates a transactional producer for @p tid and runs init_transactions(), which fences older
 *  producers of that id and aborts their open transaction. */
static weir_err ktx_producer_create(weir_ctx *ctx, ktx_producer *p, const char *tid,
                                    const char *commit_topic) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    char errstr[512];
    memset(p, 0, sizeof *p);
    p->conf = c;
    snprintf(p->tid, sizeof p->tid, "%s", tid);
    rd_kafka_conf_t *conf = base_conf(ctx, c);
    if (!conf) return WEIR_EINVAL;
    if (rd_kafka_conf_set(conf, "transactional.id", tid, errstr, sizeof errstr) ||
        (!weir_config_get(c->props, "transaction.timeout.ms", NULL) &&
         rd_kafka_conf_set(conf, "transaction.timeout.ms", KTX_DEFAULT_TXN_TIMEOUT, errstr,
                           sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        return weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: %s", errstr);
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, ktx_dr_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: cannot create producer %s: %s", tid,
                             errstr);
    }
    p->data = rd_kafka_topic_new(p->rk, c->topic, NULL);
    p->marker = rd_kafka_topic_new(p->rk, commit_topic, NULL);
    if (!p->data || !p->marker) {
        ktx_producer_destroy(p, 0);
        return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: topic handles: %s",
                             rd_kafka_err2str(rd_kafka_last_error()));
    }
    for (int attempt = 1;; attempt++) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(p->rk, KTX_CALL_TIMEOUT_MS);
        if (!e) break;
        if (rd_kafka_error_is_retriable(e) && attempt < KTX_MAX_ATTEMPTS &&
            !weir_ctx_cancelled(ctx)) {
            weir_log(WEIR_LOG_WARN, "kafka-sink", "%s: init_transactions: %s (retrying)", tid,
                     rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            continue;
        }
        weir_err rc = txn_fail(ctx, p, "init_transactions", e);
        ktx_producer_destroy(p, 0);
        return rc;
    }
    return WEIR_OK;
}

static weir_err ktx_begin(weir_ctx *ctx, ksink_local *l, ktx_producer *p) {
    if (p->txn_open) return WEIR_OK;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(p->rk);
    if (e) return txn_fail(ctx, p, "begin_transaction", e);
    p->txn_open = 1;
    p->failed = 0;
    p->first_err[0] = '\0';
    snprintf(l->txn_tag, sizeof l->txn_tag, "%s.%" PRIu64, l->lineage, ++l->txn_seq);
    return WEIR_OK;
}

/** Produces one record into the open transaction of @p p (backpressure on a full queue). */
static weir_err ktx_produce(weir_ctx *ctx, ksink_local *l, ktx_producer *p, rd_kafka_topic_t *t,
                            const weir_record *r) {
    int hdr = p->conf->txn_header || t == p->marker;
    for (;;) {
        rd_kafka_headers_t *h = NULL;
        if (hdr) {
            h = rd_kafka_headers_new(1);
            rd_kafka_header_add(h, "weir.txn", -1, l->txn_tag, -1);
        }
        rd_kafka_resp_err_t e =
            rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(t), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE((void *)r->value, r->value ? r->value_len : 0),
                              RD_KAFKA_V_KEY(r->key, r->key ? r->key_len : 0),
                              RD_KAFKA_V_TIMESTAMP(r->timestamp_ms >= 0 ? r->timestamp_ms : 0),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (!e) return WEIR_OK; /* the headers belong to the message now */
        if (h) rd_kafka_headers_destroy(h);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink (%s): produce to %s failed: %s",
                                 p->tid, rd_kafka_topic_name(t), rd_kafka_err2str(e));
        rd_kafka_poll(p->rk, 10);
        if (weir_ctx_cancelled(ctx)) return WEIR_ECANCELLED;
    }
}

/** Begins a transaction on @p p and sends the records of @p s into it. */
static weir_err ktx_send_seg(weir_ctx *ctx, ksink_local *l, ktx_producer *p, const ktx_seg *s) {
    weir_err rc = ktx_begin(ctx, l, p);
    if (rc) return rc;
    rd r = {(const unsigned char *)s->blob.data, (const unsigned char *)s->blob.data + s->blob.len,
            0};
    weir_record rec;
    int k;
    while ((k = seg_next(&r, &rec)) == 1)
        if ((rc = ktx_produce(ctx, l, p, p->data, &rec))) return rc;
    if (k < 0) return weir_ctx_fail(ctx, WEIR_EPARSE, "kafka sink: malformed buffered records");
    return WEIR_OK;
}

/** Aborts the open transaction of @p p (retrying retriable errors). */
static weir_err ktx_abort(weir_ctx *ctx, ksink_local *l, ktx_producer *p) {
    for (int attempt = 1; p->txn_open; attempt++) {
        rd_kafka_error_t *e = rd_kafka_abort_transaction(p->rk, KTX_CALL_TIMEOUT_MS);
        if (!e) break;
        if (rd_kafka_error_is_retriable(e) && attempt < KTX_MAX_ATTEMPTS &&
            !weir_ctx_cancelled(ctx)) {
            rd_kafka_error_destroy(e);
            continue;
        }
        return txn_fail(ctx, p, "abort_transaction", e);
    }
    p->txn_open = 0;
    if (l->c_aborts) weir_counter_add(l->c_aborts, 1);
    return WEIR_OK;
}

/**
 * Commits segment @p s as the transaction of checkpoint @p ck for (p->tid, @p lineage): sends its
 * records unless @p sent (they are already in p's open transaction), adds the commit marker and
 * commits. A retriable commit error repeats the commit; an abortable one aborts and sends the
 * segment again; a fatal one fails the job.
 */
static weir_err ktx_commit_seg(weir_ctx *ctx, ksink_local *l, ktx_producer *p, const ktx_seg *s,
                               int sent, const char *lineage, int64_t ck) {
    for (int attempt = 1;; attempt++) {
        weir_err rc = sent ? WEIR_OK : ktx_send_seg(ctx, l, p, s);
        if (rc) return rc;
        char val[512];
        int vn = snprintf(val, sizeof val,
                          "{\"tid\":\"%s\",\"lineage\":\"%s\",\"checkpoint\":%" PRId64
                          ",\"txn\":\"%s\",\"records\":%zu}",
                          p->tid, lineage, ck, l->txn_tag, s->n);
        weir_record m = {.key = (const uint8_t *)p->tid,
                         .key_len = (uint32_t)strlen(p->tid),
                         .value = (const uint8_t *)val,
                         .value_len = (uint32_t)vn,
                         .timestamp_ms = -1,
                         .key_group = -1};
        if ((rc = ktx_produce(ctx, l, p, p->marker, &m))) return rc;
        rd_kafka_error_t *e = NULL;
        for (int retry = 1;; retry++) {
            e = rd_kafka_commit_transaction(p->rk, KTX_CALL_TIMEOUT_MS);
            if (!e) {
                p->txn_open = 0;
                return WEIR_OK;
            }
            if (rd_kafka_error_is_fatal(e) || rd_kafka_error_txn_requires_abort(e)) break;
            if (!rd_kafka_error_is_retriable(e) || retry >= KTX_MAX_ATTEMPTS ||
                weir_ctx_cancelled(ctx))
                return txn_fail(ctx, p, "commit_transaction", e);
            weir_log(WEIR_LOG_WARN, "kafka-sink",
                     "%s: commit of checkpoint %" PRId64 ": %s (retrying)", p->tid, ck,
                     rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        if (rd_kafka_error_is_fatal(e) || attempt >= KTX_MAX_ATTEMPTS || weir_ctx_cancelled(ctx))
            return txn_fail(ctx, p, "commit_transaction", e);
        weir_log(WEIR_LOG_WARN, "kafka-sink",
                 "%s: commit of checkpoint %" PRId64 " needs an abort (%s): sending it again",
                 p->tid, ck, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        if ((rc = ktx_abort(ctx, l, p))) return rc;
        sent = 0;
    }
}

/* ---------------------------------------------------------- restore: commit markers */

/** Extracts the string value of "key" from a flat JSON object (no escapes needed). */
static int json_str(const char *doc, const char *key, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(doc, pat);
    if (!p) return -1;
    p += strlen(pat);
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= cap) return -1;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return 0;
}

/** Parses a marker value into @p m. 0 or -1 (not a marker). */
static int marker_parse(const char *doc, weir_kafka_tx_marker *m) {
    memset(m, 0, sizeof *m);
    const char *ck = strstr(doc, "\"checkpoint\":");
    if (json_str(doc, "tid", m->tid, sizeof m->tid) ||
        json_str(doc, "lineage", m->lineage, sizeof m->lineage) || !ck)
        return -1;
    m->checkpoint_id = strtoll(ck + 13, NULL, 10);
    return 0;
}

/**
 * Reads the whole commit topic with isolation.level=read_committed (to the last stable offset of
 * every partition) into *@p out (malloc'ed, *@p n entries; only markers whose tid is in @p tids).
 */
static weir_err read_markers(weir_ctx *ctx, const char *topic, char (*tids)[256], size_t ntids,
                             weir_kafka_tx_marker **out, size_t *n) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    char errstr[512];
    *out = NULL;
    *n = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char perr[512];
    weir_kafka_conf_apply(conf, c->props, perr, sizeof perr); /* security settings; best effort */
    static const char *kv[][2] = {
        {"group.id", "weir-sink-commit-reader"},
        {"enable.auto.commit", "false"},
        {"isolation.level", "read_committed"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        {"log.connection.close", "false"},
        {"fetch.wait.max.ms", "20"},
    };
    if (rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstrap, errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        return weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: %s", errstr);
    }
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof errstr);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: cannot create consumer: %s", errstr);
    }
    weir_err rc = WEIR_OK;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        rkt ? rd_kafka_metadata(rk, 0, rkt, &md, KSINK_METADATA_TIMEOUT_MS) : rd_kafka_last_error();
    if (!e && (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1))
        e = md->topic_cnt == 1 && md->topics[0].err ? md->topics[0].err
                                                    : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (e) {
        rc = weir_ctx_fail(ctx, WEIR_EKAFKA,
                           "kafka sink: cannot read the commit topic '%s' (create it, or set "
                           "sink.exactly-once.commit-topic): %s",
                           topic, rd_kafka_err2str(e));
        goto done;
    }
    int np = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(tl, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    e = rd_kafka_assign(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (e) {
        rc = weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka sink: assign %s: %s", topic,
                           rd_kafka_err2str(e));
        goto done;
    }
    size_t cap = 0;
    int eofs = 0;
    char *eof_seen = calloc((size_t)np, 1);
    if (!eof_seen) {
        rc = weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
        goto done;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!rc && eofs < np) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long el = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
        if (el > KTX_MARKER_READ_TIMEOUT_MS || weir_ctx_cancelled(ctx)) {
            rc = weir_ctx_fail(ctx, WEIR_ETIMEOUT,
                               "kafka sink: could not read the commit topic '%s' to its end "
                               "within %d ms",
                               topic, KTX_MARKER_READ_TIMEOUT_MS);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            for (int i = 0; i < np; i++)
                if (md->topics[0].partitions[i].id == m->partition && !eof_seen[i]) {
                    eof_seen[i] = 1;
                    eofs++;
                }
        } else if (m->err) {
            weir_log(WEIR_LOG_WARN, "kafka-sink", "reading %s: %s", topic,
                     rd_kafka_message_errstr(m));
        } else if (m->payload && m->len < 1024) {
            char doc[1024];
            memcpy(doc, m->payload, m->len);
            doc[m->len] = '\0';
            weir_kafka_tx_marker mk;
            int mine = 0;
            if (!marker_parse(doc, &mk))
                for (size_t i = 0; i < ntids; i++)
                    if (!strcmp(tids[i], mk.tid)) mine = 1;
            if (mine) {
                if (*n == cap) {
                    cap = cap ? cap * 2 : 64;
                    weir_kafka_tx_marker *nm = realloc(*out, cap * sizeof *nm);
                    if (!nm) {
                        rd_kafka_message_destroy(m);
                        rc = weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
                        break;
                    }
                    *out = nm;
                }
                (*out)[(*n)++] = mk;
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(eof_seen);
done:
    if (md) rd_kafka_metadata_destroy(md);
    if (rkt) rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---------------------------------------------------------- exactly-once callbacks */

static ksink_local *local_get(weir_ctx *ctx) {
    ksink_local *l = weir_ctx_local(ctx);
    if (!l) {
        l = calloc(1, sizeof *l);
        if (l) weir_ctx_set_local(ctx, l);
    }
    return l;
}

static void local_free(ksink_local *l) {
    if (!l) return;
    ktx_producer_destroy(&l->main, 1);
    for (size_t i = 0; i < l->nsegs; i++)
        seg_free(&l->segs[i]);
    free(l->segs);
    restored_free(l);
    free(l);
}

/* State: magic, u32 subtask, u32 parallelism, u32 tid length, tid, u32 lineage length, lineage,
 * u32 segments, per segment: u64 checkpoint, u64 records, u64 blob length, blob. */
static weir_err ksink_restore(weir_ctx *ctx, const void *data, size_t len) {
    ksink_local *l = local_get(ctx);
    if (!l) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
    rd r = {data, (const unsigned char *)data + len, 0};
    const unsigned char *mg = get_bytes(&r, sizeof KTX_STATE_MAGIC - 1);
    if (!mg || memcmp(mg, KTX_STATE_MAGIC, sizeof KTX_STATE_MAGIC - 1))
        return weir_ctx_fail(ctx, WEIR_EPARSE, "kafka sink: unknown operator state format");
    ktx_restored x;
    memset(&x, 0, sizeof x);
    x.old_subtask = (int32_t)get_u32(&r);
    x.old_par = (int32_t)get_u32(&r);
    uint32_t tl = get_u32(&r);
    const unsigned char *tp = get_bytes(&r, tl);
    uint32_t ll = get_u32(&r);
    const unsigned char *lp = get_bytes(&r, ll);
    uint32_t ns = get_u32(&r);
    if (r.bad || tl >= sizeof x.tid || ll >= sizeof x.lineage || ns > (uint32_t)(len / 24))
        return weir_ctx_fail(ctx, WEIR_EPARSE, "kafka sink: malformed operator state");
    memcpy(x.tid, tp, tl);
    memcpy(x.lineage, lp, ll);
    x.pend = calloc(ns ? ns : 1, sizeof *x.pend);
    if (!x.pend) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
    for (uint32_t i = 0; i < ns && !r.bad; i++) {
        ktx_seg *s = &x.pend[x.npend++];
        s->ck = (int64_t)get_u64(&r);
        s->n = (size_t)get_u64(&r);
        uint64_t bl = get_u64(&r);
        const unsigned char *b = get_bytes(&r, (size_t)bl);
        if (b && weir_buf_append(&s->blob, b, (size_t)bl)) r.bad = 1;
    }
    ktx_restored *nr = realloc(l->rest, (l->nrest + 1) * sizeof *nr);
    if (r.bad || !nr) {
        for (size_t i = 0; i < x.npend; i++)
            seg_free(&x.pend[i]);
        free(x.pend);
        if (nr) l->rest = nr;
        return weir_ctx_fail(ctx, r.bad ? WEIR_EPARSE : WEIR_ENOMEM,
                             "kafka sink: malformed operator state (or out of memory)");
    }
    l->rest = nr;
    l->rest[l->nrest++] = x;
    return WEIR_OK;
}

static void make_lineage(char out[40]) {
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 17 ^
                     (uint64_t)(uintptr_t)out;
        for (int i = 0; i < 16; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b[i] = (unsigned char)x;
        }
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/** Fences every old transactional id this subtask owns and re-commits or skips the pending
 *  transactions of their states (see the file comment). */
static weir_err ktx_recover(weir_ctx *ctx, ksink_local *l) {
    int32_t me = weir_ctx_subtask(ctx), par = weir_ctx_parallelism(ctx);
    size_t nown = 0, npend = 0;
    char(*tids)[256] = calloc(l->nrest ? l->nrest : 1, sizeof *tids);
    ktx_producer *tmp = calloc(l->nrest ? l->nrest : 1, sizeof *tmp);
    weir_kafka_tx_marker *mk = NULL;
    size_t nmk = 0;
    weir_err rc = WEIR_OK;
    if (!tids || !tmp) {
        rc = weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
        goto done;
    }
    /* 1. fence: the own id was fenced by the main producer's init_transactions */
    for (size_t i = 0; i < l->nrest && !rc; i++) {
        ktx_restored *x = &l->rest[i];
        if (!weir_kafka_sink_tx_owns(x->old_subtask, me, par)) continue;
        snprintf(tids[nown++], sizeof tids[0], "%s", x->tid);
        npend += x->npend;
        if (strcmp(x->tid, l->main.tid) != 0)
            rc = ktx_producer_create(ctx, &tmp[i], x->tid, l->commit_topic);
    }
    if (rc || npend == 0) goto done;
    /* 2. what was committed */
    if ((rc = read_markers(ctx, l->commit_topic, tids, nown, &mk, &nmk))) goto done;
    /* 3. re-commit or skip, oldest first */
    for (size_t i = 0; i < l->nrest && !rc; i++) {
        ktx_restored *x = &l->rest[i];
        if (!weir_kafka_sink_tx_owns(x->old_subtask, me, par)) continue;
        ktx_producer *p = tmp[i].rk ? &tmp[i] : &l->main;
        for (size_t j = 0; j < x->npend && !rc; j++) {
            ktx_seg *s = &x->pend[j];
            if (weir_kafka_sink_tx_decide(x->tid, x->lineage, s->ck, mk, nmk) ==
                WEIR_KAFKA_TX_SKIP) {
                weir_log(WEIR_LOG_INFO, "kafka-sink",
                         "%s: transaction of checkpoint %" PRId64 " (%s, %zu records) was "
                         "committed: skipped",
                         weir_ctx_where(ctx), s->ck, x->tid, s->n);
                weir_counter_add(l->c_skips, 1);
                continue;
            }
            weir_log(WEIR_LOG_INFO, "kafka-sink",
                     "%s: transaction of checkpoint %" PRId64 " (%s, %zu records) was not "
                     "committed: committing it again",
                     weir_ctx_where(ctx), s->ck, x->tid, s->n);
            rc = ktx_commit_seg(ctx, l, p, s, 0, x->lineage, s->ck);
            if (!rc) weir_counter_add(l->c_recommits, 1);
        }
    }
done:
    if (tmp)
        for (size_t i = 0; i < l->nrest; i++)
            ktx_producer_destroy(&tmp[i], 1);
    free(tmp);
    free(tids);
    free(mk);
    restored_free(l);
    return rc;
}

/** Counter "kafka_sink.<uid>.<what>". */
static weir_counter *ctr(weir_ctx *ctx, const char *what) {
    char n[300];
    snprintf(n, sizeof n, "kafka_sink.%s.%s", weir_ctx_uid(ctx), what);
    return weir_metrics_counter(weir_ctx_metrics(ctx), n);
}

static weir_err ktx_open(weir_ctx *ctx, ksink_local *l) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    const weir_config *cfg = weir_ctx_config(ctx);
    const char *prefix = c->transactional_id_prefix[0]
                             ? c->transactional_id_prefix
                             : weir_config_get(cfg, "sink.transactional-id-prefix", "weir");
    snprintf(l->commit_topic, sizeof l->commit_topic, "%s",
             c->commit_topic[0] ? c->commit_topic
                                : weir_config_get(cfg, "sink.exactly-once.commit-topic",
                                                  WEIR_KAFKA_SINK_COMMIT_TOPIC));
    make_lineage(l->lineage);
    l->c_commits = ctr(ctx, "tx_commits");
    l->c_recommits = ctr(ctx, "tx_recommits");
    l->c_skips = ctr(ctx, "tx_skips");
    l->c_aborts = ctr(ctx, "tx_aborts");
    char tid[256];
    snprintf(tid, sizeof tid, "%s-%s-%d", prefix, weir_ctx_uid(ctx), (int)weir_ctx_subtask(ctx));
    weir_err rc = ktx_producer_create(ctx, &l->main, tid, l->commit_topic);
    if (rc) return rc;
    /* fail fast on an unreachable cluster or a missing commit topic */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(l->main.rk, 0, l->main.marker, &md, KSINK_METADATA_TIMEOUT_MS);
    if (!e && md->topic_cnt != 1) e = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (!e && md->topics[0].err) e = md->topics[0].err;
    if (md) rd_kafka_metadata_destroy(md);
    if (e)
        return weir_ctx_fail(ctx, WEIR_EKAFKA,
                             "kafka sink: exactly-once needs the commit topic '%s' on %s: %s",
                             l->commit_topic, c->bootstrap, rd_kafka_err2str(e));
    weir_log(WEIR_LOG_INFO, "kafka-sink", "%s: exactly-once, transactional.id %s, lineage %s",
             weir_ctx_where(ctx), tid, l->lineage);
    return ktx_recover(ctx, l);
}

/** The segment collecting new records (created when missing). NULL on allocation failure. */
static ktx_seg *collecting(ksink_local *l) {
    if (l->nsegs && l->segs[l->nsegs - 1].ck == 0) return &l->segs[l->nsegs - 1];
    if (l->nsegs == l->capsegs) {
        size_t nc = l->capsegs ? l->capsegs * 2 : 4;
        ktx_seg *ns = realloc(l->segs, nc * sizeof *ns);
        if (!ns) return NULL;
        l->segs = ns;
        l->capsegs = nc;
    }
    ktx_seg *s = &l->segs[l->nsegs++];
    memset(s, 0, sizeof *s);
    return s;
}

static weir_err ktx_process(weir_ctx *ctx, ksink_local *l, const weir_record *recs, size_t n) {
    ktx_seg *s = collecting(l);
    if (!s) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
    int head = s == &l->segs[0];
    if (head && !l->head_sent) { /* a new head: its (so far no) records go into a transaction */
        weir_err rc = ktx_send_seg(ctx, l, &l->main, s);
        if (rc) return rc;
        l->head_sent = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (seg_add(s, &recs[i]))
            return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
        if (head) {
            weir_err rc = ktx_produce(ctx, l, &l->main, l->main.data, &recs[i]);
            if (rc) return rc;
        }
    }
    if (head) rd_kafka_poll(l->main.rk, 0);
    return WEIR_OK;
}

static weir_err ktx_snapshot(weir_ctx *ctx, ksink_local *l, const weir_barrier *b, weir_buf *out) {
    if (l->nsegs && l->segs[l->nsegs - 1].ck == 0) {
        ktx_seg *s = &l->segs[l->nsegs - 1];
        if (s->n == 0) {
            seg_free(s);
            l->nsegs--; /* nothing to commit; an open (empty) transaction stays for the next */
        } else {
            s->ck = b->checkpoint_id;
            if (s == &l->segs[0] && l->head_sent) {
                for (;;) { /* surface delivery errors before the checkpoint can complete */
                    rd_kafka_resp_err_t e = rd_kafka_flush(l->main.rk, 100);
                    if (!e) break;
                    if (weir_ctx_cancelled(ctx)) return WEIR_ECANCELLED;
                }
                if (l->main.failed)
                    return weir_ctx_fail(ctx, WEIR_EKAFKA,
                                         "kafka sink (%s): %" PRId64
                                         " record(s) of the transaction not delivered: %s",
                                         l->main.tid, l->main.failed, l->main.first_err);
            }
        }
    }
    weir_buf_append(out, KTX_STATE_MAGIC, sizeof KTX_STATE_MAGIC - 1);
    put_u32(out, (uint32_t)weir_ctx_subtask(ctx));
    put_u32(out, (uint32_t)weir_ctx_parallelism(ctx));
    put_u32(out, (uint32_t)strlen(l->main.tid));
    weir_buf_append(out, l->main.tid, strlen(l->main.tid));
    put_u32(out, (uint32_t)strlen(l->lineage));
    weir_buf_append(out, l->lineage, strlen(l->lineage));
    put_u32(out, (uint32_t)l->nsegs);
    for (size_t i = 0; i < l->nsegs; i++) {
        put_u64(out, (uint64_t)l->segs[i].ck);
        put_u64(out, (uint64_t)l->segs[i].n);
        put_u64(out, (uint64_t)l->segs[i].blob.len);
        weir_buf_append(out, l->segs[i].blob.data, l->segs[i].blob.len);
    }
    return out->oom ? weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory") : WEIR_OK;
}

static weir_err ktx_notify(weir_ctx *ctx, ksink_local *l, int64_t ckid) {
    while (l->nsegs && l->segs[0].ck != 0 && l->segs[0].ck <= ckid) {
        ktx_seg *s = &l->segs[0];
        weir_err rc = ktx_commit_seg(ctx, l, &l->main, s, l->head_sent, l->lineage, s->ck);
        if (rc) return rc;
        weir_counter_add(l->c_commits, 1);
        seg_free(s);
        memmove(&l->segs[0], &l->segs[1], (l->nsegs - 1) * sizeof *l->segs);
        l->nsegs--;
        l->head_sent = 0;
    }
    if (l->nsegs && !l->head_sent && l->segs[0].n > 0) { /* buffered records go out now */
        weir_err rc = ktx_send_seg(ctx, l, &l->main, &l->segs[0]);
        if (rc) return rc;
        l->head_sent = 1;
    }
    return WEIR_OK;
}

/* ---------------------------------------------------------- operator callbacks */

/** The delivery guarantee in effect for this subtask. WEIR_EINVAL on a bad configuration. */
static weir_err mode_of(weir_ctx *ctx, weir_kafka_sink_conf *c, int *eo) {
    weir_kafka_delivery d = c->delivery_guarantee;
    if (d == WEIR_KAFKA_DELIVERY_DEFAULT) {
        const char *v = weir_config_get(weir_ctx_config(ctx), "sink.delivery-guarantee", NULL);
        d = WEIR_KAFKA_DELIVERY_AT_LEAST_ONCE;
        if (v && weir_kafka_delivery_parse(v, &d))
            return weir_ctx_fail(ctx, WEIR_EINVAL,
                                 "kafka sink: sink.delivery-guarantee must be at-least-once, "
                                 "exactly-once or none, not '%s'",
                                 v);
    }
    *eo = d == WEIR_KAFKA_DELIVERY_EXACTLY_ONCE && weir_ctx_checkpointing(ctx);
    if (d == WEIR_KAFKA_DELIVERY_EXACTLY_ONCE && !*eo && weir_ctx_subtask(ctx) == 0)
        weir_log(WEIR_LOG_WARN, "kafka-sink",
                 "%s: exactly-once needs checkpointing; writing at-least-once",
                 weir_ctx_where(ctx));
    return WEIR_OK;
}

/** At-least-once after a restore from exactly-once state: the owned pending records are sent
 *  again without looking at the markers (duplicates allowed, nothing lost). */
static weir_err alo_resend_restored(weir_ctx *ctx, ksink_local *l) {
    int32_t me = weir_ctx_subtask(ctx), par = weir_ctx_parallelism(ctx);
    int any = 0;
    for (size_t i = 0; i < l->nrest; i++) {
        if (!weir_kafka_sink_tx_owns(l->rest[i].old_subtask, me, par)) continue;
        for (size_t j = 0; j < l->rest[i].npend; j++) {
            ktx_seg *s = &l->rest[i].pend[j];
            rd r = {(const unsigned char *)s->blob.data,
                    (const unsigned char *)s->blob.data + s->blob.len, 0};
            weir_record rec;
            int k;
            while ((k = seg_next(&r, &rec)) == 1) {
                weir_err rc = produce_one(ctx, l->alo_rk, &rec);
                if (rc) return rc;
                any = 1;
            }
            if (k < 0)
                return weir_ctx_fail(ctx, WEIR_EPARSE, "kafka sink: malformed restored records");
        }
    }
    restored_free(l);
    return any ? alo_flush(ctx, l->alo_rk) : WEIR_OK;
}

static weir_err ksink_open(weir_ctx *ctx) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    if (!c || !c->bootstrap[0] || !c->topic[0])
        return weir_ctx_fail(ctx, WEIR_EINVAL, "kafka sink: needs a bootstrap and a topic");
    ksink_local *l = local_get(ctx);
    if (!l) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka sink: out of memory");
    weir_err rc = mode_of(ctx, c, &l->eo);
    if (!rc && l->eo) {
        rc = ktx_open(ctx, l);
    } else if (!rc) {
        conf_lock(c);
        rc = c->producer ? WEIR_OK : producer_create(ctx, c);
        if (!rc) {
            c->users++;
            l->alo_rk = c->producer;
        }
        pthread_mutex_unlock(&c->lock);
        if (!rc) rc = alo_resend_restored(ctx, l);
    }
    if (rc) {
        if (l->alo_rk) {
            conf_lock(c);
            if (--c->users <= 0) {
                c->users = 0;
                producer_destroy(c, 0);
            }
            pthread_mutex_unlock(&c->lock);
        }
        local_free(l);
        weir_ctx_set_local(ctx, NULL);
    }
    return rc;
}

static weir_err ksink_process_batch(weir_ctx *ctx, const weir_record *recs, size_t n) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    ksink_local *l = weir_ctx_local(ctx);
    if (l->eo) return ktx_process(ctx, l, recs, n);
    rd_kafka_t *rk = l->alo_rk;
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

static weir_err ksink_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    ksink_local *l = weir_ctx_local(ctx);
    if (l->eo) return ktx_snapshot(ctx, l, b, out);
    /* at-least-once: no operator state, everything before the barrier is in Kafka */
    return alo_flush(ctx, l->alo_rk);
}

static weir_err ksink_notify(weir_ctx *ctx, int64_t checkpoint_id) {
    ksink_local *l = weir_ctx_local(ctx);
    return l && l->eo ? ktx_notify(ctx, l, checkpoint_id) : WEIR_OK;
}

static weir_err ksink_end_input(weir_ctx *ctx) {
    ksink_local *l = weir_ctx_local(ctx);
    /* exactly-once: the final checkpoint commits what is left */
    return l->eo ? WEIR_OK : alo_flush(ctx, l->alo_rk);
}

static void ksink_close(weir_ctx *ctx) {
    weir_kafka_sink_conf *c = weir_ctx_udata(ctx);
    ksink_local *l = weir_ctx_local(ctx);
    if (!l) return;
    if (l->alo_rk) {
        conf_lock(c);
        if (--c->users <= 0) {
            c->users = 0;
            producer_destroy(c, 5000);
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (l->eo && l->nsegs)
        weir_log(WEIR_LOG_INFO, "kafka-sink",
                 "%s: closing with %zu uncommitted segment(s); their transaction is aborted and "
                 "a restore from the checkpoint commits them",
                 weir_ctx_where(ctx), l->nsegs);
    local_free(l); /* aborts an open transaction */
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
    .restore_state = ksink_restore,
    .notify_checkpoint_complete = ksink_notify,
    .end_input = ksink_end_input,
    .close = ksink_close,
};
