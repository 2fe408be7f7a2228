/*
 * coordinator.c - the checkpoint coordinator (see coordinator.h for the protocol).
 *
 * Data structure: one mutex-guarded struct with at most one pending checkpoint (`pend`): its
 * barrier, the directory tasks write into, a bitmap of tasks that acknowledged and the
 * `_metadata` being assembled (one wck_operator per vertex, filled per subtask by the acks).
 * The coordinator thread sleeps on a condition variable until the next trigger is due, a
 * savepoint is requested, the pending checkpoint times out, or it is stopped.
 *
 * Invariants: pend.id == 0 ⇔ nothing in flight; ids strictly increase (next_id); a checkpoint is
 * complete only after `_metadata` was written (wck_metadata_write is atomic); hooks are never
 * called with the mutex held.
 */
#include "checkpoint/coordinator.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint/metadata.h"
#include "weir/clock.h"
#include "weir/fs.h"
#include "weir/log.h"

typedef struct pending {
    int64_t id; /* 0 = none */
    weir_barrier barrier;
    char dir[1200];
    int64_t trigger_mono_ms;
    int64_t max_sync_ms;
    unsigned char *acked;
    int nacked;
    wck_metadata md;
    int is_savepoint;
} pending;

struct wck_coord {
    wck_coord_conf conf;
    char base[1024];
    char job_dir[1100];
    char job_id[40];
    char *job_name, *backend;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* wakes the coordinator thread */
    pthread_cond_t done_cv; /* wakes savepoint waiters */
    pthread_t th;
    int running, stop;
    int64_t next_id;
    int64_t last_completed;
    int64_t last_end_mono_ms; /* when the previous checkpoint ended (min-pause) */
    int64_t last_trigger_mono_ms;
    int consecutive_failures;
    int final_triggered; /* all tasks finished: a final checkpoint was triggered */
    pending pend;
    /* a requested savepoint not yet triggered */
    int sp_requested, sp_stop;
    char sp_target[1024];
    int64_t sp_id;      /* id assigned once triggered */
    int64_t sp_done_id; /* last savepoint that ended */
    int sp_ok;
    char sp_path[1200];
    weir_error sp_err;
};

/* Ends the pending checkpoint as failed; returns 1 if the job must fail. Caller holds mu. */
static int abort_locked(wck_coord *c, const char *reason, char *fail_msg, size_t cap) {
    pending *p = &c->pend;
    weir_log(WEIR_LOG_WARN, "checkpoint", "%s %" PRId64 " failed: %s",
             p->is_savepoint ? "savepoint" : "checkpoint", p->id, reason);
    int fail = 0;
    if (p->is_savepoint) {
        weir_error_set(&c->sp_err, WEIR_EIO, 0, "savepoint %" PRId64 " failed: %s", p->id, reason);
        c->sp_ok = 0;
        c->sp_done_id = p->id;
    } else {
        c->consecutive_failures++;
        if (c->consecutive_failures > c->conf.tolerable_failures) {
            snprintf(fail_msg, cap,
                     "checkpoint %" PRId64 " failed (%s): exceeded the tolerable number of failed "
                     "checkpoints (%d)",
                     p->id, reason, c->conf.tolerable_failures);
            fail = 1;
        }
    }
    wck_metadata_clear(&p->md);
    free(p->acked);
    p->acked = NULL;
    p->id = 0;
    c->final_triggered = 0;
    c->last_end_mono_ms = weir_mono_ms();
    pthread_cond_broadcast(&c->done_cv);
    return fail;
}

static void trigger_locked(wck_coord *c, int savepoint, int stop, weir_barrier *out) {
    pending *p = &c->pend;
    memset(p, 0, sizeof *p);
    p->id = c->next_id++;
    p->barrier.checkpoint_id = p->id;
    p->barrier.timestamp_ms = weir_wall_ms();
    p->barrier.is_savepoint = savepoint ? (stop ? 2 : 1) : 0;
    p->is_savepoint = savepoint;
    p->trigger_mono_ms = weir_mono_ms();
    c->last_trigger_mono_ms = p->trigger_mono_ms;
    if (savepoint)
        snprintf(p->dir, sizeof p->dir, "%s/savepoint-%.6s-%" PRId64, c->sp_target, c->job_id,
                 p->id);
    else
        snprintf(p->dir, sizeof p->dir, "%s/chk-%" PRId64, c->job_dir, p->id);
    p->acked = calloc((size_t)(c->conf.ntasks > 0 ? c->conf.ntasks : 1), 1);
    wck_metadata *m = &p->md;
    m->job_id = strdup(c->job_id);
    m->job_name = strdup(c->job_name ? c->job_name : "");
    m->checkpoint_id = p->id;
    m->is_savepoint = savepoint;
    m->canonical = savepoint;
    m->state_backend = strdup(c->backend ? c->backend : "heap");
    m->trigger_ts_ms = p->barrier.timestamp_ms;
    for (int i = 0; i < c->conf.nvertices; i++) {
        const wck_vertex_info *v = &c->conf.vertices[i];
        wck_metadata_add_operator(m, v->uid, v->parallelism, v->max_parallelism);
    }
    *out = p->barrier;
}

static void *coord_main(void *arg) {
    wck_coord *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        int64_t now = weir_mono_ms();
        int64_t wait_ms = 50;
        char fail_msg[512] = "";
        int fail = 0, fire = 0;
        weir_barrier b;
        if (c->pend.id) {
            if (now - c->pend.trigger_mono_ms > c->conf.timeout_ms)
                fail = abort_locked(c, "timed out", fail_msg, sizeof fail_msg);
        } else if (c->sp_requested) {
            c->sp_requested = 0;
            trigger_locked(c, 1, c->sp_stop, &b);
            c->sp_id = c->pend.id;
            pthread_cond_broadcast(&c->done_cv);
            fire = 1;
        } else {
            int64_t due = INT64_MAX;
            if (c->conf.interval_ms > 0) {
                due = c->last_trigger_mono_ms + c->conf.interval_ms;
                if (c->last_end_mono_ms + c->conf.min_pause_ms > due)
                    due = c->last_end_mono_ms + c->conf.min_pause_ms;
            }
            int finished = 0;
            if (!c->final_triggered && c->conf.hooks.all_finished) {
                pthread_mutex_unlock(&c->mu);
                finished = c->conf.hooks.all_finished(c->conf.hooks.ud);
                pthread_mutex_lock(&c->mu);
            }
            if (!c->pend.id && !c->stop && (finished || now >= due)) {
                trigger_locked(c, 0, 0, &b);
                if (finished) c->final_triggered = 1;
                fire = 1;
            } else if (due != INT64_MAX && due - now < wait_ms) {
                wait_ms = due - now < 1 ? 1 : due - now;
            }
        }
        if (fire) {
            if (!c->pend.is_savepoint) weir_rmtree(c->pend.dir); /* left by a crashed run */
            if (weir_mkdirs(c->pend.dir)) {
                char why[1500];
                snprintf(why, sizeof why, "cannot create %s: %s", c->pend.dir, strerror(errno));
                fail = abort_locked(c, why, fail_msg, sizeof fail_msg);
            } else {
                weir_log(WEIR_LOG_DEBUG, "checkpoint", "triggering %s %" PRId64,
                         b.is_savepoint ? "savepoint" : "checkpoint", b.checkpoint_id);
                pthread_mutex_unlock(&c->mu);
                c->conf.hooks.trigger(c->conf.hooks.ud, &b);
                pthread_mutex_lock(&c->mu);
            }
        }
        if (fail) {
            pthread_mutex_unlock(&c->mu);
            c->conf.hooks.fail_job(c->conf.hooks.ud, fail_msg);
            pthread_mutex_lock(&c->mu);
        }
        if (c->stop) break;
        struct timespec ts = weir_deadline_after_ms(wait_ms);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

wck_coord *wck_coord_start(const wck_coord_conf *conf, weir_error *err) {
    wck_coord *c = calloc(1, sizeof *c);
    if (!c) {
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        return NULL;
    }
    c->conf = *conf;
    if (c->conf.timeout_ms <= 0) c->conf.timeout_ms = 600000;
    if (c->conf.num_retained <= 0) c->conf.num_retained = 1;
    if (c->conf.tolerable_failures < 0) c->conf.tolerable_failures = 0;
    c->next_id = conf->first_id > 0 ? conf->first_id : 1;
    c->last_completed = c->next_id - 1;
    snprintf(c->base, sizeof c->base, "%s", conf->base_dir);
    snprintf(c->job_id, sizeof c->job_id, "%s", conf->job_id);
    snprintf(c->job_dir, sizeof c->job_dir, "%s/%s", c->base, c->job_id);
    c->job_name = strdup(conf->job_name ? conf->job_name : "");
    c->backend = strdup(conf->state_backend ? conf->state_backend : "heap");
    c->last_trigger_mono_ms = c->last_end_mono_ms = weir_mono_ms();
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_cond_init(&c->done_cv, NULL);
    if (weir_mkdirs(c->job_dir)) {
        weir_error_set(err, WEIR_EIO, 0, "cannot create checkpoint directory %s: %s", c->job_dir,
                       strerror(errno));
        wck_coord_free(c);
        return NULL;
    }
    if (pthread_create(&c->th, NULL, coord_main, c)) {
        weir_error_set(err, WEIR_EINTERNAL, 0, "cannot start the checkpoint coordinator");
        wck_coord_free(c);
        return NULL;
    }
    c->running = 1;
    return c;
}

void wck_coord_free(wck_coord *c) {
    if (!c) return;
    if (c->running) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->th, NULL);
    }
    pthread_mutex_lock(&c->mu);
    if (c->pend.id) {
        wck_metadata_clear(&c->pend.md);
        free(c->pend.acked);
        c->pend.acked = NULL;
        c->pend.id = 0;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_cond_destroy(&c->cv);
    pthread_cond_destroy(&c->done_cv);
    pthread_mutex_destroy(&c->mu);
    free(c->job_name);
    free(c->backend);
    free(c);
}

const char *wck_coord_snapshot_dir(wck_coord *c, int64_t id, char *out, size_t cap) {
    const char *r = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->pend.id == id) {
        snprintf(out, cap, "%s", c->pend.dir);
        r = out;
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

int64_t wck_coord_pending_id(wck_coord *c) {
    pthread_mutex_lock(&c->mu);
    int64_t id = c->pend.id;
    pthread_mutex_unlock(&c->mu);
    return id;
}

int64_t wck_coord_last_completed(wck_coord *c) {
    pthread_mutex_lock(&c->mu);
    int64_t id = c->last_completed;
    pthread_mutex_unlock(&c->mu);
    return id;
}

/* All tasks acknowledged: write _metadata, apply retention. Returns 1 on success. Caller holds
 * mu; may set *fail for the job. */
static int complete_locked(wck_coord *c, char *fail_msg, size_t cap, int *fail) {
    pending *p = &c->pend;
    p->md.complete_ts_ms = weir_wall_ms();
    uint64_t total = 0;
    for (int i = 0; i < p->md.n_ops; i++)
        for (int s = 0; s < p->md.ops[i].n_subtasks; s++)
            total += p->md.ops[i].subtasks[s].keyed_bytes + p->md.ops[i].subtasks[s].op_state_len;
    p->md.total_bytes = total;
    weir_error e = {0};
    if (wck_metadata_write(p->dir, &p->md, &e)) {
        *fail = abort_locked(c, e.msg, fail_msg, cap);
        return 0;
    }
    int64_t id = p->id;
    int64_t dur = weir_mono_ms() - p->trigger_mono_ms;
    weir_log(WEIR_LOG_INFO, "checkpoint",
             "%s %" PRId64 " completed in %" PRId64 " ms (max synchronous pause %" PRId64
             " ms, %" PRIu64 " bytes): %s",
             p->is_savepoint ? "savepoint" : "checkpoint", id, dur, p->max_sync_ms, total, p->dir);
    if (!p->is_savepoint) {
        c->last_completed = id;
        c->consecutive_failures = 0;
        weir_error re = {0};
        if (wck_retain(c->job_dir, c->conf.num_retained, id, &re))
            weir_log(WEIR_LOG_WARN, "checkpoint", "retention: %s", re.msg);
    }
    if (p->is_savepoint) {
        c->sp_ok = 1;
        snprintf(c->sp_path, sizeof c->sp_path, "%s", p->dir);
        c->sp_done_id = id;
    }
    wck_metadata_clear(&p->md);
    free(p->acked);
    p->acked = NULL;
    p->id = 0;
    c->last_end_mono_ms = weir_mono_ms();
    pthread_cond_broadcast(&c->done_cv);
    pthread_cond_broadcast(&c->cv);
    return 1;
}

void wck_coord_ack(wck_coord *c, int task, int64_t id, const wck_ack_op *ops, int n,
                   int64_t sync_ms) {
    char fail_msg[512] = "";
    int fail = 0, completed = 0;
    pthread_mutex_lock(&c->mu);
    pending *p = &c->pend;
    if (p->id != id || task < 0 || task >= c->conf.ntasks || p->acked[task]) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    for (int i = 0; i < n; i++) {
        wck_operator *op = NULL;
        for (int k = 0; k < p->md.n_ops; k++)
            if (strcmp(p->md.ops[k].uid, ops[i].uid) == 0) op = &p->md.ops[k];
        if (!op || ops[i].subtask < 0 || ops[i].subtask >= op->n_subtasks) continue;
        wck_subtask *s = &op->subtasks[ops[i].subtask];
        s->kg_start = ops[i].kg_start;
        s->kg_end = ops[i].kg_end;
        if (ops[i].op_state_len) {
            s->op_state = malloc(ops[i].op_state_len);
            if (!s->op_state) {
                fail = abort_locked(c, "out of memory", fail_msg, sizeof fail_msg);
                goto out;
            }
            memcpy(s->op_state, ops[i].op_state, ops[i].op_state_len);
            s->op_state_len = ops[i].op_state_len;
        }
        if (ops[i].keyed_dir) s->keyed_dir = strdup(ops[i].keyed_dir);
        s->keyed_bytes = ops[i].keyed_bytes;
    }
    if (sync_ms > p->max_sync_ms) p->max_sync_ms = sync_ms;
    p->acked[task] = 1;
    if (++p->nacked == c->conf.ntasks)
        completed = complete_locked(c, fail_msg, sizeof fail_msg, &fail);
out:;
    void (*done)(void *, int64_t) = c->conf.hooks.complete;
    pthread_mutex_unlock(&c->mu);
    if (completed) done(c->conf.hooks.ud, id);
    if (fail) c->conf.hooks.fail_job(c->conf.hooks.ud, fail_msg);
}

void wck_coord_decline(wck_coord *c, int task, int64_t id, const char *reason) {
    char fail_msg[512] = "";
    int fail = 0;
    pthread_mutex_lock(&c->mu);
    if (c->pend.id == id) {
        char why[600];
        snprintf(why, sizeof why, "declined by task %d: %s", task, reason);
        fail = abort_locked(c, why, fail_msg, sizeof fail_msg);
    }
    pthread_mutex_unlock(&c->mu);
    if (fail) c->conf.hooks.fail_job(c->conf.hooks.ud, fail_msg);
}

weir_err wck_coord_savepoint(wck_coord *c, const char *target_dir, int stop, char *out_path,
                             size_t cap, weir_error *err) {
    if (weir_mkdirs(target_dir))
        return weir_error_set(err, WEIR_EIO, 0, "cannot create savepoint directory %s: %s",
                              target_dir, strerror(errno));
    pthread_mutex_lock(&c->mu);
    while (c->sp_requested && !c->stop) /* one savepoint request at a time */
        pthread_cond_wait(&c->done_cv, &c->mu);
    snprintf(c->sp_target, sizeof c->sp_target, "%s", target_dir);
    c->sp_requested = 1;
    c->sp_stop = stop;
    c->sp_id = 0;
    pthread_cond_broadcast(&c->cv);
    int64_t deadline = weir_mono_ms() + c->conf.timeout_ms;
    weir_err rc = WEIR_OK;
    int64_t id = 0;
    for (;;) {
        if (!id && c->sp_id) id = c->sp_id;
        if (id && c->sp_done_id == id) break; /* ended: sp_ok/sp_path/sp_err describe it */
        if (c->stop) {
            rc = weir_error_set(err, WEIR_ECANCELLED, 0, "job ended before the savepoint");
            break;
        }
        if (weir_mono_ms() > deadline) {
            rc = weir_error_set(err, WEIR_ETIMEOUT, 0, "savepoint timed out");
            break;
        }
        struct timespec ts = weir_deadline_after_ms(50);
        pthread_cond_timedwait(&c->done_cv, &c->mu, &ts);
    }
    if (!rc) {
        if (c->sp_ok) {
            snprintf(out_path, cap, "%s", c->sp_path);
        } else {
            rc = c->sp_err.code ? c->sp_err.code : WEIR_EIO;
            if (err) *err = c->sp_err;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}
