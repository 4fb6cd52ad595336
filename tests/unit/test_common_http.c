/* http: a server on an ephemeral port inside a loop, driven by libcurl
 * from a client thread: built-in endpoints, JSON routes, problem+json,
 * 404/405/413, answers given later. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/http.h"
#include "common/log.h"

typedef struct {
    long status;
    char *body;
    size_t len;
    char content_type[128];
    char allow[256];
} reply_t;

typedef struct {
    int port;
    atomic_bool done;
    atomic_bool ready; /* what the readiness check answers */
    void (*scenario)(void *);
    reply_t replies[16];
    int n;
} client_t;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
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

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    reply_t *r = arg;
    size_t len = size * n;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(len < 255 ? len : 255), data);
    line[strcspn(line, "\r\n")] = '\0';
    if (strncasecmp(line, "Allow: ", 7) == 0)
        snprintf(r->allow, sizeof r->allow, "%s", line + 7);
    return len;
}

/* One request; body may be NULL. chunked: send without Content-Length. */
static void request(client_t *c, const char *method, const char *path, const char *body, size_t len,
                    bool chunked)
{
    reply_t *r = &c->replies[c->n++];
    CURL *curl = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Expect:");
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        if (chunked)
            headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        if (!chunked)
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
        char *ct = NULL;
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
        if (ct)
            snprintf(r->content_type, sizeof r->content_type, "%s", ct);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
}

static void *client_main(void *arg)
{
    client_t *c = arg;
    c->scenario(c);
    atomic_store(&c->done, true);
    return NULL;
}

static int check_done(loop_t *loop, int id, void *arg)
{
    client_t *c = arg;
    if (atomic_load(&c->done))
        loop_stop(loop);
    return 0;
}

static bool ready_check(void *arg)
{
    return atomic_load(&((client_t *)arg)->ready);
}

/* ---- routes of the tests --------------------------------------------------- */

static int on_items(http_request_t *req, void *arg)
{
    json_t *body = http_request_json(req);
    if (!body)
        return http_respond_bad_json(req);
    const char *title = json_string_value(json_object_get(body, "title"));
    if (!title) {
        json_decref(body);
        return http_respond_problem(req, 422, "field_required", "The title is required.",
                                    "标题为必填项。", "title");
    }
    json_t *out =
        json_pack("{s:s, s:s}", "court", http_request_param(req, "court"), "title", title);
    json_decref(body);
    return http_respond_json(req, 201, out);
}

static int on_item_literal(http_request_t *req, void *arg)
{
    return http_respond_text(req, 200, "text/plain", "export", 6);
}

static int on_item(http_request_t *req, void *arg)
{
    const char *q = http_request_query(req, "view");
    json_t *out = json_pack("{s:s, s:s, s:s?}", "court", http_request_param(req, "court"), "id",
                            http_request_param(req, "id"), "view", q);
    return http_respond_json(req, 200, out);
}

static int on_fail(http_request_t *req, void *arg)
{
    return -1;
}

static http_request_t *s_later;

static int answer_later(loop_t *loop, int id, void *arg)
{
    json_t *out = json_pack("{s:b}", "later", 1);
    http_respond_json(s_later, 200, out);
    s_later = NULL;
    return 0;
}

static int on_slow(http_request_t *req, void *arg)
{
    s_later = req; /* as if waiting for Postgres */
    loop_add_timer(arg, 30, 1, answer_later, NULL);
    return 0;
}

/* ---- fixture ------------------------------------------------------------------- */

typedef struct {
    loop_t *loop;
    metrics_t *metrics;
    http_server_t *server;
    client_t client;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->loop = loop_new();
    f->metrics = metrics_new();
    f->server = http_server_new(f->loop, f->metrics, "127.0.0.1", 0, 0);
    if (!f->server) {
        metrics_destroy(&f->metrics);
        loop_destroy(&f->loop);
        free(f);
        return -1;
    }
    f->client.port = http_server_port(f->server);
    atomic_store(&f->client.ready, true);
    http_server_add_ready_check(f->server, "postgres", ready_check, &f->client);
    http_server_route(f->server, "POST", "/v1/courts/{court}/items", on_items, NULL);
    http_server_route(f->server, "GET", "/v1/courts/{court}/items/{id}", on_item, NULL);
    http_server_route(f->server, "GET", "/v1/courts/{court}/items/export", on_item_literal, NULL);
    http_server_route(f->server, "DELETE", "/v1/courts/{court}/items/{id}", on_item, NULL);
    http_server_route(f->server, "GET", "/v1/fail", on_fail, NULL);
    http_server_route(f->server, "GET", "/v1/slow", on_slow, f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    http_server_destroy(&f->server);
    metrics_destroy(&f->metrics);
    loop_destroy(&f->loop);
    for (int i = 0; i < f->client.n; i++)
        free(f->client.replies[i].body);
    free(f);
    return 0;
}

static void run(fixture_t *f, void (*scenario)(void *))
{
    f->client.scenario = scenario;
    pthread_t t;
    pthread_create(&t, NULL, client_main, &f->client);
    int id = loop_add_timer(f->loop, 2, 0, check_done, &f->client);
    assert_int_equal(0, loop_run(f->loop));
    loop_cancel_timer(f->loop, id);
    pthread_join(t, NULL);
}

static json_t *parse(const reply_t *r)
{
    json_error_t err;
    json_t *v = json_loads(r->body ? r->body : "", 0, &err);
    if (!v)
        fail_msg("not JSON: %s", r->body ? r->body : "(none)");
    return v;
}

static void assert_problem(const reply_t *r, long status, const char *code, const char *field)
{
    assert_int_equal(status, r->status);
    assert_string_equal("application/problem+json; charset=utf-8", r->content_type);
    json_t *p = parse(r);
    assert_int_equal(status, json_integer_value(json_object_get(p, "status")));
    assert_string_equal(code, json_string_value(json_object_get(p, "code")));
    char type[128];
    snprintf(type, sizeof type, "urn:liaison:problem:%s", code);
    assert_string_equal(type, json_string_value(json_object_get(p, "type")));
    assert_string_equal(http_status_title((unsigned)status),
                        json_string_value(json_object_get(p, "title")));
    assert_non_null(json_string_value(json_object_get(p, "detail")));
    assert_non_null(json_string_value(json_object_get(p, "detail_zh")));
    assert_non_null(json_string_value(json_object_get(p, "instance")));
    if (field)
        assert_string_equal(field, json_string_value(json_object_get(p, "field")));
    else
        assert_null(json_object_get(p, "field"));
    json_decref(p);
}

/* ---- tests ------------------------------------------------------------------------- */

static void scenario_health(void *arg)
{
    client_t *c = arg;
    request(c, "GET", "/healthz", NULL, 0, false);
    request(c, "GET", "/readyz", NULL, 0, false);
    atomic_store(&c->ready, false);
    request(c, "GET", "/readyz", NULL, 0, false);
    request(c, "GET", "/metrics", NULL, 0, false);
}

static void test_health_ready_metrics(void **state)
{
    fixture_t *f = *state;
    run(f, scenario_health);
    reply_t *r = f->client.replies;
    assert_int_equal(200, r[0].status);
    assert_string_equal("ok\n", r[0].body);

    assert_int_equal(200, r[1].status);
    assert_string_equal("{\"status\":\"ready\",\"checks\":{\"postgres\":\"ok\"}}", r[1].body);

    assert_problem(&r[2], 503, "not_ready", NULL);
    json_t *p = parse(&r[2]);
    assert_string_equal("postgres",
                        json_string_value(json_array_get(json_object_get(p, "failing"), 0)));
    assert_string_equal(
        "failing", json_string_value(json_object_get(json_object_get(p, "checks"), "postgres")));
    json_decref(p);

    assert_int_equal(200, r[3].status);
    assert_string_equal("text/plain; version=0.0.4; charset=utf-8", r[3].content_type);
    assert_non_null(strstr(r[3].body, "# TYPE liaison_http_requests_total counter\n"));
    assert_non_null(
        strstr(r[3].body,
               "liaison_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 1\n"));
    assert_non_null(
        strstr(r[3].body,
               "liaison_http_requests_total{route=\"/readyz\",method=\"GET\",code=\"503\"} 1\n"));
    assert_non_null(strstr(r[3].body, "# TYPE liaison_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(
        r[3].body,
        "liaison_http_request_duration_seconds_count{route=\"/healthz\",method=\"GET\"} 1\n"));
}

static void scenario_draining(void *arg)
{
    client_t *c = arg;
    request(c, "GET", "/readyz", NULL, 0, false);
    request(c, "GET", "/healthz", NULL, 0, false);
}

static void test_readyz_while_draining(void **state)
{
    fixture_t *f = *state;
    http_server_set_draining(f->server, true);
    run(f, scenario_draining);
    assert_problem(&f->client.replies[0], 503, "shutting_down", NULL);
    assert_int_equal(200, f->client.replies[1].status);
}

static bool redis_down(void *arg)
{
    return false;
}

static void scenario_degraded(void *arg)
{
    client_t *c = arg;
    request(c, "GET", "/readyz", NULL, 0, false);
    atomic_store(&c->ready, false);
    request(c, "GET", "/readyz", NULL, 0, false);
}

/* A dependency the service works without: shown, not failing readiness,
 * until a real dependency fails too. */
static void test_readyz_degraded(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(http_server_add_degraded_check(f->server, "redis", redis_down, NULL), 0);
    run(f, scenario_degraded);
    reply_t *r = f->client.replies;
    assert_int_equal(200, r[0].status);
    assert_string_equal(
        "{\"status\":\"degraded\",\"checks\":{\"postgres\":\"ok\",\"redis\":\"degraded\"}}",
        r[0].body);
    assert_problem(&r[1], 503, "not_ready", NULL);
    json_t *p = parse(&r[1]);
    assert_int_equal(1, json_array_size(json_object_get(p, "failing")));
    assert_string_equal("postgres",
                        json_string_value(json_array_get(json_object_get(p, "failing"), 0)));
    assert_string_equal("degraded",
                        json_string_value(json_object_get(json_object_get(p, "checks"), "redis")));
    json_decref(p);
}

static void scenario_json(void *arg)
{
    client_t *c = arg;
    const char *ok = "{\"title\":\"关于加强法律援助的建议\"}";
    request(c, "POST", "/v1/courts/bj01/items", ok, strlen(ok), false);
    request(c, "POST", "/v1/courts/bj01/items", "{not json", 9, false);
    request(c, "POST", "/v1/courts/bj01/items", "[1,2]", 5, false);
    request(c, "POST", "/v1/courts/bj01/items", "{}", 2, false);
    request(c, "GET", "/v1/courts/bj01/items/42?view=full", NULL, 0, false);
    request(c, "GET", "/v1/courts/bj01/items/export", NULL, 0, false);
    request(c, "GET", "/v1/fail", NULL, 0, false);
}

static void test_json_routes(void **state)
{
    fixture_t *f = *state;
    run(f, scenario_json);
    reply_t *r = f->client.replies;
    assert_int_equal(201, r[0].status);
    assert_string_equal("application/json; charset=utf-8", r[0].content_type);
    assert_string_equal("{\"court\":\"bj01\",\"title\":\"关于加强法律援助的建议\"}", r[0].body);
    assert_problem(&r[1], 400, "invalid_json", NULL);
    assert_problem(&r[2], 400, "invalid_json", NULL);
    assert_problem(&r[3], 422, "field_required", "title");
    assert_int_equal(200, r[4].status);
    assert_string_equal("{\"court\":\"bj01\",\"id\":\"42\",\"view\":\"full\"}", r[4].body);
    assert_int_equal(200, r[5].status);
    assert_string_equal("export", r[5].body);
    assert_problem(&r[6], 500, "internal_error", NULL);
}

static void scenario_errors(void *arg)
{
    client_t *c = arg;
    request(c, "GET", "/nowhere", NULL, 0, false);
    request(c, "PUT", "/v1/courts/bj01/items/7", "{}", 2, false);
    request(c, "GET", "/v1/courts/bj01/items", NULL, 0, false);
    size_t big = 1024 * 1024 + 1;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = '\0';
    request(c, "POST", "/v1/courts/bj01/items", body, big, false);
    request(c, "POST", "/v1/courts/bj01/items", body, big, true);
    /* exactly at the limit is fine */
    body[1024 * 1024 - 1] = '}';
    body[1024 * 1024] = '\0';
    request(c, "POST", "/v1/courts/bj01/items", body, 1024 * 1024, false);
    free(body);
    request(c, "GET", "/healthz", NULL, 0, false);
}

static void test_errors(void **state)
{
    fixture_t *f = *state;
    run(f, scenario_errors);
    reply_t *r = f->client.replies;
    assert_problem(&r[0], 404, "not_found", NULL);
    json_t *p = parse(&r[0]);
    assert_string_equal("/nowhere", json_string_value(json_object_get(p, "instance")));
    assert_string_equal("Not Found", json_string_value(json_object_get(p, "title")));
    json_decref(p);
    assert_problem(&r[1], 405, "method_not_allowed", NULL);
    assert_string_equal("GET, DELETE", r[1].allow);
    assert_problem(&r[2], 405, "method_not_allowed", NULL);
    assert_string_equal("POST", r[2].allow);
    assert_problem(&r[3], 413, "body_too_large", "body");
    assert_problem(&r[4], 413, "body_too_large", "body");
    assert_problem(&r[5], 422, "field_required", "title");
    assert_int_equal(200, r[6].status);
}

static void scenario_slow(void *arg)
{
    client_t *c = arg;
    request(c, "GET", "/v1/slow", NULL, 0, false);
    request(c, "GET", "/v1/slow", NULL, 0, false);
}

static void test_answer_later(void **state)
{
    fixture_t *f = *state;
    run(f, scenario_slow);
    assert_int_equal(200, f->client.replies[0].status);
    assert_string_equal("{\"later\":true}", f->client.replies[0].body);
    assert_int_equal(200, f->client.replies[1].status);
    assert_int_equal(0, http_server_pending(f->server));
}

static int s_cancelled;
static void on_cancel(http_request_t *req, void *arg)
{
    s_cancelled++;
}

static int on_never(http_request_t *req, void *arg)
{
    http_request_on_cancel(req, on_cancel, NULL);
    loop_stop(arg); /* the test destroys the server with this request parked */
    return 0;
}

static void scenario_never(void *arg)
{
    request(arg, "GET", "/v1/never", NULL, 0, false);
}

static void test_destroy_with_parked_request(void **state)
{
    loop_t *loop = loop_new();
    metrics_t *m = metrics_new();
    http_server_t *s = http_server_new(loop, m, NULL, 0, 0);
    assert_non_null(s);
    http_server_route(s, "GET", "/v1/never", on_never, loop);
    client_t c = {.port = http_server_port(s), .scenario = scenario_never};
    pthread_t t;
    pthread_create(&t, NULL, client_main, &c);
    assert_int_equal(0, loop_run(loop));
    assert_int_equal(1, http_server_pending(s));
    http_server_destroy(&s);
    assert_int_equal(1, s_cancelled);
    pthread_join(t, NULL); /* the client sees 503 or a closed connection */
    free(c.replies[0].body);
    metrics_destroy(&m);
    loop_destroy(&loop);
}

static void test_bad_setup(void **state)
{
    loop_t *loop = loop_new();
    metrics_t *m = metrics_new();
    FILE *devnull = fopen("/dev/null", "w");
    log_set_output(devnull);
    assert_null(http_server_new(loop, m, "not-an-address", 0, 0));
    assert_null(http_server_new(loop, m, "127.0.0.1", 70000, 0));
    http_server_t *a = http_server_new(loop, m, "127.0.0.1", 0, 0);
    assert_non_null(a);
    /* the port is taken */
    assert_null(http_server_new(loop, m, "127.0.0.1", http_server_port(a), 0));
    assert_int_equal(-1, http_server_route(a, "GET", "no-slash", on_fail, NULL));
    assert_int_equal(-1, http_server_route(a, "GET", "/a/{", on_fail, NULL));
    assert_int_equal(-1, http_server_route(a, "GET", "/a/x{y}", on_fail, NULL));
    http_server_destroy(&a);
    log_set_output(NULL);
    fclose(devnull);
    metrics_destroy(&m);
    loop_destroy(&loop);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_ready_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz_while_draining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz_degraded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_later, setup, teardown),
        cmocka_unit_test(test_destroy_with_parked_request),
        cmocka_unit_test(test_bad_setup),
    };
    int rc = cmocka_run_group_tests_name("common_http", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
