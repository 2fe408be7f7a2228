/*
 * test_metrics.c - named job-wide counters (weir/metrics.h).
 *
 * Contract: the same name gives the same counter (job-wide total), counters start at 0,
 * increments are thread-safe and lose nothing, foreach visits in registration order.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "weir/metrics.h"

static void test_counter_by_name(void **st) {
    (void)st;
    weir_metrics *m = weir_metrics_new();
    assert_non_null(m);
    weir_counter *a = weir_metrics_counter(m, "quality_gate.input");
    weir_counter *b = weir_metrics_counter(m, "quality_gate.input");
    weir_counter *c = weir_metrics_counter(m, "rows.ai_stream_status");
    assert_non_null(a);
    assert_non_null(c);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_true(weir_counter_get(a) == 0);
    weir_counter_add(a, 5);
    weir_counter_add(b, 7);
    weir_counter_add(c, 1);
    weir_counter_add(c, -3); /* may be negative */
    assert_true(weir_counter_get(a) == 12);
    assert_true(weir_counter_get(b) == 12);
    assert_true(weir_counter_get(c) == -2);
    assert_true(weir_metrics_value(m, "quality_gate.input") == 12);
    assert_true(weir_metrics_value(m, "rows.ai_stream_status") == -2);
    assert_true(weir_metrics_value(m, "no.such.counter") == 0);
    /* names are exact */
    assert_true(weir_metrics_value(m, "quality_gate") == 0);
    assert_true(weir_metrics_value(m, "quality_gate.input.x") == 0);
    weir_counter_add(NULL, 5); /* accepted, no-op */
    weir_metrics_free(m);
    weir_metrics_free(NULL);
}

/* more threads than a counter has stripes (16), so some threads share a stripe */
enum { THREADS = 20, PER_THREAD = 200000 };

typedef struct worker {
    weir_metrics *m;
    int id;
} worker;

static void *hammer(void *arg) {
    worker *w = arg;
    /* each thread looks the counter up itself: registration races with the other threads */
    weir_counter *total = weir_metrics_counter(w->m, "total");
    char own[32];
    snprintf(own, sizeof own, "thread.%d", w->id);
    for (int i = 0; i < PER_THREAD; i++) {
        weir_counter_add(total, 1);
        if (i % 1000 == 0) {
            /* registering other names concurrently must not disturb anything */
            char name[32];
            snprintf(name, sizeof name, "t%d.n%d", w->id, i / 1000);
            weir_counter_add(weir_metrics_counter(w->m, name), 1);
        }
    }
    weir_counter_add(weir_metrics_counter(w->m, own), 3);
    weir_counter_add(weir_metrics_counter(w->m, "by_name"), PER_THREAD);
    return NULL;
}

static void test_concurrent_increments(void **st) {
    (void)st;
    weir_metrics *m = weir_metrics_new();
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].m = m;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_true(weir_metrics_value(m, "total") == (int64_t)THREADS * PER_THREAD);
    assert_true(weir_metrics_value(m, "by_name") == (int64_t)THREADS * PER_THREAD);
    for (int i = 0; i < THREADS; i++) {
        char own[32];
        snprintf(own, sizeof own, "thread.%d", i);
        assert_true(weir_metrics_value(m, own) == 3);
        for (int k = 0; k < PER_THREAD / 1000; k++) {
            char name[32];
            snprintf(name, sizeof name, "t%d.n%d", i, k);
            assert_true(weir_metrics_value(m, name) == 1);
        }
    }
    weir_metrics_free(m);
}

typedef struct visit {
    char names[16][32];
    int64_t vals[16];
    int n;
} visit;

static void on_counter(void *ud, const char *name, int64_t v) {
    visit *vs = ud;
    assert_true(vs->n < 16);
    snprintf(vs->names[vs->n], sizeof vs->names[0], "%s", name);
    vs->vals[vs->n] = v;
    vs->n++;
}

static void test_foreach_registration_order(void **st) {
    (void)st;
    weir_metrics *m = weir_metrics_new();
    visit vs = {0};
    weir_metrics_foreach(m, on_counter, &vs);
    assert_int_equal(vs.n, 0);
    const char *names[] = {"zeta", "alpha", "mid", "beta"};
    for (int i = 0; i < 4; i++)
        weir_counter_add(weir_metrics_counter(m, names[i]), i + 1);
    /* looking an existing name up again does not move it */
    weir_counter_add(weir_metrics_counter(m, "zeta"), 10);
    weir_metrics_foreach(m, on_counter, &vs);
    assert_int_equal(vs.n, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(vs.names[i], names[i]);
    assert_true(vs.vals[0] == 11);
    assert_true(vs.vals[1] == 2);
    assert_true(vs.vals[2] == 3);
    assert_true(vs.vals[3] == 4);
    weir_metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_by_name),
        cmocka_unit_test(test_concurrent_increments),
        cmocka_unit_test(test_foreach_registration_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
