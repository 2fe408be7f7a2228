/*
 * batch.c - record batches (see weir/element.h).
 *
 * Data structure: an array of weir_record headers plus a list of byte chunks. Record bytes
 * (key, value, origin topic) are copied into the current chunk; when it is full a new chunk is
 * started, so pointers handed out earlier stay valid (chunks never move). Clearing a batch keeps
 * every chunk for reuse: a recycled batch that has reached its working size never allocates.
 */
#include <stdlib.h>
#include <string.h>

#include "weir/element.h"

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    uint8_t data[];
} chunk;

struct weir_batch {
    weir_record *recs;
    size_t n, cap;
    chunk *head, *cur; /* cur: chunk being filled; chunks after cur are empty spares */
    size_t chunk_size, bytes;
};

weir_batch *weir_batch_new(size_t record_cap, size_t byte_cap) {
    weir_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cap = record_cap ? record_cap : 64;
    b->recs = malloc(b->cap * sizeof *b->recs);
    b->chunk_size = byte_cap ? byte_cap : 64 * 1024;
    if (!b->recs) {
        free(b);
        return NULL;
    }
    return b;
}

void weir_batch_free(weir_batch *b) {
    if (!b) return;
    for (chunk *c = b->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(b->recs);
    free(b);
}

/* Returns space for @p n bytes, stable until the batch is cleared. */
static uint8_t *alloc_bytes(weir_batch *b, size_t n) {
    while (b->cur && b->cur->cap - b->cur->used < n) {
        if (!b->cur->next) break;
        b->cur = b->cur->next;
    }
    if (!b->cur || b->cur->cap - b->cur->used < n) {
        size_t cap = n > b->chunk_size ? n : b->chunk_size;
        chunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        /* insert after cur so spare chunks keep their order */
        if (b->cur) {
            c->next = b->cur->next;
            b->cur->next = c;
        } else {
            c->next = b->head;
            b->head = c;
        }
        b->cur = c;
    }
    uint8_t *p = b->cur->data + b->cur->used;
    b->cur->used += n;
    return p;
}

int weir_batch_add(weir_batch *b, const weir_record *r) {
    if (b->n == b->cap) {
        size_t nc = b->cap * 2;
        weir_record *nr = realloc(b->recs, nc * sizeof *nr);
        if (!nr) return -1;
        b->recs = nr;
        b->cap = nc;
    }
    size_t need = r->key_len + r->value_len + r->origin.topic_len;
    uint8_t *p = need ? alloc_bytes(b, need) : NULL;
    if (need && !p) return -1;
    weir_record *d = &b->recs[b->n];
    *d = *r;
    if (r->key) { /* an empty key stays a non-NULL "" (NULL means "no key") */
        if (r->key_len) memcpy(p, r->key, r->key_len);
        d->key = r->key_len ? p : (const uint8_t *)"";
        p += r->key_len;
    }
    if (r->value) {
        if (r->value_len) memcpy(p, r->value, r->value_len);
        d->value = r->value_len ? p : (const uint8_t *)"";
        p += r->value_len;
    }
    if (r->origin.topic) {
        if (r->origin.topic_len) memcpy(p, r->origin.topic, r->origin.topic_len);
        d->origin.topic = r->origin.topic_len ? (const char *)p : "";
    }
    b->bytes += need;
    b->n++;
    return 0;
}

size_t weir_batch_count(const weir_batch *b) {
    return b->n;
}
size_t weir_batch_bytes(const weir_batch *b) {
    return b->bytes;
}
const weir_record *weir_batch_get(const weir_batch *b, size_t i) {
    return &b->recs[i];
}
const weir_record *weir_batch_records(const weir_batch *b) {
    return b->recs;
}

void weir_batch_clear(weir_batch *b) {
    for (chunk *c = b->head; c; c = c->next)
        c->used = 0;
    b->cur = b->head;
    b->n = 0;
    b->bytes = 0;
}
