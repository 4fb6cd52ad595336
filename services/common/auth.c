/* auth — see auth.h. */
#include "common/auth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/pg.h"
#include "liaison/v1/directory.pb-c.h"

static const char *const s_role_names[] = {
    [AUTH_ROLE_UNKNOWN] = "unknown",   [AUTH_ROLE_LIAISON_OFFICE] = "liaison_office",
    [AUTH_ROLE_LEADER] = "leader",     [AUTH_ROLE_DEPARTMENT] = "department",
    [AUTH_ROLE_OPERATOR] = "operator", [AUTH_ROLE_AUDITOR] = "auditor",
    [AUTH_ROLE_SYSTEM] = "system",
};

const char *auth_role_name(auth_role_t role)
{
    return (unsigned)role < sizeof s_role_names / sizeof s_role_names[0] ? s_role_names[role]
                                                                         : "unknown";
}

auth_role_t auth_role_parse(const char *name)
{
    for (size_t i = 1; name && i < sizeof s_role_names / sizeof s_role_names[0]; i++)
        if (strcmp(name, s_role_names[i]) == 0)
            return (auth_role_t)i;
    return AUTH_ROLE_UNKNOWN;
}

void auth_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

void auth_hash(const char *token, char out[65])
{
    auth_sha256_hex(token, strlen(token), out);
}

const char *auth_bearer(const char *header)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    const char *token = header + 7;
    while (*token == ' ')
        token++;
    return *token ? token : NULL;
}

static void s_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

int auth_lookup(PGconn *conn, const char *token, auth_token_t *out, char **error)
{
    if (!token || !*token || strlen(token) > 512)
        return 1;
    memset(out, 0, sizeof *out);
    auth_hash(token, out->hash);
    const char *params[] = {out->hash};
    PGresult *res =
        pg_exec_blocking(conn,
                         "SELECT coalesce(court_id, ''), role, coalesce(department_id, ''),"
                         " coalesce(staff_id, '') FROM auth_token"
                         " WHERE token_hash = $1 AND revoked_at IS NULL",
                         1, params, error);
    if (!res)
        return -1;
    int rc = 1;
    if (PQntuples(res) == 1) {
        s_copy(out->court, sizeof out->court, PQgetvalue(res, 0, 0));
        out->role = auth_role_parse(PQgetvalue(res, 0, 1));
        s_copy(out->department, sizeof out->department, PQgetvalue(res, 0, 2));
        s_copy(out->staff, sizeof out->staff, PQgetvalue(res, 0, 3));
        rc = out->role == AUTH_ROLE_UNKNOWN ? 1 : 0;
    }
    PQclear(res);
    return rc;
}

bool auth_court_allowed(const auth_token_t *token, const char *court)
{
    if (token->role == AUTH_ROLE_OPERATOR)
        return true;
    return court && *token->court && strcmp(token->court, court) == 0;
}

static bool s_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static const char *s_or_null(const char *s)
{
    return s && *s ? s : NULL;
}

int auth_apply_event(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                     size_t reason_size)
{
    const char *type = env->type ? env->type : "";
    bool issued = strcmp(type, liaison__v1__token_issued__descriptor.name) == 0;
    bool revoked = strcmp(type, liaison__v1__token_revoked__descriptor.name) == 0;
    if (!issued && !revoked)
        return 1;
    char *error = NULL;
    int rc = -1;
    if (issued) {
        Liaison__V1__TokenIssued *m =
            liaison__v1__token_issued__unpack(NULL, env->payload.len, env->payload.data);
        if (!m) {
            snprintf(reason, reason_size, "TokenIssued: undecodable payload");
            return -1;
        }
        auth_role_t role = auth_role_parse(m->role);
        if (!s_hex64(m->token_sha256) || role == AUTH_ROLE_UNKNOWN ||
            (role == AUTH_ROLE_OPERATOR) != (*m->court_id == '\0')) {
            snprintf(reason, reason_size, "TokenIssued: bad hash, role or court");
        } else {
            const char *params[] = {m->token_sha256,
                                    s_or_null(m->court_id),
                                    m->role,
                                    s_or_null(m->department_id),
                                    s_or_null(m->staff_id),
                                    m->name ? m->name : ""};
            rc = pg_exec_ok(conn,
                            "INSERT INTO auth_token (token_hash, court_id, role, department_id,"
                            " staff_id, name) VALUES ($1, $2, $3, $4, $5, $6)"
                            " ON CONFLICT (token_hash) DO UPDATE SET court_id = EXCLUDED.court_id,"
                            " role = EXCLUDED.role, department_id = EXCLUDED.department_id,"
                            " staff_id = EXCLUDED.staff_id, name = EXCLUDED.name",
                            6, params, &error);
        }
        liaison__v1__token_issued__free_unpacked(m, NULL);
    } else {
        Liaison__V1__TokenRevoked *m =
            liaison__v1__token_revoked__unpack(NULL, env->payload.len, env->payload.data);
        if (!m) {
            snprintf(reason, reason_size, "TokenRevoked: undecodable payload");
            return -1;
        }
        if (!s_hex64(m->token_sha256)) {
            snprintf(reason, reason_size, "TokenRevoked: bad hash");
        } else {
            const char *params[] = {m->token_sha256};
            rc = pg_exec_ok(conn,
                            "UPDATE auth_token SET revoked_at = coalesce(revoked_at, now())"
                            " WHERE token_hash = $1",
                            1, params, &error);
        }
        liaison__v1__token_revoked__free_unpacked(m, NULL);
    }
    if (error) {
        snprintf(reason, reason_size, "%s", error);
        free(error);
    }
    return rc < 0 ? -1 : 0;
}
