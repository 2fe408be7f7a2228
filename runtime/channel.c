/*
 * channel.c - bounded channels and input gates (see channel.h for the design).
 *
 * Invariants: ring[(head + k) % cap] for k < count are the queued elements in order; only the
 * gate mutex guards a channel's ring, its free list and the gate's counters; `not_full` is
 * signalled whenever the consumer removes an element; the gate's `cv` whenever an element is
 * added or the job is cancelled.
 */
#include "channel.h"

#include "weir/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

wgate *wgate_new(const atomic_int *cancelled) {
    wgate *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->cancelled = cancelled;
    return g;
}

void wgate_free(wgate *g) {
    if (!g) return;
    for (int i = 0; i < g->nch; i++) {
        wchannel *c = g->ch[i];
        for (size_t k = 0; k < c->count; k++) {
            wch_item *it = &c->ring[(c->head + k) % c->cap];
            if (it->kind == WCH_BATCH) weir_batch_free(it->batch);
        }
        for (size_t k = 0; k < c->n_free; k++)
            weir_batch_free(c->free_batches[k]);
        free(c->free_batches);
        free(c->ring);
        pthread_cond_destroy(&c->not_full);
        free(c);
    }
    free(g->ch);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

wchannel *wgate_add_channel(wgate *g, size_t cap, int input) {
    wchannel *c = calloc(1, sizeof *c);
    wchannel **nch = realloc(g->ch, (size_t)(g->nch + 1) * sizeof *nch);
    if (!c || !nch) {
        free(c);
        if (nch) g->ch = nch;
        return NULL;
    }
    g->ch = nch;
    c->cap = cap < 2 ? 2 : cap;
    c->ring = calloc(c->cap, sizeof *c->ring);
    if (!c->ring) {
        free(c);
        return NULL;
    }
    pthread_cond_init(&c->not_full, NULL);
    c->gate = g;
    c->watermark_ms = INT64_MIN;
    c->input = input;
    g->ch[g->nch++] = c;
    return c;
}

void wgate_wake_all(wgate *g) {
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->cv);
    for (int i = 0; i < g->nch; i++)
        pthread_cond_broadcast(&g->ch[i]->not_full);
    pthread_mutex_unlock(&g->mu);
}

weir_err wch_push(wchannel *c, const wch_item *it) {
    wgate *g = c->gate;
    pthread_mutex_lock(&g->mu);
    while (c->count == c->cap && !atomic_load(g->cancelled))
        pthread_cond_wait(&c->not_full, &g->mu);
    if (atomic_load(g->cancelled)) {
        pthread_mutex_unlock(&g->mu);
        return WEIR_ECANCELLED;
    }
    c->ring[(c->head + c->count) % c->cap] = *it;
    c->count++;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return WEIR_OK;
}

weir_batch *wch_take_batch(wchannel *c, size_t record_cap) {
    weir_batch *b = NULL;
    pthread_mutex_lock(&c->gate->mu);
    if (c->n_free) b = c->free_batches[--c->n_free];
    pthread_mutex_unlock(&c->gate->mu);
    if (b) return b;
    return weir_batch_new(record_cap, 256 * 1024);
}

int wgate_pop(wgate *g, wch_item *it, wchannel **from, int *more, int64_t timeout_ms) {
    struct timespec deadline = {0, 0};
    if (timeout_ms >= 0) deadline = weir_deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&g->mu);
    for (;;) {
        if (atomic_load(g->cancelled)) {
            pthread_mutex_unlock(&g->mu);
            return -1;
        }
        if (g->poked) {
            g->poked = 0;
            pthread_mutex_unlock(&g->mu);
            return 2;
        }
        for (int k = 0; k < g->nch; k++) {
            int i = (g->rr + k) % g->nch;
            wchannel *c = g->ch[i];
            if (!c->count || c->blocked) continue;
            *it = c->ring[c->head];
            c->head = (c->head + 1) % c->cap;
            c->count--;
            if (it->kind == WCH_END) {
                c->ended = 1;
                g->n_ended++;
            }
            pthread_cond_signal(&c->not_full);
            /* fairness: move on to the next channel once a batch was taken */
            g->rr = (i + 1) % g->nch;
            int m = 0;
            for (int j = 0; j < g->nch && !m; j++)
                m = g->ch[j]->count > 0 && !g->ch[j]->blocked;
            *more = m;
            *from = c;
            pthread_mutex_unlock(&g->mu);
            return 1;
        }
        if (g->n_ended == g->nch) {
            pthread_mutex_unlock(&g->mu);
            return 0;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&g->cv, &g->mu);
        } else if (pthread_cond_timedwait(&g->cv, &g->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&g->mu);
            return 2;
        }
    }
}

void wgate_poke(wgate *g) {
    pthread_mutex_lock(&g->mu);
    g->poked = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void wgate_set_blocked(wgate *g, wchannel *c, int blocked) {
    pthread_mutex_lock(&g->mu);
    c->blocked = blocked;
    pthread_mutex_unlock(&g->mu);
}

void wgate_unblock_all(wgate *g) {
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < g->nch; i++)
        g->ch[i]->blocked = 0;
    pthread_mutex_unlock(&g->mu);
}

void wgate_recycle(wchannel *c, weir_batch *b) {
    weir_batch_clear(b);
    pthread_mutex_lock(&c->gate->mu);
    if (c->n_free == c->free_cap) {
        size_t nc = c->free_cap ? c->free_cap * 2 : 4;
        weir_batch **nf = realloc(c->free_batches, nc * sizeof *nf);
        if (!nf) {
            pthread_mutex_unlock(&c->gate->mu);
            weir_batch_free(b);
            return;
        }
        c->free_batches = nf;
        c->free_cap = nc;
    }
    c->free_batches[c->n_free++] = b;
    pthread_mutex_unlock(&c->gate->mu);
}
