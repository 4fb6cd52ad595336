/* auth — bearer tokens on every endpoint (ARCHITECTURE.md §5).
 *
 * A token is bound to a court, a role and, for departments, a department.
 * Tokens are stored only as the SHA-256 of the token (hex). Intake issues
 * them and publishes TokenIssued / TokenRevoked on its stream; every other
 * daemon projects those events into its own auth_token table
 * (deploy/sql/_auth) with auth_apply_event, inside its consumer's
 * transaction, and checks requests against it with auth_lookup.
 *
 * Roles: liaison_office, leader, department, operator (every court),
 * auditor (reads only), system (other systems of the court, e.g. OA).
 */
#ifndef LIAISON_COMMON_AUTH_H
#define LIAISON_COMMON_AUTH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "liaison/v1/envelope.pb-c.h"

typedef enum {
    AUTH_ROLE_UNKNOWN = 0,
    AUTH_ROLE_LIAISON_OFFICE,
    AUTH_ROLE_LEADER,
    AUTH_ROLE_DEPARTMENT,
    AUTH_ROLE_OPERATOR,
    AUTH_ROLE_AUDITOR,
    AUTH_ROLE_SYSTEM,
} auth_role_t;

typedef struct {
    char hash[65];
    char court[64]; /* "" for operators */
    auth_role_t role;
    char department[64]; /* "" unless a department token */
    char staff[64];      /* "" unless a person's token */
} auth_token_t;

const char *auth_role_name(auth_role_t role);
auth_role_t auth_role_parse(const char *name);

/* SHA-256 of token as lower-case hex. */
void auth_hash(const char *token, char out[65]);
/* Hex SHA-256 of any bytes (a request's body, for idempotency). */
void auth_sha256_hex(const void *data, size_t len, char out[65]);

/* The token of an "Authorization: Bearer <token>" header value; NULL when
 * the header is missing or not a bearer token. Borrowed from header. */
const char *auth_bearer(const char *header);

/* Look a bearer token up in the auth_token table of conn's schema.
 * 0 and *out when it is known and not revoked; 1 when unknown or revoked;
 * -1 on a database error (*error set, the caller frees). Blocking: worker
 * threads and consumers only. */
int auth_lookup(PGconn *conn, const char *token, auth_token_t *out, char **error);

/* May this token act on court? Operators may act on every court. */
bool auth_court_allowed(const auth_token_t *token, const char *court);

/* Apply a TokenIssued / TokenRevoked event to auth_token inside the
 * caller's transaction. 1 when env is not a token event (nothing done),
 * 0 when applied, -1 when it is malformed or the write failed (reason
 * written). */
int auth_apply_event(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                     size_t reason_size);

#endif
