/* http_jobs — HTTP requests answered by jobs of a worker pool.
 *
 * A handler on the loop copies what the worker needs out of the request
 * (the helpers below) into a job and submits it with http_jobs_submit: the
 * request stays suspended until the job comes back. The daemon's done
 * callback (workpool_ops_t.done) then takes the request back with
 * http_jobs_take and answers it with http_jobs_respond.
 *
 * The requests that wait are kept here, on the loop thread, so no job
 * carries its request: a request that goes away meanwhile (the client
 * left) is forgotten, and http_jobs_destroy answers those still waiting
 * with 503 when the daemon stops before their jobs are back.
 */
#ifndef LIAISON_COMMON_HTTP_JOBS_H
#define LIAISON_COMMON_HTTP_JOBS_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/http.h"
#include "common/workpool.h"

typedef struct http_jobs_t http_jobs_t;

/* Requests waiting for jobs of `pool` (borrowed; outlives this). */
http_jobs_t *http_jobs_new(workpool_t *pool);
/* Answers every request still waiting with 503 shutting_down; destroy it
 * before the pool. */
void http_jobs_destroy(http_jobs_t **self_p);

/* Submit `job` (consumed) for `req`. 0 when submitted: the request waits
 * for the job. When the queue is full the job is freed and the request
 * answered 503 overloaded (the answer's result is returned); -1 when
 * memory is short (the job freed, the request left to the server's 500). */
int http_jobs_submit(http_jobs_t *self, http_request_t *req, workpool_job_t *job);
/* The request that waits for `job`, which waits no longer; NULL when it
 * went away meanwhile. Loop thread, when the job is back. */
http_request_t *http_jobs_take(http_jobs_t *self, const workpool_job_t *job);

/* Answer a job's outcome: `answer` (stolen; NULL: {}) as JSON below 400,
 * from 400 as problem+json (RFC 9457): the members of http_respond_problem
 * added to the job's own (http_jobs_problem, and whatever the job adds,
 * the rows a CSV import refused or an item's state). location may be
 * NULL; replayed adds Idempotent-Replayed. */
int http_jobs_respond(http_request_t *req, unsigned status, json_t *answer, const char *location,
                      bool replayed);
/* A job's problem answer: code, detail, detail_zh and field (each but code
 * may be NULL); http_jobs_respond adds the rest. */
json_t *http_jobs_problem(const char *code, const char *field, const char *detail_en,
                          const char *detail_zh);
/* Same, with the English detail formatted. */
json_t *http_jobs_problemv(const char *code, const char *field, const char *detail_zh,
                           const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* ---- copying out of the request ---------------------------------------------------- */

/* A copy of the first of the route's {names} the request has, or NULL.
 * The list ends with NULL. */
char *http_jobs_param(http_request_t *req, ...) __attribute__((sentinel));
/* A copy of a header, or NULL. */
char *http_jobs_header(http_request_t *req, const char *name);
/* A NUL-terminated copy of the body in *body (NULL when empty), its length
 * in *len. -1 when memory is short. */
int http_jobs_body(http_request_t *req, char **body, size_t *len);
/* The query arguments of `names` (NULL-terminated) the request has, as an
 * object of strings; NULL when memory is short. */
json_t *http_jobs_query(http_request_t *req, const char *const *names);

#endif
