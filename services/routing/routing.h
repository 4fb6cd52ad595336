/* routing — each item's workflow after registration (Arts. 14–21).
 *
 * Threads (the design intake uses too, for the same reasons). The loop
 * thread (common/daemon.h) owns HTTP, the sequencer and the pull server of
 * the "routing" stream. Every request becomes a job run on one of a small
 * pool of worker threads, each with its own blocking connection: a command
 * is one transaction whose statements depend on each other (lock the item,
 * read its lifecycle, decide with domain/lifecycle.h, write the new state,
 * its history and its event), which on the loop's single connection would
 * hold every other request behind its round trips. The item row lock
 * (SELECT … FOR UPDATE) serialises the commands of one item and nothing
 * else, so N connections let N items move at once and Postgres groups
 * their commits.
 *
 * The loop and the workers share no mutable state: a job is handed over
 * whole through two queues (loop → workers under a mutex and a condition
 * variable; workers → loop under a mutex, with an eventfd that wakes the
 * loop; common/workpool.h). The request that waits for a job stays with
 * the loop (common/http_jobs.h).
 *
 * The consumer of intake's stream (bus_consumer.h) runs on its own thread
 * and connection: routing_project_apply projects items, tokens and the
 * directory inside the consumer's transaction, so a projection is applied
 * exactly once with the stream position.
 */
#ifndef LIAISON_ROUTING_ROUTING_H
#define LIAISON_ROUTING_ROUTING_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/auth.h"
#include "common/bus_consumer.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/loop.h"
#include "common/workpool.h"

#define ROUTING_STREAM   "routing"
#define ROUTING_PRODUCER "liaison-routing"
#define ROUTING_VERSION  "0.1.0"

/* A worker of the pool (common/workpool.h). */
typedef struct workpool_worker_t routing_worker_t;
typedef struct routing_job_t routing_job_t;

typedef void(routing_job_fn)(routing_worker_t *w, routing_job_t *job);

struct routing_job_t {
    workpool_job_t work; /* the pool's part, first */
    /* inputs: written by the loop before submit, read-only afterwards */
    routing_job_fn *run;
    char *court;    /* {court}, or NULL */
    char *id;       /* {id} or {queue}, or NULL */
    char *action;   /* {action}, or NULL */
    char *idem_key; /* Idempotency-Key, or NULL */
    char *body;     /* the body (NUL-terminated), or NULL */
    size_t body_len;
    json_t *query; /* query arguments of interest */
    char *token;   /* the bearer token, or NULL; wiped and freed with the job */
    bool bad_auth_header;

    /* outputs: written by the worker */
    unsigned status;
    json_t *answer; /* the body (a problem when status >= 400) */
    bool replayed;  /* Idempotent-Replayed */
    bool published; /* events were committed: notify the sequencer */
};

void routing_job_free(routing_job_t **job_p);
void routing_job_answer(routing_job_t *job, unsigned status, json_t *body);
/* A problem answer (RFC 9457 members added when it is sent). field may be NULL. */
void routing_job_problem(routing_job_t *job, unsigned status, const char *code, const char *field,
                         const char *detail_en, const char *detail_zh);
void routing_job_problemf(routing_job_t *job, unsigned status, const char *code, const char *field,
                          const char *detail_zh, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- the pool ---------------------------------------------------------------- */

/* The pool of routing's jobs; done gets each finished job (a routing_job_t)
 * on the loop thread. NULL on failure (logged). */
workpool_t *routing_pool_new(loop_t *loop, const char *conninfo, size_t workers, size_t queue_max,
                             liaison_clock_t *clock, workpool_done_fn *done, void *arg);

PGconn *routing_worker_conn(routing_worker_t *w);
liaison_clock_t *routing_worker_clock(routing_worker_t *w);

/* ---- SQL helpers ------------------------------------------------------------------ */

/* One statement; NULL on error with the SQLSTATE in sqlstate[6] (may be NULL). */
PGresult *routing_sql(PGconn *conn, const char *sql, int n, const char *const *params,
                      char sqlstate[6]);
/* BEGIN and bind the transaction to a court for row-level security ("*": all). */
int routing_sql_begin(PGconn *conn, const char *court);
int routing_sql_commit(PGconn *conn, char sqlstate[6]);
void routing_sql_rollback(PGconn *conn);
void routing_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- shared by the jobs ------------------------------------------------------------ */

/* The job's token, and whether it may act on the job's court at all: false
 * with the 401/403 problem set on the job. */
bool routing_authenticate(routing_job_t *job, PGconn *conn, auth_token_t *tok);
/* The item's workflow as the API shows it (state, plan, deputies, replies,
 * allowed actions), inside the caller's transaction. NULL when the item is
 * not visible or the database failed. now_us: the daemon's clock. */
json_t *routing_item_view(PGconn *conn, const char *item_id, int64_t now_us);

/* ---- jobs ------------------------------------------------------------------------- */

/* POST /v1/courts/{court}/items/{id}/{action} */
void routing_item_command(routing_worker_t *w, routing_job_t *job);
/* GET /v1/courts/{court}/items/{id} */
void routing_item_get(routing_worker_t *w, routing_job_t *job);
/* GET /v1/courts/{court}/items */
void routing_item_list(routing_worker_t *w, routing_job_t *job);
/* GET /v1/courts/{court}/items/{id}/history */
void routing_item_history(routing_worker_t *w, routing_job_t *job);
/* GET /v1/courts/{court}/items/{id}/suggestions */
void routing_item_suggestions(routing_worker_t *w, routing_job_t *job);
/* GET /v1/courts/{court}/queues and /v1/courts/{court}/queues/{queue} */
void routing_queue_summary(routing_worker_t *w, routing_job_t *job);
void routing_queue_list(routing_worker_t *w, routing_job_t *job);
/* GET and PUT /v1/courts/{court}/rules */
void routing_rules_get(routing_worker_t *w, routing_job_t *job);
void routing_rules_put(routing_worker_t *w, routing_job_t *job);

/* ---- the projection of intake's stream --------------------------------------------- */

bus_apply_t routing_project_apply(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                  size_t reason_size, void *arg);

#endif
