/* bus_server — see bus_server.h. */
#include "common/bus_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/bus.h"
#include "common/log.h"
#include "common/pg.h"
#include "liaison/v1/bus.pb-c.h"

#define HELD_MAX       4096u
#define EXPIRE_TICK_MS 50u

/* One request, from receipt to its answer. */
typedef struct {
    uint8_t ident[256];
    size_t ident_len;
    uint64_t request_id;
    uint64_t after;
    uint32_t max_events;
    uint32_t max_bytes;
    uint64_t deadline_ms; /* while held */
    struct bus_server_t *server;
} req_t;

struct bus_server_t {
    loop_t *loop;
    void *sock;
    pg_t *pg;
    bus_sequencer_t *sequencer;
    char *stream;
    char endpoint[256];
    req_t **held; /* waiting for the head to pass their `after` */
    size_t n_held;
    int timer;
    bool destroying;
    bus_server_stats_t stats;
};

static const char s_read_sql[] =
    "SELECT seq, envelope FROM bus_outbox WHERE stream = $1 AND seq > $2 "
    "ORDER BY seq LIMIT $3";

static void s_send(bus_server_t *self, const req_t *r, Liaison__V1__PullResponse *resp)
{
    resp->request_id = r->request_id;
    resp->stream = self->stream;
    resp->after = r->after;
    resp->head = bus_sequencer_head(self->sequencer);
    size_t size = liaison__v1__pull_response__get_packed_size(resp);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        self->stats.send_failures++;
        return;
    }
    size = liaison__v1__pull_response__pack(resp, buf);
    if (zmq_send(self->sock, r->ident, r->ident_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->sock, buf, size, ZMQ_DONTWAIT) < 0) {
        /* EHOSTUNREACH: the consumer is gone (ROUTER_MANDATORY); EAGAIN: it
         * does not read. Either way it will ask again from its position. */
        self->stats.send_failures++;
    } else {
        self->stats.responses++;
        self->stats.events_sent += resp->n_events;
    }
    free(buf);
}

static void s_send_status(bus_server_t *self, const req_t *r, Liaison__V1__PullStatus status,
                          const char *detail)
{
    Liaison__V1__PullResponse resp = LIAISON__V1__PULL_RESPONSE__INIT;
    resp.status = status;
    resp.detail = (char *)(detail ? detail : "");
    s_send(self, r, &resp);
}

static void s_on_read(pg_t *pg, const PGresult *res, const char *error, void *arg)
{
    req_t *r = arg;
    bus_server_t *self = r->server;
    if (self->destroying) {
        free(r);
        return;
    }
    if (error) {
        self->stats.read_failures++;
        s_send_status(self, r, LIAISON__V1__PULL_STATUS__PULL_STATUS_UNAVAILABLE,
                      "outbox read failed");
        free(r);
        return;
    }
    int rows = PQntuples(res);
    Liaison__V1__PullResponse resp = LIAISON__V1__PULL_RESPONSE__INIT;
    resp.status = LIAISON__V1__PULL_STATUS__PULL_STATUS_OK;
    ProtobufCBinaryData *events = calloc(rows ? (size_t)rows : 1, sizeof *events);
    if (!events) {
        s_send_status(self, r, LIAISON__V1__PULL_STATUS__PULL_STATUS_UNAVAILABLE, "out of memory");
        free(r);
        return;
    }
    size_t total = 0;
    int n = 0;
    for (int i = 0; i < rows; i++) {
        uint64_t seq = strtoull(PQgetvalue(res, i, 0), NULL, 10);
        if (seq != r->after + 1 + (uint64_t)i) {
            /* Positions are gapless: a hole means archived rows (first) or
             * a broken invariant (later); never skip over it. */
            if (i == 0) {
                resp.status = LIAISON__V1__PULL_STATUS__PULL_STATUS_ARCHIVED;
                resp.detail = "events after this position are archived";
            } else {
                log_error("bus outbox has a hole", "stream=%s after=%llu seq=%llu", self->stream,
                          (unsigned long long)(r->after + (uint64_t)i), (unsigned long long)seq);
            }
            break;
        }
        size_t len = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 1), &len);
        if (!raw)
            break;
        if (n > 0 && total + len > r->max_bytes) {
            PQfreemem(raw);
            break;
        }
        uint8_t *ev = malloc(len + 11);
        if (!ev) {
            PQfreemem(raw);
            break;
        }
        memcpy(ev, raw, len);
        PQfreemem(raw);
        len += bus_sequence_suffix(seq, ev + len);
        events[n].data = ev;
        events[n].len = len;
        total += len;
        n++;
    }
    resp.n_events = (size_t)n;
    resp.events = events;
    s_send(self, r, &resp);
    for (int i = 0; i < n; i++)
        free(events[i].data);
    free(events);
    free(r);
}

static void s_read(bus_server_t *self, req_t *r)
{
    char after[24], limit[16];
    snprintf(after, sizeof after, "%llu", (unsigned long long)r->after);
    snprintf(limit, sizeof limit, "%u", r->max_events);
    const char *params[3] = {self->stream, after, limit};
    if (pg_query(self->pg, s_read_sql, 3, params, s_on_read, r) != 0) {
        self->stats.read_failures++;
        s_send_status(self, r, LIAISON__V1__PULL_STATUS__PULL_STATUS_UNAVAILABLE,
                      "database unavailable");
        free(r);
    }
}

static void s_hold(bus_server_t *self, req_t *r)
{
    if (self->n_held == HELD_MAX) {
        /* Answer the oldest with nothing: it will ask again. */
        req_t *old = self->held[0];
        memmove(self->held, self->held + 1, (self->n_held - 1) * sizeof *self->held);
        self->n_held--;
        s_send_status(self, old, LIAISON__V1__PULL_STATUS__PULL_STATUS_OK, NULL);
        free(old);
    }
    self->held[self->n_held++] = r;
    self->stats.held = (uint32_t)self->n_held;
}

static void s_on_head(bus_sequencer_t *sequencer, uint64_t head, void *arg)
{
    bus_server_t *self = arg;
    self->stats.head = head;
    size_t kept = 0;
    for (size_t i = 0; i < self->n_held; i++) {
        req_t *r = self->held[i];
        if (r->after < head)
            s_read(self, r);
        else
            self->held[kept++] = r;
    }
    self->n_held = kept;
    self->stats.held = (uint32_t)kept;
}

static int s_on_tick(loop_t *loop, int timer_id, void *arg)
{
    bus_server_t *self = arg;
    uint64_t now = loop_now_ms();
    size_t kept = 0;
    for (size_t i = 0; i < self->n_held; i++) {
        req_t *r = self->held[i];
        if (r->deadline_ms <= now) {
            s_send_status(self, r, LIAISON__V1__PULL_STATUS__PULL_STATUS_OK, NULL);
            free(r);
        } else {
            self->held[kept++] = r;
        }
    }
    self->n_held = kept;
    self->stats.held = (uint32_t)kept;
    return 0;
}

/* One request: [identity][PullRequest]. */
static void s_handle(bus_server_t *self, req_t *r, const uint8_t *body, size_t len)
{
    if (len > BUS_REQUEST_MAX) {
        self->stats.bad_requests++;
        s_send_status(self, r, LIAISON__V1__PULL_STATUS__PULL_STATUS_BAD_REQUEST,
                      "request too large");
        free(r);
        return;
    }
    Liaison__V1__PullRequest *req = liaison__v1__pull_request__unpack(NULL, len, body);
    if (!req) {
        self->stats.bad_requests++;
        s_send_status(self, r, LIAISON__V1__PULL_STATUS__PULL_STATUS_BAD_REQUEST,
                      "undecodable request");
        free(r);
        return;
    }
    r->request_id = req->request_id;
    r->after = req->after;
    Liaison__V1__PullStatus bad = 0;
    const char *detail = NULL;
    if (req->protocol_version != BUS_PROTOCOL_VERSION || req->request_id == 0) {
        bad = LIAISON__V1__PULL_STATUS__PULL_STATUS_BAD_REQUEST;
        detail = "protocol_version must be 1 and request_id non-zero";
    } else if (!req->stream || strcmp(req->stream, self->stream) != 0) {
        bad = LIAISON__V1__PULL_STATUS__PULL_STATUS_UNKNOWN_STREAM;
        detail = "this server does not serve that stream";
    }
    uint32_t wait = req->wait_ms > BUS_WAIT_MAX_MS ? BUS_WAIT_MAX_MS : req->wait_ms;
    r->max_events =
        req->max_events == 0 || req->max_events > BUS_EVENTS_MAX ? BUS_EVENTS_MAX : req->max_events;
    r->max_bytes = req->max_bytes == 0 || req->max_bytes > BUS_RESPONSE_BYTES_MAX
                       ? BUS_RESPONSE_BYTES_MAX
                       : req->max_bytes;
    liaison__v1__pull_request__free_unpacked(req, NULL);
    if (bad) {
        self->stats.bad_requests++;
        s_send_status(self, r, bad, detail);
        free(r);
        return;
    }
    self->stats.requests++;
    if (r->after < bus_sequencer_head(self->sequencer)) {
        s_read(self, r);
    } else if (wait == 0) {
        s_send_status(self, r, LIAISON__V1__PULL_STATUS__PULL_STATUS_OK, NULL);
        free(r);
    } else {
        r->deadline_ms = loop_now_ms() + wait;
        s_hold(self, r);
    }
}

static int s_on_socket(loop_t *loop, void *sock, short revents, void *arg)
{
    bus_server_t *self = arg;
    for (int budget = 0; budget < 256; budget++) {
        zmq_msg_t ident, body;
        zmq_msg_init(&ident);
        if (zmq_msg_recv(&ident, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ident);
            break;
        }
        if (!zmq_msg_more(&ident)) { /* cannot happen on a ROUTER */
            zmq_msg_close(&ident);
            continue;
        }
        zmq_msg_init(&body);
        zmq_msg_recv(&body, sock, 0);
        bool extra = zmq_msg_more(&body);
        while (zmq_msg_more(&body)) { /* a well-formed request has one frame */
            zmq_msg_close(&body);
            zmq_msg_init(&body);
            zmq_msg_recv(&body, sock, 0);
        }
        req_t *r = calloc(1, sizeof *r);
        if (r && zmq_msg_size(&ident) <= sizeof r->ident) {
            r->server = self;
            r->ident_len = zmq_msg_size(&ident);
            memcpy(r->ident, zmq_msg_data(&ident), r->ident_len);
            if (extra) {
                self->stats.bad_requests++;
                s_send_status(self, r, LIAISON__V1__PULL_STATUS__PULL_STATUS_BAD_REQUEST,
                              "one frame expected");
                free(r);
            } else {
                s_handle(self, r, zmq_msg_data(&body), zmq_msg_size(&body));
            }
        } else {
            free(r);
        }
        zmq_msg_close(&ident);
        zmq_msg_close(&body);
    }
    return 0;
}

bus_server_t *bus_server_new(loop_t *loop, void *zmq_ctx, const char *endpoint,
                             const char *conninfo, bus_sequencer_t *sequencer)
{
    if (!loop || !zmq_ctx || !endpoint || !conninfo || !sequencer)
        return NULL;
    bus_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->sequencer = sequencer;
    self->stream = strdup(bus_sequencer_stream(sequencer));
    self->held = calloc(HELD_MAX, sizeof *self->held);
    self->pg = pg_new(loop, conninfo, "bus-server");
    self->sock = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    if (!self->stream || !self->held || !self->pg || !self->sock)
        goto fail;
    int linger = 0, mandatory = 1, ivl = 1000, ttl = 3000, timeout = 3000;
    int64_t maxmsg = BUS_REQUEST_MAX;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
    zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    if (zmq_bind(self->sock, endpoint) != 0) {
        log_error("bus server cannot bind", "endpoint=%s error=%s", endpoint,
                  zmq_strerror(zmq_errno()));
        goto fail;
    }
    size_t elen = sizeof self->endpoint;
    zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &elen);
    if (loop_add_socket(loop, self->sock, ZMQ_POLLIN, s_on_socket, self) != 0)
        goto fail;
    self->timer = loop_add_timer(loop, EXPIRE_TICK_MS, 0, s_on_tick, self);
    if (self->timer < 0)
        goto fail;
    bus_sequencer_set_head_fn(sequencer, s_on_head, self);
    log_info("bus server listening", "stream=%s endpoint=%s", self->stream, self->endpoint);
    return self;
fail:
    bus_server_destroy(&self);
    return NULL;
}

void bus_server_destroy(bus_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_server_t *self = *self_p;
    self->destroying = true;
    if (self->sequencer)
        bus_sequencer_set_head_fn(self->sequencer, NULL, NULL);
    pg_destroy(&self->pg); /* in-flight reads free their requests */
    if (self->timer > 0)
        loop_cancel_timer(self->loop, self->timer);
    if (self->sock) {
        loop_remove_socket(self->loop, self->sock);
        zmq_close(self->sock);
    }
    for (size_t i = 0; i < self->n_held; i++)
        free(self->held[i]);
    free(self->held);
    free(self->stream);
    free(self);
    *self_p = NULL;
}

const char *bus_server_endpoint(bus_server_t *self)
{
    return self->endpoint;
}

void bus_server_stats(bus_server_t *self, bus_server_stats_t *stats)
{
    *stats = self->stats;
    stats->held = (uint32_t)self->n_held;
    stats->head = bus_sequencer_head(self->sequencer);
}
