/* routing_pool — worker threads with their own connections (see routing.h).
 *
 * Two queues protected by one mutex each: `todo` (loop → workers, with a
 * condition variable) and `done` (workers → loop, with an eventfd the loop
 * watches). A job belongs to exactly one side at a time.
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
#include "routing/routing.h"

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000

struct routing_worker_t {
    routing_pool_t *pool;
    pthread_t thread;
    PGconn *conn;
    int64_t next_connect_ms;
    unsigned backoff_ms;
    bool started;
};

struct routing_pool_t {
    loop_t *loop;
    char *conninfo;
    liaison_clock_t *clock;
    routing_done_fn *done_fn;
    void *done_arg;
    int efd;
    size_t n_workers;
    routing_worker_t *workers;
    size_t queue_max;

    pthread_mutex_t todo_mx;
    pthread_cond_t todo_cv;
    routing_job_t *todo_head, *todo_tail;
    size_t todo_len;
    bool stopping;
    unsigned connected; /* under todo_mx */

    pthread_mutex_t done_mx;
    routing_job_t *done_head, *done_tail;

    size_t in_flight; /* loop thread only */
};

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
    json_t *p = json_object();
    json_object_set_new(p, "code", json_string(code));
    if (detail_en)
        json_object_set_new(p, "detail", json_string(detail_en));
    if (detail_zh)
        json_object_set_new(p, "detail_zh", json_string(detail_zh));
    if (field)
        json_object_set_new(p, "field", json_string(field));
    routing_job_answer(job, status, p);
}

void routing_job_problemf(routing_job_t *job, unsigned status, const char *code, const char *field,
                          const char *detail_zh, const char *fmt, ...)
{
    char en[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(en, sizeof en, fmt, ap);
    va_end(ap);
    routing_job_problem(job, status, code, field, en, detail_zh);
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
    return w->conn;
}

liaison_clock_t *routing_worker_clock(routing_worker_t *w)
{
    return w->pool->clock;
}

static bool s_worker_connect(routing_worker_t *w)
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
        log_warn("routing: worker cannot connect", "error=\"%s\"", error ? error : "?");
        free(error);
        w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : RECONNECT_MIN_MS;
        if (w->backoff_ms > RECONNECT_MAX_MS)
            w->backoff_ms = RECONNECT_MAX_MS;
        w->next_connect_ms = now_ms + w->backoff_ms;
        return false;
    }
    w->backoff_ms = 0;
    pthread_mutex_lock(&w->pool->todo_mx);
    w->pool->connected++;
    pthread_mutex_unlock(&w->pool->todo_mx);
    return true;
}

static void s_worker_finish(routing_pool_t *pool, routing_job_t *job)
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

static void *s_worker_main(void *arg)
{
    routing_worker_t *w = arg;
    routing_pool_t *pool = w->pool;
    s_worker_connect(w);
    for (;;) {
        pthread_mutex_lock(&pool->todo_mx);
        while (!pool->stopping && !pool->todo_head) {
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
                if (!pool->todo_head && !pool->stopping) {
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
        routing_job_t *job = pool->todo_head;
        pool->todo_head = job->next;
        if (!pool->todo_head)
            pool->todo_tail = NULL;
        pool->todo_len--;
        pthread_mutex_unlock(&pool->todo_mx);

        w->next_connect_ms = 0; /* a request is waiting: try now */
        if (!s_worker_connect(w)) {
            routing_job_problem(job, 503, "database_unavailable", NULL,
                                "The database is unavailable; try again.",
                                "数据库暂不可用，请稍后重试。");
        } else {
            job->run(w, job);
            if (PQstatus(w->conn) == CONNECTION_OK &&
                PQtransactionStatus(w->conn) != PQTRANS_IDLE) {
                log_error("routing: a job left a transaction open", NULL);
                routing_sql_rollback(w->conn);
            }
        }
        s_worker_finish(pool, job);
    }
    if (w->conn)
        PQfinish(w->conn);
    w->conn = NULL;
    return NULL;
}

/* ---- loop side -------------------------------------------------------------- */

static int s_on_done(loop_t *loop, int fd, short revents, void *arg)
{
    routing_pool_t *self = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_warn("routing: eventfd read failed", "error=\"%s\"", strerror(errno));
    pthread_mutex_lock(&self->done_mx);
    routing_job_t *list = self->done_head;
    self->done_head = self->done_tail = NULL;
    pthread_mutex_unlock(&self->done_mx);
    while (list) {
        routing_job_t *job = list;
        list = job->next;
        job->next = NULL;
        self->in_flight--;
        self->done_fn(job, self->done_arg);
    }
    return 0;
}

routing_pool_t *routing_pool_new(loop_t *loop, const char *conninfo, size_t workers,
                                 size_t queue_max, liaison_clock_t *clock, routing_done_fn *done,
                                 void *arg)
{
    routing_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->conninfo = strdup(conninfo);
    self->clock = clock;
    self->done_fn = done;
    self->done_arg = arg;
    self->queue_max = queue_max;
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->workers = calloc(workers, sizeof *self->workers);
    pthread_mutex_init(&self->todo_mx, NULL);
    pthread_cond_init(&self->todo_cv, NULL);
    pthread_mutex_init(&self->done_mx, NULL);
    if (!self->conninfo || self->efd < 0 || !self->workers ||
        loop_add_fd(loop, self->efd, ZMQ_POLLIN, s_on_done, self) != 0) {
        routing_pool_destroy(&self);
        return NULL;
    }
    self->n_workers = workers;
    for (size_t i = 0; i < workers; i++) {
        self->workers[i].pool = self;
        if (pthread_create(&self->workers[i].thread, NULL, s_worker_main, &self->workers[i]) != 0) {
            log_error("routing: cannot start a worker", "error=\"%s\"", strerror(errno));
            routing_pool_destroy(&self);
            return NULL;
        }
        self->workers[i].started = true;
    }
    return self;
}

void routing_pool_destroy(routing_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    routing_pool_t *self = *self_p;
    pthread_mutex_lock(&self->todo_mx);
    self->stopping = true;
    pthread_cond_broadcast(&self->todo_cv);
    pthread_mutex_unlock(&self->todo_mx);
    for (size_t i = 0; self->workers && i < self->n_workers; i++)
        if (self->workers[i].started)
            pthread_join(self->workers[i].thread, NULL);
    while (self->todo_head) {
        routing_job_t *job = self->todo_head;
        self->todo_head = job->next;
        routing_job_free(&job);
    }
    while (self->done_head) {
        routing_job_t *job = self->done_head;
        self->done_head = job->next;
        routing_job_free(&job);
    }
    if (self->efd >= 0) {
        loop_remove_fd(self->loop, self->efd);
        close(self->efd);
    }
    pthread_mutex_destroy(&self->todo_mx);
    pthread_cond_destroy(&self->todo_cv);
    pthread_mutex_destroy(&self->done_mx);
    free(self->workers);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

int routing_pool_submit(routing_pool_t *self, routing_job_t *job)
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

size_t routing_pool_in_flight(routing_pool_t *self)
{
    return self->in_flight;
}

size_t routing_pool_connected(routing_pool_t *self)
{
    pthread_mutex_lock(&self->todo_mx);
    size_t n = self->connected;
    pthread_mutex_unlock(&self->todo_mx);
    return n;
}
