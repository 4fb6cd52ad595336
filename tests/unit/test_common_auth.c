/* auth: token hashing, bearer parsing, court checks, and the projection of
 * token events into auth_token against a real PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/auth.h"
#include "common/pg.h"
#include "liaison/v1/directory.pb-c.h"

static void test_hash(void **state)
{
    char h[65];
    /* SHA-256("abc"), FIPS 180-2 appendix B.1 */
    auth_hash("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_bearer(void **state)
{
    assert_string_equal(auth_bearer("Bearer abc"), "abc");
    assert_string_equal(auth_bearer("bearer  abc"), "abc");
    assert_null(auth_bearer(NULL));
    assert_null(auth_bearer("Basic abc"));
    assert_null(auth_bearer("Bearer "));
}

static void test_roles_and_courts(void **state)
{
    assert_int_equal(auth_role_parse("department"), AUTH_ROLE_DEPARTMENT);
    assert_int_equal(auth_role_parse("root"), AUTH_ROLE_UNKNOWN);
    assert_string_equal(auth_role_name(AUTH_ROLE_LIAISON_OFFICE), "liaison_office");
    auth_token_t a = {.role = AUTH_ROLE_LIAISON_OFFICE};
    strcpy(a.court, "gz-liwan");
    assert_true(auth_court_allowed(&a, "gz-liwan"));
    assert_false(auth_court_allowed(&a, "gz-yuexiu"));
    assert_false(auth_court_allowed(&a, NULL));
    auth_token_t op = {.role = AUTH_ROLE_OPERATOR};
    assert_true(auth_court_allowed(&op, "gz-yuexiu"));
    auth_token_t nocourt = {.role = AUTH_ROLE_LEADER};
    assert_false(auth_court_allowed(&nocourt, ""));
}

static Liaison__V1__Envelope *envelope(const char *type, ProtobufCMessage *msg, uint8_t **buf)
{
    static Liaison__V1__Envelope env;
    liaison__v1__envelope__init(&env);
    env.type = (char *)type;
    size_t n = protobuf_c_message_get_packed_size(msg);
    *buf = malloc(n ? n : 1);
    protobuf_c_message_pack(msg, *buf);
    env.payload.data = *buf;
    env.payload.len = n;
    return &env;
}

static void test_projection(void **state)
{
    const char *dsn = getenv("LIAISON_PG_ADMIN_DSN");
    if (!dsn)
        skip();
    char *error = NULL;
    PGconn *c = pg_connect_blocking(dsn, &error);
    assert_non_null(c);
    char sql[4096];
    FILE *f = fopen("deploy/sql/_auth/001_auth.sql", "r");
    assert_non_null(f);
    size_t n = fread(sql, 1, sizeof sql - 1, f);
    fclose(f);
    sql[n] = '\0';
    assert_int_equal(pg_exec_ok(c, "DROP SCHEMA IF EXISTS test_auth CASCADE", 0, NULL, &error), 0);
    assert_int_equal(pg_exec_ok(c, "CREATE SCHEMA test_auth", 0, NULL, &error), 0);
    assert_int_equal(pg_exec_ok(c, "SET search_path = test_auth", 0, NULL, &error), 0);
    assert_int_equal(pg_exec_ok(c, sql, 0, NULL, &error), 0);

    char hash[65], reason[256] = "";
    auth_hash("secret-1", hash);
    Liaison__V1__TokenIssued ti = LIAISON__V1__TOKEN_ISSUED__INIT;
    ti.token_sha256 = hash;
    ti.court_id = "gz-liwan";
    ti.role = "department";
    ti.department_id = "civil-1";
    uint8_t *buf;
    Liaison__V1__Envelope *env =
        envelope(liaison__v1__token_issued__descriptor.name, &ti.base, &buf);
    assert_int_equal(auth_apply_event(c, env, reason, sizeof reason), 0);
    free(buf);

    auth_token_t t;
    assert_int_equal(auth_lookup(c, "secret-1", &t, &error), 0);
    assert_string_equal(t.court, "gz-liwan");
    assert_int_equal(t.role, AUTH_ROLE_DEPARTMENT);
    assert_string_equal(t.department, "civil-1");
    assert_int_equal(auth_lookup(c, "secret-2", &t, &error), 1);

    /* an operator token must not name a court: refused, nothing written */
    char hash2[65];
    auth_hash("secret-2", hash2);
    ti.token_sha256 = hash2;
    ti.role = "operator";
    env = envelope(liaison__v1__token_issued__descriptor.name, &ti.base, &buf);
    assert_int_equal(auth_apply_event(c, env, reason, sizeof reason), -1);
    assert_non_null(strstr(reason, "court"));
    free(buf);
    assert_int_equal(auth_lookup(c, "secret-2", &t, &error), 1);

    Liaison__V1__TokenRevoked tr = LIAISON__V1__TOKEN_REVOKED__INIT;
    tr.token_sha256 = hash;
    env = envelope(liaison__v1__token_revoked__descriptor.name, &tr.base, &buf);
    assert_int_equal(auth_apply_event(c, env, reason, sizeof reason), 0);
    free(buf);
    assert_int_equal(auth_lookup(c, "secret-1", &t, &error), 1);

    /* other events are not ours */
    Liaison__V1__Envelope other = LIAISON__V1__ENVELOPE__INIT;
    other.type = "liaison.v1.ItemRegistered";
    assert_int_equal(auth_apply_event(c, &other, reason, sizeof reason), 1);

    /* garbage payload */
    Liaison__V1__Envelope bad = LIAISON__V1__ENVELOPE__INIT;
    bad.type = (char *)liaison__v1__token_issued__descriptor.name;
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    bad.payload.data = junk;
    bad.payload.len = sizeof junk;
    assert_int_equal(auth_apply_event(c, &bad, reason, sizeof reason), -1);

    assert_int_equal(pg_exec_ok(c, "DROP SCHEMA test_auth CASCADE", 0, NULL, &error), 0);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_roles_and_courts),
        cmocka_unit_test(test_projection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
