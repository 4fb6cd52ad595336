/* intake_dir — the directory: courts, departments, staff, groups, deputies,
 * and the API's tokens.
 *
 *   GET  /v1/courts                                  courts the token may see
 *   GET  /v1/courts/{court}                          one court
 *   PUT  /v1/courts/{court}                          create or change a court (operator)
 *   POST /v1/courts/{court}/directory/{kind}         import a CSV (text/csv), all rows or none
 *   GET  /v1/courts/{court}/directory/{kind}         list (kind: departments, staff, groups,
 * deputies) POST /v1/courts/{court}/deputies/{deputy}/end-term   end a deputy's term (never delete)
 *   POST /v1/tokens                                  create a token (operator)
 *   POST /v1/tokens/{sha256}/revoke                  revoke one (operator)
 *
 * Every change is published in the transaction that makes it: CourtUpserted,
 * DepartmentUpserted, StaffUpserted, GroupUpserted, DeputyUpserted and
 * DeputyTermEnded, each with the whole record and its revision (which grows
 * by one per real change: re-importing an unchanged roster publishes
 * nothing).
 *
 * CSV imports: the first record is the header; column names in Chinese or
 * English (姓名 or name). Every row is checked — required values,
 * vocabularies, dates, duplicate codes, references to other records (in the
 * database or in the same file) — and if any row is bad the answer is 422
 * with one error per problem {line, column, reason}, and nothing is stored.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "domain/calendar.h"
#include "domain/date.h"
#include "domain/regnum.h"
#include "domain/rules.h"
#include "domain/utf8.h"
#include "intake/intake.h"
#include "intake/intake_csv.h"
#include "liaison/v1/directory.pb-c.h"

#define IMPORT_ROWS_MAX   20000
#define IMPORT_ERRORS_MAX 200

static void s_db_down(intake_job_t *job)
{
    intake_job_problem(job, 503, "database_unavailable", NULL,
                       "The database is unavailable; nothing was changed. Try again.",
                       "数据库暂不可用，未作任何更改，请稍后重试。");
}

/* The stable UUID of a directory record: md5("kind/court/code") as a UUID,
 * the same as the SQL function dir_id(). */
static void s_dir_id(const char *kind, const char *court, const char *code, char out[37])
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s/%s/%s", kind, court, code);
    unsigned char md[16];
    unsigned int mdlen = 0;
    EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_md5(), NULL);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0],
             md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12],
             md[13], md[14], md[15]);
}

/* ---- vocabularies with Chinese names ------------------------------------------------ */

typedef struct {
    const char *value;
    const char *aliases[5];
    int proto;
} word_t;

static const word_t s_department_kinds[] = {
    {"division",
     {"庭室", "业务庭", "庭", "部门"},
     LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_DIVISION},
    {"liaison-office",
     {"联络办", "人大代表联络工作领导小组办公室"},
     LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_LIAISON_OFFICE},
    {"petition-office",
     {"信访部门", "信访"},
     LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_PETITION_OFFICE},
    {"supervision-office",
     {"监察室", "监察"},
     LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_SUPERVISION_OFFICE},
    {"research-office",
     {"调研科", "研究室"},
     LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_RESEARCH_OFFICE},
    {"other", {"其他"}, LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_OTHER},
    {NULL, {NULL}, 0},
};

static const word_t s_staff_roles[] = {
    {"liaison-office",
     {"联络办", "联络办工作人员"},
     LIAISON__V1__STAFF_ROLE__STAFF_ROLE_LIAISON_OFFICE},
    {"liaison-officer",
     {"挂点联络员", "联络员"},
     LIAISON__V1__STAFF_ROLE__STAFF_ROLE_LIAISON_OFFICER},
    {"department-head",
     {"部门负责人", "庭长", "主任"},
     LIAISON__V1__STAFF_ROLE__STAFF_ROLE_DEPARTMENT_HEAD},
    {"handler", {"承办人"}, LIAISON__V1__STAFF_ROLE__STAFF_ROLE_HANDLER},
    {"court-leader", {"院领导", "分管院领导"}, LIAISON__V1__STAFF_ROLE__STAFF_ROLE_COURT_LEADER},
    {"president", {"院长"}, LIAISON__V1__STAFF_ROLE__STAFF_ROLE_PRESIDENT},
    {NULL, {NULL}, 0},
};

static const word_t s_group_kinds[] = {
    {"street", {"街道", "街道人大联组", "联组"}, LIAISON__V1__GROUP_KIND__GROUP_KIND_STREET},
    {"delegation", {"代表团"}, LIAISON__V1__GROUP_KIND__GROUP_KIND_DELEGATION},
    {"sector", {"界别"}, LIAISON__V1__GROUP_KIND__GROUP_KIND_SECTOR},
    {"other", {"其他"}, LIAISON__V1__GROUP_KIND__GROUP_KIND_OTHER},
    {NULL, {NULL}, 0},
};

static const word_t s_bodies[] = {
    {"npc", {"人大代表", "人大"}, LIAISON__V1__DEPUTY_BODY__DEPUTY_BODY_NPC},
    {"cppcc", {"政协委员", "政协"}, LIAISON__V1__DEPUTY_BODY__DEPUTY_BODY_CPPCC},
    {NULL, {NULL}, 0},
};

static const word_t s_levels[] = {
    {"national",
     {"全国", "全国人大代表", "全国政协委员"},
     LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_NATIONAL},
    {"provincial",
     {"省", "省级", "省人大代表"},
     LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_PROVINCIAL},
    {"municipal", {"市", "市级", "市人大代表"}, LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_MUNICIPAL},
    {"district", {"区", "区级", "区人大代表"}, LIAISON__V1__DEPUTY_LEVEL__DEPUTY_LEVEL_DISTRICT},
    {NULL, {NULL}, 0},
};

static const word_t s_term_statuses[] = {
    {"serving", {"在任"}, LIAISON__V1__TERM_STATUS__TERM_STATUS_SERVING},
    {"ended", {"终止", "离任"}, LIAISON__V1__TERM_STATUS__TERM_STATUS_ENDED},
    {NULL, {NULL}, 0},
};

static const word_t *s_word(const word_t *w, const char *s)
{
    for (; w->value; w++) {
        if (strcmp(w->value, s) == 0)
            return w;
        for (size_t i = 0; i < 5 && w->aliases[i]; i++)
            if (strcmp(w->aliases[i], s) == 0)
                return w;
    }
    return NULL;
}

static int s_word_proto(const word_t *w, const char *value)
{
    const word_t *x = s_word(w, value);
    return x ? x->proto : 0;
}

/* ---- courts ------------------------------------------------------------------------- */

#define COURT_JSON                                                                                 \
    "jsonb_build_object('court', court_id, 'name', name, 'short_name', short_name, "               \
    "'time_zone', time_zone, 'registration_number_template', regnum_template, "                    \
    "'calendar_overrides', calendar_overrides, 'rule_overrides', rule_overrides, "                 \
    "'active', active, 'revision', revision)::text"

void intake_court_list(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p))
        return;
    PGconn *conn = intake_worker_conn(w);
    const char *scope = p.role == AUTH_ROLE_OPERATOR ? "*" : p.court;
    if (intake_sql_begin(conn, scope) != 0)
        return s_db_down(job);
    PGresult *res =
        intake_sql(conn, "SELECT " COURT_JSON " FROM court ORDER BY court_id", 0, NULL, NULL);
    intake_sql_rollback(conn);
    if (!res)
        return s_db_down(job);
    json_t *courts = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(courts, json_loads(PQgetvalue(res, i, 0), 0, NULL));
    PQclear(res);
    intake_job_answer(job, 200, json_pack("{s:o}", "courts", courts));
}

void intake_court_get(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) ||
        !intake_authorize(job, &p, job->court, INTAKE_ACCESS_READ))
        return;
    PGconn *conn = intake_worker_conn(w);
    if (intake_sql_begin(conn, job->court) != 0)
        return s_db_down(job);
    const char *params[1] = {job->court};
    PGresult *res =
        intake_sql(conn, "SELECT " COURT_JSON " FROM court WHERE court_id = $1", 1, params, NULL);
    intake_sql_rollback(conn);
    if (!res)
        return s_db_down(job);
    if (PQntuples(res) == 0)
        intake_job_problem(job, 404, "unknown_court", "court", "No such court.", "法院不存在。");
    else
        intake_job_answer(job, 200, json_loads(PQgetvalue(res, 0, 0), 0, NULL));
    PQclear(res);
}

/* Parse the body of a JSON request (content type, UTF-8, object). */
static json_t *s_json_body(intake_job_t *job)
{
    if (!intake_content_type_is(job->content_type, "application/json")) {
        intake_job_problem(job, 415, "unsupported_media_type", "Content-Type",
                           "The body must be application/json.", "请求正文须为 application/json。");
        return NULL;
    }
    if (!job->body || !domain_utf8_valid(job->body, job->body_len)) {
        intake_job_problem(job, 400, "invalid_utf8", "body", "The body is not valid UTF-8.",
                           "请求正文不是有效的 UTF-8 文本。");
        return NULL;
    }
    json_error_t err;
    json_t *root = json_loadb(job->body, job->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        intake_job_problem(job, 400, "invalid_json", "body", "The body must be a JSON object.",
                           "请求正文必须是 JSON 对象。");
        return NULL;
    }
    return root;
}

static const char *s_opt_string(intake_job_t *job, json_t *obj, const char *key, const char *def,
                                bool *ok)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return def;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        intake_job_problemf(job, 422, "wrong_type", key, "字段类型错误，应为字符串。",
                            "The field %s must be a string.", key);
        *ok = false;
        return def;
    }
    return json_string_value(v);
}

void intake_court_put(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) ||
        !intake_authorize(job, &p, job->court, INTAKE_ACCESS_ADMIN))
        return;
    size_t clen = strlen(job->court);
    bool code_ok = clen > 0 && clen <= 63;
    for (size_t i = 0; i < clen && code_ok; i++) {
        char c = job->court[i];
        code_ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
    }
    if (!code_ok) {
        intake_job_problem(job, 422, "invalid_value", "court",
                           "A court code is lower-case letters, digits and '-' (e.g. gz-liwan).",
                           "法院代码由小写字母、数字和“-”组成，如 gz-liwan。");
        return;
    }
    json_t *root = s_json_body(job);
    if (!root)
        return;
    bool ok = true;
    const char *name = s_opt_string(job, root, "name", NULL, &ok);
    const char *short_name = s_opt_string(job, root, "short_name", "", &ok);
    const char *zone_name = s_opt_string(job, root, "time_zone", "Asia/Shanghai", &ok);
    const char *tmpl = s_opt_string(job, root, "registration_number_template",
                                    DOMAIN_REGNUM_DEFAULT_TEMPLATE, &ok);
    const char *calendar = s_opt_string(job, root, "calendar_overrides", "", &ok);
    json_t *rules = json_object_get(root, "rule_overrides");
    json_t *active = json_object_get(root, "active");
    char err[256];
    domain_zone_t zone;
    if (!ok)
        goto out;
    if (!name || !*name) {
        intake_job_problem(job, 422, "missing_field", "name", "The field name is required.",
                           "缺少法院名称。");
        goto out;
    }
    if (domain_zone_find(zone_name, &zone) != 0) {
        intake_job_problemf(job, 422, "invalid_value", "time_zone", "未知的时区。",
                            "The time zone %s is not known.", zone_name);
        goto out;
    }
    if (domain_regnum_validate(tmpl, err, sizeof err) != 0) {
        intake_job_problemf(job, 422, "invalid_value", "registration_number_template",
                            "登记编号格式无效。", "The template is not usable: %s.", err);
        goto out;
    }
    if (active && !json_is_boolean(active)) {
        intake_job_problem(job, 422, "wrong_type", "active",
                           "The field active must be true or false.", "active 应为布尔值。");
        goto out;
    }
    /* Both kinds of override are checked with the functions the deadline
     * service applies them with, so what is stored here is what it uses. */
    domain_rule_override_t over[DOMAIN_RULES_MAX_OVERRIDES];
    Liaison__V1__RuleOverride over_pb[DOMAIN_RULES_MAX_OVERRIDES];
    Liaison__V1__RuleOverride *over_pp[DOMAIN_RULES_MAX_OVERRIDES];
    size_t nover = 0;
    if (rules && !json_is_null(rules)) {
        if (!json_is_object(rules)) {
            intake_job_problem(job, 422, "wrong_type", "rule_overrides",
                               "rule_overrides is an object {\"rule.key\": \"value\"}.",
                               "rule_overrides 应为对象。");
            goto out;
        }
        if (json_object_size(rules) > DOMAIN_RULES_MAX_OVERRIDES) {
            intake_job_problemf(job, 422, "invalid_value", "rule_overrides", "规则覆盖项过多。",
                                "At most %d rule overrides.", DOMAIN_RULES_MAX_OVERRIDES);
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(rules, k, v)
        {
            if (!strchr(k, '.') || !json_is_string(v) ||
                strlen(json_string_value(v)) != json_string_length(v)) {
                char field[160];
                snprintf(field, sizeof field, "rule_overrides.%s", k);
                intake_job_problem(job, 422, "invalid_value", field,
                                   "Each override is \"rule.key\": \"value\" (strings).",
                                   "规则覆盖项应为“规则.键”: “值”。");
                goto out;
            }
            over[nover++] = (domain_rule_override_t){k, json_string_value(v)};
        }
        domain_rules_t check;
        domain_rules_defaults(&check);
        size_t bad = 0;
        if (domain_rules_apply(&check, over, nover, &bad, err, sizeof err) != 0) {
            char field[160];
            snprintf(field, sizeof field, "rule_overrides.%s", over[bad].key);
            intake_job_problemf(job, 422, "invalid_value", field, "规则覆盖项无效。", "%s", err);
            goto out;
        }
    }
    if (domain_calendar_court_text_check(calendar, strlen(calendar), err, sizeof err) != 0) {
        intake_job_problemf(job, 422, "invalid_value", "calendar_overrides",
                            "本院休息日、工作日设置无效（格式见 deploy/calendar/README.md）。",
                            "The court's own days are not usable: %s.", err);
        goto out;
    }
    char *rules_s = rules && json_is_object(rules) ? json_dumps(rules, JSON_COMPACT) : strdup("{}");
    PGconn *conn = intake_worker_conn(w);
    const char *params[8] = {
        job->court, name,     short_name, zone_name,
        tmpl,       calendar, rules_s,    !active || json_is_true(active) ? "true" : "false"};
    PGresult *res = NULL;
    if (intake_sql_begin(conn, job->court) == 0)
        res = intake_sql(conn,
                         "INSERT INTO court AS c (court_id, name, short_name, time_zone, "
                         "  regnum_template, calendar_overrides, rule_overrides, active) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::boolean) "
                         "ON CONFLICT (court_id) DO UPDATE SET name = excluded.name, "
                         "  short_name = excluded.short_name, time_zone = excluded.time_zone, "
                         "  regnum_template = excluded.regnum_template, "
                         "  calendar_overrides = excluded.calendar_overrides, "
                         "  rule_overrides = excluded.rule_overrides, active = excluded.active, "
                         "  revision = c.revision + 1, updated_at = now() "
                         "WHERE (c.name, c.short_name, c.time_zone, c.regnum_template, "
                         "  c.calendar_overrides, c.rule_overrides, c.active) IS DISTINCT FROM "
                         "  (excluded.name, excluded.short_name, excluded.time_zone, "
                         "  excluded.regnum_template, excluded.calendar_overrides, "
                         "  excluded.rule_overrides, excluded.active) "
                         "RETURNING revision, (xmax = 0)",
                         8, params, NULL);
    free(rules_s);
    if (!res) {
        intake_sql_rollback(conn);
        s_db_down(job);
        goto out;
    }
    bool changed = PQntuples(res) == 1;
    bool created = changed && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    long long revision = changed ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (changed) {
        Liaison__V1__CourtUpserted ev = LIAISON__V1__COURT_UPSERTED__INIT;
        ev.court_id = job->court;
        ev.revision = revision;
        ev.name = (char *)name;
        ev.short_name = (char *)short_name;
        ev.time_zone = (char *)zone_name;
        ev.registration_number_format = (char *)tmpl;
        ev.active = !active || json_is_true(active);
        ev.calendar_overrides = (char *)calendar;
        for (size_t i = 0; i < nover; i++) {
            liaison__v1__rule_override__init(&over_pb[i]);
            over_pb[i].key = (char *)over[i].key;
            over_pb[i].value = (char *)over[i].value;
            over_pp[i] = &over_pb[i];
        }
        ev.n_rule_overrides = nover;
        ev.rule_overrides = over_pp;
        size_t len = liaison__v1__court_upserted__get_packed_size(&ev);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf)
            liaison__v1__court_upserted__pack(&ev, buf);
        int rc =
            buf ? intake_publish(conn, "liaison.v1.CourtUpserted", job->court, NULL, NULL, buf, len)
                : -1;
        free(buf);
        if (rc != 0 || intake_sql_commit(conn, NULL) != 0) {
            intake_sql_rollback(conn);
            s_db_down(job);
            goto out;
        }
        job->published = true;
        intake_worker_changed(w);
    } else {
        intake_sql_rollback(conn);
    }
    const char *gp[1] = {job->court};
    if (intake_sql_begin(conn, job->court) == 0 &&
        (res = intake_sql(conn, "SELECT " COURT_JSON " FROM court WHERE court_id = $1", 1, gp,
                          NULL))) {
        intake_job_answer(job, created ? 201 : 200, json_loads(PQgetvalue(res, 0, 0), 0, NULL));
        PQclear(res);
    } else {
        s_db_down(job);
    }
    intake_sql_rollback(conn);
out:
    json_decref(root);
}

/* ---- CSV imports ---------------------------------------------------------------------- */

typedef enum {
    COL_TEXT,
    COL_CODE,
    COL_DATE,
    COL_INT,
    COL_BOOL,
    COL_WORD,
    COL_WORDS,
    COL_REF,
    COL_REFS
} col_type_t;

typedef enum { REF_NONE, REF_STAFF, REF_DEPARTMENT, REF_GROUP } ref_t;

typedef struct {
    const char *key;        /* the English name, also the JSON name */
    const char *aliases[4]; /* Chinese names */
    col_type_t type;
    bool required;
    const word_t *words; /* COL_WORD(S) */
    ref_t ref;           /* COL_REF(S) */
} column_t;

typedef struct {
    const char *kind;    /* the path's {kind} */
    const char *table;   /* SQL table */
    const char *id_kind; /* dir_id kind */
    ref_t self_ref;      /* codes of this kind, for references within the file */
    const column_t *columns;
} import_def_t;

static const column_t s_department_cols[] = {
    {"code", {"编号", "部门编号", "代码"}, COL_CODE, true, NULL, REF_NONE},
    {"name", {"名称", "部门名称", "部门"}, COL_TEXT, true, NULL, REF_NONE},
    {"kind", {"类型", "部门类型"}, COL_WORD, true, s_department_kinds, REF_NONE},
    {"head", {"负责人", "部门负责人"}, COL_REF, false, NULL, REF_STAFF},
    {"supervising_leader", {"分管院领导", "分管领导"}, COL_REF, false, NULL, REF_STAFF},
    {"active", {"启用", "有效"}, COL_BOOL, false, NULL, REF_NONE},
    {NULL, {NULL}, COL_TEXT, false, NULL, REF_NONE},
};

static const column_t s_staff_cols[] = {
    {"code", {"编号", "工号", "人员编号"}, COL_CODE, true, NULL, REF_NONE},
    {"name", {"姓名"}, COL_TEXT, true, NULL, REF_NONE},
    {"department", {"部门", "所在部门", "部门编号"}, COL_REF, false, NULL, REF_DEPARTMENT},
    {"roles", {"角色"}, COL_WORDS, false, s_staff_roles, REF_NONE},
    {"title", {"职务"}, COL_TEXT, false, NULL, REF_NONE},
    {"mobile", {"手机", "手机号码", "电话"}, COL_TEXT, false, NULL, REF_NONE},
    {"email", {"邮箱", "电子邮箱"}, COL_TEXT, false, NULL, REF_NONE},
    {"paired_groups", {"挂点联组", "挂点街道"}, COL_REFS, false, NULL, REF_GROUP},
    {"active", {"启用", "在职"}, COL_BOOL, false, NULL, REF_NONE},
    {NULL, {NULL}, COL_TEXT, false, NULL, REF_NONE},
};

static const column_t s_group_cols[] = {
    {"code", {"编号", "联组编号", "代码"}, COL_CODE, true, NULL, REF_NONE},
    {"name", {"名称", "联组名称"}, COL_TEXT, true, NULL, REF_NONE},
    {"kind", {"类型"}, COL_WORD, true, s_group_kinds, REF_NONE},
    {"parent", {"上级", "上级联组"}, COL_REF, false, NULL, REF_GROUP},
    {"street", {"街道"}, COL_TEXT, false, NULL, REF_NONE},
    {"liaison_officer", {"挂点联络员", "联络员"}, COL_REF, false, NULL, REF_STAFF},
    {"active", {"启用"}, COL_BOOL, false, NULL, REF_NONE},
    {NULL, {NULL}, COL_TEXT, false, NULL, REF_NONE},
};

static const column_t s_deputy_cols[] = {
    {"code", {"编号", "代表编号", "代码"}, COL_CODE, true, NULL, REF_NONE},
    {"name", {"姓名"}, COL_TEXT, true, NULL, REF_NONE},
    {"body", {"类别", "身份"}, COL_WORD, true, s_bodies, REF_NONE},
    {"level", {"级别", "层级"}, COL_WORD, true, s_levels, REF_NONE},
    {"congress", {"届别", "所属大会"}, COL_TEXT, false, NULL, REF_NONE},
    {"term_number", {"届次"}, COL_INT, false, NULL, REF_NONE},
    {"term_start", {"任期开始", "任期起始"}, COL_DATE, false, NULL, REF_NONE},
    {"term_end", {"任期结束", "任期终止"}, COL_DATE, false, NULL, REF_NONE},
    {"term_status", {"状态", "任期状态"}, COL_WORD, false, s_term_statuses, REF_NONE},
    {"groups", {"联组", "所属联组", "代表小组"}, COL_REFS, false, NULL, REF_GROUP},
    {"sector", {"界别", "行业"}, COL_TEXT, false, NULL, REF_NONE},
    {"work_unit", {"工作单位", "单位"}, COL_TEXT, false, NULL, REF_NONE},
    {"mobile", {"手机", "手机号码", "电话"}, COL_TEXT, false, NULL, REF_NONE},
    {"email", {"邮箱", "电子邮箱"}, COL_TEXT, false, NULL, REF_NONE},
    {"postal_address", {"通讯地址", "地址"}, COL_TEXT, false, NULL, REF_NONE},
    {"liaison_officer", {"挂点联络员", "联络员"}, COL_REF, false, NULL, REF_STAFF},
    {NULL, {NULL}, COL_TEXT, false, NULL, REF_NONE},
};

static const import_def_t s_imports[] = {
    {"departments", "department", "department", REF_DEPARTMENT, s_department_cols},
    {"staff", "staff", "staff", REF_STAFF, s_staff_cols},
    {"groups", "deputy_group", "group", REF_GROUP, s_group_cols},
    {"deputies", "deputy", "deputy", REF_NONE, s_deputy_cols},
    {NULL, NULL, NULL, REF_NONE, NULL},
};

static const import_def_t *s_import_def(const char *kind)
{
    for (const import_def_t *d = s_imports; d->kind; d++)
        if (kind && strcmp(d->kind, kind) == 0)
            return d;
    return NULL;
}

/* Codes known for references: a sorted-free small set (linear search is
 * fine at roster sizes). */
typedef struct {
    char **codes;
    size_t n;
} codes_t;

static bool s_codes_has(const codes_t *c, const char *code)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->codes[i], code) == 0)
            return true;
    return false;
}

static void s_codes_add(codes_t *c, const char *code)
{
    char **n = realloc(c->codes, (c->n + 1) * sizeof *n);
    if (!n)
        return;
    c->codes = n;
    c->codes[c->n++] = strdup(code);
}

static void s_codes_free(codes_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->codes[i]);
    free(c->codes);
    memset(c, 0, sizeof *c);
}

static int s_codes_load(PGconn *conn, const char *table, const char *court, codes_t *c)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT code FROM %s WHERE court_id = $1", table);
    const char *p[1] = {court};
    PGresult *res = intake_sql(conn, sql, 1, p, NULL);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res); i++)
        s_codes_add(c, PQgetvalue(res, i, 0));
    PQclear(res);
    return 0;
}

static void s_row_error(json_t *errors, int line, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_row_error(json_t *errors, int line, const char *column, const char *fmt, ...)
{
    if (json_array_size(errors) >= IMPORT_ERRORS_MAX)
        return;
    char reason[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    json_array_append_new(
        errors, json_pack("{s:i, s:s?, s:s}", "line", line, "column", column, "reason", reason));
}

/* Split a list cell on ; 、 , | (and spaces around). */
static json_t *s_split(const char *cell)
{
    json_t *out = json_array();
    char *copy = strdup(cell);
    if (!copy)
        return out;
    /* normalise the Chinese enumeration comma (3 bytes) and '|' ',' to ';' */
    char *r = copy, *wp = copy;
    while (*r) {
        if (strncmp(r, "、", strlen("、")) == 0 || strncmp(r, "；", strlen("；")) == 0 ||
            strncmp(r, "，", strlen("，")) == 0) {
            *wp++ = ';';
            r += 3;
        } else {
            *wp++ = (*r == '|' || *r == ',') ? ';' : *r;
            r++;
        }
    }
    *wp = '\0';
    char *save = NULL;
    for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ')
            t[--n] = '\0';
        if (*t)
            json_array_append_new(out, json_string(t));
    }
    free(copy);
    return out;
}

/* Check one row into a JSON object of typed values (NULL for blanks). */
static json_t *s_check_row(const import_def_t *def, const intake_csv_row_t *row, const int *map,
                           size_t n_cols, codes_t *refs, json_t *errors)
{
    json_t *obj = json_object();
    size_t before = json_array_size(errors);
    for (size_t c = 0; def->columns[c].key; c++) {
        const column_t *col = &def->columns[c];
        int at = map[c];
        const char *cell = at >= 0 && (size_t)at < row->n ? row->fields[at] : "";
        if (at >= 0 && (size_t)at >= row->n && row->n != n_cols) {
            s_row_error(errors, row->line, NULL, "the row has %zu fields, the header %zu", row->n,
                        n_cols);
            break;
        }
        if (!*cell) {
            if (col->required)
                s_row_error(errors, row->line, col->key, "a value is required");
            json_object_set_new(obj, col->key, json_null());
            continue;
        }
        for (const char *q = cell; *q; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t') {
                s_row_error(errors, row->line, col->key, "control characters are not allowed");
                break;
            }
        switch (col->type) {
        case COL_TEXT:
            json_object_set_new(obj, col->key, json_string(cell));
            break;
        case COL_CODE: {
            bool ok = strlen(cell) <= 64;
            for (const char *q = cell; *q && ok; q++)
                ok = *q != ' ' && *q != ';' && *q != ',' && *q != '/';
            if (!ok)
                s_row_error(errors, row->line, col->key,
                            "a code is at most 64 bytes without spaces, ';', ',' or '/'");
            json_object_set_new(obj, col->key, json_string(cell));
            break;
        }
        case COL_DATE: {
            domain_date_t d;
            if (domain_date_parse(cell, &d) != 0)
                s_row_error(errors, row->line, col->key, "\"%s\" is not a date YYYY-MM-DD", cell);
            json_object_set_new(obj, col->key, json_string(cell));
            break;
        }
        case COL_INT: {
            char *end;
            long v = strtol(cell, &end, 10);
            if (*end || v < 0 || v > 1000)
                s_row_error(errors, row->line, col->key, "\"%s\" is not a number from 0 to 1000",
                            cell);
            json_object_set_new(obj, col->key, json_integer(v));
            break;
        }
        case COL_BOOL: {
            bool t = !strcmp(cell, "true") || !strcmp(cell, "是") || !strcmp(cell, "1") ||
                     !strcmp(cell, "yes");
            bool f = !strcmp(cell, "false") || !strcmp(cell, "否") || !strcmp(cell, "0") ||
                     !strcmp(cell, "no");
            if (!t && !f)
                s_row_error(errors, row->line, col->key, "\"%s\" is not 是/否 or true/false", cell);
            json_object_set_new(obj, col->key, json_boolean(t));
            break;
        }
        case COL_WORD: {
            const word_t *wd = s_word(col->words, cell);
            if (!wd) {
                char list[300] = "";
                size_t n = 0;
                for (const word_t *x = col->words; x->value && n < sizeof list; x++)
                    n += (size_t)snprintf(list + n, sizeof list - n, "%s%s (%s)", n ? ", " : "",
                                          x->aliases[0], x->value);
                s_row_error(errors, row->line, col->key, "\"%s\" is not one of: %s", cell, list);
            }
            json_object_set_new(obj, col->key, json_string(wd ? wd->value : cell));
            break;
        }
        case COL_WORDS:
        case COL_REFS: {
            json_t *list = s_split(cell);
            json_t *out = json_array();
            size_t i;
            json_t *v;
            json_array_foreach(list, i, v)
            {
                const char *s = json_string_value(v);
                if (col->type == COL_WORDS) {
                    const word_t *wd = s_word(col->words, s);
                    if (!wd)
                        s_row_error(errors, row->line, col->key, "\"%s\" is not a known value", s);
                    json_array_append_new(out, json_string(wd ? wd->value : s));
                } else {
                    if (!s_codes_has(&refs[col->ref], s))
                        s_row_error(errors, row->line, col->key, "\"%s\" is not a known %s", s,
                                    col->ref == REF_GROUP   ? "group"
                                    : col->ref == REF_STAFF ? "staff member"
                                                            : "department");
                    json_array_append_new(out, json_string(s));
                }
            }
            json_decref(list);
            json_object_set_new(obj, col->key, out);
            break;
        }
        case COL_REF:
            if (!s_codes_has(&refs[col->ref], cell))
                s_row_error(errors, row->line, col->key, "\"%s\" is not a known %s", cell,
                            col->ref == REF_GROUP   ? "group"
                            : col->ref == REF_STAFF ? "staff member"
                                                    : "department");
            json_object_set_new(obj, col->key, json_string(cell));
            break;
        }
    }
    if (!strcmp(def->kind, "deputies") && json_array_size(errors) == before) {
        const char *status = json_string_value(json_object_get(obj, "term_status"));
        const char *start = json_string_value(json_object_get(obj, "term_start"));
        const char *end = json_string_value(json_object_get(obj, "term_end"));
        if (status && !strcmp(status, "ended") && !end)
            s_row_error(errors, row->line, "term_end", "an ended term needs its end date");
        if (start && end && strcmp(end, start) < 0)
            s_row_error(errors, row->line, "term_end", "the term ends before it starts");
    }
    if (!strcmp(def->kind, "groups") && json_array_size(errors) == before) {
        const char *code = json_string_value(json_object_get(obj, "code"));
        const char *parent = json_string_value(json_object_get(obj, "parent"));
        if (parent && code && !strcmp(parent, code))
            s_row_error(errors, row->line, "parent", "a group cannot be its own parent");
    }
    return obj;
}

static const char *s_jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s;
}

static const char *s_jstr0(json_t *o, const char *k)
{
    const char *s = s_jstr(o, k);
    return s ? s : "";
}

/* a JSON array of strings as a Postgres text[] literal */
static char *s_pg_array(json_t *arr)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputc('{', f);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        fputs(i ? ",\"" : "\"", f);
        for (const char *c = json_string_value(v); c && *c; c++) {
            if (*c == '"' || *c == '\\')
                fputc('\\', f);
            fputc(*c, f);
        }
        fputc('"', f);
    }
    fputc('}', f);
    fclose(f);
    return out;
}

static void s_date_of(const char *s, Liaison__V1__LocalDate *d)
{
    domain_date_t x;
    liaison__v1__local_date__init(d);
    if (s && domain_date_parse(s, &x) == 0) {
        d->year = x.year;
        d->month = x.month;
        d->day = x.day;
    }
}

/* Fill the DeputyTerm of a deputy row. */
static void s_term(json_t *row, Liaison__V1__DeputyTerm *t, Liaison__V1__LocalDate *start,
                   Liaison__V1__LocalDate *end)
{
    liaison__v1__deputy_term__init(t);
    t->congress = (char *)s_jstr0(row, "congress");
    t->number = (int32_t)json_integer_value(json_object_get(row, "term_number"));
    s_date_of(s_jstr(row, "term_start"), start);
    s_date_of(s_jstr(row, "term_end"), end);
    t->start = start;
    t->end = end;
    const char *st = s_jstr(row, "term_status");
    t->status = st && !strcmp(st, "ended") ? LIAISON__V1__TERM_STATUS__TERM_STATUS_ENDED
                                           : LIAISON__V1__TERM_STATUS__TERM_STATUS_SERVING;
}

/* ids of a JSON array of codes, for events */
static char **s_ids(const char *kind, const char *court, json_t *codes, size_t *n)
{
    *n = json_array_size(codes);
    char **ids = calloc(*n ? *n : 1, sizeof *ids);
    for (size_t i = 0; ids && i < *n; i++) {
        ids[i] = malloc(37);
        if (ids[i])
            s_dir_id(kind, court, json_string_value(json_array_get(codes, i)), ids[i]);
    }
    return ids;
}

static void s_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

static char *s_ref_id(const char *kind, const char *court, const char *code, char buf[37])
{
    if (!code)
        return "";
    s_dir_id(kind, court, code, buf);
    return buf;
}

/* Publish the event of one changed row. */
static int s_publish_row(PGconn *conn, const import_def_t *def, const char *court, json_t *row,
                         long long revision, bool term_ended)
{
    const char *code = s_jstr(row, "code");
    char id[37], a[37], b[37];
    s_dir_id(def->id_kind, court, code, id);
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *type = NULL;
    json_t *active = json_object_get(row, "active");
    bool is_active = !active || json_is_null(active) || json_is_true(active);
    if (!strcmp(def->kind, "departments")) {
        Liaison__V1__DepartmentUpserted ev = LIAISON__V1__DEPARTMENT_UPSERTED__INIT;
        ev.department_id = id;
        ev.revision = revision;
        ev.name = (char *)s_jstr0(row, "name");
        ev.kind =
            (Liaison__V1__DepartmentKind)s_word_proto(s_department_kinds, s_jstr0(row, "kind"));
        ev.head_staff_id = s_ref_id("staff", court, s_jstr(row, "head"), a);
        ev.supervising_leader_staff_id =
            s_ref_id("staff", court, s_jstr(row, "supervising_leader"), b);
        ev.active = is_active;
        type = "liaison.v1.DepartmentUpserted";
        len = liaison__v1__department_upserted__get_packed_size(&ev);
        if ((buf = malloc(len + 1)))
            liaison__v1__department_upserted__pack(&ev, buf);
    } else if (!strcmp(def->kind, "staff")) {
        Liaison__V1__StaffUpserted ev = LIAISON__V1__STAFF_UPSERTED__INIT;
        ev.staff_id = id;
        ev.revision = revision;
        ev.name = (char *)s_jstr0(row, "name");
        ev.department_id = s_ref_id("department", court, s_jstr(row, "department"), a);
        json_t *roles = json_object_get(row, "roles");
        size_t nr = json_array_size(roles);
        Liaison__V1__StaffRole *rv = calloc(nr ? nr : 1, sizeof *rv);
        for (size_t i = 0; rv && i < nr; i++)
            rv[i] = (Liaison__V1__StaffRole)s_word_proto(
                s_staff_roles, json_string_value(json_array_get(roles, i)));
        ev.n_roles = rv ? nr : 0;
        ev.roles = rv;
        ev.title = (char *)s_jstr0(row, "title");
        ev.mobile = (char *)s_jstr0(row, "mobile");
        ev.email = (char *)s_jstr0(row, "email");
        size_t ng;
        char **gids = s_ids("group", court, json_object_get(row, "paired_groups"), &ng);
        ev.n_paired_group_ids = gids ? ng : 0;
        ev.paired_group_ids = gids;
        ev.active = is_active;
        type = "liaison.v1.StaffUpserted";
        len = liaison__v1__staff_upserted__get_packed_size(&ev);
        if ((buf = malloc(len + 1)))
            liaison__v1__staff_upserted__pack(&ev, buf);
        free(rv);
        s_ids_free(gids, ng);
    } else if (!strcmp(def->kind, "groups")) {
        Liaison__V1__GroupUpserted ev = LIAISON__V1__GROUP_UPSERTED__INIT;
        ev.group_id = id;
        ev.revision = revision;
        ev.name = (char *)s_jstr0(row, "name");
        ev.kind = (Liaison__V1__GroupKind)s_word_proto(s_group_kinds, s_jstr0(row, "kind"));
        ev.parent_group_id = s_ref_id("group", court, s_jstr(row, "parent"), a);
        ev.street = (char *)s_jstr0(row, "street");
        ev.liaison_officer_staff_id = s_ref_id("staff", court, s_jstr(row, "liaison_officer"), b);
        ev.active = is_active;
        type = "liaison.v1.GroupUpserted";
        len = liaison__v1__group_upserted__get_packed_size(&ev);
        if ((buf = malloc(len + 1)))
            liaison__v1__group_upserted__pack(&ev, buf);
    } else {
        Liaison__V1__DeputyTerm term;
        Liaison__V1__LocalDate start, end;
        s_term(row, &term, &start, &end);
        if (term_ended) {
            Liaison__V1__DeputyTermEnded ev = LIAISON__V1__DEPUTY_TERM_ENDED__INIT;
            ev.deputy_id = id;
            ev.revision = revision;
            ev.term = &term;
            ev.reason = (char *)s_jstr0(row, "end_reason");
            type = "liaison.v1.DeputyTermEnded";
            len = liaison__v1__deputy_term_ended__get_packed_size(&ev);
            if ((buf = malloc(len + 1)))
                liaison__v1__deputy_term_ended__pack(&ev, buf);
        } else {
            Liaison__V1__DeputyUpserted ev = LIAISON__V1__DEPUTY_UPSERTED__INIT;
            ev.deputy_id = id;
            ev.revision = revision;
            ev.name = (char *)s_jstr0(row, "name");
            ev.body = (Liaison__V1__DeputyBody)s_word_proto(s_bodies, s_jstr0(row, "body"));
            ev.level = (Liaison__V1__DeputyLevel)s_word_proto(s_levels, s_jstr0(row, "level"));
            ev.term = &term;
            size_t ng;
            char **gids = s_ids("group", court, json_object_get(row, "groups"), &ng);
            ev.n_group_ids = gids ? ng : 0;
            ev.group_ids = gids;
            ev.sector = (char *)s_jstr0(row, "sector");
            ev.work_unit = (char *)s_jstr0(row, "work_unit");
            ev.mobile = (char *)s_jstr0(row, "mobile");
            ev.email = (char *)s_jstr0(row, "email");
            ev.postal_address = (char *)s_jstr0(row, "postal_address");
            ev.liaison_officer_staff_id =
                s_ref_id("staff", court, s_jstr(row, "liaison_officer"), a);
            type = "liaison.v1.DeputyUpserted";
            len = liaison__v1__deputy_upserted__get_packed_size(&ev);
            if ((buf = malloc(len + 1)))
                liaison__v1__deputy_upserted__pack(&ev, buf);
            s_ids_free(gids, ng);
        }
    }
    int rc = buf ? intake_publish(conn, type, court, NULL, NULL, buf, len) : -1;
    free(buf);
    return rc;
}

/* Upsert one checked row; *revision = 0 when nothing changed. */
static int s_upsert_row(PGconn *conn, const import_def_t *def, const char *court, json_t *row,
                        long long *revision, bool *term_ended)
{
    *revision = 0;
    *term_ended = false;
    char *a1 = NULL, *a2 = NULL;
    PGresult *res = NULL;
    json_t *active = json_object_get(row, "active");
    const char *act = !active || json_is_null(active) || json_is_true(active) ? "true" : "false";
    if (!strcmp(def->kind, "departments")) {
        const char *p[7] = {court,
                            s_jstr(row, "code"),
                            s_jstr(row, "name"),
                            s_jstr(row, "kind"),
                            s_jstr(row, "head"),
                            s_jstr(row, "supervising_leader"),
                            act};
        res =
            intake_sql(conn,
                       "INSERT INTO department AS t (court_id, code, name, kind, head_code, "
                       "  supervising_code, active) VALUES ($1, $2, $3, $4, $5, $6, $7::boolean) "
                       "ON CONFLICT (court_id, code) DO UPDATE SET name = excluded.name, "
                       "  kind = excluded.kind, head_code = excluded.head_code, "
                       "  supervising_code = excluded.supervising_code, active = excluded.active, "
                       "  revision = t.revision + 1, updated_at = now() "
                       "WHERE (t.name, t.kind, t.head_code, t.supervising_code, t.active) "
                       "  IS DISTINCT FROM (excluded.name, excluded.kind, excluded.head_code, "
                       "  excluded.supervising_code, excluded.active) RETURNING revision, false",
                       7, p, NULL);
    } else if (!strcmp(def->kind, "staff")) {
        a1 = s_pg_array(json_object_get(row, "roles"));
        a2 = s_pg_array(json_object_get(row, "paired_groups"));
        const char *p[10] = {court,
                             s_jstr(row, "code"),
                             s_jstr(row, "name"),
                             s_jstr(row, "department"),
                             a1,
                             s_jstr0(row, "title"),
                             s_jstr0(row, "mobile"),
                             s_jstr0(row, "email"),
                             a2,
                             act};
        res = intake_sql(
            conn,
            "INSERT INTO staff AS t (court_id, code, name, department_code, roles, title, "
            "  mobile, email, paired_group_codes, active) "
            "VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9::text[], $10::boolean) "
            "ON CONFLICT (court_id, code) DO UPDATE SET name = excluded.name, "
            "  department_code = excluded.department_code, roles = excluded.roles, "
            "  title = excluded.title, mobile = excluded.mobile, email = excluded.email, "
            "  paired_group_codes = excluded.paired_group_codes, active = excluded.active, "
            "  revision = t.revision + 1, updated_at = now() "
            "WHERE (t.name, t.department_code, t.roles, t.title, t.mobile, t.email, "
            "  t.paired_group_codes, t.active) IS DISTINCT FROM (excluded.name, "
            "  excluded.department_code, excluded.roles, excluded.title, excluded.mobile, "
            "  excluded.email, excluded.paired_group_codes, excluded.active) "
            "RETURNING revision, false",
            10, p, NULL);
    } else if (!strcmp(def->kind, "groups")) {
        const char *p[8] = {court,
                            s_jstr(row, "code"),
                            s_jstr(row, "name"),
                            s_jstr(row, "kind"),
                            s_jstr(row, "parent"),
                            s_jstr0(row, "street"),
                            s_jstr(row, "liaison_officer"),
                            act};
        res = intake_sql(
            conn,
            "INSERT INTO deputy_group AS t (court_id, code, name, kind, parent_code, "
            "  street, liaison_officer_code, active) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::boolean) "
            "ON CONFLICT (court_id, code) DO UPDATE SET name = excluded.name, "
            "  kind = excluded.kind, parent_code = excluded.parent_code, "
            "  street = excluded.street, liaison_officer_code = excluded.liaison_officer_code, "
            "  active = excluded.active, revision = t.revision + 1, updated_at = now() "
            "WHERE (t.name, t.kind, t.parent_code, t.street, t.liaison_officer_code, "
            "  t.active) IS DISTINCT FROM (excluded.name, excluded.kind, "
            "  excluded.parent_code, excluded.street, excluded.liaison_officer_code, "
            "  excluded.active) RETURNING revision, false",
            8, p, NULL);
    } else {
        a1 = s_pg_array(json_object_get(row, "groups"));
        char term_number[16];
        snprintf(term_number, sizeof term_number, "%lld",
                 (long long)json_integer_value(json_object_get(row, "term_number")));
        const char *st = s_jstr(row, "term_status");
        const char *p[17] = {court,
                             s_jstr(row, "code"),
                             s_jstr(row, "name"),
                             s_jstr(row, "body"),
                             s_jstr(row, "level"),
                             s_jstr0(row, "congress"),
                             term_number,
                             s_jstr(row, "term_start"),
                             s_jstr(row, "term_end"),
                             st ? st : "serving",
                             a1,
                             s_jstr0(row, "sector"),
                             s_jstr0(row, "work_unit"),
                             s_jstr0(row, "mobile"),
                             s_jstr0(row, "email"),
                             s_jstr0(row, "postal_address"),
                             s_jstr(row, "liaison_officer")};
        res = intake_sql(
            conn,
            "WITH old AS (SELECT term_status FROM deputy WHERE court_id = $1 AND code = $2) "
            "INSERT INTO deputy AS t (court_id, code, id, name, body, level, congress, "
            "term_number, "
            "  term_start, term_end, term_status, group_codes, sector, work_unit, mobile, email, "
            "  postal_address, liaison_officer_code) "
            "VALUES ($1, $2, dir_id('deputy', $1, $2), $3, $4, $5, $6, $7::int, $8::date, "
            "$9::date, "
            "  $10, $11::text[], $12, $13, $14, $15, $16, $17) "
            "ON CONFLICT (court_id, code) DO UPDATE SET name = excluded.name, body = "
            "excluded.body, "
            "  level = excluded.level, congress = excluded.congress, "
            "  term_number = excluded.term_number, term_start = excluded.term_start, "
            "  term_end = excluded.term_end, term_status = excluded.term_status, "
            "  group_codes = excluded.group_codes, sector = excluded.sector, "
            "  work_unit = excluded.work_unit, mobile = excluded.mobile, email = excluded.email, "
            "  postal_address = excluded.postal_address, "
            "  liaison_officer_code = excluded.liaison_officer_code, "
            "  revision = t.revision + 1, updated_at = now() "
            "WHERE (t.name, t.body, t.level, t.congress, t.term_number, t.term_start, t.term_end, "
            "  t.term_status, t.group_codes, t.sector, t.work_unit, t.mobile, t.email, "
            "  t.postal_address, t.liaison_officer_code) IS DISTINCT FROM (excluded.name, "
            "  excluded.body, excluded.level, excluded.congress, excluded.term_number, "
            "  excluded.term_start, excluded.term_end, excluded.term_status, excluded.group_codes, "
            "  excluded.sector, excluded.work_unit, excluded.mobile, excluded.email, "
            "  excluded.postal_address, excluded.liaison_officer_code) "
            "RETURNING revision, (SELECT term_status FROM old) = 'serving' AND "
            "  t.term_status = 'ended'",
            17, p, NULL);
    }
    free(a1);
    free(a2);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        *revision = atoll(PQgetvalue(res, 0, 0));
        *term_ended = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    }
    PQclear(res);
    return 0;
}

void intake_directory_import(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) ||
        !intake_authorize(job, &p, job->court, INTAKE_ACCESS_DIRECTORY))
        return;
    const import_def_t *def = s_import_def(job->id);
    if (!def) {
        intake_job_problem(job, 404, "unknown_directory", "kind",
                           "The directory kinds are departments, staff, groups and deputies.",
                           "名录种类为 departments、staff、groups、deputies。");
        return;
    }
    if (!intake_content_type_is(job->content_type, "text/csv")) {
        intake_job_problem(job, 415, "unsupported_media_type", "Content-Type",
                           "A directory import is text/csv (UTF-8).",
                           "名录导入须为 UTF-8 的 text/csv。");
        return;
    }
    if (!job->body || !domain_utf8_valid(job->body, job->body_len)) {
        intake_job_problem(job, 400, "invalid_utf8", "body",
                           "The CSV is not valid UTF-8 (save it as UTF-8, not GBK).",
                           "CSV 不是有效的 UTF-8 文本（请另存为 UTF-8 而非 GBK）。");
        return;
    }
    if (memchr(job->body, '\0', job->body_len)) {
        intake_job_problem(job, 400, "invalid_csv", "body", "The CSV holds NUL bytes.",
                           "CSV 含有空字符。");
        return;
    }
    intake_csv_row_t *rows = NULL;
    size_t n_rows = 0;
    char err[200];
    int err_line;
    if (intake_csv_parse(job->body, job->body_len, &rows, &n_rows, err, sizeof err, &err_line) !=
        0) {
        json_t *errors = json_array();
        s_row_error(errors, err_line, NULL, "%s", err);
        intake_job_problem(job, 422, "invalid_csv", "body", "The CSV cannot be read.",
                           "CSV 无法解析。");
        json_object_set_new(job->answer, "errors", errors);
        return;
    }
    json_t *errors = json_array();
    json_t *checked = json_array();
    codes_t refs[4] = {{0}};
    codes_t seen = {0};
    PGconn *conn = intake_worker_conn(w);
    bool tx = false;
    if (n_rows == 0) {
        intake_job_problem(job, 422, "invalid_csv", "body", "The CSV has no header.",
                           "CSV 缺少表头。");
        goto out;
    }
    if (n_rows - 1 > IMPORT_ROWS_MAX) {
        intake_job_problemf(job, 422, "too_long", "body", "导入行数超过上限。", "At most %d rows.",
                            IMPORT_ROWS_MAX);
        goto out;
    }
    /* header → column map */
    int map[32];
    size_t n_def = 0;
    for (; def->columns[n_def].key; n_def++)
        map[n_def] = -1;
    const intake_csv_row_t *hdr = &rows[0];
    for (size_t i = 0; i < hdr->n; i++) {
        const char *h = hdr->fields[i];
        bool found = false;
        for (size_t c = 0; c < n_def && !found; c++) {
            const column_t *col = &def->columns[c];
            bool match = strcmp(h, col->key) == 0;
            for (size_t a = 0; a < 4 && col->aliases[a] && !match; a++)
                match = strcmp(h, col->aliases[a]) == 0;
            if (match) {
                if (map[c] >= 0)
                    s_row_error(errors, hdr->line, h, "the column appears twice");
                map[c] = (int)i;
                found = true;
            }
        }
        if (!found)
            s_row_error(errors, hdr->line, h, "unknown column");
    }
    for (size_t c = 0; c < n_def; c++)
        if (def->columns[c].required && map[c] < 0)
            s_row_error(errors, hdr->line, def->columns[c].key, "a required column is missing (%s)",
                        def->columns[c].aliases[0]);
    if (json_array_size(errors))
        goto refuse;

    /* what references may point to: the court's records, and this file's */
    if (intake_sql_begin(conn, job->court) != 0) {
        s_db_down(job);
        goto out;
    }
    tx = true;
    const char *cp[1] = {job->court};
    PGresult *res = intake_sql(conn, "SELECT 1 FROM court WHERE court_id = $1", 1, cp, NULL);
    if (!res) {
        s_db_down(job);
        goto out;
    }
    bool court_ok = PQntuples(res) == 1;
    PQclear(res);
    if (!court_ok) {
        intake_job_problem(job, 404, "unknown_court", "court", "No such court.", "法院不存在。");
        goto out;
    }
    if (s_codes_load(conn, "staff", job->court, &refs[REF_STAFF]) ||
        s_codes_load(conn, "department", job->court, &refs[REF_DEPARTMENT]) ||
        s_codes_load(conn, "deputy_group", job->court, &refs[REF_GROUP])) {
        s_db_down(job);
        goto out;
    }
    int code_col = map[0];
    for (size_t r = 1; r < n_rows; r++) {
        if (code_col >= 0 && (size_t)code_col < rows[r].n && rows[r].fields[code_col][0]) {
            const char *code = rows[r].fields[code_col];
            if (s_codes_has(&seen, code))
                s_row_error(errors, rows[r].line, "code",
                            "the code \"%s\" appears twice in the file", code);
            s_codes_add(&seen, code);
            if (def->self_ref != REF_NONE)
                s_codes_add(&refs[def->self_ref], code);
        }
    }
    for (size_t r = 1; r < n_rows; r++) {
        if (rows[r].n != hdr->n) {
            s_row_error(errors, rows[r].line, NULL, "the row has %zu fields, the header has %zu",
                        rows[r].n, hdr->n);
            continue;
        }
        json_array_append_new(checked, s_check_row(def, &rows[r], map, hdr->n, refs, errors));
    }
    if (json_array_size(errors))
        goto refuse;

    /* all rows are good: store them, and publish the changed ones */
    size_t created = 0, changed = 0, unchanged = 0;
    for (size_t i = 0; i < json_array_size(checked); i++) {
        json_t *row = json_array_get(checked, i);
        long long revision;
        bool ended;
        if (s_upsert_row(conn, def, job->court, row, &revision, &ended) != 0 ||
            (revision && s_publish_row(conn, def, job->court, row, revision, ended) != 0)) {
            s_db_down(job);
            goto out;
        }
        if (!revision)
            unchanged++;
        else if (revision == 1)
            created++;
        else
            changed++;
    }
    if (intake_sql_commit(conn, NULL) != 0) {
        s_db_down(job);
        goto out;
    }
    tx = false;
    job->published = created + changed > 0;
    if (job->published)
        intake_worker_changed(w);
    intake_job_answer(job, 200,
                      json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "court", job->court, "kind",
                                def->kind, "rows", (json_int_t)json_array_size(checked), "created",
                                (json_int_t)created, "changed", (json_int_t)changed, "unchanged",
                                (json_int_t)unchanged));
    goto out;
refuse:
    intake_job_problemf(
        job, 422, "invalid_rows", "body", "导入被拒绝：以下各行有误，未导入任何一行。",
        "The import was refused: %zu problem(s); no row was stored.", json_array_size(errors));
    json_object_set_new(job->answer, "errors", json_incref(errors));
out:
    if (tx)
        intake_sql_rollback(conn);
    json_decref(errors);
    json_decref(checked);
    for (int i = 0; i < 4; i++)
        s_codes_free(&refs[i]);
    s_codes_free(&seen);
    intake_csv_free(rows, n_rows);
}

void intake_directory_list(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) ||
        !intake_authorize(job, &p, job->court, INTAKE_ACCESS_READ))
        return;
    const import_def_t *def = s_import_def(job->id);
    if (!def) {
        intake_job_problem(job, 404, "unknown_directory", "kind",
                           "The directory kinds are departments, staff, groups and deputies.",
                           "名录种类为 departments、staff、groups、deputies。");
        return;
    }
    static const struct {
        const char *kind, *sql;
    } sqls[] = {
        {"departments",
         "SELECT jsonb_build_object('id', dir_id('department', court_id, code), 'code', code, "
         "'name', name, 'kind', kind, 'head', head_code, 'supervising_leader', supervising_code, "
         "'active', active, 'revision', revision)::text FROM department WHERE court_id = $1 "
         "AND ($2::text IS NULL OR name LIKE '%' || $2 || '%' OR code = $2) ORDER BY code"},
        {"staff",
         "SELECT jsonb_build_object('id', dir_id('staff', court_id, code), 'code', code, "
         "'name', name, 'department', department_code, 'roles', roles, 'title', title, "
         "'mobile', mobile, 'email', email, 'paired_groups', paired_group_codes, "
         "'active', active, 'revision', revision)::text FROM staff WHERE court_id = $1 "
         "AND ($2::text IS NULL OR name LIKE '%' || $2 || '%' OR code = $2) ORDER BY code"},
        {"groups",
         "SELECT jsonb_build_object('id', dir_id('group', court_id, code), 'code', code, "
         "'name', name, 'kind', kind, 'parent', parent_code, 'street', street, "
         "'liaison_officer', liaison_officer_code, 'active', active, 'revision', revision)::text "
         "FROM deputy_group WHERE court_id = $1 "
         "AND ($2::text IS NULL OR name LIKE '%' || $2 || '%' OR code = $2) ORDER BY code"},
        {"deputies",
         "SELECT jsonb_build_object('id', id, 'code', code, 'name', name, 'body', body, "
         "'level', level, 'congress', congress, 'term_number', term_number, "
         "'term_start', term_start, 'term_end', term_end, 'term_status', term_status, "
         "'end_reason', end_reason, 'groups', group_codes, 'sector', sector, "
         "'work_unit', work_unit, 'mobile', mobile, 'email', email, "
         "'postal_address', postal_address, 'liaison_officer', liaison_officer_code, "
         "'revision', revision)::text FROM deputy WHERE court_id = $1 "
         "AND ($2::text IS NULL OR name LIKE '%' || $2 || '%' OR code = $2) "
         "AND ($3::text IS NULL OR term_status = $3) ORDER BY code"},
    };
    const char *sql = NULL;
    for (size_t i = 0; i < sizeof sqls / sizeof sqls[0]; i++)
        if (!strcmp(sqls[i].kind, def->kind))
            sql = sqls[i].sql;
    const char *q = json_string_value(json_object_get(job->query, "q"));
    const char *status = json_string_value(json_object_get(job->query, "status"));
    if (status && strcmp(status, "serving") && strcmp(status, "ended")) {
        intake_job_problem(job, 400, "invalid_query", "status", "status is serving or ended.",
                           "status 应为 serving 或 ended。");
        return;
    }
    PGconn *conn = intake_worker_conn(w);
    if (intake_sql_begin(conn, job->court) != 0)
        return s_db_down(job);
    const char *params[3] = {job->court, q, status};
    PGresult *res = intake_sql(conn, sql, strcmp(def->kind, "deputies") ? 2 : 3, params, NULL);
    intake_sql_rollback(conn);
    if (!res)
        return s_db_down(job);
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(arr, json_loads(PQgetvalue(res, i, 0), 0, NULL));
    PQclear(res);
    intake_job_answer(
        job, 200,
        json_pack("{s:s, s:s, s:o}", "court", job->court, "kind", def->kind, def->kind, arr));
}

void intake_deputy_end_term(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) ||
        !intake_authorize(job, &p, job->court, INTAKE_ACCESS_DIRECTORY))
        return;
    json_t *root = s_json_body(job);
    if (!root)
        return;
    bool ok = true;
    const char *end = s_opt_string(job, root, "end_date", NULL, &ok);
    const char *reason = s_opt_string(job, root, "reason", "", &ok);
    domain_date_t d;
    PGconn *conn = intake_worker_conn(w);
    PGresult *res = NULL;
    if (!ok)
        goto out;
    if (!end || domain_date_parse(end, &d) != 0) {
        intake_job_problem(job, 422, end ? "invalid_value" : "missing_field", "end_date",
                           "end_date is the last day of the term, YYYY-MM-DD.",
                           "end_date 为任期最后一日，格式 YYYY-MM-DD。");
        goto out;
    }
    if (intake_sql_begin(conn, job->court) != 0) {
        s_db_down(job);
        goto out;
    }
    const char *params[4] = {job->court, job->id, end, reason};
    res = intake_sql(
        conn,
        "UPDATE deputy SET term_status = 'ended', term_end = $3::date, end_reason = $4, "
        "  revision = revision + 1, updated_at = now() "
        "WHERE court_id = $1 AND (code = $2 OR id::text = lower($2)) "
        "  AND term_status = 'serving' AND (term_start IS NULL OR term_start <= $3::date) "
        "RETURNING jsonb_build_object('code', code, 'name', name, 'congress', congress, "
        "  'term_number', term_number, 'term_start', term_start, 'term_end', term_end, "
        "  'term_status', term_status, 'end_reason', end_reason)::text, revision",
        4, params, NULL);
    if (!res) {
        intake_sql_rollback(conn);
        s_db_down(job);
        goto out;
    }
    if (PQntuples(res) == 0) {
        intake_sql_rollback(conn);
        PQclear(res);
        res = NULL;
        intake_job_problem(job, 409, "term_not_serving", "deputy",
                           "No serving deputy with this code in this court (or the end date is "
                           "before the term's start).",
                           "本院无此在任代表（或终止日期早于任期开始）。");
        goto out;
    }
    json_t *row = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    long long revision = atoll(PQgetvalue(res, 0, 1));
    const import_def_t *def = s_import_def("deputies");
    if (!row || s_publish_row(conn, def, job->court, row, revision, true) != 0 ||
        intake_sql_commit(conn, NULL) != 0) {
        intake_sql_rollback(conn);
        json_decref(row);
        s_db_down(job);
        goto out;
    }
    job->published = true;
    intake_worker_changed(w);
    intake_job_answer(job, 200, row);
out:
    PQclear(res);
    json_decref(root);
}

/* ---- tokens -------------------------------------------------------------------------------- */

/* TokenIssued in the open transaction: every other daemon projects it into
 * its auth_token table (common/auth.h); only the hash travels. */
static int s_publish_token_issued(PGconn *conn, const char *hash, const char *court,
                                  const char *role, const char *dept, const char *staff,
                                  const char *name)
{
    char dept_id[37] = "", staff_id[37] = "";
    if (court && dept)
        s_dir_id("department", court, dept, dept_id);
    /* A person's token names the staff member (a leader approves only what
     * is his to approve: routing compares this id with the directory's). */
    if (court && staff)
        s_dir_id("staff", court, staff, staff_id);
    Liaison__V1__TokenIssued ev = LIAISON__V1__TOKEN_ISSUED__INIT;
    ev.token_sha256 = (char *)hash;
    ev.court_id = (char *)(court ? court : "");
    ev.role = (char *)role;
    ev.department_id = dept_id;
    ev.staff_id = staff_id;
    ev.name = (char *)(name ? name : "");
    size_t len = liaison__v1__token_issued__get_packed_size(&ev);
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        return -1;
    liaison__v1__token_issued__pack(&ev, buf);
    int rc = intake_publish(conn, "liaison.v1.TokenIssued", court, NULL, NULL, buf, len);
    free(buf);
    return rc;
}

void intake_token_revoke(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) || !intake_authorize(job, &p, NULL, INTAKE_ACCESS_ADMIN))
        return;
    json_t *root = job->body ? s_json_body(job) : json_object();
    if (!root)
        return;
    bool ok = true;
    const char *reason = s_opt_string(job, root, "reason", "", &ok);
    PGconn *conn = intake_worker_conn(w);
    PGresult *res = NULL;
    bool hex = job->id && strlen(job->id) == 64;
    for (const char *c = job->id; hex && *c; c++)
        hex = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
    if (!ok)
        goto out;
    if (!hex) {
        intake_job_problem(job, 404, "unknown_token", "id",
                           "Tokens are named by their SHA-256 (64 lower-case hex digits).",
                           "令牌以其 SHA-256 摘要（64 位小写十六进制）标识。");
        goto out;
    }
    const char *params[1] = {job->id};
    if (intake_sql_begin(conn, "*") != 0 ||
        !(res = intake_sql(conn,
                           "UPDATE api_token SET revoked_at = now() WHERE token_hash = $1 "
                           "AND revoked_at IS NULL RETURNING 1",
                           1, params, NULL))) {
        intake_sql_rollback(conn);
        s_db_down(job);
        goto out;
    }
    if (PQntuples(res) == 0) {
        intake_sql_rollback(conn);
        intake_job_problem(job, 404, "unknown_token", "id", "No such token, or it is revoked.",
                           "令牌不存在或已吊销。");
        goto out;
    }
    Liaison__V1__TokenRevoked ev = LIAISON__V1__TOKEN_REVOKED__INIT;
    ev.token_sha256 = job->id;
    ev.reason = (char *)reason;
    uint8_t buf[256];
    size_t len = liaison__v1__token_revoked__get_packed_size(&ev);
    if (len > sizeof buf) {
        intake_sql_rollback(conn);
        intake_job_problem(job, 422, "too_long", "reason", "The reason is too long.", "原因过长。");
        goto out;
    }
    liaison__v1__token_revoked__pack(&ev, buf);
    if (intake_publish(conn, "liaison.v1.TokenRevoked", NULL, NULL, NULL, buf, len) != 0 ||
        intake_sql_commit(conn, NULL) != 0) {
        intake_sql_rollback(conn);
        s_db_down(job);
        goto out;
    }
    job->published = true;
    intake_worker_changed(w);
    intake_job_answer(job, 200, json_pack("{s:s, s:b}", "token_sha256", job->id, "revoked", 1));
out:
    PQclear(res);
    json_decref(root);
}

void intake_token_create(intake_worker_t *w, intake_job_t *job)
{
    intake_principal_t p;
    if (!intake_worker_auth(w, job, &p) || !intake_authorize(job, &p, NULL, INTAKE_ACCESS_ADMIN))
        return;
    json_t *root = s_json_body(job);
    if (!root)
        return;
    bool ok = true;
    const char *role_s = s_opt_string(job, root, "role", NULL, &ok);
    const char *court = s_opt_string(job, root, "court", NULL, &ok);
    const char *dept = s_opt_string(job, root, "department", NULL, &ok);
    const char *name = s_opt_string(job, root, "name", "", &ok);
    const char *staff = s_opt_string(job, root, "staff", NULL, &ok);
    auth_role_t role;
    PGconn *conn = intake_worker_conn(w);
    if (!ok)
        goto out;
    if (!role_s || (role = auth_role_parse(role_s)) == AUTH_ROLE_UNKNOWN) {
        intake_job_problem(
            job, 422, role_s ? "invalid_value" : "missing_field", "role",
            "role is one of liaison_office, leader, department, operator, auditor, "
            "system.",
            "role 取值为 liaison_office、leader、department、operator、auditor、system。");
        goto out;
    }
    if ((role == AUTH_ROLE_OPERATOR) != (court == NULL)) {
        intake_job_problem(job, 422, court ? "invalid_value" : "missing_field", "court",
                           "Every token but an operator's is bound to one court.",
                           "除运维令牌外，每个令牌须绑定一个法院。");
        goto out;
    }
    if ((role == AUTH_ROLE_DEPARTMENT) != (dept != NULL)) {
        intake_job_problem(job, 422, dept ? "invalid_value" : "missing_field", "department",
                           "A department token names its department; no other token does.",
                           "部门令牌须指明部门；其他令牌不可指明部门。");
        goto out;
    }
    unsigned char rnd[24];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        intake_job_problem(job, 500, "internal_error", NULL, "No randomness available.",
                           "服务器内部错误。");
        goto out;
    }
    char token[64] = "lst_";
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(token + 4 + 2 * i, 3, "%02x", rnd[i]);
    char hash[65];
    auth_hash(token, hash);
    if (intake_sql_begin(conn, court ? court : "*") != 0) {
        s_db_down(job);
        goto out;
    }
    if (court) {
        const char *cp[1] = {court};
        PGresult *res = intake_sql(conn, "SELECT 1 FROM court WHERE court_id = $1", 1, cp, NULL);
        bool found = res && PQntuples(res) == 1;
        PQclear(res);
        if (!found) {
            intake_sql_rollback(conn);
            intake_job_problem(job, 422, "unknown_court", "court", "No such court.",
                               "法院不存在。");
            goto out;
        }
        if (dept) {
            const char *dp[2] = {court, dept};
            res = intake_sql(conn, "SELECT 1 FROM department WHERE court_id = $1 AND code = $2", 2,
                             dp, NULL);
            found = res && PQntuples(res) == 1;
            PQclear(res);
            if (!found) {
                intake_sql_rollback(conn);
                intake_job_problem(job, 422, "unknown_department", "department",
                                   "No such department in this court.", "本院无此部门。");
                goto out;
            }
        }
        if (staff) {
            const char *sp[2] = {court, staff};
            res = intake_sql(conn, "SELECT 1 FROM staff WHERE court_id = $1 AND code = $2", 2, sp,
                             NULL);
            found = res && PQntuples(res) == 1;
            PQclear(res);
            if (!found) {
                intake_sql_rollback(conn);
                intake_job_problem(job, 422, "unknown_staff", "staff",
                                   "No such staff member in this court.", "本院无此工作人员。");
                goto out;
            }
        }
    } else if (staff) {
        intake_sql_rollback(conn);
        intake_job_problem(job, 422, "invalid_value", "staff",
                           "An operator's token names no staff member of a court.",
                           "运维令牌不可指明工作人员。");
        goto out;
    }
    const char *params[5] = {hash, court, auth_role_name(role), dept, name};
    PGresult *res =
        intake_sql(conn,
                   "INSERT INTO api_token (token_hash, court_id, role, department_code, "
                   "name) VALUES ($1, $2, $3, $4, $5)",
                   5, params, NULL);
    if (!res ||
        s_publish_token_issued(conn, hash, court, auth_role_name(role), dept, staff, name) != 0 ||
        intake_sql_commit(conn, NULL) != 0) {
        PQclear(res);
        intake_sql_rollback(conn);
        s_db_down(job);
        goto out;
    }
    PQclear(res);
    log_info("intake: token created", "role=%s court=%s name=\"%s\"", auth_role_name(role),
             court ? court : "*", name);
    job->published = true;
    intake_job_answer(job, 201,
                      json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "token", token,
                                "token_sha256", hash, "role", auth_role_name(role), "court", court,
                                "department", dept, "staff", staff, "name", name));
out:
    json_decref(root);
}

void intake_token_bootstrap(intake_worker_t *w, intake_job_t *job)
{
    const char *hash = intake_worker_startup_arg(w);
    const char *params[1] = {hash};
    PGconn *conn = intake_worker_conn(w);
    PGresult *res = NULL;
    job->status = 503;
    if (intake_sql_begin(conn, "*") != 0 ||
        !(res =
              intake_sql(conn,
                         "INSERT INTO api_token (token_hash, role, name) "
                         "VALUES ($1, 'operator', 'bootstrap') ON CONFLICT DO NOTHING RETURNING 1",
                         1, params, NULL))) {
        intake_sql_rollback(conn);
        return;
    }
    bool inserted = PQntuples(res) == 1;
    PQclear(res);
    /* a new token is announced, so the other daemons accept it too */
    if ((inserted &&
         s_publish_token_issued(conn, hash, NULL, "operator", NULL, NULL, "bootstrap") != 0) ||
        intake_sql_commit(conn, NULL) != 0) {
        intake_sql_rollback(conn);
        return;
    }
    log_info("intake: bootstrap operator token ensured", "new=%s", inserted ? "yes" : "no");
    job->status = 200;
}
