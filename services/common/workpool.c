/* workpool — see workpool.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/workpool.h"

/* Back-off between connection attempts of a worker. */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
/* How often an idle worker without a connection tries again. */
#define IDLE_RETRY_NS (200 * 1000000L)

struct workpool_worker_t {
    workpool_t *pool;
    pthread_t thread;
    PGconn *conn;
    void *state;
    int64_t next_connect_ms;
    unsigned attempt; /* failed connection attempts in a row */
    uint64_t rng;     /* jitter of the back-off */
    bool started;
    bool startup_tried; /* the startup job, once per connection */
};

struct workpool_t {
    loop_t *loop;
    workpool_ops_t ops;
    void *arg;
    char *conninfo;
    liaison_clock_t *clock;
    int efd;
    size_t n_workers;
    workpool_worker_t *workers;
    size_t queue_max;

    pthread_mutex_t todo_mx;
    pthread_cond_t todo_cv;   /* a job a worker may take now */
    pthread_cond_t gather_cv; /* enough jobs for the gathering worker (s_gather) */
    bool gathering;
    size_t gather_want; /* queued jobs that end the gathering */
    workpool_job_t *todo_head, *todo_tail;
    size_t todo_len;
    bool stopping;
    unsigned batching;         /* batches running */
    int64_t last_batch_end_us; /* when the last batch ended (s_gather) */
    size_t last_batch_size;
    size_t last_batch_queued; /* jobs waiting when it ended */
    workpool_startup_fn *startup_fn;
    void *startup_arg;
    bool startup_claimed; /* under todo_mx */
    unsigned connected;   /* under todo_mx */

    pthread_mutex_t done_mx;
    workpool_job_t *done_head, *done_tail;

    size_t in_flight; /* loop thread only */

    /* workpool_set_metrics; NULL until then (updates of NULL do nothing) */
    metrics_t *metrics;
    metrics_series_t *m_queued, *m_in_flight, *m_refused, *m_batch_size, *m_batch_seconds;
};

/* ---- worker side --------------------------------------------------------------- */

PGconn *workpool_worker_conn(workpool_worker_t *w)
{
    return w->conn;
}

liaison_clock_t *workpool_worker_clock(workpool_worker_t *w)
{
    return w->pool->clock;
}

void *workpool_worker_arg(workpool_worker_t *w)
{
    return w->pool->arg;
}

void *workpool_worker_state(workpool_worker_t *w)
{
    return w->state;
}

/* Run the startup job if no one has (or the last try failed). Once per
 * connection: a failure is tried again by the next one. */
static void s_worker_startup(workpool_worker_t *w)
{
    workpool_t *pool = w->pool;
    pthread_mutex_lock(&pool->todo_mx);
    bool startup = false;
    if (pool->startup_fn) {
        w->startup_tried = true;
        startup = !pool->startup_claimed;
        pool->startup_claimed = true;
    }
    pthread_mutex_unlock(&pool->todo_mx);
    if (startup && pool->startup_fn(w, pool->startup_arg) != 0) {
        /* let another connection try again later */
        pthread_mutex_lock(&pool->todo_mx);
        pool->startup_claimed = false;
        pthread_mutex_unlock(&pool->todo_mx);
    }
}

static bool s_worker_connect(workpool_worker_t *w)
{
    workpool_t *pool = w->pool;
    if (w->conn && PQstatus(w->conn) == CONNECTION_OK)
        return true;
    if (w->conn) {
        PQfinish(w->conn);
        w->conn = NULL;
        pthread_mutex_lock(&pool->todo_mx);
        pool->connected--;
        pthread_mutex_unlock(&pool->todo_mx);
    }
    int64_t now_ms = clock_mono_us() / 1000;
    if (now_ms < w->next_connect_ms)
        return false;
    char *error = NULL;
    w->conn = pg_connect_blocking(pool->conninfo, &error);
    if (!w->conn) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: worker cannot connect", pool->ops.name);
        log_warn(msg, "error=\"%s\"", error ? error : "?");
        free(error);
        w->next_connect_ms =
            now_ms + backoff_delay_ms(RECONNECT_MIN_MS, RECONNECT_MAX_MS, w->attempt, &w->rng);
        if (w->attempt < 32)
            w->attempt++;
        return false;
    }
    w->attempt = 0;
    w->startup_tried = false;
    if (pool->ops.connected)
        pool->ops.connected(w);
    pthread_mutex_lock(&pool->todo_mx);
    pool->connected++;
    pthread_mutex_unlock(&pool->todo_mx);
    s_worker_startup(w);
    return true;
}

/* Hand jobs back to the loop: one lock and one wake-up for the lot. */
static void s_worker_finish(workpool_t *pool, workpool_job_t **jobs, size_t n)
{
    pthread_mutex_lock(&pool->done_mx);
    for (size_t i = 0; i < n; i++) {
        jobs[i]->next = NULL;
        if (pool->done_tail)
            pool->done_tail->next = jobs[i];
        else
            pool->done_head = jobs[i];
        pool->done_tail = jobs[i];
    }
    pthread_mutex_unlock(&pool->done_mx);
    uint64_t one = 1;
    ssize_t wrote = write(pool->efd, &one, sizeof one);
    (void)wrote; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

/* May a worker take a job now? Under todo_mx. */
static bool s_can_take(workpool_t *pool)
{
    for (workpool_job_t *j = pool->todo_head; j; j = j->next)
        if (!j->batch || pool->batching < pool->ops.batches_max)
            return true;
    return false;
}

/* Is the startup job waiting for a connected worker? Under todo_mx. */
static bool s_startup_waits(workpool_t *pool, workpool_worker_t *w)
{
    return w->conn && !w->startup_tried && pool->startup_fn && !pool->startup_claimed;
}

static void s_unlink(workpool_t *pool, workpool_job_t *prev, workpool_job_t *job)
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

/* Take the first job a worker may take; with a batch, every queued job of
 * the same batch too (up to max), but never two ops.apart() keeps apart,
 * and only while fewer than batches_max batches run. Under todo_mx, with
 * s_can_take() true. Returns how many jobs are in out. */
static size_t s_take(workpool_t *pool, workpool_job_t **out, size_t max)
{
    workpool_job_t *prev = NULL, *job = pool->todo_head;
    while (job->batch && pool->batching >= pool->ops.batches_max) {
        prev = job;
        job = job->next;
    }
    s_unlink(pool, prev, job);
    out[0] = job;
    if (!job->batch)
        return 1;
    pool->batching++;
    size_t n = 1;
    for (workpool_job_t *p = prev, *j = p ? p->next : pool->todo_head; j && n < max;) {
        bool take = j->batch == job->batch;
        for (size_t i = 0; take && pool->ops.apart && i < n; i++)
            take = !pool->ops.apart(out[i], j);
        if (!take) {
            p = j;
            j = j->next;
            continue;
        }
        workpool_job_t *next = j->next;
        s_unlink(pool, p, j);
        out[n++] = j;
        j = next;
    }
    return n;
}

/* ops.gather_us: wait a moment for the jobs about to come back before a
 * batch is taken. Under todo_mx, with s_can_take() true; the batch counts
 * as running meanwhile, so no other worker starts it. */
static void s_gather(workpool_t *pool)
{
    if (!pool->ops.gather_us || !pool->todo_head || !pool->todo_head->batch ||
        pool->batching >= pool->ops.batches_max || pool->last_batch_size < 2 ||
        clock_mono_us() - pool->last_batch_end_us > (int64_t)pool->ops.gather_load_us)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)pool->ops.gather_us * 1000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    size_t max = pool->ops.batch_max ? pool->ops.batch_max : 1;
    /* every job that was waiting when the last batch ended, and every one
     * it answered (their clients are about to send the next) */
    size_t back = pool->last_batch_size + pool->last_batch_queued;
    size_t want = back < max ? back : max;
    pool->batching++;
    pool->gathering = true;
    pool->gather_want = want;
    while (!pool->stopping && pool->todo_len < want &&
           pthread_cond_timedwait(&pool->gather_cv, &pool->todo_mx, &until) == 0)
        ;
    pool->gathering = false;
    pool->batching--;
}

static void s_wait_for_retry(workpool_t *pool)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += IDLE_RETRY_NS;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&pool->todo_cv, &pool->todo_mx, &ts);
}

static void s_worker_run(workpool_worker_t *w, workpool_job_t **jobs, size_t n)
{
    workpool_t *pool = w->pool;
    w->next_connect_ms = 0; /* a request is waiting: try now */
    if (!s_worker_connect(w)) {
        for (size_t i = 0; i < n; i++)
            pool->ops.unavailable(jobs[i]);
        return;
    }
    if (jobs[0]->batch)
        pool->ops.run_batch(w, jobs, n);
    else
        pool->ops.run(w, jobs[0]);
    /* A broken connection was answered 503 by the job; the next job
     * reconnects (and ops.connected forgets the worker's caches). */
    if (PQstatus(w->conn) == CONNECTION_OK && PQtransactionStatus(w->conn) != PQTRANS_IDLE) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: a job left a transaction open", pool->ops.name);
        log_error(msg, NULL);
        PQclear(PQexec(w->conn, "ROLLBACK"));
    }
}

static void *s_worker_main(void *arg)
{
    workpool_worker_t *w = arg;
    workpool_t *pool = w->pool;
    size_t max = pool->ops.batch_max ? pool->ops.batch_max : 1;
    workpool_job_t **jobs = calloc(max, sizeof *jobs);
    if (!jobs) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: a worker is out of memory", pool->ops.name);
        log_error(msg, NULL);
        return NULL;
    }
    s_worker_connect(w);
    for (;;) {
        pthread_mutex_lock(&pool->todo_mx);
        while (!pool->stopping && !s_can_take(pool) && !s_startup_waits(pool, w)) {
            if (!w->conn) {
                /* keep trying to connect while idle, a little at a time */
                s_wait_for_retry(pool);
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
        if (!s_can_take(pool)) {
            /* connected, and the startup job was set after we connected */
            pthread_mutex_unlock(&pool->todo_mx);
            s_worker_startup(w);
            continue;
        }
        s_gather(pool);
        if (pool->stopping || !s_can_take(pool)) {
            pthread_mutex_unlock(&pool->todo_mx);
            continue;
        }
        size_t n = s_take(pool, jobs, max);
        pthread_mutex_unlock(&pool->todo_mx);

        int64_t started_us = clock_mono_us();
        s_worker_run(w, jobs, n);
        if (jobs[0]->batch) {
            int64_t ended_us = clock_mono_us();
            metrics_observe(pool->m_batch_size, (double)n);
            metrics_observe(pool->m_batch_seconds, (double)(ended_us - started_us) / 1e6);
            pthread_mutex_lock(&pool->todo_mx);
            pool->batching--;
            pool->last_batch_end_us = ended_us;
            pool->last_batch_size = n;
            pool->last_batch_queued = pool->todo_len;
            /* What gathered meanwhile is the next batch. Nobody is woken
             * for it: this worker takes it as soon as it has handed these
             * back, and a job that comes in between wakes one (submit). */
            pthread_mutex_unlock(&pool->todo_mx);
        }
        s_worker_finish(pool, jobs, n);
    }
    free(jobs);
    if (w->conn)
        PQfinish(w->conn);
    w->conn = NULL;
    return NULL;
}

/* ---- loop side ----------------------------------------------------------------- */

static void s_collect(metrics_t *metrics, void *arg);

static int s_on_done(loop_t *loop, int fd, short revents, void *arg)
{
    workpool_t *self = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: eventfd read failed", self->ops.name);
        log_warn(msg, "error=\"%s\"", strerror(errno));
    }
    pthread_mutex_lock(&self->done_mx);
    workpool_job_t *list = self->done_head;
    self->done_head = self->done_tail = NULL;
    pthread_mutex_unlock(&self->done_mx);
    while (list) {
        workpool_job_t *job = list;
        list = job->next;
        job->next = NULL;
        self->in_flight--;
        self->ops.done(job, self->arg);
    }
    return 0;
}

workpool_t *workpool_new(loop_t *loop, const workpool_ops_t *ops, void *arg, const char *conninfo,
                         size_t workers, size_t queue_max, liaison_clock_t *clock)
{
    workpool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->ops = *ops;
    if (!self->ops.name)
        self->ops.name = "workpool";
    self->arg = arg;
    self->conninfo = strdup(conninfo);
    self->clock = clock;
    self->queue_max = queue_max;
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->workers = calloc(workers, sizeof *self->workers);
    pthread_mutex_init(&self->todo_mx, NULL);
    pthread_cond_init(&self->todo_cv, NULL);
    pthread_cond_init(&self->gather_cv, NULL);
    pthread_mutex_init(&self->done_mx, NULL);
    if (!self->conninfo || self->efd < 0 || !self->workers ||
        loop_add_fd(loop, self->efd, ZMQ_POLLIN, s_on_done, self) != 0) {
        workpool_destroy(&self);
        return NULL;
    }
    self->n_workers = workers;
    uint64_t seed = (uint64_t)clock_mono_us() ^ ((uint64_t)getpid() << 32);
    for (size_t i = 0; i < workers; i++) {
        workpool_worker_t *w = &self->workers[i];
        w->pool = self;
        w->rng = (seed ^ (uint64_t)(uintptr_t)w) | 1;
        if (ops->worker_size && !(w->state = calloc(1, ops->worker_size))) {
            workpool_destroy(&self);
            return NULL;
        }
    }
    for (size_t i = 0; i < workers; i++) {
        workpool_worker_t *w = &self->workers[i];
        if (pthread_create(&w->thread, NULL, s_worker_main, w) != 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s: cannot start a worker", self->ops.name);
            log_error(msg, "error=\"%s\"", strerror(errno));
            workpool_destroy(&self);
            return NULL;
        }
        w->started = true;
    }
    return self;
}

void workpool_set_startup(workpool_t *self, workpool_startup_fn *fn, void *arg)
{
    pthread_mutex_lock(&self->todo_mx);
    self->startup_fn = fn;
    self->startup_arg = arg;
    /* a worker already connected runs it */
    pthread_cond_broadcast(&self->todo_cv);
    pthread_mutex_unlock(&self->todo_mx);
}

void workpool_destroy(workpool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    workpool_t *self = *self_p;
    metrics_off_collect(self->metrics, s_collect, self);
    pthread_mutex_lock(&self->todo_mx);
    self->stopping = true;
    pthread_cond_broadcast(&self->todo_cv);
    pthread_cond_broadcast(&self->gather_cv);
    pthread_mutex_unlock(&self->todo_mx);
    for (size_t i = 0; self->workers && i < self->n_workers; i++)
        if (self->workers[i].started)
            pthread_join(self->workers[i].thread, NULL);
    while (self->todo_head) {
        workpool_job_t *job = self->todo_head;
        self->todo_head = job->next;
        self->ops.free(job);
    }
    while (self->done_head) {
        workpool_job_t *job = self->done_head;
        self->done_head = job->next;
        self->ops.free(job);
    }
    if (self->efd >= 0) {
        loop_remove_fd(self->loop, self->efd);
        close(self->efd);
    }
    pthread_mutex_destroy(&self->todo_mx);
    pthread_cond_destroy(&self->todo_cv);
    pthread_cond_destroy(&self->gather_cv);
    pthread_mutex_destroy(&self->done_mx);
    for (size_t i = 0; self->workers && i < self->n_workers; i++)
        free(self->workers[i].state);
    free(self->workers);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

int workpool_submit(workpool_t *self, workpool_job_t *job)
{
    pthread_mutex_lock(&self->todo_mx);
    if (self->todo_len >= self->queue_max) {
        pthread_mutex_unlock(&self->todo_mx);
        metrics_inc(self->m_refused);
        return -1;
    }
    job->next = NULL;
    if (self->todo_tail)
        self->todo_tail->next = job;
    else
        self->todo_head = job;
    self->todo_tail = job;
    self->todo_len++;
    /* Wake whoever can use it: the worker gathering the next batch once
     * what it waits for is there, or an idle worker if one may take the
     * job now. A batch job while batches run wakes nobody: the worker that
     * ends a batch takes the next. */
    if (job->batch && self->gathering) {
        if (self->todo_len >= self->gather_want)
            pthread_cond_signal(&self->gather_cv);
    } else if (!job->batch || self->batching < self->ops.batches_max)
        pthread_cond_signal(&self->todo_cv);
    pthread_mutex_unlock(&self->todo_mx);
    self->in_flight++;
    return 0;
}

void workpool_free_job(workpool_t *self, workpool_job_t *job)
{
    if (job)
        self->ops.free(job);
}

static void s_collect(metrics_t *metrics, void *arg)
{
    workpool_t *self = arg;
    pthread_mutex_lock(&self->todo_mx);
    size_t queued = self->todo_len;
    pthread_mutex_unlock(&self->todo_mx);
    metrics_set(self->m_queued, (double)queued);
    metrics_set(self->m_in_flight, (double)self->in_flight);
}

int workpool_set_metrics(workpool_t *self, metrics_t *metrics)
{
    /* a batch runs for milliseconds (one transaction); seconds mean trouble */
    static const double s_seconds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                       0.1,    0.25,  0.5,   1,     2.5,  5,    10};
    static const double s_sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    metrics_family_t *queued = metrics_add_gauge(metrics, "liaison_workpool_queued",
                                                 "Jobs waiting for a worker, by pool.", "pool");
    metrics_family_t *in_flight =
        metrics_add_gauge(metrics, "liaison_workpool_in_flight",
                          "Jobs submitted and not yet answered, by pool.", "pool");
    metrics_family_t *refused = metrics_add_counter(
        metrics, "liaison_workpool_refused_total",
        "Jobs refused because the pool's queue was full (answered 503).", "pool");
    metrics_family_t *size = metrics_add_histogram(
        metrics, "liaison_workpool_batch_size", "Jobs per batch (one transaction), by pool.",
        "pool", s_sizes, sizeof s_sizes / sizeof s_sizes[0]);
    metrics_family_t *seconds = metrics_add_histogram(
        metrics, "liaison_workpool_batch_seconds",
        "Time a worker spent on a batch, from its start to its answers, by pool.", "pool",
        s_seconds, sizeof s_seconds / sizeof s_seconds[0]);
    if (!queued || !in_flight || !refused || !size || !seconds)
        return -1;
    const char *name = self->ops.name;
    self->m_queued = metrics_series(queued, name);
    self->m_in_flight = metrics_series(in_flight, name);
    self->m_refused = metrics_series(refused, name);
    self->m_batch_size = metrics_series(size, name);
    self->m_batch_seconds = metrics_series(seconds, name);
    if (metrics_on_collect(metrics, s_collect, self) < 0)
        return -1;
    self->metrics = metrics;
    return 0;
}

size_t workpool_in_flight(workpool_t *self)
{
    return self->in_flight;
}

size_t workpool_connected(workpool_t *self)
{
    pthread_mutex_lock(&self->todo_mx);
    size_t n = self->connected;
    pthread_mutex_unlock(&self->todo_mx);
    return n;
}
