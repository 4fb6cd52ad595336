/* intake_server — liaison-intake's HTTP routes, worker pool and event
 * stream, built on the daemon skeleton (common/daemon.h). */
#ifndef LIAISON_INTAKE_INTAKE_SERVER_H
#define LIAISON_INTAKE_INTAKE_SERVER_H

#include "common/daemon.h"

typedef struct intake_t intake_t;

/* Routes, workers, sequencer and pull server on the daemon's loop. NULL on
 * failure (logged). */
intake_t *intake_new(daemon_t *daemon);
/* Answers waiting requests with 503, stops the workers and the stream. */
void intake_destroy(intake_t **self_p);

#endif
