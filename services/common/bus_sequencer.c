/* bus_sequencer — see bus_sequencer.h for the design. */
#include "common/bus_sequencer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pg.h"

#include <stdio.h>
#include <zmq.h>
#define ZMQ_POLLIN_BITS ZMQ_POLLIN

struct bus_sequencer_t {
    loop_t *loop;
    pg_t *pg;
    char *stream;
    int efd;      /* bus_sequencer_notify writes here, from any thread */
    int timer;    /* the next round, 0 = none scheduled */
    int inflight; /* queries of the current step still unanswered */
    bool again;   /* notified while a step ran: run again at once */
    bool destroying;
    bool leader;
    uint64_t lock_connects; /* pg's connection count when the lock was taken */
    uint64_t head;
    /* the round in flight */
    bool round_ok;
    uint64_t round_head, round_count;
    uint32_t idle_ms, idle_max_ms, batch;
    bus_head_fn *fn;
    void *fn_arg;
    bus_sequencer_stats_t stats;
};

/* Lock key: the pair (hash of a fixed name, hash of schema/stream), so two
 * services sequencing a stream of the same name in their own schemas do not
 * exclude each other. */
static const char s_lock_sql[] = "SELECT pg_try_advisory_lock(hashtext('liaison.bus.sequencer'), "
                                 "hashtext(current_schema() || '/' || $1))";
static const char s_head_sql[] = "SELECT head FROM bus_stream_head WHERE stream = $1";
static const char s_ensure_sql[] =
    "INSERT INTO bus_stream_head (stream) VALUES ($1) ON CONFLICT (stream) DO NOTHING";
/* Is there anything to position? And where is the head? One read, no
 * transaction of its own: most rounds stop here (after each COMMIT of the
 * producer, whose own rows may already carry their positions, see
 * deploy/sql/intake/009). */
static const char s_peek_sql[] =
    "SELECT EXISTS (SELECT 1 FROM bus_outbox WHERE stream = $1 AND seq IS NULL), "
    "(SELECT head FROM bus_stream_head WHERE stream = $1)";
/* Before the round, in its REPEATABLE READ transaction and before its
 * snapshot: no producer positioning its own rows (they update the head row)
 * is in flight or can start, and a second sequencer waits here too. So the
 * snapshot sees the head as it is, and the round cannot fail on it. */
static const char s_fence_sql[] = "LOCK TABLE bus_stream_head IN SHARE ROW EXCLUSIVE MODE";
/* One round. The head row is locked first; the candidates are the committed
 * rows without a position, oldest id first, at most $2; each gets head + its
 * rank; the head moves by the number numbered. All in one statement, in a
 * REPEATABLE READ transaction (see the header for why). */
static const char s_round_sql[] =
    "WITH h AS (SELECT head FROM bus_stream_head WHERE stream = $1 FOR UPDATE), "
    "c AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM "
    "      (SELECT id FROM bus_outbox WHERE stream = $1 AND seq IS NULL ORDER BY id LIMIT $2) s), "
    "u AS (UPDATE bus_outbox o SET seq = h.head + c.rn, sequenced_at = now() "
    "      FROM c, h WHERE o.id = c.id RETURNING 1), "
    "n AS (SELECT count(*) AS k FROM u) "
    "UPDATE bus_stream_head SET head = head + n.k, updated_at = CASE WHEN n.k > 0 THEN now() "
    "ELSE updated_at END FROM n WHERE stream = $1 RETURNING head, n.k";

static void s_step(bus_sequencer_t *self);

static int s_on_timer(loop_t *loop, int timer_id, void *arg)
{
    bus_sequencer_t *self = arg;
    self->timer = 0;
    s_step(self);
    return 0;
}

static void s_schedule(bus_sequencer_t *self, uint64_t ms)
{
    if (self->destroying)
        return;
    if (self->timer > 0)
        loop_cancel_timer(self->loop, self->timer);
    self->timer = loop_add_timer(self->loop, ms, 1, s_on_timer, self);
    if (self->timer < 0)
        self->timer = 0;
}

static int s_on_notify(loop_t *loop, int fd, short revents, void *arg)
{
    bus_sequencer_t *self = arg;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0) {
        /* EAGAIN: someone else read it; nothing to do */
    }
    self->idle_ms = 1;
    if (self->inflight > 0)
        self->again = true;
    else
        s_schedule(self, 0);
    return 0;
}

static void s_set_head(bus_sequencer_t *self, uint64_t head)
{
    if (head > self->head) {
        self->head = head;
        self->stats.head = head;
        if (self->fn)
            self->fn(self, head, self->fn_arg);
    }
}

static uint64_t s_connects(bus_sequencer_t *self)
{
    pg_stats_t st;
    pg_stats(self->pg, &st);
    return st.connects;
}

/* The last answer of a step decides when the next one runs. */
static void s_step_done(bus_sequencer_t *self, bool was_round)
{
    if (self->destroying || --self->inflight > 0)
        return;
    if (!was_round) {
        s_schedule(self, self->leader ? 0 : 250);
        return;
    }
    if (!self->round_ok) {
        self->stats.failures++;
        s_schedule(self, 100);
        return;
    }
    self->stats.rounds++;
    self->stats.sequenced += self->round_count;
    s_set_head(self, self->round_head);
    if (self->round_count >= self->batch || self->again) {
        self->idle_ms = 1;
        s_schedule(self, 0);
    } else if (self->round_count > 0) {
        self->idle_ms = 1;
        s_schedule(self, 1);
    } else {
        self->idle_ms =
            self->idle_ms * 2 > self->idle_max_ms ? self->idle_max_ms : self->idle_ms * 2;
        s_schedule(self, self->idle_ms);
    }
    self->again = false;
}

static void s_on_ignore_step(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    s_step_done(arg, false);
}

static int s_queue(bus_sequencer_t *self, const char *sql, int n, const char *const *params,
                   pg_result_fn *fn);

static void s_on_lock(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    bus_sequencer_t *self = arg;
    if (!error && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0 &&
        !self->destroying) {
        self->leader = true;
        self->lock_connects = s_connects(self);
        self->stats.leader = true;
        self->stats.elections++;
        self->idle_ms = 1;
        const char *params[1] = {self->stream};
        s_queue(self, s_ensure_sql, 1, params, s_on_ignore_step);
        log_info("bus sequencer elected", "stream=%s head=%llu", self->stream,
                 (unsigned long long)self->head);
    }
    s_step_done(self, false);
}

static void s_on_head(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    bus_sequencer_t *self = arg;
    if (!error && PQntuples(res) == 1 && !self->destroying)
        s_set_head(self, strtoull(PQgetvalue(res, 0, 0), NULL, 10));
    s_step_done(self, false);
}

static void s_on_ignore(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    bus_sequencer_t *self = arg;
    s_step_done(self, true);
}

static void s_on_round(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    bus_sequencer_t *self = arg;
    if (error) {
        /* 40001 = another sequencer got there first (see the header). */
        if (res)
            log_warn("bus sequencer round failed", "stream=%s sqlstate=%s error=%s", self->stream,
                     PQresultErrorField(res, PG_DIAG_SQLSTATE), error);
    } else if (PQntuples(res) == 1) {
        self->round_head = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        self->round_count = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        self->round_ok = true; /* provisionally: the COMMIT decides */
    }
    s_step_done(self, true);
}

static void s_on_commit(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    bus_sequencer_t *self = arg;
    if (error || strcmp(PQcmdStatus((PGresult *)res), "COMMIT") != 0)
        self->round_ok = false;
    s_step_done(self, true);
}

static void s_on_peek(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    bus_sequencer_t *self = arg;
    if (!error && PQntuples(res) == 1 && !PQgetisnull(res, 0, 1) && !self->destroying) {
        self->round_head = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
            self->round_ok = true; /* nothing to position */
        } else {
            char batch[16];
            snprintf(batch, sizeof batch, "%u", self->batch);
            const char *params[2] = {self->stream, batch};
            if (s_queue(self, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, s_on_ignore) == 0) {
                s_queue(self, s_fence_sql, 0, NULL, s_on_ignore);
                s_queue(self, s_round_sql, 2, params, s_on_round);
                s_queue(self, "COMMIT", 0, NULL, s_on_commit);
            }
        }
    }
    s_step_done(self, true);
}

static int s_queue(bus_sequencer_t *self, const char *sql, int n, const char *const *params,
                   pg_result_fn *fn)
{
    /* the round runs after every commit of the producer: planned once per
     * connection (its CTEs cost more to plan than to run) */
    const char *stmt = sql == s_round_sql  ? "liaison_bus_round"
                       : sql == s_peek_sql ? "liaison_bus_peek"
                                           : NULL;
    if (pg_query_prepared(self->pg, stmt, sql, n, params, fn, self) != 0)
        return -1;
    self->inflight++;
    return 0;
}

static void s_step(bus_sequencer_t *self)
{
    if (self->destroying || self->inflight > 0)
        return;
    if (!pg_ready(self->pg)) {
        if (self->leader)
            log_warn("bus sequencer lost its connection", "stream=%s", self->stream);
        self->leader = false;
        self->stats.leader = false;
        s_schedule(self, 100);
        return;
    }
    /* A new session does not hold the old session's lock. */
    if (self->leader && s_connects(self) != self->lock_connects) {
        self->leader = false;
        self->stats.leader = false;
    }
    const char *params[2] = {self->stream, NULL};
    self->inflight = 1; /* guard: callbacks of refused queries never come */
    if (!self->leader) {
        s_queue(self, s_lock_sql, 1, params, s_on_lock);
        s_queue(self, s_head_sql, 1, params, s_on_head);
        s_step_done(self, false);
        return;
    }
    self->round_ok = false;
    self->round_count = 0;
    s_queue(self, s_peek_sql, 1, params, s_on_peek);
    s_step_done(self, true);
}

bus_sequencer_t *bus_sequencer_new(loop_t *loop, const char *conninfo, const char *stream)
{
    if (!loop || !conninfo || !stream || !*stream)
        return NULL;
    bus_sequencer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->efd = -1;
    self->idle_ms = 1;
    self->idle_max_ms = 50;
    self->batch = 5000;
    self->stream = strdup(stream);
    self->pg = pg_new(loop, conninfo, "bus-sequencer");
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->stream || !self->pg || self->efd < 0 ||
        loop_add_fd(loop, self->efd, ZMQ_POLLIN_BITS, s_on_notify, self) != 0) {
        bus_sequencer_destroy(&self);
        return NULL;
    }
    s_schedule(self, 0);
    return self;
}

void bus_sequencer_destroy(bus_sequencer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_sequencer_t *self = *self_p;
    self->destroying = true;
    pg_destroy(&self->pg); /* answers what is queued; callbacks see destroying */
    if (self->timer > 0)
        loop_cancel_timer(self->loop, self->timer);
    if (self->efd >= 0) {
        loop_remove_fd(self->loop, self->efd);
        close(self->efd);
    }
    free(self->stream);
    free(self);
    *self_p = NULL;
}

void bus_sequencer_set_head_fn(bus_sequencer_t *self, bus_head_fn *fn, void *arg)
{
    self->fn = fn;
    self->fn_arg = arg;
}

void bus_sequencer_notify(bus_sequencer_t *self)
{
    uint64_t one = 1;
    if (write(self->efd, &one, sizeof one) < 0) {
        /* the counter is saturated: a wake-up is pending anyway */
    }
}

void bus_sequencer_set_tuning(bus_sequencer_t *self, uint32_t idle_max_ms, uint32_t batch)
{
    if (idle_max_ms >= 1 && idle_max_ms <= 1000)
        self->idle_max_ms = idle_max_ms;
    if (batch >= 1 && batch <= 100000)
        self->batch = batch;
}

bool bus_sequencer_leader(bus_sequencer_t *self)
{
    return self->leader;
}

uint64_t bus_sequencer_head(bus_sequencer_t *self)
{
    return self->head;
}

const char *bus_sequencer_stream(bus_sequencer_t *self)
{
    return self->stream;
}

void bus_sequencer_stats(bus_sequencer_t *self, bus_sequencer_stats_t *stats)
{
    *stats = self->stats;
    stats->leader = self->leader;
    stats->head = self->head;
}
