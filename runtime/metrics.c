/*
 * metrics.c - job-wide named counters (see weir/metrics.h).
 *
 * Data structure: a singly linked list of counters in registration order, guarded by a mutex
 * for registration and lookup; the values are C11 atomics so increments need no lock.
 * Counters are never removed before the registry is freed, so pointers stay valid.
 */
#include "weir/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct weir_counter {
    _Atomic int64_t value;
    struct weir_counter *next;
    char name[];
};

struct weir_metrics {
    pthread_mutex_t lock;
    weir_counter *head, *tail;
};

weir_metrics *weir_metrics_new(void) {
    weir_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->lock, NULL);
    return m;
}

void weir_metrics_free(weir_metrics *m) {
    if (!m) return;
    for (weir_counter *c = m->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static weir_counter *find_locked(weir_metrics *m, const char *name) {
    for (weir_counter *c = m->head; c; c = c->next)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

weir_counter *weir_metrics_counter(weir_metrics *m, const char *name) {
    pthread_mutex_lock(&m->lock);
    weir_counter *c = find_locked(m, name);
    if (!c) {
        size_t n = strlen(name);
        c = calloc(1, sizeof *c + n + 1);
        if (c) {
            memcpy(c->name, name, n + 1);
            atomic_init(&c->value, 0);
            if (m->tail)
                m->tail->next = c;
            else
                m->head = c;
            m->tail = c;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return c;
}

void weir_counter_add(weir_counter *c, int64_t n) {
    if (c) atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

int64_t weir_counter_get(const weir_counter *c) {
    return c ? atomic_load_explicit(&((weir_counter *)c)->value, memory_order_relaxed) : 0;
}

int64_t weir_metrics_value(weir_metrics *m, const char *name) {
    pthread_mutex_lock(&m->lock);
    weir_counter *c = find_locked(m, name);
    int64_t v = weir_counter_get(c);
    pthread_mutex_unlock(&m->lock);
    return v;
}

void weir_metrics_foreach(weir_metrics *m, void (*fn)(void *ud, const char *name, int64_t v),
                          void *ud) {
    pthread_mutex_lock(&m->lock);
    for (weir_counter *c = m->head; c; c = c->next)
        fn(ud, c->name, weir_counter_get(c));
    pthread_mutex_unlock(&m->lock);
}
