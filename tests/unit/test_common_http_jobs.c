/* http_jobs: an HTTP request answered by a worker pool's job, over a real
 * socket (curl on a client thread, the server on the loop): what the handler
 * copies out of the request (route parameter, header, body, query) reaches
 * the worker; the job's answer comes back as JSON with its Location, a
 * refusal as problem+json naming its field, and a job no database could run
 * as 503. The worker pool needs PostgreSQL for the first two (skipped
 * without one); the last needs none. */
#include <curl/curl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "../lib/test_loop.h"
#include "common/http.h"
#include "common/http_jobs.h"
#include "common/metrics.h"
#include "common/workpool.h"

typedef struct {
    workpool_job_t work; /* first: the pool's part */
    char *court, *key, *body;
    size_t body_len;
    json_t *query;
    /* the worker's outcome */
    unsigned status;
    json_t *answer;
    char location[128];
} job_t;

typedef struct {
    loop_t *loop;
    liaison_clock_t *clock;
    metrics_t *metrics;
    http_server_t *server;
    workpool_t *pool;
    http_jobs_t *jobs;
    int port;
} fixture_t;

typedef struct {
    long status;
    char content_type[128];
    char location[320];
    char *body;
    size_t len;
} reply_t;

typedef struct {
    int port;
    const char *method, *path, *body, *key;
    reply_t reply;
    atomic_bool done;
} call_t;

static void s_job_free(workpool_job_t *work)
{
    job_t *job = (job_t *)work;
    free(job->court);
    free(job->key);
    free(job->body);
    json_decref(job->query);
    json_decref(job->answer);
    free(job);
}

/* Worker: echo what the handler copied, or refuse a body "refuse". */
static void s_run(workpool_worker_t *w, workpool_job_t *work)
{
    job_t *job = (job_t *)work;
    PGresult *r = PQexec(workpool_worker_conn(w), "SELECT 1");
    bool db = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (job->body && strcmp(job->body, "refuse") == 0) {
        job->status = 422;
        job->answer = http_jobs_problem("refused_here", "body", "Refused.", "拒绝。");
        return;
    }
    job->status = 201;
    job->answer = json_pack("{s:s?, s:s?, s:s?, s:O, s:b}", "court", job->court, "key", job->key,
                            "body", job->body, "query", job->query, "db", db);
    snprintf(job->location, sizeof job->location, "/v1/echo/%s/1", job->court ? job->court : "");
}

static void s_unavailable(workpool_job_t *work)
{
    job_t *job = (job_t *)work;
    job->status = 503;
    job->answer = http_jobs_problem("database_unavailable", NULL, "No database.", "数据库不可用。");
}

static void s_done(workpool_job_t *work, void *arg)
{
    fixture_t *f = arg;
    job_t *job = (job_t *)work;
    http_request_t *req = http_jobs_take(f->jobs, work);
    if (req) {
        http_jobs_respond(req, job->status, job->answer, job->location[0] ? job->location : NULL,
                          false);
        job->answer = NULL;
    }
    s_job_free(work);
}

static const workpool_ops_t s_ops = {
    .name = "test",
    .run = s_run,
    .unavailable = s_unavailable,
    .done = s_done,
    .free = s_job_free,
};

static const char *const s_query_names[] = {"q", NULL};

static int s_handler(http_request_t *req, void *arg)
{
    fixture_t *f = arg;
    job_t *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    job->court = http_jobs_param(req, "court", (char *)NULL);
    job->key = http_jobs_header(req, "Idempotency-Key");
    if (http_jobs_body(req, &job->body, &job->body_len) != 0 ||
        !(job->query = http_jobs_query(req, s_query_names))) {
        s_job_free(&job->work);
        return -1;
    }
    return http_jobs_submit(f->jobs, req, &job->work);
}

/* ---- the client ---------------------------------------------------------------- */

static size_t s_on_body(char *data, size_t size, size_t n, void *arg)
{
    reply_t *r = arg;
    char *body = realloc(r->body, r->len + size * n + 1);
    if (!body)
        return 0;
    memcpy(body + r->len, data, size * n);
    r->body = body;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t s_on_header(char *data, size_t size, size_t n, void *arg)
{
    reply_t *r = arg;
    size_t len = size * n;
    char line[300];
    snprintf(line, sizeof line, "%.*s", (int)(len < 299 ? len : 299), data);
    line[strcspn(line, "\r\n")] = '\0';
    if (strncasecmp(line, "Location: ", 10) == 0)
        snprintf(r->location, sizeof r->location, "%s", line + 10);
    return len;
}

static void *s_client(void *arg)
{
    call_t *c = arg;
    CURL *curl = curl_easy_init();
    char url[256], key[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, c->path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c->reply);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &c->reply);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    if (c->key) {
        snprintf(key, sizeof key, "Idempotency-Key: %s", c->key);
        headers = curl_slist_append(headers, key);
    }
    if (c->body) {
        headers = curl_slist_append(headers, "Content-Type: text/plain");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->reply.status);
        char *ct = NULL;
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
        if (ct)
            snprintf(c->reply.content_type, sizeof c->reply.content_type, "%s", ct);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    atomic_store(&c->done, true);
    return NULL;
}

static bool s_call_done(void *arg)
{
    return atomic_load(&((call_t *)arg)->done);
}

static json_t *s_call(fixture_t *f, call_t *c)
{
    c->port = f->port;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_client, c), 0);
    assert_true(test_run_until(f->loop, s_call_done, c, 15000));
    pthread_join(t, NULL);
    json_t *body = c->reply.body ? json_loads(c->reply.body, 0, NULL) : NULL;
    free(c->reply.body);
    c->reply.body = NULL;
    return body;
}

/* ---- fixture ----------------------------------------------------------------------- */

static bool s_connected(void *arg)
{
    return workpool_connected(((fixture_t *)arg)->pool) > 0;
}

static void s_start(fixture_t *f, const char *conninfo)
{
    f->pool = workpool_new(f->loop, &s_ops, f, conninfo, 2, 16, f->clock);
    assert_non_null(f->pool);
    f->jobs = http_jobs_new(f->pool);
    assert_non_null(f->jobs);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->loop = loop_new();
    char *error = NULL;
    f->clock = clock_new("real", "development", NULL, &error);
    f->metrics = metrics_new();
    f->server = http_server_new(f->loop, f->metrics, "127.0.0.1", 0, 0);
    assert_non_null(f->server);
    f->port = http_server_port(f->server);
    assert_int_equal(http_server_route(f->server, "POST", "/v1/echo/{court}", s_handler, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    http_jobs_destroy(&f->jobs);
    workpool_destroy(&f->pool);
    http_server_destroy(&f->server);
    metrics_destroy(&f->metrics);
    clock_destroy(&f->clock);
    loop_destroy(&f->loop);
    free(f);
    return 0;
}

static const char *s_dsn_or_skip(void)
{
    const char *dsn = getenv("LIAISON_PG_ADMIN_DSN");
    if (!dsn || !*dsn)
        skip();
    return dsn;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_request_to_job_and_back(void **state)
{
    fixture_t *f = *state;
    s_start(f, s_dsn_or_skip());
    assert_true(test_run_until(f->loop, s_connected, f, 5000));
    call_t c = {.method = "POST",
                .path = "/v1/echo/gz-liwan?q=%E8%81%94%E7%BB%9C&x=1",
                .body = "登记内容",
                .key = "k-1"};
    json_t *body = s_call(f, &c);
    assert_int_equal(c.reply.status, 201);
    assert_non_null(strstr(c.reply.content_type, "application/json"));
    assert_string_equal(c.reply.location, "/v1/echo/gz-liwan/1");
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "court")), "gz-liwan");
    assert_string_equal(json_string_value(json_object_get(body, "key")), "k-1");
    assert_string_equal(json_string_value(json_object_get(body, "body")), "登记内容");
    json_t *q = json_object_get(body, "query");
    assert_string_equal(json_string_value(json_object_get(q, "q")), "联络");
    assert_null(json_object_get(q, "x")); /* only the names asked for */
    assert_true(json_is_true(json_object_get(body, "db")));
    json_decref(body);
}

static void test_refusal_is_problem_json(void **state)
{
    fixture_t *f = *state;
    s_start(f, s_dsn_or_skip());
    assert_true(test_run_until(f->loop, s_connected, f, 5000));
    call_t c = {.method = "POST", .path = "/v1/echo/gz-liwan", .body = "refuse"};
    json_t *body = s_call(f, &c);
    assert_int_equal(c.reply.status, 422);
    assert_non_null(strstr(c.reply.content_type, "application/problem+json"));
    assert_non_null(body);
    assert_int_equal(json_integer_value(json_object_get(body, "status")), 422);
    assert_string_equal(json_string_value(json_object_get(body, "code")), "refused_here");
    assert_string_equal(json_string_value(json_object_get(body, "field")), "body");
    assert_string_equal(c.reply.location, "");
    json_decref(body);
}

static void test_no_database_is_503(void **state)
{
    fixture_t *f = *state;
    s_start(f, "host=127.0.0.1 port=1 connect_timeout=1");
    call_t c = {.method = "POST", .path = "/v1/echo/gz-liwan", .body = "x"};
    json_t *body = s_call(f, &c);
    assert_int_equal(c.reply.status, 503);
    assert_non_null(strstr(c.reply.content_type, "application/problem+json"));
    assert_string_equal(json_string_value(json_object_get(body, "code")), "database_unavailable");
    json_decref(body);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_to_job_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_is_problem_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_database_is_503, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
