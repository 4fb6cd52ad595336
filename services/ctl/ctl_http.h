/* ctl_http — liaisonctl's small HTTP client for the daemons' APIs.
 *
 * Where: the base URL of a service and the token come from liaisonctl's
 * configuration, $LIAISON_CONFIG or else var/liaisonctl.conf (run from the
 * repository root): section [liaisonctl], keys intake, routing, deadline,
 * notify, report (base URLs) and token_file. $LIAISON_TOKEN (the token
 * itself) and $LIAISON_<SERVICE>_URL override them, for scripts.
 *
 * Exit codes (ctl.h): a 2xx answer is CTL_EXIT_OK, a 4xx one
 * CTL_EXIT_REFUSED (the request was understood and refused), a 5xx one or
 * no answer at all CTL_EXIT_FAILURE.
 */
#ifndef LIAISON_CTL_CTL_HTTP_H
#define LIAISON_CTL_CTL_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    long status; /* 0 when no answer came */
    char *body;  /* NUL-terminated */
    size_t len;
    json_t *json;    /* the body parsed, when it is JSON */
    char error[256]; /* transport error, when status is 0 */
} ctl_http_resp_t;

/* Send one request to `service` ("intake"). content_type and body may be
 * NULL; idem_key adds Idempotency-Key. Returns the exit code the answer
 * maps to; *out is filled (free with ctl_http_resp_free). */
int ctl_http(const char *service, const char *method, const char *path, const char *content_type,
             const char *body, size_t len, const char *idem_key, ctl_http_resp_t *out);
void ctl_http_resp_free(ctl_http_resp_t *r);

/* Print a refusal or failure for people: "liaisonctl: 422 missing_field
 * (title): The field title is required. / 缺少必填字段。" plus a CSV
 * import's row errors. */
void ctl_http_print_problem(const char *command, const ctl_http_resp_t *r);

/* URL-encode `s` into a new string (the caller frees). */
char *ctl_http_escape(const char *s);

/* Print an answer and free it: with --json the body as it came, otherwise
 * `show` renders it for people; refusals and failures go to stderr either
 * way (ctl_http_print_problem). Returns rc. */
int ctl_http_finish(const char *command, int rc, ctl_http_resp_t *r, bool json,
                    void (*show)(json_t *));

/* The whole of a file ("-" for standard input), the caller's to free; NULL
 * when it cannot be read. */
char *ctl_read_file(const char *path, size_t *len);

#endif
