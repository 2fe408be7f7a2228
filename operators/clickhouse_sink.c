/*
 * clickhouse_sink.c - ClickHouse HTTP sink (weir_clickhouse_sink_def, see weir/connectors.h;
 * spec dedup-job.md §7.2, §8, §11; docs/clickhouse.md).
 *
 * Design (everything below is per subtask, in weir_ctx_local; the conf is read-only):
 *  - One ch_table per distinct record key: full table name, the request URL (query + settings)
 *    built once, its counters, and at most one OPEN batch receiving rows.
 *  - A batch is a body buffer ("row\n" repeated), its row count, the origin of each row (for DLQ
 *    documents) and retry bookkeeping. Life cycle: OPEN → (sealed by rows/bytes/age/flush)
 *    READY queue → IN FLIGHT (a curl easy handle added to the subtask's curl multi handle) →
 *    acknowledged (freed) | transient failure → RETRY list (due time with exponential backoff
 *    and jitter) → READY again | permanent data error → split in halves at the front of READY
 *    until single rows remain, which go to the "dlq" side output | configuration error → the
 *    subtask fails (L->fatal; reported by the next callback).
 *  - The multi handle is driven only from the task thread: process()/process_batch()/
 *    on_watermark() call pump(0) (non-blocking), the backpressure wait and drain() call pump(ms)
 *    which waits in curl_multi_poll(). No extra thread, no locks.
 *  - Time: batch age and backoff use CLOCK_MONOTONIC (not the job clock, which tests may fake).
 * Invariants:
 *  - L->buffered == rows in OPEN + READY + IN FLIGHT + RETRY batches; process() never lets it
 *    exceed max_buffered (it waits, sealing open batches so that they can drain).
 *  - at most max_in_flight easy handles are in the multi handle.
 *  - a row leaves the sink only by an HTTP 200 for a request containing it, or as a DLQ record;
 *    close() with rows outstanding (cancelled job) logs how many were not acknowledged.
 *  - drain() (barrier, end of input) returns only when L->buffered == 0 (or with an error).
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "weir/clock.h"
#include "weir/connectors.h"
#include "weir/json.h"
#include "weir/log.h"

#define D_BATCH_ROWS 1000
#define D_BATCH_BYTES 5000000
#define D_TIME_MS 1000
#define D_BUFFERED 10000
#define D_IN_FLIGHT 2
#define D_RECORD_BYTES 1000000
#define D_REQ_TIMEOUT_MS 30000
#define D_RETRY_INITIAL_MS 100
#define D_RETRY_MAX_MS 10000
#define PUMP_EVERY 64 /* records between non-blocking pumps */

/* ------------------------------------------------------------------ helpers */

static int64_t dflt(int64_t v, int64_t d) {
    return v > 0 ? v : d;
}

static int key_valid(const uint8_t *k, size_t n) {
    if (!k || n == 0 || n > 200) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/** Appends epoch ms as "yyyy-MM-dd HH:mm:ss.SSS" UTC (§7.1; floor semantics for negatives). */
static void put_ts(weir_buf *b, int64_t ms) {
    int64_t s = ms / 1000, f = ms % 1000;
    if (f < 0) {
        f += 1000;
        s -= 1;
    }
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    weir_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)f);
}

/* ------------------------------------------------------------------ types */

/** Where one buffered row came from (for the DLQ document). */
typedef struct ch_origin {
    const char *topic; /* interned in the subtask (L->topics), NULL when unknown */
    int32_t partition;
    int64_t offset, record_ts;
} ch_origin;

typedef struct ch_table ch_table;

typedef struct ch_batch {
    struct ch_batch *next;
    ch_table *table;
    weir_buf body; /* rows, each followed by '\n' */
    size_t rows;
    ch_origin *origins; /* rows entries */
    size_t ocap;
    int64_t first_ms;      /* monotonic ms of the first row */
    int attempts;          /* failed transient attempts so far */
    int64_t retry_at;      /* monotonic ms */
    int64_t first_fail_ms; /* monotonic ms of the first transient failure, 0 = none */
    CURL *easy;            /* while in flight */
    weir_buf resp;         /* response body of the current attempt */
    char curl_err[CURL_ERROR_SIZE];
} ch_batch;

struct ch_table {
    char key[208];  /* record key as received */
    char name[272]; /* prefix + key */
    char *url;      /* full request URL (malloc) */
    ch_batch *open;
    weir_counter *c_rows, *c_batches, *c_retries, *c_failed, *c_oversize;
};

typedef struct ch_local {
    const weir_clickhouse_sink_conf *conf;
    int64_t max_rows, max_bytes, max_time, max_buffered, max_in_flight, max_record;
    int64_t req_timeout, retry_initial, retry_max, retry_timeout;
    CURLM *multi;
    ch_table **tables; /* individually allocated: batches keep stable pointers */
    size_t n_tables, cap_tables;
    ch_table *last;
    ch_batch *ready_head, *ready_tail; /* FIFO */
    ch_batch *retry;                   /* unordered list */
    ch_batch *flying;                  /* in flight (at most max_in_flight) */
    int in_flight;
    int64_t buffered;
    size_t since_pump;
    char **topics;
    size_t n_topics;
    uint64_t rng;
    weir_err fatal;
    char fatal_msg[400];
    weir_buf doc; /* DLQ document scratch */
    weir_counter *c_backpressure;
} ch_local;

static pthread_mutex_t g_curl_init_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_curl_inited;

/* ------------------------------------------------------------------ batches */

static void batch_free(ch_batch *b) {
    if (!b) return;
    weir_buf_free(&b->body);
    weir_buf_free(&b->resp);
    free(b->origins);
    free(b);
}

static ch_batch *batch_new(ch_table *t) {
    ch_batch *b = calloc(1, sizeof *b);
    if (b) b->table = t;
    return b;
}

static int batch_add(ch_batch *b, const uint8_t *row, size_t n, ch_origin o) {
    if (b->rows == b->ocap) {
        size_t nc = b->ocap ? b->ocap * 2 : 64;
        ch_origin *p = realloc(b->origins, nc * sizeof *p);
        if (!p) return -1;
        b->origins = p;
        b->ocap = nc;
    }
    if (weir_buf_append(&b->body, row, n) || weir_buf_putc(&b->body, '\n')) return -1;
    b->origins[b->rows++] = o;
    return 0;
}

static void ready_push_back(ch_local *L, ch_batch *b) {
    b->next = NULL;
    if (L->ready_tail)
        L->ready_tail->next = b;
    else
        L->ready_head = b;
    L->ready_tail = b;
}

static void ready_push_front(ch_local *L, ch_batch *b) {
    b->next = L->ready_head;
    L->ready_head = b;
    if (!L->ready_tail) L->ready_tail = b;
}

static ch_batch *ready_pop(ch_local *L) {
    ch_batch *b = L->ready_head;
    if (b) {
        L->ready_head = b->next;
        if (!L->ready_head) L->ready_tail = NULL;
        b->next = NULL;
    }
    return b;
}

static void seal(ch_local *L, ch_table *t) {
    if (!t->open) return;
    ch_batch *b = t->open;
    t->open = NULL;
    ready_push_back(L, b);
}

static void seal_all(ch_local *L) {
    for (size_t i = 0; i < L->n_tables; i++)
        seal(L, L->tables[i]);
}

static void set_fatal(ch_local *L, weir_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_fatal(ch_local *L, weir_err code, const char *fmt, ...) {
    if (L->fatal) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->fatal_msg, sizeof L->fatal_msg, fmt, ap);
    va_end(ap);
    L->fatal = code;
}

/* ------------------------------------------------------------------ DLQ side output */

static const char *intern_topic(ch_local *L, const char *t, size_t n) {
    if (!t) return NULL;
    for (size_t i = 0; i < L->n_topics; i++)
        if (strlen(L->topics[i]) == n && !memcmp(L->topics[i], t, n)) return L->topics[i];
    if (L->n_topics >= 64) return NULL; /* bounded: more distinct topics are reported unknown */
    char **p = realloc(L->topics, (L->n_topics + 1) * sizeof *p);
    if (!p) return NULL;
    L->topics = p;
    char *s = strndup(t, n);
    if (!s) return NULL;
    L->topics[L->n_topics++] = s;
    return s;
}

/* Emits one DLQ document for @p row of table @p t. Returns WEIR_OK or an error (the caller
 * fails the subtask). */
static weir_err emit_dlq(weir_ctx *ctx, ch_local *L, ch_table *t, const char *stage,
                         const char *cls, const char *reason, const char *details,
                         const uint8_t *row, size_t n, const ch_origin *o) {
    weir_buf *d = &L->doc;
    weir_buf_reset(d);
    weir_buf_puts(d, "{\"table\":");
    weir_json_write_string(d, t->name, strlen(t->name));
    weir_buf_puts(d, ",\"stage\":");
    weir_json_write_string(d, stage, strlen(stage));
    weir_buf_puts(d, ",\"failureClass\":");
    weir_json_write_string(d, cls, strlen(cls));
    weir_buf_puts(d, ",\"reason\":");
    weir_json_write_string(d, reason, strlen(reason));
    weir_buf_puts(d, ",\"details\":");
    weir_json_write_string(d, details, strlen(details));
    weir_buf_puts(d, ",\"source\":{\"topic\":");
    if (o->topic)
        weir_json_write_string(d, o->topic, strlen(o->topic));
    else
        weir_buf_puts(d, "null");
    weir_buf_printf(
        d, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"recordTimestamp\":%" PRId64 "}",
        o->partition, o->offset, o->record_ts);
    weir_buf_puts(d, ",\"row\":");
    weir_json_write_string(d, (const char *)row, n);
    weir_buf_putc(d, '}');
    if (d->oom) return weir_ctx_fail(ctx, WEIR_ENOMEM, "clickhouse sink: out of memory");
    weir_counter_add(t->c_failed, 1);
    weir_record r = {.key = (const uint8_t *)t->key,
                     .key_len = (uint32_t)strlen(t->key),
                     .value = (const uint8_t *)d->data,
                     .value_len = (uint32_t)d->len,
                     .timestamp_ms = WEIR_NO_TIMESTAMP,
                     .key_group = -1,
                     .origin = {.topic = o->topic,
                                .topic_len = o->topic ? (uint32_t)strlen(o->topic) : 0,
                                .partition = o->partition,
                                .offset = o->offset,
                                .record_ts = o->record_ts}};
    weir_err rc = weir_emit_side(ctx, WEIR_CLICKHOUSE_DLQ_TAG, &r);
    if (rc == WEIR_EINVAL)
        return weir_ctx_fail(ctx, WEIR_EINVAL,
                             "clickhouse sink: a row of table %s was rejected (%s: %s) and no "
                             "\"" WEIR_CLICKHOUSE_DLQ_TAG "\" side output is connected",
                             t->name, cls, details);
    return rc;
}

/* ------------------------------------------------------------------ HTTP */

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
    ch_batch *b = ud;
    size_t len = sz * n;
    if (b->resp.len < 4096) weir_buf_append(&b->resp, p, len < 4096 ? len : 4096);
    return len;
}

static uint64_t fnv64(const void *p, size_t n) {
    return XXH3_64bits(p, n); /* xxHash (libxxhash), see docs/dependencies.md */
}

static int start_request(ch_local *L, ch_batch *b) {
    CURL *e = curl_easy_init();
    if (!e) return -1;
    weir_buf_reset(&b->resp);
    b->curl_err[0] = '\0';
    char *url = b->table->url, *tokurl = NULL;
    if (L->conf->dedup_token) {
        if (asprintf(&tokurl, "%s&insert_deduplication_token=%s-%016" PRIx64 "-%zu", url,
                     b->table->name, fnv64(b->body.data, b->body.len), b->rows) < 0) {
            curl_easy_cleanup(e);
            return -1;
        }
        url = tokurl;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(tokurl); /* libcurl copies the URL */
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, b->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->body.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, b->curl_err);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)L->req_timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(L->req_timeout < 5000 ? L->req_timeout : 5000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, b);
    if (L->conf->user[0]) {
        curl_easy_setopt(e, CURLOPT_USERNAME, L->conf->user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, L->conf->password);
    }
    if (curl_multi_add_handle(L->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return -1;
    }
    b->easy = e;
    b->next = L->flying;
    L->flying = b;
    L->in_flight++;
    return 0;
}

static void start_ready(ch_local *L) {
    while (!L->fatal && L->in_flight < L->max_in_flight && L->ready_head) {
        ch_batch *b = ready_pop(L);
        if (start_request(L, b)) {
            ready_push_front(L, b);
            set_fatal(L, WEIR_ENOMEM, "clickhouse sink: cannot start an HTTP request");
            return;
        }
    }
}

/* ClickHouse error codes (ErrorCodes.cpp). */
static int code_in(int code, const int *set, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (set[i] == code) return 1;
    return 0;
}
/* Configuration errors: retrying or DLQ-ing rows cannot help; the job fails. */
static const int k_config_codes[] = {60 /*UNKNOWN_TABLE*/,
                                     81 /*UNKNOWN_DATABASE*/,
                                     115 /*UNKNOWN_SETTING*/,
                                     164 /*READONLY*/,
                                     192 /*UNKNOWN_USER*/,
                                     193 /*WRONG_PASSWORD*/,
                                     194 /*REQUIRED_PASSWORD*/,
                                     195 /*IP_ADDRESS_NOT_ALLOWED*/,
                                     291 /*DATABASE_ACCESS_DENIED*/,
                                     497 /*ACCESS_DENIED*/,
                                     516 /*AUTHENTICATION_FAILED*/};
/* Errors about the rows themselves: permanent, the rows go to the DLQ. */
static const int k_data_codes[] = {6 /*CANNOT_PARSE_TEXT*/,
                                   25 /*CANNOT_PARSE_ESCAPE_SEQUENCE*/,
                                   26 /*CANNOT_PARSE_QUOTED_STRING*/,
                                   27 /*CANNOT_PARSE_INPUT_ASSERTION_FAILED*/,
                                   38 /*CANNOT_PARSE_DATE*/,
                                   41 /*CANNOT_PARSE_DATETIME*/,
                                   53 /*TYPE_MISMATCH*/,
                                   69 /*ARGUMENT_OUT_OF_BOUND*/,
                                   70 /*CANNOT_CONVERT_TYPE*/,
                                   72 /*CANNOT_PARSE_NUMBER*/,
                                   117 /*INCORRECT_DATA*/,
                                   131 /*TOO_LARGE_STRING_SIZE*/,
                                   349 /*CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN*/,
                                   376 /*CANNOT_PARSE_UUID*/,
                                   16 /*NO_SUCH_COLUMN_IN_TABLE*/,
                                   32 /*ATTEMPT_TO_READ_AFTER_EOF*/};

typedef enum { R_OK, R_TRANSIENT, R_DATA, R_CONFIG } ch_result;

static ch_result classify(CURLcode cc, long http, const char *resp, int *code_out) {
    *code_out = -1;
    if (cc != CURLE_OK) return R_TRANSIENT;
    if (http == 200) return R_OK;
    const char *p = resp ? strstr(resp, "Code: ") : NULL;
    int code = p ? atoi(p + 6) : -1;
    *code_out = code;
    if (code >= 0 && code_in(code, k_config_codes, sizeof k_config_codes / sizeof *k_config_codes))
        return R_CONFIG;
    if (code >= 0 && code_in(code, k_data_codes, sizeof k_data_codes / sizeof *k_data_codes))
        return R_DATA;
    if (http >= 400 && http < 500 && http != 408 && http != 429)
        return code >= 0 ? R_DATA : R_CONFIG;
    return R_TRANSIENT;
}

static uint64_t rng_next(ch_local *L) {
    uint64_t x = L->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return L->rng = x;
}

/* Splits @p b (rows >= 2) into two batches at the middle row boundary; both go to the front of
 * READY (first half first). */
static int split_front(ch_local *L, ch_batch *b) {
    size_t half = b->rows / 2, row = 0, off = 0;
    while (row < half) {
        const char *nl = memchr(b->body.data + off, '\n', b->body.len - off);
        off = (size_t)(nl - b->body.data) + 1;
        row++;
    }
    ch_batch *a = batch_new(b->table), *c = batch_new(b->table);
    if (!a || !c) goto oom;
    size_t pos = 0;
    for (size_t i = 0; i < b->rows; i++) {
        const char *s = b->body.data + pos;
        const char *nl = memchr(s, '\n', b->body.len - pos);
        size_t n = (size_t)(nl - s);
        if (batch_add(i < half ? a : c, (const uint8_t *)s, n, b->origins[i])) goto oom;
        pos += n + 1;
    }
    a->first_ms = c->first_ms = b->first_ms;
    ready_push_front(L, c);
    ready_push_front(L, a);
    batch_free(b);
    return 0;
oom:
    batch_free(a);
    batch_free(c);
    return -1;
}

static void trim_msg(char *m) {
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == '\r' || m[n - 1] == ' '))
        m[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (m[i] == '\n' || m[i] == '\r') m[i] = ' ';
}

static void on_done(weir_ctx *ctx, ch_local *L, ch_batch *b, CURLcode cc) {
    long http = 0;
    curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &http);
    curl_multi_remove_handle(L->multi, b->easy);
    curl_easy_cleanup(b->easy);
    b->easy = NULL;
    for (ch_batch **pp = &L->flying; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    b->next = NULL;
    L->in_flight--;
    ch_table *t = b->table;
    int code;
    ch_result r = classify(cc, http, b->resp.data, &code);
    char msg[600];
    if (cc != CURLE_OK)
        snprintf(msg, sizeof msg, "%s", b->curl_err[0] ? b->curl_err : curl_easy_strerror(cc));
    else
        snprintf(msg, sizeof msg, "HTTP %ld: %s", http, b->resp.data ? b->resp.data : "");
    trim_msg(msg);
    switch (r) {
    case R_OK:
        weir_counter_add(t->c_rows, (int64_t)b->rows);
        weir_counter_add(t->c_batches, 1);
        if (b->attempts)
            weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx),
                     "clickhouse %s: batch of %zu rows written after %d retries", t->name, b->rows,
                     b->attempts);
        L->buffered -= (int64_t)b->rows;
        batch_free(b);
        return;
    case R_TRANSIENT: {
        int64_t now = weir_mono_ms();
        if (!b->first_fail_ms) b->first_fail_ms = now;
        b->attempts++;
        weir_counter_add(t->c_retries, 1);
        if (L->retry_timeout > 0 && now - b->first_fail_ms >= L->retry_timeout) {
            set_fatal(L, WEIR_EIO,
                      "clickhouse %s: giving up after %d attempts over %" PRId64 " ms: %s", t->name,
                      b->attempts, now - b->first_fail_ms, msg);
            ready_push_front(L, b);
            return;
        }
        int64_t d = L->retry_initial;
        for (int i = 1; i < b->attempts && d < L->retry_max; i++)
            d *= 2;
        if (d > L->retry_max) d = L->retry_max;
        d = d * 3 / 4 + (int64_t)(rng_next(L) % (uint64_t)(d / 2 + 1)); /* ±25 % jitter */
        b->retry_at = now + d;
        weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx),
                 "clickhouse %s: insert of %zu rows failed (attempt %d): %s; retrying in %" PRId64
                 " ms",
                 t->name, b->rows, b->attempts, msg, d);
        b->next = L->retry;
        L->retry = b;
        return;
    }
    case R_CONFIG:
        set_fatal(L, WEIR_EIO, "clickhouse %s: insert refused (configuration error): %s", t->name,
                  msg);
        ready_push_front(L, b); /* kept for the count in close() */
        return;
    case R_DATA:
        if (b->rows > 1) {
            weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx),
                     "clickhouse %s: batch of %zu rows rejected (%s); splitting to isolate the "
                     "bad rows",
                     t->name, b->rows, msg);
            if (split_front(L, b)) set_fatal(L, WEIR_ENOMEM, "clickhouse sink: out of memory");
            return;
        }
        {
            char details[900];
            const char *m = msg;
            if (!strncmp(m, "HTTP ", 5)) { /* keep the server's text only */
                const char *c = strstr(m, ": ");
                if (c) m = c + 2;
            }
            snprintf(details, sizeof details, "Table %s: %s", t->name, m);
            weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx), "clickhouse %s: row rejected → DLQ: %s",
                     t->name, m);
            size_t n = b->body.len ? b->body.len - 1 : 0;
            weir_err rc =
                emit_dlq(ctx, L, t, "CLICKHOUSE_SINK", "DLQ_SINK_WRITE", "sink_write_failed",
                         details, (const uint8_t *)b->body.data, n, &b->origins[0]);
            if (rc)
                set_fatal(L, rc, "clickhouse %s: cannot emit a rejected row to the DLQ", t->name);
            L->buffered -= 1;
            batch_free(b);
        }
        return;
    }
}

/* Drives the multi handle: seals aged batches, re-queues due retries, starts requests and
 * handles completions; waits up to @p wait_ms for activity when > 0. */
static void pump(weir_ctx *ctx, ch_local *L, int wait_ms) {
    int64_t now = weir_mono_ms();
    for (size_t i = 0; i < L->n_tables; i++) {
        ch_table *t = L->tables[i];
        if (t->open && now - t->open->first_ms >= L->max_time) seal(L, t);
    }
    int64_t next_retry = INT64_MAX;
    for (ch_batch **pp = &L->retry; *pp;) {
        ch_batch *b = *pp;
        if (b->retry_at <= now) {
            *pp = b->next;
            ready_push_front(L, b);
        } else {
            if (b->retry_at < next_retry) next_retry = b->retry_at;
            pp = &b->next;
        }
    }
    for (int round = 0; round < 2; round++) {
        start_ready(L);
        int running = 0;
        curl_multi_perform(L->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(L->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            ch_batch *b = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&b);
            on_done(ctx, L, b, m->data.result);
        }
        start_ready(L);
        if (round || wait_ms <= 0) break;
        int w = wait_ms;
        if (next_retry != INT64_MAX) {
            int64_t until = next_retry - weir_mono_ms();
            if (until < w) w = until < 1 ? 1 : (int)until;
        }
        if (L->in_flight > 0)
            curl_multi_poll(L->multi, NULL, 0, w, NULL);
        else if (L->retry) {
            struct timespec ts = {w / 1000, (long)(w % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

/* Seals everything and waits until every buffered row is acknowledged or DLQ'd. */
static weir_err drain(weir_ctx *ctx, ch_local *L) {
    seal_all(L);
    while (!L->fatal && L->buffered > 0) {
        if (weir_ctx_cancelled(ctx)) return WEIR_ECANCELLED;
        pump(ctx, L, 100);
    }
    if (L->fatal) return weir_ctx_fail(ctx, L->fatal, "%s", L->fatal_msg);
    return WEIR_OK;
}

/* ------------------------------------------------------------------ operator */

static ch_table *table_for(weir_ctx *ctx, ch_local *L, const uint8_t *k, size_t n) {
    if (L->last && strlen(L->last->key) == n && !memcmp(L->last->key, k, n)) return L->last;
    for (size_t i = 0; i < L->n_tables; i++)
        if (strlen(L->tables[i]->key) == n && !memcmp(L->tables[i]->key, k, n))
            return L->last = L->tables[i];
    if (!key_valid(k, n)) {
        weir_ctx_fail(ctx, WEIR_EINVAL,
                      "clickhouse sink: record key '%.*s' is not a table name [A-Za-z0-9_]+",
                      (int)(n > 100 ? 100 : n), k ? (const char *)k : "");
        return NULL;
    }
    if (L->n_tables == L->cap_tables) {
        size_t nc = L->cap_tables ? L->cap_tables * 2 : 16;
        ch_table **p = realloc(L->tables, nc * sizeof *p);
        if (!p) {
            weir_ctx_fail(ctx, WEIR_ENOMEM, "clickhouse sink: out of memory");
            return NULL;
        }
        L->tables = p;
        L->cap_tables = nc;
    }
    ch_table *t = calloc(1, sizeof *t);
    if (!t) {
        weir_ctx_fail(ctx, WEIR_ENOMEM, "clickhouse sink: out of memory");
        return NULL;
    }
    L->tables[L->n_tables] = t;
    snprintf(t->key, sizeof t->key, "%.*s", (int)n, (const char *)k);
    snprintf(t->name, sizeof t->name, "%s%s", L->conf->table_prefix, t->key);
    const char *db = L->conf->database[0] ? L->conf->database : "default";
    const char *base = L->conf->url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    if (asprintf(&t->url, "%.*s/?query=INSERT%%20INTO%%20%s.%s%%20FORMAT%%20JSONEachRow%s%s",
                 (int)bl, base, db, t->name, L->conf->settings[0] ? "&" : "",
                 L->conf->settings) < 0) {
        weir_ctx_fail(ctx, WEIR_ENOMEM, "clickhouse sink: out of memory");
        return NULL;
    }
    weir_metrics *m = weir_ctx_metrics(ctx);
    char cn[340];
#define CNT(field, suffix)                                                                         \
    snprintf(cn, sizeof cn, "clickhouse.%s." suffix, t->name);                                     \
    t->field = weir_metrics_counter(m, cn)
    CNT(c_rows, "rows");
    CNT(c_batches, "batches");
    CNT(c_retries, "retries");
    CNT(c_failed, "failed_rows");
    CNT(c_oversize, "oversize_rows");
#undef CNT
    L->n_tables++;
    return L->last = t;
}

static weir_err ch_open(weir_ctx *ctx) {
    const weir_clickhouse_sink_conf *c = weir_ctx_udata(ctx);
    if (!c || !c->url[0])
        return weir_ctx_fail(ctx, WEIR_EINVAL, "clickhouse sink: no URL configured");
    pthread_mutex_lock(&g_curl_init_lock);
    if (!g_curl_inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        g_curl_inited = 1;
    }
    pthread_mutex_unlock(&g_curl_init_lock);
    ch_local *L = calloc(1, sizeof *L);
    if (!L) return weir_ctx_fail(ctx, WEIR_ENOMEM, "clickhouse sink: out of memory");
    L->conf = c;
    L->max_rows = dflt(c->max_batch_rows, D_BATCH_ROWS);
    L->max_bytes = dflt(c->max_batch_bytes, D_BATCH_BYTES);
    L->max_time = dflt(c->max_time_ms, D_TIME_MS);
    L->max_buffered = dflt(c->max_buffered, D_BUFFERED);
    L->max_in_flight = dflt(c->max_in_flight, D_IN_FLIGHT);
    L->max_record = dflt(c->max_record_bytes, D_RECORD_BYTES);
    L->req_timeout = dflt(c->request_timeout_ms, D_REQ_TIMEOUT_MS);
    L->retry_initial = dflt(c->retry_initial_ms, D_RETRY_INITIAL_MS);
    L->retry_max = dflt(c->retry_max_ms, D_RETRY_MAX_MS);
    L->retry_timeout = c->retry_timeout_ms > 0 ? c->retry_timeout_ms : 0;
    if (L->max_buffered < L->max_rows) L->max_buffered = L->max_rows;
    L->rng = ((uint64_t)weir_mono_ms() * 2654435761u) ^
             (((uint64_t)weir_ctx_subtask(ctx) + 1) << 32) ^ 1;
    L->multi = curl_multi_init();
    if (!L->multi) {
        free(L);
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "clickhouse sink: curl_multi_init failed");
    }
    curl_multi_setopt(L->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)L->max_in_flight);
    L->c_backpressure =
        weir_metrics_counter(weir_ctx_metrics(ctx), "clickhouse.backpressure_waits");
    weir_ctx_set_local(ctx, L);
    return WEIR_OK;
}

static weir_err add_row(weir_ctx *ctx, ch_local *L, const weir_record *rec) {
    ch_table *t = table_for(ctx, L, rec->key, rec->key_len);
    if (!t) return WEIR_EINVAL;
    ch_origin o = {.topic = intern_topic(L, rec->origin.topic, rec->origin.topic_len),
                   .partition = rec->origin.partition,
                   .offset = rec->origin.offset,
                   .record_ts = rec->origin.record_ts};
    const uint8_t *v = rec->value ? rec->value : (const uint8_t *)"";
    size_t n = rec->value ? rec->value_len : 0;
    char details[400];
    if ((int64_t)n > L->max_record) { /* §7.2: before batching */
        weir_counter_add(t->c_oversize, 1);
        snprintf(details, sizeof details, "Row size %zu exceeds limit %" PRId64, n, L->max_record);
        weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx), "clickhouse %s: %s → DLQ", t->name, details);
        return emit_dlq(ctx, L, t, "SINK_GUARD", "RECORD_TOO_LARGE", "record_too_large", details, v,
                        n, &o);
    }
    if (n == 0 || memchr(v, '\n', n)) {
        snprintf(details, sizeof details, "Table %s: %s", t->name,
                 n ? "row contains a line break" : "empty or absent row");
        return emit_dlq(ctx, L, t, "CLICKHOUSE_SINK", "DLQ_SINK_WRITE", "sink_write_failed",
                        details, v, n, &o);
    }
    if (L->buffered >= L->max_buffered) { /* backpressure: wait, never drop */
        weir_counter_add(L->c_backpressure, 1);
        seal_all(L);
        /* hysteresis: resume only with room for whole batches again; waiting for a single free
         * slot made every later row seal its table's batch at one row (a ClickHouse part per
         * row) */
        while (!L->fatal && L->buffered > L->max_buffered / 2) {
            if (weir_ctx_cancelled(ctx)) return WEIR_ECANCELLED;
            pump(ctx, L, 100);
        }
        if (L->fatal) return weir_ctx_fail(ctx, L->fatal, "%s", L->fatal_msg);
    }
    if (t->open && (int64_t)(t->open->body.len + n + 1) > L->max_bytes) seal(L, t);
    if (!t->open) {
        t->open = batch_new(t);
        if (!t->open) return weir_ctx_fail(ctx, WEIR_ENOMEM, "clickhouse sink: out of memory");
        t->open->first_ms = weir_mono_ms();
    }
    if (batch_add(t->open, v, n, o))
        return weir_ctx_fail(ctx, WEIR_ENOMEM, "clickhouse sink: out of memory");
    L->buffered++;
    if ((int64_t)t->open->rows >= L->max_rows || (int64_t)t->open->body.len >= L->max_bytes) {
        seal(L, t);
        L->since_pump = PUMP_EVERY;
    }
    return WEIR_OK;
}

static weir_err ch_process_batch(weir_ctx *ctx, const weir_record *recs, size_t n) {
    ch_local *L = weir_ctx_local(ctx);
    if (L->fatal) return weir_ctx_fail(ctx, L->fatal, "%s", L->fatal_msg);
    for (size_t i = 0; i < n; i++) {
        weir_err rc = add_row(ctx, L, &recs[i]);
        if (rc) return rc;
        if (++L->since_pump >= PUMP_EVERY) {
            L->since_pump = 0;
            pump(ctx, L, 0);
        }
    }
    pump(ctx, L, 0);
    if (L->fatal) return weir_ctx_fail(ctx, L->fatal, "%s", L->fatal_msg);
    return WEIR_OK;
}

static weir_err ch_process(weir_ctx *ctx, const weir_record *rec) {
    ch_local *L = weir_ctx_local(ctx);
    if (L->fatal) return weir_ctx_fail(ctx, L->fatal, "%s", L->fatal_msg);
    weir_err rc = add_row(ctx, L, rec);
    if (rc) return rc;
    if (++L->since_pump >= PUMP_EVERY) {
        L->since_pump = 0;
        pump(ctx, L, 0);
    }
    if (L->fatal) return weir_ctx_fail(ctx, L->fatal, "%s", L->fatal_msg);
    return WEIR_OK;
}

static weir_err ch_on_watermark(weir_ctx *ctx, int64_t wm) {
    (void)wm;
    ch_local *L = weir_ctx_local(ctx);
    pump(ctx, L, 0);
    if (L->fatal) return weir_ctx_fail(ctx, L->fatal, "%s", L->fatal_msg);
    return WEIR_OK;
}

static weir_err ch_snapshot(weir_ctx *ctx, const weir_barrier *b, weir_buf *out) {
    (void)b;
    (void)out; /* no operator state: every row is in ClickHouse when the barrier passes */
    return drain(ctx, weir_ctx_local(ctx));
}

static weir_err ch_end_input(weir_ctx *ctx) {
    return drain(ctx, weir_ctx_local(ctx));
}

static void ch_close(weir_ctx *ctx) {
    ch_local *L = weir_ctx_local(ctx);
    if (!L) return;
    if (L->buffered > 0)
        weir_log(WEIR_LOG_WARN, weir_ctx_where(ctx),
                 "clickhouse sink closed with %" PRId64 " rows not acknowledged (job stopped "
                 "before a flush)",
                 L->buffered);
    for (ch_batch *b = L->flying, *nx; b; b = nx) {
        nx = b->next;
        curl_multi_remove_handle(L->multi, b->easy);
        curl_easy_cleanup(b->easy);
        batch_free(b);
    }
    for (ch_batch *b = L->ready_head, *nx; b; b = nx) {
        nx = b->next;
        batch_free(b);
    }
    for (ch_batch *b = L->retry, *nx; b; b = nx) {
        nx = b->next;
        batch_free(b);
    }
    for (size_t i = 0; i < L->n_tables; i++) {
        batch_free(L->tables[i]->open);
        free(L->tables[i]->url);
        free(L->tables[i]);
    }
    curl_multi_cleanup(L->multi);
    free(L->tables);
    for (size_t i = 0; i < L->n_topics; i++)
        free(L->topics[i]);
    free(L->topics);
    weir_buf_free(&L->doc);
    free(L);
    weir_ctx_set_local(ctx, NULL);
}

const weir_operator_def weir_clickhouse_sink_def = {.kind = "clickhouse-sink",
                                                    .open = ch_open,
                                                    .process = ch_process,
                                                    .process_batch = ch_process_batch,
                                                    .on_watermark = ch_on_watermark,
                                                    .snapshot_state = ch_snapshot,
                                                    .end_input = ch_end_input,
                                                    .close = ch_close};

/* ------------------------------------------------------------------ configuration */

void weir_clickhouse_database_from_url(const char *url, char *out, size_t out_size) {
    const char *fallback = "livepeer_analytics";
    const char *slash = url ? strrchr(url, '/') : NULL;
    if (slash && slash != url && slash[1] && !strpbrk(slash + 1, "?:"))
        snprintf(out, out_size, "%s", slash + 1);
    else
        snprintf(out, out_size, "%s", fallback);
}

static const char *env_lookup(void *ud, const char *name) {
    (void)ud;
    return getenv(name);
}

static int64_t int_var(const char *(*lk)(void *, const char *), void *ud, const char *name,
                       int64_t d) {
    const char *v = lk(ud, name);
    if (!v) return d;
    while (*v == ' ' || *v == '\t')
        v++;
    if (!*v) return d;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n')
        end++;
    if (errno || *end || end == v) return d; /* §11: unparsable → default */
    return x;
}

void weir_clickhouse_sink_conf_from_env(weir_clickhouse_sink_conf *c,
                                        const char *(*lookup)(void *ud, const char *name),
                                        void *ud) {
    const char *(*lk)(void *, const char *) = lookup ? lookup : env_lookup;
    memset(c, 0, sizeof *c);
    const char *v;
#define STR(field, name, d)                                                                        \
    v = lk(ud, name);                                                                              \
    snprintf(c->field, sizeof c->field, "%s", v &&*v ? v : d)
    STR(url, "CLICKHOUSE_URL", "http://clickhouse:8123");
    STR(user, "CLICKHOUSE_USER", "analytics_user");
    STR(password, "CLICKHOUSE_PASSWORD", "analytics_password");
#undef STR
    v = lk(ud, "CLICKHOUSE_DATABASE");
    if (v && *v)
        snprintf(c->database, sizeof c->database, "%s", v);
    else
        weir_clickhouse_database_from_url(c->url, c->database, sizeof c->database);
    /* the database part of the URL path is not part of the HTTP endpoint */
    char *slash = strrchr(c->url, '/');
    if (slash && slash > c->url && slash[-1] != '/' && !strpbrk(slash + 1, "?:")) *slash = '\0';
    c->max_batch_rows = int_var(lk, ud, "CLICKHOUSE_SINK_MAX_BATCH_SIZE", D_BATCH_ROWS);
    c->max_in_flight = int_var(lk, ud, "CLICKHOUSE_SINK_MAX_IN_FLIGHT", D_IN_FLIGHT);
    c->max_buffered = int_var(lk, ud, "CLICKHOUSE_SINK_MAX_BUFFERED", D_BUFFERED);
    c->max_batch_bytes = int_var(lk, ud, "CLICKHOUSE_SINK_MAX_BATCH_BYTES", D_BATCH_BYTES);
    c->max_time_ms = int_var(lk, ud, "CLICKHOUSE_SINK_MAX_TIME_MS", D_TIME_MS);
    c->max_record_bytes = int_var(lk, ud, "CLICKHOUSE_SINK_MAX_RECORD_BYTES", D_RECORD_BYTES);
}

/* ------------------------------------------------------------------ DLQ row (§5.4) */

static void put_str_or_empty(weir_buf *o, const char *s, size_t n) {
    weir_json_write_string(o, s ? s : "", s ? n : 0);
}

weir_err weir_clickhouse_dlq_row(const char *doc, size_t len, int64_t now_ms, weir_buf *out,
                                 weir_error *err) {
    weir_json_parser *p = weir_json_parser_new();
    if (!p) return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
    weir_err rc = WEIR_OK;
    weir_json root;
    char *row = NULL, *raw = NULL;
    size_t row_len = 0, raw_len = 0;
    weir_buf head = {0};
    if (weir_json_parse(p, doc, len, &root, err) || weir_json_type_of(root) != WEIR_JSON_OBJECT) {
        rc = weir_error_set(err, WEIR_EPARSE, 0, "not a ClickHouse sink DLQ document");
        goto done;
    }
    const char *s;
    size_t n;
    if (weir_json_string(weir_json_get(root, "row"), &s, &n)) {
        rc = weir_error_set(err, WEIR_EPARSE, 0, "DLQ document without \"row\"");
        goto done;
    }
    row = malloc(n + 1);
    if (!row) {
        rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        goto done;
    }
    memcpy(row, s, n);
    row[n] = '\0';
    row_len = n;
    /* the part of the row before event fields, built now while the document is parsed */
    weir_json src = weir_json_get(root, "source");
    weir_json topic = weir_json_get(src, "topic");
    int64_t rts = weir_json_type_of(weir_json_get(src, "recordTimestamp")) == WEIR_JSON_INT
                      ? weir_json_int(weir_json_get(src, "recordTimestamp"))
                      : -1;
    weir_buf_puts(&head, "{\"schema_version\":\"v1\",\"source_topic\":");
    if (!weir_json_string(topic, &s, &n))
        put_str_or_empty(&head, s, n);
    else
        weir_buf_puts(&head, "\"\"");
    int64_t part = weir_json_int(weir_json_get(src, "partition"));
    int64_t off = weir_json_int(weir_json_get(src, "offset"));
    weir_buf_printf(&head,
                    ",\"source_partition\":%" PRId64 ",\"source_offset\":%" PRId64
                    ",\"source_record_timestamp\":\"",
                    part < 0 ? 0 : part, off < 0 ? 0 : off);
    put_ts(&head, rts >= 0 ? rts : now_ms);
    weir_buf_putc(&head, '"');
    weir_buf fail = {0};
    static const char *const fk[][2] = {{"failure_stage", "stage"},
                                        {"failure_class", "failureClass"},
                                        {"failure_reason", "reason"},
                                        {"failure_details", "details"}};
    for (size_t i = 0; i < 4; i++) {
        weir_buf_printf(&fail, ",\"%s\":", fk[i][0]);
        if (!weir_json_string(weir_json_get(root, fk[i][1]), &s, &n))
            put_str_or_empty(&fail, s, n);
        else
            weir_buf_puts(&fail, "\"\"");
    }
    /* the row's raw_json (a second parse invalidates the first document's handles) */
    weir_json rrow;
    if (!weir_json_parse(p, row, row_len, &rrow, NULL) &&
        !weir_json_string(weir_json_get(rrow, "raw_json"), &s, &n)) {
        raw = malloc(n + 1);
        if (raw) {
            memcpy(raw, s, n);
            raw[n] = '\0';
            raw_len = n;
        }
    }
    weir_buf_append(out, head.data, head.len);
    const char *eid = NULL, *etype = NULL;
    size_t eid_n = 0, etype_n = 0;
    weir_json ev;
    if (raw && !weir_json_parse(p, raw, raw_len, &ev, NULL) &&
        weir_json_type_of(weir_json_get(ev, "type")) == WEIR_JSON_STRING) {
        weir_json_string(weir_json_get(ev, "id"), &eid, &eid_n);
        weir_json_string(weir_json_get(ev, "type"), &etype, &etype_n);
    }
    weir_buf_puts(out, ",\"event_id\":");
    put_str_or_empty(out, eid, eid_n);
    weir_buf_puts(out, ",\"event_type\":");
    put_str_or_empty(out, etype, etype_n);
    weir_buf_puts(out, ",\"event_version\":null,\"event_timestamp\":null,\"dedup_key\":null,"
                       "\"dedup_strategy\":null,\"replay\":0");
    weir_buf_append(out, fail.data, fail.len);
    weir_buf_free(&fail);
    weir_buf_puts(out, ",\"orchestrator\":null,\"broadcaster\":null,\"region\":null,"
                       "\"payload_encoding\":\"json\",\"payload_body\":");
    if (raw)
        weir_json_write_string(out, raw, raw_len);
    else
        weir_json_write_string(out, row, row_len);
    weir_buf_puts(out, ",\"payload_canonical_json\":null,\"ingestion_timestamp\":\"");
    put_ts(out, now_ms);
    weir_buf_puts(out, "\"}");
    if (out->oom) rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
done:
    weir_buf_free(&head);
    free(row);
    free(raw);
    weir_json_parser_free(p);
    return rc;
}
