/* deadline_http — the HTTP views of the deadline daemon (see deadline_http.c). */
#ifndef LIAISON_DEADLINE_DEADLINE_HTTP_H
#define LIAISON_DEADLINE_DEADLINE_HTTP_H

#include "common/http.h"
#include "common/pg.h"
#include "deadline/deadline.h"

typedef struct deadline_http deadline_http_t;

/* Registers the routes on server; pg is the loop's connection (borrowed). */
deadline_http_t *deadline_http_new(http_server_t *server, pg_t *pg, deadline_ctx_t *ctx);
void deadline_http_destroy(deadline_http_t **self_p);

#endif
