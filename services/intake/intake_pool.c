/* intake_pool — intake's side of the worker pool (common/workpool.h):
 * its jobs, its workers' caches (tokens, courts, deputies), the serial
 * table the workers share, and the SQL helpers of its jobs.
 *
 * Registrations run in batches (group commit, see intake_item.c): at most
 * one batch at a time, since while it commits the next registrations
 * gather in the queue and become the next batch, so the batch grows with
 * the load; a second batcher would only take a few of them and then wait
 * on the same counter rows. Two jobs of the same court and Idempotency-Key
 * never share a batch: the second must see the first one committed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/http_jobs.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/workpool.h"
#include "intake/intake.h"

#define CACHE_SIZE        64
#define DEPUTY_CACHE_SIZE 256

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

/* A worker's own caches (workpool_worker_state). */
typedef struct {
    token_entry_t tokens[CACHE_SIZE];
    size_t token_next;
    court_entry_t courts[CACHE_SIZE];
    size_t court_next;
    deputy_entry_t deputies[DEPUTY_CACHE_SIZE];
    size_t deputy_next;
    uint64_t changes_seen; /* the pool's changes when these were last emptied */
} worker_cache_t;

/* What the workers share (workpool_worker_arg). */
struct intake_pool_t {
    workpool_t *work;
    intake_done_fn *done_fn;
    void *done_arg;
    intake_job_fn *startup_fn;
    void *startup_arg;

    pthread_mutex_t serial_mx;
    serial_entry_t serials[CACHE_SIZE];
    uint64_t serial_clock;

    /* How long a worker trusts what it read about a token, a court or a
     * deputy ([intake] cache_ttl). A change made through another instance
     * of the daemon, or in the database directly, is seen within this time;
     * one made through this daemon at once (changes). Every registration
     * still re-checks its court, its deputies and its department inside its
     * transaction. */
    int64_t cache_ttl_us;
    /* Directory changes and token revocations committed through this
     * daemon: a worker whose caches are older empties them before its next
     * job (intake_worker_changed). */
    atomic_uint_fast64_t changes;
};

_Static_assert(offsetof(intake_job_t, work) == 0, "the pool's part comes first");

static worker_cache_t *s_cache(intake_worker_t *w)
{
    return workpool_worker_state(w);
}

static intake_pool_t *s_pool(intake_worker_t *w)
{
    return workpool_worker_arg(w);
}

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
    intake_job_answer(job, status, http_jobs_problem(code, field, detail_en, detail_zh));
}

void intake_job_problemf(intake_job_t *job, unsigned status, const char *code, const char *field,
                         const char *detail_zh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    intake_job_answer(job, status, http_jobs_problemv(code, field, detail_zh, fmt, ap));
    va_end(ap);
}

/* ---- SQL helpers ------------------------------------------------------------ */

PGresult *intake_sql(PGconn *conn, const char *sql, int n, const char *const *params,
                     char sqlstate[6])
{
    return pg_sql(conn, "intake", sql, n, params, sqlstate);
}

int intake_sql_begin(PGconn *conn, const char *court)
{
    return pg_sql_begin(conn, "intake", court);
}

int intake_sql_commit(PGconn *conn, char sqlstate[6])
{
    return pg_sql_commit(conn, "intake", sqlstate);
}

void intake_sql_rollback(PGconn *conn)
{
    pg_sql_rollback(conn);
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
    auth_sha256_hex(data, len, out);
}

/* ---- worker side ------------------------------------------------------------ */

PGconn *intake_worker_conn(intake_worker_t *w)
{
    return workpool_worker_conn(w);
}

liaison_clock_t *intake_worker_clock(intake_worker_t *w)
{
    return workpool_worker_clock(w);
}

void *intake_worker_startup_arg(intake_worker_t *w)
{
    return s_pool(w)->startup_arg;
}

/* Empty a worker's caches, as of the pool's changes count `seen`. */
static void s_cache_empty(intake_worker_t *w, uint64_t seen)
{
    worker_cache_t *c = s_cache(w);
    memset(c, 0, sizeof *c);
    c->changes_seen = seen;
}

void intake_worker_forget(intake_worker_t *w)
{
    s_cache_empty(w, s_cache(w)->changes_seen);
}

void intake_worker_changed(intake_worker_t *w)
{
    s_cache_empty(w, atomic_fetch_add(&s_pool(w)->changes, 1) + 1);
}

/* Before each job: empty the caches if the directory or a token changed
 * through another worker since they were last emptied. */
static void s_cache_sync(intake_worker_t *w)
{
    uint64_t now = atomic_load(&s_pool(w)->changes);
    if (s_cache(w)->changes_seen != now)
        s_cache_empty(w, now);
}

int intake_worker_deputy(intake_worker_t *w, const char *court, const char *given, char *snapshot,
                         size_t size)
{
    worker_cache_t *c = s_cache(w);
    PGconn *conn = workpool_worker_conn(w);
    if (strlen(court) >= sizeof c->deputies[0].court ||
        strlen(given) >= sizeof c->deputies[0].given)
        return -1;
    int64_t now = clock_mono_us();
    for (size_t i = 0; i < DEPUTY_CACHE_SIZE; i++) {
        deputy_entry_t *e = &c->deputies[i];
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
    int rc = intake_sql_pipeline(conn, 3, stmts, res, sqlstate) == 0 ? 0 : -2;
    if (rc == 0 && PQntuples(res[2]) != 1)
        rc = -1;
    if (rc == 0 && strlen(PQgetvalue(res[2], 0, 0)) >= sizeof c->deputies[0].snapshot)
        rc = -1;
    if (rc == 0) {
        deputy_entry_t *e = &c->deputies[c->deputy_next++ % DEPUTY_CACHE_SIZE];
        snprintf(e->court, sizeof e->court, "%s", court);
        snprintf(e->given, sizeof e->given, "%s", given);
        snprintf(e->snapshot, sizeof e->snapshot, "%s", PQgetvalue(res[2], 0, 0));
        e->expires_us = now + s_pool(w)->cache_ttl_us;
        if (strlen(e->snapshot) >= size)
            rc = -1;
        else
            strcpy(snapshot, e->snapshot);
    }
    for (int i = 0; i < 3; i++)
        PQclear(res[i]);
    intake_sql_rollback(conn);
    return rc;
}

bool intake_worker_serial_take(intake_worker_t *w, const char *court, int year, long long count,
                               long long *expected)
{
    intake_pool_t *pool = s_pool(w);
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
    intake_pool_t *pool = s_pool(w);
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
    worker_cache_t *c = s_cache(w);
    PGconn *conn = workpool_worker_conn(w);
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
        if (c->tokens[i].expires_us > now && strcmp(c->tokens[i].key, job->token_hash) == 0) {
            hit = &c->tokens[i];
            break;
        }
    if (!hit) {
        const char *p[1] = {job->token_hash};
        PGresult *res =
            intake_sql(conn,
                       "SELECT role, coalesce(court_id, ''), coalesce(department_code, '') "
                       "FROM api_token WHERE token_hash = $1 AND revoked_at IS NULL",
                       1, p, NULL);
        if (!res) {
            intake_job_problem(job, 503, "database_unavailable", NULL,
                               "The database is unavailable; try again.",
                               "数据库暂不可用，请稍后重试。");
            return false;
        }
        hit = &c->tokens[c->token_next++ % CACHE_SIZE];
        memset(hit, 0, sizeof *hit);
        snprintf(hit->key, sizeof hit->key, "%s", job->token_hash);
        hit->expires_us = now + s_pool(w)->cache_ttl_us;
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
    worker_cache_t *c = s_cache(w);
    PGconn *conn = workpool_worker_conn(w);
    int64_t now = clock_mono_us();
    court_entry_t *hit = NULL;
    for (size_t i = 0; i < CACHE_SIZE && !fresh; i++)
        if (c->courts[i].expires_us > now && strcmp(c->courts[i].court, court) == 0) {
            hit = &c->courts[i];
            break;
        }
    if (!hit) {
        if (intake_sql_begin(conn, court) != 0)
            return -2;
        const char *p[1] = {court};
        PGresult *res = intake_sql(
            conn, "SELECT time_zone, regnum_template FROM court WHERE court_id = $1 AND active", 1,
            p, NULL);
        intake_sql_rollback(conn);
        if (!res)
            return -2;
        if (PQntuples(res) != 1) {
            PQclear(res);
            return -1;
        }
        for (size_t i = 0; i < CACHE_SIZE; i++)
            if (strcmp(c->courts[i].court, court) == 0)
                c->courts[i].expires_us = 0;
        hit = &c->courts[c->court_next++ % CACHE_SIZE];
        snprintf(hit->court, sizeof hit->court, "%s", court);
        snprintf(hit->zone, sizeof hit->zone, "%s", PQgetvalue(res, 0, 0));
        snprintf(hit->tmpl, sizeof hit->tmpl, "%s", PQgetvalue(res, 0, 1));
        hit->expires_us = now + s_pool(w)->cache_ttl_us;
        PQclear(res);
    }
    snprintf(zone, zone_size, "%s", hit->zone);
    snprintf(tmpl, tmpl_size, "%s", hit->tmpl);
    return 0;
}

/* ---- the pool ----------------------------------------------------------------- */

static void s_run(workpool_worker_t *w, workpool_job_t *work)
{
    intake_job_t *job = (intake_job_t *)work;
    s_cache_sync(w);
    job->run(w, job);
}

static void s_run_batch(workpool_worker_t *w, workpool_job_t **work, size_t n)
{
    intake_job_t *jobs[INTAKE_BATCH_MAX];
    for (size_t i = 0; i < n; i++)
        jobs[i] = (intake_job_t *)work[i];
    s_cache_sync(w);
    /* registrations are the only batches */
    intake_item_register_batch(w, jobs, n);
}

static bool s_same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool s_apart(const workpool_job_t *wa, const workpool_job_t *wb)
{
    const intake_job_t *a = (const intake_job_t *)wa, *b = (const intake_job_t *)wb;
    return s_same(a->idem_key, b->idem_key) && s_same(a->court, b->court);
}

static void s_unavailable(workpool_job_t *work)
{
    intake_job_problem((intake_job_t *)work, 503, "database_unavailable", NULL,
                       "The database is unavailable; try again.", "数据库暂不可用，请稍后重试。");
}

static void s_done(workpool_job_t *work, void *arg)
{
    intake_pool_t *self = arg;
    self->done_fn((intake_job_t *)work, self->done_arg);
}

static void s_free(workpool_job_t *work)
{
    intake_job_t *job = (intake_job_t *)work;
    intake_job_free(&job);
}

static int s_startup(workpool_worker_t *w, void *arg)
{
    intake_pool_t *self = arg;
    intake_job_t job = {0};
    self->startup_fn(w, &job);
    json_decref(job.answer);
    return job.status >= 400 ? -1 : 0;
}

static const workpool_ops_t s_ops = {
    .name = "intake",
    .worker_size = sizeof(worker_cache_t),
    .batch_max = INTAKE_BATCH_MAX,
    .batches_max = 1,
    .run = s_run,
    .run_batch = s_run_batch,
    .apart = s_apart,
    .unavailable = s_unavailable,
    .connected = intake_worker_forget,
    .done = s_done,
    .free = s_free,
};

intake_pool_t *intake_pool_new(loop_t *loop, const char *conninfo, size_t workers, size_t queue_max,
                               unsigned gather_us, int64_t cache_ttl_us, liaison_clock_t *clock,
                               intake_done_fn *done, void *arg)
{
    intake_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->done_fn = done;
    self->done_arg = arg;
    self->cache_ttl_us = cache_ttl_us;
    atomic_init(&self->changes, 0);
    pthread_mutex_init(&self->serial_mx, NULL);
    /* [intake] batch_gather, while the load goes on: a batch ended less
     * than twenty windows ago */
    workpool_ops_t ops = s_ops;
    ops.gather_us = gather_us;
    ops.gather_load_us = 20 * gather_us;
    self->work = workpool_new(loop, &ops, self, conninfo, workers, queue_max, clock);
    if (!self->work) {
        intake_pool_destroy(&self);
        return NULL;
    }
    return self;
}

void intake_pool_set_startup(intake_pool_t *self, intake_job_fn *fn, void *arg)
{
    /* set before the workers can read them: the pool's lock orders it */
    self->startup_fn = fn;
    self->startup_arg = arg;
    workpool_set_startup(self->work, s_startup, self);
}

void intake_pool_destroy(intake_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    intake_pool_t *self = *self_p;
    workpool_destroy(&self->work);
    pthread_mutex_destroy(&self->serial_mx);
    free(self);
    *self_p = NULL;
}

workpool_t *intake_pool_work(intake_pool_t *self)
{
    return self->work;
}
