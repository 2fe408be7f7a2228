/*
 * weir/graph.h - the job graph (DESIGN.md §2): operators (vertices) with a stable uid, a name,
 * a parallelism and a max parallelism; edges with a partitioning; side outputs by tag.
 *
 * Ownership: the graph copies uids, names and tags; it borrows the weir_operator_def tables and
 * udata pointers, which must outlive every job started from the graph. Not thread-safe while
 * being built; read-only afterwards.
 */
#ifndef WEIR_GRAPH_H
#define WEIR_GRAPH_H

#include <stdint.h>

#include "weir/error.h"
#include "weir/operator.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How records of an edge are distributed over the downstream subtasks. */
typedef enum weir_partitioning {
    WEIR_PART_FORWARD = 0, /**< subtask i → subtask i (equal parallelism); chained when possible */
    WEIR_PART_REBALANCE,   /**< round-robin over all downstream subtasks */
    WEIR_PART_HASH,        /**< by key group of rec->key (Flink's assignment); makes the target keyed */
    WEIR_PART_BROADCAST    /**< every record to every downstream subtask */
} weir_partitioning;

/** A job graph under construction. */
typedef struct weir_graph weir_graph;

/** Creates an empty graph for a job named @p job_name. NULL on allocation failure. */
weir_graph *weir_graph_new(const char *job_name);
/** Frees the graph (NULL accepted). */
void weir_graph_free(weir_graph *g);
/** The job name (borrowed). */
const char *weir_graph_job_name(const weir_graph *g);

/**
 * Adds an operator (a source when def->poll is set). @p uid must be unique in the graph (state
 * is matched by uid on restore). @p parallelism >= 1. Returns the vertex id (>= 0) or -1 with
 * @p err set.
 */
int weir_graph_add(weir_graph *g, const char *uid, const char *name, const weir_operator_def *def,
                   void *udata, int32_t parallelism, weir_error *err);
/** Sets the max parallelism (number of key groups) of vertex @p v; default
 *  weir_default_max_parallelism(parallelism). Must be >= parallelism and <= 32768. */
weir_err weir_graph_set_max_parallelism(weir_graph *g, int v, int32_t max_parallelism,
                                        weir_error *err);
/** Sets vertex @p v's parallelism (e.g. from -p before a job starts). */
weir_err weir_graph_set_parallelism(weir_graph *g, int v, int32_t parallelism, weir_error *err);
/**
 * Connects output @p side_tag (NULL = main output) of vertex @p from to vertex @p to.
 * FORWARD requires equal parallelism. An output may feed several edges (each gets every record).
 */
weir_err weir_graph_connect(weir_graph *g, int from, const char *side_tag, int to,
                            weir_partitioning part, weir_error *err);
/** Checks the graph: at least one source, no cycles, sources have no inputs, non-sources have
 *  inputs. */
weir_err weir_graph_validate(const weir_graph *g, weir_error *err);
/** Number of vertices. */
int weir_graph_vertex_count(const weir_graph *g);
/** Finds a vertex by uid; -1 if none. */
int weir_graph_find(const weir_graph *g, const char *uid);

#ifdef __cplusplus
}
#endif
#endif
