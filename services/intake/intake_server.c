/* intake_server — the daemon's routes, its worker pool and its event
 * stream (the outbox sequencer and the pull server), on the daemon's loop.
 *
 * A handler on the loop only copies what the worker needs out of the
 * request (court, id, headers, body, query) into a job and submits it; the
 * request stays suspended until the job comes back (s_on_done), which
 * answers it and, when the job committed events, wakes the sequencer so
 * consumers see them within a millisecond.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/bus_sequencer.h"
#include "common/daemon.h"
#include "common/log.h"
#include "intake/intake.h"
#include "intake/intake_server.h"

#define QUEUE_MAX 4096

struct intake_t {
    daemon_t *daemon;
    intake_pool_t *pool;
    bus_sequencer_t *sequencer; /* the daemon's, of the "intake" stream */
    char bootstrap_hash[65];
    /* the jobs whose requests wait (loop thread only): answered with 503
     * if the daemon stops before they come back */
    intake_job_t **waiting;
    size_t n_waiting, cap_waiting;
    metrics_series_t *registered;
    metrics_series_t *refused;
};

/* ---- the waiting list ----------------------------------------------------------- */

static void s_waiting_add(intake_t *self, intake_job_t *job)
{
    if (self->n_waiting == self->cap_waiting) {
        size_t cap = self->cap_waiting ? self->cap_waiting * 2 : 64;
        intake_job_t **w = realloc(self->waiting, cap * sizeof *w);
        if (!w)
            return;
        self->waiting = w;
        self->cap_waiting = cap;
    }
    self->waiting[self->n_waiting++] = job;
}

static void s_waiting_remove(intake_t *self, intake_job_t *job)
{
    for (size_t i = 0; i < self->n_waiting; i++)
        if (self->waiting[i] == job) {
            self->waiting[i] = self->waiting[--self->n_waiting];
            return;
        }
}

/* ---- answering -------------------------------------------------------------------- */

static void s_respond(intake_job_t *job)
{
    http_request_t *req = job->req;
    if (job->location)
        http_request_add_header(req, "Location", job->location);
    if (job->replayed)
        http_request_add_header(req, "Idempotent-Replayed", "true");
    if (job->status < 400) {
        http_respond_json(req, job->status, job->answer ? job->answer : json_object());
        job->answer = NULL;
        return;
    }
    /* problem+json (RFC 9457), the shape of http_respond_problem plus the
     * members a job may add (errors of a CSV import) */
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
    free(text);
}

static void s_on_done(intake_job_t *job, void *arg)
{
    intake_t *self = arg;
    if (job->published && self->sequencer)
        bus_sequencer_notify(self->sequencer);
    if (job->req) {
        s_waiting_remove(self, job);
        if (job->run == intake_item_register) {
            if (job->status == 201 && !job->replayed)
                metrics_inc(self->registered);
            else if (job->status >= 400)
                metrics_inc(self->refused);
        }
        s_respond(job);
    }
    intake_job_free(&job);
}

static void s_on_cancel(http_request_t *req, void *arg)
{
    intake_job_t *job = arg;
    s_waiting_remove(job->owner, job);
    job->req = NULL; /* the worker never reads this field */
}

/* ---- handlers ----------------------------------------------------------------------- */

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *const s_query_names[] = {
    "kind",  "channel", "source", "deputy", "received_from", "received_to", "late",
    "limit", "cursor",  "year",   "q",      "status",        NULL};

static int s_submit(http_request_t *req, intake_t *self, intake_job_fn *fn)
{
    intake_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    job->run = fn;
    /* registrations are committed in groups (intake_item.c) */
    if (fn == intake_item_register)
        job->work.batch = INTAKE_BATCH_REGISTER;
    job->owner = self;
    job->req = req;
    job->court = s_dup(http_request_param(req, "court"));
    const char *id = http_request_param(req, "id");
    if (!id)
        id = http_request_param(req, "kind");
    if (!id)
        id = http_request_param(req, "deputy");
    job->id = s_dup(id);
    job->idem_key = s_dup(http_request_header(req, "Idempotency-Key"));
    job->content_type = s_dup(http_request_header(req, "Content-Type"));
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
    /* The token is hashed here and only the hash travels: the token itself
     * is never stored, logged or handed to another thread. */
    const char *auth = http_request_header(req, "Authorization");
    if (auth) {
        /* stricter than auth_bearer alone: exactly "Bearer <token>", one
         * space and no other */
        const char *token = auth_bearer(auth);
        if (token == auth + 7 && !strchr(token, ' '))
            auth_hash(token, job->token_hash);
        else
            job->bad_auth_header = true;
    }
    if ((len && !job->body) || !job->query) {
        intake_job_free(&job);
        return -1;
    }
    if (workpool_submit(intake_pool_work(self->pool), &job->work) != 0) {
        intake_job_free(&job);
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
HANDLER(h_register, intake_item_register)
HANDLER(h_item_get, intake_item_get)
HANDLER(h_item_list, intake_item_list)
HANDLER(h_court_list, intake_court_list)
HANDLER(h_court_get, intake_court_get)
HANDLER(h_court_put, intake_court_put)
HANDLER(h_dir_import, intake_directory_import)
HANDLER(h_dir_list, intake_directory_list)
HANDLER(h_end_term, intake_deputy_end_term)
HANDLER(h_token_create, intake_token_create)
HANDLER(h_token_revoke, intake_token_revoke)

static bool s_workers_ready(void *arg)
{
    intake_t *self = arg;
    return workpool_connected(intake_pool_work(self->pool)) > 0;
}

static bool s_idle(void *arg)
{
    intake_t *self = arg;
    return workpool_in_flight(intake_pool_work(self->pool)) == 0;
}

/* ---- life ------------------------------------------------------------------------------ */

static int s_read_token_file(const char *path, char hash[65])
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("intake: cannot read bootstrap_token_file", "path=%s", path);
        return -1;
    }
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n < 16) {
        log_error("intake: bootstrap_token_file holds no usable token (16 characters or more)",
                  "path=%s", path);
        return -1;
    }
    if (strlen(buf) != n) {
        /* no one could ever send it in a header */
        log_error("intake: bootstrap_token_file holds a NUL byte", "path=%s", path);
        return -1;
    }
    auth_hash(buf, hash);
    return 0;
}

intake_t *intake_new(daemon_t *daemon)
{
    intake_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->daemon = daemon;
    const config_t *config = daemon_config(daemon);
    char *conninfo = daemon_conninfo(daemon);
    if (!conninfo)
        goto fail;
    metrics_t *m = daemon_metrics(daemon);
    metrics_family_t *fam =
        metrics_add_counter(m, "liaison_intake_registrations_total",
                            "Items registered (Art. 13), by outcome", "outcome");
    if (fam) {
        self->registered = metrics_series(fam, "registered");
        self->refused = metrics_series(fam, "refused");
    }

    size_t workers = (size_t)config_int(config, "intake", "workers");
    self->pool = intake_pool_new(daemon_loop(daemon), conninfo, workers, QUEUE_MAX,
                                 daemon_clock(daemon), s_on_done, self);
    if (!self->pool)
        goto fail;
    const char *token_file = config_str(config, "intake", "bootstrap_token_file");
    if (*token_file) {
        if (s_read_token_file(token_file, self->bootstrap_hash) != 0)
            goto fail;
        intake_pool_set_startup(self->pool, intake_token_bootstrap, self->bootstrap_hash);
    }

    /* the sequencer and pull server of the "intake" stream, at [common] bus_intake */
    if (daemon_bus_serve(daemon) != 0)
        goto fail;
    self->sequencer = daemon_bus_sequencer(daemon);
    log_info("intake: serving", "stream=%s workers=%zu", INTAKE_STREAM, workers);
    free(conninfo);
    conninfo = NULL;

    http_server_t *http = daemon_http(daemon);
    struct {
        const char *method, *pattern;
        http_handler_fn *fn;
    } routes[] = {
        {"POST", "/v1/courts/{court}/items", h_register},
        {"GET", "/v1/courts/{court}/items", h_item_list},
        {"GET", "/v1/courts/{court}/items/{id}", h_item_get},
        {"GET", "/v1/courts", h_court_list},
        {"GET", "/v1/courts/{court}", h_court_get},
        {"PUT", "/v1/courts/{court}", h_court_put},
        {"POST", "/v1/courts/{court}/directory/{kind}", h_dir_import},
        {"GET", "/v1/courts/{court}/directory/{kind}", h_dir_list},
        {"POST", "/v1/courts/{court}/deputies/{deputy}/end-term", h_end_term},
        {"POST", "/v1/tokens", h_token_create},
        {"POST", "/v1/tokens/{id}/revoke", h_token_revoke},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (http_server_route(http, routes[i].method, routes[i].pattern, routes[i].fn, self) != 0)
            goto fail;
    daemon_add_ready_check(daemon, "workers", s_workers_ready, self);
    daemon_add_drain_check(daemon, s_idle, self);
    return self;
fail:
    free(conninfo);
    intake_destroy(&self);
    return NULL;
}

void intake_destroy(intake_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    intake_t *self = *self_p;
    /* answer what still waits, then stop the workers (which frees the jobs) */
    while (self->n_waiting) {
        intake_job_t *job = self->waiting[--self->n_waiting];
        http_request_t *req = job->req;
        job->req = NULL;
        http_request_on_cancel(req, NULL, NULL);
        http_respond_problem(req, 503, "shutting_down", "The service is stopping; try again.",
                             "服务正在停止，请稍后重试。", NULL);
    }
    intake_pool_destroy(&self->pool);
    free(self->waiting);
    free(self);
    *self_p = NULL;
}
