/*
 * job.c - executing a job graph in this process (see weir/job.h).
 *
 * Execution graph: every vertex v gets parallelism(v) operator instances (struct weir_ctx).
 * A vertex whose only input is a FORWARD edge from a vertex of equal parallelism is *chained*:
 * its instances run on the task thread of their upstream instance and receive records by direct
 * call. Every other vertex instance heads a task: one thread with an input gate (channel.h)
 * fed by one channel per (producer subtask, this subtask) pair of each input edge.
 *
 * Outputs: each instance has, per output tag (main = NULL, or a side-output tag), a list of
 * chained targets and a list of edge writers. A writer keeps one pending batch per downstream
 * subtask and pushes it when full, when the task has no more queued input (latency), and before
 * watermarks, barriers and end-of-input (order). HASH writers compute the Flink key group of
 * rec->key and route to key_group * p / maxP.
 *
 * Lifecycle: weir_job_start() opens every instance on the caller's thread (so configuration and
 * connection errors surface synchronously), then starts one thread per task. A source task polls
 * until END; a non-source task consumes until every input channel delivered END. Then the chain
 * runs end_input() head first, writers flush, END goes downstream. Any error sets the job's
 * first error, raises the cancel flag and wakes every blocked thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "checkpoint/coordinator.h"
#include "checkpoint/metadata.h"
#include "graph_internal.h"
#include "state_internal.h"
#include "timers.h"
#include "weir/clock.h"
#include "weir/fs.h"
#include "weir/job.h"
#include "weir/keygroup.h"
#include "weir/log.h"

typedef struct writer {
    weir_partitioning part;
    wchannel **targets;
    weir_batch **pending;
    int nt, rr;
    int32_t down_max_par;
    int64_t backpressured_ns; /* time spent waiting for room in a full channel */
} writer;

typedef struct output {
    char *tag; /* NULL = main */
    struct weir_ctx **chained;
    int nchained;
    writer **writers;
    int nwriters;
} output;

struct task;

struct weir_ctx {
    struct weir_job *job;
    struct task *task;
    const wg_vertex *v;
    int vid;
    int32_t subtask, parallelism, max_par;
    weir_kg_range kgr;
    void *local;
    weir_state_backend *backend;
    int keyed, opened;
    output *outs;
    int nouts;
    int cur_input;   /* input edge index of the record being processed */
    wtimers *timers; /* keyed operators: created on first use or at restore */
    int64_t wm_cur;  /* input watermark seen by this operator */
    char where[160];
    char fail_msg[512];
};

typedef struct task {
    struct weir_job *job;
    struct weir_ctx **ops; /* chain members, parents before children; ops[0] is the head */
    int nops, capops;
    wgate *gate; /* NULL for sources */
    pthread_t th;
    int started;
    int64_t wm_in; /* min input watermark forwarded so far */
    /* checkpointing (mailbox written by the coordinator's hooks, read by the task thread) */
    int idx;
    atomic_llong trigger_id;   /* direct trigger (sources, finished tasks) */
    weir_barrier trigger_b;    /* guarded by job->ck_mu */
    atomic_llong notify_id;    /* last completed checkpoint to notify */
    int64_t acked_id;          /* last checkpoint this task acknowledged or declined */
    atomic_llong notified_id;  /* written by the task, read by weir_job_savepoint */
    int finished;              /* end of input processed (guarded by job->ck_mu) */
    atomic_llong final_ack_id; /* first checkpoint acknowledged after finishing */
    int stopped;               /* stop-with-savepoint: the source emits nothing more */
    int64_t align_id;          /* checkpoint being aligned, 0 = none */
    int64_t next_periodic_ms;  /* next on_periodic_emit round (job clock), 0 = none in chain */
    weir_barrier align_b;
    pthread_mutex_t mu; /* finished tasks wait on cv for triggers/notifications */
    pthread_cond_t cv;
    /* time accounting, as Flink's busy/idle/backPressured task metrics (task thread only) */
    int64_t start_ns; /* weir_mono_ns() when the thread started */
    int64_t idle_ns;  /* waiting for input: an empty input gate, or a source with no data */
} task;

struct weir_job {
    const weir_graph *g;
    weir_job_options opt;
    weir_metrics *metrics;
    atomic_int cancelled;
    atomic_int draining;
    pthread_mutex_t err_mu;
    weir_error err;
    struct weir_ctx **inst; /* [vertex] → array of parallelism instances */
    task **tasks;
    int ntasks;
    writer **writers;
    int nwriters;
    char state_dir[1024];
    int own_state_dir; /* state_dir is the default per-process scratch dir: removed by free */
    /* checkpointing */
    wck_coord *coord;
    pthread_mutex_t ck_mu;
    int exactly_once;
    char job_id[40];
    int64_t restored_id;
    atomic_int stopped_with_savepoint;
    wck_vertex_info *vinfo;
    weir_barrier cur_b;  /* the checkpoint last triggered (guarded by ck_mu) */
    int64_t periodic_ms; /* pipeline.auto-watermark-interval */
};

/* ------------------------------------------------------------------ helpers */

static int64_t wall_clock_ms(void *ud) { /* the default weir_clock_fn */
    (void)ud;
    return weir_wall_ms();
}

static void job_fail(struct weir_job *j, weir_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void job_fail(struct weir_job *j, weir_err code, const char *fmt, ...) {
    pthread_mutex_lock(&j->err_mu);
    if (j->err.code == WEIR_OK && code != WEIR_ECANCELLED) {
        va_list ap;
        va_start(ap, fmt);
        weir_error_vset(&j->err, code, 0, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&j->err_mu);
    weir_job_cancel(j);
}

static void ctx_failed(struct weir_ctx *c, weir_err rc, const char *what) {
    if (rc == WEIR_ECANCELLED && atomic_load(&c->job->cancelled)) return;
    job_fail(c->job, rc, "%s: %s failed: %s", c->where, what,
             c->fail_msg[0] ? c->fail_msg : weir_err_name(rc));
}

/* ------------------------------------------------------------ ctx accessors */

void *weir_ctx_udata(const weir_ctx *c) {
    return c->v->udata;
}
void *weir_ctx_local(const weir_ctx *c) {
    return c->local;
}
void weir_ctx_set_local(weir_ctx *c, void *l) {
    c->local = l;
}
int32_t weir_ctx_subtask(const weir_ctx *c) {
    return c->subtask;
}
int32_t weir_ctx_parallelism(const weir_ctx *c) {
    return c->parallelism;
}
int32_t weir_ctx_max_parallelism(const weir_ctx *c) {
    return c->max_par;
}
weir_kg_range weir_ctx_key_groups(const weir_ctx *c) {
    return c->kgr;
}
const char *weir_ctx_uid(const weir_ctx *c) {
    return c->v->uid;
}
const char *weir_ctx_name(const weir_ctx *c) {
    return c->v->name;
}
const char *weir_ctx_where(const weir_ctx *c) {
    return c->where;
}
const weir_config *weir_ctx_config(const weir_ctx *c) {
    return c->job->opt.config;
}
weir_metrics *weir_ctx_metrics(const weir_ctx *c) {
    return c->job->metrics;
}
int64_t weir_ctx_now_ms(const weir_ctx *c) {
    return c->job->opt.clock(c->job->opt.clock_ud);
}
weir_state_backend *weir_ctx_state_backend(weir_ctx *c) {
    return c->backend;
}
int weir_ctx_input(const weir_ctx *c) {
    return c->cur_input;
}
int weir_ctx_checkpointing(const weir_ctx *c) {
    return c->job->opt.checkpoint_dir != NULL; /* the coordinator starts after open() */
}
int64_t weir_ctx_current_watermark(const weir_ctx *c) {
    return c->wm_cur;
}
static weir_err ctx_timers(weir_ctx *c, wtimers **out) {
    if (!c->keyed || !c->backend) return WEIR_EINVAL;
    if (!c->timers && !(c->timers = wtimers_new(c->backend))) return WEIR_ENOMEM;
    *out = c->timers;
    return WEIR_OK;
}
weir_err weir_timer_register(weir_ctx *c, weir_time_domain d, int64_t ts_ms) {
    wtimers *t;
    weir_err rc = ctx_timers(c, &t);
    return rc ? rc : wtimers_register(t, d, ts_ms);
}
weir_err weir_timer_delete(weir_ctx *c, weir_time_domain d, int64_t ts_ms) {
    wtimers *t;
    weir_err rc = ctx_timers(c, &t);
    return rc ? rc : wtimers_delete(t, d, ts_ms);
}
uint64_t weir_timer_count(const weir_ctx *c) {
    return c->timers ? wtimers_count(c->timers) : 0;
}
int weir_ctx_cancelled(const weir_ctx *c) {
    return atomic_load(&c->job->cancelled);
}

weir_err weir_ctx_fail(weir_ctx *c, weir_err code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fail_msg, sizeof c->fail_msg, fmt, ap);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------------ writers */

static weir_err writer_push(writer *w, int t) {
    weir_batch *b = w->pending[t];
    if (!b || weir_batch_count(b) == 0) return WEIR_OK;
    wch_item it = {.kind = WCH_BATCH, .batch = b};
    w->pending[t] = NULL;
    int64_t t0 = weir_mono_ns();
    weir_err rc = wch_push(w->targets[t], &it);
    w->backpressured_ns += weir_mono_ns() - t0;
    if (rc) weir_batch_free(b);
    return rc;
}

static weir_err writer_flush(writer *w) {
    for (int t = 0; t < w->nt; t++) {
        weir_err rc = writer_push(w, t);
        if (rc) return rc;
    }
    return WEIR_OK;
}

static weir_err writer_add(struct weir_job *j, writer *w, int t, const weir_record *rec) {
    if (!w->pending[t]) {
        w->pending[t] = wch_take_batch(w->targets[t], j->opt.batch_records);
        if (!w->pending[t]) return WEIR_ENOMEM;
    }
    if (weir_batch_add(w->pending[t], rec)) return WEIR_ENOMEM;
    if (weir_batch_count(w->pending[t]) >= j->opt.batch_records ||
        weir_batch_bytes(w->pending[t]) >= 1024 * 1024)
        return writer_push(w, t);
    return WEIR_OK;
}

static weir_err writer_write(struct weir_job *j, writer *w, const weir_record *rec) {
    switch (w->part) {
    case WEIR_PART_FORWARD:
        return writer_add(j, w, 0, rec);
    case WEIR_PART_REBALANCE: {
        int t = w->rr;
        w->rr = (w->rr + 1) % w->nt;
        return writer_add(j, w, t, rec);
    }
    case WEIR_PART_HASH: {
        if (!rec->key) return WEIR_EINVAL;
        weir_record r = *rec;
        r.key_group = weir_key_group_of(rec->key, rec->key_len, w->down_max_par);
        int t = weir_subtask_for_key_group(r.key_group, w->nt, w->down_max_par);
        return writer_add(j, w, t, &r);
    }
    case WEIR_PART_BROADCAST:
        for (int t = 0; t < w->nt; t++) {
            weir_err rc = writer_add(j, w, t, rec);
            if (rc) return rc;
        }
        return WEIR_OK;
    }
    return WEIR_EINVAL;
}

static weir_err writer_broadcast_item(writer *w, const wch_item *it) {
    weir_err rc = writer_flush(w);
    for (int t = 0; !rc && t < w->nt; t++)
        rc = wch_push(w->targets[t], it);
    return rc;
}

/* ---------------------------------------------------------------- emitting */

static weir_err deliver(weir_ctx *c, const weir_record *rec) {
    weir_err rc;
    if (c->keyed) { /* only records of a hash input have a key (and a key group) */
        if (rec->key && rec->key_group >= 0) {
            rc = weir_state_set_current_key(c->backend, rec->key, rec->key_len, rec->key_group);
            if (rc) return rc;
        } else {
            weir_state_unset_current_key(c->backend);
        }
    }
    if (c->v->def->process)
        rc = c->v->def->process(c, rec);
    else if (c->v->def->process_batch)
        rc = c->v->def->process_batch(c, rec, 1);
    else
        rc = WEIR_OK;
    if (rc && rc != WEIR_ECANCELLED && !c->fail_msg[0])
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s", weir_err_name(rc));
    return rc;
}

static output *find_output(weir_ctx *c, const char *tag) {
    for (int i = 0; i < c->nouts; i++) {
        const char *t = c->outs[i].tag;
        if ((!t && !tag) || (t && tag && strcmp(t, tag) == 0)) return &c->outs[i];
    }
    return NULL;
}

static weir_err emit_to(weir_ctx *c, output *o, const weir_record *rec) {
    weir_record unkeyed = *rec; /* chained and non-hash inputs are not keyed (element.h) */
    unkeyed.key_group = -1;
    for (int i = 0; i < o->nchained; i++) {
        weir_err rc = deliver(o->chained[i], &unkeyed);
        if (rc) {
            if (rc != WEIR_ECANCELLED) ctx_failed(o->chained[i], rc, "process");
            return WEIR_ECANCELLED;
        }
    }
    for (int i = 0; i < o->nwriters; i++) {
        weir_err rc = writer_write(c->job, o->writers[i], &unkeyed);
        if (rc == WEIR_EINVAL) return weir_ctx_fail(c, rc, "record without key on a hash edge");
        if (rc) return rc;
    }
    return WEIR_OK;
}

weir_err weir_emit(weir_ctx *c, const weir_record *rec) {
    output *o = find_output(c, NULL);
    if (!o) return WEIR_OK; /* a sink's main output: nothing downstream by design */
    return emit_to(c, o, rec);
}

weir_err weir_emit_side(weir_ctx *c, const char *tag, const weir_record *rec) {
    output *o = find_output(c, tag);
    if (!o) return weir_ctx_fail(c, WEIR_EINVAL, "side output '%s' is not connected", tag);
    return emit_to(c, o, rec);
}

static weir_err forward_element(weir_ctx *c, const wch_item *it);

static weir_err element_to_outputs(weir_ctx *c, const wch_item *it) {
    for (int i = 0; i < c->nouts; i++) {
        output *o = &c->outs[i];
        for (int k = 0; k < o->nchained; k++) {
            weir_err rc = forward_element(o->chained[k], it);
            if (rc) return rc;
        }
        for (int k = 0; k < o->nwriters; k++) {
            weir_err rc = writer_broadcast_item(o->writers[k], it);
            if (rc) return rc;
        }
    }
    return WEIR_OK;
}

/* Delivers a watermark to operator @p c (its callback) and everything downstream. */
static weir_err fire_timer(void *ud, weir_time_domain d, int64_t ts, const void *key, size_t len) {
    weir_ctx *c = ud;
    if (!c->v->def->on_timer) return WEIR_OK;
    c->fail_msg[0] = '\0';
    weir_err rc = c->v->def->on_timer(c, d, ts, key, len);
    if (rc && rc != WEIR_ECANCELLED && !c->fail_msg[0])
        snprintf(c->fail_msg, sizeof c->fail_msg, "on_timer: %s", weir_err_name(rc));
    return rc;
}

static weir_err forward_element(weir_ctx *c, const wch_item *it) {
    if (it->kind == WCH_WATERMARK) {
        c->wm_cur = it->watermark_ms;
        if (c->timers) { /* event-time timers fire before the watermark moves on (Flink) */
            weir_err rc =
                wtimers_advance(c->timers, WEIR_TIME_EVENT, it->watermark_ms, fire_timer, c);
            if (rc) return rc;
        }
        if (c->v->def->on_watermark) {
            weir_err rc = c->v->def->on_watermark(c, it->watermark_ms);
            if (rc) return rc;
        }
    }
    return element_to_outputs(c, it);
}

weir_err weir_emit_watermark(weir_ctx *c, int64_t wm) {
    wch_item it = {.kind = WCH_WATERMARK, .watermark_ms = wm};
    return element_to_outputs(c, &it);
}

/* ------------------------------------------------------------------- tasks */

static weir_err task_flush(task *t) {
    for (int i = 0; i < t->nops; i++) {
        weir_ctx *c = t->ops[i];
        for (int o = 0; o < c->nouts; o++)
            for (int w = 0; w < c->outs[o].nwriters; w++) {
                weir_err rc = writer_flush(c->outs[o].writers[w]);
                if (rc) return rc;
            }
    }
    return WEIR_OK;
}

/* ------------------------------------------------------------- checkpoints */

static void task_wake(task *t) {
    if (t->gate) wgate_poke(t->gate);
    pthread_mutex_lock(&t->mu);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Snapshots every operator of @p t for @p b (operator state, then keyed state into
 * <snapshot dir>/<uid>-<subtask>) and acknowledges, or declines with the reason. Called on the
 * task thread once barrier @p b was aligned (or directly triggered). */
static void task_snapshot(task *t, const weir_barrier *b) {
    struct weir_job *j = t->job;
    if (b->checkpoint_id <= t->acked_id) return;
    t->acked_id = b->checkpoint_id;
    if (t->finished && !atomic_load(&t->final_ack_id))
        atomic_store(&t->final_ack_id, b->checkpoint_id);
    char dir[1200];
    if (!wck_coord_snapshot_dir(j->coord, b->checkpoint_id, dir, sizeof dir)) return; /* aborted */
    int64_t t0 = weir_mono_ms();
    wck_ack_op *acks = calloc((size_t)t->nops, sizeof *acks);
    weir_buf *bufs = calloc((size_t)t->nops, sizeof *bufs);
    char(*rel)[256] = calloc((size_t)t->nops, sizeof *rel);
    char why[800] = "";
    if (!acks || !bufs || !rel) snprintf(why, sizeof why, "out of memory");
    for (int i = 0; i < t->nops && !why[0]; i++) {
        weir_ctx *c = t->ops[i];
        wck_ack_op *a = &acks[i];
        a->uid = c->v->uid;
        a->subtask = c->subtask;
        a->kg_start = a->kg_end = -1;
        if (c->v->def->snapshot_state) {
            c->fail_msg[0] = '\0';
            weir_err rc = c->v->def->snapshot_state(c, b, &bufs[i]);
            if (rc || bufs[i].oom) {
                snprintf(why, sizeof why, "%s: snapshot_state: %s", c->where,
                         c->fail_msg[0] ? c->fail_msg : weir_err_name(rc ? rc : WEIR_ENOMEM));
                break;
            }
            a->op_state = bufs[i].data;
            a->op_state_len = bufs[i].len;
        }
        if (c->keyed && c->backend) {
            a->kg_start = c->kgr.start;
            a->kg_end = c->kgr.end;
            snprintf(rel[i], sizeof rel[i], "%s-%d", c->v->uid, (int)c->subtask);
            char path[1500];
            snprintf(path, sizeof path, "%s/%s", dir, rel[i]);
            weir_error e = {0};
            weir_snapshot_format fmt =
                b->is_savepoint ? WEIR_SNAPSHOT_CANONICAL : WEIR_SNAPSHOT_NATIVE;
            if (weir_state_backend_snapshot(c->backend, path, fmt, &a->keyed_bytes, &e)) {
                snprintf(why, sizeof why, "%s: keyed state snapshot: %s", c->where, e.msg);
                break;
            }
            a->keyed_dir = rel[i];
        }
    }
    if (why[0])
        wck_coord_decline(j->coord, t->idx, b->checkpoint_id, why);
    else
        wck_coord_ack(j->coord, t->idx, b->checkpoint_id, acks, t->nops, weir_mono_ms() - t0);
    for (int i = 0; bufs && i < t->nops; i++)
        weir_buf_free(&bufs[i]);
    free(bufs);
    free(acks);
    free(rel);
}

/* Sends barrier @p b on every channel leaving this task (pending batches go first). */
static weir_err task_emit_barrier(task *t, const weir_barrier *b) {
    wch_item it = {.kind = WCH_BARRIER, .barrier = *b};
    for (int i = 0; i < t->nops; i++) {
        weir_ctx *c = t->ops[i];
        for (int o = 0; o < c->nouts; o++)
            for (int w = 0; w < c->outs[o].nwriters; w++) {
                weir_err rc = writer_broadcast_item(c->outs[o].writers[w], &it);
                if (rc) return rc;
            }
    }
    return WEIR_OK;
}

/* Calls on_periodic_emit of the chain's operators when the auto-watermark interval elapsed. */
static weir_err task_periodic(task *t) {
    if (!t->next_periodic_ms) return WEIR_OK;
    int64_t now = weir_ctx_now_ms(t->ops[0]);
    if (now < t->next_periodic_ms) return WEIR_OK;
    t->next_periodic_ms = now + t->job->periodic_ms;
    for (int i = 0; i < t->nops; i++) {
        weir_ctx *c = t->ops[i];
        if (!c->v->def->on_periodic_emit) continue;
        c->fail_msg[0] = '\0';
        weir_err rc = c->v->def->on_periodic_emit(c, now);
        if (rc) {
            ctx_failed(c, rc, "on_periodic_emit");
            return rc;
        }
    }
    return WEIR_OK;
}

/* The task's mailbox: direct checkpoint triggers (sources, finished tasks) and completion
 * notifications. Called by the task thread between elements. */
static weir_err task_mail(task *t) {
    struct weir_job *j = t->job;
    if (!j->coord) return WEIR_OK;
    if (atomic_load(&t->trigger_id) > t->acked_id) {
        pthread_mutex_lock(&j->ck_mu);
        weir_barrier b = t->trigger_b;
        pthread_mutex_unlock(&j->ck_mu);
        task_snapshot(t, &b);
        if (!t->finished) {
            weir_err rc = task_emit_barrier(t, &b);
            if (rc) return rc;
        }
        if (b.is_savepoint == 2 && !t->gate) t->stopped = 1;
    }
    int64_t n = atomic_load(&t->notify_id);
    if (n > atomic_load(&t->notified_id)) {
        atomic_store(&t->notified_id, n);
        for (int i = 0; i < t->nops; i++) {
            weir_ctx *c = t->ops[i];
            if (!c->v->def->notify_checkpoint_complete) continue;
            c->fail_msg[0] = '\0';
            weir_err rc = c->v->def->notify_checkpoint_complete(c, n);
            if (rc) {
                ctx_failed(c, rc, "notify_checkpoint_complete");
                return rc;
            }
        }
    }
    return WEIR_OK;
}

/* Barrier @p b arrived on @p from: align (exactly-once blocks that channel until every input
 * delivered the barrier or ended), then snapshot and forward it. */
static weir_err maybe_aligned(task *t) {
    if (!t->align_id) return WEIR_OK;
    wgate *g = t->gate;
    for (int i = 0; i < g->nch; i++)
        if (!g->ch[i]->ended && g->ch[i]->barrier_id != t->align_id) return WEIR_OK;
    weir_barrier b = t->align_b;
    t->align_id = 0;
    task_snapshot(t, &b);
    weir_err rc = task_emit_barrier(t, &b);
    wgate_unblock_all(g);
    return rc;
}

static weir_err on_barrier(task *t, wchannel *from, const weir_barrier *b) {
    int64_t id = b->checkpoint_id;
    if (!t->job->coord || id <= t->acked_id || id < t->align_id) return WEIR_OK; /* stale */
    if (id > t->align_id) { /* a newer checkpoint supersedes one still aligning */
        if (t->align_id) wgate_unblock_all(t->gate);
        t->align_id = id;
        t->align_b = *b;
    }
    from->barrier_id = id;
    if (t->job->exactly_once) wgate_set_blocked(t->gate, from, 1);
    return maybe_aligned(t);
}

/* After end of input, with checkpointing: the task stays until a checkpoint that includes its
 * final state completed (Flink's final checkpoint), so sinks commit their last output exactly
 * once. */
static void task_after_finish(task *t) {
    struct weir_job *j = t->job;
    if (!j->coord) return;
    pthread_mutex_lock(&j->ck_mu);
    t->finished = 1;
    int64_t pend = wck_coord_pending_id(j->coord);
    weir_barrier cur = j->cur_b;
    pthread_mutex_unlock(&j->ck_mu);
    /* a checkpoint in flight that never reached this task through its (now ended) inputs */
    if (pend && pend > t->acked_id && cur.checkpoint_id == pend) task_snapshot(t, &cur);
    while (!atomic_load(&j->cancelled)) {
        if (task_mail(t)) return;
        int64_t fin = atomic_load(&t->final_ack_id);
        if (fin && atomic_load(&t->notified_id) >= fin) return;
        pthread_mutex_lock(&t->mu);
        struct timespec ts = weir_deadline_after_ms(20);
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        pthread_mutex_unlock(&t->mu);
    }
}

static void hook_trigger(void *ud, const weir_barrier *b) {
    struct weir_job *j = ud;
    pthread_mutex_lock(&j->ck_mu);
    j->cur_b = *b;
    for (int i = 0; i < j->ntasks; i++) {
        task *t = j->tasks[i];
        if (t->gate && !t->finished) continue; /* barriers reach it through its inputs */
        t->trigger_b = *b;
        atomic_store(&t->trigger_id, b->checkpoint_id);
        task_wake(t);
    }
    pthread_mutex_unlock(&j->ck_mu);
}

static void hook_complete(void *ud, int64_t id) {
    struct weir_job *j = ud;
    for (int i = 0; i < j->ntasks; i++) {
        task *t = j->tasks[i];
        if (atomic_load(&t->notify_id) < id) atomic_store(&t->notify_id, id);
        task_wake(t);
    }
}

static void hook_fail(void *ud, const char *msg) {
    job_fail(ud, WEIR_EIO, "%s", msg);
}

static int hook_all_finished(void *ud) {
    struct weir_job *j = ud;
    int all = 1;
    pthread_mutex_lock(&j->ck_mu);
    for (int i = 0; i < j->ntasks && all; i++)
        all = j->tasks[i]->finished;
    pthread_mutex_unlock(&j->ck_mu);
    return all;
}

/* End of input: end_input() head first, then flush, then END on every outgoing channel. */
static void task_finish(task *t) {
    if (!t->gate) { /* a bounded source ended: event time is complete, as Flink's MAX_WATERMARK */
        weir_err rc = weir_emit_watermark(t->ops[0], INT64_MAX);
        if (rc) {
            ctx_failed(t->ops[0], rc, "final watermark");
            return;
        }
    }
    for (int i = 0; i < t->nops; i++) {
        weir_ctx *c = t->ops[i];
        if (c->v->def->end_input) {
            weir_err rc = c->v->def->end_input(c);
            if (rc) {
                ctx_failed(c, rc, "end_input");
                return;
            }
        }
    }
    wch_item end = {.kind = WCH_END};
    for (int i = 0; i < t->nops; i++) {
        weir_ctx *c = t->ops[i];
        for (int o = 0; o < c->nouts; o++)
            for (int w = 0; w < c->outs[o].nwriters; w++)
                if (writer_broadcast_item(c->outs[o].writers[w], &end)) return;
    }
    task_after_finish(t);
}

static void run_source(task *t) {
    weir_ctx *c = t->ops[0];
    size_t max = t->job->opt.batch_records;
    while (!atomic_load(&t->job->cancelled)) {
        if (task_mail(t) || task_periodic(t)) return;
        if (t->stopped) { /* stop-with-savepoint: wait for the job to end */
            if (task_flush(t)) return;
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (atomic_load(&t->job->draining)) {
            task_finish(t);
            return;
        }
        weir_poll_status st = WEIR_POLL_MORE;
        int64_t t0 = weir_mono_ns();
        weir_err rc = c->v->def->poll(c, max, &st);
        if (st == WEIR_POLL_IDLE) t->idle_ns += weir_mono_ns() - t0; /* it waited for data */
        if (rc) {
            ctx_failed(c, rc, "poll");
            return;
        }
        if (st == WEIR_POLL_END) {
            task_finish(t);
            return;
        }
        if (st == WEIR_POLL_IDLE && task_flush(t)) return;
    }
}

static weir_err run_batch(task *t, const weir_batch *b, int input) {
    weir_ctx *c = t->ops[0];
    c->cur_input = input;
    const weir_record *recs = weir_batch_records(b);
    size_t n = weir_batch_count(b);
    if (c->v->def->process_batch) {
        weir_err rc = c->v->def->process_batch(c, recs, n);
        if (rc) ctx_failed(c, rc, "process_batch");
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        weir_err rc = deliver(c, &recs[i]);
        if (rc) {
            ctx_failed(c, rc, "process");
            return rc;
        }
    }
    return WEIR_OK;
}

/* Forwards the minimum watermark over all inputs when it advanced. */
static weir_err advance_watermark(task *t) {
    wgate *g = t->gate;
    int64_t min = INT64_MAX;
    for (int i = 0; i < g->nch; i++)
        if (g->ch[i]->watermark_ms < min) min = g->ch[i]->watermark_ms;
    if (min <= t->wm_in) return WEIR_OK;
    t->wm_in = min;
    wch_item w = {.kind = WCH_WATERMARK, .watermark_ms = min};
    weir_err rc = forward_element(t->ops[0], &w);
    if (rc) ctx_failed(t->ops[0], rc, "on_watermark");
    return rc;
}

/* Fires the head operator's processing-time timers that are due. */
static weir_err fire_processing_timers(task *t) {
    weir_ctx *c = t->ops[0];
    if (!c->timers || wtimers_next(c->timers, WEIR_TIME_PROCESSING) == INT64_MAX) return WEIR_OK;
    weir_err rc =
        wtimers_advance(c->timers, WEIR_TIME_PROCESSING, weir_ctx_now_ms(c), fire_timer, c);
    if (rc) ctx_failed(c, rc, "on_timer");
    return rc;
}

static int64_t pop_timeout_ms(task *t) {
    weir_ctx *c = t->ops[0];
    int64_t to = t->job->coord ? 100 : -1;
    if (t->next_periodic_ms) {
        int64_t d = t->next_periodic_ms - weir_ctx_now_ms(c);
        if (d < 0) d = 0;
        if (d > t->job->periodic_ms) d = t->job->periodic_ms; /* a test clock may jump */
        if (to < 0 || d < to) to = d;
    }
    if (c->timers) {
        int64_t next = wtimers_next(c->timers, WEIR_TIME_PROCESSING);
        if (next != INT64_MAX) {
            int64_t d = next - weir_ctx_now_ms(c);
            if (d < 0) d = 0;
            if (d > 10) d = 10; /* the job clock may be a test clock: look again soon */
            if (to < 0 || d < to) to = d;
        }
    }
    return to;
}

static void run_consumer(task *t) {
    wgate *g = t->gate;
    for (;;) {
        wch_item it;
        wchannel *from;
        int more = 0;
        int64_t t0 = weir_mono_ns();
        int r = wgate_pop(g, &it, &from, &more, pop_timeout_ms(t));
        t->idle_ns += weir_mono_ns() - t0;
        if (r < 0) return;
        if (r == 0) {
            task_finish(t);
            return;
        }
        if (r == 2) {
            if (task_mail(t) || fire_processing_timers(t) || task_periodic(t)) return;
            continue;
        }
        weir_err rc = WEIR_OK;
        switch (it.kind) {
        case WCH_BATCH:
            rc = run_batch(t, it.batch, from->input);
            wgate_recycle(from, it.batch);
            break;
        case WCH_WATERMARK:
            /* like Flink's StatusWatermarkValve: an input's watermark never moves back */
            if (it.watermark_ms > from->watermark_ms) from->watermark_ms = it.watermark_ms;
            rc = advance_watermark(t);
            break;
        case WCH_END:
            /* an ended input no longer holds the operator's watermark back, nor an alignment */
            from->watermark_ms = INT64_MAX;
            rc = advance_watermark(t);
            if (!rc) rc = maybe_aligned(t);
            break;
        case WCH_BARRIER:
            rc = on_barrier(t, from, &it.barrier);
            break;
        }
        if (rc) return;
        if (fire_processing_timers(t) || task_periodic(t)) return;
        if (!more && task_flush(t)) return;
    }
}

/* Adds the task's time accounting to the job's metrics, named like Flink's task metrics but
 * cumulative: task.<head operator uid>.<subtask>.{busyTimeMs, idleTimeMs, backPressuredTimeMs,
 * cpuTimeMs}; busy = wall - idle - back-pressured. Logged at debug level too. */
static void task_account(task *t) {
    int64_t wall = weir_mono_ns() - t->start_ns, bp = 0, cpu = weir_thread_cpu_ns();
    for (int i = 0; i < t->nops; i++)
        for (int o = 0; o < t->ops[i]->nouts; o++)
            for (int w = 0; w < t->ops[i]->outs[o].nwriters; w++)
                bp += t->ops[i]->outs[o].writers[w]->backpressured_ns;
    int64_t busy = wall - t->idle_ns - bp;
    if (busy < 0) busy = 0;
    const weir_ctx *h = t->ops[0];
    const int64_t v[4] = {busy, t->idle_ns, bp, cpu};
    static const char *const names[4] = {"busyTimeMs", "idleTimeMs", "backPressuredTimeMs",
                                         "cpuTimeMs"};
    for (int k = 0; k < 4; k++) {
        char name[300];
        snprintf(name, sizeof name, "task.%s.%d.%s", h->v->uid, (int)h->subtask, names[k]);
        weir_counter_add(weir_metrics_counter(t->job->metrics, name), v[k] / 1000000);
    }
    weir_log(WEIR_LOG_DEBUG, h->where,
             "task time: wall %lld ms, busy %lld, idle %lld, back-pressured %lld, cpu %lld",
             (long long)(wall / 1000000), (long long)(busy / 1000000),
             (long long)(t->idle_ns / 1000000), (long long)(bp / 1000000),
             (long long)(cpu / 1000000));
}

static void *task_main(void *arg) {
    task *t = arg;
    t->start_ns = weir_mono_ns();
    if (t->gate)
        run_consumer(t);
    else
        run_source(t);
    task_account(t);
    return NULL;
}

/* ---------------------------------------------------------------- building */

static int is_chained(const weir_graph *g, const weir_job_options *o, int v, int *edge) {
    int in = -1, nin = 0;
    for (int i = 0; i < g->ne; i++)
        if (g->e[i].to == v) {
            in = i;
            nin++;
        }
    if (nin != 1 || o->disable_chaining) return 0;
    const wg_edge *e = &g->e[in];
    if (e->part != WEIR_PART_FORWARD) return 0;
    if (g->v[e->from].parallelism != g->v[v].parallelism) return 0;
    *edge = in;
    return 1;
}

static int task_add_op(task *t, weir_ctx *c) {
    if (t->nops == t->capops) {
        int nc = t->capops ? t->capops * 2 : 4;
        weir_ctx **n = realloc(t->ops, (size_t)nc * sizeof *n);
        if (!n) return -1;
        t->ops = n;
        t->capops = nc;
    }
    t->ops[t->nops++] = c;
    c->task = t;
    return 0;
}

static output *get_output(weir_ctx *c, const char *tag) {
    output *o = find_output(c, tag);
    if (o) return o;
    output *no = realloc(c->outs, (size_t)(c->nouts + 1) * sizeof *no);
    if (!no) return NULL;
    c->outs = no;
    o = &c->outs[c->nouts];
    memset(o, 0, sizeof *o);
    if (tag && !(o->tag = strdup(tag))) return NULL;
    c->nouts++;
    return o;
}

static int32_t vertex_max_par(const wg_vertex *v) {
    return v->max_parallelism ? v->max_parallelism : weir_default_max_parallelism(v->parallelism);
}

static weir_err open_backend(struct weir_job *j, weir_ctx *c, weir_error *err) {
    weir_backend_options bo = {0};
    bo.key_groups = c->kgr;
    bo.max_parallelism = c->max_par;
    bo.clock = j->opt.clock;
    bo.clock_ud = j->opt.clock_ud;
    bo.block_cache_bytes = j->opt.rocksdb_block_cache_bytes;
    bo.write_buffer_bytes = j->opt.rocksdb_write_buffer_bytes;
    bo.discard_on_close = 1; /* the working directory is emptied below before every use */
    const char *kind = j->opt.state_backend ? j->opt.state_backend : "heap";
    if (strcmp(kind, "heap") == 0) {
        c->backend = weir_state_backend_heap_new(&bo, err);
    } else if (strcmp(kind, "rocksdb") == 0) {
        char dir[1400];
        snprintf(dir, sizeof dir, "%s/%s/%s-%d", j->state_dir, j->g->job_name, c->v->uid,
                 (int)c->subtask);
        weir_rmtree(dir); /* fresh start: no restore yet */
        if (weir_mkdirs(dir))
            return weir_error_set(err, WEIR_EIO, 0, "cannot create state directory %s: %s", dir,
                                  strerror(errno));
        bo.dir = dir;
        c->backend = weir_state_backend_rocksdb_new(&bo, err);
    } else {
        return weir_error_set(err, WEIR_EINVAL, 0, "unknown state backend '%s' (heap|rocksdb)",
                              kind);
    }
    return c->backend ? WEIR_OK : (err && err->code ? err->code : WEIR_ESTATE);
}

static weir_err build(struct weir_job *j, weir_error *err) {
    const weir_graph *g = j->g;
    int nv = g->nv;
    j->inst = calloc((size_t)nv, sizeof *j->inst);
    int *chain_edge = calloc((size_t)nv, sizeof *chain_edge);
    int *chained = calloc((size_t)nv, sizeof *chained);
    if (!j->inst || !chain_edge || !chained) {
        free(chain_edge);
        free(chained);
        return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
    }
    weir_err rc = WEIR_OK;
    for (int v = 0; v < nv; v++) {
        const wg_vertex *vx = &g->v[v];
        chained[v] = is_chained(g, &j->opt, v, &chain_edge[v]);
        j->inst[v] = calloc((size_t)vx->parallelism, sizeof(weir_ctx));
        if (!j->inst[v]) {
            rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
            goto out;
        }
        int keyed = 0;
        for (int e = 0; e < g->ne; e++)
            if (g->e[e].to == v && g->e[e].part == WEIR_PART_HASH) keyed = 1;
        for (int s = 0; s < vx->parallelism; s++) {
            weir_ctx *c = &j->inst[v][s];
            c->job = j;
            c->v = vx;
            c->vid = v;
            c->subtask = s;
            c->parallelism = vx->parallelism;
            c->max_par = vertex_max_par(vx);
            c->kgr = weir_key_group_range(s, c->parallelism, c->max_par);
            c->keyed = keyed;
            snprintf(c->where, sizeof c->where, "%s (%d/%d)", vx->name, s + 1,
                     (int)vx->parallelism);
        }
    }
    /* tasks: one per (chain head, subtask); members in topological (BFS) order */
    for (int v = 0; v < nv; v++) {
        if (chained[v]) continue;
        for (int s = 0; s < g->v[v].parallelism; s++) {
            task *t = calloc(1, sizeof *t);
            task **nt = realloc(j->tasks, (size_t)(j->ntasks + 1) * sizeof *nt);
            if (!t || !nt) {
                free(t);
                if (nt) j->tasks = nt;
                rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                goto out;
            }
            j->tasks = nt;
            t->idx = j->ntasks;
            j->tasks[j->ntasks++] = t;
            t->job = j;
            t->wm_in = INT64_MIN;
            atomic_init(&t->trigger_id, 0);
            atomic_init(&t->notify_id, 0);
            atomic_init(&t->notified_id, 0);
            atomic_init(&t->final_ack_id, 0);
            pthread_mutex_init(&t->mu, NULL);
            pthread_cond_init(&t->cv, NULL);
            if (task_add_op(t, &j->inst[v][s])) {
                rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                goto out;
            }
            for (int k = 0; k < t->nops; k++) {
                int u = t->ops[k]->vid;
                for (int w = 0; w < nv; w++)
                    if (chained[w] && g->e[chain_edge[w]].from == u &&
                        task_add_op(t, &j->inst[w][s])) {
                        rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                        goto out;
                    }
            }
            if (!g->v[v].def->poll && !(t->gate = wgate_new(&j->cancelled))) {
                rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                goto out;
            }
        }
    }
    /* outputs: chained targets and channel writers */
    for (int e = 0; e < g->ne; e++) {
        const wg_edge *ed = &g->e[e];
        int u = ed->from, v = ed->to;
        int input = 0; /* this edge's index among v's inputs (weir_ctx_input) */
        for (int k = 0; k < e; k++)
            if (g->e[k].to == v) input++;
        int pu = g->v[u].parallelism, pv = g->v[v].parallelism;
        int is_chain = chained[v] && chain_edge[v] == e;
        for (int s = 0; s < pu; s++) {
            weir_ctx *c = &j->inst[u][s];
            output *o = get_output(c, ed->tag);
            if (!o) {
                rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                goto out;
            }
            if (is_chain) {
                weir_ctx **nc = realloc(o->chained, (size_t)(o->nchained + 1) * sizeof *nc);
                if (!nc) {
                    rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                    goto out;
                }
                o->chained = nc;
                o->chained[o->nchained++] = &j->inst[v][s];
                continue;
            }
            writer *w = calloc(1, sizeof *w);
            writer **nw = realloc(o->writers, (size_t)(o->nwriters + 1) * sizeof *nw);
            writer **jw = realloc(j->writers, (size_t)(j->nwriters + 1) * sizeof *jw);
            if (nw) o->writers = nw;
            if (jw) j->writers = jw;
            if (!w || !nw || !jw) {
                free(w);
                rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                goto out;
            }
            o->writers[o->nwriters++] = w;
            j->writers[j->nwriters++] = w;
            w->part = ed->part;
            w->down_max_par = vertex_max_par(&g->v[v]);
            w->nt = ed->part == WEIR_PART_FORWARD ? 1 : pv;
            w->rr = s % (w->nt ? w->nt : 1);
            w->targets = calloc((size_t)w->nt, sizeof *w->targets);
            w->pending = calloc((size_t)w->nt, sizeof *w->pending);
            if (!w->targets || !w->pending) {
                rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                goto out;
            }
            for (int k = 0; k < w->nt; k++) {
                int dst = ed->part == WEIR_PART_FORWARD ? s : k;
                task *dt = j->inst[v][dst].task;
                w->targets[k] = wgate_add_channel(dt->gate, j->opt.channel_capacity, input);
                if (!w->targets[k]) {
                    rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
                    goto out;
                }
            }
        }
    }
out:
    free(chain_edge);
    free(chained);
    return rc;
}

static void close_all(struct weir_job *j) {
    if (!j->inst) return;
    for (int v = 0; v < j->g->nv; v++) {
        if (!j->inst[v]) continue;
        for (int s = 0; s < j->g->v[v].parallelism; s++) {
            weir_ctx *c = &j->inst[v][s];
            if (c->opened && c->v->def->close) c->v->def->close(c);
            c->opened = 0;
            wtimers_free(c->timers);
            c->timers = NULL;
            weir_state_backend_free(c->backend);
            c->backend = NULL;
        }
    }
}

/* ------------------------------------------------------------------ restore */

/* Reads the checkpoint/savepoint to restore and checks it against the graph: every operator
 * state must map to a uid of the graph (unless allow_non_restored_state), keyed operators keep
 * their max parallelism (the number of key groups). */
static weir_err load_restore(struct weir_job *j, wck_metadata *md, char *rdir, size_t cap,
                             weir_error *err) {
    const char *p = j->opt.restore_path;
    size_t n = strlen(p);
    if (n >= 10 && strcmp(p + n - 10, "/_metadata") == 0)
        snprintf(rdir, cap, "%.*s", (int)(n - 10), p);
    else
        snprintf(rdir, cap, "%s", p);
    weir_error e = {0};
    if (wck_metadata_read(rdir, md, &e))
        return weir_error_set(err, e.code ? e.code : WEIR_EIO, 0, "cannot restore from %s: %s", p,
                              e.msg);
    for (int i = 0; i < md->n_ops; i++) {
        const wck_operator *op = &md->ops[i];
        int has_state = 0;
        for (int s = 0; s < op->n_subtasks; s++)
            if (op->subtasks[s].op_state_len || op->subtasks[s].keyed_dir) has_state = 1;
        int v = weir_graph_find(j->g, op->uid);
        if (v < 0) {
            if (has_state && !j->opt.allow_non_restored_state)
                return weir_error_set(err, WEIR_EINVAL, 0,
                                      "cannot restore from %s: it holds state of operator '%s', "
                                      "which is not in job '%s' (allow it with "
                                      "--allowNonRestoredState)",
                                      p, op->uid, j->g->job_name);
            continue;
        }
        int32_t maxp = vertex_max_par(&j->g->v[v]);
        if (j->inst[v][0].keyed && has_state && op->max_parallelism != maxp)
            return weir_error_set(err, WEIR_EINVAL, 0,
                                  "cannot restore operator '%s': its max parallelism was %d, the "
                                  "job now has %d (the number of key groups cannot change)",
                                  op->uid, (int)op->max_parallelism, (int)maxp);
    }
    j->restored_id = md->checkpoint_id;
    return WEIR_OK;
}

/* Restores one operator instance: keyed state of every old subtask whose key-group range
 * overlaps (rescaling), operator state of every old subtask (union), timers. */
static weir_err restore_instance(struct weir_job *j, weir_ctx *c, const wck_metadata *md,
                                 const char *rdir, weir_error *err) {
    const wck_operator *op = wck_metadata_find(md, c->v->uid);
    if (!op) return WEIR_OK;
    for (int s = 0; s < op->n_subtasks; s++) {
        const wck_subtask *st = &op->subtasks[s];
        if (c->keyed && st->keyed_dir && st->kg_end >= c->kgr.start && st->kg_start <= c->kgr.end) {
            char path[2200];
            snprintf(path, sizeof path, "%s/%s", rdir, st->keyed_dir);
            weir_error e = {0};
            if (weir_state_backend_restore(c->backend, path, &e))
                return weir_error_set(err, e.code ? e.code : WEIR_ESTATE, 0,
                                      "%s: restoring keyed state from %s failed: %s", c->where,
                                      path, e.msg);
        }
        if (st->op_state_len && c->v->def->restore_state) {
            c->fail_msg[0] = '\0';
            weir_err rc = c->v->def->restore_state(c, st->op_state, st->op_state_len);
            if (rc)
                return weir_error_set(err, rc, 0, "%s: restore_state failed: %s", c->where,
                                      c->fail_msg[0] ? c->fail_msg : weir_err_name(rc));
        }
    }
    if (c->keyed && c->backend) {
        if (!(c->timers = wtimers_new(c->backend)))
            return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        if (wtimers_restore(c->timers, err)) return err ? err->code : WEIR_ESTATE;
    }
    (void)j;
    return WEIR_OK;
}

/* Starts the checkpoint coordinator with Flink's configuration keys. */
static weir_err start_coordinator(struct weir_job *j, weir_error *err) {
    const weir_config *cf = j->opt.config;
    wck_coord_conf cc = {0};
    int64_t v = 0;
    if (weir_config_get_duration_ms(cf, "execution.checkpointing.interval", 0, &cc.interval_ms,
                                    err) ||
        weir_config_get_duration_ms(cf, "execution.checkpointing.min-pause", 0, &cc.min_pause_ms,
                                    err) ||
        weir_config_get_duration_ms(cf, "execution.checkpointing.timeout", 600000, &cc.timeout_ms,
                                    err))
        return err ? err->code : WEIR_EINVAL;
    if (weir_config_get_int(cf, "execution.checkpointing.tolerable-failed-checkpoints", 0, &v, err))
        return err ? err->code : WEIR_EINVAL;
    cc.tolerable_failures = (int)v;
    if (weir_config_get_int(cf, "state.checkpoints.num-retained", 1, &v, err))
        return err ? err->code : WEIR_EINVAL;
    cc.num_retained = (int)v;
    const char *mode = weir_config_get(cf, "execution.checkpointing.mode", "EXACTLY_ONCE");
    if (strcasecmp(mode, "EXACTLY_ONCE") == 0)
        j->exactly_once = 1;
    else if (strcasecmp(mode, "AT_LEAST_ONCE") == 0)
        j->exactly_once = 0;
    else
        return weir_error_set(err, WEIR_EINVAL, 0,
                              "execution.checkpointing.mode: '%s' (EXACTLY_ONCE|AT_LEAST_ONCE)",
                              mode);
    j->vinfo = calloc((size_t)j->g->nv, sizeof *j->vinfo);
    if (!j->vinfo) return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
    for (int i = 0; i < j->g->nv; i++) {
        j->vinfo[i].uid = j->g->v[i].uid;
        j->vinfo[i].parallelism = j->g->v[i].parallelism;
        j->vinfo[i].max_parallelism = vertex_max_par(&j->g->v[i]);
    }
    cc.base_dir = j->opt.checkpoint_dir;
    cc.job_id = j->job_id;
    cc.job_name = j->g->job_name;
    cc.state_backend = j->opt.state_backend ? j->opt.state_backend : "heap";
    cc.first_id = j->restored_id + 1;
    cc.vertices = j->vinfo;
    cc.nvertices = j->g->nv;
    cc.ntasks = j->ntasks;
    cc.hooks = (wck_coord_hooks){.ud = j,
                                 .trigger = hook_trigger,
                                 .complete = hook_complete,
                                 .fail_job = hook_fail,
                                 .all_finished = hook_all_finished};
    j->coord = wck_coord_start(&cc, err);
    if (!j->coord) return err && err->code ? err->code : WEIR_EIO;
    weir_log(WEIR_LOG_INFO, "checkpoint", "job %s (%s): checkpoints every %lld ms into %s/%s (%s)",
             j->g->job_name, j->job_id, (long long)cc.interval_ms, cc.base_dir, j->job_id,
             j->exactly_once ? "exactly-once" : "at-least-once");
    return WEIR_OK;
}

weir_job *weir_job_start(const weir_graph *g, const weir_job_options *opt, weir_error *err) {
    if (weir_graph_validate(g, err)) return NULL;
    wck_metadata md = {0};
    char rdir[1024] = "";
    struct weir_job *j = calloc(1, sizeof *j);
    if (!j) {
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        return NULL;
    }
    j->g = g;
    if (opt) j->opt = *opt;
    if (!j->opt.batch_records) j->opt.batch_records = 512;
    if (!j->opt.channel_capacity) j->opt.channel_capacity = 8;
    if (!j->opt.clock) j->opt.clock = wall_clock_ms;
    if (j->opt.job_id)
        snprintf(j->job_id, sizeof j->job_id, "%s", j->opt.job_id);
    else
        wck_job_id_for(g->job_name, j->job_id);
    if (j->opt.state_dir)
        snprintf(j->state_dir, sizeof j->state_dir, "%s", j->opt.state_dir);
    else {
        snprintf(j->state_dir, sizeof j->state_dir, "/tmp/weir-state-%d", (int)getpid());
        j->own_state_dir = 1;
    }
    atomic_init(&j->cancelled, 0);
    atomic_init(&j->draining, 0);
    pthread_mutex_init(&j->err_mu, NULL);
    pthread_mutex_init(&j->ck_mu, NULL);
    j->metrics = weir_metrics_new();
    if (!j->metrics || build(j, err)) goto fail;
    if (j->opt.restore_path && load_restore(j, &md, rdir, sizeof rdir, err)) goto fail;
    /* open every instance on this thread; keyed ones get their state backend first, restored
     * state goes in before open() */
    for (int v = 0; v < g->nv; v++)
        for (int s = 0; s < g->v[v].parallelism; s++) {
            weir_ctx *c = &j->inst[v][s];
            if (c->keyed && open_backend(j, c, err)) goto fail;
            if (j->opt.restore_path && restore_instance(j, c, &md, rdir, err)) goto fail;
            if (c->v->def->open) {
                weir_err rc = c->v->def->open(c);
                if (rc) {
                    weir_error_set(err, rc, 0, "%s: open failed: %s", c->where,
                                   c->fail_msg[0] ? c->fail_msg : weir_err_name(rc));
                    goto fail;
                }
            }
            c->opened = 1;
        }
    wck_metadata_clear(&md);
    if (weir_config_get_duration_ms(j->opt.config, "pipeline.auto-watermark-interval", 200,
                                    &j->periodic_ms, err))
        goto fail;
    if (j->periodic_ms <= 0) j->periodic_ms = 200;
    for (int i = 0; i < j->ntasks; i++)
        for (int k = 0; k < j->tasks[i]->nops; k++)
            if (j->tasks[i]->ops[k]->v->def->on_periodic_emit)
                j->tasks[i]->next_periodic_ms =
                    weir_ctx_now_ms(j->tasks[i]->ops[0]) + j->periodic_ms;
    if (j->opt.checkpoint_dir && start_coordinator(j, err)) goto fail;
    for (int i = 0; i < j->ntasks; i++) {
        if (pthread_create(&j->tasks[i]->th, NULL, task_main, j->tasks[i])) {
            weir_error_set(err, WEIR_EINTERNAL, 0, "cannot start task thread");
            weir_job_cancel(j);
            weir_job_wait(j, NULL);
            weir_job_free(j);
            return NULL;
        }
        j->tasks[i]->started = 1;
    }
    return j;
fail:
    wck_metadata_clear(&md);
    close_all(j);
    weir_job_free(j);
    return NULL;
}

void weir_job_cancel(weir_job *j) {
    atomic_store(&j->cancelled, 1);
    for (int i = 0; i < j->ntasks; i++)
        if (j->tasks[i]->gate) wgate_wake_all(j->tasks[i]->gate);
}

weir_err weir_job_wait(weir_job *j, weir_error *err) {
    for (int i = 0; i < j->ntasks; i++)
        if (j->tasks[i]->started) {
            pthread_join(j->tasks[i]->th, NULL);
            j->tasks[i]->started = 0;
        }
    wck_coord_free(j->coord);
    j->coord = NULL;
    close_all(j);
    pthread_mutex_lock(&j->err_mu);
    weir_err rc = j->err.code;
    if (rc && err) *err = j->err;
    if (!rc && atomic_load(&j->cancelled) && !atomic_load(&j->stopped_with_savepoint))
        rc = WEIR_ECANCELLED;
    if (rc == WEIR_ECANCELLED && err) weir_error_set(err, rc, 0, "job cancelled");
    pthread_mutex_unlock(&j->err_mu);
    return rc;
}

weir_err weir_job_savepoint(weir_job *j, const char *target_dir, int stop, char *out_path,
                            size_t cap, weir_error *err) {
    if (!j->coord)
        return weir_error_set(err, WEIR_EUNSUPPORTED, 0,
                              "savepoints need checkpointing: run the job with a checkpoint "
                              "directory (--checkpoint-dir)");
    weir_err rc = wck_coord_savepoint(j->coord, target_dir, stop, out_path, cap, err);
    if (rc || !stop) return rc;
    /* stop-with-savepoint: let every task see the completion (sinks commit), then end */
    int64_t id = 0;
    wck_metadata md = {0};
    if (wck_metadata_read(out_path, &md, NULL) == WEIR_OK) id = md.checkpoint_id;
    wck_metadata_clear(&md);
    for (int waited = 0; waited < 30000; waited += 5) {
        int all = 1;
        for (int i = 0; i < j->ntasks && all; i++)
            all = atomic_load(&j->tasks[i]->notified_id) >= id ||
                  atomic_load(&j->tasks[i]->final_ack_id);
        if (all) break;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    atomic_store(&j->stopped_with_savepoint, 1);
    weir_job_cancel(j);
    return WEIR_OK;
}

const char *weir_job_id(const weir_job *j) {
    return j->job_id;
}

int64_t weir_job_last_checkpoint(weir_job *j) {
    return j->coord ? wck_coord_last_completed(j->coord) : 0;
}

int64_t weir_job_restored_from(const weir_job *j) {
    return j->restored_id;
}

void weir_job_drain(weir_job *j) {
    atomic_store(&j->draining, 1);
}

weir_metrics *weir_job_metrics(weir_job *j) {
    return j->metrics;
}

void weir_job_free(weir_job *j) {
    if (!j) return;
    if (j->own_state_dir) {
        /* nobody else can find a directory named after this process: its working state (not
         * its checkpoints) goes with the job, like Flink's local RocksDB directories. The pid
         * directory itself only once no other job of the process uses it. The backends are
         * closed by now: weir_job_wait() and weir_job_start()'s failure path close them. */
        char dir[1400];
        snprintf(dir, sizeof dir, "%s/%s", j->state_dir, j->g->job_name);
        weir_rmtree(dir);
        rmdir(j->state_dir);
    }
    for (int i = 0; i < j->nwriters; i++) {
        writer *w = j->writers[i];
        for (int t = 0; w->pending && t < w->nt; t++)
            weir_batch_free(w->pending[t]);
        free(w->pending);
        free(w->targets);
        free(w);
    }
    free(j->writers);
    for (int i = 0; i < j->ntasks; i++) {
        wgate_free(j->tasks[i]->gate);
        free(j->tasks[i]->ops);
        pthread_mutex_destroy(&j->tasks[i]->mu);
        pthread_cond_destroy(&j->tasks[i]->cv);
        free(j->tasks[i]);
    }
    wck_coord_free(j->coord);
    free(j->vinfo);
    pthread_mutex_destroy(&j->ck_mu);
    free(j->tasks);
    if (j->inst) {
        for (int v = 0; v < j->g->nv; v++) {
            if (!j->inst[v]) continue;
            for (int s = 0; s < j->g->v[v].parallelism; s++) {
                weir_ctx *c = &j->inst[v][s];
                for (int o = 0; o < c->nouts; o++) {
                    free(c->outs[o].tag);
                    free(c->outs[o].chained);
                    free(c->outs[o].writers);
                }
                free(c->outs);
            }
            free(j->inst[v]);
        }
        free(j->inst);
    }
    weir_metrics_free(j->metrics);
    pthread_mutex_destroy(&j->err_mu);
    free(j);
}
