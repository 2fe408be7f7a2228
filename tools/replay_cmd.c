/*
 * tools/replay_cmd.c - `weir run replay`: the bounded DLQ replay job (spec dedup-job.md §10,
 * issue #5, jobs/replay/replay.h).
 *
 * Configuration comes from the REPLAY_* / QUALITY_* environment (rp_config_from_env), then the
 * flags override it. The job reads the DLQ topic from the earliest offset up to the end offsets
 * seen at start, re-publishes the replayable envelopes' payloads to the output topic and ends by
 * itself. While it runs, a progress line (read / replayed / skipped by reason) is printed on
 * stderr every second; at the end the one-line JSON summary goes to stdout. SIGINT/SIGTERM drain
 * the job (sources stop, the sink flushes) and the summary of what was done is still printed.
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage error. argv[0] is the command name
 * ("run" or "replay"); a leading positional "replay" (as in `weir run replay ...`) is accepted.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs/replay/replay.h"
#include "tools/cli.h"
#include "weir/clock.h"
#include "weir/weir.h"

static const char replay_usage[] =
    "Usage: weir run replay [options]\n"
    "\n"
    "Re-publishes DLQ envelopes' original events to the input topic with __replay metadata\n"
    "(spec dedup-job.md §10). Reads the DLQ topic from the earliest offset up to the end offsets\n"
    "seen at start, then ends.\n"
    "\n"
    "Options (override the environment):\n"
    "  --kafka BOOTSTRAP        Kafka bootstrap servers (REPLAY_KAFKA_BOOTSTRAP,\n"
    "                           QUALITY_KAFKA_BOOTSTRAP, default kafka:9092)\n"
    "  --dlq-topic NAME         topic to read (REPLAY_DLQ_TOPIC, QUALITY_DLQ_TOPIC,\n"
    "                           default events.dlq.streaming_events.v1)\n"
    "  --output-topic NAME      topic to write (REPLAY_OUTPUT_TOPIC, QUALITY_INPUT_TOPIC,\n"
    "                           default streaming_events)\n"
    "  --start-ms MS            window start, epoch ms, INCLUSIVE (REPLAY_START_EPOCH_MS)\n"
    "  --end-ms MS              window end, epoch ms, INCLUSIVE (REPLAY_END_EPOCH_MS); for\n"
    "                           back-to-back windows use end = next start - 1\n"
    "  --include-replayed       also replay envelopes whose payload already has __replay=true\n"
    "                           (REPLAY_INCLUDE_REPLAYED=true; off by default: loop protection)\n"
    "  -p, --parallelism N      parallelism of source, replay and sink (default 1)\n"
    "  -D kafka.<prop>=value    extra librdkafka property\n"
    "  -h, --help               this text\n"
    "\n"
    "The reference time of an envelope is eventTimestamp, else source.recordTimestamp. Skipped\n"
    "records are counted per reason (malformed, no_time, window, no_payload, encoding,\n"
    "body_invalid, not_object, replayed_again) and logged with WEIR_LOG_LEVEL=debug.\n"
    "Progress goes to stderr every second; the JSON summary to stdout at the end.\n";

static weir_job *volatile g_replay_job;

static void replay_on_signal(int sig) {
    (void)sig;
    if (g_replay_job) weir_job_drain(g_replay_job);
}

/* weir_job_wait() blocks, so progress is printed by a small thread while the main thread
 * waits; it only reads the job's atomic counters. */
typedef struct progress_thread {
    weir_metrics *m;
    atomic_int stop;
    int64_t t0;
} progress_thread;

static void *progress_main(void *arg) {
    progress_thread *pt = arg;
    weir_buf line = {0};
    while (!atomic_load(&pt->stop)) {
        for (int i = 0; i < 10 && !atomic_load(&pt->stop); i++)
            usleep(100 * 1000);
        if (atomic_load(&pt->stop)) break;
        rp_progress p;
        rp_job_progress(pt->m, &p);
        weir_buf_reset(&line);
        rp_progress_write(&line, &p);
        fprintf(stderr, "%s [%.1f s]\n", line.data ? line.data : "",
                (double)(weir_mono_ms() - pt->t0) / 1000.0);
    }
    weir_buf_free(&line);
    return NULL;
}

enum { OPT_KAFKA = 1000, OPT_DLQ, OPT_OUT, OPT_START, OPT_END, OPT_INCL };

int weir_cmd_replay(int argc, char **argv) {
    static const struct option opts[] = {{"kafka", required_argument, 0, OPT_KAFKA},
                                         {"dlq-topic", required_argument, 0, OPT_DLQ},
                                         {"output-topic", required_argument, 0, OPT_OUT},
                                         {"start-ms", required_argument, 0, OPT_START},
                                         {"end-ms", required_argument, 0, OPT_END},
                                         {"include-replayed", no_argument, 0, OPT_INCL},
                                         {"parallelism", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int status = 1;
    rp_job_options o;
    memset(&o, 0, sizeof o);
    rp_config_defaults(&o.cfg);
    rp_config_from_env(&o.cfg, (const char *(*)(const char *))getenv);
    o.parallelism = 1;
    weir_config *props = weir_config_new();
    rp_job *rj = NULL;
    weir_job *job = NULL;
    weir_error err = {0};
    if (!props) {
        fputs("weir run replay: out of memory\n", stderr);
        return 1;
    }
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:D:h", opts, NULL)) != -1) {
        const char *flag = NULL;
        char *dst = NULL;
        size_t cap = 0;
        switch (c) {
        case OPT_KAFKA:
            flag = "--kafka", dst = o.cfg.bootstrap, cap = sizeof o.cfg.bootstrap;
            break;
        case OPT_DLQ:
            flag = "--dlq-topic", dst = o.cfg.dlq_topic, cap = sizeof o.cfg.dlq_topic;
            break;
        case OPT_OUT:
            flag = "--output-topic", dst = o.cfg.output_topic, cap = sizeof o.cfg.output_topic;
            break;
        case OPT_START:
        case OPT_END: {
            int64_t v;
            if (!rp_parse_bound(optarg, &v)) {
                fprintf(stderr, "weir run replay: %s: '%s' is not an epoch-ms integer\n",
                        c == OPT_START ? "--start-ms" : "--end-ms", optarg);
                status = 2;
                goto done;
            }
            if (c == OPT_START)
                o.cfg.has_start = 1, o.cfg.start_ms = v;
            else
                o.cfg.has_end = 1, o.cfg.end_ms = v;
            break;
        }
        case OPT_INCL:
            o.cfg.include_replayed = 1;
            break;
        case 'p': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > 1024) {
                fprintf(stderr, "weir run replay: invalid parallelism '%s' (1..1024)\n", optarg);
                status = 2;
                goto done;
            }
            o.parallelism = (int32_t)v;
            break;
        }
        case 'D':
            if (strncmp(optarg, "kafka.", 6) || weir_config_set_kv(props, optarg + 6, &err)) {
                fprintf(stderr, "weir run replay: -D %s: expected kafka.<property>=value\n",
                        optarg);
                status = 2;
                goto done;
            }
            break;
        case 'h':
            fputs(replay_usage, stdout);
            status = 0;
            goto done;
        default:
            fputs("weir run replay: see `weir run replay --help`\n", stderr);
            status = 2;
            goto done;
        }
        if (dst) {
            if (!*optarg || strlen(optarg) >= cap) {
                fprintf(stderr, "weir run replay: %s: empty or longer than %zu bytes\n", flag,
                        cap - 1);
                status = 2;
                goto done;
            }
            snprintf(dst, cap, "%s", optarg);
        }
    }
    if (optind < argc && !strcmp(argv[optind], "replay")) optind++;
    if (optind < argc) {
        fprintf(stderr, "weir run replay: unexpected argument '%s'\n", argv[optind]);
        status = 2;
        goto done;
    }
    o.props = props;
    rj = rp_job_new(&o, &err);
    if (!rj) {
        fprintf(stderr, "weir run replay: %s\n", err.msg);
        status = err.code == WEIR_EINVAL ? 2 : 1;
        goto done;
    }
    fprintf(stderr, "weir run replay: %s → %s at %s, window [", o.cfg.dlq_topic, o.cfg.output_topic,
            o.cfg.bootstrap);
    if (o.cfg.has_start) fprintf(stderr, "%lld", (long long)o.cfg.start_ms);
    fputs(", ", stderr);
    if (o.cfg.has_end) fprintf(stderr, "%lld", (long long)o.cfg.end_ms);
    fprintf(stderr, "] (inclusive), loop protection %s\n", o.cfg.include_replayed ? "off" : "on");

    weir_job_options jo;
    memset(&jo, 0, sizeof jo);
    jo.state_backend = "heap"; /* the replay job keeps no keyed state */
    int64_t t0 = weir_mono_ms();
    job = weir_job_start(rp_job_graph(rj), &jo, &err);
    if (!job) {
        fprintf(stderr, "weir run replay: %s\n", err.msg);
        goto done;
    }
    g_replay_job = job;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = replay_on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    progress_thread pt = {.m = weir_job_metrics(job), .t0 = t0};
    atomic_init(&pt.stop, 0);
    pthread_t th;
    int th_ok = pthread_create(&th, NULL, progress_main, &pt) == 0;
    weir_err rc = weir_job_wait(job, &err);
    atomic_store(&pt.stop, 1);
    if (th_ok) pthread_join(th, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    g_replay_job = NULL;
    int64_t elapsed = weir_mono_ms() - t0;
    if (rc) {
        fprintf(stderr, "weir run replay: job failed: %s\n", err.msg);
    } else {
        status = 0;
    }
    weir_buf sum = {0};
    rp_job_summary(rj, weir_job_metrics(job), elapsed, &sum);
    if (sum.data) {
        if (status == 0)
            printf("%s\n", sum.data);
        else
            fprintf(stderr, "weir run replay: partial progress: %s\n", sum.data);
    }
    weir_buf_free(&sum);
    fflush(stdout);
done:
    if (job) weir_job_free(job);
    rp_job_free(rj);
    weir_config_free(props);
    return status;
}
