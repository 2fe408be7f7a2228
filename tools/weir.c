/*
 * tools/weir.c - entry point of the `weir` command: dispatches to the subcommands.
 */
#include <stdio.h>
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

int main(int argc, char **argv) {
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
