/* workpool — a few worker threads, each with its own blocking PostgreSQL
 * connection, that run jobs for the loop thread.
 *
 * Why threads: a daemon's transaction whose later statements depend on
 * earlier results (lock a row, read it, decide, write) would hold the
 * loop's one non-blocking connection for several round trips while every
 * other request queued behind it. N workers run N such transactions side
 * by side with straight-line code (intake.h, routing.h).
 *
 * The loop and the workers share no mutable state: a job is handed over
 * whole through two queues — `todo` (loop → workers, a mutex and a
 * condition variable) and `done` (workers → loop, a mutex and an eventfd
 * the loop watches). The loop fills a job's inputs and never touches them
 * again; a worker fills its outputs and hands it back; ops.done then gets
 * it on the loop thread.
 *
 * A job is the daemon's own struct whose FIRST member is a workpool_job_t:
 * the pool links jobs through it and reads nothing else, and the daemon's
 * ops convert back with a cast (a pointer to a struct and to its first
 * member are interchangeable).
 *
 * Batches. A job whose `batch` is not 0 is not taken alone: the worker that
 * takes it takes every queued job of the same `batch` with it (up to
 * ops.batch_max) and runs them with ops.run_batch (group commit, see
 * intake_item.c). At most ops.batches_max batches run at a time: while one
 * commits, the next jobs gather in the queue and become the next batch, so
 * the batch grows with the load. Jobs ops.apart() keeps apart never share a
 * batch. Other jobs are taken by the other workers meanwhile.
 *
 * A worker that cannot connect tries again with exponential back-off and
 * jitter (common/backoff.h), at once when a job waits; a job taken while
 * there is no connection is answered by ops.unavailable (503).
 */
#ifndef LIAISON_COMMON_WORKPOOL_H
#define LIAISON_COMMON_WORKPOOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/clock.h"
#include "common/loop.h"
#include "common/metrics.h"

typedef struct workpool_t workpool_t;
typedef struct workpool_worker_t workpool_worker_t;
typedef struct workpool_job_t workpool_job_t;

/* The pool's part of a job: the first member of the daemon's job struct. */
struct workpool_job_t {
    /* 0: the job runs alone (ops.run); otherwise it may run together with
     * the other queued jobs of the same value (ops.run_batch). Set before
     * submitting. */
    int batch;
    workpool_job_t *next; /* the pool's own */
};

/* Loop thread: a job is back; the callee owns it. */
typedef void(workpool_done_fn)(workpool_job_t *job, void *arg);

typedef struct {
    /* The daemon's name, at the head of the pool's log lines ("intake"). */
    const char *name;
    /* Bytes of each worker's own state (workpool_worker_state), zeroed at
     * start; 0 for none. */
    size_t worker_size;
    /* The most jobs in one batch, and batches running at once. */
    size_t batch_max;
    unsigned batches_max;
    /* Group commit's gathering, in µs (0: none). Under load the jobs a batch
     * answered come back while the next batch runs, and that one holds only
     * those that waited meanwhile: with a few clients the batches settle at
     * half their number each. So when a batch is next and the last one
     * ended less than gather_load_us ago, the worker waits up to gather_us
     * for those jobs (until as many are queued as the last batch answered
     * plus those that were waiting when it ended). A job that comes alone
     * never waits. */
    unsigned gather_us;
    unsigned gather_load_us;

    /* Worker thread: run one job (required), or n jobs of one batch. */
    void (*run)(workpool_worker_t *w, workpool_job_t *job);
    void (*run_batch)(workpool_worker_t *w, workpool_job_t **jobs, size_t n);
    /* Must a and b (both with the same batch) go in different batches?
     * Called under the pool's lock: read only what was set before submit.
     * NULL: never. */
    bool (*apart)(const workpool_job_t *a, const workpool_job_t *b);
    /* Worker thread: answer a job no connection could be opened for (503). */
    void (*unavailable)(workpool_job_t *job);
    /* Worker thread, after each new connection: forget what the worker's
     * state cached of the database. NULL: nothing. */
    void (*connected)(workpool_worker_t *w);
    workpool_done_fn *done;
    /* Free a job the pool still holds when it is destroyed (required). */
    void (*free)(workpool_job_t *job);
} workpool_ops_t;

/* Export the pool's queue to the daemon's metrics, as series of
 * pool="<ops.name>":
 *   liaison_workpool_queued              jobs waiting for a worker
 *   liaison_workpool_in_flight           jobs submitted and not yet back
 *   liaison_workpool_refused_total       jobs refused, the queue being full
 *   liaison_workpool_batch_size          jobs per batch (group commit)
 *   liaison_workpool_batch_seconds       a batch's run, from start to answers
 * Loop thread, once, before jobs are submitted. 0, or -1 when the families
 * cannot be registered. */
int workpool_set_metrics(workpool_t *self, metrics_t *metrics);

/* A job run once by the first worker that connects (intake's bootstrap
 * token): 0 when done, -1 to let the next connection try again. */
typedef int(workpool_startup_fn)(workpool_worker_t *w, void *arg);

/* Starts `workers` threads that connect with `conninfo`. ops is copied;
 * arg goes to ops.done and is the workers' workpool_worker_arg. At most
 * queue_max jobs wait. NULL on failure (logged). */
workpool_t *workpool_new(loop_t *loop, const workpool_ops_t *ops, void *arg, const char *conninfo,
                         size_t workers, size_t queue_max, liaison_clock_t *clock);
/* Stops the workers after their current job; jobs not handed back yet are
 * freed with ops.free (their requests are the caller's to answer). */
void workpool_destroy(workpool_t **self_p);
/* Set before the workers connect, or it may run late (not at all when
 * every worker is already connected). */
void workpool_set_startup(workpool_t *self, workpool_startup_fn *fn, void *arg);
/* Loop thread. 0, or -1 when the queue is full (the job stays the
 * caller's: answer 503). */
int workpool_submit(workpool_t *self, workpool_job_t *job);
/* Free a job with ops.free (one the pool refused). */
void workpool_free_job(workpool_t *self, workpool_job_t *job);
/* Jobs submitted and not yet handed back (loop thread). */
size_t workpool_in_flight(workpool_t *self);
/* Workers whose connection is open. */
size_t workpool_connected(workpool_t *self);

/* ---- the worker side ----------------------------------------------------------- */

/* The worker's connection: open while a job runs. */
PGconn *workpool_worker_conn(workpool_worker_t *w);
liaison_clock_t *workpool_worker_clock(workpool_worker_t *w);
/* The arg given to workpool_new. */
void *workpool_worker_arg(workpool_worker_t *w);
/* The worker's own state, ops.worker_size bytes (NULL when 0). */
void *workpool_worker_state(workpool_worker_t *w);

#endif
