/* routing_project — intake's stream applied to routing's schema, inside
 * the consumer's transaction (bus_consumer.h: exactly once, in order).
 *
 *   TokenIssued / TokenRevoked      → auth_token (common/auth.h), first
 *   ItemRegistered                  → item (state "registered", round 1),
 *                                     item_deputy, history step 1
 *   ItemRegistrationCorrected       → title, content, deputies
 *   CourtUpserted, DepartmentUpserted, StaffUpserted, DeputyUpserted
 *                                   → dir_* (the last revision wins)
 *
 * Other types are not routing's business and are skipped (OK). An event
 * that cannot be decoded or fails validation is POISON: parked with the
 * reason, the stream goes on. A database error is RETRY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/bus.h"
#include "common/directory.h"
#include "common/log.h"
#include "common/pg.h"
#include "domain/lifecycle.h"
#include "liaison/v1/directory.pb-c.h"
#include "liaison/v1/items.pb-c.h"
#include "routing/routing.h"

#define IS(env, desc) (strcmp((env)->type, (desc).name) == 0)

static bus_apply_t s_exec(PGconn *conn, const char *sql, int n, const char *const *p, char *reason,
                          size_t reason_size)
{
    char state[6];
    PGresult *res = routing_sql(conn, sql, n, p, state);
    if (res) {
        PQclear(res);
        return BUS_APPLY_OK;
    }
    snprintf(reason, reason_size, "SQLSTATE %s: %s", state, PQerrorMessage(conn));
    /* Data the schema refuses (22xxx, 23xxx) will never apply: park it.
     * Anything else (a lost connection, a deadlock) is worth another try. */
    return strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ? BUS_APPLY_POISON
                                                                        : BUS_APPLY_RETRY;
}

/* The lifecycle kind of intake's ItemKind (domain/lifecycle.h). */
static int s_domain_kind(Liaison__V1__ItemKind kind, domain_kind_t *out)
{
    switch (kind) {
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_BILL:
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_SESSION_SUGGESTION:
        *out = DOMAIN_KIND_SESSION_PROPOSAL;
        return 0;
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_BETWEEN_SESSIONS:
        *out = DOMAIN_KIND_BETWEEN_SESSION;
        return 0;
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_REMARK:
        *out = DOMAIN_KIND_REMARK;
        return 0;
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_FORWARDED_COMPLAINT:
        *out = DOMAIN_KIND_COMPLAINT_LETTER;
        return 0;
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_SUPERVISED_CASE:
        *out = DOMAIN_KIND_SUPERVISED_CASE;
        return 0;
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_FOLLOWED_CASE:
        *out = DOMAIN_KIND_FOLLOWED_CASE;
        return 0;
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_DEPUTY_LETTER:
    case LIAISON__V1__ITEM_KIND__ITEM_KIND_DEPUTY_VISIT:
        *out = DOMAIN_KIND_DEPUTY_LETTER;
        return 0;
    default:
        return -1;
    }
}

static void s_date(const Liaison__V1__LocalDate *d, char out[48])
{
    if (!d || d->year <= 0 || d->year > 9999 || d->month < 1 || d->month > 12 || d->day < 1 ||
        d->day > 31)
        out[0] = '\0';
    else
        snprintf(out, 48, "%04d-%02d-%02d", d->year, d->month, d->day);
}

static bus_apply_t s_deputies(PGconn *conn, const char *item_id, const char *court, size_t n,
                              Liaison__V1__DeputyRef **deps, char *reason, size_t reason_size)
{
    for (size_t i = 0; i < n; i++) {
        char pos[24];
        snprintf(pos, sizeof pos, "%zu", i + 1);
        const char *p[] = {item_id,
                           court,
                           pos,
                           deps[i]->deputy_id,
                           deps[i]->name ? deps[i]->name : "",
                           deps[i]->lead ? "true" : "false"};
        bus_apply_t rc =
            s_exec(conn,
                   "INSERT INTO item_deputy (item_id, court_id, position, deputy_id, name, lead) "
                   "VALUES ($1, $2, $3, $4, $5, $6)",
                   6, p, reason, reason_size);
        if (rc != BUS_APPLY_OK)
            return rc;
    }
    return BUS_APPLY_OK;
}

static bus_apply_t s_item_registered(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                     size_t reason_size)
{
    Liaison__V1__ItemRegistered *m =
        liaison__v1__item_registered__unpack(NULL, env->payload.len, env->payload.data);
    if (!m) {
        snprintf(reason, reason_size, "ItemRegistered: undecodable payload");
        return BUS_APPLY_POISON;
    }
    bus_apply_t rc = BUS_APPLY_POISON;
    domain_kind_t kind;
    domain_item_t item;
    const char *court = env->court_id;
    char err[256];
    if (!bus_uuid_valid(m->item_id) || !court || !*court) {
        snprintf(reason, reason_size, "ItemRegistered: no item id or court");
        goto done;
    }
    if (s_domain_kind(m->kind, &kind) != 0) {
        snprintf(reason, reason_size, "ItemRegistered: unknown kind %d", (int)m->kind);
        goto done;
    }
    domain_role_t role = m->court_role == LIAISON__V1__HANDLING_ROLE__HANDLING_ROLE_CO
                             ? DOMAIN_ROLE_CO
                             : DOMAIN_ROLE_LEAD;
    size_t nd = m->n_deputies;
    if (domain_item_init(&item, kind, role, (uint32_t)nd) != 0 ||
        domain_item_apply(&item, DOMAIN_ACTION_REGISTER, err, sizeof err) != 0) {
        snprintf(reason, reason_size, "ItemRegistered: %zu deputies is not a valid item", nd);
        goto done;
    }
    for (size_t i = 0; i < nd; i++)
        if (!m->deputies[i]->deputy_id || !*m->deputies[i]->deputy_id) {
            snprintf(reason, reason_size, "ItemRegistered: deputy %zu has no id", i);
            goto done;
        }
    /* Replayed dead letter or a re-sent event: the item is already here. */
    const char *pid[] = {m->item_id};
    char *error = NULL;
    PGresult *res = pg_exec_blocking(conn, "SELECT 1 FROM item WHERE item_id = $1", 1, pid, &error);
    if (!res) {
        snprintf(reason, reason_size, "%s", error ? error : "database error");
        free(error);
        rc = BUS_APPLY_RETRY;
        goto done;
    }
    bool exists = PQntuples(res) > 0;
    PQclear(res);
    if (exists) {
        rc = BUS_APPLY_OK;
        goto done;
    }
    const ProtobufCEnumValue *kv =
        protobuf_c_enum_descriptor_get_value(&liaison__v1__item_kind__descriptor, m->kind);
    char received[48], ndeps[24], registered_us[32];
    s_date(m->received_date, received);
    snprintf(ndeps, sizeof ndeps, "%zu", nd);
    int64_t reg_us = m->registered_at_us ? m->registered_at_us : env->occurred_at_us;
    snprintf(registered_us, sizeof registered_us, "%lld", (long long)reg_us);
    const char *p[] = {m->item_id,
                       court,
                       m->registration_number ? m->registration_number : "",
                       kv ? kv->name : "ITEM_KIND_UNSPECIFIED",
                       domain_kind_name(kind),
                       domain_role_name(role),
                       m->title ? m->title : "",
                       m->content ? m->content : "",
                       m->receiving_department_id ? m->receiving_department_id : "",
                       received[0] ? received : NULL,
                       registered_us,
                       domain_state_name(item.state),
                       ndeps};
    rc = s_exec(
        conn,
        "INSERT INTO item (item_id, court_id, registration_number, kind, domain_kind, "
        " court_role, title, content, receiving_department_id, received_date, "
        " registered_at, state, deputies, state_since) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce(dir_ref('department', $2, $9), ''), "
        " $10::date, "
        " CASE WHEN $11::bigint > 0 THEN to_timestamp($11::bigint / 1e6) ELSE now() END, "
        " $12, $13::int, "
        " CASE WHEN $11::bigint > 0 THEN to_timestamp($11::bigint / 1e6) ELSE now() END)",
        13, p, reason, reason_size);
    if (rc != BUS_APPLY_OK)
        goto done;
    rc = s_deputies(conn, m->item_id, court, nd, m->deputies, reason, reason_size);
    if (rc != BUS_APPLY_OK)
        goto done;
    const char *h[] = {m->item_id,    court,
                       registered_us, env->event_id,
                       env->type,     m->registration_number ? m->registration_number : ""};
    rc = s_exec(
        conn,
        "INSERT INTO history (item_id, court_id, n, at, action, from_state, to_state, "
        " round, actor, detail, event_id, event_type) "
        "VALUES ($1, $2, 1, CASE WHEN $3::bigint > 0 THEN to_timestamp($3::bigint / 1e6) "
        " ELSE now() END, 'register', 'received', 'registered', 1, "
        " '{\"role\": \"liaison_office\"}', jsonb_build_object('registration_number', $6::text), "
        " $4::uuid, $5)",
        6, h, reason, reason_size);
done:
    liaison__v1__item_registered__free_unpacked(m, NULL);
    return rc;
}

static bus_apply_t s_item_corrected(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                    size_t reason_size)
{
    Liaison__V1__ItemRegistrationCorrected *m =
        liaison__v1__item_registration_corrected__unpack(NULL, env->payload.len, env->payload.data);
    if (!m) {
        snprintf(reason, reason_size, "ItemRegistrationCorrected: undecodable payload");
        return BUS_APPLY_POISON;
    }
    bus_apply_t rc = BUS_APPLY_OK;
    for (size_t i = 0; i < m->n_changed_fields && rc == BUS_APPLY_OK; i++) {
        const char *f = m->changed_fields[i];
        const char *p[] = {m->item_id, NULL};
        if (strcmp(f, "title") == 0) {
            p[1] = m->title;
            rc = s_exec(conn, "UPDATE item SET title = $2 WHERE item_id = $1", 2, p, reason,
                        reason_size);
        } else if (strcmp(f, "content") == 0) {
            p[1] = m->content;
            rc = s_exec(conn, "UPDATE item SET content = $2 WHERE item_id = $1", 2, p, reason,
                        reason_size);
        } else if (strcmp(f, "deputies") == 0 && m->n_deputies >= 1 &&
                   m->n_deputies <= DOMAIN_ITEM_MAX_DEPUTIES) {
            /* The deputies to answer change only while none has been answered
             * in this round; afterwards the correction stays intake's record. */
            char n[16];
            snprintf(n, sizeof n, "%zu", m->n_deputies);
            const char *q[] = {m->item_id, n};
            char *error = NULL;
            PGresult *res = pg_exec_blocking(
                conn,
                "UPDATE item SET deputies = $2::int WHERE item_id = $1 AND replies = 0 RETURNING "
                "court_id",
                2, q, &error);
            if (!res) {
                snprintf(reason, reason_size, "%s", error ? error : "database error");
                free(error);
                rc = BUS_APPLY_RETRY;
                break;
            }
            if (PQntuples(res) == 1) {
                char court[64];
                snprintf(court, sizeof court, "%s", PQgetvalue(res, 0, 0));
                rc = s_exec(conn, "DELETE FROM item_deputy WHERE item_id = $1", 1, q, reason,
                            reason_size);
                if (rc == BUS_APPLY_OK)
                    rc = s_deputies(conn, m->item_id, court, m->n_deputies, m->deputies, reason,
                                    reason_size);
            }
            PQclear(res);
        }
    }
    liaison__v1__item_registration_corrected__free_unpacked(m, NULL);
    return rc;
}

static const char *s_department_kind(Liaison__V1__DepartmentKind k)
{
    switch (k) {
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_LIAISON_OFFICE:
        return "liaison-office";
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_PETITION_OFFICE:
        return "petition-office";
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_SUPERVISION_OFFICE:
        return "supervision-office";
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_RESEARCH_OFFICE:
        return "research-office";
    case LIAISON__V1__DEPARTMENT_KIND__DEPARTMENT_KIND_OTHER:
        return "other";
    default:
        return "division";
    }
}

/* The directory: whole records with a revision; an older one changes nothing. */
static bus_apply_t s_directory(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                               size_t reason_size)
{
    const char *court = env->court_id;
    char rev[32];
    bus_apply_t rc = BUS_APPLY_OK;
    if (IS(env, liaison__v1__court_upserted__descriptor)) {
        Liaison__V1__CourtUpserted *m =
            liaison__v1__court_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (!m || !*m->court_id) {
            snprintf(reason, reason_size, "CourtUpserted: undecodable or without id");
            liaison__v1__court_upserted__free_unpacked(m, NULL);
            return BUS_APPLY_POISON;
        }
        snprintf(rev, sizeof rev, "%lld", (long long)m->revision);
        const char *p[] = {m->court_id, m->name, *m->time_zone ? m->time_zone : "Asia/Shanghai",
                           m->active ? "true" : "false", rev};
        rc = s_exec(
            conn,
            "INSERT INTO dir_court (court_id, name, time_zone, active, revision) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (court_id) DO UPDATE SET "
            "name = EXCLUDED.name, time_zone = EXCLUDED.time_zone, active = EXCLUDED.active, "
            "revision = EXCLUDED.revision WHERE dir_court.revision <= EXCLUDED.revision",
            5, p, reason, reason_size);
        liaison__v1__court_upserted__free_unpacked(m, NULL);
        return rc;
    }
    if (!court || !*court) {
        snprintf(reason, reason_size, "%s: the envelope names no court", env->type);
        return BUS_APPLY_POISON;
    }
    if (IS(env, liaison__v1__department_upserted__descriptor)) {
        Liaison__V1__DepartmentUpserted *m =
            liaison__v1__department_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (!m || !*m->department_id) {
            snprintf(reason, reason_size, "DepartmentUpserted: undecodable or without id");
            liaison__v1__department_upserted__free_unpacked(m, NULL);
            return BUS_APPLY_POISON;
        }
        snprintf(rev, sizeof rev, "%lld", (long long)m->revision);
        const char *p[] = {court,
                           m->department_id,
                           m->name,
                           s_department_kind(m->kind),
                           m->head_staff_id,
                           m->supervising_leader_staff_id,
                           m->active ? "true" : "false",
                           rev};
        rc = s_exec(conn,
                    "INSERT INTO dir_department (court_id, department_id, name, kind, "
                    " head_staff_id, supervising_staff_id, active, revision) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                    "ON CONFLICT (court_id, department_id) DO UPDATE SET name = EXCLUDED.name, "
                    "kind = EXCLUDED.kind, head_staff_id = EXCLUDED.head_staff_id, "
                    "supervising_staff_id = EXCLUDED.supervising_staff_id, "
                    "active = EXCLUDED.active, revision = EXCLUDED.revision "
                    "WHERE dir_department.revision <= EXCLUDED.revision",
                    8, p, reason, reason_size);
        liaison__v1__department_upserted__free_unpacked(m, NULL);
        return rc;
    }
    if (IS(env, liaison__v1__staff_upserted__descriptor)) {
        Liaison__V1__StaffUpserted *m =
            liaison__v1__staff_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (!m || !*m->staff_id) {
            snprintf(reason, reason_size, "StaffUpserted: undecodable or without id");
            liaison__v1__staff_upserted__free_unpacked(m, NULL);
            return BUS_APPLY_POISON;
        }
        /* roles as a Postgres array literal of known names (no quoting needed) */
        char roles[256] = "{";
        size_t n = 1;
        for (size_t i = 0; i < m->n_roles; i++) {
            const char *r = directory_staff_role_name(m->roles[i]);
            if (r && n + strlen(r) + 2 < sizeof roles)
                n += (size_t)snprintf(roles + n, sizeof roles - n, "%s%s", n > 1 ? "," : "", r);
        }
        snprintf(roles + n, sizeof roles - n, "}");
        snprintf(rev, sizeof rev, "%lld", (long long)m->revision);
        const char *p[] = {
            court, m->staff_id, m->name, m->department_id, roles, m->active ? "true" : "false",
            rev};
        rc = s_exec(conn,
                    "INSERT INTO dir_staff (court_id, staff_id, name, department_id, roles, "
                    " active, revision) VALUES ($1, $2, $3, $4, $5::text[], $6, $7) "
                    "ON CONFLICT (court_id, staff_id) DO UPDATE SET name = EXCLUDED.name, "
                    "department_id = EXCLUDED.department_id, roles = EXCLUDED.roles, "
                    "active = EXCLUDED.active, revision = EXCLUDED.revision "
                    "WHERE dir_staff.revision <= EXCLUDED.revision",
                    7, p, reason, reason_size);
        liaison__v1__staff_upserted__free_unpacked(m, NULL);
        return rc;
    }
    if (IS(env, liaison__v1__deputy_upserted__descriptor)) {
        Liaison__V1__DeputyUpserted *m =
            liaison__v1__deputy_upserted__unpack(NULL, env->payload.len, env->payload.data);
        if (!m || !*m->deputy_id) {
            snprintf(reason, reason_size, "DeputyUpserted: undecodable or without id");
            liaison__v1__deputy_upserted__free_unpacked(m, NULL);
            return BUS_APPLY_POISON;
        }
        snprintf(rev, sizeof rev, "%lld", (long long)m->revision);
        const char *p[] = {court, m->deputy_id, m->name, m->sector, rev};
        rc = s_exec(conn,
                    "INSERT INTO dir_deputy (court_id, deputy_id, name, sector, revision) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (court_id, deputy_id) DO UPDATE SET "
                    "name = EXCLUDED.name, sector = EXCLUDED.sector, revision = EXCLUDED.revision "
                    "WHERE dir_deputy.revision <= EXCLUDED.revision",
                    5, p, reason, reason_size);
        liaison__v1__deputy_upserted__free_unpacked(m, NULL);
        return rc;
    }
    return BUS_APPLY_OK;
}

bus_apply_t routing_project_apply(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                  size_t reason_size, void *arg)
{
    (void)arg;
    /* The consumer projects every court: bind its transaction to all of them
     * (row-level security, 004_workflow.sql). Transaction-local, so set once
     * per event costs one round trip and survives nothing. */
    char *error = NULL;
    if (pg_exec_ok(conn, "SELECT set_config('liaison.court', '*', true)", 0, NULL, &error) != 0) {
        snprintf(reason, reason_size, "%s", error ? error : "database error");
        free(error);
        return BUS_APPLY_RETRY;
    }
    int a = auth_apply_event(conn, env, reason, reason_size);
    if (a == 0)
        return BUS_APPLY_OK;
    if (a < 0)
        return PQtransactionStatus(conn) == PQTRANS_INERROR ? BUS_APPLY_RETRY : BUS_APPLY_POISON;
    if (IS(env, liaison__v1__item_registered__descriptor))
        return s_item_registered(conn, env, reason, reason_size);
    if (IS(env, liaison__v1__item_registration_corrected__descriptor))
        return s_item_corrected(conn, env, reason, reason_size);
    return s_directory(conn, env, reason, reason_size);
}
