/* Helpers shared by the bus integration tests (header-only: each test
 * program is one .c file). A scratch schema per test program, the bus
 * tables applied into it with search_path, a producer loop (sequencer and
 * pull server) on its own thread, and a recording consumer. */
#ifndef LIAISON_TEST_BUS_COMMON_H
#define LIAISON_TEST_BUS_COMMON_H

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/bus.h"
#include "common/bus_consumer.h"
#include "common/bus_sequencer.h"
#include "common/bus_server.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/pg.h"
#include "liaison/v1/bus.pb-c.h"

static char tb_schema[64];
static char tb_conninfo[1024];
static const char *tb_admin;

static PGconn *tb_connect(void)
{
    char *error = NULL;
    PGconn *c = pg_connect_blocking(tb_conninfo, &error);
    if (!c) {
        fprintf(stderr, "connect: %s\n", error);
        free(error);
    }
    return c;
}

static int tb_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "sql failed: %s: %s\n", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

static long long tb_scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = atoll(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "sql failed: %s: %s\n", sql, PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

static int tb_apply_file(PGconn *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *sql = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&sql, &len);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, m);
    fclose(f);
    fclose(m);
    int rc = tb_exec(c, sql);
    free(sql);
    return rc;
}

static int tb_name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Create schema bus_test_<name>_<pid> with the bus tables and `extra` SQL;
 * tb_conninfo then selects it. -1 (test skipped) without a server. */
static int tb_setup(const char *name, const char *extra)
{
    tb_admin = getenv("LIAISON_PG_ADMIN_DSN");
    if (!tb_admin || !*tb_admin)
        return -1;
    snprintf(tb_schema, sizeof tb_schema, "bus_test_%s_%d", name, (int)getpid());
    snprintf(tb_conninfo, sizeof tb_conninfo, "%s options='-c search_path=%s'", tb_admin,
             tb_schema);
    char *error = NULL;
    PGconn *c = pg_connect_blocking(tb_admin, &error);
    if (!c) {
        fprintf(stderr, "admin connect: %s\n", error);
        free(error);
        return -1;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; SET search_path = %s", tb_schema,
             tb_schema, tb_schema);
    int rc = tb_exec(c, "SET client_min_messages = warning") || tb_exec(c, sql);
    const char *root = getenv("LIAISON_ROOT") ? getenv("LIAISON_ROOT") : ".";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/deploy/sql/_bus", root);
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, tb_name_cmp);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(list[i]->d_name);
        if (rc == 0 && l > 4 && strcmp(list[i]->d_name + l - 4, ".sql") == 0) {
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
            rc = tb_apply_file(c, path);
        }
        free(list[i]);
    }
    free(list);
    if (n <= 0)
        rc = -1;
    if (rc == 0 && extra)
        rc = tb_exec(c, extra);
    PQfinish(c);
    return rc;
}

static void tb_teardown(void)
{
    if (!tb_admin || getenv("BUS_TEST_KEEP"))
        return;
    char *error = NULL;
    PGconn *c = pg_connect_blocking(tb_admin, &error);
    free(error);
    if (!c)
        return;
    char sql[256];
    snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE",
             tb_schema);
    tb_exec(c, sql);
    PQfinish(c);
}

/* ---- the producer side: loop, sequencer and server on a thread ---------- */

typedef struct {
    void *ctx;
    loop_t *loop;
    bus_sequencer_t *sequencer;
    bus_server_t *server;
    pthread_t thread;
    atomic_bool stop;
    char endpoint[256];
} tb_producer_t;

static int tb_stop_check(loop_t *loop, int timer_id, void *arg)
{
    tb_producer_t *p = arg;
    return atomic_load(&p->stop) ? -1 : 0;
}

static void *tb_producer_run(void *arg)
{
    tb_producer_t *p = arg;
    loop_run(p->loop);
    return NULL;
}

static int tb_producer_start(tb_producer_t *p, void *ctx, const char *stream)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->loop = loop_new();
    p->sequencer = bus_sequencer_new(p->loop, tb_conninfo, stream);
    if (!p->sequencer)
        return -1;
    p->server = bus_server_new(p->loop, ctx, "tcp://127.0.0.1:*", tb_conninfo, p->sequencer);
    if (!p->server)
        return -1;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", bus_server_endpoint(p->server));
    loop_add_timer(p->loop, 10, 0, tb_stop_check, p);
    return pthread_create(&p->thread, NULL, tb_producer_run, p);
}

static void tb_producer_stop(tb_producer_t *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    bus_server_destroy(&p->server);
    bus_sequencer_destroy(&p->sequencer);
    loop_destroy(&p->loop);
}

/* ---- events --------------------------------------------------------------- */

/* positioned: the event takes the stream's next position in the caller's
 * transaction, by moving the head row itself (as intake's registrations
 * do, deploy/sql/intake/009), instead of waiting for the sequencer. */
static int tb_publish_as(PGconn *c, const char *stream, const char *type, const char *payload,
                         char event_id[37], bool positioned)
{
    char id[37];
    bus_uuid4(id);
    if (event_id)
        memcpy(event_id, id, 37);
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.event_id = id;
    env.type = (char *)type;
    env.stream = (char *)stream;
    env.court_id = "test-court";
    env.correlation_id = id;
    env.producer = "test";
    env.schema_version = 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    env.occurred_at_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = strlen(payload);
    char *error = NULL;
    if (!positioned) {
        if (bus_publish(c, &env, &error) != 0) {
            fprintf(stderr, "publish: %s\n", error);
            free(error);
            return -1;
        }
        return 0;
    }
    uint8_t *buf;
    size_t len;
    if (bus_envelope_pack(&env, &buf, &len, &error) != 0) {
        fprintf(stderr, "pack: %s\n", error);
        free(error);
        return -1;
    }
    const char *values[4] = {stream, id, type, (const char *)buf};
    int lengths[4] = {0, 0, 0, (int)len};
    int formats[4] = {0, 0, 0, 1};
    PGresult *res =
        PQexecParams(c,
                     "WITH h AS (UPDATE bus_stream_head SET head = head + 1, updated_at = now() "
                     "WHERE stream = $1 RETURNING head) "
                     "INSERT INTO bus_outbox (stream, seq, sequenced_at, event_id, type, envelope) "
                     "SELECT $1, h.head, now(), $2::uuid, $3, $4 FROM h",
                     4, NULL, values, lengths, formats, 0);
    free(buf);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    bool no_head = ok && atoi(PQcmdTuples(res)) == 0;
    if (!ok)
        fprintf(stderr, "positioned publish: %s\n", PQresultErrorMessage(res));
    PQclear(res);
    /* no head row yet (no sequencer elected): the sequencer positions it */
    if (no_head)
        return tb_publish_as(c, stream, type, payload, event_id, false);
    return ok ? 0 : -1;
}

static int tb_publish(PGconn *c, const char *stream, const char *type, const char *payload,
                      char event_id[37])
{
    return tb_publish_as(c, stream, type, payload, event_id, false);
}

/* The consumers' effect: one row per applied event, in application order
 * (the serial `n`). No unique key, so a duplicate would show, not fail. */
#define TB_EFFECT_SQL                                                                              \
    "CREATE TABLE applied (n bigserial PRIMARY KEY, consumer text NOT NULL, seq bigint NOT NULL, " \
    "event_id text NOT NULL, type text NOT NULL, payload text NOT NULL)"

static bus_apply_t tb_apply_record(PGconn *conn, const Liaison__V1__Envelope *env,
                                   const char *consumer)
{
    char seq[24];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)env->sequence);
    char payload[256];
    size_t l = env->payload.len < sizeof payload - 1 ? env->payload.len : sizeof payload - 1;
    memcpy(payload, env->payload.data, l);
    payload[l] = '\0';
    const char *p[5] = {consumer, seq, env->event_id, env->type, payload};
    PGresult *r = PQexecParams(conn,
                               "INSERT INTO applied (consumer, seq, event_id, type, payload) "
                               "VALUES ($1, $2, $3, $4, $5)",
                               5, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? BUS_APPLY_OK : BUS_APPLY_RETRY;
}

/* Wait until the consumer's position reaches `target` (or timeout). */
static bool tb_wait_position(bus_consumer_t *c, uint64_t target, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        bus_consumer_stats_t s;
        bus_consumer_stats(c, &s);
        if (s.position >= target)
            return true;
        usleep(20000);
    }
    return false;
}

#endif
