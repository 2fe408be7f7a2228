/*
 * tools/run_cmd.c - `weir run <job>`: builds a job from flags, runs it in this process and
 * prints the one-line JSON summary of a bounded run on stdout.
 *
 * With `--kafka embedded` an in-process embedded Kafka (librdkafka mock cluster) is started and
 * a feeder thread produces the input (`--generate N` events from the generator, or the lines of
 * the `--input` files) while the job consumes. Because the mock cluster keeps only the newest
 * ~5 MB / 100 000 messages per partition, the feeder never runs more than a bounded window ahead
 * of what the job has consumed. When everything was produced and consumed, the job is drained
 * (sources end, operators flush) and the summary printed.
 */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint/metadata.h"
#include "jobs/dedup/job.h"
#include "jobs/session/job.h"
#include "tools/cli.h"
#include "tools/control.h"
#include "tools/gen.h"
#include "weir/clock.h"
#include "weir/fs.h"
#include "weir/weir.h"

static const char run_usage[] =
    "Usage: weir run <job> [options]\n"
    "\n"
    "Jobs:\n"
    "  dedup    the quality gate / dedup / typed-row job (spec dedup-job.md)\n"
    "  session  quality gate + dedup + workflow-lifecycle facts (spec session-job.md; no typed\n"
    "           rows): fact_* tables; LIFECYCLE_* environment, see docs/session-job.md\n"
    "  pipeline one DAG: dedup typed rows and lifecycle facts sharing the gate\n"
    "  replay   the bounded DLQ replay job (spec dedup-job.md §10; `weir run replay --help`)\n"
    "\n"
    "Input (one of):\n"
    "  --input FILE               JSON lines, one Kafka record value per line (repeatable)\n"
    "  --kafka BOOTSTRAP          consume from Kafka (topics: QUALITY_INPUT_TOPIC(S) or --topic);\n"
    "                             DLQ/quarantine envelopes are produced to their topics\n"
    "  --kafka embedded           start an embedded Kafka in this process and feed it with\n"
    "                             --generate N events or the --input files, then run the job\n"
    "Options:\n"
    "  --topic NAME               input topic (default QUALITY_INPUT_TOPIC or streaming_events)\n"
    "  --dlq-topic NAME           DLQ topic (default QUALITY_DLQ_TOPIC)\n"
    "  --quarantine-topic NAME    quarantine topic (default QUALITY_QUARANTINE_TOPIC)\n"
    "  --generate N               embedded mode: number of generated events (default 100000)\n"
    "  --seed S, --dup-fraction F, --malformed-fraction F   generator settings (embedded mode)\n"
    "  --partitions N             embedded mode: input topic partitions (default 8)\n"
    "  --output-dir DIR           write <table>.jsonl per ClickHouse table, plus\n"
    "                             streaming_events_dlq.jsonl and "
    "streaming_events_quarantine.jsonl\n"
    "  --clickhouse URL           also insert typed, DLQ and quarantine rows into ClickHouse over\n"
    "                             HTTP (CLICKHOUSE_USER/PASSWORD/SINK_* apply; see weir schema)\n"
    "  --clickhouse-database DB   database (default CLICKHOUSE_DATABASE, else derived from URL)\n"
    "  --clickhouse-user U        user (default CLICKHOUSE_USER; \"\" = no authentication)\n"
    "  -p, --parallelism N        parallelism of the job's operators (default 1 or\n"
    "                             -D parallelism.default)\n"
    "  --max-parallelism N        key groups of keyed operators (default: Flink's rule, >= 128)\n"
    "  --state-backend KIND       rocksdb (default) or heap (-D state.backend.type)\n"
    "  --state-dir DIR            RocksDB working directory (default /tmp/weir-state-<pid>)\n"
    "  --bounded                  Kafka: stop at the end offsets seen at start\n"
    "  --checkpoint-dir DIR       take checkpoints into DIR/<job-id>/chk-<n> (interval:\n"
    "                             -D execution.checkpointing.interval=10s); a restarted command\n"
    "                             resumes from the latest completed checkpoint found there;\n"
    "                             row files are then committed per checkpoint as\n"
    "                             <table>/part-*.jsonl (exactly-once)\n"
    "  --fresh                    ignore (delete) the checkpoints of this job and start over\n"
    "  -s, --fromSavepoint PATH   restore from a savepoint or checkpoint directory\n"
    "  -n, --allowNonRestoredState  skip state of operators that are not in the job\n"
    "  --job-id ID                job id (default: derived from the job name)\n"
    "  -D key=value               configuration (Flink names: parallelism.default,\n"
    "                             pipeline.max-parallelism, state.backend.type,\n"
    "                             state.backend.rocksdb.writebuffer.size,\n"
    "                             state.backend.rocksdb.block.cache-size; kafka.<prop> is\n"
    "                             passed to librdkafka)\n"
    "  -h, --help                 this text\n"
    "\n"
    "Environment (spec §11): QUALITY_KAFKA_BOOTSTRAP, QUALITY_INPUT_TOPIC(S), QUALITY_DLQ_TOPIC,\n"
    "QUALITY_QUARANTINE_TOPIC, QUALITY_GROUP_ID, QUALITY_DEDUP_TTL_MINUTES (1440),\n"
    "QUALITY_SUPPORTED_VERSIONS (1,v1), CLICKHOUSE_SINK_MAX_RECORD_BYTES (1000000),\n"
    "QUALITY_TABLE_PREFIX (e.g. raw_).\n"
    "\n"
    "A bounded run exits 0 and prints one JSON line: job, records_in, accepted, dlq, quarantine,\n"
    "rows (table -> count), elapsed_ms, records_per_s. Errors exit 1 (2 for bad usage).\n";

static weir_job *volatile g_job;

static void on_signal(int sig) {
    (void)sig;
    if (g_job) weir_job_drain(g_job);
}

/* mkdir -p, then writable? 0 or -1 with errno. */
static int ensure_dir(const char *dir) {
    return weir_mkdirs(dir) ? -1 : access(dir, W_OK | X_OK);
}

/* ------------------------------------------------------------ embedded feeder */

typedef struct feeder {
    const char *bootstrap, *topic;
    const char **files;
    size_t n_files;
    weir_gen_options gen;
    int partitions;
    weir_metrics *metrics; /* the running job's, for flow control */
    pthread_mutex_t mu;
    weir_job *job;
    atomic_llong produced;
    atomic_int done, failed;
    char err[1400];
} feeder;

static weir_metrics *feeder_metrics(feeder *f) {
    pthread_mutex_lock(&f->mu);
    weir_metrics *m = f->job ? weir_job_metrics(f->job) : NULL;
    pthread_mutex_unlock(&f->mu);
    return m;
}

static int feed_one(feeder *f, rd_kafka_t *rk, const char *p, size_t n, int64_t window) {
    for (;;) {
        weir_metrics *m = feeder_metrics(f);
        int64_t consumed = m ? weir_metrics_value(m, "quality_gate.input") : 0;
        if (atomic_load(&f->produced) - consumed < window) break;
        rd_kafka_poll(rk, 1);
    }
    for (;;) {
        /* round-robin: the sticky partitioner would pile batches onto a few partitions */
        int32_t part = (int32_t)(atomic_load(&f->produced) % f->partitions);
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(f->topic), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_VALUE((void *)p, n),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e) break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(f->err, sizeof f->err, "produce failed: %s", rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(rk, 5);
    }
    atomic_fetch_add(&f->produced, 1);
    rd_kafka_poll(rk, 0);
    return 0;
}

static void *feeder_main(void *arg) {
    feeder *f = arg;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        snprintf(f->err, sizeof f->err, "producer: %s", errstr);
        atomic_store(&f->failed, 1);
        atomic_store(&f->done, 1);
        return NULL;
    }
    /* stay well inside the mock cluster's per-partition retention (~5 MB / 100 000 msgs):
     * round-robin partitions, at most ~3000 events (~2 MB) per partition ahead of the job */
    int64_t window = (int64_t)f->partitions * 3000;
    int rc = 0;
    weir_buf line = {0};
    if (f->n_files) {
        for (size_t i = 0; !rc && i < f->n_files; i++) {
            FILE *fp = fopen(f->files[i], "rb");
            if (!fp) {
                snprintf(f->err, sizeof f->err, "cannot open %s: %s", f->files[i], strerror(errno));
                rc = -1;
                break;
            }
            char *l = NULL;
            size_t cap = 0;
            ssize_t n;
            while (!rc && (n = getline(&l, &cap, fp)) >= 0) {
                while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r'))
                    n--;
                rc = feed_one(f, rk, l, (size_t)n, window);
            }
            free(l);
            fclose(fp);
        }
    } else {
        weir_gen *g = weir_gen_new(&f->gen);
        if (!g) {
            snprintf(f->err, sizeof f->err, "invalid generator options");
            rc = -1;
        }
        while (!rc && g && weir_gen_next(g, &line) == 1)
            rc = feed_one(f, rk, line.data, line.len, window);
        weir_gen_free(g);
    }
    weir_buf_free(&line);
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_poll(rk, 10);
    rd_kafka_destroy(rk);
    if (rc) atomic_store(&f->failed, 1);
    atomic_store(&f->done, 1);
    return NULL;
}

/* ----------------------------------------------------------------- the command */

enum {
    OPT_INPUT = 1000,
    OPT_KAFKA,
    OPT_TOPIC,
    OPT_DLQ,
    OPT_QUAR,
    OPT_GENERATE,
    OPT_SEED,
    OPT_DUP,
    OPT_MAL,
    OPT_PARTS,
    OPT_OUT,
    OPT_MAXP,
    OPT_BACKEND,
    OPT_STATEDIR,
    OPT_BOUNDED,
    OPT_CH,
    OPT_CHDB,
    OPT_CHUSER,
    OPT_CKDIR,
    OPT_FRESH,
    OPT_JOBID
};

static int parse_long(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* What on_job_started updates when weir_job_run (re)starts the job. */
typedef struct run_ctl {
    feeder *fd;
    weir_control *control;
} run_ctl;

static void on_job_started(void *ud, weir_job *job, int attempt) {
    run_ctl *ctl = ud;
    pthread_mutex_lock(&ctl->fd->mu);
    ctl->fd->job = job;
    pthread_mutex_unlock(&ctl->fd->mu);
    g_job = job;
    weir_control_set_job(ctl->control, job);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (attempt > 0 || weir_job_restored_from(job))
        fprintf(stderr, "weir run: job %s restored from checkpoint/savepoint %lld\n",
                weir_job_id(job), (long long)weir_job_restored_from(job));
}

/* Checkpointing and restore options (issue #3) for the job @p job_id: --checkpoint-dir resumes
 * from the latest completed checkpoint found there unless --fresh or -s is given. 0 or -1
 * (message printed). */
static int run_fault_tolerance(weir_job_options *jo, const char *ck_dir, const char *job_id,
                               const char *from_sp, int allow_nr, int fresh, char *restore_buf,
                               size_t cap) {
    jo->checkpoint_dir = ck_dir;
    jo->job_id = job_id;
    jo->allow_non_restored_state = allow_nr;
    if (from_sp) {
        jo->restore_path = from_sp;
        fprintf(stderr, "weir run: restoring from %s\n", from_sp);
        return 0;
    }
    if (!ck_dir) {
        if (fresh) fputs("weir run: --fresh has no effect without --checkpoint-dir\n", stderr);
        return 0;
    }
    char jd[1200];
    snprintf(jd, sizeof jd, "%s/%s", ck_dir, job_id);
    if (fresh) {
        if (weir_rmtree(jd) != 0 && errno != ENOENT) {
            fprintf(stderr, "weir run: --fresh: cannot remove %s: %s\n", jd, strerror(errno));
            return -1;
        }
        fprintf(stderr, "weir run: --fresh: starting over (removed %s)\n", jd);
        return 0;
    }
    wck_entry e;
    weir_error err = {0};
    weir_err rc = wck_latest(jd, &e, &err);
    if (rc == WEIR_ENOTFOUND) {
        fprintf(stderr, "weir run: no completed checkpoint in %s: starting fresh\n", jd);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "weir run: %s\n", err.msg);
        return -1;
    }
    snprintf(restore_buf, cap, "%s", e.path);
    jo->restore_path = restore_buf;
    fprintf(stderr, "weir run: resuming from checkpoint %lld (%s)\n", (long long)e.checkpoint_id,
            e.path);
    return 0;
}

int weir_cmd_run(int argc, char **argv) {
    /* jobs with their own option sets */
    if (argc > 1 && !strcmp(argv[1], "replay")) return weir_cmd_replay(argc - 1, argv + 1);
    static const struct option opts[] = {{"input", required_argument, 0, OPT_INPUT},
                                         {"kafka", required_argument, 0, OPT_KAFKA},
                                         {"topic", required_argument, 0, OPT_TOPIC},
                                         {"dlq-topic", required_argument, 0, OPT_DLQ},
                                         {"quarantine-topic", required_argument, 0, OPT_QUAR},
                                         {"generate", required_argument, 0, OPT_GENERATE},
                                         {"seed", required_argument, 0, OPT_SEED},
                                         {"dup-fraction", required_argument, 0, OPT_DUP},
                                         {"malformed-fraction", required_argument, 0, OPT_MAL},
                                         {"partitions", required_argument, 0, OPT_PARTS},
                                         {"output-dir", required_argument, 0, OPT_OUT},
                                         {"parallelism", required_argument, 0, 'p'},
                                         {"max-parallelism", required_argument, 0, OPT_MAXP},
                                         {"state-backend", required_argument, 0, OPT_BACKEND},
                                         {"state-dir", required_argument, 0, OPT_STATEDIR},
                                         {"bounded", no_argument, 0, OPT_BOUNDED},
                                         {"clickhouse", required_argument, 0, OPT_CH},
                                         {"clickhouse-database", required_argument, 0, OPT_CHDB},
                                         {"clickhouse-user", required_argument, 0, OPT_CHUSER},
                                         {"checkpoint-dir", required_argument, 0, OPT_CKDIR},
                                         {"fresh", no_argument, 0, OPT_FRESH},
                                         {"job-id", required_argument, 0, OPT_JOBID},
                                         {"fromSavepoint", required_argument, 0, 's'},
                                         {"allowNonRestoredState", no_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    size_t n_inputs = 0;
    const char *kafka = NULL, *topic = NULL, *dlq = NULL, *quar = NULL, *out = NULL;
    const char *backend = NULL, *state_dir = NULL, *ch_url = NULL, *ch_db = NULL, *ch_user = NULL;
    long long generate = 100000, parts = 8, p = 0, maxp = 0, seed = 1;
    double dupf = 0.05, malf = 0.01;
    int bounded = 0, status = 1, fresh = 0, allow_nr = 0;
    const char *ck_dir = NULL, *from_sp = NULL, *job_id_opt = NULL;
    weir_config *cfg = weir_config_new();
    weir_config *props = weir_config_new();
    weir_embedded_kafka *ek = NULL;
    dd_job *dj = NULL;
    ws_job *sj = NULL; /* session | pipeline */
    weir_job *job = NULL;
    feeder fd;
    memset(&fd, 0, sizeof fd);
    pthread_mutex_init(&fd.mu, NULL);
    int feeder_started = 0;
    pthread_t feeder_th;
    weir_error err = {0};
    char restore_buf[1200] = "";
    weir_control *control = NULL;
    if (!inputs || !cfg || !props) {
        fprintf(stderr, "weir run: out of memory\n");
        goto done;
    }
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:D:s:nh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_CKDIR:
            ck_dir = optarg;
            break;
        case OPT_FRESH:
            fresh = 1;
            break;
        case OPT_JOBID:
            job_id_opt = optarg;
            break;
        case 's':
            from_sp = optarg;
            break;
        case 'n':
            allow_nr = 1;
            break;
        case OPT_INPUT:
            inputs[n_inputs++] = optarg;
            break;
        case OPT_KAFKA:
            kafka = optarg;
            break;
        case OPT_TOPIC:
            topic = optarg;
            break;
        case OPT_DLQ:
            dlq = optarg;
            break;
        case OPT_QUAR:
            quar = optarg;
            break;
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_BACKEND:
            backend = optarg;
            break;
        case OPT_STATEDIR:
            state_dir = optarg;
            break;
        case OPT_BOUNDED:
            bounded = 1;
            break;
        case OPT_CH:
            ch_url = optarg;
            break;
        case OPT_CHDB:
            ch_db = optarg;
            break;
        case OPT_CHUSER:
            ch_user = optarg;
            break;
        case OPT_DUP:
            dupf = atof(optarg);
            break;
        case OPT_MAL:
            malf = atof(optarg);
            break;
        case OPT_GENERATE:
        case OPT_SEED:
        case OPT_PARTS:
        case OPT_MAXP:
        case 'p': {
            long long v;
            long long lo = (c == OPT_SEED || c == OPT_GENERATE) ? 0 : 1;
            long long hi = c == OPT_MAXP ? 32768 : (c == 'p' ? 1024 : (long long)4e18);
            if (parse_long(optarg, lo, hi, &v)) {
                fprintf(stderr, "weir run: invalid number '%s' for --%s\n", optarg,
                        c == 'p' ? "parallelism" : opts[c - OPT_INPUT].name);
                status = 2;
                goto done;
            }
            if (c == 'p')
                p = v;
            else if (c == OPT_MAXP)
                maxp = v;
            else if (c == OPT_SEED)
                seed = v;
            else if (c == OPT_PARTS)
                parts = v;
            else
                generate = v;
            break;
        }
        case 'D':
            if (weir_config_set_kv(cfg, optarg, &err)) {
                fprintf(stderr, "weir run: -D %s\n", err.msg);
                status = 2;
                goto done;
            }
            if (!strncmp(optarg, "kafka.", 6)) weir_config_set_kv(props, optarg + 6, &err);
            break;
        case 'h':
            fputs(run_usage, stdout);
            status = 0;
            goto done;
        default:
            fputs("weir run: see `weir run --help`\n", stderr);
            status = 2;
            goto done;
        }
    }
    if (optind >= argc) {
        fputs("weir run: missing job name (dedup); see `weir run --help`\n", stderr);
        status = 2;
        goto done;
    }
    const char *job_name = argv[optind];
    if (strcmp(job_name, "dedup") && strcmp(job_name, "session") && strcmp(job_name, "pipeline")) {
        fprintf(stderr,
                "weir run: unknown job '%s' (available: dedup, session, pipeline, replay)\n",
                job_name);
        status = 2;
        goto done;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "weir run: unexpected argument '%s'\n", argv[optind + 1]);
        status = 2;
        goto done;
    }
    if (!kafka && !n_inputs) {
        fputs("weir run: no input: give --input FILE or --kafka BOOTSTRAP|embedded\n", stderr);
        status = 2;
        goto done;
    }
    int embedded = kafka && !strcmp(kafka, "embedded");
    if (kafka && !embedded && n_inputs) {
        fputs("weir run: --input and --kafka BOOTSTRAP are exclusive (use --kafka embedded to "
              "feed files through Kafka)\n",
              stderr);
        status = 2;
        goto done;
    }
    int64_t cv = 0;
    if (!p && weir_config_get_int(cfg, "parallelism.default", 1, &cv, &err)) {
        fprintf(stderr, "weir run: %s\n", err.msg);
        status = 2;
        goto done;
    }
    if (!p) p = cv;
    if (p < 1 || p > 1024) {
        fprintf(stderr, "weir run: parallelism %lld out of range [1, 1024]\n", p);
        status = 2;
        goto done;
    }
    if (!maxp && weir_config_get_int(cfg, "pipeline.max-parallelism", 0, &cv, &err)) {
        fprintf(stderr, "weir run: %s\n", err.msg);
        status = 2;
        goto done;
    }
    if (!maxp) maxp = cv;
    if (!backend) backend = weir_config_get(cfg, "state.backend.type", "rocksdb");
    if (!strcmp(backend, "hashmap")) backend = "heap"; /* Flink's name for the heap backend */
    if (strcmp(backend, "rocksdb") && strcmp(backend, "heap")) {
        fprintf(stderr, "weir run: unknown state backend '%s' (rocksdb|heap)\n", backend);
        status = 2;
        goto done;
    }
    if (!out && !ch_url) { /* typed rows must land somewhere: no silent drop */
        fputs("weir run: no row output: give --output-dir DIR and/or --clickhouse URL\n", stderr);
        status = 2;
        goto done;
    }
    if (out && ensure_dir(out)) {
        fprintf(stderr, "weir run: output directory %s is not writable: %s\n", out,
                strerror(errno));
        goto done;
    }

    dd_job_options o;
    memset(&o, 0, sizeof o);
    dd_config_defaults(&o.cfg);
    dd_config_from_env(&o.cfg, (const char *(*)(const char *))getenv);
    if (topic) {
        snprintf(o.cfg.input_topics[0], sizeof o.cfg.input_topics[0], "%s", topic);
        o.cfg.n_input_topics = 1;
    }
    if (dlq) snprintf(o.cfg.dlq_topic, sizeof o.cfg.dlq_topic, "%s", dlq);
    if (quar) snprintf(o.cfg.quarantine_topic, sizeof o.cfg.quarantine_topic, "%s", quar);
    o.parallelism = (int32_t)p;
    o.max_parallelism = (int32_t)maxp;
    o.output_dir = out;
    o.props = props;
    o.bounded = bounded;
    weir_clickhouse_sink_conf ch;
    if (ch_url) {
        weir_clickhouse_sink_conf_from_env(&ch, NULL, NULL);
        snprintf(ch.url, sizeof ch.url, "%s", ch_url);
        const char *envdb = getenv("CLICKHOUSE_DATABASE");
        if (ch_user) {
            snprintf(ch.user, sizeof ch.user, "%s", ch_user);
            if (!*ch_user) ch.password[0] = '\0';
        }
        if (ch_db)
            snprintf(ch.database, sizeof ch.database, "%s", ch_db);
        else if (!envdb || !*envdb)
            weir_clickhouse_database_from_url(ch_url, ch.database, sizeof ch.database);
        o.clickhouse = &ch;
    }

    if (embedded) {
        ek = weir_embedded_kafka_start(1, &err);
        if (!ek) {
            fprintf(stderr, "weir run: embedded Kafka: %s\n", err.msg);
            goto done;
        }
        if (weir_embedded_kafka_create_topic(ek, o.cfg.input_topics[0], (int)parts, &err) ||
            weir_embedded_kafka_create_topic(ek, o.cfg.dlq_topic, 1, &err) ||
            weir_embedded_kafka_create_topic(ek, o.cfg.quarantine_topic, 1, &err)) {
            fprintf(stderr, "weir run: embedded Kafka: %s\n", err.msg);
            goto done;
        }
        o.kafka_bootstrap = weir_embedded_kafka_bootstrap(ek);
        o.bounded = 0; /* fed while running, drained when everything was consumed */
        fprintf(stderr, "weir run: embedded Kafka at %s (topic %s, %lld partitions)\n",
                o.kafka_bootstrap, o.cfg.input_topics[0], parts);
    } else if (kafka) {
        o.kafka_bootstrap = kafka;
    } else {
        o.input_files = inputs;
        o.n_input_files = n_inputs;
    }
    if (strcmp(job_name, "dedup")) { /* session | pipeline: jobs/session/job.h */
        ws_job_options wo;
        memset(&wo, 0, sizeof wo);
        wo.dedup = o;
        wo.typed_rows = !strcmp(job_name, "pipeline");
        ws_config_defaults(&wo.cfg);
        if (ws_config_from_env(&wo.cfg, (const char *(*)(const char *))getenv))
            fputs("weir run: invalid LIFECYCLE_* value ignored (default kept)\n", stderr);
        sj = ws_job_new(&wo, &err);
    } else {
        dj = dd_job_new(&o, &err);
    }
    if (!dj && !sj) {
        fprintf(stderr, "weir run: %s\n", err.msg);
        goto done;
    }
    weir_graph *graph = sj ? ws_job_graph(sj) : dd_job_graph(dj);
    weir_job_options jo;
    memset(&jo, 0, sizeof jo);
    jo.state_backend = backend;
    jo.state_dir = state_dir;
    jo.config = cfg;
    if (!ck_dir) ck_dir = weir_config_get(cfg, "state.checkpoints.dir", NULL);
    char jid[40]; /* --job-id, else derived from the job name (as weir_job_start would) */
    if (job_id_opt)
        snprintf(jid, sizeof jid, "%s", job_id_opt);
    else
        wck_job_id_for(weir_graph_job_name(graph), jid);
    if (run_fault_tolerance(&jo, ck_dir, jid, from_sp, allow_nr, fresh, restore_buf,
                            sizeof restore_buf)) {
        status = 2;
        goto done;
    }
    /* Flink's RocksDB memory keys (per keyed subtask here) */
    static const char *const mem_keys[2] = {"state.backend.rocksdb.writebuffer.size",
                                            "state.backend.rocksdb.block.cache-size"};
    for (int k = 0; k < 2; k++) {
        const char *v = weir_config_get(cfg, mem_keys[k], NULL);
        int64_t bytes;
        if (!v) continue;
        if (weir_parse_bytes(v, &bytes) || bytes <= 0) {
            fprintf(stderr, "weir run: -D %s: '%s' is not a memory size (e.g. 64mb)\n", mem_keys[k],
                    v);
            status = 2;
            goto done;
        }
        if (k == 0)
            jo.rocksdb_write_buffer_bytes = (size_t)bytes;
        else
            jo.rocksdb_block_cache_bytes = (size_t)bytes;
    }
    int64_t t0 = weir_mono_ms();
    if (embedded && jo.checkpoint_dir) {
        fputs("weir run: --checkpoint-dir needs a Kafka that outlives the process: use\n"
              "  `weir kafka embedded` and --kafka BOOTSTRAP, or --input files\n",
              stderr);
        status = 2;
        goto done;
    }
    if (embedded) { /* start producing before the job so that topics have data */
        fd.bootstrap = o.kafka_bootstrap;
        fd.topic = o.cfg.input_topics[0];
        fd.files = inputs;
        fd.n_files = n_inputs;
        fd.partitions = (int)parts;
        weir_gen_options_default(&fd.gen);
        fd.gen.seed = (uint64_t)seed;
        fd.gen.count = (uint64_t)generate;
        fd.gen.dup_fraction = dupf;
        fd.gen.malformed_fraction = malf;
        if (pthread_create(&feeder_th, NULL, feeder_main, &fd)) {
            fputs("weir run: cannot start the feeder thread\n", stderr);
            goto done;
        }
        feeder_started = 1;
    }
    run_ctl ctl = {.fd = &fd};
    {
        ctl.control = weir_control_start(jid, weir_graph_job_name(graph), &err);
        if (!ctl.control)
            fprintf(stderr,
                    "weir run: no control socket (%s); savepoint/stop/cancel will not "
                    "reach this job\n",
                    err.msg);
        weir_control_set_savepoint_dir(ctl.control,
                                       weir_config_get(cfg, "state.savepoints.dir", NULL));
        memset(&err, 0, sizeof err);
        control = ctl.control;
        fprintf(stderr, "weir run: job id %s\n", jid);
    }
    weir_err rc;
    if (!embedded) { /* restarts after failures (weir_job_run); embedded mode runs once */
        rc = weir_job_run(graph, &jo, on_job_started, &ctl, &job, &err);
        goto finished;
    }
    job = weir_job_start(graph, &jo, &err);
    if (!job) {
        fprintf(stderr, "weir run: %s\n", err.msg);
        goto done;
    }
    on_job_started(&ctl, job, 0);
    if (embedded) {
        /* wait until everything was produced and consumed, then drain */
        int64_t last = -1, since = weir_mono_ms();
        for (;;) {
            int64_t in = weir_metrics_value(weir_job_metrics(job), "quality_gate.input");
            if (atomic_load(&fd.done) &&
                (atomic_load(&fd.failed) || in >= atomic_load(&fd.produced)))
                break;
            if (in != last) {
                last = in;
                since = weir_mono_ms();
            } else if (weir_mono_ms() - since > 60000) {
                fprintf(stderr, "weir run: the job consumed nothing for 60 s (%lld of %lld)\n",
                        (long long)in, (long long)atomic_load(&fd.produced));
                break;
            }
            usleep(2000);
        }
        weir_job_drain(job);
    }
    rc = weir_job_wait(job, &err);
finished:
    g_job = NULL;
    int64_t elapsed = weir_mono_ms() - t0;
    if (feeder_started) {
        pthread_join(feeder_th, NULL);
        feeder_started = 0;
        if (atomic_load(&fd.failed)) {
            fprintf(stderr, "weir run: feeder: %s\n", fd.err);
            rc = rc ? rc : WEIR_EKAFKA;
        }
    }
    if (rc && !job) {
        fprintf(stderr, "weir run: %s\n", err.msg[0] ? err.msg : weir_err_name(rc));
    } else if (rc) {
        fprintf(stderr, "weir run: job failed: %s\n", err.msg[0] ? err.msg : weir_err_name(rc));
    } else {
        weir_buf sum = {0};
        if (sj)
            ws_job_summary(sj, weir_job_metrics(job), elapsed, &sum);
        else
            dd_job_summary(dj, weir_job_metrics(job), elapsed, &sum);
        printf("%s\n", sum.data);
        fflush(stdout);
        weir_buf_free(&sum);
        status = 0;
    }
done:
    weir_control_set_job(control, NULL);
    weir_control_stop(control);
    if (feeder_started) {
        pthread_join(feeder_th, NULL);
    }
    if (job) weir_job_free(job);
    dd_job_free(dj);
    ws_job_free(sj);
    weir_embedded_kafka_stop(ek);
    weir_config_free(cfg);
    weir_config_free(props);
    free(inputs);
    return status;
}
