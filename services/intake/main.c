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
    if (!daemon_postgres(d) || !daemon_redis(d))
        rc = 1;
    else
        rc = daemon_run(d);
    daemon_destroy(&d);
    return rc;
}
