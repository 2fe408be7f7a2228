/*
 * kafka_source.c - the Kafka source operator (weir/connectors.h, DESIGN.md §5).
 *
 * Design: every subtask owns one librdkafka consumer. At open() the partitions of all configured
 * topics are discovered with a metadata request (bounded by metadata_timeout_ms: an unreachable
 * cluster or an unknown topic fails open() with a message instead of hanging) and the partitions
 * owned by this subtask (Flink's KafkaSource split-owner formula) are assigned manually with
 * rd_kafka_assign(): no group rebalancing ever happens. The consumer group is only used to
 * commit offsets of completed checkpoints, for lag monitoring.
 *
 * Invariants:
 *  - parts[i].next is the offset of the next record to emit for partition i (or a logical
 *    librdkafka offset, RD_KAFKA_OFFSET_BEGINNING, while nothing was read and the start is
 *    "earliest"). It advances only after weir_emit() returned OK for that record, so a snapshot
 *    taken between polls is exactly the resume position.
 *  - bounded mode: parts[i].end is the high watermark read at open(); a partition is done when
 *    next >= end (or partition EOF reports an offset >= end). Records at or beyond end are never
 *    emitted. poll() reports END when every owned partition is done (at once if none is owned).
 *  - restore_state() runs before open(); it stores the restored offsets in the subtask-local
 *    struct, and open() lets them override the configured start for the partitions it owns
 *    (entries for partitions owned by other subtasks after a rescale are ignored).
 *
 * Operator state format (snapshot_state/restore_state), text, one partition per line:
 *     "weir-kafka-source v1\n"
 *     "<topic>\t<partition>\t<next offset>\n" ...
 * Topic names cannot hold tabs or newlines (Kafka allows [A-Za-z0-9._-] only). A next offset of
 * -2 means "earliest" (nothing consumed yet).
 *
 * Prefetch: librdkafka (Debian's 2.0.2) stops fetching every partition of a consumer once its
 * queue holds queued.min.messages or queued.max.messages.kbytes, and looks again only on its
 * broker thread's one-second tick, not when the queue drains. With the defaults (100 000
 * messages, 64 MB) a back-pressured source drained its queue in half a second and then waited for
 * the tick: the dedup job at p=1 spent 3 of its 6 s idle (task idleTimeMs). The source therefore
 * defaults to 1 000 000 messages and 128 MB, more than a second of input at the job's speed, so
 * the queue refills before it runs dry. Cost: up to 128 MB of prefetched records per subtask;
 * `-D kafka.queued.max.messages.kbytes=...` overrides it.
 * Fetch responses are capped at 16 MB (fetch.max.bytes, librdkafka's default is 50 MB): a
 * response is one allocation, and glibc maps blocks above 32 MB (the M_MMAP_THRESHOLD weir's
 * main() sets) afresh each time, so a 50 MB response faulted in every page it received; at p=1
 * that was half of the job's ~157 000 page faults.
 *
 * Limitations: partitions are discovered only at open() (no periodic discovery); a message
 * error other than transient transport errors fails the job.
 */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operators/kafka_common.h"
#include "weir/clock.h"
#include "weir/connectors.h"
#include "weir/keygroup.h"
#include "weir/log.h"

#define KSRC_BATCH 1024
#define KSRC_POLL_MS 10
/* prefetch bounds (see "Prefetch" above) */
#define KSRC_QUEUED_MIN_MESSAGES "1000000"
#define KSRC_QUEUED_MAX_KBYTES "131072"
#define KSRC_FETCH_MAX_BYTES "16777216"
#define KSRC_STATE_MAGIC "weir-kafka-source v1\n"

/** One owned partition. */
typedef struct ksrc_part {
    int topic_idx; /**< index into conf->topics */
    int32_t partition;
    int64_t next; /**< next offset to emit (or RD_KAFKA_OFFSET_BEGINNING) */
    int64_t end;  /**< bounded: high watermark at open; else INT64_MAX */
    int done;
} ksrc_part;

/** A restored (topic, partition, offset) entry. */
typedef struct ksrc_restored {
    char *topic;
    int32_t partition;
    int64_t offset;
} ksrc_restored;

/** Offsets of one snapshotted checkpoint awaiting notify_checkpoint_complete. */
typedef struct ksrc_pending {
    int64_t checkpoint_id;
    int64_t *offsets; /**< parallel to parts */
} ksrc_pending;

#define KSRC_MAX_PENDING 16

/** Per-subtask state (weir_ctx_local). */
typedef struct ksrc {
    char where[256];
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    ksrc_part *parts;
    size_t n_parts, n_done;
    int *part_index[WEIR_MAX_TOPICS]; /**< partition → index into parts, -1 if not owned */
    int n_partitions[WEIR_MAX_TOPICS];
    ksrc_restored *restored;
    size_t n_restored;
    rd_kafka_message_t *msgs[KSRC_BATCH];
    ksrc_pending pending[KSRC_MAX_PENDING];
    weir_counter *c_records;
    int opened;
    int commit; /**< 1 when a group id is configured */
} ksrc;

static void ksrc_free(ksrc *s) {
    if (!s) return;
    if (s->q) rd_kafka_queue_destroy(s->q);
    if (s->rk) {
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
    }
    for (int t = 0; t < WEIR_MAX_TOPICS; t++)
        free(s->part_index[t]);
    for (size_t i = 0; i < s->n_restored; i++)
        free(s->restored[i].topic);
    for (int i = 0; i < KSRC_MAX_PENDING; i++)
        free(s->pending[i].offsets);
    free(s->restored);
    free(s->parts);
    free(s);
}

static ksrc *ksrc_get(weir_ctx *ctx) {
    ksrc *s = weir_ctx_local(ctx);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (s) weir_ctx_set_local(ctx, s);
    }
    return s;
}

/** Flink KafkaSourceEnumerator.getSplitOwner: ((topic.hashCode() * 31) & 0x7fffffff) % p,
 *  then (start + partition) % p. */
static int32_t split_owner(const char *topic, int32_t partition, int32_t parallelism) {
    uint32_t h = (uint32_t)weir_java_string_hash(topic, strlen(topic));
    int32_t start = (int32_t)((h * 31u) & 0x7fffffffu) % parallelism;
    return (int32_t)((start + (int64_t)partition) % parallelism);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    const ksrc *s = rd_kafka_opaque(rk);
    weir_log_level l = weir_kafka_log_level(level);
    weir_log(l, s ? s->where : NULL, "librdkafka %s: %s", fac, buf);
}

static weir_err set_conf(weir_ctx *ctx, rd_kafka_conf_t *conf, const char *k, const char *v) {
    char errstr[256];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return weir_ctx_fail(ctx, WEIR_EINVAL, "kafka source: %s=%s: %s", k, v, errstr);
    return WEIR_OK;
}

static int64_t restored_offset(const ksrc *s, const char *topic, int32_t partition, int *found) {
    *found = 0;
    int64_t off = 0;
    for (size_t i = 0; i < s->n_restored; i++)
        if (s->restored[i].partition == partition && strcmp(s->restored[i].topic, topic) == 0) {
            *found = 1;
            off = s->restored[i].offset; /* the last one wins */
        }
    return off;
}

static int64_t configured_offset(const weir_kafka_source_conf *c, const char *topic,
                                 int32_t partition) {
    if (c->per_topic_start)
        for (int i = 0; i < c->n_topics; i++)
            if (strcmp(c->topics[i], topic) == 0)
                return c->topic_start[i] == WEIR_KAFKA_START_LATEST ? RD_KAFKA_OFFSET_END
                                                                    : RD_KAFKA_OFFSET_BEGINNING;
    if (c->start == WEIR_KAFKA_START_LATEST) return RD_KAFKA_OFFSET_END;
    if (c->start == WEIR_KAFKA_START_OFFSETS)
        for (size_t i = 0; i < c->n_offsets; i++)
            if (c->offsets[i].partition == partition && strcmp(c->offsets[i].topic, topic) == 0)
                return c->offsets[i].offset < 0 && c->offsets[i].offset != RD_KAFKA_OFFSET_END
                           ? RD_KAFKA_OFFSET_BEGINNING
                           : c->offsets[i].offset;
    return RD_KAFKA_OFFSET_BEGINNING;
}

static weir_err ksrc_open(weir_ctx *ctx) {
    const weir_kafka_source_conf *c = weir_ctx_udata(ctx);
    ksrc *s = ksrc_get(ctx);
    rd_kafka_topic_partition_list_t *assign = NULL;
    weir_err rc = WEIR_OK;
    char errstr[512];
    if (!s) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka source: out of memory");
    snprintf(s->where, sizeof s->where, "%s", weir_ctx_where(ctx));
    if (!c || c->n_topics <= 0 || c->n_topics > WEIR_MAX_TOPICS || !c->bootstrap[0]) {
        rc = weir_ctx_fail(ctx, WEIR_EINVAL, "kafka source: needs a bootstrap and 1..%d topics",
                           WEIR_MAX_TOPICS);
        goto fail;
    }
    int32_t sub = weir_ctx_subtask(ctx), par = weir_ctx_parallelism(ctx);
    int64_t timeout = c->metadata_timeout_ms > 0 ? c->metadata_timeout_ms : 10000;
    int64_t deadline = weir_mono_ms() + timeout;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char grp[300], tmo[32];
    s->commit = c->group_id[0] != 0;
    snprintf(grp, sizeof grp, "%s", c->group_id[0] ? c->group_id : weir_ctx_uid(ctx));
    snprintf(tmo, sizeof tmo, "%" PRId64, timeout < 1000 ? 1000 : timeout);
    if ((rc = set_conf(ctx, conf, "bootstrap.servers", c->bootstrap)) ||
        (rc = set_conf(ctx, conf, "group.id", grp)) ||
        (rc = set_conf(ctx, conf, "client.id", "weir-kafka-source")) ||
        (rc = set_conf(ctx, conf, "enable.auto.commit", "false")) ||
        (rc = set_conf(ctx, conf, "enable.auto.offset.store", "false")) ||
        (rc = set_conf(ctx, conf, "fetch.wait.max.ms", "10")) ||
        (rc = set_conf(ctx, conf, "queued.min.messages", KSRC_QUEUED_MIN_MESSAGES)) ||
        (rc = set_conf(ctx, conf, "queued.max.messages.kbytes", KSRC_QUEUED_MAX_KBYTES)) ||
        (rc = set_conf(ctx, conf, "fetch.max.bytes", KSRC_FETCH_MAX_BYTES)) ||
        (rc = set_conf(ctx, conf, "enable.partition.eof", c->bounded ? "true" : "false")) ||
        (rc = set_conf(ctx, conf, "auto.offset.reset",
                       c->start == WEIR_KAFKA_START_LATEST ? "latest" : "earliest")) ||
        (rc = set_conf(ctx, conf, "log.connection.close", "false")) ||
        (rc = set_conf(ctx, conf, "socket.connection.setup.timeout.ms", tmo))) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    char perr[512];
    if (weir_kafka_conf_apply(conf, c->props, perr, sizeof perr)) {
        rd_kafka_conf_destroy(conf);
        rc = weir_ctx_fail(ctx, WEIR_EINVAL, "kafka source: %s", perr);
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        rc = weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka source: cannot create consumer: %s", errstr);
        goto fail;
    }

    /* discover partitions and pick ours */
    size_t cap = 0;
    for (int t = 0; t < c->n_topics; t++) {
        int64_t left = deadline - weir_mono_ms();
        if (left < 1) left = 1;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, c->topics[t], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e =
            rkt ? rd_kafka_metadata(s->rk, 0, rkt, &md, (int)left) : rd_kafka_last_error();
        if (rkt) rd_kafka_topic_destroy(rkt);
        if (e) {
            rc = weir_ctx_fail(ctx, e == RD_KAFKA_RESP_ERR__TIMED_OUT ? WEIR_ETIMEOUT : WEIR_EKAFKA,
                               "kafka source: cannot read metadata of topic '%s' from %s within "
                               "%" PRId64 " ms (cluster unreachable?): %s",
                               c->topics[t], c->bootstrap, timeout, rd_kafka_err2str(e));
            goto fail;
        }
        if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
            rd_kafka_resp_err_t te =
                md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_NO_ERROR;
            rc = weir_ctx_fail(ctx, WEIR_ENOTFOUND,
                               "kafka source: topic '%s' not available at %s: %s", c->topics[t],
                               c->bootstrap, te ? rd_kafka_err2str(te) : "no partitions");
            rd_kafka_metadata_destroy(md);
            goto fail;
        }
        int np = md->topics[0].partition_cnt;
        s->n_partitions[t] = np;
        s->part_index[t] = malloc(sizeof(int) * (size_t)np);
        if (!s->part_index[t]) {
            rd_kafka_metadata_destroy(md);
            rc = weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka source: out of memory");
            goto fail;
        }
        for (int i = 0; i < np; i++)
            s->part_index[t][i] = -1;
        for (int i = 0; i < np; i++) {
            int32_t p = md->topics[0].partitions[i].id;
            if (p < 0 || p >= np || split_owner(c->topics[t], p, par) != sub) continue;
            if (s->n_parts == cap) {
                cap = cap ? cap * 2 : 16;
                ksrc_part *np2 = realloc(s->parts, cap * sizeof *np2);
                if (!np2) {
                    rd_kafka_metadata_destroy(md);
                    rc = weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka source: out of memory");
                    goto fail;
                }
                s->parts = np2;
            }
            ksrc_part *kp = &s->parts[s->n_parts];
            memset(kp, 0, sizeof *kp);
            kp->topic_idx = t;
            kp->partition = p;
            kp->end = INT64_MAX;
            int found;
            int64_t off = restored_offset(s, c->topics[t], p, &found);
            kp->next = found ? off : configured_offset(c, c->topics[t], p);
            s->part_index[t][p] = (int)s->n_parts++;
        }
        rd_kafka_metadata_destroy(md);
    }

    /* resolve "latest" and the bounded end offsets */
    for (size_t i = 0; i < s->n_parts; i++) {
        ksrc_part *kp = &s->parts[i];
        if (!c->bounded && kp->next != RD_KAFKA_OFFSET_END) continue;
        int64_t lo = 0, hi = 0, left = deadline - weir_mono_ms();
        if (left < 1) left = 1;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            s->rk, c->topics[kp->topic_idx], kp->partition, &lo, &hi, (int)left);
        if (e) {
            rc = weir_ctx_fail(
                ctx, WEIR_EKAFKA,
                "kafka source: cannot read offsets of %s[%d] within %" PRId64 " ms: %s",
                c->topics[kp->topic_idx], (int)kp->partition, timeout, rd_kafka_err2str(e));
            goto fail;
        }
        if (kp->next == RD_KAFKA_OFFSET_END) kp->next = hi;
        if (c->bounded) {
            kp->end = hi;
            int64_t start = kp->next == RD_KAFKA_OFFSET_BEGINNING ? lo : kp->next;
            if (start >= hi) {
                kp->done = 1;
                s->n_done++;
            }
        }
    }

    assign = rd_kafka_topic_partition_list_new((int)(s->n_parts ? s->n_parts : 1));
    for (size_t i = 0; i < s->n_parts; i++) {
        if (s->parts[i].done) continue;
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(
            assign, c->topics[s->parts[i].topic_idx], s->parts[i].partition);
        tp->offset = s->parts[i].next;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(s->rk, assign);
    rd_kafka_topic_partition_list_destroy(assign);
    assign = NULL;
    if (e) {
        rc =
            weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka source: assign failed: %s", rd_kafka_err2str(e));
        goto fail;
    }
    s->q = rd_kafka_queue_get_consumer(s->rk);
    if (!s->q) {
        rc = weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka source: no consumer queue");
        goto fail;
    }
    s->c_records = weir_metrics_counter(weir_ctx_metrics(ctx), "kafka_source.records");
    s->opened = 1;
    weir_log(WEIR_LOG_INFO, s->where, "kafka source: %zu partition(s) assigned, %zu already done",
             s->n_parts, s->n_done);
    return WEIR_OK;
fail:
    if (assign) rd_kafka_topic_partition_list_destroy(assign);
    ksrc_free(s);
    weir_ctx_set_local(ctx, NULL);
    return rc ? rc : WEIR_EKAFKA;
}

static void mark_done(ksrc *s, ksrc_part *kp) {
    if (!kp->done) {
        kp->done = 1;
        s->n_done++;
    }
}

/** Fatal message errors fail the job; transient ones are logged and retried by librdkafka. */
static int fatal_msg_err(rd_kafka_resp_err_t e) {
    switch (e) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
        return 1;
    default:
        return 0;
    }
}

/* Starts loading the first KiB of a message's payload. librdkafka's broker thread received it on
 * another core; the operators chained to the source (the dedup job's JSON parse) read it from
 * the start, and the first lines of every record were a cache miss (perf: the gate's simdjson
 * stage 1 went from 2.6 % to 1.9 % of the job). */
static inline void prefetch_payload(const rd_kafka_message_t *m) {
    const char *p = m->payload;
    for (size_t o = 0; p && o < m->len && o < 1024; o += 64)
        __builtin_prefetch(p + o);
}

static weir_err ksrc_poll(weir_ctx *ctx, size_t max, weir_poll_status *status) {
    const weir_kafka_source_conf *c = weir_ctx_udata(ctx);
    ksrc *s = weir_ctx_local(ctx);
    weir_err rc = WEIR_OK;
    if (!s || !s->opened) return weir_ctx_fail(ctx, WEIR_EINTERNAL, "kafka source: not open");
    if (c->bounded && s->n_done == s->n_parts) {
        *status = WEIR_POLL_END;
        return WEIR_OK;
    }
    if (max == 0) max = 1;
    if (max > KSRC_BATCH) max = KSRC_BATCH;
    ssize_t n = rd_kafka_consume_batch_queue(s->q, 0, s->msgs, max);
    if (n == 0) n = rd_kafka_consume_batch_queue(s->q, KSRC_POLL_MS, s->msgs, 1);
    if (n < 0)
        return weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka source: consume failed: %s",
                             rd_kafka_err2str(rd_kafka_last_error()));
    ssize_t i = 0;
    int64_t emitted = 0;
    for (; i < n; i++) {
        rd_kafka_message_t *m = s->msgs[i];
        ksrc_part *kp = NULL;
        if (i + 1 < n) prefetch_payload(s->msgs[i + 1]);
        if (m->rkt) {
            const char *tn = rd_kafka_topic_name(m->rkt);
            for (int t = 0; t < c->n_topics; t++)
                if (strcmp(tn, c->topics[t]) == 0) {
                    if (m->partition >= 0 && m->partition < s->n_partitions[t] &&
                        s->part_index[t][m->partition] >= 0)
                        kp = &s->parts[s->part_index[t][m->partition]];
                    break;
                }
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (kp && c->bounded && m->offset >= kp->end) mark_done(s, kp);
            } else if (fatal_msg_err(m->err)) {
                rc = weir_ctx_fail(ctx, WEIR_EKAFKA, "kafka source: %s[%d]: %s",
                                   m->rkt ? rd_kafka_topic_name(m->rkt) : "?", (int)m->partition,
                                   rd_kafka_message_errstr(m));
                break;
            } else {
                weir_log(WEIR_LOG_WARN, s->where, "kafka source: %s", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (!kp) { /* not ours: cannot happen with manual assignment */
            rc = weir_ctx_fail(ctx, WEIR_EINTERNAL,
                               "kafka source: record from unassigned partition %s[%d]",
                               rd_kafka_topic_name(m->rkt), (int)m->partition);
            break;
        }
        if (kp->done || m->offset >= kp->end) { /* beyond the bounded end: not part of input */
            mark_done(s, kp);
            rd_kafka_message_destroy(m);
            continue;
        }
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        const char *topic = c->topics[kp->topic_idx];
        weir_record r = {
            .key = m->key,
            .key_len = (uint32_t)m->key_len,
            .value = m->payload,
            .value_len = m->payload ? (uint32_t)m->len : 0,
            .timestamp_ms = ts >= 0 ? ts : WEIR_NO_TIMESTAMP,
            .key_group = -1,
            .origin = {.topic = topic,
                       .topic_len = (uint32_t)strlen(topic),
                       .partition = m->partition,
                       .offset = m->offset,
                       .record_ts = ts >= 0 ? ts : -1},
        };
        rc = weir_emit(ctx, &r);
        if (rc) break;
        emitted++;
        kp->next = m->offset + 1;
        if (kp->next >= kp->end) mark_done(s, kp);
        rd_kafka_message_destroy(m);
    }
    for (; i < n; i++)
        rd_kafka_message_destroy(s->msgs[i]);
    if (emitted) weir_counter_add(s->c_records, emitted);
    if (rc) return rc;
    if (c->bounded && s->n_done == s->n_parts)
        *status = WEIR_POLL_END;
    else
        *status = n > 0 ? WEIR_POLL_MORE : WEIR_POLL_IDLE;
    return WEIR_OK;
}

static weir_err ksrc_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    const weir_kafka_source_conf *c = weir_ctx_udata(ctx);
    ksrc *s = weir_ctx_local(ctx);
    if (!s) return weir_ctx_fail(ctx, WEIR_EINTERNAL, "kafka source: not open");
    weir_buf_puts(out, KSRC_STATE_MAGIC);
    for (size_t i = 0; i < s->n_parts; i++)
        weir_buf_printf(out, "%s\t%d\t%" PRId64 "\n", c->topics[s->parts[i].topic_idx],
                        (int)s->parts[i].partition, s->parts[i].next);
    if (out->oom) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka source: snapshot out of memory");
    if (s->commit && s->n_parts) { /* remember for notify_checkpoint_complete */
        ksrc_pending *slot = &s->pending[0];
        for (int k = 0; k < KSRC_MAX_PENDING; k++) {
            if (!s->pending[k].offsets) {
                slot = &s->pending[k];
                break;
            }
            if (s->pending[k].checkpoint_id < slot->checkpoint_id) slot = &s->pending[k];
        }
        free(slot->offsets);
        slot->offsets = malloc(s->n_parts * sizeof(int64_t));
        if (!slot->offsets) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka source: out of memory");
        slot->checkpoint_id = b ? b->checkpoint_id : 0;
        for (size_t i = 0; i < s->n_parts; i++)
            slot->offsets[i] = s->parts[i].next;
    }
    return WEIR_OK;
}

static weir_err ksrc_restore_parse(weir_ctx *ctx, ksrc *s, const void *data, size_t len) {
    size_t ml = strlen(KSRC_STATE_MAGIC);
    const char *p = data, *end = p + len;
    if (len == 0) return WEIR_OK;
    if (len < ml || memcmp(p, KSRC_STATE_MAGIC, ml) != 0)
        return weir_ctx_fail(ctx, WEIR_EPARSE, "kafka source: restored state has a bad header");
    p += ml;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return weir_ctx_fail(ctx, WEIR_EPARSE, "kafka source: truncated state");
        const char *tab = memchr(p, '\t', (size_t)(nl - p));
        char num[64];
        size_t tl = tab ? (size_t)(tab - p) : 0, nlen = tab ? (size_t)(nl - tab - 1) : 0;
        if (!tab || tl == 0 || tl > 255 || nlen == 0 || nlen >= sizeof num)
            return weir_ctx_fail(ctx, WEIR_EPARSE, "kafka source: bad state line");
        memcpy(num, tab + 1, nlen);
        num[nlen] = 0;
        int part;
        long long off;
        char extra;
        if (sscanf(num, "%d\t%lld%c", &part, &off, &extra) != 2 || part < 0)
            return weir_ctx_fail(ctx, WEIR_EPARSE, "kafka source: bad state line '%s'", num);
        ksrc_restored *nr = realloc(s->restored, (s->n_restored + 1) * sizeof *nr);
        if (!nr) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka source: out of memory");
        s->restored = nr;
        nr[s->n_restored].topic = strndup(p, tl);
        if (!nr[s->n_restored].topic) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
        nr[s->n_restored].partition = part;
        nr[s->n_restored].offset = off;
        s->n_restored++;
        p = nl + 1;
    }
    return WEIR_OK;
}

/* On a parse error the subtask-local struct is freed: open() and close() will not run. */
static weir_err ksrc_restore(weir_ctx *ctx, const void *data, size_t len) {
    ksrc *s = ksrc_get(ctx);
    if (!s) return weir_ctx_fail(ctx, WEIR_ENOMEM, "kafka source: out of memory");
    weir_err rc = ksrc_restore_parse(ctx, s, data, len);
    if (rc) {
        ksrc_free(s);
        weir_ctx_set_local(ctx, NULL);
    }
    return rc;
}

static weir_err ksrc_notify(weir_ctx *ctx, int64_t checkpoint_id) {
    const weir_kafka_source_conf *c = weir_ctx_udata(ctx);
    ksrc *s = weir_ctx_local(ctx);
    if (!s || !s->commit || !s->rk) return WEIR_OK;
    ksrc_pending *best = NULL;
    for (int k = 0; k < KSRC_MAX_PENDING; k++)
        if (s->pending[k].offsets && s->pending[k].checkpoint_id <= checkpoint_id &&
            (!best || s->pending[k].checkpoint_id > best->checkpoint_id))
            best = &s->pending[k];
    if (!best) return WEIR_OK;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->n_parts);
    for (size_t i = 0; i < s->n_parts; i++)
        if (best->offsets[i] >= 0)
            rd_kafka_topic_partition_list_add(l, c->topics[s->parts[i].topic_idx],
                                              s->parts[i].partition)
                ->offset = best->offsets[i];
    if (l->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, l, 1);
        if (e) /* monitoring only: never fails the job */
            weir_log(WEIR_LOG_WARN, s->where, "kafka source: offset commit failed: %s",
                     rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(l);
    int64_t id = best->checkpoint_id;
    for (int k = 0; k < KSRC_MAX_PENDING; k++)
        if (s->pending[k].offsets && s->pending[k].checkpoint_id <= id) {
            free(s->pending[k].offsets);
            s->pending[k].offsets = NULL;
        }
    return WEIR_OK;
}

static void ksrc_close(weir_ctx *ctx) {
    ksrc_free(weir_ctx_local(ctx));
    weir_ctx_set_local(ctx, NULL);
}

const weir_operator_def weir_kafka_source_def = {
    .kind = "kafka-source",
    .open = ksrc_open,
    .poll = ksrc_poll,
    .snapshot_state = ksrc_snapshot,
    .restore_state = ksrc_restore,
    .notify_checkpoint_complete = ksrc_notify,
    .close = ksrc_close,
};
