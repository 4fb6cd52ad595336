/* pg: the loop's PostgreSQL connection, against a real server.
 *
 * Needs LIAISON_PG_ADMIN_DSN (tests/run sources var/services.env); without
 * it the tests that need a server are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/pg.h"

#include "../lib/test_loop.h"

/* ---- helpers -------------------------------------------------------------- */

static bool is_ready(void *arg)
{
    return pg_ready(arg);
}

static bool is_not_ready(void *arg)
{
    return !pg_ready(arg);
}

typedef struct {
    int calls;
    bool ok;
    char error[256];
    char value[256];
    char sqlstate[8];
    char cmd_status[32];
    int ntuples;
    bool had_result;
} outcome_t;

static bool outcome_done(void *arg)
{
    return ((outcome_t *)arg)->calls > 0;
}

static void on_result(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    outcome_t *o = arg;
    o->calls++;
    o->ok = error == NULL;
    o->had_result = res != NULL;
    snprintf(o->error, sizeof o->error, "%s", error ? error : "");
    if (res) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(o->sqlstate, sizeof o->sqlstate, "%s", state ? state : "");
        snprintf(o->cmd_status, sizeof o->cmd_status, "%s", PQcmdStatus((PGresult *)res));
        o->ntuples = PQntuples(res);
        if (!error && PQntuples(res) > 0 && PQnfields(res) > 0)
            snprintf(o->value, sizeof o->value, "%s",
                     PQgetisnull(res, 0, 0) ? "<null>" : PQgetvalue(res, 0, 0));
    }
}

typedef struct {
    loop_t *loop;
    pg_t *pg;
    const char *dsn;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dsn = getenv("LIAISON_PG_ADMIN_DSN");
    f->loop = loop_new();
    assert_non_null(f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    pg_destroy(&f->pg);
    loop_destroy(&f->loop);
    free(f);
    return 0;
}

/* Connect to the test server or skip. */
static pg_t *connect_or_skip(fixture_t *f)
{
    if (!f->dsn || !*f->dsn)
        skip();
    f->pg = pg_new(f->loop, f->dsn, "test");
    assert_non_null(f->pg);
    assert_true(test_run_until(f->loop, is_ready, f->pg, 5000));
    return f->pg;
}

/* Run one query to completion. */
static void query_sync(fixture_t *f, const char *sql, int n, const char *const *params,
                       outcome_t *o)
{
    memset(o, 0, sizeof *o);
    assert_int_equal(pg_query(f->pg, sql, n, params, on_result, o), 0);
    assert_true(test_run_until(f->loop, outcome_done, o, 5000));
    assert_int_equal(o->calls, 1);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_connects_and_is_ready(void **state)
{
    fixture_t *f = *state;
    pg_t *pg = connect_or_skip(f);
    pg_stats_t st;
    pg_stats(pg, &st);
    assert_int_equal(st.connects, 1);
    assert_true(st.ready);
    assert_string_equal(pg_name(pg), "test");
    outcome_t o;
    query_sync(f, "SELECT 1", 0, NULL, &o);
    assert_true(o.ok);
    assert_string_equal(o.value, "1");
}

static void test_parameters_travel_apart_from_sql(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    outcome_t o;

    const char *sum[] = {"20", "22"};
    query_sync(f, "SELECT $1::int + $2::int", 2, sum, &o);
    assert_true(o.ok);
    assert_string_equal(o.value, "42");

    /* A hostile value is a value, not SQL. */
    const char *evil[] = {"x'); DROP TABLE pg_class; --"};
    query_sync(f, "SELECT $1::text", 1, evil, &o);
    assert_true(o.ok);
    assert_string_equal(o.value, evil[0]);

    const char *zh[] = {"人大代表联络"};
    query_sync(f, "SELECT length($1::text)::text || ':' || $1::text", 1, zh, &o);
    assert_true(o.ok);
    assert_string_equal(o.value, "6:人大代表联络");

    const char *null_param[] = {NULL};
    query_sync(f, "SELECT $1::text IS NULL", 1, null_param, &o);
    assert_true(o.ok);
    assert_string_equal(o.value, "t");
}

typedef struct {
    int seen[200];
    int n;
} order_t;

typedef struct {
    order_t *order;
    int index;
    outcome_t o;
} ordered_t;

static void on_ordered(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    ordered_t *q = arg;
    assert_null(error);
    assert_int_equal(atoi(PQgetvalue(res, 0, 0)), q->index);
    q->order->seen[q->order->n++] = q->index;
}

static bool order_done(void *arg)
{
    return ((order_t *)arg)->n == 200;
}

static void test_queued_queries_complete_in_order(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    order_t order = {{0}, 0};
    static ordered_t q[200];
    char values[200][8];
    for (int i = 0; i < 200; i++) {
        q[i].order = &order;
        q[i].index = i;
        snprintf(values[i], sizeof values[i], "%d", i);
        const char *p[] = {values[i]};
        /* Some slow, some fast: order must not depend on speed. */
        const char *sql = i % 50 == 0 ? "SELECT $1::int FROM pg_sleep(0.05)" : "SELECT $1::int";
        assert_int_equal(pg_query(f->pg, sql, 1, p, on_ordered, &q[i]), 0);
    }
    assert_int_equal(pg_queued(f->pg), 200);
    assert_true(test_run_until(f->loop, order_done, &order, 10000));
    for (int i = 0; i < 200; i++)
        assert_int_equal(order.seen[i], i);
    assert_int_equal(pg_queued(f->pg), 0);
}

static void test_sql_error_is_a_result_not_a_crash(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    outcome_t o;
    query_sync(f, "SELECT * FROM no_such_table_anywhere", 0, NULL, &o);
    assert_false(o.ok);
    assert_true(o.had_result);
    assert_string_equal(o.sqlstate, "42P01");
    assert_non_null(strstr(o.error, "no_such_table_anywhere"));

    const char *bad[] = {"not a number"};
    query_sync(f, "SELECT $1::int", 1, bad, &o);
    assert_false(o.ok);
    assert_string_equal(o.sqlstate, "22P02");

    /* Two statements in one query are refused by the server. */
    query_sync(f, "SELECT 1; SELECT 2", 0, NULL, &o);
    assert_false(o.ok);

    /* and the connection goes on */
    query_sync(f, "SELECT 'still here'", 0, NULL, &o);
    assert_true(o.ok);
    assert_string_equal(o.value, "still here");
    assert_true(pg_ready(f->pg));

    pg_stats_t st;
    pg_stats(f->pg, &st);
    assert_int_equal(st.query_errors, 3);
    assert_int_equal(st.disconnects, 0);
}

static void test_transaction_queued_whole(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    outcome_t o[6];
    memset(o, 0, sizeof o);
    /* A failing statement inside: everything rolls back. */
    assert_int_equal(pg_query(f->pg, "BEGIN", 0, NULL, on_result, &o[0]), 0);
    assert_int_equal(pg_query(f->pg, "CREATE TEMP TABLE t_tx (v int)", 0, NULL, on_result, &o[1]),
                     0);
    assert_int_equal(pg_query(f->pg, "INSERT INTO t_tx VALUES (1)", 0, NULL, on_result, &o[2]), 0);
    assert_int_equal(pg_query(f->pg, "SELECT 1/0", 0, NULL, on_result, &o[3]), 0);
    assert_int_equal(pg_query(f->pg, "INSERT INTO t_tx VALUES (2)", 0, NULL, on_result, &o[4]), 0);
    assert_int_equal(pg_query(f->pg, "COMMIT", 0, NULL, on_result, &o[5]), 0);
    assert_true(test_run_until(f->loop, outcome_done, &o[5], 5000));
    assert_true(o[0].ok && o[1].ok && o[2].ok);
    assert_false(o[3].ok);
    assert_string_equal(o[3].sqlstate, "22012");
    assert_false(o[4].ok);
    assert_string_equal(o[4].sqlstate, "25P02");
    assert_true(o[5].ok);
    assert_string_equal(o[5].cmd_status, "ROLLBACK");

    outcome_t after;
    query_sync(f, "SELECT to_regclass('pg_temp.t_tx') IS NULL", 0, NULL, &after);
    assert_string_equal(after.value, "t");
}

static void test_refuses_when_not_ready(void **state)
{
    fixture_t *f = *state;
    /* Nothing listens on port 1: never ready, queries refused at once. */
    f->pg = pg_new(f->loop, "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1", "nowhere");
    assert_non_null(f->pg);
    outcome_t o = {0};
    assert_false(pg_ready(f->pg));
    assert_int_equal(pg_query(f->pg, "SELECT 1", 0, NULL, on_result, &o), -1);
    assert_int_equal(pg_query(NULL, "SELECT 1", 0, NULL, on_result, &o), -1);
    test_run_until(f->loop, NULL, NULL, 1200);
    assert_false(pg_ready(f->pg));
    assert_int_equal(o.calls, 0);
    pg_stats_t st;
    pg_stats(f->pg, &st);
    /* back-off: 100 ms doubling, so a handful of attempts in 1.2 s, not 100 */
    assert_true(st.connect_failures >= 3);
    assert_true(st.connect_failures <= 8);
    assert_int_equal(st.connects, 0);
}

static void test_bad_arguments(void **state)
{
    fixture_t *f = *state;
    assert_null(pg_new(NULL, "x", "x"));
    assert_null(pg_new(f->loop, NULL, "x"));
    pg_destroy(NULL);
    pg_t *none = NULL;
    pg_destroy(&none);
    assert_false(pg_ready(NULL));
    connect_or_skip(f);
    assert_int_equal(pg_query(f->pg, NULL, 0, NULL, on_result, NULL), -1);
    assert_int_equal(pg_query(f->pg, "SELECT 1", 0, NULL, NULL, NULL), -1);
    assert_int_equal(pg_query(f->pg, "SELECT $1", 1, NULL, on_result, NULL), -1);
    assert_int_equal(pg_query(f->pg, "SELECT 1", -1, NULL, on_result, NULL), -1);
}

/* ---- losing the connection ------------------------------------------------ */

typedef struct {
    bool seen_false, seen_true_after;
    int changes;
} states_t;

static void on_state(pg_t *pg, bool ready, void *arg)
{
    states_t *s = arg;
    s->changes++;
    if (!ready)
        s->seen_false = true;
    else if (s->seen_false)
        s->seen_true_after = true;
}

static bool states_back(void *arg)
{
    return ((states_t *)arg)->seen_true_after;
}

typedef struct {
    const char *dsn;
    int pid;
    bool done;
    char error[256];
} killer_t;

/* Terminate our backend from a second connection (blocking: a test). */
static int kill_backend(loop_t *loop, int timer_id, void *arg)
{
    killer_t *k = arg;
    char *error = NULL;
    PGconn *admin = pg_connect_blocking(k->dsn, &error);
    assert_non_null(admin);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", k->pid);
    const char *p[] = {pid};
    PGresult *res = pg_exec_blocking(admin, "SELECT pg_terminate_backend($1::int)", 1, p, &error);
    assert_non_null(res);
    assert_string_equal(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    PQfinish(admin);
    k->done = true;
    return 0;
}

static int backend_pid(fixture_t *f)
{
    outcome_t o;
    query_sync(f, "SELECT pg_backend_pid()", 0, NULL, &o);
    assert_true(o.ok);
    return atoi(o.value);
}

static bool all_called(void *arg)
{
    outcome_t *o = arg;
    for (int i = 0; i < 5; i++)
        if (o[i].calls == 0)
            return false;
    return true;
}

static void test_killed_connection_fails_queue_and_reconnects(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    states_t states = {0};
    pg_set_state_fn(f->pg, on_state, &states);
    int pid = backend_pid(f);
    assert_true(pid > 0);

    /* One long query in flight, four waiting behind it. */
    outcome_t o[5];
    memset(o, 0, sizeof o);
    assert_int_equal(pg_query(f->pg, "SELECT pg_sleep(30)", 0, NULL, on_result, &o[0]), 0);
    for (int i = 1; i < 5; i++)
        assert_int_equal(pg_query(f->pg, "SELECT 1", 0, NULL, on_result, &o[i]), 0);
    killer_t k = {f->dsn, pid, false, ""};
    assert_true(loop_add_timer(f->loop, 200, 1, kill_backend, &k) > 0);

    uint64_t start = loop_now_ms();
    assert_true(test_run_until(f->loop, all_called, o, 5000));
    assert_true(k.done);
    assert_true(loop_now_ms() - start < 3000);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_false(o[i].ok);
        assert_true(o[i].error[0] != '\0');
    }
    /* The waiting ones never reached the server. */
    for (int i = 1; i < 5; i++) {
        assert_false(o[i].had_result);
        assert_non_null(strstr(o[i].error, "connection lost"));
    }
    assert_false(pg_ready(f->pg));

    /* It comes back by itself, as a new backend. */
    assert_true(test_run_until(f->loop, states_back, &states, 5000));
    assert_true(pg_ready(f->pg));
    int pid2 = backend_pid(f);
    assert_true(pid2 > 0);
    assert_int_not_equal(pid2, pid);

    pg_stats_t st;
    pg_stats(f->pg, &st);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.disconnects, 1);
    assert_int_equal(st.query_failures, 5 - (o[0].had_result ? 1 : 0));
}

/* A prepared statement: prepared once on a connection, then only executed;
 * prepared again on the next connection; a bad one fails as a result. */
static void test_prepared_statement(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    static const char sql[] = "SELECT $1::int * 2";
    outcome_t o[3];
    memset(o, 0, sizeof o);
    const char *p[3][1] = {{"1"}, {"2"}, {"3"}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(pg_query_prepared(f->pg, "t_double", sql, 1, p[i], on_result, &o[i]), 0);
    assert_true(test_run_until(f->loop, outcome_done, &o[2], 5000));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_true(o[i].ok);
    }
    assert_string_equal(o[0].value, "2");
    assert_string_equal(o[2].value, "6");
    outcome_t c;
    query_sync(f, "SELECT count(*) FROM pg_prepared_statements WHERE name = 't_double'", 0, NULL,
               &c);
    assert_string_equal(c.value, "1");

    /* a new connection prepares it again */
    states_t states = {0};
    pg_set_state_fn(f->pg, on_state, &states);
    killer_t k = {f->dsn, backend_pid(f), false, ""};
    kill_backend(f->loop, 0, &k);
    assert_true(k.done);
    assert_true(test_run_until(f->loop, states_back, &states, 5000));
    outcome_t again;
    memset(&again, 0, sizeof again);
    const char *p4[1] = {"21"};
    assert_int_equal(pg_query_prepared(f->pg, "t_double", sql, 1, p4, on_result, &again), 0);
    assert_true(test_run_until(f->loop, outcome_done, &again, 5000));
    assert_true(again.ok);
    assert_string_equal(again.value, "42");

    /* one that cannot be prepared answers its error, and the queue goes on */
    outcome_t bad, next;
    memset(&bad, 0, sizeof bad);
    memset(&next, 0, sizeof next);
    assert_int_equal(
        pg_query_prepared(f->pg, "t_bad", "SELECT FROM nowhere_at_all", 0, NULL, on_result, &bad),
        0);
    assert_int_equal(pg_query(f->pg, "SELECT 7", 0, NULL, on_result, &next), 0);
    assert_true(test_run_until(f->loop, outcome_done, &next, 5000));
    assert_int_equal(bad.calls, 1);
    assert_false(bad.ok);
    assert_non_null(strstr(bad.error, "nowhere_at_all"));
    assert_true(next.ok);
    assert_string_equal(next.value, "7");
}

static void test_stalled_query_clears_ready_and_hang_drops(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    pg_timing_t t = {.stall_ms = 300, .hang_ms = 1500};
    pg_set_timing(f->pg, &t);
    states_t states = {0};
    pg_set_state_fn(f->pg, on_state, &states);

    /* A slow answer: not ready while waiting, ready again after. */
    outcome_t slow = {0};
    assert_int_equal(pg_query(f->pg, "SELECT pg_sleep(0.9)", 0, NULL, on_result, &slow), 0);
    assert_true(test_run_until(f->loop, is_not_ready, f->pg, 1000));
    outcome_t refused = {0};
    assert_int_equal(pg_query(f->pg, "SELECT 1", 0, NULL, on_result, &refused), -1);
    assert_true(test_run_until(f->loop, outcome_done, &slow, 3000));
    assert_true(slow.ok);
    assert_true(pg_ready(f->pg));
    assert_true(states.seen_true_after);

    /* No answer at all within hang_ms: the connection is given up. */
    outcome_t hung = {0};
    assert_int_equal(pg_query(f->pg, "SELECT pg_sleep(10)", 0, NULL, on_result, &hung), 0);
    assert_true(test_run_until(f->loop, outcome_done, &hung, 4000));
    assert_false(hung.ok);
    assert_false(hung.had_result);
    assert_non_null(strstr(hung.error, "no answer"));
    assert_true(test_run_until(f->loop, is_ready, f->pg, 5000));
    outcome_t o;
    query_sync(f, "SELECT 2", 0, NULL, &o);
    assert_string_equal(o.value, "2");
}

static void test_probe_keeps_checking_when_idle(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    pg_timing_t t = {.probe_interval_ms = 100};
    pg_set_timing(f->pg, &t);
    test_run_until(f->loop, NULL, NULL, 800);
    pg_stats_t st;
    pg_stats(f->pg, &st);
    assert_true(st.probes >= 2);
    assert_int_equal(st.queries, 0);
    assert_true(pg_ready(f->pg));
}

static void test_destroy_fails_every_queued_query(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    outcome_t o[5];
    memset(o, 0, sizeof o);
    for (int i = 0; i < 5; i++)
        assert_int_equal(pg_query(f->pg, "SELECT pg_sleep(1)", 0, NULL, on_result, &o[i]), 0);
    pg_destroy(&f->pg);
    assert_null(f->pg);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_false(o[i].ok);
        assert_string_equal(o[i].error, "connection closed");
    }
}

typedef struct {
    pg_t **pg;
    int calls;
    outcome_t later[3];
} destroyer_t;

static void on_destroy_me(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    destroyer_t *d = arg;
    d->calls++;
    pg_destroy(d->pg);
    pg_destroy(d->pg); /* twice is harmless: the pointer is cleared */
    /* Queries cannot be queued on an object being destroyed. */
    assert_int_equal(pg_query(pg, "SELECT 1", 0, NULL, on_result, &d->later[0]), -1);
}

static bool destroyer_done(void *arg)
{
    destroyer_t *d = arg;
    return d->calls > 0 && d->later[2].calls > 0;
}

static void test_destroy_from_inside_a_callback(void **state)
{
    fixture_t *f = *state;
    connect_or_skip(f);
    destroyer_t d = {&f->pg, 0, {{0}}};
    assert_int_equal(pg_query(f->pg, "SELECT 1", 0, NULL, on_destroy_me, &d), 0);
    assert_int_equal(pg_query(f->pg, "SELECT 2", 0, NULL, on_result, &d.later[1]), 0);
    assert_int_equal(pg_query(f->pg, "SELECT 3", 0, NULL, on_result, &d.later[2]), 0);
    assert_true(test_run_until(f->loop, destroyer_done, &d, 5000));
    assert_null(f->pg);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.later[0].calls, 0);
    assert_int_equal(d.later[1].calls, 1);
    assert_int_equal(d.later[2].calls, 1);
    assert_string_equal(d.later[2].error, "connection closed");
}

static void test_blocking_helpers(void **state)
{
    fixture_t *f = *state;
    if (!f->dsn || !*f->dsn)
        skip();
    char *error = NULL;
    assert_null(pg_connect_blocking("host=127.0.0.1 port=1 dbname=x connect_timeout=1", &error));
    assert_non_null(error);
    free(error);
    PGconn *conn = pg_connect_blocking(f->dsn, &error);
    assert_non_null(conn);
    assert_null(error);
    const char *p[] = {"7"};
    PGresult *res = pg_exec_blocking(conn, "SELECT $1::int * 6", 1, p, &error);
    assert_non_null(res);
    assert_string_equal(PQgetvalue(res, 0, 0), "42");
    PQclear(res);
    assert_int_equal(pg_exec_ok(conn, "SELEC 1", 0, NULL, &error), -1);
    assert_non_null(error);
    assert_non_null(strstr(error, "syntax error"));
    free(error);
    PQfinish(conn);
}

int main(void)
{
    log_set_level(getenv("TEST_LOG_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connects_and_is_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parameters_travel_apart_from_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_queries_complete_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepared_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sql_error_is_a_result_not_a_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_queued_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_when_not_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_connection_fails_queue_and_reconnects, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stalled_query_clears_ready_and_hang_drops, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_probe_keeps_checking_when_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_fails_every_queued_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_from_inside_a_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_helpers, setup, teardown),
    };
    return cmocka_run_group_tests_name("common_pg", tests, NULL, NULL);
}
