/* liaison-intake — the directory and registrations.
 *
 * The skeleton of daemon.c: configuration, logs, clock, loop, signals,
 * Postgres and Redis with their readiness checks, /healthz /readyz
 * /metrics. The daemon's own work is added here as it is written.
 */
#include "common/daemon.h"

int main(int argc, char **argv)
{
    int rc;
    daemon_t *d = daemon_new("intake", argc, argv, &rc);
    if (!d)
        return rc;
    /* Redis holds only the deadline daemon's timers (ARCHITECTURE.md §3): this
     * daemon does not depend on it, and keeps working while it is down. */
    if (!daemon_postgres(d))
        rc = 1;
    else
        rc = daemon_run(d);
    daemon_destroy(&d);
    return rc;
}
