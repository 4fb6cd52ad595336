/* intake_pool — worker threads with their own connections (see intake.h).
 *
 * Two queues protected by one mutex each: `todo` (loop → workers, with a
 * condition variable) and `done` (workers → loop, with an eventfd the loop
 * watches). A job belongs to exactly one side at a time; the queues are the
 * only thing both sides touch.
 *
 * Batches. A job with a batch function (a registration) is not taken alone:
 * the worker that takes it takes every queued job of the same function with
 * it (up to BATCH_MAX) and runs them in one go (group commit, see
 * intake_item.c). At most one batch runs at a time: while it commits, the
 * next registrations gather in the queue and become the next batch, so the
 * batch grows with the load; a second batcher would only take a few of
 * them and then wait on the same counter rows. Other jobs are taken by the
 * other workers meanwhile. Two jobs of the same court and Idempotency-Key
 * never share a batch: the second must see the first one committed.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/log.h"
#include "common/pg.h"
#include "intake/intake.h"

#define CACHE_SIZE        64
#define DEPUTY_CACHE_SIZE 256
/* How long a worker trusts what it read about a token or a court. A revoked
 * token or a changed court is seen within this time; every registration
 * still re-checks its court's zone and template inside its transaction. */
#define CACHE_TTL_US (5 * 1000000LL)
/* Back-off between connection attempts of a worker. */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
/* The most registrations in one transaction. */
#define BATCH_MAX 256
/* Batches running at once. */
#define BATCHES_MAX 1
/* How long the next batch may wait for more registrations (s_gather), and
 * how recent the last batch must be for it to wait at all. */
#define GATHER_US      1000
#define GATHER_LOAD_US 20000

typedef struct {
    char key[65];
    int64_t expires_us;
    bool found;
    intake_principal_t principal;
} token_entry_t;

typedef struct {
    char court[64];
    int64_t expires_us;
    char zone[40];
    char tmpl[256];
} court_entry_t;

/* A deputy as the roster has it, keyed by court and the code or id a
 * request named it by: the snapshot item_claim() builds. */
typedef struct {
    char court[64];
    char given[64];
    int64_t expires_us;
    char snapshot[INTAKE_SNAPSHOT_MAX];
} deputy_entry_t;

/* The counter of a court and year as this daemon's last commit left it. */
typedef struct {
    char court[64];
    int year;
    long long last;
    uint64_t used;
} serial_entry_t;

struct intake_worker_t {
    intake_pool_t *pool;
    pthread_t thread;
    PGconn *conn;
    token_entry_t tokens[CACHE_SIZE];
    size_t token_next;
    court_entry_t courts[CACHE_SIZE];
    size_t court_next;
    deputy_entry_t deputies[DEPUTY_CACHE_SIZE];
    size_t deputy_next;
    int64_t next_connect_ms;
    unsigned backoff_ms;
    bool started;
};

struct intake_pool_t {
    loop_t *loop;
    char *conninfo;
    liaison_clock_t *clock;
    intake_done_fn *done_fn;
    void *done_arg;
    int efd;
    size_t n_workers;
    intake_worker_t *workers;
    size_t queue_max;

    pthread_mutex_t todo_mx;
    pthread_cond_t todo_cv;
    intake_job_t *todo_head, *todo_tail;
    size_t todo_len;
    bool stopping;
    unsigned batching;         /* batches running */
    int64_t last_batch_end_us; /* when the last batch ended (s_gather) */
    size_t last_batch_size;

    pthread_mutex_t done_mx;
    intake_job_t *done_head, *done_tail;

    size_t in_flight; /* loop thread only */
    intake_job_fn *startup_fn;
    void *startup_arg;
    bool startup_claimed; /* under todo_mx */
    unsigned connected;   /* under todo_mx */

    pthread_mutex_t serial_mx;
    serial_entry_t serials[CACHE_SIZE];
    uint64_t serial_clock;
};

/* ---- jobs ------------------------------------------------------------------- */

void intake_job_free(intake_job_t **job_p)
{
    if (!job_p || !*job_p)
        return;
    intake_job_t *job = *job_p;
    free(job->court);
    free(job->id);
    free(job->idem_key);
    free(job->content_type);
    free(job->body);
    json_decref(job->query);
    json_decref(job->answer);
    free(job->location);
    free(job);
    *job_p = NULL;
}

void intake_job_answer(intake_job_t *job, unsigned status, json_t *body)
{
    json_decref(job->answer);
    job->status = status;
    job->answer = body;
}

void intake_job_problem(intake_job_t *job, unsigned status, const char *code, const char *field,
                        const char *detail_en, const char *detail_zh)
{
    json_t *p = json_object();
    json_object_set_new(p, "code", json_string(code));
    if (detail_en)
        json_object_set_new(p, "detail", json_string(detail_en));
    if (detail_zh)
        json_object_set_new(p, "detail_zh", json_string(detail_zh));
    if (field)
        json_object_set_new(p, "field", json_string(field));
    intake_job_answer(job, status, p);
}

void intake_job_problemf(intake_job_t *job, unsigned status, const char *code, const char *field,
                         const char *detail_zh, const char *fmt, ...)
{
    char en[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(en, sizeof en, fmt, ap);
    va_end(ap);
    intake_job_problem(job, status, code, field, en, detail_zh);
}

/* ---- SQL helpers ------------------------------------------------------------ */

PGresult *intake_sql(PGconn *conn, const char *sql, int n, const char *const *params,
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
        log_error("intake: statement failed", "sqlstate=%s error=\"%s\"", state ? state : "none",
                  PQerrorMessage(conn));
    PQclear(res);
    return NULL;
}

int intake_sql_begin(PGconn *conn, const char *court)
{
    PGresult *res = intake_sql(conn, "BEGIN", 0, NULL, NULL);
    if (!res)
        return -1;
    PQclear(res);
    const char *p[1] = {court};
    res = intake_sql(conn, "SELECT set_config('liaison.court', $1, true)", 1, p, NULL);
    if (!res) {
        intake_sql_rollback(conn);
        return -1;
    }
    PQclear(res);
    return 0;
}

int intake_sql_commit(PGconn *conn, char sqlstate[6])
{
    PGresult *res = intake_sql(conn, "COMMIT", 0, NULL, sqlstate);
    if (!res)
        return -1;
    /* COMMIT of a failed transaction answers ROLLBACK, not an error */
    int rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : -1;
    PQclear(res);
    return rc;
}

void intake_sql_rollback(PGconn *conn)
{
    if (PQtransactionStatus(conn) == PQTRANS_IDLE)
        return;
    PQclear(PQexec(conn, "ROLLBACK"));
}

/* Leave pipeline mode. If results are still owed (a send failed half
 * way), the session cannot be trusted with its next job: start it afresh
 * (a broken connection is replaced by the worker anyway). */
static int s_pipeline_leave(PGconn *conn)
{
    if (PQexitPipelineMode(conn) == 1)
        return 0;
    log_error("intake: cannot leave pipeline mode; reconnecting", "error=\"%s\"",
              PQerrorMessage(conn));
    PQreset(conn);
    return -1;
}

int intake_sql_pipeline(PGconn *conn, size_t n, const intake_stmt_t *stmts, PGresult **res,
                        char sqlstate[6])
{
    strcpy(sqlstate, "");
    for (size_t i = 0; i < n; i++)
        res[i] = NULL;
    if (PQenterPipelineMode(conn) != 1) {
        snprintf(sqlstate, 6, "08000");
        return -1;
    }
    int rc = 0;
    size_t sent = 0;
    while (sent < n && PQsendQueryParams(conn, stmts[sent].sql, stmts[sent].n, NULL,
                                         stmts[sent].params, NULL, NULL, 0) == 1)
        sent++;
    if (sent < n || PQpipelineSync(conn) != 1) {
        /* the connection is gone: nothing more to read; the worker reconnects */
        log_error("intake: pipeline failed", "error=\"%s\"", PQerrorMessage(conn));
        snprintf(sqlstate, 6, "08000");
        s_pipeline_leave(conn);
        return -1;
    }
    for (size_t i = 0; i < sent; i++) {
        PGresult *r = PQgetResult(conn);
        if (!r) {
            rc = -1;
            if (!sqlstate[0])
                snprintf(sqlstate, 6, "08000");
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            res[i] = r;
        } else {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (st != PGRES_PIPELINE_ABORTED && !sqlstate[0]) {
                snprintf(sqlstate, 6, "%s", state ? state : "08000");
                /* 40: retried; 23: a conflict the caller answers; LQ: a batch
                 * numbered ahead that runs again in two steps (intake_item.c) */
                if (!state || (strncmp(state, "40", 2) != 0 && strncmp(state, "23", 2) != 0 &&
                               strncmp(state, "LQ", 2) != 0))
                    log_error("intake: statement failed", "sqlstate=%s error=\"%s\"",
                              state ? state : "none", PQresultErrorMessage(r));
            }
            PQclear(r);
            rc = -1;
        }
        /* the end of this statement's results */
        while ((r = PQgetResult(conn)) != NULL)
            PQclear(r);
    }
    /* the sync point */
    PGresult *r;
    while ((r = PQgetResult(conn)) != NULL) {
        bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync)
            break;
    }
    if (s_pipeline_leave(conn) != 0)
        rc = -1;
    if (rc != 0 && !sqlstate[0])
        snprintf(sqlstate, 6, "08000");
    return rc;
}

void intake_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

/* ---- worker side ------------------------------------------------------------ */

PGconn *intake_worker_conn(intake_worker_t *w)
{
    return w->conn;
}

liaison_clock_t *intake_worker_clock(intake_worker_t *w)
{
    return w->pool->clock;
}

void *intake_worker_startup_arg(intake_worker_t *w)
{
    return w->pool->startup_arg;
}

void intake_worker_forget(intake_worker_t *w)
{
    memset(w->tokens, 0, sizeof w->tokens);
    memset(w->courts, 0, sizeof w->courts);
    memset(w->deputies, 0, sizeof w->deputies);
}

int intake_worker_deputy(intake_worker_t *w, const char *court, const char *given, char *snapshot,
                         size_t size)
{
    if (strlen(court) >= sizeof w->deputies[0].court ||
        strlen(given) >= sizeof w->deputies[0].given)
        return -1;
    int64_t now = clock_mono_us();
    for (size_t i = 0; i < DEPUTY_CACHE_SIZE; i++) {
        deputy_entry_t *e = &w->deputies[i];
        if (e->expires_us > now && strcmp(e->given, given) == 0 && strcmp(e->court, court) == 0) {
            if (strlen(e->snapshot) >= size)
                return -1;
            strcpy(snapshot, e->snapshot);
            return 0;
        }
    }
    /* the object exactly as item_claim() builds it, so the two compare */
    const char *p[2] = {court, given};
    intake_stmt_t stmts[3] = {
        {"BEGIN", 0, NULL},
        {"SELECT set_config('liaison.court', $1, true)", 1, p},
        {"SELECT jsonb_build_object('id', d.id, 'code', d.code, 'name', d.name, 'body', d.body, "
         "  'level', d.level)::text FROM deputy d "
         "WHERE d.court_id = $1 AND (d.code = $2 OR d.id::text = lower($2))",
         2, p},
    };
    PGresult *res[3];
    char sqlstate[6];
    int rc = intake_sql_pipeline(w->conn, 3, stmts, res, sqlstate) == 0 ? 0 : -2;
    if (rc == 0 && PQntuples(res[2]) != 1)
        rc = -1;
    if (rc == 0 && strlen(PQgetvalue(res[2], 0, 0)) >= sizeof w->deputies[0].snapshot)
        rc = -1;
    if (rc == 0) {
        deputy_entry_t *e = &w->deputies[w->deputy_next++ % DEPUTY_CACHE_SIZE];
        snprintf(e->court, sizeof e->court, "%s", court);
        snprintf(e->given, sizeof e->given, "%s", given);
        snprintf(e->snapshot, sizeof e->snapshot, "%s", PQgetvalue(res[2], 0, 0));
        e->expires_us = now + CACHE_TTL_US;
        if (strlen(e->snapshot) >= size)
            rc = -1;
        else
            strcpy(snapshot, e->snapshot);
    }
    for (int i = 0; i < 3; i++)
        PQclear(res[i]);
    intake_sql_rollback(w->conn);
    return rc;
}

bool intake_worker_serial_take(intake_worker_t *w, const char *court, int year, long long count,
                               long long *expected)
{
    intake_pool_t *pool = w->pool;
    bool found = false;
    pthread_mutex_lock(&pool->serial_mx);
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        serial_entry_t *e = &pool->serials[i];
        if (e->used && e->year == year && strcmp(e->court, court) == 0) {
            *expected = e->last;
            e->last += count;
            e->used = ++pool->serial_clock;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&pool->serial_mx);
    return found;
}

void intake_worker_serial_set(intake_worker_t *w, const char *court, int year, long long last)
{
    intake_pool_t *pool = w->pool;
    if (strlen(court) >= sizeof pool->serials[0].court)
        return;
    pthread_mutex_lock(&pool->serial_mx);
    serial_entry_t *slot = NULL;
    for (size_t i = 0; i < CACHE_SIZE && !slot; i++)
        if (pool->serials[i].used && pool->serials[i].year == year &&
            strcmp(pool->serials[i].court, court) == 0)
            slot = &pool->serials[i];
    if (last < 0) {
        if (slot)
            memset(slot, 0, sizeof *slot);
    } else {
        /* else a free entry, else the least recently used one */
        for (size_t i = 0; i < CACHE_SIZE && !slot; i++)
            if (pool->serials[i].used == 0)
                slot = &pool->serials[i];
        if (!slot) {
            slot = &pool->serials[0];
            for (size_t i = 1; i < CACHE_SIZE; i++)
                if (pool->serials[i].used < slot->used)
                    slot = &pool->serials[i];
        }
        snprintf(slot->court, sizeof slot->court, "%s", court);
        slot->year = year;
        slot->last = last;
        slot->used = ++pool->serial_clock;
    }
    pthread_mutex_unlock(&pool->serial_mx);
}

bool intake_worker_auth(intake_worker_t *w, intake_job_t *job, intake_principal_t *out)
{
    if (job->bad_auth_header) {
        intake_job_problem(job, 401, "unauthorized", "Authorization",
                           "The Authorization header must be \"Bearer <token>\".",
                           "Authorization 请求头须为“Bearer <令牌>”。");
        return false;
    }
    if (!job->token_hash[0]) {
        intake_job_problem(job, 401, "unauthorized", "Authorization", "A bearer token is required.",
                           "需要持有访问令牌。");
        return false;
    }
    int64_t now = clock_mono_us();
    token_entry_t *hit = NULL;
    for (size_t i = 0; i < CACHE_SIZE; i++)
        if (w->tokens[i].expires_us > now && strcmp(w->tokens[i].key, job->token_hash) == 0) {
            hit = &w->tokens[i];
            break;
        }
    if (!hit) {
        const char *p[1] = {job->token_hash};
        PGresult *res =
            intake_sql(w->conn,
                       "SELECT role, coalesce(court_id, ''), coalesce(department_code, '') "
                       "FROM api_token WHERE token_hash = $1 AND revoked_at IS NULL",
                       1, p, NULL);
        if (!res) {
            intake_job_problem(job, 503, "database_unavailable", NULL,
                               "The database is unavailable; try again.",
                               "数据库暂不可用，请稍后重试。");
            return false;
        }
        hit = &w->tokens[w->token_next++ % CACHE_SIZE];
        memset(hit, 0, sizeof *hit);
        snprintf(hit->key, sizeof hit->key, "%s", job->token_hash);
        hit->expires_us = now + CACHE_TTL_US;
        hit->found =
            PQntuples(res) == 1 &&
            (hit->principal.role = auth_role_parse(PQgetvalue(res, 0, 0))) != AUTH_ROLE_UNKNOWN;
        if (hit->found) {
            snprintf(hit->principal.court, sizeof hit->principal.court, "%s",
                     PQgetvalue(res, 0, 1));
            snprintf(hit->principal.department, sizeof hit->principal.department, "%s",
                     PQgetvalue(res, 0, 2));
            snprintf(hit->principal.token_hash, sizeof hit->principal.token_hash, "%s",
                     job->token_hash);
        }
        PQclear(res);
    }
    if (!hit->found) {
        intake_job_problem(job, 401, "unauthorized", "Authorization",
                           "The bearer token is unknown or revoked.", "访问令牌无效或已吊销。");
        return false;
    }
    *out = hit->principal;
    return true;
}

bool intake_authorize(intake_job_t *job, const intake_principal_t *p, const char *court,
                      intake_access_t access)
{
    bool ok;
    if (p->role == AUTH_ROLE_OPERATOR) {
        ok = true;
    } else if (access == INTAKE_ACCESS_ADMIN) {
        ok = false;
    } else if (court && strcmp(court, p->court) != 0) {
        /* A token of court A never reads or writes court B, and is not told
         * whether B exists. */
        intake_job_problem(job, 403, "forbidden", "court", "This token may not act on this court.",
                           "该令牌无权访问此法院的数据。");
        return false;
    } else if (access == INTAKE_ACCESS_REGISTER) {
        ok = p->role == AUTH_ROLE_LIAISON_OFFICE || p->role == AUTH_ROLE_SYSTEM;
    } else if (access == INTAKE_ACCESS_DIRECTORY) {
        ok = p->role == AUTH_ROLE_LIAISON_OFFICE;
    } else {
        ok = true; /* every role of the court reads */
    }
    if (!ok)
        intake_job_problemf(job, 403, "forbidden", "Authorization", "该令牌的角色无权执行此操作。",
                            "A %s token may not do this.", auth_role_name(p->role));
    return ok;
}

int intake_worker_court(intake_worker_t *w, const char *court, bool fresh, char *zone,
                        size_t zone_size, char *tmpl, size_t tmpl_size)
{
    int64_t now = clock_mono_us();
    court_entry_t *hit = NULL;
    for (size_t i = 0; i < CACHE_SIZE && !fresh; i++)
        if (w->courts[i].expires_us > now && strcmp(w->courts[i].court, court) == 0) {
            hit = &w->courts[i];
            break;
        }
    if (!hit) {
        if (intake_sql_begin(w->conn, court) != 0)
            return -2;
        const char *p[1] = {court};
        PGresult *res = intake_sql(
            w->conn, "SELECT time_zone, regnum_template FROM court WHERE court_id = $1 AND active",
            1, p, NULL);
        intake_sql_rollback(w->conn);
        if (!res)
            return -2;
        if (PQntuples(res) != 1) {
            PQclear(res);
            return -1;
        }
        for (size_t i = 0; i < CACHE_SIZE; i++)
            if (strcmp(w->courts[i].court, court) == 0)
                w->courts[i].expires_us = 0;
        hit = &w->courts[w->court_next++ % CACHE_SIZE];
        snprintf(hit->court, sizeof hit->court, "%s", court);
        snprintf(hit->zone, sizeof hit->zone, "%s", PQgetvalue(res, 0, 0));
        snprintf(hit->tmpl, sizeof hit->tmpl, "%s", PQgetvalue(res, 0, 1));
        hit->expires_us = now + CACHE_TTL_US;
        PQclear(res);
    }
    snprintf(zone, zone_size, "%s", hit->zone);
    snprintf(tmpl, tmpl_size, "%s", hit->tmpl);
    return 0;
}

static bool s_worker_connect(intake_worker_t *w)
{
    if (w->conn && PQstatus(w->conn) == CONNECTION_OK)
        return true;
    if (w->conn) {
        PQfinish(w->conn);
        w->conn = NULL;
        pthread_mutex_lock(&w->pool->todo_mx);
        w->pool->connected--;
        pthread_mutex_unlock(&w->pool->todo_mx);
    }
    int64_t now_ms = clock_mono_us() / 1000;
    if (now_ms < w->next_connect_ms)
        return false;
    char *error = NULL;
    w->conn = pg_connect_blocking(w->pool->conninfo, &error);
    if (!w->conn) {
        log_warn("intake: worker cannot connect", "error=\"%s\"", error ? error : "?");
        free(error);
        w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : RECONNECT_MIN_MS;
        if (w->backoff_ms > RECONNECT_MAX_MS)
            w->backoff_ms = RECONNECT_MAX_MS;
        w->next_connect_ms = now_ms + w->backoff_ms;
        return false;
    }
    w->backoff_ms = 0;
    intake_worker_forget(w);
    pthread_mutex_lock(&w->pool->todo_mx);
    w->pool->connected++;
    bool startup = w->pool->startup_fn && !w->pool->startup_claimed;
    if (startup)
        w->pool->startup_claimed = true;
    pthread_mutex_unlock(&w->pool->todo_mx);
    if (startup) {
        intake_job_t job = {0};
        w->pool->startup_fn(w, &job);
        if (job.status >= 400) {
            /* let another connection try again later */
            pthread_mutex_lock(&w->pool->todo_mx);
            w->pool->startup_claimed = false;
            pthread_mutex_unlock(&w->pool->todo_mx);
        }
        json_decref(job.answer);
    }
    return true;
}

static void s_worker_finish(intake_pool_t *pool, intake_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&pool->done_mx);
    if (pool->done_tail)
        pool->done_tail->next = job;
    else
        pool->done_head = job;
    pool->done_tail = job;
    pthread_mutex_unlock(&pool->done_mx);
    uint64_t one = 1;
    ssize_t n = write(pool->efd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

/* May a worker take a job now? Under todo_mx. */
static bool s_can_take(intake_pool_t *pool)
{
    for (intake_job_t *j = pool->todo_head; j; j = j->next)
        if (!j->batch || pool->batching < BATCHES_MAX)
            return true;
    return false;
}

static void s_unlink(intake_pool_t *pool, intake_job_t *prev, intake_job_t *job)
{
    if (prev)
        prev->next = job->next;
    else
        pool->todo_head = job->next;
    if (pool->todo_tail == job)
        pool->todo_tail = prev;
    job->next = NULL;
    pool->todo_len--;
}

static bool s_same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Take the first job a worker may take; with a batch function, every
 * queued job of that function too (up to max), but never two of the same
 * court and Idempotency-Key, and only when no batch runs. Under todo_mx,
 * with s_can_take() true. Returns how many jobs are in out. */
static size_t s_take(intake_pool_t *pool, intake_job_t **out, size_t max)
{
    intake_job_t *prev = NULL, *job = pool->todo_head;
    while (job->batch && pool->batching >= BATCHES_MAX) {
        prev = job;
        job = job->next;
    }
    s_unlink(pool, prev, job);
    out[0] = job;
    if (!job->batch)
        return 1;
    pool->batching++;
    size_t n = 1;
    for (intake_job_t *p = prev, *j = p ? p->next : pool->todo_head; j && n < max;) {
        bool take = j->batch == job->batch;
        for (size_t i = 0; take && i < n; i++)
            take = !(s_same(out[i]->idem_key, j->idem_key) && s_same(out[i]->court, j->court));
        if (!take) {
            p = j;
            j = j->next;
            continue;
        }
        intake_job_t *next = j->next;
        s_unlink(pool, p, j);
        out[n++] = j;
        j = next;
    }
    return n;
}

/* Group commit's gathering. Under load the requests answered by one batch
 * come back while the next one runs, and that one holds only those that
 * waited meanwhile: with a few clients the batches settle at half their
 * number each. So when a batch is next and the last one ended a moment ago
 * (the load goes on), wait up to GATHER_US for the requests about to come
 * back, or until BATCH_MAX wait. An isolated registration never waits.
 * Under todo_mx, with s_can_take() true. */
static void s_gather(intake_pool_t *pool)
{
    if (!pool->todo_head || !pool->todo_head->batch || pool->batching >= BATCHES_MAX)
        return;
    int64_t now = clock_mono_us();
    if (pool->last_batch_end_us == 0 || now - pool->last_batch_end_us > GATHER_LOAD_US ||
        pool->last_batch_size < 2)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += GATHER_US * 1000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    size_t want = pool->last_batch_size * 2 < BATCH_MAX ? pool->last_batch_size * 2 : BATCH_MAX;
    /* the batch counts as running meanwhile: no other worker starts it */
    pool->batching++;
    while (!pool->stopping && pool->todo_len < want &&
           pthread_cond_timedwait(&pool->todo_cv, &pool->todo_mx, &until) == 0)
        ;
    pool->batching--;
}

static void *s_worker_main(void *arg)
{
    intake_worker_t *w = arg;
    intake_pool_t *pool = w->pool;
    intake_job_t **jobs = calloc(BATCH_MAX, sizeof *jobs);
    if (!jobs) {
        log_error("intake: a worker is out of memory", NULL);
        return NULL;
    }
    s_worker_connect(w);
    for (;;) {
        pthread_mutex_lock(&pool->todo_mx);
        while (!pool->stopping && !s_can_take(pool)) {
            if (!w->conn) {
                /* keep trying to connect while idle, a little at a time */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 200 * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&pool->todo_cv, &pool->todo_mx, &ts);
                if (!s_can_take(pool) && !pool->stopping) {
                    pthread_mutex_unlock(&pool->todo_mx);
                    s_worker_connect(w);
                    pthread_mutex_lock(&pool->todo_mx);
                }
            } else {
                pthread_cond_wait(&pool->todo_cv, &pool->todo_mx);
            }
        }
        if (pool->stopping) {
            pthread_mutex_unlock(&pool->todo_mx);
            break;
        }
        s_gather(pool);
        if (pool->stopping || !s_can_take(pool)) {
            pthread_mutex_unlock(&pool->todo_mx);
            continue;
        }
        size_t n = s_take(pool, jobs, BATCH_MAX);
        pthread_mutex_unlock(&pool->todo_mx);

        w->next_connect_ms = 0; /* a request is waiting: try now */
        if (!s_worker_connect(w)) {
            for (size_t i = 0; i < n; i++)
                intake_job_problem(jobs[i], 503, "database_unavailable", NULL,
                                   "The database is unavailable; try again.",
                                   "数据库暂不可用，请稍后重试。");
        } else {
            if (jobs[0]->batch)
                jobs[0]->batch(w, jobs, n);
            else
                jobs[0]->run(w, jobs[0]);
            if (PQstatus(w->conn) != CONNECTION_OK) {
                /* answered 503 by the job; reconnect before the next one */
                intake_worker_forget(w);
            } else if (PQtransactionStatus(w->conn) != PQTRANS_IDLE) {
                log_error("intake: a job left a transaction open", NULL);
                intake_sql_rollback(w->conn);
            }
        }
        if (jobs[0]->batch) {
            pthread_mutex_lock(&pool->todo_mx);
            pool->batching--;
            pool->last_batch_end_us = clock_mono_us();
            pool->last_batch_size = n;
            /* what gathered meanwhile is the next batch: wake a worker */
            pthread_cond_signal(&pool->todo_cv);
            pthread_mutex_unlock(&pool->todo_mx);
        }
        for (size_t i = 0; i < n; i++)
            s_worker_finish(pool, jobs[i]);
    }
    free(jobs);
    if (w->conn)
        PQfinish(w->conn);
    w->conn = NULL;
    return NULL;
}

/* ---- loop side -------------------------------------------------------------- */

static int s_on_done(loop_t *loop, int fd, short revents, void *arg)
{
    intake_pool_t *self = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_warn("intake: eventfd read failed", "error=\"%s\"", strerror(errno));
    pthread_mutex_lock(&self->done_mx);
    intake_job_t *list = self->done_head;
    self->done_head = self->done_tail = NULL;
    pthread_mutex_unlock(&self->done_mx);
    while (list) {
        intake_job_t *job = list;
        list = job->next;
        job->next = NULL;
        self->in_flight--;
        self->done_fn(job, self->done_arg);
    }
    return 0;
}

intake_pool_t *intake_pool_new(loop_t *loop, const char *conninfo, size_t workers, size_t queue_max,
                               liaison_clock_t *clock, intake_done_fn *done, void *arg)
{
    intake_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->conninfo = strdup(conninfo);
    self->clock = clock;
    self->done_fn = done;
    self->done_arg = arg;
    self->queue_max = queue_max;
    self->n_workers = workers;
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->workers = calloc(workers, sizeof *self->workers);
    pthread_mutex_init(&self->todo_mx, NULL);
    pthread_cond_init(&self->todo_cv, NULL);
    pthread_mutex_init(&self->done_mx, NULL);
    pthread_mutex_init(&self->serial_mx, NULL);
    if (!self->conninfo || self->efd < 0 || !self->workers ||
        loop_add_fd(loop, self->efd, ZMQ_POLLIN, s_on_done, self) != 0) {
        intake_pool_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < workers; i++) {
        self->workers[i].pool = self;
        if (pthread_create(&self->workers[i].thread, NULL, s_worker_main, &self->workers[i]) != 0) {
            log_error("intake: cannot start a worker", "error=\"%s\"", strerror(errno));
            intake_pool_destroy(&self);
            return NULL;
        }
        self->workers[i].started = true;
    }
    return self;
}

void intake_pool_set_startup(intake_pool_t *self, intake_job_fn *fn, void *arg)
{
    pthread_mutex_lock(&self->todo_mx);
    self->startup_fn = fn;
    self->startup_arg = arg;
    pthread_mutex_unlock(&self->todo_mx);
}

void intake_pool_destroy(intake_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    intake_pool_t *self = *self_p;
    pthread_mutex_lock(&self->todo_mx);
    self->stopping = true;
    pthread_cond_broadcast(&self->todo_cv);
    pthread_mutex_unlock(&self->todo_mx);
    for (size_t i = 0; self->workers && i < self->n_workers; i++)
        if (self->workers[i].started)
            pthread_join(self->workers[i].thread, NULL);
    while (self->todo_head) {
        intake_job_t *job = self->todo_head;
        self->todo_head = job->next;
        intake_job_free(&job);
    }
    while (self->done_head) {
        intake_job_t *job = self->done_head;
        self->done_head = job->next;
        intake_job_free(&job);
    }
    if (self->efd >= 0) {
        loop_remove_fd(self->loop, self->efd);
        close(self->efd);
    }
    pthread_mutex_destroy(&self->todo_mx);
    pthread_cond_destroy(&self->todo_cv);
    pthread_mutex_destroy(&self->done_mx);
    pthread_mutex_destroy(&self->serial_mx);
    free(self->workers);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

int intake_pool_submit(intake_pool_t *self, intake_job_t *job)
{
    pthread_mutex_lock(&self->todo_mx);
    if (self->todo_len >= self->queue_max) {
        pthread_mutex_unlock(&self->todo_mx);
        return -1;
    }
    job->next = NULL;
    if (self->todo_tail)
        self->todo_tail->next = job;
    else
        self->todo_head = job;
    self->todo_tail = job;
    self->todo_len++;
    pthread_cond_signal(&self->todo_cv);
    pthread_mutex_unlock(&self->todo_mx);
    self->in_flight++;
    return 0;
}

size_t intake_pool_in_flight(intake_pool_t *self)
{
    return self->in_flight;
}

size_t intake_pool_connected(intake_pool_t *self)
{
    pthread_mutex_lock(&self->todo_mx);
    size_t n = self->connected;
    pthread_mutex_unlock(&self->todo_mx);
    return n;
}
