/* deadline_apply — what the deadline daemon does with intake's and
 * routing's events (DOMAIN.md §4.2, §4.3).
 *
 * Each event is applied inside the consumer's transaction, together with
 * the consumer's new position (bus_consumer.h): a deadline is created,
 * met or cancelled exactly once however often the daemon is killed.
 *
 * Which rule starts when:
 *   ItemRegistered   remark (Art. 16): answer-quick from the received date;
 *                    session bill/suggestion (Art. 14): answer-lead or
 *                    answer-co from the session's closing date;
 *                    supervised case (Art. 9(5)): case-year-end, Dec 31
 *                    of the registration year.
 *                    The register rule (Art. 13) is not a timer: the event
 *                    itself is the registration, and intake records
 *                    whether it was late.
 *   ItemApproved     transfer (Art. 15: 审批后二日内转交), the liaison office's.
 *   ItemTransferred  meets transfer; between-session items, letters, visits
 *                    and cases: answer-between (Art. 15: two months) for
 *                    the lead department; session items and remarks: their
 *                    answer deadline now names the lead department.
 *   ReplySent        to every deputy of the round (each separately, Art. 14),
 *                    or to the congress organ: meets the answer deadlines
 *                    and case-year-end; to the lead unit: meets answer-co.
 *   CoHandlerOpinionSubmitted  to the lead unit outside the court (Art. 14:
 *                    协办的建议可直接答复主办单位) meets answer-co; an
 *                    opinion to a lead department of this court is internal
 *                    work and meets nothing.
 *   HandlingProgressReported with the result: no escalation (Art. 20:
 *                    经两次催办仍未报告办理结果的 …).
 *   ItemNotListed    cancels transfer. ItemForwarded, ItemWithdrawn,
 *                    ItemClosed: cancel every open deadline (finishing the
 *                    item stops the chain at any point, §4.3); ItemClosed
 *                    other than withdrawn meets case-year-end first.
 *   ItemAnsweredOnTheSpot  meets answer-quick, cancels the rest.
 *   ItemReopened     supersedes the open deadlines of earlier rounds and
 *                    opens rehandle for the new round (and case-year-end
 *                    for a supervised case); history is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/bus_consumer.h"
#include "common/directory.h"
#include "common/log.h"
#include "common/pg.h"
#include "deadline/deadline.h"
#include "domain/lifecycle.h"
#include "liaison/v1/deadlines.pb-c.h"
#include "liaison/v1/directory.pb-c.h"
#include "liaison/v1/items.pb-c.h"
#include "liaison/v1/workflow.pb-c.h"

#define T(name) "liaison.v1." name

static bool s_is(const Liaison__V1__Envelope *env, const char *type)
{
    return strcmp(env->type, type) == 0;
}

/* The court-local date of a LocalDate, else of the event's instant. */
static domain_date_t s_date(const Liaison__V1__LocalDate *ld, const Liaison__V1__Envelope *env)
{
    domain_date_t d = {0};
    if (ld && ld->year) {
        d = domain_date(ld->year, ld->month, ld->day);
        if (domain_date_valid(d))
            return d;
    }
    domain_zone_t zone;
    domain_zone_find("Asia/Shanghai", &zone);
    if (domain_zone_local_date(&zone, env->occurred_at_us / 1000000, &d) != 0)
        d = domain_date(1970, 1, 1);
    return d;
}

static const char *s_lead_department(size_t n, Liaison__V1__DepartmentAssignment **a)
{
    for (size_t i = 0; i < n; i++)
        if (a[i]->role == LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_LEAD && a[i]->department_id)
            return a[i]->department_id;
    return n && a[0]->department_id ? a[0]->department_id : "";
}

static int s_round(const Liaison__V1__ItemTransition *t)
{
    return t && t->round > 0 ? t->round : 1;
}

static bus_apply_t s_fail(char *reason, size_t size, const char *what, char *err)
{
    /* A database failure inside the transaction: retry the batch. */
    log_warn("deadline: apply failed, batch retried", "what=%s error=%s", what, err ? err : "");
    free(err);
    (void)reason;
    (void)size;
    return BUS_APPLY_RETRY;
}

static bus_apply_t s_sql(PGconn *conn, const char *what, const char *sql, int n,
                         const char *const *p, char *reason, size_t size)
{
    char *err = NULL;
    if (pg_exec_ok(conn, sql, n, p, &err) != 0)
        return s_fail(reason, size, what, err);
    return BUS_APPLY_OK;
}

/* deadline_open / deadline_close results: a computation refused for this
 * input is poison (parked with the reason); a database error retries. */
static bus_apply_t s_open(PGconn *conn, deadline_ctx_t *ctx, const Liaison__V1__Envelope *env,
                          const char *item, domain_rule_id_t rule, int round, domain_date_t trigger,
                          const char *dept, char *reason, size_t size)
{
    deadline_cause_t cause = {env->event_id, env->correlation_id, env->court_id};
    if (deadline_open(conn, ctx, &cause, item, rule, round, trigger, dept, reason, size) < 0) {
        if (PQtransactionStatus(conn) == PQTRANS_INERROR)
            return s_fail(reason, size, "open deadline", strdup(reason));
        return BUS_APPLY_POISON;
    }
    return BUS_APPLY_OK;
}

static bus_apply_t s_close(PGconn *conn, deadline_ctx_t *ctx, const Liaison__V1__Envelope *env,
                           const char *item, const char *const *rules, size_t nrules, int max_round,
                           bool met, domain_date_t when, int why, const char *detail, char *reason,
                           size_t size)
{
    deadline_cause_t cause = {env->event_id, env->correlation_id, env->court_id};
    if (deadline_close(conn, ctx, &cause, item, rules, nrules, max_round, met, when, why, detail,
                       reason, size) < 0)
        return s_fail(reason, size, "close deadlines", strdup(reason));
    return BUS_APPLY_OK;
}

/* What a reply to the deputies (or to the congress organ) meets: the answer
 * deadlines, and for a supervised case the year-end explanation (Art. 9(5):
 * the reply is the explanation to the paired deputies). */
static const char *const s_answer_rules[] = {"answer-lead",        "answer-co",    "answer-between",
                                             "answer-between-max", "answer-quick", "rehandle",
                                             "case-year-end"};
#define N_ANSWER (sizeof s_answer_rules / sizeof s_answer_rules[0])

/* ---- intake ------------------------------------------------------------------------- */

static const char *s_department_kind(int kind)
{
    switch (kind) {
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_DIVISION:
        return "division";
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_LIAISON_OFFICE:
        return "liaison-office";
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_PETITION_OFFICE:
        return "petition-office";
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_SUPERVISION_OFFICE:
        return "supervision-office";
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_RESEARCH_OFFICE:
        return "research-office";
    default:
        return "other";
    }
}

static const char *s_item_kind(int kind)
{
    switch (kind) {
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_BILL:
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_SUGGESTION:
        return "session-proposal";
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_BETWEEN_SESSIONS:
        return "between-session";
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_REMARK:
        return "remark";
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_FORWARDED_COMPLAINT:
        return "complaint-letter";
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_SUPERVISED_CASE:
        return "supervised-case";
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_FOLLOWED_CASE:
        return "followed-case";
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_DEPUTY_LETTER:
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_DEPUTY_VISIT:
        return "deputy-letter";
    default:
        return NULL;
    }
}

/* A PostgreSQL text[] literal of n strings, each quoted (ids come from the
 * bus, which is outside input: a quote or a brace must not split them).
 * NULL when out of memory; the caller frees. */
static char *s_text_array(size_t n, const char *(*get)(void *, size_t), void *arg)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++) {
        const char *v = get(arg, i);
        cap += 3 + 2 * strlen(v ? v : "");
    }
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t k = 0;
    out[k++] = '{';
    for (size_t i = 0; i < n; i++) {
        const char *v = get(arg, i);
        if (i)
            out[k++] = ',';
        out[k++] = '"';
        for (const char *c = v ? v : ""; *c; c++) {
            if (*c == '"' || *c == '\\')
                out[k++] = '\\';
            out[k++] = *c;
        }
        out[k++] = '"';
    }
    out[k++] = '}';
    out[k] = '\0';
    return out;
}

static const char *s_deputy_at(void *arg, size_t i)
{
    Liaison__V1__DeputyRef **refs = arg;
    return refs[i] && refs[i]->deputy_id ? refs[i]->deputy_id : "";
}

static const char *s_role_at(void *arg, size_t i)
{
    const char *r = directory_staff_role_name(((const int *)arg)[i]);
    return r ? r : "";
}

/* The item's deputies (for notices to their paired liaison officers,
 * Art. 9), replacing what was stored when `replace` (a correction). */
static bus_apply_t s_item_deputies(PGconn *conn, const char *item, size_t n,
                                   Liaison__V1__DeputyRef **refs, bool replace, char *reason,
                                   size_t size)
{
    const char *lead = "";
    for (size_t i = 0; i < n; i++)
        if (refs[i] && refs[i]->lead && refs[i]->deputy_id) {
            lead = refs[i]->deputy_id;
            break;
        }
    char *ids = s_text_array(n, s_deputy_at, refs);
    if (!ids)
        return s_fail(reason, size, "item deputies", strdup("out of memory"));
    const char *p[3] = {item, ids, lead};
    bus_apply_t rc = BUS_APPLY_OK;
    if (replace)
        rc = s_sql(conn, "item deputies", "DELETE FROM item_deputy WHERE item_id = $1", 1, p,
                   reason, size);
    if (rc == BUS_APPLY_OK)
        rc = s_sql(conn, "item deputies",
                   "INSERT INTO item_deputy (item_id, deputy_id, lead) "
                   "SELECT $1, d, d = $3 FROM unnest($2::text[]) AS d WHERE d <> '' "
                   "ON CONFLICT (item_id, deputy_id) DO UPDATE SET lead = EXCLUDED.lead",
                   3, p, reason, size);
    free(ids);
    return rc;
}

static bus_apply_t s_item_registered(PGconn *conn, deadline_ctx_t *ctx,
                                     const Liaison__V1__Envelope *env, char *reason, size_t size)
{
    Liaison__V1__ItemRegistered *m =
        liaison__v1__item_registered__unpack(NULL, env->payload.len, env->payload.data);
    if (!m) {
        snprintf(reason, size, "ItemRegistered: payload does not decode");
        return BUS_APPLY_POISON;
    }
    bus_apply_t rc = BUS_APPLY_OK;
    const char *kind = s_item_kind(m->kind);
    const char *item = *m->item_id ? m->item_id : env->item_id;
    if (!kind || !*item) {
        snprintf(reason, size, "ItemRegistered: %s", !kind ? "unknown item kind" : "no item id");
        rc = BUS_APPLY_POISON;
        goto out;
    }
    domain_date_t received = s_date(m->received_date, env);
    char recv_s[DOMAIN_DATE_STRLEN], closing_s[DOMAIN_DATE_STRLEN], deputies[24];
    domain_date_format(received, recv_s);
    bool session = m->session && m->session->closing_date && m->session->closing_date->year;
    domain_date_t closing = session ? s_date(m->session->closing_date, env) : received;
    domain_date_format(closing, closing_s);
    snprintf(deputies, sizeof deputies, "%zu", m->n_deputies ? m->n_deputies : 1);
    const char *role =
        m->court_role == LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_CO ? "co" : "lead";
    const char *p[10] = {item,
                         env->court_id,
                         m->registration_number ? m->registration_number : "",
                         kind,
                         role,
                         recv_s,
                         session ? closing_s : NULL,
                         deputies,
                         m->receiving_department_id ? m->receiving_department_id : "",
                         env->event_id};
    rc = s_sql(conn, "item",
               "INSERT INTO item (item_id, court_id, registration_number, kind, court_role, "
               "  received_date, closing_date, deputies, lead_department_id, registered_event_id) "
               "VALUES ($1, $2, $3, $4, $5, $6::date, $7::date, $8::int, $9, $10) "
               "ON CONFLICT (item_id) DO NOTHING",
               10, p, reason, size);
    if (rc != BUS_APPLY_OK)
        goto out;
    rc = s_item_deputies(conn, item, m->n_deputies, m->deputies, false, reason, size);
    if (rc != BUS_APPLY_OK)
        goto out;
    /* Deadlines opened before this event (routing's stream ran ahead) get
     * the registration number now. */
    const char *p2[2] = {item, p[2]};
    rc = s_sql(conn, "registration number",
               "UPDATE deadline SET registration_number = $2 WHERE item_id = $1 AND "
               "registration_number = ''",
               2, p2, reason, size);
    if (rc != BUS_APPLY_OK)
        goto out;
    const char *dept = m->receiving_department_id ? m->receiving_department_id : "";
    if (m->kind == LIAISON__V1__ITEM_KIND__ITEM_KIND_REMARK)
        rc =
            s_open(conn, ctx, env, item, DOMAIN_RULE_ANSWER_QUICK, 1, received, dept, reason, size);
    else if (strcmp(kind, "session-proposal") == 0 && session)
        rc = s_open(conn, ctx, env, item,
                    strcmp(role, "co") == 0 ? DOMAIN_RULE_ANSWER_CO : DOMAIN_RULE_ANSWER_LEAD, 1,
                    closing, "", reason, size);
    /* Art. 9(5): 对年末仍未审结的案件，在十二月底前作出解释 — a supervised
     * case is explained to its deputies by the end of the year it was
     * registered in (case-year-end: Dec 31, a rest day rolled back). */
    else if (m->kind == LIAISON__V1__ITEM_KIND__ITEM_KIND_SUPERVISED_CASE)
        rc = s_open(conn, ctx, env, item, DOMAIN_RULE_CASE_YEAR_END, 1,
                    m->registered_date && m->registered_date->year ? s_date(m->registered_date, env)
                                                                   : received,
                    dept, reason, size);
out:
    liaison__v1__item_registered__free_unpacked(m, NULL);
    return rc;
}

bus_apply_t deadline_apply_intake(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                  size_t reason_size, void *arg)
{
    deadline_ctx_t *ctx = arg;
    int a = auth_apply_event(conn, env, reason, reason_size);
    if (a == 0)
        return BUS_APPLY_OK;
    if (a < 0)
        return PQtransactionStatus(conn) == PQTRANS_INERROR ? BUS_APPLY_RETRY : BUS_APPLY_POISON;

    if (s_is(env, T("ItemRegistered")))
        return s_item_registered(conn, ctx, env, reason, reason_size);

    char rev[24];
    if (s_is(env, T("CourtUpserted"))) {
        Liaison__V1__CourtUpserted *m =
            liaison__v1__court_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (!m || !*m->court_id) {
            if (m)
                liaison__v1__court_upserted__free_unpacked(m, NULL);
            snprintf(reason, reason_size, "CourtUpserted: payload does not decode");
            return BUS_APPLY_POISON;
        }
        /* The court's own rules and days: checked before anything is
         * stored (bad ones park the event and the court keeps its previous
         * ones). Its cache entry follows the row's revision when a deadline
         * of the court is next computed (deadline_court.c). */
        char *rules_json = NULL;
        if (deadline_court_check(m, &rules_json, reason, reason_size) != 0) {
            liaison__v1__court_upserted__free_unpacked(m, NULL);
            return BUS_APPLY_POISON;
        }
        snprintf(rev, sizeof rev, "%lld", (long long)m->revision);
        const char *p[6] = {m->court_id, rev,
                            m->name,     *m->time_zone ? m->time_zone : "Asia/Shanghai",
                            rules_json,  m->calendar_overrides ? m->calendar_overrides : ""};
        bus_apply_t rc =
            s_sql(conn, "court",
                  "INSERT INTO court (court_id, revision, name, time_zone, rule_overrides, "
                  "  calendar_overrides) "
                  "VALUES ($1, $2::bigint, $3, $4, $5::jsonb, $6) ON CONFLICT (court_id) DO UPDATE "
                  "SET revision = EXCLUDED.revision, name = EXCLUDED.name, "
                  "time_zone = EXCLUDED.time_zone, rule_overrides = EXCLUDED.rule_overrides, "
                  "calendar_overrides = EXCLUDED.calendar_overrides "
                  "WHERE court.revision < EXCLUDED.revision",
                  6, p, reason, reason_size);
        free(rules_json);
        liaison__v1__court_upserted__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("DepartmentUpserted"))) {
        Liaison__V1__DepartmentUpserted *m =
            liaison__v1__department_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (!m || !*m->department_id) {
            if (m)
                liaison__v1__department_upserted__free_unpacked(m, NULL);
            snprintf(reason, reason_size, "DepartmentUpserted: payload does not decode");
            return BUS_APPLY_POISON;
        }
        snprintf(rev, sizeof rev, "%lld", (long long)m->revision);
        const char *p[8] = {m->department_id,
                            env->court_id,
                            rev,
                            m->name,
                            s_department_kind(m->kind),
                            m->head_staff_id,
                            m->supervising_leader_staff_id,
                            m->active ? "t" : "f"};
        bus_apply_t rc = s_sql(
            conn, "department",
            "INSERT INTO department (department_id, court_id, revision, name, kind, head_staff_id, "
            "  supervising_staff_id, active) VALUES ($1, $2, $3::bigint, $4, $5, $6, $7, $8::bool) "
            "ON CONFLICT (department_id) DO UPDATE SET court_id = EXCLUDED.court_id, "
            "  revision = EXCLUDED.revision, name = EXCLUDED.name, kind = EXCLUDED.kind, "
            "  head_staff_id = EXCLUDED.head_staff_id, "
            "  supervising_staff_id = EXCLUDED.supervising_staff_id, active = EXCLUDED.active "
            "WHERE department.revision < EXCLUDED.revision",
            8, p, reason, reason_size);
        liaison__v1__department_upserted__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("StaffUpserted"))) {
        Liaison__V1__StaffUpserted *m =
            liaison__v1__staff_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (!m || !*m->staff_id) {
            if (m)
                liaison__v1__staff_upserted__free_unpacked(m, NULL);
            snprintf(reason, reason_size, "StaffUpserted: payload does not decode");
            return BUS_APPLY_POISON;
        }
        snprintf(rev, sizeof rev, "%lld", (long long)m->revision);
        /* The roles by name: the president (院长) is found by role when a
         * court's rules name him (notify-* = president). */
        char *roles = s_text_array(m->n_roles, s_role_at, m->roles);
        if (!roles) {
            liaison__v1__staff_upserted__free_unpacked(m, NULL);
            return s_fail(reason, reason_size, "staff", strdup("out of memory"));
        }
        const char *p[9] = {m->staff_id, env->court_id,         rev,
                            m->name,     m->department_id,      m->mobile,
                            m->email,    m->active ? "t" : "f", roles};
        bus_apply_t rc =
            s_sql(conn, "staff",
                  "INSERT INTO staff (staff_id, court_id, revision, name, department_id, mobile, "
                  "  email, active, roles) VALUES ($1, $2, $3::bigint, $4, $5, $6, $7, $8::bool, "
                  "  array_remove($9::text[], '')) "
                  "ON CONFLICT (staff_id) DO UPDATE SET court_id = EXCLUDED.court_id, "
                  "  revision = EXCLUDED.revision, name = EXCLUDED.name, "
                  "  department_id = EXCLUDED.department_id, mobile = EXCLUDED.mobile, "
                  "  email = EXCLUDED.email, active = EXCLUDED.active, roles = EXCLUDED.roles "
                  "WHERE staff.revision < EXCLUDED.revision",
                  9, p, reason, reason_size);
        free(roles);
        liaison__v1__staff_upserted__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("DeputyUpserted"))) {
        Liaison__V1__DeputyUpserted *m =
            liaison__v1__deputy_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (!m || !*m->deputy_id) {
            if (m)
                liaison__v1__deputy_upserted__free_unpacked(m, NULL);
            snprintf(reason, reason_size, "DeputyUpserted: payload does not decode");
            return BUS_APPLY_POISON;
        }
        /* Art. 9: the deputy's paired liaison officer (挂点联络员), told by
         * the rules that name liaison-officer (case-year-end, activity-notice). */
        snprintf(rev, sizeof rev, "%lld", (long long)m->revision);
        const char *p[4] = {m->deputy_id, env->court_id, rev, m->liaison_officer_staff_id};
        bus_apply_t rc =
            s_sql(conn, "deputy",
                  "INSERT INTO deputy (deputy_id, court_id, revision, liaison_officer_staff_id) "
                  "VALUES ($1, $2, $3::bigint, $4) ON CONFLICT (deputy_id) DO UPDATE SET "
                  "  court_id = EXCLUDED.court_id, revision = EXCLUDED.revision, "
                  "  liaison_officer_staff_id = EXCLUDED.liaison_officer_staff_id "
                  "WHERE deputy.revision < EXCLUDED.revision",
                  4, p, reason, reason_size);
        liaison__v1__deputy_upserted__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ItemRegistrationCorrected"))) {
        Liaison__V1__ItemRegistrationCorrected *m =
            liaison__v1__item_registration_corrected__unpack(NULL, env->payload.len,
                                                             env->payload.data);
        const char *item = m && *m->item_id ? m->item_id : env->item_id;
        if (!m || !*item) {
            if (m)
                liaison__v1__item_registration_corrected__free_unpacked(m, NULL);
            snprintf(reason, reason_size, "ItemRegistrationCorrected: payload does not decode");
            return BUS_APPLY_POISON;
        }
        bool deputies = false;
        for (size_t i = 0; i < m->n_changed_fields; i++)
            deputies |= strcmp(m->changed_fields[i], "deputies") == 0;
        bus_apply_t rc = BUS_APPLY_OK;
        if (deputies)
            rc = s_item_deputies(conn, item, m->n_deputies, m->deputies, true, reason, reason_size);
        liaison__v1__item_registration_corrected__free_unpacked(m, NULL);
        return rc;
    }
    /* Groups, term ends, …: nothing a deadline depends on. */
    return BUS_APPLY_OK;
}

/* ---- routing ------------------------------------------------------------------------ */

/* The item as intake registered it: kind and deputies. 1 found, 0 not yet
 * (intake's stream is behind), -1 on a database error. */
static int s_item(PGconn *conn, const char *item, char kind[32], int *deputies, char dept[128])
{
    const char *p[1] = {item};
    char *err = NULL;
    PGresult *r = pg_exec_blocking(
        conn, "SELECT kind, deputies, lead_department_id FROM item WHERE item_id = $1", 1, p, &err);
    if (!r) {
        log_warn("deadline: item lookup failed", "error=%s", err);
        free(err);
        return -1;
    }
    int found = PQntuples(r) == 1;
    if (found) {
        snprintf(kind, 32, "%s", PQgetvalue(r, 0, 0));
        *deputies = atoi(PQgetvalue(r, 0, 1));
        if (dept)
            snprintf(dept, 128, "%s", PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return found;
}

/* Routing's events name an item that intake registered first; our two
 * consumers run apart, so intake's event may not be applied yet: wait
 * for it (the batch is retried with back-off). */
static bus_apply_t s_need_item(int found, const char *item, char *reason, size_t size)
{
    if (found < 0)
        return BUS_APPLY_RETRY;
    log_info("deadline: item not registered yet, waiting for intake's stream", "item=%s", item);
    return BUS_APPLY_RETRY;
}

#define UNPACK(TYPE, fn)                                                                           \
    TYPE *m = fn##__unpack(NULL, env->payload.len, env->payload.data);                             \
    if (!m || !*m->item_id) {                                                                      \
        if (m)                                                                                     \
            fn##__free_unpacked(m, NULL);                                                          \
        snprintf(reason, reason_size, "%s: payload does not decode or names no item", env->type);  \
        return BUS_APPLY_POISON;                                                                   \
    }

bus_apply_t deadline_apply_routing(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                   size_t reason_size, void *arg)
{
    deadline_ctx_t *ctx = arg;
    bus_apply_t rc = BUS_APPLY_OK;
    const int CLOSED = LIAISON__V1__DEADLINE_CANCEL_REASON__DEADLINE_CANCEL_REASON_ITEM_CLOSED;

    if (s_is(env, T("ItemApproved"))) {
        UNPACK(Liaison__V1__ItemApproved, liaison__v1__item_approved);
        const char *lead = s_lead_department(m->n_assignments, m->assignments);
        const char *p[2] = {m->item_id, lead};
        rc = s_sql(conn, "lead department",
                   "UPDATE item SET lead_department_id = $2, state = 'approved' WHERE item_id = $1",
                   2, p, reason, reason_size);
        /* Art. 15: 审批后二日内转交 — the liaison office's own deadline. */
        if (rc == BUS_APPLY_OK)
            rc = s_open(conn, ctx, env, m->item_id, DOMAIN_RULE_TRANSFER, s_round(m->transition),
                        s_date(m->approved_date, env), "", reason, reason_size);
        liaison__v1__item_approved__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ItemTransferred"))) {
        UNPACK(Liaison__V1__ItemTransferred, liaison__v1__item_transferred);
        char kind[32];
        int deputies;
        int found = s_item(conn, m->item_id, kind, &deputies, NULL);
        if (found != 1) {
            rc = s_need_item(found, m->item_id, reason, reason_size);
            liaison__v1__item_transferred__free_unpacked(m, NULL);
            return rc;
        }
        domain_date_t day = s_date(m->transferred_date, env);
        int round = s_round(m->transition);
        const char *lead = s_lead_department(m->n_assignments, m->assignments);
        const char *transfer[1] = {"transfer"};
        rc = s_close(conn, ctx, env, m->item_id, transfer, 1, 0, true, day, 0, NULL, reason,
                     reason_size);
        const char *p[2] = {m->item_id, lead};
        if (rc == BUS_APPLY_OK)
            rc = s_sql(conn, "transferred",
                       "UPDATE item SET lead_department_id = $2, state = 'transferred' "
                       "WHERE item_id = $1",
                       2, p, reason, reason_size);
        /* The answer deadline follows the item to its (new) lead department:
         * session items and remarks have theirs from registration, and an
         * item returned (退回) and transferred again keeps its period. */
        if (rc == BUS_APPLY_OK)
            rc = s_sql(conn, "answer department",
                       "UPDATE deadline SET department_id = $2 WHERE item_id = $1 AND "
                       "stage NOT IN ('met', 'cancelled') AND rule_id <> 'transfer'",
                       2, p, reason, reason_size);
        /* Art. 15: 交办起两个月内答复 (a second transfer finds it open). A
         * reopened round has its rehandle deadline instead. */
        if (rc == BUS_APPLY_OK && round == 1 && strcmp(kind, "session-proposal") != 0 &&
            strcmp(kind, "remark") != 0 && strcmp(kind, "complaint-letter") != 0)
            rc = s_open(conn, ctx, env, m->item_id, DOMAIN_RULE_ANSWER_BETWEEN, round, day, lead,
                        reason, reason_size);
        liaison__v1__item_transferred__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ReplySent"))) {
        UNPACK(Liaison__V1__ReplySent, liaison__v1__reply_sent);
        domain_date_t day = s_date(m->replied_date, env);
        int round = s_round(m->transition);
        if (m->recipient_kind ==
            LIAISON__V1__REPLY_RECIPIENT_KIND__REPLY_RECIPIENT_KIND_LEAD_UNIT) {
            const char *co[1] = {"answer-co"};
            rc = s_close(conn, ctx, env, m->item_id, co, 1, round, true, day, 0, NULL, reason,
                         reason_size);
        } else if (m->recipient_kind ==
                   LIAISON__V1__REPLY_RECIPIENT_KIND__REPLY_RECIPIENT_KIND_CONGRESS_ORGAN) {
            rc = s_close(conn, ctx, env, m->item_id, s_answer_rules, N_ANSWER, round, true, day, 0,
                         NULL, reason, reason_size);
        } else {
            char kind[32];
            int deputies = 1;
            int found = s_item(conn, m->item_id, kind, &deputies, NULL);
            if (found != 1) {
                rc = s_need_item(found, m->item_id, reason, reason_size);
                liaison__v1__reply_sent__free_unpacked(m, NULL);
                return rc;
            }
            char round_s[16];
            snprintf(round_s, sizeof round_s, "%d", round);
            const char *deputy = *m->deputy_id ? m->deputy_id : env->event_id;
            const char *p[3] = {m->item_id, round_s, deputy};
            char *err = NULL;
            PGresult *r = pg_exec_blocking(
                conn,
                "WITH ins AS (INSERT INTO item_reply (item_id, round, deputy_id) "
                "  VALUES ($1, $2::int, $3) ON CONFLICT DO NOTHING RETURNING 1) "
                "SELECT (SELECT count(*) FROM item_reply WHERE item_id = $1 AND round = $2::int) "
                "  + (SELECT count(*) FROM ins)",
                3, p, &err);
            if (!r) {
                rc = s_fail(reason, reason_size, "reply", err);
            } else {
                /* Art. 14: each deputy of a joint item is answered separately;
                 * the answer deadline is met by the last of them. */
                if (atoi(PQgetvalue(r, 0, 0)) >= deputies)
                    rc = s_close(conn, ctx, env, m->item_id, s_answer_rules, N_ANSWER, round, true,
                                 day, 0, NULL, reason, reason_size);
                PQclear(r);
            }
        }
        liaison__v1__reply_sent__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("CoHandlerOpinionSubmitted"))) {
        UNPACK(Liaison__V1__CoHandlerOpinionSubmitted, liaison__v1__co_handler_opinion_submitted);
        const char *co[1] = {"answer-co"};
        rc = BUS_APPLY_OK;
        if (!m->lead_department_id || !*m->lead_department_id)
            rc = s_close(conn, ctx, env, m->item_id, co, 1, s_round(m->transition), true,
                         s_date(NULL, env), 0, NULL, reason, reason_size);
        liaison__v1__co_handler_opinion_submitted__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("HandlingProgressReported"))) {
        UNPACK(Liaison__V1__HandlingProgressReported, liaison__v1__handling_progress_reported);
        if (m->result_reported) {
            /* Art. 20: escalation only when two urgings brought no report
             * of the result. Urging the reply itself goes on. */
            const char *p[1] = {m->item_id};
            rc = s_sql(conn, "result reported",
                       "UPDATE deadline SET result_reported = true, next_fire_at = CASE "
                       "  WHEN schedule_kind[next_step] = 'escalate' THEN NULL "
                       "  ELSE next_fire_at END "
                       "WHERE item_id = $1 AND stage NOT IN ('met', 'cancelled') "
                       "  AND rule_id <> 'transfer'",
                       1, p, reason, reason_size);
        }
        liaison__v1__handling_progress_reported__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ItemNotListed"))) {
        UNPACK(Liaison__V1__ItemNotListed, liaison__v1__item_not_listed);
        const char *transfer[1] = {"transfer"};
        rc =
            s_close(conn, ctx, env, m->item_id, transfer, 1, 0, false, s_date(m->decided_date, env),
                    LIAISON__V1__DEADLINE_CANCEL_REASON__DEADLINE_CANCEL_REASON_NOT_LISTED,
                    "not listed (不列入办理事项, Art. 15)", reason, reason_size);
        liaison__v1__item_not_listed__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ItemForwarded"))) {
        UNPACK(Liaison__V1__ItemForwarded, liaison__v1__item_forwarded);
        rc = s_close(conn, ctx, env, m->item_id, NULL, 0, 0, false, s_date(m->forwarded_date, env),
                     LIAISON__V1__DEADLINE_CANCEL_REASON__DEADLINE_CANCEL_REASON_FORWARDED,
                     "forwarded (Art. 17)", reason, reason_size);
        liaison__v1__item_forwarded__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ItemWithdrawn"))) {
        UNPACK(Liaison__V1__ItemWithdrawn, liaison__v1__item_withdrawn);
        rc = s_close(conn, ctx, env, m->item_id, NULL, 0, 0, false, s_date(m->withdrawn_date, env),
                     LIAISON__V1__DEADLINE_CANCEL_REASON__DEADLINE_CANCEL_REASON_ITEM_WITHDRAWN,
                     "withdrawn by the deputy", reason, reason_size);
        liaison__v1__item_withdrawn__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ItemAnsweredOnTheSpot"))) {
        UNPACK(Liaison__V1__ItemAnsweredOnTheSpot, liaison__v1__item_answered_on_the_spot);
        const char *quick[1] = {"answer-quick"};
        domain_date_t day = s_date(NULL, env);
        rc = s_close(conn, ctx, env, m->item_id, quick, 1, 0, true, day, 0, NULL, reason,
                     reason_size);
        if (rc == BUS_APPLY_OK)
            rc = s_close(
                conn, ctx, env, m->item_id, NULL, 0, 0, false, day,
                LIAISON__V1__DEADLINE_CANCEL_REASON__DEADLINE_CANCEL_REASON_ANSWERED_ON_THE_SPOT,
                "answered on the spot (Art. 16)", reason, reason_size);
        liaison__v1__item_answered_on_the_spot__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ItemClosed"))) {
        UNPACK(Liaison__V1__ItemClosed, liaison__v1__item_closed);
        domain_date_t day = s_date(m->closed_date, env);
        /* A supervised case closed (办结) is no longer pending at year end:
         * that meets case-year-end (Art. 9(5)), unless the deputy withdrew
         * it. Every other open deadline ends with the item. */
        const char *yend[1] = {"case-year-end"};
        if (m->reason != LIAISON__V1__CLOSE_REASON__CLOSE_REASON_WITHDRAWN)
            rc = s_close(conn, ctx, env, m->item_id, yend, 1, 0, true, day, 0, NULL, reason,
                         reason_size);
        if (rc == BUS_APPLY_OK)
            rc = s_close(conn, ctx, env, m->item_id, NULL, 0, 0, false, day, CLOSED,
                         "item closed (办结)", reason, reason_size);
        const char *p[1] = {m->item_id};
        if (rc == BUS_APPLY_OK)
            rc = s_sql(conn, "closed", "UPDATE item SET state = 'closed' WHERE item_id = $1", 1, p,
                       reason, reason_size);
        liaison__v1__item_closed__free_unpacked(m, NULL);
        return rc;
    }
    if (s_is(env, T("ItemReopened"))) {
        UNPACK(Liaison__V1__ItemReopened, liaison__v1__item_reopened);
        int round = s_round(m->transition);
        char kind[32], dept[128] = "";
        int deputies;
        int found = s_item(conn, m->item_id, kind, &deputies, dept);
        if (found != 1) {
            rc = s_need_item(found, m->item_id, reason, reason_size);
            liaison__v1__item_reopened__free_unpacked(m, NULL);
            return rc;
        }
        const char *lead =
            m->n_assignments ? s_lead_department(m->n_assignments, m->assignments) : dept;
        domain_date_t day = s_date(m->reopened_date, env);
        /* The earlier rounds' open deadlines are superseded; their rows and
         * history stay (DOMAIN.md §4.3: keeps the history). */
        rc = s_close(conn, ctx, env, m->item_id, NULL, 0, round > 1 ? round - 1 : 0, false, day,
                     LIAISON__V1__DEADLINE_CANCEL_REASON__DEADLINE_CANCEL_REASON_SUPERSEDED,
                     "reopened for re-handling (重新办理)", reason, reason_size);
        char round_s[16];
        snprintf(round_s, sizeof round_s, "%d", round);
        const char *p[3] = {m->item_id, round_s, lead};
        if (rc == BUS_APPLY_OK)
            rc = s_sql(conn, "reopened",
                       "UPDATE item SET round = $2::int, lead_department_id = $3, "
                       "state = 'reopened' WHERE item_id = $1",
                       3, p, reason, reason_size);
        if (rc == BUS_APPLY_OK)
            rc = s_open(conn, ctx, env, m->item_id, DOMAIN_RULE_REHANDLE, round, day, lead, reason,
                        reason_size);
        /* A supervised case handled again is pending again: its year-end
         * explanation (Art. 9(5)) starts over for the new round. */
        if (rc == BUS_APPLY_OK && strcmp(kind, "supervised-case") == 0)
            rc = s_open(conn, ctx, env, m->item_id, DOMAIN_RULE_CASE_YEAR_END, round, day, lead,
                        reason, reason_size);
        liaison__v1__item_reopened__free_unpacked(m, NULL);
        return rc;
    }
    /* Plans proposed, handling started, drafts, evaluations, …: no deadline
     * starts or ends with them. */
    return BUS_APPLY_OK;
}
