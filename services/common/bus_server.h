/* bus_server — the pull server of a stream (ROUTER, long-poll).
 *
 * Lives in the producing daemon, on its loop. A consumer's DEALER sends a
 * PullRequest ("up to N events after P", bus.proto); the server answers at
 * once when the stream's head is past P, or holds the request until the
 * sequencer advances the head or the request's wait runs out (then it
 * answers with no events). Live delivery and catch-up after downtime are the
 * same path: a consumer that is 50,000 events behind simply gets full
 * batches until it is not.
 *
 * Events are read from the outbox by position (the unique (stream, seq)
 * index) on the server's own non-blocking connection, so a slow read never
 * delays the sequencer's rounds or the daemon's own queries.
 *
 * Sockets: ZMQ_MAXMSGSIZE caps requests (64 KiB) before anything is
 * unpacked; heartbeats (ZMQ_HEARTBEAT_IVL/TTL/TIMEOUT) close the pipe of a
 * peer that stopped answering, and ZMQ_ROUTER_MANDATORY makes a reply to a
 * vanished peer fail at once (counted, dropped) instead of queueing;
 * ZMQ_LINGER 0, so closing never blocks the daemon's exit.
 */
#ifndef LIAISON_COMMON_BUS_SERVER_H
#define LIAISON_COMMON_BUS_SERVER_H

#include <stdint.h>

#include "common/bus_sequencer.h"
#include "common/loop.h"

typedef struct bus_server_t bus_server_t;

typedef struct {
    uint64_t requests;      /* well-formed requests received */
    uint64_t bad_requests;  /* refused: oversize, undecodable, wrong stream */
    uint64_t responses;     /* responses sent */
    uint64_t events_sent;   /* events in those responses */
    uint64_t send_failures; /* the peer was gone or not reading */
    uint64_t read_failures; /* outbox reads that failed */
    uint32_t held;          /* requests waiting for new events, now */
    uint64_t head;
} bus_server_stats_t;

/* Bind a ROUTER at `endpoint` (e.g. tcp://127.0.0.1:7501; a port of 0 picks one,
 * see bus_server_endpoint) serving the stream of `sequencer`, reading
 * the outbox through `conninfo`. `zmq_ctx` is the daemon's context. NULL on
 * failure (logged). */
bus_server_t *bus_server_new(loop_t *loop, void *zmq_ctx, const char *endpoint,
                             const char *conninfo, bus_sequencer_t *sequencer);
void bus_server_destroy(bus_server_t **self_p);

/* The endpoint actually bound (with the port chosen for ":0"). Borrowed. */
const char *bus_server_endpoint(bus_server_t *self);
void bus_server_stats(bus_server_t *self, bus_server_stats_t *stats);

#endif
