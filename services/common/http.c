/* http — see http.h. */
#include "common/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/log.h"

#define MAX_SEGMENTS 16
#define MAX_PARAMS   8
#define MAX_HEADERS  8

typedef struct route_t {
    char *method;
    char *pattern;
    char *segments[MAX_SEGMENTS]; /* "{name}" or a literal */
    size_t n_segments;
    http_handler_fn *fn;
    void *arg;
    struct route_t *next;
} route_t;

typedef struct ready_t {
    char *name;
    http_ready_fn *fn;
    void *arg;
    bool degraded_only; /* down = "degraded": reported, the service still ready */
    struct ready_t *next;
} ready_t;

struct http_request_t {
    http_server_t *server;
    struct MHD_Connection *conn;
    char *method;
    char *path;
    const route_t *route;
    const char *route_label;
    const char *method_label;
    char *param_names[MAX_PARAMS];
    char *param_values[MAX_PARAMS];
    size_t n_params;
    char *body;
    size_t body_len;
    bool too_large;
    bool dispatched;
    bool suspended;
    struct MHD_Response *response; /* made, not yet queued */
    unsigned status;
    bool answered;
    char *headers[MAX_HEADERS][2];
    size_t n_headers;
    double started;
    http_cancel_fn *cancel_fn;
    void *cancel_arg;
    struct http_request_t *prev, *next; /* pending list */
};

struct http_server_t {
    loop_t *loop;
    metrics_t *metrics;
    struct MHD_Daemon *mhd;
    int listen_fd;
    int epoll_fd;
    int port;
    size_t body_limit;
    int timer;
    bool draining;
    route_t *routes, *last_route;
    ready_t *checks, *last_check;
    http_request_t *pending; /* received, unanswered */
    size_t n_pending;
    metrics_family_t *requests;
    metrics_family_t *latency;
};

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *http_status_title(unsigned status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* ---- scheduling MHD inside the loop ------------------------------------ */

static void mhd_run(http_server_t *self);

static int on_mhd_timer(loop_t *loop, int id, void *arg)
{
    http_server_t *self = arg;
    self->timer = 0;
    mhd_run(self);
    return 0;
}

static int on_mhd_fd(loop_t *loop, int fd, short revents, void *arg)
{
    mhd_run((http_server_t *)arg);
    return 0;
}

/* Run MHD, then arm a timer for what MHD_get_timeout asks (connection
 * timeouts, data MHD already holds in its edge-triggered ready list). */
static void mhd_run(http_server_t *self)
{
    MHD_run(self->mhd);
    MHD_UNSIGNED_LONG_LONG timeout;
    if (self->timer) {
        loop_cancel_timer(self->loop, self->timer);
        self->timer = 0;
    }
    if (MHD_get_timeout(self->mhd, &timeout) == MHD_YES) {
        int id = loop_add_timer(self->loop, timeout, 1, on_mhd_timer, self);
        self->timer = id > 0 ? id : 0;
    }
}

/* Soon, from the loop: after a resume, or after answering from outside a
 * MHD callback. */
static void mhd_kick(http_server_t *self)
{
    if (self->timer)
        loop_cancel_timer(self->loop, self->timer);
    int id = loop_add_timer(self->loop, 0, 1, on_mhd_timer, self);
    self->timer = id > 0 ? id : 0;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("http server", "detail=%s", msg);
}
#pragma GCC diagnostic pop

/* ---- requests ------------------------------------------------------------ */

static void request_free(http_request_t *req)
{
    if (!req)
        return;
    for (size_t i = 0; i < req->n_params; i++) {
        free(req->param_names[i]);
        free(req->param_values[i]);
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->headers[i][0]);
        free(req->headers[i][1]);
    }
    if (req->response)
        MHD_destroy_response(req->response);
    free(req->method);
    free(req->path);
    free(req->body);
    free(req);
}

static void pending_add(http_server_t *self, http_request_t *req)
{
    req->next = self->pending;
    if (self->pending)
        self->pending->prev = req;
    self->pending = req;
    self->n_pending++;
}

static void pending_remove(http_server_t *self, http_request_t *req)
{
    if (req->prev)
        req->prev->next = req->next;
    else if (self->pending == req)
        self->pending = req->next;
    else
        return; /* not in the list */
    if (req->next)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
    self->n_pending--;
}

const char *http_request_method(http_request_t *req)
{
    return req->method;
}

const char *http_request_path(http_request_t *req)
{
    return req->path;
}

const char *http_request_param(http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

const char *http_request_query(http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_request_header(http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_body(http_request_t *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body ? req->body : "";
}

json_t *http_request_json(http_request_t *req)
{
    if (!req->body_len)
        return NULL;
    json_error_t err;
    json_t *v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

void http_request_on_cancel(http_request_t *req, http_cancel_fn *fn, void *arg)
{
    req->cancel_fn = fn;
    req->cancel_arg = arg;
}

int http_request_add_header(http_request_t *req, const char *name, const char *value)
{
    if (req->answered || req->n_headers == MAX_HEADERS)
        return -1;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    req->headers[req->n_headers][0] = n;
    req->headers[req->n_headers][1] = v;
    req->n_headers++;
    return 0;
}

/* Queue the prepared response on the connection (inside an MHD callback). */
static enum MHD_Result queue_response(http_request_t *req)
{
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    return r;
}

/* Store the answer; resume the connection if it waits. */
static int respond(http_request_t *req, unsigned status, const char *content_type, char *data,
                   size_t len)
{
    if (req->answered) {
        free(data);
        return -1;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return -1;
    }
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < req->n_headers; i++)
        MHD_add_response_header(resp, req->headers[i][0], req->headers[i][1]);
    req->response = resp;
    req->status = status;
    req->answered = true;
    http_server_t *self = req->server;
    pending_remove(self, req);
    if (req->suspended) {
        req->suspended = false;
        MHD_resume_connection(req->conn);
        mhd_kick(self);
    }
    return 0;
}

int http_respond_text(http_request_t *req, unsigned status, const char *content_type,
                      const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    return respond(req, status, content_type, copy, len);
}

int http_respond_json(http_request_t *req, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return -1;
    return respond(req, status, "application/json; charset=utf-8", text, strlen(text));
}

int http_respond_problem(http_request_t *req, unsigned status, const char *code,
                         const char *detail_en, const char *detail_zh, const char *field)
{
    char type[160];
    snprintf(type, sizeof type, "urn:liaison:problem:%s", code);
    json_t *p = json_object();
    if (!p)
        return -1;
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(http_status_title(status)));
    json_object_set_new(p, "status", json_integer(status));
    json_object_set_new(p, "code", json_string(code));
    if (detail_en)
        json_object_set_new(p, "detail", json_string(detail_en));
    if (detail_zh)
        json_object_set_new(p, "detail_zh", json_string(detail_zh));
    if (field)
        json_object_set_new(p, "field", json_string(field));
    json_object_set_new(p, "instance", json_string(req->path));
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (!text)
        return -1;
    return respond(req, status, "application/problem+json; charset=utf-8", text, strlen(text));
}

int http_respond_bad_json(http_request_t *req)
{
    return http_respond_problem(req, 400, "invalid_json", "The request body must be a JSON object.",
                                "请求正文必须是 JSON 对象。", NULL);
}

/* ---- routing -------------------------------------------------------------- */

static size_t split_path(char *path, char **segments)
{
    size_t n = 0;
    char *save = NULL;
    for (char *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGMENTS)
            return MAX_SEGMENTS + 1;
        segments[n++] = s;
    }
    return n;
}

static bool route_matches(const route_t *r, char **segs, size_t n, http_request_t *req)
{
    if (r->n_segments != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (r->segments[i][0] == '{')
            continue;
        if (strcmp(r->segments[i], segs[i]) != 0)
            return false;
    }
    if (!req)
        return true;
    for (size_t i = 0; i < n && req->n_params < MAX_PARAMS; i++) {
        if (r->segments[i][0] != '{')
            continue;
        const char *name = r->segments[i] + 1;
        req->param_names[req->n_params] = strndup(name, strlen(name) - 1);
        req->param_values[req->n_params] = strdup(segs[i]);
        req->n_params++;
    }
    return true;
}

/* Specificity of a matching route: one bit per segment, the first segment
 * the highest, set when the segment is literal. /v1/items/export beats
 * /v1/items/{id}; /v1/courts/{court}/items/export beats
 * /v1/courts/{court}/items/{id}. */
static uint32_t route_score(const route_t *r)
{
    uint32_t score = 0;
    for (size_t i = 0; i < r->n_segments; i++)
        if (r->segments[i][0] != '{')
            score |= 1u << (MAX_SEGMENTS - 1 - i);
    return score;
}

/* The route for this request, or NULL with *allow set to the methods that
 * would match (405) or empty (404). */
static const route_t *route_find(http_server_t *self, http_request_t *req, char *allow,
                                 size_t allow_size)
{
    char *copy = strdup(req->path);
    if (!copy)
        return NULL;
    char *segs[MAX_SEGMENTS + 1];
    size_t n = split_path(copy, segs);
    const route_t *found = NULL;
    uint32_t best = 0;
    allow[0] = '\0';
    for (const route_t *r = self->routes; n <= MAX_SEGMENTS && r; r = r->next) {
        if (!route_matches(r, segs, n, NULL))
            continue;
        if (strcmp(r->method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            uint32_t score = route_score(r);
            if (!found || score > best) {
                found = r;
                best = score;
            }
        } else if (!strstr(allow, r->method)) {
            size_t len = strlen(allow);
            snprintf(allow + len, allow_size - len, "%s%s", len ? ", " : "", r->method);
        }
    }
    if (found)
        route_matches(found, segs, n, req);
    free(copy);
    return found;
}

int http_server_route(http_server_t *self, const char *method, const char *pattern,
                      http_handler_fn *fn, void *arg)
{
    if (!method || !pattern || pattern[0] != '/' || !fn)
        return -1;
    route_t *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->method = strdup(method);
    r->pattern = strdup(pattern);
    char *copy = strdup(pattern);
    if (!r->method || !r->pattern || !copy)
        goto fail;
    char *segs[MAX_SEGMENTS + 1];
    size_t n = split_path(copy, segs);
    if (n > MAX_SEGMENTS)
        goto fail;
    size_t n_params = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(segs[i]);
        if (segs[i][0] == '{') {
            if (len < 3 || segs[i][len - 1] != '}' || ++n_params > MAX_PARAMS)
                goto fail;
        } else if (strchr(segs[i], '{') || strchr(segs[i], '}')) {
            goto fail;
        }
        if (!(r->segments[r->n_segments++] = strdup(segs[i])))
            goto fail;
    }
    free(copy);
    r->fn = fn;
    r->arg = arg;
    if (self->last_route)
        self->last_route->next = r;
    else
        self->routes = r;
    self->last_route = r;
    return 0;
fail:
    free(copy);
    for (size_t i = 0; i < r->n_segments; i++)
        free(r->segments[i]);
    free(r->method);
    free(r->pattern);
    free(r);
    return -1;
}

static int add_check(http_server_t *self, const char *name, http_ready_fn *fn, void *arg,
                     bool degraded_only)
{
    ready_t *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        free(c);
        return -1;
    }
    c->fn = fn;
    c->arg = arg;
    c->degraded_only = degraded_only;
    if (self->last_check)
        self->last_check->next = c;
    else
        self->checks = c;
    self->last_check = c;
    return 0;
}

int http_server_add_ready_check(http_server_t *self, const char *name, http_ready_fn *fn, void *arg)
{
    return add_check(self, name, fn, arg, false);
}

int http_server_add_degraded_check(http_server_t *self, const char *name, http_ready_fn *fn,
                                   void *arg)
{
    return add_check(self, name, fn, arg, true);
}

void http_server_set_draining(http_server_t *self, bool draining)
{
    self->draining = draining;
}

size_t http_server_pending(http_server_t *self)
{
    return self->n_pending;
}

int http_server_port(http_server_t *self)
{
    return self->port;
}

/* ---- built-in endpoints ---------------------------------------------------- */

static int on_healthz(http_request_t *req, void *arg)
{
    return http_respond_text(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static int on_readyz(http_request_t *req, void *arg)
{
    http_server_t *self = arg;
    json_t *checks = json_object();
    json_t *failing = json_array();
    if (!checks || !failing) {
        json_decref(checks);
        json_decref(failing);
        return -1;
    }
    bool degraded = false;
    for (ready_t *c = self->checks; c; c = c->next) {
        bool ok = c->fn(c->arg);
        json_object_set_new(checks, c->name,
                            json_string(ok                 ? "ok"
                                        : c->degraded_only ? "degraded"
                                                           : "failing"));
        if (!ok && c->degraded_only)
            degraded = true;
        else if (!ok)
            json_array_append_new(failing, json_string(c->name));
    }
    if (!self->draining && json_array_size(failing) == 0) {
        json_decref(failing);
        json_t *body =
            json_pack("{s:s, s:o}", "status", degraded ? "degraded" : "ready", "checks", checks);
        return http_respond_json(req, 200, body);
    }
    /* a problem document, with the failing dependencies named */
    char names[512] = "";
    size_t i;
    json_t *v;
    json_array_foreach(failing, i, v)
    {
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", json_string_value(v));
    }
    char en[640], zh[640];
    const char *code;
    if (self->draining) {
        code = "shutting_down";
        snprintf(en, sizeof en, "The service is shutting down.");
        snprintf(zh, sizeof zh, "服务正在停止。");
    } else {
        code = "not_ready";
        snprintf(en, sizeof en, "Not ready: %s unavailable.", names);
        snprintf(zh, sizeof zh, "服务未就绪：%s 不可用。", names);
    }
    json_t *p = json_pack(
        "{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:b}", "type",
        self->draining ? "urn:liaison:problem:shutting_down" : "urn:liaison:problem:not_ready",
        "title", http_status_title(503), "status", 503, "code", code, "detail", en, "detail_zh", zh,
        "instance", req->path, "failing", failing, "checks", checks, "draining", self->draining);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!text)
        return -1;
    return respond(req, 503, "application/problem+json; charset=utf-8", text, strlen(text));
}

static int on_metrics(http_request_t *req, void *arg)
{
    http_server_t *self = arg;
    char *text = metrics_render(self->metrics);
    if (!text)
        return -1;
    return respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
}

/* ---- the MHD callbacks -------------------------------------------------------- */

static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "OTHER";
}

static void dispatch(http_server_t *self, http_request_t *req)
{
    req->dispatched = true;
    if (req->too_large) {
        char en[160], zh[160];
        snprintf(en, sizeof en, "The request body exceeds the limit of %zu bytes.",
                 self->body_limit);
        snprintf(zh, sizeof zh, "请求正文超过 %zu 字节的上限。", self->body_limit);
        http_respond_problem(req, 413, "body_too_large", en, zh, "body");
        return;
    }
    char allow[128];
    const route_t *r = route_find(self, req, allow, sizeof allow);
    if (!r) {
        if (allow[0]) {
            http_request_add_header(req, "Allow", allow);
            http_respond_problem(req, 405, "method_not_allowed",
                                 "This method is not allowed on this resource.",
                                 "该资源不支持此请求方法。", NULL);
        } else {
            http_respond_problem(req, 404, "not_found", "No such resource.", "资源不存在。", NULL);
        }
        return;
    }
    req->route = r;
    req->route_label = r->pattern;
    int rc = r->fn(req, r->arg);
    if (req->answered)
        return;
    if (rc < 0) {
        http_respond_problem(req, 500, "internal_error", "An internal error occurred.",
                             "服务器内部错误。", NULL);
        return;
    }
    /* answered later: park the connection until a respond call */
    req->suspended = true;
    MHD_suspend_connection(req->conn);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    http_server_t *self = cls;
    http_request_t *req = *con_cls;

    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->server = self;
        req->conn = conn;
        req->started = mono_seconds();
        req->method = strdup(method);
        req->path = strdup(url);
        if (!req->method || !req->path) {
            request_free(req);
            return MHD_NO;
        }
        req->route_label = "unmatched";
        req->method_label = method_label(method);
        *con_cls = req;
        pending_add(self, req);
        /* refuse an announced oversize body before reading it */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > self->body_limit) {
            req->too_large = true;
            dispatch(self, req);
            return queue_response(req);
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        /* MHD_queue_response is not allowed mid-body: note the overflow,
         * drop the rest, answer 413 once the body is in */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large)
            return MHD_YES;
        if (req->body_len + n > self->body_limit) {
            req->too_large = true;
            free(req->body);
            req->body = NULL;
            req->body_len = 0;
            return MHD_YES;
        }
        char *body = realloc(req->body, req->body_len + n + 1);
        if (!body)
            return MHD_NO;
        memcpy(body + req->body_len, upload_data, n);
        req->body = body;
        req->body_len += n;
        req->body[req->body_len] = '\0';
        return MHD_YES;
    }

    if (!req->dispatched)
        dispatch(self, req);
    if (req->response)
        return queue_response(req);
    return MHD_YES; /* suspended */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server_t *self = cls;
    http_request_t *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    pending_remove(self, req);
    if (req->status) {
        char code[16];
        snprintf(code, sizeof code, "%u", req->status);
        metrics_inc(metrics_series(self->requests, req->route_label, req->method_label, code));
        metrics_observe(metrics_series(self->latency, req->route_label, req->method_label),
                        mono_seconds() - req->started);
    }
    log_debug("http request", "method=%s path=%s status=%u ms=%.1f", req->method, req->path,
              req->status, (mono_seconds() - req->started) * 1000);
    request_free(req);
}

/* ---- life cycle ----------------------------------------------------------------- */

static int listen_socket(const char *address, int port, int *bound_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
        log_error("http: bad listen address", "address=%s", address);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
        log_error("http: cannot listen", "address=%s port=%d error=%s", address, port,
                  strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *bound_port = ntohs(sa.sin_port);
    return fd;
}

http_server_t *http_server_new(loop_t *loop, metrics_t *metrics, const char *address, int port,
                               size_t body_limit)
{
    if (!loop || !metrics || port < 0 || port > 65535)
        return NULL;
    http_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->metrics = metrics;
    self->listen_fd = -1;
    self->epoll_fd = -1;
    self->body_limit = body_limit ? body_limit : HTTP_BODY_LIMIT_DEFAULT;

    self->requests = metrics_add_counter(metrics, "liaison_http_requests_total",
                                         "HTTP requests answered, by route, method and status.",
                                         "route,method,code");
    self->latency = metrics_add_histogram(
        metrics, "liaison_http_request_duration_seconds",
        "Time from the request's first byte to its completion, by route and method.",
        "route,method", NULL, 0);
    if (!self->requests || !self->latency)
        goto fail;

    self->listen_fd = listen_socket(address ? address : "127.0.0.1", port, &self->port);
    if (self->listen_fd < 0)
        goto fail;
    self->mhd =
        MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
                         NULL, on_access, self, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, self,
                         MHD_OPTION_LISTEN_SOCKET, self->listen_fd, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, self, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512, MHD_OPTION_END);
    if (!self->mhd) {
        log_error("http: cannot start server", "port=%d", self->port);
        goto fail;
    }
    self->listen_fd = -1; /* MHD_stop_daemon closes it from now on */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || info->epoll_fd < 0)
        goto fail;
    self->epoll_fd = info->epoll_fd;
    if (loop_add_fd(loop, self->epoll_fd, ZMQ_POLLIN, on_mhd_fd, self) < 0)
        goto fail;
    if (http_server_route(self, "GET", "/healthz", on_healthz, self) < 0 ||
        http_server_route(self, "GET", "/readyz", on_readyz, self) < 0 ||
        http_server_route(self, "GET", "/metrics", on_metrics, self) < 0)
        goto fail;
    mhd_run(self);
    return self;

fail:
    http_server_destroy(&self);
    return NULL;
}

void http_server_destroy(http_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    http_server_t *self = *self_p;
    /* MHD panics when stopped with suspended connections: answer every
     * request still waiting, after telling its owner to forget it */
    while (self->pending) {
        http_request_t *req = self->pending;
        pending_remove(self, req);
        if (req->cancel_fn)
            req->cancel_fn(req, req->cancel_arg);
        if (!req->answered && req->suspended) {
            req->n_headers = 0;
            http_respond_problem(req, 503, "shutting_down", "The service is shutting down.",
                                 "服务正在停止。", NULL);
        }
    }
    if (self->timer)
        loop_cancel_timer(self->loop, self->timer);
    if (self->epoll_fd >= 0)
        loop_remove_fd(self->loop, self->epoll_fd);
    if (self->mhd)
        MHD_stop_daemon(self->mhd);
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    route_t *r = self->routes;
    while (r) {
        route_t *next = r->next;
        for (size_t i = 0; i < r->n_segments; i++)
            free(r->segments[i]);
        free(r->method);
        free(r->pattern);
        free(r);
        r = next;
    }
    ready_t *c = self->checks;
    while (c) {
        ready_t *next = c->next;
        free(c->name);
        free(c);
        c = next;
    }
    free(self);
    *self_p = NULL;
}
