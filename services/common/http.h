/* http — the HTTP/JSON server of a daemon, driven by its loop.
 *
 * libmicrohttpd runs with MHD_USE_EPOLL and no thread of its own: its
 * epoll descriptor sits in the daemon's loop (readable -> MHD_run) and a
 * loop timer honours MHD_get_timeout, re-armed after every MHD_run. So HTTP
 * handlers run on the loop thread like every other handler: they share
 * state with the ZeroMQ and Postgres code without a lock, which is the
 * point (STYLE.md: one loop per daemon). The cost is that a slow handler
 * stalls the loop; handlers that wait for Postgres answer later instead.
 *
 * Answering later: a handler that returns 0 without answering has its
 * connection suspended (MHD_suspend_connection); any http_respond_* call
 * on that request, later and from the loop thread, resumes it
 * (MHD_resume_connection) and sends the answer. A request left unanswered
 * when the server is destroyed gets a 503 and its cancel hook is called
 * first, so the code that kept it drops its pointer.
 *
 * Routes: a method and a path pattern whose segments are literal or
 * `{name}` (one segment): "/v1/courts/{court}/items". When several match,
 * the one with a literal segment earliest wins (/v1/items/export over
 * /v1/items/{id}); then the first registered. A path that matches no route
 * gets 404, one that matches only with another method 405 with an Allow
 * header.
 *
 * Errors are application/problem+json (RFC 9457):
 *   {"type": "urn:liaison:problem:<code>", "title": "<English status phrase>",
 *    "status": 413, "code": "<code>", "detail": "<English>",
 *    "detail_zh": "<中文>", "field": "<offending field, when there is one>",
 *    "instance": "<request path>"}
 * `code` is stable (clients and tests match it); the texts may improve.
 *
 * Built in: GET /healthz (200 while the process serves), GET /readyz (200
 * when every readiness check passes, else 503 naming the failing ones;
 * 503 while draining), GET /metrics (the registry, including
 * liaison_http_requests_total{route,method,code} and
 * liaison_http_request_duration_seconds{route,method}).
 */
#ifndef LIAISON_COMMON_HTTP_H
#define LIAISON_COMMON_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/loop.h"
#include "common/metrics.h"

#define HTTP_BODY_LIMIT_DEFAULT (1024 * 1024)

typedef struct http_server_t http_server_t;
typedef struct http_request_t http_request_t;

/* Answer now (an http_respond_* call) or later, and return 0; return -1 to
 * answer 500 (when nothing was answered yet). */
typedef int(http_handler_fn)(http_request_t *req, void *arg);
/* A readiness check: true when the dependency is usable. */
typedef bool(http_ready_fn)(void *arg);
/* The request dies unanswered (server shutdown). */
typedef void(http_cancel_fn)(http_request_t *req, void *arg);

/* Listen on address (an IPv4 literal, "127.0.0.1" when NULL) and port
 * (0 = any free port; see http_server_port). body_limit 0 = the default.
 * metrics is borrowed and must outlive the server. NULL on failure
 * (logged: bad address, port in use, ...). */
http_server_t *http_server_new(loop_t *loop, metrics_t *metrics, const char *address, int port,
                               size_t body_limit);
void http_server_destroy(http_server_t **self_p);

/* The port actually bound. */
int http_server_port(http_server_t *self);

/* method: "GET", "POST", ...; pattern as above. 0, or -1 on a bad pattern. */
int http_server_route(http_server_t *self, const char *method, const char *pattern,
                      http_handler_fn *fn, void *arg);
/* name: the dependency as /readyz shows it ("postgres"). */
int http_server_add_ready_check(http_server_t *self, const char *name, http_ready_fn *fn,
                                void *arg);
/* A dependency the service can work without for a while (the deadline
 * daemon's Redis: its sweep fires timers alone). While it is down /readyz
 * still answers 200, with "status": "degraded" and the check shown as
 * "degraded", so an operator sees the outage and a balancer keeps the
 * instance. */
int http_server_add_degraded_check(http_server_t *self, const char *name, http_ready_fn *fn,
                                   void *arg);
/* Draining: /readyz answers 503 so balancers stop sending; requests still
 * served. */
void http_server_set_draining(http_server_t *self, bool draining);
/* Requests received and not yet answered (suspended ones included). */
size_t http_server_pending(http_server_t *self);

/* ---- the request (valid until answered; answer from the loop thread) -- */
const char *http_request_method(http_request_t *req);
const char *http_request_path(http_request_t *req);
/* The value of {name} in the route pattern, or NULL. */
const char *http_request_param(http_request_t *req, const char *name);
/* A query argument (?court=x) or a header, or NULL. */
const char *http_request_query(http_request_t *req, const char *name);
const char *http_request_header(http_request_t *req, const char *name);
/* The body (NUL-terminated, length in *len if len is not NULL). */
const char *http_request_body(http_request_t *req, size_t *len);
/* The body as a JSON object (new reference), or NULL when it is empty, not
 * JSON or not an object: then answer http_respond_bad_json(req). */
json_t *http_request_json(http_request_t *req);
void http_request_on_cancel(http_request_t *req, http_cancel_fn *fn, void *arg);

/* ---- answers: each returns 0, or -1 if the request was already answered
 * or memory is short (the request then gets a 500). --------------------- */
/* body is stolen (json_decref'd). */
int http_respond_json(http_request_t *req, unsigned status, json_t *body);
int http_respond_text(http_request_t *req, unsigned status, const char *content_type,
                      const char *text, size_t len);
/* field may be NULL. detail_en/detail_zh: one sentence each. */
int http_respond_problem(http_request_t *req, unsigned status, const char *code,
                         const char *detail_en, const char *detail_zh, const char *field);
/* 400 invalid_json for a body http_request_json refused. */
int http_respond_bad_json(http_request_t *req);
/* Add a header to the answer about to be made (before http_respond_*). */
int http_request_add_header(http_request_t *req, const char *name, const char *value);

/* The English phrase of a status ("Not Found"). */
const char *http_status_title(unsigned status);

#endif
