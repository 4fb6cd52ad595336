/* liaisonctl bus — the event streams seen from the database.
 *
 *   liaisonctl bus status [--json] [--dsn DSN]
 *   liaisonctl bus dead-letters [--schema S] [--all] [--json] [--dsn DSN]
 *   liaisonctl bus replay --schema S ID [--dsn DSN]
 *
 * Reads every schema holding the bus tables (deploy/sql/_bus): the heads of
 * the streams its service publishes and the positions of its consumers, so
 * lag (head - position, the queue depth) and the age of the oldest
 * unapplied event come from the database, the source of truth, even when a
 * daemon is down. `replay` marks one parked dead letter for replay; the
 * consumer daemon re-applies it within a second and marks it 'replayed' (or
 * parks it again with the new reason).
 *
 * The DSN defaults to $LIAISON_PG_DSN, then pg_dsn of the admin configuration
 * (var/admin.conf, written by scripts/services up), then $LIAISON_PG_ADMIN_DSN. */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bus_consumer.h"
#include "common/pg.h"
#include "ctl/ctl.h"
#include "ctl/ctl_ini.h"

int ctl_bus(int argc, char **argv);

static void s_usage(FILE *out)
{
    fprintf(out, "usage: liaisonctl bus status [--json] [--dsn DSN]\n"
                 "       liaisonctl bus dead-letters [--schema S] [--all] [--json] [--dsn DSN]\n"
                 "       liaisonctl bus replay --schema S ID [--dsn DSN]\n");
}

static PGresult *s_query(PGconn *c, const char *sql, int n, const char *const *p)
{
    char *error = NULL;
    PGresult *r = pg_exec_blocking(c, sql, n, p, &error);
    if (!r) {
        fprintf(stderr, "liaisonctl bus: %s\n", error);
        free(error);
    }
    return r;
}

/* Schemas that hold the bus tables. */
static PGresult *s_schemas(PGconn *c)
{
    return s_query(c,
                   "SELECT table_schema FROM information_schema.tables "
                   "WHERE table_name = 'bus_consumer_position' ORDER BY 1",
                   0, NULL);
}

/* Schema i of s_schemas() as an SQL identifier and as a literal (the
 * caller frees both with PQfreemem). */
static void s_schema_names(PGconn *c, PGresult *schemas, int i, char **id, char **lit)
{
    const char *name = PQgetvalue(schemas, i, 0);
    *id = PQescapeIdentifier(c, name, strlen(name));
    *lit = PQescapeLiteral(c, name, strlen(name));
}

static int s_status(PGconn *c, bool json)
{
    PGresult *schemas = s_schemas(c);
    if (!schemas)
        return CTL_EXIT_FAILURE;
    /* One statement over every schema: heads by stream (a stream is
     * published by one service), positions per consumer. */
    char *sql = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&sql, &len);
    fprintf(m,
            "WITH heads AS (SELECT NULL::text AS schema, NULL::text AS stream, 0::bigint AS head "
            "WHERE false");
    for (int i = 0; i < PQntuples(schemas); i++) {
        char *id, *lit;
        s_schema_names(c, schemas, i, &id, &lit);
        fprintf(m, " UNION ALL SELECT %s, stream, head FROM %s.bus_stream_head", lit, id);
        PQfreemem(id);
        PQfreemem(lit);
    }
    fprintf(m, "), pos AS (SELECT NULL::text AS schema, ''::text AS consumer, ''::text AS stream, "
               "0::bigint AS position, 0::bigint AS dead, now() AS updated_at WHERE false");
    for (int i = 0; i < PQntuples(schemas); i++) {
        char *id, *lit;
        s_schema_names(c, schemas, i, &id, &lit);
        fprintf(m,
                " UNION ALL SELECT %s, consumer, stream, position, "
                "(SELECT count(*) FROM %s.bus_dead_letter d WHERE d.consumer = p.consumer "
                "AND d.stream = p.stream AND d.status <> 'replayed'), updated_at "
                "FROM %s.bus_consumer_position p",
                lit, id, id);
        PQfreemem(id);
        PQfreemem(lit);
    }
    /* The oldest unapplied event: the one after the position, in its
     * producer's outbox (by the (stream, seq) key), and how long ago it
     * was sequenced. */
    fprintf(m, ") SELECT h.schema, h.stream, h.head, p.schema, p.consumer, p.position, "
               "h.head - p.position, p.dead, p.updated_at, CASE h.schema");
    for (int i = 0; i < PQntuples(schemas); i++) {
        char *id, *lit;
        s_schema_names(c, schemas, i, &id, &lit);
        fprintf(m,
                " WHEN %s THEN (SELECT floor(extract(epoch FROM now() - o.sequenced_at))::bigint "
                "FROM %s.bus_outbox o WHERE o.stream = h.stream AND o.seq = p.position + 1)",
                lit, id);
        PQfreemem(id);
        PQfreemem(lit);
    }
    fprintf(m, " END FROM heads h "
               "LEFT JOIN pos p ON p.stream = h.stream "
               "UNION ALL SELECT NULL, p.stream, NULL, p.schema, p.consumer, p.position, NULL, "
               "p.dead, p.updated_at, NULL FROM pos p WHERE NOT EXISTS "
               "(SELECT 1 FROM heads h WHERE h.stream = p.stream) ORDER BY 2, 5");
    fclose(m);
    PGresult *r = s_query(c, sql, 0, NULL);
    free(sql);
    PQclear(schemas);
    if (!r)
        return CTL_EXIT_FAILURE;
    json_t *arr = json_array();
    if (!json)
        printf("%-12s %-10s %10s %-12s %10s %8s %6s %8s\n", "STREAM", "PRODUCER", "HEAD",
               "CONSUMER", "POSITION", "LAG", "DEAD", "OLDEST");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *stream = PQgetvalue(r, i, 1), *producer = PQgetvalue(r, i, 0);
        bool has_head = !PQgetisnull(r, i, 2), has_pos = !PQgetisnull(r, i, 4);
        bool has_oldest = has_pos && !PQgetisnull(r, i, 9);
        if (json) {
            json_t *o = json_pack("{s:s}", "stream", stream);
            json_object_set_new(o, "producer_schema",
                                has_head ? json_string(producer) : json_null());
            json_object_set_new(o, "head",
                                has_head ? json_integer(atoll(PQgetvalue(r, i, 2))) : json_null());
            json_object_set_new(o, "consumer_schema",
                                has_pos ? json_string(PQgetvalue(r, i, 3)) : json_null());
            json_object_set_new(o, "consumer",
                                has_pos ? json_string(PQgetvalue(r, i, 4)) : json_null());
            json_object_set_new(o, "position",
                                has_pos ? json_integer(atoll(PQgetvalue(r, i, 5))) : json_null());
            json_object_set_new(o, "lag",
                                !PQgetisnull(r, i, 6) ? json_integer(atoll(PQgetvalue(r, i, 6)))
                                                      : json_null());
            json_object_set_new(o, "dead_letters",
                                has_pos ? json_integer(atoll(PQgetvalue(r, i, 7))) : json_null());
            /* seconds since the oldest event not applied yet was sequenced;
             * null when the consumer is caught up */
            json_object_set_new(o, "oldest_unapplied_seconds",
                                has_oldest ? json_integer(atoll(PQgetvalue(r, i, 9)))
                                           : json_null());
            json_array_append_new(arr, o);
        } else {
            char oldest[32] = "-";
            if (has_oldest)
                snprintf(oldest, sizeof oldest, "%ss", PQgetvalue(r, i, 9));
            printf("%-12s %-10s %10s %-12s %10s %8s %6s %8s\n", stream, has_head ? producer : "?",
                   has_head ? PQgetvalue(r, i, 2) : "-", has_pos ? PQgetvalue(r, i, 4) : "-",
                   has_pos ? PQgetvalue(r, i, 5) : "-",
                   !PQgetisnull(r, i, 6) ? PQgetvalue(r, i, 6) : "-",
                   has_pos ? PQgetvalue(r, i, 7) : "-", oldest);
        }
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    }
    json_decref(arr);
    PQclear(r);
    return CTL_EXIT_OK;
}

static int s_dead_letters(PGconn *c, const char *only, bool all, bool json)
{
    PGresult *schemas = s_schemas(c);
    if (!schemas)
        return CTL_EXIT_FAILURE;
    json_t *arr = json_array();
    if (!json)
        printf("%-12s %6s %-10s %-10s %8s %-24s %-8s %4s %s\n", "SCHEMA", "ID", "CONSUMER",
               "STREAM", "SEQ", "TYPE", "STATUS", "TRY", "REASON");
    int rc = CTL_EXIT_OK;
    for (int i = 0; i < PQntuples(schemas); i++) {
        const char *schema = PQgetvalue(schemas, i, 0);
        if (only && strcmp(only, schema) != 0)
            continue;
        char *id = PQescapeIdentifier(c, schema, strlen(schema));
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT id, consumer, stream, seq, type, status, attempts, reason, parked_at "
                 "FROM %s.bus_dead_letter %s ORDER BY id",
                 id, all ? "" : "WHERE status <> 'replayed'");
        PQfreemem(id);
        PGresult *r = s_query(c, sql, 0, NULL);
        if (!r) {
            rc = CTL_EXIT_FAILURE;
            continue;
        }
        for (int j = 0; j < PQntuples(r); j++) {
            if (json) {
                json_array_append_new(
                    arr,
                    json_pack("{s:s,s:I,s:s,s:s,s:I,s:s,s:s,s:i,s:s,s:s}", "schema", schema, "id",
                              (json_int_t)atoll(PQgetvalue(r, j, 0)), "consumer",
                              PQgetvalue(r, j, 1), "stream", PQgetvalue(r, j, 2), "seq",
                              (json_int_t)atoll(PQgetvalue(r, j, 3)), "type", PQgetvalue(r, j, 4),
                              "status", PQgetvalue(r, j, 5), "attempts", atoi(PQgetvalue(r, j, 6)),
                              "reason", PQgetvalue(r, j, 7), "parked_at", PQgetvalue(r, j, 8)));
            } else {
                printf("%-12s %6s %-10s %-10s %8s %-24s %-8s %4s %s\n", schema, PQgetvalue(r, j, 0),
                       PQgetvalue(r, j, 1), PQgetvalue(r, j, 2), PQgetvalue(r, j, 3),
                       PQgetvalue(r, j, 4), PQgetvalue(r, j, 5), PQgetvalue(r, j, 6),
                       PQgetvalue(r, j, 7));
            }
        }
        PQclear(r);
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    }
    json_decref(arr);
    PQclear(schemas);
    return rc;
}

static int s_replay(PGconn *c, const char *schema, const char *idtext)
{
    char *end = NULL;
    long long id = strtoll(idtext, &end, 10);
    if (!schema || !end || *end || id <= 0) {
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *p[1] = {schema};
    char *error = NULL;
    if (pg_exec_ok(c, "SELECT set_config('search_path', quote_ident($1), false)", 1, p, &error) !=
        0) {
        fprintf(stderr, "liaisonctl bus: %s\n", error);
        free(error);
        return CTL_EXIT_FAILURE;
    }
    if (bus_dead_letter_request_replay(c, id, &error) != 0) {
        fprintf(stderr, "liaisonctl bus replay: dead letter %lld in %s: %s\n", id, schema, error);
        free(error);
        return CTL_EXIT_REFUSED;
    }
    printf("dead letter %lld in %s queued for replay\n", id, schema);
    return CTL_EXIT_OK;
}

int ctl_bus(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    const char *cmd = argv[1], *dsn = NULL, *schema = NULL, *arg = NULL;
    bool json = false, all = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--all") == 0)
            all = true;
        else if (strcmp(argv[i], "--dsn") == 0 && i + 1 < argc)
            dsn = argv[++i];
        else if (strcmp(argv[i], "--schema") == 0 && i + 1 < argc)
            schema = argv[++i];
        else if (argv[i][0] != '-' && !arg)
            arg = argv[i];
        else {
            s_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    char *admin_dsn = NULL;
    if (!dsn)
        dsn = admin_dsn = ctl_admin_dsn();
    if (!dsn)
        dsn = getenv("LIAISON_PG_ADMIN_DSN");
    if (!dsn) {
        fprintf(stderr,
                "liaisonctl bus: no database: pass --dsn, set LIAISON_PG_DSN, or run "
                "from the repository root after `make up` (reads %s)\n",
                ctl_admin_config_path());
        return CTL_EXIT_USAGE;
    }
    int known = strcmp(cmd, "status") == 0 || strcmp(cmd, "dead-letters") == 0 ||
                strcmp(cmd, "replay") == 0;
    if (!known) {
        free(admin_dsn);
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    char *error = NULL;
    PGconn *c = pg_connect_blocking(dsn, &error);
    free(admin_dsn);
    if (!c) {
        fprintf(stderr, "liaisonctl bus: cannot connect: %s\n", error);
        free(error);
        return CTL_EXIT_FAILURE;
    }
    int rc;
    if (strcmp(cmd, "status") == 0)
        rc = s_status(c, json);
    else if (strcmp(cmd, "dead-letters") == 0)
        rc = s_dead_letters(c, schema, all, json);
    else
        rc = arg ? s_replay(c, schema, arg) : (s_usage(stderr), CTL_EXIT_USAGE);
    PQfinish(c);
    return rc;
}
