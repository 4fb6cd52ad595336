/* routing_pool — routing's side of the worker pool (common/workpool.h):
 * its jobs, the SQL helpers of its jobs and the ops of its pool. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/http_jobs.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/workpool.h"
#include "routing/routing.h"

_Static_assert(offsetof(routing_job_t, work) == 0, "the pool's part comes first");

/* ---- jobs ------------------------------------------------------------------- */

void routing_job_free(routing_job_t **job_p)
{
    if (!job_p || !*job_p)
        return;
    routing_job_t *job = *job_p;
    free(job->court);
    free(job->id);
    free(job->action);
    free(job->idem_key);
    free(job->body);
    if (job->token) {
        /* the secret does not outlive the request */
        explicit_bzero(job->token, strlen(job->token));
        free(job->token);
    }
    json_decref(job->query);
    json_decref(job->answer);
    free(job);
    *job_p = NULL;
}

void routing_job_answer(routing_job_t *job, unsigned status, json_t *body)
{
    json_decref(job->answer);
    job->status = status;
    job->answer = body;
}

void routing_job_problem(routing_job_t *job, unsigned status, const char *code, const char *field,
                         const char *detail_en, const char *detail_zh)
{
    routing_job_answer(job, status, http_jobs_problem(code, field, detail_en, detail_zh));
}

void routing_job_problemf(routing_job_t *job, unsigned status, const char *code, const char *field,
                          const char *detail_zh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    routing_job_answer(job, status, http_jobs_problemv(code, field, detail_zh, fmt, ap));
    va_end(ap);
}

/* ---- SQL helpers ------------------------------------------------------------ */

PGresult *routing_sql(PGconn *conn, const char *sql, int n, const char *const *params,
                      char sqlstate[6])
{
    return pg_sql(conn, "routing", sql, n, params, sqlstate);
}

int routing_sql_begin(PGconn *conn, const char *court)
{
    return pg_sql_begin(conn, "routing", court);
}

int routing_sql_commit(PGconn *conn, char sqlstate[6])
{
    return pg_sql_commit(conn, "routing", sqlstate);
}

void routing_sql_rollback(PGconn *conn)
{
    pg_sql_rollback(conn);
}

void routing_sha256_hex(const void *data, size_t len, char out[65])
{
    auth_sha256_hex(data, len, out);
}

/* ---- worker side ------------------------------------------------------------ */

PGconn *routing_worker_conn(routing_worker_t *w)
{
    return workpool_worker_conn(w);
}

liaison_clock_t *routing_worker_clock(routing_worker_t *w)
{
    return workpool_worker_clock(w);
}

/* ---- the pool ----------------------------------------------------------------- */

static void s_run(workpool_worker_t *w, workpool_job_t *work)
{
    routing_job_t *job = (routing_job_t *)work;
    job->run(w, job);
}

static void s_unavailable(workpool_job_t *work)
{
    routing_job_problem((routing_job_t *)work, 503, "database_unavailable", NULL,
                        "The database is unavailable; try again.", "数据库暂不可用，请稍后重试。");
}

static void s_free(workpool_job_t *work)
{
    routing_job_t *job = (routing_job_t *)work;
    routing_job_free(&job);
}

workpool_t *routing_pool_new(loop_t *loop, const char *conninfo, size_t workers, size_t queue_max,
                             liaison_clock_t *clock, workpool_done_fn *done, void *arg)
{
    workpool_ops_t ops = {
        .name = "routing",
        .run = s_run,
        .unavailable = s_unavailable,
        .done = done,
        .free = s_free,
    };
    return workpool_new(loop, &ops, arg, conninfo, workers, queue_max, clock);
}
