/*
 * kafka_cmd.c - `weir kafka embedded ...`: runs the embedded Kafka (librdkafka mock cluster) as a
 * standalone process so that jobs and real clients (kcat) can use it with no broker installed.
 *
 *   weir kafka embedded [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]
 *
 * Prints the bootstrap address as the first stdout line (flushed), optionally writes it to
 * PATH (atomically: temp file + rename, so a reader never sees a partial line), then waits for
 * SIGINT/SIGTERM and stops cleanly (removing PATH, so a stale address is never left behind).
 * SIGINT/SIGTERM are blocked before the cluster's threads start (so they inherit the mask) and
 * received with sigwait(): no async handler runs.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "weir/connectors.h"

#define MAX_CMD_TOPICS 64

static void usage(FILE *f) {
    fprintf(f, "usage: weir kafka embedded [--brokers N] [--topic NAME:PARTITIONS]... "
               "[--bootstrap-file PATH]\n"
               "  Starts an embedded Kafka (librdkafka mock cluster) on loopback, prints its\n"
               "  bootstrap address as the first line, and runs until SIGINT/SIGTERM.\n"
               "  Unknown topics are auto-created (4 partitions) when a client uses them.\n");
}

static int write_bootstrap_file(const char *path, const char *bootstrap) {
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%s\n", bootstrap) > 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

/**
 * Entry point of `weir kafka ...`; @p argv[0] is "kafka" (or the program name), @p argv[1] the
 * subcommand. Returns the process exit status (0 ok, 1 runtime failure, 2 usage error). Blocks
 * SIGINT/SIGTERM in the calling thread while running; not thread-safe (owns the process).
 */
int weir_cmd_kafka(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "embedded") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return 2;
    }
    int brokers = 1;
    const char *bootstrap_file = NULL;
    char *topics[MAX_CMD_TOPICS];
    int parts[MAX_CMD_TOPICS], n_topics = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "weir kafka embedded: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--brokers")) {
            char *end;
            long b = strtol(v, &end, 10);
            if (*end || b < 1 || b > 64) {
                fprintf(stderr, "weir kafka embedded: --brokers must be 1..64\n");
                return 2;
            }
            brokers = (int)b;
        } else if (!strcmp(a, "--topic")) {
            const char *colon = strrchr(v, ':');
            char *end = NULL;
            long p = colon ? strtol(colon + 1, &end, 10) : 1;
            if (colon == v || (colon && (*end || p < 1 || p > 100000))) {
                fprintf(stderr, "weir kafka embedded: --topic expects NAME:PARTITIONS, got '%s'\n",
                        v);
                return 2;
            }
            if (n_topics == MAX_CMD_TOPICS) {
                fprintf(stderr, "weir kafka embedded: at most %d topics\n", MAX_CMD_TOPICS);
                return 2;
            }
            topics[n_topics] = colon ? strndup(v, (size_t)(colon - v)) : strdup(v);
            parts[n_topics++] = (int)p;
        } else if (!strcmp(a, "--bootstrap-file")) {
            bootstrap_file = v;
        } else {
            fprintf(stderr, "weir kafka embedded: unknown flag %s\n", a);
            usage(stderr);
            return 2;
        }
    }

    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);

    int rc = 0;
    weir_error err = {0};
    weir_embedded_kafka *k = weir_embedded_kafka_start(brokers, &err);
    if (!k) {
        fprintf(stderr, "weir kafka embedded: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    for (int t = 0; t < n_topics; t++) {
        if (!topics[t] || weir_embedded_kafka_create_topic(k, topics[t], parts[t], &err)) {
            fprintf(stderr, "weir kafka embedded: %s\n", topics[t] ? err.msg : "out of memory");
            rc = 1;
            goto out;
        }
        fprintf(stderr, "weir kafka embedded: topic %s with %d partition(s)\n", topics[t],
                parts[t]);
    }
    const char *bs = weir_embedded_kafka_bootstrap(k);
    printf("%s\n", bs);
    fflush(stdout);
    if (bootstrap_file && write_bootstrap_file(bootstrap_file, bs) != 0) {
        fprintf(stderr, "weir kafka embedded: cannot write %s: %s\n", bootstrap_file,
                strerror(errno));
        rc = 1;
        goto out;
    }
    fprintf(stderr, "weir kafka embedded: %d broker(s) at %s; stop with Ctrl-C\n", brokers, bs);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    fprintf(stderr, "weir kafka embedded: %s received, stopping\n", strsignal(sig));
out:
    weir_embedded_kafka_stop(k);
    if (rc == 0 && bootstrap_file) unlink(bootstrap_file);
    for (int t = 0; t < n_topics; t++)
        free(topics[t]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
