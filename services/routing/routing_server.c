/* routing_server — the daemon's routes, its worker pool, its stream and its
 * consumer of intake's stream.
 *
 *   POST /v1/courts/{court}/items/{id}/{action}   a workflow command
 *   GET  /v1/courts/{court}/items/{id}            the item's workflow
 *   GET  /v1/courts/{court}/items                 items by state
 *   GET  /v1/courts/{court}/items/{id}/history    every step, in order
 *   GET  /v1/courts/{court}/items/{id}/suggestions  suggested departments
 *   GET  /v1/courts/{court}/queues                my queues: counts, oldest age
 *   GET  /v1/courts/{court}/queues/{queue}        one queue, paged
 *   GET  /v1/courts/{court}/rules, PUT …          approvers, suggestions, categories
 *
 * A handler on the loop only copies what the worker needs out of the
 * request into a job and submits it; the request stays suspended until the
 * job comes back (s_on_done), which answers it and, when the job committed
 * events, wakes the sequencer so consumers see them at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/auth.h"
#include "common/bus_sequencer.h"
#include "common/daemon.h"
#include "common/http_jobs.h"
#include "common/log.h"
#include "routing/routing.h"
#include "routing/routing_server.h"

#define QUEUE_MAX 4096

struct routing_t {
    daemon_t *daemon;
    workpool_t *pool;
    /* the requests that wait for jobs */
    http_jobs_t *jobs;
    metrics_series_t *done;
    metrics_series_t *refused;
};

static void s_on_done(workpool_job_t *work, void *arg)
{
    routing_t *self = arg;
    routing_job_t *job = (routing_job_t *)work;
    if (job->published) {
        bus_sequencer_t *seq = daemon_bus_sequencer(self->daemon);
        if (seq)
            bus_sequencer_notify(seq);
    }
    http_request_t *req = http_jobs_take(self->jobs, work);
    if (req) {
        if (job->run == routing_item_command) {
            if (job->status >= 400)
                metrics_inc(self->refused);
            else if (!job->replayed)
                metrics_inc(self->done);
        }
        http_jobs_respond(req, job->status, job->answer, NULL, job->replayed);
        job->answer = NULL;
    }
    routing_job_free(&job);
}

static const char *const s_query_names[] = {"state", "limit", "cursor", "department", NULL};

static int s_submit(http_request_t *req, routing_t *self, routing_job_fn *fn)
{
    routing_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    job->run = fn;
    job->court = http_jobs_param(req, "court", NULL);
    job->id = http_jobs_param(req, "id", "queue", NULL);
    job->action = http_jobs_param(req, "action", NULL);
    job->idem_key = http_jobs_header(req, "Idempotency-Key");
    if (http_jobs_body(req, &job->body, &job->body_len) != 0 ||
        !(job->query = http_jobs_query(req, s_query_names))) {
        routing_job_free(&job);
        return -1;
    }
    const char *auth = http_request_header(req, "Authorization");
    if (auth) {
        const char *token = auth_bearer(auth);
        if (token && !strchr(token, ' '))
            job->token = strdup(token);
        else
            job->bad_auth_header = true;
    }
    if (auth && !job->bad_auth_header && !job->token) {
        routing_job_free(&job);
        return -1;
    }
    return http_jobs_submit(self->jobs, req, &job->work);
}

#define HANDLER(name, fn)                                                                          \
    static int name(http_request_t *req, void *arg)                                                \
    {                                                                                              \
        return s_submit(req, arg, fn);                                                             \
    }
HANDLER(h_command, routing_item_command)
HANDLER(h_item_get, routing_item_get)
HANDLER(h_item_list, routing_item_list)
HANDLER(h_history, routing_item_history)
HANDLER(h_suggestions, routing_item_suggestions)
HANDLER(h_queues, routing_queue_summary)
HANDLER(h_queue, routing_queue_list)
HANDLER(h_rules_get, routing_rules_get)
HANDLER(h_rules_put, routing_rules_put)

static bool s_workers_ready(void *arg)
{
    routing_t *self = arg;
    return workpool_connected(self->pool) > 0;
}

static bool s_idle(void *arg)
{
    routing_t *self = arg;
    return workpool_in_flight(self->pool) == 0;
}

routing_t *routing_new(daemon_t *daemon)
{
    routing_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->daemon = daemon;
    const config_t *config = daemon_config(daemon);
    char *conninfo = daemon_conninfo(daemon);
    if (!conninfo)
        goto fail;
    metrics_family_t *fam =
        metrics_add_counter(daemon_metrics(daemon), "liaison_routing_commands_total",
                            "Workflow commands (Arts. 14-21), by outcome", "outcome");
    if (fam) {
        self->done = metrics_series(fam, "done");
        self->refused = metrics_series(fam, "refused");
    }
    size_t workers = (size_t)config_int(config, "routing", "workers");
    self->pool = routing_pool_new(daemon_loop(daemon), conninfo, workers, QUEUE_MAX,
                                  daemon_clock(daemon), s_on_done, self);
    free(conninfo);
    if (!self->pool || !(self->jobs = http_jobs_new(self->pool)) ||
        workpool_set_metrics(self->pool, daemon_metrics(daemon)) != 0)
        goto fail;
    /* Our stream first, so a command answered before the consumer catches up
     * is already announced; then intake's stream (items, tokens, directory). */
    if (daemon_bus_serve(daemon) != 0 ||
        daemon_bus_consume(daemon, "intake", routing_project_apply, NULL) != 0)
        goto fail;

    http_server_t *http = daemon_http(daemon);
    struct {
        const char *method, *pattern;
        http_handler_fn *fn;
    } routes[] = {
        {"POST", "/v1/courts/{court}/items/{id}/{action}", h_command},
        {"GET", "/v1/courts/{court}/items/{id}", h_item_get},
        {"GET", "/v1/courts/{court}/items", h_item_list},
        {"GET", "/v1/courts/{court}/items/{id}/history", h_history},
        {"GET", "/v1/courts/{court}/items/{id}/suggestions", h_suggestions},
        {"GET", "/v1/courts/{court}/queues", h_queues},
        {"GET", "/v1/courts/{court}/queues/{queue}", h_queue},
        {"GET", "/v1/courts/{court}/rules", h_rules_get},
        {"PUT", "/v1/courts/{court}/rules", h_rules_put},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (http_server_route(http, routes[i].method, routes[i].pattern, routes[i].fn, self) != 0)
            goto fail;
    daemon_add_ready_check(daemon, "workers", s_workers_ready, self);
    daemon_add_drain_check(daemon, s_idle, self);
    log_info("routing: serving", "workers=%zu", workers);
    return self;
fail:
    routing_destroy(&self);
    return NULL;
}

void routing_destroy(routing_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    routing_t *self = *self_p;
    http_jobs_destroy(&self->jobs);
    workpool_destroy(&self->pool);
    free(self);
    *self_p = NULL;
}
