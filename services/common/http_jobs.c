/* http_jobs — see http_jobs.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_jobs.h"

typedef struct {
    const workpool_job_t *job;
    http_request_t *req;
} waiting_t;

struct http_jobs_t {
    workpool_t *pool;
    /* the requests that wait, with their jobs (loop thread only) */
    waiting_t *waiting;
    size_t n_waiting, cap_waiting;
};

http_jobs_t *http_jobs_new(workpool_t *pool)
{
    http_jobs_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pool = pool;
    return self;
}

void http_jobs_destroy(http_jobs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    http_jobs_t *self = *self_p;
    while (self->n_waiting) {
        http_request_t *req = self->waiting[--self->n_waiting].req;
        http_request_on_cancel(req, NULL, NULL);
        http_respond_problem(req, 503, "shutting_down", "The service is stopping; try again.",
                             "服务正在停止，请稍后重试。", NULL);
    }
    free(self->waiting);
    free(self);
    *self_p = NULL;
}

/* The client went away: its job's answer goes nowhere. */
static void s_on_cancel(http_request_t *req, void *arg)
{
    http_jobs_t *self = arg;
    for (size_t i = 0; i < self->n_waiting; i++)
        if (self->waiting[i].req == req) {
            self->waiting[i] = self->waiting[--self->n_waiting];
            return;
        }
}

int http_jobs_submit(http_jobs_t *self, http_request_t *req, workpool_job_t *job)
{
    /* room first: a job whose request is not kept could not be answered */
    if (self->n_waiting == self->cap_waiting) {
        size_t cap = self->cap_waiting ? self->cap_waiting * 2 : 64;
        waiting_t *w = realloc(self->waiting, cap * sizeof *w);
        if (!w) {
            workpool_free_job(self->pool, job);
            return -1;
        }
        self->waiting = w;
        self->cap_waiting = cap;
    }
    if (workpool_submit(self->pool, job) != 0) {
        workpool_free_job(self->pool, job);
        return http_respond_problem(req, 503, "overloaded",
                                    "Too many requests are waiting; try again.",
                                    "请求过多，请稍后重试。", NULL);
    }
    self->waiting[self->n_waiting++] = (waiting_t){job, req};
    http_request_on_cancel(req, s_on_cancel, self);
    return 0; /* answered when the job comes back */
}

http_request_t *http_jobs_take(http_jobs_t *self, const workpool_job_t *job)
{
    for (size_t i = 0; i < self->n_waiting; i++)
        if (self->waiting[i].job == job) {
            http_request_t *req = self->waiting[i].req;
            self->waiting[i] = self->waiting[--self->n_waiting];
            return req;
        }
    return NULL;
}

/* ---- answers ------------------------------------------------------------------------ */

int http_jobs_respond(http_request_t *req, unsigned status, json_t *answer, const char *location,
                      bool replayed)
{
    if (location)
        http_request_add_header(req, "Location", location);
    if (replayed)
        http_request_add_header(req, "Idempotent-Replayed", "true");
    if (status < 400)
        return http_respond_json(req, status, answer ? answer : json_object());
    json_t *p = answer ? answer : json_object();
    const char *code = json_string_value(json_object_get(p, "code"));
    char type[160];
    snprintf(type, sizeof type, "urn:liaison:problem:%s", code ? code : "error");
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(http_status_title(status)));
    json_object_set_new(p, "status", json_integer(status));
    if (!code)
        json_object_set_new(p, "code", json_string("error"));
    json_object_set_new(p, "instance", json_string(http_request_path(req)));
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (!text)
        return http_respond_problem(req, 500, "internal", "Out of memory.", "内存不足。", NULL);
    int rc = http_respond_text(req, status, "application/problem+json; charset=utf-8", text,
                               strlen(text));
    free(text);
    return rc;
}

json_t *http_jobs_problem(const char *code, const char *field, const char *detail_en,
                          const char *detail_zh)
{
    json_t *p = json_object();
    json_object_set_new(p, "code", json_string(code));
    if (detail_en)
        json_object_set_new(p, "detail", json_string(detail_en));
    if (detail_zh)
        json_object_set_new(p, "detail_zh", json_string(detail_zh));
    if (field)
        json_object_set_new(p, "field", json_string(field));
    return p;
}

json_t *http_jobs_problemv(const char *code, const char *field, const char *detail_zh,
                           const char *fmt, va_list ap)
{
    char en[1024];
    vsnprintf(en, sizeof en, fmt, ap);
    return http_jobs_problem(code, field, en, detail_zh);
}

/* ---- copying out of the request ---------------------------------------------------- */

char *http_jobs_param(http_request_t *req, ...)
{
    const char *value = NULL;
    va_list ap;
    va_start(ap, req);
    for (const char *name; !value && (name = va_arg(ap, const char *));)
        value = http_request_param(req, name);
    va_end(ap);
    return value ? strdup(value) : NULL;
}

char *http_jobs_header(http_request_t *req, const char *name)
{
    const char *value = http_request_header(req, name);
    return value ? strdup(value) : NULL;
}

int http_jobs_body(http_request_t *req, char **body, size_t *len)
{
    *body = NULL;
    *len = 0;
    size_t n = 0;
    const char *text = http_request_body(req, &n);
    if (!text || !n)
        return 0;
    if (!(*body = malloc(n + 1)))
        return -1;
    memcpy(*body, text, n);
    (*body)[n] = '\0';
    *len = n;
    return 0;
}

json_t *http_jobs_query(http_request_t *req, const char *const *names)
{
    json_t *query = json_object();
    for (size_t i = 0; query && names[i]; i++) {
        const char *v = http_request_query(req, names[i]);
        if (v)
            json_object_set_new(query, names[i], json_string(v));
    }
    return query;
}
