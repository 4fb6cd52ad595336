/* workpool against a real PostgreSQL: jobs run on workers with their own
 * connections and come back once, on the loop thread; batch jobs run
 * together, one batch at a time, never two jobs the ops keep apart; a full
 * queue refuses; without a database every job is answered unavailable; the
 * startup job runs once; the queue, the refusals and the batches show in
 * the metrics. Skipped without a database, except what needs none. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../lib/test_loop.h"
#include "../lib/test_metrics.h"
#include "common/workpool.h"

enum { JOBS = 40 };

typedef struct {
    workpool_job_t base; /* first: the pool's part */
    int key;             /* jobs with the same key are kept apart */
    int backend;         /* filled by the worker */
    bool unavailable;
    bool done;
    int batch_id; /* which run_batch call ran it */
    pthread_t done_thread;
} job_t;

typedef struct {
    loop_t *loop;
    liaison_clock_t *clock;
    metrics_t *metrics;
    workpool_t *pool;
    job_t jobs[JOBS];
    atomic_int done;
    atomic_int running_batches, max_running_batches, batches, startups;
    pthread_t loop_thread;
} fixture_t;

static fixture_t *g_f;

static void s_run(workpool_worker_t *w, workpool_job_t *work)
{
    job_t *job = (job_t *)work;
    PGresult *r = PQexec(workpool_worker_conn(w), "SELECT pg_backend_pid()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        job->backend = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
}

static void s_run_batch(workpool_worker_t *w, workpool_job_t **jobs, size_t n)
{
    int now = atomic_fetch_add(&g_f->running_batches, 1) + 1;
    int max = atomic_load(&g_f->max_running_batches);
    while (now > max && !atomic_compare_exchange_weak(&g_f->max_running_batches, &max, now))
        ;
    int id = atomic_fetch_add(&g_f->batches, 1) + 1;
    PQclear(PQexec(workpool_worker_conn(w), "SELECT pg_sleep(0.02)"));
    for (size_t i = 0; i < n; i++) {
        ((job_t *)jobs[i])->batch_id = id;
        s_run(w, jobs[i]);
    }
    atomic_fetch_sub(&g_f->running_batches, 1);
}

static bool s_apart(const workpool_job_t *a, const workpool_job_t *b)
{
    return ((const job_t *)a)->key == ((const job_t *)b)->key;
}

static void s_unavailable(workpool_job_t *work)
{
    ((job_t *)work)->unavailable = true;
}

static void s_done(workpool_job_t *work, void *arg)
{
    fixture_t *f = arg;
    job_t *job = (job_t *)work;
    job->done_thread = pthread_self();
    assert_false(job->done); /* once */
    job->done = true;
    atomic_fetch_add(&f->done, 1);
}

static void s_free(workpool_job_t *work)
{
    (void)work; /* the fixture owns the jobs */
}

static int s_startup(workpool_worker_t *w, void *arg)
{
    fixture_t *f = arg;
    assert_non_null(workpool_worker_conn(w));
    atomic_fetch_add(&f->startups, 1);
    return 0;
}

static const workpool_ops_t s_ops = {
    .name = "test",
    .worker_size = 64,
    .batch_max = 8,
    .batches_max = 1,
    .run = s_run,
    .run_batch = s_run_batch,
    .apart = s_apart,
    .unavailable = s_unavailable,
    .done = s_done,
    .free = s_free,
};

static bool s_all_done(void *arg)
{
    fixture_t *f = arg;
    return atomic_load(&f->done) == JOBS;
}

static bool s_connected(void *arg)
{
    fixture_t *f = arg;
    return workpool_connected(f->pool) == 2;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->loop = loop_new();
    char *error = NULL;
    f->clock = clock_new("real", "development", NULL, &error);
    assert_non_null(f->clock);
    f->metrics = metrics_new();
    assert_non_null(f->metrics);
    f->loop_thread = pthread_self();
    g_f = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    workpool_destroy(&f->pool);
    metrics_destroy(&f->metrics);
    clock_destroy(&f->clock);
    loop_destroy(&f->loop);
    free(f);
    g_f = NULL;
    return 0;
}

static void s_start(fixture_t *f, const char *conninfo, size_t queue_max)
{
    f->pool = workpool_new(f->loop, &s_ops, f, conninfo, 2, queue_max, f->clock);
    assert_non_null(f->pool);
    assert_int_equal(workpool_set_metrics(f->pool, f->metrics), 0);
}

/* The value of one series of the rendered metrics; -1 when absent. */
static double s_metric(fixture_t *f, const char *series)
{
    char *text = metrics_render(f->metrics);
    assert_non_null(text);
    double v = test_metric_value(text, series);
    free(text);
    return v;
}

static const char *s_dsn_or_skip(void)
{
    const char *dsn = getenv("LIAISON_PG_ADMIN_DSN");
    if (!dsn || !*dsn)
        skip();
    return dsn;
}

static void test_jobs_run_on_workers_and_come_back_once(void **state)
{
    fixture_t *f = *state;
    s_start(f, s_dsn_or_skip(), 100);
    workpool_set_startup(f->pool, s_startup, f);
    assert_true(test_run_until(f->loop, s_connected, f, 5000));
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(workpool_submit(f->pool, &f->jobs[i].base), 0);
    assert_int_equal(workpool_in_flight(f->pool), JOBS);
    assert_true(test_run_until(f->loop, s_all_done, f, 10000));
    assert_int_equal(workpool_in_flight(f->pool), 0);
    int backends[2] = {0, 0};
    for (int i = 0; i < JOBS; i++) {
        assert_true(f->jobs[i].backend > 0); /* ran on a connection */
        assert_false(f->jobs[i].unavailable);
        assert_true(pthread_equal(f->jobs[i].done_thread, f->loop_thread));
        if (f->jobs[i].backend != backends[0] && !backends[1] && backends[0])
            backends[1] = f->jobs[i].backend;
        if (!backends[0])
            backends[0] = f->jobs[i].backend;
        assert_true(f->jobs[i].backend == backends[0] || f->jobs[i].backend == backends[1]);
    }
    assert_int_equal(atomic_load(&f->startups), 1);
}

static void test_batches_one_at_a_time_keep_apart(void **state)
{
    fixture_t *f = *state;
    s_start(f, s_dsn_or_skip(), 100);
    assert_true(test_run_until(f->loop, s_connected, f, 5000));
    for (int i = 0; i < JOBS; i++) {
        f->jobs[i].base.batch = 1;
        f->jobs[i].key = i % 10 == 0 ? -1 : i; /* 0, 10, 20, 30 share a key */
        assert_int_equal(workpool_submit(f->pool, &f->jobs[i].base), 0);
    }
    assert_true(test_run_until(f->loop, s_all_done, f, 20000));
    int batches = atomic_load(&f->batches);
    /* what an operator sees: every batch and every job in one, nothing
     * queued or in flight any more */
    assert_true(s_metric(f, "liaison_workpool_batch_size_count{pool=\"test\"}") == batches);
    assert_true(s_metric(f, "liaison_workpool_batch_size_sum{pool=\"test\"}") == JOBS);
    assert_true(s_metric(f, "liaison_workpool_batch_seconds_count{pool=\"test\"}") == batches);
    assert_true(s_metric(f, "liaison_workpool_batch_seconds_sum{pool=\"test\"}") > 0);
    assert_true(s_metric(f, "liaison_workpool_queued{pool=\"test\"}") == 0);
    assert_true(s_metric(f, "liaison_workpool_in_flight{pool=\"test\"}") == 0);
    assert_true(batches < JOBS);                         /* jobs ran together */
    assert_true(batches >= JOBS / (int)s_ops.batch_max); /* at most batch_max each */
    assert_int_equal(atomic_load(&f->max_running_batches), 1);
    for (int i = 0; i < JOBS; i++) {
        assert_true(f->jobs[i].batch_id > 0);
        assert_true(f->jobs[i].backend > 0);
        for (int j = i + 1; j < JOBS; j++)
            if (f->jobs[i].key == f->jobs[j].key)
                assert_int_not_equal(f->jobs[i].batch_id, f->jobs[j].batch_id);
    }
}

static void test_full_queue_refuses(void **state)
{
    fixture_t *f = *state;
    /* nowhere to connect: nothing is taken while the workers back off */
    s_start(f, "host=127.0.0.1 port=1 connect_timeout=1", 3);
    int accepted = 0;
    for (int i = 0; i < JOBS; i++)
        accepted += workpool_submit(f->pool, &f->jobs[i].base) == 0;
    assert_true(accepted >= 3 && accepted < JOBS);
    assert_true(s_metric(f, "liaison_workpool_refused_total{pool=\"test\"}") == JOBS - accepted);
    assert_true(s_metric(f, "liaison_workpool_in_flight{pool=\"test\"}") == accepted);
}

static bool s_n_done(void *arg)
{
    fixture_t *f = arg;
    return atomic_load(&f->done) == 5;
}

static void test_no_database_answers_unavailable(void **state)
{
    fixture_t *f = *state;
    s_start(f, "host=127.0.0.1 port=1 connect_timeout=1", 100);
    for (int i = 0; i < 5; i++)
        assert_int_equal(workpool_submit(f->pool, &f->jobs[i].base), 0);
    assert_true(test_run_until(f->loop, s_n_done, f, 10000));
    for (int i = 0; i < 5; i++) {
        assert_true(f->jobs[i].unavailable);
        assert_int_equal(f->jobs[i].backend, 0);
    }
    assert_int_equal(workpool_connected(f->pool), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jobs_run_on_workers_and_come_back_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batches_one_at_a_time_keep_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_database_answers_unavailable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
