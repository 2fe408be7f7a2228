/*
 * tools/cli.h - the weir command's subcommands. Each returns the process exit status
 * (0 success, 1 runtime failure, 2 usage error) and prints its own errors on stderr.
 */
#ifndef WEIR_TOOLS_CLI_H
#define WEIR_TOOLS_CLI_H

/** `weir run <job> [options]` (tools/run_cmd.c). */
int weir_cmd_run(int argc, char **argv);
/** `weir run replay [options]`: the DLQ replay job (tools/replay_cmd.c). */
int weir_cmd_replay(int argc, char **argv);
/** `weir gen [options]` (tools/gen.c). */
int weir_cmd_gen(int argc, char **argv);
/** `weir kafka embedded [options]` (tools/kafka_cmd.c). */
int weir_cmd_kafka(int argc, char **argv);

/** `weir schema print|apply` (tools/schema_cmd.c). */
int weir_cmd_schema(int argc, char **argv);
/** `weir ch-load --clickhouse URL --dir D` (tools/ch_load_cmd.c). */
int weir_cmd_ch_load(int argc, char **argv);
/** `weir bench [options]` (tools/bench.c). */
int weir_cmd_bench(int argc, char **argv);
/** `weir checkpoints [--json] DIR`: lists completed checkpoints (tools/checkpoints_cmd.c). */
int weir_cmd_checkpoints(int argc, char **argv);
/** `weir savepoint <job-id> [DIR]` and `weir savepoint inspect PATH` (tools/control_cmd.c). */
int weir_cmd_savepoint(int argc, char **argv);
/** `weir stop [--savepointPath DIR] <job-id>`: stop-with-savepoint (tools/control_cmd.c). */
int weir_cmd_stop(int argc, char **argv);
/** `weir cancel <job-id>` (tools/control_cmd.c). */
int weir_cmd_cancel(int argc, char **argv);
/** `weir list`: running jobs of this user (tools/control_cmd.c). */
int weir_cmd_list(int argc, char **argv);

#endif
