/*
 * channel.h - bounded channels between tasks and the input gate that multiplexes them
 * (internal; DESIGN.md §2). Not part of the public API.
 *
 * A channel connects one producer subtask to one consumer subtask and carries stream elements
 * in order: record batches, watermarks, barriers, end-of-input. It is a bounded ring; a producer
 * pushing into a full ring blocks (backpressure). All channels into one consumer task share the
 * consumer's input gate: one mutex and one condition variable, so the consumer waits for "any
 * input". Each channel also keeps a free list of batches the consumer has finished with, so
 * producers reuse them instead of allocating.
 *
 * The producer-side operations (wch_push, wch_take_batch) and consumer-side ones (wgate_pop,
 * wgate_recycle) are the interface a remote (TCP, credit-based) channel would implement.
 */
#ifndef WEIR_CHANNEL_H
#define WEIR_CHANNEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "weir/element.h"
#include "weir/error.h"

typedef enum wch_kind { WCH_BATCH = 0, WCH_WATERMARK, WCH_BARRIER, WCH_END } wch_kind;

/** One stream element in a channel. */
typedef struct wch_item {
    wch_kind kind;
    weir_batch *batch;    /**< WCH_BATCH: ownership moves with the item */
    int64_t watermark_ms; /**< WCH_WATERMARK */
    weir_barrier barrier; /**< WCH_BARRIER */
} wch_item;

typedef struct wgate wgate;

/** A bounded single-producer single-consumer channel. */
typedef struct wchannel {
    wgate *gate;
    wch_item *ring;
    size_t cap, head, count;
    pthread_cond_t not_full;
    weir_batch **free_batches;
    size_t n_free, free_cap;
    int ended;            /**< consumer side: END seen */
    int blocked;          /**< consumer side: barrier alignment holds this channel back */
    int input;            /**< index of the graph input edge this channel belongs to */
    int64_t barrier_id;   /**< consumer side: last checkpoint barrier received */
    int64_t watermark_ms; /**< consumer side: last watermark from this channel */
} wchannel;

/** The input gate of one consumer task. */
struct wgate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wchannel **ch;
    int nch, rr, n_ended;
    int poked; /**< wgate_poke() called since the last pop (guarded by mu) */
    const atomic_int *cancelled;
};

/** Creates a gate; @p cancelled is the job's cancel flag (borrowed). NULL on OOM. */
wgate *wgate_new(const atomic_int *cancelled);
/** Frees the gate, its channels and every batch they still hold. */
void wgate_free(wgate *g);
/** Adds a channel with room for @p cap elements into @p g for graph input @p input. NULL on
 *  OOM. */
wchannel *wgate_add_channel(wgate *g, size_t cap, int input);
/** Wakes every waiter (cancellation). */
void wgate_wake_all(wgate *g);

/** Producer: appends @p it, blocking while the ring is full. WEIR_ECANCELLED if the job stops. */
weir_err wch_push(wchannel *c, const wch_item *it);
/** Producer: a recycled empty batch, or a new one. NULL on OOM. */
weir_batch *wch_take_batch(wchannel *c, size_t record_cap);

/**
 * Consumer: waits for the next element of any channel that is not blocked. Returns 1 with *it
 * and *from set (and *more = 1 when other elements are already queued), 0 when every channel has
 * ended, -1 when cancelled, 2 when woken by wgate_poke() or after @p timeout_ms (>= 0; -1 waits
 * without limit) with nothing popped.
 */
int wgate_pop(wgate *g, wch_item *it, wchannel **from, int *more, int64_t timeout_ms);
/** Wakes the consumer of @p g so that wgate_pop returns 2 (checkpoint triggers, notifications,
 *  timers). Thread-safe. */
void wgate_poke(wgate *g);
/** Consumer: sets or clears the blocked flag of @p c (barrier alignment). */
void wgate_set_blocked(wgate *g, wchannel *c, int blocked);
/** Consumer: clears the blocked flag of every channel. */
void wgate_unblock_all(wgate *g);
/** Consumer: returns a processed batch to its channel's free list. */
void wgate_recycle(wchannel *c, weir_batch *b);

#endif
