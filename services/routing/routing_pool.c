/* routing_pool — routing's side of the worker pool (common/workpool.h):
 * its jobs, the SQL helpers of its jobs and the ops of its pool. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_jobs.h"
#include "common/log.h"
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
    if (sqlstate)
        strcpy(sqlstate, "");
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (sqlstate)
        snprintf(sqlstate, 6, "%s", state ? state : "08000");
    /* 40001/40P01 are retried by the caller; 23xxx are answered as refusals */
    if (!state || (strncmp(state, "40", 2) != 0 && strncmp(state, "23", 2) != 0))
        log_error("routing: statement failed", "sqlstate=%s error=\"%s\"", state ? state : "none",
                  PQerrorMessage(conn));
    PQclear(res);
    return NULL;
}

int routing_sql_begin(PGconn *conn, const char *court)
{
    PGresult *res = routing_sql(conn, "BEGIN", 0, NULL, NULL);
    if (!res)
        return -1;
    PQclear(res);
    const char *p[1] = {court};
    res = routing_sql(conn, "SELECT set_config('liaison.court', $1, true)", 1, p, NULL);
    if (!res) {
        routing_sql_rollback(conn);
        return -1;
    }
    PQclear(res);
    return 0;
}

int routing_sql_commit(PGconn *conn, char sqlstate[6])
{
    PGresult *res = routing_sql(conn, "COMMIT", 0, NULL, sqlstate);
    if (!res)
        return -1;
    /* COMMIT of a failed transaction answers ROLLBACK, not an error */
    int rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : -1;
    PQclear(res);
    return rc;
}

void routing_sql_rollback(PGconn *conn)
{
    if (PQtransactionStatus(conn) == PQTRANS_IDLE)
        return;
    PQclear(PQexec(conn, "ROLLBACK"));
}

void routing_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
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
