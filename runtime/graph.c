/*
 * graph.c - building and validating job graphs (see weir/graph.h).
 *
 * Data structure: growable arrays of vertices and edges (graph_internal.h). Vertex ids are
 * array indices and never change. Validation checks sources, forward-edge parallelism and
 * acyclicity (Kahn's algorithm).
 */
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "weir/keygroup.h"

weir_graph *weir_graph_new(const char *job_name) {
    weir_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->job_name = strdup(job_name ? job_name : "job");
    if (!g->job_name) {
        free(g);
        return NULL;
    }
    return g;
}

void weir_graph_free(weir_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->nv; i++) {
        free(g->v[i].uid);
        free(g->v[i].name);
    }
    for (int i = 0; i < g->ne; i++)
        free(g->e[i].tag);
    free(g->v);
    free(g->e);
    free(g->job_name);
    free(g);
}

const char *weir_graph_job_name(const weir_graph *g) {
    return g->job_name;
}

int weir_graph_find(const weir_graph *g, const char *uid) {
    for (int i = 0; i < g->nv; i++)
        if (strcmp(g->v[i].uid, uid) == 0) return i;
    return -1;
}

int weir_graph_vertex_count(const weir_graph *g) {
    return g->nv;
}

int weir_graph_add(weir_graph *g, const char *uid, const char *name, const weir_operator_def *def,
                   void *udata, int32_t parallelism, weir_error *err) {
    if (!uid || !*uid || !def) {
        weir_error_set(err, WEIR_EINVAL, 0, "operator needs a uid and a definition");
        return -1;
    }
    if (weir_graph_find(g, uid) >= 0) {
        weir_error_set(err, WEIR_EINVAL, 0, "duplicate operator uid '%s'", uid);
        return -1;
    }
    if (parallelism < 1 || parallelism > WEIR_UPPER_MAX_PARALLELISM) {
        weir_error_set(err, WEIR_EINVAL, 0, "operator '%s': parallelism %d out of range", uid,
                       (int)parallelism);
        return -1;
    }
    if (g->nv == g->capv) {
        int nc = g->capv ? g->capv * 2 : 8;
        wg_vertex *nvp = realloc(g->v, (size_t)nc * sizeof *nvp);
        if (!nvp) {
            weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
            return -1;
        }
        g->v = nvp;
        g->capv = nc;
    }
    wg_vertex *v = &g->v[g->nv];
    memset(v, 0, sizeof *v);
    v->uid = strdup(uid);
    v->name = strdup(name ? name : uid);
    if (!v->uid || !v->name) {
        free(v->uid);
        free(v->name);
        weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        return -1;
    }
    v->def = def;
    v->udata = udata;
    v->parallelism = parallelism;
    return g->nv++;
}

weir_err weir_graph_set_max_parallelism(weir_graph *g, int v, int32_t mp, weir_error *err) {
    if (v < 0 || v >= g->nv) return weir_error_set(err, WEIR_EINVAL, 0, "no vertex %d", v);
    if (mp < 1 || mp > WEIR_UPPER_MAX_PARALLELISM)
        return weir_error_set(err, WEIR_EINVAL, 0, "max parallelism %d out of range [1, %d]",
                              (int)mp, WEIR_UPPER_MAX_PARALLELISM);
    g->v[v].max_parallelism = mp;
    return WEIR_OK;
}

weir_err weir_graph_set_parallelism(weir_graph *g, int v, int32_t p, weir_error *err) {
    if (v < 0 || v >= g->nv) return weir_error_set(err, WEIR_EINVAL, 0, "no vertex %d", v);
    if (p < 1 || p > WEIR_UPPER_MAX_PARALLELISM)
        return weir_error_set(err, WEIR_EINVAL, 0, "parallelism %d out of range", (int)p);
    g->v[v].parallelism = p;
    return WEIR_OK;
}

weir_err weir_graph_connect(weir_graph *g, int from, const char *side_tag, int to,
                            weir_partitioning part, weir_error *err) {
    if (from < 0 || from >= g->nv || to < 0 || to >= g->nv || from == to)
        return weir_error_set(err, WEIR_EINVAL, 0, "bad edge %d -> %d", from, to);
    if (g->v[to].def->poll)
        return weir_error_set(err, WEIR_EINVAL, 0, "source '%s' cannot have inputs", g->v[to].uid);
    if (g->ne == g->cape) {
        int nc = g->cape ? g->cape * 2 : 8;
        wg_edge *ne = realloc(g->e, (size_t)nc * sizeof *ne);
        if (!ne) return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        g->e = ne;
        g->cape = nc;
    }
    wg_edge *e = &g->e[g->ne];
    e->from = from;
    e->to = to;
    e->part = part;
    e->tag = side_tag ? strdup(side_tag) : NULL;
    if (side_tag && !e->tag) return weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
    g->ne++;
    return WEIR_OK;
}

weir_err weir_graph_validate(const weir_graph *g, weir_error *err) {
    int sources = 0;
    int *indeg = calloc((size_t)g->nv + 1, sizeof *indeg);
    int *queue = calloc((size_t)g->nv + 1, sizeof *queue);
    weir_err rc = WEIR_OK;
    if (!indeg || !queue) {
        rc = weir_error_set(err, WEIR_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (int i = 0; i < g->ne; i++) {
        const wg_edge *e = &g->e[i];
        indeg[e->to]++;
        if (e->part == WEIR_PART_FORWARD && g->v[e->from].parallelism != g->v[e->to].parallelism) {
            rc = weir_error_set(err, WEIR_EINVAL, 0,
                                "forward edge '%s' -> '%s' needs equal parallelism (%d vs %d)",
                                g->v[e->from].uid, g->v[e->to].uid, (int)g->v[e->from].parallelism,
                                (int)g->v[e->to].parallelism);
            goto out;
        }
    }
    for (int i = 0; i < g->nv; i++) {
        int is_src = g->v[i].def->poll != NULL;
        sources += is_src;
        if (!is_src && indeg[i] == 0) {
            rc = weir_error_set(err, WEIR_EINVAL, 0, "operator '%s' has no input", g->v[i].uid);
            goto out;
        }
        int32_t mp = g->v[i].max_parallelism;
        if (mp && mp < g->v[i].parallelism) {
            rc = weir_error_set(err, WEIR_EINVAL, 0,
                                "operator '%s': max parallelism %d below parallelism %d",
                                g->v[i].uid, (int)mp, (int)g->v[i].parallelism);
            goto out;
        }
    }
    if (!sources) {
        rc = weir_error_set(err, WEIR_EINVAL, 0, "job graph has no source");
        goto out;
    }
    int head = 0, tail = 0, seen = 0;
    for (int i = 0; i < g->nv; i++)
        if (!indeg[i]) queue[tail++] = i;
    while (head < tail) {
        int u = queue[head++];
        seen++;
        for (int i = 0; i < g->ne; i++)
            if (g->e[i].from == u && --indeg[g->e[i].to] == 0) queue[tail++] = g->e[i].to;
    }
    if (seen != g->nv) rc = weir_error_set(err, WEIR_EINVAL, 0, "job graph has a cycle");
out:
    free(indeg);
    free(queue);
    return rc;
}
