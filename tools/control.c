/*
 * control.c - the job's control socket (see control.h for the protocol).
 *
 * The server thread accepts one connection at a time with a 200 ms poll so that
 * weir_control_stop() ends it promptly; the job pointer is guarded by a mutex because
 * weir_job_run replaces it on every restart.
 */
#include "tools/control.h"
#include "weir/clock.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct weir_control {
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char job_id[40], job_name[128];
    pthread_t th;
    atomic_int stop;
    pthread_mutex_t mu;
    weir_job *job;
    int64_t started_ms;
    char sp_dir[1024];
};

void weir_control_dir(char *out, size_t cap) {
    const char *d = getenv("WEIR_CONTROL_DIR");
    if (d && *d)
        snprintf(out, cap, "%s", d);
    else
        snprintf(out, cap, "/tmp/weir-control-%d", (int)getuid());
}

static int sock_path(const char *job_id, int pid, char *out, size_t cap) {
    char dir[200];
    weir_control_dir(dir, sizeof dir);
    int n = snprintf(out, cap, "%s/%s.%d.sock", dir, job_id, pid);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Finds the socket of a live process serving @p job_id. 0 with *pid set; -1 none; -2 several. */
static int find_server(const char *job_id, int *pid) {
    char dir[200];
    weir_control_dir(dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t jl = strlen(job_id);
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        if (l <= jl + 6 || strncmp(n, job_id, jl) || n[jl] != '.' || strcmp(n + l - 5, ".sock"))
            continue;
        int p = atoi(n + jl + 1);
        if (p <= 0) continue;
        if (kill(p, 0) != 0 && errno == ESRCH) { /* left by a killed process */
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, n);
            unlink(path);
            continue;
        }
        *pid = p;
        found++;
    }
    closedir(d);
    return found == 0 ? -1 : found == 1 ? 0 : -2;
}

/* Appends @p s to @p b as a JSON string. */
static void json_str(weir_buf *b, const char *s) {
    weir_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            weir_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            weir_buf_printf(b, "\\u%04x", ch);
        else
            weir_buf_putc(b, (char)ch);
    }
    weir_buf_putc(b, '"');
}

static void answer_error(weir_buf *b, const char *msg) {
    weir_buf_puts(b, "{\"ok\":false,\"error\":");
    json_str(b, msg);
    weir_buf_puts(b, "}");
}

static void handle(weir_control *c, const char *req, weir_buf *ans) {
    pthread_mutex_lock(&c->mu);
    weir_job *job = c->job;
    pthread_mutex_unlock(&c->mu);
    if (!strcmp(req, "info")) {
        weir_buf_printf(ans, "{\"ok\":true,\"job_id\":\"%s\",\"job_name\":", c->job_id);
        json_str(ans, c->job_name);
        weir_buf_printf(ans, ",\"pid\":%d,\"state\":\"%s\",\"start_time\":%lld", (int)getpid(),
                        job ? "RUNNING" : "RESTARTING", (long long)c->started_ms);
        if (job)
            weir_buf_printf(ans, ",\"last_checkpoint\":%lld,\"restored_from\":%lld",
                            (long long)weir_job_last_checkpoint(job),
                            (long long)weir_job_restored_from(job));
        weir_buf_puts(ans, "}");
        return;
    }
    if (!job) {
        answer_error(ans, "the job is restarting: try again");
        return;
    }
    if (!strcmp(req, "cancel")) {
        weir_job_cancel(job);
        weir_buf_puts(ans, "{\"ok\":true}");
        return;
    }
    int stop = !strncmp(req, "stop ", 5);
    if (stop || !strncmp(req, "savepoint ", 10)) {
        const char *dir = req + (stop ? 5 : 10);
        if (!*dir) dir = c->sp_dir;
        if (!*dir) {
            answer_error(ans, "no savepoint directory: give one, or run the job with "
                              "-D state.savepoints.dir=DIR");
            return;
        }
        char path[1200];
        weir_error e = {0};
        if (weir_job_savepoint(job, dir, stop, path, sizeof path, &e)) {
            answer_error(ans, e.msg[0] ? e.msg : weir_err_name(e.code));
            return;
        }
        weir_buf_puts(ans, "{\"ok\":true,\"path\":");
        json_str(ans, path);
        weir_buf_puts(ans, "}");
        return;
    }
    answer_error(ans, "unknown request (info | savepoint DIR | stop DIR | cancel)");
}

static void *serve(void *arg) {
    weir_control *c = arg;
    while (!atomic_load(&c->stop)) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) continue;
        int cfd = accept(c->fd, NULL, NULL);
        if (cfd < 0) continue;
        char req[2048];
        size_t n = 0;
        while (n < sizeof req - 1) {
            ssize_t r = read(cfd, req + n, sizeof req - 1 - n);
            if (r <= 0) break;
            n += (size_t)r;
            if (memchr(req, '\n', n)) break;
        }
        req[n] = '\0';
        char *nl = strchr(req, '\n');
        if (nl) *nl = '\0';
        weir_buf ans = {0};
        handle(c, req, &ans);
        weir_buf_putc(&ans, '\n');
        if (!ans.oom) {
            const char *p2 = ans.data;
            size_t left = ans.len;
            while (left) {
                ssize_t w = write(cfd, p2, left);
                if (w <= 0) break;
                p2 += w;
                left -= (size_t)w;
            }
        }
        weir_buf_free(&ans);
        close(cfd);
    }
    return NULL;
}

weir_control *weir_control_start(const char *job_id, const char *job_name, weir_error *err) {
    weir_control *c = calloc(1, sizeof *c);
    if (!c) {
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        return NULL;
    }
    c->fd = -1;
    snprintf(c->job_id, sizeof c->job_id, "%s", job_id);
    snprintf(c->job_name, sizeof c->job_name, "%s", job_name);
    pthread_mutex_init(&c->mu, NULL);
    c->started_ms = weir_wall_ms();
    char dir[200];
    weir_control_dir(dir, sizeof dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        weir_error_set(err, WEIR_EIO, 0, "cannot create control directory %s: %s", dir,
                       strerror(errno));
        goto fail;
    }
    if (sock_path(job_id, (int)getpid(), c->path, sizeof c->path)) {
        weir_error_set(err, WEIR_EINVAL, 0, "control socket path too long (set WEIR_CONTROL_DIR)");
        goto fail;
    }
    unlink(c->path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", c->path);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(c->fd, 8) != 0) {
        weir_error_set(err, WEIR_EIO, 0, "control socket %s: %s", c->path, strerror(errno));
        goto fail;
    }
    if (pthread_create(&c->th, NULL, serve, c)) {
        weir_error_set(err, WEIR_EINTERNAL, 0, "cannot start the control thread");
        unlink(c->path);
        goto fail;
    }
    return c;
fail:
    if (c->fd >= 0) close(c->fd);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
}

void weir_control_set_job(weir_control *c, weir_job *job) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->job = job;
    pthread_mutex_unlock(&c->mu);
}

void weir_control_set_savepoint_dir(weir_control *c, const char *dir) {
    if (c) snprintf(c->sp_dir, sizeof c->sp_dir, "%s", dir ? dir : "");
}

void weir_control_stop(weir_control *c) {
    if (!c) return;
    atomic_store(&c->stop, 1);
    pthread_join(c->th, NULL);
    close(c->fd);
    unlink(c->path);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

weir_err weir_control_request(const char *job_id, const char *request, char *out, size_t cap,
                              int timeout_ms, weir_error *err) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int pid = 0;
    int f = find_server(job_id, &pid);
    if (f == -1) return weir_error_set(err, WEIR_ENOTFOUND, 0, "no running job %s", job_id);
    if (f == -2)
        return weir_error_set(err, WEIR_EINVAL, 0,
                              "several processes run job %s: stop all but one (see weir list)",
                              job_id);
    if (sock_path(job_id, pid, a.sun_path, sizeof a.sun_path))
        return weir_error_set(err, WEIR_EINVAL, 0, "job id too long");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return weir_error_set(err, WEIR_EIO, 0, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return weir_error_set(err, WEIR_ENOTFOUND, 0, "no running job %s", job_id);
        return weir_error_set(err, WEIR_EIO, 0, "connect %s: %s", a.sun_path, strerror(e));
    }
    size_t rl = strlen(request);
    if (write(fd, request, rl) != (ssize_t)rl || write(fd, "\n", 1) != 1) {
        close(fd);
        return weir_error_set(err, WEIR_EIO, 0, "write: %s", strerror(errno));
    }
    size_t n = 0;
    int64_t deadline = weir_wall_ms() + timeout_ms;
    while (n < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - weir_wall_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            close(fd);
            return weir_error_set(err, WEIR_ETIMEOUT, 0, "no answer from job %s", job_id);
        }
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        if (memchr(out, '\n', n)) break;
    }
    close(fd);
    out[n] = '\0';
    char *nl = strchr(out, '\n');
    if (nl) *nl = '\0';
    if (!n) return weir_error_set(err, WEIR_EIO, 0, "empty answer from job %s", job_id);
    return WEIR_OK;
}
