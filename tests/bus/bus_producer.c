/* A producer daemon for the bus's chaos and bench runs.
 *
 *   bus_producer --conninfo DSN --endpoint tcp://127.0.0.1:PORT [--rate N] [--stream S]
 *
 * One loop: the stream's sequencer, its pull server and, with --rate, a
 * steady load of N events a second, each in its own transaction that also
 * records the event in chaos_produced (the producer's "state change"), so
 * afterwards the database says exactly which events committed. SIGTERM or
 * SIGINT stops it cleanly; the chaos run mostly kills it with SIGKILL. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/bus.h"
#include "common/bus_sequencer.h"
#include "common/bus_server.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/pg.h"

typedef struct {
    loop_t *loop;
    pg_t *pg;
    bus_sequencer_t *sequencer;
    const char *stream;
    char run[17];
    uint64_t counter;
    double rate;
    uint64_t started_ms;
    uint64_t generated;
    uint64_t committed;
} producer_t;

static void s_on_commit(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    producer_t *p = arg;
    if (!error && strcmp(PQcmdStatus((PGresult *)res), "COMMIT") == 0) {
        p->committed++;
        bus_sequencer_notify(p->sequencer);
    }
}

static void s_ignore(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
}

static int s_publish_one(producer_t *p)
{
    char id[37], payload[64];
    bus_uuid4(id);
    snprintf(payload, sizeof payload, "%s-%llu", p->run, (unsigned long long)++p->counter);
    Liaison__V1__Envelope env = LIAISON__V1__ENVELOPE__INIT;
    env.event_id = id;
    env.type = "liaison.test.Chaos";
    env.stream = (char *)p->stream;
    env.court_id = "chaos";
    env.correlation_id = id;
    env.producer = "bus_producer";
    env.schema_version = 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    env.occurred_at_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = strlen(payload);
    const char *params[2] = {id, payload};
    /* One transaction, queued whole in this turn of the loop (pg.h). */
    if (pg_query(p->pg, "BEGIN", 0, NULL, s_ignore, NULL) != 0)
        return -1;
    pg_query(p->pg, "INSERT INTO chaos_produced (event_id, payload) VALUES ($1, $2)", 2, params,
             s_ignore, NULL);
    bus_publish_query(p->pg, &env, s_ignore, NULL);
    pg_query(p->pg, "COMMIT", 0, NULL, s_on_commit, p);
    return 0;
}

static int s_on_tick(loop_t *loop, int timer_id, void *arg)
{
    producer_t *p = arg;
    if (!pg_ready(p->pg))
        return 0;
    uint64_t due = (uint64_t)((double)(loop_now_ms() - p->started_ms) * p->rate / 1000.0);
    while (p->generated < due && pg_queued(p->pg) < 400) {
        if (s_publish_one(p) != 0)
            break;
        p->generated++;
    }
    if (p->generated < due && pg_queued(p->pg) >= 400)
        p->generated = due; /* behind: do not build a backlog of load */
    return 0;
}

static int s_on_signal(loop_t *loop, int signo, void *arg)
{
    return -1;
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL, *endpoint = NULL, *stream = "chaos";
    double rate = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--conninfo") == 0)
            conninfo = argv[i + 1];
        else if (strcmp(argv[i], "--endpoint") == 0)
            endpoint = argv[i + 1];
        else if (strcmp(argv[i], "--rate") == 0)
            rate = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--stream") == 0)
            stream = argv[i + 1];
    }
    if (!conninfo || !endpoint) {
        fprintf(stderr,
                "usage: bus_producer --conninfo DSN --endpoint EP [--rate N] [--stream S]\n");
        return 2;
    }
    log_init("bus_producer", LOG_LEVEL_WARN);
    void *ctx = zmq_ctx_new();
    producer_t p = {.stream = stream, .rate = rate};
    p.loop = loop_new();
    loop_handle_signals(p.loop, s_on_signal, &p);
    p.sequencer = bus_sequencer_new(p.loop, conninfo, stream);
    bus_server_t *server =
        p.sequencer ? bus_server_new(p.loop, ctx, endpoint, conninfo, p.sequencer) : NULL;
    if (!server) {
        fprintf(stderr, "bus_producer: cannot start\n");
        return 1;
    }
    char id[37];
    bus_uuid4(id);
    memcpy(p.run, id, 8);
    memcpy(p.run + 8, id + 9, 4);
    p.run[12] = '\0';
    if (rate > 0) {
        p.pg = pg_new(p.loop, conninfo, "load");
        p.started_ms = loop_now_ms();
        loop_add_timer(p.loop, 5, 0, s_on_tick, &p);
    }
    loop_run(p.loop);
    pg_destroy(&p.pg);
    bus_server_destroy(&server);
    bus_sequencer_destroy(&p.sequencer);
    loop_destroy(&p.loop);
    zmq_ctx_term(ctx);
    return 0;
}
