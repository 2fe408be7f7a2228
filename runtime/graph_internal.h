/*
 * graph_internal.h - the job graph's data structures, shared by graph.c (building) and
 * job.c (turning it into an execution graph). Not part of the public API.
 */
#ifndef WEIR_GRAPH_INTERNAL_H
#define WEIR_GRAPH_INTERNAL_H

#include "weir/graph.h"

typedef struct wg_vertex {
    char *uid, *name;
    const weir_operator_def *def;
    void *udata;
    int32_t parallelism, max_parallelism; /* max_parallelism 0 = default */
} wg_vertex;

typedef struct wg_edge {
    int from, to;
    char *tag; /* NULL = main output */
    weir_partitioning part;
} wg_edge;

struct weir_graph {
    char *job_name;
    wg_vertex *v;
    int nv, capv;
    wg_edge *e;
    int ne, cape;
};

#endif
