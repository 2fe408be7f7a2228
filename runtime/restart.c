/*
 * restart.c - failure recovery: Flink's restart strategies around weir_job_start/wait
 * (weir/job.h, issue #3 item 5, DESIGN.md §4).
 *
 * A failed attempt is freed, the strategy decides whether and when to try again, and the next
 * attempt restores from the latest completed checkpoint of <checkpoint_dir>/<job-id> (found with
 * wck_latest), so state and source offsets go back together. Without a completed checkpoint the
 * next attempt restores what the first one restored (the given savepoint), or starts fresh.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "checkpoint/metadata.h"
#include "weir/clock.h"
#include "weir/job.h"
#include "weir/log.h"

static atomic_int g_restarts;

int weir_job_restarts(void) {
    return atomic_load(&g_restarts);
}

typedef struct strategy {
    enum { RS_NONE, RS_FIXED, RS_EXP } kind;
    int64_t attempts;           /* fixed: max restarts */
    int64_t delay_ms;           /* fixed */
    int64_t initial_ms, max_ms; /* exponential */
    double multiplier, jitter;
    int64_t reset_ms;
    int64_t attempts_before_reset; /* exponential: -1 = unlimited */
} strategy;

static weir_err parse_double(const weir_config *c, const char *key, double dflt, double *out,
                             weir_error *err) {
    const char *v = weir_config_get(c, key, NULL);
    if (!v) {
        *out = dflt;
        return WEIR_OK;
    }
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < 0)
        return weir_error_set(err, WEIR_EINVAL, 0, "%s: '%s' is not a non-negative number", key, v);
    *out = d;
    return WEIR_OK;
}

static weir_err read_strategy(const weir_job_options *o, strategy *s, weir_error *err) {
    const weir_config *c = o->config;
    memset(s, 0, sizeof *s);
    const char *t = weir_config_get(c, "restart-strategy.type", NULL);
    if (!t) t = weir_config_get(c, "restart-strategy", NULL);
    if (!t) t = o->checkpoint_dir ? "exponential-delay" : "none";
    if (!strcasecmp(t, "none") || !strcasecmp(t, "off") || !strcasecmp(t, "disable"))
        s->kind = RS_NONE;
    else if (!strcasecmp(t, "fixed-delay") || !strcasecmp(t, "fixeddelay"))
        s->kind = RS_FIXED;
    else if (!strcasecmp(t, "exponential-delay") || !strcasecmp(t, "exponentialdelay"))
        s->kind = RS_EXP;
    else
        return weir_error_set(err, WEIR_EINVAL, 0,
                              "restart-strategy.type: '%s' (none|fixed-delay|exponential-delay)",
                              t);
    if (weir_config_get_int(c, "restart-strategy.fixed-delay.attempts", 1, &s->attempts, err) ||
        weir_config_get_duration_ms(c, "restart-strategy.fixed-delay.delay", 1000, &s->delay_ms,
                                    err) ||
        weir_config_get_duration_ms(c, "restart-strategy.exponential-delay.initial-backoff", 1000,
                                    &s->initial_ms, err) ||
        weir_config_get_duration_ms(c, "restart-strategy.exponential-delay.max-backoff", 60000,
                                    &s->max_ms, err) ||
        weir_config_get_duration_ms(c, "restart-strategy.exponential-delay.reset-backoff-threshold",
                                    3600000, &s->reset_ms, err) ||
        weir_config_get_int(c, "restart-strategy.exponential-delay.attempts-before-reset-backoff",
                            -1, &s->attempts_before_reset, err) ||
        parse_double(c, "restart-strategy.exponential-delay.backoff-multiplier", 2.0,
                     &s->multiplier, err) ||
        parse_double(c, "restart-strategy.exponential-delay.jitter-factor", 0.1, &s->jitter, err))
        return err ? err->code : WEIR_EINVAL;
    return WEIR_OK;
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

weir_err weir_job_run(const weir_graph *g, const weir_job_options *opt, weir_job_started_fn fn,
                      void *ud, weir_job **last, weir_error *err) {
    strategy st;
    if (last) *last = NULL;
    if (read_strategy(opt, &st, err)) return err ? err->code : WEIR_EINVAL;
    weir_job_options o = *opt;
    char restore[1200] = "";
    int64_t backoff = st.initial_ms, exp_attempts = 0;
    unsigned seed = (unsigned)weir_mono_ms();
    for (int attempt = 0;; attempt++) {
        int64_t started = weir_mono_ms();
        weir_job *job = weir_job_start(g, &o, err);
        if (!job) return err && err->code ? err->code : WEIR_EINTERNAL;
        if (fn) fn(ud, job, attempt);
        weir_error e = {0};
        weir_err rc = weir_job_wait(job, &e);
        if (err) *err = e;
        int restart = rc && rc != WEIR_ECANCELLED;
        int64_t delay = 0;
        if (restart) {
            switch (st.kind) {
            case RS_NONE:
                restart = 0;
                break;
            case RS_FIXED:
                restart = attempt < st.attempts;
                delay = st.delay_ms;
                break;
            case RS_EXP:
                if (weir_mono_ms() - started >= st.reset_ms) { /* ran long enough: start over */
                    backoff = st.initial_ms;
                    exp_attempts = 0;
                }
                if (st.attempts_before_reset >= 0 && exp_attempts >= st.attempts_before_reset) {
                    restart = 0;
                    break;
                }
                delay = backoff;
                if (st.jitter > 0) {
                    double j = ((double)rand_r(&seed) / RAND_MAX * 2 - 1) * st.jitter;
                    delay = (int64_t)((double)delay * (1 + j));
                }
                backoff = (int64_t)((double)backoff * st.multiplier);
                if (backoff > st.max_ms) backoff = st.max_ms;
                exp_attempts++;
                break;
            }
        }
        if (!restart) {
            if (last)
                *last = job;
            else
                weir_job_free(job);
            return rc;
        }
        char jid[40];
        snprintf(jid, sizeof jid, "%s", weir_job_id(job));
        weir_job_free(job);
        weir_log(WEIR_LOG_WARN, "restart", "job failed: %s; restarting in %lld ms (attempt %d)",
                 e.msg, (long long)delay, attempt + 1);
        sleep_ms(delay);
        atomic_fetch_add(&g_restarts, 1);
        if (o.checkpoint_dir) {
            char jd[1100];
            snprintf(jd, sizeof jd, "%s/%s", o.checkpoint_dir, jid);
            wck_entry ent;
            if (wck_latest(jd, &ent, NULL) == WEIR_OK) {
                snprintf(restore, sizeof restore, "%s", ent.path);
                o.restore_path = restore;
                weir_log(WEIR_LOG_INFO, "restart", "restoring from checkpoint %lld (%s)",
                         (long long)ent.checkpoint_id, ent.path);
            }
        }
    }
}
