/*
 * tools/weir.c - entry point of the `weir` command: dispatches to the subcommands.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

static const char usage[] =
    "weir - a native, Flink-compatible stream-processing runtime\n"
    "\n"
    "Usage: weir <command> [options]\n"
    "\n"
    "Commands:\n"
    "  run <job>         run a job in this process (jobs: dedup, replay); see `weir run --help`\n"
    "  gen               generate realistic Livepeer streaming events (JSON lines or Kafka)\n"
    "  kafka embedded    start an embedded Kafka cluster and print its bootstrap address\n"
    "  bench             measure the dedup job against the raw limits of its parts\n"
    "  schema            print or apply the ClickHouse DDL (dialects 24 and 18)\n"
    "  ch-load           insert <table>.jsonl files into ClickHouse through the sink\n"
    "  checkpoints DIR   list completed checkpoints (id, time, size, duration; --json)\n"
    "  list              running jobs of this user (job id, state, last checkpoint)\n"
    "  savepoint ID [DIR]  take a savepoint of a running job; `savepoint inspect PATH` dumps one\n"
    "  stop --savepointPath DIR ID   stop a running job with a savepoint\n"
    "  cancel ID         cancel a running job\n"
    "  help              this text\n"
    "\n"
    "Environment: the jobs read the QUALITY_*, CLICKHOUSE_* variables of the specs;\n"
    "WEIR_LOG_LEVEL=error|warn|info|debug sets the log level (default warn).\n";

/* The process's allocator policy (a program's decision, so it lives here and not in the
 * library). glibc serves blocks above a dynamic threshold with fresh mmap()s, and returns free
 * memory at the top of each heap to the kernel. librdkafka allocates every fetch response (up to
 * a few MB) that way and frees it once its messages are consumed, so every page of every response
 * was faulted in, zeroed and unmapped again: about a third of the dedup job's system time
 * (perf: _copy_to_iter -> do_anonymous_page under recvmsg). Keeping blocks up to 32 MB on the
 * heaps and not trimming them recycles those pages instead. The price is that memory freed after
 * a peak stays with the process, as with jemalloc or tcmalloc. A user who sets
 * GLIBC_TUNABLES decides for themselves. */
static void tune_allocator(void) {
    const char *t = getenv("GLIBC_TUNABLES");
    if (t && strstr(t, "glibc.malloc.")) return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
}

int main(int argc, char **argv) {
    tune_allocator();
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return weir_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen")) return weir_cmd_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "kafka")) return weir_cmd_kafka(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return weir_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "schema")) return weir_cmd_schema(argc - 1, argv + 1);
    if (!strcmp(cmd, "ch-load")) return weir_cmd_ch_load(argc - 1, argv + 1);
    if (!strcmp(cmd, "checkpoints")) return weir_cmd_checkpoints(argc - 1, argv + 1);
    if (!strcmp(cmd, "savepoint")) return weir_cmd_savepoint(argc - 1, argv + 1);
    if (!strcmp(cmd, "stop")) return weir_cmd_stop(argc - 1, argv + 1);
    if (!strcmp(cmd, "cancel")) return weir_cmd_cancel(argc - 1, argv + 1);
    if (!strcmp(cmd, "list")) return weir_cmd_list(argc - 1, argv + 1);
    fprintf(stderr, "weir: unknown command '%s' (see `weir --help`)\n", cmd);
    return 2;
}
