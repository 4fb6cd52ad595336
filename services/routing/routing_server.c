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
#include "common/log.h"
#include "routing/routing.h"
#include "routing/routing_server.h"

#define QUEUE_MAX 4096

struct routing_t {
    daemon_t *daemon;
    workpool_t *pool;
    /* jobs whose requests wait (loop thread only) */
    routing_job_t **waiting;
    size_t n_waiting, cap_waiting;
    metrics_series_t *done;
    metrics_series_t *refused;
};

static void s_waiting_add(routing_t *self, routing_job_t *job)
{
    if (self->n_waiting == self->cap_waiting) {
        size_t cap = self->cap_waiting ? self->cap_waiting * 2 : 64;
        routing_job_t **w = realloc(self->waiting, cap * sizeof *w);
        if (!w)
            return;
        self->waiting = w;
        self->cap_waiting = cap;
    }
    self->waiting[self->n_waiting++] = job;
}

static void s_waiting_remove(routing_t *self, routing_job_t *job)
{
    for (size_t i = 0; i < self->n_waiting; i++)
        if (self->waiting[i] == job) {
            self->waiting[i] = self->waiting[--self->n_waiting];
            return;
        }
}

static void s_respond(routing_job_t *job)
{
    http_request_t *req = job->req;
    if (job->replayed)
        http_request_add_header(req, "Idempotent-Replayed", "true");
    if (job->status < 400) {
        http_respond_json(req, job->status, job->answer ? job->answer : json_object());
        job->answer = NULL;
        return;
    }
    /* problem+json (RFC 9457): the members of http_respond_problem plus the
     * ones a job adds (the item's state when a transition is refused) */
    json_t *p = job->answer ? job->answer : json_object();
    job->answer = NULL;
    const char *code = json_string_value(json_object_get(p, "code"));
    char type[160];
    snprintf(type, sizeof type, "urn:liaison:problem:%s", code ? code : "error");
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(http_status_title(job->status)));
    json_object_set_new(p, "status", json_integer(job->status));
    if (!code)
        json_object_set_new(p, "code", json_string("error"));
    json_object_set_new(p, "instance", json_string(http_request_path(req)));
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (text)
        http_respond_text(req, job->status, "application/problem+json; charset=utf-8", text,
                          strlen(text));
    else
        http_respond_problem(req, 500, "internal", "Out of memory.", "内存不足。", NULL);
    free(text);
}

static void s_on_done(workpool_job_t *work, void *arg)
{
    routing_t *self = arg;
    routing_job_t *job = (routing_job_t *)work;
    if (job->published) {
        bus_sequencer_t *seq = daemon_bus_sequencer(self->daemon);
        if (seq)
            bus_sequencer_notify(seq);
    }
    if (job->req) {
        s_waiting_remove(self, job);
        if (job->run == routing_item_command) {
            if (job->status >= 400)
                metrics_inc(self->refused);
            else if (!job->replayed)
                metrics_inc(self->done);
        }
        s_respond(job);
    }
    routing_job_free(&job);
}

static void s_on_cancel(http_request_t *req, void *arg)
{
    routing_job_t *job = arg;
    s_waiting_remove(job->owner, job);
    job->req = NULL; /* the worker never reads this field */
}

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *const s_query_names[] = {"state", "limit", "cursor", "department", NULL};

static int s_submit(http_request_t *req, routing_t *self, routing_job_fn *fn)
{
    routing_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    job->run = fn;
    job->owner = self;
    job->req = req;
    job->court = s_dup(http_request_param(req, "court"));
    const char *id = http_request_param(req, "id");
    if (!id)
        id = http_request_param(req, "queue");
    job->id = s_dup(id);
    job->action = s_dup(http_request_param(req, "action"));
    job->idem_key = s_dup(http_request_header(req, "Idempotency-Key"));
    size_t len = 0;
    const char *body = http_request_body(req, &len);
    if (body && len) {
        job->body = malloc(len + 1);
        if (job->body) {
            memcpy(job->body, body, len);
            job->body[len] = '\0';
            job->body_len = len;
        }
    }
    job->query = json_object();
    for (size_t i = 0; s_query_names[i]; i++) {
        const char *v = http_request_query(req, s_query_names[i]);
        if (v)
            json_object_set_new(job->query, s_query_names[i], json_string(v));
    }
    const char *auth = http_request_header(req, "Authorization");
    if (auth) {
        const char *token = auth_bearer(auth);
        if (token && !strchr(token, ' '))
            job->token = strdup(token);
        else
            job->bad_auth_header = true;
    }
    if ((len && !job->body) || !job->query || (auth && !job->bad_auth_header && !job->token)) {
        routing_job_free(&job);
        return -1;
    }
    if (workpool_submit(self->pool, &job->work) != 0) {
        routing_job_free(&job);
        return http_respond_problem(req, 503, "overloaded",
                                    "Too many requests are waiting; try again.",
                                    "请求过多，请稍后重试。", NULL);
    }
    s_waiting_add(self, job);
    http_request_on_cancel(req, s_on_cancel, job);
    return 0; /* answered when the job comes back */
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
    if (!self->pool)
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
    while (self->n_waiting) {
        routing_job_t *job = self->waiting[--self->n_waiting];
        http_request_t *req = job->req;
        job->req = NULL;
        http_request_on_cancel(req, NULL, NULL);
        http_respond_problem(req, 503, "shutting_down", "The service is stopping; try again.",
                             "服务正在停止，请稍后重试。", NULL);
    }
    workpool_destroy(&self->pool);
    free(self->waiting);
    free(self);
    *self_p = NULL;
}
