/* bus — durable, ordered event streams (ARCHITECTURE.md §2).
 *
 * The pieces, one module each:
 *
 *   bus.h            this file: publishing into the outbox, envelope packing
 *                    and checked unpacking, shared limits;
 *   bus_sequencer.h  the one sequencer of a stream (Postgres advisory lock),
 *                    giving committed outbox rows their gapless positions;
 *   bus_server.h     the pull server (ROUTER, long-poll) in the producer;
 *   bus_consumer.h   the consumer (DEALER on a worker thread), applying each
 *                    batch with its position in one transaction, parking
 *                    poison events in its dead-letter table.
 *
 * Tables: deploy/sql/_bus (unqualified names, created in every service's
 * schema; a daemon's connection finds its own through search_path).
 *
 * Publishing, from the producer's side: the state change and the event go
 * in ONE transaction on the daemon's connection, so nothing uncommitted is
 * ever visible and nothing committed is ever lost. On the loop:
 *
 *     pg_query(pg, "BEGIN", ...);
 *     pg_query(pg, "UPDATE item SET ...", ...);
 *     bus_publish_query(pg, &envelope, on_result, arg);
 *     pg_query(pg, "COMMIT", ..., on_commit, arg);   // all in one handler
 *     ... in on_commit, when PQcmdStatus is "COMMIT": bus_sequencer_notify(seq);
 *
 * or on a worker thread with a blocking connection (inside its BEGIN/COMMIT):
 *
 *     bus_publish(conn, &envelope, &error);
 *
 * The event gets no position here: its row waits with seq NULL until the
 * sequencer, after commit, gives it the next one.
 */
#ifndef LIAISON_COMMON_BUS_H
#define LIAISON_COMMON_BUS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pg.h"
#include "liaison/v1/envelope.pb-c.h"

/* Caps on what crosses a socket, checked before anything is unpacked. */
#define BUS_ENVELOPE_MAX       (1u << 20)  /* one packed envelope */
#define BUS_REQUEST_MAX        (64u << 10) /* one PullRequest */
#define BUS_RESPONSE_BYTES_MAX (4u << 20)  /* envelopes in one PullResponse */
#define BUS_EVENTS_MAX         2000u       /* events in one PullResponse */
#define BUS_WAIT_MAX_MS        30000u      /* longest long-poll */
/* A PullResponse is at most its envelopes plus one envelope of slack (the
 * server always sends at least one) plus framing. */
#define BUS_RESPONSE_MAX (BUS_RESPONSE_BYTES_MAX + BUS_ENVELOPE_MAX + (64u << 10))

#define BUS_ENVELOPE_VERSION 1u
#define BUS_PROTOCOL_VERSION 1u

/* Pack an event for the outbox: checks event_id (a UUID), type and stream
 * (non-empty), and packs it with sequence 0, which the pull server fills in.
 * *out is the caller's to free. 0, or -1 with the reason in *error (the
 * caller's to free). */
int bus_envelope_pack(const Liaison__V1__Envelope *env, uint8_t **out, size_t *len, char **error);

/* Insert the event into the outbox of the connection's schema, inside the
 * caller's open transaction (blocking connection; never on the loop). */
int bus_publish(PGconn *conn, const Liaison__V1__Envelope *env, char **error);

/* The same on the loop's connection: queue the INSERT after the caller's
 * BEGIN and state change, before its COMMIT, in the same turn of the loop.
 * 0 if queued (fn is called once, see pg_query), -1 if refused (the event
 * is invalid or pg refused it; fn not called). */
int bus_publish_query(pg_t *pg, const Liaison__V1__Envelope *env, pg_result_fn *fn, void *arg);

/* A random (version 4) UUID in canonical text form, into out[37]. */
void bus_uuid4(char out[37]);
/* A time-ordered (version 7, RFC 9562) UUID: 48 bits of Unix milliseconds
 * from the wall clock, then 74 random bits. The ids of rows that are only
 * ever appended (events, items, deadlines, notices) sort by creation, so
 * their unique indexes grow at the right edge instead of touching a random
 * leaf of an ever larger index on every insert. The wall clock, not the
 * test clock: an id orders rows, it never says when something happened. */
void bus_uuid7(char out[37]);
bool bus_uuid_valid(const char *s);

/* Decoding outside input: an arena for one message's unpacked parts
 * (STYLE.md 5). Everything unpacked with bus_arena_allocator() lives until
 * bus_arena_reset(), which frees it all at once. */
typedef struct bus_arena_t bus_arena_t;
bus_arena_t *bus_arena_new(void);
void bus_arena_reset(bus_arena_t *self);
void bus_arena_destroy(bus_arena_t **self_p);
ProtobufCAllocator *bus_arena_allocator(bus_arena_t *self);

/* Unpack one envelope from the stream (size capped, into the arena) and
 * check what the schema cannot say: a UUID event_id, a non-empty type and
 * stream, a sequence > 0. NULL with the reason in reason[] otherwise. */
Liaison__V1__Envelope *bus_envelope_unpack(bus_arena_t *arena, const uint8_t *data, size_t len,
                                           char *reason, size_t reason_size);

/* Append the sequence field (number 5, varint) to a packed envelope. A
 * protobuf parser keeps the last value of a scalar field, and the outbox
 * holds the envelope packed with sequence 0 (not encoded at all in proto3),
 * so `packed || field 5` is exactly the envelope with its position, without
 * unpacking and repacking it. Writes at most 11 bytes at out; returns the
 * number written. */
size_t bus_sequence_suffix(uint64_t sequence, uint8_t out[11]);

#endif
