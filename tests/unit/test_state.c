/*
 * test_state.c - keyed state (weir/state.h): every case runs against the heap and the RocksDB
 * backend (cmocka prestate selects the backend); a fake clock drives TTL. RocksDB directories
 * live under $WEIR_TEST_TMP (default /tmp) and are removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/state_internal.h"
#include "weir/state.h"

enum { HEAP = 0, ROCKS = 1 };
static int heap_kind = HEAP, rocks_kind = ROCKS;

typedef struct fx {
    int kind;
    char dir[512];
    int64_t now; /* fake clock, read by RocksDB's compaction threads too */
    weir_backend_options opt;
    weir_state_backend *be;
} fx;

static int64_t fake_clock(void *ud) {
    return __atomic_load_n(&((fx *)ud)->now, __ATOMIC_SEQ_CST);
}
static void set_now(fx *f, int64_t t) {
    __atomic_store_n(&f->now, t, __ATOMIC_SEQ_CST);
}

static const char *tmp_root(void) {
    const char *t = getenv("WEIR_TEST_TMP");
    return t && *t ? t : "/tmp";
}

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
}

static weir_state_backend *open_be(fx *f) {
    weir_error err = {0};
    weir_state_backend *be = f->kind == ROCKS ? weir_state_backend_rocksdb_new(&f->opt, &err)
                                              : weir_state_backend_heap_new(&f->opt, &err);
    if (!be) fprintf(stderr, "open: %s\n", err.msg);
    return be;
}

static int setup(void **state) {
    static int seq;
    fx *f = calloc(1, sizeof *f);
    f->kind = *(int *)*state;
    snprintf(f->dir, sizeof f->dir, "%s/weir_test_state_%d_%d", tmp_root(), (int)getpid(), seq++);
    rm_rf(f->dir);
    f->opt.dir = f->dir;
    f->opt.max_parallelism = 128;
    f->opt.key_groups = (weir_kg_range){0, 127};
    f->opt.clock = fake_clock;
    f->opt.clock_ud = f;
    f->opt.block_cache_bytes = 8u << 20;
    f->opt.write_buffer_bytes = 4u << 20;
    f->now = 1000000;
    f->be = open_be(f);
    if (!f->be) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    weir_state_backend_free(f->be);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static weir_state *reg(fx *f, const char *name, weir_state_kind kind, int64_t ttl) {
    weir_error err = {0};
    weir_state_desc d = {name, kind, ttl};
    weir_state *s = weir_state_register(f->be, &d, &err);
    if (!s) fprintf(stderr, "register %s: %s\n", name, err.msg);
    assert_non_null(s);
    return s;
}

static void key(fx *f, const char *k) {
    assert_int_equal(weir_state_set_current_key(f->be, k, strlen(k), -1), WEIR_OK);
}

static void assert_value(weir_state *s, const char *want) {
    const void *v;
    size_t n;
    weir_err e = weir_value_get(s, &v, &n);
    if (!want) {
        assert_int_equal(e, WEIR_ENOTFOUND);
        return;
    }
    assert_int_equal(e, WEIR_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
}

static void put(weir_state *s, const char *v) {
    assert_int_equal(weir_value_put(s, v, strlen(v)), WEIR_OK);
}

/* ---- value ---- */

static void test_value(void **state) {
    fx *f = *state;
    assert_string_equal(weir_state_backend_name(f->be), f->kind == ROCKS ? "rocksdb" : "heap");
    weir_state *s = reg(f, "v", WEIR_STATE_VALUE, 0);
    const void *v;
    size_t n;
    assert_int_equal(weir_value_get(s, &v, &n), WEIR_EINVAL); /* no current key */
    key(f, "alice");
    assert_value(s, NULL);
    put(s, "1");
    assert_value(s, "1");
    put(s, "a much longer value than before, to force a reallocation of the node");
    assert_value(s, "a much longer value than before, to force a reallocation of the node");
    key(f, "bob");
    assert_value(s, NULL);
    put(s, "");
    assert_value(s, "");
    key(f, "alice");
    assert_int_equal(weir_value_clear(s), WEIR_OK);
    assert_value(s, NULL);
    key(f, "bob");
    assert_value(s, "");
    /* same name → same state; other kind → error */
    assert_ptr_equal(reg(f, "v", WEIR_STATE_VALUE, 0), s);
    weir_error err = {0};
    weir_state_desc d = {"v", WEIR_STATE_MAP, 0};
    assert_null(weir_state_register(f->be, &d, &err));
    assert_int_equal(err.code, WEIR_EINVAL);
    /* kind-mismatched calls */
    assert_int_equal(weir_map_put(s, "a", 1, "b", 1), WEIR_EINVAL);
    assert_int_equal(weir_list_add(s, "a", 1), WEIR_EINVAL);
    /* many keys */
    char k[32], val[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        snprintf(val, sizeof val, "val-%d", i * 7);
        key(f, k);
        put(s, val);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(k, sizeof k, "key-%d", i);
        snprintf(val, sizeof val, "val-%d", i * 7);
        key(f, k);
        assert_value(s, val);
    }
}

/* ---- map ---- */

typedef struct collect {
    char buf[4096];
    size_t n;
    int count, stop_after;
} collect;

/* Clamps a snprintf result to the buffer (the text is only compared while it fits). */
static size_t clamp(size_t used, int wrote, size_t cap) {
    size_t n = used + (size_t)(wrote > 0 ? wrote : 0);
    return n < cap ? n : cap - 1;
}

static int map_visit(void *ud, const void *uk, size_t ukl, const void *v, size_t vl) {
    collect *c = ud;
    c->n = clamp(c->n,
                 snprintf(c->buf + c->n, sizeof c->buf - c->n, "%.*s=%.*s;", (int)ukl,
                          (const char *)uk, (int)vl, (const char *)v),
                 sizeof c->buf);
    return ++c->count == c->stop_after;
}

static void test_map(void **state) {
    fx *f = *state;
    weir_state *s = reg(f, "m", WEIR_STATE_MAP, 0);
    key(f, "k1");
    assert_int_equal(weir_map_put(s, "b", 1, "2", 1), WEIR_OK);
    assert_int_equal(weir_map_put(s, "a", 1, "1", 1), WEIR_OK);
    assert_int_equal(weir_map_put(s, "c", 1, "3", 1), WEIR_OK);
    assert_int_equal(weir_map_put(s, "b", 1, "22", 2), WEIR_OK);
    key(f, "k2");
    assert_int_equal(weir_map_put(s, "a", 1, "x", 1), WEIR_OK);
    key(f, "k1");
    const void *v;
    size_t n;
    assert_int_equal(weir_map_get(s, "b", 1, &v, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(v, "22", 2);
    assert_int_equal(weir_map_get(s, "z", 1, &v, &n), WEIR_ENOTFOUND);
    collect c = {0};
    assert_int_equal(weir_map_foreach(s, map_visit, &c), WEIR_OK);
    assert_string_equal(c.buf, "a=1;b=22;c=3;");
    collect c2 = {.stop_after = 2};
    assert_int_equal(weir_map_foreach(s, map_visit, &c2), WEIR_OK);
    assert_string_equal(c2.buf, "a=1;b=22;");
    assert_int_equal(weir_map_remove(s, "a", 1), WEIR_OK);
    assert_int_equal(weir_map_remove(s, "nope", 4), WEIR_OK);
    collect c3 = {0};
    weir_map_foreach(s, map_visit, &c3);
    assert_string_equal(c3.buf, "b=22;c=3;");
    assert_int_equal(weir_map_clear(s), WEIR_OK);
    collect c4 = {0};
    weir_map_foreach(s, map_visit, &c4);
    assert_string_equal(c4.buf, "");
    key(f, "k2");
    collect c5 = {0};
    weir_map_foreach(s, map_visit, &c5);
    assert_string_equal(c5.buf, "a=x;");
    /* a key that is a prefix of another must not see the other's entries */
    key(f, "k");
    collect c6 = {0};
    weir_map_foreach(s, map_visit, &c6);
    assert_string_equal(c6.buf, "");
}

/* ---- list ---- */

static int list_visit(void *ud, const void *v, size_t vl) {
    collect *c = ud;
    c->n = clamp(c->n,
                 snprintf(c->buf + c->n, sizeof c->buf - c->n, "%.*s;", (int)vl, (const char *)v),
                 sizeof c->buf);
    return ++c->count == c->stop_after;
}

static void test_list(void **state) {
    fx *f = *state;
    weir_state *s = reg(f, "l", WEIR_STATE_LIST, 0);
    key(f, "k1");
    weir_list_add(s, "x", 1);
    weir_list_add(s, "yy", 2);
    key(f, "k2");
    weir_list_add(s, "other", 5);
    key(f, "k1");
    weir_list_add(s, "", 0);
    weir_list_add(s, "z", 1);
    collect c = {0};
    assert_int_equal(weir_list_foreach(s, list_visit, &c), WEIR_OK);
    assert_string_equal(c.buf, "x;yy;;z;");
    assert_int_equal(weir_list_clear(s), WEIR_OK);
    collect c2 = {0};
    weir_list_foreach(s, list_visit, &c2);
    assert_string_equal(c2.buf, "");
    weir_list_add(s, "again", 5);
    collect c3 = {0};
    weir_list_foreach(s, list_visit, &c3);
    assert_string_equal(c3.buf, "again;");
    key(f, "k2");
    collect c4 = {0};
    weir_list_foreach(s, list_visit, &c4);
    assert_string_equal(c4.buf, "other;");
    /* long list */
    key(f, "long");
    for (int i = 0; i < 1000; i++)
        weir_list_add(s, "abcdefgh", 8);
    collect c5 = {0};
    weir_list_foreach(s, list_visit, &c5);
    assert_int_equal(c5.count, 1000);
}

/* ---- key groups ---- */

static void test_key_groups(void **state) {
    fx *f = *state;
    weir_state_backend_free(f->be);
    f->opt.key_groups = (weir_kg_range){0, 63};
    f->be = open_be(f);
    assert_non_null(f->be);
    weir_state *s = reg(f, "v", WEIR_STATE_VALUE, 0);
    assert_int_equal(weir_state_set_current_key(f->be, "x", 1, 100), WEIR_EINVAL);
    assert_int_equal(weir_value_put(s, "v", 1), WEIR_EINVAL); /* no current key any more */
    assert_int_equal(weir_state_set_current_key(f->be, "x", 1, 63), WEIR_OK);
    assert_int_equal(weir_state_set_current_key(f->be, "x", 1, 64), WEIR_EINVAL);
    /* a computed key group: find keys on both sides */
    char k[32];
    int owned = 0, foreign = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof k, "user-%d", i);
        int32_t kg = weir_key_group_of(k, strlen(k), 128);
        weir_err e = weir_state_set_current_key(f->be, k, strlen(k), -1);
        if (kg <= 63) {
            assert_int_equal(e, WEIR_OK);
            owned++;
        } else {
            assert_int_equal(e, WEIR_EINVAL);
            foreign++;
        }
        weir_state_key sk = {k, strlen(k), -1};
        weir_state_slice out;
        assert_int_equal(weir_value_multi_get(s, &sk, 1, &out), kg <= 63 ? WEIR_OK : WEIR_EINVAL);
    }
    assert_true(owned > 0 && foreign > 0);
    weir_state_key bad = {"x", 1, 99};
    weir_state_slice v = {"v", 1};
    assert_int_equal(weir_value_multi_put(s, &bad, &v, 1), WEIR_EINVAL);
    /* invalid ranges */
    weir_backend_options o = f->opt;
    o.key_groups = (weir_kg_range){0, 128};
    weir_error err = {0};
    assert_null(weir_state_backend_heap_new(&o, &err));
    assert_int_equal(err.code, WEIR_EINVAL);
}

/* ---- TTL ---- */

static void test_ttl_value(void **state) {
    fx *f = *state;
    weir_state *s = reg(f, "t", WEIR_STATE_VALUE, 1000);
    int64_t t0 = f->now;
    key(f, "a");
    put(s, "A");
    key(f, "b");
    put(s, "B");
    set_now(f, t0 + 999);
    assert_value(s, "B");
    key(f, "a");
    put(s, "A2"); /* refresh a at t0+999 */
    set_now(f, t0 + 1000);
    assert_value(s, "A2");
    key(f, "b");
    assert_value(s, NULL); /* ts + ttl <= now → expired */
    key(f, "a");
    set_now(f, t0 + 1998);
    assert_value(s, "A2");
    set_now(f, t0 + 1999);
    assert_value(s, NULL);
    /* reads do not refresh (Flink's default OnCreateAndWrite) */
    key(f, "c");
    put(s, "C");
    set_now(f, t0 + 2500);
    assert_value(s, "C");
    set_now(f, t0 + 2999);
    assert_value(s, NULL);
}

static void test_ttl_map_list(void **state) {
    fx *f = *state;
    weir_state *m = reg(f, "tm", WEIR_STATE_MAP, 100);
    weir_state *l = reg(f, "tl", WEIR_STATE_LIST, 100);
    int64_t t0 = f->now;
    key(f, "k");
    weir_map_put(m, "old", 3, "1", 1);
    weir_list_add(l, "old", 3);
    set_now(f, t0 + 50);
    weir_map_put(m, "new", 3, "2", 1);
    weir_list_add(l, "new", 3);
    set_now(f, t0 + 120);
    const void *v;
    size_t n;
    assert_int_equal(weir_map_get(m, "old", 3, &v, &n), WEIR_ENOTFOUND);
    assert_int_equal(weir_map_get(m, "new", 3, &v, &n), WEIR_OK);
    collect c = {0};
    weir_map_foreach(m, map_visit, &c);
    assert_string_equal(c.buf, "new=2;");
    collect c2 = {0};
    weir_list_foreach(l, list_visit, &c2);
    assert_string_equal(c2.buf, "new;");
    set_now(f, t0 + 150);
    collect c3 = {0}, c4 = {0};
    weir_map_foreach(m, map_visit, &c3);
    weir_list_foreach(l, list_visit, &c4);
    assert_string_equal(c3.buf, "");
    assert_string_equal(c4.buf, "");
}

static int count_visit(void *ud, const weir_state_entry *e) {
    (void)e;
    ++*(int *)ud;
    return 0;
}

static void test_ttl_cleanup(void **state) {
    fx *f = *state;
    weir_state *s = reg(f, "c", WEIR_STATE_VALUE, 100);
    weir_state *m = reg(f, "cm", WEIR_STATE_MAP, 100);
    weir_state *l = reg(f, "cl", WEIR_STATE_LIST, 100);
    int64_t t0 = f->now;
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "old-%d", i);
        key(f, k);
        put(s, "x");
        weir_map_put(m, "u", 1, "x", 1);
        weir_list_add(l, "x", 1);
    }
    set_now(f, t0 + 200);
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof k, "new-%d", i);
        key(f, k);
        put(s, "y");
        weir_map_put(m, "u", 1, "y", 1);
        weir_list_add(l, "y", 1);
    }
    key(f, "old-1");
    weir_list_add(l, "z", 1); /* one list keeps a live element next to an expired one */
    int live = 0;
    assert_int_equal(weir_state_foreach_entry(s, count_visit, &live), WEIR_OK);
    assert_int_equal(live, 10);                    /* expired never enumerated */
    assert_true(weir_state_approx_count(s) > 500); /* but still (mostly) physically there */
    if (f->kind == HEAP) {
        /* incremental cleanup: accesses advance the cursor over the table */
        const void *v;
        size_t n;
        key(f, "new-1");
        for (int i = 0; i < 3000; i++)
            weir_value_get(s, &v, &n);
        assert_int_equal(weir_state_approx_count(s), 10);
    }
    assert_int_equal(weir_state_compact(s), WEIR_OK);
    assert_int_equal(weir_state_compact(m), WEIR_OK);
    assert_int_equal(weir_state_compact(l), WEIR_OK);
    assert_int_equal(weir_state_approx_count(s), 10);
    assert_int_equal(weir_state_approx_count(m), 10);
    assert_int_equal(weir_state_approx_count(l), 11);
    key(f, "old-1");
    collect c = {0};
    weir_list_foreach(l, list_visit, &c);
    assert_string_equal(c.buf, "z;");
    key(f, "new-3");
    assert_value(s, "y");
}

/* ---- batch ---- */

static void test_multi(void **state) {
    fx *f = *state;
    weir_state *s = reg(f, "d", WEIR_STATE_VALUE, 0);
    enum { N = 600 };
    static char kbuf[N][24], vbuf[N][24];
    weir_state_key keys[N];
    weir_state_slice vals[N], out[N];
    for (int i = 0; i < N; i++) {
        snprintf(kbuf[i], sizeof kbuf[i], "event-%d", i);
        snprintf(vbuf[i], sizeof vbuf[i], "v%d", i);
        keys[i] = (weir_state_key){kbuf[i], strlen(kbuf[i]),
                                   i % 2 ? -1 : weir_key_group_of(kbuf[i], strlen(kbuf[i]), 128)};
        vals[i] = (weir_state_slice){vbuf[i], strlen(vbuf[i])};
    }
    assert_int_equal(weir_value_multi_put(s, keys, vals, N / 2), WEIR_OK);
    assert_int_equal(weir_value_multi_get(s, keys, N, out), WEIR_OK);
    for (int i = 0; i < N; i++) {
        if (i < N / 2) {
            assert_non_null(out[i].data);
            assert_int_equal(out[i].len, strlen(vbuf[i]));
            assert_memory_equal(out[i].data, vbuf[i], out[i].len);
        } else {
            assert_null(out[i].data);
        }
    }
    key(f, "event-7"); /* visible through the per-key API */
    assert_value(s, "v7");
    put(s, "changed");
    assert_int_equal(weir_value_multi_get(s, keys + 7, 1, out), WEIR_OK);
    assert_memory_equal(out[0].data, "changed", 7);
    /* TTL through the batch API */
    weir_state *t = reg(f, "dt", WEIR_STATE_VALUE, 10);
    assert_int_equal(weir_value_multi_put(t, keys, vals, 2), WEIR_OK);
    assert_int_equal(weir_value_multi_get(t, keys, 2, out), WEIR_OK);
    assert_non_null(out[1].data);
    assert_memory_equal(out[1].data, "v1", 2);
    set_now(f, f->now + 10);
    assert_int_equal(weir_value_multi_get(t, keys, 2, out), WEIR_OK);
    assert_null(out[0].data);
    assert_null(out[1].data);
    assert_int_equal(weir_value_multi_get(s, keys, 0, out), WEIR_OK);
}

/* The RocksDB backend writes buffered value puts as one sorted SST file per flush (its radix
 * sort, then a comparison sort for small buckets and for keys that share their first 16 bytes);
 * RocksDB refuses a file whose keys are out of order. 5000 keys of three shapes in three key
 * groups (buckets of hundreds, so the radix sort recurses): random event ids, keys sharing a
 * 24-byte prefix, short keys of different lengths. All come back, in key order (key group,
 * length, bytes), with their values. */
typedef struct ordered_keys {
    int count, ordered;
    int32_t kg;
    size_t len;
    char key[64];
} ordered_keys;

static int order_visit(void *ud, const weir_state_entry *e) {
    ordered_keys *o = ud;
    if (o->count && !(e->key_group > o->kg ||
                      (e->key_group == o->kg &&
                       (e->key_len > o->len ||
                        (e->key_len == o->len && memcmp(e->key, o->key, e->key_len) > 0)))))
        o->ordered = 0;
    o->kg = e->key_group;
    o->len = e->key_len < sizeof o->key ? e->key_len : sizeof o->key;
    memcpy(o->key, e->key, o->len);
    o->count++;
    return 0;
}

static void test_flush_sorts_many_keys(void **state) {
    fx *f = *state;
    weir_state *s = reg(f, "ids", WEIR_STATE_VALUE, 0);
    enum { N = 5000, B = 500 };
    static char kbuf[N][40], vbuf[N][16];
    static weir_state_key keys[N];
    static weir_state_slice vals[N], out[N];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        if (i < 3000) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            snprintf(kbuf[i], sizeof kbuf[i], "%08x-%04x-%04x-%016llx", (unsigned)(x >> 32),
                     (unsigned)(x >> 16) & 0xffff, (unsigned)x & 0xffff,
                     (unsigned long long)(x * 0x9E3779B97F4A7C15ULL));
        } else if (i < 4000) {
            snprintf(kbuf[i], sizeof kbuf[i], "shared-prefix-0123456789-%06d", (i * 7919) % 1000);
        } else {
            snprintf(kbuf[i], sizeof kbuf[i], "k%d", i * 31);
        }
        snprintf(vbuf[i], sizeof vbuf[i], "v%d", i);
        size_t kl = strlen(kbuf[i]);
        keys[i] = (weir_state_key){kbuf[i], kl, i % 3}; /* ~1700 keys per key group */
        vals[i] = (weir_state_slice){vbuf[i], strlen(vbuf[i])};
    }
    for (int i = 0; i < N; i += B)
        assert_int_equal(weir_value_multi_put(s, keys + i, vals + i, B), WEIR_OK);
    ordered_keys o = {.ordered = 1};
    assert_int_equal(weir_state_foreach_entry(s, order_visit, &o), WEIR_OK); /* flushes */
    assert_int_equal(o.count, N);
    if (f->kind == rocks_kind) assert_true(o.ordered);
    assert_int_equal(weir_value_multi_get(s, keys, N, out), WEIR_OK);
    for (int i = 0; i < N; i++) {
        assert_non_null(out[i].data);
        assert_int_equal(out[i].len, strlen(vbuf[i]));
        assert_memory_equal(out[i].data, vbuf[i], out[i].len);
    }
}

/* ---- enumeration ---- */

typedef struct entries {
    char buf[1 << 16];
    size_t n;
    int32_t last_kg;
    int ordered, count;
} entries;

static int entry_visit(void *ud, const weir_state_entry *e) {
    entries *c = ud;
    if (e->key_group < c->last_kg) c->ordered = 0;
    c->last_kg = e->key_group;
    c->count++;
    c->n = clamp(c->n,
                 snprintf(c->buf + c->n, sizeof c->buf - c->n, "%d:%.*s:%.*s=%.*s@%lld;",
                          e->key_group, (int)e->key_len, (const char *)e->key, (int)e->uk_len,
                          e->uk ? (const char *)e->uk : "", (int)e->val_len, (const char *)e->val,
                          (long long)e->expires_at_ms),
                 sizeof c->buf);
    return 0;
}

/* Fills value, map and list states of @p f with the same content and returns the listing. */
static void fill_and_list(fx *f, entries *out) {
    weir_state *v = reg(f, "ev", WEIR_STATE_VALUE, 0);
    weir_state *m = reg(f, "em", WEIR_STATE_MAP, 5000);
    weir_state *l = reg(f, "el", WEIR_STATE_LIST, 0);
    char k[32];
    for (int i = 0; i < 60; i++) {
        snprintf(k, sizeof k, "k%d", (i * 37) % 60);
        key(f, k);
        put(v, k);
        weir_map_put(m, "b", 1, k, strlen(k));
        weir_map_put(m, "a", 1, "1", 1);
        weir_list_add(l, k, strlen(k));
        weir_list_add(l, "2", 1);
    }
    memset(out, 0, sizeof *out);
    out->ordered = 1;
    assert_int_equal(weir_state_foreach_entry(v, entry_visit, out), WEIR_OK);
    assert_int_equal(out->count, 60);
    assert_int_equal(weir_state_foreach_entry(m, entry_visit, out), WEIR_OK);
    assert_int_equal(out->count, 180);
    out->last_kg = 0;
    assert_int_equal(weir_state_foreach_entry(l, entry_visit, out), WEIR_OK);
    assert_int_equal(out->count, 240);
}

static void test_foreach_entry_same_on_both(void **state) {
    fx *f = *state; /* heap (prestate) */
    static entries a, b;
    fill_and_list(f, &a);
    assert_true(a.ordered == 0); /* value listing then map listing restarts at low key groups */
    int kind = ROCKS;
    void *gs = &kind;
    assert_int_equal(setup(&gs), 0);
    fx *g = gs;
    set_now(g, f->now);
    fill_and_list(g, &b);
    assert_string_equal(a.buf, b.buf); /* identical order and content on both backends */
    teardown(&gs);
    /* within one state the order is by key group */
    weir_state *v = reg(f, "ev", WEIR_STATE_VALUE, 0);
    entries c = {.ordered = 1};
    weir_state_foreach_entry(v, entry_visit, &c);
    assert_true(c.ordered);
}

/* ---- RocksDB only ---- */

static void test_reopen(void **state) {
    fx *f = *state;
    if (f->kind != ROCKS) skip();
    weir_state *v = reg(f, "v", WEIR_STATE_VALUE, 0);
    weir_state *m = reg(f, "m", WEIR_STATE_MAP, 0);
    weir_state *l = reg(f, "l", WEIR_STATE_LIST, 60000);
    key(f, "k");
    put(v, "persisted");
    weir_map_put(m, "u", 1, "mv", 2);
    weir_list_add(l, "e1", 2);
    weir_list_add(l, "e2", 2);
    weir_state_backend_free(f->be);
    f->be = open_be(f);
    assert_non_null(f->be);
    weir_error err = {0};
    weir_state_desc bad = {"v", WEIR_STATE_LIST, 0};
    assert_null(weir_state_register(f->be, &bad, &err)); /* kind stored in the directory */
    assert_int_equal(err.code, WEIR_EINVAL);
    v = reg(f, "v", WEIR_STATE_VALUE, 0);
    m = reg(f, "m", WEIR_STATE_MAP, 0);
    l = reg(f, "l", WEIR_STATE_LIST, 60000);
    key(f, "k");
    assert_value(v, "persisted");
    const void *p;
    size_t n;
    assert_int_equal(weir_map_get(m, "u", 1, &p, &n), WEIR_OK);
    assert_memory_equal(p, "mv", 2);
    collect c = {0};
    weir_list_foreach(l, list_visit, &c);
    assert_string_equal(c.buf, "e1;e2;");
    weir_list_add(l, "e3", 2);
    collect c2 = {0};
    weir_list_foreach(l, list_visit, &c2);
    assert_string_equal(c2.buf, "e1;e2;e3;");
}

/* discard_on_close (a job's working directory): values are read back while the backend is open,
 * and the writes still buffered at close are not written out, so a later open of the directory
 * does not see them; the directory stays a valid database. */
static void test_discard_on_close(void **state) {
    fx *f = *state;
    if (f->kind != ROCKS) skip();
    weir_state_backend_free(f->be);
    f->opt.discard_on_close = 1;
    f->be = open_be(f);
    assert_non_null(f->be);
    weir_state *v = reg(f, "v", WEIR_STATE_VALUE, 0);
    key(f, "k");
    put(v, "buffered");
    assert_value(v, "buffered");
    weir_state_backend_free(f->be);
    f->opt.discard_on_close = 0;
    f->be = open_be(f);
    assert_non_null(f->be);
    v = reg(f, "v", WEIR_STATE_VALUE, 0);
    key(f, "k");
    const void *p;
    size_t n;
    assert_int_equal(weir_value_get(v, &p, &n), WEIR_ENOTFOUND);
}

static void test_unwritable_dir(void **state) {
    fx *f = *state;
    if (f->kind != ROCKS) skip();
    char file[600], dir[700];
    snprintf(file, sizeof file, "%s/weir_test_state_file_%d", tmp_root(), (int)getpid());
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(dir, sizeof dir, "%s/sub", file); /* a directory below a regular file */
    weir_backend_options o = f->opt;
    o.dir = dir;
    weir_error err = {0};
    assert_null(weir_state_backend_rocksdb_new(&o, &err));
    assert_int_equal(err.code, WEIR_EIO);
    assert_non_null(strstr(err.msg, dir));
    unlink(file);
    o.dir = NULL;
    assert_null(weir_state_backend_rocksdb_new(&o, &err));
    assert_int_equal(err.code, WEIR_EINVAL);
}

#define BOTH(fn)                                                                                   \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &heap_kind),                     \
        cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &rocks_kind)

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_value),
        BOTH(test_map),
        BOTH(test_list),
        BOTH(test_key_groups),
        BOTH(test_ttl_value),
        BOTH(test_ttl_map_list),
        BOTH(test_ttl_cleanup),
        BOTH(test_multi),
        BOTH(test_flush_sorts_many_keys),
        cmocka_unit_test_prestate_setup_teardown(test_foreach_entry_same_on_both, setup, teardown,
                                                 &heap_kind),
        cmocka_unit_test_prestate_setup_teardown(test_reopen, setup, teardown, &rocks_kind),
        cmocka_unit_test_prestate_setup_teardown(test_discard_on_close, setup, teardown,
                                                 &rocks_kind),
        cmocka_unit_test_prestate_setup_teardown(test_unwritable_dir, setup, teardown, &rocks_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
