/* routing_server — liaison-routing's HTTP routes, worker pool, its own
 * event stream and its consumer of intake's stream, on the daemon's loop. */
#ifndef LIAISON_ROUTING_ROUTING_SERVER_H
#define LIAISON_ROUTING_ROUTING_SERVER_H

#include "common/daemon.h"

typedef struct routing_t routing_t;

/* NULL on failure (logged). */
routing_t *routing_new(daemon_t *daemon);
/* Answers waiting requests with 503 and stops the workers. */
void routing_destroy(routing_t **self_p);

#endif
