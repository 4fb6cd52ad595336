/* bus_consumer — applies a producer's stream, exactly once, in order.
 *
 * The consumer pulls batches from the producer's bus_server over a DEALER
 * and applies each batch in ONE transaction of its own database together
 * with its new position (bus_consumer_position), so a consumer killed at
 * any instant resumes from its last committed position: nothing is applied
 * twice or skipped. The transaction starts by locking its position row FOR
 * UPDATE and checking it is still where this instance left it, which
 * fences a second instance of the same consumer (it waits on the lock,
 * sees the moved position and starts over from there).
 *
 * Poison events — undecodable, invalid envelope, or refused by `apply`
 * (unknown type, failed validation) — are parked in bus_dead_letter with
 * the reason, counted, and skipped, in the same transaction that moves the
 * position past them. Because `apply` may have written half its effects
 * before refusing, a refusal rolls the batch back and re-applies it with
 * that event parked; the common path pays nothing for this (no savepoint
 * per event). An operator asks for a replay of one dead letter (status
 * 'replay', liaisonctl bus replay); the consumer re-applies it through the
 * same `apply` between batches.
 *
 * Threading: the work is a chain of blocking steps (pull, then a
 * transaction whose statements depend on the events), so it runs on its own
 * thread with its own connection and its own DEALER — the CZMQ actor
 * pattern: the owner talks to it only through an inproc PAIR pipe
 * ($TERM), and `apply` runs on that thread. One request is kept in flight
 * while a batch is applied (the next pull is sent before the transaction),
 * so network and database work overlap. The counters read by
 * bus_consumer_stats are single-writer atomics.
 *
 * Dead peers: ZeroMQ heartbeats on the DEALER, plus a request timeout
 * (wait + request_timeout): no answer in time and the DEALER is closed and
 * opened again (a late answer to the old request is dropped by its id).
 */
#ifndef LIAISON_COMMON_BUS_CONSUMER_H
#define LIAISON_COMMON_BUS_CONSUMER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison/v1/envelope.pb-c.h"

typedef struct bus_consumer_t bus_consumer_t;

typedef enum {
    BUS_APPLY_OK = 0,     /* effects written in conn's transaction */
    BUS_APPLY_POISON = 1, /* never applicable: park it (reason filled) */
    BUS_APPLY_RETRY = 2,  /* a transient failure: roll back, retry the batch later */
} bus_apply_t;

/* Apply one event inside the open transaction on `conn` (do not COMMIT or
 * ROLLBACK). env is valid until the call returns. On POISON, write why into
 * reason (reason_size bytes). Runs on the consumer's thread. */
typedef bus_apply_t(bus_apply_fn)(PGconn *conn, const Liaison__V1__Envelope *env, char *reason,
                                  size_t reason_size, void *arg);

/* After each committed batch: the new position and the number of events
 * applied and parked in it. On the consumer's thread. */
typedef void(bus_committed_fn)(uint64_t position, size_t applied, size_t parked, void *arg);

typedef struct {
    const char *name;     /* this consumer ("deadline") */
    const char *stream;   /* the producer's stream ("routing") */
    const char *endpoint; /* the producer's bus_server ("tcp://127.0.0.1:7502") */
    const char *conninfo; /* the consumer's own database (its search_path) */
    bus_apply_fn *apply;
    void *apply_arg;
    bus_committed_fn *committed; /* optional */
    void *committed_arg;
    uint32_t max_events;         /* per batch (default 500) */
    uint32_t max_bytes;          /* per batch (default 1 MiB) */
    uint32_t wait_ms;            /* long-poll (default 5000) */
    uint32_t request_timeout_ms; /* beyond wait_ms (default 5000) */
} bus_consumer_config_t;

typedef struct {
    bool connected;              /* database open (the socket reconnects by itself) */
    uint64_t position;           /* last committed position */
    uint64_t head;               /* producer's head as last seen */
    uint64_t applied;            /* events applied by this object */
    uint64_t parked;             /* events parked as dead letters */
    uint64_t batches;            /* transactions committed */
    uint64_t retries;            /* batches rolled back and retried */
    uint64_t timeouts;           /* requests abandoned for lack of an answer */
    uint64_t replayed;           /* dead letters re-applied on request */
    int64_t oldest_unapplied_us; /* occurred_at of the first event past position, 0 = none */
} bus_consumer_stats_t;

/* Start the consumer's thread. `zmq_ctx` is the daemon's context; the
 * configuration's strings are copied. NULL on bad arguments or failure. */
bus_consumer_t *bus_consumer_new(void *zmq_ctx, const bus_consumer_config_t *config);
/* Stop the thread (an open transaction is rolled back) and free. */
void bus_consumer_destroy(bus_consumer_t **self_p);
void bus_consumer_stats(bus_consumer_t *self, bus_consumer_stats_t *stats);

/* Ask for one dead letter to be re-applied (what `liaisonctl bus replay`
 * does): on a blocking connection to the consumer's schema. 0 if it was
 * parked and is now queued for replay, -1 otherwise (*error set). */
int bus_dead_letter_request_replay(PGconn *conn, int64_t id, char **error);

#endif
