/*
 * tools/bench_job.c - one measured job run for `weir bench` (see bench_job.h).
 */
#include "tools/bench_job.h"

#include <stdio.h>
#include <unistd.h>

#include "weir/clock.h"

double weir_bench_wall_s(void) {
    return (double)weir_mono_ns() / 1e9;
}

double weir_bench_rusage_cpu_s(const struct rusage *ru) {
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

double weir_bench_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return weir_bench_rusage_cpu_s(&ru);
}

int weir_bench_run_job(weir_graph *g, const weir_job_options *jo, const char *what,
                       weir_bench_run *run) {
    weir_error err = {0};
    run->job = NULL;
    sync();
    double w0 = weir_bench_wall_s(), c0 = weir_bench_cpu_s();
    weir_job *j = g ? weir_job_start(g, jo, &err) : NULL;
    if (!j || weir_job_wait(j, &err)) {
        fprintf(stderr, "weir bench: %s failed: %s\n", what,
                g ? err.msg : "the job could not be built");
        weir_job_free(j);
        return -1;
    }
    run->wall_s = weir_bench_wall_s() - w0;
    run->cpu_s = weir_bench_cpu_s() - c0;
    run->job = j;
    return 0;
}
