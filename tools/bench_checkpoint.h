/*
 * tools/bench_checkpoint.h - `weir bench --checkpoint` (tools/bench_checkpoint.c): checkpoint
 * pause, incremental size, restore time and the throughput cost of checkpoints (issue #3).
 */
#ifndef WEIR_TOOLS_BENCH_CHECKPOINT_H
#define WEIR_TOOLS_BENCH_CHECKPOINT_H

#include <stddef.h>

/** Runs the checkpoint benchmarks in the scratch directory @p tmp with @p state_mb MB of RocksDB
 *  state and @p events generated events for the job comparison; prints the figures. Returns 0,
 *  or 1 if a part failed. */
int weir_bench_checkpoint(const char *tmp, size_t state_mb, size_t events);

#endif
