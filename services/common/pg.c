/* pg — a PostgreSQL connection driven by the daemon's event loop. */
#include "common/pg.h"

#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/log.h"

#define PG_TICK_MS 250

static const pg_timing_t pg_default_timing = {
    .connect_timeout_ms = 3000,
    .probe_interval_ms = 1000,
    .stall_ms = 2000,
    .hang_ms = 30000,
    .backoff_min_ms = 100,
    .backoff_max_ms = 5000,
};

typedef struct pg_query_t {
    struct pg_query_t *next;
    char *sql;
    int nparams;
    char **params;
    pg_result_fn *fn; /* NULL for a health probe */
    void *arg;
    const char *stmt; /* a prepared statement's name (static), or NULL */
    bool preparing;   /* in flight: its PREPARE, not yet the query */
} pg_query_t;

/* Statements prepared on the current connection (pg_query_prepared). */
#define PG_PREPARED_MAX 16

typedef enum {
    PG_WAITING,    /* no connection; a retry is scheduled */
    PG_CONNECTING, /* PQconnectPoll in progress */
    PG_OPEN,       /* connected, queries flow */
    PG_CLOSED,     /* being destroyed */
} pg_state_t;

struct pg_t {
    loop_t *loop;
    char *conninfo;
    char *name;
    pg_timing_t timing;

    pg_state_t state;
    PGconn *conn;
    int fd;       /* descriptor watched in the loop, or -1 */
    short events; /* what we watch it for */
    bool flushing;
    uint64_t connect_started;
    unsigned attempt; /* failed attempts in a row, for the back-off */
    uint64_t rng;

    /* names prepared on this connection; forgotten when it is lost */
    const char *prepared[PG_PREPARED_MAX];
    size_t nprepared;

    /* The queue: head is in flight when busy. */
    pg_query_t *head, *tail;
    size_t nqueued;
    bool busy;
    PGresult *result; /* the head's result, until its final NULL */
    uint64_t sent_at;
    uint64_t last_activity;

    bool ready;
    bool stalled;
    pg_state_fn *state_fn;
    void *state_arg;

    int tick_timer;
    int retry_timer;

    /* Callbacks may destroy us: while `depth` > 0 a loop handler of ours is
     * on the stack, and pg_destroy only marks the object; the outermost
     * handler finishes the job when it unwinds. */
    int depth;
    bool destroy_pending;

    pg_stats_t stats;
};

static void pg_start_connect(pg_t *self);
static void pg_send_next(pg_t *self);
static void pg_really_destroy(pg_t *self);

/* ---- small helpers -------------------------------------------------------- */

/* libpq messages end with a newline and may span lines: keep the first. */
static const char *pg_first_line(const char *msg, char *buf, size_t size)
{
    if (!msg || !*msg)
        return "unknown error";
    size_t n = strcspn(msg, "\n");
    if (n >= size)
        n = size - 1;
    memcpy(buf, msg, n);
    buf[n] = '\0';
    return buf;
}

static void pg_query_free(pg_query_t *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->sql);
    free(q);
}

static pg_query_t *pg_query_make(const char *sql, int nparams, const char *const *params,
                                 pg_result_fn *fn, void *arg)
{
    pg_query_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->fn = fn;
    q->arg = arg;
    q->sql = strdup(sql);
    if (!q->sql)
        goto fail;
    if (nparams > 0) {
        q->params = calloc((size_t)nparams, sizeof *q->params);
        if (!q->params)
            goto fail;
        for (int i = 0; i < nparams; i++) {
            q->nparams = i + 1;
            if (params[i] && !(q->params[i] = strdup(params[i])))
                goto fail;
        }
    }
    return q;
fail:
    pg_query_free(q);
    return NULL;
}

static void pg_enqueue(pg_t *self, pg_query_t *q)
{
    if (self->tail)
        self->tail->next = q;
    else
        self->head = q;
    self->tail = q;
    self->nqueued++;
}

static pg_query_t *pg_dequeue(pg_t *self)
{
    pg_query_t *q = self->head;
    if (q) {
        self->head = q->next;
        if (!self->head)
            self->tail = NULL;
        q->next = NULL;
        self->nqueued--;
    }
    return q;
}

static void pg_notice(void *arg, const char *message)
{
    pg_t *self = arg;
    char buf[256];
    log_debug("postgres notice", "pg=%s notice=%s", self->name,
              pg_first_line(message, buf, sizeof buf));
}

/* ---- the descriptor in the loop ------------------------------------------- */

static int pg_on_fd(loop_t *loop, int fd, short revents, void *arg);
static int pg_on_retry(loop_t *loop, int timer_id, void *arg);

static void pg_unwatch(pg_t *self)
{
    if (self->fd >= 0)
        loop_remove_fd(self->loop, self->fd);
    self->fd = -1;
    self->events = 0;
}

/* Watch fd for events. libpq may replace its socket during PQconnectPoll
 * (one per address it tries, one for the SSL retry...), so the descriptor
 * is re-read after every call and the old one forgotten. */
static int pg_watch(pg_t *self, int fd, short events)
{
    if (self->fd >= 0 && self->fd != fd)
        pg_unwatch(self);
    if (fd < 0)
        return -1;
    if (self->fd == fd && self->events == events)
        return 0;
    if (loop_add_fd(self->loop, fd, events, pg_on_fd, self) != 0) {
        self->fd = -1;
        self->events = 0;
        return -1;
    }
    self->fd = fd;
    self->events = events;
    return 0;
}

static void pg_close_conn(pg_t *self)
{
    pg_unwatch(self);
    if (self->result) {
        PQclear(self->result);
        self->result = NULL;
    }
    if (self->conn) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    self->busy = false;
    self->flushing = false;
}

/* ---- readiness ------------------------------------------------------------ */

static void pg_update_ready(pg_t *self)
{
    bool ready = self->state == PG_OPEN && !self->stalled;
    if (ready == self->ready)
        return;
    self->ready = ready;
    if (ready)
        log_info("postgres ready", "pg=%s", self->name);
    else
        log_warn("postgres not ready", "pg=%s", self->name);
    if (self->state_fn && self->state != PG_CLOSED)
        self->state_fn(self, ready, self->state_arg);
}

/* ---- failures ------------------------------------------------------------- */

/* Every query still queued gets its callback, exactly once, with `error`.
 * The queue is detached first: callbacks may queue again (refused, since we
 * are not open) or destroy us (deferred). */
static void pg_fail_all(pg_t *self, const char *error)
{
    pg_query_t *q = self->head;
    self->head = self->tail = NULL;
    self->nqueued = 0;
    self->busy = false;
    while (q) {
        pg_query_t *next = q->next;
        if (q->fn) {
            self->stats.query_failures++;
            q->fn(self, NULL, error, q->arg);
        }
        pg_query_free(q);
        q = next;
    }
}

static void pg_schedule_retry(pg_t *self)
{
    if (self->retry_timer > 0 || self->state != PG_WAITING)
        return;
    uint32_t delay = backoff_delay_ms(self->timing.backoff_min_ms, self->timing.backoff_max_ms,
                                      self->attempt, &self->rng);
    if (self->attempt < 64)
        self->attempt++;
    int id = loop_add_timer(self->loop, delay, 1, pg_on_retry, self);
    /* If the timer cannot be added, the tick retries. */
    self->retry_timer = id > 0 ? id : 0;
}

/* An attempt to connect failed: forget it and try again later. The first
 * failure of a series is a warning; the rest, during an outage, are debug
 * lines, so an hour without a server does not flood the log. */
static void pg_connect_failed(pg_t *self, const char *why)
{
    char buf[256];
    const char *msg = pg_first_line(why, buf, sizeof buf);
    self->stats.connect_failures++;
    if (self->attempt == 0)
        log_warn("postgres connect failed", "pg=%s error=%s", self->name, msg);
    else
        log_debug("postgres connect failed", "pg=%s error=%s attempt=%u", self->name, msg,
                  self->attempt);
    pg_close_conn(self);
    self->state = PG_WAITING;
    pg_update_ready(self);
    pg_schedule_retry(self);
}

/* An open connection is gone (or we gave up on it). */
static void pg_connection_lost(pg_t *self, const char *why)
{
    char buf[256];
    const char *msg = pg_first_line(why, buf, sizeof buf);
    char error[300];
    snprintf(error, sizeof error, "connection lost: %s", msg);
    self->stats.disconnects++;
    log_warn("postgres connection lost", "pg=%s error=%s queued=%zu", self->name, msg,
             self->nqueued);
    pg_close_conn(self);
    self->state = PG_WAITING;
    self->stalled = false;
    self->attempt = 0;
    pg_schedule_retry(self);
    pg_update_ready(self);
    pg_fail_all(self, error);
}

/* ---- connecting ----------------------------------------------------------- */

static void pg_connected(pg_t *self)
{
    if (PQsetnonblocking(self->conn, 1) != 0) {
        pg_connect_failed(self, PQerrorMessage(self->conn));
        return;
    }
    if (pg_watch(self, PQsocket(self->conn), ZMQ_POLLIN) != 0) {
        pg_connect_failed(self, "cannot watch the connection's socket");
        return;
    }
    self->state = PG_OPEN;
    self->stalled = false;
    self->attempt = 0;
    self->nprepared = 0;
    self->last_activity = loop_now_ms();
    self->stats.connects++;
    log_info("postgres connected", "pg=%s server_version=%d backend_pid=%d", self->name,
             PQserverVersion(self->conn), PQbackendPID(self->conn));
    pg_update_ready(self);
}

/* One step of PQconnectPoll, when the socket is ready as it last asked (or
 * failed: libpq finds out itself). */
static void pg_connect_step(pg_t *self)
{
    PostgresPollingStatusType st = PQconnectPoll(self->conn);
    int fd = PQsocket(self->conn); /* may have changed: re-read every time */
    switch (st) {
    case PGRES_POLLING_READING:
        if (pg_watch(self, fd, ZMQ_POLLIN) != 0)
            pg_connect_failed(self, "cannot watch the connection's socket");
        break;
    case PGRES_POLLING_WRITING:
        if (pg_watch(self, fd, ZMQ_POLLOUT) != 0)
            pg_connect_failed(self, "cannot watch the connection's socket");
        break;
    case PGRES_POLLING_OK:
        pg_connected(self);
        break;
    default:
        pg_connect_failed(self, PQerrorMessage(self->conn));
        break;
    }
}

static void pg_start_connect(pg_t *self)
{
    self->state = PG_CONNECTING;
    self->connect_started = loop_now_ms();
    self->conn = PQconnectStart(self->conninfo);
    if (!self->conn) {
        pg_connect_failed(self, "out of memory");
        return;
    }
    if (PQstatus(self->conn) == CONNECTION_BAD) {
        pg_connect_failed(self, PQerrorMessage(self->conn));
        return;
    }
    PQsetNoticeProcessor(self->conn, pg_notice, self);
    /* As the libpq manual says: start as if PQconnectPoll had last
     * returned PGRES_POLLING_WRITING. */
    if (pg_watch(self, PQsocket(self->conn), ZMQ_POLLOUT) != 0)
        pg_connect_failed(self, "cannot watch the connection's socket");
}

/* ---- queries -------------------------------------------------------------- */

static void pg_flush(pg_t *self)
{
    int rc = PQflush(self->conn);
    short events = ZMQ_POLLIN;
    if (rc < 0) {
        pg_connection_lost(self, PQerrorMessage(self->conn));
        return;
    }
    self->flushing = rc == 1;
    /* More to send: wait for writability too (and keep reading, so the
     * server never blocks on a full socket towards us). */
    if (self->flushing)
        events |= ZMQ_POLLOUT;
    if (pg_watch(self, self->fd, events) != 0)
        pg_connection_lost(self, "cannot watch the connection's socket");
}

static bool pg_result_failed(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
}

/* The head query has its final result: hand it over and forget it. */
static bool pg_is_prepared(const pg_t *self, const char *stmt)
{
    for (size_t i = 0; i < self->nprepared; i++)
        if (strcmp(self->prepared[i], stmt) == 0)
            return true;
    return false;
}

static void pg_finish_head(pg_t *self)
{
    pg_query_t *head = self->head;
    if (head && head->preparing && self->result &&
        PQresultStatus(self->result) == PGRES_COMMAND_OK) {
        /* its PREPARE is done: the query itself goes next, still the head */
        head->preparing = false;
        if (self->nprepared < PG_PREPARED_MAX)
            self->prepared[self->nprepared++] = head->stmt;
        else
            head->stmt = NULL; /* no room to remember it: sent as text */
        PQclear(self->result);
        self->result = NULL;
        self->busy = false;
        return;
    }
    pg_query_t *q = pg_dequeue(self);
    PGresult *res = self->result;
    self->result = NULL;
    self->busy = false;
    self->last_activity = loop_now_ms();
    if (self->stalled) {
        self->stalled = false;
        pg_update_ready(self);
    }
    char buf[512];
    const char *error = NULL;
    if (!res)
        error = "no result";
    else if (pg_result_failed(res)) {
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        if (primary && *primary)
            error = pg_first_line(primary, buf, sizeof buf);
        else if (PQresultStatus(res) == PGRES_EMPTY_QUERY)
            error = "empty query";
        else
            error = pg_first_line(PQresultErrorMessage(res), buf, sizeof buf);
    }
    if (q && q->fn) {
        if (res && error)
            self->stats.query_errors++;
        else if (!res)
            self->stats.query_failures++;
        q->fn(self, res, error, q->arg);
    } else if (q && error) {
        log_warn("postgres probe failed", "pg=%s error=%s", self->name, error);
    }
    PQclear(res);
    pg_query_free(q);
}

/* Send the head of the queue if nothing is in flight. */
static void pg_send_next(pg_t *self)
{
    while (!self->busy && self->head && self->state == PG_OPEN && !self->destroy_pending) {
        if (PQstatus(self->conn) != CONNECTION_OK)
            return; /* the caller sees the loss and fails the queue */
        pg_query_t *q = self->head;
        int sent;
        if (q->stmt && !pg_is_prepared(self, q->stmt)) {
            q->preparing = true;
            sent = PQsendPrepare(self->conn, q->stmt, q->sql, q->nparams, NULL);
        } else if (q->stmt) {
            sent = PQsendQueryPrepared(self->conn, q->stmt, q->nparams,
                                       (const char *const *)q->params, NULL, NULL, 0);
        } else {
            sent = PQsendQueryParams(self->conn, q->sql, q->nparams, NULL,
                                     (const char *const *)q->params, NULL, NULL, 0);
        }
        if (sent) {
            self->busy = true;
            self->sent_at = loop_now_ms();
            if (q->fn)
                self->stats.queries++;
            else
                self->stats.probes++;
            pg_flush(self);
            return;
        }
        if (PQstatus(self->conn) != CONNECTION_OK) {
            pg_connection_lost(self, PQerrorMessage(self->conn));
            return;
        }
        /* Refused by libpq itself (too many parameters...): only this
         * query fails. */
        char buf[256];
        const char *error = pg_first_line(PQerrorMessage(self->conn), buf, sizeof buf);
        pg_dequeue(self);
        if (q->fn) {
            self->stats.query_failures++;
            q->fn(self, NULL, error, q->arg);
        }
        pg_query_free(q);
    }
}

/* Collect what has arrived. A query sent with PQsendQueryParams yields one
 * result then NULL; every result must be taken (PQgetResult until NULL) or
 * the connection wedges. */
static void pg_collect(pg_t *self)
{
    while (self->busy && self->state == PG_OPEN && !self->destroy_pending &&
           !PQisBusy(self->conn)) {
        PGresult *res = PQgetResult(self->conn);
        if (!res) {
            pg_finish_head(self);
            pg_send_next(self);
            continue;
        }
        self->last_activity = loop_now_ms();
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            /* COPY needs a dialogue this queue does not speak; dropping the
             * connection is the only way out of it that cannot wedge. */
            PQclear(res);
            pg_connection_lost(self, "COPY is not supported on a loop connection");
            return;
        }
        if (!self->result) {
            self->result = res;
        } else if (pg_result_failed(res) && !pg_result_failed(self->result)) {
            PQclear(self->result); /* keep the error, it says more */
            self->result = res;
        } else {
            PQclear(res);
        }
    }
}

/* ---- loop handlers -------------------------------------------------------- */

static void pg_enter(pg_t *self)
{
    self->depth++;
}

static void pg_leave(pg_t *self)
{
    if (--self->depth == 0 && self->destroy_pending)
        pg_really_destroy(self);
}

static int pg_on_fd(loop_t *loop, int fd, short revents, void *arg)
{
    pg_t *self = arg;
    pg_enter(self);
    if (self->state == PG_CONNECTING) {
        pg_connect_step(self);
    } else if (self->state == PG_OPEN) {
        bool alive = true;
        if (revents & ~ZMQ_POLLOUT)
            alive = PQconsumeInput(self->conn) == 1;
        if (alive && self->flushing)
            pg_flush(self);
        /* Even when the connection just died, libpq may hold the result
         * that explains why (a FATAL from pg_terminate_backend): deliver
         * it to the query it belongs to before failing the rest. */
        if (self->state == PG_OPEN)
            pg_collect(self);
        if (self->state == PG_OPEN && (!alive || PQstatus(self->conn) == CONNECTION_BAD))
            pg_connection_lost(self, PQerrorMessage(self->conn));
    } else {
        /* A descriptor we no longer own: stop watching it. */
        loop_remove_fd(loop, fd);
    }
    pg_leave(self);
    return 0;
}

static int pg_on_retry(loop_t *loop, int timer_id, void *arg)
{
    pg_t *self = arg;
    self->retry_timer = 0; /* one-shot: the id is spent */
    pg_enter(self);
    if (self->state == PG_WAITING)
        pg_start_connect(self);
    pg_leave(self);
    return 0;
}

static int pg_on_tick(loop_t *loop, int timer_id, void *arg)
{
    pg_t *self = arg;
    uint64_t now = loop_now_ms();
    pg_enter(self);
    switch (self->state) {
    case PG_WAITING:
        if (self->retry_timer == 0)
            pg_start_connect(self);
        break;
    case PG_CONNECTING:
        if (now - self->connect_started >= self->timing.connect_timeout_ms)
            pg_connect_failed(self, "timeout while connecting");
        break;
    case PG_OPEN:
        if (self->busy) {
            uint64_t waited = now - self->sent_at;
            if (waited >= self->timing.hang_ms) {
                char why[96];
                snprintf(why, sizeof why, "no answer for %llu ms", (unsigned long long)waited);
                pg_connection_lost(self, why);
            } else if (waited >= self->timing.stall_ms && !self->stalled) {
                self->stalled = true;
                pg_update_ready(self);
            }
        } else if (!self->head && now - self->last_activity >= self->timing.probe_interval_ms) {
            pg_query_t *probe = pg_query_make("SELECT 1", 0, NULL, NULL, NULL);
            if (probe) {
                pg_enqueue(self, probe);
                pg_send_next(self);
            }
        }
        break;
    case PG_CLOSED:
        break;
    }
    pg_leave(self);
    return 0;
}

/* ---- public API ----------------------------------------------------------- */

pg_t *pg_new(loop_t *loop, const char *conninfo, const char *name)
{
    if (!loop || !conninfo)
        return NULL;
    pg_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->fd = -1;
    self->timing = pg_default_timing;
    self->state = PG_WAITING;
    self->rng = (loop_now_ms() << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)self;
    if (!self->rng)
        self->rng = 0x9E3779B97F4A7C15ULL;
    self->conninfo = strdup(conninfo);
    self->name = strdup(name && *name ? name : "pg");
    if (!self->conninfo || !self->name)
        goto fail;
    self->tick_timer = loop_add_timer(loop, PG_TICK_MS, 0, pg_on_tick, self);
    if (self->tick_timer <= 0)
        goto fail;
    pg_start_connect(self);
    return self;
fail:
    if (self->tick_timer > 0)
        loop_cancel_timer(loop, self->tick_timer);
    free(self->conninfo);
    free(self->name);
    free(self);
    return NULL;
}

static void pg_really_destroy(pg_t *self)
{
    self->state = PG_CLOSED;
    self->ready = false;
    self->depth++; /* callbacks below may call pg_destroy: ignore them */
    if (self->tick_timer > 0)
        loop_cancel_timer(self->loop, self->tick_timer);
    if (self->retry_timer > 0)
        loop_cancel_timer(self->loop, self->retry_timer);
    self->tick_timer = self->retry_timer = 0;
    pg_close_conn(self);
    pg_fail_all(self, "connection closed");
    if (self->conninfo) {
        /* the conninfo may hold a password */
        explicit_bzero(self->conninfo, strlen(self->conninfo));
        free(self->conninfo);
    }
    free(self->name);
    free(self);
}

void pg_destroy(pg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pg_t *self = *self_p;
    *self_p = NULL;
    if (self->state == PG_CLOSED || self->destroy_pending)
        return;
    if (self->depth > 0) {
        self->destroy_pending = true;
        return;
    }
    pg_really_destroy(self);
}

bool pg_ready(pg_t *self)
{
    return self && self->ready && !self->destroy_pending;
}

int pg_query(pg_t *self, const char *sql, int nparams, const char *const *params, pg_result_fn *fn,
             void *arg)
{
    return pg_query_prepared(self, NULL, sql, nparams, params, fn, arg);
}

int pg_query_prepared(pg_t *self, const char *stmt, const char *sql, int nparams,
                      const char *const *params, pg_result_fn *fn, void *arg)
{
    if (!self || !sql || !fn || nparams < 0 || (nparams > 0 && !params))
        return -1;
    if (!pg_ready(self))
        return -1;
    pg_query_t *q = pg_query_make(sql, nparams, params, fn, arg);
    if (!q)
        return -1;
    q->stmt = stmt;
    pg_enqueue(self, q);
    pg_send_next(self);
    return 0;
}

size_t pg_queued(pg_t *self)
{
    size_t n = 0;
    if (!self)
        return 0;
    for (pg_query_t *q = self->head; q; q = q->next)
        n += q->fn != NULL;
    return n;
}

void pg_set_state_fn(pg_t *self, pg_state_fn *fn, void *arg)
{
    if (!self)
        return;
    self->state_fn = fn;
    self->state_arg = arg;
}

void pg_stats(pg_t *self, pg_stats_t *stats)
{
    if (!self || !stats)
        return;
    *stats = self->stats;
    stats->queued = (uint32_t)pg_queued(self);
    stats->ready = pg_ready(self);
}

const char *pg_name(pg_t *self)
{
    return self ? self->name : NULL;
}

void pg_set_timing(pg_t *self, const pg_timing_t *timing)
{
    if (!self || !timing)
        return;
    if (timing->connect_timeout_ms)
        self->timing.connect_timeout_ms = timing->connect_timeout_ms;
    if (timing->probe_interval_ms)
        self->timing.probe_interval_ms = timing->probe_interval_ms;
    if (timing->stall_ms)
        self->timing.stall_ms = timing->stall_ms;
    if (timing->hang_ms)
        self->timing.hang_ms = timing->hang_ms;
    if (timing->backoff_min_ms)
        self->timing.backoff_min_ms = timing->backoff_min_ms;
    if (timing->backoff_max_ms)
        self->timing.backoff_max_ms = timing->backoff_max_ms;
    if (self->timing.backoff_max_ms < self->timing.backoff_min_ms)
        self->timing.backoff_max_ms = self->timing.backoff_min_ms;
}

/* ---- blocking helpers ----------------------------------------------------- */

static char *pg_error_copy(const char *msg)
{
    char buf[512];
    return strdup(pg_first_line(msg, buf, sizeof buf));
}

PGconn *pg_connect_blocking(const char *conninfo, char **error)
{
    if (error)
        *error = NULL;
    if (!conninfo) {
        if (error)
            *error = strdup("no connection string");
        return NULL;
    }
    PGconn *conn = PQconnectdb(conninfo);
    if (!conn) {
        if (error)
            *error = strdup("out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        if (error)
            *error = pg_error_copy(PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

PGresult *pg_exec_blocking(PGconn *conn, const char *sql, int nparams, const char *const *params,
                           char **error)
{
    if (error)
        *error = NULL;
    if (!conn || !sql || nparams < 0 || (nparams > 0 && !params)) {
        if (error)
            *error = strdup("bad arguments");
        return NULL;
    }
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (res && !pg_result_failed(res))
        return res;
    if (error) {
        const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        *error = pg_error_copy(primary && *primary ? primary
                               : res               ? PQresultErrorMessage(res)
                                                   : PQerrorMessage(conn));
    }
    PQclear(res);
    return NULL;
}

int pg_exec_ok(PGconn *conn, const char *sql, int nparams, const char *const *params, char **error)
{
    PGresult *res = pg_exec_blocking(conn, sql, nparams, params, error);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* ---- a worker's transactions ------------------------------------------------ */

PGresult *pg_sql(PGconn *conn, const char *who, const char *sql, int n, const char *const *params,
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
    if (!state || (strncmp(state, "40", 2) != 0 && strncmp(state, "23", 2) != 0)) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: statement failed", who);
        log_error(msg, "sqlstate=%s error=\"%s\"", state ? state : "none", PQerrorMessage(conn));
    }
    PQclear(res);
    return NULL;
}

int pg_sql_begin(PGconn *conn, const char *who, const char *court)
{
    PGresult *res = pg_sql(conn, who, "BEGIN", 0, NULL, NULL);
    if (!res)
        return -1;
    PQclear(res);
    const char *p[1] = {court};
    res = pg_sql(conn, who, "SELECT set_config('liaison.court', $1, true)", 1, p, NULL);
    if (!res) {
        pg_sql_rollback(conn);
        return -1;
    }
    PQclear(res);
    return 0;
}

int pg_sql_commit(PGconn *conn, const char *who, char sqlstate[6])
{
    PGresult *res = pg_sql(conn, who, "COMMIT", 0, NULL, sqlstate);
    if (!res)
        return -1;
    /* COMMIT of a failed transaction answers ROLLBACK, not an error */
    int rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : -1;
    PQclear(res);
    return rc;
}

void pg_sql_rollback(PGconn *conn)
{
    if (PQtransactionStatus(conn) == PQTRANS_IDLE)
        return;
    PQclear(PQexec(conn, "ROLLBACK"));
}
