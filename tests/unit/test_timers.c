/*
 * test_timers.c - per-key timers (weir/timer.h), periodic watermark emission
 * (on_periodic_emit) and the input index of a two-input keyed operator (issue #4 item 1).
 *
 * Job: a scripted source (records "key@ts" with event time ts, then it idles for idle_ms before
 * ending) → chained watermark generator (watermark = max ts seen, emitted ONLY from
 * on_periodic_emit, as a periodic generator does) → hash → keyed operator that registers
 * timers → collected results. Callbacks run on task threads: they record, the test asserts.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "weir/weir.h"

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ script source */

typedef struct script {
    const char *const *recs; /* "key@ts" */
    int n;
    int64_t idle_ms; /* idle time after the records, before END */
} script;

typedef struct src_local {
    int next;
    int64_t idle_since;
} src_local;

static weir_err src_open(weir_ctx *ctx) {
    weir_ctx_set_local(ctx, calloc(1, sizeof(src_local)));
    return WEIR_OK;
}

static weir_err src_poll(weir_ctx *ctx, size_t max, weir_poll_status *st) {
    const script *sc = weir_ctx_udata(ctx);
    src_local *l = weir_ctx_local(ctx);
    (void)max;
    if (l->next < sc->n) {
        const char *r = sc->recs[l->next++];
        const char *at = strchr(r, '@');
        weir_record rec = {.key = (const uint8_t *)r,
                           .key_len = (uint32_t)(at - r),
                           .value = (const uint8_t *)r,
                           .value_len = (uint32_t)strlen(r),
                           .timestamp_ms = atoll(at + 1),
                           .key_group = -1};
        *st = WEIR_POLL_MORE;
        return weir_emit(ctx, &rec);
    }
    if (!l->idle_since) l->idle_since = mono_ms();
    if (mono_ms() - l->idle_since < sc->idle_ms) {
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
        *st = WEIR_POLL_IDLE;
        return WEIR_OK;
    }
    *st = WEIR_POLL_END;
    return WEIR_OK;
}

static void free_local(weir_ctx *ctx) {
    free(weir_ctx_local(ctx));
    weir_ctx_set_local(ctx, NULL);
}

static const weir_operator_def src_def = {
    .kind = "script", .open = src_open, .poll = src_poll, .close = free_local};

/* ------------------------------------------------------------------ periodic watermarks */

typedef struct wm_local {
    int64_t max_ts, emitted;
} wm_local;

static weir_err wm_open(weir_ctx *ctx) {
    wm_local *l = calloc(1, sizeof *l);
    l->max_ts = l->emitted = INT64_MIN;
    weir_ctx_set_local(ctx, l);
    return WEIR_OK;
}

static weir_err wm_process(weir_ctx *ctx, const weir_record *r) {
    wm_local *l = weir_ctx_local(ctx);
    if (r->timestamp_ms > l->max_ts) l->max_ts = r->timestamp_ms;
    return weir_emit(ctx, r);
}

static weir_err wm_periodic(weir_ctx *ctx, int64_t now) {
    (void)now;
    wm_local *l = weir_ctx_local(ctx);
    if (l->max_ts == INT64_MIN || l->max_ts <= l->emitted) return WEIR_OK;
    l->emitted = l->max_ts;
    return weir_emit_watermark(ctx, l->max_ts);
}

static const weir_operator_def wm_def = {.kind = "periodic-wm",
                                         .open = wm_open,
                                         .process = wm_process,
                                         .on_periodic_emit = wm_periodic,
                                         .close = free_local};

/* ------------------------------------------------------------------ keyed timer operator */

#define MAXFIRED 64
typedef struct fired {
    char key[16];
    int64_t ts;
    weir_time_domain d;
    int64_t at_mono_ms;
} fired;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static fired g_fired[MAXFIRED];
static int g_nfired;
static int64_t g_last_record_mono, g_end_mono;
static int g_inputs[2];

static weir_err tk_process(weir_ctx *ctx, const weir_record *r) {
    pthread_mutex_lock(&g_mu);
    g_last_record_mono = mono_ms();
    g_inputs[weir_ctx_input(ctx) & 1]++;
    pthread_mutex_unlock(&g_mu);
    if (weir_ctx_input(ctx) == 1) /* broadcast side: no current key, so no timers */
        return weir_timer_register(ctx, WEIR_TIME_EVENT, 5) == WEIR_EINVAL ? WEIR_OK
                                                                           : WEIR_EINTERNAL;
    /* event-time timer 10 ms after the record, registered twice (deduplicated); records whose
     * key starts with 'd' delete theirs again; 'p' keys also get a processing-time timer */
    weir_err rc = weir_timer_register(ctx, WEIR_TIME_EVENT, r->timestamp_ms + 10);
    if (!rc) rc = weir_timer_register(ctx, WEIR_TIME_EVENT, r->timestamp_ms + 10);
    if (!rc && r->key[0] == 'd') rc = weir_timer_delete(ctx, WEIR_TIME_EVENT, r->timestamp_ms + 10);
    if (!rc && r->key[0] == 'p')
        rc = weir_timer_register(ctx, WEIR_TIME_PROCESSING, weir_ctx_now_ms(ctx) + 30);
    return rc;
}

static weir_err tk_timer(weir_ctx *ctx, weir_time_domain d, int64_t ts, const void *key,
                         size_t len) {
    (void)ctx;
    pthread_mutex_lock(&g_mu);
    if (g_nfired < MAXFIRED) {
        fired *f = &g_fired[g_nfired++];
        snprintf(f->key, sizeof f->key, "%.*s", (int)len, (const char *)key);
        f->ts = ts;
        f->d = d;
        f->at_mono_ms = mono_ms();
    }
    pthread_mutex_unlock(&g_mu);
    return WEIR_OK;
}

static weir_err tk_end(weir_ctx *ctx) {
    (void)ctx;
    pthread_mutex_lock(&g_mu);
    g_end_mono = mono_ms();
    pthread_mutex_unlock(&g_mu);
    return WEIR_OK;
}

static const weir_operator_def tk_def = {
    .kind = "timers", .process = tk_process, .on_timer = tk_timer, .end_input = tk_end};

static weir_err run(const script *sc, int with_second_input) {
    g_nfired = 0;
    g_end_mono = g_last_record_mono = 0;
    g_inputs[0] = g_inputs[1] = 0;
    weir_graph *g = weir_graph_new("timers");
    int s = weir_graph_add(g, "src", "src", &src_def, (void *)sc, 1, NULL);
    int w = weir_graph_add(g, "wm", "wm", &wm_def, NULL, 1, NULL);
    int t = weir_graph_add(g, "timers", "timers", &tk_def, NULL, 2, NULL);
    weir_graph_connect(g, s, NULL, w, WEIR_PART_FORWARD, NULL);
    weir_graph_connect(g, w, NULL, t, WEIR_PART_HASH, NULL);
    static const char *const second[] = {"zz@1"};
    static const script sc2 = {second, 1, 0};
    if (with_second_input) {
        int s2 = weir_graph_add(g, "src2", "src2", &src_def, (void *)&sc2, 1, NULL);
        weir_graph_connect(g, s2, NULL, t, WEIR_PART_BROADCAST, NULL);
    }
    weir_config *cfg = weir_config_new();
    weir_config_set(cfg, "pipeline.auto-watermark-interval", "20ms");
    weir_job_options o;
    memset(&o, 0, sizeof o);
    o.config = cfg;
    weir_error err = {0};
    weir_job *j = weir_job_start(g, &o, &err);
    weir_err rc = j ? weir_job_wait(j, &err) : err.code;
    weir_job_free(j);
    weir_config_free(cfg);
    weir_graph_free(g);
    return rc;
}

static int find(const char *key, weir_time_domain d) {
    for (int i = 0; i < g_nfired; i++)
        if (!strcmp(g_fired[i].key, key) && g_fired[i].d == d) return i;
    return -1;
}

/* Event-time timers fire once per (key, ts), not when deleted, and - through the periodic
 * watermark - while the source is idle, long before the end of input. */
static void test_event_time_timers_fire_on_periodic_watermark(void **st) {
    (void)st;
    static const char *const recs[] = {"a@100", "b@105", "dx@107", "c@200"};
    const script sc = {recs, 4, 600};
    assert_int_equal(run(&sc, 0), WEIR_OK);
    int a = find("a", WEIR_TIME_EVENT), b = find("b", WEIR_TIME_EVENT),
        c = find("c", WEIR_TIME_EVENT);
    assert_true(a >= 0 && b >= 0 && c >= 0);
    assert_int_equal(find("dx", WEIR_TIME_EVENT), -1); /* deleted */
    assert_int_equal(g_nfired, 3);                     /* registered twice, fired once */
    assert_int_equal(g_fired[a].ts, 110);
    assert_int_equal(g_fired[b].ts, 115);
    assert_int_equal(g_fired[c].ts, 210);
    /* a and b (<= 200 - 10) fired from the periodic watermark 200 during the idle time */
    assert_true(g_fired[a].at_mono_ms < g_end_mono - 300);
    assert_true(g_fired[b].at_mono_ms < g_end_mono - 300);
    assert_true(g_fired[a].at_mono_ms >= g_last_record_mono);
}

/* A processing-time timer fires on the job clock while no input arrives. */
static void test_processing_time_timer(void **st) {
    (void)st;
    static const char *const recs[] = {"p1@1"};
    const script sc = {recs, 1, 500};
    assert_int_equal(run(&sc, 0), WEIR_OK);
    int p = find("p1", WEIR_TIME_PROCESSING);
    assert_true(p >= 0);
    assert_true(g_fired[p].at_mono_ms - g_last_record_mono >= 25);
    assert_true(g_fired[p].at_mono_ms < g_end_mono);
}

/* weir_ctx_input tells the hash input (0) from the broadcast input (1). */
static void test_input_index(void **st) {
    (void)st;
    static const char *const recs[] = {"a@1", "b@2", "c@3"};
    const script sc = {recs, 3, 0};
    assert_int_equal(run(&sc, 1), WEIR_OK);
    assert_int_equal(g_inputs[0], 3); /* hash: each record once */
    assert_int_equal(g_inputs[1], 2); /* broadcast: the one record to both subtasks */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_time_timers_fire_on_periodic_watermark),
        cmocka_unit_test(test_processing_time_timer),
        cmocka_unit_test(test_input_index),
    };
    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
