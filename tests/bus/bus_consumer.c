/* A consumer daemon for the bus's chaos run.
 *
 *   bus_consumer --conninfo DSN --endpoint tcp://127.0.0.1:PORT [--stream S] [--name N]
 *
 * Applies the stream into chaos_applied (one row per applied event, no
 * unique key, so a duplicate would show) through bus_consumer, until
 * SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/bus_consumer.h"
#include "common/log.h"

static bus_apply_t s_apply(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                           size_t reason_size, void *arg)
{
    char seq[24], payload[128];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)env->sequence);
    size_t l = env->payload.len < sizeof payload - 1 ? env->payload.len : sizeof payload - 1;
    memcpy(payload, env->payload.data, l);
    payload[l] = '\0';
    const char *p[3] = {seq, env->event_id, payload};
    PGresult *r = PQexecParams(conn,
                               "INSERT INTO chaos_applied (seq, event_id, payload) "
                               "VALUES ($1, $2, $3)",
                               3, NULL, p, NULL, NULL, 0);
    bus_apply_t rc = PQresultStatus(r) == PGRES_COMMAND_OK ? BUS_APPLY_OK : BUS_APPLY_RETRY;
    PQclear(r);
    return rc;
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL, *endpoint = NULL, *stream = "chaos", *name = "chaos";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--conninfo") == 0)
            conninfo = argv[i + 1];
        else if (strcmp(argv[i], "--endpoint") == 0)
            endpoint = argv[i + 1];
        else if (strcmp(argv[i], "--stream") == 0)
            stream = argv[i + 1];
        else if (strcmp(argv[i], "--name") == 0)
            name = argv[i + 1];
    }
    if (!conninfo || !endpoint) {
        fprintf(stderr,
                "usage: bus_consumer --conninfo DSN --endpoint EP [--stream S] [--name N]\n");
        return 2;
    }
    log_init("bus_consumer", LOG_LEVEL_WARN);
    /* Signals are waited for, never handled in signal context; blocked
     * before the consumer's thread starts so it inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    void *ctx = zmq_ctx_new();
    bus_consumer_config_t cfg = {.name = name,
                                 .stream = stream,
                                 .endpoint = endpoint,
                                 .conninfo = conninfo,
                                 .apply = s_apply,
                                 .max_events = 500,
                                 .wait_ms = 2000,
                                 .request_timeout_ms = 3000};
    bus_consumer_t *consumer = bus_consumer_new(ctx, &cfg);
    if (!consumer) {
        fprintf(stderr, "bus_consumer: cannot start\n");
        return 1;
    }
    int sig;
    sigwait(&set, &sig);
    bus_consumer_destroy(&consumer);
    zmq_ctx_term(ctx);
    return 0;
}
