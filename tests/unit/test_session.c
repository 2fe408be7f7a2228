/*
 * test_session.c - the 41 test vectors of spec session-job.md §11 against the pure lifecycle
 * logic of jobs/session (signals, state machines, attribution, facts). Expected values are the
 * spec's. Vectors are built from hand-made signals (the spec's "signal fields not mentioned
 * are blank/null"); snapshots reach the state machines through a ws_cache like in the job.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/session/session.h"

#define TTL WS_ATTRIBUTION_TTL_MS

static ws_config CFG;

static ws_signal trace(const char *type, int64_t ts, const char *addr, const char *uid) {
    ws_signal s;
    ws_signal_init(&s, WS_SIG_STREAM_TRACE);
    s.signal_ts = s.ingest_ts = ts;
    ws_copy(s.trace_type, sizeof s.trace_type, type);
    ws_norm_addr(s.orchestrator_address, sizeof s.orchestrator_address, addr);
    ws_copy(s.source_event_uid, sizeof s.source_event_uid, uid ? uid : "");
    ws_copy(s.stream_id, sizeof s.stream_id, "s");
    ws_copy(s.request_id, sizeof s.request_id, "r");
    ws_copy(s.workflow_session_id, sizeof s.workflow_session_id, "s|r");
    return s;
}

static ws_signal ai(const char *type, const char *msg, int64_t ts, const char *pipeline) {
    ws_signal s = trace("", ts, "", "");
    s.type = WS_SIG_AI_STREAM_EVENT;
    s.trace_type[0] = 0;
    ws_copy(s.ai_event_type, sizeof s.ai_event_type, type);
    ws_copy(s.message, sizeof s.message, msg);
    ws_copy(s.pipeline, sizeof s.pipeline, pipeline);
    ws_copy(s.pipeline_hint, sizeof s.pipeline_hint, pipeline);
    ws_copy(s.model_hint, sizeof s.model_hint, pipeline);
    return s;
}

static ws_signal status(int64_t ts, const char *state, float fps, const char *pipeline,
                        const char *addr) {
    ws_signal s = trace("", ts, addr, "");
    s.type = WS_SIG_STREAM_STATUS;
    s.trace_type[0] = 0;
    ws_copy(s.status_state, sizeof s.status_state, state);
    s.status_output_fps = fps;
    ws_copy(s.pipeline, sizeof s.pipeline, pipeline);
    ws_copy(s.pipeline_hint, sizeof s.pipeline_hint, pipeline);
    ws_copy(s.model_hint, sizeof s.model_hint, pipeline);
    return s;
}

static ws_snapshot snap(int64_t ts, const char *canon, const char *model, const char *gpu,
                        const char *url, const char *local) {
    ws_snapshot r;
    memset(&r, 0, sizeof r);
    r.snapshot_ts = ts;
    ws_norm_addr(r.canonical_address, sizeof r.canonical_address, canon);
    ws_norm_addr(r.local_address, sizeof r.local_address, local);
    ws_copy(r.model_id, sizeof r.model_id, model);
    r.model_null = ws_blank(model);
    ws_copy(r.gpu_id, sizeof r.gpu_id, gpu);
    r.gpu_null = ws_blank(gpu);
    ws_copy(r.orchestrator_url, sizeof r.orchestrator_url, url);
    return r;
}

static void run(ws_session *s, ws_signal *sigs, int n, const ws_cache *c) {
    for (int i = 0; i < n; i++)
        ws_session_process(s, &sigs[i], c, &CFG);
}

static ws_session_derived D(const ws_session *s) {
    ws_session_derived d;
    ws_session_derive(s, &d);
    return d;
}

/* ------------------------------------------------------------------------------ vectors */

static void tv01(void **st) {
    (void)st;
    char o[WS_WSID_CAP];
    ws_workflow_session_id(o, "stream-1", "req-1", "evt-1");
    assert_string_equal(o, "stream-1|req-1");
    ws_workflow_session_id(o, "stream-1", "", "evt-1");
    assert_string_equal(o, "stream-1|_missing_request");
    ws_workflow_session_id(o, "", "req-1", "evt-1");
    assert_string_equal(o, "_missing_stream|req-1");
    ws_workflow_session_id(o, "", "", "evt-1");
    assert_string_equal(o, "_missing_stream|_missing_request|evt-1");
    ws_workflow_session_id(o, "", "", "");
    assert_string_equal(o, "_missing_stream|_missing_request|_missing_event");
    ws_workflow_session_id(o, " s ", " r ", "e");
    assert_string_equal(o, "s|r");
}

static void tv02(void **st) {
    (void)st;
    char o[WS_ADDR_CAP];
    ws_norm_addr(o, sizeof o, NULL);
    assert_string_equal(o, "");
    ws_norm_addr(o, sizeof o, "   ");
    assert_string_equal(o, "");
    ws_norm_addr(o, sizeof o, " 0xAbC123 ");
    assert_string_equal(o, "0xabc123");
    ws_norm_addr(o, sizeof o, ws_fnb(2, "", "0xAbCd"));
    assert_string_equal(o, "0xabcd");
}

static void tv03(void **st) {
    (void)st;
    assert_string_equal(ws_fnb(4, " ", NULL, "x", "y"), "x");
    assert_string_equal(ws_fnb(3, " ", NULL, "\t"), "");
    /* blank_to_null: the state keeps " value " untrimmed, and " " → null */
    ws_session s;
    ws_session_init(&s, "w");
    ws_snapshot r = snap(1, "", " value ", " ", "", "");
    ws_session_apply_snapshot(&s, &r, 1, TTL);
    assert_string_equal(s.model_id, " value ");
    assert_int_equal(s.model_null, 0);
    assert_int_equal(s.gpu_null, 1);
}

static void tv04(void **st) {
    (void)st;
    float c;
    assert_string_equal(ws_attribution_method(1000, 1000, 10000, &c),
                        "exact_orchestrator_time_match");
    assert_true(c == 1.0f);
    assert_string_equal(ws_attribution_method(2000, 1500, 1000, &c), "nearest_prior_snapshot");
    assert_true(c == 0.9f);
    assert_string_equal(ws_attribution_method(2000, 2500, 1000, &c), "nearest_snapshot_within_ttl");
    assert_true(c == 0.7f);
    assert_string_equal(ws_attribution_method(2000, 20000, 1000, &c), "proxy_address_join");
    assert_true(c == 0.4f);
    assert_string_equal(ws_attribution_method(2000, 1000, 1000, &c), "nearest_prior_snapshot");
}

static void tv05(void **st) {
    (void)st;
    ws_signal g[2] = {trace("gateway_receive_stream_request", 1000, "0xhot1", "e1"),
                      trace("gateway_receive_few_processed_segments", 2000, "0xhot2", "e2")};
    ws_session s;
    ws_session_init(&s, "s|r");
    run(&s, g, 2, NULL);
    ws_session_derived d = D(&s);
    assert_int_equal(s.known_stream, 1);
    assert_int_equal(d.startup_success, 1);
    assert_int_equal(d.startup_excused, 0);
    assert_int_equal(d.startup_unexcused, 0);
    assert_int_equal(d.confirmed_swap_count, 0);
    assert_int_equal(d.inferred_orchestrator_change_count, 0);
    assert_int_equal(d.swap_count, 0);
    assert_string_equal(s.source_first_event_uid, "e1");
    assert_string_equal(s.source_last_event_uid, "e2");
    assert_int_equal(s.event_count, 2);
    assert_int_equal(s.version, 2);
    assert_int_equal(s.session_start_ts, 1000);
    assert_int_equal(s.session_end_ts, 2000);
    assert_int_equal(s.first_stream_request_ts, 1000);
    assert_int_equal(s.first_playable_ts, 2000);
    assert_true(s.first_processed_ts == WS_TS_NULL);
    assert_string_equal(s.orchestrator_address, "");
    assert_string_equal(s.attribution_method, "none");
    assert_true(s.attribution_confidence == 0.0f);
    assert_int_equal(d.health_signal_count, 1);
    assert_int_equal(d.health_expected_signal_count, 3);
    weir_buf b = {0};
    ws_fact_session(&b, &s);
    assert_non_null(strstr(b.data, "\"health_completeness_ratio\":0.33333334"));
    assert_non_null(strstr(b.data, "\"first_processed_ts\":null"));
    weir_buf_free(&b);
}

static void tv06(void **st) {
    (void)st;
    ws_signal g[2] = {trace("gateway_receive_stream_request", 1000, "", "e1"),
                      ai("error", "WHIP disconnected unexpectedly", 2000, "")};
    ws_session s;
    ws_session_init(&s, "s|r");
    run(&s, g, 2, NULL);
    ws_session_derived d = D(&s);
    assert_int_equal(s.known_stream, 1);
    assert_int_equal(d.startup_success, 0);
    assert_int_equal(d.startup_excused, 1);
    assert_int_equal(d.startup_unexcused, 0);
    assert_int_equal(s.error_count, 1);
    assert_int_equal(s.excusable_error_count, 1);
}

static void tv07(void **st) {
    (void)st;
    ws_signal g[3] = {trace("gateway_receive_stream_request", 1000, "", "e1"),
                      trace("gateway_receive_few_processed_segments", 1100, "", "e2"),
                      trace("gateway_no_orchestrators_available", 1200, "", "e3")};
    ws_session s;
    ws_session_init(&s, "s|r");
    run(&s, g, 3, NULL);
    ws_session_derived d = D(&s);
    assert_int_equal(d.startup_success, 1);
    assert_int_equal(d.startup_excused, 0);
    assert_int_equal(d.startup_unexcused, 0);
}

static void tv08(void **st) {
    (void)st;
    ws_signal g[2] = {trace("gateway_receive_stream_request", 1000, "", "e1"),
                      ai("error", "CUDA out of memory", 1500, "")};
    ws_session s;
    ws_session_init(&s, "s|r");
    run(&s, g, 2, NULL);
    ws_session_derived d = D(&s);
    assert_int_equal(s.error_count, 1);
    assert_int_equal(s.excusable_error_count, 0);
    assert_int_equal(d.startup_excused, 0);
    assert_int_equal(d.startup_unexcused, 1);
    ws_session_init(&s, "s|r");
    run(&s, g, 1, NULL);
    assert_int_equal(D(&s).startup_unexcused, 1);
    ws_signal h[3] = {g[0], ai("error", "no orchestrators available", 1500, ""),
                      ai("error", "boom", 1600, "")};
    ws_session_init(&s, "s|r");
    run(&s, h, 3, NULL);
    assert_int_equal(s.error_count, 2);
    assert_int_equal(s.excusable_error_count, 1);
    assert_int_equal(D(&s).startup_unexcused, 1);
}

static void tv09(void **st) {
    (void)st;
    ws_signal g = trace("gateway_receive_few_processed_segments", 5, "", "e");
    ws_session s;
    ws_session_init(&s, "s|r");
    run(&s, &g, 1, NULL);
    ws_session_derived d = D(&s);
    assert_int_equal(s.known_stream, 0);
    assert_int_equal(d.startup_success, 1);
    assert_int_equal(d.startup_excused, 0);
    assert_int_equal(d.startup_unexcused, 0);
    assert_int_equal(d.health_expected_signal_count, 0);
    assert_true(d.health_completeness_ratio == 1.0f);
}

static void tv10(void **st) {
    (void)st;
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_snapshot r = snap(10000, "0xcanonical", "streamdiffusion-sdxl", "GPU-1", "", "0xhot");
    ws_cache_upsert(c, &r);
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_copy(s.orchestrator_address, sizeof s.orchestrator_address, "0xhot");
    ws_signal g = ai("other", "", 20000, ""); /* no signal address: lookup via state */
    ws_session_process(&s, &g, c, &CFG);
    assert_string_equal(s.orchestrator_address, "0xcanonical");
    assert_string_equal(s.model_id, "streamdiffusion-sdxl");
    assert_string_equal(s.gpu_id, "GPU-1");
    assert_string_equal(s.attribution_method, "nearest_prior_snapshot");
    assert_true(s.attribution_confidence == 0.9f);
    ws_cache_free(c);
}

static void tv11(void **st) {
    (void)st;
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_snapshot r1 = snap(1000, "0xcanonical", "", "", "", "0xhotA");
    ws_cache_upsert(c, &r1);
    ws_signal g1 = trace("gateway_receive_stream_request", 1000, "0xhotA", "e1");
    ws_session_process(&s, &g1, c, &CFG);
    ws_snapshot r2 = snap(2000, "0xcanonical", "", "", "", "0xhotB");
    ws_cache_upsert(c, &r2);
    ws_signal g2 = trace("gateway_receive_first_processed_segment", 2000, "0xhotB", "e2");
    ws_session_process(&s, &g2, c, &CFG);
    ws_session_derived d = D(&s);
    assert_int_equal(d.confirmed_swap_count, 0);
    assert_int_equal(d.inferred_orchestrator_change_count, 0);
    assert_int_equal(d.swap_count, 0);
    ws_cache_free(c);
}

/* snapshots canonical-a @1000 (hot1) and canonical-b @2000 (hot2); first signal type @p t1 */
static ws_session swap_session(const char *t1) {
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_snapshot r1 = snap(1000, "0xcanonical-a", "", "", "", "0xhot1");
    ws_cache_upsert(c, &r1);
    ws_signal g1 = trace(t1, 1000, "0xhot1", "e1");
    ws_session_process(&s, &g1, c, &CFG);
    ws_snapshot r2 = snap(2000, "0xcanonical-b", "", "", "", "0xhot2");
    ws_cache_upsert(c, &r2);
    ws_signal g2 = trace("gateway_receive_first_processed_segment", 2000, "0xhot2", "e2");
    ws_session_process(&s, &g2, c, &CFG);
    ws_cache_free(c);
    return s;
}

static void tv12(void **st) {
    (void)st;
    ws_session s = swap_session("orchestrator_swap");
    ws_session_derived d = D(&s);
    assert_int_equal(d.confirmed_swap_count, 1);
    assert_int_equal(d.inferred_orchestrator_change_count, 1);
    assert_int_equal(d.swap_count, 1);
}

static void tv13(void **st) {
    (void)st;
    ws_session s = swap_session("gateway_receive_stream_request");
    ws_session_derived d = D(&s);
    assert_int_equal(d.confirmed_swap_count, 0);
    assert_int_equal(d.inferred_orchestrator_change_count, 1);
    assert_int_equal(d.swap_count, 0);
}

#define PROD_CANON "0xd00354656922168815fcd1e51cbddb9e359e3c7f"
#define PROD_GPU "GPU-6f1bacf5-d5be-9cad-aa38-e35f905daebe"
#define LLAMA "meta-llama/Meta-Llama-3.1-8B-Instruct"
#define SDXL "streamdiffusion-sdxl"

static void tv14(void **st) {
    (void)st;
    ws_snapshot b[3] = {snap(1739040506612, PROD_CANON, SDXL, PROD_GPU, "", ""),
                        snap(1739040509903, PROD_CANON, LLAMA, "", "", ""),
                        snap(1739040519000, PROD_CANON, SDXL, PROD_GPU, "", "")};
    /* raw state machine: apply_signal, select with hint = pipeline, apply_snapshot */
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_signal g1 = status(1739041800304, "ONLINE", 1, SDXL, "");
    ws_session_apply_signal(&s, &g1);
    ws_select_ctx x = {SDXL, "", "", g1.signal_ts, TTL};
    int i = ws_select_best(b, 3, &x);
    assert_int_equal(i, 2);
    ws_session_apply_snapshot(&s, &b[i], g1.signal_ts, TTL);
    ws_signal g2 = trace("gateway_receive_first_processed_segment", 1739041803000, "", "e2");
    ws_session_apply_signal(&s, &g2);
    ws_select_ctx y = {s.pipeline, "", s.gpu_id, g2.signal_ts, TTL};
    i = ws_select_best(b, 3, &y);
    assert_int_equal(i, 2);
    ws_session_apply_snapshot(&s, &b[i], g2.signal_ts, TTL);
    assert_string_equal(s.pipeline, SDXL);
    assert_string_equal(s.model_id, SDXL);
    assert_string_equal(s.gpu_id, PROD_GPU);
    assert_string_equal(s.attribution_method, "nearest_prior_snapshot");
}

static void tv15(void **st) {
    (void)st;
    ws_snapshot b[2] = {snap(1000, "0xc", LLAMA, "", "", ""),
                        snap(2000, "0xc", SDXL, "GPU-1", "", "")};
    ws_select_ctx x = {SDXL, "", "", 2500, TTL};
    int i = ws_select_best(b, 2, &x);
    assert_int_equal(i, 1);
    assert_string_equal(b[i].gpu_id, "GPU-1");
}

static void tv16(void **st) {
    (void)st;
    ws_snapshot b[2] = {snap(11000, "0xc", SDXL, "GPU-future", "", ""),
                        snap(9000, "0xc", SDXL, "GPU-prior", "", "")};
    ws_select_ctx x = {SDXL, "", "", 10000, TTL};
    assert_string_equal(b[ws_select_best(b, 2, &x)].gpu_id, "GPU-prior");
}

static void tv17(void **st) {
    (void)st;
    ws_snapshot b[1] = {snap(1000, "0xc", LLAMA, "", "", "")};
    ws_select_ctx x = {SDXL, "", "", 2000, TTL};
    assert_int_equal(ws_select_best(b, 1, &x), -1);
    b[0].snapshot_ts = 1739040509903;
    ws_select_ctx y = {"sdxl", "", "", 1739040510000, TTL};
    assert_int_equal(ws_select_best(b, 1, &y), -1);
    /* the session keeps its previous attribution and still emits */
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_snapshot ok = snap(1000, "0xc", SDXL, "GPU-1", "", "0xhot");
    ws_cache_upsert(c, &ok);
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_signal g1 = status(1000, "ONLINE", 1, SDXL, "0xhot");
    ws_session_process(&s, &g1, c, &CFG);
    assert_string_equal(s.attribution_method, "exact_orchestrator_time_match");
    ws_cache_free(c);
    c = ws_cache_new(TTL, 32);
    ws_snapshot bad = snap(1500, "0xc", LLAMA, "GPU-9", "", "0xhot");
    ws_cache_upsert(c, &bad);
    ws_signal g2 = status(2000, "ONLINE", 1, SDXL, "0xhot");
    ws_session_process(&s, &g2, c, &CFG);
    assert_int_equal(s.event_count, 2);
    assert_string_equal(s.model_id, SDXL);
    assert_string_equal(s.gpu_id, "GPU-1");
    assert_string_equal(s.attribution_method, "exact_orchestrator_time_match");
    ws_cache_free(c);
}

static void tv18(void **st) {
    (void)st;
    ws_snapshot b[2] = {snap(1739040506612, PROD_CANON, SDXL, PROD_GPU, "", ""),
                        snap(1739040509903, PROD_CANON, LLAMA, "", "", "")};
    ws_select_ctx x = {"", "", "", 1739040510000, TTL};
    assert_string_equal(b[ws_select_best(b, 2, &x)].model_id, LLAMA);
    ws_select_ctx y = {SDXL, "", "", 1739040510000, TTL};
    int i = ws_select_best(b, 2, &y);
    assert_string_equal(b[i].model_id, SDXL);
    assert_string_equal(b[i].gpu_id, PROD_GPU);
}

static void tv19(void **st) {
    (void)st;
    ws_snapshot b[2] = {snap(10000, "0xcanonical-a", SDXL, "GPU-A", "", ""),
                        snap(10100, "0xcanonical-b", SDXL, "GPU-B", "", "")};
    ws_select_ctx x = {SDXL, "", "", 10120, TTL};
    assert_int_equal(ws_select_best(b, 2, &x), -1);
}

static void tv20(void **st) {
    (void)st;
    ws_snapshot b[2] = {snap(10000, "0xc", SDXL, "GPU-A", "https://orch-a.example", ""),
                        snap(10000, "0xc", SDXL, "GPU-B", "https://orch-b.example", "")};
    ws_select_ctx x = {SDXL, "https://orch-b.example", "", 10010, TTL};
    assert_string_equal(b[ws_select_best(b, 2, &x)].orchestrator_url, "https://orch-b.example");
    ws_snapshot c[2] = {snap(10000, "0xc", SDXL, "GPU-B", "https://orch.example", ""),
                        snap(10000, "0xc", SDXL, "GPU-A", "https://orch.example", "")};
    ws_select_ctx y = {SDXL, "", "GPU-A", 10020, TTL};
    assert_string_equal(c[ws_select_best(c, 2, &y)].gpu_id, "GPU-A");
}

static void tv21(void **st) {
    (void)st;
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_snapshot a = snap(10000, "0xc", SDXL, "G", "https://a", "0xhot");
    ws_snapshot b = a;
    ws_copy(a.source_event_id, sizeof a.source_event_id, "evt-a");
    ws_copy(b.source_event_id, sizeof b.source_event_id, "evt-b");
    ws_copy(b.orchestrator_url, sizeof b.orchestrator_url, "https://b");
    ws_cache_upsert_key(c, "0xhot", &a, 10000);
    ws_cache_upsert_key(c, "0xhot", &b, 10000);
    ws_cache_upsert_key(c, "0xhot", &b, 10000); /* same key → replace */
    int n;
    ws_cache_bucket(c, "0xhot", &n);
    assert_int_equal(n, 2);
    ws_cache_free(c);
}

static void tv22(void **st) {
    (void)st;
    const int64_t T = TTL;
    ws_cache *c = ws_cache_new(TTL, 3);
    struct {
        const char *m;
        int64_t ts, ref;
    } up[5] = {{"old-model", 0, 5 * T},
               {"model-a", 5 * T - 20, 5 * T},
               {"model-b", 5 * T - 10, 5 * T},
               {"model-c", 5 * T, 5 * T},
               {"model-d", 5 * T + 10, 5 * T + 10}};
    for (int i = 0; i < 5; i++) {
        ws_snapshot r = snap(up[i].ts, "0xc", up[i].m, "", "", "");
        assert_int_equal(ws_cache_upsert_key(c, "k", &r, up[i].ref), WEIR_OK);
    }
    int n;
    const ws_snapshot *b = ws_cache_bucket(c, "k", &n);
    assert_int_equal(n, 3);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        assert_string_not_equal(b[i].model_id, "old-model");
        assert_string_not_equal(b[i].model_id, "model-a");
        seen++;
    }
    assert_int_equal(seen, 3);
    ws_cache_free(c);
}

static void tv23(void **st) {
    (void)st;
    const int64_t S = 10LL * TTL;
    ws_snapshot b[1] = {snap(S - 30LL * 3600 * 1000, "0xX", "m", "g", "", "0xhot")};
    ws_select_ctx x = {"m", "", "", S, TTL};
    assert_int_equal(ws_select_best(b, 1, &x), 0);
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_cache_upsert(c, &b[0]);
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_signal g = status(S, "ONLINE", 1, "m", "0xhot");
    ws_session_process(&s, &g, c, &CFG);
    assert_string_equal(s.attribution_method, "proxy_address_join");
    assert_true(s.attribution_confidence == 0.4f);
    assert_string_equal(s.orchestrator_address, "0xx");
    assert_string_equal(s.model_id, "m");
    assert_string_equal(s.gpu_id, "g");
    ws_cache_free(c);
}

static void tv24(void **st) {
    (void)st;
    ws_signal g = status(1, "", 0, SDXL, "");
    ws_snapshot r = snap(1, "", SDXL, "", "", "");
    ws_copy(r.pipeline, sizeof r.pipeline, "live-video-to-video");
    ws_resolution x = ws_resolve(WS_MODE_LEGACY_MISNAMED, &g, "", "", &r);
    assert_string_equal(x.pipeline, "live-video-to-video");
    assert_string_equal(x.model_id, SDXL);
    assert_string_equal(x.compat_hint, SDXL);
}

static void tv25(void **st) {
    (void)st;
    ws_signal g = status(1, "", 0, "text-to-image", "");
    ws_copy(g.pipeline_hint, sizeof g.pipeline_hint, "");
    ws_copy(g.model_hint, sizeof g.model_hint, "SG161222/RealVisXL_V4.0_Lightning");
    ws_snapshot r = snap(1, "", SDXL, "", "", "");
    ws_copy(r.pipeline, sizeof r.pipeline, "live-video-to-video");
    ws_resolution x = ws_resolve(WS_MODE_NATIVE_CORRECT, &g, "", "", &r);
    assert_string_equal(x.pipeline, "text-to-image");
    assert_string_equal(x.model_id, "SG161222/RealVisXL_V4.0_Lightning");
    assert_string_equal(x.compat_hint, "SG161222/RealVisXL_V4.0_Lightning");
    assert_int_equal(ws_mode_parse(" Native "), WS_MODE_NATIVE_CORRECT);
    assert_int_equal(ws_mode_parse("NATIVE_CORRECT"), WS_MODE_NATIVE_CORRECT);
    assert_int_equal(ws_mode_parse("whatever"), WS_MODE_LEGACY_MISNAMED);
    assert_int_equal(ws_mode_parse(NULL), WS_MODE_LEGACY_MISNAMED);
}

static void tv26(void **st) {
    (void)st;
    ws_signal g = status(1, "ONLINE", 1, "streamdiffusion-sdxl-v2v", "");
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_session_process(&s, &g, NULL, &CFG);
    assert_string_equal(s.pipeline, "");
    assert_string_equal(s.model_id, "streamdiffusion-sdxl-v2v");
    assert_string_equal(ws_canonical_pipeline(SDXL, "STREAMDIFFUSION-SDXL"), "");
    assert_string_equal(ws_canonical_pipeline("live-video-to-video", SDXL), "live-video-to-video");
}

static void tv27(void **st) {
    (void)st;
    ws_session s;
    ws_session_init(&s, "s|r");
    s.first_stream_request_ts = 1000;
    s.first_processed_ts = 1200;
    s.first_playable_ts = 4300;
    s.version = 7;
    s.session_start_ts = 1000;
    weir_buf b = {0};
    ws_fact_latency(&b, &s);
    assert_non_null(strstr(b.data, "\"prompt_to_first_frame_ms\":200.0,\"startup_time_ms\":3100.0,"
                                   "\"e2e_latency_ms\":3300.0,\"has_prompt_to_first_frame\":1,"
                                   "\"has_startup_time\":1,\"has_e2e_latency\":1,"
                                   "\"edge_semantics_version\":\"v1\",\"version\":7"));
    weir_buf_reset(&b);
    s.first_stream_request_ts = 2000;
    s.first_processed_ts = 1000;
    s.first_playable_ts = WS_TS_NULL;
    ws_fact_latency(&b, &s);
    assert_non_null(strstr(b.data, "\"prompt_to_first_frame_ms\":null,\"startup_time_ms\":null,"
                                   "\"e2e_latency_ms\":null,\"has_prompt_to_first_frame\":0,"
                                   "\"has_startup_time\":0,\"has_e2e_latency\":0"));
    weir_buf_free(&b);
}

static void tv28(void **st) {
    (void)st;
    ws_session s;
    ws_session_init(&s, "s|r");
    s.known_stream = 1;
    s.first_processed_ts = 2000;
    s.first_playable_ts = 2500;
    ws_signal g = trace("gateway_receive_few_processed_segments", 2500, "", "u");
    ws_coverage_process(&s, &g);
    weir_buf b = {0};
    ws_fact_coverage(&b, &s, &g);
    assert_non_null(strstr(b.data, "\"known_stream\":1"));
    assert_non_null(strstr(b.data, "\"startup_edge_matched\":1,\"playable_edge_matched\":1"));
    assert_non_null(strstr(b.data, "\"unmatched_reason\":\"\""));
    ws_session_init(&s, "s|r");
    s.known_stream = 1;
    g = trace("gateway_receive_stream_request", 1000, "", "u");
    ws_coverage_process(&s, &g);
    assert_string_equal(ws_unmatched_reason(&s, &g), "awaiting_first_processed_segment_edge");
    weir_buf_reset(&b);
    ws_fact_coverage(&b, &s, &g);
    assert_non_null(strstr(b.data, "\"is_terminal_signal\":0"));
    ws_session_init(&s, "s|r");
    s.known_stream = 1;
    g = trace("gateway_ingest_stream_closed", 3000, "", "u");
    ws_coverage_process(&s, &g);
    weir_buf_reset(&b);
    ws_fact_coverage(&b, &s, &g);
    assert_non_null(strstr(b.data, "\"is_terminal_signal\":1"));
    assert_string_equal(ws_unmatched_reason(&s, &g), "missing_first_processed_segment_edge");
    weir_buf_free(&b);
}

static void tv29(void **st) {
    (void)st;
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_segment g, rows[2];
    ws_segment_init(&g);
    ws_snapshot r1 = snap(1000, "0xofficial1", "", "", "", "0xhot1");
    ws_cache_upsert(c, &r1);
    ws_signal s1 = trace("gateway_receive_stream_request", 1000, "0xhot1", "e1");
    assert_int_equal(ws_segment_process(&g, &s1, c, &CFG, rows), 1);
    assert_int_equal(rows[0].segment_index, 0);
    assert_string_equal(rows[0].orchestrator_address, "0xofficial1");
    assert_true(rows[0].segment_end_ts == WS_TS_NULL);
    assert_int_equal(rows[0].version, 1);
    assert_string_equal(rows[0].reason, "initial");
    ws_snapshot r2 = snap(2000, "0xofficial2", "", "", "", "0xhot2");
    ws_cache_upsert(c, &r2);
    ws_signal s2 = trace("orchestrator_swap", 2000, "0xhot2", "e2");
    assert_int_equal(ws_segment_process(&g, &s2, c, &CFG, rows), 2);
    assert_int_equal(rows[0].segment_index, 0);
    assert_int_equal(rows[0].segment_end_ts, 2000);
    assert_int_equal(rows[0].version, 2);
    assert_string_equal(rows[0].reason, "orchestrator_change");
    assert_int_equal(rows[1].segment_index, 1);
    assert_string_equal(rows[1].orchestrator_address, "0xofficial2");
    assert_int_equal(rows[1].version, 3);
    assert_string_equal(rows[1].reason, "orchestrator_change");
    assert_int_equal(rows[1].segment_start_ts, 2000);
    ws_cache_free(c);
}

static ws_segment open_official1(ws_cache *c) {
    ws_segment g, rows[2];
    ws_segment_init(&g);
    ws_snapshot r1 = snap(1000, "0xofficial1", "", "", "", "0xhot1");
    ws_cache_upsert(c, &r1);
    ws_signal s1 = trace("gateway_receive_stream_request", 1000, "0xhot1", "e1");
    ws_segment_process(&g, &s1, c, &CFG, rows);
    return g;
}

static void tv30(void **st) {
    (void)st;
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_segment g = open_official1(c), rows[2];
    ws_snapshot r = snap(2500, "0xofficial1", "", "", "", "0xhot1");
    ws_cache_upsert(c, &r);
    ws_signal s = trace("gateway_ingest_stream_closed", 2500, "0xhot1", "e9");
    assert_int_equal(ws_segment_process(&g, &s, c, &CFG, rows), 1);
    assert_int_equal(rows[0].segment_end_ts, 2500);
    assert_string_equal(rows[0].reason, "stream_closed");
    assert_string_equal(rows[0].attribution_method, "exact_orchestrator_time_match");
    ws_cache_free(c);
}

static void tv31(void **st) {
    (void)st;
    ws_cache *c = ws_cache_new(TTL, 32);
    ws_segment g = open_official1(c), rows[2];
    ws_snapshot r = snap(1500, "0xofficial1", "", "", "", "0xhot1");
    ws_cache_upsert(c, &r);
    ws_signal s = trace("gateway_receive_first_processed_segment", 1500, "0xhot1", "e2");
    assert_int_equal(ws_segment_process(&g, &s, c, &CFG, rows), 1);
    assert_int_equal(rows[0].segment_index, 0);
    assert_true(rows[0].segment_end_ts == WS_TS_NULL);
    ws_cache_free(c);
}

typedef struct rows_t {
    int n;
    ws_join_row last;
    weir_buf line;
    ws_join_kind kind;
} rows_t;

static int collect(void *ud, const ws_join_row *r) {
    rows_t *t = ud;
    t->n++;
    t->last = *r;
    weir_buf_reset(&t->line);
    ws_fact_join(&t->line, t->kind, r);
    return 0;
}

static ws_segment wf1_segment(int64_t start) {
    ws_segment g;
    ws_segment_init(&g);
    ws_copy(g.workflow_session_id, sizeof g.workflow_session_id, "wf-1");
    g.segment_start_ts = start;
    ws_copy(g.orchestrator_address, sizeof g.orchestrator_address, "0xcanonical");
    ws_copy(g.pipeline, sizeof g.pipeline, "live-video-to-video");
    ws_copy(g.model_id, sizeof g.model_id, "streamdiffusion-sdxl-v2v");
    g.model_null = 0;
    ws_copy(g.gpu_id, sizeof g.gpu_id, "gpu-1");
    g.gpu_null = 0;
    ws_copy(g.region, sizeof g.region, "us-west");
    g.region_null = 0;
    g.version = 1;
    return g;
}

static void tv32(void **st) {
    (void)st;
    rows_t t = {0};
    t.kind = WS_JOIN_STATUS;
    ws_join *j = ws_join_new(WS_JOIN_STATUS, "wf-1", WS_ATTRIBUTION_WAIT_MS);
    ws_signal e = status(2000, "running", 24, "", "");
    e.status_input_fps = 30;
    ws_copy(e.stream_id, sizeof e.stream_id, "stream-1");
    ws_copy(e.request_id, sizeof e.request_id, "req-1");
    ws_copy(e.gateway, sizeof e.gateway, "naap-gateway");
    ws_copy(e.orchestrator_url, sizeof e.orchestrator_url, "https://orch.example");
    ws_join_on_event(j, &e, 0, collect, &t);
    assert_int_equal(t.n, 0);
    ws_segment g = wf1_segment(1900);
    ws_join_on_segment(j, &g, collect, &t);
    assert_int_equal(t.n, 1);
    const char *l = t.line.data;
    assert_non_null(strstr(l, "\"is_attributed\":1"));
    assert_non_null(strstr(l, "\"pipeline\":\"live-video-to-video\""));
    assert_non_null(strstr(l, "\"model_id\":\"streamdiffusion-sdxl-v2v\""));
    assert_non_null(strstr(l, "\"gpu_id\":\"gpu-1\""));
    assert_non_null(strstr(l, "\"orchestrator_address\":\"0xcanonical\""));
    assert_non_null(strstr(l, "\"gpu_attribution_method\":\"segment_window_join\""));
    assert_non_null(strstr(l, "\"gpu_attribution_confidence\":1.0"));
    assert_non_null(strstr(l, "\"workflow_session_id\":\"wf-1\""));
    assert_non_null(strstr(l, "\"region\":\"us-west\""));
    ws_join_free(j);
    weir_buf_free(&t.line);
}

static void tv33(void **st) {
    (void)st;
    rows_t t = {0};
    t.kind = WS_JOIN_TRACE;
    ws_join *j = ws_join_new(WS_JOIN_TRACE, "wf-1", WS_ATTRIBUTION_WAIT_MS);
    ws_signal e = trace("gateway_receive_first_processed_segment", 1000, "", "u1");
    ws_join_on_event(j, &e, 0, collect, &t);
    assert_int_equal(t.n, 0);
    ws_segment g = wf1_segment(900);
    ws_join_on_segment(j, &g, collect, &t);
    assert_int_equal(t.n, 1);
    const char *l = t.line.data;
    assert_non_null(strstr(l, "\"is_attributed\":1"));
    assert_non_null(strstr(l, "\"pipeline\":\"live-video-to-video\""));
    assert_non_null(strstr(l, "\"model_id\":\"streamdiffusion-sdxl-v2v\""));
    assert_non_null(strstr(l, "\"orchestrator_address\":\"0xcanonical\""));
    assert_non_null(strstr(l, "\"trace_category\":\"gateway\",\"is_swap_event\":0"));
    ws_join_free(j);
    /* no segment within 15 s → unattributed row from the timer */
    j = ws_join_new(WS_JOIN_TRACE, "wf-1", WS_ATTRIBUTION_WAIT_MS);
    t.n = 0;
    ws_join_on_event(j, &e, 100, collect, &t);
    assert_int_equal(ws_join_next_deadline(j), 15100);
    ws_join_on_timer(j, 15099, collect, &t);
    assert_int_equal(t.n, 0);
    ws_join_on_timer(j, 15100, collect, &t);
    assert_int_equal(t.n, 1);
    l = t.line.data;
    assert_non_null(strstr(l, "\"orchestrator_address\":\"\""));
    assert_non_null(strstr(l, "\"pipeline\":\"\",\"model_id\":null"));
    assert_non_null(strstr(l, "\"is_attributed\":0"));
    ws_join_free(j);
    weir_buf_free(&t.line);
}

static ws_signal from_json(const char *js) {
    weir_json_parser *p = weir_json_parser_new();
    weir_json root;
    assert_int_equal(weir_json_parse(p, js, strlen(js), &root, NULL), WEIR_OK);
    ws_signal s;
    assert_int_equal(ws_signal_from_event(&s, root, js, strlen(js), wj_null(), 0), WS_SIG_OK);
    weir_json_parser_free(p);
    return s;
}

static void tv34(void **st) {
    (void)st;
    ws_signal s =
        from_json("{\"id\":\"evt-trace-1\",\"type\":\"stream_trace\",\"timestamp\":1739000000000,"
                  "\"gateway\":\"gateway-a\",\"data\":{\"stream_id\":\"stream-1\","
                  "\"request_id\":\"req-1\",\"timestamp\":1739000000200,"
                  "\"type\":\"gateway_receive_stream_request\"}}");
    assert_string_equal(s.gateway, "gateway-a");
    assert_string_equal(s.workflow_session_id, "stream-1|req-1");
    assert_int_equal(s.signal_ts, 1739000000200);
    assert_string_equal(s.source_event_uid, "evt-trace-1");
    s = from_json(
        "{\"id\":\"evt-ai-1\",\"type\":\"ai_stream_events\",\"timestamp\":\"1739000000000\","
        "\"gateway\":\"gateway-b\",\"data\":{\"stream_id\":\"stream-2\",\"request_id\":"
        "\"req-2\",\"type\":\"error\",\"message\":\"no orchestrators available within 2s "
        "timeout\"}}");
    assert_string_equal(s.gateway, "gateway-b");
    assert_string_equal(s.workflow_session_id, "stream-2|req-2");
    assert_int_equal(s.type, WS_SIG_AI_STREAM_EVENT);
    assert_string_equal(s.orchestrator_address, "");
}

static ws_signal with_ids(ws_signal s, const char *stream, const char *req, const char *gw) {
    ws_copy(s.stream_id, sizeof s.stream_id, stream);
    ws_copy(s.request_id, sizeof s.request_id, req);
    ws_workflow_session_id(s.workflow_session_id, stream, req, "");
    ws_copy(s.gateway, sizeof s.gateway, gw);
    return s;
}

static void tv35(void **st) {
    (void)st;
    const char *S = "aiJobTesterStream-1772052113991767774", *R = "0815334c",
               *GW = "cloud-spe-ai-live-video-tester-fra";
    ws_signal g[5] = {trace("gateway_receive_stream_request", 1772052118525, "",
                            "aa923f57-3bd7-41f7-989f-9bebe5bd49bb"),
                      ai("error", "no orchestrators available", 1772052118530, SDXL),
                      trace("gateway_no_orchestrators_available", 1772052118530, "", "u3"),
                      trace("gateway_ingest_stream_closed", 1772052118628, "", "u4"),
                      ai("error", "mediamtx ingest disconnected", 1772052118628, SDXL)};
    ws_copy(g[1].source_event_uid, sizeof g[1].source_event_uid, "u2");
    ws_copy(g[4].source_event_uid, sizeof g[4].source_event_uid,
            "3bc042c5-85b8-4df2-b78a-37da45fb5b3b");
    ws_session s, cov;
    ws_segment seg, rows[2];
    ws_session_init(&s, "");
    ws_session_init(&cov, "");
    ws_segment_init(&seg);
    const char *reasons[5];
    rows_t t = {0};
    t.kind = WS_JOIN_TRACE;
    ws_join *j = ws_join_new(WS_JOIN_TRACE, "x", WS_ATTRIBUTION_WAIT_MS);
    for (int i = 0; i < 5; i++) {
        g[i] = with_ids(g[i], S, R, GW);
        ws_session_process(&s, &g[i], NULL, &CFG);
        ws_coverage_process(&cov, &g[i]);
        reasons[i] = ws_unmatched_reason(&cov, &g[i]);
        int n = ws_segment_process(&seg, &g[i], NULL, &CFG, rows);
        for (int k = 0; k < n; k++)
            ws_join_on_segment(j, &rows[k], collect, &t);
        if (g[i].type == WS_SIG_STREAM_TRACE) ws_join_on_event(j, &g[i], i, collect, &t);
    }
    ws_join_on_timer(j, 1000000, collect, &t);
    ws_session_derived d = D(&s);
    assert_string_equal(s.workflow_session_id, "aiJobTesterStream-1772052113991767774|0815334c");
    assert_int_equal(s.known_stream, 1);
    assert_int_equal(d.startup_success, 0);
    assert_int_equal(d.startup_excused, 1);
    assert_int_equal(d.startup_unexcused, 0);
    assert_int_equal(s.error_count, 2);
    assert_int_equal(s.excusable_error_count, 2);
    assert_int_equal(s.session_start_ts, 1772052118525);
    assert_int_equal(s.session_end_ts, 1772052118628);
    assert_int_equal(s.event_count, 5);
    assert_int_equal(s.version, 5);
    assert_string_equal(s.pipeline, "");
    assert_string_equal(s.model_id, SDXL);
    assert_string_equal(s.workflow_id, "ai_live_video_stream");
    assert_string_equal(s.orchestrator_address, "");
    assert_string_equal(s.attribution_method, "none");
    assert_true(d.health_completeness_ratio == 0.0f);
    assert_string_equal(s.source_first_event_uid, "aa923f57-3bd7-41f7-989f-9bebe5bd49bb");
    assert_string_equal(s.source_last_event_uid, "3bc042c5-85b8-4df2-b78a-37da45fb5b3b");
    assert_int_equal(seg.segment_index, 0);
    assert_int_equal(seg.segment_start_ts, 1772052118525);
    assert_int_equal(seg.segment_end_ts, 1772052118628);
    assert_string_equal(seg.reason, "stream_closed");
    assert_int_equal(seg.version, 5);
    assert_string_equal(seg.model_id, SDXL);
    const char *want[5] = {
        "awaiting_first_processed_segment_edge", "awaiting_first_processed_segment_edge",
        "awaiting_first_processed_segment_edge", "missing_first_processed_segment_edge",
        "awaiting_first_processed_segment_edge"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(reasons[i], want[i]);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.last.attributed, 0);
    ws_join_free(j);
    weir_buf_free(&t.line);
}

static void tv36(void **st) {
    (void)st;
    ws_signal g[4] = {
        trace("gateway_receive_stream_request", 1772051401006, "", "u1"),
        ai("error", "no orchestrators available within 2s timeout", 1772051403148,
           "streamdiffusion-sdxl-v2v"),
        trace("gateway_ingest_stream_closed", 1772051403154, "", "u3"),
        ai("error", "mediamtx ingest disconnected", 1772051403154, "streamdiffusion-sdxl-v2v")};
    ws_session s;
    ws_session_init(&s, "s|r");
    run(&s, g, 4, NULL);
    ws_session_derived d = D(&s);
    assert_int_equal(s.known_stream, 1);
    assert_int_equal(s.no_orchestrators_available, 0);
    assert_int_equal(s.error_count, 2);
    assert_int_equal(s.excusable_error_count, 2);
    assert_int_equal(d.startup_excused, 1);
    assert_int_equal(d.startup_unexcused, 0);
    assert_int_equal(s.session_start_ts, 1772051401006);
    assert_int_equal(s.session_end_ts, 1772051403154);
    assert_string_equal(s.model_id, "streamdiffusion-sdxl-v2v");
}

static void tv37(void **st) {
    (void)st;
    const char *A = "0xd66e5c00725e0d87d57172191ebd5e865fd71cff",
               *U = "https://ai3.pon-eth.com:9191", *M = "streamdiffusion-sdxl-v2v";
    ws_signal g[12];
    g[0] = trace("gateway_receive_stream_request", 1772051282242, "", "u0");
    g[1] = trace("runner_send_first_processed_segment", 1772051292039, A, "u1");
    ws_copy(g[1].orchestrator_url, sizeof g[1].orchestrator_url, U);
    g[2] = trace("gateway_send_first_ingest_segment", 1772051292124, A, "u2");
    g[3] = trace("gateway_receive_first_processed_segment", 1772051293224, A, "u3");
    g[4] = status(1772051293843, "DEGRADED_INPUT", 0, M, A);
    g[4].has_start_time = 1;
    g[4].start_time_ms = 1772051283788;
    g[5] = trace("runner_receive_first_ingest_segment", 1772051294206, A, "u5");
    g[6] = trace("gateway_receive_few_processed_segments", 1772051295806, A, "u6");
    g[7] = status(1772051303843, "ONLINE", 29.78f, M, A);
    g[8] = status(1772051313843, "ONLINE", 18.48f, M, A);
    g[9] = status(1772051323843, "ONLINE", 17.77f, M, A);
    g[10] = ai("error", "mediamtx ingest disconnected", 1772051326719, M);
    g[11] = trace("gateway_ingest_stream_closed", 1772051326719, "", "u11");
    ws_session s;
    ws_session_init(&s, "s|r");
    run(&s, g, 12, NULL);
    ws_session_derived d = D(&s);
    assert_int_equal(s.known_stream, 1);
    assert_int_equal(d.startup_success, 1);
    assert_int_equal(d.startup_excused, 0);
    assert_int_equal(d.startup_unexcused, 0);
    assert_int_equal(s.error_count, 1);
    assert_int_equal(s.excusable_error_count, 1);
    assert_int_equal(s.session_start_ts, 1772051282242);
    assert_int_equal(s.session_end_ts, 1772051326719);
    assert_int_equal(s.first_processed_ts, 1772051293224);
    assert_int_equal(s.first_playable_ts, 1772051295806);
    assert_int_equal(s.status_sample_count, 4);
    assert_int_equal(d.loading_only_session, 0);
    assert_int_equal(d.zero_output_fps_session, 0);
    assert_int_equal(s.last_error_occurred, 0);
    assert_true(d.health_completeness_ratio == 1.0f);
    assert_int_equal(s.event_count, 12);
    assert_string_equal(s.orchestrator_url, U);
    assert_string_equal(s.orchestrator_address, "");
    assert_string_equal(s.model_id, M);
    assert_string_equal(s.pipeline, "");
    weir_buf b = {0};
    ws_fact_latency(&b, &s);
    assert_non_null(strstr(b.data,
                           "\"prompt_to_first_frame_ms\":10982.0,\"startup_time_ms\":2582.0,"
                           "\"e2e_latency_ms\":13564.0"));
    weir_buf_free(&b);
}

static int add_row(void *ud, const ws_snapshot *r) {
    return ws_cache_upsert(ud, r) == WEIR_OK ? 0 : 1;
}

static void tv38(void **st) {
    (void)st;
    const char *js =
        "{\"id\":\"cap-1\",\"type\":\"network_capabilities\",\"timestamp\":1000000,"
        "\"data\":[{\"address\":\"0xCANON\",\"local_address\":\"0xHOT\",\"orch_uri\":"
        "\"https://o.example\",\"hardware\":[{\"pipeline\":\"live-video-to-video\","
        "\"model_id\":\"streamdiffusion-sdxl-v2v\",\"gpu_info\":{\"0\":{\"id\":\"GPU-X\"}}}]}]}";
    weir_json_parser *p = weir_json_parser_new();
    weir_json root;
    assert_int_equal(weir_json_parse(p, js, strlen(js), &root, NULL), WEIR_OK);
    ws_cache *c = ws_cache_new(TTL, 32);
    assert_int_equal(ws_cap_rows_from_event(root, 1000000, add_row, c), 1);
    weir_json_parser_free(p);
    assert_int_equal(ws_cache_keys(c), 2);
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_signal g1 = trace("gateway_receive_stream_request", 1000500, "", "u1");
    ws_session_process(&s, &g1, c, &CFG);
    assert_string_equal(s.workflow_id, "ai_live_video_stream");
    assert_string_equal(s.attribution_method, "none");
    ws_signal g2 = status(1001000, "ONLINE", 1, "streamdiffusion-sdxl-v2v", "0xhot");
    ws_session_process(&s, &g2, c, &CFG);
    assert_string_equal(s.pipeline, "live-video-to-video");
    assert_string_equal(s.model_id, "streamdiffusion-sdxl-v2v");
    assert_string_equal(s.gpu_id, "GPU-X");
    assert_string_equal(s.orchestrator_address, "0xcanon");
    assert_string_equal(s.attribution_method, "nearest_prior_snapshot");
    assert_true(s.attribution_confidence == 0.9f);
    assert_string_equal(s.orchestrator_url, "https://o.example");
    ws_signal g3 = ai("other", "", 1002000, "");
    ws_session_process(&s, &g3, c, &CFG);
    assert_string_equal(s.attribution_method, "nearest_prior_snapshot");
    assert_int_equal(D(&s).inferred_orchestrator_change_count, 0);
    ws_cache_free(c);
}

static void tv39(void **st) {
    (void)st;
    ws_signal g[3] = {trace("gateway_receive_stream_request", 1, "", "u"),
                      status(2, "LOADING", 0, "", ""), status(3, "loading", 0, "", "")};
    for (int i = 1; i < 3; i++) {
        ws_copy(g[i].status_last_error, sizeof g[i].status_last_error, "x");
        g[i].status_last_error_null = 0;
    }
    ws_session s;
    ws_session_init(&s, "s|r");
    run(&s, g, 3, NULL);
    ws_session_derived d = D(&s);
    assert_int_equal(d.loading_only_session, 1);
    assert_int_equal(d.zero_output_fps_session, 1);
    assert_int_equal(s.last_error_occurred, 1);
    assert_int_equal(s.status_sample_count, 2);
    assert_int_equal(s.status_error_sample_count, 2);
    assert_int_equal(d.health_signal_count, 1);
    weir_buf b = {0};
    ws_fact_session(&b, &s);
    assert_non_null(strstr(b.data, "\"health_completeness_ratio\":0.33333334"));
    weir_buf_free(&b);
}

static void tv40(void **st) {
    (void)st;
    ws_params p;
    ws_param_row row;
    ws_params_init(&p);
    ws_signal a = status(10, "ONLINE", 1, "", "");
    assert_int_equal(ws_params_process(&p, &a, NULL, &CFG, &row), 0);
    ws_signal b = ai("PARAMS_UPDATE", "prompt changed", 20, "");
    assert_int_equal(ws_params_process(&p, &b, NULL, &CFG, &row), 1);
    weir_buf o = {0};
    ws_fact_param_update(&o, &row);
    assert_non_null(strstr(o.data, "\"update_ts\":\"1970-01-01 00:00:00.020\""));
    assert_non_null(
        strstr(o.data, "\"update_type\":\"params_update\",\"message\":\"prompt changed\""));
    assert_non_null(strstr(o.data, "\"version\":2}"));
    ws_signal c = ai("error", "x", 30, "");
    assert_int_equal(ws_params_process(&p, &c, NULL, &CFG, &row), 0);
    weir_buf_free(&o);
}

static void tv41(void **st) {
    (void)st;
    ws_session s;
    ws_session_init(&s, "s|r");
    ws_signal g = status(1, "ONLINE", 1, "a", "");
    ws_session_apply_signal(&s, &g);
    ws_snapshot r = snap(1, "", "b", "", "", "");
    ws_session_apply_snapshot(&s, &r, 1, TTL);
    assert_string_equal(s.model_id, "b");
    assert_int_equal(D(&s).has_model_change, 1);
    ws_session_init(&s, "s|r");
    g = status(1, "ONLINE", 1, "a", "");
    ws_session_apply_signal(&s, &g);
    r = snap(1, "", "A", "", "", "");
    ws_session_apply_snapshot(&s, &r, 1, TTL);
    assert_int_equal(D(&s).has_model_change, 1);
}

/* ---------------------------------------------------------------- extras (not §11 vectors) */

static void state_roundtrip(void **st) {
    (void)st;
    ws_session s, t;
    ws_signal g[2] = {trace("gateway_receive_stream_request", 1000, "0xhot1", "e1"),
                      ai("error", "boom", 2000, SDXL)};
    ws_session_init(&s, "s|r");
    run(&s, g, 2, NULL);
    weir_buf b = {0};
    ws_session_encode(&b, &s);
    assert_int_equal(ws_session_decode(b.data, b.len, &t), WEIR_OK);
    weir_buf x = {0}, y = {0};
    ws_fact_session(&x, &s);
    ws_fact_session(&y, &t);
    assert_string_equal(x.data, y.data);
    assert_int_equal(ws_session_decode(b.data, b.len - 1, &t), WEIR_EPARSE);
    weir_buf_reset(&b);
    ws_segment sg, sg2, rows[2];
    ws_segment_init(&sg);
    ws_segment_process(&sg, &g[0], NULL, &CFG, rows);
    ws_segment_encode(&b, &sg);
    assert_int_equal(ws_segment_decode(b.data, b.len, &sg2), WEIR_OK);
    assert_string_equal(sg2.reason, "initial");
    assert_int_equal(ws_params_decode(b.data, b.len, NULL), WEIR_EPARSE);
    weir_buf_free(&b);
    weir_buf_free(&x);
    weir_buf_free(&y);
}

static void retention(void **st) {
    (void)st;
    ws_config c;
    ws_config_defaults(&c);
    ws_session s;
    ws_session_init(&s, "s|r");
    assert_true(ws_session_expiry(&s, &c) == INT64_MAX);
    ws_signal g = trace("gateway_receive_stream_request", 1000, "", "e");
    ws_session_process(&s, &g, NULL, &c);
    assert_int_equal(ws_session_expiry(&s, &c), 1000 + c.idle_retention_ms);
    g = trace("gateway_ingest_stream_closed", 2000, "", "e2");
    ws_session_process(&s, &g, NULL, &c);
    assert_int_equal(ws_session_expiry(&s, &c), 2000 + c.closed_retention_ms);
    c.idle_retention_ms = 0;
    c.closed_retention_ms = 0;
    assert_true(ws_session_expiry(&s, &c) == INT64_MAX);
}

static const char *fake_env(const char *n) {
    if (!strcmp(n, "LIFECYCLE_PIPELINE_MODEL_MODE")) return " Native_Correct ";
    if (!strcmp(n, "LIFECYCLE_STATE_IDLE_RETENTION_MS")) return "junk";
    if (!strcmp(n, "LIFECYCLE_STATE_CLOSED_RETENTION_MS")) return "5000";
    return NULL;
}

static void config_env(void **st) {
    (void)st;
    ws_config c;
    ws_config_defaults(&c);
    assert_int_equal(c.mode, WS_MODE_LEGACY_MISNAMED);
    assert_int_equal(ws_config_from_env(&c, fake_env), WEIR_EINVAL);
    assert_int_equal(c.mode, WS_MODE_NATIVE_CORRECT);
    assert_int_equal(c.idle_retention_ms, 6LL * 3600 * 1000);
    assert_int_equal(c.closed_retention_ms, 5000);
}

int main(void) {
    ws_config_defaults(&CFG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tv01),      cmocka_unit_test(tv02),
        cmocka_unit_test(tv03),      cmocka_unit_test(tv04),
        cmocka_unit_test(tv05),      cmocka_unit_test(tv06),
        cmocka_unit_test(tv07),      cmocka_unit_test(tv08),
        cmocka_unit_test(tv09),      cmocka_unit_test(tv10),
        cmocka_unit_test(tv11),      cmocka_unit_test(tv12),
        cmocka_unit_test(tv13),      cmocka_unit_test(tv14),
        cmocka_unit_test(tv15),      cmocka_unit_test(tv16),
        cmocka_unit_test(tv17),      cmocka_unit_test(tv18),
        cmocka_unit_test(tv19),      cmocka_unit_test(tv20),
        cmocka_unit_test(tv21),      cmocka_unit_test(tv22),
        cmocka_unit_test(tv23),      cmocka_unit_test(tv24),
        cmocka_unit_test(tv25),      cmocka_unit_test(tv26),
        cmocka_unit_test(tv27),      cmocka_unit_test(tv28),
        cmocka_unit_test(tv29),      cmocka_unit_test(tv30),
        cmocka_unit_test(tv31),      cmocka_unit_test(tv32),
        cmocka_unit_test(tv33),      cmocka_unit_test(tv34),
        cmocka_unit_test(tv35),      cmocka_unit_test(tv36),
        cmocka_unit_test(tv37),      cmocka_unit_test(tv38),
        cmocka_unit_test(tv39),      cmocka_unit_test(tv40),
        cmocka_unit_test(tv41),      cmocka_unit_test(state_roundtrip),
        cmocka_unit_test(retention), cmocka_unit_test(config_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
