/* bus_consumer — see bus_consumer.h for the design. */
#include "common/bus_consumer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/bus.h"
#include "common/log.h"
#include "common/pg.h"
#include "liaison/v1/bus.pb-c.h"

#define REPLAY_CHECK_MS 1000u
#define REASON_MAX      512

struct bus_consumer_t {
    void *ctx;
    void *pipe; /* the owner's end */
    pthread_t thread;
    bool started;
    char *name, *stream, *endpoint, *conninfo;
    bus_apply_fn *apply;
    void *apply_arg;
    bus_committed_fn *committed;
    void *committed_arg;
    uint32_t max_events, max_bytes, wait_ms, request_timeout_ms;
    char pipe_endpoint[64];
    /* written by the actor only, read by bus_consumer_stats */
    atomic_bool connected;
    atomic_uint_fast64_t position, head, applied, parked, batches, retries, timeouts, replayed;
    atomic_int_fast64_t oldest_unapplied_us;
};

/* The actor's own state: touched by its thread only. */
typedef struct {
    bus_consumer_t *c;
    void *pipe;
    void *dealer;
    PGconn *conn;
    uint64_t position;
    uint64_t next_id;
    uint64_t out_id; /* request in flight, 0 = none */
    uint64_t out_after;
    uint64_t out_deadline;
    uint64_t last_replay_check;
    uint32_t backoff_ms;
    bus_arena_t *resp_arena, *ev_arena;
    bool term;
} actor_t;

typedef struct {
    uint64_t seq;
    char reason[REASON_MAX];
} poison_t;

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait up to ms for $TERM on the pipe; true if it came. */
static bool s_pause(actor_t *a, uint32_t ms)
{
    zmq_pollitem_t item = {a->pipe, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, ms) > 0) {
        a->term = true;
        return true;
    }
    return false;
}

static PGresult *s_exec(actor_t *a, const char *sql, int n, const char *const *values,
                        const int *lengths, const int *formats)
{
    PGresult *res = PQexecParams(a->conn, sql, n, NULL, values, lengths, formats, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    log_warn("bus consumer statement failed", "consumer=%s stream=%s error=%s", a->c->name,
             a->c->stream, res ? PQresultErrorMessage(res) : PQerrorMessage(a->conn));
    PQclear(res);
    return NULL;
}

static int s_exec_ok(actor_t *a, const char *sql, int n, const char *const *values)
{
    PGresult *res = s_exec(a, sql, n, values, NULL, NULL);
    PQclear(res);
    return res ? 0 : -1;
}

static void s_rollback(actor_t *a)
{
    PQclear(PQexec(a->conn, "ROLLBACK"));
}

static void s_db_close(actor_t *a)
{
    if (a->conn)
        PQfinish(a->conn);
    a->conn = NULL;
    atomic_store(&a->c->connected, false);
}

static int s_db_open(actor_t *a)
{
    char *error = NULL;
    a->conn = pg_connect_blocking(a->c->conninfo, &error);
    if (!a->conn) {
        log_warn("bus consumer cannot connect", "consumer=%s error=%s", a->c->name, error);
        free(error);
        return -1;
    }
    const char *p[2] = {a->c->name, a->c->stream};
    if (s_exec_ok(a,
                  "INSERT INTO bus_consumer_position (consumer, stream) VALUES ($1, $2) "
                  "ON CONFLICT (consumer, stream) DO NOTHING",
                  2, p) != 0)
        goto fail;
    PGresult *res = s_exec(a,
                           "SELECT position, head_seen FROM bus_consumer_position "
                           "WHERE consumer = $1 AND stream = $2",
                           2, p, NULL, NULL);
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        goto fail;
    }
    a->position = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    atomic_store(&a->c->position, a->position);
    atomic_store(&a->c->connected, true);
    log_info("bus consumer resumes", "consumer=%s stream=%s position=%llu", a->c->name,
             a->c->stream, (unsigned long long)a->position);
    return 0;
fail:
    s_db_close(a);
    return -1;
}

static void s_dealer_close(actor_t *a)
{
    if (a->dealer)
        zmq_close(a->dealer);
    a->dealer = NULL;
    a->out_id = 0;
}

static int s_dealer_open(actor_t *a)
{
    a->dealer = zmq_socket(a->c->ctx, ZMQ_DEALER);
    if (!a->dealer)
        return -1;
    int linger = 0, ivl = 1000, ttl = 3000, timeout = 3000, reconnect = 100, reconnect_max = 1000;
    int64_t maxmsg = BUS_RESPONSE_MAX;
    zmq_setsockopt(a->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(a->dealer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
    zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(a->dealer, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt(a->dealer, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    if (zmq_connect(a->dealer, a->c->endpoint) != 0) {
        log_error("bus consumer cannot connect to the producer", "endpoint=%s error=%s",
                  a->c->endpoint, zmq_strerror(zmq_errno()));
        s_dealer_close(a);
        return -1;
    }
    return 0;
}

static void s_request(actor_t *a, uint64_t after)
{
    Liaison__V1__PullRequest req = LIAISON__V1__PULL_REQUEST__INIT;
    req.protocol_version = BUS_PROTOCOL_VERSION;
    req.request_id = ++a->next_id;
    req.stream = a->c->stream;
    req.consumer = a->c->name;
    req.after = after;
    req.max_events = a->c->max_events;
    req.max_bytes = a->c->max_bytes;
    req.wait_ms = a->c->wait_ms;
    uint8_t buf[1024];
    size_t len = liaison__v1__pull_request__get_packed_size(&req);
    if (len > sizeof buf)
        return;
    len = liaison__v1__pull_request__pack(&req, buf);
    /* DONTWAIT: while the producer is unreachable the message would queue
     * behind nothing useful; the timeout below retries it. */
    if (zmq_send(a->dealer, buf, len, ZMQ_DONTWAIT) < 0) {
        a->out_id = 0;
        return;
    }
    a->out_id = req.request_id;
    a->out_after = after;
    a->out_deadline = s_now_ms() + a->c->wait_ms + a->c->request_timeout_ms;
}

static int s_park(actor_t *a, uint64_t seq, const ProtobufCBinaryData *ev,
                  const Liaison__V1__Envelope *env, const char *reason)
{
    char seqs[24];
    snprintf(seqs, sizeof seqs, "%llu", (unsigned long long)seq);
    const char *values[7] = {a->c->name,
                             a->c->stream,
                             seqs,
                             env && env->event_id ? env->event_id : "",
                             env && env->type ? env->type : "",
                             reason,
                             (const char *)ev->data};
    int lengths[7] = {0, 0, 0, 0, 0, 0, (int)ev->len};
    int formats[7] = {0, 0, 0, 0, 0, 0, 1};
    PGresult *res = s_exec(a,
                           "INSERT INTO bus_dead_letter (consumer, stream, seq, event_id, type, "
                           "reason, envelope) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                           "ON CONFLICT (consumer, stream, seq) DO NOTHING",
                           7, values, lengths, formats);
    PQclear(res);
    if (res)
        log_warn("bus event parked", "consumer=%s stream=%s seq=%llu reason=%s", a->c->name,
                 a->c->stream, (unsigned long long)seq, reason);
    return res ? 0 : -1;
}

static const char *s_find_poison(const poison_t *p, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].seq == seq)
            return p[i].reason;
    return NULL;
}

/* Apply one batch (events after+1 ...) with the position, in one
 * transaction. 0 = committed, 1 = the position had moved (fenced), -1 =
 * failed (rolled back; retry later). */
static int s_apply_batch(actor_t *a, const Liaison__V1__PullResponse *resp)
{
    bus_consumer_t *c = a->c;
    size_t n = resp->n_events;
    poison_t *poison = NULL;
    size_t n_poison = 0;
    int rc = -1;
    const char *p2[2] = {c->name, c->stream};
again:
    if (s_exec_ok(a, "BEGIN", 0, NULL) != 0)
        goto out;
    PGresult *res = s_exec(a,
                           "SELECT position FROM bus_consumer_position "
                           "WHERE consumer = $1 AND stream = $2 FOR UPDATE",
                           2, p2, NULL, NULL);
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        goto fail;
    }
    uint64_t stored = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (stored != a->position) {
        /* Another instance applied past us while we waited for the lock. */
        log_warn("bus consumer fenced: position moved",
                 "consumer=%s stream=%s mine=%llu stored=%llu", c->name, c->stream,
                 (unsigned long long)a->position, (unsigned long long)stored);
        s_rollback(a);
        a->position = stored;
        rc = 1;
        goto out;
    }
    size_t applied = 0, parked = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = resp->after + 1 + i;
        const ProtobufCBinaryData *ev = &resp->events[i];
        char reason[REASON_MAX];
        bus_arena_reset(a->ev_arena);
        Liaison__V1__Envelope *env =
            bus_envelope_unpack(a->ev_arena, ev->data, ev->len, reason, sizeof reason);
        if (env && env->sequence != seq) {
            log_error("bus response out of sequence", "consumer=%s expected=%llu got=%llu", c->name,
                      (unsigned long long)seq, (unsigned long long)env->sequence);
            goto fail;
        }
        if (i == 0 && env)
            atomic_store(&c->oldest_unapplied_us, env->occurred_at_us);
        if (env && strcmp(env->stream, c->stream) != 0) {
            snprintf(reason, sizeof reason, "invalid envelope: stream \"%s\" on stream \"%s\"",
                     env->stream, c->stream);
            env = NULL;
        }
        const char *known = s_find_poison(poison, n_poison, seq);
        if (known || !env) {
            if (s_park(a, seq, ev, env, known ? known : reason) != 0)
                goto fail;
            parked++;
            continue;
        }
        reason[0] = '\0';
        bus_apply_t r = c->apply(a->conn, env, reason, sizeof reason, c->apply_arg);
        if (r == BUS_APPLY_OK) {
            applied++;
            continue;
        }
        s_rollback(a);
        if (r == BUS_APPLY_POISON) {
            /* Its effects may be half written: redo the batch without it. */
            if (!poison && !(poison = calloc(n, sizeof *poison)))
                goto out;
            poison[n_poison].seq = seq;
            snprintf(poison[n_poison].reason, REASON_MAX, "%s",
                     reason[0] ? reason : "refused by the consumer");
            n_poison++;
            goto again;
        }
        goto out; /* RETRY */
    }
    uint64_t position = resp->after + n;
    char pos[24], head[24], na[24], np[24];
    snprintf(pos, sizeof pos, "%llu", (unsigned long long)position);
    snprintf(head, sizeof head, "%llu", (unsigned long long)resp->head);
    snprintf(na, sizeof na, "%zu", applied);
    snprintf(np, sizeof np, "%zu", parked);
    const char *p6[6] = {c->name, c->stream, pos, head, na, np};
    if (s_exec_ok(a,
                  "UPDATE bus_consumer_position SET position = $3, head_seen = $4, "
                  "applied = applied + $5, dead_lettered = dead_lettered + $6, updated_at = now() "
                  "WHERE consumer = $1 AND stream = $2",
                  6, p6) != 0)
        goto fail;
    res = PQexec(a->conn, "COMMIT");
    bool committed =
        PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;
    PQclear(res);
    if (!committed)
        goto out;
    a->position = position;
    atomic_store(&c->position, position);
    atomic_fetch_add(&c->applied, applied);
    atomic_fetch_add(&c->parked, parked);
    atomic_fetch_add(&c->batches, 1);
    if (position >= resp->head)
        atomic_store(&c->oldest_unapplied_us, 0);
    if (c->committed)
        c->committed(position, applied, parked, c->committed_arg);
    rc = 0;
    goto out;
fail:
    s_rollback(a);
out:
    free(poison);
    return rc;
}

/* Re-apply the dead letters an operator asked for. */
static void s_replays(actor_t *a)
{
    bus_consumer_t *c = a->c;
    const char *p2[2] = {c->name, c->stream};
    PGresult *ids = s_exec(a,
                           "SELECT id FROM bus_dead_letter WHERE consumer = $1 AND stream = $2 "
                           "AND status = 'replay' ORDER BY id LIMIT 20",
                           2, p2, NULL, NULL);
    for (int i = 0; ids && i < PQntuples(ids); i++) {
        const char *id[1] = {PQgetvalue(ids, i, 0)};
        char reason[REASON_MAX] = "";
        if (s_exec_ok(a, "BEGIN", 0, NULL) != 0)
            break;
        PGresult *row = PQexecParams(a->conn,
                                     "SELECT envelope FROM bus_dead_letter WHERE id = $1 "
                                     "AND status = 'replay' FOR UPDATE",
                                     1, NULL, id, NULL, NULL, 1);
        if (PQresultStatus(row) != PGRES_TUPLES_OK || PQntuples(row) != 1) {
            PQclear(row);
            s_rollback(a);
            continue;
        }
        bus_arena_reset(a->ev_arena);
        Liaison__V1__Envelope *env =
            bus_envelope_unpack(a->ev_arena, (const uint8_t *)PQgetvalue(row, 0, 0),
                                (size_t)PQgetlength(row, 0, 0), reason, sizeof reason);
        bus_apply_t r =
            env ? c->apply(a->conn, env, reason, sizeof reason, c->apply_arg) : BUS_APPLY_POISON;
        PQclear(row);
        if (r == BUS_APPLY_OK &&
            s_exec_ok(a,
                      "UPDATE bus_dead_letter SET status = 'replayed', replayed_at = now(), "
                      "attempts = attempts + 1 WHERE id = $1",
                      1, id) == 0 &&
            s_exec_ok(a, "COMMIT", 0, NULL) == 0) {
            atomic_fetch_add(&c->replayed, 1);
            log_info("bus dead letter replayed", "consumer=%s id=%s", c->name, id[0]);
            continue;
        }
        s_rollback(a);
        if (r == BUS_APPLY_POISON) {
            const char *p[2] = {id[0], reason[0] ? reason : "refused by the consumer"};
            s_exec_ok(a,
                      "UPDATE bus_dead_letter SET status = 'parked', reason = $2, "
                      "attempts = attempts + 1 WHERE id = $1",
                      2, p);
        }
    }
    PQclear(ids);
}

static void s_on_response(actor_t *a)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, a->dealer, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return;
    }
    bool extra = zmq_msg_more(&msg);
    bus_arena_reset(a->resp_arena);
    Liaison__V1__PullResponse *resp =
        extra || zmq_msg_size(&msg) > BUS_RESPONSE_MAX
            ? NULL
            : liaison__v1__pull_response__unpack(bus_arena_allocator(a->resp_arena),
                                                 zmq_msg_size(&msg), zmq_msg_data(&msg));
    while (zmq_msg_more(&msg)) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        zmq_msg_recv(&msg, a->dealer, 0);
    }
    if (!resp || resp->request_id != a->out_id)
        goto done; /* malformed, or the answer to an abandoned request */
    a->out_id = 0;
    if (resp->status != LIAISON__V1__PULL_STATUS__PULL_STATUS_OK) {
        log_warn("bus pull refused", "consumer=%s stream=%s status=%d detail=%s", a->c->name,
                 a->c->stream, (int)resp->status, resp->detail);
        s_pause(a, 500);
        goto done;
    }
    atomic_store(&a->c->head, resp->head);
    if (resp->after != a->position || resp->n_events == 0)
        goto done;
    /* Ask for the next batch before applying this one. */
    s_request(a, resp->after + resp->n_events);
    int rc = s_apply_batch(a, resp);
    if (rc == 0) {
        a->backoff_ms = 0;
    } else if (rc < 0) {
        atomic_fetch_add(&a->c->retries, 1);
        if (PQstatus(a->conn) != CONNECTION_OK)
            s_db_close(a);
        a->backoff_ms = a->backoff_ms ? (a->backoff_ms * 2 > 2000 ? 2000 : a->backoff_ms * 2) : 50;
        s_pause(a, a->backoff_ms);
    }
done:
    zmq_msg_close(&msg);
}

static void *s_actor(void *arg)
{
    actor_t a = {.c = arg};
    a.pipe = zmq_socket(a.c->ctx, ZMQ_PAIR);
    a.resp_arena = bus_arena_new();
    a.ev_arena = bus_arena_new();
    if (!a.pipe || zmq_connect(a.pipe, a.c->pipe_endpoint) != 0 || !a.resp_arena || !a.ev_arena)
        goto out;
    uint32_t db_backoff = 100;
    while (!a.term) {
        if (!a.conn) {
            if (s_db_open(&a) != 0) {
                s_pause(&a, db_backoff);
                db_backoff = db_backoff * 2 > 2000 ? 2000 : db_backoff * 2;
                continue;
            }
            db_backoff = 100;
            a.out_id = 0; /* the position may differ from what was asked */
        }
        if (!a.dealer && s_dealer_open(&a) != 0) {
            s_pause(&a, 1000);
            continue;
        }
        if (!a.out_id)
            s_request(&a, a.position);
        zmq_pollitem_t items[2] = {{a.pipe, 0, ZMQ_POLLIN, 0}, {a.dealer, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, 2, a.out_id ? 200 : 100);
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            break;
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            s_on_response(&a);
            continue;
        }
        uint64_t now = s_now_ms();
        if (a.out_id && now >= a.out_deadline) {
            /* No answer: the producer may be gone. A fresh socket drops
             * whatever the old pipe held. */
            atomic_fetch_add(&a.c->timeouts, 1);
            s_dealer_close(&a);
        }
        if (a.conn && now - a.last_replay_check >= REPLAY_CHECK_MS) {
            a.last_replay_check = now;
            s_replays(&a);
            if (PQstatus(a.conn) != CONNECTION_OK)
                s_db_close(&a);
        }
    }
out:
    s_dealer_close(&a);
    s_db_close(&a);
    bus_arena_destroy(&a.resp_arena);
    bus_arena_destroy(&a.ev_arena);
    if (a.pipe)
        zmq_close(a.pipe);
    return NULL;
}

bus_consumer_t *bus_consumer_new(void *zmq_ctx, const bus_consumer_config_t *config)
{
    if (!zmq_ctx || !config || !config->name || !*config->name || !config->stream ||
        !*config->stream || !config->endpoint || !config->conninfo || !config->apply)
        return NULL;
    bus_consumer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = zmq_ctx;
    self->name = strdup(config->name);
    self->stream = strdup(config->stream);
    self->endpoint = strdup(config->endpoint);
    self->conninfo = strdup(config->conninfo);
    self->apply = config->apply;
    self->apply_arg = config->apply_arg;
    self->committed = config->committed;
    self->committed_arg = config->committed_arg;
    self->max_events = config->max_events ? config->max_events : 500;
    if (self->max_events > BUS_EVENTS_MAX)
        self->max_events = BUS_EVENTS_MAX;
    self->max_bytes = config->max_bytes ? config->max_bytes : (1u << 20);
    if (self->max_bytes > BUS_RESPONSE_BYTES_MAX)
        self->max_bytes = BUS_RESPONSE_BYTES_MAX;
    self->wait_ms = config->wait_ms ? config->wait_ms : 5000;
    if (self->wait_ms > BUS_WAIT_MAX_MS)
        self->wait_ms = BUS_WAIT_MAX_MS;
    self->request_timeout_ms = config->request_timeout_ms ? config->request_timeout_ms : 5000;
    snprintf(self->pipe_endpoint, sizeof self->pipe_endpoint, "inproc://bus-consumer-%p",
             (void *)self);
    self->pipe = zmq_socket(zmq_ctx, ZMQ_PAIR);
    int linger = 0;
    if (!self->name || !self->stream || !self->endpoint || !self->conninfo || !self->pipe)
        goto fail;
    zmq_setsockopt(self->pipe, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(self->pipe, self->pipe_endpoint) != 0)
        goto fail;
    if (pthread_create(&self->thread, NULL, s_actor, self) != 0)
        goto fail;
    self->started = true;
    return self;
fail:
    bus_consumer_destroy(&self);
    return NULL;
}

void bus_consumer_destroy(bus_consumer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_consumer_t *self = *self_p;
    if (self->started) {
        zmq_send(self->pipe, "$TERM", 5, 0);
        pthread_join(self->thread, NULL);
    }
    if (self->pipe)
        zmq_close(self->pipe);
    free(self->name);
    free(self->stream);
    free(self->endpoint);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

void bus_consumer_stats(bus_consumer_t *self, bus_consumer_stats_t *s)
{
    s->connected = atomic_load(&self->connected);
    s->position = atomic_load(&self->position);
    s->head = atomic_load(&self->head);
    s->applied = atomic_load(&self->applied);
    s->parked = atomic_load(&self->parked);
    s->batches = atomic_load(&self->batches);
    s->retries = atomic_load(&self->retries);
    s->timeouts = atomic_load(&self->timeouts);
    s->replayed = atomic_load(&self->replayed);
    s->oldest_unapplied_us = atomic_load(&self->oldest_unapplied_us);
    if (s->head < s->position)
        s->head = s->position;
}

int bus_dead_letter_request_replay(PGconn *conn, int64_t id, char **error)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *p[1] = {ids};
    PGresult *res = pg_exec_blocking(conn,
                                     "UPDATE bus_dead_letter SET status = 'replay' "
                                     "WHERE id = $1 AND status = 'parked'",
                                     1, p, error);
    if (!res)
        return -1;
    bool one = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!one) {
        *error = strdup("no parked dead letter with that id");
        return -1;
    }
    return 0;
}
