/* liaison-intake — the directory and registrations (Art. 13).
 *
 * The skeleton of daemon.c (configuration, logs, clock, loop, signals,
 * /healthz /readyz /metrics, the loop's Postgres connection and its
 * readiness check) plus intake_server: the HTTP API, the worker pool and
 * the "intake" event stream. Redis holds only the deadline daemon's timers
 * (ARCHITECTURE.md §3): this daemon does not depend on it, and keeps
 * working while it is down.
 */
#include "common/daemon.h"
#include "intake/intake_server.h"

int main(int argc, char **argv)
{
    int rc;
    daemon_t *d = daemon_new("intake", argc, argv, &rc);
    if (!d)
        return rc;
    intake_t *intake = NULL;
    if (!daemon_postgres(d) || !(intake = intake_new(d)))
        rc = 1;
    else
        rc = daemon_run(d);
    intake_destroy(&intake);
    daemon_destroy(&d);
    return rc;
}
