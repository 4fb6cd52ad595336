/* deadline_http — the deadline daemon's HTTP views (ARCHITECTURE.md §5).
 *
 *   GET  /v1/deadlines                 list: ?court= &overdue=true
 *                                      &department= &item= &limit= (<= 1000)
 *   GET  /v1/deadlines/{id}            one deadline: due date, explanation,
 *                                      stage schedule and history
 *   POST /v1/calendar/reload           re-read the calendar file and
 *                                      recompute the pending deadlines it
 *                                      changes (operator; as SIGHUP does)
 *
 * Every request carries a bearer token (auth.h). A court's tokens see that
 * court; operators see every court, and must name none.
 *
 * Handlers run on the loop and answer later: the token and then the view
 * are read with the loop's non-blocking connection (pg.h); the JSON is built
 * by PostgreSQL (json_agg), so the loop only passes it through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/bus.h"
#include "common/http.h"
#include "common/log.h"
#include "common/pg.h"
#include "deadline/deadline_http.h"

enum { VIEW_LIST, VIEW_ONE, VIEW_RELOAD };

struct deadline_http {
    pg_t *pg;
    deadline_ctx_t *ctx;
};

typedef struct {
    deadline_http_t *h;
    http_request_t *req; /* NULL once the request is gone */
    int kind;
    char hash[65];
    char court[64], department[128], item[128], id[37];
    bool overdue;
    int limit;
} view_t;

static void s_cancel(http_request_t *req, void *arg)
{
    view_t *v = arg;
    v->req = NULL;
}

static void s_view_result(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    view_t *v = arg;
    if (v->req) {
        if (error || PQntuples(res) != 1) {
            if (!error && v->kind == VIEW_ONE)
                http_respond_problem(v->req, 404, "deadline_not_found", "No such deadline.",
                                     "没有该期限。", "id");
            else
                http_respond_problem(v->req, 503, "database_unavailable",
                                     "The deadline store did not answer.",
                                     "期限数据库暂时无法访问。", NULL);
        } else {
            json_error_t jerr;
            json_t *body = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
            if (body)
                http_respond_json(v->req, 200, body);
            else
                http_respond_problem(v->req, 500, "internal", "Bad view.", "视图错误。", NULL);
        }
    }
    free(v);
}

static const char s_list_sql[] =
    "SELECT coalesce(json_agg(x ORDER BY x.due_at_us, x.id), '[]'::json)::text FROM ("
    " SELECT id, court_id, item_id, registration_number, rule_id, round, department_id, stage,"
    "  urge_count, to_char(due_date, 'YYYY-MM-DD') AS due_date, due_at_us, next_fire_at,"
    "  schedule_kind[next_step] AS next_stage, provisional, calendar_version,"
    "  supervising_leader_id,"
    "  (stage IN ('due', 'urged', 'escalated') OR"
    "   (stage IN ('pending', 'reminded') AND due_at_us <= $5::bigint)) AS overdue"
    " FROM deadline"
    " WHERE ($1::text IS NULL OR court_id = $1) AND ($2::text IS NULL OR department_id = $2)"
    "  AND ($3::text IS NULL OR item_id = $3)"
    "  AND (NOT $4::bool OR stage IN ('due', 'urged', 'escalated') OR"
    "       (stage IN ('pending', 'reminded') AND due_at_us <= $5::bigint))"
    " ORDER BY due_at_us, id LIMIT $6::int) x";

static const char s_one_sql[] =
    "SELECT json_build_object("
    "  'id', d.id, 'court_id', d.court_id, 'item_id', d.item_id,"
    "  'registration_number', d.registration_number, 'rule_id', d.rule_id, 'round', d.round,"
    "  'department_id', d.department_id, 'supervising_leader_id', d.supervising_leader_id,"
    "  'trigger_date', to_char(d.trigger_date, 'YYYY-MM-DD'),"
    "  'due_date', to_char(d.due_date, 'YYYY-MM-DD'), 'due_at_us', d.due_at_us,"
    "  'time_zone', d.time_zone, 'calendar_version', d.calendar_version,"
    "  'provisional', d.provisional, 'explanation', d.explanation, 'stage', d.stage,"
    "  'urge_count', d.urge_count, 'result_reported', d.result_reported,"
    "  'met_date', to_char(d.met_date, 'YYYY-MM-DD'), 'met_late', d.met_late,"
    "  'cancel_reason', d.cancel_reason, 'next_fire_at', d.next_fire_at,"
    "  'schedule', (SELECT json_agg(json_build_object('step', k.n, 'stage', k.kind,"
    "       'at_us', d.schedule_at[k.n], 'fired', k.n < d.next_step) ORDER BY k.n)"
    "     FROM unnest(d.schedule_kind) WITH ORDINALITY AS k(kind, n)),"
    "  'history', (SELECT coalesce(json_agg(json_build_object('kind', h.kind, 'step', h.step,"
    "       'event_id', h.event_id, 'scheduled_at_us', h.scheduled_at_us,"
    "       'fired_at_us', h.fired_at_us, 'by', h.fired_by, 'detail', h.detail) ORDER BY h.id),"
    "       '[]'::json) FROM deadline_history h WHERE h.deadline_id = d.id)"
    ")::text FROM deadline d WHERE d.id = $1::uuid AND ($2::text IS NULL OR d.court_id = $2)";

static void s_token_result(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    view_t *v = arg;
    if (!v->req) {
        free(v);
        return;
    }
    if (error) {
        http_respond_problem(v->req, 503, "database_unavailable",
                             "The deadline store did not answer.", "期限数据库暂时无法访问。",
                             NULL);
        free(v);
        return;
    }
    if (PQntuples(res) != 1) {
        http_respond_problem(v->req, 401, "unauthorized", "A valid bearer token is required.",
                             "需要有效的访问令牌。", NULL);
        free(v);
        return;
    }
    const char *court = PQgetvalue(res, 0, 0);
    auth_role_t role = auth_role_parse(PQgetvalue(res, 0, 1));
    auth_token_t tok = {.role = role};
    snprintf(tok.court, sizeof tok.court, "%s", court);
    if (v->kind == VIEW_RELOAD) {
        if (role != AUTH_ROLE_OPERATOR) {
            http_respond_problem(v->req, 403, "forbidden",
                                 "Only an operator may reload the calendar.",
                                 "只有运维人员可以重新加载工作日历。", NULL);
        } else {
            atomic_store(&v->h->ctx->reload_calendar, true);
            json_t *body = json_pack("{s:s}", "status", "reloading");
            http_respond_json(v->req, 202, body);
        }
        free(v);
        return;
    }
    if (v->court[0] && !auth_court_allowed(&tok, v->court)) {
        http_respond_problem(v->req, 403, "forbidden", "This token may not read that court.",
                             "该令牌无权查看该法院的数据。", "court");
        free(v);
        return;
    }
    if (!v->court[0] && role != AUTH_ROLE_OPERATOR)
        snprintf(v->court, sizeof v->court, "%s", court);
    char now_s[24], limit_s[16];
    snprintf(now_s, sizeof now_s, "%lld", (long long)clock_now_us(v->h->ctx->clock));
    snprintf(limit_s, sizeof limit_s, "%d", v->limit);
    int rc;
    if (v->kind == VIEW_LIST) {
        const char *p[6] = {v->court[0] ? v->court : NULL,
                            v->department[0] ? v->department : NULL,
                            v->item[0] ? v->item : NULL,
                            v->overdue ? "t" : "f",
                            now_s,
                            limit_s};
        rc = pg_query(pg, s_list_sql, 6, p, s_view_result, v);
    } else {
        const char *p[2] = {v->id, v->court[0] ? v->court : NULL};
        rc = pg_query(pg, s_one_sql, 2, p, s_view_result, v);
    }
    if (rc != 0) {
        http_respond_problem(v->req, 503, "database_unavailable",
                             "The deadline store did not answer.", "期限数据库暂时无法访问。",
                             NULL);
        free(v);
    }
}

static int s_start(http_request_t *req, deadline_http_t *h, view_t *v)
{
    const char *token = auth_bearer(http_request_header(req, "Authorization"));
    if (!token || strlen(token) > 512) {
        free(v);
        return http_respond_problem(req, 401, "unauthorized", "A valid bearer token is required.",
                                    "需要有效的访问令牌。", NULL);
    }
    auth_hash(token, v->hash);
    v->h = h;
    v->req = req;
    http_request_on_cancel(req, s_cancel, v);
    const char *p[1] = {v->hash};
    if (pg_query(h->pg,
                 "SELECT coalesce(court_id, ''), role FROM auth_token WHERE token_hash = $1 "
                 "AND revoked_at IS NULL",
                 1, p, s_token_result, v) != 0) {
        http_request_on_cancel(req, NULL, NULL);
        free(v);
        return http_respond_problem(req, 503, "database_unavailable",
                                    "The deadline store did not answer.",
                                    "期限数据库暂时无法访问。", NULL);
    }
    return 0;
}

static bool s_copy_arg(http_request_t *req, const char *name, char *out, size_t size)
{
    const char *v = http_request_query(req, name);
    if (!v)
        return true;
    if (strlen(v) >= size) {
        http_respond_problem(req, 400, "invalid_argument", "The argument is too long.",
                             "参数过长。", name);
        return false;
    }
    snprintf(out, size, "%s", v);
    return true;
}

static int s_list(http_request_t *req, void *arg)
{
    view_t *v = calloc(1, sizeof *v);
    if (!v)
        return -1;
    v->kind = VIEW_LIST;
    v->limit = 200;
    if (!s_copy_arg(req, "court", v->court, sizeof v->court) ||
        !s_copy_arg(req, "department", v->department, sizeof v->department) ||
        !s_copy_arg(req, "item", v->item, sizeof v->item)) {
        free(v);
        return 0;
    }
    const char *o = http_request_query(req, "overdue");
    v->overdue = o && (strcmp(o, "true") == 0 || strcmp(o, "1") == 0 || strcmp(o, "yes") == 0);
    const char *l = http_request_query(req, "limit");
    if (l) {
        char *end;
        long n = strtol(l, &end, 10);
        if (*end || n < 1 || n > 1000) {
            free(v);
            return http_respond_problem(req, 400, "invalid_argument",
                                        "limit must be an integer from 1 to 1000.",
                                        "limit 必须是 1 到 1000 的整数。", "limit");
        }
        v->limit = (int)n;
    }
    return s_start(req, arg, v);
}

static int s_one(http_request_t *req, void *arg)
{
    const char *id = http_request_param(req, "id");
    if (!id || !bus_uuid_valid(id))
        return http_respond_problem(req, 400, "invalid_argument", "The deadline id is not a UUID.",
                                    "期限编号格式不正确。", "id");
    view_t *v = calloc(1, sizeof *v);
    if (!v)
        return -1;
    v->kind = VIEW_ONE;
    snprintf(v->id, sizeof v->id, "%s", id);
    return s_start(req, arg, v);
}

static int s_reload(http_request_t *req, void *arg)
{
    view_t *v = calloc(1, sizeof *v);
    if (!v)
        return -1;
    v->kind = VIEW_RELOAD;
    return s_start(req, arg, v);
}

deadline_http_t *deadline_http_new(http_server_t *server, pg_t *pg, deadline_ctx_t *ctx)
{
    deadline_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pg = pg;
    self->ctx = ctx;
    if (http_server_route(server, "GET", "/v1/deadlines", s_list, self) != 0 ||
        http_server_route(server, "GET", "/v1/deadlines/{id}", s_one, self) != 0 ||
        http_server_route(server, "POST", "/v1/calendar/reload", s_reload, self) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void deadline_http_destroy(deadline_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}
