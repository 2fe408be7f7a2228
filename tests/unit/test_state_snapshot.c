/*
 * test_state_snapshot.c - keyed-state snapshots and restore (weir/state.h, "snapshots and
 * restore"): round trips of value/map/list state with and without TTL between every pair of
 * backends in both formats, rescaling (4 subtasks → 1 and → 8), exact TTL expiry after restore,
 * corrupt snapshots, the RocksDB write buffer in native snapshots, SST files shared between
 * consecutive RocksDB checkpoints, weir_snapshot_foreach and the errors of the API.
 * Every expected value is what the test itself wrote. A fake clock drives TTL. Directories live
 * under $WEIR_TEST_TMP (default /tmp) and are removed afterwards.
 *
 * Benchmark (not a test): WEIR_SNAPSHOT_BENCH_MB=<MiB> runs weir_snapshot_bench() for both
 * backends and formats and prints the timings.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/state_internal.h"
#include "weir/fs.h"
#include "weir/state.h"

enum { HEAP = 0, ROCKS = 1 };

/* ---- fixture: a root directory and a fake clock shared by every backend of a test ---- */

typedef struct fx {
    char root[512];
    int64_t now;
    int seq;
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

static int setup(void **state) {
    static int n;
    fx *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "%s/weir_test_snap_%d_%d", tmp_root(), (int)getpid(), n++);
    weir_rmtree(f->root);
    if (weir_mkdirs(f->root)) return -1;
    f->now = 10000000;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    weir_rmtree(f->root);
    free(f);
    return 0;
}

/* A fresh path below the root. */
static const char *path(fx *f, const char *what, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s-%d", f->root, what, f->seq++);
    return out;
}

static weir_state_backend *new_be(fx *f, int kind, weir_kg_range kg) {
    char dir[600];
    weir_backend_options o = {0};
    o.dir = path(f, "db", dir, sizeof dir);
    o.key_groups = kg;
    o.max_parallelism = 128;
    o.clock = fake_clock;
    o.clock_ud = f;
    o.block_cache_bytes = 4u << 20;
    o.write_buffer_bytes = 4u << 20;
    weir_error err = {0};
    weir_state_backend *be = kind == ROCKS ? weir_state_backend_rocksdb_new(&o, &err)
                                           : weir_state_backend_heap_new(&o, &err);
    if (!be) fprintf(stderr, "open: %s\n", err.msg);
    assert_non_null(be);
    return be;
}

static const weir_kg_range ALL = {0, 127};

static weir_state *reg(weir_state_backend *be, const char *name, weir_state_kind kind,
                       int64_t ttl) {
    weir_error err = {0};
    weir_state_desc d = {name, kind, ttl};
    weir_state *s = weir_state_register(be, &d, &err);
    if (!s) fprintf(stderr, "register %s: %s\n", name, err.msg);
    assert_non_null(s);
    return s;
}

static void key(weir_state_backend *be, const char *k) {
    assert_int_equal(weir_state_set_current_key(be, k, strlen(k), -1), WEIR_OK);
}

static void put(weir_state *s, const char *v) {
    assert_int_equal(weir_value_put(s, v, strlen(v)), WEIR_OK);
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

static void assert_map(weir_state *s, const char *uk, const char *want) {
    const void *v;
    size_t n;
    weir_err e = weir_map_get(s, uk, strlen(uk), &v, &n);
    if (!want) {
        assert_int_equal(e, WEIR_ENOTFOUND);
        return;
    }
    assert_int_equal(e, WEIR_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
}

typedef struct collect {
    char buf[8192];
    size_t n;
    int count;
} collect;

static int list_visit(void *ud, const void *v, size_t vl) {
    collect *c = ud;
    int w = snprintf(c->buf + c->n, sizeof c->buf - c->n, "%.*s;", (int)vl, (const char *)v);
    if (w > 0 && (size_t)w < sizeof c->buf - c->n) c->n += (size_t)w;
    c->count++;
    return 0;
}

static void assert_list(weir_state *s, const char *want) {
    collect c = {0};
    assert_int_equal(weir_list_foreach(s, list_visit, &c), WEIR_OK);
    assert_string_equal(c.buf, want);
}

static int count_visit(void *ud, const weir_state_entry *e) {
    (void)e;
    ++*(long *)ud;
    return 0;
}

static long count_entries(weir_state *s) {
    long n = 0;
    assert_int_equal(weir_state_foreach_entry(s, count_visit, &n), WEIR_OK);
    return n;
}

static uint64_t snapshot(weir_state_backend *be, const char *dir, weir_snapshot_format fmt) {
    weir_error err = {0};
    uint64_t bytes = 0;
    weir_err r = weir_state_backend_snapshot(be, dir, fmt, &bytes, &err);
    if (r) fprintf(stderr, "snapshot: %s\n", err.msg);
    assert_int_equal(r, WEIR_OK);
    assert_true(bytes > 0);
    return bytes;
}

static void restore(weir_state_backend *be, const char *dir) {
    weir_error err = {0};
    weir_err r = weir_state_backend_restore(be, dir, &err);
    if (r) fprintf(stderr, "restore: %s\n", err.msg);
    assert_int_equal(r, WEIR_OK);
}

/* ---- round trips: every backend pair, both formats ---- */

typedef struct combo {
    int src, dst;
    weir_snapshot_format fmt;
} combo;

#define TTL 10000

/*
 * Writes, at t0 = f->now:
 *   v   value, no TTL: v-<i> = "val-<i>" for i < 300, v-7 cleared, v-8 overwritten "eight"
 *   vt  value, TTL:    "early" at t0-5000, "late" at t0, "dead" at t0-TTL (expired at t0)
 *   m   map, no TTL:   mk-<i> → {a: "A<i>", b: "B<i>"} for i < 50, mk-3's "a" removed
 *   mt  map, TTL:      mk → {early: "1" at t0-5000, late: "2" at t0, dead: "0" at t0-TTL}
 *   l   list, no TTL:  lk-<i> → [x<i>, y<i>, ""] for i < 40
 *   lt  list, TTL:     lk → [dead at t0-TTL, early at t0-5000, late at t0]; gone: [dead]
 * and leaves the clock at t0.
 */
static void fill(fx *f, weir_state_backend *be) {
    int64_t t0 = f->now;
    weir_state *v = reg(be, "v", WEIR_STATE_VALUE, 0);
    weir_state *vt = reg(be, "vt", WEIR_STATE_VALUE, TTL);
    weir_state *m = reg(be, "m", WEIR_STATE_MAP, 0);
    weir_state *mt = reg(be, "mt", WEIR_STATE_MAP, TTL);
    weir_state *l = reg(be, "l", WEIR_STATE_LIST, 0);
    weir_state *lt = reg(be, "lt", WEIR_STATE_LIST, TTL);
    char k[32], val[32];
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "v-%d", i);
        snprintf(val, sizeof val, "val-%d", i);
        key(be, k);
        put(v, val);
    }
    key(be, "v-7");
    assert_int_equal(weir_value_clear(v), WEIR_OK);
    key(be, "v-8");
    put(v, "eight");
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "mk-%d", i);
        key(be, k);
        snprintf(val, sizeof val, "A%d", i);
        assert_int_equal(weir_map_put(m, "a", 1, val, strlen(val)), WEIR_OK);
        snprintf(val, sizeof val, "B%d", i);
        assert_int_equal(weir_map_put(m, "b", 1, val, strlen(val)), WEIR_OK);
    }
    key(be, "mk-3");
    assert_int_equal(weir_map_remove(m, "a", 1), WEIR_OK);
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof k, "lk-%d", i);
        key(be, k);
        snprintf(val, sizeof val, "x%d", i);
        assert_int_equal(weir_list_add(l, val, strlen(val)), WEIR_OK);
        snprintf(val, sizeof val, "y%d", i);
        assert_int_equal(weir_list_add(l, val, strlen(val)), WEIR_OK);
        assert_int_equal(weir_list_add(l, "", 0), WEIR_OK);
    }
    set_now(f, t0 - TTL);
    key(be, "dead");
    put(vt, "D");
    key(be, "mk");
    assert_int_equal(weir_map_put(mt, "dead", 4, "0", 1), WEIR_OK);
    key(be, "lk");
    assert_int_equal(weir_list_add(lt, "dead", 4), WEIR_OK);
    key(be, "gone");
    assert_int_equal(weir_list_add(lt, "dead", 4), WEIR_OK);
    set_now(f, t0 - 5000);
    key(be, "early");
    put(vt, "E");
    key(be, "mk");
    assert_int_equal(weir_map_put(mt, "early", 5, "1", 1), WEIR_OK);
    key(be, "lk");
    assert_int_equal(weir_list_add(lt, "early", 5), WEIR_OK);
    set_now(f, t0);
    key(be, "late");
    put(vt, "L");
    key(be, "mk");
    assert_int_equal(weir_map_put(mt, "late", 4, "2", 1), WEIR_OK);
    key(be, "lk");
    assert_int_equal(weir_list_add(lt, "late", 4), WEIR_OK);
}

/* Checks what fill() wrote, at clock t0 (f->now), then the expiries at t0+4999 / t0+5000 and
 * t0+9999 / t0+10000. Moves the clock. */
static void check(fx *f, weir_state_backend *be) {
    int64_t t0 = f->now;
    weir_state *v = reg(be, "v", WEIR_STATE_VALUE, 0); /* already registered by the restore */
    weir_state *vt = reg(be, "vt", WEIR_STATE_VALUE, TTL);
    weir_state *m = reg(be, "m", WEIR_STATE_MAP, 0);
    weir_state *mt = reg(be, "mt", WEIR_STATE_MAP, TTL);
    weir_state *l = reg(be, "l", WEIR_STATE_LIST, 0);
    weir_state *lt = reg(be, "lt", WEIR_STATE_LIST, TTL);
    assert_int_equal(weir_state_backend_state_count(be), 6);
    char k[32], val[32];
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "v-%d", i);
        snprintf(val, sizeof val, "val-%d", i);
        key(be, k);
        assert_value(v, i == 7 ? NULL : i == 8 ? "eight" : val);
    }
    key(be, "v-300");
    assert_value(v, NULL);
    assert_int_equal(count_entries(v), 299);
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "mk-%d", i);
        key(be, k);
        snprintf(val, sizeof val, "A%d", i);
        assert_map(m, "a", i == 3 ? NULL : val);
        snprintf(val, sizeof val, "B%d", i);
        assert_map(m, "b", val);
    }
    assert_int_equal(count_entries(m), 99);
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof k, "lk-%d", i);
        key(be, k);
        char want[64];
        snprintf(want, sizeof want, "x%d;y%d;;", i, i);
        assert_list(l, want);
    }
    assert_int_equal(count_entries(l), 40);
    /* TTL at t0: what was expired at snapshot time stays expired */
    key(be, "dead");
    assert_value(vt, NULL);
    key(be, "early");
    assert_value(vt, "E");
    key(be, "late");
    assert_value(vt, "L");
    key(be, "mk");
    assert_map(mt, "dead", NULL);
    assert_map(mt, "early", "1");
    assert_map(mt, "late", "2");
    key(be, "lk");
    assert_list(lt, "early;late;");
    key(be, "gone");
    assert_list(lt, "");
    assert_int_equal(count_entries(vt), 2);
    assert_int_equal(count_entries(mt), 2);
    assert_int_equal(count_entries(lt), 1);
    /* the restored timestamps give exactly the original expiries */
    set_now(f, t0 + 4999);
    key(be, "early");
    assert_value(vt, "E");
    key(be, "mk");
    assert_map(mt, "early", "1");
    key(be, "lk");
    assert_list(lt, "early;late;");
    set_now(f, t0 + 5000);
    key(be, "early");
    assert_value(vt, NULL);
    key(be, "mk");
    assert_map(mt, "early", NULL);
    assert_map(mt, "late", "2");
    key(be, "lk");
    assert_list(lt, "late;");
    set_now(f, t0 + 9999);
    key(be, "late");
    assert_value(vt, "L");
    set_now(f, t0 + 10000);
    assert_value(vt, NULL);
    key(be, "mk");
    assert_map(mt, "late", NULL);
    key(be, "lk");
    assert_list(lt, "");
    set_now(f, t0);
    /* other kind or TTL under a restored name: refused */
    weir_error err = {0};
    weir_state_desc bad = {"v", WEIR_STATE_MAP, 0};
    assert_null(weir_state_register(be, &bad, &err));
    assert_int_equal(err.code, WEIR_EINVAL);
}

static void test_roundtrip(void **state) {
    fx *f = *state;
    const combo *c = (const combo *)state[1];
    weir_state_backend *src = new_be(f, c->src, ALL);
    fill(f, src);
    char snap[600];
    path(f, "snap", snap, sizeof snap);
    snapshot(src, snap, c->fmt);
    /* the snapshot is independent of what the source does afterwards */
    weir_state *v = reg(src, "v", WEIR_STATE_VALUE, 0);
    key(src, "v-1");
    put(v, "changed after the snapshot");
    key(src, "v-1000");
    put(v, "new after the snapshot");
    weir_state_backend *dst = new_be(f, c->dst, ALL);
    restore(dst, snap);
    check(f, dst);
    /* the restored backend is fully usable: write, then snapshot and restore once more */
    weir_state *dv = reg(dst, "v", WEIR_STATE_VALUE, 0);
    key(dst, "v-7");
    assert_value(dv, NULL);
    put(dv, "seven");
    assert_value(dv, "seven");
    weir_state *dl = reg(dst, "l", WEIR_STATE_LIST, 0); /* appending to a restored list */
    key(dst, "lk-0");
    assert_int_equal(weir_list_add(dl, "z", 1), WEIR_OK);
    assert_list(dl, "x0;y0;;z;");
    weir_state *dm = reg(dst, "m", WEIR_STATE_MAP, 0); /* writing over a restored map entry */
    key(dst, "mk-0");
    assert_int_equal(weir_map_put(dm, "b", 1, "new", 3), WEIR_OK);
    assert_map(dm, "b", "new");
    assert_map(dm, "a", "A0");
    char snap2[600];
    path(f, "snap", snap2, sizeof snap2);
    snapshot(dst, snap2, c->fmt);
    weir_state_backend *dst2 = new_be(f, c->src, ALL);
    restore(dst2, snap2);
    weir_state *v2 = reg(dst2, "v", WEIR_STATE_VALUE, 0);
    key(dst2, "v-7");
    assert_value(v2, "seven");
    key(dst2, "v-1");
    assert_value(v2, "val-1");
    key(dst2, "v-1000");
    assert_value(v2, NULL);
    assert_int_equal(count_entries(v2), 300);
    weir_state_backend_free(dst2);
    weir_state_backend_free(dst);
    weir_state_backend_free(src);
}

/* ---- rescaling ---- */

#define NKEYS 3000

static void rkey(int i, char *k, size_t cap) {
    snprintf(k, cap, "user-%d", i);
}

/* Checks that @p be holds exactly the keys it owns among user-0..NKEYS-1, with their values. */
static long check_owned(weir_state_backend *be, weir_kg_range kg) {
    weir_state *v = reg(be, "v", WEIR_STATE_VALUE, TTL);
    weir_state *m = reg(be, "m", WEIR_STATE_MAP, 0);
    weir_state *l = reg(be, "l", WEIR_STATE_LIST, 0);
    char k[32], want[64];
    long owned = 0;
    for (int i = 0; i < NKEYS; i++) {
        rkey(i, k, sizeof k);
        int32_t g = weir_key_group_of(k, strlen(k), 128);
        if (g < kg.start || g > kg.end) continue;
        owned++;
        key(be, k);
        snprintf(want, sizeof want, "value-%d", i);
        assert_value(v, want);
        snprintf(want, sizeof want, "m%d", i);
        assert_map(m, "u", want);
        snprintf(want, sizeof want, "a%d;b%d;", i, i);
        assert_list(l, want);
    }
    /* nothing else: the counts equal the owned keys (each present once) */
    assert_int_equal(count_entries(v), owned);
    assert_int_equal(count_entries(m), owned);
    assert_int_equal(count_entries(l), owned);
    return owned;
}

static void test_rescale(void **state) {
    fx *f = *state;
    const combo *c = (const combo *)state[1];
    weir_state_backend *old[4];
    char snaps[4][600];
    for (int s = 0; s < 4; s++) {
        old[s] = new_be(f, c->src, weir_key_group_range(s, 4, 128));
        reg(old[s], "v", WEIR_STATE_VALUE, TTL);
        reg(old[s], "m", WEIR_STATE_MAP, 0);
        reg(old[s], "l", WEIR_STATE_LIST, 0);
    }
    char k[32], val[32];
    for (int i = 0; i < NKEYS; i++) {
        rkey(i, k, sizeof k);
        int32_t g = weir_key_group_of(k, strlen(k), 128);
        weir_state_backend *be = old[weir_subtask_for_key_group(g, 4, 128)];
        key(be, k);
        snprintf(val, sizeof val, "value-%d", i);
        put(be->states[0], val);
        snprintf(val, sizeof val, "m%d", i);
        assert_int_equal(weir_map_put(be->states[1], "u", 1, val, strlen(val)), WEIR_OK);
        snprintf(val, sizeof val, "a%d", i);
        assert_int_equal(weir_list_add(be->states[2], val, strlen(val)), WEIR_OK);
        snprintf(val, sizeof val, "b%d", i);
        assert_int_equal(weir_list_add(be->states[2], val, strlen(val)), WEIR_OK);
    }
    for (int s = 0; s < 4; s++) {
        snapshot(old[s], path(f, "snap", snaps[s], sizeof snaps[s]), c->fmt);
        weir_state_backend_free(old[s]);
    }
    /* scale in to 1 */
    weir_state_backend *one = new_be(f, c->dst, ALL);
    for (int s = 0; s < 4; s++)
        restore(one, snaps[s]);
    assert_int_equal(check_owned(one, ALL), NKEYS);
    weir_state_backend_free(one);
    /* scale out to 8: each new subtask restores the old snapshots overlapping its range (and
     * subtask 0 all four, to show that foreign key groups are dropped) */
    long total = 0;
    for (int n = 0; n < 8; n++) {
        weir_kg_range kg = weir_key_group_range(n, 8, 128);
        weir_state_backend *be = new_be(f, c->dst, kg);
        for (int s = 0; s < 4; s++) {
            weir_kg_range o = weir_key_group_range(s, 4, 128);
            if (n == 0 || (o.start <= kg.end && kg.start <= o.end)) restore(be, snaps[s]);
        }
        total += check_owned(be, kg);
        weir_state_backend_free(be);
    }
    assert_int_equal(total, NKEYS);
}

/* ---- RocksDB specifics ---- */

/* The write buffer (value states) is not yet in RocksDB when the snapshot starts. */
static void test_rocks_buffer_in_snapshot(void **state) {
    fx *f = *state;
    weir_state_backend *be = new_be(f, ROCKS, ALL);
    weir_state *v = reg(be, "v", WEIR_STATE_VALUE, 0);
    char k[32], val[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        key(be, k);
        put(v, val);
    }
    key(be, "k5");
    assert_int_equal(weir_value_clear(v), WEIR_OK); /* a buffered delete */
    /* keys alike in their first 16 bytes (the flush sorts by them first), in random order */
    weir_state *lv = reg(be, "long", WEIR_STATE_VALUE, 0);
    for (int i = 0; i < 3000; i++) {
        int j = (i * 7919) % 3000;
        snprintf(k, sizeof k, "a-long-common-prefix-%d", j);
        snprintf(val, sizeof val, "%d", j);
        key(be, k);
        put(lv, val);
    }
    char snap[600];
    path(f, "snap", snap, sizeof snap);
    snapshot(be, snap, WEIR_SNAPSHOT_NATIVE);
    char db[700];
    snprintf(db, sizeof db, "%s/db", snap);
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    /* the Bloom filter still knows every key: reads after the flush find them */
    for (int i = 0; i < 1000; i += 37) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        key(be, k);
        assert_value(v, i == 5 ? NULL : val);
    }
    key(be, "k1000");
    assert_value(v, NULL);
    weir_state_backend_free(be);
    /* the snapshot alone (without a backend) holds the 999 entries */
    weir_state_backend *h = new_be(f, HEAP, ALL);
    restore(h, snap);
    weir_state *hv = reg(h, "v", WEIR_STATE_VALUE, 0);
    assert_int_equal(count_entries(hv), 999);
    key(h, "k999");
    assert_value(hv, "v999");
    key(h, "k5");
    assert_value(hv, NULL);
    weir_state *hl = reg(h, "long", WEIR_STATE_VALUE, 0);
    assert_int_equal(count_entries(hl), 3000);
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "a-long-common-prefix-%d", i);
        snprintf(val, sizeof val, "%d", i);
        key(h, k);
        assert_value(hl, val);
    }
    weir_state_backend_free(h);
}

typedef struct sst {
    char name[256];
    ino_t ino;
} sst;

static int list_ssts(const char *dir, sst *out, int cap) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".sst") || n == cap) continue;
        char p[1200];
        assert_true(snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < (int)sizeof p);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        snprintf(out[n].name, sizeof out[n].name, "%s", de->d_name);
        out[n++].ino = st.st_ino;
    }
    closedir(d);
    return n;
}

static int shared(const sst *a, int na, const sst *b, int nb) {
    int n = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (!strcmp(a[i].name, b[j].name) && a[i].ino == b[j].ino) n++;
    return n;
}

static void test_rocks_incremental(void **state) {
    fx *f = *state;
    weir_state_backend *be = new_be(f, ROCKS, ALL);
    weir_state *v = reg(be, "v", WEIR_STATE_VALUE, 0);
    weir_state *m = reg(be, "m", WEIR_STATE_MAP, 0);
    char k[32];
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof k, "k%d", i);
        key(be, k);
        put(v, k);
        assert_int_equal(weir_map_put(m, "u", 1, k, strlen(k)), WEIR_OK);
    }
    char s1[600], s2[600], s3[600], d1[700], d2[700], d3[700];
    snapshot(be, path(f, "snap", s1, sizeof s1), WEIR_SNAPSHOT_NATIVE);
    snapshot(be, path(f, "snap", s2, sizeof s2), WEIR_SNAPSHOT_NATIVE);
    snprintf(d1, sizeof d1, "%s/db", s1);
    snprintf(d2, sizeof d2, "%s/db", s2);
    sst a[64], b[64], c[64];
    int na = list_ssts(d1, a, 64), nb = list_ssts(d2, b, 64);
    assert_true(na >= 2); /* the ingested buffer of v and the flushed memtable of m */
    assert_int_equal(nb, na);
    assert_int_equal(shared(a, na, b, nb), na); /* every file is the same inode */
    /* new writes: the old files stay shared, new ones appear */
    key(be, "another");
    put(v, "x");
    snapshot(be, path(f, "snap", s3, sizeof s3), WEIR_SNAPSHOT_NATIVE);
    snprintf(d3, sizeof d3, "%s/db", s3);
    int nc = list_ssts(d3, c, 64);
    assert_true(nc > na);
    assert_int_equal(shared(a, na, c, nc), na);
    weir_state_backend_free(be);
}

/* ---- weir_snapshot_foreach ---- */

typedef struct seen {
    int value, map, list, other;
    int64_t exp_late;
    char list_val[64];
} seen;

static int snap_visit(void *ud, const weir_snapshot_state_info *st, const weir_state_entry *e) {
    seen *s = ud;
    if (!strcmp(st->name, "v") && st->kind == WEIR_STATE_VALUE && st->ttl_ms == 0) {
        assert_null(e->uk);
        assert_int_equal(e->expires_at_ms, 0);
        s->value++;
    } else if (!strcmp(st->name, "vt") && st->ttl_ms == TTL) {
        if (e->key_len == 4 && !memcmp(e->key, "late", 4)) s->exp_late = e->expires_at_ms;
        assert_int_equal(e->key_group, weir_key_group_of(e->key, e->key_len, 128));
    } else if (!strcmp(st->name, "m") && st->kind == WEIR_STATE_MAP) {
        assert_non_null(e->uk);
        s->map++;
    } else if (!strcmp(st->name, "l") && st->kind == WEIR_STATE_LIST) {
        if (e->key_len == 4 && !memcmp(e->key, "lk-0", 4)) {
            /* the serialized list: element = varint(len) | payload (no TTL) */
            assert_true(e->val_len < sizeof s->list_val);
            memcpy(s->list_val, e->val, e->val_len);
        }
        s->list++;
    } else {
        s->other++;
    }
    return 0;
}

static void test_foreach(void **state) {
    fx *f = *state;
    for (int kind = HEAP; kind <= ROCKS; kind++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            set_now(f, 10000000);
            weir_state_backend *be = new_be(f, kind, ALL);
            int64_t t0 = f->now;
            fill(f, be);
            char snap[600];
            snapshot(be, path(f, "snap", snap, sizeof snap), (weir_snapshot_format)fmt);
            weir_state_backend_free(be);
            seen s = {0};
            weir_error err = {0};
            assert_int_equal(weir_snapshot_foreach(snap, snap_visit, &s, &err), WEIR_OK);
            assert_int_equal(s.value, 299);
            assert_int_equal(s.map, 99);
            assert_int_equal(s.list, 40);
            assert_int_equal(s.exp_late, t0 + TTL);
            assert_memory_equal(s.list_val, "\2x0\2y0\0", 7);
            assert_true(s.other > 0); /* vt's other keys, mt, lt */
        }
    }
}

/* ---- errors ---- */

static void flip_byte(const char *file, long off) {
    int fd = open(file, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    if (off < 0) off += st.st_size;
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void copy_tree(const char *from, const char *to) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static void expect_restore_error(fx *f, const char *dir, weir_err code, const char *msg_part) {
    weir_state_backend *be = new_be(f, HEAP, ALL);
    weir_error err = {0};
    weir_err r = weir_state_backend_restore(be, dir, &err);
    if (code && r != code) fprintf(stderr, "restore of %s: %s\n", dir, err.msg);
    if (code)
        assert_int_equal(r, code);
    else
        assert_int_not_equal(r, WEIR_OK);
    assert_int_equal(err.code, r);
    if (msg_part && !strstr(err.msg, msg_part)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, msg_part);
        fail();
    }
    seen s = {0};
    weir_error err2 = {0};
    assert_int_not_equal(weir_snapshot_foreach(dir, snap_visit, &s, &err2), WEIR_OK);
    weir_state_backend_free(be);
}

static void test_corrupt(void **state) {
    fx *f = *state;
    weir_state_backend *be = new_be(f, HEAP, ALL);
    fill(f, be);
    char snap[600], bad[600], file[800];
    snapshot(be, path(f, "snap", snap, sizeof snap), WEIR_SNAPSHOT_CANONICAL);
    snprintf(file, sizeof file, "%s/keyed-state.bin", snap);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    /* a flipped bit anywhere: header, entries, trailer */
    long offs[] = {0, 10, 40, st.st_size / 2, st.st_size - 12, -1};
    for (size_t i = 0; i < sizeof offs / sizeof *offs; i++) {
        path(f, "bad", bad, sizeof bad);
        copy_tree(snap, bad);
        snprintf(file, sizeof file, "%s/keyed-state.bin", bad);
        flip_byte(file, offs[i]);
        expect_restore_error(f, bad, WEIR_EPARSE, i == 0 ? "not a weir" : "checksum");
    }
    /* truncated */
    path(f, "bad", bad, sizeof bad);
    copy_tree(snap, bad);
    snprintf(file, sizeof file, "%s/keyed-state.bin", bad);
    assert_int_equal(truncate(file, st.st_size / 3), 0);
    expect_restore_error(f, bad, WEIR_EPARSE, "checksum");
    assert_int_equal(truncate(file, 5), 0);
    expect_restore_error(f, bad, WEIR_EPARSE, "too short");
    /* not a snapshot */
    path(f, "empty", bad, sizeof bad);
    assert_int_equal(weir_mkdirs(bad), 0);
    expect_restore_error(f, bad, WEIR_EPARSE, "unknown format");
    path(f, "missing", bad, sizeof bad);
    expect_restore_error(f, bad, WEIR_EIO, NULL);
    weir_state_backend_free(be);

    /* RocksDB native: manifest and checkpoint */
    be = new_be(f, ROCKS, ALL);
    fill(f, be);
    snapshot(be, path(f, "snap", snap, sizeof snap), WEIR_SNAPSHOT_NATIVE);
    weir_state_backend_free(be);
    path(f, "bad", bad, sizeof bad);
    copy_tree(snap, bad);
    snprintf(file, sizeof file, "%s/states", bad);
    flip_byte(file, 30);
    expect_restore_error(f, bad, WEIR_EPARSE, "checksum");
    path(f, "bad", bad, sizeof bad);
    copy_tree(snap, bad);
    snprintf(file, sizeof file, "%s/db", bad);
    weir_rmtree(file);
    expect_restore_error(f, bad, WEIR_EPARSE, "checkpoint");
    /* a damaged SST file: an error (RocksDB's checksums), never a crash */
    path(f, "bad", bad, sizeof bad);
    copy_tree(snap, bad);
    snprintf(file, sizeof file, "%s/db", bad);
    sst s[64];
    int n = list_ssts(file, s, 64);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        char p[1200];
        assert_true(snprintf(p, sizeof p, "%s/%s", file, s[i].name) < (int)sizeof p);
        assert_int_equal(stat(p, &st), 0);
        flip_byte(p, st.st_size / 4);
    }
    expect_restore_error(f, bad, 0, NULL);
}

static void test_api_errors(void **state) {
    fx *f = *state;
    weir_state_backend *be = new_be(f, HEAP, ALL);
    weir_state *v = reg(be, "v", WEIR_STATE_VALUE, 0);
    key(be, "k");
    put(v, "x");
    assert_int_equal(weir_state_backend_state_count(be), 1);
    const weir_state_desc *d = weir_state_backend_state_desc(be, 0);
    assert_non_null(d);
    assert_string_equal(d->name, "v");
    assert_int_equal(d->kind, WEIR_STATE_VALUE);
    assert_int_equal(d->ttl_ms, 0);
    assert_null(weir_state_backend_state_desc(be, 1));
    assert_null(weir_state_backend_state_desc(be, -1));
    assert_int_equal(weir_state_backend_state_count(NULL), 0);
    char snap[600];
    snapshot(be, path(f, "snap", snap, sizeof snap), WEIR_SNAPSHOT_NATIVE);
    /* a directory that is not empty */
    weir_error err = {0};
    assert_int_equal(weir_state_backend_snapshot(be, snap, WEIR_SNAPSHOT_CANONICAL, NULL, &err),
                     WEIR_EIO);
    assert_non_null(strstr(err.msg, "not empty"));
    /* kind mismatch with a state registered before the restore */
    weir_state_backend *other = new_be(f, ROCKS, ALL);
    reg(other, "v", WEIR_STATE_LIST, 0);
    assert_int_equal(weir_state_backend_restore(other, snap, &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "'v'"));
    weir_state_backend_free(other);
    /* another max parallelism: key groups would not match */
    weir_backend_options o = {0};
    o.max_parallelism = 256;
    o.key_groups = (weir_kg_range){0, 255};
    other = weir_state_backend_heap_new(&o, &err);
    assert_non_null(other);
    assert_int_equal(weir_state_backend_restore(other, snap, &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "max parallelism"));
    weir_state_backend_free(other);
    /* no overlap: the states are registered, no entry is inserted */
    int32_t g = weir_key_group_of("k", 1, 128);
    weir_kg_range away = g < 64 ? (weir_kg_range){64, 127} : (weir_kg_range){0, 63};
    other = new_be(f, HEAP, away);
    restore(other, snap);
    assert_int_equal(weir_state_backend_state_count(other), 1);
    assert_int_equal(count_entries(other->states[0]), 0);
    weir_state_backend_free(other);
    assert_int_equal(weir_state_backend_snapshot(NULL, snap, 0, NULL, &err), WEIR_EINVAL);
    assert_int_equal(weir_state_backend_restore(be, NULL, &err), WEIR_EINVAL);
    assert_int_equal(weir_snapshot_foreach(snap, NULL, NULL, &err), WEIR_EINVAL);
    weir_state_backend_free(be);
}

/* State names are recorded verbatim (the RocksDB manifest is text: spaces are kept, line
 * breaks refused). */
typedef struct names {
    int odd, plain;
} names;

static int name_visit(void *ud, const weir_snapshot_state_info *st, const weir_state_entry *e) {
    names *n = ud;
    (void)e;
    if (!strcmp(st->name, " odd  name ") && st->kind == WEIR_STATE_MAP && st->ttl_ms == 5)
        n->odd++;
    else if (!strcmp(st->name, "plain"))
        n->plain++;
    return 0;
}

static void test_state_names(void **state) {
    fx *f = *state;
    for (int fmt = 0; fmt < 2; fmt++) {
        weir_state_backend *be = new_be(f, ROCKS, ALL);
        weir_state *m = reg(be, " odd  name ", WEIR_STATE_MAP, 5);
        weir_state *p = reg(be, "plain", WEIR_STATE_VALUE, 0);
        key(be, "k");
        assert_int_equal(weir_map_put(m, "u", 1, "v", 1), WEIR_OK);
        put(p, "x");
        char snap[600];
        snapshot(be, path(f, "snap", snap, sizeof snap), (weir_snapshot_format)fmt);
        names n = {0};
        weir_error err = {0};
        assert_int_equal(weir_snapshot_foreach(snap, name_visit, &n, &err), WEIR_OK);
        assert_int_equal(n.odd, 1);
        assert_int_equal(n.plain, 1);
        weir_state_backend *h = new_be(f, HEAP, ALL);
        restore(h, snap);
        assert_int_equal(weir_state_backend_state_count(h), 2);
        assert_string_equal(weir_state_backend_state_desc(h, 0)->name, " odd  name ");
        weir_state_backend_free(h);
        reg(be, "bad\nname", WEIR_STATE_VALUE, 0);
        path(f, "snap", snap, sizeof snap);
        weir_err r = weir_state_backend_snapshot(be, snap, (weir_snapshot_format)fmt, NULL, &err);
        if (fmt == WEIR_SNAPSHOT_NATIVE) {
            assert_int_equal(r, WEIR_EINVAL);
            assert_non_null(strstr(err.msg, "line break"));
        } else {
            assert_int_equal(r, WEIR_OK); /* the canonical format stores names length-prefixed */
        }
        weir_state_backend_free(be);
    }
}

/* ---- benchmark (opt-in) ---- */

static void test_bench(void **state) {
    fx *f = *state;
    const char *mb = getenv("WEIR_SNAPSHOT_BENCH_MB");
    if (!mb || !*mb) skip();
    for (int kind = HEAP; kind <= ROCKS; kind++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            if (kind == HEAP && fmt == WEIR_SNAPSHOT_CANONICAL) continue; /* same as native */
            char dir[600];
            weir_snapshot_bench_result r;
            weir_error err = {0};
            const char *name = kind == ROCKS ? "rocksdb" : "heap";
            weir_err e = weir_snapshot_bench(name, (weir_snapshot_format)fmt, (size_t)atol(mb), 100,
                                             path(f, "bench", dir, sizeof dir), &r, &err);
            if (e) fprintf(stderr, "bench: %s\n", err.msg);
            assert_int_equal(e, WEIR_OK);
            printf("bench %-7s %-9s %llu entries, %.0f MiB payload: fill %.0f ms, snapshot %.1f "
                   "ms (%.0f MiB), restore %.0f ms, restore half the key groups %.0f ms\n",
                   name, fmt ? "canonical" : "native", (unsigned long long)r.entries,
                   (double)r.payload_bytes / 1048576.0, r.fill_ms, r.snapshot_ms,
                   (double)r.snapshot_bytes / 1048576.0, r.restore_ms, r.restore_rescale_ms);
        }
    }
}

static const combo HH_N = {HEAP, HEAP, WEIR_SNAPSHOT_NATIVE};
static const combo HR_N = {HEAP, ROCKS, WEIR_SNAPSHOT_NATIVE};
static const combo RH_N = {ROCKS, HEAP, WEIR_SNAPSHOT_NATIVE};
static const combo RR_N = {ROCKS, ROCKS, WEIR_SNAPSHOT_NATIVE};
static const combo HH_C = {HEAP, HEAP, WEIR_SNAPSHOT_CANONICAL};
static const combo HR_C = {HEAP, ROCKS, WEIR_SNAPSHOT_CANONICAL};
static const combo RH_C = {ROCKS, HEAP, WEIR_SNAPSHOT_CANONICAL};
static const combo RR_C = {ROCKS, ROCKS, WEIR_SNAPSHOT_CANONICAL};

/* the fixture occupies *state: each combination gets a wrapper passing {fixture, combo} */
#define COMBO_TEST(fn, cmb)                                                                        \
    static void fn##_##cmb(void **state) {                                                         \
        void *st[2] = {*state, (void *)&cmb};                                                      \
        fn(st);                                                                                    \
    }
COMBO_TEST(test_roundtrip, HH_N)
COMBO_TEST(test_roundtrip, HR_N)
COMBO_TEST(test_roundtrip, RH_N)
COMBO_TEST(test_roundtrip, RR_N)
COMBO_TEST(test_roundtrip, HH_C)
COMBO_TEST(test_roundtrip, HR_C)
COMBO_TEST(test_roundtrip, RH_C)
COMBO_TEST(test_roundtrip, RR_C)
COMBO_TEST(test_rescale, HH_N)
COMBO_TEST(test_rescale, HR_N)
COMBO_TEST(test_rescale, RH_N)
COMBO_TEST(test_rescale, RR_N)
COMBO_TEST(test_rescale, RR_C)

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_roundtrip_HH_N),    T(test_roundtrip_HR_N),
        T(test_roundtrip_RH_N),    T(test_roundtrip_RR_N),
        T(test_roundtrip_HH_C),    T(test_roundtrip_HR_C),
        T(test_roundtrip_RH_C),    T(test_roundtrip_RR_C),
        T(test_rescale_HH_N),      T(test_rescale_HR_N),
        T(test_rescale_RH_N),      T(test_rescale_RR_N),
        T(test_rescale_RR_C),      T(test_rocks_buffer_in_snapshot),
        T(test_rocks_incremental), T(test_foreach),
        T(test_corrupt),           T(test_api_errors),
        T(test_state_names),       T(test_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
