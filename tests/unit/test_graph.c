/*
 * test_graph.c - building and validating job graphs (weir/graph.h).
 *
 * Expected behaviour comes from the contract in graph.h: unique uids, parallelism >= 1, max
 * parallelism in [parallelism, 32768], FORWARD edges need equal parallelism, at least one source,
 * no cycles, sources have no inputs and non-sources have inputs. Where the header allows a check
 * to happen either when the edge/setting is made or at validation, the tests accept both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "weir/graph.h"
#include "weir/job.h"
#include "weir/keygroup.h"

static weir_err src_poll(weir_ctx *ctx, size_t max, weir_poll_status *st) {
    (void)ctx;
    (void)max;
    *st = WEIR_POLL_END;
    return WEIR_OK;
}

static weir_err op_process(weir_ctx *ctx, const weir_record *rec) {
    (void)ctx;
    (void)rec;
    return WEIR_OK;
}

static const weir_operator_def SRC = {.kind = "test-source", .poll = src_poll};
static const weir_operator_def OP = {.kind = "test-op", .process = op_process};

static void test_build_and_find(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("my-job");
    assert_non_null(g);
    assert_string_equal(weir_graph_job_name(g), "my-job");
    assert_int_equal(weir_graph_vertex_count(g), 0);
    int s = weir_graph_add(g, "src", "Source", &SRC, NULL, 2, &err);
    int a = weir_graph_add(g, "map", "Map", &OP, NULL, 2, &err);
    int b = weir_graph_add(g, "sink", NULL, &OP, NULL, 3, &err);
    assert_true(s >= 0 && a >= 0 && b >= 0);
    assert_true(s != a && a != b && s != b);
    assert_int_equal(weir_graph_vertex_count(g), 3);
    assert_int_equal(weir_graph_find(g, "src"), s);
    assert_int_equal(weir_graph_find(g, "map"), a);
    assert_int_equal(weir_graph_find(g, "sink"), b);
    assert_int_equal(weir_graph_find(g, "nope"), -1);
    assert_int_equal(weir_graph_find(g, "Source"), -1); /* by uid, not by name */
    assert_int_equal(weir_graph_connect(g, s, NULL, a, WEIR_PART_FORWARD, &err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, a, NULL, b, WEIR_PART_HASH, &err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, a, "dlq", b, WEIR_PART_REBALANCE, &err), WEIR_OK);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_OK);
    weir_graph_free(g);
    weir_graph_free(NULL);
}

static void test_default_job_name(void **st) {
    (void)st;
    weir_graph *g = weir_graph_new(NULL);
    assert_non_null(g);
    assert_non_null(weir_graph_job_name(g));
    weir_graph_free(g);
}

static void test_duplicate_uid(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    assert_true(weir_graph_add(g, "x", "X", &SRC, NULL, 1, &err) >= 0);
    assert_int_equal(weir_graph_add(g, "x", "Other", &OP, NULL, 1, &err), -1);
    assert_int_equal(err.code, WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "x"));
    assert_int_equal(weir_graph_vertex_count(g), 1);
    weir_graph_free(g);
}

static void test_bad_add_arguments(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    assert_int_equal(weir_graph_add(g, "p0", "P", &OP, NULL, 0, &err), -1);
    assert_int_equal(err.code, WEIR_EINVAL);
    assert_int_equal(weir_graph_add(g, "pneg", "P", &OP, NULL, -3, &err), -1);
    assert_int_equal(weir_graph_add(g, "nodef", "P", NULL, NULL, 1, &err), -1);
    assert_int_equal(weir_graph_add(g, "", "P", &OP, NULL, 1, &err), -1);
    assert_int_equal(weir_graph_add(g, NULL, "P", &OP, NULL, 1, &err), -1);
    assert_int_equal(weir_graph_vertex_count(g), 0);
    weir_graph_free(g);
}

static void test_forward_unequal_parallelism(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    int s = weir_graph_add(g, "src", "S", &SRC, NULL, 2, &err);
    int a = weir_graph_add(g, "op", "A", &OP, NULL, 3, &err);
    weir_err rc = weir_graph_connect(g, s, NULL, a, WEIR_PART_FORWARD, &err);
    if (rc == WEIR_OK) {
        rc = weir_graph_validate(g, &err);
        assert_int_equal(rc, WEIR_EINVAL);
        assert_non_null(strstr(err.msg, "forward"));
        /* a job cannot start from it either */
        assert_null(weir_job_start(g, NULL, &err));
        assert_int_equal(err.code, WEIR_EINVAL);
    } else {
        assert_int_equal(rc, WEIR_EINVAL);
    }
    weir_graph_free(g);

    /* equal at connect time, changed afterwards: validation must still catch it */
    g = weir_graph_new("j");
    s = weir_graph_add(g, "src", "S", &SRC, NULL, 2, &err);
    a = weir_graph_add(g, "op", "A", &OP, NULL, 2, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, a, WEIR_PART_FORWARD, &err), WEIR_OK);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_OK);
    assert_int_equal(weir_graph_set_parallelism(g, a, 4, &err), WEIR_OK);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
    /* other partitionings accept unequal parallelism */
    weir_graph_free(g);
    g = weir_graph_new("j");
    s = weir_graph_add(g, "src", "S", &SRC, NULL, 2, &err);
    a = weir_graph_add(g, "a", "A", &OP, NULL, 3, &err);
    int b = weir_graph_add(g, "b", "B", &OP, NULL, 5, &err);
    int c = weir_graph_add(g, "c", "C", &OP, NULL, 1, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, a, WEIR_PART_HASH, &err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, a, NULL, b, WEIR_PART_REBALANCE, &err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, b, NULL, c, WEIR_PART_BROADCAST, &err), WEIR_OK);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_OK);
    weir_graph_free(g);
}

static void test_no_source(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("empty");
    assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "source"));
    weir_graph_free(g);

    /* two non-sources feeding each other: every vertex has an input, but there is no source */
    g = weir_graph_new("j");
    int a = weir_graph_add(g, "a", "A", &OP, NULL, 1, &err);
    int b = weir_graph_add(g, "b", "B", &OP, NULL, 1, &err);
    assert_int_equal(weir_graph_connect(g, a, NULL, b, WEIR_PART_FORWARD, &err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, b, NULL, a, WEIR_PART_FORWARD, &err), WEIR_OK);
    memset(&err, 0, sizeof err);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
    assert_true(err.msg[0] != '\0');
    weir_graph_free(g);

    /* a lone non-source */
    g = weir_graph_new("j");
    assert_true(weir_graph_add(g, "a", "A", &OP, NULL, 1, &err) >= 0);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
    weir_graph_free(g);
}

static void test_operator_without_input(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    int s = weir_graph_add(g, "src", "S", &SRC, NULL, 1, &err);
    int a = weir_graph_add(g, "a", "A", &OP, NULL, 1, &err);
    assert_true(weir_graph_add(g, "orphan", "Orphan", &OP, NULL, 1, &err) >= 0);
    assert_int_equal(weir_graph_connect(g, s, NULL, a, WEIR_PART_FORWARD, &err), WEIR_OK);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "orphan"));
    weir_graph_free(g);
}

static void test_cycle(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    int s = weir_graph_add(g, "src", "S", &SRC, NULL, 1, &err);
    int a = weir_graph_add(g, "a", "A", &OP, NULL, 1, &err);
    int b = weir_graph_add(g, "b", "B", &OP, NULL, 1, &err);
    int c = weir_graph_add(g, "c", "C", &OP, NULL, 1, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, a, WEIR_PART_FORWARD, &err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, a, NULL, b, WEIR_PART_REBALANCE, &err), WEIR_OK);
    assert_int_equal(weir_graph_connect(g, b, NULL, c, WEIR_PART_REBALANCE, &err), WEIR_OK);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_OK);
    /* c -> a closes a cycle a -> b -> c -> a (through a side output, which is still an edge) */
    weir_err rc = weir_graph_connect(g, c, "loop", a, WEIR_PART_REBALANCE, &err);
    if (rc == WEIR_OK) {
        assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
        assert_non_null(strstr(err.msg, "cycle"));
        assert_null(weir_job_start(g, NULL, &err));
    } else {
        assert_int_equal(rc, WEIR_EINVAL);
    }
    /* a self-loop is a cycle too */
    weir_graph_free(g);
    g = weir_graph_new("j");
    s = weir_graph_add(g, "src", "S", &SRC, NULL, 1, &err);
    a = weir_graph_add(g, "a", "A", &OP, NULL, 1, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, a, WEIR_PART_FORWARD, &err), WEIR_OK);
    rc = weir_graph_connect(g, a, NULL, a, WEIR_PART_REBALANCE, &err);
    if (rc == WEIR_OK)
        assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
    else
        assert_int_equal(rc, WEIR_EINVAL);
    weir_graph_free(g);
}

static void test_source_with_input(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    int s1 = weir_graph_add(g, "src1", "S1", &SRC, NULL, 1, &err);
    int s2 = weir_graph_add(g, "src2", "S2", &SRC, NULL, 1, &err);
    weir_err rc = weir_graph_connect(g, s1, NULL, s2, WEIR_PART_FORWARD, &err);
    if (rc == WEIR_OK) {
        assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
    } else {
        assert_int_equal(rc, WEIR_EINVAL);
        assert_non_null(strstr(err.msg, "src2"));
        /* the rejected edge was not added: the graph (two sources) is valid */
        assert_int_equal(weir_graph_validate(g, &err), WEIR_OK);
    }
    weir_graph_free(g);
}

static void test_bad_edge_ids(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    int s = weir_graph_add(g, "src", "S", &SRC, NULL, 1, &err);
    int a = weir_graph_add(g, "a", "A", &OP, NULL, 1, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, 7, WEIR_PART_FORWARD, &err), WEIR_EINVAL);
    assert_int_equal(weir_graph_connect(g, -1, NULL, a, WEIR_PART_FORWARD, &err), WEIR_EINVAL);
    assert_int_equal(weir_graph_set_max_parallelism(g, 9, 128, &err), WEIR_EINVAL);
    assert_int_equal(weir_graph_set_parallelism(g, -1, 1, &err), WEIR_EINVAL);
    assert_int_equal(weir_graph_set_parallelism(g, a, 0, &err), WEIR_EINVAL);
    weir_graph_free(g);
}

/* Max parallelism must be >= parallelism and <= 32768; accepted at set time or at validation. */
static weir_err set_maxp_then_validate(int32_t p, int32_t maxp) {
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    int s = weir_graph_add(g, "src", "S", &SRC, NULL, 1, &err);
    int a = weir_graph_add(g, "a", "A", &OP, NULL, p, &err);
    assert_true(s >= 0 && a >= 0);
    assert_int_equal(weir_graph_connect(g, s, NULL, a, WEIR_PART_HASH, &err), WEIR_OK);
    weir_err rc = weir_graph_set_max_parallelism(g, a, maxp, &err);
    if (rc == WEIR_OK) rc = weir_graph_validate(g, &err);
    if (rc != WEIR_OK) assert_true(err.msg[0] != '\0');
    weir_graph_free(g);
    return rc;
}

static void test_max_parallelism_bounds(void **st) {
    (void)st;
    assert_int_equal(set_maxp_then_validate(4, 3), WEIR_EINVAL);     /* below parallelism */
    assert_int_equal(set_maxp_then_validate(4, 4), WEIR_OK);         /* equal is fine */
    assert_int_equal(set_maxp_then_validate(4, 7), WEIR_OK);         /* not a power of two: fine */
    assert_int_equal(set_maxp_then_validate(1, 32768), WEIR_OK);     /* the upper bound itself */
    assert_int_equal(set_maxp_then_validate(1, 32769), WEIR_EINVAL); /* above 2^15 */
    assert_int_equal(set_maxp_then_validate(1, 0), WEIR_EINVAL);
    assert_int_equal(set_maxp_then_validate(1, -5), WEIR_EINVAL);
}

static void test_parallelism_change_below_max(void **st) {
    (void)st;
    weir_error err = {0};
    weir_graph *g = weir_graph_new("j");
    int s = weir_graph_add(g, "src", "S", &SRC, NULL, 1, &err);
    int a = weir_graph_add(g, "a", "A", &OP, NULL, 2, &err);
    assert_int_equal(weir_graph_connect(g, s, NULL, a, WEIR_PART_HASH, &err), WEIR_OK);
    assert_int_equal(weir_graph_set_max_parallelism(g, a, 8, &err), WEIR_OK);
    assert_int_equal(weir_graph_validate(g, &err), WEIR_OK);
    /* raising the parallelism above the (explicit) max parallelism makes the graph invalid */
    weir_err rc = weir_graph_set_parallelism(g, a, 9, &err);
    if (rc == WEIR_OK)
        assert_int_equal(weir_graph_validate(g, &err), WEIR_EINVAL);
    else
        assert_int_equal(rc, WEIR_EINVAL);
    weir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_find),
        cmocka_unit_test(test_default_job_name),
        cmocka_unit_test(test_duplicate_uid),
        cmocka_unit_test(test_bad_add_arguments),
        cmocka_unit_test(test_forward_unequal_parallelism),
        cmocka_unit_test(test_no_source),
        cmocka_unit_test(test_operator_without_input),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_source_with_input),
        cmocka_unit_test(test_bad_edge_ids),
        cmocka_unit_test(test_max_parallelism_bounds),
        cmocka_unit_test(test_parallelism_change_below_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
