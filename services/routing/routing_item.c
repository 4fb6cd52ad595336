/* routing_item — the workflow commands (Arts. 14–21).
 *
 *   POST /v1/courts/{court}/items/{id}/{action}
 *
 * Every command is one transaction on a worker's connection, in this order,
 * so that nothing is written or announced unless every check passed:
 *
 *   token → court of the token → body (a JSON object) → BEGIN, court bound
 *   for row-level security → Idempotency-Key claimed (or the first answer
 *   replayed) → the item row locked (SELECT … FOR UPDATE: commands on one
 *   item run one after another, other items are not held) → the right of
 *   the token (role, department, the approver, the supervising leader) →
 *   the fields → the lifecycle (domain_item_apply: the one place that says
 *   which transition the regulation allows; refused with the state named)
 *   → the new state, the side tables, the history and the events in the
 *   outbox (bus_publish) → the answer kept for the key → COMMIT.
 *
 * A refusal at any step rolls the transaction back: the item, its history
 * and the stream are exactly as before, and the answer is problem+json
 * with a stable code:
 *   401 unauthorized; 403 wrong_court, forbidden_role, wrong_department,
 *   not_approver, not_supervising_leader; 404 not_found, unknown_action;
 *   409 invalid_state (with "state"), already_replied, already_evaluated,
 *   idempotency_conflict; 422 missing_field, invalid_value, no_approver.
 *
 * Times and dates come from the daemon's clock (the shared test clock
 * moves the whole system), dates in the court's zone.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/bus.h"
#include "common/log.h"
#include "domain/date.h"
#include "domain/lifecycle.h"
#include "domain/utf8.h"
#include "liaison/v1/workflow.pb-c.h"
#include "routing/routing.h"

#define TEXT_MAX_BYTES  (256 * 1024)
#define SHORT_MAX_BYTES 2000
#define ASSIGNMENTS_MAX 20
#define RETRIES         3

/* The item row as the commands read it (s_load). */
enum {
    C_ITEM_ID,
    C_COURT,
    C_DOMAIN_KIND,
    C_COURT_ROLE,
    C_STATE,
    C_ROUND,
    C_DEPUTIES,
    C_REPLIES,
    C_MEETINGS,
    C_EVALUATION,
    C_APPROVER_STAFF,
    C_LEAD_DEPT,
    C_FORWARD_TARGET,
    C_FORWARD_DEPT,
    C_RECEIVING_DEPT,
    C_APPROVER_KIND,
    C_OPINION,
};

typedef struct cmd_t cmd_t;
typedef int(cmd_fn)(cmd_t *c);

struct cmd_t {
    routing_worker_t *w;
    routing_job_t *job;
    PGconn *conn;
    auth_token_t tok;
    json_t *body;
    const char *court;
    char item_id[40];
    PGresult *row;
    domain_item_t dom;
    domain_state_t from; /* the state before the command */
    int64_t now_us;
    char now_us_s[32];
    Liaison__V1__LocalDate today;
    char today_s[DOMAIN_DATE_STRLEN];
    Liaison__V1__Actor actor;
    char actor_name[256];
    char correlation[40];
    json_t *events;    /* [{type, event_id}] in order */
    bool item_written; /* s_save done */
};

/* ---- small helpers --------------------------------------------------------- */

static const char *s_col(cmd_t *c, int col)
{
    return PQgetvalue(c->row, 0, col);
}

static bool s_db_error(cmd_t *c)
{
    routing_job_problem(c->job, 503, "database_unavailable", NULL,
                        "The database failed; try again.", "数据库出错，请稍后重试。");
    return false;
}

static PGresult *s_sql(cmd_t *c, const char *sql, int n, const char *const *p)
{
    PGresult *res = routing_sql(c->conn, sql, n, p, NULL);
    if (!res)
        s_db_error(c);
    return res;
}

static bool s_exec(cmd_t *c, const char *sql, int n, const char *const *p)
{
    PGresult *res = s_sql(c, sql, n, p);
    if (!res)
        return false;
    PQclear(res);
    return true;
}

/* A text field of the body. required: missing or empty is refused. */
static bool s_text(cmd_t *c, const char *key, bool required, size_t max, const char **out)
{
    json_t *v = json_object_get(c->body, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return true;
        routing_job_problemf(c->job, 422, "missing_field", key, "缺少必填字段。",
                             "The field %s is required.", key);
        return false;
    }
    const char *s = json_string_value(v);
    if (!s) {
        routing_job_problemf(c->job, 422, "invalid_value", key, "字段类型错误，应为字符串。",
                             "The field %s must be a string.", key);
        return false;
    }
    if (required && !*s) {
        routing_job_problemf(c->job, 422, "missing_field", key, "必填字段不能为空。",
                             "The field %s must not be empty.", key);
        return false;
    }
    if (strlen(s) > max) {
        routing_job_problemf(c->job, 422, "too_long", key, "字段过长。",
                             "The field %s is longer than %zu bytes.", key, max);
        return false;
    }
    if (!domain_utf8_valid(s, strlen(s))) {
        routing_job_problemf(c->job, 422, "invalid_value", key, "字段不是有效的 UTF-8 文本。",
                             "The field %s is not valid UTF-8.", key);
        return false;
    }
    *out = s;
    return true;
}

static const char *s_or(const char *s, const char *def)
{
    return s ? s : def;
}

static Liaison__V1__ItemState s_proto_state(domain_state_t s)
{
    switch (s) {
    case DOMAIN_STATE_REGISTERED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_REGISTERED;
    case DOMAIN_STATE_AWAITING_APPROVAL:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_AWAITING_APPROVAL;
    case DOMAIN_STATE_APPROVED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_APPROVED;
    case DOMAIN_STATE_NOT_LISTED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_NOT_LISTED;
    case DOMAIN_STATE_TRANSFERRED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_TRANSFERRED;
    case DOMAIN_STATE_IN_HANDLING:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_IN_HANDLING;
    case DOMAIN_STATE_RETURNED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_RETURNED;
    case DOMAIN_STATE_REPLY_DRAFTED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_REPLY_DRAFTED;
    case DOMAIN_STATE_REPLY_APPROVED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_REPLY_APPROVED;
    /* The court's opinion as co-handler went to the lead unit (Art. 14):
     * the court's answer is given, as for a reply. */
    case DOMAIN_STATE_CO_OPINION_SENT:
    case DOMAIN_STATE_REPLIED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_REPLIED;
    case DOMAIN_STATE_EVALUATED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_EVALUATED;
    case DOMAIN_STATE_CLOSED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_CLOSED;
    case DOMAIN_STATE_REOPENED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_REHANDLING;
    case DOMAIN_STATE_ANSWERED_ON_SPOT:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_ANSWERED_ON_THE_SPOT;
    /* The petition or supervision office's result reported (Art. 17) is
     * still the forwarded path, awaiting the answer to the deputy. */
    case DOMAIN_STATE_FORWARDED:
    case DOMAIN_STATE_RESULT_REPORTED:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_FORWARDED;
    case DOMAIN_STATE_WITHDRAWN:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_WITHDRAWN;
    default:
        return LIAISON__V1__ITEM_STATE__ITEM_STATE_UNSPECIFIED;
    }
}

/* ---- rights ------------------------------------------------------------------ */

static bool s_forbidden(cmd_t *c, const char *code, const char *zh, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool s_forbidden(cmd_t *c, const char *code, const char *zh, const char *fmt, ...)
{
    char en[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(en, sizeof en, fmt, ap);
    va_end(ap);
    routing_job_problem(c->job, 403, code, "Authorization", en, zh);
    json_object_set_new(c->job->answer, "role", json_string(auth_role_name(c->tok.role)));
    return false;
}

/* The liaison office (联络办) acts for the court: proposes, transfers,
 * replies, records evaluations, forwards, closes (Arts. 8, 14, 15, 17). */
static bool s_need_office(cmd_t *c, const char *action)
{
    if (c->tok.role == AUTH_ROLE_LIAISON_OFFICE)
        return true;
    return s_forbidden(c, "forbidden_role", "只有联络办可以执行此操作。",
                       "Only the liaison office may %s; this token's role is %s.", action,
                       auth_role_name(c->tok.role));
}

/* Is the token's department assigned to the item (the active plan)? role:
 * "lead", "co" or NULL for any. */
static int s_assigned(cmd_t *c, const char *role)
{
    if (c->tok.role != AUTH_ROLE_DEPARTMENT || !*c->tok.department)
        return 0;
    const char *p[] = {c->item_id, c->tok.department, role};
    PGresult *res = s_sql(c,
                          "SELECT 1 FROM assignment WHERE item_id = $1 AND active "
                          "AND department_id = $2 AND ($3::text IS NULL OR role = $3)",
                          3, p);
    if (!res)
        return -1;
    int n = PQntuples(res) > 0;
    PQclear(res);
    return n;
}

/* A department acts only on its own items (the lead department, or any
 * assigned one when role is NULL). */
static bool s_need_department(cmd_t *c, const char *role, const char *action)
{
    if (c->tok.role != AUTH_ROLE_DEPARTMENT)
        return s_forbidden(c, "forbidden_role", "只有承办部门可以执行此操作。",
                           "Only a handling department may %s; this token's role is %s.", action,
                           auth_role_name(c->tok.role));
    int a = s_assigned(c, role);
    if (a < 0)
        return false;
    if (a == 0)
        return s_forbidden(c, "wrong_department", "该事项未交本部门办理，本部门无权执行此操作。",
                           "The department %s is not the %s department of this item and may not "
                           "%s it.",
                           c->tok.department, role ? role : "assigned", action);
    return true;
}

/* ---- the lifecycle ----------------------------------------------------------- */

/* Apply a lifecycle action to the item (domain/lifecycle.h decides). A
 * refusal answers 409 naming the current state. */
static bool s_apply(cmd_t *c, domain_action_t action)
{
    char err[512];
    domain_state_t before = c->dom.state;
    if (domain_item_apply(&c->dom, action, err, sizeof err) == 0)
        return true;
    char zh[256];
    snprintf(zh, sizeof zh, "事项当前状态为“%s”，不能执行此操作。", domain_state_name_zh(before));
    routing_job_problem(c->job, 409, "invalid_state", NULL, err, zh);
    json_object_set_new(c->job->answer, "state", json_string(domain_state_name(before)));
    json_object_set_new(c->job->answer, "action", json_string(domain_action_name(action)));
    return false;
}

/* Would the action be allowed? Answers the same refusal as s_apply. */
static bool s_can(cmd_t *c, domain_action_t action)
{
    domain_item_t copy = c->dom;
    cmd_t probe = *c;
    probe.dom = copy;
    return s_apply(&probe, action);
}

/* ---- events and history ---------------------------------------------------- */

static Liaison__V1__ItemTransition *s_tr(cmd_t *c, Liaison__V1__ItemTransition *tr,
                                         domain_state_t from, domain_state_t to)
{
    liaison__v1__item_transition__init(tr);
    tr->from = s_proto_state(from);
    tr->to = s_proto_state(to);
    tr->round = (int32_t)c->dom.round;
    return tr;
}

/* Pack and publish one event inside the transaction, and write the history
 * step it announces. detail is stolen. */
static bool s_emit(cmd_t *c, const ProtobufCMessage *msg, const char *action, domain_state_t from,
                   domain_state_t to, json_t *detail)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        json_decref(detail);
        return s_db_error(c);
    }
    protobuf_c_message_pack(msg, buf);
    char event_id[37];
    bus_uuid7(event_id);
    if (!c->correlation[0])
        snprintf(c->correlation, sizeof c->correlation, "%s", event_id);
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.envelope_version = BUS_ENVELOPE_VERSION;
    env.event_id = event_id;
    env.type = (char *)msg->descriptor->name;
    env.stream = ROUTING_STREAM;
    env.court_id = (char *)c->court;
    env.item_id = c->item_id;
    env.occurred_at_us = c->now_us;
    env.correlation_id = c->correlation;
    env.causation_id = "";
    env.producer = ROUTING_PRODUCER;
    env.producer_version = ROUTING_VERSION;
    env.schema_version = 1;
    env.payload.data = buf;
    env.payload.len = len;
    char *error = NULL;
    int rc = bus_publish(c->conn, &env, &error);
    free(buf);
    if (rc != 0) {
        log_error("routing: publish failed", "type=%s error=\"%s\"", env.type, error ? error : "?");
        free(error);
        json_decref(detail);
        return s_db_error(c);
    }
    json_t *actor = json_pack("{s:s, s:s, s:s, s:s}", "role", auth_role_name(c->tok.role), "staff",
                              c->tok.staff, "department", c->tok.department, "name", c->actor_name);
    char *actor_s = json_dumps(actor, JSON_COMPACT);
    char *detail_s = json_dumps(detail ? detail : json_object(), JSON_COMPACT);
    json_decref(actor);
    json_decref(detail);
    char round[16];
    snprintf(round, sizeof round, "%u", c->dom.round);
    const char *p[] = {c->item_id,
                       c->court,
                       c->now_us_s,
                       action,
                       domain_state_name(from),
                       domain_state_name(to),
                       round,
                       actor_s ? actor_s : "{}",
                       detail_s ? detail_s : "{}",
                       event_id,
                       env.type};
    bool ok = s_exec(c,
                     "INSERT INTO history (item_id, court_id, n, at, action, from_state, to_state, "
                     " round, actor, detail, event_id, event_type) "
                     "SELECT $1, $2, coalesce(max(n), 0) + 1, to_timestamp($3::bigint / 1e6), $4, "
                     " $5, $6, $7, $8::jsonb, $9::jsonb, $10::uuid, $11 FROM history "
                     "WHERE item_id = $1",
                     11, p);
    free(actor_s);
    free(detail_s);
    if (ok)
        json_array_append_new(c->events,
                              json_pack("{s:s, s:s}", "type", env.type, "event_id", event_id));
    return ok;
}

/* ---- assignments (the handling plan, 拟办意见) ------------------------------- */

typedef struct {
    const char *department;
    char id[64]; /* the department's id, resolved from a code */
    char name[256];
    const char *role;
    const char *instructions;
} assign_t;

/* Parse body.assignments: 1..ASSIGNMENTS_MAX departments of the court's
 * directory, distinct, exactly one lead. 0 when absent (n = 0). */
static bool s_parse_assignments(cmd_t *c, assign_t *out, size_t *n)
{
    *n = 0;
    json_t *a = json_object_get(c->body, "assignments");
    if (!a || json_is_null(a))
        return true;
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > ASSIGNMENTS_MAX) {
        routing_job_problemf(c->job, 422, "invalid_value", "assignments",
                             "assignments 应为 1 至 20 个承办部门的数组。",
                             "The field assignments must be an array of 1 to %d departments.",
                             ASSIGNMENTS_MAX);
        return false;
    }
    size_t leads = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        const char *dep = json_string_value(json_object_get(e, "department"));
        const char *role = json_string_value(json_object_get(e, "role"));
        const char *ins = json_string_value(json_object_get(e, "instructions"));
        char field[64];
        snprintf(field, sizeof field, "assignments[%zu]", i);
        if (!json_is_object(e) || !dep || !*dep || strlen(dep) > 63 ||
            (role && strcmp(role, "lead") != 0 && strcmp(role, "co") != 0) ||
            (ins && strlen(ins) > SHORT_MAX_BYTES)) {
            routing_job_problem(
                c->job, 422, "invalid_value", field,
                "Each assignment is {\"department\": ID, \"role\": \"lead\"|\"co\", "
                "\"instructions\": TEXT}.",
                "每个承办部门应为 {department, role: lead|co, instructions}。");
            return false;
        }
        for (size_t j = 0; j < *n; j++)
            if (strcmp(out[j].department, dep) == 0) {
                routing_job_problemf(c->job, 422, "invalid_value", field, "承办部门重复。",
                                     "The department %s is named twice.", dep);
                return false;
            }
        const char *p[] = {c->court, dep};
        PGresult *res = s_sql(c,
                              "SELECT name, department_id FROM dir_department WHERE "
                              "department_id = dir_ref('department', $1, $2) AND active",
                              2, p);
        if (!res)
            return false;
        if (PQntuples(res) != 1) {
            PQclear(res);
            routing_job_problemf(c->job, 422, "unknown_department", field,
                                 "本院名录中没有该部门（或已停用）。",
                                 "The court's directory has no active department %s.", dep);
            return false;
        }
        snprintf(out[*n].name, sizeof out[*n].name, "%s", PQgetvalue(res, 0, 0));
        snprintf(out[*n].id, sizeof out[*n].id, "%s", PQgetvalue(res, 0, 1));
        PQclear(res);
        for (size_t j = 0; j < *n; j++)
            if (strcmp(out[j].id, out[*n].id) == 0) {
                routing_job_problemf(c->job, 422, "invalid_value", field, "承办部门重复。",
                                     "The department %s is named twice.", dep);
                return false;
            }
        out[*n].department = out[*n].id;
        out[*n].role = role ? role : (i == 0 ? "lead" : "co");
        out[*n].instructions = ins ? ins : "";
        if (strcmp(out[*n].role, "lead") == 0)
            leads++;
        (*n)++;
    }
    if (leads != 1) {
        routing_job_problem(c->job, 422, "invalid_value", "assignments",
                            "A handling plan names exactly one lead department (主办).",
                            "拟办意见须确定且只确定一个主办部门。");
        return false;
    }
    return true;
}

/* Replace the item's active plan with `a` (this round). */
static bool s_store_assignments(cmd_t *c, const assign_t *a, size_t n)
{
    const char *p0[] = {c->item_id};
    if (!s_exec(c, "UPDATE assignment SET active = false WHERE item_id = $1 AND active", 1, p0))
        return false;
    char round[16];
    snprintf(round, sizeof round, "%u", c->dom.round);
    const char *lead = "";
    for (size_t i = 0; i < n; i++) {
        const char *p[] = {c->item_id, c->court,         round, a[i].department, a[i].name,
                           a[i].role,  a[i].instructions};
        if (!s_exec(c,
                    "INSERT INTO assignment (item_id, court_id, round, department_id, "
                    " department_name, role, instructions) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    7, p))
            return false;
        if (strcmp(a[i].role, "lead") == 0)
            lead = a[i].department;
    }
    const char *p[] = {c->item_id, lead};
    return s_exec(c, "UPDATE item SET lead_department_id = $2 WHERE item_id = $1", 2, p);
}

/* The active plan, for events: arrays owned by the caller (s_free_plan). */
typedef struct {
    size_t n;
    Liaison__V1__DepartmentAssignment *items;
    Liaison__V1__DepartmentAssignment **ptrs;
    PGresult *res;
} plan_t;

static bool s_load_plan(cmd_t *c, plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    const char *p[] = {c->item_id};
    plan->res = s_sql(c,
                      "SELECT department_id, department_name, role, instructions FROM assignment "
                      "WHERE item_id = $1 AND active ORDER BY role DESC, created_at, department_id",
                      1, p);
    if (!plan->res)
        return false;
    plan->n = (size_t)PQntuples(plan->res);
    plan->items = calloc(plan->n + 1, sizeof *plan->items);
    plan->ptrs = calloc(plan->n + 1, sizeof *plan->ptrs);
    if (!plan->items || !plan->ptrs)
        return s_db_error(c);
    for (size_t i = 0; i < plan->n; i++) {
        Liaison__V1__DepartmentAssignment *d = &plan->items[i];
        liaison__v1__department_assignment__init(d);
        d->department_id = PQgetvalue(plan->res, (int)i, 0);
        d->department_name = PQgetvalue(plan->res, (int)i, 1);
        d->role = strcmp(PQgetvalue(plan->res, (int)i, 2), "lead") == 0
                      ? LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_LEAD
                      : LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_CO;
        d->instructions = PQgetvalue(plan->res, (int)i, 3);
        plan->ptrs[i] = d;
    }
    return true;
}

static void s_free_plan(plan_t *plan)
{
    free(plan->items);
    free(plan->ptrs);
    PQclear(plan->res);
    memset(plan, 0, sizeof *plan);
}

static json_t *s_plan_json(const plan_t *plan)
{
    json_t *a = json_array();
    for (size_t i = 0; i < plan->n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "department", plan->items[i].department_id, "role",
                         plan->items[i].role == LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_LEAD
                             ? "lead"
                             : "co"));
    return a;
}

/* ---- suggestions (per-court rule table) ---------------------------------------- */

/* The departments the court's rules suggest for the item: the best lead
 * and the co-handlers, as assignments (names from the directory). */
static bool s_suggest(cmd_t *c, assign_t *out, size_t *n, PGresult **keep)
{
    *n = 0;
    const char *p[] = {c->item_id};
    PGresult *res = s_sql(
        c,
        "SELECT r.department_id, r.role, coalesce(d.name, '') FROM suggestion_rule r "
        "JOIN item i ON i.item_id = $1 AND i.court_id = r.court_id "
        "JOIN dir_department d ON d.court_id = r.court_id AND d.department_id = r.department_id "
        " AND d.active "
        "WHERE (r.domain_kind IS NULL OR r.domain_kind = i.domain_kind) "
        "  AND (r.keyword IS NULL OR strpos(i.title || ' ' || i.content, r.keyword) > 0) "
        "  AND (r.deputy_sector IS NULL OR EXISTS (SELECT 1 FROM item_deputy x "
        "       JOIN dir_deputy y ON y.court_id = x.court_id AND y.deputy_id = x.deputy_id "
        "       WHERE x.item_id = i.item_id AND y.sector = r.deputy_sector)) "
        "ORDER BY r.priority DESC, ((r.domain_kind IS NOT NULL)::int + (r.keyword IS NOT "
        "NULL)::int "
        " + (r.deputy_sector IS NOT NULL)::int) DESC, r.rule_id",
        1, p);
    if (!res)
        return false;
    *keep = res;
    bool lead = false;
    for (int i = 0; i < PQntuples(res) && *n < ASSIGNMENTS_MAX; i++) {
        const char *dep = PQgetvalue(res, i, 0);
        bool is_lead = strcmp(PQgetvalue(res, i, 1), "lead") == 0;
        bool dup = false;
        for (size_t j = 0; j < *n; j++)
            dup |= strcmp(out[j].department, dep) == 0;
        if (dup)
            continue;
        if (is_lead && lead)
            is_lead = false; /* the best lead wins; the next ones co-handle */
        lead |= is_lead;
        out[*n].department = dep;
        snprintf(out[*n].name, sizeof out[*n].name, "%s", PQgetvalue(res, i, 2));
        out[*n].role = is_lead ? "lead" : "co";
        out[*n].instructions = "";
        (*n)++;
    }
    if (!lead && *n)
        out[0].role = "lead";
    return true;
}

/* ---- the commands ---------------------------------------------------------------- */

/* Arts. 14, 15, 8(5): the liaison office proposes the handling opinion
 * (拟办意见) and submits it to the approver chosen by rule. */
static int c_propose(cmd_t *c)
{
    if (!s_need_office(c, "propose a handling plan"))
        return -1;
    const char *opinion, *approver_given;
    if (!s_text(c, "opinion", true, TEXT_MAX_BYTES, &opinion) ||
        !s_text(c, "approver", false, 63, &approver_given))
        return -1;
    assign_t a[ASSIGNMENTS_MAX];
    size_t n = 0;
    PGresult *sugg = NULL;
    if (!s_parse_assignments(c, a, &n))
        return -1;
    if (!s_apply(c, DOMAIN_ACTION_PROPOSE))
        return -1;
    if (n == 0) {
        if (!s_suggest(c, a, &n, &sugg))
            return -1;
        if (n == 0) {
            PQclear(sugg);
            routing_job_problem(c->job, 422, "missing_field", "assignments",
                                "No assignments given and the court's rules suggest none.",
                                "未指定承办部门，本院规则也未给出建议。");
            return -1;
        }
    }
    int rc = -1;
    /* The approver by rule (Arts. 14, 15, 8(5)): the court's approver_rule
     * for the kind, else the regulation's default; then a named staff member:
     * the rule's, the one the office names, the president, or for a court
     * leader the supervising leader of the proposed lead department. */
    const char *lead = "";
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].role, "lead") == 0)
            lead = a[i].department;
    domain_kind_t kind;
    domain_kind_parse(s_col(c, C_DOMAIN_KIND), &kind);
    const char *def = domain_approver_name(domain_kind_approver(kind));
    const char *p[] = {c->court, s_col(c, C_DOMAIN_KIND), def, approver_given, lead};
    PGresult *res = s_sql(
        c,
        "WITH g AS (SELECT dir_ref('staff', $1, $4) AS staff), "
        "r AS (SELECT coalesce((SELECT approver FROM approver_rule WHERE court_id = $1 "
        "   AND domain_kind = $2), $3) AS kind, "
        "  coalesce((SELECT nullif(approver_staff_id, '') FROM approver_rule WHERE court_id = $1 "
        "   AND domain_kind = $2), '') AS staff) "
        "SELECT r.kind, coalesce(nullif(g.staff, ''), nullif(r.staff, ''), "
        " CASE WHEN r.kind = 'president' THEN (SELECT staff_id FROM dir_staff WHERE active "
        "   AND 'president' = ANY (roles) ORDER BY staff_id LIMIT 1) "
        " ELSE coalesce((SELECT nullif(supervising_staff_id, '') FROM dir_department "
        "   WHERE department_id = $5), (SELECT staff_id FROM dir_staff WHERE active "
        "   AND 'court-leader' = ANY (roles) ORDER BY staff_id LIMIT 1)) END, ''), "
        " EXISTS (SELECT 1 FROM dir_staff WHERE staff_id = g.staff AND active "
        "   AND roles && ARRAY['president', 'court-leader']) "
        "FROM r, g",
        5, p);
    if (!res)
        goto done;
    char approver_kind[32], approver[64];
    snprintf(approver_kind, sizeof approver_kind, "%s", PQgetvalue(res, 0, 0));
    snprintf(approver, sizeof approver, "%s", PQgetvalue(res, 0, 1));
    bool given_known = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    PQclear(res);
    if (approver_given && *approver_given && !given_known) {
        routing_job_problemf(
            c->job, 422, "invalid_value", "approver", "指定的审批人不是本院院领导。",
            "The approver %s is not a serving court leader of this court.", approver_given);
        goto done;
    }
    if (!*approver) {
        routing_job_problemf(
            c->job, 422, "no_approver", "approver", "本院名录中没有可审批的院领导，请指定审批人。",
            "The court's directory names no %s to approve this plan; give an approver.",
            approver_kind);
        goto done;
    }
    if (!s_store_assignments(c, a, n))
        goto done;
    const char *q[] = {c->item_id, opinion, approver_kind, approver};
    if (!s_exec(c,
                "UPDATE item SET opinion = $2, approver_kind = $3, approver_staff_id = $4, "
                " approved_date = NULL WHERE item_id = $1",
                4, q))
        goto done;
    plan_t plan;
    if (!s_load_plan(c, &plan))
        goto done;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__HandlingPlanProposed m = LIAISON__V1__HANDLING_PLAN_PROPOSED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.n_assignments = plan.n;
    m.assignments = plan.ptrs;
    m.opinion = (char *)opinion;
    m.approver_kind = strcmp(approver_kind, "president") == 0
                          ? LIAISON__V1__APPROVER_KIND__APPROVER_KIND_PRESIDENT
                          : LIAISON__V1__APPROVER_KIND__APPROVER_KIND_COURT_LEADER;
    m.approver_staff_id = approver;
    m.by = &c->actor;
    json_t *detail = json_pack("{s:o, s:s, s:s, s:s}", "assignments", s_plan_json(&plan), "opinion",
                               opinion, "approver_kind", approver_kind, "approver", approver);
    bool ok = s_emit(c, &m.base, "propose", c->from, c->dom.state, detail);
    s_free_plan(&plan);
    rc = ok ? 0 : -1;
done:
    PQclear(sugg);
    return rc;
}

/* Only the approver chosen when the plan was proposed decides on it. */
static bool s_need_approver(cmd_t *c, const char *action)
{
    const char *approver = s_col(c, C_APPROVER_STAFF);
    if (c->tok.role == AUTH_ROLE_LEADER && *approver && strcmp(c->tok.staff, approver) == 0)
        return true;
    return s_forbidden(c, "not_approver", "只有该事项的审批人可以审批。",
                       "Only the approver of this plan (%s) may %s it.",
                       *approver ? approver : "not chosen yet", action);
}

static int c_approve(cmd_t *c)
{
    if (!s_apply(c, DOMAIN_ACTION_APPROVE) || !s_need_approver(c, "approve"))
        return -1;
    const char *comment;
    assign_t a[ASSIGNMENTS_MAX];
    size_t n;
    if (!s_text(c, "comment", false, TEXT_MAX_BYTES, &comment) || !s_parse_assignments(c, a, &n))
        return -1;
    if (n && !s_store_assignments(c, a, n)) /* approved as changed by the approver */
        return -1;
    const char *p[] = {c->item_id, c->today_s};
    if (!s_exec(c, "UPDATE item SET approved_date = $2::date WHERE item_id = $1", 2, p))
        return -1;
    plan_t plan;
    if (!s_load_plan(c, &plan))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemApproved m = LIAISON__V1__ITEM_APPROVED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.n_assignments = plan.n;
    m.assignments = plan.ptrs;
    m.comment = (char *)s_or(comment, "");
    m.approver_kind = strcmp(s_col(c, C_APPROVER_KIND), "president") == 0
                          ? LIAISON__V1__APPROVER_KIND__APPROVER_KIND_PRESIDENT
                          : LIAISON__V1__APPROVER_KIND__APPROVER_KIND_COURT_LEADER;
    m.by = &c->actor;
    m.approved_date = &c->today;
    json_t *detail = json_pack("{s:o, s:s, s:s}", "assignments", s_plan_json(&plan), "comment",
                               s_or(comment, ""), "approved_date", c->today_s);
    bool ok = s_emit(c, &m.base, "approve", c->from, c->dom.state, detail);
    s_free_plan(&plan);
    return ok ? 0 : -1;
}

/* Art. 15: 不列入办理事项 — still recorded and still answered. */
static int c_decline(cmd_t *c)
{
    const char *reason;
    if (!s_apply(c, DOMAIN_ACTION_NOT_LIST) || !s_need_approver(c, "decline") ||
        !s_text(c, "reason", true, TEXT_MAX_BYTES, &reason))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemNotListed m = LIAISON__V1__ITEM_NOT_LISTED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.reason = (char *)reason;
    m.by = &c->actor;
    m.decided_date = &c->today;
    return s_emit(c, &m.base, "decline", c->from, c->dom.state,
                  json_pack("{s:s}", "reason", reason))
               ? 0
               : -1;
}

static int c_reject_plan(cmd_t *c)
{
    const char *reason;
    if (!s_apply(c, DOMAIN_ACTION_REJECT_PLAN) || !s_need_approver(c, "send back") ||
        !s_text(c, "reason", true, TEXT_MAX_BYTES, &reason))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__HandlingPlanRejected m = LIAISON__V1__HANDLING_PLAN_REJECTED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.reason = (char *)reason;
    m.by = &c->actor;
    return s_emit(c, &m.base, "reject-plan", c->from, c->dom.state,
                  json_pack("{s:s}", "reason", reason))
               ? 0
               : -1;
}

/* Art. 15: 审批后二日内转交承办部门. The approved plan goes; a returned item
 * is re-routed with new assignments; a remark (Art. 16) goes straight to a
 * department (its receiving department by default). */
static int c_transfer(cmd_t *c)
{
    if (!s_need_office(c, "transfer") || !s_apply(c, DOMAIN_ACTION_TRANSFER))
        return -1;
    assign_t a[ASSIGNMENTS_MAX];
    size_t n;
    if (!s_parse_assignments(c, a, &n))
        return -1;
    if (n && c->from == DOMAIN_STATE_APPROVED) {
        routing_job_problem(c->job, 422, "invalid_value", "assignments",
                            "An approved plan is transferred as approved; a new plan needs a new "
                            "approval.",
                            "已审批的拟办意见按审批内容转交；如需变更，须重新报批。");
        return -1;
    }
    if (n && !s_store_assignments(c, a, n))
        return -1;
    if (!n && c->from == DOMAIN_STATE_REGISTERED && *s_col(c, C_RECEIVING_DEPT)) {
        a[0].department = s_col(c, C_RECEIVING_DEPT);
        a[0].name[0] = '\0';
        a[0].role = "lead";
        a[0].instructions = "";
        if (!s_store_assignments(c, a, 1))
            return -1;
    }
    plan_t plan;
    if (!s_load_plan(c, &plan))
        return -1;
    if (plan.n == 0) {
        s_free_plan(&plan);
        routing_job_problem(c->job, 422, "missing_field", "assignments",
                            "The item has no handling department: give assignments.",
                            "该事项尚无承办部门，请指定 assignments。");
        return -1;
    }
    const char *p[] = {c->item_id, c->today_s};
    if (!s_exec(c, "UPDATE item SET transferred_date = $2::date WHERE item_id = $1", 2, p)) {
        s_free_plan(&plan);
        return -1;
    }
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemTransferred m = LIAISON__V1__ITEM_TRANSFERRED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.n_assignments = plan.n;
    m.assignments = plan.ptrs;
    m.by = &c->actor;
    m.transferred_date = &c->today;
    json_t *detail =
        json_pack("{s:o, s:s}", "assignments", s_plan_json(&plan), "transferred_date", c->today_s);
    bool ok = s_emit(c, &m.base, "transfer", c->from, c->dom.state, detail);
    s_free_plan(&plan);
    return ok ? 0 : -1;
}

/* 承办: the lead department takes the item in hand. */
static bool s_accept(cmd_t *c)
{
    domain_state_t from = c->dom.state;
    if (!s_apply(c, DOMAIN_ACTION_ACCEPT))
        return false;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__HandlingStarted m = LIAISON__V1__HANDLING_STARTED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, from, c->dom.state);
    m.department_id = c->tok.department;
    m.handler = &c->actor;
    return s_emit(c, &m.base, "accept", from, c->dom.state,
                  json_pack("{s:s}", "department", c->tok.department));
}

/* A handling step on a transferred item starts the handling first. */
static bool s_in_hand(cmd_t *c)
{
    return c->dom.state != DOMAIN_STATE_TRANSFERRED || s_accept(c);
}

static int c_accept(cmd_t *c)
{
    if (!s_need_department(c, "lead", "take in hand"))
        return -1;
    return s_accept(c) ? 0 : -1;
}

/* 退回: not this department's matter; back to the liaison office. */
static int c_return(cmd_t *c)
{
    const char *reason;
    if (!s_need_department(c, NULL, "return") || !s_apply(c, DOMAIN_ACTION_RETURN) ||
        !s_text(c, "reason", true, TEXT_MAX_BYTES, &reason))
        return -1;
    const char *p[] = {c->item_id};
    if (!s_exec(c, "UPDATE assignment SET active = false WHERE item_id = $1 AND active", 1, p) ||
        !s_exec(c, "UPDATE item SET lead_department_id = '' WHERE item_id = $1", 1, p))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemReturned m = LIAISON__V1__ITEM_RETURNED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.department_id = c->tok.department;
    m.reason = (char *)reason;
    m.by = &c->actor;
    return s_emit(c, &m.base, "return", c->from, c->dom.state,
                  json_pack("{s:s, s:s}", "department", c->tok.department, "reason", reason))
               ? 0
               : -1;
}

static const struct {
    const char *name;
    Liaison__V1__ConsultationMode mode;
} s_modes[] = {
    {"face-to-face", LIAISON__V1__CONSULTATION_MODE__CONSULTATION_MODE_FACE_TO_FACE},
    {"phone", LIAISON__V1__CONSULTATION_MODE__CONSULTATION_MODE_PHONE},
    {"visit", LIAISON__V1__CONSULTATION_MODE__CONSULTATION_MODE_VISIT},
    {"letter", LIAISON__V1__CONSULTATION_MODE__CONSULTATION_MODE_LETTER},
    {"other", LIAISON__V1__CONSULTATION_MODE__CONSULTATION_MODE_OTHER},
};

/* Art. 14: 约见人大代表，听取意见 (面商); Art. 18: communication. */
static int c_consult(cmd_t *c)
{
    const char *date_s, *mode_s, *summary;
    if (!s_need_department(c, "lead", "consult the deputy on") ||
        !s_text(c, "date", false, 10, &date_s) || !s_text(c, "mode", false, 32, &mode_s) ||
        !s_text(c, "summary", true, TEXT_MAX_BYTES, &summary))
        return -1;
    domain_date_t date = {c->today.year, c->today.month, c->today.day};
    if (date_s && domain_date_parse(date_s, &date) != 0) {
        routing_job_problem(c->job, 422, "invalid_value", "date", "The date must be YYYY-MM-DD.",
                            "日期格式应为 YYYY-MM-DD。");
        return -1;
    }
    int mode = -1;
    for (size_t i = 0; i < sizeof s_modes / sizeof s_modes[0]; i++)
        if (strcmp(s_or(mode_s, "face-to-face"), s_modes[i].name) == 0)
            mode = (int)i;
    if (mode < 0) {
        routing_job_problem(c->job, 422, "invalid_value", "mode",
                            "The mode is face-to-face, phone, visit, letter or other.",
                            "方式应为 face-to-face、phone、visit、letter 或 other。");
        return -1;
    }
    json_t *parts = json_object_get(c->body, "participants");
    if (parts && !json_is_array(parts)) {
        routing_job_problem(c->job, 422, "invalid_value", "participants",
                            "participants is an array of names.", "participants 应为姓名数组。");
        return -1;
    }
    if (!s_in_hand(c))
        return -1;
    domain_state_t from = c->dom.state;
    if (!s_apply(c, DOMAIN_ACTION_MEET))
        return -1;
    const char *p[] = {c->item_id};
    PGresult *res =
        s_sql(c, "SELECT deputy_id FROM item_deputy WHERE item_id = $1 ORDER BY position", 1, p);
    if (!res)
        return -1;
    size_t nd = (size_t)PQntuples(res);
    char **ids = calloc(nd + 1, sizeof *ids);
    for (size_t i = 0; ids && i < nd; i++)
        ids[i] = PQgetvalue(res, (int)i, 0);
    Liaison__V1__LocalDate d = LIAISON__V1__LOCAL_DATE__INIT;
    d.year = date.year;
    d.month = date.month;
    d.day = date.day;
    char ds[DOMAIN_DATE_STRLEN];
    domain_date_format(date, ds);
    Liaison__V1__ItemTransition tr;
    Liaison__V1__DeputyConsulted m = LIAISON__V1__DEPUTY_CONSULTED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, from, c->dom.state);
    m.department_id = c->tok.department;
    m.n_deputy_ids = ids ? nd : 0;
    m.deputy_ids = ids;
    m.mode = s_modes[mode].mode;
    m.consulted_date = &d;
    m.summary = (char *)summary;
    m.by = &c->actor;
    json_t *detail =
        json_pack("{s:s, s:s, s:s, s:o}", "date", ds, "mode", s_modes[mode].name, "summary",
                  summary, "participants", parts ? json_incref(parts) : json_array());
    bool ok = s_emit(c, &m.base, "consult", from, c->dom.state, detail);
    free(ids);
    PQclear(res);
    return ok ? 0 : -1;
}

/* Art. 14: a co-handler's opinion goes to the lead unit, not to the deputy.
 * Two cases: the court co-handles a congress item (court_role co): its lead
 * department sends the court's opinion to the lead unit outside the court,
 * which is the court's answer (send-co-opinion); or a co-handling
 * department of the court's plan sends its opinion to the court's lead
 * department (recorded; the item does not move). */
static int c_co_opinion(cmd_t *c)
{
    const char *opinion;
    if (!s_text(c, "opinion", true, TEXT_MAX_BYTES, &opinion))
        return -1;
    bool court_co = strcmp(s_col(c, C_COURT_ROLE), "co") == 0;
    int lead = court_co ? s_assigned(c, "lead") : 0;
    int co = s_assigned(c, "co");
    if (lead < 0 || co < 0)
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__CoHandlerOpinionSubmitted m = LIAISON__V1__CO_HANDLER_OPINION_SUBMITTED__INIT;
    m.item_id = c->item_id;
    m.co_department_id = c->tok.department;
    m.opinion = (char *)opinion;
    m.by = &c->actor;
    if (lead) {
        if (!s_in_hand(c))
            return -1;
        domain_state_t from = c->dom.state;
        if (!s_apply(c, DOMAIN_ACTION_SEND_CO_OPINION))
            return -1;
        m.transition = s_tr(c, &tr, from, c->dom.state);
        m.lead_department_id = ""; /* the lead unit is outside the court */
        return s_emit(c, &m.base, "co-opinion", from, c->dom.state,
                      json_pack("{s:s, s:s, s:s}", "from_department", c->tok.department, "to",
                                "lead-unit", "opinion", opinion))
                   ? 0
                   : -1;
    }
    if (!co)
        return s_need_department(c, "co", "send a co-handler's opinion on") ? 0 : -1;
    /* The court's own lead department is handling: the opinion is recorded
     * while the item is with the departments. */
    if (c->dom.state != DOMAIN_STATE_TRANSFERRED && c->dom.state != DOMAIN_STATE_IN_HANDLING) {
        char en[256], zh[256];
        snprintf(en, sizeof en,
                 "refused: cannot send a co-handler's opinion on an item in state %s (%s): the "
                 "item is not with the departments",
                 domain_state_name(c->dom.state), domain_state_name_zh(c->dom.state));
        snprintf(zh, sizeof zh, "事项当前状态为“%s”，不能提交协办意见。",
                 domain_state_name_zh(c->dom.state));
        routing_job_problem(c->job, 409, "invalid_state", NULL, en, zh);
        json_object_set_new(c->job->answer, "state", json_string(domain_state_name(c->dom.state)));
        return -1;
    }
    m.transition = s_tr(c, &tr, c->dom.state, c->dom.state);
    m.lead_department_id = (char *)s_col(c, C_LEAD_DEPT);
    return s_emit(c, &m.base, "co-opinion", c->dom.state, c->dom.state,
                  json_pack("{s:s, s:s, s:s}", "from_department", c->tok.department, "to",
                            s_col(c, C_LEAD_DEPT), "opinion", opinion))
               ? 0
               : -1;
}

/* Art. 20: the department reports progress to the liaison office (联络办应当
 *与承办部门保持联系，掌握办理进展). Recorded on an item the departments hold;
 * a report that states the handling result (result_reported) stops the
 * escalation of the deadline daemon's urging chain (经两次催办仍未报告办理
 * 结果的, 向分管领导通报). No transition. */
static int c_progress(cmd_t *c)
{
    const char *progress;
    if (!s_need_department(c, NULL, "report progress on") ||
        !s_text(c, "progress", true, TEXT_MAX_BYTES, &progress))
        return -1;
    json_t *rr = json_object_get(c->body, "result_reported");
    if (rr && !json_is_boolean(rr)) {
        routing_job_problem(c->job, 422, "invalid_value", "result_reported",
                            "result_reported is true or false.",
                            "result_reported 应为 true 或 false。");
        return -1;
    }
    domain_state_t st = c->dom.state;
    if (st != DOMAIN_STATE_TRANSFERRED && st != DOMAIN_STATE_IN_HANDLING &&
        st != DOMAIN_STATE_REPLY_DRAFTED && st != DOMAIN_STATE_REPLY_APPROVED) {
        char en[256], zh[256];
        snprintf(en, sizeof en,
                 "refused: cannot report progress on an item in state %s (%s): the item is not "
                 "with the departments",
                 domain_state_name(st), domain_state_name_zh(st));
        snprintf(zh, sizeof zh, "事项当前状态为“%s”，不能报告办理进展。", domain_state_name_zh(st));
        routing_job_problem(c->job, 409, "invalid_state", NULL, en, zh);
        json_object_set_new(c->job->answer, "state", json_string(domain_state_name(st)));
        return -1;
    }
    Liaison__V1__ItemTransition tr;
    Liaison__V1__HandlingProgressReported m = LIAISON__V1__HANDLING_PROGRESS_REPORTED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, st, st);
    m.department_id = c->tok.department;
    m.progress = (char *)progress;
    m.result_reported = json_is_true(rr);
    m.by = &c->actor;
    return s_emit(c, &m.base, "progress", st, st,
                  json_pack("{s:s, s:s, s:b}", "department", c->tok.department, "progress",
                            progress, "result_reported", json_is_true(rr)))
               ? 0
               : -1;
}

/* The reply categories of the court (A/B/C unless configured). */
static bool s_category_ok(cmd_t *c, const char *category, const char *field)
{
    const char *p[] = {c->court, category};
    PGresult *res = s_sql(c,
                          "SELECT CASE WHEN EXISTS (SELECT 1 FROM reply_category WHERE court_id = "
                          "$1) THEN EXISTS (SELECT 1 FROM reply_category WHERE court_id = $1 AND "
                          "code = $2) ELSE $2 IN ('A', 'B', 'C') END",
                          2, p);
    if (!res)
        return false;
    bool ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!ok)
        routing_job_problemf(c->job, 422, "invalid_value", field, "答复类别不在本院配置之列。",
                             "The reply category %s is not one of the court's.", category);
    return ok;
}

/* Art. 14: 承办部门负责拟写答复文稿. */
static int c_draft_reply(cmd_t *c)
{
    const char *category, *text;
    if (!s_need_department(c, "lead", "draft the reply to") ||
        !s_text(c, "category", true, 16, &category) ||
        !s_text(c, "text", true, TEXT_MAX_BYTES, &text) ||
        !s_category_ok(c, category, "category") || !s_in_hand(c))
        return -1;
    domain_state_t from = c->dom.state;
    if (!s_apply(c, DOMAIN_ACTION_DRAFT_REPLY))
        return -1;
    char reply_id[37], round[16];
    bus_uuid7(reply_id);
    snprintf(round, sizeof round, "%u", c->dom.round);
    const char *p[] = {reply_id, c->item_id, c->court, round, c->tok.department, category, text};
    PGresult *res = s_sql(c,
                          "INSERT INTO reply (reply_id, item_id, court_id, round, revision, "
                          " department_id, category, text) "
                          "SELECT $1, $2, $3, $4, coalesce(max(revision), 0) + 1, $5, $6, $7 "
                          "FROM reply WHERE item_id = $2 AND round = $4 RETURNING revision",
                          7, p);
    if (!res)
        return -1;
    int revision = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ReplyDrafted m = LIAISON__V1__REPLY_DRAFTED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, from, c->dom.state);
    m.reply_id = reply_id;
    m.revision = revision;
    m.department_id = c->tok.department;
    m.category = (char *)category;
    m.text = (char *)text;
    m.by = &c->actor;
    return s_emit(c, &m.base, "draft-reply", from, c->dom.state,
                  json_pack("{s:s, s:i, s:s}", "reply_id", reply_id, "revision", revision,
                            "category", category))
               ? 0
               : -1;
}

/* Art. 14: 报分管院领导审批 — only the lead department's supervising leader. */
static bool s_need_supervisor(cmd_t *c, const char *action)
{
    const char *p[] = {s_col(c, C_LEAD_DEPT)};
    PGresult *res =
        s_sql(c, "SELECT supervising_staff_id FROM dir_department WHERE department_id = $1", 1, p);
    if (!res)
        return false;
    char sup[64] = "";
    if (PQntuples(res) == 1)
        snprintf(sup, sizeof sup, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (c->tok.role == AUTH_ROLE_LEADER && *sup && strcmp(c->tok.staff, sup) == 0)
        return true;
    return s_forbidden(c, "not_supervising_leader", "只有承办部门的分管院领导可以审批答复。",
                       "Only the supervising court leader of the department %s (%s) may %s the "
                       "reply.",
                       s_col(c, C_LEAD_DEPT), *sup ? sup : "none in the directory", action);
}

/* The latest draft of the round. */
static bool s_latest_reply(cmd_t *c, char reply_id[40], int *revision, char category[24])
{
    char round[16];
    snprintf(round, sizeof round, "%u", c->dom.round);
    const char *p[] = {c->item_id, round};
    PGresult *res = s_sql(c,
                          "SELECT reply_id, revision, category FROM reply WHERE item_id = $1 AND "
                          "round = $2 ORDER BY revision DESC LIMIT 1",
                          2, p);
    if (!res)
        return false;
    reply_id[0] = category[0] = '\0';
    *revision = 0;
    if (PQntuples(res) == 1) {
        snprintf(reply_id, 40, "%s", PQgetvalue(res, 0, 0));
        *revision = atoi(PQgetvalue(res, 0, 1));
        snprintf(category, 24, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return true;
}

static int c_approve_reply(cmd_t *c)
{
    const char *comment;
    char reply_id[40], category[24];
    int revision;
    if (!s_apply(c, DOMAIN_ACTION_APPROVE_REPLY) || !s_need_supervisor(c, "approve") ||
        !s_text(c, "comment", false, TEXT_MAX_BYTES, &comment) ||
        !s_latest_reply(c, reply_id, &revision, category))
        return -1;
    const char *p[] = {reply_id, c->now_us_s};
    if (!s_exec(c,
                "UPDATE reply SET status = 'approved', decided_at = to_timestamp($2::bigint / 1e6) "
                "WHERE reply_id = $1",
                2, p))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ReplyApproved m = LIAISON__V1__REPLY_APPROVED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.reply_id = reply_id;
    m.revision = revision;
    m.comment = (char *)s_or(comment, "");
    m.by = &c->actor;
    return s_emit(c, &m.base, "approve-reply", c->from, c->dom.state,
                  json_pack("{s:s, s:i, s:s}", "reply_id", reply_id, "revision", revision,
                            "comment", s_or(comment, "")))
               ? 0
               : -1;
}

static int c_reject_reply(cmd_t *c)
{
    const char *reason;
    char reply_id[40], category[24];
    int revision;
    if (!s_apply(c, DOMAIN_ACTION_REJECT_REPLY) || !s_need_supervisor(c, "send back") ||
        !s_text(c, "reason", true, TEXT_MAX_BYTES, &reason) ||
        !s_latest_reply(c, reply_id, &revision, category))
        return -1;
    const char *p[] = {reply_id, c->now_us_s};
    if (!s_exec(c,
                "UPDATE reply SET status = 'rejected', decided_at = to_timestamp($2::bigint / 1e6) "
                "WHERE reply_id = $1",
                2, p))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ReplyRejected m = LIAISON__V1__REPLY_REJECTED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.reply_id = reply_id;
    m.revision = revision;
    m.reason = (char *)reason;
    m.by = &c->actor;
    return s_emit(c, &m.base, "reject-reply", c->from, c->dom.state,
                  json_pack("{s:s, s:i, s:s}", "reply_id", reply_id, "revision", revision, "reason",
                            reason))
               ? 0
               : -1;
}

/* The deputy of the item a command names: body.deputy, or the only one (or
 * the lead deputy when any_lead). Fills id and name. */
static bool s_deputy(cmd_t *c, bool any_lead, char id[64], char name[256])
{
    const char *given;
    if (!s_text(c, "deputy", false, 63, &given))
        return false;
    const char *p[] = {c->item_id, given};
    PGresult *res = s_sql(c,
                          "SELECT deputy_id, name, (SELECT count(*) FROM item_deputy WHERE item_id "
                          "= $1) FROM item_deputy WHERE item_id = $1 AND ($2::text IS NULL OR "
                          "deputy_id = dir_ref('deputy', court_id, $2)) ORDER BY lead DESC, "
                          "position LIMIT 1",
                          2, p);
    if (!res)
        return false;
    bool found = PQntuples(res) == 1;
    bool many = found && atoi(PQgetvalue(res, 0, 2)) > 1;
    if (found) {
        snprintf(id, 64, "%s", PQgetvalue(res, 0, 0));
        snprintf(name, 256, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    if (!found) {
        routing_job_problemf(c->job, 422, "unknown_deputy", "deputy", "该代表不是本事项的代表。",
                             "The deputy %s is not a deputy of this item.", s_or(given, "?"));
        return false;
    }
    if (!given && many && !any_lead) {
        routing_job_problem(c->job, 422, "missing_field", "deputy",
                            "This item has several deputies: name the deputy.",
                            "该事项有多位代表，请指明代表。");
        return false;
    }
    return true;
}

static const struct {
    const char *name;
    Liaison__V1__ReplyMethod method;
} s_methods[] = {
    {"letter", LIAISON__V1__REPLY_METHOD__REPLY_METHOD_LETTER},
    {"in-person", LIAISON__V1__REPLY_METHOD__REPLY_METHOD_IN_PERSON},
    {"phone", LIAISON__V1__REPLY_METHOD__REPLY_METHOD_PHONE},
    {"sms", LIAISON__V1__REPLY_METHOD__REPLY_METHOD_SMS},
    {"email", LIAISON__V1__REPLY_METHOD__REPLY_METHOD_EMAIL},
    {"official-system", LIAISON__V1__REPLY_METHOD__REPLY_METHOD_OFFICIAL_SYSTEM},
};

/* Art. 14: 交由联络办统一答复; Art. 12(2): 件件有答复 — each deputy of a joint
 * item separately, one reply each per round. */
static int c_reply(cmd_t *c)
{
    const char *method_s, *category_given, *text;
    char deputy[64], name[256], reply_id[40] = "", category[24] = "";
    int revision = 0;
    if (!s_need_office(c, "reply to the deputy") || !s_can(c, DOMAIN_ACTION_REPLY) ||
        !s_text(c, "method", false, 32, &method_s) ||
        !s_text(c, "category", false, 16, &category_given) ||
        !s_text(c, "text", false, TEXT_MAX_BYTES, &text) || !s_deputy(c, false, deputy, name))
        return -1;
    int method = -1;
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
        if (strcmp(s_or(method_s, "letter"), s_methods[i].name) == 0)
            method = (int)i;
    if (method < 0) {
        routing_job_problem(
            c->job, 422, "invalid_value", "method",
            "The method is letter, in-person, phone, sms, email or official-system.",
            "答复方式应为 letter、in-person、phone、sms、email 或 official-system。");
        return -1;
    }
    if (c->dom.state == DOMAIN_STATE_REPLY_APPROVED &&
        !s_latest_reply(c, reply_id, &revision, category))
        return -1;
    if (category_given) {
        if (!s_category_ok(c, category_given, "category"))
            return -1;
        snprintf(category, sizeof category, "%s", category_given);
    }
    if (!category[0]) {
        routing_job_problem(c->job, 422, "missing_field", "category",
                            "No approved reply gives the category: give one.",
                            "没有已审批的答复文稿，请给出答复类别。");
        return -1;
    }
    char round[16];
    snprintf(round, sizeof round, "%u", c->dom.round);
    const char *p[] = {c->item_id,
                       c->court,
                       round,
                       deputy,
                       reply_id[0] ? reply_id : NULL,
                       s_methods[method].name,
                       category,
                       c->now_us_s};
    PGresult *res = s_sql(c,
                          "INSERT INTO reply_sent (item_id, court_id, round, deputy_id, reply_id, "
                          " method, category, sent_at) VALUES ($1, $2, $3, $4, $5::uuid, $6, $7, "
                          " to_timestamp($8::bigint / 1e6)) ON CONFLICT DO NOTHING RETURNING 1",
                          8, p);
    if (!res)
        return -1;
    bool inserted = PQntuples(res) == 1;
    PQclear(res);
    if (!inserted) {
        routing_job_problemf(c->job, 409, "already_replied", "deputy", "本轮已答复该代表。",
                             "The deputy %s has already been answered in round %u.", deputy,
                             c->dom.round);
        json_object_set_new(c->job->answer, "state", json_string(domain_state_name(c->dom.state)));
        return -1;
    }
    if (!s_apply(c, DOMAIN_ACTION_REPLY))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ReplySent m = LIAISON__V1__REPLY_SENT__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.reply_id = reply_id;
    m.revision = revision;
    m.recipient_kind = LIAISON__V1__REPLY_RECIPIENT_KIND__REPLY_RECIPIENT_KIND_DEPUTY;
    m.deputy_id = deputy;
    m.recipient_name = name;
    m.method = s_methods[method].method;
    m.category = category;
    m.replied_date = &c->today;
    m.by = &c->actor;
    return s_emit(c, &m.base, "reply", c->from, c->dom.state,
                  json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "deputy", deputy, "method",
                            s_methods[method].name, "category", category, "text", s_or(text, ""),
                            "replies", c->dom.replies, "deputies", c->dom.deputies))
               ? 0
               : -1;
}

/* The deputy's evaluation (DOMAIN.md §3 step 7), recorded by the liaison
 * office, one per deputy and round. 不满意 reopens the item at once (round
 * n+1); when every deputy is satisfied or basically satisfied the item is
 * evaluated (基本满意 if any deputy said so). */
static int c_evaluate(cmd_t *c)
{
    const char *sat, *comment;
    char deputy[64], name[256];
    if (!s_need_office(c, "record an evaluation") || !s_text(c, "satisfaction", true, 16, &sat) ||
        !s_text(c, "comment", false, TEXT_MAX_BYTES, &comment))
        return -1;
    domain_action_t action;
    Liaison__V1__Satisfaction ps;
    if (strcmp(sat, "satisfied") == 0) {
        action = DOMAIN_ACTION_EVALUATE_SATISFIED;
        ps = LIAISON__V1__SATISFACTION__SATISFACTION_SATISFIED;
    } else if (strcmp(sat, "basic") == 0) {
        action = DOMAIN_ACTION_EVALUATE_BASIC;
        ps = LIAISON__V1__SATISFACTION__SATISFACTION_BASICALLY_SATISFIED;
    } else if (strcmp(sat, "unsatisfied") == 0) {
        action = DOMAIN_ACTION_EVALUATE_UNSATISFIED;
        ps = LIAISON__V1__SATISFACTION__SATISFACTION_DISSATISFIED;
    } else {
        routing_job_problem(
            c->job, 422, "invalid_value", "satisfaction",
            "satisfaction is satisfied (满意), basic (基本满意) or unsatisfied "
            "(不满意).",
            "评价应为 satisfied（满意）、basic（基本满意）或 unsatisfied（不满意）。");
        return -1;
    }
    if (!s_can(c, action) || !s_deputy(c, false, deputy, name))
        return -1;
    char round[16], event_id_hint[37];
    snprintf(round, sizeof round, "%u", c->dom.round);
    bus_uuid7(event_id_hint);
    const char *p[] = {c->item_id, c->court,          round,         deputy,
                       sat,        s_or(comment, ""), event_id_hint, c->now_us_s};
    PGresult *res = s_sql(c,
                          "INSERT INTO evaluation (item_id, court_id, round, deputy_id, "
                          " satisfaction, comment, event_id, evaluated_at) VALUES ($1, $2, $3, $4, "
                          " $5, $6, $7, to_timestamp($8::bigint / 1e6)) ON CONFLICT DO NOTHING "
                          "RETURNING (SELECT count(*) FROM evaluation WHERE item_id = $1 AND round "
                          "= $3), (SELECT count(*) FROM evaluation WHERE item_id = $1 AND round = "
                          "$3 AND satisfaction = 'basic')",
                          8, p);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        routing_job_problemf(c->job, 409, "already_evaluated", "deputy", "本轮已记录该代表的评价。",
                             "The evaluation of the deputy %s is already recorded for round %u.",
                             deputy, c->dom.round);
        json_object_set_new(c->job->answer, "state", json_string(domain_state_name(c->dom.state)));
        return -1;
    }
    /* The subqueries see the table before this row: add it. */
    unsigned done = (unsigned)atoi(PQgetvalue(res, 0, 0)) + 1;
    bool any_basic = atoi(PQgetvalue(res, 0, 1)) > 0 || action == DOMAIN_ACTION_EVALUATE_BASIC;
    PQclear(res);
    uint32_t round_before = c->dom.round;
    domain_state_t from = c->dom.state;
    bool moves = action == DOMAIN_ACTION_EVALUATE_UNSATISFIED || done >= c->dom.deputies;
    domain_item_t after = c->dom;
    if (moves) {
        domain_action_t a =
            action == DOMAIN_ACTION_EVALUATE_UNSATISFIED
                ? action
                : (any_basic ? DOMAIN_ACTION_EVALUATE_BASIC : DOMAIN_ACTION_EVALUATE_SATISFIED);
        cmd_t probe = *c;
        if (!s_apply(&probe, a))
            return -1;
        after = probe.dom;
    }
    /* ReplyEvaluated records the evaluation in its round; the item moves to
     * "evaluated" with the last one, or ItemReopened moves it to round n+1. */
    bool reopen = action == DOMAIN_ACTION_EVALUATE_UNSATISFIED;
    domain_state_t to_eval = moves && !reopen ? after.state : from;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ReplyEvaluated m = LIAISON__V1__REPLY_EVALUATED__INIT;
    char reply_id[40] = "", category[24];
    int revision = 0;
    if (!s_latest_reply(c, reply_id, &revision, category))
        return -1;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, from, to_eval);
    m.reply_id = reply_id;
    m.deputy_id = deputy;
    m.satisfaction = ps;
    m.comment = (char *)s_or(comment, "");
    m.evaluated_date = &c->today;
    m.by = &c->actor;
    if (!s_emit(c, &m.base, "evaluate", from, to_eval,
                json_pack("{s:s, s:s, s:s, s:i, s:i}", "deputy", deputy, "satisfaction", sat,
                          "comment", s_or(comment, ""), "evaluated", done, "deputies",
                          c->dom.deputies)))
        return -1;
    const char *eid = json_string_value(
        json_object_get(json_array_get(c->events, json_array_size(c->events) - 1), "event_id"));
    const char *q[] = {c->item_id, round, deputy, eid};
    if (!s_exec(c,
                "UPDATE evaluation SET event_id = $4::uuid WHERE item_id = $1 AND round = $2 AND "
                "deputy_id = $3",
                4, q))
        return -1;
    c->dom = after;
    if (!reopen)
        return 0;
    /* 不满意 → 重新办理: round n+1 with the same departments (the liaison
     * office re-transfers, or proposes a new plan). */
    char newround[16], oldround[16];
    snprintf(newround, sizeof newround, "%u", c->dom.round);
    snprintf(oldround, sizeof oldround, "%u", round_before);
    const char *r[] = {c->item_id, newround};
    if (!s_exec(c, "UPDATE assignment SET round = $2::int WHERE item_id = $1 AND active", 2, r))
        return -1;
    plan_t plan;
    if (!s_load_plan(c, &plan))
        return -1;
    Liaison__V1__ItemReopened ro = LIAISON__V1__ITEM_REOPENED__INIT;
    ro.item_id = c->item_id;
    ro.transition = s_tr(c, &tr, from, c->dom.state);
    ro.reason = "不满意：重新办理";
    ro.evaluation_event_id = (char *)eid;
    ro.n_assignments = plan.n;
    ro.assignments = plan.ptrs;
    ro.reopened_date = &c->today;
    ro.by = &c->actor;
    bool ok = s_emit(c, &ro.base, "reopen", from, c->dom.state,
                     json_pack("{s:s, s:s, s:s}", "reason", "unsatisfied evaluation", "round",
                               newround, "previous_round", oldround));
    s_free_plan(&plan);
    return ok ? 0 : -1;
}

/* 重新办理 on the liaison office's decision (after an evaluation or close). */
static int c_reopen(cmd_t *c)
{
    const char *reason;
    if (!s_need_office(c, "reopen") || !s_text(c, "reason", true, TEXT_MAX_BYTES, &reason) ||
        !s_apply(c, DOMAIN_ACTION_REOPEN))
        return -1;
    char round[16];
    snprintf(round, sizeof round, "%u", c->dom.round);
    const char *r[] = {c->item_id, round};
    if (!s_exec(c, "UPDATE assignment SET round = $2::int WHERE item_id = $1 AND active", 2, r))
        return -1;
    plan_t plan;
    if (!s_load_plan(c, &plan))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemReopened m = LIAISON__V1__ITEM_REOPENED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.reason = (char *)reason;
    m.evaluation_event_id = "";
    m.n_assignments = plan.n;
    m.assignments = plan.ptrs;
    m.reopened_date = &c->today;
    m.by = &c->actor;
    bool ok = s_emit(c, &m.base, "reopen", c->from, c->dom.state,
                     json_pack("{s:s, s:s}", "reason", reason, "round", round));
    s_free_plan(&plan);
    return ok ? 0 : -1;
}

/* Art. 16: 能够当场答复的，应当场答复 — recorded and closed at once. The
 * department that took the remark answers (or the liaison office records
 * it). */
static int c_answer_on_spot(cmd_t *c)
{
    const char *answer;
    if (c->tok.role != AUTH_ROLE_DEPARTMENT && c->tok.role != AUTH_ROLE_LIAISON_OFFICE)
        return s_forbidden(c, "forbidden_role", "只有承办部门或联络办可以记录当场答复。",
                           "Only a department or the liaison office may record an answer on the "
                           "spot; this token's role is %s.",
                           auth_role_name(c->tok.role))
                   ? 0
                   : -1;
    if (!s_apply(c, DOMAIN_ACTION_ANSWER_ON_SPOT) ||
        !s_text(c, "answer", true, TEXT_MAX_BYTES, &answer))
        return -1;
    const char *dep =
        c->tok.role == AUTH_ROLE_DEPARTMENT ? c->tok.department : s_col(c, C_RECEIVING_DEPT);
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemAnsweredOnTheSpot m = LIAISON__V1__ITEM_ANSWERED_ON_THE_SPOT__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.department_id = (char *)dep;
    m.answer = (char *)answer;
    m.answered_at_us = c->now_us;
    m.by = &c->actor;
    return s_emit(c, &m.base, "answer-on-spot", c->from, c->dom.state,
                  json_pack("{s:s, s:s}", "department", dep, "answer", answer))
               ? 0
               : -1;
}

/* Art. 17: complaint letters go to the petition or supervision office. */
static int c_forward(cmd_t *c)
{
    const char *target, *dep, *note;
    if (!s_need_office(c, "forward") || !s_apply(c, DOMAIN_ACTION_FORWARD) ||
        !s_text(c, "target", true, 32, &target) || !s_text(c, "department", false, 63, &dep) ||
        !s_text(c, "note", false, TEXT_MAX_BYTES, &note))
        return -1;
    Liaison__V1__ForwardTarget t;
    if (strcmp(target, "petition-office") == 0)
        t = LIAISON__V1__FORWARD_TARGET__FORWARD_TARGET_PETITION_OFFICE;
    else if (strcmp(target, "supervision-office") == 0)
        t = LIAISON__V1__FORWARD_TARGET__FORWARD_TARGET_SUPERVISION_OFFICE;
    else {
        routing_job_problem(
            c->job, 422, "invalid_value", "target",
            "The target is petition-office (信访部门) or supervision-office (监察室).",
            "转送对象应为 petition-office（信访部门）或 supervision-office（监察室）。");
        return -1;
    }
    /* The office's department: given, else the court's one of that kind. */
    const char *p[] = {dep, target, c->court};
    PGresult *res = s_sql(c,
                          "SELECT department_id FROM dir_department WHERE active AND kind = $2 "
                          "AND ($1::text IS NULL OR department_id = dir_ref('department', $3, $1)) "
                          "ORDER BY department_id LIMIT 1",
                          3, p);
    if (!res)
        return -1;
    char office[64] = "";
    if (PQntuples(res) == 1)
        snprintf(office, sizeof office, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (dep && !*office) {
        routing_job_problemf(c->job, 422, "unknown_department", "department",
                             "本院名录中没有该信访部门或监察室。",
                             "The court's directory has no active %s %s.", target, dep);
        return -1;
    }
    const char *q[] = {c->item_id, target, office};
    if (!s_exec(c,
                "UPDATE item SET forward_target = $2, forward_department_id = $3 WHERE item_id = "
                "$1",
                3, q))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemForwarded m = LIAISON__V1__ITEM_FORWARDED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.target = t;
    m.target_department_id = office;
    m.note = (char *)s_or(note, "");
    m.forwarded_date = &c->today;
    m.by = &c->actor;
    return s_emit(c, &m.base, "forward", c->from, c->dom.state,
                  json_pack("{s:s, s:s, s:s}", "target", target, "department", office, "note",
                            s_or(note, "")))
               ? 0
               : -1;
}

/* Art. 17: 信访部门或监察室应将办理结果报送联络办. The office itself reports
 * (its department token), or the liaison office records the report. */
static int c_forward_result(cmd_t *c)
{
    const char *result;
    const char *office = s_col(c, C_FORWARD_DEPT);
    if (!(c->tok.role == AUTH_ROLE_LIAISON_OFFICE ||
          (c->tok.role == AUTH_ROLE_DEPARTMENT && *office &&
           strcmp(c->tok.department, office) == 0))) {
        s_forbidden(c, c->tok.role == AUTH_ROLE_DEPARTMENT ? "wrong_department" : "forbidden_role",
                    "只有受理转送的信访部门或监察室（或联络办）可以报送办理结果。",
                    "Only the office the item was forwarded to (%s) or the liaison office may "
                    "report its result.",
                    *office ? office : "none");
        return -1;
    }
    if (!s_apply(c, DOMAIN_ACTION_REPORT_RESULT) ||
        !s_text(c, "result", true, TEXT_MAX_BYTES, &result))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ForwardResultReported m = LIAISON__V1__FORWARD_RESULT_REPORTED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.target = strcmp(s_col(c, C_FORWARD_TARGET), "supervision-office") == 0
                   ? LIAISON__V1__FORWARD_TARGET__FORWARD_TARGET_SUPERVISION_OFFICE
                   : LIAISON__V1__FORWARD_TARGET__FORWARD_TARGET_PETITION_OFFICE;
    m.result = (char *)result;
    m.reported_date = &c->today;
    m.by = &c->actor;
    return s_emit(c, &m.base, "forward-result", c->from, c->dom.state,
                  json_pack("{s:s}", "result", result))
               ? 0
               : -1;
}

/* A deputy withdraws the item in writing; the liaison office records it. */
static int c_withdraw(cmd_t *c)
{
    const char *reason;
    char deputy[64], name[256];
    if (!s_need_office(c, "record a withdrawal") || !s_apply(c, DOMAIN_ACTION_WITHDRAW) ||
        !s_text(c, "reason", false, TEXT_MAX_BYTES, &reason) || !s_deputy(c, true, deputy, name))
        return -1;
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemWithdrawn m = LIAISON__V1__ITEM_WITHDRAWN__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.deputy_id = deputy;
    m.reason = (char *)s_or(reason, "");
    m.withdrawn_date = &c->today;
    m.by = &c->actor;
    return s_emit(c, &m.base, "withdraw", c->from, c->dom.state,
                  json_pack("{s:s, s:s}", "deputy", deputy, "reason", s_or(reason, "")))
               ? 0
               : -1;
}

/* 办结. */
static int c_close(cmd_t *c)
{
    if (!s_need_office(c, "close") || !s_apply(c, DOMAIN_ACTION_CLOSE))
        return -1;
    /* Why it closes, from the path it took. */
    const char *p[] = {c->item_id};
    PGresult *res = s_sql(c,
                          "SELECT EXISTS (SELECT 1 FROM history WHERE item_id = $1 AND action = "
                          "'decline' AND round = (SELECT round FROM item WHERE item_id = $1))",
                          1, p);
    if (!res)
        return -1;
    bool declined = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    Liaison__V1__CloseReason reason = LIAISON__V1__CLOSE_REASON__CLOSE_REASON_REPLIED;
    const char *why = "replied";
    if (c->from == DOMAIN_STATE_EVALUATED) {
        reason = LIAISON__V1__CLOSE_REASON__CLOSE_REASON_EVALUATED;
        why = "evaluated";
    } else if (*s_col(c, C_FORWARD_TARGET)) {
        reason = LIAISON__V1__CLOSE_REASON__CLOSE_REASON_FORWARD_RESULT;
        why = "forward-result";
    } else if (declined) {
        reason = LIAISON__V1__CLOSE_REASON__CLOSE_REASON_NOT_LISTED_ANSWERED;
        why = "not-listed-answered";
    }
    Liaison__V1__ItemTransition tr;
    Liaison__V1__ItemClosed m = LIAISON__V1__ITEM_CLOSED__INIT;
    m.item_id = c->item_id;
    m.transition = s_tr(c, &tr, c->from, c->dom.state);
    m.reason = reason;
    m.closed_date = &c->today;
    m.by = &c->actor;
    return s_emit(c, &m.base, "close", c->from, c->dom.state, json_pack("{s:s}", "reason", why))
               ? 0
               : -1;
}

typedef struct {
    const char *name;
    cmd_fn *fn;
} cmd_def_t;

static const cmd_def_t s_commands[] = {
    {"propose", c_propose},
    {"approve", c_approve},
    {"decline", c_decline},
    {"reject-plan", c_reject_plan},
    {"transfer", c_transfer},
    {"accept", c_accept},
    {"return", c_return},
    {"consult", c_consult},
    {"co-opinion", c_co_opinion},
    {"progress", c_progress},
    {"draft-reply", c_draft_reply},
    {"approve-reply", c_approve_reply},
    {"reject-reply", c_reject_reply},
    {"reply", c_reply},
    {"evaluate", c_evaluate},
    {"reopen", c_reopen},
    {"answer-on-spot", c_answer_on_spot},
    {"forward", c_forward},
    {"forward-result", c_forward_result},
    {"withdraw", c_withdraw},
    {"close", c_close},
};

/* ---- the frame every command runs in ----------------------------------------- */

static bool s_load(cmd_t *c)
{
    const char *p[] = {c->item_id};
    c->row = s_sql(c,
                   "SELECT item_id, court_id, domain_kind, court_role, state, round, deputies, "
                   " replies, meetings, evaluation, approver_staff_id, lead_department_id, "
                   " forward_target, forward_department_id, receiving_department_id, "
                   " approver_kind, opinion FROM item WHERE item_id = $1 FOR UPDATE",
                   1, p);
    if (!c->row)
        return false;
    if (PQntuples(c->row) != 1) {
        routing_job_problem(c->job, 404, "not_found", NULL, "No such item in this court.",
                            "本院没有该事项。");
        return false;
    }
    domain_kind_t kind;
    domain_role_t role;
    domain_state_t state;
    if (domain_kind_parse(s_col(c, C_DOMAIN_KIND), &kind) != 0 ||
        domain_role_parse(s_col(c, C_COURT_ROLE), &role) != 0 ||
        domain_state_parse(s_col(c, C_STATE), &state) != 0 ||
        domain_item_init(&c->dom, kind, role, (uint32_t)atoi(s_col(c, C_DEPUTIES))) != 0) {
        log_error("routing: an item row does not hold a valid lifecycle", "item=%s", c->item_id);
        return s_db_error(c);
    }
    c->dom.state = state;
    c->dom.round = (uint32_t)atoi(s_col(c, C_ROUND));
    c->dom.replies = (uint32_t)atoi(s_col(c, C_REPLIES));
    c->dom.meetings = (uint32_t)atoi(s_col(c, C_MEETINGS));
    const char *ev = s_col(c, C_EVALUATION);
    c->dom.evaluation = strcmp(ev, "satisfied") == 0     ? DOMAIN_EVALUATION_SATISFIED
                        : strcmp(ev, "basic") == 0       ? DOMAIN_EVALUATION_BASIC
                        : strcmp(ev, "unsatisfied") == 0 ? DOMAIN_EVALUATION_UNSATISFIED
                                                         : DOMAIN_EVALUATION_NONE;
    c->from = state;
    return true;
}

static bool s_save(cmd_t *c)
{
    char round[16], replies[16], meetings[16];
    snprintf(round, sizeof round, "%u", c->dom.round);
    snprintf(replies, sizeof replies, "%u", c->dom.replies);
    snprintf(meetings, sizeof meetings, "%u", c->dom.meetings);
    const char *p[] = {c->item_id, domain_state_name(c->dom.state),           round,      replies,
                       meetings,   domain_evaluation_name(c->dom.evaluation), c->now_us_s};
    return s_exec(c,
                  "UPDATE item SET state_since = CASE WHEN state = $2 THEN state_since ELSE "
                  " to_timestamp($7::bigint / 1e6) END, state = $2, round = $3::int, "
                  " replies = $4::int, meetings = $5::int, evaluation = $6, version = version + 1, "
                  " updated_at = now() WHERE item_id = $1",
                  7, p);
}

/* Who acted, for the events: the token's staff member as the directory
 * knows them. */
static bool s_actor(cmd_t *c)
{
    liaison__v1__actor__init(&c->actor);
    c->actor.staff_id = c->tok.staff;
    c->actor.department_id = c->tok.department;
    c->actor.name = c->actor_name;
    bool president = false;
    if (*c->tok.staff) {
        const char *p[] = {c->tok.staff};
        PGresult *res = s_sql(
            c, "SELECT name, 'president' = ANY (roles) FROM dir_staff WHERE staff_id = $1", 1, p);
        if (!res)
            return false;
        if (PQntuples(res) == 1) {
            snprintf(c->actor_name, sizeof c->actor_name, "%s", PQgetvalue(res, 0, 0));
            president = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
        }
        PQclear(res);
    }
    switch (c->tok.role) {
    case AUTH_ROLE_LIAISON_OFFICE:
        c->actor.role = LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_LIAISON_OFFICE;
        break;
    case AUTH_ROLE_LEADER:
        c->actor.role = president ? LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_PRESIDENT
                                  : LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_COURT_LEADER;
        break;
    case AUTH_ROLE_DEPARTMENT: {
        c->actor.role = LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_DEPARTMENT;
        const char *p[] = {c->tok.department};
        PGresult *res = s_sql(c, "SELECT kind FROM dir_department WHERE department_id = $1", 1, p);
        if (!res)
            return false;
        if (PQntuples(res) == 1) {
            const char *k = PQgetvalue(res, 0, 0);
            if (strcmp(k, "petition-office") == 0)
                c->actor.role = LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_PETITION_OFFICE;
            else if (strcmp(k, "supervision-office") == 0)
                c->actor.role = LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_SUPERVISION_OFFICE;
        }
        PQclear(res);
        break;
    }
    case AUTH_ROLE_OPERATOR:
        c->actor.role = LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_OPERATOR;
        break;
    default:
        c->actor.role = LIAISON__V1__ACTOR_ROLE__ACTOR_ROLE_SYSTEM;
        break;
    }
    return true;
}

/* The court's local date now, by the daemon's clock. */
static bool s_today(cmd_t *c)
{
    c->now_us = clock_now_us(routing_worker_clock(c->w));
    snprintf(c->now_us_s, sizeof c->now_us_s, "%lld", (long long)c->now_us);
    const char *p[] = {c->court};
    PGresult *res = s_sql(c, "SELECT time_zone FROM dir_court WHERE court_id = $1", 1, p);
    if (!res)
        return false;
    domain_zone_t zone;
    const char *name = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "Asia/Shanghai";
    int rc = domain_zone_find(name, &zone);
    if (rc != 0)
        rc = domain_zone_find("Asia/Shanghai", &zone);
    PQclear(res);
    domain_date_t d;
    if (rc != 0 || domain_zone_local_date(&zone, c->now_us / 1000000, &d) != 0) {
        log_error("routing: no court-local date", "court=%s", c->court);
        return s_db_error(c);
    }
    liaison__v1__local_date__init(&c->today);
    c->today.year = d.year;
    c->today.month = d.month;
    c->today.day = d.day;
    domain_date_format(d, c->today_s);
    return true;
}

bool routing_authenticate(routing_job_t *job, PGconn *conn, auth_token_t *tok)
{
    if (job->bad_auth_header || !job->token) {
        routing_job_problem(job, 401, "unauthorized", "Authorization",
                            job->bad_auth_header
                                ? "The Authorization header must be \"Bearer <token>\"."
                                : "A bearer token is required.",
                            "需要持有有效的访问令牌（Authorization: Bearer <令牌>）。");
        return false;
    }
    char *error = NULL;
    int rc = auth_lookup(conn, job->token, tok, &error);
    if (rc < 0) {
        log_error("routing: token lookup failed", "error=\"%s\"", error ? error : "?");
        free(error);
        routing_job_problem(job, 503, "database_unavailable", NULL,
                            "The database is unavailable; try again.",
                            "数据库暂不可用，请稍后重试。");
        return false;
    }
    if (rc > 0) {
        routing_job_problem(job, 401, "unauthorized", "Authorization",
                            "The bearer token is unknown or revoked.", "访问令牌无效或已吊销。");
        return false;
    }
    if (job->court && !auth_court_allowed(tok, job->court)) {
        /* A token of court A never reads or writes court B, and is not told
         * whether B or its items exist. */
        routing_job_problem(job, 403, "wrong_court", "court",
                            "This token may not act on this court.",
                            "该令牌无权访问此法院的数据。");
        return false;
    }
    return true;
}

typedef enum { TRY_DONE, TRY_RETRY } try_t;

static try_t s_try(cmd_t *c, const cmd_def_t *def, const char *request_hash)
{
    routing_job_t *job = c->job;
    char sqlstate[6] = "";
    if (routing_sql_begin(c->conn, c->court) != 0) {
        s_db_error(c);
        return TRY_DONE;
    }
    if (job->idem_key) {
        /* Claim the key first: a concurrent retry waits here until the first
         * commits (then replays its answer) or rolls back (then runs). */
        const char *p[] = {c->court, job->idem_key, request_hash};
        PGresult *res = routing_sql(c->conn,
                                    "INSERT INTO idempotency (court_id, idem_key, request_hash, "
                                    " status, response) VALUES ($1, $2, $3, 0, '{}') "
                                    "ON CONFLICT DO NOTHING RETURNING 1",
                                    3, p, sqlstate);
        if (!res)
            goto db_error;
        bool claimed = PQntuples(res) == 1;
        PQclear(res);
        if (!claimed) {
            res = routing_sql(c->conn,
                              "SELECT request_hash, status, response FROM idempotency "
                              "WHERE court_id = $1 AND idem_key = $2",
                              2, p, sqlstate);
            if (!res)
                goto db_error;
            if (PQntuples(res) != 1) {
                PQclear(res);
                goto retry; /* its first use rolled back meanwhile */
            }
            if (strcmp(PQgetvalue(res, 0, 0), request_hash) != 0) {
                PQclear(res);
                routing_sql_rollback(c->conn);
                routing_job_problem(job, 409, "idempotency_conflict", "Idempotency-Key",
                                    "This Idempotency-Key was used for another request.",
                                    "该幂等键已用于另一请求。");
                return TRY_DONE;
            }
            json_t *answer = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
            routing_job_answer(job, (unsigned)atoi(PQgetvalue(res, 0, 1)),
                               answer ? answer : json_object());
            job->replayed = true;
            PQclear(res);
            routing_sql_rollback(c->conn);
            return TRY_DONE;
        }
    }
    if (!s_load(c) || !s_today(c) || !s_actor(c))
        goto refused;
    if (def->fn(c) != 0)
        goto refused;
    if (!s_save(c))
        goto refused;
    json_t *answer = routing_item_view(c->conn, c->item_id, c->now_us);
    if (!answer) {
        s_db_error(c);
        goto refused;
    }
    json_object_set(answer, "events", c->events);
    if (job->idem_key) {
        char *text = json_dumps(answer, JSON_COMPACT);
        const char *p[] = {c->court, job->idem_key, text ? text : "{}"};
        PGresult *res = routing_sql(c->conn,
                                    "UPDATE idempotency SET status = 200, response = $3::jsonb "
                                    "WHERE court_id = $1 AND idem_key = $2",
                                    3, p, sqlstate);
        free(text);
        if (!res) {
            json_decref(answer);
            goto db_error;
        }
        PQclear(res);
    }
    if (routing_sql_commit(c->conn, sqlstate) != 0) {
        json_decref(answer);
        goto db_error;
    }
    job->published = json_array_size(c->events) > 0;
    routing_job_answer(job, 200, answer);
    return TRY_DONE;

refused:
    routing_sql_rollback(c->conn);
    if (job->status < 400)
        s_db_error(c);
    return TRY_DONE;
db_error:
    routing_sql_rollback(c->conn);
    if (sqlstate[0] && strncmp(sqlstate, "40", 2) == 0)
        return TRY_RETRY; /* serialization failure or deadlock */
    s_db_error(c);
    return TRY_DONE;
retry:
    routing_sql_rollback(c->conn);
    return TRY_RETRY;
}

void routing_item_command(routing_worker_t *w, routing_job_t *job)
{
    PGconn *conn = routing_worker_conn(w);
    cmd_t c = {.w = w, .job = job, .conn = conn, .court = job->court};
    if (!routing_authenticate(job, conn, &c.tok))
        return;
    const cmd_def_t *def = NULL;
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(job->action, s_commands[i].name) == 0)
            def = &s_commands[i];
    if (!def) {
        routing_job_problemf(job, 404, "unknown_action", "action", "没有该办理操作。",
                             "There is no action %s.", job->action);
        return;
    }
    if (!bus_uuid_valid(job->id)) {
        routing_job_problem(job, 404, "not_found", NULL, "No such item in this court.",
                            "本院没有该事项。");
        return;
    }
    snprintf(c.item_id, sizeof c.item_id, "%s", job->id);
    for (char *p = c.item_id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (job->body && job->body_len) {
        json_error_t jerr;
        c.body = json_loadb(job->body, job->body_len, 0, &jerr);
        if (!json_is_object(c.body)) {
            json_decref(c.body);
            routing_job_problem(job, 400, "invalid_json", NULL, "The body must be a JSON object.",
                                "请求体应为 JSON 对象。");
            return;
        }
    } else {
        c.body = json_object();
    }
    if (job->idem_key && (strlen(job->idem_key) < 1 || strlen(job->idem_key) > 255)) {
        json_decref(c.body);
        routing_job_problem(job, 422, "invalid_value", "Idempotency-Key",
                            "An Idempotency-Key has 1 to 255 characters.",
                            "幂等键长度应为 1 至 255。");
        return;
    }
    /* The request as the key remembers it: the item, the action, the body. */
    char hash[65];
    size_t n = strlen(c.item_id) + strlen(job->action) + job->body_len + 3;
    char *canon = malloc(n);
    if (canon) {
        snprintf(canon, n, "%s\n%s\n%s", c.item_id, job->action, job->body ? job->body : "");
        routing_sha256_hex(canon, strlen(canon), hash);
        free(canon);
    } else {
        hash[0] = '\0';
    }
    for (int attempt = 0; attempt < RETRIES; attempt++) {
        /* a fresh start each time: nothing of a rolled-back try survives */
        cmd_t t = c;
        t.events = json_array();
        json_decref(job->answer);
        job->answer = NULL;
        job->status = 0;
        try_t r = s_try(&t, def, hash);
        PQclear(t.row);
        json_decref(t.events);
        if (r == TRY_DONE)
            break;
        if (attempt == RETRIES - 1)
            routing_job_problem(job, 503, "busy", NULL, "The item is busy; try again.",
                                "事项正忙，请稍后重试。");
    }
    json_decref(c.body);
}
