/* liaison-intake against a real PostgreSQL: registration refusals,
 * idempotency, late registration, court isolation (tokens and row-level
 * security), a court's rule and calendar overrides (checked, stored and
 * published, or refused with nothing stored), and 8 clients registering
 * 4,000 items across 3 courts.
 *
 * The daemon is a private one (tests/lib/intake.sh: a scratch schema, any
 * free port); TAP output, one line per case. Skipped without a database.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/test_metrics.h"
#include "common/auth.h"
#include "common/bus.h"
#include "liaison/v1/directory.pb-c.h"
#include "liaison/v1/envelope.pb-c.h"
#include "liaison/v1/items.pb-c.h"

static char g_url[128], g_schema[128], g_pid[32], g_dir[512], g_op[128];
static char g_tok_a[128], g_tok_b[128], g_tok_c[128], g_tok_leader_a[128];
static PGconn *g_admin;
static int g_n, g_failed;

static void tap(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", ok ? "" : "not ", ++g_n);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    g_failed += !ok;
}

/* ---- HTTP ------------------------------------------------------------------ */

typedef struct {
    long status;
    char *body;
    size_t len;
    char content_type[128];
} resp_t;

static size_t s_write(char *p, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    char *b = realloc(r->body, r->len + size * n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, size * n);
    r->body = b;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t s_header(char *p, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    if (strncasecmp(p, "Content-Type:", 13) == 0) {
        snprintf(r->content_type, sizeof r->content_type, "%.*s", (int)(size * n - 13), p + 13);
        char *e = strpbrk(r->content_type, "\r\n");
        if (e)
            *e = '\0';
    }
    return size * n;
}

/* token: NULL = none; content_type NULL = none; body may hold NULs (len). */
static int http(CURL *c, const char *method, const char *path, const char *token,
                const char *content_type, const char *idem, const char *body, size_t len, resp_t *r)
{
    memset(r, 0, sizeof *r);
    char url[512], h1[256], h2[256], h3[300];
    snprintf(url, sizeof url, "%s%s", g_url, path);
    struct curl_slist *hs = NULL;
    if (token) {
        snprintf(h1, sizeof h1, "Authorization: %s%s", strchr(token, ' ') ? "" : "Bearer ", token);
        hs = curl_slist_append(hs, h1);
    }
    snprintf(h2, sizeof h2, "Content-Type: %s", content_type ? content_type : "");
    hs = curl_slist_append(hs, content_type ? h2 : "Content-Type:");
    if (idem) {
        snprintf(h3, sizeof h3, "Idempotency-Key: %s", idem);
        hs = curl_slist_append(hs, h3);
    }
    hs = curl_slist_append(hs, "Expect:");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hs);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        fprintf(stderr, "# curl: %s\n", curl_easy_strerror(rc));
    return rc == CURLE_OK ? 0 : -1;
}

static json_t *http_json(CURL *c, const char *method, const char *path, const char *token,
                         const char *ctype, const char *idem, const char *body, long *status)
{
    resp_t r;
    http(c, method, path, token, ctype, idem, body, body ? strlen(body) : 0, &r);
    *status = r.status;
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (!j && r.body)
        fprintf(stderr, "# not JSON: %s\n", r.body);
    free(r.body);
    return j;
}

/* ---- database --------------------------------------------------------------- */

static long long scalar(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(g_admin, sql);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = atoll(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "# sql: %s: %s\n", sql, PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

typedef struct {
    long long items, outbox, idem, counters, deputies;
} counts_t;

static counts_t counts(void)
{
    counts_t c;
    c.items = scalar("SELECT count(*) FROM %s.item", g_schema);
    c.outbox = scalar("SELECT count(*) FROM %s.bus_outbox", g_schema);
    c.idem = scalar("SELECT count(*) FROM %s.idempotency", g_schema);
    c.counters = scalar("SELECT coalesce(sum(last_serial), 0) FROM %s.regnum_counter", g_schema);
    c.deputies = scalar("SELECT count(*) FROM %s.item_deputy", g_schema);
    return c;
}

/* ---- setup ------------------------------------------------------------------ */

static int start_daemon(void)
{
    const char *root = getenv("LIAISON_ROOT") ? getenv("LIAISON_ROOT") : ".";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/tests/lib/intake.sh up register", root);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[600];
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "INTAKE_URL=", 11))
            snprintf(g_url, sizeof g_url, "%.100s", line + 11);
        else if (!strncmp(line, "INTAKE_PID=", 11))
            snprintf(g_pid, sizeof g_pid, "%.20s", line + 11);
        else if (!strncmp(line, "INTAKE_SCHEMA=", 14))
            snprintf(g_schema, sizeof g_schema, "%.100s", line + 14);
        else if (!strncmp(line, "INTAKE_TOKEN=", 13))
            snprintf(g_op, sizeof g_op, "%.100s", line + 13);
        else if (!strncmp(line, "INTAKE_DIR=", 11))
            snprintf(g_dir, sizeof g_dir, "%.400s", line + 11);
    }
    return pclose(p) == 0 && g_url[0] && g_schema[0] ? 0 : -1;
}

static void stop_daemon(void)
{
    if (!g_schema[0])
        return;
    const char *root = getenv("LIAISON_ROOT") ? getenv("LIAISON_ROOT") : ".";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/tests/lib/intake.sh down %s %s %s", root, g_schema, g_pid, g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# teardown failed\n");
}

static int make_token(CURL *c, const char *role, const char *court, char out[128])
{
    char body[256];
    snprintf(body, sizeof body, "{\"role\":\"%s\",\"court\":\"%s\",\"name\":\"test\"}", role,
             court);
    long st;
    json_t *j = http_json(c, "POST", "/v1/tokens", g_op, "application/json", NULL, body, &st);
    const char *t = json_string_value(json_object_get(j, "token"));
    int rc = st == 201 && t ? 0 : -1;
    if (t)
        snprintf(out, 128, "%s", t);
    json_decref(j);
    return rc;
}

static int setup_court(CURL *c, const char *court, const char *prefix, const char *tmpl)
{
    char path[128], body[512];
    long st;
    snprintf(path, sizeof path, "/v1/courts/%s", court);
    snprintf(body, sizeof body,
             "{\"name\":\"%s 测试法院\",\"registration_number_template\":\"%s\"}", court, tmpl);
    json_t *j = http_json(c, "PUT", path, g_op, "application/json", NULL, body, &st);
    json_decref(j);
    if (st != 201)
        return -1;
    char csv[2048];
    snprintf(csv, sizeof csv,
             "编号,姓名,类别,级别,届次,任期开始,任期结束,状态\n"
             "%s1,代表甲,人大代表,区,17,2022-01-01,,在任\n"
             "%s2,代表乙,人大代表,市,16,2022-01-01,,在任\n"
             "%s3,委员丙,政协委员,区,14,2022-01-01,,在任\n"
             "%s9,已离任,人大代表,区,16,2017-01-01,2021-12-31,终止\n",
             prefix, prefix, prefix, prefix);
    snprintf(path, sizeof path, "/v1/courts/%s/directory/deputies", court);
    j = http_json(c, "POST", path, g_op, "text/csv; charset=utf-8", NULL, csv, &st);
    json_decref(j);
    return st == 200 ? 0 : -1;
}

/* ---- the requests ------------------------------------------------------------- */

static char g_now[40], g_yesterday[40], g_future[40];

static char *good_body(const char *deputy, const char *title)
{
    char *b = NULL;
    if (asprintf(
            &b,
            "{\"kind\":\"between-sessions\",\"channel\":\"letter\",\"source\":\"deputy-direct\","
            "\"deputies\":[{\"deputy\":\"%s\",\"lead\":true}],\"title\":\"%s\","
            "\"content\":\"建议加强诉讼服务中心建设。\\n第二段。\",\"received_at\":\"%s\"}",
            deputy, title, g_now) < 0)
        return NULL;
    return b;
}

typedef struct {
    const char *name;
    const char *method;
    const char *path;  /* "A" = court A's items; else literal */
    const char *token; /* "A", "B", "L" (leader of A), "OP", "BAD", "RAW:..." or NULL */
    const char *ctype;
    const char *idem;
    const char *body; /* JSON with %NOW% %YDAY% %FUT% placeholders, or special */
    long status;
    const char *code;
    const char *field;
} bad_t;

#define OKB(extra)                                                                                 \
    "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"      \
    "\"deputy\":\"a1\"}],\"title\":\"标题\",\"content\":\"内容\",\"received_at\":\"%NOW%\"" extra  \
    "}"

static const bad_t s_bad[] = {
    /* access */
    {"no token", "POST", "A", NULL, "application/json", NULL, OKB(""), 401, "unauthorized",
     "Authorization"},
    {"unknown token", "POST", "A", "BAD", "application/json", NULL, OKB(""), 401, "unauthorized",
     "Authorization"},
    {"not a bearer token", "POST", "A", "RAW:Basic dXNlcjpwYXNz", "application/json", NULL, OKB(""),
     401, "unauthorized", "Authorization"},
    {"token of court B writes court A", "POST", "A", "B", "application/json", NULL, OKB(""), 403,
     "forbidden", "court"},
    {"leader token may not register", "POST", "A", "L", "application/json", NULL, OKB(""), 403,
     "forbidden", "Authorization"},
    {"unknown court (operator)", "POST", "/v1/courts/no-such-court/items", "OP", "application/json",
     NULL, OKB(""), 404, "unknown_court", "court"},
    {"unknown court (court token)", "POST", "/v1/courts/no-such-court/items", "A",
     "application/json", NULL, OKB(""), 403, "forbidden", "court"},
    /* body as a whole */
    {"wrong content type", "POST", "A", "A", "text/plain", NULL, OKB(""), 415,
     "unsupported_media_type", "Content-Type"},
    {"no content type", "POST", "A", "A", NULL, NULL, OKB(""), 415, "unsupported_media_type",
     "Content-Type"},
    {"form content type", "POST", "A", "A", "application/x-www-form-urlencoded", NULL, OKB(""), 415,
     "unsupported_media_type", "Content-Type"},
    {"malformed JSON", "POST", "A", "A", "application/json", NULL, "{\"kind\": \"remark\",", 400,
     "invalid_json", "body"},
    {"JSON array, not object", "POST", "A", "A", "application/json", NULL, "[1,2,3]", 400,
     "invalid_json", "body"},
    {"empty body", "POST", "A", "A", "application/json", NULL, "", 400, "invalid_utf8", "body"},
    {"duplicate JSON keys", "POST", "A", "A", "application/json", NULL,
     "{\"title\":\"a\",\"title\":\"b\"}", 400, "invalid_json", "body"},
    {"invalid UTF-8", "POST", "A", "A", "application/json", NULL, "@UTF8", 400, "invalid_utf8",
     "body"},
    {"overlong UTF-8 form", "POST", "A", "A", "application/json", NULL, "@OVERLONG", 400,
     "invalid_utf8", "body"},
    {"body over 1 MiB", "POST", "A", "A", "application/json", NULL, "@BIG", 413, "body_too_large",
     "body"},
    /* fields */
    {"unknown field", "POST", "A", "A", "application/json", NULL, OKB(",\"colour\":\"red\""), 422,
     "unknown_field", "colour"},
    {"missing kind", "POST", "A", "A", "application/json", NULL,
     "{\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{\"deputy\":\"a1\"}],"
     "\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "missing_field", "kind"},
    {"kind of wrong type", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":7,\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{\"deputy\":"
     "\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "wrong_type", "kind"},
    {"unknown kind", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"gossip\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "invalid_value", "kind"},
    {"missing channel", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"source\":\"deputy-direct\",\"deputies\":[{\"deputy\":\"a1\"}],"
     "\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "missing_field", "channel"},
    {"unknown channel", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"fax\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "invalid_value", "channel"},
    {"missing source", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"deputies\":[{\"deputy\":\"a1\"}],\"title\":"
     "\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "missing_field", "source"},
    {"source of wrong type", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":[\"x\"],\"deputies\":[{\"deputy\":"
     "\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "wrong_type", "source"},
    {"missing deputies", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"title\":\"t\","
     "\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "missing_field", "deputies"},
    {"empty deputies", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[],"
     "\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "missing_field", "deputies"},
    {"deputies not an array", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":\"a1\","
     "\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "wrong_type", "deputies"},
    {"deputy entry not an object", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[\"a1\"]"
     ",\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "wrong_type", "deputies[0]"},
    {"deputy lead of wrong type", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\",\"lead\":\"yes\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%"
     "NOW%\"}",
     422, "wrong_type", "deputies[0].lead"},
    {"joint item without a lead", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"},{\"deputy\":\"a2\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%"
     "NOW%\"}",
     422, "lead_deputy", "deputies"},
    {"joint item with two leads", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\",\"lead\":true},{\"deputy\":\"a2\",\"lead\":true}],\"title\":\"t\","
     "\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "lead_deputy", "deputies"},
    {"same deputy twice", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\",\"lead\":true},{\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\","
     "\"received_at\":\"%NOW%\"}",
     422, "duplicate_deputy", "deputies[1].deputy"},
    {"unknown deputy", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"zz404\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "unknown_deputy", "deputies[0].deputy"},
    {"deputy of another court's roster", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\",\"lead\":true},{\"deputy\":\"b1\"}],\"title\":\"t\",\"content\":\"c\","
     "\"received_at\":\"%NOW%\"}",
     422, "unknown_deputy", "deputies[1].deputy"},
    {"deputy whose term ended", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a9\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "deputy_term_ended", "deputies[0].deputy"},
    {"missing title", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "missing_field", "title"},
    {"empty title", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "missing_field", "title"},
    {"title with a NUL", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"a\\u0000b\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     400, "invalid_json", "body"},
    {"content of wrong type", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":{\"x\":1},\"received_at\":\"%NOW%\"}",
     422, "wrong_type", "content"},
    {"missing received_at", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\"}",
     422, "missing_field", "received_at"},
    {"received_at without offset", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"2026-03-02T09:30:"
     "00\"}",
     422, "invalid_value", "received_at"},
    {"received_at not a date", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"2026-02-30T09:30:00+"
     "08:00\"}",
     422, "invalid_value", "received_at"},
    {"received_at a number", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":1772415000}",
     422, "wrong_type", "received_at"},
    {"received in the future", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%FUT%\"}",
     422, "received_in_future", "received_at"},
    {"late registration without a reason", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"remark\",\"channel\":\"phone\",\"source\":\"deputy-direct\",\"deputies\":[{"
     "\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":\"%YDAY%\"}",
     422, "late_reason_required", "late_reason"},
    {"session item without session", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"session-suggestion\",\"channel\":\"session-delivery\",\"source\":\"congress\","
     "\"court_role\":\"lead\",\"deputies\":[{\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\","
     "\"received_at\":\"%NOW%\"}",
     422, "missing_field", "session"},
    {"session without closing date", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"session-suggestion\",\"channel\":\"session-delivery\",\"source\":\"congress\","
     "\"court_role\":\"lead\",\"session\":{\"congress\":\"荔湾区第十七届人民代表大会\",\"term_"
     "number\":17,\"meeting_number\":5},\"deputies\":[{\"deputy\":\"a1\"}],\"title\":\"t\","
     "\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "missing_field", "session.closing_date"},
    {"session closing date malformed", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"session-suggestion\",\"channel\":\"session-delivery\",\"source\":\"congress\","
     "\"court_role\":\"lead\",\"session\":{\"congress\":\"荔湾区第十七届人民代表大会\",\"term_"
     "number\":17,\"meeting_number\":5,\"closing_date\":\"2026/01/"
     "20\"},\"deputies\":[{\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\",\"received_at\":"
     "\"%NOW%\"}",
     422, "invalid_value", "session.closing_date"},
    {"session term number of wrong type", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"session-suggestion\",\"channel\":\"session-delivery\",\"source\":\"congress\","
     "\"court_role\":\"lead\",\"session\":{\"congress\":\"x\",\"term_number\":\"17\",\"meeting_"
     "number\":5,\"closing_date\":\"2026-01-20\"},\"deputies\":[{\"deputy\":\"a1\"}],\"title\":"
     "\"t\",\"content\":\"c\",\"received_at\":\"%NOW%\"}",
     422, "wrong_type", "session.term_number"},
    {"court role missing on a session item", "POST", "A", "A", "application/json", NULL,
     "{\"kind\":\"session-bill\",\"channel\":\"session-delivery\",\"source\":\"congress\","
     "\"session\":{\"congress\":\"x\",\"term_number\":17,\"meeting_number\":5,\"closing_date\":"
     "\"2026-01-20\"},\"deputies\":[{\"deputy\":\"a1\"}],\"title\":\"t\",\"content\":\"c\","
     "\"received_at\":\"%NOW%\"}",
     422, "missing_field", "court_role"},
    {"court role unknown", "POST", "A", "A", "application/json", NULL,
     OKB(",\"court_role\":\"boss\""), 422, "invalid_value", "court_role"},
    {"attachment without sha256", "POST", "A", "A", "application/json", NULL,
     OKB(",\"attachments\":[{\"filename\":\"a.pdf\",\"media_type\":\"application/"
         "pdf\",\"size_bytes\":10}]"),
     422, "missing_field", "attachments[0].sha256"},
    {"attachment with a bad sha256", "POST", "A", "A", "application/json", NULL,
     OKB(",\"attachments\":[{\"filename\":\"a.pdf\",\"media_type\":\"application/"
         "pdf\",\"size_bytes\":10,\"sha256\":\"XYZ\"}]"),
     422, "invalid_value", "attachments[0].sha256"},
    {"attachment size negative", "POST", "A", "A", "application/json", NULL,
     OKB(",\"attachments\":[{\"filename\":\"a.pdf\",\"media_type\":\"application/"
         "pdf\",\"size_bytes\":-1,\"sha256\":"
         "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]"),
     422, "invalid_value", "attachments[0].size_bytes"},
    {"unknown receiving department", "POST", "A", "A", "application/json", NULL,
     OKB(",\"receiving_department\":\"nowhere\""), 422, "unknown_department",
     "receiving_department"},
    {"reused key, another body", "POST", "A", "A", "application/json", "reused-key",
     OKB(",\"source_detail\":\"another body\""), 409, "idempotency_key_reused", "Idempotency-Key"},
};

static char *expand(const char *tmpl)
{
    if (!strcmp(tmpl, "@UTF8")) {
        char *b = strdup(OKB(""));
        char *t = strstr(b, "标题");
        t[0] = (char)0xC3; /* a lead byte followed by a non-continuation byte */
        t[1] = 'x';
        char *r = NULL;
        size_t rl = strlen(b);
        r = malloc(rl + 64);
        snprintf(r, rl + 64, "%s", b);
        free(b);
        char *n = strstr(r, "%NOW%");
        if (n) {
            char tail[256];
            snprintf(tail, sizeof tail, "%s", n + 5);
            sprintf(n, "%s%s", g_now, tail);
        }
        return r;
    }
    if (!strcmp(tmpl, "@OVERLONG")) {
        char *r = NULL;
        if (asprintf(&r, "{\"kind\":\"remark\",\"title\":\"%c%c\"}", (char)0xC0, (char)0xAF) < 0)
            return NULL;
        return r;
    }
    if (!strcmp(tmpl, "@BIG")) {
        size_t n = 1024 * 1024 + 100;
        char *r = malloc(n + 200);
        int h = snprintf(r, 200, "{\"kind\":\"remark\",\"content\":\"");
        memset(r + h, 'x', n);
        strcpy(r + h + n, "\"}");
        return r;
    }
    /* placeholders */
    char *out = malloc(strlen(tmpl) + 256);
    char *o = out;
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "%NOW%", 5)) {
            o += sprintf(o, "%s", g_now);
            p += 5;
        } else if (!strncmp(p, "%YDAY%", 6)) {
            o += sprintf(o, "%s", g_yesterday);
            p += 6;
        } else if (!strncmp(p, "%FUT%", 5)) {
            o += sprintf(o, "%s", g_future);
            p += 5;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static const char *token_of(const char *t)
{
    if (!t)
        return NULL;
    if (!strcmp(t, "A"))
        return g_tok_a;
    if (!strcmp(t, "B"))
        return g_tok_b;
    if (!strcmp(t, "L"))
        return g_tok_leader_a;
    if (!strcmp(t, "OP"))
        return g_op;
    if (!strcmp(t, "BAD"))
        return "lst_000000000000000000000000000000000000000000000000";
    if (!strncmp(t, "RAW:", 4))
        return t + 4;
    return NULL;
}

static void fmt_instant(time_t t, char *buf, size_t size)
{
    struct tm tm;
    time_t local = t + 8 * 3600;
    gmtime_r(&local, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static void test_bad_requests(CURL *c)
{
    counts_t before = counts();
    size_t n = sizeof s_bad / sizeof s_bad[0];
    for (size_t i = 0; i < n; i++) {
        const bad_t *b = &s_bad[i];
        char path[256];
        snprintf(path, sizeof path, "%s", !strcmp(b->path, "A") ? "/v1/courts/t-a/items" : b->path);
        char *body = expand(b->body);
        const char *token = token_of(b->token);
        char rawtok[160];
        if (b->token && !strncmp(b->token, "RAW:", 4)) {
            snprintf(rawtok, sizeof rawtok, "%s", token);
            token = rawtok;
        }
        resp_t r;
        http(c, b->method, path, token, b->ctype, b->idem, body, strlen(body), &r);
        json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
        const char *code = json_string_value(json_object_get(j, "code"));
        const char *field = json_string_value(json_object_get(j, "field"));
        bool ok = r.status == b->status && code && !strcmp(code, b->code) &&
                  strstr(r.content_type, "application/problem+json") &&
                  ((!b->field && !field) || (b->field && field && !strcmp(field, b->field))) &&
                  json_integer_value(json_object_get(j, "status")) == b->status;
        tap(ok, "refused: %s -> %ld %s field=%s", b->name, r.status, code ? code : "?",
            field ? field : "-");
        if (!ok)
            fprintf(stderr, "#   want %ld %s field=%s; got %s\n", b->status, b->code,
                    b->field ? b->field : "-", r.body ? r.body : "(none)");
        json_decref(j);
        free(r.body);
        free(body);
    }
    tap(n >= 40, "at least 40 bad requests (%zu)", n);
    counts_t after = counts();
    tap(after.items == before.items && after.deputies == before.deputies,
        "nothing stored: items %lld -> %lld", before.items, after.items);
    tap(after.outbox == before.outbox, "nothing published: outbox %lld -> %lld", before.outbox,
        after.outbox);
    tap(after.idem == before.idem && after.counters == before.counters,
        "no key kept, no number used: keys %lld -> %lld, serials %lld -> %lld", before.idem,
        after.idem, before.counters, after.counters);
}

/* ---- concurrency --------------------------------------------------------------- */

#define CLIENTS 8
#define ITEMS   4000

typedef struct {
    int id;
    int ok, failed;
} client_t;

static void *s_client(void *arg)
{
    client_t *cl = arg;
    CURL *c = curl_easy_init();
    static const char *const courts[3] = {"t-a", "t-b", "t-c"};
    static const char *const deputies[3] = {"a1", "b1", "c1"};
    for (int i = cl->id; i < ITEMS; i += CLIENTS) {
        int k = i % 3;
        const char *tok = k == 0 ? g_tok_a : k == 1 ? g_tok_b : g_tok_c;
        char path[64], key[64], title[64];
        snprintf(path, sizeof path, "/v1/courts/%s/items", courts[k]);
        snprintf(key, sizeof key, "load-%d", i);
        snprintf(title, sizeof title, "并发登记 %d", i);
        char *body = good_body(deputies[k], title);
        resp_t r;
        http(c, "POST", path, tok, "application/json", key, body, strlen(body), &r);
        if (r.status == 201)
            cl->ok++;
        else {
            cl->failed++;
            if (cl->failed < 3)
                fprintf(stderr, "# client %d: %ld %s\n", cl->id, r.status, r.body ? r.body : "");
        }
        free(r.body);
        free(body);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void test_concurrency(void)
{
    long long items_before[3],
        outbox_before =
            scalar("SELECT count(*) FROM %s.bus_outbox WHERE type = 'liaison.v1.ItemRegistered'",
                   g_schema);
    static const char *const courts[3] = {"t-a", "t-b", "t-c"};
    for (int k = 0; k < 3; k++)
        items_before[k] =
            scalar("SELECT count(*) FROM %s.item WHERE court_id = '%s'", g_schema, courts[k]);
    pthread_t th[CLIENTS];
    client_t cl[CLIENTS];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client_t){.id = i};
        pthread_create(&th[i], NULL, s_client, &cl[i]);
    }
    int ok = 0, failed = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        ok += cl[i].ok;
        failed += cl[i].failed;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    tap(ok == ITEMS && failed == 0,
        "%d clients registered %d items across 3 courts (%d refused) in "
        "%.2f s, %.0f/s",
        CLIENTS, ok, failed, secs, ok / secs);
    for (int k = 0; k < 3; k++) {
        long long n =
            scalar("SELECT count(*) FROM %s.item WHERE court_id = '%s'", g_schema, courts[k]);
        long long distinct_n =
            scalar("SELECT count(DISTINCT registration_number) FROM %s.item WHERE court_id = '%s'",
                   g_schema, courts[k]);
        long long max = scalar("SELECT max(registration_serial) FROM %s.item WHERE court_id = '%s'",
                               g_schema, courts[k]);
        long long min = scalar("SELECT min(registration_serial) FROM %s.item WHERE court_id = '%s'",
                               g_schema, courts[k]);
        long long gaps = scalar(
            "SELECT count(*) FROM generate_series(1, (SELECT max(registration_serial) FROM %s.item "
            "WHERE court_id = '%s')) s WHERE NOT EXISTS (SELECT 1 FROM %s.item i WHERE i.court_id "
            "= "
            "'%s' AND i.registration_serial = s)",
            g_schema, courts[k], g_schema, courts[k]);
        long long want = items_before[k] + ITEMS / 3 + (k < ITEMS % 3 ? 1 : 0);
        tap(n == want && distinct_n == n && min == 1 && max == n && gaps == 0,
            "court %s: %lld items, numbers 1..%lld unique and gapless (%lld gaps)", courts[k], n,
            max, gaps);
    }
    /* every item's event exactly once, and sequenced (positions given) */
    long long want_events = outbox_before + ITEMS;
    long long sequenced = 0;
    for (int i = 0; i < 100; i++) {
        sequenced = scalar("SELECT count(*) FROM %s.bus_outbox WHERE type = "
                           "'liaison.v1.ItemRegistered' AND seq IS NOT NULL",
                           g_schema);
        if (sequenced >= want_events)
            break;
        usleep(100000);
    }
    tap(sequenced == want_events, "all %lld ItemRegistered events sequenced", want_events);
    /* the stream as a whole (events positioned by their registering
     * transaction and by the sequencer alike): 1..head, each once */
    long long holes = scalar("SELECT (SELECT head FROM %s.bus_stream_head WHERE stream = 'intake') "
                             "- count(DISTINCT seq) + (count(*) - count(seq)) + (max(seq) - "
                             "count(*)) FROM %s.bus_outbox WHERE stream = 'intake'",
                             g_schema, g_schema);
    tap(holes == 0, "the intake stream's positions are 1..head, each once (%lld off)", holes);
    /* decode every envelope: one per item, none for anything else */
    char sql[512];
    snprintf(
        sql, sizeof sql,
        "SELECT envelope FROM %s.bus_outbox WHERE type = 'liaison.v1.ItemRegistered' ORDER BY seq",
        g_schema);
    PGresult *res = PQexecParams(g_admin, sql, 0, NULL, NULL, NULL, NULL, 1);
    int rows = PQntuples(res);
    bool decoded = PQresultStatus(res) == PGRES_TUPLES_OK;
    /* collect item ids of the events and compare with the item table */
    PGresult *ins = PQexec(g_admin, "CREATE TEMP TABLE ev (item_id uuid, number text)");
    PQclear(ins);
    for (int i = 0; i < rows && decoded; i++) {
        Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(
            NULL, (size_t)PQgetlength(res, i, 0), (const uint8_t *)PQgetvalue(res, i, 0));
        Liaison__V1__ItemRegistered *ev =
            env ? liaison__v1__item_registered__unpack(NULL, env->payload.len, env->payload.data)
                : NULL;
        if (!ev || strcmp(env->item_id, ev->item_id) != 0) {
            decoded = false;
        } else {
            const char *p[2] = {ev->item_id, ev->registration_number};
            PQclear(PQexecParams(g_admin, "INSERT INTO ev VALUES ($1::uuid, $2)", 2, NULL, p, NULL,
                                 NULL, 0));
        }
        if (ev)
            liaison__v1__item_registered__free_unpacked(ev, NULL);
        if (env)
            liaison__v1__envelope__free_unpacked(env, NULL);
    }
    PQclear(res);
    long long dup = scalar("SELECT count(*) FROM (SELECT item_id FROM ev GROUP BY item_id HAVING "
                           "count(*) > 1) d");
    long long missing =
        scalar("SELECT count(*) FROM %s.item i WHERE NOT EXISTS (SELECT 1 FROM ev "
               "WHERE ev.item_id = i.item_id AND ev.number = i.registration_number)",
               g_schema);
    long long extra = scalar("SELECT count(*) FROM ev WHERE NOT EXISTS (SELECT 1 FROM %s.item i "
                             "WHERE i.item_id = ev.item_id)",
                             g_schema);
    tap(decoded && dup == 0 && missing == 0 && extra == 0,
        "every item's event published exactly once (%d events: %lld doubled, %lld missing, %lld "
        "extra)",
        rows, dup, missing, extra);
}

/* ---- batches: refusals and retries among good registrations -------------------------
 * Registrations are committed in groups (intake_item.c). Good ones, refused
 * ones and the same request sent twice at once under one key, from 8
 * clients across 3 courts: each refusal answered alone and storing
 * nothing, the good ones all stored, a pair of twins one item. */

#define MIX_ROUNDS 40

static const char *const s_mix_courts[3] = {"t-a", "t-b", "t-c"};
static const char *const s_mix_deputies[3] = {"a1", "b1", "c1"};
static char g_twin[CLIENTS / 2][MIX_ROUNDS][2][40];

typedef struct {
    int id;
    int good, refused, twins, wrong;
} mix_t;

static const char *s_mix_token(int k)
{
    return k == 0 ? g_tok_a : k == 1 ? g_tok_b : g_tok_c;
}

static void *s_mix_client(void *arg)
{
    mix_t *m = arg;
    CURL *c = curl_easy_init();
    for (int j = 0; j < MIX_ROUNDS; j++) {
        int k = (m->id + j) % 3;
        char path[64], key[64], title[64];
        resp_t r;
        snprintf(path, sizeof path, "/v1/courts/%s/items", s_mix_courts[k]);
        /* a good one */
        snprintf(key, sizeof key, "mix-%d-%d", m->id, j);
        snprintf(title, sizeof title, "批量登记 %d-%d", m->id, j);
        char *body = good_body(s_mix_deputies[k], title);
        http(c, "POST", path, s_mix_token(k), "application/json", key, body, strlen(body), &r);
        if (r.status == 201)
            m->good++;
        else
            m->wrong++;
        free(r.body);
        free(body);
        /* a refused one: a deputy not on the roster */
        snprintf(key, sizeof key, "mixbad-%d-%d", m->id, j);
        snprintf(title, sizeof title, "批量坏 %d-%d", m->id, j);
        body = good_body("nobody", title);
        http(c, "POST", path, s_mix_token(k), "application/json", key, body, strlen(body), &r);
        json_t *pj = r.body ? json_loads(r.body, 0, NULL) : NULL;
        const char *code = json_string_value(json_object_get(pj, "code"));
        const char *field = json_string_value(json_object_get(pj, "field"));
        if (r.status == 422 && code && strcmp(code, "unknown_deputy") == 0 && field &&
            strcmp(field, "deputies[0].deputy") == 0)
            m->refused++;
        else
            m->wrong++;
        json_decref(pj);
        free(r.body);
        free(body);
        /* twins: clients 2p and 2p+1 send the same request under one key */
        int pair = m->id / 2, tk = (pair + j) % 3;
        snprintf(path, sizeof path, "/v1/courts/%s/items", s_mix_courts[tk]);
        snprintf(key, sizeof key, "twin-%d-%d", pair, j);
        snprintf(title, sizeof title, "双发 %d-%d", pair, j);
        body = good_body(s_mix_deputies[tk], title);
        http(c, "POST", path, s_mix_token(tk), "application/json", key, body, strlen(body), &r);
        pj = r.body ? json_loads(r.body, 0, NULL) : NULL;
        const char *id = json_string_value(json_object_get(pj, "item_id"));
        if (r.status == 201 && id) {
            snprintf(g_twin[pair][j][m->id & 1], sizeof g_twin[pair][j][0], "%s", id);
            m->twins++;
        } else {
            m->wrong++;
            fprintf(stderr, "# twin %d-%d: %ld %s\n", pair, j, r.status, r.body ? r.body : "");
        }
        json_decref(pj);
        free(r.body);
        free(body);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void test_batch_mixed(void)
{
    long long outbox_before = scalar(
        "SELECT count(*) FROM %s.bus_outbox WHERE type = 'liaison.v1.ItemRegistered'", g_schema);
    long long items_before = scalar("SELECT count(*) FROM %s.item", g_schema);
    pthread_t th[CLIENTS];
    mix_t mx[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        mx[i] = (mix_t){.id = i};
        pthread_create(&th[i], NULL, s_mix_client, &mx[i]);
    }
    int good = 0, refused = 0, twins = 0, wrong = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        good += mx[i].good;
        refused += mx[i].refused;
        twins += mx[i].twins;
        wrong += mx[i].wrong;
    }
    tap(good == CLIENTS * MIX_ROUNDS && refused == CLIENTS * MIX_ROUNDS &&
            twins == CLIENTS * MIX_ROUNDS && wrong == 0,
        "mixed batches: %d registered, %d refused 422 unknown_deputy alone, %d twin answers 201 "
        "(%d wrong)",
        good, refused, twins, wrong);
    int same = 0;
    for (int p = 0; p < CLIENTS / 2; p++)
        for (int j = 0; j < MIX_ROUNDS; j++)
            same += g_twin[p][j][0][0] && strcmp(g_twin[p][j][0], g_twin[p][j][1]) == 0;
    long long twin_items =
        scalar("SELECT count(*) FROM %s.item WHERE title LIKE '双发 %%'", g_schema);
    tap(same == CLIENTS / 2 * MIX_ROUNDS && twin_items == CLIENTS / 2 * MIX_ROUNDS,
        "the same request twice at once under one key: one item, both answered with it (%d of "
        "%d pairs, %lld items)",
        same, CLIENTS / 2 * MIX_ROUNDS, twin_items);
    long long bad_items =
        scalar("SELECT count(*) FROM %s.item WHERE title LIKE '批量坏 %%'", g_schema);
    long long bad_keys =
        scalar("SELECT count(*) FROM %s.idempotency WHERE idem_key LIKE 'mixbad-%%'", g_schema);
    long long added = scalar("SELECT count(*) FROM %s.item", g_schema) - items_before;
    long long events = scalar(
        "SELECT count(*) FROM %s.bus_outbox WHERE type = 'liaison.v1.ItemRegistered'", g_schema);
    tap(bad_items == 0 && bad_keys == 0 &&
            added == (long long)CLIENTS * MIX_ROUNDS + CLIENTS / 2 * MIX_ROUNDS &&
            events - outbox_before == added,
        "refusals stored nothing (%lld items, %lld keys); %lld items added, %lld events", bad_items,
        bad_keys, added, events - outbox_before);
}

/* A registration that fails after its serial was taken (court t-c's counter
 * is at its end: 500) rolls its batch back; the others of the batch are
 * then registered one by one, and nothing of t-c is stored or numbered. */

#define FULL_CLIENTS 6
#define FULL_ROUNDS  10

typedef struct {
    int id;
    int ok, exhausted, wrong;
} full_t;

static void *s_full_client(void *arg)
{
    full_t *f = arg;
    CURL *c = curl_easy_init();
    for (int j = 0; j < FULL_ROUNDS; j++) {
        int k = (f->id + j) % 3;
        char path[64], key[64], title[64];
        snprintf(path, sizeof path, "/v1/courts/%s/items", s_mix_courts[k]);
        snprintf(key, sizeof key, "full-%d-%d", f->id, j);
        snprintf(title, sizeof title, "满号 %d-%d", f->id, j);
        char *body = good_body(s_mix_deputies[k], title);
        resp_t r;
        http(c, "POST", path, s_mix_token(k), "application/json", key, body, strlen(body), &r);
        if (k == 2 && r.status == 500)
            f->exhausted++;
        else if (k != 2 && r.status == 201)
            f->ok++;
        else
            f->wrong++;
        free(r.body);
        free(body);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void test_batch_rollback(void)
{
    long long prev = scalar("SELECT last_serial FROM %s.regnum_counter WHERE court_id = 't-c' "
                            "ORDER BY year DESC LIMIT 1",
                            g_schema);
    long long c_items = scalar("SELECT count(*) FROM %s.item WHERE court_id = 't-c'", g_schema);
    long long set = scalar("WITH u AS (UPDATE %s.regnum_counter SET last_serial = 999999999 WHERE "
                           "court_id = 't-c' RETURNING 1) SELECT count(*) FROM u",
                           g_schema);
    pthread_t th[FULL_CLIENTS];
    full_t fl[FULL_CLIENTS];
    for (int i = 0; i < FULL_CLIENTS; i++) {
        fl[i] = (full_t){.id = i};
        pthread_create(&th[i], NULL, s_full_client, &fl[i]);
    }
    int ok = 0, exhausted = 0, wrong = 0;
    for (int i = 0; i < FULL_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        ok += fl[i].ok;
        exhausted += fl[i].exhausted;
        wrong += fl[i].wrong;
    }
    int want_c = 0;
    for (int i = 0; i < FULL_CLIENTS; i++)
        for (int j = 0; j < FULL_ROUNDS; j++)
            want_c += (i + j) % 3 == 2;
    tap(set >= 1 && ok == FULL_CLIENTS * FULL_ROUNDS - want_c && exhausted == want_c && wrong == 0,
        "a registration failing inside a batch sinks no other: %d registered, %d refused 500 "
        "(counter at its end), %d wrong",
        ok, exhausted, wrong);
    long long c_after = scalar("SELECT count(*) FROM %s.item WHERE court_id = 't-c'", g_schema);
    long long counter = scalar("SELECT max(last_serial) FROM %s.regnum_counter WHERE court_id = "
                               "'t-c'",
                               g_schema);
    long long keys =
        scalar("SELECT count(*) FROM %s.idempotency WHERE court_id = 't-c' AND idem_key LIKE "
               "'full-%%'",
               g_schema);
    tap(c_after == c_items && counter == 999999999 && keys == 0,
        "the failed ones stored nothing: %lld items of t-c before and after, counter untouched, "
        "%lld keys",
        c_after, keys);
    scalar("WITH u AS (UPDATE %s.regnum_counter SET last_serial = %lld WHERE court_id = 't-c' "
           "RETURNING 1) SELECT count(*) FROM u",
           g_schema, prev);
}

/* ---- the rest ---------------------------------------------------------------------- */

static void test_registration(CURL *c)
{
    long st;
    char *body = good_body("a1", "关于加强诉讼服务的建议");
    json_t *first = http_json(c, "POST", "/v1/courts/t-a/items", g_tok_a, "application/json",
                              "reused-key", body, &st);
    const char *number = json_string_value(json_object_get(first, "registration_number"));
    char want[64];
    snprintf(want, sizeof want, "甲法联〔%d〕1号",
             (int)json_integer_value(json_object_get(first, "registration_year")));
    tap(st == 201 && number && !strcmp(number, want), "registered: 201 with number %s",
        number ? number : "?");
    json_t *again = http_json(c, "POST", "/v1/courts/t-a/items", g_tok_a, "application/json",
                              "reused-key", body, &st);
    tap(st == 201 &&
            json_equal(json_object_get(first, "item_id"), json_object_get(again, "item_id")),
        "a retry with the same key and body returns the first result");
    long long n =
        scalar("SELECT count(*) FROM %s.item WHERE idempotency_key = 'reused-key'", g_schema);
    tap(n == 1, "... and stores one item (%lld)", n);
    free(body);

    char path[160];
    snprintf(path, sizeof path, "/v1/courts/t-a/items/%s",
             json_string_value(json_object_get(first, "item_id")));
    json_t *got = http_json(c, "GET", path, g_tok_leader_a, NULL, NULL, NULL, &st);
    tap(st == 200 &&
            json_equal(json_object_get(got, "registration_number"),
                       json_object_get(first, "registration_number")) &&
            json_is_true(
                json_object_get(json_array_get(json_object_get(got, "deputies"), 0), "lead")),
        "GET the item (a leader token of the court)");
    json_decref(got);
    got = http_json(c, "GET", path, g_tok_b, NULL, NULL, NULL, &st);
    tap(st == 403, "a token of court B cannot read court A's item (%ld)", st);
    json_decref(got);
    snprintf(path, sizeof path, "/v1/courts/t-b/items/%s",
             json_string_value(json_object_get(first, "item_id")));
    got = http_json(c, "GET", path, g_tok_b, NULL, NULL, NULL, &st);
    tap(st == 404, "nor find it under its own court (%ld)", st);
    json_decref(got);

    /* late registration: received yesterday, registered today, with reason */
    char *late = NULL;
    if (asprintf(&late,
                 "{\"kind\":\"deputy-letter\",\"channel\":\"letter\",\"source\":\"deputy-direct\","
                 "\"deputies\":[{\"deputy\":\"a2\",\"lead\":true},{\"deputy\":\"a3\"}],"
                 "\"title\":\"来信\",\"content\":\"来信内容\",\"received_at\":\"%s\","
                 "\"late_reason\":\"收到时已下班，次日登记\"}",
                 g_yesterday) < 0)
        return;
    json_t *l =
        http_json(c, "POST", "/v1/courts/t-a/items", g_tok_a, "application/json", NULL, late, &st);
    tap(st == 201 && json_is_true(json_object_get(l, "registered_late")) &&
            strcmp(json_string_value(json_object_get(l, "received_date")),
                   json_string_value(json_object_get(l, "registered_date"))) < 0,
        "a late registration is recorded as late, with its reason (Art. 13)");
    json_decref(l);
    free(late);

    /* session item with a co-handling role */
    char *sess = NULL;
    if (asprintf(
            &sess,
            "{\"kind\":\"session-suggestion\",\"channel\":\"session-delivery\",\"source\":"
            "\"congress\",\"court_role\":\"co\",\"session\":{\"congress\":"
            "\"荔湾区第十七届人民代表大会\","
            "\"term_number\":17,\"meeting_number\":5,\"closing_date\":\"2026-01-20\"},"
            "\"deputies\":[{\"deputy\":\"a1\"}],\"title\":\"会议建议\",\"content\":\"内容\","
            "\"received_at\":\"%s\",\"attachments\":[{\"filename\":\"建议.pdf\",\"media_type\":"
            "\"application/pdf\",\"size_bytes\":12345,\"sha256\":"
            "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}",
            g_now) < 0)
        return;
    json_t *s =
        http_json(c, "POST", "/v1/courts/t-a/items", g_tok_a, "application/json", NULL, sess, &st);
    tap(st == 201, "a session item with its session, role and attachment (%ld)", st);
    json_decref(s);
    free(sess);

    json_t *list = http_json(c, "GET", "/v1/courts/t-a/items?limit=1&late=false", g_tok_a, NULL,
                             NULL, NULL, &st);
    const char *cursor = json_string_value(json_object_get(list, "next_cursor"));
    tap(st == 200 && json_array_size(json_object_get(list, "items")) == 1 && cursor,
        "list: a page of 1 with a cursor");
    char lpath[256];
    snprintf(lpath, sizeof lpath, "/v1/courts/t-a/items?limit=1&late=false&cursor=%s",
             cursor ? cursor : "");
    json_t *page2 = http_json(c, "GET", lpath, g_tok_a, NULL, NULL, NULL, &st);
    tap(st == 200 && json_array_size(json_object_get(page2, "items")) == 1 &&
            json_is_null(json_object_get(page2, "next_cursor")) &&
            !json_equal(
                json_object_get(json_array_get(json_object_get(page2, "items"), 0), "item_id"),
                json_object_get(json_array_get(json_object_get(list, "items"), 0), "item_id")),
        "list: the next page holds the other item not registered late, and no cursor");
    json_decref(page2);
    json_decref(list);
    json_decref(first);
    json_decref(again);
}

/* ---- numbered ahead, and what the daemon could not foresee ------------------------ */

/* What another instance of the daemon does when it registers an item of
 * `court` after serial `last`: the item, its ItemRegistered in the outbox,
 * the counter moved, in one transaction. 1 when done. */
static long long other_writer_registers(const char *court, long long last)
{
    char id[37], event_id[37], number[96];
    bus_uuid7(id);
    bus_uuid7(event_id);
    snprintf(number, sizeof number, "其他实例〔%lld〕", last + 1);
    Liaison__V1__ItemRegistered ev = LIAISON__V1__ITEM_REGISTERED__INIT;
    ev.item_id = id;
    ev.registration_number = number;
    size_t plen = protobuf_c_message_get_packed_size(&ev.base);
    uint8_t *payload = malloc(plen + 1);
    protobuf_c_message_pack(&ev.base, payload);
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.envelope_version = BUS_ENVELOPE_VERSION;
    env.event_id = event_id;
    env.type = "liaison.v1.ItemRegistered";
    env.stream = "intake";
    env.court_id = (char *)court;
    env.item_id = id;
    env.correlation_id = event_id;
    env.producer = "another-instance";
    env.schema_version = 1;
    env.payload.data = payload;
    env.payload.len = plen;
    size_t elen = protobuf_c_message_get_packed_size(&env.base);
    uint8_t *envelope = malloc(elen + 1);
    protobuf_c_message_pack(&env.base, envelope);
    char last_s[24];
    snprintf(last_s, sizeof last_s, "%lld", last);
    char *sql = NULL;
    if (asprintf(&sql,
                 "WITH src AS (SELECT to_jsonb(i) AS j FROM %s.item i WHERE court_id = $1 "
                 "  AND registration_serial = $2::bigint), "
                 "ins AS (INSERT INTO %s.item SELECT (jsonb_populate_record(NULL::%s.item, src.j "
                 "  || jsonb_build_object('item_id', $3::uuid, 'idempotency_key', NULL, "
                 "  'registration_serial', $2::bigint + 1, 'registration_number', $4::text))).* "
                 "  FROM src RETURNING 1), "
                 "ev AS (INSERT INTO %s.bus_outbox (stream, event_id, type, envelope) "
                 "  SELECT 'intake', $5::uuid, 'liaison.v1.ItemRegistered', $6::bytea FROM ins "
                 "  RETURNING 1), "
                 "upd AS (UPDATE %s.regnum_counter SET last_serial = last_serial + 1 "
                 "  WHERE court_id = $1 AND last_serial = $2::bigint AND EXISTS (SELECT 1 FROM ev) "
                 "  RETURNING 1) "
                 "SELECT count(*) FROM upd",
                 g_schema, g_schema, g_schema, g_schema, g_schema) < 0)
        sql = NULL;
    const char *params[6] = {court, last_s, id, number, event_id, (const char *)envelope};
    int lengths[6] = {0, 0, 0, 0, 0, (int)elen};
    int formats[6] = {0, 0, 0, 0, 0, 1};
    PGresult *r = sql ? PQexecParams(g_admin, sql, 6, NULL, params, lengths, formats, 0) : NULL;
    long long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
    if (n != 1)
        fprintf(stderr, "# another writer: %s\n", r ? PQresultErrorMessage(r) : "no result");
    PQclear(r);
    free(sql);
    free(payload);
    free(envelope);
    return n;
}

/* The daemon numbers a batch from the counter its last commit left and the
 * roster entries it cached (intake_item.c). Another writer moving the
 * counter, or a roster entry changing under the cache, must neither give a
 * number twice nor store what the roster no longer says. */
static void test_numbered_ahead(CURL *c)
{
    long st;
    char *body = good_body("b1", "先行编号");
    /* the daemon learns t-b's counter from a first registration, and
     * numbers the next one ahead */
    json_decref(
        http_json(c, "POST", "/v1/courts/t-b/items", g_tok_b, "application/json", NULL, body, &st));
    json_t *first =
        http_json(c, "POST", "/v1/courts/t-b/items", g_tok_b, "application/json", NULL, body, &st);
    long long serial = json_integer_value(json_object_get(first, "registration_serial"));
    tap(st == 201 && serial >= 2, "a registration of t-b (serial %lld)", serial);
    /* numbered ahead, its event took its stream position in the registering
     * transaction (009): the stream's head is its position, given at the
     * instant it was written */
    long long positioned = scalar(
        "SELECT count(*) FROM (SELECT seq, sequenced_at = created_at AS at_once FROM %s.bus_outbox "
        "WHERE type = 'liaison.v1.ItemRegistered' ORDER BY id DESC LIMIT 1) e, %s.bus_stream_head "
        "h WHERE h.stream = 'intake' AND e.at_once AND e.seq = h.head",
        g_schema, g_schema);
    tap(positioned == 1, "its event was given the stream's next position in its own transaction");
    /* another writer (another instance of the daemon) registers one: its
     * item (a copy of the last one, numbered serial + 1), its event, and
     * the counter, in one transaction */
    long long moved = other_writer_registers("t-b", serial);
    json_t *next =
        http_json(c, "POST", "/v1/courts/t-b/items", g_tok_b, "application/json", NULL, body, &st);
    long long got = json_integer_value(json_object_get(next, "registration_serial"));
    tap(moved == 1 && st == 201 && got == serial + 2,
        "after another writer took serial %lld, the next registration gets %lld (got %lld)",
        serial + 1, serial + 2, got);
    long long dup = scalar("SELECT count(*) - count(DISTINCT registration_serial) FROM %s.item "
                           "WHERE court_id = 't-b'",
                           g_schema);
    tap(dup == 0, "no serial of t-b twice (%lld)", dup);
    free(body);
    json_decref(first);
    json_decref(next);

    /* the roster entry changes after the daemon cached it */
    body = good_body("a1", "先行编号之后改名");
    json_decref(
        http_json(c, "POST", "/v1/courts/t-a/items", g_tok_a, "application/json", NULL, body, &st));
    scalar("WITH u AS (UPDATE %s.deputy SET name = name || '（更名）' WHERE court_id = 't-a' AND "
           "code = 'a1' RETURNING 1) SELECT count(*) FROM u",
           g_schema);
    json_t *renamed =
        http_json(c, "POST", "/v1/courts/t-a/items", g_tok_a, "application/json", NULL, body, &st);
    char path[160];
    snprintf(path, sizeof path, "/v1/courts/t-a/items/%s",
             json_string_value(json_object_get(renamed, "item_id")));
    json_t *item = http_json(c, "GET", path, g_tok_a, NULL, NULL, NULL, &st);
    const char *name = json_string_value(
        json_object_get(json_array_get(json_object_get(item, "deputies"), 0), "name"));
    tap(name && strstr(name, "（更名）") != NULL,
        "a deputy renamed since the daemon cached it is registered under the new name (%s)",
        name ? name : "?");
    scalar("WITH u AS (UPDATE %s.deputy SET name = replace(name, '（更名）', '') WHERE court_id = "
           "'t-a' AND code = 'a1' RETURNING 1) SELECT count(*) FROM u",
           g_schema);
    json_decref(renamed);
    json_decref(item);
    free(body);
}

/* ---- a court's overrides ---------------------------------------------------- */

/* The last CourtUpserted the court published, unpacked (NULL if none). */
static Liaison__V1__CourtUpserted *last_court_event(const char *court)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT envelope FROM %s.bus_outbox WHERE type = 'liaison.v1.CourtUpserted' "
             "ORDER BY id DESC",
             g_schema);
    PGresult *r = PQexecParams(g_admin, sql, 0, NULL, NULL, NULL, NULL, 1);
    Liaison__V1__CourtUpserted *found = NULL;
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && !found; i++) {
        Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(
            NULL, (size_t)PQgetlength(r, i, 0), (const uint8_t *)PQgetvalue(r, i, 0));
        if (!env)
            continue;
        Liaison__V1__CourtUpserted *m =
            liaison__v1__court_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (m && !strcmp(m->court_id, court))
            found = m;
        else if (m)
            liaison__v1__court_upserted__free_unpacked(m, NULL);
        liaison__v1__envelope__free_unpacked(env, NULL);
    }
    PQclear(r);
    return found;
}

static const char *rule_override(const Liaison__V1__CourtUpserted *m, const char *key)
{
    for (size_t i = 0; i < m->n_rule_overrides; i++)
        if (!strcmp(m->rule_overrides[i]->key, key))
            return m->rule_overrides[i]->value;
    return NULL;
}

typedef struct {
    const char *name;
    const char *extra; /* JSON members after name and template */
    const char *code;
    const char *field;
} court_bad_t;

static const court_bad_t s_court_bad[] = {
    {"a date that does not exist", "\"calendar_overrides\":\"rest = 2026-02-30 停电\\n\"",
     "invalid_value", "calendar_overrides"},
    {"a day without a name", "\"calendar_overrides\":\"rest = 2026-03-02\"", "invalid_value",
     "calendar_overrides"},
    {"a section header", "\"calendar_overrides\":\"[court t-ov]\\nrest = 2026-03-02 停电\"",
     "invalid_value", "calendar_overrides"},
    {"a national notice line", "\"calendar_overrides\":\"notice = 国办发明电\"", "invalid_value",
     "calendar_overrides"},
    {"one day twice", "\"calendar_overrides\":\"rest = 2026-03-02 停电\\nwork = 2026-03-02 值班\"",
     "invalid_value", "calendar_overrides"},
    {"a control character", "\"calendar_overrides\":\"rest = 2026-03-02 \\u0001\"", "invalid_value",
     "calendar_overrides"},
    {"calendar_overrides not a string", "\"calendar_overrides\":7", "wrong_type",
     "calendar_overrides"},
    {"a good rule set with bad days",
     "\"rule_overrides\":{\"transfer.unit\":\"workdays\"},\"calendar_overrides\":\"rest = x\"",
     "invalid_value", "calendar_overrides"},
    {"an unknown unit", "\"rule_overrides\":{\"transfer.unit\":\"fortnights\"}", "invalid_value",
     "rule_overrides.transfer.unit"},
    {"an unknown rule", "\"rule_overrides\":{\"nosuch.amount\":\"1\"}", "invalid_value",
     "rule_overrides.nosuch.amount"},
    {"a key without a setting", "\"rule_overrides\":{\"transfer\":\"1\"}", "invalid_value",
     "rule_overrides.transfer"},
    {"a value that is not a string", "\"rule_overrides\":{\"transfer.amount\":3}", "invalid_value",
     "rule_overrides.transfer.amount"},
    {"rule_overrides not an object", "\"rule_overrides\":[\"transfer.amount\"]", "wrong_type",
     "rule_overrides"},
};

static long long court_count(const char *court)
{
    return scalar("SELECT count(*) FROM %s.court WHERE court_id = '%s'", g_schema, court);
}

/* PUT a court; the answer's status, and its problem's code and field. */
static long put_court(CURL *c, const char *court, const char *extra, char *code, char *field,
                      size_t size, json_t **answer)
{
    char path[128], *body = NULL;
    snprintf(path, sizeof path, "/v1/courts/%s", court);
    if (asprintf(&body,
                 "{\"name\":\"%s "
                 "测试法院\",\"registration_number_template\":\"联〔{year}〕{seq}号\"%s%s}",
                 court, extra ? "," : "", extra ? extra : "") < 0)
        return -1;
    resp_t r;
    http(c, "PUT", path, g_op, "application/json", NULL, body, strlen(body), &r);
    free(body);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    const char *cd = json_string_value(json_object_get(j, "code"));
    const char *fd = json_string_value(json_object_get(j, "field"));
    snprintf(code, size, "%s", cd ? cd : "");
    snprintf(field, size, "%s", fd ? fd : "");
    if (r.status >= 400 && !strstr(r.content_type, "application/problem+json"))
        snprintf(code, size, "not problem+json: %s", r.content_type);
    if (answer)
        *answer = j;
    else
        json_decref(j);
    free(r.body);
    return r.status;
}

static void test_court_overrides(CURL *c)
{
    char code[200], field[200];
    long long outbox = scalar("SELECT count(*) FROM %s.bus_outbox", g_schema);
    for (size_t i = 0; i < sizeof s_court_bad / sizeof s_court_bad[0]; i++) {
        const court_bad_t *b = &s_court_bad[i];
        long st = put_court(c, "t-ov", b->extra, code, field, sizeof code, NULL);
        tap(st == 422 && !strcmp(code, b->code) && !strcmp(field, b->field),
            "court refused: %s -> %ld %s field=%s", b->name, st, code, field);
    }
    tap(court_count("t-ov") == 0 &&
            scalar("SELECT count(*) FROM %s.bus_outbox", g_schema) == outbox,
        "refused courts: nothing stored, nothing published");

    /* Accepted: stored as given, published with the event. */
    const char *good = "\"rule_overrides\":{\"answer-between.reminders\":\"10,3\","
                       "\"answer-between.urge-interval\":\"3\"},"
                       "\"calendar_overrides\":\"# 本院\\nrest = 2025-09-01 院庆\\n\"";
    json_t *j = NULL;
    long st = put_court(c, "t-ov", good, code, field, sizeof code, &j);
    const char *cal = json_string_value(json_object_get(j, "calendar_overrides"));
    const char *rem = json_string_value(
        json_object_get(json_object_get(j, "rule_overrides"), "answer-between.reminders"));
    tap(st == 201 && cal && !strcmp(cal, "# 本院\nrest = 2025-09-01 院庆\n") && rem &&
            !strcmp(rem, "10,3"),
        "a court with overrides is created and answered with them (%ld)", st);
    json_decref(j);
    Liaison__V1__CourtUpserted *m = last_court_event("t-ov");
    tap(m && m->revision == 1 &&
            !strcmp(m->calendar_overrides, "# 本院\nrest = 2025-09-01 院庆\n") &&
            m->n_rule_overrides == 2 && rule_override(m, "answer-between.reminders") &&
            !strcmp(rule_override(m, "answer-between.reminders"), "10,3") &&
            rule_override(m, "answer-between.urge-interval") &&
            !strcmp(rule_override(m, "answer-between.urge-interval"), "3"),
        "CourtUpserted carries the calendar and rule overrides");
    if (m)
        liaison__v1__court_upserted__free_unpacked(m, NULL);

    /* A bad change of an existing court leaves it as it was. */
    outbox = scalar("SELECT count(*) FROM %s.bus_outbox", g_schema);
    st = put_court(c, "t-ov", "\"calendar_overrides\":\"rest = 2025-13-01 x\"", code, field,
                   sizeof code, NULL);
    tap(st == 422 && !strcmp(field, "calendar_overrides"),
        "changing a court to bad days is refused (%ld %s)", st, field);
    tap(scalar("SELECT count(*) FROM %s.court WHERE court_id = 't-ov' AND revision = 1 AND "
               "calendar_overrides LIKE '%%院庆%%' AND rule_overrides ? 'answer-between.reminders'",
               g_schema) == 1 &&
            scalar("SELECT count(*) FROM %s.bus_outbox", g_schema) == outbox,
        "... and the stored court and the outbox are unchanged");

    /* Clearing them publishes the change, with none. */
    st = put_court(c, "t-ov", NULL, code, field, sizeof code, NULL);
    m = last_court_event("t-ov");
    tap(st == 200 && m && m->revision == 2 && !*m->calendar_overrides && m->n_rule_overrides == 0,
        "clearing the overrides publishes revision 2 without them (%ld)", st);
    if (m)
        liaison__v1__court_upserted__free_unpacked(m, NULL);
}

/* Row-level security is the second wall: a transaction bound to court A
 * sees none of court B's rows even when asked for them by name, and
 * cannot write a row of court B. */
static void test_rls(void)
{
    const char *dsn = getenv("LIAISON_PG_ADMIN_DSN");
    char sql[1024];
    /* separate statements: inside one multi-statement query, SET ROLE would
     * belong to the transaction BEGIN opens, and ROLLBACK would undo it */
    snprintf(sql, sizeof sql, "SET search_path = %s", g_schema);
    PGconn *c = PQconnectdb(dsn);
    PQclear(PQexec(c, "SET ROLE liaison_intake"));
    PQclear(PQexec(c, sql));
    PQclear(PQexec(c, "BEGIN"));
    PQclear(PQexec(c, "SELECT set_config('liaison.court', 't-a', true)"));
    long long seen_b = -1, seen_a = -1;
    PGresult *r = PQexec(c, "SELECT count(*) FROM item WHERE court_id = 't-b'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        seen_b = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    r = PQexec(c, "SELECT count(*) FROM item WHERE court_id = 't-a'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        seen_a = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    tap(seen_b == 0 && seen_a > 0,
        "RLS: bound to court A, the service role sees %lld of A's and %lld "
        "of B's items",
        seen_a, seen_b);
    r = PQexec(c, "UPDATE deputy SET name = 'x' WHERE court_id = 't-b'");
    tap(PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdTuples(r), "0"),
        "RLS: ... and changes none of B's deputies");
    PQclear(r);
    r = PQexec(c, "INSERT INTO regnum_counter VALUES ('t-b', 2026, 999)");
    tap(PQresultStatus(r) == PGRES_FATAL_ERROR, "RLS: ... and cannot insert a row of court B");
    PQclear(r);
    PQclear(PQexec(c, "ROLLBACK"));
    PQclear(PQexec(c, "BEGIN"));
    r = PQexec(c, "SELECT count(*) FROM item");
    tap(PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "0"),
        "RLS: a transaction that set no court sees nothing");
    PQclear(r);
    PQfinish(c);
}

/* ---- what an operator sees -------------------------------------------------- */

/* One value of the daemon's /metrics, e.g. `liaison_workpool_queued{pool="intake"}`;
 * -1 when absent. */
static double metric(CURL *c, const char *series)
{
    resp_t r;
    double v = -1;
    if (http(c, "GET", "/metrics", NULL, NULL, NULL, NULL, 0, &r) == 0 && r.status == 200)
        v = test_metric_value(r.body, series);
    free(r.body);
    return v;
}

static size_t s_sink(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

/* n requests of path with token at once (curl multi: n connections, so the
 * daemon's workers take them side by side); how many were answered status. */
static int parallel_status(const char *token, const char *path, int n, long status)
{
    CURLM *m = curl_multi_init();
    CURL *h[64];
    char url[512], auth[256];
    struct curl_slist *hs = NULL;
    snprintf(url, sizeof url, "%s%s", g_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    hs = curl_slist_append(hs, auth);
    n = n > 64 ? 64 : n;
    for (int i = 0; i < n; i++) {
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hs);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, s_sink);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 10L);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running > 0) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int got = 0;
    for (int i = 0; i < n; i++) {
        long st = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
        got += st == status;
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_slist_free_all(hs);
    curl_multi_cleanup(m);
    return got;
}

/* A revoked token is refused from the very next request, whichever worker
 * takes it: the workers that had it cached forget it (intake_worker_changed),
 * they do not wait for the cache to expire. */
static void test_token_revoked(CURL *c)
{
    char tok[128], hash[65], path[128];
    if (make_token(c, "liaison_office", "t-a", tok) != 0) {
        tap(false, "token revoked: a new token");
        return;
    }
    const char *read = "/v1/courts/t-a/items?limit=1";
    int before = parallel_status(tok, read, 32, 200);
    tap(before == 32, "token revoked: before, 32 reads at once are answered (%d of 32)", before);
    auth_hash(tok, hash);
    snprintf(path, sizeof path, "/v1/tokens/%s/revoke", hash);
    long st;
    json_t *j = http_json(c, "POST", path, g_op, "application/json", NULL, "{}", &st);
    tap(st == 200 && json_is_true(json_object_get(j, "revoked")), "token revoked: revoke -> 200");
    json_decref(j);
    int after = parallel_status(tok, read, 32, 401);
    tap(after == 32, "token revoked: at once, 32 reads at once are refused 401 (%d of 32)", after);
    j = http_json(c, "GET", read, g_tok_a, NULL, NULL, NULL, &st);
    tap(st == 200, "token revoked: another token of the court still reads -> %ld", st);
    json_decref(j);
}

static void test_metrics(CURL *c)
{
    /* after the 4,000 concurrent registrations: batches of several, nothing
     * left in the queue */
    double batches = metric(c, "liaison_workpool_batch_size_count{pool=\"intake\"}");
    double jobs = metric(c, "liaison_workpool_batch_size_sum{pool=\"intake\"}");
    tap(jobs >= ITEMS && batches > 0 && batches < jobs,
        "metrics: %.0f registrations in %.0f batches (group commit)", jobs, batches);
    tap(metric(c, "liaison_workpool_queued{pool=\"intake\"}") == 0 &&
            metric(c, "liaison_workpool_refused_total{pool=\"intake\"}") == 0 &&
            metric(c, "liaison_workpool_batch_seconds_count{pool=\"intake\"}") == batches,
        "metrics: nothing queued, nothing refused, every batch timed");
}

int main(void)
{
    const char *dsn = getenv("LIAISON_PG_ADMIN_DSN");
    if (!dsn || !*dsn) {
        printf("ok 1 # SKIP no database (scripts/services up)\n1..1\n");
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    time_t now = time(NULL);
    fmt_instant(now - 5, g_now, sizeof g_now);
    fmt_instant(now - 86400 - 60, g_yesterday, sizeof g_yesterday);
    fmt_instant(now + 3600, g_future, sizeof g_future);
    g_admin = PQconnectdb(dsn);
    if (PQstatus(g_admin) != CONNECTION_OK || start_daemon() != 0) {
        printf("not ok 1 - start a private liaison-intake\n1..1\n");
        stop_daemon();
        return 1;
    }
    CURL *c = curl_easy_init();
    char tmpl_a[64];
    snprintf(tmpl_a, sizeof tmpl_a, "甲法联〔{year}〕{seq}号");
    bool ready = setup_court(c, "t-a", "a", tmpl_a) == 0 &&
                 setup_court(c, "t-b", "b", "乙法联〔{year}〕{seq:4}号") == 0 &&
                 setup_court(c, "t-c", "c", "丙联字〔{year}〕第{seq}号") == 0 &&
                 make_token(c, "liaison_office", "t-a", g_tok_a) == 0 &&
                 make_token(c, "liaison_office", "t-b", g_tok_b) == 0 &&
                 make_token(c, "liaison_office", "t-c", g_tok_c) == 0 &&
                 make_token(c, "leader", "t-a", g_tok_leader_a) == 0;
    tap(ready, "three courts with rosters and tokens");
    if (ready) {
        test_registration(c);
        test_numbered_ahead(c);
        test_bad_requests(c);
        test_court_overrides(c);
        test_rls();
        test_batch_mixed();
        test_batch_rollback();
        test_concurrency();
        test_metrics(c);
        test_token_revoked(c);
    }
    curl_easy_cleanup(c);
    PQfinish(g_admin);
    stop_daemon();
    curl_global_cleanup();
    printf("1..%d\n", g_n);
    return g_failed ? 1 : 0;
}
