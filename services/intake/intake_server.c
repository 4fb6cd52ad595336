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
#include "common/http_jobs.h"
#include "common/log.h"
#include "intake/intake.h"
#include "intake/intake_server.h"

#define QUEUE_MAX 4096

struct intake_t {
    daemon_t *daemon;
    intake_pool_t *pool;
    bus_sequencer_t *sequencer; /* the daemon's, of the "intake" stream */
    char bootstrap_hash[65];
    /* the requests that wait for jobs: answered with 503 if the daemon
     * stops before they come back */
    http_jobs_t *jobs;
    metrics_series_t *registered;
    metrics_series_t *refused;
};

static void s_on_done(intake_job_t *job, void *arg)
{
    intake_t *self = arg;
    if (job->published && self->sequencer)
        bus_sequencer_notify(self->sequencer);
    http_request_t *req = http_jobs_take(self->jobs, &job->work);
    if (req) {
        if (job->run == intake_item_register) {
            if (job->status == 201 && !job->replayed)
                metrics_inc(self->registered);
            else if (job->status >= 400)
                metrics_inc(self->refused);
        }
        http_jobs_respond(req, job->status, job->answer, job->location, job->replayed);
        job->answer = NULL;
    }
    intake_job_free(&job);
}

/* ---- handlers ----------------------------------------------------------------------- */

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
    job->court = http_jobs_param(req, "court", NULL);
    job->id = http_jobs_param(req, "id", "kind", "deputy", NULL);
    job->idem_key = http_jobs_header(req, "Idempotency-Key");
    job->content_type = http_jobs_header(req, "Content-Type");
    if (http_jobs_body(req, &job->body, &job->body_len) != 0 ||
        !(job->query = http_jobs_query(req, s_query_names))) {
        intake_job_free(&job);
        return -1;
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
    return http_jobs_submit(self->jobs, req, &job->work);
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
    unsigned gather_us = (unsigned)(config_duration_ms(config, "intake", "batch_gather") * 1000);
    int64_t cache_ttl_us = (int64_t)config_duration_ms(config, "intake", "cache_ttl") * 1000;
    self->pool = intake_pool_new(daemon_loop(daemon), conninfo, workers, QUEUE_MAX, gather_us,
                                 cache_ttl_us, daemon_clock(daemon), s_on_done, self);
    if (!self->pool || !(self->jobs = http_jobs_new(intake_pool_work(self->pool))) ||
        workpool_set_metrics(intake_pool_work(self->pool), m) != 0)
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
    http_jobs_destroy(&self->jobs);
    intake_pool_destroy(&self->pool);
    free(self);
    *self_p = NULL;
}
