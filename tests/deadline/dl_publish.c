/* dl_publish — upstream events for the deadline daemon's tests, and a
 * reader of what it published.
 *
 *   dl_publish --conninfo DSN --stream S TYPE [key=value ...]
 *       publish one event of TYPE into the outbox of DSN's schema (a scratch
 *       intake or routing producer that tests/bus's bus_producer serves)
 *   dl_publish --conninfo DSN --stream S --count N --prefix P TYPE [key=value ...]
 *       publish N events in one transaction, item ids P-1 .. P-N
 *   dl_publish --conninfo DSN dump
 *       print the deadline stream's outbox, one event a line:
 *       seq type item key=value... (decoded payload fields that tests check)
 *
 * TYPEs and keys (dates YYYY-MM-DD; round defaults to 1):
 *   ItemRegistered     item court kind=between|remark|session|letter received
 *                      deputies regnum closing role=lead|co dept
 *   ItemApproved       item court date dept round
 *   ItemTransferred    item court date dept round
 *   ReplySent          item court date deputy round to=deputy|lead|organ
 *   ItemClosed         item court date
 *   ItemReopened       item court date dept round
 *   HandlingProgressReported item court result=1
 *   CourtUpserted      court name zone rev calendar=TEXT (the court's own days)
 *                      rules="rule.key=value;rule.key=value" (its rule overrides)
 *   DepartmentUpserted id court name kind=division|liaison lead head rev
 *   StaffUpserted      id court name mobile email rev
 *   TokenIssued        token court role
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/auth.h"
#include "common/bus.h"
#include "common/pg.h"
#include "liaison/v1/deadlines.pb-c.h"
#include "liaison/v1/directory.pb-c.h"
#include "liaison/v1/items.pb-c.h"
#include "liaison/v1/notices.pb-c.h"
#include "liaison/v1/workflow.pb-c.h"

static int s_argc;
static char **s_argv;

static const char *kv(const char *key, const char *def)
{
    size_t n = strlen(key);
    for (int i = 0; i < s_argc; i++)
        if (strncmp(s_argv[i], key, n) == 0 && s_argv[i][n] == '=')
            return s_argv[i] + n + 1;
    return def;
}

static Liaison__V1__LocalDate s_ld(const char *text)
{
    Liaison__V1__LocalDate d = LIAISON__V1__LOCAL_DATE__INIT;
    if (text && *text)
        sscanf(text, "%d-%d-%d", &d.year, &d.month, &d.day);
    return d;
}

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Pack msg into an envelope on stream and publish it. */
static int s_publish(PGconn *conn, const char *stream, const ProtobufCMessage *msg,
                     const char *court, const char *item)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    protobuf_c_message_pack(msg, buf);
    char id[37];
    bus_uuid4(id);
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.envelope_version = 1;
    env.event_id = id;
    env.type = (char *)msg->descriptor->name;
    env.stream = (char *)stream;
    env.court_id = (char *)court;
    env.item_id = (char *)item;
    env.occurred_at_us = s_now_us();
    env.correlation_id = id;
    env.producer = "dl_publish";
    env.schema_version = 1;
    env.payload.data = buf;
    env.payload.len = len;
    char *err = NULL;
    int rc = bus_publish(conn, &env, &err);
    if (rc != 0) {
        fprintf(stderr, "dl_publish: %s\n", err);
        free(err);
    }
    free(buf);
    return rc;
}

static int s_one(PGconn *conn, const char *stream, const char *type, const char *item)
{
    const char *court = kv("court", "gz-liwan");
    int round = atoi(kv("round", "1"));
    Liaison__V1__LocalDate date = s_ld(kv("date", ""));
    Liaison__V1__ItemTransition tr = LIAISON__V1__ITEM_TRANSITION__INIT;
    tr.round = round;
    Liaison__V1__DepartmentAssignment as = LIAISON__V1__DEPARTMENT_ASSIGNMENT__INIT;
    as.department_id = (char *)kv("dept", "");
    as.role = LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_LEAD;
    Liaison__V1__DepartmentAssignment *pas[1] = {&as};
    size_t nas = *as.department_id ? 1 : 0;

    if (strcmp(type, "ItemRegistered") == 0) {
        Liaison__V1__ItemRegistered m = LIAISON__V1__ITEM_REGISTERED__INIT;
        m.item_id = (char *)item;
        m.registration_number = (char *)kv("regnum", "");
        const char *kind = kv("kind", "between");
        m.kind = strcmp(kind, "remark") == 0 ? LIAISON__V1__ITEM_KIND__ITEM_KIND_REMARK
                 : strcmp(kind, "session") == 0
                     ? LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_SUGGESTION
                 : strcmp(kind, "letter") == 0 ? LIAISON__V1__ITEM_KIND__ITEM_KIND_DEPUTY_LETTER
                 : strcmp(kind, "case") == 0   ? LIAISON__V1__ITEM_KIND__ITEM_KIND_SUPERVISED_CASE
                                               : LIAISON__V1__ITEM_KIND__ITEM_KIND_BETWEEN_SESSIONS;
        /* deputy_ids=a,b names the deputies; else deputies=N gives dep-1..dep-N */
        char *named = strdup(kv("deputy_ids", ""));
        char *save = NULL, *tok = strtok_r(named, ",", &save);
        int n = *named ? 0 : atoi(kv("deputies", "1"));
        Liaison__V1__DeputyRef refs[16], *prefs[16];
        char ids[16][64];
        for (; tok && n < 16; tok = strtok_r(NULL, ",", &save))
            snprintf(ids[n++], sizeof ids[0], "%s", tok);
        free(named);
        for (int i = 0; i < n && i < 16; i++) {
            liaison__v1__deputy_ref__init(&refs[i]);
            if (!*kv("deputy_ids", ""))
                snprintf(ids[i], sizeof ids[i], "dep-%d", i + 1);
            refs[i].deputy_id = ids[i];
            refs[i].lead = i == 0;
            prefs[i] = &refs[i];
        }
        m.n_deputies = (size_t)(n < 16 ? n : 16);
        m.deputies = prefs;
        Liaison__V1__LocalDate recv = s_ld(kv("received", ""));
        m.received_date = &recv;
        m.registered_date = &recv;
        Liaison__V1__SessionRef sess = LIAISON__V1__SESSION_REF__INIT;
        Liaison__V1__LocalDate closing = s_ld(kv("closing", ""));
        if (closing.year) {
            sess.closing_date = &closing;
            m.session = &sess;
        }
        m.court_role = strcmp(kv("role", "lead"), "co") == 0
                           ? LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_CO
                           : LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_LEAD;
        m.receiving_department_id = (char *)kv("dept", "");
        m.title = "测试事项";
        return s_publish(conn, stream, &m.base, court, item);
    }
    if (strcmp(type, "ItemApproved") == 0) {
        Liaison__V1__ItemApproved m = LIAISON__V1__ITEM_APPROVED__INIT;
        m.item_id = (char *)item;
        m.transition = &tr;
        m.assignments = pas;
        m.n_assignments = nas;
        m.approved_date = &date;
        return s_publish(conn, stream, &m.base, court, item);
    }
    if (strcmp(type, "ItemTransferred") == 0) {
        Liaison__V1__ItemTransferred m = LIAISON__V1__ITEM_TRANSFERRED__INIT;
        m.item_id = (char *)item;
        m.transition = &tr;
        m.assignments = pas;
        m.n_assignments = nas;
        m.transferred_date = &date;
        return s_publish(conn, stream, &m.base, court, item);
    }
    if (strcmp(type, "ReplySent") == 0) {
        Liaison__V1__ReplySent m = LIAISON__V1__REPLY_SENT__INIT;
        m.item_id = (char *)item;
        m.transition = &tr;
        const char *to = kv("to", "deputy");
        m.recipient_kind =
            strcmp(to, "lead") == 0
                ? LIAISON__V1__REPLY_RECIPIENT_KIND__REPLY_RECIPIENT_KIND_LEAD_UNIT
            : strcmp(to, "organ") == 0
                ? LIAISON__V1__REPLY_RECIPIENT_KIND__REPLY_RECIPIENT_KIND_CONGRESS_ORGAN
                : LIAISON__V1__REPLY_RECIPIENT_KIND__REPLY_RECIPIENT_KIND_DEPUTY;
        m.deputy_id = (char *)kv("deputy", "dep-1");
        m.replied_date = &date;
        return s_publish(conn, stream, &m.base, court, item);
    }
    if (strcmp(type, "ItemClosed") == 0) {
        Liaison__V1__ItemClosed m = LIAISON__V1__ITEM_CLOSED__INIT;
        m.item_id = (char *)item;
        m.transition = &tr;
        m.closed_date = &date;
        m.reason = LIAISON__V1__CLOSE_REASON__CLOSE_REASON_REPLIED;
        return s_publish(conn, stream, &m.base, court, item);
    }
    if (strcmp(type, "ItemReopened") == 0) {
        Liaison__V1__ItemReopened m = LIAISON__V1__ITEM_REOPENED__INIT;
        m.item_id = (char *)item;
        m.transition = &tr;
        m.assignments = pas;
        m.n_assignments = nas;
        m.reopened_date = &date;
        m.reason = "不满意";
        return s_publish(conn, stream, &m.base, court, item);
    }
    if (strcmp(type, "HandlingProgressReported") == 0) {
        Liaison__V1__HandlingProgressReported m = LIAISON__V1__HANDLING_PROGRESS_REPORTED__INIT;
        m.item_id = (char *)item;
        m.transition = &tr;
        m.result_reported = atoi(kv("result", "1")) != 0;
        return s_publish(conn, stream, &m.base, court, item);
    }
    if (strcmp(type, "CourtUpserted") == 0) {
        Liaison__V1__CourtUpserted m = LIAISON__V1__COURT_UPSERTED__INIT;
        m.court_id = (char *)court;
        m.revision = atoll(kv("rev", "1"));
        m.name = (char *)kv("name", court);
        m.time_zone = (char *)kv("zone", "Asia/Shanghai");
        m.active = true;
        m.calendar_overrides = (char *)kv("calendar", "");
        char *rules = strdup(kv("rules", ""));
        Liaison__V1__RuleOverride o[32], *po[32];
        char *save = NULL;
        for (char *pair = strtok_r(rules, ";", &save); pair && m.n_rule_overrides < 32;
             pair = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(pair, '=');
            liaison__v1__rule_override__init(&o[m.n_rule_overrides]);
            if (eq)
                *eq = '\0';
            o[m.n_rule_overrides].key = pair;
            o[m.n_rule_overrides].value = eq ? eq + 1 : "";
            po[m.n_rule_overrides] = &o[m.n_rule_overrides];
            m.n_rule_overrides++;
        }
        m.rule_overrides = po;
        int rc = s_publish(conn, stream, &m.base, court, "");
        free(rules);
        return rc;
    }
    if (strcmp(type, "DepartmentUpserted") == 0) {
        Liaison__V1__DepartmentUpserted m = LIAISON__V1__DEPARTMENT_UPSERTED__INIT;
        m.department_id = (char *)kv("id", "");
        m.revision = atoll(kv("rev", "1"));
        m.name = (char *)kv("name", "");
        m.kind = strcmp(kv("kind", "division"), "liaison") == 0
                     ? LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_LIAISON_OFFICE
                     : LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_DIVISION;
        m.head_staff_id = (char *)kv("head", "");
        m.supervising_leader_staff_id = (char *)kv("lead", "");
        m.active = true;
        return s_publish(conn, stream, &m.base, court, "");
    }
    if (strcmp(type, "StaffUpserted") == 0) {
        Liaison__V1__StaffUpserted m = LIAISON__V1__STAFF_UPSERTED__INIT;
        m.staff_id = (char *)kv("id", "");
        m.revision = atoll(kv("rev", "1"));
        m.name = (char *)kv("name", "");
        m.mobile = (char *)kv("mobile", "");
        m.email = (char *)kv("email", "");
        m.active = strcmp(kv("active", "1"), "0") != 0;
        /* roles=president,liaison-officer */
        static const char *const names[] = {
            "",        "liaison-office", "liaison-officer", "department-head",
            "handler", "court-leader",   "president"};
        Liaison__V1__StaffRole roles[8];
        char *list = strdup(kv("roles", ""));
        char *save = NULL;
        for (char *r = strtok_r(list, ",", &save); r && m.n_roles < 8;
             r = strtok_r(NULL, ",", &save))
            for (size_t k = 1; k < sizeof names / sizeof names[0]; k++)
                if (strcmp(r, names[k]) == 0)
                    roles[m.n_roles++] = (Liaison__V1__StaffRole)k;
        m.roles = roles;
        int rc = s_publish(conn, stream, &m.base, court, "");
        free(list);
        return rc;
    }
    if (strcmp(type, "DeputyUpserted") == 0) {
        Liaison__V1__DeputyUpserted m = LIAISON__V1__DEPUTY_UPSERTED__INIT;
        m.deputy_id = (char *)kv("id", "");
        m.revision = atoll(kv("rev", "1"));
        m.name = (char *)kv("name", "");
        m.liaison_officer_staff_id = (char *)kv("officer", "");
        return s_publish(conn, stream, &m.base, court, "");
    }
    if (strcmp(type, "TokenIssued") == 0) {
        Liaison__V1__TokenIssued m = LIAISON__V1__TOKEN_ISSUED__INIT;
        char hash[65];
        auth_hash(kv("token", ""), hash);
        m.token_sha256 = hash;
        const char *role = kv("role", "operator");
        m.court_id = (char *)(strcmp(role, "operator") == 0 ? "" : court);
        m.role = (char *)role;
        m.name = "test";
        return s_publish(conn, stream, &m.base, m.court_id, "");
    }
    fprintf(stderr, "dl_publish: unknown type %s\n", type);
    return -1;
}

static const char *s_stage(int stage)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&liaison__v1__deadline_stage__descriptor, stage);
    return v ? v->name + strlen("DEADLINE_STAGE_") : "?";
}

static int s_dump(PGconn *conn)
{
    char *err = NULL;
    PGresult *r = pg_exec_blocking(
        conn,
        "SELECT coalesce(seq, 0), envelope FROM bus_outbox WHERE stream = 'deadline' ORDER BY id",
        0, NULL, &err);
    if (!r) {
        fprintf(stderr, "dl_publish: %s\n", err);
        return 1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        size_t len;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 1), &len);
        Liaison__V1__Envelope *env = liaison__v1__envelope__unpack(NULL, len, raw);
        PQfreemem(raw);
        if (!env)
            continue;
        const char *t = env->type + strlen("liaison.v1.");
        printf("%s %s %s", PQgetvalue(r, i, 0), t, env->item_id);
        const uint8_t *d = env->payload.data;
        size_t n = env->payload.len;
        if (strcmp(t, "DeadlineCreated") == 0) {
            Liaison__V1__DeadlineCreated *m = liaison__v1__deadline_created__unpack(NULL, n, d);
            if (m)
                printf(
                    " deadline=%s rule=%s round=%d due=%04d-%02d-%02d provisional=%d dept=%s",
                    m->deadline_id, m->rule_id, m->round,
                    m->explanation && m->explanation->due_date ? m->explanation->due_date->year : 0,
                    m->explanation && m->explanation->due_date ? m->explanation->due_date->month
                                                               : 0,
                    m->explanation && m->explanation->due_date ? m->explanation->due_date->day : 0,
                    m->explanation ? m->explanation->provisional : 0, m->department_id);
            for (size_t k = 0; m && k < m->n_remind_days_before; k++)
                printf("%s%d", k ? "," : " remind=", m->remind_days_before[k]);
            liaison__v1__deadline_created__free_unpacked(m, NULL);
        } else if (strcmp(t, "DeadlineReminded") == 0) {
            Liaison__V1__DeadlineReminded *m = liaison__v1__deadline_reminded__unpack(NULL, n, d);
            if (m)
                printf(" deadline=%s stage=%s days_before=%d", m->deadline_id, s_stage(m->stage),
                       m->days_before);
            liaison__v1__deadline_reminded__free_unpacked(m, NULL);
        } else if (strcmp(t, "DeadlineDue") == 0) {
            Liaison__V1__DeadlineDue *m = liaison__v1__deadline_due__unpack(NULL, n, d);
            if (m)
                printf(" deadline=%s stage=%s", m->deadline_id, s_stage(m->stage));
            liaison__v1__deadline_due__free_unpacked(m, NULL);
        } else if (strcmp(t, "DeadlineUrged") == 0) {
            Liaison__V1__DeadlineUrged *m = liaison__v1__deadline_urged__unpack(NULL, n, d);
            if (m)
                printf(" deadline=%s stage=%s urge=%d dept=%s", m->deadline_id, s_stage(m->stage),
                       m->urge_number, m->department_id);
            liaison__v1__deadline_urged__free_unpacked(m, NULL);
        } else if (strcmp(t, "DeadlineEscalated") == 0) {
            Liaison__V1__DeadlineEscalated *m = liaison__v1__deadline_escalated__unpack(NULL, n, d);
            if (m)
                printf(" deadline=%s stage=%s urges=%d dept=%s leader=%s leader_name=%s",
                       m->deadline_id, s_stage(m->stage), m->urge_count, m->department_id,
                       m->supervising_leader_id, m->supervising_leader_name);
            liaison__v1__deadline_escalated__free_unpacked(m, NULL);
        } else if (strcmp(t, "DeadlineMet") == 0) {
            Liaison__V1__DeadlineMet *m = liaison__v1__deadline_met__unpack(NULL, n, d);
            if (m)
                printf(" deadline=%s late=%d", m->deadline_id, m->late);
            liaison__v1__deadline_met__free_unpacked(m, NULL);
        } else if (strcmp(t, "DeadlineCancelled") == 0) {
            Liaison__V1__DeadlineCancelled *m = liaison__v1__deadline_cancelled__unpack(NULL, n, d);
            if (m)
                printf(" deadline=%s reason=%d", m->deadline_id, m->reason);
            liaison__v1__deadline_cancelled__free_unpacked(m, NULL);
        } else if (strcmp(t, "DeadlineRecomputed") == 0) {
            Liaison__V1__DeadlineRecomputed *m =
                liaison__v1__deadline_recomputed__unpack(NULL, n, d);
            if (m)
                printf(" deadline=%s detail=\"%s\" provisional=%d", m->deadline_id, m->detail,
                       m->current ? m->current->provisional : -1);
            liaison__v1__deadline_recomputed__free_unpacked(m, NULL);
        } else if (strcmp(t, "NoticeRequested") == 0) {
            Liaison__V1__NoticeRequested *m = liaison__v1__notice_requested__unpack(NULL, n, d);
            if (m && m->recipient)
                printf(" template=%s recipient_kind=%d recipient=%s channel=%d", m->template_id,
                       m->recipient->kind, m->recipient->id, m->channel);
            for (size_t k = 0; m && k < m->n_params; k++)
                if (strcmp(m->params[k]->key, "on_behalf_of") == 0 && *m->params[k]->value)
                    printf(" for=%s", m->params[k]->value);
            if (m)
                printf(" dedup=%s", m->dedup_key);
            liaison__v1__notice_requested__free_unpacked(m, NULL);
        }
        printf("\n");
        liaison__v1__envelope__free_unpacked(env, NULL);
    }
    PQclear(r);
    return 0;
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL, *stream = NULL, *prefix = "item";
    long count = 0;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--conninfo") == 0)
            conninfo = argv[i + 1];
        else if (strcmp(argv[i], "--stream") == 0)
            stream = argv[i + 1];
        else if (strcmp(argv[i], "--count") == 0)
            count = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--prefix") == 0)
            prefix = argv[i + 1];
    }
    if (!conninfo || i >= argc) {
        fprintf(stderr, "usage: dl_publish --conninfo DSN [--stream S] TYPE [key=value ...]\n");
        return 2;
    }
    char *err = NULL;
    PGconn *conn = pg_connect_blocking(conninfo, &err);
    if (!conn) {
        fprintf(stderr, "dl_publish: %s\n", err);
        return 1;
    }
    const char *type = argv[i];
    s_argc = argc - i - 1;
    s_argv = argv + i + 1;
    int rc = 0;
    if (strcmp(type, "dump") == 0) {
        rc = s_dump(conn);
    } else if (!stream) {
        fprintf(stderr, "dl_publish: --stream is required\n");
        rc = 2;
    } else {
        pg_exec_ok(conn, "BEGIN", 0, NULL, &err);
        if (count > 0) {
            for (long k = 1; k <= count && rc == 0; k++) {
                char item[128];
                snprintf(item, sizeof item, "%s-%ld", prefix, k);
                rc = s_one(conn, stream, type, item);
            }
        } else {
            rc = s_one(conn, stream, type, kv("item", ""));
        }
        if (rc == 0 && pg_exec_ok(conn, "COMMIT", 0, NULL, &err) != 0) {
            fprintf(stderr, "dl_publish: %s\n", err);
            rc = 1;
        }
        rc = rc ? 1 : 0;
    }
    PQfinish(conn);
    return rc;
}
