/*
 * test_ck_metadata.c - the checkpoint `_metadata` file and the checkpoint directory layout
 * (checkpoint/metadata.h).
 *
 * Expected values come from the header's contract, not from the implementation: a write/read
 * round trip gives back every field (binary operator state included); a write is atomic (no
 * temporary file survives, success or failure); only chk-<n> directories with a readable
 * `_metadata` are completed checkpoints, ordered by n as a number; retention keeps the newest N
 * and deletes incomplete directories older than the given id; the job id is the first 32 hex
 * digits of SHA-256(job name), checked against `printf %s dedup | sha256sum`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/metadata.h"
#include "weir/fs.h"

static char g_tmp[1024];

/* snprintf that fails the test on truncation (paths of the test tree). */
__attribute__((format(printf, 3, 4))) static void pathf(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    assert_true(r >= 0 && (size_t)r < n);
}

/* A fresh directory for one test under $WEIR_TEST_TMP (or /tmp). */
static void mktmp(const char *name) {
    const char *base = getenv("WEIR_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    assert_int_equal(weir_mkdirs(base), 0);
    pathf(g_tmp, sizeof g_tmp, "%s/ck_metadata_%s_XXXXXX", base, name);
    assert_non_null(mkdtemp(g_tmp));
}

static void rmtmp(void) {
    chmod(g_tmp, 0755);
    assert_int_equal(weir_rmtree(g_tmp), 0);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Number of entries of @p dir other than . and ..; the first one's name into @p first. */
static int count_entries(const char *dir, char *first, size_t first_size) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n++ == 0 && first) pathf(first, first_size, "%s", de->d_name);
    }
    closedir(d);
    return n;
}

static void mkdir_in(const char *dir, const char *name) {
    char p[2048];
    pathf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(weir_mkdirs(p), 0);
}

/* Binary operator state: NUL bytes and every byte value. */
static const uint8_t k_state[] = {0x00, 0x01, 0x00, 0xff, 'k',  'a',  'f',  'k',
                                  'a',  0x00, 0x00, 0x80, 0x7f, 0x0a, 0x0d, 0x00};

/* A metadata with three operators: a non-keyed source with binary operator state, a keyed
 * operator with keyed state directories and a one-subtask sink without state. */
static void sample(wck_metadata *m, int64_t id, int64_t trigger_ms) {
    memset(m, 0, sizeof *m);
    char jid[33];
    wck_job_id_for("dedup", jid);
    m->job_id = strdup(jid);
    m->job_name = strdup("dedup");
    m->checkpoint_id = id;
    m->state_backend = strdup("rocksdb");
    m->trigger_ts_ms = trigger_ms;
    m->complete_ts_ms = trigger_ms + 250;
    assert_non_null(m->job_id);

    wck_operator *src = wck_metadata_add_operator(m, "kafka-source", 2, 128);
    assert_non_null(src);
    assert_int_equal(src->n_subtasks, 2);
    for (int i = 0; i < 2; i++) {
        /* defaults from the contract */
        assert_int_equal(src->subtasks[i].subtask, i);
        assert_int_equal(src->subtasks[i].kg_start, -1);
        assert_int_equal(src->subtasks[i].kg_end, -1);
        assert_null(src->subtasks[i].op_state);
        assert_null(src->subtasks[i].keyed_dir);
        src->subtasks[i].op_state = malloc(sizeof k_state);
        assert_non_null(src->subtasks[i].op_state);
        memcpy(src->subtasks[i].op_state, k_state, sizeof k_state);
        src->subtasks[i].op_state[1] = (uint8_t)(0x10 + i);
        src->subtasks[i].op_state_len = sizeof k_state - (size_t)i;
        m->total_bytes += src->subtasks[i].op_state_len;
    }
    wck_operator *dd = wck_metadata_add_operator(m, "dedup", 3, 128);
    assert_non_null(dd);
    for (int i = 0; i < 3; i++) {
        char d[64];
        pathf(d, sizeof d, "dedup-%d", i);
        dd->subtasks[i].kg_start = i * 128 / 3;
        dd->subtasks[i].kg_end = (i + 1) * 128 / 3 - 1;
        dd->subtasks[i].keyed_dir = strdup(d);
        dd->subtasks[i].keyed_bytes = 1000000u * (uint64_t)(i + 1) + 7;
        m->total_bytes += dd->subtasks[i].keyed_bytes;
    }
    assert_non_null(wck_metadata_add_operator(m, "row-sink", 1, 128));
}

/* Strings read back are never NULL ("" when unset), except keyed_dir (NULL when none). */
#define assert_str_read(written, read) assert_string_equal((written) ? (written) : "", (read))

static void assert_same(const wck_metadata *a, const wck_metadata *b) {
    assert_str_read(a->job_id, b->job_id);
    assert_str_read(a->job_name, b->job_name);
    assert_int_equal(a->checkpoint_id, b->checkpoint_id);
    assert_int_equal(a->is_savepoint, b->is_savepoint);
    assert_int_equal(a->canonical, b->canonical);
    assert_str_read(a->state_backend, b->state_backend);
    assert_int_equal(a->trigger_ts_ms, b->trigger_ts_ms);
    assert_int_equal(a->complete_ts_ms, b->complete_ts_ms);
    assert_int_equal(a->total_bytes, b->total_bytes);
    assert_int_equal(a->n_ops, b->n_ops);
    for (int i = 0; i < a->n_ops; i++) {
        const wck_operator *x = &a->ops[i], *y = &b->ops[i];
        assert_str_read(x->uid, y->uid);
        assert_int_equal(x->parallelism, y->parallelism);
        assert_int_equal(x->max_parallelism, y->max_parallelism);
        assert_int_equal(x->n_subtasks, y->n_subtasks);
        for (int j = 0; j < x->n_subtasks; j++) {
            const wck_subtask *s = &x->subtasks[j], *t = &y->subtasks[j];
            assert_int_equal(s->subtask, t->subtask);
            assert_int_equal(s->kg_start, t->kg_start);
            assert_int_equal(s->kg_end, t->kg_end);
            assert_int_equal(s->op_state_len, t->op_state_len);
            if (s->op_state_len) assert_memory_equal(s->op_state, t->op_state, s->op_state_len);
            if (s->keyed_dir)
                assert_string_equal(s->keyed_dir, t->keyed_dir);
            else
                assert_null(t->keyed_dir);
            assert_int_equal(s->keyed_bytes, t->keyed_bytes);
        }
    }
}

static void test_round_trip(void **st) {
    (void)st;
    mktmp("rt");
    wck_metadata m, r;
    sample(&m, 42, 1714564800123LL);
    weir_error err;
    assert_int_equal(wck_metadata_write(g_tmp, &m, &err), WEIR_OK);

    /* read by directory */
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_OK);
    assert_same(&m, &r);
    assert_int_equal(r.ops[0].subtasks[0].op_state[0], 0x00);
    assert_int_equal(r.ops[0].subtasks[1].op_state_len, sizeof k_state - 1);
    assert_int_equal(r.ops[1].subtasks[2].kg_end, 127);
    assert_null(r.ops[2].subtasks[0].op_state);
    assert_int_equal(r.ops[2].subtasks[0].kg_start, -1);
    /* find */
    const wck_operator *o = wck_metadata_find(&r, "dedup");
    assert_non_null(o);
    assert_int_equal(o->parallelism, 3);
    assert_null(wck_metadata_find(&r, "nope"));
    assert_null(wck_metadata_find(&r, NULL));
    wck_metadata_clear(&r);
    assert_int_equal(r.n_ops, 0);
    assert_null(r.ops);
    wck_metadata_clear(&r); /* twice is fine */
    wck_metadata_clear(NULL);

    /* read by file path */
    char file[2048];
    pathf(file, sizeof file, "%s/_metadata", g_tmp);
    assert_int_equal(wck_metadata_read(file, &r, &err), WEIR_OK);
    assert_same(&m, &r);
    wck_metadata_clear(&r);

    /* overwrite: a savepoint with the canonical format and no operators */
    wck_metadata_clear(&m);
    memset(&m, 0, sizeof m);
    m.job_id = strdup("0123456789abcdef0123456789abcdef");
    m.checkpoint_id = 7;
    m.is_savepoint = 1;
    m.canonical = 1;
    m.trigger_ts_ms = -5; /* negative values survive */
    assert_int_equal(wck_metadata_write(g_tmp, &m, &err), WEIR_OK);
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_OK);
    assert_int_equal(r.checkpoint_id, 7);
    assert_int_equal(r.is_savepoint, 1);
    assert_int_equal(r.canonical, 1);
    assert_int_equal(r.trigger_ts_ms, -5);
    assert_int_equal(r.n_ops, 0);
    assert_string_equal(r.job_id, m.job_id);
    wck_metadata_clear(&r);
    wck_metadata_clear(&m);
    rmtmp();
}

static void test_many_operators(void **st) {
    (void)st;
    mktmp("many");
    wck_metadata m = {0}, r;
    for (int i = 0; i < 200; i++) {
        char uid[32];
        pathf(uid, sizeof uid, "op-%d", i);
        wck_operator *op = wck_metadata_add_operator(&m, uid, i % 5, 4096);
        assert_non_null(op);
        for (int j = 0; j < op->n_subtasks; j++)
            op->subtasks[j].keyed_bytes = (uint64_t)i * j;
    }
    assert_int_equal(wck_metadata_write(g_tmp, &m, NULL), WEIR_OK);
    assert_int_equal(wck_metadata_read(g_tmp, &r, NULL), WEIR_OK);
    assert_int_equal(r.n_ops, 200);
    assert_same(&m, &r);
    const wck_operator *o = wck_metadata_find(&r, "op-199");
    assert_non_null(o);
    assert_int_equal(o->n_subtasks, 4);
    assert_int_equal(o->subtasks[3].keyed_bytes, 199 * 3);
    wck_metadata_clear(&r);
    wck_metadata_clear(&m);
    rmtmp();
}

static void test_atomic_no_temp_files(void **st) {
    (void)st;
    mktmp("atomic");
    wck_metadata m;
    sample(&m, 1, 1000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wck_metadata_write(g_tmp, &m, NULL), WEIR_OK);
    char first[256] = "";
    assert_int_equal(count_entries(g_tmp, first, sizeof first), 1);
    assert_string_equal(first, "_metadata");
    wck_metadata_clear(&m);
    rmtmp();
}

/* 1 if the process can create files in @p dir (root ignores permission bits). */
static int can_write_in(const char *dir) {
    char p[2048];
    pathf(p, sizeof p, "%s/.probe", dir);
    FILE *f = fopen(p, "w");
    if (!f) return 0;
    fclose(f);
    unlink(p);
    return 1;
}

static void test_write_failures(void **st) {
    (void)st;
    mktmp("fail");
    wck_metadata m;
    sample(&m, 3, 1000);
    weir_error err;
    char dir[2048], meta[2100];

    /* read-only directory */
    pathf(dir, sizeof dir, "%s/ro", g_tmp);
    assert_int_equal(weir_mkdirs(dir), 0);
    assert_int_equal(chmod(dir, 0555), 0);
    if (can_write_in(dir)) {
        print_message("[ SKIPPED  ] read-only directory: permission bits do not apply to this "
                      "user (root); the failures below still run\n");
    } else {
        assert_int_equal(wck_metadata_write(dir, &m, &err), WEIR_EIO);
        assert_non_null(strstr(err.msg, dir));
        assert_non_null(strstr(err.msg, strerror(EACCES)));
        assert_int_equal(count_entries(dir, NULL, 0), 0);
    }
    chmod(dir, 0755);

    /* a directory below a regular file cannot exist: fails for root too */
    char file[2048];
    pathf(file, sizeof file, "%s/plain", g_tmp);
    write_file(file, "x", 1);
    pathf(dir, sizeof dir, "%s/plain/chk-1", g_tmp);
    assert_int_equal(wck_metadata_write(dir, &m, &err), WEIR_EIO);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, strerror(ENOTDIR)));
    /* a missing directory is not created */
    pathf(dir, sizeof dir, "%s/missing", g_tmp);
    assert_int_equal(wck_metadata_write(dir, &m, &err), WEIR_EIO);
    assert_false(exists(dir));

    /* a failing write after the temporary file exists (file size limit, also for root): the
     * temporary file is removed and no _metadata appears */
    pathf(dir, sizeof dir, "%s/fsize", g_tmp);
    assert_int_equal(weir_mkdirs(dir), 0);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 8;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    weir_err rc = wck_metadata_write(dir, &m, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, WEIR_EIO);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, strerror(EFBIG)));
    assert_int_equal(count_entries(dir, NULL, 0), 0);
    pathf(meta, sizeof meta, "%s/_metadata", dir);
    assert_false(exists(meta));

    /* invalid arguments */
    assert_int_equal(wck_metadata_write(NULL, &m, &err), WEIR_EINVAL);
    assert_int_equal(wck_metadata_write(g_tmp, NULL, &err), WEIR_EINVAL);
    m.ops[0].subtasks[0].op_state_len = 5;
    free(m.ops[0].subtasks[0].op_state);
    m.ops[0].subtasks[0].op_state = NULL;
    assert_int_equal(wck_metadata_write(g_tmp, &m, &err), WEIR_EINVAL);
    wck_metadata_clear(&m);
    rmtmp();
}

static void test_read_errors(void **st) {
    (void)st;
    mktmp("read");
    wck_metadata r;
    weir_error err;
    char p[2048];

    /* absent */
    pathf(p, sizeof p, "%s/nope", g_tmp);
    assert_int_equal(wck_metadata_read(p, &r, &err), WEIR_ENOTFOUND);
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_ENOTFOUND); /* no _metadata */
    assert_int_equal(r.n_ops, 0);
    assert_null(r.job_id);

    pathf(p, sizeof p, "%s/_metadata", g_tmp);
    /* text garbage */
    write_file(p, "this is not protobuf\n", 21);
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_EPARSE);
    assert_non_null(strstr(err.msg, p));
    assert_null(r.job_id);
    /* empty file */
    write_file(p, "", 0);
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_EPARSE);
    /* valid protobuf that is not a weir _metadata (no magic) */
    static const uint8_t other[] = {0x1a, 0x02, 'a', 'b', 0x28, 0x05};
    write_file(p, other, sizeof other);
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_EPARSE);
    /* the magic and a format version newer than this build */
    static const uint8_t newer[] = {0x0d, 0x4b, 0x43, 0x45, 0x57, 0x10, 0x63};
    write_file(p, newer, sizeof newer);
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_EPARSE);
    assert_non_null(strstr(err.msg, "version 99"));
    /* ... and version 1 with nothing else reads (every other field has its default) */
    static const uint8_t v1[] = {0x0d, 0x4b, 0x43, 0x45, 0x57, 0x10, 0x01, 0x28, 0x09};
    write_file(p, v1, sizeof v1);
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_OK);
    assert_int_equal(r.checkpoint_id, 9);
    assert_int_equal(r.n_ops, 0);
    wck_metadata_clear(&r);

    /* a truncated real file */
    wck_metadata m;
    sample(&m, 5, 1000);
    assert_int_equal(wck_metadata_write(g_tmp, &m, NULL), WEIR_OK);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size - 3), 0);
    assert_int_equal(wck_metadata_read(g_tmp, &r, &err), WEIR_EPARSE);
    assert_null(r.ops);
    wck_metadata_clear(&m);
    rmtmp();
}

/* Writes a completed checkpoint chk-<id> in @p job_dir. */
static void complete_chk(const char *job_dir, int64_t id) {
    char d[2048];
    pathf(d, sizeof d, "%s/chk-%lld", job_dir, (long long)id);
    assert_int_equal(weir_mkdirs(d), 0);
    mkdir_in(d, "dedup-0"); /* some state, to check that deletion is recursive */
    char f[2100];
    pathf(f, sizeof f, "%s/dedup-0/000001.sst", d);
    write_file(f, "sst", 3);
    wck_metadata m;
    sample(&m, id, 1000 * id);
    assert_int_equal(wck_metadata_write(d, &m, NULL), WEIR_OK);
    wck_metadata_clear(&m);
}

static void test_list(void **st) {
    (void)st;
    mktmp("list");
    char job[2048], p[2100];
    pathf(job, sizeof job, "%s/job", g_tmp);
    const int64_t done[] = {10, 2, 9, 1, 12};
    for (size_t i = 0; i < sizeof done / sizeof done[0]; i++)
        complete_chk(job, done[i]);
    mkdir_in(job, "chk-3"); /* incomplete: no _metadata */
    mkdir_in(job, "chk-3/dedup-0");
    mkdir_in(job, "chk-11"); /* garbage _metadata */
    pathf(p, sizeof p, "%s/chk-11/_metadata", job);
    write_file(p, "garbage", 7);
    mkdir_in(job, "chk-x");
    mkdir_in(job, "chk-");
    mkdir_in(job, "chk--4");
    mkdir_in(job, "other");
    mkdir_in(job, "savepoint-abc-13");
    pathf(p, sizeof p, "%s/chk-4", job); /* a file, not a directory */
    write_file(p, "x", 1);
    /* chk-05 is not the canonical name of 5: ignored even when complete */
    complete_chk(job, 5);
    char a[2100], b[2100];
    pathf(a, sizeof a, "%s/chk-5", job);
    pathf(b, sizeof b, "%s/chk-05", job);
    assert_int_equal(rename(a, b), 0);

    wck_entry *v = NULL;
    size_t n = 0;
    weir_error err;
    assert_int_equal(wck_list(job, &v, &n, &err), WEIR_OK);
    assert_int_equal(n, 5);
    const int64_t want[] = {1, 2, 9, 10, 12};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].checkpoint_id, want[i]);
        pathf(p, sizeof p, "%s/chk-%lld", job, (long long)want[i]);
        assert_string_equal(v[i].path, p);
        assert_int_equal(v[i].trigger_ts_ms, 1000 * want[i]);
        assert_int_equal(v[i].complete_ts_ms, 1000 * want[i] + 250);
        assert_true(v[i].total_bytes > 6000000);
    }
    free(v);

    wck_entry e;
    assert_int_equal(wck_latest(job, &e, &err), WEIR_OK);
    assert_int_equal(e.checkpoint_id, 12);

    /* a missing job directory has no checkpoints */
    pathf(p, sizeof p, "%s/no-such-job", g_tmp);
    v = (wck_entry *)&e;
    assert_int_equal(wck_list(p, &v, &n, &err), WEIR_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    assert_int_equal(wck_latest(p, &e, &err), WEIR_ENOTFOUND);
    rmtmp();
}

static void test_retain(void **st) {
    (void)st;
    mktmp("retain");
    char job[2048], p[2100];
    pathf(job, sizeof job, "%s/job", g_tmp);
    const int64_t done[] = {1, 2, 3, 5, 6};
    for (size_t i = 0; i < sizeof done / sizeof done[0]; i++)
        complete_chk(job, done[i]);
    mkdir_in(job, "chk-0/x");  /* incomplete, old */
    mkdir_in(job, "chk-4/x");  /* incomplete, failed */
    mkdir_in(job, "chk-7/x");  /* incomplete, in progress */
    mkdir_in(job, "chk-10/x"); /* incomplete, in progress */
    mkdir_in(job, "other");
    pathf(p, sizeof p, "%s/chk-8", job); /* a file named like a checkpoint: not touched */
    write_file(p, "x", 1);

    weir_error err;
    assert_int_equal(wck_retain(job, 0, 7, &err), WEIR_EINVAL);
    assert_int_equal(wck_retain(job, 2, 7, &err), WEIR_OK);

    const char *gone[] = {"chk-0", "chk-1", "chk-2", "chk-3", "chk-4"};
    const char *kept[] = {"chk-5", "chk-6", "chk-7", "chk-10", "other", "chk-8"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        pathf(p, sizeof p, "%s/%s", job, gone[i]);
        if (exists(p)) fail_msg("%s should have been deleted", gone[i]);
    }
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        pathf(p, sizeof p, "%s/%s", job, kept[i]);
        if (!exists(p)) fail_msg("%s should have been kept", kept[i]);
    }
    pathf(p, sizeof p, "%s/chk-6/dedup-0/000001.sst", job);
    assert_true(exists(p));
    wck_entry *v;
    size_t n;
    assert_int_equal(wck_list(job, &v, &n, &err), WEIR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].checkpoint_id, 5);
    assert_int_equal(v[1].checkpoint_id, 6);
    free(v);

    /* idempotent; then chk-7 completes and retention moves on */
    assert_int_equal(wck_retain(job, 2, 7, &err), WEIR_OK);
    pathf(p, sizeof p, "%s/chk-7", job);
    assert_int_equal(weir_rmtree(p), 0);
    complete_chk(job, 7);
    assert_int_equal(wck_retain(job, 1, 10, &err), WEIR_OK);
    assert_int_equal(wck_list(job, &v, &n, &err), WEIR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].checkpoint_id, 7);
    free(v);
    pathf(p, sizeof p, "%s/chk-10", job);
    assert_true(exists(p));
    pathf(p, sizeof p, "%s/chk-5", job);
    assert_false(exists(p));

    /* a missing job directory: nothing to do */
    pathf(p, sizeof p, "%s/no-such-job", g_tmp);
    assert_int_equal(wck_retain(p, 1, 0, &err), WEIR_OK);
    rmtmp();
}

static void test_job_id(void **st) {
    (void)st;
    char a[33], b[33], c[33];
    memset(a, 'Z', sizeof a);
    wck_job_id_for("dedup", a);
    /* printf %s dedup | sha256sum → 8297e58c62f0d4a6ae4bf506d53c7b25520ee9a1... */
    assert_string_equal(a, "8297e58c62f0d4a6ae4bf506d53c7b25");
    assert_int_equal(strlen(a), 32);
    for (int i = 0; i < 32; i++)
        assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
    wck_job_id_for("dedup", b);
    assert_string_equal(a, b);
    wck_job_id_for("replay", c);
    assert_string_not_equal(a, c);
    /* printf %s '' | sha256sum */
    wck_job_id_for("", c);
    assert_string_equal(c, "e3b0c44298fc1c149afbf4c8996fb924");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_many_operators),
        cmocka_unit_test(test_atomic_no_temp_files),
        cmocka_unit_test(test_write_failures),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_retain),
        cmocka_unit_test(test_job_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
