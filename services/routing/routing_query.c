/* routing_query — what routing answers without changing anything: an item's
 * workflow and history, the suggested departments, the queues of each role,
 * and the per-court rules (the one write here: PUT rules).
 *
 * Every read runs in a transaction bound to the path's court (row-level
 * security), so a token of court A cannot see court B's items even if a
 * check were missed. Every role of the court reads; queues are per role.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bus.h"
#include "common/log.h"
#include "domain/lifecycle.h"
#include "routing/routing.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX     500

static void s_db_error(routing_job_t *job)
{
    routing_job_problem(job, 503, "database_unavailable", NULL, "The database failed; try again.",
                        "数据库出错，请稍后重试。");
}

/* The API verb of each lifecycle action ("" when it has none). */
static const char *s_verb(domain_action_t a)
{
    switch (a) {
    case DOMAIN_ACTION_PROPOSE:
        return "propose";
    case DOMAIN_ACTION_APPROVE:
        return "approve";
    case DOMAIN_ACTION_NOT_LIST:
        return "decline";
    case DOMAIN_ACTION_REJECT_PLAN:
        return "reject-plan";
    case DOMAIN_ACTION_TRANSFER:
        return "transfer";
    case DOMAIN_ACTION_ACCEPT:
        return "accept";
    case DOMAIN_ACTION_RETURN:
        return "return";
    case DOMAIN_ACTION_MEET:
        return "consult";
    case DOMAIN_ACTION_DRAFT_REPLY:
        return "draft-reply";
    case DOMAIN_ACTION_REJECT_REPLY:
        return "reject-reply";
    case DOMAIN_ACTION_APPROVE_REPLY:
        return "approve-reply";
    case DOMAIN_ACTION_SEND_CO_OPINION:
        return "co-opinion";
    case DOMAIN_ACTION_FORWARD:
        return "forward";
    case DOMAIN_ACTION_REPORT_RESULT:
        return "forward-result";
    case DOMAIN_ACTION_REPLY:
        return "reply";
    case DOMAIN_ACTION_EVALUATE_SATISFIED:
        return "evaluate";
    case DOMAIN_ACTION_CLOSE:
        return "close";
    case DOMAIN_ACTION_REOPEN:
        return "reopen";
    case DOMAIN_ACTION_WITHDRAW:
        return "withdraw";
    case DOMAIN_ACTION_ANSWER_ON_SPOT:
        return "answer-on-spot";
    default:
        return "";
    }
}

json_t *routing_item_view(PGconn *conn, const char *item_id, int64_t now_us)
{
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)now_us);
    const char *p[] = {item_id, now};
    PGresult *res = routing_sql(
        conn,
        "SELECT jsonb_build_object("
        " 'item_id', i.item_id, 'court', i.court_id, 'registration_number', i.registration_number,"
        " 'kind', i.kind, 'domain_kind', i.domain_kind, 'court_role', i.court_role,"
        " 'title', i.title, 'state', i.state, 'round', i.round, 'replies', i.replies,"
        " 'meetings', i.meetings, 'evaluation', i.evaluation, 'opinion', i.opinion,"
        " 'approver_kind', i.approver_kind, 'approver', i.approver_staff_id,"
        " 'approved_date', i.approved_date, 'transferred_date', i.transferred_date,"
        " 'lead_department', i.lead_department_id,"
        " 'receiving_department', i.receiving_department_id,"
        " 'forward', CASE WHEN i.forward_target = '' THEN NULL ELSE jsonb_build_object("
        "   'target', i.forward_target, 'department', i.forward_department_id) END,"
        " 'state_since', to_char(i.state_since AT TIME ZONE 'UTC', "
        "   'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " 'state_age_seconds', greatest(0, floor($2::bigint / 1e6 - extract(epoch FROM "
        "   i.state_since)))::bigint,"
        " 'version', i.version,"
        " 'deputies', (SELECT coalesce(jsonb_agg(jsonb_build_object('deputy', d.deputy_id,"
        "   'name', d.name, 'lead', d.lead,"
        "   'replied', EXISTS (SELECT 1 FROM reply_sent s WHERE s.item_id = d.item_id"
        "     AND s.round = i.round AND s.deputy_id = d.deputy_id),"
        "   'evaluation', (SELECT e.satisfaction FROM evaluation e WHERE e.item_id = d.item_id"
        "     AND e.round = i.round AND e.deputy_id = d.deputy_id)) ORDER BY d.position), '[]')"
        "   FROM item_deputy d WHERE d.item_id = i.item_id),"
        " 'assignments', (SELECT coalesce(jsonb_agg(jsonb_build_object('department',"
        "   a.department_id, 'name', a.department_name, 'role', a.role, 'instructions',"
        "   a.instructions) ORDER BY a.role DESC, a.created_at, a.department_id), '[]')"
        "   FROM assignment a WHERE a.item_id = i.item_id AND a.active),"
        " 'reply', (SELECT jsonb_build_object('reply_id', r.reply_id, 'revision', r.revision,"
        "   'category', r.category, 'status', r.status, 'department', r.department_id,"
        "   'text', r.text) FROM reply r WHERE r.item_id = i.item_id AND r.round = i.round"
        "   ORDER BY r.revision DESC LIMIT 1)"
        ")::text, i.domain_kind, i.court_role, i.state, i.deputies, i.replies, i.round "
        "FROM item i WHERE i.item_id = $1",
        2, p, NULL);
    if (!res)
        return NULL;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return NULL;
    }
    json_t *view = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    domain_item_t dom;
    domain_kind_t kind;
    domain_role_t role;
    domain_state_t state;
    if (view && domain_kind_parse(PQgetvalue(res, 0, 1), &kind) == 0 &&
        domain_role_parse(PQgetvalue(res, 0, 2), &role) == 0 &&
        domain_state_parse(PQgetvalue(res, 0, 3), &state) == 0 &&
        domain_item_init(&dom, kind, role, (uint32_t)atoi(PQgetvalue(res, 0, 4))) == 0) {
        dom.state = state;
        dom.replies = (uint32_t)atoi(PQgetvalue(res, 0, 5));
        dom.round = (uint32_t)atoi(PQgetvalue(res, 0, 6));
        json_object_set_new(view, "state_zh", json_string(domain_state_name_zh(state)));
        json_object_set_new(view, "final", json_boolean(domain_state_is_final(state)));
        /* What the lifecycle allows next (whoever may do it). */
        json_t *allowed = json_array();
        for (int a = 0; a < DOMAIN_ACTION_COUNT; a++) {
            const char *verb = s_verb((domain_action_t)a);
            if (*verb && domain_item_can(&dom, (domain_action_t)a))
                json_array_append_new(allowed, json_string(verb));
        }
        if (domain_item_can(&dom, DOMAIN_ACTION_EVALUATE_UNSATISFIED) &&
            !domain_item_can(&dom, DOMAIN_ACTION_EVALUATE_SATISFIED))
            json_array_append_new(allowed, json_string("evaluate"));
        json_object_set_new(view, "allowed", allowed);
    }
    PQclear(res);
    return view;
}

/* A read-only transaction bound to the court, after the token's checks. */
static PGconn *s_begin(routing_worker_t *w, routing_job_t *job, auth_token_t *tok)
{
    PGconn *conn = routing_worker_conn(w);
    if (!routing_authenticate(job, conn, tok))
        return NULL;
    if (routing_sql_begin(conn, job->court) != 0) {
        s_db_error(job);
        return NULL;
    }
    return conn;
}

static bool s_item_id_ok(routing_job_t *job)
{
    if (job->id && bus_uuid_valid(job->id))
        return true;
    routing_job_problem(job, 404, "not_found", NULL, "No such item in this court.",
                        "本院没有该事项。");
    return false;
}

void routing_item_get(routing_worker_t *w, routing_job_t *job)
{
    auth_token_t tok;
    if (!s_item_id_ok(job))
        return;
    PGconn *conn = s_begin(w, job, &tok);
    if (!conn)
        return;
    json_t *view = routing_item_view(conn, job->id, clock_now_us(routing_worker_clock(w)));
    routing_sql_rollback(conn);
    if (view)
        routing_job_answer(job, 200, view);
    else
        routing_job_problem(job, 404, "not_found", NULL, "No such item in this court.",
                            "本院没有该事项。");
}

void routing_item_history(routing_worker_t *w, routing_job_t *job)
{
    auth_token_t tok;
    if (!s_item_id_ok(job))
        return;
    PGconn *conn = s_begin(w, job, &tok);
    if (!conn)
        return;
    const char *p[] = {job->id};
    PGresult *res = routing_sql(
        conn,
        "SELECT (SELECT state FROM item WHERE item_id = $1), coalesce(jsonb_agg(jsonb_build_object("
        " 'n', n, 'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " 'action', action, 'from', from_state, 'to', to_state, 'round', round, 'actor', actor,"
        " 'detail', detail, 'event_id', event_id, 'event_type', event_type) ORDER BY n), "
        "'[]')::text"
        " FROM history WHERE item_id = $1",
        1, p, NULL);
    routing_sql_rollback(conn);
    if (!res)
        return s_db_error(job);
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return routing_job_problem(job, 404, "not_found", NULL, "No such item in this court.",
                                   "本院没有该事项。");
    }
    json_t *steps = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    routing_job_answer(job, 200,
                       json_pack("{s:s, s:s, s:o}", "item_id", job->id, "state",
                                 PQgetvalue(res, 0, 0), "history", steps ? steps : json_array()));
    PQclear(res);
}

void routing_item_suggestions(routing_worker_t *w, routing_job_t *job)
{
    auth_token_t tok;
    if (!s_item_id_ok(job))
        return;
    PGconn *conn = s_begin(w, job, &tok);
    if (!conn)
        return;
    const char *p[] = {job->id};
    PGresult *res = routing_sql(
        conn,
        "SELECT (SELECT count(*) FROM item WHERE item_id = $1), coalesce(jsonb_agg("
        " jsonb_build_object('department', department_id, 'name', name, 'role', role, 'rule',"
        " rule_id, 'priority', priority) ORDER BY o), '[]')::text FROM ("
        "SELECT r.department_id, d.name, r.role, r.rule_id, r.priority, row_number() OVER ("
        " ORDER BY r.priority DESC, ((r.domain_kind IS NOT NULL)::int + (r.keyword IS NOT "
        "NULL)::int"
        " + (r.deputy_sector IS NOT NULL)::int) DESC, r.rule_id) AS o FROM suggestion_rule r "
        "JOIN item i ON i.item_id = $1 AND i.court_id = r.court_id "
        "JOIN dir_department d ON d.court_id = r.court_id AND d.department_id = r.department_id"
        " AND d.active "
        "WHERE (r.domain_kind IS NULL OR r.domain_kind = i.domain_kind) "
        "  AND (r.keyword IS NULL OR strpos(i.title || ' ' || i.content, r.keyword) > 0) "
        "  AND (r.deputy_sector IS NULL OR EXISTS (SELECT 1 FROM item_deputy x "
        "       JOIN dir_deputy y ON y.court_id = x.court_id AND y.deputy_id = x.deputy_id "
        "       WHERE x.item_id = i.item_id AND y.sector = r.deputy_sector))) s",
        1, p, NULL);
    routing_sql_rollback(conn);
    if (!res)
        return s_db_error(job);
    if (atoi(PQgetvalue(res, 0, 0)) != 1) {
        PQclear(res);
        return routing_job_problem(job, 404, "not_found", NULL, "No such item in this court.",
                                   "本院没有该事项。");
    }
    json_t *rules = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    PQclear(res);
    routing_job_answer(
        job, 200,
        json_pack("{s:s, s:o}", "item_id", job->id, "suggestions", rules ? rules : json_array()));
}

/* ---- queues -------------------------------------------------------------------- */

/* Each queue: who sees it and which items are in it. Parameters of `where`:
 * $1 the token's staff, $2 the department asked about, $3 true when the
 * role sees the whole court (liaison office, auditor, operator). */
typedef struct {
    const char *name;
    const char *title_zh;
    unsigned roles; /* bit per auth_role_t */
    const char *where;
} queue_def_t;

#define R(r) (1u << (r))
/* Every statement names its three parameters with their types, whether its
 * queue's condition uses them or not (PostgreSQL must know each type). */
#define S_TYPED                                                                                    \
    "($1::text IS NULL OR true) AND ($2::text IS NULL OR true) AND ($3::bool IS NULL OR true)"
#define ALL_COURT (R(AUTH_ROLE_LIAISON_OFFICE) | R(AUTH_ROLE_AUDITOR) | R(AUTH_ROLE_OPERATOR))

static const queue_def_t s_queues[] = {
    {"awaiting-approval", "待我审批的拟办意见", ALL_COURT | R(AUTH_ROLE_LEADER),
     "i.state = 'awaiting-approval' AND ($3 OR i.approver_staff_id = $1)"},
    {"reply-signoff", "待我审批的答复文稿", ALL_COURT | R(AUTH_ROLE_LEADER),
     "i.state = 'reply-drafted' AND ($3 OR EXISTS (SELECT 1 FROM dir_department d WHERE "
     "d.department_id = i.lead_department_id AND d.supervising_staff_id = $1 AND $1 <> ''))"},
    {"department", "本部门在办事项", ALL_COURT | R(AUTH_ROLE_DEPARTMENT),
     "i.state IN ('transferred', 'in-handling', 'reply-drafted', 'reply-approved', 'reopened') "
     "AND EXISTS (SELECT 1 FROM assignment a WHERE a.item_id = i.item_id AND a.active AND "
     "(($3 AND $2 = '') OR a.department_id = dir_ref('department', i.court_id, $2)))"},
    {"awaiting-transfer", "待转交的事项（审批后二日内）", ALL_COURT, "i.state = 'approved'"},
    {"awaiting-proposal", "待提出拟办意见的事项", ALL_COURT,
     "i.state IN ('registered', 'returned', 'reopened')"},
    {"awaiting-reply", "待答复代表的事项", ALL_COURT,
     "i.state IN ('reply-approved', 'not-listed', 'result-reported')"},
    {"awaiting-evaluation", "待代表评价的事项", ALL_COURT, "i.state = 'replied'"},
    {"forwarded", "已转信访部门或监察室、待报送结果", ALL_COURT | R(AUTH_ROLE_DEPARTMENT),
     "i.state = 'forwarded' AND ($3 OR i.forward_department_id = dir_ref('department', "
     "i.court_id, $2))"},
};

static const char *s_department_of(routing_job_t *job, const auth_token_t *tok)
{
    if (tok->role == AUTH_ROLE_DEPARTMENT)
        return tok->department;
    const char *d = json_string_value(json_object_get(job->query, "department"));
    return d ? d : "";
}

void routing_queue_summary(routing_worker_t *w, routing_job_t *job)
{
    auth_token_t tok;
    PGconn *conn = s_begin(w, job, &tok);
    if (!conn)
        return;
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)clock_now_us(routing_worker_clock(w)));
    const char *all = (ALL_COURT & R(tok.role)) ? "true" : "false";
    json_t *queues = json_array();
    for (size_t i = 0; i < sizeof s_queues / sizeof s_queues[0]; i++) {
        const queue_def_t *q = &s_queues[i];
        if (!(q->roles & R(tok.role)))
            continue;
        char sql[2048];
        snprintf(sql, sizeof sql,
                 "SELECT count(*), coalesce(greatest(0, floor($4::bigint / 1e6 - extract(epoch "
                 "FROM min(i.state_since))))::bigint, 0) FROM item i WHERE " S_TYPED " AND (%s)",
                 q->where);
        const char *p[] = {tok.staff, s_department_of(job, &tok), all, now};
        PGresult *res = routing_sql(conn, sql, 4, p, NULL);
        if (!res) {
            json_decref(queues);
            routing_sql_rollback(conn);
            return s_db_error(job);
        }
        json_array_append_new(
            queues, json_pack("{s:s, s:s, s:I, s:I}", "queue", q->name, "title_zh", q->title_zh,
                              "count", (json_int_t)atoll(PQgetvalue(res, 0, 0)),
                              "oldest_age_seconds", (json_int_t)atoll(PQgetvalue(res, 0, 1))));
        PQclear(res);
    }
    routing_sql_rollback(conn);
    routing_job_answer(job, 200,
                       json_pack("{s:s, s:s, s:o}", "court", job->court, "role",
                                 auth_role_name(tok.role), "queues", queues));
}

/* Items of a WHERE clause, oldest in their state first, keyset-paged on
 * (state_since, item_id): the cursor is "<µs>_<item id>". */
static void s_list(routing_worker_t *w, routing_job_t *job, PGconn *conn, const char *where,
                   const char *const *params3, json_t *head)
{
    long limit = LIMIT_DEFAULT;
    const char *ls = json_string_value(json_object_get(job->query, "limit"));
    if (ls) {
        char *end;
        limit = strtol(ls, &end, 10);
        if (*end || limit < 1 || limit > LIMIT_MAX) {
            routing_sql_rollback(conn);
            json_decref(head);
            return routing_job_problem(job, 422, "invalid_value", "limit",
                                       "limit is a number from 1 to 500.", "limit 应为 1 至 500。");
        }
    }
    const char *cursor = json_string_value(json_object_get(job->query, "cursor"));
    char cur_us[32] = "", cur_id[40] = "";
    if (cursor) {
        const char *us = strchr(cursor, '_');
        if (!us || us - cursor >= (long)sizeof cur_us || !bus_uuid_valid(us + 1)) {
            routing_sql_rollback(conn);
            json_decref(head);
            return routing_job_problem(job, 422, "invalid_value", "cursor",
                                       "The cursor is not one this service gave.", "cursor 无效。");
        }
        memcpy(cur_us, cursor, (size_t)(us - cursor));
        snprintf(cur_id, sizeof cur_id, "%s", us + 1);
    }
    char now[32], lim[16];
    snprintf(now, sizeof now, "%lld", (long long)clock_now_us(routing_worker_clock(w)));
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    char sql[4096];
    snprintf(sql, sizeof sql,
             "WITH q AS (SELECT i.* FROM item i WHERE " S_TYPED " AND (%s)), "
             "agg AS (SELECT count(*) AS n, coalesce(greatest(0, floor($4::bigint / 1e6 - extract("
             " epoch FROM min(state_since))))::bigint, 0) AS oldest FROM q) "
             "SELECT agg.n, agg.oldest, coalesce((SELECT jsonb_agg(jsonb_build_object("
             " 'item_id', item_id, 'registration_number', registration_number, 'title', title,"
             " 'kind', domain_kind, 'state', state, 'round', round, 'lead_department',"
             " lead_department_id, 'approver', approver_staff_id, 'approved_date', approved_date,"
             " 'transferred_date', transferred_date, 'state_since', to_char(state_since AT TIME "
             " ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'age_seconds', greatest(0, "
             " floor($4::bigint / 1e6 - extract(epoch FROM state_since)))::bigint, 'cursor',"
             " (floor(extract(epoch FROM state_since) * 1e6))::bigint || '_' || item_id) ORDER BY"
             " state_since, item_id) FROM (SELECT * FROM q WHERE $5::text IS NULL OR"
             " (state_since, item_id) > (to_timestamp($5::bigint / 1e6), $6::uuid) ORDER BY"
             " state_since, item_id LIMIT $7::int) page), '[]')::text FROM agg",
             where);
    const char *p[] = {
        params3[0], params3[1], params3[2], now, cursor ? cur_us : NULL, cursor ? cur_id : NULL,
        lim};
    PGresult *res = routing_sql(conn, sql, 7, p, NULL);
    routing_sql_rollback(conn);
    if (!res) {
        json_decref(head);
        return s_db_error(job);
    }
    json_t *items = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    if (!items)
        items = json_array();
    json_t *next = json_null();
    if ((long)json_array_size(items) > limit) {
        json_array_remove(items, (size_t)limit);
        next = json_incref(json_object_get(json_array_get(items, (size_t)limit - 1), "cursor"));
    }
    json_object_set_new(head, "count", json_integer(atoll(PQgetvalue(res, 0, 0))));
    json_object_set_new(head, "oldest_age_seconds", json_integer(atoll(PQgetvalue(res, 0, 1))));
    json_object_set_new(head, "items", items);
    json_object_set_new(head, "next_cursor", next);
    PQclear(res);
    routing_job_answer(job, 200, head);
}

void routing_queue_list(routing_worker_t *w, routing_job_t *job)
{
    auth_token_t tok;
    const queue_def_t *q = NULL;
    for (size_t i = 0; job->id && i < sizeof s_queues / sizeof s_queues[0]; i++)
        if (strcmp(job->id, s_queues[i].name) == 0)
            q = &s_queues[i];
    if (!q) {
        char names[512] = "";
        size_t n = 0;
        for (size_t i = 0; i < sizeof s_queues / sizeof s_queues[0]; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "",
                                  s_queues[i].name);
        return routing_job_problemf(job, 404, "unknown_queue", "queue", "没有该队列。",
                                    "There is no queue %s; the queues are %s.",
                                    job->id ? job->id : "", names);
    }
    PGconn *conn = s_begin(w, job, &tok);
    if (!conn)
        return;
    if (!(q->roles & R(tok.role))) {
        routing_sql_rollback(conn);
        return routing_job_problemf(job, 403, "forbidden_role", "Authorization",
                                    "该令牌的角色没有此队列。", "A %s token has no queue %s.",
                                    auth_role_name(tok.role), q->name);
    }
    const char *p[] = {tok.staff, s_department_of(job, &tok),
                       (ALL_COURT & R(tok.role)) ? "true" : "false"};
    s_list(w, job, conn, q->where, p,
           json_pack("{s:s, s:s, s:s}", "court", job->court, "queue", q->name, "title_zh",
                     q->title_zh));
}

void routing_item_list(routing_worker_t *w, routing_job_t *job)
{
    auth_token_t tok;
    const char *state = json_string_value(json_object_get(job->query, "state"));
    domain_state_t st;
    if (state && domain_state_parse(state, &st) != 0)
        return routing_job_problemf(job, 422, "invalid_value", "state", "没有该状态。",
                                    "There is no state %s.", state);
    PGconn *conn = s_begin(w, job, &tok);
    if (!conn)
        return;
    /* $1: the state or NULL; $2, $3 unused */
    const char *p[] = {state, "", "false"};
    s_list(w, job, conn, "($1::text IS NULL OR i.state = $1)", p,
           json_pack("{s:s}", "court", job->court));
}

/* ---- per-court rules -------------------------------------------------------------- */

void routing_rules_get(routing_worker_t *w, routing_job_t *job)
{
    auth_token_t tok;
    PGconn *conn = s_begin(w, job, &tok);
    if (!conn)
        return;
    const char *p[] = {job->court};
    PGresult *res = routing_sql(
        conn,
        "SELECT jsonb_build_object("
        " 'approvers', (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', domain_kind,"
        "   'approver', approver, 'staff', approver_staff_id) ORDER BY domain_kind), '[]')"
        "   FROM approver_rule WHERE court_id = $1),"
        " 'suggestions', (SELECT coalesce(jsonb_agg(jsonb_build_object('rule', rule_id, 'kind',"
        "   domain_kind, 'keyword', keyword, 'sector', deputy_sector, 'department',"
        "   department_id, 'role', role, 'priority', priority) ORDER BY rule_id), '[]')"
        "   FROM suggestion_rule WHERE court_id = $1),"
        " 'reply_categories', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', code,"
        "   'label', label) ORDER BY code), '[]') FROM reply_category WHERE court_id = $1)"
        ")::text",
        1, p, NULL);
    routing_sql_rollback(conn);
    if (!res)
        return s_db_error(job);
    json_t *rules = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    routing_job_answer(job, 200, rules ? rules : json_object());
}

static bool s_opt_str(json_t *o, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    *out = json_string_value(v);
    return *out && **out && strlen(*out) <= max;
}

/* PUT rules: each key given replaces that table's rows of the court. */
void routing_rules_put(routing_worker_t *w, routing_job_t *job)
{
    auth_token_t tok;
    PGconn *conn = routing_worker_conn(w);
    if (!routing_authenticate(job, conn, &tok))
        return;
    if (tok.role != AUTH_ROLE_LIAISON_OFFICE && tok.role != AUTH_ROLE_OPERATOR)
        return routing_job_problemf(job, 403, "forbidden_role", "Authorization",
                                    "只有联络办可以修改本院规则。",
                                    "Only the liaison office may change the court's rules; this "
                                    "token's role is %s.",
                                    auth_role_name(tok.role));
    json_t *body = job->body ? json_loadb(job->body, job->body_len, 0, NULL) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        return routing_job_problem(job, 400, "invalid_json", NULL,
                                   "The body must be a JSON object.", "请求体应为 JSON 对象。");
    }
    if (routing_sql_begin(conn, job->court) != 0) {
        json_decref(body);
        return s_db_error(job);
    }
    const char *court = job->court;
    const char *pc[] = {court};
    json_t *a;
    size_t i;
    json_t *e;
    char field[64];
    if ((a = json_object_get(body, "approvers"))) {
        if (!json_is_array(a))
            goto bad_approvers;
        PQclear(routing_sql(conn, "DELETE FROM approver_rule WHERE court_id = $1", 1, pc, NULL));
        json_array_foreach(a, i, e)
        {
            const char *kind, *approver, *staff;
            domain_kind_t k;
            snprintf(field, sizeof field, "approvers[%zu]", i);
            if (!s_opt_str(e, "kind", 32, &kind) || !kind || domain_kind_parse(kind, &k) != 0 ||
                !s_opt_str(e, "approver", 32, &approver) || !approver ||
                (strcmp(approver, "president") != 0 && strcmp(approver, "court-leader") != 0) ||
                !s_opt_str(e, "staff", 63, &staff))
                goto bad_approvers;
            const char *p[] = {court, kind, approver, staff ? staff : ""};
            PGresult *res = routing_sql(conn,
                                        "INSERT INTO approver_rule (court_id, domain_kind, "
                                        " approver, approver_staff_id) VALUES ($1, $2, $3, "
                                        " coalesce(dir_ref('staff', $1, $4), ''))",
                                        4, p, NULL);
            if (!res)
                goto bad_approvers;
            PQclear(res);
        }
    }
    if ((a = json_object_get(body, "suggestions"))) {
        if (!json_is_array(a))
            goto bad_suggestions;
        PQclear(routing_sql(conn, "DELETE FROM suggestion_rule WHERE court_id = $1", 1, pc, NULL));
        json_array_foreach(a, i, e)
        {
            const char *kind, *keyword, *sector, *dep, *role;
            domain_kind_t k;
            snprintf(field, sizeof field, "suggestions[%zu]", i);
            if (!json_is_object(e) || !s_opt_str(e, "kind", 32, &kind) ||
                (kind && domain_kind_parse(kind, &k) != 0) ||
                !s_opt_str(e, "keyword", 200, &keyword) || !s_opt_str(e, "sector", 200, &sector) ||
                !s_opt_str(e, "department", 63, &dep) || !dep || !s_opt_str(e, "role", 8, &role) ||
                (role && strcmp(role, "lead") != 0 && strcmp(role, "co") != 0))
                goto bad_suggestions;
            json_t *pr = json_object_get(e, "priority");
            char prio[24];
            snprintf(prio, sizeof prio, "%lld", (long long)(pr ? json_integer_value(pr) : 0));
            const char *p[] = {court, kind, keyword, sector, dep, role ? role : "lead", prio};
            PGresult *res = routing_sql(conn,
                                        "INSERT INTO suggestion_rule (court_id, domain_kind, "
                                        " keyword, deputy_sector, department_id, role, priority) "
                                        "VALUES ($1, $2, $3, $4, dir_ref('department', $1, $5), "
                                        " $6, $7::int)",
                                        7, p, NULL);
            if (!res)
                goto bad_suggestions;
            PQclear(res);
        }
    }
    if ((a = json_object_get(body, "reply_categories"))) {
        if (!json_is_array(a))
            goto bad_categories;
        PQclear(routing_sql(conn, "DELETE FROM reply_category WHERE court_id = $1", 1, pc, NULL));
        json_array_foreach(a, i, e)
        {
            const char *code, *label;
            snprintf(field, sizeof field, "reply_categories[%zu]", i);
            if (!json_is_object(e) || !s_opt_str(e, "code", 16, &code) || !code ||
                !s_opt_str(e, "label", 500, &label))
                goto bad_categories;
            const char *p[] = {court, code, label ? label : ""};
            PGresult *res = routing_sql(
                conn, "INSERT INTO reply_category (court_id, code, label) VALUES ($1, $2, $3)", 3,
                p, NULL);
            if (!res)
                goto bad_categories;
            PQclear(res);
        }
    }
    json_decref(body);
    if (routing_sql_commit(conn, NULL) != 0) {
        routing_sql_rollback(conn);
        return s_db_error(job);
    }
    routing_rules_get(w, job);
    return;
bad_approvers:
    routing_sql_rollback(conn);
    json_decref(body);
    return routing_job_problem(job, 422, "invalid_value", "approvers",
                               "approvers: [{kind: a lifecycle kind, approver: president|"
                               "court-leader, staff: optional staff id}].",
                               "approvers 格式错误。");
bad_suggestions:
    routing_sql_rollback(conn);
    json_decref(body);
    return routing_job_problem(job, 422, "invalid_value", "suggestions",
                               "suggestions: [{department, role: lead|co, kind?, keyword?, "
                               "sector?, priority?}].",
                               "suggestions 格式错误。");
bad_categories:
    routing_sql_rollback(conn);
    json_decref(body);
    return routing_job_problem(job, 422, "invalid_value", "reply_categories",
                               "reply_categories: [{code: 1-16 letters or digits, label}].",
                               "reply_categories 格式错误。");
}
