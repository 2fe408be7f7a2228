/*
 * control_cmd.c - `weir list | savepoint | stop | cancel` (mirroring the `flink` CLI) and
 * `weir savepoint inspect PATH` (issue #3 item 6). The first four talk to running jobs through
 * their control sockets (tools/control.h); inspect reads a savepoint or checkpoint directory.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint/metadata.h"
#include "tools/cli.h"
#include "tools/control.h"
#include "weir/weir.h"

/* Prints @p p (@p n bytes) as a JSON string when it is text (no control characters other than
 * tab and newline), else as a hex string "0x..." (binary values such as timestamps). */
static void print_bytes(FILE *f, const void *p, size_t n) {
    const unsigned char *s = p;
    int text = 1;
    for (size_t i = 0; i < n && text; i++)
        if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || s[i] == 0x7f) text = 0;
    if (text) {
        fputc('"', f);
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\t')
                fputs("\\t", f);
            else if (s[i] == '\n')
                fputs("\\n", f);
            else {
                if (s[i] == '"' || s[i] == '\\') fputc('\\', f);
                fputc(s[i], f);
            }
        }
        fputc('"', f);
        return;
    }
    fputs("\"0x", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", s[i]);
    fputc('"', f);
}

typedef struct inspect_ctx {
    const char *uid;
    int32_t subtask;
    uint64_t n;
} inspect_ctx;

static const char *kind_name(weir_state_kind k) {
    return k == WEIR_STATE_VALUE ? "value" : k == WEIR_STATE_MAP ? "map" : "list";
}

static int inspect_visit(void *ud, const weir_snapshot_state_info *st, const weir_state_entry *e) {
    inspect_ctx *ic = ud;
    printf("{\"operator\":\"%s\",\"subtask\":%d,\"state\":", ic->uid, (int)ic->subtask);
    print_bytes(stdout, st->name, strlen(st->name));
    printf(",\"kind\":\"%s\",\"key_group\":%d,\"key\":", kind_name(st->kind), (int)e->key_group);
    print_bytes(stdout, e->key, e->key_len);
    if (e->uk) {
        fputs(",\"user_key\":", stdout);
        print_bytes(stdout, e->uk, e->uk_len);
    }
    fputs(",\"value\":", stdout);
    print_bytes(stdout, e->val, e->val_len);
    if (e->expires_at_ms) printf(",\"expires_at_ms\":%lld", (long long)e->expires_at_ms);
    fputs("}\n", stdout);
    ic->n++;
    return 0;
}

static int cmd_inspect(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: weir savepoint inspect PATH\n"
              "  Prints a savepoint's (or checkpoint's) operators, then every keyed-state entry\n"
              "  as JSON lines: operator, subtask, state, kind, key_group, key, user_key, value.\n",
              stderr);
        return 2;
    }
    const char *path = argv[1];
    wck_metadata md = {0};
    weir_error err = {0};
    if (wck_metadata_read(path, &md, &err)) {
        fprintf(stderr, "weir savepoint inspect: %s\n", err.msg);
        return 1;
    }
    char dir[1200];
    size_t pl = strlen(path);
    if (pl >= 10 && !strcmp(path + pl - 10, "/_metadata"))
        snprintf(dir, sizeof dir, "%.*s", (int)(pl - 10), path);
    else
        snprintf(dir, sizeof dir, "%s", path);
    printf("{\"job_id\":\"%s\",\"job_name\":\"%s\",\"checkpoint_id\":%lld,\"savepoint\":%s,"
           "\"format\":\"%s\",\"state_backend\":\"%s\",\"bytes\":%llu}\n",
           md.job_id, md.job_name, (long long)md.checkpoint_id, md.is_savepoint ? "true" : "false",
           md.canonical ? "canonical" : "native", md.state_backend,
           (unsigned long long)md.total_bytes);
    int status = 0;
    for (int i = 0; i < md.n_ops; i++) {
        const wck_operator *op = &md.ops[i];
        printf("{\"operator\":\"%s\",\"parallelism\":%d,\"max_parallelism\":%d,\"subtasks\":[",
               op->uid, (int)op->parallelism, (int)op->max_parallelism);
        for (int s = 0; s < op->n_subtasks; s++) {
            const wck_subtask *st = &op->subtasks[s];
            printf("%s{\"subtask\":%d", s ? "," : "", (int)st->subtask);
            if (st->kg_start >= 0)
                printf(",\"key_groups\":[%d,%d]", (int)st->kg_start, (int)st->kg_end);
            if (st->keyed_dir) printf(",\"keyed_bytes\":%llu", (unsigned long long)st->keyed_bytes);
            if (st->op_state_len) {
                fputs(",\"operator_state\":", stdout);
                print_bytes(stdout, st->op_state, st->op_state_len);
            }
            fputs("}", stdout);
        }
        fputs("]}\n", stdout);
    }
    for (int i = 0; i < md.n_ops; i++) {
        const wck_operator *op = &md.ops[i];
        for (int s = 0; s < op->n_subtasks; s++) {
            if (!op->subtasks[s].keyed_dir) continue;
            char kd[2400];
            snprintf(kd, sizeof kd, "%s/%s", dir, op->subtasks[s].keyed_dir);
            inspect_ctx ic = {.uid = op->uid, .subtask = op->subtasks[s].subtask};
            weir_error e = {0};
            if (weir_snapshot_foreach(kd, inspect_visit, &ic, &e)) {
                fprintf(stderr, "weir savepoint inspect: %s: %s\n", kd, e.msg);
                status = 1;
            }
        }
    }
    wck_metadata_clear(&md);
    return status;
}

/* Sends @p req to job @p job_id and prints the answer; exit status 0 when it says ok. */
static int send_request(const char *cmd, const char *job_id, const char *req, int timeout_ms) {
    char ans[4096];
    weir_error err = {0};
    weir_err rc;
    /* a job that is (re)starting answers "restarting": wait for it, up to 30 s */
    for (int i = 0;; i++) {
        rc = weir_control_request(job_id, req, ans, sizeof ans, timeout_ms, &err);
        if (rc || !strstr(ans, "is restarting") || i == 300) break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc) {
        fprintf(stderr, "weir %s: %s\n", cmd, err.msg);
        return 1;
    }
    printf("%s\n", ans);
    return strstr(ans, "\"ok\":true") ? 0 : 1;
}

int weir_cmd_savepoint(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "inspect")) return cmd_inspect(argc - 1, argv + 1);
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fputs("usage: weir savepoint <job-id> [DIR]     take a savepoint of a running job\n"
              "       weir savepoint inspect PATH         dump a savepoint as JSON lines\n"
              "DIR defaults to the job's state.savepoints.dir.\n",
              stderr);
        return 2;
    }
    char req[1200];
    snprintf(req, sizeof req, "savepoint %s", argc == 3 ? argv[2] : "");
    return send_request("savepoint", argv[1], req, 15 * 60 * 1000);
}

int weir_cmd_stop(int argc, char **argv) {
    static const struct option opts[] = {{"savepointPath", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    const char *dir = "";
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
        if (c != 'p') {
            fputs("usage: weir stop [--savepointPath DIR] <job-id>\n", stderr);
            return 2;
        }
        dir = optarg;
    }
    if (optind != argc - 1) {
        fputs("usage: weir stop [--savepointPath DIR] <job-id>\n", stderr);
        return 2;
    }
    char req[1200];
    snprintf(req, sizeof req, "stop %s", dir);
    return send_request("stop", argv[optind], req, 15 * 60 * 1000);
}

int weir_cmd_cancel(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: weir cancel <job-id>\n", stderr);
        return 2;
    }
    return send_request("cancel", argv[1], "cancel", 10000);
}

int weir_cmd_list(int argc, char **argv) {
    (void)argv;
    if (argc != 1) {
        fputs("usage: weir list\n", stderr);
        return 2;
    }
    char dir[200];
    weir_control_dir(dir, sizeof dir);
    DIR *d = opendir(dir);
    int n = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            const char *dot = strchr(de->d_name, '.');
            if (l < 6 || strcmp(de->d_name + l - 5, ".sock") || !dot) continue;
            char id[64];
            snprintf(id, sizeof id, "%.*s", (int)(dot - de->d_name), de->d_name);
            char ans[2048];
            if (weir_control_request(id, "info", ans, sizeof ans, 2000, NULL)) continue;
            printf("%s\n", ans);
            n++;
        }
        closedir(d);
    }
    if (!n) fputs("No running jobs.\n", stderr);
    return 0;
}
