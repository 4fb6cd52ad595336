/* bus_sequencer — the one sequencer of a stream.
 *
 * Gives committed outbox rows (seq NULL) their positions: in short
 * transactions it takes the unsequenced rows in id order and numbers them
 * head+1, head+2, ... while advancing the stream's head row in the same
 * transaction. A producer may also position its own rows in its own
 * transaction by moving the head row itself (intake's registrations,
 * deploy/sql/intake/009); the head row's lock orders the two. Each round
 * first reads whether anything waits and where the head is (no transaction,
 * nothing written), and runs the numbering transaction only when something
 * waits: REPEATABLE READ, after locking the head table against such
 * producers, so its snapshot sees the head as it is. Hence positions are
 *   - gapless: head and the numbers it covers commit together or not at all;
 *   - given only to committed events: a row of an open transaction is not
 *     visible to the sequencer, and it gets its position in a later round;
 *   - in sequencing order, which is commit order up to one round (a row that
 *     committed late with a small id is numbered after those already given).
 *
 * One sequencer per stream: each instance of the producing daemon runs one,
 * and only the one holding the Postgres advisory lock of (schema, stream),
 * on this object's own session, sequences; the others wait for the lock (a
 * standby reads the head, so its pull server still answers). A session-level
 * lock is released by Postgres when the session dies, so a killed leader is
 * replaced within a second. Should two ever run (a stale leader whose
 * session Postgres has not yet seen die), the sequencing transaction runs
 * REPEATABLE READ and updates the head row, so the second one fails with a
 * serialization error instead of numbering rows twice, and UNIQUE (stream,
 * seq) stands behind that.
 *
 * Runs on the daemon's loop with its own non-blocking connection (pg.h):
 * every step is one statement whose parameters do not depend on a previous
 * result, so nothing here needs a thread.
 *
 * Wake-up: after a round that found rows it runs again at once; when idle
 * it polls with a back-off from 1 ms to idle_max (default 50 ms).
 * bus_sequencer_notify() (from any thread) runs a round now: the daemon
 * calls it after each COMMIT that published, so its own events reach
 * consumers in about a millisecond without polling fast.
 */
#ifndef LIAISON_COMMON_BUS_SEQUENCER_H
#define LIAISON_COMMON_BUS_SEQUENCER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/loop.h"

typedef struct bus_sequencer_t bus_sequencer_t;

/* Called on the loop when the known head advances (leader or standby). */
typedef void(bus_head_fn)(bus_sequencer_t *sequencer, uint64_t head, void *arg);

typedef struct {
    bool leader;        /* holds the stream's lock */
    uint64_t head;      /* last position known */
    uint64_t rounds;    /* sequencing transactions committed */
    uint64_t sequenced; /* events given a position by this object */
    uint64_t failures;  /* rounds that failed (connection, conflict) */
    uint64_t elections; /* times this object became leader */
} bus_sequencer_stats_t;

/* Start sequencing `stream` of the schema that `conninfo`'s search_path
 * selects. Returns at once (the connection and the election happen in the
 * loop). NULL on bad arguments or no memory. */
bus_sequencer_t *bus_sequencer_new(loop_t *loop, const char *conninfo, const char *stream);
void bus_sequencer_destroy(bus_sequencer_t **self_p);

void bus_sequencer_set_head_fn(bus_sequencer_t *self, bus_head_fn *fn, void *arg);

/* Rows were committed: run a round now. Safe from any thread. */
void bus_sequencer_notify(bus_sequencer_t *self);

/* Longest idle poll (ms, 1..1000); rows per round (1..100000). 0 = keep. */
void bus_sequencer_set_tuning(bus_sequencer_t *self, uint32_t idle_max_ms, uint32_t batch);

bool bus_sequencer_leader(bus_sequencer_t *self);
uint64_t bus_sequencer_head(bus_sequencer_t *self);
const char *bus_sequencer_stream(bus_sequencer_t *self);
void bus_sequencer_stats(bus_sequencer_t *self, bus_sequencer_stats_t *stats);

#endif
