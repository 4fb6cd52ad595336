/* intake — the directory and the registrations of items (Art. 13).
 *
 * Threads. The loop thread (daemon.h) owns HTTP, the bus sequencer and the
 * pull server. Every request that needs the database becomes a job, run on
 * one of a small pool of worker threads, each with its own blocking
 * connection (pg_connect_blocking). Why threads and not the loop's own
 * non-blocking connection: a registration is a transaction whose later
 * statements depend on earlier results (the serial taken from the counter
 * row goes into the number, the number into the event), so on the loop it
 * would hold the one connection for several round trips while every other
 * request queues behind it. A pool of N connections runs the directory's
 * and the readers' jobs side by side with straight-line code, while the
 * registrations go in groups: the pool hands all those waiting to one
 * worker, which registers them in one transaction and one WAL flush (group
 * commit, see intake_item.c), since the counter row of a court would
 * otherwise let only one registration of the court commit per flush.
 *
 * The loop and the workers share no mutable state: a job is handed over
 * whole (the loop fills its inputs and never touches them again; the worker
 * fills its outputs and hands it back) through the two queues of the pool
 * (common/workpool.h); the request that waits for a job stays with the
 * loop (common/http_jobs.h). Each worker keeps its own small caches (tokens, courts): nothing
 * to lock, at the price of each worker looking a token up once.
 */
#ifndef LIAISON_INTAKE_INTAKE_H
#define LIAISON_INTAKE_INTAKE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/loop.h"
#include "common/workpool.h"

#define INTAKE_STREAM   "intake"
#define INTAKE_PRODUCER "liaison-intake"
#define INTAKE_VERSION  "0.1.0"

/* ---- who is asking -------------------------------------------------------- */

/* A token's holder. Roles, token hashes and the bearer header are the
 * shared ones of common/auth.h (auth_role_*, auth_hash, auth_bearer);
 * intake keeps its own table of tokens (api_token), being their issuer. */
typedef struct {
    auth_role_t role;
    char court[64];      /* "" for an operator */
    char department[64]; /* department tokens only */
    char token_hash[65]; /* hex SHA-256, never the token */
} intake_principal_t;

/* What a principal may do on a court. */
typedef enum {
    INTAKE_ACCESS_READ,      /* items and directory of the court */
    INTAKE_ACCESS_REGISTER,  /* register items */
    INTAKE_ACCESS_DIRECTORY, /* change the court's directory */
    INTAKE_ACCESS_ADMIN,     /* courts and tokens: operators only */
} intake_access_t;

/* ---- jobs ----------------------------------------------------------------- */

/* A worker of the pool (common/workpool.h), with intake's caches. */
typedef struct workpool_worker_t intake_worker_t;
typedef struct intake_job_t intake_job_t;
typedef struct intake_t intake_t;

typedef void(intake_job_fn)(intake_worker_t *w, intake_job_t *job);

/* The most registrations in one transaction. */
#define INTAKE_BATCH_MAX 256
/* work.batch of a registration: it runs in a batch with the other queued
 * registrations (intake_item_register_batch; intake_pool.c). */
#define INTAKE_BATCH_REGISTER 1

struct intake_job_t {
    workpool_job_t work; /* the pool's part, first; work.batch set before submit */
    /* inputs: written by the loop before submit, read-only afterwards */
    intake_job_fn *run;
    char *court;        /* {court} of the path, or NULL */
    char *id;           /* {id} / {kind} / {deputy} of the path, or NULL */
    char *idem_key;     /* Idempotency-Key, or NULL */
    char *content_type; /* Content-Type, or NULL */
    char *body;         /* copy of the body (NUL-terminated), or NULL */
    size_t body_len;
    json_t *query;        /* query arguments of interest, an object */
    char token_hash[65];  /* "" when no bearer token was sent */
    bool bad_auth_header; /* Authorization present but not "Bearer x" */

    /* outputs: written by the worker */
    unsigned status;
    json_t *answer; /* the body (a problem when status >= 400) */
    char *location; /* Location header, or NULL */
    bool replayed;  /* Idempotent-Replayed */
    bool published; /* events were committed: notify the sequencer */
};

/* The worker side of a job. */
PGconn *intake_worker_conn(intake_worker_t *w);
liaison_clock_t *intake_worker_clock(intake_worker_t *w);
/* Authenticate the job's token (the worker's cache, else the database).
 * false with the 401 problem set on the job. */
bool intake_worker_auth(intake_worker_t *w, intake_job_t *job, intake_principal_t *out);
/* May `p` do `access` on `court` (NULL: no court)? false with the 403 set. */
bool intake_authorize(intake_job_t *job, const intake_principal_t *p, const char *court,
                      intake_access_t access);
/* The court's zone and template (the worker's cache, else the database).
 * -1 when the court does not exist (or is inactive). fresh forces a read. */
int intake_worker_court(intake_worker_t *w, const char *court, bool fresh, char *zone,
                        size_t zone_size, char *tmpl, size_t tmpl_size);
/* Forget cached tokens, courts and deputies (a new connection). */
void intake_worker_forget(intake_worker_t *w);
/* The directory or a token changed (committed): every worker forgets what
 * it cached before its next job, so the change holds for the very next
 * request whichever worker takes it. */
void intake_worker_changed(intake_worker_t *w);

/* A deputy of the court's roster, named by code or id, as item_claim()
 * snapshots it (a JSON object), for registrations numbered ahead of their
 * transaction (intake_item.c). The worker's cache, else the database. 0,
 * -1 not on the roster (or too long to cache), -2 database unavailable. */
#define INTAKE_SNAPSHOT_MAX 768
int intake_worker_deputy(intake_worker_t *w, const char *court, const char *given, char *snapshot,
                         size_t size);
/* The counter of a court and year as this daemon's batches will leave it,
 * shared by the workers: take `count` serials after *expected, the value the
 * counter must hold when the batch takes them. false when not known. */
bool intake_worker_serial_take(intake_worker_t *w, const char *court, int year, long long count,
                               long long *expected);
/* Set it after a two-step commit; last < 0 forgets it (after a failure). */
void intake_worker_serial_set(intake_worker_t *w, const char *court, int year, long long last);

/* Set a problem answer. field may be NULL. */
void intake_job_problem(intake_job_t *job, unsigned status, const char *code, const char *field,
                        const char *detail_en, const char *detail_zh);
/* Same, with a formatted English detail. */
void intake_job_problemf(intake_job_t *job, unsigned status, const char *code, const char *field,
                         const char *detail_zh, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void intake_job_answer(intake_job_t *job, unsigned status, json_t *body);
void intake_job_free(intake_job_t **job_p);

/* ---- the pool --------------------------------------------------------------- */

typedef struct intake_pool_t intake_pool_t;
/* Called on the loop thread with each finished job (the callee owns it). */
typedef void(intake_done_fn)(intake_job_t *job, void *arg);

/* gather_us: how long a batch may wait for more registrations under load
 * ([intake] batch_gather; workpool_ops_t.gather_us). cache_ttl_us: how long
 * a worker trusts what it read of a token, a court or a deputy ([intake]
 * cache_ttl; 0 = it reads them for every request). */
intake_pool_t *intake_pool_new(loop_t *loop, const char *conninfo, size_t workers, size_t queue_max,
                               unsigned gather_us, int64_t cache_ttl_us, liaison_clock_t *clock,
                               intake_done_fn *done, void *arg);
/* Stops the workers after their current job; unfinished jobs are freed
 * (their requests are answered by the HTTP server's shutdown). */
void intake_pool_destroy(intake_pool_t **self_p);
/* The pool itself: submit jobs, count them and the connected workers. */
workpool_t *intake_pool_work(intake_pool_t *self);
/* A job run once by the first worker that connects (the bootstrap token). */
void intake_pool_set_startup(intake_pool_t *self, intake_job_fn *fn, void *arg);
void *intake_worker_startup_arg(intake_worker_t *w);

/* ---- SQL helpers for workers ------------------------------------------------ */

/* Run one statement; NULL on error, with the SQLSTATE in sqlstate[6] and the
 * message logged. */
PGresult *intake_sql(PGconn *conn, const char *sql, int n, const char *const *params,
                     char sqlstate[6]);
/* BEGIN + set_config('liaison.court', court, true). court "*" = all. */
int intake_sql_begin(PGconn *conn, const char *court);
int intake_sql_commit(PGconn *conn, char sqlstate[6]);
void intake_sql_rollback(PGconn *conn);
/* One statement of a pipeline. */
typedef struct {
    const char *sql;
    int n;
    const char *const *params;
} intake_stmt_t;
/* Send n statements at once and read their results (libpq pipeline mode):
 * one round trip for all. res[i] is the result of statement i (the
 * caller's to PQclear), NULL when it failed or was skipped after a failure
 * (the server skips the rest of a pipeline after an error). 0 when every
 * statement succeeded; -1 otherwise, with the first failure's SQLSTATE.
 * Results are small here (a few rows), so the blocking connection cannot
 * wedge with both sides sending. */
int intake_sql_pipeline(PGconn *conn, size_t n, const intake_stmt_t *stmts, PGresult **res,
                        char sqlstate[6]);
/* Hex SHA-256 of data into out[65] (a request's body; tokens: auth_hash). */
void intake_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- the handlers (jobs) ---------------------------------------------------- */

void intake_item_register(intake_worker_t *w, intake_job_t *job);
void intake_item_register_batch(intake_worker_t *w, intake_job_t **jobs, size_t n);
void intake_item_get(intake_worker_t *w, intake_job_t *job);
void intake_item_list(intake_worker_t *w, intake_job_t *job);

void intake_court_put(intake_worker_t *w, intake_job_t *job);
void intake_court_get(intake_worker_t *w, intake_job_t *job);
void intake_court_list(intake_worker_t *w, intake_job_t *job);
void intake_directory_import(intake_worker_t *w, intake_job_t *job);
void intake_directory_list(intake_worker_t *w, intake_job_t *job);
void intake_deputy_end_term(intake_worker_t *w, intake_job_t *job);
void intake_token_create(intake_worker_t *w, intake_job_t *job);
void intake_token_revoke(intake_worker_t *w, intake_job_t *job);
/* Startup: ensure the bootstrap operator token (arg: the hex hash). */
void intake_token_bootstrap(intake_worker_t *w, intake_job_t *job);

/* Parse an RFC 3339 instant with an explicit offset
 * ("2026-03-02T09:30:00+08:00", "…Z", optional fraction) into µs since the
 * epoch. -1 when malformed. */
int intake_parse_instant(const char *text, int64_t *us);
/* Format µs since the epoch as RFC 3339 at the given UTC offset. */
void intake_format_instant(int64_t us, int32_t offset_s, char *buf, size_t size);

/* Bus publishing of one packed payload inside the worker's open
 * transaction. -1 on failure (logged). */
int intake_publish(PGconn *conn, const char *type, const char *court, const char *item_id,
                   const char *correlation, const void *payload, size_t len);

/* JSON body helpers */
bool intake_content_type_is(const char *content_type, const char *want);

#endif
