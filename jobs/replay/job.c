/*
 * job.c - the DLQ replay job's operator, DAG, progress and summary (see replay.h for the
 * picture; spec dedup-job.md §10, issue #5).
 *
 * Design:
 *  - the Kafka source reads the DLQ topic from the earliest offset (group offsets ignored) and
 *    is BOUNDED: it stops at the end offsets it saw when it opened, so the job ends by itself once
 *    the window is done. Envelopes appended to the DLQ while the replay runs (e.g. replays that
 *    fail again) are not read by this run, which is the first half of the loop protection; the
 *    second half is rp_replay_record()'s RP_SKIP_REPLAYED rule for later runs.
 *  - the replay operator is chained to the source (forward edge, same parallelism) and runs one
 *    rp_replayer per subtask. Each record increments "replay.read" and exactly one outcome
 *    counter (rp_outcome_counter), so read == replayed + skipped when the job has finished;
 *    skipped records are logged at DEBUG with their DLQ coordinates and the reason.
 *  - the Kafka sink (forward, same parallelism) produces the replayed event as the value with no
 *    key and no explicit timestamp (the producer stamps the replay time, so time-based retention
 *    on the input topic does not expire replays at once); it flushes at end of input, so the job
 *    completing with WEIR_OK means every replayed event was acknowledged by the broker.
 *
 * Thread-safety: rp_job_progress() only reads atomic counters and may run on any thread while
 * the job runs; everything else is single-threaded per the graph/job contract.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/replay/replay.h"

/* Replayed events are the original input records plus about 100 bytes of replay keys; the
 * producer may need more than librdkafka's 1 MB default (as for the dedup job's DLQ producers). */
#define RP_MAX_MESSAGE_BYTES "33554432"

struct rp_job {
    rp_job_options o;
    weir_graph *g;
    weir_kafka_source_conf ksrc;
    weir_kafka_sink_conf ksink;
    weir_config *sink_props;
};

/* ------------------------------------------------------------------- the operator */

typedef struct replay_local {
    rp_replayer *rp;
    weir_counter *read, *by[RP__COUNT];
    weir_buf out, detail;
} replay_local;

static weir_err replay_open(weir_ctx *ctx) {
    const rp_config *cfg = weir_ctx_udata(ctx);
    replay_local *L = calloc(1, sizeof *L);
    if (!L) return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    L->rp = rp_replayer_new(cfg);
    if (!L->rp) {
        free(L);
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory");
    }
    weir_metrics *m = weir_ctx_metrics(ctx);
    L->read = weir_metrics_counter(m, RP_COUNTER_READ);
    for (int i = 0; i < RP__COUNT; i++)
        L->by[i] = weir_metrics_counter(m, rp_outcome_counter((rp_outcome)i));
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static weir_err replay_process(weir_ctx *ctx, const weir_record *rec) {
    replay_local *L = weir_ctx_local(ctx);
    int debug = weir_log_enabled(WEIR_LOG_DEBUG);
    weir_buf_reset(&L->out);
    weir_buf_reset(&L->detail);
    weir_counter_add(L->read, 1);
    rp_outcome o = rp_replay_record(L->rp, rec->value, rec->value_len, weir_ctx_now_ms(ctx),
                                    &L->out, debug ? &L->detail : NULL);
    if (L->out.oom || L->detail.oom)
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "out of memory replaying a DLQ record");
    weir_counter_add(L->by[o], 1);
    if (o != RP_REPLAYED) {
        if (debug)
            weir_log(WEIR_LOG_DEBUG, weir_ctx_where(ctx),
                     "skipped DLQ record %.*s[%d]@%lld (%s): %s", (int)rec->origin.topic_len,
                     rec->origin.topic ? rec->origin.topic : "", (int)rec->origin.partition,
                     (long long)rec->origin.offset, rp_outcome_counter(o), L->detail.data);
        return WEIR_OK;
    }
    weir_record r = {.value = (const uint8_t *)L->out.data,
                     .value_len = (uint32_t)L->out.len,
                     .timestamp_ms = WEIR_NO_TIMESTAMP,
                     .key_group = -1,
                     .origin = rec->origin};
    return weir_emit(ctx, &r);
}

static void replay_close(weir_ctx *ctx) {
    replay_local *L = weir_ctx_local(ctx);
    if (!L) return;
    rp_replayer_free(L->rp);
    weir_buf_free(&L->out);
    weir_buf_free(&L->detail);
    free(L);
}

static const weir_operator_def replay_def = {
    .kind = "dlq-replay", .open = replay_open, .process = replay_process, .close = replay_close};

/* -------------------------------------------------------------------------- DAG */

static void copy_prop(void *ud, const char *k, const char *v) {
    weir_config_set(ud, k, v);
}

rp_job *rp_job_new(const rp_job_options *o, weir_error *err) {
    if (o->parallelism < 1) {
        weir_error_set(err, WEIR_EINVAL, 0, "parallelism must be >= 1");
        return NULL;
    }
    if (!o->cfg.bootstrap[0] || !o->cfg.dlq_topic[0] || !o->cfg.output_topic[0]) {
        weir_error_set(err, WEIR_EINVAL, 0, "bootstrap, DLQ topic and output topic must be set");
        return NULL;
    }
    if (!strcmp(o->cfg.dlq_topic, o->cfg.output_topic)) {
        weir_error_set(err, WEIR_EINVAL, 0,
                       "the output topic must differ from the DLQ topic (%s): replaying into the "
                       "DLQ would loop",
                       o->cfg.dlq_topic);
        return NULL;
    }
    if (o->cfg.has_start && o->cfg.has_end && o->cfg.start_ms > o->cfg.end_ms) {
        weir_error_set(err, WEIR_EINVAL, 0,
                       "empty replay window: start %lld is after end %lld (both inclusive)",
                       (long long)o->cfg.start_ms, (long long)o->cfg.end_ms);
        return NULL;
    }
    rp_job *j = calloc(1, sizeof *j);
    if (!j) {
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        return NULL;
    }
    j->o = *o;
    j->g = weir_graph_new("replay");
    j->sink_props = weir_config_new();
    if (!j->g || !j->sink_props) {
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        goto fail;
    }
    if (o->props) weir_config_foreach(o->props, copy_prop, j->sink_props);
    if (!weir_config_get(j->sink_props, "message.max.bytes", NULL))
        weir_config_set(j->sink_props, "message.max.bytes", RP_MAX_MESSAGE_BYTES);

    const rp_config *c = &j->o.cfg;
    weir_kafka_source_conf *k = &j->ksrc;
    snprintf(k->bootstrap, sizeof k->bootstrap, "%s", c->bootstrap);
    snprintf(k->topics[0], sizeof k->topics[0], "%s", c->dlq_topic);
    k->n_topics = 1;
    snprintf(k->group_id, sizeof k->group_id, "%s", c->group_id);
    k->start = WEIR_KAFKA_START_EARLIEST;
    k->bounded = 1;
    k->props = o->props;
    snprintf(j->ksink.bootstrap, sizeof j->ksink.bootstrap, "%s", c->bootstrap);
    snprintf(j->ksink.topic, sizeof j->ksink.topic, "%s", c->output_topic);
    j->ksink.props = j->sink_props;

    int32_t p = o->parallelism;
    int src =
        weir_graph_add(j->g, RP_UID_SOURCE, "dlq-kafka-source", &weir_kafka_source_def, k, p, err);
    if (src < 0) goto fail;
    int rep = weir_graph_add(j->g, RP_UID_REPLAY, "dlq-replay", &replay_def, &j->o.cfg, p, err);
    if (rep < 0 || weir_graph_connect(j->g, src, NULL, rep, WEIR_PART_FORWARD, err)) goto fail;
    int snk = weir_graph_add(j->g, RP_UID_SINK, "replay-kafka-sink", &weir_kafka_sink_def,
                             &j->ksink, p, err);
    if (snk < 0 || weir_graph_connect(j->g, rep, NULL, snk, WEIR_PART_FORWARD, err)) goto fail;
    return j;
fail:
    rp_job_free(j);
    return NULL;
}

weir_graph *rp_job_graph(rp_job *j) {
    return j->g;
}

void rp_job_free(rp_job *j) {
    if (!j) return;
    weir_graph_free(j->g);
    weir_kafka_sink_conf_cleanup(&j->ksink);
    weir_config_free(j->sink_props);
    free(j);
}

/* --------------------------------------------------------------- progress, summary */

void rp_job_progress(weir_metrics *m, rp_progress *p) {
    memset(p, 0, sizeof *p);
    if (!m) return;
    p->read = weir_metrics_value(m, RP_COUNTER_READ);
    for (int i = 0; i < RP__COUNT; i++) {
        p->by[i] = weir_metrics_value(m, rp_outcome_counter((rp_outcome)i));
        if (i != RP_REPLAYED) p->skipped += p->by[i];
    }
}

void rp_progress_write(weir_buf *out, const rp_progress *p) {
    weir_buf_printf(out, "replay: read %lld, replayed %lld, skipped %lld", (long long)p->read,
                    (long long)p->by[RP_REPLAYED], (long long)p->skipped);
    int any = 0;
    for (int i = 1; i < RP__COUNT; i++) {
        if (!p->by[i]) continue;
        weir_buf_printf(out, "%s%s %lld", any ? ", " : " (", rp_outcome_name((rp_outcome)i),
                        (long long)p->by[i]);
        any = 1;
    }
    if (any) weir_buf_putc(out, ')');
}

static void put_bound(weir_buf *out, int has, int64_t v) {
    if (has)
        weir_buf_put_i64(out, v);
    else
        weir_buf_puts(out, "null");
}

void rp_job_summary(rp_job *j, weir_metrics *m, int64_t elapsed_ms, weir_buf *out) {
    rp_progress p;
    rp_job_progress(m, &p);
    const rp_config *c = &j->o.cfg;
    weir_buf_puts(out, "{\"job\":\"replay\",\"dlq_topic\":");
    weir_json_write_string(out, c->dlq_topic, strlen(c->dlq_topic));
    weir_buf_puts(out, ",\"output_topic\":");
    weir_json_write_string(out, c->output_topic, strlen(c->output_topic));
    weir_buf_puts(out, ",\"window\":{\"start_ms\":");
    put_bound(out, c->has_start, c->start_ms);
    weir_buf_puts(out, ",\"end_ms\":");
    put_bound(out, c->has_end, c->end_ms);
    weir_buf_printf(out,
                    ",\"end_inclusive\":true},\"include_replayed\":%s,\"records_in\":%lld,"
                    "\"replayed\":%lld,\"skipped\":%lld,\"skipped_by_reason\":{",
                    c->include_replayed ? "true" : "false", (long long)p.read,
                    (long long)p.by[RP_REPLAYED], (long long)p.skipped);
    for (int i = 1; i < RP__COUNT; i++)
        weir_buf_printf(out, "%s\"%s\":%lld", i > 1 ? "," : "", rp_outcome_name((rp_outcome)i),
                        (long long)p.by[i]);
    double rate = elapsed_ms > 0 ? (double)p.read * 1000.0 / (double)elapsed_ms : 0.0;
    weir_buf_printf(out, "},\"elapsed_ms\":%lld,\"records_per_s\":%.0f}", (long long)elapsed_ms,
                    rate);
}
