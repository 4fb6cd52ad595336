/* liaison-routing — each item's workflow: approval, transfer, handling,
 * replies, evaluation (Arts. 14–21).
 *
 * The skeleton of daemon.c (configuration, logs, clock, loop, signals,
 * /healthz /readyz /metrics, the loop's Postgres connection and its
 * readiness check) plus routing_server: the HTTP API, the worker pool, the
 * "routing" event stream and the consumer of intake's stream. Redis holds
 * only the deadline daemon's timers (ARCHITECTURE.md §3): this daemon does
 * not depend on it, and keeps working while it is down.
 */
#include "common/daemon.h"
#include "routing/routing_server.h"

int main(int argc, char **argv)
{
    int rc;
    daemon_t *d = daemon_new("routing", argc, argv, &rc);
    if (!d)
        return rc;
    routing_t *routing = NULL;
    if (!daemon_postgres(d) || !(routing = routing_new(d)))
        rc = 1;
    else
        rc = daemon_run(d);
    routing_destroy(&routing);
    daemon_destroy(&d);
    return rc;
}
